package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The embedded rule structs must flatten into the documented snake_case shape
// (API.md §7.3), or the provider and the server would disagree on the wire.
func TestActivationPolicyWireShape(t *testing.T) {
	p := ActivationPolicy{
		Meta: Meta{ID: "actp_1", Version: 2},
		ActivationPolicyInput: ActivationPolicyInput{
			Name: "prod",
			ActivationRules: ActivationRules{
				MaxActivationSeconds:   3600,
				EligibilityConstraints: EligibilityConstraints{AllowPermanent: true},
				Approval: &Approval{Stages: []ApprovalStage{{
					Approvers: []Principal{{Type: PrincipalTypeGroup, ID: "grp_sec"}}, ApprovalsNeeded: 1,
				}}},
			},
		},
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"id":"actp_1"`, `"version":2`, `"name":"prod"`, `"max_activation_seconds":3600`,
		`"eligibility_constraints":{"allow_permanent":true,"max_eligibility_seconds":0}`,
		`"approvers":[{"principal_type":"group","principal_id":"grp_sec"}]`, `"approvals_needed":1`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in %s", want, s)
		}
	}
	var back ActivationPolicy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Approval == nil || back.Approval.Stages[0].Approvers[0].ID != "grp_sec" || back.MaxActivationSeconds != 3600 {
		t.Fatalf("round trip lost fields: %+v", back)
	}
}

func TestElevationWireShape(t *testing.T) {
	start := time.Date(2025, 5, 3, 10, 0, 0, 0, time.UTC)
	e := Elevation{
		Meta: Meta{ID: "elv_1"}, State: StateActive, StartAt: &start,
		PolicySnapshot: PolicySnapshot{ActivationPolicyID: "actp_1", Version: 4, ActivationRules: ActivationRules{RequireMFA: true}},
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"state":"active"`, `"start_at":"2025-05-03T10:00:00Z"`, `"end_at":null`, `"approval":null`,
		`"policy_snapshot":{"activation_policy_id":"actp_1","version":4,`, `"require_mfa":true`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in %s", want, s)
		}
	}
}
