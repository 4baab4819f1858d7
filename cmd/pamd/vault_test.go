package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
)

func TestVaultCLIEndToEnd(t *testing.T) {
	ctx := context.Background()
	const adminToken = "pamd_test_vault_cli_admin_token"
	const secret = "CLI-Secret-b7c1d0e2"
	dir := t.TempDir()
	db := filepath.Join(dir, "pamd.db")
	t.Setenv(keys.EnvMasterKey, "")
	d, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", DBPath: db, BootstrapToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = d.Close()
		}
	})
	admin, err := client.New(client.Config{Endpoint: d.URL(), Token: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	safe, err := admin.CreateSafe(ctx, api.SafeInput{Name: "prod", Members: []api.SafeMember{{PrincipalType: "user", PrincipalID: "alice", Permissions: []string{"checkout", "retrieve"}}}})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := admin.CreateVaultAccount(ctx, api.VaultAccountInput{Name: "pg-admin", SafeID: safe.ID, Platform: api.PlatformGeneric, Username: "root",
		SecretType: api.SecretTypePassword, Secret: secret, CheckoutPolicy: api.CheckoutPolicy{Exclusive: true, AllowRetrieve: true}})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := d.IssueToken(ctx, "user:alice", nil, []string{api.ServerRoleRequester})
	if err != nil {
		t.Fatal(err)
	}
	ep := []string{"--endpoint", d.URL()}
	t.Setenv("PAM_TOKEN", alice)

	// Without --json and with --show on a non-terminal: no secret printed.
	out, _, err := run(t, append([]string{"checkout", "pg-admin", "--duration", "10m", "--reason", "test", "--show"}, ep...)...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, secret) || !strings.Contains(out, "chk_") || !strings.Contains(out, "not a terminal") {
		t.Fatalf("checkout output: %q", out)
	}
	chk := strings.Fields(out)[5]
	out, _, err = run(t, append([]string{"checkin", chk}, ep...)...)
	if err != nil || !strings.Contains(out, api.CheckoutCheckedIn) {
		t.Fatalf("checkin: %q, %v", out, err)
	}

	// --json carries the secret, for programs.
	out, _, err = run(t, append([]string{"checkout", acct.ID, "--json"}, ep...)...)
	if err != nil {
		t.Fatal(err)
	}
	var got checkoutOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if got.Secret == nil || got.Secret.Secret != secret || got.Checkout.State != api.CheckoutActive {
		t.Fatalf("json output: %s", out)
	}
	out, _, err = run(t, append([]string{"accounts", "list", "--safe", "prod"}, ep...)...)
	if err != nil || !strings.Contains(out, "pg-admin") || !strings.Contains(out, "user:alice") || strings.Contains(out, secret) {
		t.Fatalf("accounts list: %q, %v", out, err)
	}

	// Master key rotation on the store, then the old key is pruned: the
	// secret still opens with a freshly loaded keyring.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	keyFile := db + ".key"
	oldKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "keys", "rotate", "--db", db, "--prune-old")
	if err != nil || !strings.Contains(out, "retired keys removed") || !strings.Contains(out, "1 sealed value(s) re-wrapped") {
		t.Fatalf("keys rotate: %q, %v", out, err)
	}
	if _, err := os.Stat(keyFile + keys.RetiredSuffix); !os.IsNotExist(err) {
		t.Fatalf("retired key file still there: %v", err)
	}
	newKey, err := os.ReadFile(keyFile)
	if err != nil || string(newKey) == string(oldKey) {
		t.Fatalf("key file not replaced: %v", err)
	}
	d2, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d2.Close() }()
	c2, err := client.New(client.Config{Endpoint: d2.URL(), Token: alice})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c2.GetCheckoutSecret(ctx, got.Checkout.ID)
	if err != nil || s.Secret != secret {
		t.Fatalf("secret after rotation: %+v, %v", s, err)
	}
}
