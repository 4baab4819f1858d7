// Package storetest is the conformance suite for store.Store implementations.
// Every implementation runs the same Run, so behaviour the domain relies on
// (sentinel errors, ordering, atomicity of a mutation and its audit event) is
// pinned once for SQLite and, later, PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// NewFunc returns a fresh, empty, migrated store; it must register its own cleanup.
type NewFunc func(t *testing.T) store.Store

// Run runs the whole suite against the implementation built by newStore.
func Run(t *testing.T, newStore NewFunc) {
	t.Run("Roles", func(t *testing.T) { testRoles(t, newStore(t)) })
	t.Run("RoleListPaging", func(t *testing.T) { testRoleList(t, newStore(t)) })
	t.Run("AuditChain", func(t *testing.T) { testAudit(t, newStore(t)) })
	t.Run("RollbackDropsAudit", func(t *testing.T) { testRollback(t, newStore(t)) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, newStore(t)) })
	t.Run("PurgeExpiredStepUpTokens", func(t *testing.T) { testPurgeStepUpTokens(t, newStore(t)) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, newStore(t)) })
	t.Run("IdempotencyApplied", func(t *testing.T) { testIdempotencyApplied(t, newStore(t)) })
	t.Run("IdempotencyOwner", func(t *testing.T) { testIdempotencyOwner(t, newStore(t)) })
	t.Run("Settings", func(t *testing.T) { testSettings(t, newStore(t)) })
	t.Run("UpdateUnsynced", func(t *testing.T) { testUpdateUnsynced(t, newStore(t)) })
	runMFA(t, newStore)
	runPIM(t, newStore)
	runOutbox(t, newStore)
	runRotation(t, newStore)
	runVault(t, newStore)
	runSession(t, newStore)
	t.Run("SSHKeys", func(t *testing.T) { testSSHKeys(t, newStore(t)) })
}

var t0 = time.Date(2025, 5, 1, 9, 12, 44, 0, time.UTC)

func newRole(name string) api.Role {
	a := api.Actor{Type: "user", ID: "alice"}
	return api.Role{
		Meta: api.Meta{ID: ids.New(api.PrefixRole, t0), Version: 1, CreatedAt: t0, CreatedBy: a, UpdatedAt: t0, UpdatedBy: a},
		RoleInput: api.RoleInput{Name: name, Description: "d", AssignableScopes: []string{"/", "/orgs/acme"},
			Labels: map[string]string{"team": "dba"}},
	}
}

func update(t *testing.T, s store.Store, fn func(store.Tx) error) error {
	t.Helper()
	return s.Update(context.Background(), fn)
}

func view(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

func testRoles(t *testing.T, s store.Store) {
	r := newRole("db_admin")
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertRole(r) }); err != nil {
		t.Fatalf("insert: %v", err)
	}
	dup := newRole("db_admin")
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertRole(dup) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: got %v, want ErrConflict", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetRole(r.ID)
		if err != nil {
			return err
		}
		if got.Name != "db_admin" || got.Version != 1 || len(got.AssignableScopes) != 2 || got.Labels["team"] != "dba" ||
			!got.CreatedAt.Equal(t0) || got.UpdatedBy.ID != "alice" {
			t.Errorf("round trip: %+v", got)
		}
		id, err := tx.GetRoleIDByName("db_admin")
		if err != nil || id != r.ID {
			t.Errorf("by name: %q %v", id, err)
		}
		if _, err := tx.GetRole("role_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing role: %v", err)
		}
		if _, err := tx.GetRoleIDByName("nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing name: %v", err)
		}
		return nil
	})

	r2 := r
	r2.Version, r2.Description, r2.Labels = 2, "changed", nil
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateRole(r2, 5) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale update: %v", err)
	}
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateRole(r2, 1) }); err != nil {
		t.Fatalf("update: %v", err)
	}
	missing := newRole("other")
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateRole(missing, 1) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	other := newRole("taken")
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertRole(other) }); err != nil {
		t.Fatal(err)
	}
	clash := r2
	clash.Name, clash.Version = "taken", 3
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateRole(clash, 2) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename onto taken name: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetRole(r.ID)
		if err != nil {
			return err
		}
		if got.Version != 2 || got.Description != "changed" || got.Labels == nil || len(got.Labels) != 0 {
			t.Errorf("after update: %+v", got)
		}
		return nil
	})
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteRole(r.ID) }); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteRole(r.ID) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func testRoleList(t *testing.T, s store.Store) {
	var want []string
	for i := range 5 {
		r := newRole(fmt.Sprintf("role-%d", i))
		want = append(want, r.ID)
		if err := update(t, s, func(tx store.Tx) error { return tx.InsertRole(r) }); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	after := ""
	for range 10 {
		var page []api.Role
		view(t, s, func(tx store.Tx) (err error) {
			page, err = tx.ListRoles(store.RoleFilter{AfterID: after, Limit: 2})
			return err
		})
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			got = append(got, r.ID)
		}
		after = page[len(page)-1].ID
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paging order:\n got %v\nwant %v", got, want)
	}
	view(t, s, func(tx store.Tx) error {
		page, err := tx.ListRoles(store.RoleFilter{Name: "role-3", Limit: 10})
		if err != nil {
			return err
		}
		if len(page) != 1 || page[0].ID != want[3] {
			t.Errorf("name filter: %+v", page)
		}
		return nil
	})
}

