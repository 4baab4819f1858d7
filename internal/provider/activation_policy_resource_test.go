package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var activationPolicyIDPattern = regexp.MustCompile(`^actp_[0-9A-Za-z]+$`)

// minimalPolicyConfig has only the required arguments: every default must
// match what pamd stores, or the post-apply plan would not be empty.
func minimalPolicyConfig(name string) string {
	return fmt.Sprintf(`
resource "pam_activation_policy" "test" {
  name                   = %q
  max_activation_seconds = 7200
}
`, name)
}

// fullPolicyConfig sets the optional blocks and leaves out the values whose
// defaults depend on other attributes (max_extensions, max_total_...).
func fullPolicyConfig(name, description string, approvalsNeeded int) string {
	return fmt.Sprintf(`
resource "pam_activation_policy" "test" {
  name                       = %q
  description                = %q
  max_activation_seconds     = 14400
  default_activation_seconds = 1800
  require_justification      = true
  justification_min_length   = 10
  require_ticket             = true
  ticket_systems             = ["servicenow", "jira"]
  allow_scheduled_start      = true
  allow_extension            = true

  eligibility_constraints = {
    max_eligibility_seconds = 31536000
  }

  approval = {
    require_approver_justification = true
    stages = [
      {
        approvers = [
          { principal_type = "group", principal_id = "sec-oncall" },
          { principal_type = "user", principal_id = "bob" },
        ]
        approvals_needed = %d
      },
      {
        approvers       = [{ principal_type = "user", principal_id = "ciso" }]
        timeout_seconds = 3600
      },
    ]
  }

  labels = { team = "platform" }
}
`, name, description, approvalsNeeded)
}

func TestAccActivationPolicyResource(t *testing.T) {
	const addr = "pam_activation_policy.test"
	name := acctest.RandomName("tf-acc-actp")
	sameID := statecheck.CompareValue(compare.ValuesSame())
	var policyID string
	full := fullPolicyConfig(name, "full", 2)

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkActivationPoliciesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: minimalPolicyConfig(name),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
						// Dependent defaults are planned as pamd will store them.
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("default_activation_seconds"), knownvalue.Int64Exact(3600)),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("max_extensions"), knownvalue.Int64Exact(0)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringRegexp(activationPolicyIDPattern)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("default_activation_seconds"), knownvalue.Int64Exact(3600)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("max_schedule_ahead_seconds"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("max_total_activation_seconds"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("approval"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("ticket_systems"), knownvalue.SetSizeExact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("eligibility_constraints"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"allow_permanent":         knownvalue.Bool(false),
						"max_eligibility_seconds": knownvalue.Int64Exact(0),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				},
				Check: resource.TestCheckResourceAttrWith(addr, "id", func(v string) error { policyID = v; return nil }),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			// Import by name resolves to the same policy.
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: name},
			{
				Config: full,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("max_extensions"), knownvalue.Int64Exact(1)),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("max_total_activation_seconds"), knownvalue.Int64Exact(28800)),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("max_schedule_ahead_seconds"), knownvalue.Int64Exact(api.DefaultScheduleAheadSeconds)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("approval").AtMapKey("stages").AtSliceIndex(0).AtMapKey("timeout_seconds"),
						knownvalue.Int64Exact(api.DefaultApprovalTimeoutSeconds)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("approval").AtMapKey("stages").AtSliceIndex(1).AtMapKey("approvals_needed"),
						knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("approval").AtMapKey("stages").AtSliceIndex(0).AtMapKey("approvers"),
						knownvalue.SetSizeExact(2)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("eligibility_constraints").AtMapKey("allow_permanent"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
				},
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			// Out-of-band: a stage now needs one approval and the description changed.
			{
				PreConfig: func() {
					c := acctest.Client(t)
					ctx := context.Background()
					p, err := c.GetActivationPolicy(ctx, policyID)
					if err != nil {
						t.Fatalf("reading policy: %v", err)
					}
					in := p.ActivationPolicyInput
					in.Description = "changed outside Terraform"
					in.Approval.Stages[0].ApprovalsNeeded = 1
					if _, err := c.UpdateActivationPolicy(ctx, p.ID, p.Version, in); err != nil {
						t.Fatalf("out-of-band update: %v", err)
					}
				},
				Config:             full,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("full")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("approval").AtMapKey("stages").AtSliceIndex(0).AtMapKey("approvals_needed"),
							knownvalue.Int64Exact(2)),
					},
				},
			},
			{
				Config: full,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("full")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(4)),
				},
			},
			// Removing the optional blocks returns to the defaults, in place.
			{
				Config: minimalPolicyConfig(name),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("max_extensions"), knownvalue.Int64Exact(0)),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("default_activation_seconds"), knownvalue.Int64Exact(3600)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("approval"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("labels"), knownvalue.MapSizeExact(0)),
				},
			},
			// Deleted outside Terraform: the refresh drops it and plans a create.
			{
				PreConfig: func() {
					if err := acctest.Client(t).DeleteActivationPolicy(context.Background(), policyID, 0); err != nil {
						t.Fatalf("out-of-band delete: %v", err)
					}
				},
				Config:             minimalPolicyConfig(name),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
			},
		},
	})
}

