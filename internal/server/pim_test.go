package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

var pimT0 = time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)

// startPIM starts pamd on a fake clock with the worker loop off: tests run
// passes with RunWorkerOnce.
func startPIM(t *testing.T) *env {
	t.Helper()
	fc := clock.NewFake(pimT0)
	d, err := daemon.Start(context.Background(), daemon.Config{
		Listen: "127.0.0.1:0", DB: testdb.Target(t), MasterKeyFile: testdb.KeyFile(t), BootstrapToken: adminToken,
		Clock: fc, Version: "test", WorkerInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &env{t: t, d: d, clock: fc, admin: adminToken}
}

func (e *env) tokenG(subject string, groups []string, roles ...string) string {
	e.t.Helper()
	tok, err := e.d.IssueToken(context.Background(), subject, groups, roles)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (r resp) want(t *testing.T, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

func (e *env) createPolicy(in api.ActivationPolicyInput) api.ActivationPolicy {
	e.t.Helper()
	var p api.ActivationPolicy
	e.do(http.MethodPost, api.PathActivationPolicies, e.admin, in).want(e.t, 201).json(e.t, &p)
	return p
}

func (e *env) createElig(in api.EligibleRoleAssignmentInput) api.EligibleRoleAssignment {
	e.t.Helper()
	var el api.EligibleRoleAssignment
	e.do(http.MethodPost, api.PathEligibleRoleAssignments, e.admin, in).want(e.t, 201).json(e.t, &el)
	return el
}

var idemCounter int

func (e *env) elevate(token string, req api.ElevationRequest) resp {
	e.t.Helper()
	idemCounter++
	return e.do(http.MethodPost, api.PathElevations, token, req, "Idempotency-Key", fmt.Sprintf("k-%d", idemCounter))
}

func (e *env) mustElevate(token string, req api.ElevationRequest) api.Elevation {
	e.t.Helper()
	var el api.Elevation
	e.elevate(token, req).want(e.t, 201).json(e.t, &el)
	return el
}

func (e *env) act(token, id, action string, body any) resp {
	e.t.Helper()
	return e.do(http.MethodPost, api.PathElevations+"/"+id+"/"+action, token, body)
}

func (e *env) getElevation(id string) api.Elevation {
	e.t.Helper()
	var el api.Elevation
	e.do(http.MethodGet, api.PathElevations+"/"+id, e.admin, nil).want(e.t, 200).json(e.t, &el)
	return el
}

func (e *env) auditEvents() []api.AuditEvent {
	e.t.Helper()
	var out []api.AuditEvent
	err := e.d.Store().View(context.Background(), func(tx store.Tx) (err error) {
		out, err = tx.ListAudit(store.AuditFilter{Limit: 100000})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) auditActionsFor(id string) []string {
	var out []string
	for _, ev := range e.auditEvents() {
		if ev.Target.ID == id && ev.Outcome == api.OutcomeSuccess {
			out = append(out, ev.Action)
		}
	}
	return out
}

func (e *env) runWorker() int {
	e.t.Helper()
	n, err := e.d.RunWorkerOnce(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) verifyAudit() {
	e.t.Helper()
	res, err := daemon.VerifyAudit(context.Background(), e.d.Store())
	if err != nil || !res.OK() {
		e.t.Fatalf("audit chain: %+v %v", res, err)
	}
}

func rules(p api.Problem) []string {
	var out []string
	for _, v := range p.Violations {
		out = append(out, v.Rule)
	}
	slices.Sort(out)
	return out
}

func tp(t time.Time) *time.Time { return &t }

func TestActivationPolicyCRUD(t *testing.T) {
	e := startPIM(t)
	in := api.ActivationPolicyInput{Name: "p1", ActivationRules: api.ActivationRules{MaxActivationSeconds: 7200, AllowExtension: true,
		EligibilityConstraints: api.EligibilityConstraints{AllowPermanent: true}}}
	r := e.do(http.MethodPost, api.PathActivationPolicies, e.admin, in).want(t, 201)
	var p api.ActivationPolicy
	r.json(t, &p)
	if !strings.HasPrefix(p.ID, "actp_") || r.header.Get("ETag") != `"1"` || r.header.Get("Location") != api.PathActivationPolicies+"/"+p.ID {
		t.Fatalf("create: %s %v", r.body, r.header)
	}
	// Normalised: every default is visible.
	if p.DefaultActivationSeconds != 3600 || p.MaxExtensions != 1 || p.MaxTotalActivationSeconds != 14400 || p.TicketSystems == nil || p.Labels == nil {
		t.Fatalf("not normalised: %+v", p)
	}
	var got api.ActivationPolicy
	e.do(http.MethodGet, api.PathActivationPolicies+"/"+p.ID, e.admin, nil).want(t, 200).json(t, &got)
	if got.MaxTotalActivationSeconds != 14400 || got.Version != 1 {
		t.Fatalf("get: %+v", got)
	}
	dup := e.do(http.MethodPost, api.PathActivationPolicies, e.admin, in).problem(t, 409, api.CodeAlreadyExists)
	if dup.ExistingID != p.ID {
		t.Fatalf("existing_id %q", dup.ExistingID)
	}
	bad := in
	bad.Name, bad.MaxActivationSeconds = "p2", 10
	pr := e.do(http.MethodPost, api.PathActivationPolicies, e.admin, bad).problem(t, 400, api.CodeValidationFailed)
	if !slices.Contains(violationPointers(pr), "/max_activation_seconds") {
		t.Fatalf("pointers %v", violationPointers(pr))
	}
	var page api.Page[api.ActivationPolicy]
	e.do(http.MethodGet, api.PathActivationPolicies+"?name=p1", e.admin, nil).want(t, 200).json(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != p.ID {
		t.Fatalf("list: %+v", page)
	}
	upd := in
	upd.Description = "v2"
	var p2 api.ActivationPolicy
	e.do(http.MethodPut, api.PathActivationPolicies+"/"+p.ID, e.admin, upd, "If-Match", `"1"`).want(t, 200).json(t, &p2)
	if p2.Version != 2 || p2.Description != "v2" {
		t.Fatalf("update: %+v", p2)
	}
	e.do(http.MethodPut, api.PathActivationPolicies+"/"+p.ID, e.admin, upd, "If-Match", `"1"`).problem(t, 412, api.CodeEtagMismatch)

	// Authorisation: a requester can read but not write.
	req := e.token("user:alice", api.ServerRoleRequester)
	e.do(http.MethodPost, api.PathActivationPolicies, req, api.ActivationPolicyInput{Name: "x", ActivationRules: api.ActivationRules{MaxActivationSeconds: 600}}).
		problem(t, 403, api.CodeForbidden)
	e.do(http.MethodGet, api.PathActivationPolicies+"/"+p.ID, req, nil).want(t, 200)
	e.do(http.MethodDelete, api.PathActivationPolicies+"/actp_missing", req, nil).problem(t, 404, api.CodeNotFound)
	e.do(http.MethodDelete, api.PathActivationPolicies+"/"+p.ID, req, nil).problem(t, 403, api.CodeForbidden)

	// In use: refused while an eligibility references it.
	role := e.createRole(api.RoleInput{Name: "r"})
	el := e.createElig(api.EligibleRoleAssignmentInput{PrincipalType: "user", PrincipalID: "alice", RoleID: role.ID, Scope: "/", ActivationPolicyID: p.ID})
	inUse := e.do(http.MethodDelete, api.PathActivationPolicies+"/"+p.ID, e.admin, nil).problem(t, 409, api.CodeInUse)
	if !strings.Contains(inUse.Detail, "1 eligible") || !strings.Contains(inUse.Detail, el.ID) {
		t.Fatalf("in_use detail: %q", inUse.Detail)
	}
	e.do(http.MethodDelete, api.PathEligibleRoleAssignments+"/"+el.ID, e.admin, nil).want(t, 204)
	e.do(http.MethodDelete, api.PathActivationPolicies+"/"+p.ID, e.admin, nil).want(t, 204)
	e.do(http.MethodGet, api.PathActivationPolicies+"/"+p.ID, e.admin, nil).problem(t, 404, api.CodeNotFound)
	if got := e.auditActionsFor(p.ID); !slices.Equal(got, []string{"activation_policy.created", "activation_policy.updated", "activation_policy.deleted"}) {
		t.Fatalf("audit: %v", got)
	}
	e.verifyAudit()
}

func TestEligibilityCRUD(t *testing.T) {
	e := startPIM(t)
	role := e.createRole(api.RoleInput{Name: "db_admin", AssignableScopes: []string{"/orgs/acme"}})
	pol := e.createPolicy(api.ActivationPolicyInput{Name: "p", ActivationRules: api.ActivationRules{MaxActivationSeconds: 3600,
		EligibilityConstraints: api.EligibilityConstraints{MaxEligibilitySeconds: 90 * 24 * 3600}}})
	ends := pimT0.Add(30 * 24 * time.Hour)
	in := api.EligibleRoleAssignmentInput{PrincipalType: "group", PrincipalID: "dba", RoleID: role.ID, Scope: "/orgs/acme/payments",
		ActivationPolicyID: pol.ID, EndsAt: &ends, Justification: "rota", Labels: map[string]string{"team": "dba"}}
	r := e.do(http.MethodPost, api.PathEligibleRoleAssignments, e.admin, in).want(t, 201)
	var el api.EligibleRoleAssignment
	r.json(t, &el)
	if !strings.HasPrefix(el.ID, "era_") || el.Status != api.EligibilityActive || el.ActiveElevationCount != 0 || r.header.Get("ETag") != `"1"` ||
		r.header.Get("Location") != api.PathEligibleRoleAssignments+"/"+el.ID {
		t.Fatalf("create: %s", r.body)
	}
	// Natural key: 409 with the existing id, and the import lookup finds it.
	dup := e.do(http.MethodPost, api.PathEligibleRoleAssignments, e.admin, in).problem(t, 409, api.CodeAlreadyExists)
	if dup.ExistingID != el.ID {
		t.Fatalf("existing_id %q", dup.ExistingID)
	}
	var page api.Page[api.EligibleRoleAssignment]
	e.do(http.MethodGet, api.PathEligibleRoleAssignments+"?principal_type=group&principal_id=dba&role_id="+role.ID+"&scope=/orgs/acme/payments", e.admin, nil).
		want(t, 200).json(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != el.ID {
		t.Fatalf("natural key lookup: %+v", page)
	}
	e.do(http.MethodGet, api.PathEligibleRoleAssignments+"?principal_type=group&principal_id=dba&role_id="+role.ID+"&scope=/orgs/acme", e.admin, nil).
		want(t, 200).json(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("other scope matched: %+v", page)
	}

	bad := func(mut func(*api.EligibleRoleAssignmentInput), pointer string) {
		t.Helper()
		b := in
		b.PrincipalID = "other"
		mut(&b)
		p := e.do(http.MethodPost, api.PathEligibleRoleAssignments, e.admin, b).problem(t, 400, api.CodeValidationFailed)
		if !slices.Contains(violationPointers(p), pointer) {
			t.Fatalf("want violation at %s, got %+v", pointer, p.Violations)
		}
	}
	bad(func(b *api.EligibleRoleAssignmentInput) { b.Scope = "/orgs/other" }, "/scope")
	bad(func(b *api.EligibleRoleAssignmentInput) { b.RoleID = "role_missing" }, "/role_id")
	bad(func(b *api.EligibleRoleAssignmentInput) { b.ActivationPolicyID = "actp_missing" }, "/activation_policy_id")
	bad(func(b *api.EligibleRoleAssignmentInput) { b.StartsAt = tp(ends.Add(time.Hour)) }, "/ends_at")
	// Policy window constraints are policy violations (422).
	long := in
	long.PrincipalID, long.EndsAt = "other", tp(pimT0.Add(100*24*time.Hour))
	if got := rules(e.do(http.MethodPost, api.PathEligibleRoleAssignments, e.admin, long).problem(t, 422, api.CodePolicyViolation)); !slices.Equal(got, []string{"max_eligibility_seconds"}) {
		t.Fatalf("rules %v", got)
	}
	long.EndsAt = nil
	if got := rules(e.do(http.MethodPost, api.PathEligibleRoleAssignments, e.admin, long).problem(t, 422, api.CodePolicyViolation)); !slices.Equal(got, []string{"permanent_eligibility_not_allowed"}) {
		t.Fatalf("rules %v", got)
	}

	// Immutable fields.
	path := api.PathEligibleRoleAssignments + "/" + el.ID
	chg := in
	chg.RoleID, chg.Scope = "role_other", "/orgs/acme"
	imm := e.do(http.MethodPut, path, e.admin, chg).problem(t, 422, api.CodeImmutableField)
	if got := violationPointers(imm); !slices.Equal(got, []string{"/role_id", "/scope"}) {
		t.Fatalf("immutable pointers %v", got)
	}
	mut := in
	mut.Justification = "new rota"
	var el2 api.EligibleRoleAssignment
	e.do(http.MethodPut, path, e.admin, mut, "If-Match", `"1"`).want(t, 200).json(t, &el2)
	if el2.Version != 2 || el2.Justification != "new rota" || el2.ID != el.ID || el2.Status != api.EligibilityActive {
		t.Fatalf("update: %+v", el2)
	}

	// validate_only writes nothing, not even audit events.
	before := len(e.auditEvents())
	other := in
	other.PrincipalID = "ops"
	vr := e.do(http.MethodPost, api.PathEligibleRoleAssignments+"?validate_only=true", e.admin, other).want(t, 200)
	if strings.TrimSpace(string(vr.body)) != `{"valid":true}` {
		t.Fatalf("validate_only body %s", vr.body)
	}
	e.do(http.MethodPost, api.PathEligibleRoleAssignments+"?validate_only=true", e.admin, in).problem(t, 409, api.CodeAlreadyExists)
	other.Scope = "/nope"
	e.do(http.MethodPost, api.PathEligibleRoleAssignments+"?validate_only=true", e.admin, other).problem(t, 400, api.CodeValidationFailed)
	e.do(http.MethodPut, path+"?validate_only=true", e.admin, chg).problem(t, 422, api.CodeImmutableField)
	mut.Justification = "validated only"
	e.do(http.MethodPut, path+"?validate_only=true", e.admin, mut).want(t, 200)
	if after := len(e.auditEvents()); after != before {
		t.Fatalf("validate_only wrote %d audit events", after-before)
	}
	e.do(http.MethodGet, api.PathEligibleRoleAssignments, e.admin, nil).want(t, 200).json(t, &page)
	if len(page.Items) != 1 || page.Items[0].Version != 2 || page.Items[0].Justification != "new rota" {
		t.Fatalf("validate_only changed data: %+v", page.Items)
	}

	// Authorisation: readers read, only admin/security write.
	req := e.token("user:alice", api.ServerRoleRequester)
	e.do(http.MethodGet, path, req, nil).want(t, 200)
	e.do(http.MethodPost, api.PathEligibleRoleAssignments, req, other).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodPut, api.PathEligibleRoleAssignments+"/era_missing", req, mut).problem(t, 404, api.CodeNotFound)

	// Expiry is derived from the clock; the assignment stays readable.
	e.clock.Set(ends.Add(time.Second))
	var exp api.EligibleRoleAssignment
	e.do(http.MethodGet, path, e.admin, nil).want(t, 200).json(t, &exp)
	if exp.Status != api.EligibilityExpired {
		t.Fatalf("status %q", exp.Status)
	}
	e.do(http.MethodGet, api.PathEligibleRoleAssignments+"?status=expired", e.admin, nil).want(t, 200).json(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("status filter: %+v", page)
	}
	e.do(http.MethodGet, api.PathEligibleRoleAssignments+"?status=active,scheduled", e.admin, nil).want(t, 200).json(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("status filter: %+v", page)
	}
	e.do(http.MethodGet, api.PathEligibleRoleAssignments+"?status=bogus", e.admin, nil).problem(t, 400, api.CodeValidationFailed)
	e.verifyAudit()
}

// pimFixture: a role assignable under /orgs, and helpers to make policies and eligibilities.
type pimFixture struct {
	*env
	role api.Role
}

func newFixture(t *testing.T) pimFixture {
	e := startPIM(t)
	return pimFixture{env: e, role: e.createRole(api.RoleInput{Name: "db_admin", AssignableScopes: []string{"/orgs"}})}
}

func (f pimFixture) policy(name string, mut func(r *api.ActivationRules)) api.ActivationPolicy {
	r := api.ActivationRules{MaxActivationSeconds: 3600, EligibilityConstraints: api.EligibilityConstraints{AllowPermanent: true}}
	if mut != nil {
		mut(&r)
	}
	return f.createPolicy(api.ActivationPolicyInput{Name: name, ActivationRules: r})
}

func (f pimFixture) elig(ptype, pid, scope, policyID string) api.EligibleRoleAssignment {
	return f.createElig(api.EligibleRoleAssignmentInput{PrincipalType: ptype, PrincipalID: pid, RoleID: f.role.ID, Scope: scope, ActivationPolicyID: policyID})
}

func TestElevationWithoutApproval(t *testing.T) {
	f := newFixture(t)
	pol := f.policy("direct", func(r *api.ActivationRules) {
		r.RequireJustification, r.JustificationMinLength = true, 5
		r.AllowExtension, r.MaxExtensions, r.MaxTotalActivationSeconds = true, 2, 3600
	})
	el := f.elig("user", "alice", "/orgs/acme", pol.ID)
	alice := f.token("user:alice", api.ServerRoleRequester)
	bob := f.token("user:bob", api.ServerRoleRequester)
	good := api.ElevationRequest{EligibleRoleAssignmentID: el.ID, RequestedDurationSeconds: 1800, Justification: "INC-1 failover"}

	f.do(http.MethodPost, api.PathElevations, alice, good).problem(t, 400, api.CodeIdempotencyKeyMissing)
	long := good
	long.RequestedDurationSeconds = 7200
	if got := rules(f.elevate(alice, long).problem(t, 422, api.CodePolicyViolation)); !slices.Equal(got, []string{"max_activation_seconds"}) {
		t.Fatalf("rules %v", got)
	}
	noJust := good
	noJust.Justification = ""
	if got := rules(f.elevate(alice, noJust).problem(t, 422, api.CodePolicyViolation)); !slices.Equal(got, []string{"justification_required"}) {
		t.Fatalf("rules %v", got)
	}
	// A non-holder cannot elevate on alice's eligibility; a token without a requester role cannot elevate at all.
	if got := rules(f.elevate(bob, good).problem(t, 422, api.CodePolicyViolation)); !slices.Contains(got, "not_eligible") {
		t.Fatalf("rules %v", got)
	}
	f.elevate(f.token("user:alice", api.ServerRoleAuditor), good).problem(t, 403, api.CodeForbidden)

	// validate_only: evaluation, nothing written.
	vo := good
	vo.ValidateOnly = true
	var ev api.PolicyEvaluation
	f.do(http.MethodPost, api.PathElevations, alice, vo).want(t, 200).json(t, &ev)
	if !ev.Allowed || ev.DurationSeconds != 1800 || ev.ApprovalRequired || ev.ActivationPolicyID != pol.ID {
		t.Fatalf("evaluation %+v", ev)
	}
	vo.RequestedDurationSeconds = 7200
	f.do(http.MethodPost, api.PathElevations, alice, vo).want(t, 200).json(t, &ev)
	if ev.Allowed || len(ev.Violations) != 1 {
		t.Fatalf("evaluation %+v", ev)
	}

	// Idempotency: a replay returns the same elevation.
	r1 := f.do(http.MethodPost, api.PathElevations, alice, good, "Idempotency-Key", "same")
	r2 := f.do(http.MethodPost, api.PathElevations, alice, good, "Idempotency-Key", "same")
	r1.want(t, 201)
	r2.want(t, 201)
	var e1, e2 api.Elevation
	r1.json(t, &e1)
	r2.json(t, &e2)
	if e1.ID != e2.ID || r2.header.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("replay: %s vs %s", e1.ID, e2.ID)
	}
	if e1.State != api.StateActive || e1.StartAt == nil || !e1.EndAt.Equal(pimT0.Add(1800*time.Second)) || e1.PolicySnapshot.ActivationPolicyID != pol.ID ||
		e1.RequestedBy != (api.Actor{Type: "user", ID: "alice"}) {
		t.Fatalf("elevation %+v", e1)
	}
	// A second live request on the same eligibility: 409, or the existing one on request.
	f.elevate(alice, good).problem(t, 409, api.CodeAlreadyExists)
	again := good
	again.IfExists = api.IfExistsReturnExisting
	var ex api.Elevation
	f.elevate(alice, again).want(t, 200).json(t, &ex)
	if ex.ID != e1.ID {
		t.Fatalf("return_existing gave %s", ex.ID)
	}

	var got api.EligibleRoleAssignment
	f.do(http.MethodGet, api.PathEligibleRoleAssignments+"/"+el.ID, f.admin, nil).json(t, &got)
	if got.ActiveElevationCount != 1 {
		t.Fatalf("active_elevation_count %d", got.ActiveElevationCount)
	}
	var act api.Page[api.ActiveElevation]
	f.do(http.MethodGet, api.PathActiveElevations, bob, nil).want(t, 200).json(t, &act)
	if len(act.Items) != 1 || act.Items[0].ID != e1.ID || act.Items[0].RemainingSeconds != 1800 || act.Items[0].Justification != "INC-1 failover" {
		t.Fatalf("active: %+v", act)
	}

	// Extend: beyond the total is a policy violation, within it fine.
	p := f.act(alice, e1.ID, "extend", api.ElevationExtendRequest{AdditionalSeconds: 2400, Justification: "more time"}).problem(t, 422, api.CodePolicyViolation)
	if !slices.Contains(rules(p), "max_total_activation_seconds") {
		t.Fatalf("rules %v", rules(p))
	}
	f.act(bob, e1.ID, "extend", api.ElevationExtendRequest{AdditionalSeconds: 600, Justification: "more time"}).problem(t, 403, api.CodeForbidden)
	var extended api.Elevation
	f.act(alice, e1.ID, "extend", api.ElevationExtendRequest{AdditionalSeconds: 600, Justification: "more time"}).want(t, 200).json(t, &extended)
	if !extended.EndAt.Equal(pimT0.Add(2400*time.Second)) || extended.Version != 2 {
		t.Fatalf("extended %+v", extended)
	}
	// Stale If-Match on an action.
	f.do(http.MethodPost, api.PathElevations+"/"+e1.ID+"/deactivate", alice, nil, "If-Match", `"1"`).problem(t, 412, api.CodeEtagMismatch)
	var deact api.Elevation
	f.do(http.MethodPost, api.PathElevations+"/"+e1.ID+"/deactivate", alice, api.ElevationActionRequest{Reason: "done"}, "If-Match", `"2"`).want(t, 200).json(t, &deact)
	if deact.State != api.StateDeactivated || deact.EndReason != api.EndReasonDeactivatedByRequester {
		t.Fatalf("deactivated %+v", deact)
	}
	f.do(http.MethodGet, api.PathActiveElevations, bob, nil).json(t, &act)
	if len(act.Items) != 0 {
		t.Fatalf("still active: %+v", act)
	}
	tr := f.act(alice, e1.ID, "deactivate", nil).problem(t, 409, api.CodeInvalidStateTransition)
	if tr.State != api.StateDeactivated || tr.AllowedTransitions == nil || len(tr.AllowedTransitions) != 0 {
		t.Fatalf("transition problem %+v", tr)
	}

	// Revoke: admin only.
	e3 := f.mustElevate(alice, good)
	f.act(alice, e3.ID, "revoke", nil).problem(t, 403, api.CodeForbidden)
	var rev api.Elevation
	f.act(f.admin, e3.ID, "revoke", api.ElevationActionRequest{Reason: "incident over"}).want(t, 200).json(t, &rev)
	if rev.State != api.StateRevoked || rev.EndReason != api.EndReasonRevokedByAdmin {
		t.Fatalf("revoked %+v", rev)
	}

	// Visibility: bob cannot read alice's elevation; alice can.
	f.do(http.MethodGet, api.PathElevations+"/"+e3.ID, bob, nil).problem(t, 403, api.CodeForbidden)
	f.do(http.MethodGet, api.PathElevations+"/"+e3.ID, alice, nil).want(t, 200)
	f.do(http.MethodGet, api.PathElevations+"/elv_missing", bob, nil).problem(t, 404, api.CodeNotFound)
	var list api.Page[api.Elevation]
	f.do(http.MethodGet, api.PathElevations, bob, nil).want(t, 200).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("bob sees %d", len(list.Items))
	}
	f.do(http.MethodGet, api.PathElevations+"?relationship=requested_by_me&state=revoked,deactivated", alice, nil).want(t, 200).json(t, &list)
	if len(list.Items) != 2 {
		t.Fatalf("alice sees %d", len(list.Items))
	}

	// Expiry by the worker.
	e4 := f.mustElevate(alice, good)
	f.clock.Advance(1801 * time.Second)
	// Even before the worker runs, the projection hides it.
	f.do(http.MethodGet, api.PathActiveElevations, bob, nil).json(t, &act)
	if len(act.Items) != 0 {
		t.Fatalf("expired but listed: %+v", act)
	}
	if n := f.runWorker(); n != 1 {
		t.Fatalf("worker changed %d", n)
	}
	if n := f.runWorker(); n != 0 {
		t.Fatalf("second pass changed %d", n)
	}
	if g := f.getElevation(e4.ID); g.State != api.StateEnded || g.EndReason != api.EndReasonDurationElapsed || !g.EndedAt.Equal(*e4.EndAt) {
		t.Fatalf("after worker: %+v", g)
	}
	f.do(http.MethodGet, api.PathActiveElevations+"/"+e4.ID, bob, nil).problem(t, 404, api.CodeNotFound)
	if got := f.auditActionsFor(e4.ID); !slices.Equal(got, []string{"elevation.requested", "elevation.activation_started", "elevation.activated", "elevation.expired"}) {
		t.Fatalf("audit %v", got)
	}
	if got := f.auditActionsFor(e1.ID); !slices.Equal(got, []string{"elevation.requested", "elevation.activation_started", "elevation.activated", "elevation.extended", "elevation.deactivated"}) {
		t.Fatalf("audit %v", got)
	}
	f.verifyAudit()
}

func TestElevationTwoStageApproval(t *testing.T) {
	f := newFixture(t)
	pol := f.policy("approved", func(r *api.ActivationRules) {
		r.Approval = &api.Approval{Stages: []api.ApprovalStage{
			{Approvers: []api.Principal{{Type: "group", ID: "sec"}}, ApprovalsNeeded: 1, TimeoutSeconds: 600},
			{Approvers: []api.Principal{{Type: "user", ID: "dave"}}, ApprovalsNeeded: 1},
		}}
	})
	f.elig("group", "dba", "/orgs/acme", pol.ID)
	// alice is a dba and, to test self-approval, also in sec with the approver role.
	alice := f.tokenG("user:alice", []string{"dba", "sec"}, api.ServerRoleRequester, api.ServerRoleApprover)
	carol := f.tokenG("user:carol", []string{"sec"}, api.ServerRoleApprover)
	dave := f.tokenG("user:dave", nil, api.ServerRoleApprover)
	mallory := f.tokenG("user:mallory", []string{"sec"}, api.ServerRoleRequester) // in the group but not an approver role
	byRole := api.ElevationRequest{RoleID: f.role.ID, Scope: "/orgs/acme", RequestedDurationSeconds: 900}

	// Resolution by role and scope finds the group eligibility; no exact match is 422.
	nm := byRole
	nm.Scope = "/orgs"
	f.elevate(alice, nm).problem(t, 422, api.CodeNoMatchingEligibility)
	el := f.mustElevate(alice, byRole)
	if el.State != api.StatePendingApproval || el.Approval == nil || el.Approval.CurrentStageIndex != 0 || el.PrincipalID != "alice" {
		t.Fatalf("pending: %+v", el)
	}

	inbox := func(tok string) []api.ApprovalRequest {
		t.Helper()
		var p api.Page[api.ApprovalRequest]
		f.do(http.MethodGet, api.PathApprovalRequests, tok, nil).want(t, 200).json(t, &p)
		return p.Items
	}
	if got := inbox(carol); len(got) != 1 || got[0].ID != el.ID || got[0].Kind != "elevation" || got[0].ExpiresAt == nil {
		t.Fatalf("carol inbox %+v", got)
	}
	if got := inbox(dave); len(got) != 0 {
		t.Fatalf("dave inbox (stage 1 not open) %+v", got)
	}
	if got := inbox(alice); len(got) != 0 {
		t.Fatalf("alice inbox (own request) %+v", got)
	}
	// carol sees it as an approver.
	var list api.Page[api.Elevation]
	f.do(http.MethodGet, api.PathElevations+"?relationship=awaiting_my_approval", carol, nil).want(t, 200).json(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("awaiting: %+v", list)
	}
	f.do(http.MethodGet, api.PathElevations+"/"+el.ID, carol, nil).want(t, 200)

	f.act(dave, el.ID, "approve", nil).problem(t, 403, api.CodeNotAnApprover)
	f.act(alice, el.ID, "approve", nil).problem(t, 403, api.CodeSelfApprovalForbidden)
	f.act(mallory, el.ID, "approve", nil).problem(t, 403, api.CodeForbidden)
	var s1 api.Elevation
	f.act(carol, el.ID, "approve", api.ElevationActionRequest{Reason: "ok"}).want(t, 200).json(t, &s1)
	if s1.State != api.StatePendingApproval || s1.Approval.CurrentStageIndex != 1 || s1.Approval.Stages[0].Decisions[0].ViaGroupID != "sec" {
		t.Fatalf("after stage 0: %+v", s1.Approval)
	}
	f.act(carol, el.ID, "approve", nil).problem(t, 409, api.CodeAlreadyDecided)
	var s2 api.Elevation
	f.act(dave, el.ID, "approve", api.ElevationActionRequest{Reason: "fine"}).want(t, 200).json(t, &s2)
	if s2.State != api.StateActive {
		t.Fatalf("after stage 1: %s", s2.State)
	}
	var act api.Page[api.ActiveElevation]
	f.do(http.MethodGet, api.PathActiveElevations, dave, nil).json(t, &act)
	if len(act.Items) != 1 || len(act.Items[0].Approvals) != 2 {
		t.Fatalf("active with approvals: %+v", act)
	}
	f.act(dave, el.ID, "approve", nil).problem(t, 409, api.CodeInvalidStateTransition)
	f.act(alice, el.ID, "deactivate", nil).want(t, 200)
	if got := f.auditActionsFor(el.ID); !slices.Equal(got, []string{"elevation.requested", "elevation.approved", "elevation.approved",
		"elevation.activation_started", "elevation.activated", "elevation.deactivated"}) {
		t.Fatalf("audit %v", got)
	}
	// The refusals are audited too, with outcome denied.
	refused := 0
	for _, ev := range f.auditEvents() {
		if ev.Target.ID == el.ID && ev.Outcome == api.OutcomeDenied {
			refused++
		}
	}
	if refused != 4 {
		t.Fatalf("%d refusals audited, want 4", refused)
	}

	// Deny.
	d := f.mustElevate(alice, byRole)
	var denied api.Elevation
	f.act(carol, d.ID, "deny", api.ElevationActionRequest{Reason: "no"}).want(t, 200).json(t, &denied)
	if denied.State != api.StateDenied {
		t.Fatalf("denied %+v", denied)
	}
	tr := f.act(dave, d.ID, "approve", nil).problem(t, 409, api.CodeInvalidStateTransition)
	if tr.State != api.StateDenied {
		t.Fatalf("transition %+v", tr)
	}

	// Withdraw.
	w := f.mustElevate(alice, byRole)
	f.act(carol, w.ID, "withdraw", nil).problem(t, 403, api.CodeForbidden)
	var wd api.Elevation
	f.act(alice, w.ID, "withdraw", api.ElevationActionRequest{Reason: "not needed"}).want(t, 200).json(t, &wd)
	if wd.State != api.StateWithdrawn {
		t.Fatalf("withdrawn %+v", wd)
	}

	// Approval timeout (stage 0 times out after 600s).
	x := f.mustElevate(alice, byRole)
	f.clock.Advance(601 * time.Second)
	f.act(carol, x.ID, "approve", nil).problem(t, 409, api.CodeInvalidStateTransition)
	if n := f.runWorker(); n != 1 {
		t.Fatalf("worker changed %d", n)
	}
	if g := f.getElevation(x.ID); g.State != api.StateApprovalExpired {
		t.Fatalf("timeout: %s", g.State)
	}
	for _, id := range []string{d.ID, w.ID, x.ID} {
		acts := f.auditActionsFor(id)
		last := acts[len(acts)-1]
		want := map[string]string{d.ID: "elevation.denied", w.ID: "elevation.withdrawn", x.ID: "elevation.approval_expired"}[id]
		if last != want {
			t.Fatalf("audit of %s: %v", id, acts)
		}
	}
	f.verifyAudit()
}

func TestEligibilityDeleteWithElevations(t *testing.T) {
	f := newFixture(t)
	pol := f.policy("p", nil)
	el := f.elig("user", "alice", "/orgs/acme", pol.ID)
	alice := f.token("user:alice", api.ServerRoleRequester)
	ev := f.mustElevate(alice, api.ElevationRequest{EligibleRoleAssignmentID: el.ID})
	p := f.do(http.MethodDelete, api.PathEligibleRoleAssignments+"/"+el.ID, f.admin, nil).problem(t, 409, api.CodeActiveElevationsExist)
	if !strings.Contains(p.Detail, ev.ID) {
		t.Fatalf("detail %q", p.Detail)
	}
	f.do(http.MethodDelete, api.PathEligibleRoleAssignments+"/"+el.ID+"?force=true", f.admin, nil).want(t, 204)
	g := f.getElevation(ev.ID)
	if g.State != api.StateRevoked || g.EndReason != api.EndReasonEligibilityDeleted {
		t.Fatalf("after force delete: %+v", g)
	}
	if acts := f.auditActionsFor(ev.ID); acts[len(acts)-1] != "elevation.ended" {
		t.Fatalf("audit %v", acts)
	}
	if acts := f.auditActionsFor(el.ID); acts[len(acts)-1] != "eligible_role_assignment.deleted" {
		t.Fatalf("audit %v", acts)
	}
	f.verifyAudit()
}

func TestActiveElevationFiltersAndPaging(t *testing.T) {
	f := newFixture(t)
	role2 := f.createRole(api.RoleInput{Name: "other", AssignableScopes: []string{"/"}})
	pol := f.policy("p", nil)
	type want struct {
		user, role, scope string
		dur               int64
	}
	cases := []want{
		{"u1", f.role.ID, "/orgs/a", 600},
		{"u1", f.role.ID, "/orgs/a/b", 1200},
		{"u2", f.role.ID, "/orgs/ab", 1800},
		{"u2", role2.ID, "/x", 2400},
	}
	ids := map[string]string{}
	for _, c := range cases {
		el := f.createElig(api.EligibleRoleAssignmentInput{PrincipalType: "user", PrincipalID: c.user, RoleID: c.role, Scope: c.scope, ActivationPolicyID: pol.ID})
		tok := f.token("user:"+c.user, api.ServerRoleRequester)
		ev := f.mustElevate(tok, api.ElevationRequest{EligibleRoleAssignmentID: el.ID, RequestedDurationSeconds: c.dur})
		ids[c.scope] = ev.ID
	}
	reader := f.token("user:viewer")
	list := func(q string) []string {
		t.Helper()
		var p api.Page[api.ActiveElevation]
		f.do(http.MethodGet, api.PathActiveElevations+q, reader, nil).want(t, 200).json(t, &p)
		var out []string
		for _, a := range p.Items {
			out = append(out, a.Scope)
		}
		slices.Sort(out)
		return out
	}
	check := func(q string, want ...string) {
		t.Helper()
		if got := list(q); !slices.Equal(got, want) {
			t.Fatalf("%s: got %v, want %v", q, got, want)
		}
	}
	check("", "/orgs/a", "/orgs/a/b", "/orgs/ab", "/x")
	check("?principal_id=u1", "/orgs/a", "/orgs/a/b")
	check("?role_id="+role2.ID, "/x")
	check("?scope_prefix=/orgs/a", "/orgs/a", "/orgs/a/b")
	check("?scope_prefix=/", "/orgs/a", "/orgs/a/b", "/orgs/ab", "/x")
	check("?scope=/orgs/ab", "/orgs/ab")
	check("?ends_before="+pimT0.Add(1500*time.Second).Format(time.RFC3339), "/orgs/a", "/orgs/a/b")
	f.do(http.MethodGet, api.PathActiveElevations+"?scope_prefix=bad", reader, nil).problem(t, 400, api.CodeValidationFailed)

	// Paging with signed tokens.
	var seen []string
	q := "?page_size=1"
	for i := 0; ; i++ {
		var p api.Page[api.ActiveElevation]
		f.do(http.MethodGet, api.PathActiveElevations+q, reader, nil).want(t, 200).json(t, &p)
		for _, a := range p.Items {
			seen = append(seen, a.ID)
		}
		if p.NextPageToken == "" {
			break
		}
		if i == 0 {
			f.do(http.MethodGet, api.PathActiveElevations+"?page_size=1&principal_id=u1&page_token="+p.NextPageToken, reader, nil).
				problem(t, 400, api.CodeInvalidPageToken)
		}
		q = "?page_size=1&page_token=" + p.NextPageToken
	}
	if len(seen) != 4 || !slices.IsSorted(seen) {
		t.Fatalf("paged %v", seen)
	}
	// After 1000s the shortest one has ended, even before the worker runs.
	f.clock.Advance(1000 * time.Second)
	check("?principal_id=u1", "/orgs/a/b")
	f.runWorker()
	check("", "/orgs/a/b", "/orgs/ab", "/x")
	f.verifyAudit()
}

func TestElevationStepUp(t *testing.T) {
	f := newFixture(t)
	pol := f.policy("mfa", func(r *api.ActivationRules) { r.RequireMFA, r.MFAMaxAgeSeconds = true, 300 })
	el := f.elig("user", "alice", "/orgs/acme", pol.ID)
	plain := f.token("user:alice", api.ServerRoleRequester)
	req := api.ElevationRequest{EligibleRoleAssignmentID: el.ID}
	r := f.elevate(plain, req)
	r.problem(t, 401, api.CodeStepUpRequired)
	if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_user_authentication"`) || !strings.Contains(h, "max_age=300") {
		t.Fatalf("challenge %q", h)
	}
	mfaAt := f.clock.Now().Add(-time.Minute)
	tok, _, err := daemon.CreateToken(context.Background(), f.d.Store(), f.clock, daemon.TokenRequest{Subject: "user:alice",
		ServerRoles: []string{api.ServerRoleRequester}, MFAAt: &mfaAt, IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	ev := f.mustElevate(tok, req)
	if ev.MFA == nil || !ev.MFA.Satisfied || ev.State != api.StateActive {
		t.Fatalf("mfa elevation %+v", ev)
	}
}

func TestPIMInOpenAPI(t *testing.T) {
	e := startPIM(t)
	r := e.do(http.MethodGet, api.PathOpenAPI, "", nil).want(t, 200)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.json(t, &doc)
	for _, p := range []string{api.PathActivationPolicies, api.PathActivationPolicies + "/{id}", api.PathEligibleRoleAssignments,
		api.PathEligibleRoleAssignments + "/{id}", api.PathElevations, api.PathElevations + "/{id}", api.PathElevations + "/{id}/approve",
		api.PathElevations + "/{id}/extend", api.PathActiveElevations, api.PathActiveElevations + "/{id}", api.PathApprovalRequests} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("openapi lacks %s", p)
		}
	}
	// validate_only answers are documented beside the created object.
	post := string(doc.Paths[api.PathEligibleRoleAssignments]["post"])
	if !strings.Contains(post, "ValidationResult") || !strings.Contains(post, "EligibleRoleAssignment") {
		t.Errorf("create eligibility responses: %s", post)
	}
	if post := string(doc.Paths[api.PathElevations]["post"]); !strings.Contains(post, "PolicyEvaluation") {
		t.Errorf("create elevation responses: %s", post)
	}
}
