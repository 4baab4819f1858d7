package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// PIM objects are stored as JSON in body, with the columns that queries
// filter on written beside it from the same object.

func nullTS(t *time.Time) sql.NullString {
	if t == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: ts(*t), Valid: true}
}

func decodeBody[T any](kind, body string) (T, error) {
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return v, fmt.Errorf("stored %s: %w", kind, err)
	}
	return v, nil
}

func (t *tx) deleteByID(table, id string) error {
	return t.execOne(`DELETE FROM `+table+` WHERE id = $1`, id) //nolint:gosec // table is a constant of this package
}

// --- activation policies ---

func (t *tx) GetActivationPolicy(id string) (api.ActivationPolicy, error) {
	var body string
	if err := t.queryRow(`SELECT body FROM activation_policies WHERE id = $1`, id).Scan(&body); err != nil {
		return api.ActivationPolicy{}, t.mapErr(err)
	}
	return decodeBody[api.ActivationPolicy]("activation policy", body)
}

func (t *tx) GetActivationPolicyIDByName(name string) (string, error) {
	var id string
	err := t.queryRow(`SELECT id FROM activation_policies WHERE name = $1`, name).Scan(&id)
	return id, t.mapErr(err)
}

func (t *tx) ListActivationPolicies(f store.ActivationPolicyFilter) ([]api.ActivationPolicy, error) {
	return queryBodies[api.ActivationPolicy](t, "activation policy", `SELECT body FROM activation_policies WHERE id > $1 AND ($2 = '' OR name = $2) ORDER BY id LIMIT $3`,
		f.AfterID, f.Name, max(f.Limit, 1))
}

func (t *tx) InsertActivationPolicy(p api.ActivationPolicy) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("activation policy: %w", err)
	}
	_, err = t.exec(`INSERT INTO activation_policies (id, name, version, body) VALUES ($1,$2,$3,$4)`, p.ID, p.Name, p.Version, string(b))
	return err
}

func (t *tx) UpdateActivationPolicy(p api.ActivationPolicy, prevVersion int64) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("activation policy: %w", err)
	}
	res, err := t.exec(`UPDATE activation_policies SET name = $1, version = $2, body = $3 WHERE id = $4 AND version = $5`,
		p.Name, p.Version, string(b), p.ID, prevVersion)
	if err != nil {
		return err
	}
	return t.checkOne(res, `SELECT 1 FROM activation_policies WHERE id = $1`, p.ID)
}

func (t *tx) DeleteActivationPolicy(id string) error { return t.deleteByID("activation_policies", id) }

func (t *tx) PolicyReferences(policyID string) (int, string, error) {
	var n int
	var example sql.NullString
	err := t.queryRow(`SELECT COUNT(*), MIN(id) FROM eligible_role_assignments WHERE activation_policy_id = $1`, policyID).Scan(&n, &example)
	return n, example.String, t.mapErr(err)
}

// --- eligible role assignments ---

// activeCountSQL counts the active elevations of the row e at $1 (now).
// end_at is compared through COALESCE so that no index can serve that range:
// otherwise SQLite picks elevations_state_end (state, end_at) and walks every
// active elevation of the store for each eligibility read, where
// elevations_eligibility (eligible_role_assignment_id, state) finds the few of
// this one (TestEligibilityActiveCountPlan). NULL end_at stays not active.
const activeCountSQL = `(SELECT COUNT(*) FROM elevations v WHERE v.eligible_role_assignment_id = e.id AND v.state = 'active' AND COALESCE(v.end_at, '') > $1)`

// GetEligibilitySQL reads one eligibility ($2) with its active count at $1;
// exported for the engines' query-plan tests.
const GetEligibilitySQL = `SELECT e.body, ` + activeCountSQL + ` FROM eligible_role_assignments e WHERE e.id = $2`

func (t *tx) scanEligibility(s scanner) (api.EligibleRoleAssignment, error) {
	var body string
	var n int
	if err := s.Scan(&body, &n); err != nil {
		return api.EligibleRoleAssignment{}, t.mapErr(err)
	}
	e, err := decodeBody[api.EligibleRoleAssignment]("eligible role assignment", body)
	e.ActiveElevationCount = n
	return e, err
}

