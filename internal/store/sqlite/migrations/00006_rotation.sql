-- Rotation engine: rotation schedules, asynchronous operations and the
-- per-account rotation state the scheduler claims from. Portable types only
-- (TEXT, BIGINT), as in 00001. Timestamps are RFC 3339 UTC strings of fixed
-- width, so they compare as strings.

-- +goose Up
CREATE TABLE rotation_schedules (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL,
    body    TEXT NOT NULL
);

-- Operations are both the API's lifecycle objects and the engine's queue: a
-- queued operation is due at due_at (its next attempt); the worker claims it
-- by moving it to running with a lease (claimed_until) so that a crashed
-- worker's claim expires and no two workers run it at once.
CREATE TABLE operations (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    state         TEXT NOT NULL,
    parent_id     TEXT NOT NULL,
    attempts      BIGINT NOT NULL,
    due_at        TEXT NOT NULL,
    claimed_until TEXT,
    created_at    TEXT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX operations_due ON operations (due_at, id) WHERE state IN ('queued', 'running');
CREATE INDEX operations_target ON operations (target_type, target_id, created_at);
CREATE INDEX operations_parent ON operations (parent_id) WHERE parent_id <> '';
-- At most one open rotate and one open verify per account: a due account is
-- never run twice, whoever asks (schedule, API, check-in).
CREATE UNIQUE INDEX operations_one_open ON operations (kind, target_type, target_id)
    WHERE state IN ('queued', 'running') AND kind IN ('rotate', 'verify');

-- The scheduler's view of each account under a schedule: when it is next
-- due for rotation and verification. Rows are derived from the vault
-- accounts (rotation_schedule_id) and recomputed when the schedule changes
-- (schedule_version). No foreign keys: accounts live in the vault's tables.
CREATE TABLE rotation_accounts (
    account_id           TEXT PRIMARY KEY,
    schedule_id          TEXT NOT NULL,
    schedule_version     BIGINT NOT NULL,
    next_rotation_at     TEXT NOT NULL,
    -- The fire time next_rotation_at was derived from (before jitter), for
    -- the window check; equals next_rotation_at for max-age deadlines.
    fire_at              TEXT NOT NULL,
    next_verification_at TEXT
);
CREATE INDEX rotation_accounts_due ON rotation_accounts (next_rotation_at);
CREATE INDEX rotation_accounts_verify ON rotation_accounts (next_verification_at) WHERE next_verification_at IS NOT NULL;
CREATE INDEX rotation_accounts_schedule ON rotation_accounts (schedule_id);

-- +goose Down
DROP TABLE rotation_accounts;
DROP TABLE operations;
DROP TABLE rotation_schedules;
