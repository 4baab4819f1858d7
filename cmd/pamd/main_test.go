package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRoot(&out, &errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func TestTokenCreateAndAuditVerify(t *testing.T) {
	db := filepath.Join(t.TempDir(), "pamd.db")
	out, _, err := run(t, "token", "create", "--db", db, "--subject", "service_account:terraform", "--role", "admin", "--group", "ops", "--ttl", "1h")
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out)
	if !auth.WellFormed(tok) {
		t.Fatalf("token create printed %q", out)
	}
	if _, _, err := run(t, "token", "create", "--db", db, "--subject", "alice", "--role", "admin"); err == nil {
		t.Fatal("bad subject accepted")
	}
	if _, _, err := run(t, "token", "create", "--db", db, "--subject", "user:alice", "--role", "root"); err == nil {
		t.Fatal("unknown role accepted")
	}
	for i := range 3 {
		if _, _, err := run(t, "token", "create", "--db", db, "--subject", "user:u"+string(rune('a'+i)), "--role", "requester"); err != nil {
			t.Fatal(err)
		}
	}

	// The issued token works against a server on the same database.
	d, err := daemon.Start(context.Background(), daemon.Config{Listen: "127.0.0.1:0", DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	out, _, err = run(t, "audit", "verify", "--db", db)
	if err != nil || strings.TrimSpace(out) != "ok: 4 events" {
		t.Fatalf("verify intact chain: %q %v", out, err)
	}

	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit_events SET body = replace(body, 'user:ub', 'user:evil') WHERE sequence = 3`); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "audit", "verify", "--db", db)
	if err == nil || !strings.Contains(out, "FAILED at sequence 3") || !strings.Contains(out, "modified") {
		t.Fatalf("modified chain: %q %v", out, err)
	}
	if _, err := raw.Exec(`DELETE FROM audit_events WHERE sequence = 2`); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "audit", "verify", "--db", db)
	if err == nil || !strings.Contains(out, "FAILED at sequence 2") || !strings.Contains(out, "deleted") {
		t.Fatalf("gap: %q %v", out, err)
	}
	if _, _, err := run(t, "audit", "verify", "--db", filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Fatal("verify of a missing database succeeded")
	}
}

func TestServeRejectsBadLogSettings(t *testing.T) {
	if _, err := newLogger(&bytes.Buffer{}, "loud", "text"); err == nil {
		t.Fatal("bad level accepted")
	}
	if _, err := newLogger(&bytes.Buffer{}, "info", "xml"); err == nil {
		t.Fatal("bad format accepted")
	}
}

func TestBootstrapTokenPrintedOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "pamd.db")
	var out bytes.Buffer
	d, err := daemon.Start(context.Background(), daemon.Config{Listen: "127.0.0.1:0", DBPath: db, BootstrapOut: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(out.String())
	if len(fields) == 0 || !auth.WellFormed(fields[len(fields)-1]) {
		t.Fatalf("bootstrap output %q", out.String())
	}
	out.Reset()
	d, err = daemon.Start(context.Background(), daemon.Config{Listen: "127.0.0.1:0", DBPath: db, BootstrapOut: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("bootstrap token printed again: %q", out.String())
	}
}

func TestServeRejectsBadWorkerInterval(t *testing.T) {
	for _, v := range []string{"0", "-1s", "5ms", "2h", "soon"} {
		_, _, err := run(t, "serve", "--db", filepath.Join(t.TempDir(), "pamd.db"), "--listen", "127.0.0.1:0", "--worker-interval", v)
		if err == nil || !strings.Contains(err.Error(), "--worker-interval") {
			t.Errorf("--worker-interval %s: %v", v, err)
		}
	}
	for _, v := range []string{"10ms", "200ms", "5s", "1h"} {
		if _, err := workerInterval(v); err != nil {
			t.Errorf("--worker-interval %s: %v", v, err)
		}
	}
}
