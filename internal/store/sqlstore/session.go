package sqlstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// --- session policies ---

func (t *tx) GetSessionPolicy(id string) (api.SessionPolicy, error) {
	var body string
	if err := t.queryRow(`SELECT body FROM session_policies WHERE id = $1`, id).Scan(&body); err != nil {
		return api.SessionPolicy{}, t.mapErr(err)
	}
	return decodeBody[api.SessionPolicy]("session policy", body)
}

func (t *tx) GetSessionPolicyIDByName(name string) (string, error) {
	var id string
	err := t.queryRow(`SELECT id FROM session_policies WHERE name = $1`, name).Scan(&id)
	return id, t.mapErr(err)
}

func (t *tx) ListSessionPolicies(f store.SessionPolicyFilter) ([]api.SessionPolicy, error) {
	return queryBodies[api.SessionPolicy](t, "session policy", `SELECT body FROM session_policies WHERE id > $1 AND ($2 = '' OR name = $2) ORDER BY id LIMIT $3`,
		f.AfterID, f.Name, max(f.Limit, 1))
}

func (t *tx) InsertSessionPolicy(p api.SessionPolicy) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("session policy: %w", err)
	}
	_, err = t.exec(`INSERT INTO session_policies (id, name, version, body) VALUES ($1,$2,$3,$4)`, p.ID, p.Name, p.Version, string(b))
	return err
}

func (t *tx) UpdateSessionPolicy(p api.SessionPolicy, prevVersion int64) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("session policy: %w", err)
	}
	res, err := t.exec(`UPDATE session_policies SET name = $1, version = $2, body = $3 WHERE id = $4 AND version = $5`,
		p.Name, p.Version, string(b), p.ID, prevVersion)
	if err != nil {
		return err
	}
	return t.checkOne(res, `SELECT 1 FROM session_policies WHERE id = $1`, p.ID)
}

func (t *tx) DeleteSessionPolicy(id string) error { return t.deleteByID("session_policies", id) }

// --- sessions ---

func sessionBody(s api.Session) (string, error) {
	s.CommandFilterHits = nil // kept in session_filter_hits
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	return string(b), nil
}

