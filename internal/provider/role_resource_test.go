package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
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

var roleIDPattern = regexp.MustCompile(`^role_[0-9A-Za-z]+$`)

// roleConfig renders a pam_role "test" block; scopes and labels are HCL
// literals so tests can also leave them out ("" omits the argument).
func roleConfig(name, description, scopes, labels string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "resource \"pam_role\" \"test\" {\n  name = %q\n", name)
	if description != "" {
		fmt.Fprintf(&b, "  description = %q\n", description)
	}
	if scopes != "" {
		fmt.Fprintf(&b, "  assignable_scopes = %s\n", scopes)
	}
	if labels != "" {
		fmt.Fprintf(&b, "  labels = %s\n", labels)
	}
	b.WriteString("}\n")
	return b.String()
}

// TestAccRoleResource is the canonical lifecycle: create, import, update in
// place, drift made through the API shows in the plan and is repaired, destroy.
func TestAccRoleResource(t *testing.T) {
	const addr = "pam_role.test"
	name := acctest.RandomName("tf-acc-role")
	renamed := name + "-renamed"
	sameID := statecheck.CompareValue(compare.ValuesSame())
	var roleID string

	updated := roleConfig(renamed, "updated", `["/orgs/acme", "/orgs/beta"]`, `{ team = "dba", env = "prod" }`)

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkRolesDestroyed(t),
		Steps: []resource.TestStep{
			// Create with only the required argument: the defaults must match
			// what pamd stores, or the post-apply plan would not be empty.
			{
				Config: roleConfig(name, "", "", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringRegexp(roleIDPattern)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("name"), knownvalue.StringExact(name)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("assignable_scopes"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("/")})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("labels"), knownvalue.MapSizeExact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("created_at"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("updated_at"), knownvalue.NotNull()),
				},
				Check: resource.TestCheckResourceAttrWith(addr, "id", func(v string) error { roleID = v; return nil }),
			},
			// Import by id with the import command, and with an import block.
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
			// Rename and change everything else: an in-place update, same id.
			{
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("version")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("name"), knownvalue.StringExact(renamed)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("updated")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("assignable_scopes"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("/orgs/acme"), knownvalue.StringExact("/orgs/beta"),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{
						"team": knownvalue.StringExact("dba"), "env": knownvalue.StringExact("prod"),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
				},
			},
			// Someone changes the description and a label through the API: the
			// refresh notices, and the plan proposes exactly to put them back.
			{
				PreConfig: func() {
					c := acctest.Client(t)
					ctx := context.Background()
					r, err := c.GetRole(ctx, roleID)
					if err != nil {
						t.Fatalf("reading role %s: %v", roleID, err)
					}
					in := r.RoleInput
					in.Description = "changed outside Terraform"
					in.Labels = map[string]string{"team": "dba", "env": "staging"}
					if _, err := c.UpdateRole(ctx, r.ID, r.Version, in); err != nil {
						t.Fatalf("out-of-band update: %v", err)
					}
				},
				Config:             updated,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("updated")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("labels").AtMapKey("env"), knownvalue.StringExact("prod")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("name"), knownvalue.StringExact(renamed)),
					},
				},
			},
			// Apply repairs the drift, with If-Match on the refreshed version.
			{
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("updated")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("labels").AtMapKey("env"), knownvalue.StringExact("prod")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(4)),
				},
			},
			// Deleted outside Terraform: the refresh drops it and plans a create.
			{
				PreConfig: func() {
					if err := acctest.Client(t).DeleteRole(context.Background(), roleID, 0); err != nil {
						t.Fatalf("out-of-band delete: %v", err)
					}
				},
				Config:             updated,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
			},
		},
	})
}

// TestAccRoleResourceIdentity covers resource identity and import by identity,
// which only Terraform and OpenTofu 1.12+ support.
func TestAccRoleResourceIdentity(t *testing.T) {
	const addr = "pam_role.test"
	name := acctest.RandomName("tf-acc-role-ident")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureIdentity)
		},
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkRolesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: roleConfig(name, "identity", "", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(addr, map[string]knownvalue.Check{"id": knownvalue.StringRegexp(roleIDPattern)}),
					statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")),
				},
			},
			// Update must return the identity too (Terraform < 1.12 otherwise fails).
			{
				Config: roleConfig(name, "identity, updated", "", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")),
				},
			},
			{
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithResourceIdentity,
			},
		},
	})
}

