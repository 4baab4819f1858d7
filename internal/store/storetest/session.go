package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func runSession(t *testing.T, newStore NewFunc) {
	t.Run("SessionPolicies", func(t *testing.T) { testSessionPolicies(t, newStore(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, newStore(t)) })
	t.Run("SessionRecordings", func(t *testing.T) { testSessionRecordings(t, newStore(t)) })
	t.Run("SessionOwners", func(t *testing.T) { testSessionOwners(t, newStore(t)) })
}

func newSessionPolicy(name string) api.SessionPolicy {
	a := api.Actor{Type: "user", ID: "alice"}
	return api.SessionPolicy{
		Meta: api.Meta{ID: ids.New(api.PrefixSessionPolicy, t0), Version: 1, CreatedAt: t0, CreatedBy: a, UpdatedAt: t0, UpdatedBy: a},
		SessionPolicyInput: api.SessionPolicyInput{Name: name, Protocols: []string{"ssh"}, MaxSessionDurationSeconds: 3600,
			CommandFilter: api.CommandFilter{DefaultAction: "allow", Rules: []api.CommandFilterRule{
				{Match: "regex", Pattern: `^rm\s`, Action: "deny"}, {Match: "exact", Pattern: "reboot", Action: "terminate_session"},
			}},
			Labels: map[string]string{"env": "prod"}},
	}
}

func testSessionPolicies(t *testing.T, s store.Store) {
	a, b := newSessionPolicy("a"), newSessionPolicy("b")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertSessionPolicy(a) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertSessionPolicy(b) })
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertSessionPolicy(newSessionPolicy("a")) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetSessionPolicy(a.ID)
		if err != nil {
			return err
		}
		if got.Name != "a" || len(got.CommandFilter.Rules) != 2 || got.CommandFilter.Rules[1].Pattern != "reboot" || got.Labels["env"] != "prod" {
			t.Errorf("round trip: %+v", got)
		}
		if id, err := tx.GetSessionPolicyIDByName("b"); err != nil || id != b.ID {
			t.Errorf("by name: %s %v", id, err)
		}
		if _, err := tx.GetSessionPolicyIDByName("zzz"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown name: %v", err)
		}
		if _, err := tx.GetSessionPolicy("sesp_nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		page, err := tx.ListSessionPolicies(store.SessionPolicyFilter{Limit: 1})
		if err != nil || len(page) != 1 || page[0].ID != a.ID {
			t.Errorf("page 1: %v %v", page, err)
		}
		page, err = tx.ListSessionPolicies(store.SessionPolicyFilter{AfterID: a.ID, Limit: 10})
		if err != nil || len(page) != 1 || page[0].ID != b.ID {
			t.Errorf("page 2: %v %v", page, err)
		}
		page, err = tx.ListSessionPolicies(store.SessionPolicyFilter{Name: "b", Limit: 10})
		if err != nil || len(page) != 1 || page[0].ID != b.ID {
			t.Errorf("by name filter: %v %v", page, err)
		}
		return nil
	})
	a2 := a
	a2.Name, a2.Version = "b", 2
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateSessionPolicy(a2, 1) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename onto taken name: %v", err)
	}
	a2.Name = "a2"
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateSessionPolicy(a2, 1) })
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateSessionPolicy(a2, 1) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale update: %v", err)
	}
	ghost := newSessionPolicy("ghost")
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateSessionPolicy(ghost, 1) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteSessionPolicy(a.ID) })
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteSessionPolicy(a.ID) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func newSession(principal string, at time.Time, account, policy string) api.Session {
	return api.Session{
		ID: ids.New(api.PrefixSession, at), State: api.SessionActive, VaultAccountID: account,
		Principal: api.Actor{Type: "user", ID: principal}, SessionPolicyID: policy, PolicyVersion: 1,
		PolicySnapshot: newSessionPolicy("p").SessionPolicyInput, Protocol: "ssh", ClientIP: "192.0.2.7",
		StartedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at,
	}
}

