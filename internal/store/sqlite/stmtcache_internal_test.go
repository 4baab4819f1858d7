package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// The statement cache learns the SQL a transaction ran once that transaction
// has ended (never inside it: the write pool has a single connection), later
// transactions run it prepared, a bounded cache stays bounded, and a closed
// store's cache is empty.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "pamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	put := func(k string) {
		t.Helper()
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutSetting(k, "v") }); err != nil {
			t.Fatal(err)
		}
	}
	get := func(k string) {
		t.Helper()
		if err := s.View(ctx, func(tx store.Tx) error {
			v, err := tx.GetSetting(k)
			if err == nil && v != "v" {
				t.Errorf("setting %s = %q", k, v)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	put("a")
	get("a")
	if s.writeStmts.Len() != 1 || s.readStmts.Len() != 1 {
		t.Fatalf("cached after one write and one read: write %d, read %d, want 1 and 1", s.writeStmts.Len(), s.readStmts.Len())
	}
	// Prepared now: the same SQL with other arguments, several times in one
	// transaction too.
	put("b")
	if err := s.Update(ctx, func(tx store.Tx) error {
		for i := range 3 {
			if err := tx.PutSetting(fmt.Sprint("c", i), "v"); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	get("b")
	get("c2")
	if s.writeStmts.Len() != 1 || s.readStmts.Len() != 1 {
		t.Errorf("same SQL cached again: write %d, read %d", s.writeStmts.Len(), s.readStmts.Len())
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.writeStmts.Len() != 0 || s.readStmts.Len() != 0 {
		t.Errorf("closed store: write %d, read %d cached", s.writeStmts.Len(), s.readStmts.Len())
	}
}

// BenchmarkStatementCache compares a read transaction (the token lookup every
// authenticated request makes) and a small write transaction with and
// without the statement cache.
func BenchmarkStatementCache(b *testing.B) {
	ctx := context.Background()
	for _, cached := range []bool{false, true} {
		s, err := Open(ctx, filepath.Join(b.TempDir(), "pamd.db"))
		if err != nil {
			b.Fatal(err)
		}
		if !cached {
			_ = s.readStmts.Close()
			_ = s.writeStmts.Close()
			s.readStmts, s.writeStmts = nil, nil
		}
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutSetting("k", "v") }); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("cached=%v/view", cached), func(b *testing.B) {
			for b.Loop() {
				if err := s.View(ctx, func(tx store.Tx) error {
					_, err := tx.GetSetting("k")
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("cached=%v/update", cached), func(b *testing.B) {
			for b.Loop() {
				if err := s.Update(ctx, func(tx store.Tx) error {
					if _, err := tx.GetSetting("k"); err != nil {
						return err
					}
					return tx.PutSetting("k", "v")
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
		_ = s.Close()
	}
}
