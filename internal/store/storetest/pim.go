package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func runPIM(t *testing.T, newStore NewFunc) {
	t.Run("ActivationPolicies", func(t *testing.T) { testPolicies(t, newStore(t)) })
	t.Run("Eligibilities", func(t *testing.T) { testEligibilities(t, newStore(t)) })
	t.Run("Elevations", func(t *testing.T) { testElevations(t, newStore(t)) })
	t.Run("TokenMFA", func(t *testing.T) { testTokenMFA(t, newStore(t)) })
}

var alice = api.Actor{Type: "user", ID: "alice"}

func newPolicy(name string) api.ActivationPolicy {
	return api.ActivationPolicy{
		Meta: api.Meta{ID: ids.New(api.PrefixActivationPolicy, t0), Version: 1, CreatedAt: t0, CreatedBy: alice, UpdatedAt: t0, UpdatedBy: alice},
		ActivationPolicyInput: api.ActivationPolicyInput{Name: name, Labels: map[string]string{},
			ActivationRules: api.ActivationRules{MaxActivationSeconds: 3600, DefaultActivationSeconds: 600, TicketSystems: []string{"jira"},
				Approval: &api.Approval{Stages: []api.ApprovalStage{{Approvers: []api.Principal{{Type: "group", ID: "sec"}}, ApprovalsNeeded: 1, TimeoutSeconds: 60}}}}},
	}
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := update(t, s, fn); err != nil {
		t.Fatal(err)
	}
}

