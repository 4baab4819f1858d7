package provider

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
)

func mustNoDiags(t *testing.T, d diag.Diagnostics) {
	t.Helper()
	if d.HasError() {
		t.Fatalf("diagnostics: %v", d)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A policy pamd stored without optional blocks maps to null approval and to
// empty (not null) collections, which equal the schema defaults.
func TestActivationPolicyMinimalRoundTrip(t *testing.T) {
	in := pim.NormalizeActivationPolicy(api.ActivationPolicyInput{
		Name: "p", ActivationRules: api.ActivationRules{MaxActivationSeconds: 7200},
	})
	in.TicketSystems = nil // a server may send null for an empty list
	in.Labels = nil
	m, d := activationPolicyToModel(&api.ActivationPolicy{Meta: api.Meta{ID: "actp_1", Version: 1}, ActivationPolicyInput: in})
	mustNoDiags(t, d)
	if !m.Approval.IsNull() {
		t.Errorf("approval = %v, want null", m.Approval)
	}
	if m.TicketSystems.IsNull() || len(m.TicketSystems.Elements()) != 0 {
		t.Errorf("ticket_systems = %v, want empty set", m.TicketSystems)
	}
	if m.Labels.IsNull() || len(m.Labels.Elements()) != 0 {
		t.Errorf("labels = %v, want empty map", m.Labels)
	}
	if m.EligibilityConstraints.IsNull() {
		t.Error("eligibility_constraints is null, want the default object")
	}
	if got := m.DefaultActivationSeconds.ValueInt64(); got != 3600 {
		t.Errorf("default_activation_seconds = %d", got)
	}

	back, d := activationPolicyInputFromModel(context.Background(), m)
	mustNoDiags(t, d)
	want := pim.NormalizeActivationPolicy(in)
	if jsonOf(t, back) != jsonOf(t, want) {
		t.Errorf("round trip:\n got %s\nwant %s", jsonOf(t, back), jsonOf(t, want))
	}
}

func TestActivationPolicyApprovalRoundTrip(t *testing.T) {
	in := pim.NormalizeActivationPolicy(api.ActivationPolicyInput{
		Name: "p",
		ActivationRules: api.ActivationRules{
			MaxActivationSeconds: 3600, TicketSystems: []string{"jira", "servicenow"},
			EligibilityConstraints: api.EligibilityConstraints{AllowPermanent: true, MaxEligibilitySeconds: 86400},
			Approval: &api.Approval{RequireApproverJustification: true, Stages: []api.ApprovalStage{
				{Approvers: []api.Principal{{Type: "group", ID: "sec"}, {Type: "user", ID: "bob"}}, ApprovalsNeeded: 2},
				{Approvers: []api.Principal{{Type: "user", ID: "ciso"}}, ApprovalsNeeded: 1, TimeoutSeconds: 600},
			}},
		},
		Labels: map[string]string{"team": "x"},
	})
	m, d := activationPolicyToModel(&api.ActivationPolicy{ActivationPolicyInput: in})
	mustNoDiags(t, d)
	back, d := activationPolicyInputFromModel(context.Background(), m)
	mustNoDiags(t, d)
	if jsonOf(t, back) != jsonOf(t, in) {
		t.Errorf("round trip:\n got %s\nwant %s", jsonOf(t, back), jsonOf(t, in))
	}
	if got := back.Approval.Stages[0].TimeoutSeconds; got != api.DefaultApprovalTimeoutSeconds {
		t.Errorf("stage 0 timeout = %d, want the normalised default", got)
	}
}

func TestPlanActivationDefaults(t *testing.T) {
	cfg := activationPolicyModel{
		MaxActivationSeconds:      types.Int64Value(1800),
		DefaultActivationSeconds:  types.Int64Null(),
		AllowScheduledStart:       types.BoolValue(true),
		MaxScheduleAheadSeconds:   types.Int64Null(),
		AllowExtension:            types.BoolValue(true),
		MaxExtensions:             types.Int64Value(2),
		MaxTotalActivationSeconds: types.Int64Null(),
	}
	plan := cfg
	got := planActivationDefaults(cfg, plan)
	if got.DefaultActivationSeconds.ValueInt64() != 1800 {
		t.Errorf("default_activation_seconds = %v, want min(3600, max)", got.DefaultActivationSeconds)
	}
	if got.MaxScheduleAheadSeconds.ValueInt64() != api.DefaultScheduleAheadSeconds {
		t.Errorf("max_schedule_ahead_seconds = %v", got.MaxScheduleAheadSeconds)
	}
	if got.MaxExtensions.ValueInt64() != 2 {
		t.Errorf("max_extensions = %v, want the configured 2", got.MaxExtensions)
	}
	if got.MaxTotalActivationSeconds.ValueInt64() != 1800*3 {
		t.Errorf("max_total_activation_seconds = %v", got.MaxTotalActivationSeconds)
	}

	plan.MaxActivationSeconds = types.Int64Unknown()
	got = planActivationDefaults(cfg, plan)
	if !got.DefaultActivationSeconds.IsUnknown() || !got.MaxTotalActivationSeconds.IsUnknown() {
		t.Errorf("with an unknown max, dependent defaults must be unknown: %v %v", got.DefaultActivationSeconds, got.MaxTotalActivationSeconds)
	}
	if got.MaxExtensions.ValueInt64() != 2 {
		t.Errorf("a configured value must stay: %v", got.MaxExtensions)
	}
}

func TestValidateActivationPolicyConfigSkipsUnknowns(t *testing.T) {
	cfg := activationPolicyModel{
		Name:                   types.StringUnknown(),
		MaxActivationSeconds:   types.Int64Value(3600),
		JustificationMinLength: types.Int64Value(5), // needs require_justification
		TicketSystems:          types.SetNull(types.StringType),
		EligibilityConstraints: types.ObjectNull(eligibilityConstraintsAttrTypes),
		Approval:               types.ObjectNull(approvalAttrTypes),
		Labels:                 types.MapUnknown(types.StringType),
	}
	var d diag.Diagnostics
	validateActivationPolicyConfig(context.Background(), cfg, &d)
	if d.ErrorsCount() != 1 {
		t.Fatalf("want exactly the justification_min_length error, got %v", d)
	}
	if e, ok := d.Errors()[0].(diag.DiagnosticWithPath); !ok || !e.Path().Equal(path.Root("justification_min_length")) {
		t.Errorf("error not on justification_min_length: %v", d.Errors()[0])
	}

	cfg.MaxActivationSeconds = types.Int64Unknown()
	d = nil
	validateActivationPolicyConfig(context.Background(), cfg, &d)
	if d.HasError() {
		t.Errorf("with an unknown rule value the rules must be skipped, got %v", d)
	}
}

func TestEligibilityMapping(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2030, 12, 31, 22, 0, 0, 0, time.UTC)
	e := &api.EligibleRoleAssignment{
		Meta: api.Meta{ID: "era_1", Version: 3},
		EligibleRoleAssignmentInput: api.EligibleRoleAssignmentInput{
			PrincipalType: "user", PrincipalID: "alice", RoleID: "role_1", Scope: "/orgs/acme", ActivationPolicyID: "actp_1",
			StartsAt: &start, EndsAt: &end,
		},
		Status: api.EligibilityActive,
	}
	prior := eligibleRoleAssignmentModel{
		StartsAt: timetypes.NewRFC3339ValueMust("2026-01-01T00:00:00+00:00"),
		EndsAt:   timetypes.NewRFC3339ValueMust("2031-01-01T00:00:00+02:00"),
	}
	m, d := eligibilityToModel(e, prior)
	mustNoDiags(t, d)
	if m.StartsAt.ValueString() != "2026-01-01T00:00:00+00:00" || m.EndsAt.ValueString() != "2031-01-01T00:00:00+02:00" {
		t.Errorf("same instants must keep the configured spelling: %s %s", m.StartsAt, m.EndsAt)
	}
	if !m.Ticket.IsNull() {
		t.Errorf("nil ticket must be null: %v", m.Ticket)
	}
	if m.Labels.IsNull() {
		t.Error("nil labels must be the empty map")
	}
	if m.ForceDestroy.IsNull() || m.ForceDestroy.ValueBool() {
		t.Errorf("force_destroy must default to false after import: %v", m.ForceDestroy)
	}

	// A different instant takes pamd's value, in UTC.
	prior.EndsAt = timetypes.NewRFC3339ValueMust("2031-01-01T00:00:00Z")
	m, _ = eligibilityToModel(e, prior)
	if m.EndsAt.ValueString() != "2030-12-31T22:00:00Z" {
		t.Errorf("ends_at = %s", m.EndsAt)
	}

	back, d := eligibilityInputFromModel(context.Background(), m)
	mustNoDiags(t, d)
	if !sameEligibilityInput(back, e.EligibleRoleAssignmentInput) {
		t.Errorf("round trip: %s vs %s", jsonOf(t, back), jsonOf(t, e.EligibleRoleAssignmentInput))
	}
	e.Ticket = &api.Ticket{Number: "SEC-1"}
	m, _ = eligibilityToModel(e, prior)
	back, _ = eligibilityInputFromModel(context.Background(), m)
	if back.Ticket == nil || back.Ticket.Number != "SEC-1" || back.Ticket.System != "" {
		t.Errorf("ticket round trip: %+v", back.Ticket)
	}
}

func TestParseEligibilityKey(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want eligibilityKey
	}{
		{"user/alice/role_01ABC/", eligibilityKey{"user", "alice", "role_01ABC", "/"}},
		{"user/alice/role_01ABC//", eligibilityKey{"user", "alice", "role_01ABC", "/"}},
		{"user/alice/role_01ABC/orgs/acme/projects/payments", eligibilityKey{"user", "alice", "role_01ABC", "/orgs/acme/projects/payments"}},
		{"group/grp_dba/role_db_admin//orgs/acme/projects/payments", eligibilityKey{"group", "grp_dba", "role_db_admin", "/orgs/acme/projects/payments"}},
		{"service_account/terraform/role_x/a", eligibilityKey{"service_account", "terraform", "role_x", "/a"}},
	} {
		got, err := parseEligibilityKey(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
		if again, err := parseEligibilityKey(got.String()); err != nil || again != got {
			t.Errorf("%q: String() %q does not parse back: %+v %v", tc.in, got.String(), again, err)
		}
	}
	for _, bad := range []string{
		"", "era_01ABC", "user/alice", "user/alice/role_x", "robot/r2/role_x/a", "user//role_x/a",
		"user/alice//a", "user/alice/role_x/orgs/", "user/alice/role_x/orgs//acme", "user/alice/role_x/-bad",
	} {
		if k, err := parseEligibilityKey(bad); err == nil {
			t.Errorf("%q: parsed as %+v, want an error", bad, k)
		}
	}
}

func TestNestedPaths(t *testing.T) {
	for pointer, want := range map[string]path.Path{
		"/approval/stages/0/approvals_needed":              path.Root("approval").AtName("stages").AtListIndex(0).AtName("approvals_needed"),
		"/approval/stages/1/approvers/0/principal_id":      path.Root("approval").AtName("stages").AtListIndex(1).AtName("approvers"),
		"/approval/stages":                                 path.Root("approval").AtName("stages"),
		"/approval/stages/x":                               path.Root("approval").AtName("stages"),
		"/eligibility_constraints/max_eligibility_seconds": path.Root("eligibility_constraints").AtName("max_eligibility_seconds"),
		"/ticket_systems/2":                                path.Root("ticket_systems"),
		"/labels/a~1b":                                     path.Root("labels").AtMapKey("a/b"),
		"/name":                                            path.Root("name"),
	} {
		got, ok := activationPolicyPaths.pathFor(pointer)
		if !ok || !got.Equal(want) {
			t.Errorf("%s: got %s (%v), want %s", pointer, got, ok, want)
		}
	}
	for _, pointer := range []string{"", "name", "/unknown", "query:name"} {
		if p, ok := activationPolicyPaths.pathFor(pointer); ok {
			t.Errorf("%q: mapped to %s, want no path", pointer, p)
		}
	}
	if got, ok := eligibleRoleAssignmentPaths.pathFor("/ticket/number"); !ok || !got.Equal(path.Root("ticket").AtName("number")) {
		t.Errorf("/ticket/number: %s", got)
	}
	if got, ok := elevationRequestPaths.pathFor("/requested_duration_seconds"); !ok || !got.Equal(path.Root("duration_seconds")) {
		t.Errorf("/requested_duration_seconds: %s", got)
	}
}

func TestValidateEligibilityConfig(t *testing.T) {
	base := eligibleRoleAssignmentModel{
		PrincipalType: types.StringValue("user"), PrincipalID: types.StringValue("alice"),
		RoleID: types.StringUnknown(), Scope: types.StringValue("/orgs/acme"), ActivationPolicyID: types.StringUnknown(),
		StartsAt: timetypes.NewRFC3339ValueMust("2030-01-01T00:00:00Z"), EndsAt: timetypes.NewRFC3339ValueMust("2029-01-01T00:00:00Z"),
		Justification: types.StringNull(), Ticket: types.ObjectNull(ticketAttrTypes), Labels: types.MapNull(types.StringType),
	}
	var d diag.Diagnostics
	validateEligibilityConfig(context.Background(), base, &d)
	if d.ErrorsCount() != 1 || !strings.Contains(d.Errors()[0].Detail(), "must be after starts_at") {
		t.Fatalf("want only the ends_at error (unknown ids are not errors), got %v", d)
	}

	base.EndsAt = timetypes.NewRFC3339ValueMust("2031-01-01T00:00:00.5Z")
	d = nil
	validateEligibilityConfig(context.Background(), base, &d)
	if d.ErrorsCount() != 1 || !strings.Contains(d.Errors()[0].Detail(), "whole seconds") {
		t.Fatalf("want the fractional seconds error, got %v", d)
	}

	base.EndsAt = timetypes.NewRFC3339Unknown()
	base.Scope = types.StringValue("/orgs/")
	d = nil
	validateEligibilityConfig(context.Background(), base, &d)
	if d.ErrorsCount() != 1 || !strings.Contains(d.Errors()[0].Detail(), "(scope)") {
		t.Fatalf("want the scope error, got %v", d)
	}
}

func TestPendingApprovalSummary(t *testing.T) {
	elv := &api.Elevation{Approval: &api.ElevationApproval{CurrentStageIndex: 1, Stages: []api.ElevationApprovalStage{
		{Index: 0},
		{Index: 1, ApprovalsNeeded: 2, Approvers: []api.Principal{{Type: "group", ID: "sec"}, {Type: "user", ID: "bob"}},
			Decisions: []api.ApprovalDecision{{Decision: api.DecisionApproved}}},
	}}}
	got := pendingApprovalSummary(elv)
	if got != "stage 2 of 2 needs 1 more approval(s) from group sec, user bob" {
		t.Errorf("summary = %q", got)
	}
}
