package provider_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/faultproxy"
)

// Sizes of the fault-injection configuration: 200 resources of three types.
const (
	faultRoles       = 80
	faultPolicies    = 60
	faultEligibility = 60
	faultRate        = 0.20
	faultSeed        = 6
)

func faultConfig(prefix, description string) string {
	return `
provider "pam" {
  max_retries             = 10
  request_timeout_seconds = 30
}
` + acctest.PIMConfig(prefix, faultRoles, faultPolicies, faultEligibility, description)
}

// TestAccFaultInjectionConverges applies, re-plans, updates in place and
// destroys 200 resources through a proxy that injects about 20% faults — 429s
// and 503s with Retry-After, resets, delays and, for writes, 503s and resets
// after the server committed — and checks after each apply that pamd holds
// exactly one object per resource (a retried create is deduplicated by its
// Idempotency-Key, not repeated), that state matches pamd object for object
// and version for version, and that the next plan is empty.
//
// It is not parallel: it points PAM_ENDPOINT at the proxy for its duration.
func TestAccFaultInjectionConverges(t *testing.T) {
	skipUnlessAcc(t)
	acctest.PreCheck(t)

	proxy, err := faultproxy.New(os.Getenv(acctest.EnvEndpoint), faultproxy.Uniform(faultSeed, faultRate))
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	// Read the server directly, before the endpoint moves to the proxy.
	direct := acctest.Client(t)
	t.Setenv(acctest.EnvEndpoint, proxy.URL)

	prefix := acctest.RandomName("tf-acc-fault")
	cfg := faultConfig(prefix, "fault injection")
	updated := faultConfig(prefix, "fault injection, updated")
	defer func() { t.Logf("fault proxy: %s", proxy.Stats()) }()

	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			return checkFaultObjects(direct, prefix, 0, 0, 0)
		},
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("pam_role.r.79", "name", prefix+"-role-79"),
					func(*terraform.State) error {
						t.Logf("after apply: %s", proxy.Stats())
						return nil
					},
					checkStateMatchesServer(direct, prefix),
				),
			},
			// Refresh and plan again, still through faults: nothing to do.
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			// Update every role in place: conditional PUTs (If-Match) whose
			// response may be lost after the server applied them.
			{
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("pam_role.r[0]", plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("pam_role.r.79", "description", "fault injection, updated"),
					func(*terraform.State) error {
						t.Logf("after update: %s", proxy.Stats())
						return nil
					},
					checkStateMatchesServer(direct, prefix),
				),
			},
			{
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
	st := proxy.Stats()
	if st.Total() == 0 || st.Faults[faultproxy.AfterCommit503]+st.Faults[faultproxy.AfterCommitReset] == 0 {
		t.Fatalf("the proxy injected too few faults to prove anything: %s", st)
	}
}

// checkFaultObjects counts, on the server itself, the objects whose names
// start with prefix, and fails on a duplicate or a wrong count.
func checkFaultObjects(c *client.Client, prefix string, roles, policies, eligibility int) error {
	_, err := faultObjects(c, prefix, roles, policies, eligibility)
	return err
}

// faultObjects is checkFaultObjects that also returns the version of every
// object it counted, by id.
func faultObjects(c *client.Client, prefix string, roles, policies, eligibility int) (map[string]int64, error) {
	ctx := context.Background()
	seen := map[string]int{}
	versions := map[string]int64{}

	for tok := ""; ; {
		page, err := c.ListRoles(ctx, api.RoleListParams{PageSize: 200, PageToken: tok})
		if err != nil {
			return nil, err
		}
		for _, r := range page.Items {
			if strings.HasPrefix(r.Name, prefix+"-") {
				seen["role "+r.Name]++
				versions[r.ID] = r.Version
			}
		}
		if tok = page.NextPageToken; tok == "" {
			break
		}
	}
	for tok := ""; ; {
		page, err := c.ListActivationPolicies(ctx, api.ActivationPolicyListParams{PageSize: 200, PageToken: tok})
		if err != nil {
			return nil, err
		}
		for _, p := range page.Items {
			if strings.HasPrefix(p.Name, prefix+"-") {
				seen["policy "+p.Name]++
				versions[p.ID] = p.Version
			}
		}
		if tok = page.NextPageToken; tok == "" {
			break
		}
	}
	for tok := ""; ; {
		page, err := c.ListEligibleRoleAssignments(ctx, api.EligibleRoleAssignmentListParams{PageSize: 200, PageToken: tok})
		if err != nil {
			return nil, err
		}
		for _, e := range page.Items {
			if strings.HasPrefix(e.PrincipalID, prefix+"-") {
				seen["eligibility "+e.PrincipalID]++
				versions[e.ID] = e.Version
			}
		}
		if tok = page.NextPageToken; tok == "" {
			break
		}
	}

	count := map[string]int{}
	for k, n := range seen {
		if n != 1 {
			return nil, fmt.Errorf("pamd holds %d copies of %s: a retried create was not deduplicated", n, k)
		}
		count[strings.SplitN(k, " ", 2)[0]]++
	}
	if count["role"] != roles || count["policy"] != policies || count["eligibility"] != eligibility {
		return nil, fmt.Errorf("pamd holds %d roles, %d policies, %d eligibilities with prefix %s; want %d, %d, %d",
			count["role"], count["policy"], count["eligibility"], prefix, roles, policies, eligibility)
	}
	return versions, nil
}

// checkStateMatchesServer: every resource in state names an object pamd
// holds, at the version pamd holds, and pamd holds no object state lacks.
func checkStateMatchesServer(c *client.Client, prefix string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		versions, err := faultObjects(c, prefix, faultRoles, faultPolicies, faultEligibility)
		if err != nil {
			return err
		}
		inState := 0
		for addr, rs := range s.RootModule().Resources {
			if rs.Type != "pam_role" && rs.Type != "pam_activation_policy" && rs.Type != "pam_eligible_role_assignment" {
				continue
			}
			inState++
			v, ok := versions[rs.Primary.ID]
			if !ok {
				return fmt.Errorf("%s (%s) is in state but not on pamd", addr, rs.Primary.ID)
			}
			if got := rs.Primary.Attributes["version"]; got != fmt.Sprint(v) {
				return fmt.Errorf("%s (%s): state has version %s, pamd %d", addr, rs.Primary.ID, got, v)
			}
		}
		if inState != len(versions) {
			return fmt.Errorf("state holds %d resources, pamd %d objects", inState, len(versions))
		}
		return nil
	}
}