func testPolicies(t *testing.T, s store.Store) {
	p := newPolicy("p1")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertActivationPolicy(p) })
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertActivationPolicy(newPolicy("p1")) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetActivationPolicy(p.ID)
		if err != nil {
			return err
		}
		if got.Name != "p1" || got.Approval == nil || got.Approval.Stages[0].Approvers[0].ID != "sec" || !got.CreatedAt.Equal(t0) || got.TicketSystems[0] != "jira" {
			t.Errorf("round trip %+v", got)
		}
		if id, err := tx.GetActivationPolicyIDByName("p1"); err != nil || id != p.ID {
			t.Errorf("by name %q %v", id, err)
		}
		if _, err := tx.GetActivationPolicy("actp_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing: %v", err)
		}
		return nil
	})
	p2 := p
	p2.Version, p2.Description = 2, "changed"
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateActivationPolicy(p2, 7) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale: %v", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateActivationPolicy(p2, 1) })
	other := newPolicy("p0")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertActivationPolicy(other) })
	view(t, s, func(tx store.Tx) error {
		all, err := tx.ListActivationPolicies(store.ActivationPolicyFilter{Limit: 10})
		if err != nil {
			return err
		}
		if len(all) != 2 || all[0].ID > all[1].ID || all[0].Description != "changed" {
			t.Errorf("list %+v", all)
		}
		byName, err := tx.ListActivationPolicies(store.ActivationPolicyFilter{Name: "p0", Limit: 10})
		if err != nil {
			return err
		}
		if len(byName) != 1 || byName[0].ID != other.ID {
			t.Errorf("by name %+v", byName)
		}
		n, ex, err := tx.PolicyReferences(p.ID)
		if err != nil || n != 0 || ex != "" {
			t.Errorf("references %d %q %v", n, ex, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteActivationPolicy(other.ID) })
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteActivationPolicy(other.ID) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func newElig(policyID, ptype, pid, roleID, scope string, starts, ends *time.Time) api.EligibleRoleAssignment {
	return api.EligibleRoleAssignment{
		Meta: api.Meta{ID: ids.New(api.PrefixEligibleRoleAssignment, t0), Version: 1, CreatedAt: t0, CreatedBy: alice, UpdatedAt: t0, UpdatedBy: alice},
		EligibleRoleAssignmentInput: api.EligibleRoleAssignmentInput{PrincipalType: ptype, PrincipalID: pid, RoleID: roleID, Scope: scope,
			ActivationPolicyID: policyID, StartsAt: starts, EndsAt: ends, Labels: map[string]string{}},
	}
}

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

func testEligibilities(t *testing.T, s store.Store) {
	p := newPolicy("p")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertActivationPolicy(p) })
	active := newElig(p.ID, "user", "alice", "role_a", "/orgs/a", nil, at(time.Hour))
	sub := newElig(p.ID, "group", "dba", "role_a", "/orgs/a/b", at(-time.Hour), nil)
	sched := newElig(p.ID, "user", "bob", "role_a", "/orgs/ab", at(time.Hour), at(2*time.Hour))
	expired := newElig(p.ID, "user", "carol", "role_b", "/x", at(-2*time.Hour), at(-time.Hour))
	for _, e := range []api.EligibleRoleAssignment{active, sub, sched, expired} {
		mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertEligibility(e) })
	}
	dup := newElig(p.ID, "user", "alice", "role_a", "/orgs/a", nil, nil)
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertEligibility(dup) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("natural key: %v", err)
	}
	list := func(f store.EligibilityFilter) []string {
		t.Helper()
		f.Now, f.Limit = t0, 100
		var out []string
		view(t, s, func(tx store.Tx) error {
			es, err := tx.ListEligibilities(f)
			for _, e := range es {
				out = append(out, e.ID)
			}
			return err
		})
		return out
	}
	eq := func(name string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: got %v want %v", name, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: got %v want %v", name, got, want)
			}
		}
	}
	eq("all", list(store.EligibilityFilter{}), active.ID, sub.ID, sched.ID, expired.ID)
	eq("key", list(store.EligibilityFilter{PrincipalType: "user", PrincipalID: "alice", RoleID: "role_a", Scope: "/orgs/a"}), active.ID)
	eq("prefix", list(store.EligibilityFilter{ScopePrefix: "/orgs/a"}), active.ID, sub.ID)
	eq("root prefix", list(store.EligibilityFilter{ScopePrefix: "/"}), active.ID, sub.ID, sched.ID, expired.ID)
	eq("role", list(store.EligibilityFilter{RoleID: "role_b"}), expired.ID)
	eq("policy", list(store.EligibilityFilter{ActivationPolicyID: p.ID, AfterID: sched.ID}), expired.ID)
	eq("active", list(store.EligibilityFilter{Statuses: []string{api.EligibilityActive}}), active.ID, sub.ID)
	eq("scheduled+expired", list(store.EligibilityFilter{Statuses: []string{api.EligibilityScheduled, api.EligibilityExpired}}), sched.ID, expired.ID)
	view(t, s, func(tx store.Tx) error {
		id, err := tx.GetEligibilityIDByKey("group", "dba", "role_a", "/orgs/a/b")
		if err != nil || id != sub.ID {
			t.Errorf("by key %q %v", id, err)
		}
		got, err := tx.GetEligibility(sub.ID, t0)
		if err != nil || got.EndsAt != nil || !got.StartsAt.Equal(*at(-time.Hour)) || got.ActiveElevationCount != 0 {
			t.Errorf("get %+v %v", got, err)
		}
		n, ex, err := tx.PolicyReferences(p.ID)
		if err != nil || n != 4 || ex != active.ID {
			t.Errorf("references %d %q %v", n, ex, err)
		}
		return nil
	})
	upd := active
	upd.Version, upd.EndsAt, upd.Justification = 2, nil, "x"
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateEligibility(upd, 5) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale: %v", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateEligibility(upd, 1) })
	// Active elevations are counted at the given time.
	ev := newElevation("elv_1", active, api.StateActive, at(-time.Minute), at(time.Hour))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertElevation(ev) })
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetEligibility(active.ID, t0)
		if err != nil || got.Version != 2 || got.EndsAt != nil || got.ActiveElevationCount != 1 {
			t.Errorf("after update %+v %v", got, err)
		}
		later, err := tx.GetEligibility(active.ID, t0.Add(2*time.Hour))
		if err != nil || later.ActiveElevationCount != 0 {
			t.Errorf("count after end %d %v", later.ActiveElevationCount, err)
		}
		return nil
	})
	eq("active after update", list(store.EligibilityFilter{Statuses: []string{api.EligibilityActive}}), active.ID, sub.ID)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteEligibility(expired.ID) })
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteEligibility(expired.ID) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func newElevation(id string, e api.EligibleRoleAssignment, state string, start, end *time.Time) api.Elevation {
	return api.Elevation{
		Meta:  api.Meta{ID: id, Version: 1, CreatedAt: t0, CreatedBy: alice, UpdatedAt: t0, UpdatedBy: alice},
		State: state, EligibleRoleAssignmentID: e.ID, PrincipalType: "user", PrincipalID: "alice", RoleID: e.RoleID, Scope: e.Scope,
		Source: api.SourceSelfActivation, RequestedBy: alice, RequestedDurationSeconds: 3600, StartAt: start, EndAt: end,
		Extensions: []api.Extension{}, Timeline: []api.TimelineEvent{{Event: api.EventRequested, At: t0, Actor: &alice}},
	}
}