func TestAccRoleResourceInvalidValuesFailAtPlan(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      roleConfig("-starts-with-dash", "", "", ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Attribute Value Match.*must be 1-128 characters`),
			},
			{
				Config:      roleConfig("ok-name", "", `["/orgs/acme/"]`, ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)assignable_scopes.*no trailing slash`),
			},
			{
				Config:      roleConfig("ok-name", "", "", `{ "Team" = "x" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)labels.*lowercase`),
			},
			{
				Config:      roleConfig("ok-name", "", `[]`, ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)assignable_scopes.*at least 1`),
			},
		},
	})
}

func TestAccRoleResourceImportRejectsOtherIDs(t *testing.T) {
	name := acctest.RandomName("tf-acc-role-imp")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkRolesDestroyed(t),
		Steps: []resource.TestStep{
			// Import steps need a prior step that initialised the working
			// directory with the in-process provider.
			{Config: roleConfig(name, "", "", "")},
			{
				ResourceName:  "pam_role.test",
				ImportState:   true,
				ImportStateId: "actp_01JB8X4M0Q3K7Z9V6W2D5R1T8N",
				ExpectError:   regexp.MustCompile(`(?s)Invalid Role Import ID.*role_`),
			},
		},
	})
}

// A role that already exists under the configured name is not duplicated, and
// the error tells the user how to import it.
func TestAccRoleResourceDuplicateNameSuggestsImport(t *testing.T) {
	name := acctest.RandomName("tf-acc-role-dup")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkRolesDestroyed(t),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					c := acctest.Client(t)
					r, err := c.CreateRole(context.Background(), api.RoleInput{Name: name})
					if err != nil {
						t.Fatalf("creating the existing role: %v", err)
					}
					t.Cleanup(func() { _ = c.DeleteRole(context.Background(), r.ID, 0) })
				},
				Config:      roleConfig(name, "", "", ""),
				ExpectError: regexp.MustCompile(`(?s)Role Already Exists.*terraform\s+import\s+pam_role\.<name>\s+role_[0-9A-Za-z]+`),
			},
		},
	})
}

// checkRolesDestroyed asks pamd, not the state, whether every role the test
// managed is gone.
func checkRolesDestroyed(t *testing.T) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c := acctest.Client(t)
		for _, rs := range s.RootModule().Resources {
			if rs.Type != "pam_role" {
				continue
			}
			_, err := c.GetRole(context.Background(), rs.Primary.ID)
			switch {
			case errors.Is(err, client.ErrNotFound):
			case err != nil:
				return fmt.Errorf("checking role %s: %w", rs.Primary.ID, err)
			default:
				return fmt.Errorf("role %s still exists in pamd after destroy", rs.Primary.ID)
			}
		}
		return nil
	}
}

// webhookRoleConfig renders a pam_role with one webhook block whose secret
// comes from a variable (the secret is also a write-only argument, so it
// never reaches plan or state).
func webhookRoleConfig(name, url, secret string, version int) string {
	return fmt.Sprintf(`
variable "hook_secret" {
  type      = string
  sensitive = true
  default   = %q
}

resource "pam_role" "test" {
  name = %q

  webhook {
    url               = %q
    secret_wo         = var.hook_secret
    secret_wo_version = %d
  }
}
`, secret, name, url, version)
}

// TestAccRoleResourceWebhook: a webhook with a write-only secret. The secret
// is absent from state, pamd holds it, bumping secret_wo_version and
// changing the url update in place, and import ignores the write-only pair.
func TestAccRoleResourceWebhook(t *testing.T) {
	acctest.SkipUnless(t, acctest.FeatureWriteOnly)
	const addr = "pam_role.test"
	const secret = "tf-acc-webhook-secret-5d1f0c"
	name := acctest.RandomName("tf-acc-hook")
	url := "https://hooks.example.com/pam"
	sameID := statecheck.CompareValue(compare.ValuesSame())

	serverHook := func(wantURL string, wantVersion int64) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			rs := s.RootModule().Resources[addr]
			r, err := acctest.Client(t).GetRole(context.Background(), rs.Primary.ID)
			if err != nil {
				return err
			}
			if len(r.Webhooks) != 1 || r.Webhooks[0].URL != wantURL || !r.Webhooks[0].HasSecret ||
				r.Webhooks[0].SecretVersion != wantVersion || r.Webhooks[0].Secret != "" {
				return fmt.Errorf("pamd webhooks = %+v, want %s with a secret at version %d", r.Webhooks, wantURL, wantVersion)
			}
			for k, v := range rs.Primary.Attributes {
				if strings.Contains(v, secret) {
					return fmt.Errorf("the secret is in state attribute %s", k)
				}
			}
			return nil
		}
	}

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkRolesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: webhookRoleConfig(name, url, secret, 1),
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("webhook").AtSliceIndex(0).AtMapKey("url"), knownvalue.StringExact(url)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("webhook").AtSliceIndex(0).AtMapKey("secret_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("webhook").AtSliceIndex(0).AtMapKey("secret_wo_version"), knownvalue.Int64Exact(1)),
				},
				Check: serverHook(url, 1),
			},
			// Rolling the secret: bump the version, the role updates in place.
			{
				Config: webhookRoleConfig(name, url, secret+"-rolled", 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("webhook").AtSliceIndex(0).AtMapKey("secret_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("webhook").AtSliceIndex(0).AtMapKey("secret_wo_version"), knownvalue.Int64Exact(2)),
				},
				Check: serverHook(url, 2),
			},
			// Changing only the url updates in place too.
			{
				Config: webhookRoleConfig(name, url+"/v2", secret+"-rolled", 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("webhook").AtSliceIndex(0).AtMapKey("url"), knownvalue.StringExact(url+"/v2")),
				},
				Check: serverHook(url+"/v2", 2),
			},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"webhook.0.secret_wo", "webhook.0.secret_wo_version"},
			},
		},
	})
}

// TestAccRoleResourceWebhookInvalidURLFailsAtPlan: the url rule is checked
// before any request.
func TestAccRoleResourceWebhookInvalidURLFailsAtPlan(t *testing.T) {
	acctest.SkipUnless(t, acctest.FeatureWriteOnly)
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      webhookRoleConfig(acctest.RandomName("tf-acc-hook"), "ftp://hooks.example.com/pam", "tf-acc-webhook-secret-5d1f0c", 1),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`Invalid Webhook URL`),
		}},
	})
}
