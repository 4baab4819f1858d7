package pim

import (
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

var (
	alice = api.Actor{Type: "user", ID: "alice"}
	bob   = api.Actor{Type: "user", ID: "bob"}
	carol = api.Actor{Type: "user", ID: "carol"}
	dave  = api.Actor{Type: "user", ID: "dave"}
	admin = api.Actor{Type: "user", ID: "root"}
)

func snapshot(mutate func(r *api.ActivationRules)) api.PolicySnapshot {
	r := api.ActivationRules{
		MaxActivationSeconds:     7200,
		DefaultActivationSeconds: 3600,
		RequireJustification:     true,
		JustificationMinLength:   10,
		RequireTicket:            true,
		TicketSystems:            []string{"jira"},
		RequireMFA:               true,
		MFAMaxAgeSeconds:         300,
		AllowScheduledStart:      true,
		MaxScheduleAheadSeconds:  86400,
	}
	if mutate != nil {
		mutate(&r)
	}
	return api.PolicySnapshot{ActivationPolicyID: "actp_1", Version: 4, ActivationRules: r}
}

func goodRequest() api.ElevationRequest {
	return api.ElevationRequest{
		EligibleRoleAssignmentID: "era_1",
		RequestedDurationSeconds: 1800,
		Justification:            "INC-4711 failover",
		Ticket:                   &api.Ticket{System: "jira", Number: "INC-4711"},
	}
}

func aliceIdentity() Identity {
	return Identity{Actor: alice, Groups: []string{"dba"}, MFAAt: at(-time.Minute)}
}

func TestEvaluate(t *testing.T) {
	activeElig := elig("era_1", "group", "dba", "role_db", "/p", at(-time.Hour), at(24*time.Hour))
	tests := []struct {
		name   string
		req    func(r *api.ElevationRequest)
		rules  func(r *api.ActivationRules)
		e      func(e *api.EligibleRoleAssignment)
		caller func(c *Identity)
		want   []string
	}{
		{name: "allowed"},
		{name: "duration above max", req: func(r *api.ElevationRequest) { r.RequestedDurationSeconds = 7201 }, want: []string{RuleMaxActivationSeconds}},
		{name: "duration at max", req: func(r *api.ElevationRequest) { r.RequestedDurationSeconds = 7200 }},
		{name: "justification missing", req: func(r *api.ElevationRequest) { r.Justification = "   " }, want: []string{RuleJustificationRequired}},
		{name: "justification too short", req: func(r *api.ElevationRequest) { r.Justification = " short " }, want: []string{RuleJustificationTooShort}},
		{name: "justification counted in characters", req: func(r *api.ElevationRequest) { r.Justification = strings.Repeat("é", 10) }},
		{name: "justification not required", req: func(r *api.ElevationRequest) { r.Justification = "" },
			rules: func(r *api.ActivationRules) { r.RequireJustification, r.JustificationMinLength = false, 0 }},
		{name: "ticket missing", req: func(r *api.ElevationRequest) { r.Ticket = nil }, want: []string{RuleTicketRequired}},
		{name: "ticket system not allowed", req: func(r *api.ElevationRequest) { r.Ticket.System = "servicenow" }, want: []string{RuleTicketSystemNotAllowed}},
		{name: "mfa missing", caller: func(c *Identity) { c.MFAAt = nil }, want: []string{RuleMFARequired}},
		{name: "mfa stale", caller: func(c *Identity) { c.MFAAt = at(-301 * time.Second) }, want: []string{RuleMFAStale}},
		{name: "mfa at max age", caller: func(c *Identity) { c.MFAAt = at(-300 * time.Second) }},
		{name: "mfa any age", caller: func(c *Identity) { c.MFAAt = at(-48 * time.Hour) }, rules: func(r *api.ActivationRules) { r.MFAMaxAgeSeconds = 0 }},
		{name: "mfa not required", caller: func(c *Identity) { c.MFAAt = nil }, rules: func(r *api.ActivationRules) { r.RequireMFA, r.MFAMaxAgeSeconds = false, 0 }},
		{name: "scheduled start not allowed", req: func(r *api.ElevationRequest) { r.StartAt = at(time.Hour) },
			rules: func(r *api.ActivationRules) { r.AllowScheduledStart, r.MaxScheduleAheadSeconds = false, 0 }, want: []string{RuleScheduledStartNotAllowed}},
		{name: "start in the past is immediate", req: func(r *api.ElevationRequest) { r.StartAt = at(-time.Minute) },
			rules: func(r *api.ActivationRules) { r.AllowScheduledStart, r.MaxScheduleAheadSeconds = false, 0 }},
		{name: "scheduled too far ahead", req: func(r *api.ElevationRequest) { r.StartAt = at(25 * time.Hour) }, want: []string{RuleMaxScheduleAheadSeconds, RuleEligibilityNotActive}},
		{name: "scheduled within window", req: func(r *api.ElevationRequest) { r.StartAt = at(time.Hour) }},
		{name: "eligibility not started", e: func(e *api.EligibleRoleAssignment) { e.StartsAt = at(time.Hour) }, want: []string{RuleEligibilityNotActive}},
		{name: "eligibility started by scheduled start", e: func(e *api.EligibleRoleAssignment) { e.StartsAt = at(time.Hour) },
			req: func(r *api.ElevationRequest) { r.StartAt = at(2 * time.Hour) }},
		{name: "eligibility expired", e: func(e *api.EligibleRoleAssignment) { e.EndsAt = at(0) }, want: []string{RuleEligibilityNotActive}},
		{name: "elevation would outlive eligibility", e: func(e *api.EligibleRoleAssignment) { e.EndsAt = at(10 * time.Minute) }, want: []string{RuleEligibilityEndsBefore}},
		{name: "not the principal", caller: func(c *Identity) { c.Groups = nil }, want: []string{RuleNotEligible}},
		{name: "everything wrong at once", req: func(r *api.ElevationRequest) {
			r.RequestedDurationSeconds, r.Justification, r.Ticket = 99999, "", nil
		}, caller: func(c *Identity) { c.MFAAt = nil }, want: []string{RuleEligibilityEndsBefore, RuleMaxActivationSeconds, RuleJustificationRequired, RuleTicketRequired, RuleMFARequired}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, e, c := goodRequest(), activeElig, aliceIdentity()
			if tt.req != nil {
				tt.req(&req)
			}
			if tt.e != nil {
				tt.e(&e)
			}
			if tt.caller != nil {
				tt.caller(&c)
			}
			ev := Evaluate(req, e, snapshot(tt.rules), c, t0)
			wantViolations(t, ev.Violations, tt.want...)
			if ev.Allowed != (len(tt.want) == 0) {
				t.Fatalf("allowed = %v with violations %+v", ev.Allowed, ev.Violations)
			}
			if ev.ActivationPolicyID != "actp_1" || ev.PolicyVersion != 4 || ev.EligibleRoleAssignmentID != "era_1" {
				t.Fatalf("evaluation does not name its inputs: %+v", ev)
			}
		})
	}
}

