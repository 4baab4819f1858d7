package postgres_test

import (
	"context"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

// TestUpdateUnsyncedIsLocal: an unsynced write transaction commits with
// synchronous_commit off, set LOCAL, so that the pooled connection goes back
// to the server's default and the next ordinary write waits for its flush.
func TestUpdateUnsyncedIsLocal(t *testing.T) {
	ctx := context.Background()
	s := open(t, testdb.NewPostgres(t, testdb.PostgresDSN(t)))
	for _, c := range []struct {
		unsynced bool
		want     string
	}{{true, "off"}, {false, "on"}, {true, "off"}, {false, "on"}} {
		tx, err := s.BeginWrite(ctx, c.unsynced)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := tx.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("write transaction (unsynced: %v): synchronous_commit = %s, want %s", c.unsynced, got, c.want)
		}
	}
}
