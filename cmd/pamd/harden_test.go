package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/tlstest"
)

// TestServeRejectsBadHardeningSettings: TLS and rate-limit settings are
// checked before pamd starts, with errors that name the setting.
func TestServeRejectsBadHardeningSettings(t *testing.T) {
	files := tlstest.New(t)
	db := filepath.Join(t.TempDir(), "pamd.db")
	base := []string{"serve", "--listen", "127.0.0.1:0", "--db", db}
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"cert without key", []string{"--tls-cert", files.CertFile}, nil, "without a key file"},
		{"key without cert (env)", nil, map[string]string{"PAMD_TLS_KEY": files.KeyFile}, "without a certificate file"},
		{"negative rate", []string{"--rate-limit", "-1"}, nil, "must not be negative"},
		{"rate env not a number", nil, map[string]string{"PAMD_RATE_LIMIT": "lots"}, "PAMD_RATE_LIMIT"},
		{"burst env negative", nil, map[string]string{"PAMD_RATE_BURST": "-3"}, "PAMD_RATE_BURST"},
		{"require host keys env not a boolean", nil, map[string]string{"PAMD_SSH_REQUIRE_HOST_KEYS": "always"}, "PAMD_SSH_REQUIRE_HOST_KEYS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, _, err := run(t, append(append([]string{}, base...), c.args...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
		})
	}
}

// TestTokenRevokeThroughAPI: `pamd token list --endpoint` and `pamd token
// revoke --endpoint` work over the API (here over TLS with PAM_CA_CERT_FILE),
// as the token's own subject.
func TestTokenRevokeThroughAPI(t *testing.T) {
	files := tlstest.New(t)
	db := filepath.Join(t.TempDir(), "pamd.db")
	d, err := daemon.Start(context.Background(), daemon.Config{Listen: "127.0.0.1:0", DBPath: db, BootstrapToken: "pamd_test_revoke_bootstrap_token",
		TLSCertFile: files.CertFile, TLSKeyFile: files.KeyFile, WorkerInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	tok, rec, err := daemon.CreateToken(context.Background(), d.Store(), clock.Real{}, daemon.TokenRequest{Subject: "user:carol",
		IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(files.CAPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAM_TOKEN", tok)
	t.Setenv("PAM_CA_CERT_FILE", caFile)

	if _, _, err := run(t, "token", "revoke", "--endpoint", d.URL(), "--db", db, rec.ID); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("--db and --endpoint together: %v", err)
	}
	// Through the API carol lists only her own token (the bootstrap admin's
	// is not shown to her).
	out, _, err := run(t, "token", "list", "--endpoint", d.URL(), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var listed []api.Token
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || listed[0].ID != rec.ID || strings.Contains(out, tok) {
		t.Fatalf("token list via API: %s %v", out, err)
	}
	out, _, err = run(t, "token", "revoke", "--endpoint", d.URL(), rec.ID)
	if err != nil || !strings.Contains(out, "revoked "+rec.ID) {
		t.Fatalf("revoke via API: %q %v", out, err)
	}
	c, err := client.New(client.Config{Endpoint: d.URL(), Token: tok, CACertPEM: files.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListRoles(context.Background(), api.RoleListParams{}); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("revoked token still works: %v", err)
	}
}
