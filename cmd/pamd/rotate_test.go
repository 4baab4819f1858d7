package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
)

func TestRotateCLIEndToEnd(t *testing.T) {
	ctx := context.Background()
	const adminToken = "pamd_test_rotate_cli_admin_token"
	const secret = "CLI-Rotate-Secret-1"
	t.Setenv(keys.EnvMasterKey, "")
	d, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "pamd.db"),
		BootstrapToken: adminToken, WorkerInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	admin, err := client.New(client.Config{Endpoint: d.URL(), Token: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	safe, err := admin.CreateSafe(ctx, api.SafeInput{Name: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := admin.CreateVaultAccount(ctx, api.VaultAccountInput{Name: "svc", SafeID: safe.ID, Platform: api.PlatformGeneric, Username: "svc",
		SecretType: api.SecretTypePassword, Secret: secret, CheckoutPolicy: api.CheckoutPolicy{AllowRetrieve: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAM_TOKEN", adminToken)
	ep := []string{"--endpoint", d.URL()}

	out, _, err := run(t, append([]string{"rotate", "svc", "--wait", "30s"}, ep...)...)
	if err != nil {
		t.Fatalf("rotate: %v (%s)", err, out)
	}
	if !strings.Contains(out, "op_") || !strings.Contains(out, "succeeded secret_version=2") || strings.Contains(out, secret) {
		t.Fatalf("rotate output: %q", out)
	}
	out, _, err = run(t, append([]string{"rotate", acct.ID, "--verify", "--wait", "30s", "--json"}, ep...)...)
	if err != nil {
		t.Fatalf("verify: %v (%s)", err, out)
	}
	var op api.Operation
	if err := json.Unmarshal([]byte(out), &op); err != nil || op.Kind != api.OperationKindVerify || op.State != api.OperationSucceeded {
		t.Fatalf("verify output: %q (%v)", out, err)
	}
	got, err := admin.GetVaultAccount(ctx, acct.ID)
	if err != nil || got.SecretVersion != 2 {
		t.Fatalf("account after rotate: %+v, %v", got, err)
	}
	if _, _, err := run(t, append([]string{"rotate", "nope"}, ep...)...); err == nil {
		t.Fatal("rotating an unknown account succeeded")
	}
}
