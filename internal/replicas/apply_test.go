package replicas_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

// TestMain makes plain `go test` safe anywhere and, with TF_ACC set, finds
// the OpenTofu (or Terraform) CLI for the apply test.
func TestMain(m *testing.M) {
	acctest.TestMain(m)
}

// TestAccApplyAcrossReplicas: an OpenTofu apply of 40 roles and 10 safes
// through the round-robin proxy to three replicas, the leader closed after
// the 30th request. The apply succeeds, the next plan is empty (the test
// framework checks it), every object exists once, and the audit chain is
// intact.
func TestAccApplyAcrossReplicas(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (and TF_ACC_TERRAFORM_PATH) to run it")
	}
	c := startCluster(t, replicas)
	leader := c.waitOneLeader()
	var once sync.Once
	c.lb.hook = func(n int64) {
		if n == 30 {
			once.Do(func() { go c.kill(leader) })
		}
	}
	const roles, safes = 40, 10
	config := fmt.Sprintf(`
provider "pam" {
  endpoint = %q
  token    = %q
}

resource "pam_role" "r" {
  count       = %d
  name        = "tofu-role-${count.index}"
  description = "applied across replicas"
}

resource "pam_safe" "s" {
  count = %d
  name  = "tofu-safe-${count.index}"
}
`, c.lb.URL(), adminToken, roles, safes)
	cl := c.client()
	ctx := context.Background()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			Check: func(*terraform.State) error {
				if !c.isClosed(leader) {
					return fmt.Errorf("the leader was not killed during the apply (%d requests)", c.lb.total.Load())
				}
				rs, err := client.All(ctx, func(tok string) (*api.Page[api.Role], error) {
					return cl.ListRoles(ctx, api.RoleListParams{PageToken: tok, PageSize: 100})
				})
				if err != nil {
					return err
				}
				seen := map[string]bool{}
				for _, r := range rs {
					if seen[r.Name] {
						return fmt.Errorf("role %s twice", r.Name)
					}
					seen[r.Name] = true
				}
				if len(rs) != roles {
					return fmt.Errorf("%d roles, want %d", len(rs), roles)
				}
				ss, err := client.All(ctx, func(tok string) (*api.Page[api.Safe], error) {
					return cl.ListSafes(ctx, api.SafeListParams{PageToken: tok, PageSize: 100})
				})
				if err != nil {
					return err
				}
				if len(ss) != safes {
					return fmt.Errorf("%d safes, want %d", len(ss), safes)
				}
				created := 0
				for _, ev := range c.auditEvents() {
					if strings.HasSuffix(ev.Action, ".created") && (ev.Target.Type == "role" || ev.Target.Type == "safe") {
						created++
					}
				}
				if created != roles+safes {
					return fmt.Errorf("%d create events for roles and safes, want %d", created, roles+safes)
				}
				c.verifyAudit()
				return nil
			},
		}},
	})
	t.Logf("apply through the proxy: %d requests, served %d/%d/%d; replica %d closed mid-apply",
		c.lb.total.Load(), c.lb.served[0].Load(), c.lb.served[1].Load(), c.lb.served[2].Load(), leader)
}