func TestEvaluateDefaultsDurationAndPointers(t *testing.T) {
	req := goodRequest()
	req.RequestedDurationSeconds = 0
	req.Ticket = nil
	e := elig("era_1", "user", "alice", "r", "/", nil, nil)
	ev := Evaluate(req, e, snapshot(nil), aliceIdentity(), t0)
	if ev.DurationSeconds != 3600 {
		t.Fatalf("duration = %d, want the policy default 3600", ev.DurationSeconds)
	}
	if len(ev.Violations) != 1 || ev.Violations[0].Pointer != "/ticket" || ev.Violations[0].Code != RuleTicketRequired {
		t.Fatalf("violations = %+v, want ticket_required at /ticket", ev.Violations)
	}
	if ev.ApprovalRequired {
		t.Fatal("no approval block, yet approval required")
	}
	if got := EffectiveDuration(0, api.ActivationRules{MaxActivationSeconds: 600}); got != 600 {
		t.Fatalf("un-normalised default = %d, want min(3600, max)", got)
	}
}

func TestNeedsStepUp(t *testing.T) {
	if NeedsStepUp([]api.Violation{{Rule: RuleTicketRequired}}) {
		t.Fatal("ticket is not a step-up")
	}
	if !NeedsStepUp([]api.Violation{{Rule: RuleTicketRequired}, {Rule: RuleMFAStale}}) {
		t.Fatal("stale MFA needs a step-up")
	}
}

func TestValidateElevationRequest(t *testing.T) {
	tests := []struct {
		name string
		req  api.ElevationRequest
		want []string
	}{
		{"by id", api.ElevationRequest{EligibleRoleAssignmentID: "era_1"}, nil},
		{"by role and scope", api.ElevationRequest{RoleID: "r", Scope: "/p"}, nil},
		{"neither", api.ElevationRequest{}, []string{"/eligible_role_assignment_id required"}},
		{"both", api.ElevationRequest{EligibleRoleAssignmentID: "era_1", RoleID: "r", Scope: "/p"}, []string{"/eligible_role_assignment_id conflict"}},
		{"role without scope", api.ElevationRequest{RoleID: "r"}, []string{"/scope required"}},
		{"scope without role", api.ElevationRequest{Scope: "/p"}, []string{"/role_id required"}},
		{"bad scope", api.ElevationRequest{RoleID: "r", Scope: "p"}, []string{"/scope pattern"}},
		{"negative duration", api.ElevationRequest{EligibleRoleAssignmentID: "e", RequestedDurationSeconds: -1}, []string{"/requested_duration_seconds out_of_range"}},
		{"long justification", api.ElevationRequest{EligibleRoleAssignmentID: "e", Justification: strings.Repeat("x", api.MaxJustificationLength+1)}, []string{"/justification max_length"}},
		{"bad if_exists", api.ElevationRequest{EligibleRoleAssignmentID: "e", IfExists: "replace"}, []string{"/if_exists invalid_enum"}},
		{"ticket without number", api.ElevationRequest{EligibleRoleAssignmentID: "e", Ticket: &api.Ticket{}}, []string{"/ticket/number required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantViolations(t, ValidateElevationRequest(tt.req), tt.want...)
		})
	}
}
