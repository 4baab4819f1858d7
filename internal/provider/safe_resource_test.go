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
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var safeIDPattern = regexp.MustCompile(`^safe_[0-9A-Za-z]+$`)

func safeConfig(name, body string) string {
	return fmt.Sprintf(`
resource "pam_safe" "test" {
  name = %q
%s
}

data "pam_safe" "by_name" {
  name = pam_safe.test.name
}
`, name, body)
}

// TestAccSafeResource: create with defaults, import, update members and
// labels in place, drift through the API shows and is repaired, destroy.
func TestAccSafeResource(t *testing.T) {
	const addr = "pam_safe.test"
	name := acctest.RandomName("tf-acc-safe")
	sameID := statecheck.CompareValue(compare.ValuesSame())
	var safeID string
	updated := safeConfig(name, `
  description = "prod databases"
  labels      = { env = "prod" }
  members = [
    { principal_type = "group", principal_id = "dba", permissions = ["checkout", "retrieve"] },
    { principal_type = "user", principal_id = "alice", permissions = ["manage"] },
  ]`)

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkSafesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: safeConfig(name, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringRegexp(safeIDPattern)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("members"), knownvalue.SetSizeExact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("labels"), knownvalue.MapSizeExact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("account_count"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("default_rotation_schedule_id"), knownvalue.Null()),
					statecheck.ExpectKnownValue("data.pam_safe.by_name", tfjsonpath.New("id"), knownvalue.StringRegexp(safeIDPattern)),
				},
				Check: resource.TestCheckResourceAttrWith(addr, "id", func(v string) error { safeID = v; return nil }),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("prod databases")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("members"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"principal_type": knownvalue.StringExact("group"), "principal_id": knownvalue.StringExact("dba"),
							"permissions": knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("checkout"), knownvalue.StringExact("retrieve")}),
						}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"principal_type": knownvalue.StringExact("user"), "principal_id": knownvalue.StringExact("alice"),
							"permissions": knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("manage")}),
						}),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("data.pam_safe.by_name", tfjsonpath.New("members"), knownvalue.SetSizeExact(2)),
				},
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateKind: resource.ImportCommandWithID},
			// A member removed outside Terraform: the plan puts it back.
			{
				PreConfig: func() {
					c := acctest.Client(t)
					s, err := c.GetSafe(context.Background(), safeID)
					if err != nil {
						t.Fatalf("reading safe: %v", err)
					}
					in := s.SafeInput
					in.Members = in.Members[:1]
					in.Description = "changed outside Terraform"
					if _, err := c.UpdateSafe(context.Background(), safeID, s.Version, in); err != nil {
						t.Fatalf("out-of-band update: %v", err)
					}
				},
				Config:             updated,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("prod databases")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("members"), knownvalue.SetSizeExact(2)),
					},
				},
			},
			{
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("members"), knownvalue.SetSizeExact(2)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(4)),
				},
			},
		},
	})
}

// TestAccSafeResourceIdentity: identity on create and update, import by identity.
func TestAccSafeResourceIdentity(t *testing.T) {
	const addr = "pam_safe.test"
	name := acctest.RandomName("tf-acc-safe-ident")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureIdentity)
		},
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkSafesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: safeConfig(name, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(addr, map[string]knownvalue.Check{"id": knownvalue.StringRegexp(safeIDPattern)}),
				},
			},
			{
				Config:            safeConfig(name, `  description = "x"`),
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id"))},
			},
			{ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithResourceIdentity},
			{ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithID},
		},
	})
}

func TestAccSafeResourceInvalidValuesFailAtPlan(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: safeConfig("ok-safe", `
  members = [{ principal_type = "robot", principal_id = "x", permissions = ["checkout"] }]`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)principal_type.*value must be one of`),
			},
			{
				Config: safeConfig("ok-safe", `
  members = [{ principal_type = "user", principal_id = "x", permissions = ["sudo"] }]`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)permissions.*value must be one of`),
			},
		},
	})
}

func checkSafesDestroyed(t *testing.T) resource.TestCheckFunc {
	return checkDestroyed(t, "pam_safe", func(c *client.Client, id string) error {
		_, err := c.GetSafe(context.Background(), id)
		return err
	})
}

// checkDestroyed asks pamd, not the state, whether every object of the type
// is gone.
func checkDestroyed(t *testing.T, typ string, get func(c *client.Client, id string) error) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c := acctest.Client(t)
		for _, rs := range s.RootModule().Resources {
			if rs.Type != typ {
				continue
			}
			err := get(c, rs.Primary.ID)
			switch {
			case errors.Is(err, client.ErrNotFound):
			case err != nil:
				return fmt.Errorf("checking %s %s: %w", typ, rs.Primary.ID, err)
			default:
				return fmt.Errorf("%s %s still exists in pamd after destroy", typ, rs.Primary.ID)
			}
		}
		return nil
	}
}
