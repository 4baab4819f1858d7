package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
)

// Checks that a secret string appears nowhere in the state or plan that the
// CLI reports as JSON: not in an attribute, a sensitive value, an output or a
// planned change. They marshal the whole tfjson document and search it, so
// they cannot miss a place the test author did not think of.

type secretAbsentFromState struct{ secret string }

// expectSecretAbsentFromState fails when secret occurs anywhere in the state.
func expectSecretAbsentFromState(secret string) statecheck.StateCheck {
	return secretAbsentFromState{secret: secret}
}

func (c secretAbsentFromState) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = searchJSON("state", req.State, c.secret)
}

type secretAbsentFromPlan struct{ secret string }

// expectSecretAbsentFromPlan fails when secret occurs anywhere in the plan.
func expectSecretAbsentFromPlan(secret string) plancheck.PlanCheck {
	return secretAbsentFromPlan{secret: secret}
}

func (c secretAbsentFromPlan) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = searchJSON("plan", req.Plan, c.secret)
}

// searchJSON marshals doc and reports an error if it is missing (a check
// that sees nothing proves nothing) or contains secret.
func searchJSON(what string, doc any, secret string) error {
	switch d := doc.(type) {
	case *tfjson.State:
		if d == nil {
			return fmt.Errorf("no %s to search", what)
		}
	case *tfjson.Plan:
		if d == nil {
			return fmt.Errorf("no %s to search", what)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("marshalling the %s: %w", what, err)
	}
	if n := strings.Count(string(b), secret); n > 0 {
		return fmt.Errorf("the secret occurs %d time(s) in the %s JSON", n, what)
	}
	return nil
}

// The scan must be able to fail: a secret anywhere in a document is found,
// and a missing document is an error rather than a pass.
func TestSecretScanFindsSecrets(t *testing.T) {
	const secret = "scan-me-3f9a"
	state := &tfjson.State{Values: &tfjson.StateValues{RootModule: &tfjson.StateModule{Resources: []*tfjson.StateResource{{
		Address: "pam_vault_account.x", AttributeValues: map[string]any{"deep": map[string]any{"list": []any{"x", "prefix-" + secret}}},
	}}}}}
	if err := searchJSON("state", state, secret); err == nil {
		t.Error("secret in state not found")
	}
	if err := searchJSON("state", state, "absent-value"); err != nil {
		t.Errorf("false positive: %v", err)
	}
	plan := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{{Change: &tfjson.Change{After: map[string]any{"secret_wo": secret}}}}}
	if err := searchJSON("plan", plan, secret); err == nil {
		t.Error("secret in plan not found")
	}
	if err := searchJSON("plan", (*tfjson.Plan)(nil), secret); err == nil {
		t.Error("a missing plan passed")
	}
}
