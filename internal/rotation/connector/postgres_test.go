package connector

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/rotation"
)

// PostgresDSN returns the superuser DSN of the test server, or skips.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("PAM_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PAM_TEST_POSTGRES_DSN not set: no PostgreSQL server for the connector test (start one with scripts/postgres.sh start)")
	}
	return dsn
}

// testRole creates a login role with password pw as the superuser and
// returns an account pointing at it; the role is dropped at cleanup.
func testRole(t *testing.T, dsn, name, pw string) api.VaultAccount {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect as superuser: %v", err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	ident := pgx.Identifier{name}.Sanitize()
	_, _ = admin.Exec(ctx, "DROP ROLE IF EXISTS "+ident)
	if _, err := admin.Exec(ctx, "CREATE ROLE "+ident+" LOGIN PASSWORD "+QuoteLiteral(pw)); err != nil {
		t.Fatalf("create role: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.ConnectConfig(context.Background(), cfg)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+ident)
			_ = c.Close(context.Background())
		}
	})
	return api.VaultAccount{
		Meta:              api.Meta{ID: "acct_test"},
		VaultAccountInput: api.VaultAccountInput{Platform: api.PlatformPostgreSQL, Address: cfg.Host, Port: int(cfg.Port), Username: name, SecretType: api.SecretTypePassword},
	}
}

func TestPostgreSQLConnector(t *testing.T) {
	dsn := postgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A role name that needs identifier quoting, and an old password with
	// characters that need literal quoting.
	name := fmt.Sprintf(`pam rot "it"-%d`, time.Now().UnixNano())
	oldPW := `old'pw\with"quotes`
	acct := testRole(t, dsn, name, oldPW)
	conn := &PostgreSQL{SSLMode: "disable"}

	if err := conn.Verify(ctx, acct, oldPW); err != nil {
		t.Fatalf("verify with the initial password: %v", err)
	}
	newPW, err := rotation.GeneratePassword(api.RotationPasswordPolicy{Length: 24, RequireLowercase: true, RequireUppercase: true, RequireDigits: true, RequireSymbols: true, Symbols: ptr(`'"\!#%`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Rotate(ctx, acct, oldPW, newPW); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	// The old password no longer logs in; the new one does.
	err = conn.Verify(ctx, acct, oldPW)
	if err == nil {
		t.Fatal("the old password still logs in after rotation")
	}
	if strings.Contains(err.Error(), oldPW) {
		t.Fatalf("error leaks the password: %v", err)
	}
	if !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("verify mismatch error = %v", err)
	}
	if err := conn.Verify(ctx, acct, newPW); err != nil {
		t.Fatalf("the new password does not log in: %v", err)
	}

	// Rotating with a wrong current password fails without leaking either.
	third := "Third-password-123"
	err = conn.Rotate(ctx, acct, "wrong-current", third)
	if err == nil {
		t.Fatal("rotate with a wrong current password succeeded")
	}
	for _, s := range []string{"wrong-current", third, newPW} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error leaks a password: %v", err)
		}
	}
	if err := conn.Verify(ctx, acct, newPW); err != nil {
		t.Fatalf("a failed rotation changed the password: %v", err)
	}
}

func TestAlterRolePasswordSQL(t *testing.T) {
	stmt, err := AlterRolePasswordSQL(`we"ird`, "Secret-1!")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stmt, `ALTER ROLE "we""ird" PASSWORD 'SCRAM-SHA-256$4096:`) || strings.Contains(stmt, "Secret-1!") {
		t.Fatalf("statement = %s", stmt)
	}
	// Non-ASCII passwords go as an escaped literal.
	stmt, err = AlterRolePasswordSQL("r", "pä'ss\\")
	if err != nil {
		t.Fatal(err)
	}
	if want := `ALTER ROLE "r" PASSWORD E'pä''ss\\'`; stmt != want {
		t.Fatalf("statement = %s, want %s", stmt, want)
	}
	if _, err := AlterRolePasswordSQL("r", "a\x00b"); err == nil {
		t.Fatal("NUL accepted")
	}
	if got := QuoteLiteral(`it's`); got != `'it''s'` {
		t.Fatalf("QuoteLiteral = %s", got)
	}
}

func ptr[T any](v T) *T { return &v }
