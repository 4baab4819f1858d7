package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
)

func TestSSHKeysCLI(t *testing.T) {
	ctx := context.Background()
	const adminToken = "pamd_test_sshkeys_cli_admin_token"
	t.Setenv(keys.EnvMasterKey, "")
	d, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "pamd.db"), BootstrapToken: adminToken, WorkerInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	tok, err := d.IssueToken(ctx, "user:alice", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "id_ed25519.pub")
	if err := os.WriteFile(file, append(ssh.MarshalAuthorizedKey(pk)[:len(ssh.MarshalAuthorizedKey(pk))-1], []byte(" alice@laptop\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	ep := []string{"--endpoint", d.URL()}
	t.Setenv("PAM_TOKEN", tok)

	out, _, err := run(t, append([]string{"ssh-keys", "add", file, "--name", "laptop", "--json"}, ep...)...)
	if err != nil {
		t.Fatal(err)
	}
	var k api.SSHKey
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if k.Name != "laptop" || k.Subject != "user:alice" || k.Fingerprint != ssh.FingerprintSHA256(pk) {
		t.Fatalf("key %+v", k)
	}
	if _, _, err := run(t, append([]string{"ssh-keys", "add", file}, ep...)...); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("duplicate: %v", err)
	}
	out, _, err = run(t, append([]string{"ssh-keys", "list"}, ep...)...)
	if err != nil || !strings.Contains(out, k.ID) || !strings.Contains(out, k.Fingerprint) {
		t.Fatalf("list: %q %v", out, err)
	}
	if out, _, err = run(t, append([]string{"ssh-keys", "remove", k.ID}, ep...)...); err != nil || !strings.Contains(out, "removed "+k.ID) {
		t.Fatalf("remove: %q %v", out, err)
	}
	out, _, err = run(t, append([]string{"ssh-keys", "list", "--json"}, ep...)...)
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("list after remove: %q %v", out, err)
	}
}
