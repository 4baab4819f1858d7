package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/postgres"
	"github.com/accessplane/terraform-provider-pam/internal/store/storetest"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

// The store passes the conformance suite with database/sql's statement cache
// in front of pgx too (Options.CacheStatements, off by default).
func TestConformanceCachedStatements(t *testing.T) {
	admin := testdb.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), testdb.NewPostgres(t, admin), postgres.Options{MaxConns: 4, CacheStatements: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// BenchmarkStatementCache compares a small write transaction and a read
// transaction with and without database/sql's statement cache in front of
// pgx, whose own per-connection cache already prepares each statement once
// (findings.md, "Prepared statements").
func BenchmarkStatementCache(b *testing.B) {
	admin := testdb.PostgresDSN(b)
	for _, cached := range []bool{false, true} {
		s, err := postgres.Open(context.Background(), testdb.NewPostgres(b, admin), postgres.Options{MaxConns: 4, CacheStatements: cached})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.Run(fmt.Sprintf("cached=%v/update", cached), func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				if err := s.Update(ctx, func(tx store.Tx) error {
					if _, err := tx.GetSetting("missing"); err != store.ErrNotFound { //nolint:errorlint // the store returns the sentinel itself
						return err
					}
					return tx.PutSetting(fmt.Sprint("k", i%16), "v")
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("cached=%v/view", cached), func(b *testing.B) {
			for b.Loop() {
				if err := s.View(ctx, func(tx store.Tx) error {
					_, err := tx.GetSetting("k1")
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
		_ = s.Close()
	}
}
