-- Registered SSH public keys: the gateway authenticates a key by its SHA256
-- fingerprint and runs the session with the principal of the token that
-- registered it (token_id), while that token is valid. Public keys only.

-- +goose Up
CREATE TABLE ssh_keys (
    id          TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    token_id    TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL
);
CREATE INDEX ssh_keys_subject ON ssh_keys (subject);

-- +goose Down
DROP TABLE ssh_keys;