func TestAccActivationPolicyResourceIdentity(t *testing.T) {
	const addr = "pam_activation_policy.test"
	name := acctest.RandomName("tf-acc-actp-ident")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureIdentity)
		},
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkActivationPoliciesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: fullPolicyConfig(name, "identity", 1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(addr, map[string]knownvalue.Check{"id": knownvalue.StringRegexp(activationPolicyIDPattern)}),
					statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")),
				},
			},
			{
				Config: fullPolicyConfig(name, "identity, updated", 1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")),
				},
			},
			{ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithResourceIdentity},
		},
	})
}

// Rules of internal/pim fail the plan, with pamd's wording, on the attribute.
func TestAccActivationPolicyResourceInvalidValuesFailAtPlan(t *testing.T) {
	policy := func(body string) string {
		return fmt.Sprintf("resource \"pam_activation_policy\" \"test\" {\n  name = \"bad\"\n%s\n}\n", body)
	}
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      policy("max_activation_seconds = 3600\ndefault_activation_seconds = 7200"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)default_activation_seconds.*must\s+not\s+exceed\s+max_activation_seconds\s+\(3600\)`),
			},
			{
				Config:      policy("max_activation_seconds = 10"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)max_activation_seconds.*must\s+be\s+between\s+60\s+and`),
			},
			{
				Config:      policy("max_activation_seconds = 3600\njustification_min_length = 5"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)justification_min_length.*requires\s+require_justification\s+=\s+true`),
			},
			{
				Config: policy(`max_activation_seconds = 3600
approval = { stages = [{ approvers = [{ principal_type = "user", principal_id = "bob" }], approvals_needed = 2 }] }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)approval\.stages\[0\]\.approvals_needed.*only\s+1\s+distinct\s+approvers`),
			},
			{
				Config: policy(`max_activation_seconds = 3600
approval = { stages = [{ approvers = [{ principal_type = "robot", principal_id = "r2" }] }] }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)approval\.stages\[0\]\.approvers.*"robot"\s+is\s+not\s+one\s+of\s+user,\s+group,\s+service_account`),
			},
			{
				Config:      policy("max_activation_seconds = 3600\nallow_extension = true\nmax_extensions = 0"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)max_extensions.*Leave\s+max_extensions\s+out`),
			},
		},
	})
}

func checkActivationPoliciesDestroyed(t *testing.T) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c := acctest.Client(t)
		for _, rs := range s.RootModule().Resources {
			if rs.Type != "pam_activation_policy" {
				continue
			}
			_, err := c.GetActivationPolicy(context.Background(), rs.Primary.ID)
			switch {
			case errors.Is(err, client.ErrNotFound):
			case err != nil:
				return fmt.Errorf("checking activation policy %s: %w", rs.Primary.ID, err)
			default:
				return fmt.Errorf("activation policy %s still exists in pamd after destroy", rs.Primary.ID)
			}
		}
		return nil
	}
}
