package server_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/session"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// fakeTerminator stands in for the SSH gateway.
type fakeTerminator struct {
	mu    sync.Mutex
	live  map[string]bool
	calls []string
}

func (f *fakeTerminator) TerminateSession(_ context.Context, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, id+":"+reason)
	if !f.live[id] {
		return errors.New("not live here")
	}
	delete(f.live, id)
	return nil
}

func (f *fakeTerminator) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

type sessionEnv struct {
	*env
	term *fakeTerminator
}

func startSessions(t *testing.T) *sessionEnv {
	t.Helper()
	fc := clock.NewFake(pimT0)
	term := &fakeTerminator{live: map[string]bool{}}
	d, err := daemon.Start(context.Background(), daemon.Config{
		Listen: "127.0.0.1:0", DB: testdb.Target(t), MasterKeyFile: testdb.KeyFile(t), BootstrapToken: adminToken,
		Clock: fc, Version: "test", WorkerInterval: -1, Terminator: term,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &sessionEnv{env: &env{t: t, d: d, clock: fc, admin: adminToken}, term: term}
}

func strictPolicy(name string) api.SessionPolicyInput {
	return api.SessionPolicyInput{
		Name: name, MaxSessionDurationSeconds: 3600, IdleTimeoutSeconds: 600, MaxConcurrentSessionsPerPrincipal: 2,
		Recording: api.SessionRecordingPolicy{Enabled: true},
		CommandFilter: api.CommandFilter{DefaultAction: "allow", Rules: []api.CommandFilterRule{
			{Match: "regex", Pattern: `^rm\s+-rf\s+/`, Action: "deny", Description: "no root wipes"},
			{Match: "prefix", Pattern: "sudo su", Action: "terminate_session"},
		}},
		FileTransfer: api.FileTransferPolicy{Download: true},
	}
}

func (e *sessionEnv) countAudit(action string) int {
	n := 0
	for _, ev := range e.auditEvents() {
		if ev.Action == action && ev.Outcome == api.OutcomeSuccess {
			n++
		}
	}
	return n
}

func TestSessionPolicyCRUD(t *testing.T) {
	e := startSessions(t)
	r := e.do(http.MethodPost, api.PathSessionPolicies, e.admin, strictPolicy("prod-ssh")).want(t, 201)
	var p api.SessionPolicy
	r.json(t, &p)
	if !strings.HasPrefix(p.ID, api.PrefixSessionPolicy+"_") || p.Version != 1 || r.header.Get("ETag") != `"1"` ||
		r.header.Get("Location") != api.PathSessionPolicies+"/"+p.ID {
		t.Fatalf("created: %+v %v", p, r.header)
	}
	// Normalised: defaults filled in, rule order kept.
	if strings.Join(p.Protocols, ",") != "ssh" || p.CredentialDelivery != "injected" || p.Recording.Mode != "strict" ||
		p.Recording.RetainDays != api.DefaultRecordingRetainDays || p.CommandFilter.Rules[0].Match != "regex" || p.CommandFilter.Rules[1].Pattern != "sudo su" {
		t.Fatalf("normalised: %+v", p)
	}
	var got api.SessionPolicy
	e.do(http.MethodGet, api.PathSessionPolicies+"/"+p.ID, e.token("user:bob", "requester"), nil).want(t, 200).json(t, &got)
	if got.Name != "prod-ssh" || got.MaxConcurrentSessionsPerPrincipal != 2 {
		t.Fatalf("get: %+v", got)
	}

	// Name conflict.
	c := e.do(http.MethodPost, api.PathSessionPolicies, e.admin, strictPolicy("prod-ssh")).problem(t, 409, api.CodeAlreadyExists)
	if c.ExistingID != p.ID {
		t.Fatalf("existing_id %q", c.ExistingID)
	}

	// Malformed regex: 400 at the rule's pattern with the regexp error.
	bad := strictPolicy("bad")
	bad.CommandFilter.Rules = append(bad.CommandFilter.Rules, api.CommandFilterRule{Match: "regex", Pattern: `rm (-rf`, Action: "deny"})
	_, reErr := regexp.Compile(`rm (-rf`) //nolint:staticcheck // deliberately malformed
	vp := e.do(http.MethodPost, api.PathSessionPolicies, e.admin, bad).problem(t, 400, api.CodeValidationFailed)
	if len(vp.Violations) != 1 || vp.Violations[0].Pointer != "/command_filter/rules/2/pattern" ||
		!strings.Contains(vp.Violations[0].Message, reErr.Error()) || vp.Violations[0].Code != session.CodeInvalidRegex {
		t.Fatalf("violations: %+v", vp.Violations)
	}
	bad = strictPolicy("bad2")
	bad.IdleTimeoutSeconds, bad.Protocols = 7200, []string{"telnet"}
	vp = e.do(http.MethodPost, api.PathSessionPolicies, e.admin, bad).problem(t, 400, api.CodeValidationFailed)
	if strings.Join(violationPointers(vp), ",") != "/idle_timeout_seconds,/protocols/0" {
		t.Fatalf("violations: %+v", vp.Violations)
	}

	// Only admin and security write; refusals are audited.
	e.do(http.MethodPost, api.PathSessionPolicies, e.token("user:bob", "requester"), strictPolicy("x")).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodPut, api.PathSessionPolicies+"/"+p.ID, e.token("user:carol", "auditor"), strictPolicy("x")).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodPut, api.PathSessionPolicies+"/sesp_nope", e.token("user:carol", "auditor"), strictPolicy("x")).problem(t, 404, api.CodeNotFound)
	denied := 0
	for _, ev := range e.auditEvents() {
		if strings.HasPrefix(ev.Action, "session_policy.") && ev.Outcome == api.OutcomeDenied {
			denied++
		}
	}
	if denied != 2 {
		t.Fatalf("denied events: %d", denied)
	}

	// Replace with If-Match; stale If-Match is 412.
	upd := strictPolicy("prod-ssh")
	upd.CommandFilter.Rules = []api.CommandFilterRule{{Match: "glob", Pattern: "iptables *", Action: "alert"}}
	var p2 api.SessionPolicy
	e.do(http.MethodPut, api.PathSessionPolicies+"/"+p.ID, e.token("user:sec", "security"), upd, "If-Match", `"1"`).want(t, 200).json(t, &p2)
	if p2.Version != 2 || len(p2.CommandFilter.Rules) != 1 {
		t.Fatalf("replaced: %+v", p2)
	}
	e.do(http.MethodPut, api.PathSessionPolicies+"/"+p.ID, e.admin, upd, "If-Match", `"1"`).problem(t, 412, api.CodeEtagMismatch)
	other := e.do(http.MethodPost, api.PathSessionPolicies, e.admin, strictPolicy("other")).want(t, 201)
	var o api.SessionPolicy
	other.json(t, &o)
	e.do(http.MethodPut, api.PathSessionPolicies+"/"+o.ID, e.admin, strictPolicy("prod-ssh")).problem(t, 409, api.CodeAlreadyExists)

	// List with paging and a name filter.
	var page api.Page[api.SessionPolicy]
	e.do(http.MethodGet, api.PathSessionPolicies+"?page_size=1", e.admin, nil).want(t, 200).json(t, &page)
	if len(page.Items) != 1 || page.NextPageToken == "" {
		t.Fatalf("page 1: %+v", page)
	}
	var page2 api.Page[api.SessionPolicy]
	e.do(http.MethodGet, api.PathSessionPolicies+"?page_size=1&page_token="+page.NextPageToken, e.admin, nil).want(t, 200).json(t, &page2)
	if len(page2.Items) != 1 || page2.Items[0].ID == page.Items[0].ID || page2.NextPageToken != "" {
		t.Fatalf("page 2: %+v", page2)
	}
	e.do(http.MethodGet, api.PathSessionPolicies+"?name=other", e.admin, nil).want(t, 200).json(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != o.ID {
		t.Fatalf("by name: %+v", page)
	}

	// References to unknown session policies are refused.
	up := e.do(http.MethodPost, api.PathSafes, e.admin, api.SafeInput{Name: "ghost", DefaultSessionPolicyID: "sesp_nope"}).problem(t, 400, api.CodeValidationFailed)
	if strings.Join(violationPointers(up), ",") != "/default_session_policy_id" || !strings.Contains(up.Violations[0].Message, "sesp_nope") {
		t.Fatalf("unknown safe default: %+v", up.Violations)
	}

	// In use by a safe default and by an account: 409 in_use naming both.
	var sf api.Safe
	e.do(http.MethodPost, api.PathSafes, e.admin, api.SafeInput{Name: "prod", DefaultSessionPolicyID: p.ID}).want(t, 201).json(t, &sf)
	acct := pgAccount(sf.ID, "pg1", "S3cret-xyzzy-123")
	acct.SessionPolicyID = p.ID
	ghost := acct
	ghost.SessionPolicyID = "sesp_nope"
	up = e.do(http.MethodPost, api.PathVaultAccounts, e.admin, ghost).problem(t, 400, api.CodeValidationFailed)
	if strings.Join(violationPointers(up), ",") != "/session_policy_id" {
		t.Fatalf("unknown account policy: %+v", up.Violations)
	}
	var a api.VaultAccount
	e.do(http.MethodPost, api.PathVaultAccounts, e.admin, acct).want(t, 201).json(t, &a)
	acct.SessionPolicyID = "sesp_nope"
	e.do(http.MethodPut, api.PathVaultAccounts+"/"+a.ID, e.admin, acct).problem(t, 400, api.CodeValidationFailed)
	e.do(http.MethodPut, api.PathSafes+"/"+sf.ID, e.admin, api.SafeInput{Name: "prod", DefaultSessionPolicyID: "sesp_nope"}).problem(t, 400, api.CodeValidationFailed)
	iu := e.do(http.MethodDelete, api.PathSessionPolicies+"/"+p.ID, e.admin, nil).problem(t, 409, api.CodeInUse)
	if !strings.Contains(iu.Detail, a.ID) || !strings.Contains(iu.Detail, sf.ID) {
		t.Fatalf("in_use detail: %q", iu.Detail)
	}
	e.do(http.MethodDelete, api.PathVaultAccounts+"/"+a.ID, e.admin, nil).want(t, 204)
	iu = e.do(http.MethodDelete, api.PathSessionPolicies+"/"+p.ID, e.admin, nil).problem(t, 409, api.CodeInUse)
	if !strings.Contains(iu.Detail, "1 safe(s)") || strings.Contains(iu.Detail, "vault account") {
		t.Fatalf("in_use detail after account delete: %q", iu.Detail)
	}
	e.do(http.MethodPut, api.PathSafes+"/"+sf.ID, e.admin, api.SafeInput{Name: "prod"}).want(t, 200)
	e.do(http.MethodDelete, api.PathSessionPolicies+"/"+p.ID, e.token("user:bob", "requester"), nil).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodDelete, api.PathSessionPolicies+"/"+p.ID, e.admin, nil, "If-Match", `"1"`).problem(t, 412, api.CodeEtagMismatch)
	e.do(http.MethodDelete, api.PathSessionPolicies+"/"+p.ID, e.admin, nil).want(t, 204)
	e.do(http.MethodGet, api.PathSessionPolicies+"/"+p.ID, e.admin, nil).problem(t, 404, api.CodeNotFound)
	e.do(http.MethodDelete, api.PathSessionPolicies+"/"+p.ID, e.admin, nil).problem(t, 404, api.CodeNotFound)

	for action, want := range map[string]int{"session_policy.created": 2, "session_policy.updated": 1, "session_policy.deleted": 1} {
		n := 0
		for _, ev := range e.auditEvents() {
			if ev.Action == action && ev.Outcome == api.OutcomeSuccess {
				n++
			}
		}
		if n != want {
			t.Errorf("%s: %d events, want %d", action, n, want)
		}
	}
}

