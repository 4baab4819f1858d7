package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

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

var eligibilityIDPattern = regexp.MustCompile(`^era_[0-9A-Za-z]+$`)

// eligibilityFixture is a role and a policy managed by the same configuration.
func eligibilityFixture(suffix string, allowPermanent bool) string {
	return fmt.Sprintf(`
resource "pam_role" "r" {
  name              = "tf-acc-era-role-%[1]s"
  assignable_scopes = ["/orgs/acme"]
}

resource "pam_activation_policy" "p" {
  name                   = "tf-acc-era-policy-%[1]s"
  max_activation_seconds = 3600
  eligibility_constraints = {
    allow_permanent = %[2]t
  }
}
`, suffix, allowPermanent)
}

func eligibilityConfig(suffix, principal, scope, extra string) string {
	return eligibilityFixture(suffix, true) + fmt.Sprintf(`
resource "pam_eligible_role_assignment" "test" {
  principal_type       = "user"
  principal_id         = %q
  role_id              = pam_role.r.id
  scope                = %q
  activation_policy_id = pam_activation_policy.p.id
%s
}
`, principal, scope, extra)
}

// The window is spelled with offsets on purpose: pamd answers in UTC, and
// the post-apply plan must still be empty.
const eligibilityOptional = `
  starts_at     = "2026-01-01T00:00:00+00:00"
  ends_at       = "2031-01-01T02:00:00+02:00"
  justification = "quarterly DBA rota"
  ticket = {
    system = "jira"
    number = "SEC-1234"
  }
  labels        = { team = "dba" }
  force_destroy = true
`

func TestAccEligibleRoleAssignmentResource(t *testing.T) {
	const addr = "pam_eligible_role_assignment.test"
	suffix := acctest.RandomName("x")[2:]
	principal := "alice-" + suffix
	const scope = "/orgs/acme/projects/payments"
	sameID := statecheck.CompareValue(compare.ValuesSame())
	var eraID string
	full := eligibilityConfig(suffix, principal, scope, eligibilityOptional)

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkEligibilitiesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: eligibilityConfig(suffix, principal, scope, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringRegexp(eligibilityIDPattern)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact(api.EligibilityActive)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("active_elevation_count"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("ends_at"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("ticket"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("force_destroy"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				},
				Check: resource.TestCheckResourceAttrWith(addr, "id", func(v string) error { eraID = v; return nil }),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			// The natural key: principal_type/principal_id/role_id/scope.
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					rs := s.RootModule().Resources[addr]
					return fmt.Sprintf("user/%s/%s%s", principal, rs.Primary.Attributes["role_id"], scope), nil
				},
			},
			{
				Config: full,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("status")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("starts_at"), knownvalue.StringExact("2026-01-01T00:00:00+00:00")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("ticket").AtMapKey("number"), knownvalue.StringExact("SEC-1234")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("force_destroy"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
				},
			},
			// Out-of-band change of the justification and a label.
			{
				PreConfig: func() {
					c := acctest.Client(t)
					ctx := context.Background()
					e, err := c.GetEligibleRoleAssignment(ctx, eraID)
					if err != nil {
						t.Fatalf("reading eligibility: %v", err)
					}
					in := e.EligibleRoleAssignmentInput
					in.Justification = "changed outside Terraform"
					in.Labels = map[string]string{"team": "ops"}
					if _, err := c.UpdateEligibleRoleAssignment(ctx, e.ID, e.Version, in); err != nil {
						t.Fatalf("out-of-band update: %v", err)
					}
				},
				Config:             full,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("justification"), knownvalue.StringExact("quarterly DBA rota")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("labels").AtMapKey("team"), knownvalue.StringExact("dba")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("scope"), knownvalue.StringExact(scope)),
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
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("justification"), knownvalue.StringExact("quarterly DBA rota")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(4)),
				},
			},
			// Dropping the optional arguments is an in-place update back to the defaults.
			{
				Config: eligibilityConfig(suffix, principal, scope, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("ends_at"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("ticket"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("justification"), knownvalue.StringExact("")),
				},
			},
			// The scope is part of the identity: changing it replaces.
			{
				Config: eligibilityConfig(suffix, principal, "/orgs/acme", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("scope"), knownvalue.StringExact("/orgs/acme")),
				},
			},
			// Import by natural key at a scope one level below the root of the role.
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					rs := s.RootModule().Resources[addr]
					return fmt.Sprintf("user/%s/%s/orgs/acme", principal, rs.Primary.Attributes["role_id"]), nil
				},
			},
		},
	})
}

