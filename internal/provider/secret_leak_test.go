package provider_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
)

// TestAccSecretsNeverLeak writes secrets through Terraform with every log at
// TRACE (the CLI's own log and the provider's tflog output, one file per
// test through TF_LOG_PATH_MASK) and pamd logging at debug, then searches
// all of it, and the audit trail, for each secret and for the provider's
// token. The state and plan JSON are searched by the vault account tests.
//
// Not parallel: it sets TF_LOG for the whole process while it runs.
func TestAccSecretsNeverLeak(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	logs := t.TempDir()
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_LOG_PATH_MASK", filepath.Join(logs, "%s.log"))

	suffix := acctest.RandomName("x")[2:]
	secrets := map[string]string{
		"first account secret":  "leakscan-first-" + suffix,
		"second account secret": "leakscan-second-" + suffix,
		"webhook secret":        "leakscan-webhook-" + suffix,
	}
	cfg := func(version int) string {
		return vaultAccountConfig("leak-safe-"+suffix, "leak-acct-"+suffix, version, "") + fmt.Sprintf(`
variable "hook" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "pam_role" "leak" {
  name = "leak-role-%s"
  webhook {
    url               = "https://hooks.example.com/pam"
    secret_wo         = var.hook
    secret_wo_version = 1
  }
}
`, suffix)
	}
	vars := func(secret string) config.Variables {
		return config.Variables{"secret": config.StringVariable(secret), "hook": config.StringVariable(secrets["webhook secret"])}
	}

	resource.Test(t, resource.TestCase{
		PreCheck: func() {
			acctest.PreCheck(t)
			acctest.SkipUnless(t, acctest.FeatureWriteOnly)
		},
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg(1), ConfigVariables: vars(secrets["first account secret"])},
			{Config: cfg(2), ConfigVariables: vars(secrets["second account secret"])},
		},
	})
	if t.Skipped() || t.Failed() {
		return
	}

	// What was searched must be real: CLI and provider trace lines, pamd's
	// request log and the audit events of this run.
	tfLogs := readAll(t, logs)
	for _, want := range []string{"[TRACE] pam.api: Request body", "pam_vault_account", "/v1/vault_accounts"} {
		if !strings.Contains(tfLogs, want) {
			t.Fatalf("the TRACE logs (%d bytes) do not contain %q: the scan would prove nothing", len(tfLogs), want)
		}
	}
	places := map[string]string{
		"CLI and provider TRACE logs": tfLogs,
		"pamd debug log":              acctest.PamdLog(t),
		"audit events":                acctest.AuditJSON(t),
	}
	if !strings.Contains(places["audit events"], "vault_account.secret_set") {
		t.Fatal("the audit events hold no vault_account.secret_set: the scan would prove nothing")
	}
	secrets["provider token"] = os.Getenv(acctest.EnvToken)
	for what, secret := range secrets {
		for where, text := range places {
			if n := strings.Count(text, secret); n > 0 {
				t.Errorf("the %s occurs %d time(s) in the %s", what, n, where)
			}
		}
	}
}

// readAll concatenates every file under dir.
func readAll(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path) //nolint:gosec // files this test created
		if err != nil {
			return err
		}
		b.Write(data)
		return nil
	})
	if err != nil {
		t.Fatalf("reading the logs: %v", err)
	}
	return b.String()
}
