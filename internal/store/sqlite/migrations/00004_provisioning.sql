-- Provisioning: webhook targets of roles and the outbox of signed deliveries.
-- Portable types only (TEXT, BIGINT), as in 00001. Timestamps are RFC 3339
-- UTC strings of fixed width, so they compare as strings.

-- +goose Up
-- The secret is kept out of the roles table and out of every JSON body, so
-- that reading a role can never return it. It holds the sealed form
-- (internal/keys envelope, bound to role and URL), never plaintext.
CREATE TABLE role_webhooks (
    role_id        TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    position       BIGINT NOT NULL,
    url            TEXT NOT NULL,
    secret         TEXT NOT NULL,
    secret_version BIGINT NOT NULL,
    PRIMARY KEY (role_id, url)
);

-- One row per event and target. No foreign key on elevation_id: the row is
-- written in the same transaction as the elevation, sometimes before it.
CREATE TABLE provisioning_deliveries (
    id              TEXT PRIMARY KEY,
    elevation_id    TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    event           TEXT NOT NULL,
    target_url      TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    failed_at       TEXT,
    last_error      TEXT NOT NULL
);
-- Only pending rows are ever due: the partial index holds just those.
CREATE INDEX provisioning_deliveries_due ON provisioning_deliveries (next_attempt_at, created_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX provisioning_deliveries_elevation ON provisioning_deliveries (elevation_id, event_type);

-- +goose Down
DROP TABLE provisioning_deliveries;
DROP TABLE role_webhooks;
