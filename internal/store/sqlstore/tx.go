package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// tsFormat is fixed-width so that stored timestamps compare correctly as
// strings (expiry checks happen in SQL).
const tsFormat = "2006-01-02T15:04:05.000000000Z07:00"

func ts(t time.Time) string { return t.UTC().Format(tsFormat) }

func parseTS(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("stored timestamp %q: %w", s, err)
	}
	return t.UTC(), nil
}

// tx implements store.Tx over one database/sql transaction. Every error it
// returns from the driver goes through mapErr, so callers only ever see
// store sentinels (or wrapped errors that are bugs, not conditions).
type tx struct {
	ctx context.Context
	tx  *sql.Tx
	d   *Dialect

	// stmts is the pool's prepared statement cache (nil: none); bound holds
	// the statements already bound to this transaction, unprepared the
	// queries stmts did not hold, for Run to prepare after the transaction.
	stmts      *Stmts
	bound      map[string]*sql.Stmt
	unprepared []string
}

var _ store.Tx = (*tx)(nil)

func (t *tx) mapErr(err error) error { return t.d.MapErr(err) }

// stmt is the prepared statement for q bound to this transaction, or nil when
// q is not cached (it then runs unprepared, and is cached after the
// transaction). The bound statement is closed with the transaction.
func (t *tx) stmt(q string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	if st, ok := t.bound[q]; ok {
		return st
	}
	shared := t.stmts.get(q)
	if shared == nil {
		if !slices.Contains(t.unprepared, q) {
			t.unprepared = append(t.unprepared, q)
		}
		return nil
	}
	st := t.tx.StmtContext(t.ctx, shared)
	if t.bound == nil {
		t.bound = make(map[string]*sql.Stmt, 8)
	}
	t.bound[q] = st
	return st
}

func (t *tx) exec(q string, args ...any) (sql.Result, error) {
	var res sql.Result
	var err error
	if st := t.stmt(q); st != nil {
		res, err = st.ExecContext(t.ctx, args...)
	} else {
		res, err = t.tx.ExecContext(t.ctx, q, args...)
	}
	return res, t.mapErr(err)
}

