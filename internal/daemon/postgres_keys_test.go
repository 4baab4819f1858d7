package daemon_test

import (
	"context"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
)

// TestPostgresNeedsSharedKeys: with a PostgreSQL URL there is no default
// master key file (nor SSH host key) to derive from the database path, so
// Start refuses, saying what to set, before connecting anywhere, and
// without repeating the URL's password.
func TestPostgresNeedsSharedKeys(t *testing.T) {
	t.Setenv(keys.EnvMasterKey, "")
	t.Setenv(keys.EnvMasterKeyFile, "")
	const dsn = "postgres://pamd:Sup3rSecretPw@127.0.0.1:1/pamd"
	_, err := daemon.Start(context.Background(), daemon.Config{Listen: "127.0.0.1:0", DB: dsn})
	if err == nil || !strings.Contains(err.Error(), "--master-key-file") || strings.Contains(err.Error(), "Sup3rSecretPw") {
		t.Fatalf("start without a master key: %v", err)
	}
	_, err = daemon.Start(context.Background(), daemon.Config{Listen: "127.0.0.1:0", DB: dsn, SSHListen: "127.0.0.1:0",
		MasterKeyFile: t.TempDir() + "/k"})
	if err == nil || !strings.Contains(err.Error(), "--ssh-host-key") {
		t.Fatalf("start with the gateway but no host key: %v", err)
	}
	if p := daemon.MasterKeyPath("", dsn); p != "" {
		t.Fatalf("master key path derived from a URL: %q", p)
	}
	if p := daemon.MasterKeyPath("", "/var/lib/pamd/pamd.db"); p != "/var/lib/pamd/pamd.db.key" {
		t.Fatalf("SQLite master key path = %q", p)
	}
}
