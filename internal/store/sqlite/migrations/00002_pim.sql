-- PIM: activation policies, eligible role assignments, elevations. Each row
-- keeps the whole object as JSON in body; the columns beside it are the ones
-- queries filter, join or order on, written from the same object in the same
-- statement. Portable types only (TEXT, BIGINT), as in 00001.

-- +goose Up
CREATE TABLE activation_policies (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    version    BIGINT NOT NULL,
    body       TEXT NOT NULL
);

CREATE TABLE eligible_role_assignments (
    id                   TEXT PRIMARY KEY,
    principal_type       TEXT NOT NULL,
    principal_id         TEXT NOT NULL,
    role_id              TEXT NOT NULL,
    scope                TEXT NOT NULL,
    activation_policy_id TEXT NOT NULL REFERENCES activation_policies (id),
    starts_at            TEXT,
    ends_at              TEXT,
    version              BIGINT NOT NULL,
    body                 TEXT NOT NULL,
    UNIQUE (principal_type, principal_id, role_id, scope)
);
CREATE INDEX eligible_role_assignments_policy ON eligible_role_assignments (activation_policy_id, id);
CREATE INDEX eligible_role_assignments_role_scope ON eligible_role_assignments (role_id, scope);

CREATE TABLE elevations (
    id                          TEXT PRIMARY KEY,
    eligible_role_assignment_id TEXT NOT NULL,
    principal_type              TEXT NOT NULL,
    principal_id                TEXT NOT NULL,
    role_id                     TEXT NOT NULL,
    scope                       TEXT NOT NULL,
    state                       TEXT NOT NULL,
    end_at                      TEXT,
    -- When the worker next has something to do (pim.NextDeadline); NULL when
    -- only a client action can move the elevation.
    next_deadline_at            TEXT,
    created_at                  TEXT NOT NULL,
    version                     BIGINT NOT NULL,
    body                        TEXT NOT NULL
);
CREATE INDEX elevations_deadline ON elevations (next_deadline_at);
CREATE INDEX elevations_state_end ON elevations (state, end_at);
CREATE INDEX elevations_eligibility ON elevations (eligible_role_assignment_id, state);
CREATE INDEX elevations_principal ON elevations (principal_type, principal_id, state);
CREATE INDEX elevations_role_scope ON elevations (role_id, scope);

-- Who besides the requester may see an elevation: every approver named in
-- any stage (relation 'approver') and everyone who decided ('decider').
CREATE TABLE elevation_parties (
    elevation_id   TEXT NOT NULL REFERENCES elevations (id) ON DELETE CASCADE,
    relation       TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    PRIMARY KEY (elevation_id, relation, principal_type, principal_id)
);
CREATE INDEX elevation_parties_principal ON elevation_parties (principal_type, principal_id, relation);

ALTER TABLE tokens ADD COLUMN mfa_at TEXT;

-- +goose Down
ALTER TABLE tokens DROP COLUMN mfa_at;
DROP TABLE elevation_parties;
DROP TABLE elevations;
DROP TABLE eligible_role_assignments;
DROP TABLE activation_policies;