// execCount runs q and returns how many rows it changed.
func (t *tx) execCount(q string, args ...any) (int64, error) {
	res, err := t.exec(q, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return n, t.mapErr(err)
}

// execOne runs q, which must change a row: ErrNotFound when it changed none.
func (t *tx) execOne(q string, args ...any) error {
	n, err := t.execCount(q, args...)
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

func (t *tx) queryRow(q string, args ...any) *sql.Row {
	if st := t.stmt(q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, q, args...)
}

// query runs q; unlike exec, its error is the driver's (callers map it).
func (t *tx) query(q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(q); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, q, args...)
}

// --- roles ---

const roleCols = `id, name, description, assignable_scopes, labels, version,
	created_at, created_by_type, created_by_id, updated_at, updated_by_type, updated_by_id`

type scanner interface{ Scan(dest ...any) error }

func (t *tx) scanRole(s scanner) (api.Role, error) {
	var r api.Role
	var scopes, labels, created, updated string
	err := s.Scan(&r.ID, &r.Name, &r.Description, &scopes, &labels, &r.Version,
		&created, &r.CreatedBy.Type, &r.CreatedBy.ID, &updated, &r.UpdatedBy.Type, &r.UpdatedBy.ID)
	if err != nil {
		return r, t.mapErr(err)
	}
	if err := json.Unmarshal([]byte(scopes), &r.AssignableScopes); err != nil {
		return r, fmt.Errorf("role %s scopes: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(labels), &r.Labels); err != nil {
		return r, fmt.Errorf("role %s labels: %w", r.ID, err)
	}
	if r.CreatedAt, err = parseTS(created); err != nil {
		return r, err
	}
	if r.UpdatedAt, err = parseTS(updated); err != nil {
		return r, err
	}
	return r, nil
}

func roleArgs(r api.Role) ([]any, error) {
	scopes, err := json.Marshal(r.AssignableScopes)
	if err != nil {
		return nil, fmt.Errorf("role scopes: %w", err)
	}
	labels := r.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	lb, err := json.Marshal(labels)
	if err != nil {
		return nil, fmt.Errorf("role labels: %w", err)
	}
	return []any{r.ID, r.Name, r.Description, string(scopes), string(lb), r.Version,
		ts(r.CreatedAt), r.CreatedBy.Type, r.CreatedBy.ID, ts(r.UpdatedAt), r.UpdatedBy.Type, r.UpdatedBy.ID}, nil
}

func (t *tx) GetRole(id string) (api.Role, error) {
	return t.scanRole(t.queryRow(`SELECT `+roleCols+` FROM roles WHERE id = $1`, id))
}

func (t *tx) GetRoleIDByName(name string) (string, error) {
	var id string
	err := t.queryRow(`SELECT id FROM roles WHERE name = $1`, name).Scan(&id)
	return id, t.mapErr(err)
}

func (t *tx) ListRoles(f store.RoleFilter) ([]api.Role, error) {
	// Optional filters are "($n = '' OR col = $n)" so the statement stays
	// static (no SQL assembled at run time) and portable.
	q := `SELECT ` + roleCols + ` FROM roles WHERE id > $1 AND ($2 = '' OR name = $2) ORDER BY id LIMIT $3`
	args := []any{f.AfterID, f.Name, max(f.Limit, 1)}
	return queryAll(t, t.scanRole, q, args...)
}

func (t *tx) InsertRole(r api.Role) error {
	args, err := roleArgs(r)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO roles (`+roleCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`, args...)
	return err
}

func (t *tx) UpdateRole(r api.Role, prevVersion int64) error {
	args, err := roleArgs(r)
	if err != nil {
		return err
	}
	// args: 0 id, 1 name, 2 description, 3 scopes, 4 labels, 5 version,
	// 9 updated_at, 10 updated_by_type, 11 updated_by_id. The version guard in
	// SQL keeps this safe even where writers are not serialised as in SQLite.
	res, err := t.exec(`UPDATE roles SET name=$1, description=$2, assignable_scopes=$3, labels=$4, version=$5,
		updated_at=$6, updated_by_type=$7, updated_by_id=$8
		WHERE id=$9 AND version=$10`,
		args[1], args[2], args[3], args[4], args[5], args[9], args[10], args[11], args[0], prevVersion)
	if err != nil {
		return err
	}
	return t.checkOne(res, `SELECT 1 FROM roles WHERE id = $1`, r.ID)
}

func (t *tx) DeleteRole(id string) error {
	return t.execOne(`DELETE FROM roles WHERE id = $1`, id)
}

// checkOne tells a missing row from a stale version after a guarded update.
func (t *tx) checkOne(res sql.Result, existsQ string, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return t.mapErr(err)
	}
	if n == 1 {
		return nil
	}
	var one int
	if err := t.queryRow(existsQ, id).Scan(&one); err != nil {
		return t.mapErr(err)
	}
	return store.ErrVersionMismatch
}

// --- audit ---

func (t *tx) AuditHead(chainID string) (audit.Head, error) { return t.auditHead(chainID, "") }

// auditHead reads a chain's head, with lock appended to the SELECT.
func (t *tx) auditHead(chainID, lock string) (audit.Head, error) {
	var h audit.Head
	err := t.queryRow(`SELECT head_sequence, head_hash FROM audit_chains WHERE chain_id = $1`+lock, chainID).Scan(&h.Sequence, &h.Hash)
	if errors.Is(t.mapErr(err), store.ErrNotFound) {
		return audit.Head{Hash: audit.Genesis}, nil
	}
	return h, t.mapErr(err)
}

func (t *tx) AppendAudit(ev *api.AuditEvent) error {
	if ev.ChainID == "" {
		ev.ChainID = audit.DefaultChain
	}
	// Reading the head and advancing it must not race another writer, or two
	// events would get the same sequence (one insert then fails) or the chain
	// would fork. SQLite's write transaction already holds the only write
	// lock; on PostgreSQL Update also takes a global writer lock, and the
	// head row is read FOR UPDATE as well, so that the chain stays one
	// gap-free sequence even for a writer that did not go through Update.
	if _, err := t.exec(`INSERT INTO audit_chains (chain_id, head_sequence, head_hash) VALUES ($1, 0, $2)
		ON CONFLICT (chain_id) DO NOTHING`, ev.ChainID, audit.Genesis); err != nil {
		return err
	}
	head, err := t.auditHead(ev.ChainID, t.d.ForUpdate)
	if err != nil {
		return err
	}
	rec, next, err := audit.Seal(head, ev)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO audit_events (chain_id, sequence, id, occurred_at, action, target_type, target_id, body, hash)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		ev.ChainID, rec.Sequence, ev.ID, ev.OccurredAt, ev.Action, ev.Target.Type, ev.Target.ID, string(rec.Body), rec.Hash); err != nil {
		return err
	}
	_, err = t.exec(`UPDATE audit_chains SET head_sequence = $1, head_hash = $2 WHERE chain_id = $3`, next.Sequence, next.Hash, ev.ChainID)
	return err
}

