package provider_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
)

// TestAccSessionsDataSource reads sessions seeded into pamd's store (the
// gateway creates them; the API cannot) through every filter. Account,
// policy and principals are unique to this test, so parallel tests cannot
// add rows to its answers.
func TestAccSessionsDataSource(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	accountA := ids.New(api.PrefixVaultAccount, now)
	accountB := ids.New(api.PrefixVaultAccount, now.Add(time.Millisecond))
	policy := ids.New(api.PrefixSessionPolicy, now)
	alice := acctest.RandomName("alice")
	bob := acctest.RandomName("bob")
	var active, other api.Session

	config := fmt.Sprintf(`
data "pam_sessions" "by_account" {
  vault_account_id = %[1]q
}

data "pam_sessions" "terminated" {
  vault_account_id = %[1]q
  state            = "terminated"
}

data "pam_sessions" "by_principal" {
  principal_id = "user:%[2]s"
}

data "pam_sessions" "by_policy_since" {
  session_policy_id = %[3]q
  started_after     = %[4]q
}

data "pam_sessions" "none" {
  vault_account_id = %[1]q
  principal_id     = "user:%[2]s"
  state            = "terminated"
}
`, accountA, alice, policy, now.Add(-90*time.Minute).Format(time.RFC3339))

	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			ended := now.Add(-30 * time.Minute)
			active = acctest.SeedSession(t, api.Session{
				ID: ids.New(api.PrefixSession, now.Add(-2*time.Hour)), State: api.SessionActive, VaultAccountID: accountA,
				Principal: api.Actor{Type: "user", ID: alice}, SessionPolicyID: policy, PolicyVersion: 3, ClientIP: "192.0.2.10",
				StartedAt: now.Add(-2 * time.Hour),
			})
			acctest.SeedSession(t, api.Session{
				ID: ids.New(api.PrefixSession, now.Add(-time.Hour)), State: api.SessionTerminated, VaultAccountID: accountA,
				Principal: api.Actor{Type: "user", ID: bob}, SessionPolicyID: policy, PolicyVersion: 3,
				StartedAt: now.Add(-time.Hour), EndedAt: &ended, EndReason: api.SessionEndTerminatedByAdmin,
				EndedBy: &api.Actor{Type: "user", ID: "security-admin"}, RecordingID: "rec_01JB8X4M0Q3K7Z9V6W2D5R1T8N",
				CommandFilterHits: []api.CommandFilterHit{
					{At: now.Add(-50 * time.Minute), Command: "sudo su", RuleIndex: 1, Action: api.CommandActionTerminateSession},
					{At: now.Add(-55 * time.Minute), Command: "iptables -L", RuleIndex: 2, Action: api.CommandActionAlert},
				},
			})
			other = acctest.SeedSession(t, api.Session{
				ID: ids.New(api.PrefixSession, now.Add(-10*time.Minute)), State: api.SessionActive, VaultAccountID: accountB,
				Principal: api.Actor{Type: "user", ID: alice}, SessionPolicyID: policy, StartedAt: now.Add(-10 * time.Minute),
			})
		},
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			// Invalid filters fail before any request (first: the destroy
			// after the last step needs a valid configuration).
			{
				Config:      `data "pam_sessions" "x" { state = "sleeping" }`,
				ExpectError: regexp.MustCompile(`(?s)state.*value must be one of`),
			},
			{
				Config:      `data "pam_sessions" "x" { principal_id = "alice" }`,
				ExpectError: regexp.MustCompile(`(?s)principal_id.*must be written type:id`),
			},
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					// Both sessions on the account, in start order.
					statecheck.ExpectKnownValue("data.pam_sessions.by_account", tfjsonpath.New("sessions"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"id":                       knownvalue.StringFunc(func(v string) error { return want(v, active.ID) }),
							"state":                    knownvalue.StringExact("active"),
							"principal":                knownvalue.StringExact("user:" + alice),
							"vault_account_id":         knownvalue.StringExact(accountA),
							"checkout_id":              knownvalue.Null(),
							"session_policy_id":        knownvalue.StringExact(policy),
							"policy_version":           knownvalue.Int64Exact(3),
							"protocol":                 knownvalue.StringExact("ssh"),
							"client_ip":                knownvalue.StringExact("192.0.2.10"),
							"justification":            knownvalue.StringExact(""),
							"started_at":               knownvalue.StringExact(now.Add(-2 * time.Hour).Format(time.RFC3339)),
							"expires_at":               knownvalue.NotNull(),
							"last_activity_at":         knownvalue.Null(),
							"ended_at":                 knownvalue.Null(),
							"end_reason":               knownvalue.Null(),
							"ended_by":                 knownvalue.Null(),
							"recording_id":             knownvalue.Null(),
							"command_filter_hit_count": knownvalue.Int64Exact(0),
						}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"state":                    knownvalue.StringExact("terminated"),
							"principal":                knownvalue.StringExact("user:" + bob),
							"ended_at":                 knownvalue.StringExact(now.Add(-30 * time.Minute).Format(time.RFC3339)),
							"end_reason":               knownvalue.StringExact("terminated_by_admin"),
							"ended_by":                 knownvalue.StringExact("user:security-admin"),
							"recording_id":             knownvalue.StringExact("rec_01JB8X4M0Q3K7Z9V6W2D5R1T8N"),
							"command_filter_hit_count": knownvalue.Int64Exact(2),
						}),
					})),
					statecheck.ExpectKnownValue("data.pam_sessions.terminated", tfjsonpath.New("sessions"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"principal": knownvalue.StringExact("user:" + bob)}),
					})),
					// Alice's sessions across both accounts.
					statecheck.ExpectKnownValue("data.pam_sessions.by_principal", tfjsonpath.New("sessions"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"vault_account_id": knownvalue.StringExact(accountA)}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"vault_account_id": knownvalue.StringExact(accountB),
							"id":               knownvalue.StringFunc(func(v string) error { return want(v, other.ID) }),
						}),
					})),
					// Started in the last 90 minutes under the policy: not the 2-hour-old one.
					statecheck.ExpectKnownValue("data.pam_sessions.by_policy_since", tfjsonpath.New("sessions"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"principal": knownvalue.StringExact("user:" + bob)}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"vault_account_id": knownvalue.StringExact(accountB)}),
					})),
					statecheck.ExpectKnownValue("data.pam_sessions.none", tfjsonpath.New("sessions"), knownvalue.ListSizeExact(0)),
				},
			},
		},
	})
}