func TestAccEligibleRoleAssignmentResourceIdentity(t *testing.T) {
	const addr = "pam_eligible_role_assignment.test"
	suffix := acctest.RandomName("x")[2:]
	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureIdentity)
		},
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkEligibilitiesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: eligibilityConfig(suffix, "ident-"+suffix, "/orgs/acme", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(addr, map[string]knownvalue.Check{"id": knownvalue.StringRegexp(eligibilityIDPattern)}),
					statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")),
				},
			},
			{
				Config: eligibilityConfig(suffix, "ident-"+suffix, "/orgs/acme", `justification = "identity kept on update"`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")),
				},
			},
			{ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithResourceIdentity},
		},
	})
}

// planFixture creates a role (assignable at /orgs/acme) and a policy that
// does not allow permanent eligibility through the API, so that test
// configurations can name them literally and every value is known at plan.
func planFixture(t *testing.T) (roleID, policyID string) {
	t.Helper()
	c := acctest.Client(t)
	ctx := context.Background()
	role, err := c.CreateRole(ctx, api.RoleInput{Name: acctest.RandomName("tf-acc-era-plan"), AssignableScopes: []string{"/orgs/acme"}})
	if err != nil {
		t.Fatalf("creating role: %v", err)
	}
	policy, err := c.CreateActivationPolicy(ctx, api.ActivationPolicyInput{
		Name:            acctest.RandomName("tf-acc-era-plan"),
		ActivationRules: api.ActivationRules{MaxActivationSeconds: 3600},
	})
	if err != nil {
		t.Fatalf("creating policy: %v", err)
	}
	t.Cleanup(func() {
		_ = c.DeleteActivationPolicy(context.Background(), policy.ID, 0)
		_ = c.DeleteRole(context.Background(), role.ID, 0)
	})
	return role.ID, policy.ID
}

func literalEligibility(principal, roleID, scope, policyID, extra string) string {
	return fmt.Sprintf(`
resource "pam_eligible_role_assignment" "test" {
  principal_type       = "user"
  principal_id         = %q
  role_id              = %q
  scope                = %q
  activation_policy_id = %q
%s
}
`, principal, roleID, scope, policyID, extra)
}

// What pamd would refuse fails the plan, on the attribute to blame, and
// nothing is written.
func TestAccEligibleRoleAssignmentResourcePlanTimeChecks(t *testing.T) {
	skipUnlessAcc(t)
	roleID, policyID := planFixture(t)
	principal := acctest.RandomName("plan")
	const window = `ends_at = "2030-01-01T00:00:00Z"`

	// An existing assignment for the 409 step, of another principal.
	c := acctest.Client(t)
	existingPrincipal := principal + "-existing"
	end := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	existing, err := c.CreateEligibleRoleAssignment(context.Background(), api.EligibleRoleAssignmentInput{
		PrincipalType: "user", PrincipalID: existingPrincipal, RoleID: roleID, Scope: "/orgs/acme", ActivationPolicyID: policyID, EndsAt: &end,
	})
	if err != nil {
		t.Fatalf("creating the existing eligibility: %v", err)
	}
	t.Cleanup(func() { _ = c.DeleteEligibleRoleAssignment(context.Background(), existing.ID, 0, true) })

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      literalEligibility(principal, roleID, "/orgs/other", policyID, window),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Eligible Role Assignment Rejected by pamd.*\(scope\).*not\s+assignable\s+at\s+"/orgs/other"`),
			},
			{
				Config:      literalEligibility(principal, "role_01JB8X4M0Q3K7Z9V6W2D5R1T8N", "/orgs/acme", policyID, window),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)\(role_id\).*does\s+not\s+exist`),
			},
			{
				Config: literalEligibility(principal, roleID, "/orgs/acme", policyID,
					`starts_at = "2030-01-01T00:00:00Z"`+"\n"+`ends_at = "2029-01-01T00:00:00Z"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)\(ends_at\).*must\s+be\s+after\s+starts_at`),
			},
			// The policy does not allow permanent eligibility: a rule of pamd's.
			{
				Config:      literalEligibility(principal, roleID, "/orgs/acme", policyID, ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)\(ends_at\).*does\s+not\s+allow\s+permanent\s+eligibility`),
			},
			// Taken natural key: the plan names the import command.
			{
				Config:   literalEligibility(existingPrincipal, roleID, "/orgs/acme", policyID, window),
				PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)Eligible Role Assignment Already Exists.*terraform\s+import\s+pam_eligible_role_assignment\.<name>\s+user/` +
					regexp.QuoteMeta(existingPrincipal+"/"+roleID+"/orgs/acme")),
			},
			// Nothing of the refused plans reached pamd.
			{
				Config: fmt.Sprintf("data \"pam_role\" \"r\" {\n  id = %q\n}\n", roleID),
				Check: func(*terraform.State) error {
					page, err := c.ListEligibleRoleAssignments(context.Background(), api.EligibleRoleAssignmentListParams{PrincipalID: principal})
					if err != nil {
						return err
					}
					if len(page.Items) != 0 {
						return fmt.Errorf("refused plans wrote %d eligibilities for %s", len(page.Items), principal)
					}
					return nil
				},
			},
		},
	})
}