func (t *tx) ListAudit(f store.AuditFilter) ([]api.AuditEvent, error) {
	chain := f.ChainID
	if chain == "" {
		chain = audit.DefaultChain
	}
	// substr avoids LIKE, whose wildcards would need escaping in a prefix.
	const q = `SELECT sequence, body, hash FROM audit_events
		WHERE chain_id = $1 AND sequence > $2
		AND ($3 = '' OR substr(action, 1, length($3)) = $3)
		AND ($4 = '' OR target_id = $4)
		ORDER BY sequence LIMIT $5`
	args := []any{chain, f.AfterSequence, f.ActionPrefix, f.TargetID, max(f.Limit, 1)}
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, t.mapErr(err)
	}
	defer rows.Close()
	out := []api.AuditEvent{}
	for rows.Next() {
		var r audit.Record
		var body string
		if err := rows.Scan(&r.Sequence, &body, &r.Hash); err != nil {
			return nil, t.mapErr(err)
		}
		r.Body = []byte(body)
		ev, err := audit.Decode(r)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, t.mapErr(rows.Err())
}

func (t *tx) GetAuditEvent(id string) (api.AuditEvent, error) {
	var r audit.Record
	var body string
	if err := t.queryRow(`SELECT sequence, body, hash FROM audit_events WHERE id = $1`, id).Scan(&r.Sequence, &body, &r.Hash); err != nil {
		return api.AuditEvent{}, t.mapErr(err)
	}
	r.Body = []byte(body)
	return audit.Decode(r)
}

func (t *tx) WalkAudit(chainID string, fn func(audit.Record) error) error {
	rows, err := t.query(`SELECT sequence, body, hash FROM audit_events WHERE chain_id = $1 ORDER BY sequence`, chainID)
	if err != nil {
		return t.mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r audit.Record
		var body string
		if err := rows.Scan(&r.Sequence, &body, &r.Hash); err != nil {
			return t.mapErr(err)
		}
		r.Body = []byte(body)
		if err := fn(r); err != nil {
			return err
		}
	}
	return t.mapErr(rows.Err())
}

// --- tokens ---

func (t *tx) InsertToken(tok auth.Token) error {
	groups, err := json.Marshal(nonNil(tok.Groups))
	if err != nil {
		return fmt.Errorf("token groups: %w", err)
	}
	roles, err := json.Marshal(nonNil(tok.ServerRoles))
	if err != nil {
		return fmt.Errorf("token roles: %w", err)
	}
	var exp sql.NullString
	if tok.ExpiresAt != nil {
		exp = sql.NullString{String: ts(*tok.ExpiresAt), Valid: true}
	}
	var parent sql.NullString
	if tok.ParentID != "" {
		parent = sql.NullString{String: tok.ParentID, Valid: true}
	}
	_, err = t.exec(`INSERT INTO tokens (id, hash, subject, groups_json, roles_json, created_at, expires_at, mfa_at, parent_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		tok.ID, tok.Hash, tok.Subject, string(groups), string(roles), ts(tok.CreatedAt), exp, nullTS(tok.MFAAt), parent)
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (t *tx) TokenByHash(hash string) (auth.Token, error) { return t.tokenWhere("hash", hash) }

func (t *tx) TokenByID(id string) (auth.Token, error) { return t.tokenWhere("id", id) }

const tokenColumns = `id, hash, subject, groups_json, roles_json, created_at, expires_at, mfa_at, parent_id` //nolint:gosec // column names, not a credential

func (t *tx) tokenWhere(col, arg string) (auth.Token, error) {
	q := `SELECT ` + tokenColumns + ` FROM tokens WHERE ` + col + ` = $1` //nolint:gosec // col is a constant column name
	return t.scanToken(t.queryRow(q, arg))
}

func (t *tx) ListTokens() ([]auth.Token, error) {
	rows, err := t.query(`SELECT ` + tokenColumns + ` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, t.mapErr(err)
	}
	defer func() { _ = rows.Close() }()
	out := []auth.Token{}
	for rows.Next() {
		tok, err := t.scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, tok)
	}
	return out, t.mapErr(rows.Err())
}

func (t *tx) PurgeExpiredStepUpTokens(now time.Time) (int64, error) {
	return t.execCount(`DELETE FROM tokens WHERE parent_id IS NOT NULL AND expires_at IS NOT NULL AND expires_at < $1`, ts(now))
}

func (t *tx) DeleteToken(id string) error {
	return t.execOne(`DELETE FROM tokens WHERE id = $1`, id)
}

