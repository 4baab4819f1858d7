// Package testdb gives tests a fresh pamd database on the engine the
// environment selects, so that one test suite runs on both:
//
//	PAM_TEST_DB=postgres  PostgreSQL, a new database per test on the server
//	                      PAM_TEST_POSTGRES_DSN names (scripts/postgres.sh);
//	                      the test fails if that is unset
//	otherwise             SQLite, a file in the test's temporary directory
//
// PostgreSQL databases get random names and are dropped when the test ends.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/engine"
)

// Environment variables.
const (
	EnvEngine = "PAM_TEST_DB"
	EnvDSN    = "PAM_TEST_POSTGRES_DSN"
)

// IsPostgres reports whether tests run on PostgreSQL.
func IsPostgres() bool { return os.Getenv(EnvEngine) == "postgres" }

// Target returns the database setting (daemon.Config.DB, pamd --db) of a
// fresh, empty database for t on the selected engine.
func Target(t testing.TB) string {
	t.Helper()
	if IsPostgres() {
		dsn := os.Getenv(EnvDSN)
		if dsn == "" {
			t.Fatalf("%s=postgres but %s is unset: start a server with scripts/postgres.sh", EnvEngine, EnvDSN)
		}
		return NewPostgres(t, dsn)
	}
	return filepath.Join(t.TempDir(), "pamd.db")
}

// Open opens (and migrates) a fresh store for t on the selected engine,
// closed when t ends.
func Open(t testing.TB) store.Store {
	t.Helper()
	st, err := engine.Open(context.Background(), Target(t), engine.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// PostgresDSN returns PAM_TEST_POSTGRES_DSN, or skips t (saying why) when
// it is unset: for tests that only make sense on PostgreSQL.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Skipf("PostgreSQL test skipped: %s is unset (eval \"$(scripts/postgres.sh start)\" to run it)", EnvDSN)
	}
	return dsn
}

// NewPostgres creates an empty database with a random name on the server of
// adminDSN (a superuser's or a role with CREATEDB) and returns its URL; the
// database is dropped, with any connections left, when t ends.
func NewPostgres(t testing.TB, adminDSN string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(adminDSN)
	if err != nil {
		t.Fatalf("%s does not parse", EnvDSN)
	}
	admin := stdlib.OpenDB(*cfg)
	defer func() { _ = admin.Close() }()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "pamtest_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Names are generated here (hex), so quoting them is safe.
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { drop(t, adminDSN, name) })
	u, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatalf("%s is not a URL", EnvDSN)
	}
	u.Path = "/" + name
	return u.String()
}

func drop(t testing.TB, adminDSN, name string) {
	cfg, err := pgx.ParseConfig(adminDSN)
	if err != nil {
		return
	}
	admin := stdlib.OpenDB(*cfg)
	defer func() { _ = admin.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
		t.Logf("drop test database %s: %v", name, err)
	}
}

// SQLDB connects to the PostgreSQL database at dsn directly (no store),
// for what the store cannot do itself: faults, counts, inspection. The
// test's cleanup closes it.
func SQLDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// KeyFile is a master key file path for t (daemon.Config.MasterKeyFile),
// generated on first use: a PostgreSQL-backed daemon has no default one.
func KeyFile(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "pamd.key")
}