func (t *tx) GetEligibility(id string, now time.Time) (api.EligibleRoleAssignment, error) {
	return t.scanEligibility(t.queryRow(GetEligibilitySQL, ts(now), id))
}

func (t *tx) GetEligibilityIDByKey(principalType, principalID, roleID, scope string) (string, error) {
	var id string
	err := t.queryRow(`SELECT id FROM eligible_role_assignments WHERE principal_type = $1 AND principal_id = $2 AND role_id = $3 AND scope = $4`,
		principalType, principalID, roleID, scope).Scan(&id)
	return id, t.mapErr(err)
}

func (t *tx) ListEligibilities(f store.EligibilityFilter) ([]api.EligibleRoleAssignment, error) {
	flag := func(s string) int {
		if slices.Contains(f.Statuses, s) {
			return 1
		}
		return 0
	}
	all := 0
	if len(f.Statuses) == 0 {
		all = 1
	}
	// $1 now; statuses follow windowStatus in pim: scheduled before starts_at,
	// expired from ends_at, active in between.
	q := `SELECT e.body, ` + activeCountSQL + ` FROM eligible_role_assignments e
		WHERE e.id > $2 AND ($3 = '' OR e.principal_type = $3) AND ($4 = '' OR e.principal_id = $4)
		AND ($5 = '' OR e.role_id = $5) AND ($6 = '' OR e.scope = $6)
		AND ($7 = '' OR $7 = '/' OR e.scope = $7 OR substr(e.scope, 1, length($7) + 1) = $7 || '/')
		AND ($8 = '' OR e.activation_policy_id = $8)
		AND ($9 = 1
		  OR ($10 = 1 AND e.starts_at IS NOT NULL AND e.starts_at > $1)
		  OR ($11 = 1 AND (e.starts_at IS NULL OR e.starts_at <= $1) AND (e.ends_at IS NULL OR e.ends_at > $1))
		  OR ($12 = 1 AND (e.starts_at IS NULL OR e.starts_at <= $1) AND e.ends_at IS NOT NULL AND e.ends_at <= $1))
		ORDER BY e.id LIMIT $13`
	return queryAll(t, t.scanEligibility, q, ts(f.Now), f.AfterID, f.PrincipalType, f.PrincipalID, f.RoleID, f.Scope, f.ScopePrefix,
		f.ActivationPolicyID, all, flag(api.EligibilityScheduled), flag(api.EligibilityActive), flag(api.EligibilityExpired), max(f.Limit, 1))
}

func eligibilityBody(e api.EligibleRoleAssignment) (string, error) {
	// Derived fields are never stored.
	e.Status, e.ActiveElevationCount = "", 0
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("eligible role assignment: %w", err)
	}
	return string(b), nil
}

func (t *tx) InsertEligibility(e api.EligibleRoleAssignment) error {
	body, err := eligibilityBody(e)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO eligible_role_assignments (id, principal_type, principal_id, role_id, scope, activation_policy_id,
		starts_at, ends_at, version, body) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
		e.ID, e.PrincipalType, e.PrincipalID, e.RoleID, e.Scope, e.ActivationPolicyID, nullTS(e.StartsAt), nullTS(e.EndsAt), e.Version, body)
	return err
}

func (t *tx) UpdateEligibility(e api.EligibleRoleAssignment, prevVersion int64) error {
	body, err := eligibilityBody(e)
	if err != nil {
		return err
	}
	res, err := t.exec(`UPDATE eligible_role_assignments SET principal_type = $1, principal_id = $2, role_id = $3, scope = $4,
		activation_policy_id = $5, starts_at = $6, ends_at = $7, version = $8, body = $9 WHERE id = $10 AND version = $11`,
		e.PrincipalType, e.PrincipalID, e.RoleID, e.Scope, e.ActivationPolicyID, nullTS(e.StartsAt), nullTS(e.EndsAt), e.Version, body, e.ID, prevVersion)
	if err != nil {
		return err
	}
	return t.checkOne(res, `SELECT 1 FROM eligible_role_assignments WHERE id = $1`, e.ID)
}

