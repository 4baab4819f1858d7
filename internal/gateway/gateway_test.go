package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/gateway"
	"github.com/accessplane/terraform-provider-pam/internal/gateway/sshtest"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/session"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/sqlite"
)

// targetPassword is known to the vault and the target only.
const targetPassword = "Upstream-S3cret-only-pamd-knows"

type env struct {
	t      *testing.T
	ctx    context.Context
	st     store.Store
	kr     *keys.Keyring
	clk    *clock.Fake
	vault  *catalog.Vault
	target *sshtest.Server
	gw     *gateway.Gateway
	hostPK ssh.PublicKey
	logs   *received // the gateway's log (text, debug level)
	safe   api.Safe
	acct   api.VaultAccount
	alice  string // alice's pamd token (checkout permission on the safe)
	bob    string // bob's token (no permission)
	cfg    gateway.Config
}

type opts struct {
	policy   *api.SessionPolicyInput
	sessions func(gateway.SessionStore) gateway.SessionStore
	port     int // account port override (unreachable target)
	// setup runs before the policy is stored (e.g. to create a role it names).
	setup func(e *env, p *api.SessionPolicyInput)
	// hostKeys returns the account's host_keys, given the target's key.
	hostKeys        func(target ssh.PublicKey) []string
	requireHostKeys bool
}

var admin = catalog.Caller{Principal: auth.Principal{Subject: "user:root", ServerRoles: []string{api.ServerRoleAdmin}}}

func newEnv(t *testing.T, o opts) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "pamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	master := make([]byte, keys.KeySize)
	_, _ = rand.Read(master)
	kr, err := keys.New(master)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	e := &env{t: t, ctx: ctx, st: st, kr: kr, clk: clk, vault: &catalog.Vault{Store: st, Clock: clk, Keyring: kr}}

	target, err := sshtest.Start("root", targetPassword)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close() })
	e.target = target

	policyID := ""
	if o.setup != nil {
		o.setup(e, o.policy)
	}
	if o.policy != nil {
		in := session.NormalizePolicy(*o.policy)
		if vs := session.ValidatePolicy(in); len(vs) > 0 {
			t.Fatalf("policy: %+v", vs)
		}
		now := clk.Now()
		p := api.SessionPolicy{Meta: api.Meta{ID: ids.New(api.PrefixSessionPolicy, now), Version: 1, CreatedAt: now, UpdatedAt: now,
			CreatedBy: api.Actor{Type: "user", ID: "root"}, UpdatedBy: api.Actor{Type: "user", ID: "root"}}, SessionPolicyInput: in}
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.InsertSessionPolicy(p) }); err != nil {
			t.Fatal(err)
		}
		policyID = p.ID
	}
	e.safe, err = e.vault.CreateSafe(ctx, admin, api.SafeInput{Name: "prod", DefaultSessionPolicyID: policyID,
		Members: []api.SafeMember{{PrincipalType: "user", PrincipalID: "alice", Permissions: []string{api.SafePermissionCheckout}}}})
	if err != nil {
		t.Fatal(err)
	}
	port := target.Port()
	if o.port != 0 {
		port = o.port
	}
	var hostKeys []string
	if o.hostKeys != nil {
		hostKeys = o.hostKeys(target.HostKey)
	}
	e.acct, err = e.vault.CreateAccount(ctx, admin, api.VaultAccountInput{Name: "web-root", SafeID: e.safe.ID, Platform: api.PlatformUnixSSH,
		Address: target.Host(), Port: port, Username: "root", SecretType: api.SecretTypePassword, Secret: targetPassword,
		ManagementMode: api.ManagementManual, HostKeys: hostKeys})
	if err != nil {
		t.Fatal(err)
	}
	e.alice = e.token("user:alice")
	e.bob = e.token("user:bob")

	hk, err := gateway.LoadOrCreateHostKey(filepath.Join(dir, "host_key"))
	if err != nil {
		t.Fatal(err)
	}
	e.hostPK = hk.PublicKey()
	var sessions gateway.SessionStore = gateway.StoreSessions{Store: st}
	if o.sessions != nil {
		sessions = o.sessions(sessions)
	}
	e.logs = &received{}
	e.cfg = gateway.Config{Listen: "127.0.0.1:0", HostKey: hk, Store: st, Keyring: kr, Secrets: e.vault, Sessions: sessions,
		Clock: clk, TickInterval: -1, DialTimeout: 2 * time.Second, RefuseGrace: 3 * time.Second, RequireHostKeys: o.requireHostKeys,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	e.gw, err = gateway.Start(ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.gw.Close() })
	return e
}

