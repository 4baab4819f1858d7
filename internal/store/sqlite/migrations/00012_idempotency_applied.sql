-- An idempotency reservation records, in the transaction that commits the
-- request's mutation, which object that mutation targeted (the first audit
-- event's target). A retry that finds the reservation applied but without a
-- stored response (pamd died, or the commit acknowledgement was lost) answers
-- from the object's current representation instead of running the request
-- again. '' means not applied. Portable SQL, as in 00002 and 00010.

-- +goose Up
ALTER TABLE idempotency_keys ADD COLUMN applied_target_type TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN applied_target_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN applied_target_id;
ALTER TABLE idempotency_keys DROP COLUMN applied_target_type;
