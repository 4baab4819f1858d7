package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/engine"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

// learnFingerprint returns the server's fingerprint of body (keyed by the
// server): it runs a role create with body under a throwaway key, reads the
// reservation, and deletes the role again.
func learnFingerprint(t *testing.T, e *env, body string) string {
	t.Helper()
	probe := e.do(http.MethodPost, api.PathRoles, e.admin, body, "Idempotency-Key", "probe-"+body)
	if probe.status != http.StatusCreated {
		t.Fatalf("probe: %d %s", probe.status, probe.body)
	}
	var fp string
	if err := e.d.Store().Update(context.Background(), func(tx store.Tx) error {
		got, err := tx.GetIdempotency("service_account:bootstrap", "POST", api.PathRoles, "probe-"+body)
		fp = got.Fingerprint
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var created api.Role
	if err := json.Unmarshal(probe.body, &created); err != nil {
		t.Fatal(err)
	}
	if r := e.do(http.MethodDelete, api.PathRoles+"/"+created.ID, e.admin, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete probe role: %d %s", r.status, r.body)
	}
	return fp
}

// TestIdempotencyDeadOwnerTakenOver: a reservation still locked but held by
// an instance that is gone (a replica SIGKILLed between reserving and
// committing) is taken over by the first retry, without waiting for the
// lock to lapse; one held by a live instance is still in progress (409).
// On PostgreSQL (PAM_TEST_DB=postgres) the live other instance is a second
// store on the same database, as a second replica would be.
func TestIdempotencyDeadOwnerTakenOver(t *testing.T) {
	target := testdb.Target(t)
	fc := clock.NewFake(time.Now())
	d, err := daemon.Start(context.Background(), daemon.Config{
		Listen: "127.0.0.1:0", DB: target, MasterKeyFile: testdb.KeyFile(t), BootstrapToken: adminToken,
		Clock: fc, Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	e := &env{t: t, d: d, clock: fc, admin: adminToken}
	self := store.InstanceOf(d.Store())
	if self == nil || self.ID() == "" {
		t.Fatalf("the store provides no instance id: %v", self)
	}

	reserve := func(key, body, owner string) {
		t.Helper()
		now := fc.Now()
		rec := store.IdempotencyRecord{Subject: "service_account:bootstrap", Method: "POST", Path: api.PathRoles, Key: key,
			Fingerprint: learnFingerprint(t, e, body), Header: "{}", LockedUntil: now.Add(time.Minute), ExpiresAt: now.Add(24 * time.Hour), Owner: owner}
		if err := d.Store().Update(context.Background(), func(tx store.Tx) error { return tx.PutIdempotency(rec) }); err != nil {
			t.Fatal(err)
		}
	}

	// Live: this very process holds it (a concurrent request).
	reserve("live-self", `{"name":"live-self"}`, self.ID())
	e.do(http.MethodPost, api.PathRoles, e.admin, `{"name":"live-self"}`, "Idempotency-Key", "live-self").
		problem(t, http.StatusConflict, api.CodeIdempotencyInProgress)

	if testdb.IsPostgres() {
		// Live: another replica's instance holds it.
		other, err := engine.Open(context.Background(), target, engine.Options{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		oid := store.InstanceOf(other).ID()
		reserve("live-other", `{"name":"live-other"}`, oid)
		e.do(http.MethodPost, api.PathRoles, e.admin, `{"name":"live-other"}`, "Idempotency-Key", "live-other").
			problem(t, http.StatusConflict, api.CodeIdempotencyInProgress)
		// The replica goes away (its session, hence its instance lock, ends):
		// its reservation is taken over at once.
		if err := other.Close(); err != nil {
			t.Fatal(err)
		}
		if r := e.do(http.MethodPost, api.PathRoles, e.admin, `{"name":"live-other"}`, "Idempotency-Key", "live-other"); r.status != http.StatusCreated {
			t.Fatalf("reservation of a closed replica: %d %s", r.status, r.body)
		}
	}

	// Dead: an instance id nobody holds (a predecessor, or a killed replica).
	reserve("dead", `{"name":"dead"}`, store.NewInstanceID())
	r := e.do(http.MethodPost, api.PathRoles, e.admin, `{"name":"dead"}`, "Idempotency-Key", "dead")
	if r.status != http.StatusCreated || r.header.Get("Idempotency-Replayed") != "" {
		t.Fatalf("reservation of a dead owner: %d %s", r.status, r.body)
	}
	// The key is now ours, and completed: a retry replays.
	if err := d.Store().View(context.Background(), func(tx store.Tx) error {
		got, err := tx.GetIdempotency("service_account:bootstrap", "POST", api.PathRoles, "dead")
		if err == nil && (!got.Done || got.Owner != self.ID()) {
			t.Errorf("taken-over reservation: done=%v owner=%q, want done, owner %q", got.Done, got.Owner, self.ID())
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if r := e.do(http.MethodPost, api.PathRoles, e.admin, `{"name":"dead"}`, "Idempotency-Key", "dead"); r.header.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("retry after takeover: %d %s %v", r.status, r.body, r.header)
	}
}
