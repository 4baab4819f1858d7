package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// checkoutFixture makes a safe and an account with a known secret through
// the admin API and removes them when the test ends.
func checkoutFixture(t *testing.T, policy api.CheckoutPolicy, secret string) (*api.Safe, *api.VaultAccount) {
	t.Helper()
	c := acctest.Client(t)
	ctx := context.Background()
	safe, err := c.CreateSafe(ctx, api.SafeInput{Name: acctest.RandomName("tf-acc-chk")})
	if err != nil {
		t.Fatalf("creating safe: %v", err)
	}
	acct, err := c.CreateVaultAccount(ctx, api.VaultAccountInput{
		Name: "pg-app", SafeID: safe.ID, Platform: api.PlatformPostgreSQL, Address: "pg.internal", Port: 5433,
		Username: "app", SecretType: api.SecretTypePassword, Secret: secret, CheckoutPolicy: policy,
	})
	if err != nil {
		t.Fatalf("creating account: %v", err)
	}
	t.Cleanup(func() {
		_ = c.DeleteVaultAccount(context.Background(), acct.ID, 0)
		_ = c.DeleteSafe(context.Background(), safe.ID, 0)
	})
	return safe, acct
}

// checkedIn asserts, through the API, that the checkout Open made (its id is
// in the echo state) was checked in by Close.
func checkedIn(t *testing.T, addr string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs := s.RootModule().Resources[addr]
		if rs == nil {
			return fmt.Errorf("%s missing from state", addr)
		}
		id := rs.Primary.Attributes["data.checkout_id"]
		if id == "" {
			return fmt.Errorf("%s has no data.checkout_id", addr)
		}
		chk, err := acctest.Client(t).GetCheckout(context.Background(), id)
		if err != nil {
			return fmt.Errorf("reading checkout %s: %w", id, err)
		}
		if chk.State != api.CheckoutCheckedIn {
			return fmt.Errorf("checkout %s is %s after the run, want %s", id, chk.State, api.CheckoutCheckedIn)
		}
		return nil
	}
}

// TestAccCredentialCheckoutEphemeralResource: the ephemeral checkout hands the
// secret to another provider for the run and checks the account in on close,
// by id and by safe and name.
func TestAccCredentialCheckoutEphemeralResource(t *testing.T) {
	skipUnlessAcc(t)
	const secret = "tf-acc-ephemeral-S3cret-5be0"
	safe, acct := checkoutFixture(t, api.CheckoutPolicy{Exclusive: true, AllowRetrieve: true, MaxDurationSeconds: 3600}, secret)

	byID := fmt.Sprintf(`
ephemeral "pam_credential_checkout" "db" {
  account_id       = %q
  duration_seconds = 600
  justification    = "terraform run"
}

provider "echo" {
  data = ephemeral.pam_credential_checkout.db
}

resource "echo" "checkout" {}
`, acct.ID)
	byName := fmt.Sprintf(`
ephemeral "pam_credential_checkout" "db" {
  safe_id      = %q
  account_name = %q
}

provider "echo" {
  data = ephemeral.pam_credential_checkout.db
}

resource "echo" "by_name" {}
`, safe.ID, acct.Name)
	data := func(key string) tfjsonpath.Path { return tfjsonpath.New("data").AtMapKey(key) }

	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureEphemeral)
		},
		ProtoV6ProviderFactories: echoFactories(),
		Steps: []resource.TestStep{
			{
				Config: byID,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("echo.checkout", data("secret"), knownvalue.StringExact(secret)),
					statecheck.ExpectKnownValue("echo.checkout", data("checkout_id"), knownvalue.StringRegexp(regexp.MustCompile(`^chk_`))),
					statecheck.ExpectKnownValue("echo.checkout", data("account_id"), knownvalue.StringExact(acct.ID)),
					statecheck.ExpectKnownValue("echo.checkout", data("username"), knownvalue.StringExact("app")),
					statecheck.ExpectKnownValue("echo.checkout", data("address"), knownvalue.StringExact("pg.internal")),
					statecheck.ExpectKnownValue("echo.checkout", data("port"), knownvalue.Int64Exact(5433)),
					statecheck.ExpectKnownValue("echo.checkout", data("secret_type"), knownvalue.StringExact(api.SecretTypePassword)),
					statecheck.ExpectKnownValue("echo.checkout", data("secret_version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("echo.checkout", data("duration_seconds"), knownvalue.Int64Exact(600)),
					statecheck.ExpectKnownValue("echo.checkout", data("expires_at"), knownvalue.NotNull()),
				},
				// The account is exclusive: had Close not checked in, the
				// next step's checkout would fail with account_locked.
				Check: checkedIn(t, "echo.checkout"),
			},
			{
				Config: byName,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("echo.by_name", data("secret"), knownvalue.StringExact(secret)),
					statecheck.ExpectKnownValue("echo.by_name", data("account_id"), knownvalue.StringExact(acct.ID)),
					// The account's default duration (min(3600, max)).
					statecheck.ExpectKnownValue("echo.by_name", data("duration_seconds"), knownvalue.Int64Exact(3600)),
				},
				Check: checkedIn(t, "echo.by_name"),
			},
		},
	})
}

// A connect-only account is checked out but its secret is refused; the run
// fails with a clear message and the checkout is checked in again.
func TestAccCredentialCheckoutEphemeralResourceConnectOnly(t *testing.T) {
	skipUnlessAcc(t)
	_, acct := checkoutFixture(t, api.CheckoutPolicy{Exclusive: true}, "tf-acc-connect-only-1d9c")
	cfg := fmt.Sprintf(`
ephemeral "pam_credential_checkout" "db" {
  account_id = %q
}

provider "echo" {
  data = ephemeral.pam_credential_checkout.db
}

resource "echo" "checkout" {}
`, acct.ID)
	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureEphemeral)
		},
		ProtoV6ProviderFactories: echoFactories(),
		Steps: []resource.TestStep{{
			Config:      cfg,
			ExpectError: regexp.MustCompile(`(?s)Secret Retrieval Not Allowed.*allow_retrieve`),
		}, {
			// Nothing is left checked out: an exclusive account is free again.
			PreConfig: func() {
				page, err := acctest.Client(t).ListCheckouts(context.Background(), api.CheckoutListParams{AccountID: acct.ID, State: api.CheckoutActive})
				if err != nil {
					t.Fatalf("listing checkouts: %v", err)
				}
				if len(page.Items) != 0 {
					t.Fatalf("%d checkouts still active", len(page.Items))
				}
			},
			Config:      cfg,
			ExpectError: regexp.MustCompile(`Secret Retrieval Not Allowed`),
		}},
	})
}