func want(got, expected string) error {
	if got != expected {
		return fmt.Errorf("got %q, want %q", got, expected)
	}
	return nil
}

func TestAccSessionPolicyDataSource(t *testing.T) {
	name := acctest.RandomName("tf-acc-sesp-ds")
	config := sessionPolicyConfig(name, sessionPolicyFullBody(false, "deny")) + `
data "pam_session_policy" "by_name" {
  name = pam_session_policy.test.name
}

data "pam_session_policy" "by_id" {
  id = pam_session_policy.test.id
}
`
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs("pam_session_policy.test", tfjsonpath.New("command_filter"),
						"data.pam_session_policy.by_name", tfjsonpath.New("command_filter"), compare.ValuesSame()),
					statecheck.CompareValuePairs("pam_session_policy.test", tfjsonpath.New("recording"),
						"data.pam_session_policy.by_id", tfjsonpath.New("recording"), compare.ValuesSame()),
					statecheck.CompareValuePairs("pam_session_policy.test", tfjsonpath.New("id"),
						"data.pam_session_policy.by_name", tfjsonpath.New("id"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("data.pam_session_policy.by_id", tfjsonpath.New("name"), knownvalue.StringExact(name)),
					statecheck.ExpectKnownValue("data.pam_session_policy.by_name", rulePath(2, "pattern"), knownvalue.StringExact("iptables *")),
					statecheck.ExpectKnownValue("data.pam_session_policy.by_id", tfjsonpath.New("mfa_max_age_seconds"),
						knownvalue.Int64Exact(api.DefaultSessionMFAMaxAgeSeconds)),
				},
			},
			{
				Config:      `data "pam_session_policy" "x" { name = "no-such-session-policy-anywhere" }`,
				ExpectError: regexp.MustCompile(`Session Policy Not Found`),
			},
		},
	})
}
