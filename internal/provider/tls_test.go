package provider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/tlstest"
)

// TestAccProviderOverTLS runs the provider against a pamd of its own that
// serves HTTPS with a certificate from a private CA, with the production
// rate-limit defaults of `pamd serve`. Without ca_cert_pem the apply fails
// with a certificate error (and creates nothing); with it the role is
// created, the plan after apply is empty, and destroy removes it.
func TestAccProviderOverTLS(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	files := tlstest.New(t)
	token := "pamd_tls_acc_" + acctest.RandomName("t")
	d, err := daemon.Start(context.Background(), daemon.Config{
		Listen: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "pamd.db"), BootstrapToken: token, BootstrapOut: io.Discard,
		TLSCertFile: files.CertFile, TLSKeyFile: files.KeyFile, RateLimit: daemon.DefaultRateLimit, RateBurst: daemon.DefaultRateBurst,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	tlsClient, err := client.New(client.Config{Endpoint: d.URL(), Token: token, CACertPEM: files.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	name := acctest.RandomName("tf-acc-tls")
	config := func(withCA bool) string {
		ca := ""
		if withCA {
			ca = fmt.Sprintf("  ca_cert_pem = <<-EOT\n%sEOT\n", files.CAPEM)
		}
		return fmt.Sprintf(`
provider "pam" {
  endpoint = %q
  token    = %q
%s}

resource "pam_role" "tls" {
  name              = %q
  assignable_scopes = ["/orgs/tls"]
}
`, d.URL(), token, ca, name)
	}
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if id == "" {
				return errors.New("the role id was never recorded")
			}
			if _, err := tlsClient.GetRole(context.Background(), id); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("role %s after destroy: %w", id, err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				// The system roots do not include the test CA.
				Config:      config(false),
				ExpectError: regexp.MustCompile(`(?i)certificate`),
			},
			{
				Config: config(true),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrWith("pam_role.tls", "id", func(v string) error { id = v; return nil }),
					func(*terraform.State) error {
						r, err := tlsClient.GetRole(context.Background(), id)
						if err != nil {
							return fmt.Errorf("reading the role back over TLS: %w", err)
						}
						if r.Name != name {
							return fmt.Errorf("role name %q, want %q", r.Name, name)
						}
						return nil
					},
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				Config:   config(true),
				PlanOnly: true,
			},
		},
	})
}
