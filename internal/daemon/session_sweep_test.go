package daemon_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/session"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func sweepSession(principal, state string, at time.Time) api.Session {
	return api.Session{ID: ids.New(api.PrefixSession, at), State: state, VaultAccountID: "acct_1",
		Principal: api.Actor{Type: "user", ID: principal}, SessionPolicyID: "sesp_1", Protocol: api.SessionProtocolSSH,
		PolicySnapshot: session.NormalizePolicy(api.SessionPolicyInput{Name: "p"}), StartedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at}
}

// TestRestartEndsSessionsOfDeadGateway: a pamd that died (here: closed
// without its gateway ending anything, as SIGKILL would leave the file)
// left sessions pending, active and terminating, one of them written before
// sessions had owners. The next pamd on the same SQLite file ends them all
// at start (terminated, gateway_lost, audited by system), marks the
// recording never sealed unavailable and keeps the sealed one; a session
// that had ended stays as it was, and a session of the running process is
// left alone by its worker passes.
func TestRestartEndsSessionsOfDeadGateway(t *testing.T) {
	ctx := context.Background()
	cfg := daemon.Config{Listen: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "pamd.db"), BootstrapToken: adminToken, WorkerInterval: -1}
	d, err := daemon.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	admin := api.Actor{Type: "user", ID: "root"}
	active := sweepSession("alice", api.SessionActive, now)
	inProgress := api.SessionRecording{ID: ids.New(api.PrefixSessionRecording, now), SessionID: active.ID, State: api.RecordingRecording,
		Format: api.RecordingFormatAsciicastV2, CreatedAt: now, UpdatedAt: now}
	active.RecordingID = inProgress.ID
	pending := sweepSession("bob", api.SessionPending, now.Add(time.Second))
	terminating := sweepSession("carol", api.SessionTerminating, now.Add(2*time.Second))
	terminating.EndedBy = &admin
	sealed := inProgress
	sealed.ID, sealed.SessionID, sealed.State = ids.New(api.PrefixSessionRecording, now.Add(time.Second)), terminating.ID, api.RecordingAvailable
	terminating.RecordingID = sealed.ID
	legacy := sweepSession("dave", api.SessionActive, now.Add(3*time.Second))
	ended := sweepSession("erin", api.SessionTerminated, now.Add(4*time.Second))
	ended.EndedAt, ended.EndReason = &now, api.SessionEndClientClosed
	for _, s := range []api.Session{active, pending, terminating, ended} {
		if err := d.Sessions().CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	err = d.Store().Update(ctx, func(tx store.Tx) error {
		return errors.Join(tx.CreateSession(legacy, ""), // written before migration 00015: no owner
			tx.PutRecording(store.RecordingRecord{SessionRecording: inProgress}),
			tx.PutRecording(store.RecordingRecord{SessionRecording: sealed, Sealed: "sealed-body"}))
	})
	if err != nil {
		t.Fatal(err)
	}
	d = restart(ctx, t, d, cfg)
	live := sweepSession("frank", api.SessionActive, now.Add(5*time.Second))
	if err := d.Sessions().CreateSession(ctx, live); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := d.RunWorkerOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}

	err = d.Store().View(ctx, func(tx store.Tx) error {
		for _, want := range []api.Session{active, pending, terminating, legacy} {
			got, err := tx.GetSession(want.ID)
			if err != nil {
				return err
			}
			if got.State != api.SessionTerminated || got.EndReason != api.SessionEndGatewayLost || got.EndedAt == nil {
				t.Errorf("%s (%s) after restart: state %s, end reason %q, ended at %v; want terminated, gateway_lost",
					want.Principal.ID, want.State, got.State, got.EndReason, got.EndedAt)
			}
			evs, err := tx.ListAudit(store.AuditFilter{ActionPrefix: "session.ended", TargetID: want.ID, Limit: 10})
			if err != nil {
				return err
			}
			if len(evs) != 1 || evs[0].Actor.Type != "system" || evs[0].Outcome != "success" {
				t.Errorf("%s: session.ended events %+v; want one, by system", want.Principal.ID, evs)
			}
		}
		if got, err := tx.GetSession(terminating.ID); err != nil || got.EndedBy == nil || *got.EndedBy != admin {
			t.Errorf("terminating session: ended_by %v (%v), want the admin who asked kept", got.EndedBy, err)
		}
		if got, err := tx.GetSession(ended.ID); err != nil || got.EndReason != api.SessionEndClientClosed {
			t.Errorf("session ended before the crash: %+v (%v), want it unchanged", got, err)
		}
		if got, err := tx.GetSession(live.ID); err != nil || got.State != api.SessionActive || got.EndedAt != nil {
			t.Errorf("session of the running pamd: %+v (%v), want it still active", got, err)
		}
		if got, err := tx.GetRecording(inProgress.ID); err != nil || got.State != api.RecordingUnavailable || got.Sealed != "" {
			t.Errorf("recording never sealed: state %s (%v), want unavailable without a body", got.State, err)
		}
		if got, err := tx.GetRecording(sealed.ID); err != nil || got.State != api.RecordingAvailable || got.Sealed != "sealed-body" {
			t.Errorf("recording sealed before the crash: state %s (%v), want it kept available", got.State, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// What GET /v1/sessions (and so pam_sessions) shows as live now.
	st, body, err := get(http.DefaultClient, d.URL()+"/v1/sessions?state=pending,active,terminating", adminToken)
	if err != nil || st != http.StatusOK {
		t.Fatalf("list live sessions: %d %v %s", st, err, body)
	}
	if !strings.Contains(body, live.ID) || strings.Count(body, `"id":"ses_`) != 1 {
		t.Errorf("live sessions after restart: %s; want only %s", body, live.ID)
	}
}