func (e *env) token(subject string) string { return e.tokenMFA(subject, nil) }

func (e *env) tokenMFA(subject string, mfaAt *time.Time) string {
	tok, err := auth.NewToken()
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clk.Now()
	rec := auth.Token{ID: ids.New(api.PrefixToken, now), Hash: auth.HashToken(tok), Subject: subject, Groups: []string{}, ServerRoles: []string{},
		CreatedAt: now, MFAAt: mfaAt}
	if err := e.st.Update(e.ctx, func(tx store.Tx) error { return tx.InsertToken(rec) }); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// received collects every byte the client was shown: banners, stdout, stderr.
type received struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *received) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *received) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func (r *received) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q; got %q", s, r.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) dial(user, password string, seen *received) (*ssh.Client, error) {
	cc := &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.Password(password)}, HostKeyCallback: ssh.FixedHostKey(e.hostPK),
		BannerCallback: func(m string) error { _, _ = seen.Write([]byte(m)); return nil }, Timeout: 3 * time.Second,
	}
	return ssh.Dial("tcp", e.gw.Addr(), cc)
}

func (e *env) user() string { return "alice+" + e.acct.ID }

// connect logs alice in to the gateway for the test's account; the test's
// cleanup closes the connection. seen collects what the gateway wrote.
func (e *env) connect() (*ssh.Client, *received) {
	e.t.Helper()
	seen := &received{}
	c, err := e.dial(e.user(), e.alice, seen)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return c, seen
}

// waitClosed fails the test with why unless c (a connection or a session)
// ends within 10 s.
func waitClosed(t *testing.T, c interface{ Wait() error }, why string) {
	t.Helper()
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(why)
	}
}

// run executes one command through a new session, with a deadline.
func run(t *testing.T, c *ssh.Client, cmd string, seen *received) (stdout, stderr string, err error) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		return "", "", err
	}
	defer func() { _ = s.Close() }()
	var o, eb bytes.Buffer
	s.Stdout, s.Stderr = io.MultiWriter(&o, seen), io.MultiWriter(&eb, seen)
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("command %q hung", cmd)
	}
	return o.String(), eb.String(), err
}

