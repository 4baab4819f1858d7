-- Step-up tokens remember the token they were minted from (parent_id), so
-- that revoking a token revokes the step-up tokens minted from it. NULL for
-- tokens issued by an operator or the bootstrap. Portable SQL (ADD/DROP
-- COLUMN with TEXT), as in 00002.

-- +goose Up
ALTER TABLE tokens ADD COLUMN parent_id TEXT;
CREATE INDEX tokens_parent ON tokens (parent_id);

-- +goose Down
DROP INDEX tokens_parent;
ALTER TABLE tokens DROP COLUMN parent_id;
