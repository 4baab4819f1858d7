package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// --- rotation schedules ---

func (t *tx) GetRotationSchedule(id string) (api.RotationSchedule, error) {
	var body string
	if err := t.queryRow(`SELECT body FROM rotation_schedules WHERE id = $1`, id).Scan(&body); err != nil {
		return api.RotationSchedule{}, t.mapErr(err)
	}
	return decodeBody[api.RotationSchedule]("rotation schedule", body)
}

func (t *tx) GetRotationScheduleIDByName(name string) (string, error) {
	var id string
	err := t.queryRow(`SELECT id FROM rotation_schedules WHERE name = $1`, name).Scan(&id)
	return id, t.mapErr(err)
}

func (t *tx) ListRotationSchedules(f store.RotationScheduleFilter) ([]api.RotationSchedule, error) {
	return queryBodies[api.RotationSchedule](t, "rotation schedule", `SELECT body FROM rotation_schedules WHERE id > $1 AND ($2 = '' OR name = $2) ORDER BY id LIMIT $3`,
		f.AfterID, f.Name, max(f.Limit, 1))
}

func (t *tx) InsertRotationSchedule(s api.RotationSchedule) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("rotation schedule: %w", err)
	}
	_, err = t.exec(`INSERT INTO rotation_schedules (id, name, version, body) VALUES ($1,$2,$3,$4)`, s.ID, s.Name, s.Version, string(b))
	return err
}

func (t *tx) UpdateRotationSchedule(s api.RotationSchedule, prevVersion int64) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("rotation schedule: %w", err)
	}
	res, err := t.exec(`UPDATE rotation_schedules SET name = $1, version = $2, body = $3 WHERE id = $4 AND version = $5`,
		s.Name, s.Version, string(b), s.ID, prevVersion)
	if err != nil {
		return err
	}
	return t.checkOne(res, `SELECT 1 FROM rotation_schedules WHERE id = $1`, s.ID)
}

func (t *tx) DeleteRotationSchedule(id string) error { return t.deleteByID("rotation_schedules", id) }

// --- operations ---

func operationArgs(op store.Operation) (string, error) {
	b, err := json.Marshal(op)
	if err != nil {
		return "", fmt.Errorf("operation: %w", err)
	}
	return string(b), nil
}

func (t *tx) GetOperation(id string) (store.Operation, error) {
	var body string
	if err := t.queryRow(`SELECT body FROM operations WHERE id = $1`, id).Scan(&body); err != nil {
		return store.Operation{}, t.mapErr(err)
	}
	return decodeBody[store.Operation]("operation", body)
}

func (t *tx) InsertOperation(op store.Operation) error {
	body, err := operationArgs(op)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO operations (id, kind, target_type, target_id, state, parent_id, attempts, due_at, claimed_until, created_at, body)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		op.ID, op.Kind, op.Target.Type, op.Target.ID, op.State, op.ParentID, op.Attempts, ts(op.DueAt), nullTS(op.ClaimedUntil), ts(op.CreatedAt), body)
	return err
}

func (t *tx) UpdateOperation(op store.Operation) error {
	body, err := operationArgs(op)
	if err != nil {
		return err
	}
	return t.execOne(`UPDATE operations SET state = $1, attempts = $2, due_at = $3, claimed_until = $4, body = $5 WHERE id = $6`,
		op.State, op.Attempts, ts(op.DueAt), nullTS(op.ClaimedUntil), body, op.ID)
}

func (t *tx) queryOperations(q string, args ...any) ([]store.Operation, error) {
	return queryBodies[store.Operation](t, "operation", q, args...)
}

func (t *tx) OpenOperation(kind, targetType, targetID string) (store.Operation, error) {
	ops, err := t.queryOperations(`SELECT body FROM operations WHERE kind = $1 AND target_type = $2 AND target_id = $3
		AND state IN ('queued', 'running') ORDER BY id LIMIT 1`, kind, targetType, targetID)
	if err != nil {
		return store.Operation{}, err
	}
	if len(ops) == 0 {
		return store.Operation{}, store.ErrNotFound
	}
	return ops[0], nil
}

func (t *tx) DueOperations(now time.Time, limit int) ([]store.Operation, error) {
	// Writers are serialised on both engines (SQLite's write lock, the
	// PostgreSQL store's writer lock in Update), so the batch is claimed by
	// the write transaction itself: select-then-update cannot race another
	// claimer, on this replica or another. No SKIP LOCKED needed.
	n := ts(now)
	return t.queryOperations(`SELECT body FROM operations
		WHERE kind <> $1 AND ((state = 'queued' AND due_at <= $2) OR (state = 'running' AND claimed_until IS NOT NULL AND claimed_until <= $2))
		ORDER BY due_at, id LIMIT $3`, api.OperationKindRotationScheduleRun, n, max(limit, 1))
}

func (t *tx) ChildOperations(parentID string) ([]store.Operation, error) {
	return t.queryOperations(`SELECT body FROM operations WHERE parent_id = $1 AND parent_id <> '' ORDER BY id`, parentID)
}

// --- rotation accounts ---

const rotationAccountCols = `account_id, schedule_id, schedule_version, next_rotation_at, fire_at, next_verification_at`

func (t *tx) scanRotationAccount(s scanner) (store.RotationAccount, error) {
	var r store.RotationAccount
	var next, fire string
	var verify sql.NullString
	if err := s.Scan(&r.AccountID, &r.ScheduleID, &r.ScheduleVersion, &next, &fire, &verify); err != nil {
		return r, t.mapErr(err)
	}
	var err error
	if r.NextRotationAt, err = parseTS(next); err != nil {
		return r, err
	}
	if r.FireAt, err = parseTS(fire); err != nil {
		return r, err
	}
	if verify.Valid {
		v, err := parseTS(verify.String)
		if err != nil {
			return r, err
		}
		r.NextVerificationAt = &v
	}
	return r, nil
}

func (t *tx) GetRotationAccount(accountID string) (store.RotationAccount, error) {
	return t.scanRotationAccount(t.queryRow(`SELECT `+rotationAccountCols+` FROM rotation_accounts WHERE account_id = $1`, accountID))
}

func (t *tx) PutRotationAccount(r store.RotationAccount) error {
	if _, err := t.exec(`DELETE FROM rotation_accounts WHERE account_id = $1`, r.AccountID); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO rotation_accounts (`+rotationAccountCols+`) VALUES ($1,$2,$3,$4,$5,$6)`,
		r.AccountID, r.ScheduleID, r.ScheduleVersion, ts(r.NextRotationAt), ts(r.FireAt), nullTS(r.NextVerificationAt))
	return err
}

func (t *tx) DeleteRotationAccount(accountID string) error {
	_, err := t.exec(`DELETE FROM rotation_accounts WHERE account_id = $1`, accountID)
	return err
}

func (t *tx) queryRotationAccounts(q string, args ...any) ([]store.RotationAccount, error) {
	return queryAll(t, t.scanRotationAccount, q, args...)
}

func (t *tx) ListRotationAccounts() ([]store.RotationAccount, error) {
	return t.queryRotationAccounts(`SELECT ` + rotationAccountCols + ` FROM rotation_accounts ORDER BY account_id`)
}

func (t *tx) DueRotationAccounts(now time.Time, limit int) ([]store.RotationAccount, error) {
	return t.queryRotationAccounts(`SELECT `+rotationAccountCols+` FROM rotation_accounts
		WHERE next_rotation_at <= $1 OR (next_verification_at IS NOT NULL AND next_verification_at <= $1)
		ORDER BY next_rotation_at, account_id LIMIT $2`, ts(now), max(limit, 1))
}
