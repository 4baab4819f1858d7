package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/gateway"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/session"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/engine"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

// TestSweepEndsOnlyDeadReplicasSessions (PostgreSQL): three replicas share
// one database, the leader (a daemon) and two more stores whose gateways
// created sessions. One of them closes, as a killed replica's connections
// do: the leader's worker pass ends its sessions (terminated, gateway_lost,
// session.ended by system, once) and leaves the sessions of the live
// replica, its own, and one without an owner (unknown counts as alive with
// replicas) as they are.
func TestSweepEndsOnlyDeadReplicasSessions(t *testing.T) {
	target := testdb.NewPostgres(t, testdb.PostgresDSN(t))
	ctx := context.Background()
	d, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", DB: target, MasterKeyFile: testdb.KeyFile(t),
		BootstrapToken: adminToken, WorkerInterval: -1, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	open := func() store.Store {
		st, err := engine.Open(ctx, target, engine.Options{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	dead, alive := open(), open()

	now := time.Now().UTC().Truncate(time.Second)
	n := 0
	create := func(via func(context.Context, api.Session) error, state string) api.Session {
		t.Helper()
		n++
		at := now.Add(time.Duration(n) * time.Second)
		s := api.Session{ID: ids.New(api.PrefixSession, at), State: state, VaultAccountID: "acct_1",
			Principal: api.Actor{Type: "user", ID: "alice"}, SessionPolicyID: "sesp_1", Protocol: api.SessionProtocolSSH,
			PolicySnapshot: session.NormalizePolicy(api.SessionPolicyInput{Name: "p"}), StartedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at}
		if err := via(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	unowned := func(ctx context.Context, s api.Session) error {
		return d.Store().Update(ctx, func(tx store.Tx) error { return tx.CreateSession(s, "") })
	}
	deadActive := create(gateway.StoreSessions{Store: dead}.CreateSession, api.SessionActive)
	deadPending := create(gateway.StoreSessions{Store: dead}.CreateSession, api.SessionPending)
	kept := []api.Session{
		create(gateway.StoreSessions{Store: alive}.CreateSession, api.SessionActive),
		create(gateway.StoreSessions{Store: d.Store()}.CreateSession, api.SessionActive),
		create(unowned, api.SessionActive),
	}

	if _, err := d.RunWorkerOnce(ctx); err != nil {
		t.Fatal(err)
	}
	assertSessions(t, d.Store(), nil, append(kept, deadActive, deadPending))

	if err := dead.Close(); err != nil { // the replica dies: its instance lock is released
		t.Fatal(err)
	}
	for range 2 { // a second pass finds nothing more to end
		if _, err := d.RunWorkerOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	assertSessions(t, d.Store(), []api.Session{deadActive, deadPending}, kept)
}

// assertSessions checks that every session of ended was ended by the sweep
// (gateway_lost, one session.ended event by system) and that every session
// of live is still in its state, with no such event.
func assertSessions(t *testing.T, st store.Store, ended, live []api.Session) {
	t.Helper()
	err := st.View(context.Background(), func(tx store.Tx) error {
		check := func(s api.Session, wantState, wantReason string, wantEvents int) error {
			got, err := tx.GetSession(s.ID)
			if err != nil {
				return err
			}
			evs, err := tx.ListAudit(store.AuditFilter{ActionPrefix: "session.ended", TargetID: s.ID, Limit: 10})
			if err != nil {
				return err
			}
			if got.State != wantState || got.EndReason != wantReason || len(evs) != wantEvents || (wantEvents > 0 && evs[0].Actor.Type != "system") {
				t.Errorf("session %s (%s): state %s, end reason %q, %d session.ended events %+v; want %s %q, %d by system",
					s.ID, s.State, got.State, got.EndReason, len(evs), evs, wantState, wantReason, wantEvents)
			}
			return nil
		}
		for _, s := range ended {
			if err := check(s, api.SessionTerminated, api.SessionEndGatewayLost, 1); err != nil {
				return err
			}
		}
		for _, s := range live {
			if err := check(s, s.State, "", 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
