-- Privileged sessions: session policies (configuration), sessions brokered by
-- the SSH gateway, their command filter hits and their recordings. Objects
-- are stored as JSON in body with the columns queries filter or order on
-- written beside it from the same object. Recording bodies live only in
-- session_recordings.sealed (internal/keys envelope encryption bound to the
-- recording id), never in plaintext. Portable types only (TEXT, BIGINT), as
-- in 00001; timestamps are fixed-width RFC 3339 UTC strings.

-- +goose Up
CREATE TABLE session_policies (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL,
    body    TEXT NOT NULL
);

-- No foreign keys: session history outlives accounts and policies (the
-- policy is snapshotted into the body).
CREATE TABLE sessions (
    id                TEXT PRIMARY KEY,
    state             TEXT NOT NULL,
    principal_type    TEXT NOT NULL,
    principal_id      TEXT NOT NULL,
    vault_account_id  TEXT NOT NULL,
    session_policy_id TEXT NOT NULL,
    started_at        TEXT NOT NULL,
    body              TEXT NOT NULL
);
CREATE INDEX sessions_principal ON sessions (principal_type, principal_id, state);
CREATE INDEX sessions_account ON sessions (vault_account_id, state);
CREATE INDEX sessions_policy ON sessions (session_policy_id);
CREATE INDEX sessions_state ON sessions (state);

CREATE TABLE session_filter_hits (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    at         TEXT NOT NULL,
    command    TEXT NOT NULL,
    rule_index BIGINT NOT NULL,
    action     TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE session_recordings (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    state      TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX session_recordings_session ON session_recordings (session_id);

-- +goose Down
DROP TABLE session_recordings;
DROP TABLE session_filter_hits;
DROP TABLE sessions;
DROP TABLE session_policies;
