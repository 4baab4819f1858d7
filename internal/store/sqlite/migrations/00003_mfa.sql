-- MFA: one TOTP enrollment per subject. The secret is stored sealed
-- (internal/keys envelope encryption, bound to the subject), never in clear.
-- last_used_step is the TOTP step of the last accepted code (replay guard);
-- failed_attempts counts wrong codes since failed_since (brute-force limit).
-- Portable types only (TEXT, BIGINT), as in 00001.

-- +goose Up
CREATE TABLE mfa_totp (
    subject         TEXT PRIMARY KEY,
    secret_sealed   TEXT NOT NULL,
    confirmed_at    TEXT,
    last_used_step  BIGINT NOT NULL DEFAULT 0,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    failed_since    TEXT,
    created_at      TEXT NOT NULL
);

-- +goose Down
DROP TABLE mfa_totp;
