package provider_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func echoFactories() map[string]func() (tfprotov6.ProviderServer, error) {
	f := map[string]func() (tfprotov6.ProviderServer, error){"echo": echoprovider.NewProviderServer()}
	for k, v := range acctest.ProtoV6ProviderFactories {
		f[k] = v
	}
	return f
}

// The ephemeral activation requests an elevation as the eligible user for the
// run, is active while the run uses it, and is deactivated when it closes.
//
// The role, policy and eligibility are made through the admin API rather than
// by the same configuration: the harness serves each provider once (reattach),
// so a default admin "pam" and an aliased requester "pam" would share one
// configured client here, though real Terraform runs them as two processes.
func TestAccRoleActivationEphemeralResource(t *testing.T) {
	skipUnlessAcc(t)
	principal := acctest.RandomName("ci")
	const scope = "/orgs/acme/projects/payments"
	c := acctest.Client(t)
	ctx := context.Background()
	role, err := c.CreateRole(ctx, api.RoleInput{Name: acctest.RandomName("tf-acc-act-role"), AssignableScopes: []string{"/orgs/acme"}})
	if err != nil {
		t.Fatalf("creating role: %v", err)
	}
	// No approval block: the activation is immediate.
	policy, err := c.CreateActivationPolicy(ctx, api.ActivationPolicyInput{
		Name: acctest.RandomName("tf-acc-act-policy"),
		ActivationRules: api.ActivationRules{MaxActivationSeconds: 3600, RequireJustification: true,
			EligibilityConstraints: api.EligibilityConstraints{AllowPermanent: true}},
	})
	if err != nil {
		t.Fatalf("creating policy: %v", err)
	}
	era, err := c.CreateEligibleRoleAssignment(ctx, api.EligibleRoleAssignmentInput{
		PrincipalType: api.PrincipalTypeUser, PrincipalID: principal, RoleID: role.ID, Scope: scope, ActivationPolicyID: policy.ID,
	})
	if err != nil {
		t.Fatalf("creating eligibility: %v", err)
	}
	t.Cleanup(func() {
		_ = c.DeleteEligibleRoleAssignment(context.Background(), era.ID, 0, true)
		_ = c.DeleteActivationPolicy(context.Background(), policy.ID, 0)
		_ = c.DeleteRole(context.Background(), role.ID, 0)
	})

	config := fmt.Sprintf(`
provider "pam" {
  alias = "requester"
  token = %q
}

ephemeral "pam_role_activation" "x" {
  provider         = pam.requester
  role_id          = %q
  scope            = %q
  duration_seconds = 600
  justification    = "terraform pipeline run"
}

provider "echo" {
  data = ephemeral.pam_role_activation.x
}

resource "echo" "activation" {}
`, acctest.Token(t, "user:"+principal, nil, []string{api.ServerRoleRequester}), role.ID, scope)

	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureEphemeral)
		},
		ProtoV6ProviderFactories: echoFactories(),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("echo.activation", tfjsonpath.New("data").AtMapKey("state"), knownvalue.StringExact(api.StateActive)),
					statecheck.ExpectKnownValue("echo.activation", tfjsonpath.New("data").AtMapKey("id"), knownvalue.StringRegexp(regexp.MustCompile(`^elv_`))),
					statecheck.ExpectKnownValue("echo.activation", tfjsonpath.New("data").AtMapKey("scope"), knownvalue.StringExact(scope)),
					statecheck.ExpectKnownValue("echo.activation", tfjsonpath.New("data").AtMapKey("eligible_role_assignment_id"), knownvalue.StringExact(era.ID)),
					statecheck.ExpectKnownValue("echo.activation", tfjsonpath.New("data").AtMapKey("duration_seconds"), knownvalue.Int64Exact(600)),
					statecheck.ExpectKnownValue("echo.activation", tfjsonpath.New("data").AtMapKey("wait_timeout_seconds"), knownvalue.Int64Exact(300)),
					statecheck.ExpectKnownValue("echo.activation", tfjsonpath.New("data").AtMapKey("end_at"), knownvalue.NotNull()),
				},
				// Close ran at the end of the apply: the elevation is over.
				Check: func(s *terraform.State) error {
					rs := s.RootModule().Resources["echo.activation"]
					if rs == nil {
						return fmt.Errorf("echo.activation missing from state")
					}
					id := rs.Primary.Attributes["data.id"]
					if id == "" {
						return fmt.Errorf("echo.activation has no data.id: %v", rs.Primary.Attributes)
					}
					elv, err := acctest.Client(t).GetElevation(context.Background(), id)
					if err != nil {
						return fmt.Errorf("reading elevation %s: %w", id, err)
					}
					if elv.State != api.StateDeactivated {
						return fmt.Errorf("elevation %s is %s after the run, want %s", id, elv.State, api.StateDeactivated)
					}
					if elv.Justification != "terraform pipeline run" {
						return fmt.Errorf("elevation %s has justification %q", id, elv.Justification)
					}
					return nil
				},
			},
		},
	})
}

