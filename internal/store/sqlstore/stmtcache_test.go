package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	_ "modernc.org/sqlite"
)

// The cache keeps the most recently used statements up to its bound, closing
// those it evicts, and a statement evicted or closed while a transaction still
// holds it keeps working for that transaction.
func TestStmtsBoundedLRU(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:stmts?mode=memory&cache=shared")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := NewStmts(db, 2)
	q := func(i int) string { return fmt.Sprintf("SELECT %d + $1", i) }
	c.learn(ctx, []string{q(1), q(2)})
	if c.get(q(1)) == nil { // 1 is now the most recent
		t.Fatal("q1 not cached")
	}
	c.learn(ctx, []string{q(3)})
	if c.Len() != 2 || c.get(q(2)) != nil || c.get(q(1)) == nil || c.get(q(3)) == nil {
		t.Fatalf("after a third statement: len %d, want q1 and q3 kept, q2 evicted", c.Len())
	}

	sqlTx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &tx{ctx: ctx, tx: sqlTx, d: &Dialect{Name: "sqlite"}, stmts: c}
	var n int
	if err := tr.queryRow(q(1), 1).Scan(&n); err != nil || n != 2 {
		t.Fatalf("cached q1: %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.queryRow(q(1), 2).Scan(&n); err != nil || n != 3 {
		t.Fatalf("q1 bound to the transaction after Close: %d, %v", n, err)
	}
	if err := tr.queryRow(q(2), 2).Scan(&n); err != nil || n != 4 {
		t.Fatalf("uncached q2: %d, %v", n, err)
	}
	if err := sqlTx.Commit(); err != nil {
		t.Fatal(err)
	}
	c.learn(ctx, tr.unprepared)
	if c.Len() != 0 {
		t.Errorf("closed cache learnt %d statements", c.Len())
	}
}