func (t *tx) scanToken(row interface{ Scan(...any) error }) (auth.Token, error) {
	var tok auth.Token
	var groups, roles, created string
	var exp, mfa, parent sql.NullString
	if err := row.Scan(&tok.ID, &tok.Hash, &tok.Subject, &groups, &roles, &created, &exp, &mfa, &parent); err != nil {
		return tok, t.mapErr(err)
	}
	tok.ParentID = parent.String
	var err error
	if err := json.Unmarshal([]byte(groups), &tok.Groups); err != nil {
		return tok, fmt.Errorf("token groups: %w", err)
	}
	if err := json.Unmarshal([]byte(roles), &tok.ServerRoles); err != nil {
		return tok, fmt.Errorf("token roles: %w", err)
	}
	if tok.CreatedAt, err = parseTS(created); err != nil {
		return tok, err
	}
	if exp.Valid {
		e, err := parseTS(exp.String)
		if err != nil {
			return tok, err
		}
		tok.ExpiresAt = &e
	}
	if mfa.Valid {
		m, err := parseTS(mfa.String)
		if err != nil {
			return tok, err
		}
		tok.MFAAt = &m
	}
	return tok, nil
}

func (t *tx) CountTokens() (int, error) {
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM tokens`).Scan(&n)
	return n, t.mapErr(err)
}

// --- idempotency ---

func (t *tx) GetIdempotency(subject, method, path, key string) (store.IdempotencyRecord, error) {
	r := store.IdempotencyRecord{Subject: subject, Method: method, Path: path, Key: key}
	var done int
	var locked, expires string
	err := t.queryRow(`SELECT fingerprint, done, status, header, body, locked_until, expires_at, applied_target_type, applied_target_id, owner
		FROM idempotency_keys WHERE subject = $1 AND method = $2 AND path = $3 AND idem_key = $4`, subject, method, path, key).
		Scan(&r.Fingerprint, &done, &r.Status, &r.Header, &r.Body, &locked, &expires, &r.AppliedTargetType, &r.AppliedTargetID, &r.Owner)
	if err != nil {
		return r, t.mapErr(err)
	}
	r.Done = done == 1
	if r.LockedUntil, err = parseTS(locked); err != nil {
		return r, err
	}
	if r.ExpiresAt, err = parseTS(expires); err != nil {
		return r, err
	}
	return r, nil
}

func (t *tx) PutIdempotency(r store.IdempotencyRecord) error {
	done := 0
	if r.Done {
		done = 1
	}
	_, err := t.exec(`INSERT INTO idempotency_keys (subject, method, path, idem_key, fingerprint, done, status, header, body, locked_until, expires_at,
		applied_target_type, applied_target_id, owner)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
		ON CONFLICT (subject, method, path, idem_key) DO UPDATE SET fingerprint = excluded.fingerprint, done = excluded.done,
		status = excluded.status, header = excluded.header, body = excluded.body, locked_until = excluded.locked_until, expires_at = excluded.expires_at,
		applied_target_type = excluded.applied_target_type, applied_target_id = excluded.applied_target_id,
		owner = excluded.owner`,
		r.Subject, r.Method, r.Path, r.Key, r.Fingerprint, done, r.Status, r.Header, r.Body, ts(r.LockedUntil), ts(r.ExpiresAt),
		r.AppliedTargetType, r.AppliedTargetID, r.Owner)
	return err
}

func (t *tx) DeleteIdempotency(subject, method, path, key string) error {
	_, err := t.exec(`DELETE FROM idempotency_keys WHERE subject = $1 AND method = $2 AND path = $3 AND idem_key = $4`, subject, method, path, key)
	return err
}

func (t *tx) ReleaseIdempotency(subject, method, path, key string) (bool, error) {
	n, err := t.execCount(`DELETE FROM idempotency_keys WHERE subject = $1 AND method = $2 AND path = $3 AND idem_key = $4
		AND done = 0 AND applied_target_type = ''`, subject, method, path, key)
	return n > 0, err
}

func (t *tx) ReleaseAbandonedIdempotency() (int64, error) {
	return t.execCount(`DELETE FROM idempotency_keys WHERE done = 0 AND applied_target_type = ''`)
}

func (t *tx) PurgeIdempotency(now time.Time) (int64, error) {
	return t.execCount(`DELETE FROM idempotency_keys WHERE expires_at < $1`, ts(now))
}

// --- settings ---

func (t *tx) GetSetting(key string) (string, error) {
	var v string
	err := t.queryRow(`SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	return v, t.mapErr(err)
}

func (t *tx) PutSetting(key, value string) error {
	_, err := t.exec(`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// queryAll runs q and returns every row as scan reads it.
func queryAll[T any](t *tx, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, t.mapErr(err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, t.mapErr(rows.Err())
}

// queryBodies runs q, whose only column is an object's stored JSON body, and
// decodes every row (what names the kind of object in errors).
func queryBodies[T any](t *tx, what, q string, args ...any) ([]T, error) {
	return queryAll(t, func(s scanner) (T, error) {
		var body string
		if err := s.Scan(&body); err != nil {
			var zero T
			return zero, t.mapErr(err)
		}
		return decodeBody[T](what, body)
	}, q, args...)
}