func auditEvent(action, target string) *api.AuditEvent {
	return &api.AuditEvent{
		ID: ids.New(api.PrefixAudit, t0), OccurredAt: audit.FormatTime(t0), Action: action, Category: "role",
		Outcome: api.OutcomeSuccess, Actor: api.AuditActor{Type: "user", ID: "alice"},
		Target: api.AuditTarget{Type: "role", ID: target},
	}
}

func verify(t *testing.T, s store.Store) audit.Result {
	t.Helper()
	var res audit.Result
	view(t, s, func(tx store.Tx) error {
		v := audit.NewVerifier()
		if err := tx.WalkAudit(audit.DefaultChain, func(r audit.Record) error { v.Next(r); return nil }); err != nil {
			return err
		}
		head, err := tx.AuditHead(audit.DefaultChain)
		if err != nil {
			return err
		}
		res = v.Finish(&head)
		return nil
	})
	return res
}

func testAudit(t *testing.T, s store.Store) {
	if r := verify(t, s); !r.OK() || r.Checked != 0 {
		t.Fatalf("empty chain: %v", r)
	}
	actions := []struct{ action, target string }{
		{"role.created", "role_a"}, {"role.updated", "role_a"}, {"role.created", "role_b"}, {"role.deleted", "role_a"},
	}
	for _, a := range actions {
		ev := auditEvent(a.action, a.target)
		if err := update(t, s, func(tx store.Tx) error { return tx.AppendAudit(ev) }); err != nil {
			t.Fatal(err)
		}
		if ev.Hash == "" || ev.Sequence == 0 {
			t.Fatalf("AppendAudit did not seal the event: %+v", ev)
		}
	}
	view(t, s, func(tx store.Tx) error {
		all, err := tx.ListAudit(store.AuditFilter{Limit: 100})
		if err != nil {
			return err
		}
		for i, ev := range all {
			if ev.Sequence != int64(i+1) {
				t.Errorf("event %d has sequence %d", i, ev.Sequence)
			}
		}
		if len(all) != 4 || all[1].PrevHash != all[0].Hash {
			t.Fatalf("chain not linked: %+v", all)
		}
		one, err := tx.GetAuditEvent(all[2].ID)
		if err != nil || one.Sequence != 3 || one.Hash != all[2].Hash {
			t.Errorf("get event by id: %+v %v", one, err)
		}
		if _, err := tx.GetAuditEvent("aud_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing event: %v", err)
		}
		upd, err := tx.ListAudit(store.AuditFilter{ActionPrefix: "role.up", Limit: 100})
		if err != nil {
			return err
		}
		if len(upd) != 1 || upd[0].Sequence != 2 {
			t.Errorf("action prefix filter: %+v", upd)
		}
		tgt, err := tx.ListAudit(store.AuditFilter{TargetID: "role_a", AfterSequence: 1, Limit: 100})
		if err != nil {
			return err
		}
		if len(tgt) != 2 || tgt[0].Sequence != 2 || tgt[1].Sequence != 4 {
			t.Errorf("target+after filter: %+v", tgt)
		}
		// An action containing LIKE wildcards must not match by accident.
		none, err := tx.ListAudit(store.AuditFilter{ActionPrefix: "role_%", Limit: 100})
		if err != nil {
			return err
		}
		if len(none) != 0 {
			t.Errorf("wildcard prefix matched %d events", len(none))
		}
		return nil
	})
	if r := verify(t, s); !r.OK() || r.Checked != 4 {
		t.Fatalf("verify: %v", r)
	}
}

func testRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	r := newRole("rolled-back")
	err := update(t, s, func(tx store.Tx) error {
		if err := tx.InsertRole(r); err != nil {
			return err
		}
		if err := tx.AppendAudit(auditEvent("role.created", r.ID)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update error: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetRole(r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("role survived rollback: %v", err)
		}
		evs, err := tx.ListAudit(store.AuditFilter{Limit: 10})
		if err != nil {
			return err
		}
		if len(evs) != 0 {
			t.Errorf("audit event survived rollback: %+v", evs)
		}
		return nil
	})
	// The next event must still be sequence 1: no gap from the rolled-back one.
	ev := auditEvent("role.created", "role_x")
	if err := update(t, s, func(tx store.Tx) error { return tx.AppendAudit(ev) }); err != nil {
		t.Fatal(err)
	}
	if ev.Sequence != 1 {
		t.Fatalf("sequence after rollback = %d, want 1", ev.Sequence)
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := newRole(fmt.Sprintf("w%d-%d", w, i))
				errs <- s.Update(context.Background(), func(tx store.Tx) error {
					if err := tx.InsertRole(r); err != nil {
						return err
					}
					return tx.AppendAudit(auditEvent("role.created", r.ID))
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent writer failed: %v", err)
		}
	}
	if r := verify(t, s); !r.OK() || r.Checked != writers*each {
		t.Fatalf("after concurrent writes: %v", r)
	}
}

func testTokens(t *testing.T, s store.Store) {
	exp := t0.Add(time.Hour)
	tok := auth.Token{ID: ids.New(api.PrefixToken, t0), Hash: auth.HashToken("pamd_x"), Subject: "user:alice",
		Groups: []string{"dba"}, ServerRoles: []string{"admin"}, CreatedAt: t0, ExpiresAt: &exp}
	plain := auth.Token{ID: ids.New(api.PrefixToken, t0), Hash: auth.HashToken("pamd_y"), Subject: "service_account:tf", CreatedAt: t0, ParentID: tok.ID}
	for _, tk := range []auth.Token{tok, plain} {
		if err := update(t, s, func(tx store.Tx) error { return tx.InsertToken(tk) }); err != nil {
			t.Fatal(err)
		}
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.TokenByHash(tok.Hash)
		if err != nil {
			return err
		}
		if got.ID != tok.ID || got.Subject != "user:alice" || got.Groups[0] != "dba" || got.ServerRoles[0] != "admin" ||
			got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) {
			t.Errorf("token round trip: %+v", got)
		}
		byID, err := tx.TokenByID(tok.ID)
		if err != nil || byID.Hash != tok.Hash || byID.Subject != tok.Subject {
			t.Errorf("token by id: %+v %v", byID, err)
		}
		if _, err := tx.TokenByID("tok_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing token by id: %v", err)
		}
		p, err := tx.TokenByHash(plain.Hash)
		if err != nil {
			return err
		}
		if p.ExpiresAt != nil || p.Groups == nil || len(p.Groups) != 0 || p.ParentID != tok.ID || got.ParentID != "" {
			t.Errorf("plain token: %+v", p)
		}
		if _, err := tx.TokenByHash(auth.HashToken("unknown")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown token: %v", err)
		}
		n, err := tx.CountTokens()
		if err != nil || n != 2 {
			t.Errorf("count = %d, %v", n, err)
		}
		all, err := tx.ListTokens()
		if err != nil || len(all) != 2 || all[0].ID != tok.ID || all[1].ID != plain.ID || all[0].Groups[0] != "dba" {
			t.Errorf("list = %+v, %v", all, err)
		}
		return nil
	})
	// Deleting a record revokes the token: it is no longer found by hash.
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteToken(tok.ID) }); err != nil {
		t.Fatalf("delete token: %v", err)
	}
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteToken(tok.ID) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting a deleted token: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.TokenByHash(tok.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a revoked token is still found: %v", err)
		}
		if n, err := tx.CountTokens(); err != nil || n != 1 {
			t.Errorf("count after revoke = %d, %v", n, err)
		}
		return nil
	})
}

