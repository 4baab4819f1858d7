package provider_test

import (
	"context"
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

var rotationScheduleIDPattern = regexp.MustCompile(`^rot_[0-9A-Za-z]+$`)

func rotationScheduleConfig(name, body string) string {
	return fmt.Sprintf(`
resource "pam_rotation_schedule" "test" {
  name = %q
%s
}
`, name, body)
}

// TestAccRotationScheduleResource: create an interval schedule with
// defaults, import, switch it to a cron in a time zone with a password
// policy in place, drift through the API, destroy.
func TestAccRotationScheduleResource(t *testing.T) {
	const addr = "pam_rotation_schedule.test"
	name := acctest.RandomName("tf-acc-rot")
	sameID := statecheck.CompareValue(compare.ValuesSame())
	var id string
	cronCfg := rotationScheduleConfig(name, `
  cron           = "0 2 * * SUN"
  time_zone      = "Europe/Berlin"
  window_seconds = 7200
  jitter_seconds = 300
  password_policy = {
    length            = 24
    require_digits    = true
    require_symbols   = true
    symbols           = "!#%+-="
    exclude_ambiguous = true
  }
  retry  = { max_attempts = 5 }
  labels = { tier = "db" }`)

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: checkDestroyed(t, "pam_rotation_schedule", func(c *client.Client, id string) error {
			_, err := c.GetRotationSchedule(context.Background(), id)
			return err
		}),
		Steps: []resource.TestStep{
			{
				Config: rotationScheduleConfig(name, `  interval_seconds = 86400`),
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringRegexp(rotationScheduleIDPattern)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("interval_seconds"), knownvalue.Int64Exact(86400)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("cron"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("time_zone"), knownvalue.StringExact("UTC")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("window_seconds"), knownvalue.Int64Exact(api.DefaultRotationWindowSeconds)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("password_policy").AtMapKey("length"), knownvalue.Int64Exact(api.DefaultPasswordLength)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("password_policy").AtMapKey("symbols"), knownvalue.StringExact(api.DefaultPasswordSymbols)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("retry"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"max_attempts":    knownvalue.Int64Exact(api.DefaultRotationRetryAttempts),
						"backoff_seconds": knownvalue.Int64Exact(api.DefaultRotationRetryBackoff),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				},
				Check: resource.TestCheckResourceAttrWith(addr, "id", func(v string) error { id = v; return nil }),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				Config: cronCfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("interval_seconds"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("cron"), knownvalue.StringExact("0 2 * * SUN")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("time_zone"), knownvalue.StringExact("Europe/Berlin")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("password_policy").AtMapKey("require_uppercase"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("retry").AtMapKey("backoff_seconds"), knownvalue.Int64Exact(api.DefaultRotationRetryBackoff)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
				},
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				PreConfig: func() {
					c := acctest.Client(t)
					s, err := c.GetRotationSchedule(context.Background(), id)
					if err != nil {
						t.Fatalf("reading schedule: %v", err)
					}
					in := s.RotationScheduleInput
					in.JitterSeconds = 60
					if _, err := c.UpdateRotationSchedule(context.Background(), id, s.Version, in); err != nil {
						t.Fatalf("out-of-band update: %v", err)
					}
				},
				Config:             cronCfg,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("jitter_seconds"), knownvalue.Int64Exact(300)),
					},
				},
			},
			{
				Config: cronCfg,
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("jitter_seconds"), knownvalue.Int64Exact(300)),
				},
			},
		},
	})
}

// Invalid schedules fail the plan with pamd's own rule, before any request.
func TestAccRotationScheduleResourceInvalidFailsAtPlan(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// The cron parser's own message reaches the user.
				Config:      rotationScheduleConfig("bad-cron", `  cron = "61 2 * * *"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Rotation Schedule.*invalid cron expression.*end of range \(61\) above maximum \(59\)`),
			},
			{
				Config:      rotationScheduleConfig("never", `  cron = "0 0 30 2 *"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)never fires`),
			},
			{
				Config:      rotationScheduleConfig("both", `  cron = "0 2 * * *"`+"\n"+`  interval_seconds = 3600`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Attribute Combination.*Exactly one of these attributes must be configured`),
			},
			{
				Config:      rotationScheduleConfig("neither", `  time_zone = "UTC"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Missing Attribute Configuration.*Exactly one of these attributes must be configured`),
			},
			{
				Config:      rotationScheduleConfig("zone", `  cron = "0 2 * * *"`+"\n"+`  time_zone = "Mars/Olympus"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)time_zone.*IANA`),
			},
			{
				Config: rotationScheduleConfig("policy", `  interval_seconds = 3600
  password_policy = { require_symbols = true, symbols = "" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Rotation Schedule.*password_policy`),
			},
		},
	})
}
