package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/sqlite/migrations"
)

// Migrate applies the shared migrations to db. It refuses a database whose
// schema is newer than this binary knows (store.ErrSchemaTooNew), on either
// engine. opts lets an engine add e.g. goose's PostgreSQL session locker, so
// that replicas starting together do not migrate twice.
func Migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, opts ...goose.ProviderOption) error {
	p, err := goose.NewProvider(dialect, db, migrations.FS, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	// Check before Up: goose would otherwise ignore unknown newer versions and
	// this binary would run against a schema it does not understand.
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	srcs := p.ListSources()
	known := int64(0)
	if len(srcs) > 0 {
		known = srcs[len(srcs)-1].Version
	}
	if current > known {
		return fmt.Errorf("%w: database is at schema version %d, this pamd knows up to %d; upgrade pamd or use another database", store.ErrSchemaTooNew, current, known)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// SchemaVersion reports the applied migration version; for diagnostics and tests.
func SchemaVersion(ctx context.Context, db *sql.DB, d *Dialect) (int64, error) {
	var v int64
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, d.MapErr(err)
}
