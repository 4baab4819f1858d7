package provider_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// TestAccPIMEndToEnd is the PIM story across every layer: Terraform declares
// the role, the approval policy and alice's eligibility; alice elevates with
// the pamd CLI; bob approves with the CLI; pam_active_elevations shows the
// elevation with its approver and justification; once its time is up (the
// test pamd's clock jumps forward) it is gone; the audit chain verifies.
//
// Not parallel: it moves the shared test pamd's clock.
func TestAccPIMEndToEnd(t *testing.T) {
	suffix := acctest.RandomName("x")[2:]
	alice, bob := "alice-"+suffix, "bob-"+suffix
	roleName := "db-admin-" + suffix
	const scope = "/orgs/acme/projects/payments"
	const justification = "INC-4711 replication lag on payments"
	config := fmt.Sprintf(`
resource "pam_role" "db_admin" {
  name              = %[1]q
  assignable_scopes = [%[2]q]
}

resource "pam_activation_policy" "production" {
  name                     = "production-%[3]s"
  max_activation_seconds   = 3600
  require_justification    = true
  justification_min_length = 10
  eligibility_constraints  = { allow_permanent = true }
  approval = {
    stages = [{
      approvers        = [{ principal_type = "user", principal_id = %[5]q }]
      approvals_needed = 1
    }]
  }
}

resource "pam_eligible_role_assignment" "alice" {
  principal_type       = "user"
  principal_id         = %[4]q
  role_id              = pam_role.db_admin.id
  scope                = %[2]q
  activation_policy_id = pam_activation_policy.production.id
  force_destroy        = true
}

data "pam_active_elevations" "alice" {
  principal_id = %[4]q
  depends_on   = [pam_eligible_role_assignment.alice]
}
`, roleName, scope, suffix, alice, bob)
	elevations := tfjsonpath.New("elevations")

	var aliceToken, bobToken, elevationID string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkEligibilitiesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.pam_active_elevations.alice", elevations, knownvalue.ListSizeExact(0)),
				},
			},
			{
				PreConfig: func() {
					aliceToken = acctest.Token(t, "user:"+alice, nil, []string{api.ServerRoleRequester})
					bobToken = acctest.Token(t, "user:"+bob, nil, []string{api.ServerRoleApprover})
					out := acctest.PamdCLI(t, aliceToken, "elevate", "--role", roleName, "--scope", scope,
						"--duration", "30m", "--justification", justification, "--json")
					var e api.Elevation
					if err := json.Unmarshal([]byte(out), &e); err != nil {
						t.Fatalf("pamd elevate --json printed %q: %v", out, err)
					}
					if e.State != api.StatePendingApproval {
						t.Fatalf("elevation state %q, want %q", e.State, api.StatePendingApproval)
					}
					elevationID = e.ID
					acctest.PamdCLI(t, bobToken, "approve", elevationID, "--reason", "verified INC-4711")
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.pam_active_elevations.alice", elevations, knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"principal_id":  knownvalue.StringExact(alice),
							"scope":         knownvalue.StringExact(scope),
							"justification": knownvalue.StringExact(justification),
							"approvers": knownvalue.ListExact([]knownvalue.Check{
								knownvalue.ObjectPartial(map[string]knownvalue.Check{
									"principal_id": knownvalue.StringExact(bob),
									"decision":     knownvalue.StringExact("approved"),
								}),
							}),
						}),
					})),
				},
			},
			{
				PreConfig: func() {
					acctest.AdvanceClock(t, 31*time.Minute)
					e, err := acctest.Client(t).GetElevation(t.Context(), elevationID)
					if err != nil {
						t.Fatal(err)
					}
					if e.State != api.StateEnded {
						t.Fatalf("after its end the elevation is %q, want %q", e.State, api.StateEnded)
					}
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.pam_active_elevations.alice", elevations, knownvalue.ListSizeExact(0)),
				},
			},
			{
				PreConfig: func() { acctest.VerifyAudit(t) },
				Config:    config,
			},
		},
	})
}
