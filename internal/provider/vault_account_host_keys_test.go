package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/testkeys"
)

func sshAccountConfig(safeName, name, hostKeys string) string {
	return fmt.Sprintf(`
resource "pam_safe" "test" {
  name = %q
}

resource "pam_vault_account" "test" {
  safe_id   = pam_safe.test.id
  name      = %q
  platform  = "unix_ssh"
  address   = "web-1.internal"
  username  = "root"
  host_keys = %s
}

data "pam_vault_account" "test" {
  id = pam_vault_account.test.id
}
`, safeName, name, hostKeys)
}

// TestAccVaultAccountHostKeys: host keys written with a comment (as copied
// from the target's .pub file) are stored by pamd without it, yet the state
// keeps what the configuration says and the next plan is empty; the data
// source shows pamd's normalised form. A bad key fails at plan, naming the
// element (first, so that the post-test destroy runs a valid configuration).
func TestAccVaultAccountHostKeys(t *testing.T) {
	const addr = "pam_vault_account.test"
	key := testkeys.SSHPublicKeyLine(t, "")
	withComment := key + " root@web-1"
	safeName := acctest.RandomName("tf-acc-hostkeys")
	name := acctest.RandomName("web-root")
	cfg := sshAccountConfig(safeName, name, fmt.Sprintf("[%q]", withComment))

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      sshAccountConfig(safeName, name, fmt.Sprintf("[%q, %q]", withComment, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5-not-base64")),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Host Key.*host_keys\[1\] is not an SSH public key`),
			},
			{
				Config:      sshAccountConfig(safeName, name, fmt.Sprintf("[%q, %q]", withComment, key+" other-comment")),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Duplicate Host Key.*host_keys\[1\] is the same key as host_keys\[0\]`),
			},
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("host_keys"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact(withComment),
					})),
					statecheck.ExpectKnownValue("data.pam_vault_account.test", tfjsonpath.New("host_keys"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact(key),
					})),
				},
			},
			{
				// pamd returns the key without its comment: no diff.
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}