func (t *tx) CreateSession(s api.Session, owner string) error {
	body, err := sessionBody(s)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO sessions (id, state, principal_type, principal_id, vault_account_id, session_policy_id, started_at, body, owner)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,NULLIF($9, ''))`,
		s.ID, s.State, s.Principal.Type, s.Principal.ID, s.VaultAccountID, s.SessionPolicyID, ts(s.StartedAt), body, owner)
	return err
}

func (t *tx) sessionOnly(id string) (api.Session, error) {
	var body string
	if err := t.queryRow(`SELECT body FROM sessions WHERE id = $1`, id).Scan(&body); err != nil {
		return api.Session{}, t.mapErr(err)
	}
	return decodeBody[api.Session]("session", body)
}

func (t *tx) GetSession(id string) (api.Session, error) {
	s, err := t.sessionOnly(id)
	if err != nil {
		return s, err
	}
	hits, err := t.filterHits(id, id)
	if err != nil {
		return s, err
	}
	s.CommandFilterHits = hits[id]
	if s.CommandFilterHits == nil {
		s.CommandFilterHits = []api.CommandFilterHit{}
	}
	return s, nil
}

// filterHits returns the hits of sessions with ids in [from, to], by session.
func (t *tx) filterHits(from, to string) (map[string][]api.CommandFilterHit, error) {
	rows, err := t.query(`SELECT session_id, at, command, rule_index, action FROM session_filter_hits
		WHERE session_id >= $1 AND session_id <= $2 ORDER BY session_id, seq`, from, to)
	if err != nil {
		return nil, t.mapErr(err)
	}
	defer rows.Close()
	out := map[string][]api.CommandFilterHit{}
	for rows.Next() {
		var id, at string
		var h api.CommandFilterHit
		if err := rows.Scan(&id, &at, &h.Command, &h.RuleIndex, &h.Action); err != nil {
			return nil, t.mapErr(err)
		}
		if h.At, err = parseTS(at); err != nil {
			return nil, err
		}
		out[id] = append(out[id], h)
	}
	return out, t.mapErr(rows.Err())
}

func (t *tx) UpdateSession(s api.Session) error {
	cur, err := t.sessionOnly(s.ID)
	if err != nil {
		return err
	}
	cur.State, cur.LastActivityAt, cur.EndedAt, cur.EndReason, cur.EndedBy = s.State, s.LastActivityAt, s.EndedAt, s.EndReason, s.EndedBy
	cur.RecordingID, cur.UpdatedAt = s.RecordingID, s.UpdatedAt
	body, err := sessionBody(cur)
	if err != nil {
		return err
	}
	_, err = t.exec(`UPDATE sessions SET state = $1, body = $2 WHERE id = $3`, cur.State, body, cur.ID)
	return err
}

func (t *tx) TouchSession(id string, at time.Time) error {
	cur, err := t.sessionOnly(id)
	if err != nil {
		return err
	}
	at = at.UTC()
	cur.LastActivityAt, cur.UpdatedAt = &at, at
	body, err := sessionBody(cur)
	if err != nil {
		return err
	}
	_, err = t.exec(`UPDATE sessions SET body = $1 WHERE id = $2`, body, id)
	return err
}

func (t *tx) AppendFilterHit(sessionID string, hit api.CommandFilterHit) error {
	var one int
	if err := t.queryRow(`SELECT 1 FROM sessions WHERE id = $1`, sessionID).Scan(&one); err != nil {
		return t.mapErr(err)
	}
	if len(hit.Command) > api.MaxFilterHitCommandLength {
		hit.Command = hit.Command[:api.MaxFilterHitCommandLength]
	}
	_, err := t.exec(`INSERT INTO session_filter_hits (session_id, seq, at, command, rule_index, action)
		VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM session_filter_hits WHERE session_id = $1), $2, $3, $4, $5)`,
		sessionID, ts(hit.At), hit.Command, hit.RuleIndex, hit.Action)
	return err
}

func (t *tx) ListSessions(f store.SessionFilter) ([]api.Session, error) {
	q := strings.Builder{}
	q.WriteString(`SELECT body FROM sessions WHERE id > $1`)
	args := []any{f.AfterID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	in := func(vals []string) string {
		ph := make([]string, len(vals))
		for i, v := range vals {
			ph[i] = arg(v)
		}
		return ` IN (` + strings.Join(ph, ",") + `)`
	}
	if len(f.States) > 0 {
		q.WriteString(` AND state` + in(f.States))
	}
	if len(f.Owners) > 0 {
		q.WriteString(` AND COALESCE(owner, '')` + in(f.Owners))
	}
	if f.PrincipalType != "" {
		q.WriteString(` AND principal_type = ` + arg(f.PrincipalType))
	}
	if f.PrincipalID != "" {
		q.WriteString(` AND principal_id = ` + arg(f.PrincipalID))
	}
	if f.VaultAccountID != "" {
		q.WriteString(` AND vault_account_id = ` + arg(f.VaultAccountID))
	}
	if f.SessionPolicyID != "" {
		q.WriteString(` AND session_policy_id = ` + arg(f.SessionPolicyID))
	}
	if !f.StartedAfter.IsZero() {
		q.WriteString(` AND started_at > ` + arg(ts(f.StartedAfter)))
	}
	q.WriteString(` ORDER BY id LIMIT ` + arg(max(f.Limit, 1)))
	rows, err := t.query(q.String(), args...)
	if err != nil {
		return nil, t.mapErr(err)
	}
	out := []api.Session{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			_ = rows.Close()
			return nil, t.mapErr(err)
		}
		s, err := decodeBody[api.Session]("session", body)
		if err != nil {
			_ = rows.Close()
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Close(); err != nil {
		return nil, t.mapErr(err)
	}
	if err := rows.Err(); err != nil {
		return nil, t.mapErr(err)
	}
	if len(out) == 0 {
		return out, nil
	}
	hits, err := t.filterHits(out[0].ID, out[len(out)-1].ID)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].CommandFilterHits = hits[out[i].ID]
		if out[i].CommandFilterHits == nil {
			out[i].CommandFilterHits = []api.CommandFilterHit{}
		}
	}
	return out, nil
}

func (t *tx) ListSessionOwners() ([]string, error) {
	return queryAll(t, func(s scanner) (string, error) {
		var owner string
		return owner, t.mapErr(s.Scan(&owner))
	}, `SELECT DISTINCT COALESCE(owner, '') FROM sessions WHERE state IN ($1, $2, $3) ORDER BY 1`,
		api.SessionPending, api.SessionActive, api.SessionTerminating)
}

func (t *tx) CountActiveSessions(principal api.Actor) (int, error) {
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM sessions WHERE principal_type = $1 AND principal_id = $2 AND state IN ($3, $4, $5)`,
		principal.Type, principal.ID, api.SessionPending, api.SessionActive, api.SessionTerminating).Scan(&n)
	return n, t.mapErr(err)
}

// --- recordings ---

func (t *tx) PutRecording(r store.RecordingRecord) error {
	b, err := json.Marshal(r.SessionRecording)
	if err != nil {
		return fmt.Errorf("session recording: %w", err)
	}
	_, err = t.exec(`INSERT INTO session_recordings (id, session_id, state, sealed, body) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (id) DO UPDATE SET session_id = excluded.session_id, state = excluded.state, sealed = excluded.sealed, body = excluded.body`,
		r.ID, r.SessionID, r.State, r.Sealed, string(b))
	return err
}

func (t *tx) GetRecording(id string) (store.RecordingRecord, error) {
	var body, sealed string
	if err := t.queryRow(`SELECT body, sealed FROM session_recordings WHERE id = $1`, id).Scan(&body, &sealed); err != nil {
		return store.RecordingRecord{}, t.mapErr(err)
	}
	m, err := decodeBody[api.SessionRecording]("session recording", body)
	if err != nil {
		return store.RecordingRecord{}, err
	}
	return store.RecordingRecord{SessionRecording: m, Sealed: sealed}, nil
}

func (t *tx) ListRecordings(f store.RecordingFilter) ([]api.SessionRecording, error) {
	return queryBodies[api.SessionRecording](t, "session recording", `SELECT body FROM session_recordings WHERE id > $1 AND ($2 = '' OR session_id = $2) ORDER BY id LIMIT $3`,
		f.AfterID, f.SessionID, max(f.Limit, 1))
}
