package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// A token revoked with the CLI is refused by the running server at its next
// request, the revocation is audited, and list shows ids without secrets.
func TestTokenListAndRevoke(t *testing.T) {
	db := filepath.Join(t.TempDir(), "pamd.db")
	d, err := daemon.Start(context.Background(), daemon.Config{Listen: "127.0.0.1:0", DBPath: db, BootstrapToken: "pamd_test_revoke_bootstrap_token"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })

	out, _, err := run(t, "token", "create", "--db", db, "--subject", "user:alice", "--role", "requester")
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out)
	c, err := client.New(client.Config{Endpoint: d.URL(), Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListRoles(context.Background(), api.RoleListParams{}); err != nil {
		t.Fatalf("the new token does not work: %v", err)
	}

	out, _, err = run(t, "token", "list", "--db", db, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, tok) {
		t.Fatal("token list printed a token")
	}
	var rows []struct {
		ID, Subject string
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("token list --json: %v\n%s", err, out)
	}
	var id string
	for _, r := range rows {
		if r.Subject == "user:alice" {
			id = r.ID
		}
	}
	if len(rows) != 2 || !strings.HasPrefix(id, "tok_") {
		t.Fatalf("token list = %+v", rows)
	}

	if out, _, err = run(t, "token", "revoke", "--db", db, id); err != nil || !strings.Contains(out, id) {
		t.Fatalf("revoke: %q %v", out, err)
	}
	if _, err := c.ListRoles(context.Background(), api.RoleListParams{}); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("a revoked token was not refused with 401: %v", err)
	}
	if _, _, err := run(t, "token", "revoke", "--db", db, id); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Fatalf("revoking twice: %v", err)
	}
	var revoked []api.AuditEvent
	if err := d.Store().View(context.Background(), func(tx store.Tx) (err error) {
		revoked, err = tx.ListAudit(store.AuditFilter{ActionPrefix: "token.revoked", Limit: 10})
		return err
	}); err != nil || len(revoked) != 1 || revoked[0].Target.ID != id || strings.Contains(mustJSON(t, revoked), tok) {
		t.Fatalf("token.revoked events = %+v, %v", revoked, err)
	}
	res, err := daemon.VerifyAudit(context.Background(), d.Store())
	if err != nil || !res.OK() {
		t.Fatalf("audit chain: %+v %v", res, err)
	}
	out, _, err = run(t, "audit", "verify", "--db", db)
	if err != nil || !strings.HasPrefix(out, "ok:") {
		t.Fatalf("audit verify: %q %v", out, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