// pamd unreachable at plan time: the check is skipped with a warning and the
// plan still succeeds.
func TestAccEligibleRoleAssignmentResourcePlanWithoutPamd(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: `provider "pam" {
  endpoint    = "http://127.0.0.1:9"
  max_retries = 0
}
` + literalEligibility("nobody", "role_01JB8X4M0Q3K7Z9V6W2D5R1T8N", "/orgs/acme", "actp_01JB8X4M0Q3K7Z9V6W2D5R1T8N", `ends_at = "2030-01-01T00:00:00Z"`),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

func TestAccEligibleRoleAssignmentResourceImportRejectsMalformedKey(t *testing.T) {
	suffix := acctest.RandomName("x")[2:]
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkEligibilitiesDestroyed(t),
		Steps: []resource.TestStep{
			{Config: eligibilityConfig(suffix, "imp-"+suffix, "/orgs/acme", "")},
			{
				ResourceName:  "pam_eligible_role_assignment.test",
				ImportState:   true,
				ImportStateId: "robot/r2/role_01JB8X4M0Q3K7Z9V6W2D5R1T8N/orgs/acme",
				ExpectError:   regexp.MustCompile(`(?s)Invalid Eligible Role Assignment Import ID.*"robot"`),
			},
			{
				ResourceName:  "pam_eligible_role_assignment.test",
				ImportState:   true,
				ImportStateId: "user/nobody/role_01JB8X4M0Q3K7Z9V6W2D5R1T8N/orgs/acme",
				ExpectError:   regexp.MustCompile(`(?s)Eligible Role Assignment Not Found`),
			},
		},
	})
}

func checkEligibilitiesDestroyed(t *testing.T) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c := acctest.Client(t)
		for _, rs := range s.RootModule().Resources {
			if !strings.HasPrefix(rs.Type, "pam_") {
				continue
			}
			var err error
			switch rs.Type {
			case "pam_eligible_role_assignment":
				_, err = c.GetEligibleRoleAssignment(context.Background(), rs.Primary.ID)
			case "pam_activation_policy":
				_, err = c.GetActivationPolicy(context.Background(), rs.Primary.ID)
			case "pam_role":
				_, err = c.GetRole(context.Background(), rs.Primary.ID)
			default:
				continue
			}
			switch {
			case errors.Is(err, client.ErrNotFound):
			case err != nil:
				return fmt.Errorf("checking %s %s: %w", rs.Type, rs.Primary.ID, err)
			default:
				return fmt.Errorf("%s %s still exists in pamd after destroy", rs.Type, rs.Primary.ID)
			}
		}
		return nil
	}
}