func testSessions(t *testing.T, s store.Store) {
	s1 := newSession("alice", t0, "acct_1", "sesp_1")
	s2 := newSession("alice", t0.Add(time.Minute), "acct_2", "sesp_1")
	s3 := newSession("bob", t0.Add(2*time.Minute), "acct_1", "sesp_2")
	s3.State = api.SessionPending
	s3.CommandFilterHits = []api.CommandFilterHit{{At: t0, Command: "ignored", Action: "deny"}}
	for _, x := range []api.Session{s1, s2, s3} {
		mustUpdate(t, s, func(tx store.Tx) error { return tx.CreateSession(x, "") })
	}
	if err := update(t, s, func(tx store.Tx) error { return tx.CreateSession(s1, "inst_a") }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate session id: %v", err)
	}
	hitAt := t0.Add(30 * time.Second)
	long := make([]byte, api.MaxFilterHitCommandLength+10)
	for i := range long {
		long[i] = 'x'
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.AppendFilterHit(s1.ID, api.CommandFilterHit{At: hitAt, Command: "rm -rf /", RuleIndex: 0, Action: "deny"}); err != nil {
			return err
		}
		return tx.AppendFilterHit(s1.ID, api.CommandFilterHit{At: hitAt.Add(time.Second), Command: string(long), RuleIndex: -1, Action: "deny"})
	})
	if err := update(t, s, func(tx store.Tx) error {
		return tx.AppendFilterHit("ses_nope", api.CommandFilterHit{At: hitAt, Command: "x", Action: "deny"})
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("hit on unknown session: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetSession(s1.ID)
		if err != nil {
			return err
		}
		if len(got.CommandFilterHits) != 2 || got.CommandFilterHits[0].Command != "rm -rf /" || !got.CommandFilterHits[0].At.Equal(hitAt) ||
			got.CommandFilterHits[1].RuleIndex != -1 || len(got.CommandFilterHits[1].Command) != api.MaxFilterHitCommandLength {
			t.Errorf("hits: %+v", got.CommandFilterHits)
		}
		if got.Principal.ID != "alice" || got.PolicySnapshot.CommandFilter.Rules[0].Pattern != `^rm\s` || !got.StartedAt.Equal(t0) {
			t.Errorf("round trip: %+v", got)
		}
		if g3, err := tx.GetSession(s3.ID); err != nil || len(g3.CommandFilterHits) != 0 || g3.CommandFilterHits == nil {
			t.Errorf("hits of s3 must be empty, not nil: %+v %v", g3.CommandFilterHits, err)
		}
		if _, err := tx.GetSession("ses_nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown session: %v", err)
		}
		for _, c := range []struct {
			f    store.SessionFilter
			want []string
		}{
			{store.SessionFilter{Limit: 10}, []string{s1.ID, s2.ID, s3.ID}},
			{store.SessionFilter{Limit: 2}, []string{s1.ID, s2.ID}},
			{store.SessionFilter{AfterID: s2.ID, Limit: 10}, []string{s3.ID}},
			{store.SessionFilter{States: []string{api.SessionPending}, Limit: 10}, []string{s3.ID}},
			{store.SessionFilter{States: []string{api.SessionPending, api.SessionActive}, Limit: 10}, []string{s1.ID, s2.ID, s3.ID}},
			{store.SessionFilter{PrincipalType: "user", PrincipalID: "alice", Limit: 10}, []string{s1.ID, s2.ID}},
			{store.SessionFilter{VaultAccountID: "acct_1", Limit: 10}, []string{s1.ID, s3.ID}},
			{store.SessionFilter{SessionPolicyID: "sesp_2", Limit: 10}, []string{s3.ID}},
			{store.SessionFilter{StartedAfter: t0, Limit: 10}, []string{s2.ID, s3.ID}},
		} {
			got, err := tx.ListSessions(c.f)
			if err != nil {
				return err
			}
			var gotIDs []string
			for _, x := range got {
				gotIDs = append(gotIDs, x.ID)
				if x.CommandFilterHits == nil {
					t.Errorf("list: nil hits on %s", x.ID)
				}
				if x.ID == s1.ID && len(x.CommandFilterHits) != 2 {
					t.Errorf("list: hits of s1 %+v", x.CommandFilterHits)
				}
			}
			if len(gotIDs) != len(c.want) {
				t.Errorf("filter %+v: got %v want %v", c.f, gotIDs, c.want)
				continue
			}
			for i := range gotIDs {
				if gotIDs[i] != c.want[i] {
					t.Errorf("filter %+v: got %v want %v", c.f, gotIDs, c.want)
				}
			}
		}
		if n, err := tx.CountActiveSessions(api.Actor{Type: "user", ID: "alice"}); err != nil || n != 2 {
			t.Errorf("active alice: %d %v", n, err)
		}
		return nil
	})

	// Touch, then end s1: the immutable fields and the hits survive.
	touched := t0.Add(40 * time.Second)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.TouchSession(s1.ID, touched) })
	ended := t0.Add(time.Minute)
	mustUpdate(t, s, func(tx store.Tx) error {
		cur, err := tx.GetSession(s1.ID)
		if err != nil {
			return err
		}
		if cur.LastActivityAt == nil || !cur.LastActivityAt.Equal(touched) {
			t.Errorf("touch: %v", cur.LastActivityAt)
		}
		cur.State, cur.EndedAt, cur.EndReason = api.SessionTerminated, &ended, api.SessionEndTerminatedByAdmin
		cur.EndedBy, cur.RecordingID, cur.UpdatedAt = &api.Actor{Type: "user", ID: "root"}, "rec_1", ended
		cur.VaultAccountID, cur.CommandFilterHits = "acct_changed", nil // ignored
		return tx.UpdateSession(cur)
	})
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateSession(newSession("x", t0, "a", "p")) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update unknown session: %v", err)
	}
	if err := update(t, s, func(tx store.Tx) error { return tx.TouchSession("ses_nope", t0) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch unknown session: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetSession(s1.ID)
		if err != nil {
			return err
		}
		if got.State != api.SessionTerminated || got.EndedAt == nil || !got.EndedAt.Equal(ended) || got.EndReason != api.SessionEndTerminatedByAdmin ||
			got.EndedBy == nil || got.RecordingID != "rec_1" || got.VaultAccountID != "acct_1" || len(got.CommandFilterHits) != 2 ||
			got.LastActivityAt == nil || !got.LastActivityAt.Equal(touched) {
			t.Errorf("after end: %+v", got)
		}
		if n, err := tx.CountActiveSessions(api.Actor{Type: "user", ID: "alice"}); err != nil || n != 1 {
			t.Errorf("active alice after end: %d %v", n, err)
		}
		if got, err := tx.ListSessions(store.SessionFilter{States: []string{api.SessionTerminated}, Limit: 10}); err != nil || len(got) != 1 || got[0].ID != s1.ID {
			t.Errorf("terminated filter: %v %v", got, err)
		}
		return nil
	})
}

