package idemstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/idemstore"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

var actor = api.AuditActor{Type: "user", ID: "alice"}

func mutation(t *testing.T, typ, id string) *api.AuditEvent {
	t.Helper()
	ev, err := audit.NewMutation(audit.Mutation{Now: time.Now(), Actor: actor, Request: api.AuditRequest{RequestID: "req_1"},
		Action: typ + ".created", TargetType: typ, TargetID: id, After: map[string]any{"id": id}})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func get(t *testing.T, s store.Store, rec store.IdempotencyRecord) store.IdempotencyRecord {
	t.Helper()
	var got store.IdempotencyRecord
	if err := s.View(context.Background(), func(tx store.Tx) (err error) {
		got, err = tx.GetIdempotency(rec.Subject, rec.Method, rec.Path, rec.Key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestMarksOnlyTheFirstAuditedMutation(t *testing.T) {
	raw := testdb.Open(t)
	s := idemstore.Wrap(raw)
	if idemstore.Wrap(s) != s || idemstore.Unwrap(s) != raw {
		t.Fatal("Wrap must be idempotent and Unwrap must return the store underneath")
	}
	now := time.Now()
	rec := store.IdempotencyRecord{Subject: "user:alice", Method: "POST", Path: "/v1/roles", Key: "k", Fingerprint: "f",
		Header: "{}", LockedUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	if err := raw.Update(context.Background(), func(tx store.Tx) error { return tx.PutIdempotency(rec) }); err != nil {
		t.Fatal(err)
	}
	res := &idemstore.Reservation{Record: rec, RequestID: "req_1"}
	ctx := idemstore.WithReservation(context.Background(), res)

	// A refusal is audited but changes nothing: not applied.
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.AppendAudit(audit.NewDenied(now, actor, api.AuditRequest{}, "role.created", "role", "role_denied"))
	}); err != nil {
		t.Fatal(err)
	}
	// A side effect on another object in the same transaction (the system
	// expiring an old checkout, no request id) does not count; the request's
	// own event after it does.
	if err := s.Update(ctx, func(tx store.Tx) error {
		ev, err := audit.NewMutation(audit.Mutation{Now: now, Actor: api.AuditActor{Type: "system", ID: "pamd"},
			Action: "checkout.expired", TargetType: "checkout", TargetID: "chk_old", After: map[string]any{"state": "expired"}})
		if err != nil {
			return err
		}
		if err := tx.AppendAudit(ev); err != nil {
			return err
		}
		return tx.AppendAudit(mutation(t, "checkout", "chk_new"))
	}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, raw, rec); got.AppliedTargetType != "checkout" || got.AppliedTargetID != "chk_new" {
		t.Fatalf("record = %+v, want applied to checkout chk_new", got)
	}
	// Start over for the rest.
	if err := raw.Update(context.Background(), func(tx store.Tx) error { return tx.PutIdempotency(rec) }); err != nil {
		t.Fatal(err)
	}
	res = &idemstore.Reservation{Record: rec, RequestID: "req_1"}
	ctx = idemstore.WithReservation(context.Background(), res)
	// A mutation that fails rolls back, and marks nothing.
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.AppendAudit(mutation(t, "role", "role_rolled_back")); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := get(t, raw, rec); got.Applied() {
		t.Fatalf("marked applied without a committed mutation: %+v", got)
	}
	if _, _, ok := res.Applied(); ok {
		t.Fatal("reservation says applied")
	}
	// The first committed mutation marks it, with its first target.
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.AppendAudit(mutation(t, "role", "role_1")); err != nil {
			return err
		}
		return tx.AppendAudit(mutation(t, "elevation", "elv_1"))
	}); err != nil {
		t.Fatal(err)
	}
	// Later mutations of the same request do not move it.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(mutation(t, "safe", "safe_1")) }); err != nil {
		t.Fatal(err)
	}
	got := get(t, raw, rec)
	if got.AppliedTargetType != "role" || got.AppliedTargetID != "role_1" || got.Done || got.Fingerprint != "f" {
		t.Fatalf("record = %+v, want applied to role role_1", got)
	}
	if typ, id, ok := res.Applied(); !ok || typ != "role" || id != "role_1" {
		t.Fatalf("reservation = %s %s %v", typ, id, ok)
	}
	// Without a reservation the decorator does nothing.
	other := rec
	other.Key = "other"
	if err := raw.Update(context.Background(), func(tx store.Tx) error { return tx.PutIdempotency(other) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), func(tx store.Tx) error { return tx.AppendAudit(mutation(t, "role", "role_2")) }); err != nil {
		t.Fatal(err)
	}
	if got := get(t, raw, other); got.Applied() {
		t.Fatalf("a context without a reservation marked a record: %+v", got)
	}
}

// A reservation taken over by another instance (which believed this one
// dead) refuses this instance's mutation, whether the taker is still running
// the request or has finished it: the transaction rolls back, so the request
// is never executed twice.
func TestTakenOverReservationRefusesTheMutation(t *testing.T) {
	raw := testdb.Open(t)
	s := idemstore.Wrap(raw)
	now := time.Now().UTC().Truncate(time.Second) // comparable after a round trip through either engine
	mine := store.IdempotencyRecord{Subject: "user:alice", Method: "POST", Path: "/v1/roles", Key: "k", Fingerprint: "f",
		Header: "{}", LockedUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour), Owner: "instance-a"}
	for _, c := range []struct {
		name  string
		taken func(store.IdempotencyRecord) store.IdempotencyRecord
	}{
		{"running elsewhere", func(r store.IdempotencyRecord) store.IdempotencyRecord { r.Owner = "instance-b"; return r }},
		{"finished elsewhere", func(r store.IdempotencyRecord) store.IdempotencyRecord {
			r.Owner, r.Done, r.Status, r.Body = "instance-b", true, 201, "{}"
			r.AppliedTargetType, r.AppliedTargetID = "role", "role_b"
			return r
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			taken := c.taken(mine)
			if err := raw.Update(context.Background(), func(tx store.Tx) error { return tx.PutIdempotency(taken) }); err != nil {
				t.Fatal(err)
			}
			ctx := idemstore.WithReservation(context.Background(), &idemstore.Reservation{Record: mine, RequestID: "req_1"})
			err := s.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(mutation(t, "role", "role_a")) })
			var p *api.Problem
			if !errors.Is(err, idemstore.ErrTakenOver) || !errors.As(err, &p) || p.Status != 409 || p.Code != api.CodeIdempotencyInProgress {
				t.Fatalf("mutation under a taken-over reservation: %v, want 409 %s", err, api.CodeIdempotencyInProgress)
			}
			if got := get(t, raw, mine); got != taken {
				t.Fatalf("record changed: %+v, want the taker's %+v", got, taken)
			}
			if err := raw.View(context.Background(), func(tx store.Tx) error {
				evs, err := tx.ListAudit(store.AuditFilter{ChainID: audit.DefaultChain, TargetID: "role_a", Limit: 10})
				if err == nil && len(evs) != 0 {
					t.Errorf("the refused mutation committed %d audit events", len(evs))
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
