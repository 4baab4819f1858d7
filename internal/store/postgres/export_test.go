package postgres

import (
	"context"
	"database/sql"
)

// BeginWrite exposes beginWrite to the package's external tests.
func (s *Store) BeginWrite(ctx context.Context, unsynced bool) (*sql.Tx, error) {
	return s.beginWrite(ctx, unsynced)
}