func (e *env) audits(action string) []api.AuditEvent {
	var out []api.AuditEvent
	err := e.st.View(e.ctx, func(tx store.Tx) error {
		return tx.WalkAudit(audit.DefaultChain, func(r audit.Record) error {
			ev, err := audit.Decode(r)
			if err != nil {
				return err
			}
			if ev.Action == action {
				out = append(out, ev)
			}
			return nil
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) sessions() []api.Session {
	var out []api.Session
	if err := e.st.View(e.ctx, func(tx store.Tx) (err error) { out, err = tx.ListSessions(store.SessionFilter{Limit: 100}); return err }); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// waitEnded waits until the session is terminated in the store.
func (e *env) waitEnded(id string) api.Session {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var s api.Session
		if err := e.st.View(e.ctx, func(tx store.Tx) (err error) { s, err = tx.GetSession(id); return err }); err != nil {
			e.t.Fatal(err)
		}
		if s.State == api.SessionTerminated {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("session %s did not end: %+v", id, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitLive returns the id of the only live session.
func (e *env) waitLive(n int) []string {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ids := e.gw.LiveSessions(); len(ids) == n {
			return ids
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("want %d live sessions, have %v", n, e.gw.LiveSessions())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recording opens a session's recording with the keyring and checks its sha256.
func (e *env) recording(s api.Session) []session.AsciicastEvent {
	e.t.Helper()
	var rec store.RecordingRecord
	if err := e.st.View(e.ctx, func(tx store.Tx) (err error) { rec, err = tx.GetRecording(s.RecordingID); return err }); err != nil {
		e.t.Fatalf("recording %q of %s: %v", s.RecordingID, s.ID, err)
	}
	if rec.State != api.RecordingAvailable {
		e.t.Fatalf("recording state %s", rec.State)
	}
	body, err := e.kr.OpenString(rec.Sealed, session.RecordingAAD(rec.ID))
	if err != nil {
		e.t.Fatal(err)
	}
	if gateway.Sum(body) != rec.SHA256 || int64(len(body)) != rec.Bytes {
		e.t.Fatal("recording sha256 or size mismatch")
	}
	if strings.Contains(string(body), targetPassword) {
		e.t.Fatal("the recording contains the target password")
	}
	_, events, err := session.ParseAsciicast(bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	return events
}

func indexOf(events []session.AsciicastEvent, typ, substr string) int {
	for i, ev := range events {
		if ev.Type == typ && strings.Contains(ev.Data, substr) {
			return i
		}
	}
	return -1
}

func TestExecThroughGatewayNeverRevealsPassword(t *testing.T) {
	e := newEnv(t, opts{})
	c, seen := e.connect()
	out, _, err := run(t, c, "echo hi", seen)
	if err != nil || out != "hi\n" {
		t.Fatalf("echo hi: %q %v", out, err)
	}
	out, _, err = run(t, c, "whoami", seen)
	if err != nil || out != "root\n" {
		t.Fatalf("whoami: %q %v", out, err)
	}
	_ = c.Close()
	ss := e.sessions()
	if len(ss) != 1 {
		t.Fatalf("sessions: %+v", ss)
	}
	s := e.waitEnded(ss[0].ID)
	if s.EndReason != api.SessionEndClientClosed || s.Principal.ID != "alice" || s.VaultAccountID != e.acct.ID || s.ClientIP != "127.0.0.1" {
		t.Fatalf("session: %+v", s)
	}
	if strings.Contains(seen.String(), targetPassword) {
		t.Fatal("the client received the target password")
	}
	ev := e.recording(s)
	i, o := indexOf(ev, "i", "echo hi"), indexOf(ev, "o", "hi\n")
	w := indexOf(ev, "i", "whoami")
	if i < 0 || o < i || w < o || indexOf(ev, "o", "root") < w {
		t.Fatalf("recording out of order: %+v", ev)
	}
	if got := e.target.Commands(); strings.Join(got, ",") != "echo hi,whoami" {
		t.Fatalf("target ran %v", got)
	}
	if len(e.audits("session.started")) != 1 || len(e.audits("session.ended")) != 1 {
		t.Fatal("session start and end are not audited")
	}
}

func filterPolicy() *api.SessionPolicyInput {
	return &api.SessionPolicyInput{Name: "prod-ssh", Recording: api.SessionRecordingPolicy{Enabled: true, Mode: api.RecordingModeStrict},
		CommandFilter: api.CommandFilter{DefaultAction: api.CommandActionAllow, Rules: []api.CommandFilterRule{
			{Match: api.CommandMatchRegex, Pattern: `^rm\s+-rf\s+/($|\s)`, Action: api.CommandActionDeny, Description: "no root wipes"},
			{Match: api.CommandMatchPrefix, Pattern: "sudo su", Action: api.CommandActionTerminateSession, Description: "no interactive root"},
			{Match: api.CommandMatchGlob, Pattern: "echo alert*", Action: api.CommandActionAlert, Description: "notify SOC"},
		}}}
}

func TestCommandFilterOnExec(t *testing.T) {
	e := newEnv(t, opts{policy: filterPolicy()})
	c, seen := e.connect()
	_, stderr, err := run(t, c, "rm  -rf /", seen)
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 126 {
		t.Fatalf("denied command: %v", err)
	}
	if want := "pamd: command denied by policy prod-ssh rule 1: no root wipes"; !strings.Contains(stderr, want) {
		t.Fatalf("stderr %q lacks %q", stderr, want)
	}
	out, _, err := run(t, c, "echo alert me", seen)
	if err != nil || out != "alert me\n" {
		t.Fatalf("alerted command must run: %q %v", out, err)
	}
	_, stderr, _ = run(t, c, "sudo su -", seen)
	if !strings.Contains(stderr, "session terminated by policy prod-ssh rule 2: no interactive root") {
		t.Fatalf("terminate stderr %q", stderr)
	}
	waitClosed(t, c, "terminate_session did not close the connection")
	if got := e.target.Commands(); strings.Join(got, ",") != "echo alert me" {
		t.Fatalf("target ran %v", got)
	}
	blocked, alerted, terminated := e.audits("session.command_blocked"), e.audits("session.command_alerted"), e.audits("session.command_terminated")
	if len(blocked) != 1 || len(alerted) != 1 || len(terminated) != 1 {
		t.Fatalf("audits: blocked %d alerted %d terminated %d", len(blocked), len(alerted), len(terminated))
	}
	if blocked[0].Actor.ID != "alice" || blocked[0].Target.Type != "session" {
		t.Fatalf("blocked audit: %+v", blocked[0])
	}
	s := e.waitEnded(e.sessions()[0].ID)
	if s.EndReason != api.SessionEndPolicyViolation || len(s.CommandFilterHits) != 3 {
		t.Fatalf("session: %+v", s)
	}
	if s.CommandFilterHits[0].RuleIndex != 0 || s.CommandFilterHits[0].Action != api.CommandActionDeny {
		t.Fatalf("hit: %+v", s.CommandFilterHits[0])
	}
	ev := e.recording(s)
	if indexOf(ev, "m", "deny rule 1: rm -rf /") < 0 || indexOf(ev, "m", "alert rule 3") < 0 || indexOf(ev, "m", "terminate_session rule 2") < 0 {
		t.Fatalf("recording lacks filter markers: %+v", ev)
	}
}

// shell opens an interactive pty shell and returns its stdin and output.
func shell(t *testing.T, c *ssh.Client, seen *received) (*ssh.Session, io.WriteCloser, *received) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out := &received{}
	s.Stdout, s.Stderr = io.MultiWriter(out, seen), io.MultiWriter(out, seen)
	in, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 40, 100, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "$ ")
	return s, in, out
}

func TestInteractiveShellFilterAndRecording(t *testing.T) {
	e := newEnv(t, opts{policy: filterPolicy()})
	c, seen := e.connect()
	s, in, out := shell(t, c, seen)
	if _, err := s.SendRequest("window-change", false, ssh.Marshal(struct{ C, R, W, H uint32 }{120, 50, 0, 0})); err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(in, "echo one\r")
	out.waitFor(t, "one\r\n$ ")
	// An edited line: the filter sees what the target would run.
	_, _ = io.WriteString(in, "rm -rf /xy\x7f\x7f\r")
	out.waitFor(t, "pamd: command denied by policy prod-ssh rule 1: no root wipes")
	_, _ = io.WriteString(in, "echo \x1b[Atwo\r")
	out.waitFor(t, "two\r\n$ ")
	_, _ = io.WriteString(in, "exit\r")
	waitClosed(t, s, "shell did not end")
	_ = c.Close()
	if got := e.target.Commands(); strings.Join(got, ",") != "echo one,echo two,exit" {
		t.Fatalf("target ran %v", got)
	}
	if !strings.Contains(strings.Join(e.target.Resizes(), ","), "120x50") {
		t.Fatalf("window-change not forwarded: %v", e.target.Resizes())
	}
	if len(e.audits("session.command_blocked")) != 1 {
		t.Fatal("interactive deny not audited")
	}
	sess := e.waitEnded(e.sessions()[0].ID)
	ev := e.recording(sess)
	order := []int{indexOf(ev, "i", "echo one"), indexOf(ev, "o", "one\r\n"), indexOf(ev, "i", "rm -rf /"), indexOf(ev, "m", "deny rule 1"),
		indexOf(ev, "i", "echo two"), indexOf(ev, "o", "two\r\n"), indexOf(ev, "i", "exit")}
	for i := 1; i < len(order); i++ {
		if order[i-1] < 0 || order[i] <= order[i-1] {
			t.Fatalf("recording out of order %v: %+v", order, ev)
		}
	}
	if indexOf(ev, "r", "120x50") < 0 {
		t.Fatal("resize not recorded")
	}
	var replay bytes.Buffer
	if err := session.Replay(&replay, ev, 0, 0, func(time.Duration) {}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(replay.String(), "$ echo one\r\none\r\n$ ") {
		t.Fatalf("replay: %q", replay.String())
	}
}

func TestIdleTimeoutAndMaxDuration(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy api.SessionPolicyInput
		reason string
		msg    string
	}{
		{"idle", api.SessionPolicyInput{Name: "idle", MaxSessionDurationSeconds: 3600, IdleTimeoutSeconds: 60}, api.SessionEndIdleTimeout, "idle for 1m0s"},
		{"max", api.SessionPolicyInput{Name: "short", MaxSessionDurationSeconds: 120}, api.SessionEndExpired, "maximum duration of 2m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, opts{policy: &tc.policy})
			seen := &received{}
			c, err := e.dial(e.user(), e.alice, seen)
			if err != nil {
				t.Fatal(err)
			}
			_, in, out := shell(t, c, seen)
			e.clk.Advance(50 * time.Second)
			if e.gw.Tick() != 0 {
				t.Fatal("ended too early")
			}
			_, _ = io.WriteString(in, "echo busy\r") // activity
			out.waitFor(t, "busy\r\n$ ")
			e.clk.Advance(61 * time.Second)
			if n := e.gw.Tick(); (n == 1) != (tc.reason == api.SessionEndIdleTimeout) {
				t.Fatalf("after 111s, %d ended", n)
			}
			e.clk.Advance(10 * time.Second)
			e.gw.Tick()
			out.waitFor(t, tc.msg)
			waitClosed(t, c, "connection not closed")
			if s := e.waitEnded(e.sessions()[0].ID); s.EndReason != tc.reason {
				t.Fatalf("end reason %s", s.EndReason)
			}
		})
	}
}

func TestConcurrentSessionLimit(t *testing.T) {
	e := newEnv(t, opts{policy: &api.SessionPolicyInput{Name: "one-at-a-time", MaxConcurrentSessionsPerPrincipal: 1}})
	seen := &received{}
	c1, err := e.dial(e.user(), e.alice, seen)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c1.Close() }()
	e.waitLive(1)
	c2, err := e.dial(e.user(), e.alice, seen)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c2.Close() }()
	_, stderr, err := run(t, c2, "echo second", seen)
	if err == nil || !strings.Contains(stderr, "pamd: user:alice already has 1 session(s), the most policy one-at-a-time allows") {
		t.Fatalf("second session: %q %v", stderr, err)
	}
	if out, _, err := run(t, c1, "echo first", seen); err != nil || out != "first\n" {
		t.Fatalf("first session: %q %v", out, err)
	}
	d := e.audits("session.denied")
	if len(d) != 1 || d[0].Outcome != api.OutcomeDenied || !strings.Contains(auditText(d[0]), "concurrent_limit") {
		t.Fatalf("denied audits: %+v", d)
	}
	// Once the first leaves, a new one is allowed.
	_ = c1.Close()
	e.waitLive(0)
	c3, err := e.dial(e.user(), e.alice, seen)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c3.Close() }()
	if out, _, err := run(t, c3, "echo third", seen); err != nil || out != "third\n" {
		t.Fatalf("third session: %q %v", out, err)
	}
}

// TestConcurrentSessionLimitAcrossReplicas: the limit counts the
// principal's sessions in the store, so a session alice holds through
// another replica's gateway counts too (each gateway's own count would let
// her open the limit on every replica).
func TestConcurrentSessionLimitAcrossReplicas(t *testing.T) {
	e := newEnv(t, opts{policy: &api.SessionPolicyInput{Name: "one-at-a-time", MaxConcurrentSessionsPerPrincipal: 1}})
	now := e.clk.Now()
	elsewhere := api.Session{ID: "ses_elsewhere", State: api.SessionActive, VaultAccountID: e.acct.ID,
		Principal: api.Actor{Type: "user", ID: "alice"}, Protocol: api.SessionProtocolSSH, StartedAt: now, UpdatedAt: now,
		CommandFilterHits: []api.CommandFilterHit{}}
	if err := e.st.Update(e.ctx, func(tx store.Tx) error { return tx.CreateSession(elsewhere, "another-replica") }); err != nil {
		t.Fatal(err)
	}
	c, seen := e.connect()
	_, stderr, err := run(t, c, "echo here", seen)
	if err == nil || !strings.Contains(stderr, "pamd: user:alice already has 1 session(s), the most policy one-at-a-time allows") {
		t.Fatalf("session over the limit through another replica: %q %v", stderr, err)
	}
	if d := e.audits("session.denied"); len(d) != 1 || !strings.Contains(auditText(d[0]), "concurrent_limit") {
		t.Fatalf("denied audits: %+v", d)
	}
	if len(e.target.Commands()) != 0 {
		t.Fatal("the target was reached")
	}
	// Once that session has ended, alice may connect here.
	err = e.st.Update(e.ctx, func(tx store.Tx) error {
		elsewhere.State, elsewhere.EndReason, elsewhere.EndedAt = api.SessionTerminated, api.SessionEndClientClosed, &now
		return tx.UpdateSession(elsewhere)
	})
	if err != nil {
		t.Fatal(err)
	}
	c2, seen2 := e.connect()
	if out, _, err := run(t, c2, "echo here", seen2); err != nil || out != "here\n" {
		t.Fatalf("after the other session ended: %q %v", out, err)
	}
}

func auditText(ev api.AuditEvent) string {
	var b strings.Builder
	for _, c := range ev.Changes {
		b.WriteString(c.Path)
		b.WriteString("=")
		if s, ok := c.Value.(string); ok {
			b.WriteString(s)
		}
		b.WriteString(";")
	}
	return b.String()
}

func TestTerminateSessionCutsLiveSession(t *testing.T) {
	e := newEnv(t, opts{})
	c, seen := e.connect()
	_, _, out := shell(t, c, seen)
	id := e.waitLive(1)[0]
	if err := e.gw.TerminateSession(e.ctx, "ses_unknown", ""); !errors.Is(err, gateway.ErrNoSuchSession) {
		t.Fatalf("unknown session: %v", err)
	}
	if err := e.gw.TerminateSession(e.ctx, id, "incident 42"); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "pamd: session terminated by an administrator: incident 42")
	waitClosed(t, c, "terminate did not close the connection")
	if s := e.waitEnded(id); s.EndReason != api.SessionEndTerminatedByAdmin {
		t.Fatalf("end reason %s", s.EndReason)
	}
}

// TestSessionEndedElsewhereIsCut: with replicas, a terminate request served
// by another pamd, or the sweep of a replica that took this one for dead,
// can only end the session in the store. The gateway that brokers it follows
// the store at its next tick: the user is told and disconnected, and the
// stored end (reason, ended_by) is kept.
func TestSessionEndedElsewhereIsCut(t *testing.T) {
	admin := api.Actor{Type: "user", ID: "root-admin"}
	for _, tc := range []struct {
		name   string
		end    func(*api.Session, time.Time)
		reason string
		msg    string
	}{
		{"terminate through another replica", func(s *api.Session, now time.Time) {
			s.State, s.EndReason, s.EndedAt, s.EndedBy = api.SessionTerminated, api.SessionEndTerminatedByAdmin, &now, &admin
		}, api.SessionEndTerminatedByAdmin, "pamd: session terminated by an administrator"},
		{"terminate requested, not yet ended", func(s *api.Session, _ time.Time) {
			s.State, s.EndedBy = api.SessionTerminating, &admin
		}, api.SessionEndTerminatedByAdmin, "pamd: session terminated by an administrator"},
		{"swept by a replica that took this one for dead", func(s *api.Session, now time.Time) {
			s.State, s.EndReason, s.EndedAt = api.SessionTerminated, api.SessionEndGatewayLost, &now
		}, api.SessionEndGatewayLost, "pamd: session ended (gateway_lost) by another pamd replica"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, opts{})
			c, seen := e.connect()
			_, _, out := shell(t, c, seen)
			id := e.waitLive(1)[0]
			if n := e.gw.Tick(); n != 0 {
				t.Fatalf("a live session the store still shows active was cut (%d)", n)
			}
			err := e.st.Update(e.ctx, func(tx store.Tx) error {
				s, err := tx.GetSession(id)
				if err != nil {
					return err
				}
				tc.end(&s, e.clk.Now())
				return tx.UpdateSession(s)
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := e.gw.Tick(); n != 1 {
				t.Fatalf("tick after the session ended in the store ended %d sessions, want 1", n)
			}
			out.waitFor(t, tc.msg)
			waitClosed(t, c, "the connection stayed open")
			s := e.waitEnded(id)
			if s.EndReason != tc.reason || s.EndedBy == nil && tc.reason == api.SessionEndTerminatedByAdmin {
				t.Fatalf("stored session ended %s by %v, want %s (ended_by kept)", s.EndReason, s.EndedBy, tc.reason)
			}
		})
	}
}

func TestAuthenticationRefusals(t *testing.T) {
	e := newEnv(t, opts{})
	for _, tc := range []struct {
		name, user, password, want string
	}{
		{"unknown account", "alice+acct_01NOPE", e.alice, `pamd: unknown account "acct_01NOPE"`},
		{"unknown safe/name", "alice+prod/nope", e.alice, `pamd: unknown account "prod/nope"`},
		{"no permission", "bob+" + e.acct.ID, e.bob, "pamd: user:bob may not connect to " + e.acct.ID + ": it needs the checkout permission on safe prod"},
		{"bad token", e.user(), "pamd_not-a-real-token-at-all", "pamd: the token is not valid"},
		{"someone else's token", "bob+" + e.acct.ID, e.alice, "pamd: the token belongs to user:alice, not bob"},
		{"no account", "alice", e.alice, "pamd: log in as USER+ACCOUNT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := &received{}
			c, err := e.dial(tc.user, tc.password, seen)
			if err == nil {
				_ = c.Close()
				t.Fatal("authenticated")
			}
			if !strings.Contains(seen.String(), tc.want) {
				t.Fatalf("banner %q lacks %q", seen.String(), tc.want)
			}
		})
	}
	if n := len(e.audits("session.denied")); n < 6 {
		t.Fatalf("%d session.denied audits", n)
	}
	// safe/name works too.
	seen := &received{}
	c, err := e.dial("alice+prod/web-root", e.alice, seen)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if out, _, err := run(t, c, "echo by-name", seen); err != nil || out != "by-name\n" {
		t.Fatalf("by name: %q %v", out, err)
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	e := newEnv(t, opts{port: port})
	c, seen := e.connect()
	_, stderr, err := run(t, c, "echo hi", seen)
	if err == nil || !strings.Contains(stderr, "pamd: cannot connect to web-root") {
		t.Fatalf("unreachable: %q %v", stderr, err)
	}
	if s := e.waitEnded(e.sessions()[0].ID); s.EndReason != api.SessionEndUpstreamError {
		t.Fatalf("end reason %s", s.EndReason)
	}
	if len(e.audits("session.upstream_error")) != 1 {
		t.Fatal("upstream error not audited")
	}
}

type failingRecordings struct{ gateway.SessionStore }

func (failingRecordings) CreateRecording(context.Context, api.SessionRecording) error {
	return errors.New("recording storage is down")
}

func TestStrictRecordingFailureRefuses(t *testing.T) {
	e := newEnv(t, opts{sessions: func(s gateway.SessionStore) gateway.SessionStore { return failingRecordings{s} }})
	c, seen := e.connect()
	_, stderr, err := run(t, c, "echo hi", seen)
	if err == nil || !strings.Contains(stderr, "pamd: the session cannot be recorded and policy builtin-default requires recording") {
		t.Fatalf("strict recording: %q %v", stderr, err)
	}
	if len(e.target.Commands()) != 0 {
		t.Fatal("the target was reached")
	}
	if s := e.waitEnded(e.sessions()[0].ID); s.EndReason != api.SessionEndRecordingUnavailable {
		t.Fatalf("end reason %s", s.EndReason)
	}
	if len(e.audits("session.recording_unavailable")) != 1 {
		t.Fatal("not audited")
	}
}

func TestPortForwardingAndFileTransferRefused(t *testing.T) {
	e := newEnv(t, opts{})
	c, seen := e.connect()
	_, err := c.Dial("tcp", "127.0.0.1:22")
	if err == nil || !strings.Contains(err.Error(), "port forwarding is disabled by policy builtin-default") {
		t.Fatalf("forwarding: %v", err)
	}
	if len(e.audits("session.port_forward_denied")) != 1 {
		t.Fatal("not audited")
	}
	_, stderr, err := run(t, c, "scp -t /etc/", seen)
	if err == nil || !strings.Contains(stderr, "pamd: file upload is disabled by policy builtin-default") {
		t.Fatalf("scp upload: %q %v", stderr, err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if err := s.RequestSubsystem("sftp"); err == nil {
		t.Fatal("sftp subsystem allowed")
	}
	if len(e.audits("session.file_transfer_denied")) != 2 || len(e.target.Commands()) != 0 {
		t.Fatal("file transfer refusals not audited, or the target was reached")
	}
}

func TestHostKeyPersisted(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	a, err := gateway.LoadOrCreateHostKey(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := gateway.LoadOrCreateHostKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.PublicKey().Marshal(), b.PublicKey().Marshal()) || a.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Fatal("host key not persisted")
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
}

func TestPolicyRequiresMFA(t *testing.T) {
	e := newEnv(t, opts{policy: &api.SessionPolicyInput{Name: "mfa", RequireMFA: true, MFAMaxAgeSeconds: 300}})
	seen := &received{}
	if c, err := e.dial(e.user(), e.alice, seen); err == nil {
		_ = c.Close()
		t.Fatal("a token without MFA was accepted")
	}
	if !strings.Contains(seen.String(), "pamd: policy mfa requires MFA within the last 5m0s") {
		t.Fatalf("banner %q", seen.String())
	}
	d := e.audits("session.denied")
	if len(d) == 0 || d[0].Actor.ID != "alice" || !strings.Contains(auditText(d[0]), "mfa_required") {
		t.Fatalf("denied audit: %+v", d)
	}
	at := e.clk.Now().Add(-time.Minute)
	c, err := e.dial(e.user(), e.tokenMFA("user:alice", &at), seen)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if out, _, err := run(t, c, "echo mfa-ok", seen); err != nil || out != "mfa-ok\n" {
		t.Fatalf("with MFA: %q %v", out, err)
	}
}

func TestCheckinEndsSessionWhenPolicySaysSo(t *testing.T) {
	e := newEnv(t, opts{policy: &api.SessionPolicyInput{Name: "tied", TerminateOnAuthorizationEnd: true}})
	alice := catalog.Caller{Principal: auth.Principal{Subject: "user:alice"}}
	co, err := e.vault.CreateCheckout(e.ctx, alice, e.acct.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	c, seen := e.connect()
	_, _, out := shell(t, c, seen)
	id := e.waitLive(1)[0]
	if e.gw.Tick() != 0 {
		t.Fatal("ended while the checkout is active")
	}
	if _, err := e.vault.Checkin(e.ctx, alice, co.ID, nil); err != nil {
		t.Fatal(err)
	}
	if e.gw.Tick() != 1 {
		t.Fatal("check-in did not end the session")
	}
	out.waitFor(t, "the checkout "+co.ID+" that authorised it has ended")
	if s := e.waitEnded(id); s.EndReason != api.SessionEndAuthorizationEnded || s.CheckoutID != co.ID {
		t.Fatalf("session: %+v", s)
	}
}
