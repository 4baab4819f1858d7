package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/config"
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

var vaultAccountIDPattern = regexp.MustCompile(`^acct_[0-9A-Za-z]+$`)

// vaultAccountConfig renders a safe and a PostgreSQL account whose secret
// comes from an ephemeral variable, so the secret is in no file, no plan
// variable and (the point of the tests) no state. extra is added to the
// account's body.
func vaultAccountConfig(safeName, name string, secretVersion int, extra string) string {
	return fmt.Sprintf(`
variable "secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "pam_safe" "test" {
  name = %q
}

resource "pam_vault_account" "test" {
  safe_id           = pam_safe.test.id
  name              = %q
  platform          = "postgresql"
  address           = "pg-payments.internal"
  port              = 5432
  username          = "pgadmin"
  secret_wo         = var.secret
  secret_wo_version = %d
  checkout_policy = {
    allow_retrieve       = true
    exclusive            = true
    max_duration_seconds = 1800
  }
%s
}

data "pam_vault_account" "by_name" {
  safe_id = pam_safe.test.id
  name    = pam_vault_account.test.name
}
`, safeName, name, secretVersion, extra)
}

func secretVar(s string) config.Variables {
	return config.Variables{"secret": config.StringVariable(s)}
}

// serverSecret reads the account's secret the way a person would: an admin
// checkout, a read of its secret, a check-in.
func serverSecret(t *testing.T, accountID string) (string, int64, error) {
	t.Helper()
	c := acctest.Client(t)
	ctx := context.Background()
	chk, err := c.CreateCheckout(ctx, accountID, api.CheckoutRequest{Justification: "acceptance test"})
	if err != nil {
		return "", 0, fmt.Errorf("checking out %s: %w", accountID, err)
	}
	defer func() { _, _ = c.CheckinCheckout(ctx, chk.ID, "acceptance test done") }()
	sec, err := c.GetCheckoutSecret(ctx, chk.ID)
	if err != nil {
		return "", 0, fmt.Errorf("reading the secret of %s: %w", chk.ID, err)
	}
	return sec.Secret, sec.SecretVersion, nil
}

// expectServerSecret checks what pamd holds for the account in state.
func expectServerSecret(t *testing.T, addr, want string, wantVersion int64) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs := s.RootModule().Resources[addr]
		if rs == nil {
			return fmt.Errorf("%s not in state", addr)
		}
		got, version, err := serverSecret(t, rs.Primary.ID)
		if err != nil {
			return err
		}
		if got != want || version != wantVersion {
			return fmt.Errorf("pamd holds secret version %d (matches the configured secret: %v), want version %d", version, got == want, wantVersion)
		}
		return nil
	}
}

