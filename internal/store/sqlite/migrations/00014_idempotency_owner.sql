-- An idempotency reservation records the instance id of the pamd process
-- that holds it (store.Instance), so that a retry reaching another replica
-- can tell a holder that died before its write committed (take the key over
-- at once) from one still running (409 in progress). '' means unknown:
-- rows written before this migration. Portable SQL, as in 00012.

-- +goose Up
ALTER TABLE idempotency_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN owner;
