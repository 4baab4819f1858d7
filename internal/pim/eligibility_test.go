package pim

import (
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

var t0 = time.Date(2025, 5, 3, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time {
	t := t0.Add(d)
	return &t
}

func validEligibility() api.EligibleRoleAssignmentInput {
	return api.EligibleRoleAssignmentInput{
		PrincipalType:      "group",
		PrincipalID:        "dba",
		RoleID:             "role_db_admin",
		Scope:              "/orgs/acme/projects/payments",
		ActivationPolicyID: "actp_1",
		StartsAt:           at(0),
		EndsAt:             at(30 * 24 * time.Hour),
		Ticket:             &api.Ticket{System: "jira", Number: "SEC-1"},
	}
}

func TestValidateEligibility(t *testing.T) {
	scopes := []string{"/orgs/acme"}
	constraints := api.EligibilityConstraints{MaxEligibilitySeconds: 90 * 24 * 3600}
	tests := []struct {
		name        string
		mutate      func(e *api.EligibleRoleAssignmentInput)
		scopes      []string
		constraints *api.EligibilityConstraints
		want        []string
	}{
		{name: "valid", mutate: func(*api.EligibleRoleAssignmentInput) {}},
		{name: "scope equal to assignable", mutate: func(e *api.EligibleRoleAssignmentInput) { e.Scope = "/orgs/acme" }},
		{name: "no assignable scopes means root", mutate: func(e *api.EligibleRoleAssignmentInput) { e.Scope = "/other" }, scopes: []string{}},
		{name: "principal type bad", mutate: func(e *api.EligibleRoleAssignmentInput) { e.PrincipalType = "team" }, want: []string{"/principal_type invalid_enum"}},
		{name: "principal missing", mutate: func(e *api.EligibleRoleAssignmentInput) { e.PrincipalType, e.PrincipalID = "", " " },
			want: []string{"/principal_type required", "/principal_id required"}},
		{name: "role missing", mutate: func(e *api.EligibleRoleAssignmentInput) { e.RoleID = "" }, want: []string{"/role_id required"}},
		{name: "policy missing", mutate: func(e *api.EligibleRoleAssignmentInput) { e.ActivationPolicyID = "" }, want: []string{"/activation_policy_id required"}},
		{name: "scope malformed", mutate: func(e *api.EligibleRoleAssignmentInput) { e.Scope = "/orgs/acme/" }, want: []string{"/scope pattern"}},
		{name: "scope missing", mutate: func(e *api.EligibleRoleAssignmentInput) { e.Scope = "" }, want: []string{"/scope required"}},
		{name: "scope outside role", mutate: func(e *api.EligibleRoleAssignmentInput) { e.Scope = "/orgs/acmecorp" }, want: []string{"/scope scope_not_assignable"}},
		{name: "ends before starts", mutate: func(e *api.EligibleRoleAssignmentInput) { e.EndsAt = at(-time.Hour) }, want: []string{"/ends_at out_of_range"}},
		{name: "ends equal starts", mutate: func(e *api.EligibleRoleAssignmentInput) { e.EndsAt = at(0) }, want: []string{"/ends_at out_of_range"}},
		{name: "permanent not allowed", mutate: func(e *api.EligibleRoleAssignmentInput) { e.EndsAt = nil }, want: []string{RulePermanentEligibilityNotAllowed}},
		{name: "permanent allowed", mutate: func(e *api.EligibleRoleAssignmentInput) { e.EndsAt = nil },
			constraints: &api.EligibilityConstraints{AllowPermanent: true, MaxEligibilitySeconds: 3600}},
		{name: "window too long", mutate: func(e *api.EligibleRoleAssignmentInput) { e.EndsAt = at(91 * 24 * time.Hour) }, want: []string{RuleMaxEligibilitySeconds}},
		{name: "window measured from now when starts_at is null", mutate: func(e *api.EligibleRoleAssignmentInput) {
			e.StartsAt = nil
			e.EndsAt = at(90*24*time.Hour + time.Hour) // now is t0+1h in this test
		}},
		{name: "no max means any window", mutate: func(e *api.EligibleRoleAssignmentInput) { e.EndsAt = at(1000 * 24 * time.Hour) },
			constraints: &api.EligibilityConstraints{}},
		{name: "ticket without number", mutate: func(e *api.EligibleRoleAssignmentInput) { e.Ticket = &api.Ticket{System: "jira"} }, want: []string{"/ticket/number required"}},
		{name: "bad label", mutate: func(e *api.EligibleRoleAssignmentInput) { e.Labels = map[string]string{"UP": "x"} }, want: []string{"/labels/UP pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEligibility()
			tt.mutate(&e)
			s := scopes
			if tt.scopes != nil {
				s = tt.scopes
			}
			c := constraints
			if tt.constraints != nil {
				c = *tt.constraints
			}
			wantViolations(t, ValidateEligibility(e, s, c, t0.Add(time.Hour)), tt.want...)
		})
	}
}

func TestValidateEligibilityInputNeedsNoRoleOrPolicy(t *testing.T) {
	e := validEligibility()
	e.EndsAt = nil
	e.Scope = "/elsewhere"
	if vs := ValidateEligibilityInput(e); len(vs) != 0 {
		t.Fatalf("static checks must not apply role or policy rules: %+v", vs)
	}
}

func TestNormalizeEligibilityInput(t *testing.T) {
	in := validEligibility()
	loc := time.FixedZone("x", 3600)
	s := time.Date(2025, 1, 1, 12, 0, 0, 999, loc)
	in.StartsAt = &s
	out := NormalizeEligibilityInput(in)
	if out.StartsAt.Location() != time.UTC || out.StartsAt.Nanosecond() != 0 || !out.StartsAt.Equal(s.Truncate(time.Second)) {
		t.Errorf("starts_at = %v, want UTC whole seconds", out.StartsAt)
	}
	if out.Labels == nil {
		t.Error("labels nil")
	}
	out.Ticket.Number = "changed"
	if in.Ticket.Number == "changed" {
		t.Error("ticket aliased")
	}
}

func TestEligibilityStatus(t *testing.T) {
	tests := []struct {
		name         string
		starts, ends *time.Time
		now          time.Time
		want         string
	}{
		{"before start", at(time.Hour), at(2 * time.Hour), t0, api.EligibilityScheduled},
		{"at start", at(0), at(time.Hour), t0, api.EligibilityActive},
		{"inside", at(0), at(time.Hour), t0.Add(30 * time.Minute), api.EligibilityActive},
		{"at end", at(0), at(time.Hour), t0.Add(time.Hour), api.EligibilityExpired},
		{"after end", at(0), at(time.Hour), t0.Add(2 * time.Hour), api.EligibilityExpired},
		{"no start", nil, at(time.Hour), t0, api.EligibilityActive},
		{"permanent", at(0), nil, t0.Add(1000 * time.Hour), api.EligibilityActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := api.EligibleRoleAssignment{EligibleRoleAssignmentInput: api.EligibleRoleAssignmentInput{StartsAt: tt.starts, EndsAt: tt.ends}}
			if got := EligibilityStatus(e, tt.now); got != tt.want {
				t.Fatalf("status = %s, want %s", got, tt.want)
			}
		})
	}
}

func elig(id, ptype, pid, role, scope string, starts, ends *time.Time) api.EligibleRoleAssignment {
	return api.EligibleRoleAssignment{
		Meta: api.Meta{ID: id},
		EligibleRoleAssignmentInput: api.EligibleRoleAssignmentInput{
			PrincipalType: ptype, PrincipalID: pid, RoleID: role, Scope: scope, StartsAt: starts, EndsAt: ends,
		},
	}
}

func TestHolds(t *testing.T) {
	alice := Identity{Actor: api.Actor{Type: "user", ID: "alice"}, Groups: []string{"dba"}}
	tests := []struct {
		name    string
		e       api.EligibleRoleAssignment
		ok      bool
		viaWant string
	}{
		{"direct user", elig("era_1", "user", "alice", "r", "/", nil, nil), true, ""},
		{"other user", elig("era_1", "user", "bob", "r", "/", nil, nil), false, ""},
		{"group member", elig("era_1", "group", "dba", "r", "/", nil, nil), true, "dba"},
		{"not in group", elig("era_1", "group", "ops", "r", "/", nil, nil), false, ""},
		{"service account with same id is not the user", elig("era_1", "service_account", "alice", "r", "/", nil, nil), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, via := Holds(tt.e, alice)
			if ok != tt.ok || via != tt.viaWant {
				t.Fatalf("Holds = %v, %q; want %v, %q", ok, via, tt.ok, tt.viaWant)
			}
		})
	}
}