// testSessionOwners: the owner given to CreateSession is what
// ListSessionOwners reports for sessions not yet terminated ("" for none),
// and what the Owners filter matches.
func testSessionOwners(t *testing.T, s store.Store) {
	view(t, s, func(tx store.Tx) error {
		if got, err := tx.ListSessionOwners(); err != nil || len(got) != 0 {
			t.Errorf("owners of an empty store: %v %v", got, err)
		}
		return nil
	})
	a1 := newSession("alice", t0, "acct_1", "sesp_1")
	a2 := newSession("alice", t0.Add(time.Second), "acct_1", "sesp_1")
	a2.State = api.SessionTerminating
	b := newSession("bob", t0.Add(2*time.Second), "acct_1", "sesp_1")
	b.State = api.SessionPending
	none := newSession("carol", t0.Add(3*time.Second), "acct_1", "sesp_1")
	ended := newSession("dave", t0.Add(4*time.Second), "acct_1", "sesp_1")
	ended.State = api.SessionTerminated
	for _, c := range []struct {
		s     api.Session
		owner string
	}{{a1, "inst_a"}, {a2, "inst_a"}, {b, "inst_b"}, {none, ""}, {ended, "inst_c"}} {
		mustUpdate(t, s, func(tx store.Tx) error { return tx.CreateSession(c.s, c.owner) })
	}
	live := []string{api.SessionPending, api.SessionActive, api.SessionTerminating}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.ListSessionOwners()
		if err != nil {
			return err
		}
		if want := []string{"", "inst_a", "inst_b"}; !slices.Equal(got, want) {
			t.Errorf("owners: got %q want %q (terminated sessions are left out)", got, want)
		}
		for _, c := range []struct {
			owners []string
			want   []string
		}{
			{[]string{"inst_a"}, []string{a1.ID, a2.ID}},
			{[]string{""}, []string{none.ID}},
			{[]string{"inst_b", ""}, []string{b.ID, none.ID}},
			{[]string{"inst_c"}, nil},
			{nil, []string{a1.ID, a2.ID, b.ID, none.ID}},
		} {
			got, err := tx.ListSessions(store.SessionFilter{States: live, Owners: c.owners, Limit: 10})
			if err != nil {
				return err
			}
			var ids []string
			for _, x := range got {
				ids = append(ids, x.ID)
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("owners %q: got %v want %v", c.owners, ids, c.want)
			}
		}
		return nil
	})
	// Ending a session drops its owner from the list once it has no other.
	mustUpdate(t, s, func(tx store.Tx) error {
		cur, err := tx.GetSession(b.ID)
		if err != nil {
			return err
		}
		cur.State = api.SessionTerminated
		return tx.UpdateSession(cur)
	})
	view(t, s, func(tx store.Tx) error {
		if got, err := tx.ListSessionOwners(); err != nil || !slices.Equal(got, []string{"", "inst_a"}) {
			t.Errorf("owners after inst_b's session ended: %q %v", got, err)
		}
		return nil
	})
}