func testElevations(t *testing.T, s store.Store) {
	el := newElig("actp_x", "user", "alice", "role_a", "/orgs/a", nil, nil)
	active := newElevation("elv_1", el, api.StateActive, at(-time.Minute), at(time.Hour))
	ended := newElevation("elv_2", el, api.StateEnded, at(-2*time.Hour), at(-time.Hour))
	pending := newElevation("elv_3", el, api.StatePendingApproval, nil, nil)
	pending.PrincipalID, pending.RequestedBy = "bob", api.Actor{Type: "user", ID: "bob"}
	pending.Approval = &api.ElevationApproval{Stages: []api.ElevationApprovalStage{
		{Index: 0, State: api.StagePending, ApprovalsNeeded: 1, Approvers: []api.Principal{{Type: "group", ID: "sec"}}, ExpiresAt: at(10 * time.Minute),
			Decisions: []api.ApprovalDecision{}},
		{Index: 1, State: api.StageWaiting, ApprovalsNeeded: 1, Approvers: []api.Principal{{Type: "user", ID: "dave"}}, Decisions: []api.ApprovalDecision{}},
	}}
	other := newElevation("elv_4", el, api.StateActive, at(-time.Minute), at(3*time.Hour))
	other.Scope, other.RoleID = "/orgs/ab", "role_b"
	for _, e := range []api.Elevation{active, ended, pending, other} {
		mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertElevation(e) })
	}
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertElevation(active) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate id: %v", err)
	}
	list := func(f store.ElevationFilter) []string {
		t.Helper()
		if f.Limit == 0 {
			f.Limit = 100
		}
		var out []string
		view(t, s, func(tx store.Tx) error {
			es, err := tx.ListElevations(f)
			for _, e := range es {
				out = append(out, e.ID)
			}
			return err
		})
		return out
	}
	eq := func(name string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: got %v want %v", name, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: got %v want %v", name, got, want)
			}
		}
	}
	now := t0
	eq("all", list(store.ElevationFilter{}), "elv_1", "elv_2", "elv_3", "elv_4")
	eq("paged", list(store.ElevationFilter{AfterID: "elv_1", Limit: 2}), "elv_2", "elv_3")
	eq("states", list(store.ElevationFilter{States: []string{api.StateActive, api.StateEnded}}), "elv_1", "elv_2", "elv_4")
	eq("active now", list(store.ElevationFilter{States: []string{api.StateActive}, EndAfter: &now}), "elv_1", "elv_4")
	eq("ends before", list(store.ElevationFilter{States: []string{api.StateActive}, EndAfter: &now, EndBefore: at(2 * time.Hour)}), "elv_1")
	eq("principal", list(store.ElevationFilter{PrincipalType: "user", PrincipalID: "bob"}), "elv_3")
	eq("scope prefix", list(store.ElevationFilter{ScopePrefix: "/orgs/a"}), "elv_1", "elv_2", "elv_3")
	eq("role", list(store.ElevationFilter{RoleID: "role_b", Scope: "/orgs/ab"}), "elv_4")
	eq("eligibility", list(store.ElevationFilter{EligibilityID: el.ID, States: []string{api.StatePendingApproval}}), "elv_3")
	eq("created", list(store.ElevationFilter{CreatedAfter: at(-time.Second), CreatedBefore: at(time.Second)}), "elv_1", "elv_2", "elv_3", "elv_4")
	eq("created after", list(store.ElevationFilter{CreatedAfter: at(time.Second)}))
	sec := store.Party{Actor: api.Actor{Type: "user", ID: "carol"}, Groups: []string{"ops", "sec"}}
	eq("approver via group", list(store.ElevationFilter{ApproverOf: &sec}), "elv_3")
	eq("approver direct", list(store.ElevationFilter{ApproverOf: &store.Party{Actor: api.Actor{Type: "user", ID: "dave"}}}), "elv_3")
	eq("not approver", list(store.ElevationFilter{ApproverOf: &store.Party{Actor: api.Actor{Type: "user", ID: "eve"}, Groups: []string{"x"}}}))
	eq("visible to alice", list(store.ElevationFilter{VisibleTo: &store.Party{Actor: alice}}), "elv_1", "elv_2", "elv_4")
	eq("visible to carol", list(store.ElevationFilter{VisibleTo: &sec}), "elv_3")

	// Deadlines: the pending stage at +10m, the active ones at their end.
	due := func(at time.Time) []string {
		t.Helper()
		var out []string
		view(t, s, func(tx store.Tx) error {
			es, err := tx.DueElevations(at, 10)
			for _, e := range es {
				out = append(out, e.ID)
			}
			return err
		})
		return out
	}
	eq("due now", due(t0))
	eq("due +1h", due(t0.Add(time.Hour)), "elv_3", "elv_1")
	eq("due +3h", due(t0.Add(3*time.Hour)), "elv_3", "elv_1", "elv_4")

	// Update: version guard, deadline and parties follow the object.
	dec := pending
	dec.Version, dec.State, dec.EndedAt = 2, api.StateDenied, at(time.Minute)
	dec.Approval.Stages[0].Decisions = []api.ApprovalDecision{{StageIndex: 0, Approver: api.Actor{Type: "user", ID: "carol"}, Decision: api.DecisionDenied, DecidedAt: t0}}
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateElevation(dec, 9) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale: %v", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateElevation(dec, 1) })
	eq("due after deny", due(t0.Add(time.Hour)), "elv_1")
	eq("decided by carol", list(store.ElevationFilter{DecidedBy: &api.Actor{Type: "user", ID: "carol"}}), "elv_3")
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetElevation("elv_3")
		if err != nil || got.State != api.StateDenied || got.Version != 2 || len(got.Approval.Stages[0].Decisions) != 1 || !got.EndedAt.Equal(*at(time.Minute)) {
			t.Errorf("get %+v %v", got, err)
		}
		if _, err := tx.GetElevation("elv_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing %v", err)
		}
		return nil
	})
	missing := active
	missing.ID = "elv_missing"
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateElevation(missing, 1) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
}

func testTokenMFA(t *testing.T, s store.Store) {
	mfa := t0.Add(-time.Minute)
	with := newToken("tok_mfa", "hash-mfa")
	with.MFAAt = &mfa
	without := newToken("tok_plain", "hash-plain")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertToken(with) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertToken(without) })
	view(t, s, func(tx store.Tx) error {
		a, err := tx.TokenByHash("hash-mfa")
		if err != nil || a.MFAAt == nil || !a.MFAAt.Equal(mfa) {
			t.Errorf("mfa token %+v %v", a, err)
		}
		b, err := tx.TokenByHash("hash-plain")
		if err != nil || b.MFAAt != nil {
			t.Errorf("plain token %+v %v", b, err)
		}
		return nil
	})
}

func newToken(id, hash string) auth.Token {
	return auth.Token{ID: id, Hash: hash, Subject: "user:alice", Groups: []string{}, ServerRoles: []string{}, CreatedAt: t0}
}
