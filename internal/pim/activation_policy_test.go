package pim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func validPolicy() api.ActivationPolicyInput {
	return api.ActivationPolicyInput{
		Name: "prod-admin",
		ActivationRules: api.ActivationRules{
			MaxActivationSeconds:     28800,
			DefaultActivationSeconds: 3600,
			RequireJustification:     true,
			JustificationMinLength:   10,
			RequireTicket:            true,
			TicketSystems:            []string{"jira"},
			RequireMFA:               true,
			MFAMaxAgeSeconds:         300,
			AllowScheduledStart:      true,
			AllowExtension:           true,
			MaxExtensions:            2,
			EligibilityConstraints:   api.EligibilityConstraints{MaxEligibilitySeconds: 31536000},
			Approval: &api.Approval{Stages: []api.ApprovalStage{{
				Approvers:       []api.Principal{{Type: "group", ID: "sec"}, {Type: "user", ID: "ciso"}},
				ApprovalsNeeded: 1,
			}}},
		},
		Labels: map[string]string{"team": "sec"},
	}
}

// wantViolations fails unless vs holds exactly one violation per want entry,
// matched on "pointer code" (or "rule" for policy rules).
func wantViolations(t *testing.T, vs []api.Violation, want ...string) {
	t.Helper()
	got := make([]string, len(vs))
	for i, v := range vs {
		if v.Rule != "" {
			got[i] = v.Rule
		} else {
			got[i] = v.Pointer + " " + v.Code
		}
		if v.Message == "" {
			t.Errorf("violation %s has no message", got[i])
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("violations:\n got  %q\n want %q\n all: %+v", got, want, vs)
	}
}

func TestValidateActivationPolicy(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *api.ActivationPolicyInput)
		want   []string
	}{
		{"valid", func(*api.ActivationPolicyInput) {}, nil},
		{"minimal with zero defaults", func(p *api.ActivationPolicyInput) {
			*p = api.ActivationPolicyInput{Name: "m", ActivationRules: api.ActivationRules{MaxActivationSeconds: 3600}}
		}, nil},
		{"name missing", func(p *api.ActivationPolicyInput) { p.Name = "" }, []string{"/name required"}},
		{"name bad", func(p *api.ActivationPolicyInput) { p.Name = "-x y" }, []string{"/name pattern"}},
		{"description too long", func(p *api.ActivationPolicyInput) { p.Description = strings.Repeat("é", api.MaxDescriptionLength+1) }, []string{"/description max_length"}},
		{"max activation too small", func(p *api.ActivationPolicyInput) { p.MaxActivationSeconds = 59; p.DefaultActivationSeconds = 0 }, []string{"/max_activation_seconds out_of_range"}},
		{"max activation above 30 days", func(p *api.ActivationPolicyInput) { p.MaxActivationSeconds = api.MaxActivationSeconds + 1 }, []string{"/max_activation_seconds out_of_range"}},
		{"max activation at 30 days", func(p *api.ActivationPolicyInput) {
			p.MaxActivationSeconds = api.MaxActivationSeconds
			p.MaxExtensions = 0
		}, nil},
		{"default above max", func(p *api.ActivationPolicyInput) { p.DefaultActivationSeconds = 28801 }, []string{"/default_activation_seconds out_of_range"}},
		{"default equal to max", func(p *api.ActivationPolicyInput) { p.DefaultActivationSeconds = 28800 }, nil},
		{"default below minimum", func(p *api.ActivationPolicyInput) { p.DefaultActivationSeconds = 30 }, []string{"/default_activation_seconds out_of_range"}},
		{"min length without require", func(p *api.ActivationPolicyInput) { p.RequireJustification = false }, []string{"/justification_min_length conflict"}},
		{"min length negative", func(p *api.ActivationPolicyInput) { p.JustificationMinLength = -1 }, []string{"/justification_min_length out_of_range"}},
		{"min length huge", func(p *api.ActivationPolicyInput) { p.JustificationMinLength = api.MaxJustificationLength + 1 }, []string{"/justification_min_length out_of_range"}},
		{"mfa age without require", func(p *api.ActivationPolicyInput) { p.RequireMFA = false }, []string{"/mfa_max_age_seconds conflict"}},
		{"mfa age out of range", func(p *api.ActivationPolicyInput) { p.MFAMaxAgeSeconds = 10 }, []string{"/mfa_max_age_seconds out_of_range"}},
		{"mfa age above a day", func(p *api.ActivationPolicyInput) { p.MFAMaxAgeSeconds = api.MaxMFAMaxAgeSeconds + 1 }, []string{"/mfa_max_age_seconds out_of_range"}},
		{"schedule ahead without allow", func(p *api.ActivationPolicyInput) { p.AllowScheduledStart = false; p.MaxScheduleAheadSeconds = 3600 }, []string{"/max_schedule_ahead_seconds conflict"}},
		{"schedule ahead too far", func(p *api.ActivationPolicyInput) { p.MaxScheduleAheadSeconds = api.MaxScheduleAheadSeconds + 1 }, []string{"/max_schedule_ahead_seconds out_of_range"}},
		{"extensions without allow", func(p *api.ActivationPolicyInput) { p.AllowExtension = false }, []string{"/max_extensions conflict"}},
		{"extensions too many", func(p *api.ActivationPolicyInput) { p.MaxExtensions = api.MaxExtensions + 1 }, []string{"/max_extensions out_of_range"}},
		{"total below max activation", func(p *api.ActivationPolicyInput) { p.MaxTotalActivationSeconds = 3600 }, []string{"/max_total_activation_seconds out_of_range"}},
		{"total without allow", func(p *api.ActivationPolicyInput) {
			p.AllowExtension, p.MaxExtensions, p.MaxTotalActivationSeconds = false, 0, 30000
		}, []string{"/max_total_activation_seconds conflict"}},
		{"eligibility max negative", func(p *api.ActivationPolicyInput) { p.EligibilityConstraints.MaxEligibilitySeconds = -1 }, []string{"/eligibility_constraints/max_eligibility_seconds out_of_range"}},
		{"ticket systems duplicate and empty", func(p *api.ActivationPolicyInput) { p.TicketSystems = []string{"jira", "", "jira"} }, []string{"/ticket_systems/1 required", "/ticket_systems/2 duplicate"}},
		{"approval without stages", func(p *api.ActivationPolicyInput) { p.Approval.Stages = nil }, []string{"/approval/stages required"}},
		{"too many stages", func(p *api.ActivationPolicyInput) {
			st := p.Approval.Stages[0]
			p.Approval.Stages = []api.ApprovalStage{st, st, st, st, st, st}
		}, []string{"/approval/stages max_items"}},
		{"stage without approvers", func(p *api.ActivationPolicyInput) { p.Approval.Stages[0].Approvers = nil }, []string{"/approval/stages/0/approvers required"}},
		{"approvals needed zero", func(p *api.ActivationPolicyInput) { p.Approval.Stages[0].ApprovalsNeeded = 0 }, []string{"/approval/stages/0/approvals_needed out_of_range"}},
		{"approvals needed above individual approvers", func(p *api.ActivationPolicyInput) {
			p.Approval.Stages[0].Approvers = []api.Principal{{Type: "user", ID: "a"}, {Type: "user", ID: "b"}}
			p.Approval.Stages[0].ApprovalsNeeded = 3
		}, []string{"/approval/stages/0/approvals_needed out_of_range"}},
		{"approvals needed above approvers but a group can supply them", func(p *api.ActivationPolicyInput) {
			p.Approval.Stages[0].ApprovalsNeeded = 3
		}, nil},
		{"duplicate approver", func(p *api.ActivationPolicyInput) {
			p.Approval.Stages[0].Approvers = append(p.Approval.Stages[0].Approvers, api.Principal{Type: "user", ID: "ciso"})
		}, []string{"/approval/stages/0/approvers/2 duplicate"}},
		{"same id different type is not a duplicate", func(p *api.ActivationPolicyInput) {
			p.Approval.Stages[0].Approvers = append(p.Approval.Stages[0].Approvers, api.Principal{Type: "service_account", ID: "ciso"})
		}, nil},
		{"bad approver principal", func(p *api.ActivationPolicyInput) {
			p.Approval.Stages[0].Approvers[1] = api.Principal{Type: "robot", ID: ""}
		}, []string{"/approval/stages/0/approvers/1/principal_type invalid_enum", "/approval/stages/0/approvers/1/principal_id required"}},
		{"stage timeout too short", func(p *api.ActivationPolicyInput) { p.Approval.Stages[0].TimeoutSeconds = 59 }, []string{"/approval/stages/0/timeout_seconds out_of_range"}},
		{"second stage pointer", func(p *api.ActivationPolicyInput) {
			p.Approval.Stages = append(p.Approval.Stages, api.ApprovalStage{Approvers: []api.Principal{{Type: "user", ID: "x"}}, ApprovalsNeeded: 2})
		}, []string{"/approval/stages/1/approvals_needed out_of_range"}},
		{"bad label key and long value", func(p *api.ActivationPolicyInput) {
			p.Labels = map[string]string{"Bad/Key": "v", "ok": strings.Repeat("x", api.MaxLabelValueLength+1)}
		}, []string{"/labels/Bad~1Key pattern", "/labels/ok max_length"}},
		{"too many labels", func(p *api.ActivationPolicyInput) {
			p.Labels = map[string]string{}
			for i := 0; i <= api.MaxLabels; i++ {
				p.Labels[fmt.Sprintf("k%d", i)] = "v"
			}
		}, []string{"/labels max_items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPolicy()
			tt.mutate(&p)
			wantViolations(t, ValidateActivationPolicy(p), tt.want...)
		})
	}
}

