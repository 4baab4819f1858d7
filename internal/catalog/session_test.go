package catalog

import (
	"bytes"
	"context"
	"errors"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"net/http"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/session"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func TestMergeSessionUpdate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	admin := &api.Actor{Type: "user", ID: "root"}
	cases := []struct {
		name       string
		cur, next  api.Session
		wantState  string
		wantReason string
		wantBy     bool
		wantLast   *time.Time
	}{
		{"forward", api.Session{State: api.SessionPending}, api.Session{State: api.SessionActive, LastActivityAt: &t1}, api.SessionActive, "", false, &t1},
		{"terminating kept", api.Session{State: api.SessionTerminating, EndedBy: admin}, api.Session{State: api.SessionActive, LastActivityAt: &t2},
			api.SessionTerminating, "", true, &t2},
		{"end over terminating", api.Session{State: api.SessionTerminating, EndedBy: admin},
			api.Session{State: api.SessionTerminated, EndReason: api.SessionEndTerminatedByAdmin}, api.SessionTerminated, api.SessionEndTerminatedByAdmin, true, nil},
		{"ended stays ended", api.Session{State: api.SessionTerminated, EndReason: api.SessionEndIdleTimeout, EndedAt: &t1},
			api.Session{State: api.SessionActive, EndReason: ""}, api.SessionTerminated, api.SessionEndIdleTimeout, false, nil},
		{"activity never goes back", api.Session{State: api.SessionActive, LastActivityAt: &t2}, api.Session{State: api.SessionActive, LastActivityAt: &t1},
			api.SessionActive, "", false, &t2},
	}
	for _, c := range cases {
		got := MergeSessionUpdate(c.cur, c.next)
		if got.State != c.wantState || got.EndReason != c.wantReason || (got.EndedBy != nil) != c.wantBy {
			t.Errorf("%s: %+v", c.name, got)
		}
		if (c.wantLast == nil) != (got.LastActivityAt == nil) || (c.wantLast != nil && !got.LastActivityAt.Equal(*c.wantLast)) {
			t.Errorf("%s: last activity %v", c.name, got.LastActivityAt)
		}
	}
	if got := MergeSessionUpdate(api.Session{RecordingID: "rec_1"}, api.Session{}); got.RecordingID != "rec_1" {
		t.Error("recording id lost")
	}
}

func newSessionsForTest(t *testing.T) *Sessions {
	t.Helper()
	st := testdb.Open(t)
	kr, err := keys.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &Sessions{Store: st, Clock: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), Keyring: kr}
}

func adminCaller() Caller {
	return Caller{Principal: auth.Principal{Subject: "user:root", ServerRoles: []string{api.ServerRoleAdmin}}}
}

func TestDownloadRecordingRefusesTamperedBody(t *testing.T) {
	s := newSessionsForTest(t)
	ctx := context.Background()
	body := []byte("{\"version\":2,\"width\":80,\"height\":24}\n[0,\"o\",\"hi\"]\n")
	sealed, err := s.Keyring.SealString(body, session.RecordingAAD("rec_1"))
	if err != nil {
		t.Fatal(err)
	}
	meta := api.SessionRecording{ID: "rec_1", SessionID: "ses_1", State: api.RecordingAvailable, Bytes: int64(len(body)), SHA256: session.SHA256Hex(body)}
	if err := s.PutRecording(ctx, meta, sealed); err != nil {
		t.Fatal(err)
	}
	_, got, err := s.DownloadRecording(ctx, adminCaller(), "rec_1")
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("download: %v %q", err, got)
	}
	meta.SHA256 = session.SHA256Hex([]byte("something else"))
	if err := s.PutRecording(ctx, meta, sealed); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.DownloadRecording(ctx, adminCaller(), "rec_1"); err == nil {
		t.Fatal("a body not matching its sha256 was served")
	}
	// The failed download left no audit event behind (same transaction).
	n := 0
	if err := s.Store.View(ctx, func(tx store.Tx) error {
		evs, err := tx.ListAudit(store.AuditFilter{ActionPrefix: "session_recording.downloaded", Limit: 100})
		n = len(evs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("download events: %d, want 1", n)
	}
	s.Keyring = nil
	meta.SHA256 = session.SHA256Hex(body)
	_ = s.PutRecording(ctx, meta, sealed)
	var p *api.Problem
	if _, _, err := s.DownloadRecording(ctx, adminCaller(), "rec_1"); !errors.As(err, &p) || p.Status != http.StatusServiceUnavailable {
		t.Fatalf("no keyring: %v", err)
	}
}

type errTerminator struct{ err error }

func (e errTerminator) TerminateSession(context.Context, string, string) error { return e.err }

func TestTerminateSessionWithLiveGateway(t *testing.T) {
	s := newSessionsForTest(t)
	ctx := context.Background()
	sess := api.Session{ID: "ses_1", State: api.SessionActive, Principal: api.Actor{Type: "user", ID: "alice"}}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	s.SetTerminator(errTerminator{}) // nil error: the gateway cuts it
	got, err := s.TerminateSession(ctx, adminCaller(), "ses_1", "r")
	if err != nil || got.State != api.SessionTerminating {
		t.Fatalf("terminate: %+v %v", got, err)
	}
	// Terminating again while terminating is allowed (the gateway may have
	// missed it); once ended it is a 409.
	s.SetTerminator(nil)
	got, err = s.TerminateSession(ctx, adminCaller(), "ses_1", "again")
	if err != nil || got.State != api.SessionTerminated || got.EndReason != api.SessionEndTerminatedByAdmin {
		t.Fatalf("terminate with no gateway: %+v %v", got, err)
	}
	var p *api.Problem
	if _, err := s.TerminateSession(ctx, adminCaller(), "ses_1", "x"); !errors.As(err, &p) || p.Code != api.CodeInvalidStateTransition {
		t.Fatalf("terminate ended: %v", err)
	}
	if _, err := s.TerminateSession(ctx, adminCaller(), "ses_1", string(bytes.Repeat([]byte("x"), api.MaxDescriptionLength+1))); !errors.As(err, &p) ||
		p.Code != api.CodeValidationFailed {
		t.Fatalf("long reason: %v", err)
	}
	if n, err := s.CountActiveSessions(ctx, sess.Principal); err != nil || n != 0 {
		t.Fatalf("active: %d %v", n, err)
	}
}
