-- PAM vault: safes, vault accounts, their sealed secret versions and
-- checkouts. Objects are stored as JSON in body, with the columns queries
-- filter, join or order on written beside it from the same object. Secrets
-- live only in vault_secret_versions.sealed (internal/keys envelope
-- encryption, bound to account id and version), never in a body.
-- Portable types only (TEXT, BIGINT), as in 00001.

-- +goose Up
CREATE TABLE safes (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL,
    body    TEXT NOT NULL
);

CREATE TABLE vault_accounts (
    id       TEXT PRIMARY KEY,
    safe_id  TEXT NOT NULL REFERENCES safes (id),
    name     TEXT NOT NULL,
    platform TEXT NOT NULL,
    version  BIGINT NOT NULL,
    -- Health written by the rotation engine (JSON of api.VaultAccountStatus
    -- without the checkout part, which is derived from checkouts).
    status   TEXT NOT NULL DEFAULT '{}',
    body     TEXT NOT NULL,
    UNIQUE (safe_id, name)
);
CREATE INDEX vault_accounts_name ON vault_accounts (name);

CREATE TABLE vault_secret_versions (
    account_id      TEXT NOT NULL REFERENCES vault_accounts (id) ON DELETE CASCADE,
    version         BIGINT NOT NULL,
    sealed          TEXT NOT NULL,
    source          TEXT NOT NULL,
    operation_id    TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    created_by_type TEXT NOT NULL,
    created_by_id   TEXT NOT NULL,
    PRIMARY KEY (account_id, version)
);

-- No foreign key on account_id: checkout history outlives the account.
CREATE TABLE checkouts (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    holder_type TEXT NOT NULL,
    holder_id   TEXT NOT NULL,
    state       TEXT NOT NULL,
    exclusive   BIGINT NOT NULL,
    expires_at  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX checkouts_account ON checkouts (account_id, state);
CREATE INDEX checkouts_holder ON checkouts (holder_type, holder_id, state);
CREATE INDEX checkouts_due ON checkouts (state, expires_at);
-- At most one active exclusive checkout per account, whatever the code does.
CREATE UNIQUE INDEX checkouts_exclusive ON checkouts (account_id) WHERE state = 'active' AND exclusive = 1;

-- +goose Down
DROP TABLE checkouts;
DROP TABLE vault_secret_versions;
DROP TABLE vault_accounts;
DROP TABLE safes;