func TestBestEligibility(t *testing.T) {
	alice := Identity{Actor: api.Actor{Type: "user", ID: "alice"}, Groups: []string{"dba"}}
	cands := []api.EligibleRoleAssignment{
		elig("era_5", "group", "dba", "r", "/p", nil, nil),
		elig("era_4", "user", "alice", "r", "/p", nil, at(-time.Hour)), // expired direct
		elig("era_3", "user", "alice", "r", "/", nil, nil),             // broader scope
		elig("era_2", "user", "bob", "r", "/p", nil, nil),              // someone else
		elig("era_1", "user", "alice", "other", "/p", nil, nil),        // other role
	}
	got, ok := BestEligibility(cands, alice, "r", "/p", t0)
	if !ok || got.ID != "era_5" {
		t.Fatalf("best = %q %v, want the active group eligibility era_5 over the expired direct one", got.ID, ok)
	}
	cands = append(cands, elig("era_6", "user", "alice", "r", "/p", nil, nil))
	if got, _ := BestEligibility(cands, alice, "r", "/p", t0); got.ID != "era_6" {
		t.Fatalf("best = %q, want the active direct era_6", got.ID)
	}
	cands = append(cands, elig("era_0", "user", "alice", "r", "/p", nil, nil))
	if got, _ := BestEligibility(cands, alice, "r", "/p", t0); got.ID != "era_0" {
		t.Fatalf("best = %q, want the lowest id among equals", got.ID)
	}
	if _, ok := BestEligibility(cands, alice, "r", "/p/sub", t0); ok {
		t.Fatal("a broader eligibility must not match a narrower scope")
	}
}
