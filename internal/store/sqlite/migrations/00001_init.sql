-- The schema sticks to types and syntax that PostgreSQL accepts too (TEXT,
-- BIGINT, composite primary keys), so a postgres store can share it.
-- Timestamps are RFC 3339 UTC strings.

-- +goose Up
CREATE TABLE roles (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    description       TEXT NOT NULL,
    assignable_scopes TEXT NOT NULL,
    labels            TEXT NOT NULL,
    version           BIGINT NOT NULL,
    created_at        TEXT NOT NULL,
    created_by_type   TEXT NOT NULL,
    created_by_id     TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    updated_by_type   TEXT NOT NULL,
    updated_by_id     TEXT NOT NULL
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    groups_json  TEXT NOT NULL,
    roles_json   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT
);

CREATE TABLE audit_chains (
    chain_id      TEXT PRIMARY KEY,
    head_sequence BIGINT NOT NULL,
    head_hash     TEXT NOT NULL
);

CREATE TABLE audit_events (
    chain_id    TEXT NOT NULL REFERENCES audit_chains (chain_id),
    sequence    BIGINT NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    occurred_at TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (chain_id, sequence)
);
CREATE INDEX audit_events_target ON audit_events (target_id, sequence);

CREATE TABLE idempotency_keys (
    subject      TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    done         INTEGER NOT NULL,
    status       INTEGER NOT NULL,
    header       TEXT NOT NULL,
    body         TEXT NOT NULL,
    locked_until TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    PRIMARY KEY (subject, method, path, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE idempotency_keys;
DROP TABLE audit_events;
DROP TABLE audit_chains;
DROP TABLE tokens;
DROP TABLE roles;