func testIdempotency(t *testing.T, s store.Store) {
	rec := store.IdempotencyRecord{Subject: "user:alice", Method: "POST", Path: "/v1/roles", Key: "k1",
		Fingerprint: "f1", LockedUntil: t0.Add(time.Minute), ExpiresAt: t0.Add(24 * time.Hour), Header: "{}"}
	if err := update(t, s, func(tx store.Tx) error { return tx.PutIdempotency(rec) }); err != nil {
		t.Fatal(err)
	}
	rec.Done, rec.Status, rec.Body = true, 201, `{"id":"role_x"}`
	if err := update(t, s, func(tx store.Tx) error { return tx.PutIdempotency(rec) }); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	old := store.IdempotencyRecord{Subject: "user:bob", Method: "POST", Path: "/v1/roles", Key: "k1",
		Fingerprint: "f2", LockedUntil: t0, ExpiresAt: t0.Add(-time.Second), Header: "{}"}
	if err := update(t, s, func(tx store.Tx) error { return tx.PutIdempotency(old) }); err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency("user:alice", "POST", "/v1/roles", "k1")
		if err != nil {
			return err
		}
		if !got.Done || got.Status != 201 || got.Body != rec.Body || !got.ExpiresAt.Equal(rec.ExpiresAt) {
			t.Errorf("idempotency round trip: %+v", got)
		}
		if _, err := tx.GetIdempotency("user:alice", "POST", "/v1/roles", "k2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing key: %v", err)
		}
		return nil
	})
	var purged int64
	if err := update(t, s, func(tx store.Tx) (err error) { purged, err = tx.PurgeIdempotency(t0); return err }); err != nil {
		t.Fatal(err)
	}
	if purged != 1 {
		t.Fatalf("purged %d records, want 1 (only the expired one)", purged)
	}
	// Release frees a Done record no more than an applied one.
	if err := update(t, s, func(tx store.Tx) error {
		freed, err := tx.ReleaseIdempotency("user:alice", "POST", "/v1/roles", "k1")
		if freed {
			t.Errorf("ReleaseIdempotency deleted a Done record")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteIdempotency("user:alice", "POST", "/v1/roles", "k1") }); err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetIdempotency("user:alice", "POST", "/v1/roles", "k1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted key still there: %v", err)
		}
		return nil
	})
}

// testIdempotencyOwner: the holder's instance id round-trips, a takeover
// (upsert) replaces it, and a record written without one reads back ”.
func testIdempotencyOwner(t *testing.T, s store.Store) {
	rec := store.IdempotencyRecord{Subject: "user:alice", Method: "POST", Path: "/v1/roles", Key: "k",
		Fingerprint: "f", LockedUntil: t0.Add(time.Minute), ExpiresAt: t0.Add(24 * time.Hour), Header: "{}", Owner: "inst-a"}
	bare := rec
	bare.Key, bare.Owner = "bare", ""
	if err := update(t, s, func(tx store.Tx) error {
		if err := tx.PutIdempotency(rec); err != nil {
			return err
		}
		return tx.PutIdempotency(bare)
	}); err != nil {
		t.Fatal(err)
	}
	owner := func(key string) string {
		var o string
		view(t, s, func(tx store.Tx) error {
			got, err := tx.GetIdempotency(rec.Subject, rec.Method, rec.Path, key)
			o = got.Owner
			return err
		})
		return o
	}
	if got := owner("k"); got != "inst-a" {
		t.Fatalf("owner round trip: %q, want inst-a", got)
	}
	if got := owner("bare"); got != "" {
		t.Fatalf("record without an owner reads back %q", got)
	}
	rec.Owner = "inst-b"
	if err := update(t, s, func(tx store.Tx) error { return tx.PutIdempotency(rec) }); err != nil {
		t.Fatal(err)
	}
	if got := owner("k"); got != "inst-b" {
		t.Fatalf("owner after takeover: %q, want inst-b", got)
	}
}

