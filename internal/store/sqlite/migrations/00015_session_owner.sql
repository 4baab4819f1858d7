-- A session records the instance id (store.Instance) of the pamd process
-- whose SSH gateway brokers it, so that a sweep can end the sessions of a
-- process that died (SIGKILL, power loss) instead of listing them as live
-- forever. NULL means unknown: rows written before this migration, or by a
-- replica that could not vouch for its liveness when it wrote them. Portable
-- SQL, as in 00014.

-- +goose Up
ALTER TABLE sessions ADD COLUMN owner TEXT;

-- +goose Down
ALTER TABLE sessions DROP COLUMN owner;