func (t *tx) DeleteEligibility(id string) error { return t.deleteByID("eligible_role_assignments", id) }

// --- elevations ---

func elevationArgs(e api.Elevation) (body string, deadline sql.NullString, err error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", deadline, fmt.Errorf("elevation: %w", err)
	}
	if d, ok := pim.NextDeadline(e); ok {
		deadline = sql.NullString{String: ts(d), Valid: true}
	}
	return string(b), deadline, nil
}

// writeParties replaces the approver and decider rows of e.
func (t *tx) writeParties(e api.Elevation) error {
	if _, err := t.exec(`DELETE FROM elevation_parties WHERE elevation_id = $1`, e.ID); err != nil {
		return err
	}
	if e.Approval == nil {
		return nil
	}
	type row struct{ rel, typ, id string }
	seen := map[row]bool{}
	for _, st := range e.Approval.Stages {
		for _, ap := range st.Approvers {
			seen[row{store.RelationApprover, ap.Type, ap.ID}] = true
		}
		for _, d := range st.Decisions {
			seen[row{store.RelationDecider, d.Approver.Type, d.Approver.ID}] = true
		}
	}
	for r := range seen {
		if _, err := t.exec(`INSERT INTO elevation_parties (elevation_id, relation, principal_type, principal_id) VALUES ($1,$2,$3,$4)`,
			e.ID, r.rel, r.typ, r.id); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) GetElevation(id string) (api.Elevation, error) {
	var body string
	if err := t.queryRow(`SELECT body FROM elevations WHERE id = $1`, id).Scan(&body); err != nil {
		return api.Elevation{}, t.mapErr(err)
	}
	return decodeBody[api.Elevation]("elevation", body)
}

func (t *tx) InsertElevation(e api.Elevation) error {
	body, deadline, err := elevationArgs(e)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO elevations (id, eligible_role_assignment_id, principal_type, principal_id, role_id, scope, state,
		end_at, next_deadline_at, created_at, version, body) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
		e.ID, e.EligibleRoleAssignmentID, e.PrincipalType, e.PrincipalID, e.RoleID, e.Scope, e.State,
		nullTS(e.EndAt), deadline, ts(e.CreatedAt), e.Version, body); err != nil {
		return err
	}
	return t.writeParties(e)
}

func (t *tx) UpdateElevation(e api.Elevation, prevVersion int64) error {
	body, deadline, err := elevationArgs(e)
	if err != nil {
		return err
	}
	res, err := t.exec(`UPDATE elevations SET state = $1, end_at = $2, next_deadline_at = $3, version = $4, body = $5
		WHERE id = $6 AND version = $7`, e.State, nullTS(e.EndAt), deadline, e.Version, body, e.ID, prevVersion)
	if err != nil {
		return err
	}
	if err := t.checkOne(res, `SELECT 1 FROM elevations WHERE id = $1`, e.ID); err != nil {
		return err
	}
	return t.writeParties(e)
}

// sqlBuilder numbers placeholders for the few queries whose shape depends on
// list-valued filters. Only placeholders are generated; values are bound.
type sqlBuilder struct {
	where []string
	args  []any
}

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

func (b *sqlBuilder) add(cond string) { b.where = append(b.where, cond) }

func (b *sqlBuilder) in(col string, vals []string) {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = b.arg(v)
	}
	b.add(col + " IN (" + strings.Join(ph, ", ") + ")")
}

// partyMatch is an EXISTS over elevation_parties for the party and its groups.
func (b *sqlBuilder) partyMatch(relations []string, p store.Party) string {
	rels := make([]string, len(relations))
	for i, r := range relations {
		rels[i] = b.arg(r)
	}
	who := fmt.Sprintf("(p.principal_type = %s AND p.principal_id = %s)", b.arg(p.Actor.Type), b.arg(p.Actor.ID))
	if len(p.Groups) > 0 {
		gs := make([]string, len(p.Groups))
		for i, g := range p.Groups {
			gs[i] = b.arg(g)
		}
		who = fmt.Sprintf("(%s OR (p.principal_type = 'group' AND p.principal_id IN (%s)))", who, strings.Join(gs, ", "))
	}
	return fmt.Sprintf("EXISTS (SELECT 1 FROM elevation_parties p WHERE p.elevation_id = v.id AND p.relation IN (%s) AND %s)",
		strings.Join(rels, ", "), who)
}

