package provider_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

// requesterClient is an API client acting as subject (for example
// "user:alice") with the requester server role.
func requesterClient(t *testing.T, subject string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{
		Endpoint:  os.Getenv(acctest.EnvEndpoint),
		Token:     acctest.Token(t, subject, nil, []string{api.ServerRoleRequester}),
		UserAgent: "terraform-provider-pam-acctest",
	})
	if err != nil {
		t.Fatalf("building requester client: %v", err)
	}
	return c
}

// The eligibility is applied by Terraform, the elevation is requested through
// the API as the eligible user, and both data sources show the result.
func TestAccActiveElevationsDataSource(t *testing.T) {
	suffix := acctest.RandomName("x")[2:]
	principal := "alice-" + suffix
	var roleID string
	base := eligibilityConfig(suffix, principal, "/orgs/acme/projects/payments", "force_destroy = true")
	withData := base + fmt.Sprintf(`
data "pam_active_elevations" "mine" {
  principal_id = %[1]q
  depends_on   = [pam_eligible_role_assignment.test]
}

data "pam_active_elevations" "elsewhere" {
  principal_id = %[1]q
  scope_prefix = "/orgs/beta"
  depends_on   = [pam_eligible_role_assignment.test]
}

data "pam_eligible_role_assignments" "mine" {
  principal_id = %[1]q
  statuses     = ["active"]
  depends_on   = [pam_eligible_role_assignment.test]
}
`, principal)

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkEligibilitiesDestroyed(t),
		Steps: []resource.TestStep{
			{
				Config: base,
				Check:  resource.TestCheckResourceAttrWith("pam_role.r", "id", func(v string) error { roleID = v; return nil }),
			},
			{
				PreConfig: func() {
					_, err := requesterClient(t, "user:"+principal).RequestElevation(context.Background(), api.ElevationRequest{
						RoleID:        roleID,
						Scope:         "/orgs/acme/projects/payments",
						Justification: "INC-4711 failover of payments-db",
						Ticket:        &api.Ticket{System: "jira", Number: "INC-4711"},
					})
					if err != nil {
						t.Fatalf("requesting the elevation as %s: %v", principal, err)
					}
				},
				Config: withData,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.pam_active_elevations.mine", tfjsonpath.New("elevations"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"id":             knownvalue.StringRegexp(regexp.MustCompile(`^elv_`)),
							"principal_type": knownvalue.StringExact("user"),
							"principal_id":   knownvalue.StringExact(principal),
							"scope":          knownvalue.StringExact("/orgs/acme/projects/payments"),
							"justification":  knownvalue.StringExact("INC-4711 failover of payments-db"),
							"ticket": knownvalue.ObjectExact(map[string]knownvalue.Check{
								"system": knownvalue.StringExact("jira"), "number": knownvalue.StringExact("INC-4711"),
							}),
							"requested_by": knownvalue.StringExact("user:" + principal),
							"approvers":    knownvalue.ListSizeExact(0),
							"started_at":   knownvalue.NotNull(),
							"ends_at":      knownvalue.NotNull(),
						}),
					})),
					statecheck.ExpectKnownValue("data.pam_active_elevations.elsewhere", tfjsonpath.New("elevations"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue("data.pam_eligible_role_assignments.mine", tfjsonpath.New("assignments"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"principal_id":           knownvalue.StringExact(principal),
							"status":                 knownvalue.StringExact("active"),
							"active_elevation_count": knownvalue.Int64Exact(1),
						}),
					})),
				},
				Check: func(s *terraform.State) error {
					ds := s.RootModule().Resources["data.pam_active_elevations.mine"]
					if ds == nil {
						return fmt.Errorf("data source missing from state")
					}
					if got := ds.Primary.Attributes["elevations.0.role_id"]; got != roleID {
						return fmt.Errorf("elevations.0.role_id = %q, want %q", got, roleID)
					}
					if ds.Primary.Attributes["elevations.0.remaining_seconds"] == "0" {
						return fmt.Errorf("remaining_seconds is 0 for a fresh elevation")
					}
					return nil
				},
			},
		},
	})
}
