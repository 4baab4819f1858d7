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
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var sessionPolicyIDPattern = regexp.MustCompile(`^sesp_[0-9A-Za-z]+$`)

func sessionPolicyConfig(name, body string) string {
	return fmt.Sprintf(`
resource "pam_session_policy" "test" {
  name = %q
%s
}
`, name, body)
}

// Three rules; rules(true) lists them in the reverse order.
func sessionPolicyFullBody(reversed bool, defaultAction string) string {
	rules := []string{
		`{ match = "regex", pattern = "^rm\\s+-rf\\s+/($|\\s)", action = "deny", description = "no root wipes" }`,
		`{ match = "prefix", pattern = "sudo su", action = "terminate_session" }`,
		`{ match = "glob", pattern = "iptables *", action = "alert", description = "notify SOC" }`,
	}
	if reversed {
		rules[0], rules[2] = rules[2], rules[0]
	}
	return fmt.Sprintf(`
  description                           = "prod ssh"
  protocols                             = ["ssh", "postgresql"]
  max_session_duration_seconds          = 14400
  idle_timeout_seconds                  = 900
  max_concurrent_sessions_per_principal = 2
  terminate_on_authorization_end        = true
  require_mfa                           = true
  require_justification                 = true

  recording = {
    enabled     = true
    retain_days = 365
  }

  command_filter = {
    default_action = %q
    rules = [
      %s,
      %s,
      %s,
    ]
  }

  file_transfer   = { download = true }
  port_forwarding = false
  labels          = { tier = "prod" }`, defaultAction, rules[0], rules[1], rules[2])
}

func rulePath(i int, attr string) tfjsonpath.Path {
	return tfjsonpath.New("command_filter").AtMapKey("rules").AtSliceIndex(i).AtMapKey(attr)
}

// TestAccSessionPolicyResource: create with an ordered command filter,
// import (by id and by name), reorder the rules in place, drift through the
// API shows exactly that drift, the next apply repairs it, destroy.
func TestAccSessionPolicyResource(t *testing.T) {
	const addr = "pam_session_policy.test"
	name := acctest.RandomName("tf-acc-sesp")
	sameID := statecheck.CompareValue(compare.ValuesSame())
	var id string
	full := sessionPolicyConfig(name, sessionPolicyFullBody(false, "allow"))
	reordered := sessionPolicyConfig(name, sessionPolicyFullBody(true, "deny"))

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: checkDestroyed(t, "pam_session_policy", func(c *client.Client, id string) error {
			_, err := c.GetSessionPolicy(context.Background(), id)
			return err
		}),
		Steps: []resource.TestStep{
			{
				Config: full,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
						// The default that depends on require_mfa is planned as pamd stores it.
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("mfa_max_age_seconds"), knownvalue.Int64Exact(api.DefaultSessionMFAMaxAgeSeconds)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringRegexp(sessionPolicyIDPattern)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("protocols"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("postgresql"), knownvalue.StringExact("ssh"),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("command_filter").AtMapKey("rules"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"match": knownvalue.StringExact("regex"), "pattern": knownvalue.StringExact(`^rm\s+-rf\s+/($|\s)`),
							"action": knownvalue.StringExact("deny"), "description": knownvalue.StringExact("no root wipes"),
						}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"match": knownvalue.StringExact("prefix"), "pattern": knownvalue.StringExact("sudo su"),
							"action": knownvalue.StringExact("terminate_session"), "description": knownvalue.StringExact(""),
						}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"pattern": knownvalue.StringExact("iptables *")}),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("recording"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"enabled": knownvalue.Bool(true), "mode": knownvalue.StringExact("strict"), "retain_days": knownvalue.Int64Exact(365),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("file_transfer"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"upload": knownvalue.Bool(false), "download": knownvalue.Bool(true),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("credential_delivery"), knownvalue.StringExact("injected")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("mfa_max_age_seconds"), knownvalue.Int64Exact(api.DefaultSessionMFAMaxAgeSeconds)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				},
				Check: resource.TestCheckResourceAttrWith(addr, "id", func(v string) error { id = v; return nil }),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			// Import by name resolves to the same policy.
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: name},
			// Reordering the rules is an in-place update: same id, new order.
			{
				Config: reordered,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, rulePath(0, "pattern"), knownvalue.StringExact("iptables *")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, rulePath(0, "pattern"), knownvalue.StringExact("iptables *")),
					statecheck.ExpectKnownValue(addr, rulePath(0, "action"), knownvalue.StringExact("alert")),
					statecheck.ExpectKnownValue(addr, rulePath(1, "pattern"), knownvalue.StringExact("sudo su")),
					statecheck.ExpectKnownValue(addr, rulePath(2, "pattern"), knownvalue.StringExact(`^rm\s+-rf\s+/($|\s)`)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("command_filter").AtMapKey("default_action"), knownvalue.StringExact("deny")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
				},
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			// Out of band: a rule's action and the retention change, and the
			// rules are swapped back; the plan shows exactly that.
			{
				PreConfig: func() {
					c := acctest.Client(t)
					ctx := context.Background()
					p, err := c.GetSessionPolicy(ctx, id)
					if err != nil {
						t.Fatalf("reading policy: %v", err)
					}
					in := p.SessionPolicyInput
					in.CommandFilter.Rules[1].Action = api.CommandActionAlert
					in.Recording.RetainDays = 30
					if _, err := c.UpdateSessionPolicy(ctx, id, p.Version, in); err != nil {
						t.Fatalf("out-of-band update: %v", err)
					}
				},
				Config:             reordered,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, rulePath(1, "action"), knownvalue.StringExact("terminate_session")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("recording").AtMapKey("retain_days"), knownvalue.Int64Exact(365)),
						// Unchanged values stay as they are.
						plancheck.ExpectKnownValue(addr, rulePath(0, "pattern"), knownvalue.StringExact("iptables *")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("mfa_max_age_seconds"), knownvalue.Int64Exact(api.DefaultSessionMFAMaxAgeSeconds)),
					},
				},
			},
			// The next apply repairs the drift in place.
			{
				Config: reordered,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, rulePath(1, "action"), knownvalue.StringExact("terminate_session")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("recording").AtMapKey("retain_days"), knownvalue.Int64Exact(365)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(4)),
				},
			},
			// Removing every optional block returns to the defaults, in place.
			{
				Config: sessionPolicyConfig(name, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("mfa_max_age_seconds"), knownvalue.Int64Exact(0)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("command_filter"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"default_action": knownvalue.StringExact("allow"), "rules": knownvalue.ListSizeExact(0),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("protocols"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("ssh")})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("labels"), knownvalue.MapSizeExact(0)),
				},
			},
			// Deleted outside Terraform: the refresh drops it and plans a create.
			{
				PreConfig: func() {
					if err := acctest.Client(t).DeleteSessionPolicy(context.Background(), id, 0); err != nil {
						t.Fatalf("out-of-band delete: %v", err)
					}
				},
				Config:             sessionPolicyConfig(name, ""),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
			},
		},
	})
}

