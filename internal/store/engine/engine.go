// Package engine opens the store that a pamd database setting names: a
// SQLite file path (the default) or a postgres:// / postgresql:// URL.
package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/postgres"
	"github.com/accessplane/terraform-provider-pam/internal/store/sqlite"
)

// Options apply to PostgreSQL only; SQLite needs none.
type Options struct {
	// RetryFor bounds waiting for an unreachable server at open (0 =
	// postgres.DefaultRetryFor, negative = try once).
	RetryFor time.Duration
	// MaxConns caps the pool (0 = postgres.DefaultMaxConns).
	MaxConns int
	Logger   *slog.Logger
}

// IsPostgres reports whether db is a PostgreSQL URL.
func IsPostgres(db string) bool { return postgres.IsURL(db) }

// Describe is db for logs: the path, or the URL without its password.
func Describe(db string) string {
	if IsPostgres(db) {
		return postgres.Redact(db)
	}
	return db
}

// Open opens and migrates the store db names.
func Open(ctx context.Context, db string, o Options) (store.Store, error) {
	if IsPostgres(db) {
		return postgres.Open(ctx, db, postgres.Options{RetryFor: o.RetryFor, MaxConns: o.MaxConns, Logger: o.Logger})
	}
	return sqlite.Open(ctx, db)
}
