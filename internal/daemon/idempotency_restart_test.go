package daemon_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// TestRestartReleasesAbandonedReservations: a pamd that died between
// reserving an Idempotency-Key and committing its write left a bare
// reservation; the next pamd on the same SQLite file frees it at start (so
// the client's retry runs at once instead of meeting 409 "in progress" for a
// minute) and keeps a reservation whose write committed (marked applied),
// which a retry must be answered from.
func TestRestartReleasesAbandonedReservations(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "pamd.db")
	cfg := daemon.Config{Listen: "127.0.0.1:0", DBPath: db, BootstrapToken: adminToken, WorkerInterval: -1}
	d, err := daemon.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	bare := store.IdempotencyRecord{Subject: "user:alice", Method: "POST", Path: "/v1/roles", Key: "bare",
		Fingerprint: "f", Header: "{}", LockedUntil: now.Add(time.Minute), ExpiresAt: now.Add(24 * time.Hour)}
	applied := bare
	applied.Key, applied.AppliedTargetType, applied.AppliedTargetID = "applied", "role", "role_1"
	err = d.Store().Update(ctx, func(tx store.Tx) error {
		return errors.Join(tx.PutIdempotency(bare), tx.PutIdempotency(applied))
	})
	if err != nil {
		t.Fatal(err)
	}
	d = restart(ctx, t, d, cfg)
	err = d.Store().View(ctx, func(tx store.Tx) error {
		if _, err := tx.GetIdempotency(bare.Subject, bare.Method, bare.Path, bare.Key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bare reservation after restart: %v, want it released", err)
		}
		got, err := tx.GetIdempotency(applied.Subject, applied.Method, applied.Path, applied.Key)
		if err != nil || !got.Applied() {
			t.Errorf("applied reservation after restart: %+v, %v; want it kept", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// restart closes d and starts a new daemon on cfg (the same store), as an
// init system would after pamd exited; the test's cleanup closes the new one.
func restart(ctx context.Context, t *testing.T, d *daemon.Daemon, cfg daemon.Config) *daemon.Daemon {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}