func TestNormalizeActivationPolicy(t *testing.T) {
	in := api.ActivationPolicyInput{Name: "n", ActivationRules: api.ActivationRules{
		MaxActivationSeconds: 1800,
		AllowScheduledStart:  true,
		AllowExtension:       true,
		Approval:             &api.Approval{Stages: []api.ApprovalStage{{Approvers: []api.Principal{{Type: "user", ID: "a"}}, ApprovalsNeeded: 1}}},
	}}
	out := NormalizeActivationPolicy(in)
	if out.DefaultActivationSeconds != 1800 {
		t.Errorf("default = %d, want min(3600, max) = 1800", out.DefaultActivationSeconds)
	}
	if out.MaxScheduleAheadSeconds != api.DefaultScheduleAheadSeconds {
		t.Errorf("schedule ahead = %d", out.MaxScheduleAheadSeconds)
	}
	if out.MaxExtensions != 1 || out.MaxTotalActivationSeconds != 3600 {
		t.Errorf("extensions = %d total = %d, want 1 and 3600", out.MaxExtensions, out.MaxTotalActivationSeconds)
	}
	if out.Approval.Stages[0].TimeoutSeconds != api.DefaultApprovalTimeoutSeconds {
		t.Errorf("stage timeout = %d", out.Approval.Stages[0].TimeoutSeconds)
	}
	if in.Approval.Stages[0].TimeoutSeconds != 0 {
		t.Error("normalising wrote through to the caller's approval stages")
	}
	if out.Labels == nil || out.TicketSystems == nil {
		t.Error("labels and ticket_systems must be non-nil after normalising")
	}
	if vs := ValidateActivationPolicy(out); len(vs) != 0 {
		t.Errorf("normalised policy does not validate: %+v", vs)
	}

	off := NormalizeActivationPolicy(api.ActivationPolicyInput{Name: "n", ActivationRules: api.ActivationRules{MaxActivationSeconds: 7200, DefaultActivationSeconds: 600}})
	if off.DefaultActivationSeconds != 600 || off.MaxExtensions != 0 || off.MaxTotalActivationSeconds != 0 || off.MaxScheduleAheadSeconds != 0 {
		t.Errorf("defaults filled for disabled features: %+v", off.ActivationRules)
	}

	capped := NormalizeActivationPolicy(api.ActivationPolicyInput{Name: "n", ActivationRules: api.ActivationRules{
		MaxActivationSeconds: api.MaxActivationSeconds, AllowExtension: true, MaxExtensions: 5,
	}})
	if capped.MaxTotalActivationSeconds != api.MaxTotalActivationSeconds {
		t.Errorf("total = %d, want the cap %d", capped.MaxTotalActivationSeconds, api.MaxTotalActivationSeconds)
	}
}