// A configuration without any optional block plans nothing after apply:
// every default equals what pamd stores.
func TestAccSessionPolicyResourceMinimal(t *testing.T) {
	const addr = "pam_session_policy.test"
	name := acctest.RandomName("tf-acc-sesp-min")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: checkDestroyed(t, "pam_session_policy", func(c *client.Client, id string) error {
			_, err := c.GetSessionPolicy(context.Background(), id)
			return err
		}),
		Steps: []resource.TestStep{
			{
				Config: sessionPolicyConfig(name, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("max_session_duration_seconds"), knownvalue.Int64Exact(api.DefaultSessionDurationSeconds)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("mfa_max_age_seconds"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("recording"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"enabled": knownvalue.Bool(false), "mode": knownvalue.StringExact("strict"),
						"retain_days": knownvalue.Int64Exact(api.DefaultRecordingRetainDays),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("command_filter"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"default_action": knownvalue.StringExact("allow"), "rules": knownvalue.ListSizeExact(0),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("file_transfer"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"upload": knownvalue.Bool(false), "download": knownvalue.Bool(false),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				},
			},
			// Partly filled blocks: their members left out take the defaults.
			{
				Config: sessionPolicyConfig(name, `
  require_mfa    = true
  recording      = { enabled = true }
  command_filter = { rules = [{ match = "exact", pattern = "reboot", action = "deny" }] }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("mfa_max_age_seconds"), knownvalue.Int64Exact(api.DefaultSessionMFAMaxAgeSeconds)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("recording").AtMapKey("retain_days"), knownvalue.Int64Exact(api.DefaultRecordingRetainDays)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("command_filter").AtMapKey("default_action"), knownvalue.StringExact("allow")),
					statecheck.ExpectKnownValue(addr, rulePath(0, "description"), knownvalue.StringExact("")),
				},
			},
		},
	})
}

func TestAccSessionPolicyResourceIdentity(t *testing.T) {
	const addr = "pam_session_policy.test"
	name := acctest.RandomName("tf-acc-sesp-ident")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureIdentity)
		},
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: sessionPolicyConfig(name, sessionPolicyFullBody(false, "allow")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(addr, map[string]knownvalue.Check{"id": knownvalue.StringRegexp(sessionPolicyIDPattern)}),
					statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")),
				},
			},
			{
				Config: sessionPolicyConfig(name, sessionPolicyFullBody(true, "allow")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")),
				},
			},
			{ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithResourceIdentity},
		},
	})
}

// A regex that does not compile fails the plan with the regexp package's
// message on the rule's pattern, and nothing reaches pamd.
func TestAccSessionPolicyResourceInvalidFailsAtPlan(t *testing.T) {
	name := acctest.RandomName("tf-acc-sesp-bad")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: sessionPolicyConfig(name, `
  command_filter = {
    rules = [
      { match = "exact", pattern = "ls", action = "allow" },
      { match = "regex", pattern = "^(rm|shred", action = "deny" },
    ]
  }`),
				ExpectError: regexp.MustCompile(`(?s)Invalid Session Policy.*command_filter\.rules\[1\]\.pattern.*is\s+not\s+a\s+valid\s+regular\s+expression:\s+error\s+parsing\s+regexp:\s+missing\s+closing\s+\)`),
			},
			{
				Config:      sessionPolicyConfig(name, `  command_filter = { rules = [{ match = "glob", pattern = "ls [", action = "deny" }] }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)command_filter\.rules\[0\]\.pattern.*not\s+a\s+valid\s+glob`),
			},
			{
				Config:      sessionPolicyConfig(name, `  command_filter = { rules = [{ match = "regex", pattern = "x", action = "explode" }] }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)command_filter\.rules\[0\]\.action.*must\s+be\s+one\s+of\s+allow,\s+deny,\s+alert,\s+terminate_session`),
			},
			{
				Config:      sessionPolicyConfig(name, "  max_session_duration_seconds = 600\n  idle_timeout_seconds = 900"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)idle_timeout_seconds.*must\s+not\s+exceed\s+max_session_duration_seconds\s+\(600\)`),
			},
			{
				Config:      sessionPolicyConfig(name, "  recording = { retain_days = 0 }"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)pamd\s+reads\s+0\s+as\s+"use\s+the\s+default"\s+\(90\).*Leave\s+recording\.retain_days\s+out`),
			},
		},
	})
	// Nothing was written: no policy by that name exists.
	_, err := acctest.Client(t).FindSessionPolicyByName(context.Background(), name)
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("a policy named %s exists after failed plans (err %v)", name, err)
	}
}

// TestAccSessionPolicyRequireElevation: require_elevation with a scope, then
// any scope, then removed; import verifies it; plans stay empty with and
// without it; an unknown role and a malformed scope are refused.
func TestAccSessionPolicyRequireElevation(t *testing.T) {
	const addr = "pam_session_policy.test"
	name := acctest.RandomName("tf-acc-sesp-elv")
	cfg := func(elevation string) string {
		return fmt.Sprintf(`
resource "pam_role" "r" {
  name              = "%[1]s-role"
  assignable_scopes = ["/orgs"]
}

resource "pam_session_policy" "test" {
  name                           = %[1]q
  terminate_on_authorization_end = true
%[2]s
}
`, name, elevation)
	}
	withScope := cfg(`  require_elevation = { role_id = pam_role.r.id, scope = "/orgs/acme" }`)
	anyScope := cfg(`  require_elevation = { role_id = pam_role.r.id }`)
	without := cfg("")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      cfg(`  require_elevation = { role_id = "role_doesnotexist" }`),
				ExpectError: regexp.MustCompile(`role "role_doesnotexist" does not exist`),
			},
			{
				Config:      cfg(`  require_elevation = { role_id = pam_role.r.id, scope = "orgs/acme/" }`),
				ExpectError: regexp.MustCompile(`(?s)require_elevation.scope.*is not\s+valid`),
			},
			{
				Config: withScope,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("require_elevation").AtMapKey("scope"), knownvalue.StringExact("/orgs/acme")),
					statecheck.CompareValuePairs(addr, tfjsonpath.New("require_elevation").AtMapKey("role_id"),
						"pam_role.r", tfjsonpath.New("id"), compare.ValuesSame()),
				},
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{Config: withScope, PlanOnly: true},
			{
				Config: anyScope,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("require_elevation").AtMapKey("scope"), knownvalue.StringExact("")),
				},
			},
			{Config: anyScope, PlanOnly: true},
			{
				Config: without,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("require_elevation"), knownvalue.Null()),
				},
			},
			{Config: without, PlanOnly: true},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
		},
	})
}