func testSessionRecordings(t *testing.T, s store.Store) {
	retain := t0.Add(90 * 24 * time.Hour)
	r := store.RecordingRecord{SessionRecording: api.SessionRecording{
		ID: ids.New(api.PrefixSessionRecording, t0), SessionID: "ses_1", State: api.RecordingRecording,
		Format: api.RecordingFormatAsciicastV2, CreatedAt: t0, UpdatedAt: t0, RetainUntil: &retain,
	}}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRecording(r) })
	view(t, s, func(tx store.Tx) error {
		vals, err := tx.ListSealedValues()
		if err != nil {
			return err
		}
		for _, v := range vals {
			if v.Kind == store.SealedSessionRecording {
				t.Errorf("an empty recording is no sealed value: %+v", v)
			}
		}
		return nil
	})
	r.State, r.Bytes, r.SHA256, r.DurationSeconds, r.Sealed = api.RecordingAvailable, 42, "ab12", 7, "sealed-body"
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRecording(r) })
	other := r
	other.ID, other.SessionID, other.Sealed = ids.New(api.PrefixSessionRecording, t0.Add(time.Second)), "ses_2", "s2"
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRecording(other) })
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetRecording(r.ID)
		if err != nil {
			return err
		}
		if got.State != api.RecordingAvailable || got.Sealed != "sealed-body" || got.Bytes != 42 || got.SHA256 != "ab12" ||
			got.RetainUntil == nil || !got.RetainUntil.Equal(retain) {
			t.Errorf("recording: %+v", got)
		}
		if _, err := tx.GetRecording("rec_nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown recording: %v", err)
		}
		list, err := tx.ListRecordings(store.RecordingFilter{SessionID: "ses_2", Limit: 10})
		if err != nil || len(list) != 1 || list[0].ID != other.ID {
			t.Errorf("by session: %v %v", list, err)
		}
		list, err = tx.ListRecordings(store.RecordingFilter{Limit: 1})
		if err != nil || len(list) != 1 || list[0].ID != r.ID {
			t.Errorf("page: %v %v", list, err)
		}
		vals, err := tx.ListSealedValues()
		if err != nil {
			return err
		}
		n := 0
		for _, v := range vals {
			if v.Kind == store.SealedSessionRecording {
				n++
			}
		}
		if n != 2 {
			t.Errorf("sealed recordings listed: %d", n)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.ReplaceSealedValue(store.SealedValue{Kind: store.SealedSessionRecording, Key: r.ID, Sealed: "rewrapped"})
	})
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetRecording(r.ID)
		if err != nil || got.Sealed != "rewrapped" {
			t.Errorf("after rewrap: %q %v", got.Sealed, err)
		}
		return nil
	})
}
