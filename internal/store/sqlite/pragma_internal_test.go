package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestDurabilityPragmasInEffect reads back, on every connection of both
// pools, the settings crash safety relies on. The DSN asks for them, but a
// typo in a _pragma parameter, or a driver that applied pragmas to the first
// connection only, would silently leave SQLite's defaults (rollback journal,
// no foreign keys, no busy timeout), and no functional test would notice
// until a crash or a lock timeout in production.
func TestDurabilityPragmasInEffect(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "pamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	want := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL: fsync the WAL at every commit
		"foreign_keys": "1",
		"busy_timeout": "10000",
	}
	for _, pool := range []struct {
		name  string
		db    *sql.DB
		conns int
	}{{"write", s.write, 1}, {"read", s.read, 4}} {
		// Hold every connection the pool may open at once, so each one is a
		// distinct connection that ran the DSN's pragmas on its own.
		conns := make([]*sql.Conn, 0, pool.conns)
		for range pool.conns {
			c, err := pool.db.Conn(ctx)
			if err != nil {
				t.Fatalf("%s pool: %v", pool.name, err)
			}
			conns = append(conns, c)
		}
		for i, c := range conns {
			for pragma, v := range want {
				var got string
				if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatalf("%s pool conn %d: PRAGMA %s: %v", pool.name, i, pragma, err)
				}
				if got != v {
					t.Errorf("%s pool conn %d: PRAGMA %s = %s, want %s", pool.name, i, pragma, got, v)
				}
			}
		}
		for _, c := range conns {
			_ = c.Close()
		}
		if got := pool.db.Stats().MaxOpenConnections; got != pool.conns {
			t.Errorf("%s pool: max open connections %d, want %d", pool.name, got, pool.conns)
		}
	}
}

// TestUpdateUnsyncedSyncLevel: an unsynced transaction commits at
// synchronous=NORMAL, and the write connection is back at FULL afterwards,
// also when the caller's context was cancelled, so that no ordinary write
// ever commits without fsync.
func TestUpdateUnsyncedSyncLevel(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "pamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	level := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	},
	) string {
		t.Helper()
		var got string
		if err := q.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	writeConnLevel := func() string {
		t.Helper()
		c, err := s.write.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		return level(c)
	}

	for _, cancelFirst := range []bool{false, true} {
		cctx, cancel := context.WithCancel(ctx)
		tx, release, err := s.beginUnsynced(cctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := level(tx); got != "1" {
			t.Errorf("inside the unsynced transaction: synchronous = %s, want 1 (NORMAL)", got)
		}
		if cancelFirst {
			cancel()
			_ = tx.Rollback()
		} else if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		release()
		cancel()
		if got := writeConnLevel(); got != "2" {
			t.Errorf("after an unsynced transaction (cancelled: %v): write connection synchronous = %s, want 2 (FULL)", cancelFirst, got)
		}
	}
}