// TestAccVaultAccountResource is the lifecycle of an account with a
// write-only secret: the secret is in no state and no plan, bumping
// secret_wo_version updates in place and moves pamd's secret_version by one,
// a rotation outside Terraform leaves the plan empty, drift of a managed
// attribute shows and is repaired, destroy removes the account.
func TestAccVaultAccountResource(t *testing.T) {
	acctest.SkipUnless(t, acctest.FeatureWriteOnly)
	const addr = "pam_vault_account.test"
	const (
		secret1 = "tf-acc-S3cret-first-7c41e9"
		secret2 = "tf-acc-S3cret-second-0d2b5a"
		secret3 = "tf-acc-S3cret-rotated-outside-94fe11"
	)
	safeName := acctest.RandomName("tf-acc-vault")
	name := acctest.RandomName("pg-admin")
	sameID := statecheck.CompareValue(compare.ValuesSame())
	var accountID string
	noSecret := func(secrets ...string) ([]plancheck.PlanCheck, []statecheck.StateCheck) {
		var pc []plancheck.PlanCheck
		var sc []statecheck.StateCheck
		for _, s := range secrets {
			pc = append(pc, expectSecretAbsentFromPlan(s))
			sc = append(sc, expectSecretAbsentFromState(s))
		}
		return pc, sc
	}
	planNoSecret, stateNoSecret := noSecret(secret1, secret2, secret3)
	step1 := vaultAccountConfig(safeName, name, 1, "")
	step2 := vaultAccountConfig(safeName, name+"-renamed", 2, `  labels = { env = "prod" }`)

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: checkDestroyed(t, "pam_vault_account", func(c *client.Client, id string) error {
			_, err := c.GetVaultAccount(context.Background(), id)
			return err
		}),
		Steps: []resource.TestStep{
			{
				Config:          step1,
				ConfigVariables: secretVar(secret1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: append([]plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}, planNoSecret...),
				},
				ConfigStateChecks: append([]statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringRegexp(vaultAccountIDPattern)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_wo_version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_type"), knownvalue.StringExact(api.SecretTypePassword)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("management_mode"), knownvalue.StringExact(api.ManagementManual)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("checkout_policy"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"exclusive":                knownvalue.Bool(true),
						"allow_retrieve":           knownvalue.Bool(true),
						"max_duration_seconds":     knownvalue.Int64Exact(1800),
						"default_duration_seconds": knownvalue.Int64Exact(1800), // min(3600, max), as pamd normalises it
						"rotate_on_checkin":        knownvalue.Bool(false),
						"require_justification":    knownvalue.Bool(false),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("checked_out_by"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("rotation_schedule_id"), knownvalue.Null()),
					statecheck.ExpectKnownValue("data.pam_vault_account.by_name", tfjsonpath.New("id"), knownvalue.StringRegexp(vaultAccountIDPattern)),
					statecheck.ExpectKnownValue("data.pam_vault_account.by_name", tfjsonpath.New("port"), knownvalue.Int64Exact(5432)),
				}, stateNoSecret...),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith(addr, "id", func(v string) error { accountID = v; return nil }),
					expectServerSecret(t, addr, secret1, 1),
				),
			},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"secret_wo_version"},
				// The import reuses the previous step's configuration (a
				// Config here would lose the harness's provider block).
				ConfigVariables: secretVar(secret1),
			},
			// Rename, add a label and roll the secret: one in-place update.
			{
				Config:          step2,
				ConfigVariables: secretVar(secret2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: append([]plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("secret_version")),
					}, planNoSecret...),
				},
				ConfigStateChecks: append([]statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("name"), knownvalue.StringExact(name+"-renamed")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_wo_version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_version"), knownvalue.Int64Exact(2)),
				}, stateNoSecret...),
				Check: expectServerSecret(t, addr, secret2, 2),
			},
			// A changed secret_wo without a version bump is invisible to
			// Terraform: nothing is planned and pamd keeps the secret.
			{
				Config:          step2,
				ConfigVariables: secretVar(secret2 + "-not-sent"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: expectServerSecret(t, addr, secret2, 2),
			},
			// pamd (or an operator) sets a new secret outside Terraform: the
			// refresh shows the new secret_version and the plan stays empty.
			{
				PreConfig: func() {
					c := acctest.Client(t)
					a, err := c.GetVaultAccount(context.Background(), accountID)
					if err != nil {
						t.Fatalf("reading account: %v", err)
					}
					in := a.VaultAccountInput
					in.Secret = secret3
					if _, err := c.UpdateVaultAccount(context.Background(), accountID, a.Version, in); err != nil {
						t.Fatalf("out-of-band secret change: %v", err)
					}
				},
				Config:          step2,
				ConfigVariables: secretVar(secret2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: append([]plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}, planNoSecret...),
				},
				ConfigStateChecks: append([]statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_version"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_wo_version"), knownvalue.Int64Exact(2)),
				}, stateNoSecret...),
				Check: expectServerSecret(t, addr, secret3, 3),
			},
			// A managed attribute changed outside Terraform is drift: the
			// plan puts it back, without resending the secret.
			{
				PreConfig: func() {
					c := acctest.Client(t)
					a, err := c.GetVaultAccount(context.Background(), accountID)
					if err != nil {
						t.Fatalf("reading account: %v", err)
					}
					in := a.VaultAccountInput
					in.Username = "someone-else"
					if _, err := c.UpdateVaultAccount(context.Background(), accountID, a.Version, in); err != nil {
						t.Fatalf("out-of-band update: %v", err)
					}
				},
				Config:             step2,
				ConfigVariables:    secretVar(secret2),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("username"), knownvalue.StringExact("pgadmin")),
					},
				},
			},
			{
				Config:          step2,
				ConfigVariables: secretVar(secret2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("username"), knownvalue.StringExact("pgadmin")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_version"), knownvalue.Int64Exact(3)),
				},
				// The repair did not resend the (unchanged-version) secret.
				Check: expectServerSecret(t, addr, secret3, 3),
			},
		},
	})
}

// TestAccVaultAccountResourceIdentity: identity and import by identity.
func TestAccVaultAccountResourceIdentity(t *testing.T) {
	const addr = "pam_vault_account.test"
	cfg := fmt.Sprintf(`
resource "pam_safe" "test" {
  name = %q
}

resource "pam_vault_account" "test" {
  safe_id  = pam_safe.test.id
  name     = "api-key"
  platform = "generic"
  username = "ci"
  secret_type = "token"
}
`, acctest.RandomName("tf-acc-vault-ident"))
	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureIdentity)
		},
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectIdentity(addr, map[string]knownvalue.Check{"id": knownvalue.StringRegexp(vaultAccountIDPattern)}),
					// No secret was ever set.
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("secret_version"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("address"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("port"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("checkout_policy").AtMapKey("default_duration_seconds"), knownvalue.Int64Exact(3600)),
				},
			},
			{ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithResourceIdentity},
			{ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithID},
		},
	})
}

// Platform rules are checked at plan time, before anything is created.
func TestAccVaultAccountResourceInvalidValuesFailAtPlan(t *testing.T) {
	account := func(body string) string {
		return fmt.Sprintf(`
resource "pam_vault_account" "test" {
  safe_id  = "safe_01JB8X4M0Q3K7Z9V6W2D5R1T8N"
  name     = "x"
  username = "u"
%s
}
`, body)
	}
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      account(`  platform = "postgresql"` + "\n" + `  address = "db"` + "\n" + `  secret_type = "ssh_key"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Secret Type Not Accepted by Platform.*postgresql does not accept secret type ssh_key`),
			},
			{
				Config:      account(`  platform = "unix_ssh"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Missing Address.*unix_ssh`),
			},
			{
				Config:      account(`  platform = "generic"` + "\n" + `  port = 70000`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)port.*between 1 and 65535`),
			},
			{
				Config: account(`  platform = "generic"` + "\n" +
					`  checkout_policy = { default_duration_seconds = 7200, max_duration_seconds = 3600 }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid Checkout Policy.*longer than\s+max_duration_seconds`),
			},
			{
				Config: account(`  platform = "postgresql"` + "\n" + `  address = "db"` + "\n" +
					`  host_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHTPDQJ8LIfKFyBZG7R+aBeQo1kkTx0ctq6XrDPS/h67"]`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Host Keys Need Platform unix_ssh.*postgresql account`),
			},
		},
	})
}