// testIdempotencyApplied: the applied target round-trips, and only a
// reservation that is neither applied nor Done can be released.
func testIdempotencyApplied(t *testing.T, s store.Store) {
	res := store.IdempotencyRecord{Subject: "user:alice", Method: "PUT", Path: "/v1/roles/role_1", Key: "k",
		Fingerprint: "f", LockedUntil: t0.Add(time.Minute), ExpiresAt: t0.Add(24 * time.Hour), Header: "{}"}
	free := res
	free.Key = "free"
	if err := update(t, s, func(tx store.Tx) error {
		if err := tx.PutIdempotency(free); err != nil {
			return err
		}
		return tx.PutIdempotency(res)
	}); err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(res.Subject, res.Method, res.Path, res.Key)
		if err != nil {
			return err
		}
		if got.Applied() || got.AppliedTargetType != "" || got.AppliedTargetID != "" {
			t.Errorf("fresh reservation is applied: %+v", got)
		}
		return nil
	})
	res.AppliedTargetType, res.AppliedTargetID = "role", "role_1"
	if err := update(t, s, func(tx store.Tx) error { return tx.PutIdempotency(res) }); err != nil {
		t.Fatal(err)
	}
	if err := update(t, s, func(tx store.Tx) error {
		freed, err := tx.ReleaseIdempotency(res.Subject, res.Method, res.Path, res.Key)
		if freed {
			t.Errorf("ReleaseIdempotency deleted an applied reservation")
		}
		if err != nil {
			return err
		}
		freed, err = tx.ReleaseIdempotency(free.Subject, free.Method, free.Path, free.Key)
		if !freed {
			t.Errorf("ReleaseIdempotency kept an unapplied reservation")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(res.Subject, res.Method, res.Path, res.Key)
		if err != nil {
			return err
		}
		if !got.Applied() || got.AppliedTargetType != "role" || got.AppliedTargetID != "role_1" || got.Done {
			t.Errorf("applied round trip: %+v", got)
		}
		if _, err := tx.GetIdempotency(free.Subject, free.Method, free.Path, free.Key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("released reservation still there: %v", err)
		}
		return nil
	})
	// The Done outcome keeps the target.
	res.Done, res.Status, res.Body = true, 200, `{"id":"role_1"}`
	if err := update(t, s, func(tx store.Tx) error { return tx.PutIdempotency(res) }); err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(res.Subject, res.Method, res.Path, res.Key)
		if err != nil {
			return err
		}
		if !got.Done || got.AppliedTargetID != "role_1" || got.Status != 200 {
			t.Errorf("done round trip: %+v", got)
		}
		return nil
	})
	// At start a single-process store drops the reservations a dead process
	// left: only those neither applied nor Done.
	bare := free
	bare.Key = "bare"
	applied := free
	applied.Key, applied.AppliedTargetType, applied.AppliedTargetID = "applied", "role", "role_2"
	var released int64
	if err := update(t, s, func(tx store.Tx) (err error) {
		if err := tx.PutIdempotency(bare); err != nil {
			return err
		}
		if err := tx.PutIdempotency(applied); err != nil {
			return err
		}
		released, err = tx.ReleaseAbandonedIdempotency()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if released != 1 {
		t.Errorf("ReleaseAbandonedIdempotency released %d reservations, want 1 (the bare one)", released)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetIdempotency(bare.Subject, bare.Method, bare.Path, bare.Key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("abandoned bare reservation still there: %v", err)
		}
		for _, k := range []string{applied.Key, res.Key} {
			if _, err := tx.GetIdempotency(res.Subject, res.Method, res.Path, k); err != nil && k == res.Key {
				t.Errorf("done record %s released: %v", k, err)
			}
		}
		if _, err := tx.GetIdempotency(applied.Subject, applied.Method, applied.Path, applied.Key); err != nil {
			t.Errorf("applied reservation released: %v", err)
		}
		return nil
	})
}