func (e *sessionEnv) newSession(principal, account, policy string, started time.Time) api.Session {
	e.t.Helper()
	sid := ids.New(api.PrefixSession, started)
	s := api.Session{ID: sid, State: api.SessionActive, VaultAccountID: account, Principal: api.Actor{Type: "user", ID: principal},
		SessionPolicyID: policy, PolicySnapshot: session.NormalizePolicy(strictPolicy("p")), PolicyVersion: 1, Protocol: "ssh",
		ClientIP: "192.0.2.1", StartedAt: started, ExpiresAt: started.Add(time.Hour), UpdatedAt: started}
	if err := e.d.Sessions().CreateSession(context.Background(), s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func TestSessionsListGetTerminate(t *testing.T) {
	e := startSessions(t)
	ctx := context.Background()
	ss := e.d.Sessions()
	s1 := e.newSession("alice", "acct_1", "sesp_1", pimT0)
	s2 := e.newSession("bob", "acct_2", "sesp_1", pimT0.Add(time.Minute))
	s3 := e.newSession("alice", "acct_2", "sesp_2", pimT0.Add(2*time.Minute))
	if err := ss.AppendFilterHit(ctx, s1.ID, api.CommandFilterHit{At: pimT0.Add(time.Second), Command: "rm -rf /", RuleIndex: 0, Action: "deny"}); err != nil {
		t.Fatal(err)
	}
	if n, err := ss.CountActiveSessions(ctx, api.Actor{Type: "user", ID: "alice"}); err != nil || n != 2 {
		t.Fatalf("active alice: %d %v", n, err)
	}
	auditor := e.token("user:carol", "auditor")
	alice := e.token("user:alice", "requester")

	list := func(tok, query string) []string {
		t.Helper()
		var page api.Page[api.Session]
		e.do(http.MethodGet, api.PathSessions+query, tok, nil).want(t, 200).json(t, &page)
		var out []string
		for _, s := range page.Items {
			out = append(out, s.ID)
		}
		return out
	}
	eq := func(got []string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	eq(list(auditor, ""), s1.ID, s2.ID, s3.ID)
	eq(list(auditor, "?principal_id=user:alice"), s1.ID, s3.ID)
	eq(list(auditor, "?vault_account_id=acct_2&session_policy_id=sesp_1"), s2.ID)
	eq(list(auditor, "?started_after="+pimT0.Format(time.RFC3339)), s2.ID, s3.ID)
	eq(list(auditor, "?state=active,terminated"), s1.ID, s2.ID, s3.ID)
	eq(list(alice, ""), s1.ID, s3.ID)         // own sessions only
	eq(list(alice, "?principal_id=user:bob")) // not someone else's
	var page api.Page[api.Session]
	e.do(http.MethodGet, api.PathSessions+"?page_size=2", auditor, nil).want(t, 200).json(t, &page)
	if len(page.Items) != 2 || page.NextPageToken == "" {
		t.Fatalf("page: %+v", page)
	}
	eq(list(auditor, "?page_size=2&page_token="+page.NextPageToken), s3.ID)
	e.do(http.MethodGet, api.PathSessions+"?page_size=2&state=active&page_token="+page.NextPageToken, auditor, nil).problem(t, 400, api.CodeInvalidPageToken)
	p := e.do(http.MethodGet, api.PathSessions+"?state=running&principal_id=alice&started_after=yesterday", auditor, nil).problem(t, 400, api.CodeValidationFailed)
	if strings.Join(violationPointers(p), ",") != "query:principal_id,query:started_after,query:state" {
		t.Fatalf("violations %+v", p.Violations)
	}

	var got api.Session
	e.do(http.MethodGet, api.PathSessions+"/"+s1.ID, alice, nil).want(t, 200).json(t, &got)
	if len(got.CommandFilterHits) != 1 || got.CommandFilterHits[0].Command != "rm -rf /" || got.PolicySnapshot.CommandFilter.Rules[0].Action != "deny" {
		t.Fatalf("session: %+v", got)
	}
	e.do(http.MethodGet, api.PathSessions+"/"+s2.ID, alice, nil).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodGet, api.PathSessions+"/ses_nope", alice, nil).problem(t, 404, api.CodeNotFound)

	// Terminate: admin or security; 404 before 403; refusals audited.
	e.do(http.MethodPost, api.PathSessions+"/ses_nope/terminate", alice, nil).problem(t, 404, api.CodeNotFound)
	e.do(http.MethodPost, api.PathSessions+"/"+s1.ID+"/terminate", auditor, api.SessionTerminateRequest{Reason: "x"}).problem(t, 403, api.CodeForbidden)
	if len(e.term.got()) != 0 {
		t.Fatal("terminator called on a refused terminate")
	}

	// A session live on the gateway becomes terminating; the gateway ends it.
	e.term.mu.Lock()
	e.term.live[s1.ID] = true
	e.term.mu.Unlock()
	var t1 api.Session
	e.do(http.MethodPost, api.PathSessions+"/"+s1.ID+"/terminate", e.token("user:sec", "security"), api.SessionTerminateRequest{Reason: "suspicious"}).
		want(t, 200).json(t, &t1)
	if t1.State != api.SessionTerminating || t1.EndedBy == nil || t1.EndedBy.ID != "sec" {
		t.Fatalf("terminating: %+v", t1)
	}
	if calls := e.term.got(); len(calls) != 1 || calls[0] != s1.ID+":suspicious" {
		t.Fatalf("terminator calls %v", calls)
	}
	// The gateway's periodic write (stale state active) does not undo it.
	stale := s1
	la := pimT0.Add(3 * time.Minute)
	stale.LastActivityAt = &la
	if err := ss.UpdateSession(ctx, stale); err != nil {
		t.Fatal(err)
	}
	e.do(http.MethodGet, api.PathSessions+"/"+s1.ID, e.admin, nil).want(t, 200).json(t, &got)
	if got.State != api.SessionTerminating || got.LastActivityAt == nil || !got.LastActivityAt.Equal(la) || len(got.CommandFilterHits) != 1 {
		t.Fatalf("after stale write: %+v", got)
	}
	end := pimT0.Add(4 * time.Minute)
	stale.State, stale.EndedAt, stale.EndReason = api.SessionTerminated, &end, api.SessionEndTerminatedByAdmin
	if err := ss.UpdateSession(ctx, stale); err != nil {
		t.Fatal(err)
	}
	e.do(http.MethodGet, api.PathSessions+"/"+s1.ID, e.admin, nil).want(t, 200).json(t, &got)
	if got.State != api.SessionTerminated || got.EndReason != api.SessionEndTerminatedByAdmin || got.EndedBy == nil || got.EndedBy.ID != "sec" {
		t.Fatalf("ended: %+v", got)
	}
	tp := e.do(http.MethodPost, api.PathSessions+"/"+s1.ID+"/terminate", e.admin, nil).problem(t, 409, api.CodeInvalidStateTransition)
	if tp.State != api.SessionTerminated {
		t.Fatalf("problem %+v", tp)
	}

	// A session no gateway holds ends at once.
	var t2 api.Session
	e.do(http.MethodPost, api.PathSessions+"/"+s2.ID+"/terminate", e.admin, nil).want(t, 200).json(t, &t2)
	if t2.State != api.SessionTerminated || t2.EndReason != api.SessionEndTerminatedByAdmin || t2.EndedAt == nil {
		t.Fatalf("not-live terminate: %+v", t2)
	}
	eq(list(auditor, "?state=terminated"), s1.ID, s2.ID)
	eq(list(auditor, "?state=active"), s3.ID)
	if n := e.countAudit("session.terminated"); n != 2 {
		t.Fatalf("session.terminated events: %d", n)
	}
}

func TestSessionRecordingDownload(t *testing.T) {
	e := startSessions(t)
	ctx := context.Background()
	ss := e.d.Sessions()
	s := e.newSession("alice", "acct_1", "sesp_1", pimT0)

	var buf bytes.Buffer
	w, err := session.NewAsciicastWriter(&buf, session.AsciicastHeader{Width: 80, Height: 24}, pimT0)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Event(pimT0, session.EventOutput, "$ ")
	_ = w.Event(pimT0.Add(time.Second), session.EventInput, "whoami\r")
	_ = w.Event(pimT0.Add(2*time.Second), session.EventOutput, "whoami\r\nroot\r\n$ ")
	body := buf.Bytes()

	recID := ids.New(api.PrefixSessionRecording, pimT0)
	retain := pimT0.Add(90 * 24 * time.Hour)
	meta := api.SessionRecording{ID: recID, SessionID: s.ID, State: api.RecordingRecording, Format: api.RecordingFormatAsciicastV2,
		CreatedAt: pimT0, UpdatedAt: pimT0, RetainUntil: &retain}
	if err := ss.CreateRecording(ctx, meta); err != nil {
		t.Fatal(err)
	}
	auditor := e.token("user:carol", "auditor")
	// No body yet: 409.
	e.do(http.MethodGet, api.PathSessionRecordings+"/"+recID+"/download", auditor, nil).problem(t, 409, api.CodeInvalidStateTransition)

	sealed, err := ss.Keyring.SealString(body, session.RecordingAAD(recID))
	if err != nil {
		t.Fatal(err)
	}
	meta.State, meta.Bytes, meta.SHA256, meta.DurationSeconds = api.RecordingAvailable, int64(len(body)), session.SHA256Hex(body), 2
	if err := ss.PutRecording(ctx, meta, sealed); err != nil {
		t.Fatal(err)
	}
	s.RecordingID = recID
	if err := ss.UpdateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	// The store holds no plaintext.
	if err := e.d.Store().View(ctx, func(tx store.Tx) error {
		r, err := tx.GetRecording(recID)
		if strings.Contains(r.Sealed, "whoami") {
			t.Error("recording stored in plaintext")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	var m api.SessionRecording
	e.do(http.MethodGet, api.PathSessionRecordings+"/"+recID, auditor, nil).want(t, 200).json(t, &m)
	if m.SessionID != s.ID || m.Bytes != int64(len(body)) || m.SHA256 != session.SHA256Hex(body) || m.State != api.RecordingAvailable {
		t.Fatalf("metadata %+v", m)
	}
	var rl api.Page[api.SessionRecording]
	e.do(http.MethodGet, api.PathSessionRecordings+"?session_id="+s.ID, auditor, nil).want(t, 200).json(t, &rl)
	if len(rl.Items) != 1 || rl.Items[0].ID != recID {
		t.Fatalf("list %+v", rl)
	}

	alice := e.token("user:alice", "requester")
	e.do(http.MethodGet, api.PathSessionRecordings+"/"+recID, alice, nil).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodGet, api.PathSessionRecordings+"/"+recID+"/download", alice, nil).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodGet, api.PathSessionRecordings, alice, nil).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodGet, api.PathSessionRecordings+"/rec_nope/download", alice, nil).problem(t, 404, api.CodeNotFound)

	r := e.do(http.MethodGet, api.PathSessionRecordings+"/"+recID+"/download", auditor, nil).want(t, 200)
	if !bytes.Equal(r.body, body) || r.header.Get("Content-Type") != api.ContentTypeAsciicast || r.header.Get("Cache-Control") != "no-store" ||
		r.header.Get("X-Content-SHA256") != session.SHA256Hex(body) {
		t.Fatalf("download: %v %q", r.header, r.body)
	}
	var downloaded, deniedDownloads int
	for _, ev := range e.auditEvents() {
		if ev.Action != "session_recording.downloaded" {
			continue
		}
		switch ev.Outcome {
		case api.OutcomeSuccess:
			downloaded++
			if ev.Actor.ID != "carol" || ev.Target.ID != recID {
				t.Errorf("download event %+v", ev)
			}
		case api.OutcomeDenied:
			deniedDownloads++
		}
	}
	if downloaded != 1 || deniedDownloads != 1 {
		t.Fatalf("download events: %d ok, %d denied", downloaded, deniedDownloads)
	}
	// The recording id is on the session.
	var got api.Session
	e.do(http.MethodGet, api.PathSessions+"/"+s.ID, e.admin, nil).want(t, 200).json(t, &got)
	if got.RecordingID != recID {
		t.Fatalf("session recording id %q", got.RecordingID)
	}
	// A body swapped in from another id does not open (AAD binds the id).
	other := meta
	other.ID = ids.New(api.PrefixSessionRecording, pimT0.Add(time.Second))
	if err := ss.PutRecording(ctx, other, sealed); err != nil {
		t.Fatal(err)
	}
	e.do(http.MethodGet, api.PathSessionRecordings+"/"+other.ID+"/download", e.admin, nil).problem(t, 500, api.CodeInternal)
}