func (t *tx) ListElevations(f store.ElevationFilter) ([]api.Elevation, error) {
	var b sqlBuilder
	b.add("v.id > " + b.arg(f.AfterID))
	if len(f.States) > 0 {
		b.in("v.state", f.States)
	}
	eq := func(col, v string) {
		if v != "" {
			b.add(col + " = " + b.arg(v))
		}
	}
	eq("v.principal_type", f.PrincipalType)
	eq("v.principal_id", f.PrincipalID)
	eq("v.role_id", f.RoleID)
	eq("v.scope", f.Scope)
	eq("v.eligible_role_assignment_id", f.EligibilityID)
	if f.ScopePrefix != "" && f.ScopePrefix != "/" {
		p1, p2 := b.arg(f.ScopePrefix), b.arg(f.ScopePrefix+"/")
		p3 := b.arg(len(f.ScopePrefix) + 1)
		// The range [prefix, prefix+"0") holds the prefix and every scope
		// below it ('0' follows '/' in SQLite's binary collation), so the
		// elevations_state_scope index (migration 00011) narrows the rows to
		// the subtree; the exact test then drops siblings such as
		// "/a/b-c" that the range also holds.
		hi := b.arg(f.ScopePrefix + "0")
		b.add(fmt.Sprintf("(v.scope >= %s AND v.scope < %s AND (v.scope = %s OR substr(v.scope, 1, %s) = %s))", p1, hi, p1, p3, p2))
	}
	cmp := func(col, op string, tm *time.Time) {
		if tm != nil {
			b.add(col + " " + op + " " + b.arg(ts(*tm)))
		}
	}
	cmp("v.created_at", ">", f.CreatedAfter)
	cmp("v.created_at", "<", f.CreatedBefore)
	cmp("v.end_at", ">", f.EndAfter)
	cmp("v.end_at", "<", f.EndBefore)
	if f.VisibleTo != nil {
		own := fmt.Sprintf("(v.principal_type = %s AND v.principal_id = %s)", b.arg(f.VisibleTo.Actor.Type), b.arg(f.VisibleTo.Actor.ID))
		b.add("(" + own + " OR " + b.partyMatch([]string{store.RelationApprover, store.RelationDecider}, *f.VisibleTo) + ")")
	}
	if f.ApproverOf != nil {
		b.add(b.partyMatch([]string{store.RelationApprover}, *f.ApproverOf))
	}
	if f.DecidedBy != nil {
		b.add(b.partyMatch([]string{store.RelationDecider}, store.Party{Actor: *f.DecidedBy}))
	}
	q := "SELECT v.body FROM elevations v WHERE " + strings.Join(b.where, " AND ") + " ORDER BY v.id LIMIT " + b.arg(max(f.Limit, 1))
	return t.queryElevations(q, b.args...)
}

func (t *tx) queryElevations(q string, args ...any) ([]api.Elevation, error) {
	return queryBodies[api.Elevation](t, "elevation", q, args...)
}

func (t *tx) DueElevations(now time.Time, limit int) ([]api.Elevation, error) {
	// Writers are serialised on both engines (SQLite's write lock, the
	// PostgreSQL store's writer lock in Update), so the batch is claimed by
	// the write transaction itself: select-then-update cannot race another
	// claimer, on this replica or another. No SKIP LOCKED needed.
	return t.queryElevations(`SELECT v.body FROM elevations v WHERE v.next_deadline_at IS NOT NULL AND v.next_deadline_at <= $1
		ORDER BY v.next_deadline_at, v.id LIMIT $2`, ts(now), max(limit, 1))
}