func testSettings(t *testing.T, s store.Store) {
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetSetting("k"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing setting: %v", err)
		}
		return nil
	})
	for _, v := range []string{"one", "two"} {
		if err := update(t, s, func(tx store.Tx) error { return tx.PutSetting("k", v) }); err != nil {
			t.Fatal(err)
		}
	}
	view(t, s, func(tx store.Tx) error {
		v, err := tx.GetSetting("k")
		if err != nil || v != "two" {
			t.Errorf("setting = %q, %v", v, err)
		}
		return nil
	})
}

// testUpdateUnsynced: an unsynced update commits and rolls back like Update,
// interleaves with ordinary writers, and leaves the store usable after a
// failed, cancelled or panicking fn (the SQLite engine holds its only write
// connection for the whole call and must always give it back).
func testUpdateUnsynced(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	if err := store.UpdateUnsynced(ctx, s, func(tx store.Tx) error { return tx.PutSetting("u", "kept") }); err != nil {
		t.Fatal(err)
	}
	if err := store.UpdateUnsynced(ctx, s, func(tx store.Tx) error {
		if err := tx.PutSetting("u", "dropped"); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failed fn: %v, want boom", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	if err := store.UpdateUnsynced(cctx, s, func(tx store.Tx) error {
		cancel()
		return tx.PutSetting("u", "cancelled")
	}); err == nil {
		t.Error("an update whose context was cancelled before commit succeeded")
	}
	func() {
		defer func() {
			if p := recover(); p != "panic in fn" {
				t.Errorf("recovered %v, want the fn's panic", p)
			}
		}()
		_ = store.UpdateUnsynced(ctx, s, func(tx store.Tx) error {
			_ = tx.PutSetting("u", "panicked")
			panic("panic in fn")
		})
	}()
	// Ordinary and unsynced writers interleave; none waits forever for the
	// connection (a deadline makes a leaked connection fail, not hang).
	dctx, done := context.WithTimeout(ctx, 30*time.Second)
	defer done()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			put := func(tx store.Tx) error { return tx.PutSetting(fmt.Sprintf("k%d", i), "v") }
			if i%2 == 0 {
				errs <- store.UpdateUnsynced(dctx, s, put)
			} else {
				errs <- s.Update(dctx, put)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	view(t, s, func(tx store.Tx) error {
		if v, err := tx.GetSetting("u"); err != nil || v != "kept" {
			t.Errorf("setting u = %q, %v; want the committed value, not a rolled-back one", v, err)
		}
		for i := range 40 {
			if _, err := tx.GetSetting(fmt.Sprintf("k%d", i)); err != nil {
				t.Errorf("setting k%d: %v", i, err)
			}
		}
		return nil
	})
}

// testPurgeStepUpTokens: only step-up tokens past their expiry go; an
// operator's expired token and a step-up token still valid stay.
func testPurgeStepUpTokens(t *testing.T, s store.Store) {
	now := t0.Add(2 * time.Hour)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	tok := func(name, parent string, exp *time.Time) auth.Token {
		return auth.Token{ID: ids.New(api.PrefixToken, t0), Hash: auth.HashToken(name), Subject: "user:alice", CreatedAt: t0, ExpiresAt: exp, ParentID: parent}
	}
	parent := tok("parent", "", &past) // an operator's token, expired
	expired, valid, atNow := tok("expired-step-up", parent.ID, &past), tok("valid-step-up", parent.ID, &future), tok("step-up-at-now", parent.ID, &now)
	for _, tk := range []auth.Token{parent, expired, valid, atNow} {
		if err := update(t, s, func(tx store.Tx) error { return tx.InsertToken(tk) }); err != nil {
			t.Fatal(err)
		}
	}
	var n int64
	if err := update(t, s, func(tx store.Tx) (err error) { n, err = tx.PurgeExpiredStepUpTokens(now); return err }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("purged %d tokens, want 1", n)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.TokenByID(expired.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired step-up token still stored: %v", err)
		}
		for _, kept := range []auth.Token{parent, valid, atNow} {
			if _, err := tx.TokenByID(kept.ID); err != nil {
				t.Errorf("token %s was purged: %v", kept.Hash[:8], err)
			}
		}
		return nil
	})
}