// skipUnlessAcc skips a test that needs pamd before the test case is built
// (resource.Test would skip it too, but only after the fixtures ran).
func skipUnlessAcc(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	acctest.PreCheck(t)
}

// Approval not granted in time: the run fails naming who must approve, and
// the request is withdrawn.
func TestAccRoleActivationEphemeralResourceApprovalTimeout(t *testing.T) {
	skipUnlessAcc(t)
	principal := acctest.RandomName("ci")
	const scope = "/orgs/acme"
	c := acctest.Client(t)
	ctx := context.Background()
	role, err := c.CreateRole(ctx, api.RoleInput{Name: acctest.RandomName("tf-acc-act-role"), AssignableScopes: []string{"/orgs/acme"}})
	if err != nil {
		t.Fatalf("creating role: %v", err)
	}
	policy, err := c.CreateActivationPolicy(ctx, api.ActivationPolicyInput{
		Name: acctest.RandomName("tf-acc-act-policy"),
		ActivationRules: api.ActivationRules{MaxActivationSeconds: 3600,
			EligibilityConstraints: api.EligibilityConstraints{AllowPermanent: true},
			Approval: &api.Approval{Stages: []api.ApprovalStage{{
				Approvers: []api.Principal{{Type: api.PrincipalTypeGroup, ID: "sec-oncall"}}, ApprovalsNeeded: 1,
			}}}},
	})
	if err != nil {
		t.Fatalf("creating policy: %v", err)
	}
	era, err := c.CreateEligibleRoleAssignment(ctx, api.EligibleRoleAssignmentInput{
		PrincipalType: api.PrincipalTypeUser, PrincipalID: principal, RoleID: role.ID, Scope: scope, ActivationPolicyID: policy.ID,
	})
	if err != nil {
		t.Fatalf("creating eligibility: %v", err)
	}
	t.Cleanup(func() {
		_ = c.DeleteEligibleRoleAssignment(context.Background(), era.ID, 0, true)
		_ = c.DeleteActivationPolicy(context.Background(), policy.ID, 0)
		_ = c.DeleteRole(context.Background(), role.ID, 0)
	})
	config := fmt.Sprintf(`
provider "pam" {
  alias = "requester"
  token = %q
}

ephemeral "pam_role_activation" "x" {
  provider                    = pam.requester
  eligible_role_assignment_id = %q
  wait_timeout_seconds        = 1
}

provider "echo" {
  data = ephemeral.pam_role_activation.x
}

resource "echo" "activation" {}
`, acctest.Token(t, "user:"+principal, nil, []string{api.ServerRoleRequester}), era.ID)

	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureEphemeral)
		},
		ProtoV6ProviderFactories: echoFactories(),
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Role Activation Not Granted.*waiting\s+for\s+approval.*group\s+sec-oncall.*Terraform\s+withdrew\s+the\s+request`),
			},
			// Nothing stays pending.
			{
				Config: `output "done" { value = true }`,
				Check: func(*terraform.State) error {
					page, err := c.ListElevations(context.Background(), api.ElevationListParams{EligibleRoleAssignmentID: era.ID})
					if err != nil {
						return err
					}
					if len(page.Items) == 0 {
						return fmt.Errorf("no elevation was requested")
					}
					for _, e := range page.Items {
						if e.State != api.StateWithdrawn {
							return fmt.Errorf("elevation %s is %s, want %s", e.ID, e.State, api.StateWithdrawn)
						}
					}
					return nil
				},
			},
		},
	})
}
