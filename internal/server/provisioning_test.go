package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/provision"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// hookSecret is the webhook secret of these tests; it must never come back.
const hookSecret = "whsec-7f3c9a1e5b2d8c4f6a0e"

// lockedBuffer collects log output from the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// received is one request the receiver accepted as correctly signed.
type received struct {
	event   provision.Event
	body    []byte
	eventID string
	status  int
}

// receiver is a real HTTP webhook receiver that verifies every signature
// with provision.Verify against the fake clock, and answers with status(n,
// event) for its n-th (0-based) signed request.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	clock  *clock.Fake
	secret string
	status func(n int, ev provision.Event) int

	mu       sync.Mutex
	got      []received
	badSigns int
}

func newReceiver(t *testing.T, fc *clock.Fake, secret string, status func(n int, ev provision.Event) int) *receiver {
	r := &receiver{t: t, clock: fc, secret: secret, status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := provision.Verify(r.secret, req.Header.Get(provision.HeaderSignature), body, r.clock.Now(), 0); err != nil {
		r.badSigns++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev provision.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		r.badSigns++
		http.Error(w, "json", http.StatusBadRequest)
		return
	}
	code := r.status(len(r.got), ev)
	r.got = append(r.got, received{event: ev, body: body, eventID: req.Header.Get(provision.HeaderEventID), status: code})
	w.WriteHeader(code)
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.badSigns > 0 {
		r.t.Fatalf("receiver saw %d request(s) with a bad signature", r.badSigns)
	}
	return slices.Clone(r.got)
}

func always(code int) func(int, provision.Event) int {
	return func(int, provision.Event) int { return code }
}

type provEnv struct {
	pimFixture
	logs *lockedBuffer
}

// startProvisioning starts pamd on a fake clock, worker loop off, debug logs
// captured, and a retry policy of 10s doubling without jitter, 4 attempts.
func startProvisioning(t *testing.T) provEnv {
	t.Helper()
	fc := clock.NewFake(pimT0)
	logs := &lockedBuffer{}
	d, err := daemon.Start(context.Background(), daemon.Config{
		Listen: "127.0.0.1:0", DB: testdb.Target(t), MasterKeyFile: testdb.KeyFile(t), BootstrapToken: adminToken,
		Clock: fc, Version: "test", WorkerInterval: -1,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// Rand 0 removes jitter: Jitter -1 alone does not (Policy.Next applies
		// the defaults twice and the second pass turns 0 back into 0.2).
		ProvisionPolicy: &provision.Policy{InitialBackoff: 10 * time.Second, MaxBackoff: time.Minute, Jitter: -1, MaxAttempts: 4,
			Rand: func() float64 { return 0 }},
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
	return provEnv{pimFixture: pimFixture{env: e}, logs: logs}
}

// hookedRole creates a role with one webhook to url and an eligibility of
// user alice with a policy without approval; it returns the request to send.
func (p *provEnv) hookedRole(name, url string) api.ElevationRequest {
	p.t.Helper()
	res := p.do(http.MethodPost, api.PathRoles, p.admin, api.RoleInput{Name: name, AssignableScopes: []string{"/orgs"},
		Webhooks: []api.RoleWebhook{{URL: url, Secret: hookSecret, SecretVersion: 1}}}).want(p.t, 201)
	p.noSecret("create role response", string(res.body))
	res.json(p.t, &p.role)
	if len(p.role.Webhooks) != 1 || p.role.Webhooks[0].URL != url || !p.role.Webhooks[0].HasSecret ||
		p.role.Webhooks[0].SecretVersion != 1 || p.role.Webhooks[0].Secret != "" {
		p.t.Fatalf("role webhooks = %+v", p.role.Webhooks)
	}
	pol := p.policy(name+"_direct", nil)
	el := p.elig("user", "alice", "/orgs/acme", pol.ID)
	return api.ElevationRequest{EligibleRoleAssignmentID: el.ID, RequestedDurationSeconds: 1800}
}

func (p *provEnv) noSecret(where, s string) {
	p.t.Helper()
	if strings.Contains(s, hookSecret) {
		p.t.Fatalf("the webhook secret leaked into %s: %s", where, s)
	}
}

// noSecretAnywhere checks every role read, the whole audit log and the logs.
func (p *provEnv) noSecretAnywhere() {
	p.t.Helper()
	p.noSecret("GET /v1/roles", string(p.do(http.MethodGet, api.PathRoles, p.admin, nil).want(p.t, 200).body))
	if p.role.ID != "" {
		p.noSecret("GET /v1/roles/{id}", string(p.do(http.MethodGet, api.PathRoles+"/"+p.role.ID, p.admin, nil).want(p.t, 200).body))
	}
	p.noSecret("GET /v1/audit", string(p.do(http.MethodGet, api.PathAuditEvents+"?page_size=200", p.admin, nil).want(p.t, 200).body))
	all, err := json.Marshal(p.auditEvents())
	if err != nil {
		p.t.Fatal(err)
	}
	p.noSecret("the audit store", string(all))
	p.noSecret("the logs", p.logs.String())
}

func TestProvisioningWebhookLifecycle(t *testing.T) {
	p := startProvisioning(t)
	rcv := newReceiver(t, p.clock, hookSecret, always(http.StatusNoContent))
	url := rcv.srv.URL + "/grant?tenant=acme"
	req := p.hookedRole("db_admin", url)
	alice := p.token("user:alice", api.ServerRoleRequester)

	// At rest the secret is ciphertext bound to the role and URL.
	if err := p.d.Store().View(context.Background(), func(tx store.Tx) error {
		hs, err := tx.GetRoleWebhooks(p.role.ID)
		if err != nil {
			return err
		}
		if len(hs) != 1 || hs[0].Secret == "" || strings.Contains(hs[0].Secret, hookSecret) {
			t.Fatalf("stored webhooks %d, secret stored in plaintext or missing", len(hs))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// The elevation waits in activating until the receiver acknowledged.
	el := p.mustElevate(alice, req)
	if el.State != api.StateActivating || el.StartAt != nil {
		t.Fatalf("elevation = %s (start %v), want activating", el.State, el.StartAt)
	}
	if n := len(rcv.requests()); n != 0 {
		t.Fatalf("receiver called %d times before the worker ran", n)
	}
	p.clock.Advance(3 * time.Second)
	if n := p.runWorker(); n != 1 {
		t.Fatalf("worker pass = %d, want 1 delivery", n)
	}
	got := rcv.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	ev := got[0].event
	if ev.Type != provision.EventElevationActivated || ev.ID == "" || got[0].eventID != ev.ID || ev.Attempt != 1 ||
		ev.Elevation.ID != el.ID || ev.Elevation.RoleID != p.role.ID || ev.Elevation.Scope != "/orgs/acme" ||
		ev.Elevation.Principal != (provision.Principal{Type: "user", ID: "alice"}) || ev.Elevation.EndReason != "" ||
		!ev.Elevation.EndAt.Equal(ev.Elevation.StartAt.Add(1800*time.Second)) {
		t.Fatalf("activated event = %s", got[0].body)
	}
	active := p.getElevation(el.ID)
	if active.State != api.StateActive || active.StartAt == nil || !active.StartAt.Equal(pimT0.Add(3*time.Second)) ||
		!active.EndAt.Equal(pimT0.Add(3*time.Second+1800*time.Second)) {
		t.Fatalf("after delivery: %s start %v end %v, want active from the acknowledgement", active.State, active.StartAt, active.EndAt)
	}
	if n := p.runWorker(); n != 0 {
		t.Fatalf("second pass did %d things, want none (delivered once)", n)
	}

	// Deactivation ends the elevation at once and tells the receiver.
	var ended api.Elevation
	p.act(alice, el.ID, api.ActionDeactivate, api.ElevationActionRequest{Reason: "done"}).want(t, 200).json(t, &ended)
	if ended.State != api.StateDeactivated {
		t.Fatalf("deactivate: %s", ended.State)
	}
	p.runWorker()
	got = rcv.requests()
	if len(got) != 2 || got[1].event.Type != provision.EventElevationEnded || got[1].event.Elevation.ID != el.ID ||
		got[1].event.Elevation.EndReason != api.EndReasonDeactivatedByRequester || got[1].event.ID == ev.ID {
		t.Fatalf("ended event: %d requests, last %s", len(got), got[len(got)-1].body)
	}
	if w := p.getElevation(el.ID).ProvisioningWarnings; len(w) != 0 {
		t.Fatalf("warnings %v", w)
	}
	actions := p.auditActionsFor(el.ID)
	if !slices.Contains(actions, "elevation.activated") || !slices.Contains(actions, "elevation.deactivated") {
		t.Fatalf("audit %v", actions)
	}

	// A replace that does not resend the secret keeps it: the next
	// activation is still signed with it (the receiver verifies).
	var upd api.Role
	res := p.do(http.MethodPut, api.PathRoles+"/"+p.role.ID, p.admin, api.RoleInput{Name: "db_admin", Description: "now documented",
		AssignableScopes: []string{"/orgs"}, Webhooks: []api.RoleWebhook{{URL: url}}}, "If-Match", api.FormatETag(p.role.Version)).want(t, 200)
	res.json(t, &upd)
	if len(upd.Webhooks) != 1 || !upd.Webhooks[0].HasSecret || upd.Webhooks[0].SecretVersion != 1 {
		t.Fatalf("after replace without secret: %+v", upd.Webhooks)
	}
	// A new URL without secret is refused, naming the field.
	prob := p.do(http.MethodPut, api.PathRoles+"/"+p.role.ID, p.admin, api.RoleInput{Name: "db_admin",
		AssignableScopes: []string{"/orgs"}, Webhooks: []api.RoleWebhook{{URL: rcv.srv.URL + "/other"}}}).problem(t, 400, api.CodeValidationFailed)
	if ptrs := violationPointers(prob); !slices.Equal(ptrs, []string{"/webhooks/0/secret"}) {
		t.Fatalf("violations %v", ptrs)
	}
	el2 := p.mustElevate(alice, req)
	p.runWorker()
	if got := p.getElevation(el2.ID); got.State != api.StateActive {
		t.Fatalf("second elevation %s: %s", got.State, got.ActivationError)
	}
	if n := len(rcv.requests()); n != 3 {
		t.Fatalf("receiver requests = %d, want 3", n)
	}

	// Expiry also ends the grant outside.
	p.clock.Advance(1801 * time.Second)
	p.runWorker()
	got = rcv.requests()
	last := got[len(got)-1].event
	if len(got) != 4 || last.Type != provision.EventElevationEnded || last.Elevation.ID != el2.ID ||
		last.Elevation.EndReason != api.EndReasonDurationElapsed {
		t.Fatalf("expiry: %d requests, last %+v", len(got), last)
	}
	p.noSecretAnywhere()
	p.verifyAudit()
}

func TestProvisioningRetriesUntilAcknowledged(t *testing.T) {
	p := startProvisioning(t)
	rcv := newReceiver(t, p.clock, hookSecret, func(n int, _ provision.Event) int {
		if n < 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	req := p.hookedRole("db_admin", rcv.srv.URL+"/hook")
	el := p.mustElevate(p.token("user:alice", api.ServerRoleRequester), req)

	p.runWorker() // 503
	if got := p.getElevation(el.ID); got.State != api.StateActivating {
		t.Fatalf("after a 503: %s, want still activating", got.State)
	}
	if n := p.runWorker(); n != 0 {
		t.Fatalf("a pass before the backoff did %d things, want none", n)
	}
	p.clock.Advance(10 * time.Second)
	p.runWorker() // 503 again
	if got := p.getElevation(el.ID); got.State != api.StateActivating {
		t.Fatalf("after two 503s: %s", got.State)
	}
	p.clock.Advance(19 * time.Second)
	if n := p.runWorker(); n != 0 {
		t.Fatalf("the second backoff is 20s: a pass at 19s did %d things; logs %s", n, p.logs.String())
	}
	p.clock.Advance(time.Second)
	p.runWorker() // 200
	got := p.getElevation(el.ID)
	if got.State != api.StateActive || !got.StartAt.Equal(pimT0.Add(30*time.Second)) {
		t.Fatalf("after the 200: %s from %v, want active from +30s", got.State, got.StartAt)
	}
	reqs := rcv.requests()
	if len(reqs) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.event.Attempt != i+1 || r.event.ID != reqs[0].event.ID {
			t.Fatalf("request %d: attempt %d id %s, want attempt %d of one event", i, r.event.Attempt, r.event.ID, i+1)
		}
	}
	if !strings.Contains(p.logs.String(), "will retry") {
		t.Fatalf("no retry logged: %s", p.logs.String())
	}
	p.noSecretAnywhere()
	p.verifyAudit()
}

func TestProvisioningPermanentFailureFailsActivation(t *testing.T) {
	p := startProvisioning(t)
	rcv := newReceiver(t, p.clock, hookSecret, always(http.StatusBadRequest))
	req := p.hookedRole("db_admin", rcv.srv.URL+"/hook?token=query-credential")
	el := p.mustElevate(p.token("user:alice", api.ServerRoleRequester), req)

	p.runWorker()
	got := p.getElevation(el.ID)
	if got.State != api.StateActivationFailed || got.EndReason != api.EndReasonProvisioningFailed {
		t.Fatalf("after a 400: %s (%s), want activation_failed", got.State, got.EndReason)
	}
	want := "provisioning failed: webhook " + rcv.srv.URL + "/hook: permanent failure: HTTP 400 Bad Request"
	if got.ActivationError != want {
		t.Fatalf("activation_error = %q, want %q", got.ActivationError, want)
	}
	if strings.Contains(got.ActivationError, "query-credential") {
		t.Fatalf("the URL query leaked: %q", got.ActivationError)
	}
	var failed *api.AuditEvent
	for _, ev := range p.auditEvents() {
		if ev.Target.ID == el.ID && ev.Action == "elevation.activation_failed" {
			failed = &ev
		}
	}
	if failed == nil || failed.Actor.Type != "system" {
		t.Fatalf("no elevation.activation_failed audit event by the system: %v", p.auditActionsFor(el.ID))
	}
	// The receiver refused: it holds nothing, so no elevation.ended follows.
	p.clock.Advance(time.Hour)
	p.runWorker()
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("receiver got %d requests, want 1 (no retry of a permanent failure, no end event)", n)
	}
	p.noSecretAnywhere()
	p.verifyAudit()
}

func TestProvisioningEndFailureIsAWarning(t *testing.T) {
	p := startProvisioning(t)
	rcv := newReceiver(t, p.clock, hookSecret, func(_ int, ev provision.Event) int {
		if ev.Type == provision.EventElevationEnded {
			return http.StatusGone
		}
		return http.StatusOK
	})
	req := p.hookedRole("db_admin", rcv.srv.URL+"/hook")
	admin := p.admin
	el := p.mustElevate(p.token("user:alice", api.ServerRoleRequester), req)
	p.runWorker()
	p.act(admin, el.ID, api.ActionRevoke, api.ElevationActionRequest{Reason: "incident"}).want(t, 200)
	p.runWorker()
	got := p.getElevation(el.ID)
	if got.State != api.StateRevoked {
		t.Fatalf("state %s, want revoked regardless of provisioning", got.State)
	}
	if len(got.ProvisioningWarnings) != 1 || !strings.Contains(got.ProvisioningWarnings[0], "HTTP 410") {
		t.Fatalf("provisioning_warnings = %v", got.ProvisioningWarnings)
	}
	if !slices.Contains(p.auditActionsFor(el.ID), "elevation.provisioning_failed") {
		t.Fatalf("audit %v", p.auditActionsFor(el.ID))
	}
	p.noSecretAnywhere()
	p.verifyAudit()
}

func TestProvisioningRevokeWhileActivatingCancels(t *testing.T) {
	p := startProvisioning(t)
	rcv := newReceiver(t, p.clock, hookSecret, always(http.StatusOK))
	req := p.hookedRole("db_admin", rcv.srv.URL+"/hook")
	el := p.mustElevate(p.token("user:alice", api.ServerRoleRequester), req)
	p.act(p.admin, el.ID, api.ActionRevoke, api.ElevationActionRequest{Reason: "wrong person"}).want(t, 200)
	p.runWorker()
	if n := len(rcv.requests()); n != 0 {
		t.Fatalf("receiver got %d requests for an elevation revoked before any attempt", n)
	}
	if got := p.getElevation(el.ID); got.State != api.StateRevoked {
		t.Fatalf("state %s", got.State)
	}
}

func TestRoleWebhookValidation(t *testing.T) {
	p := startProvisioning(t)
	bad := api.RoleInput{Name: "r", Webhooks: []api.RoleWebhook{
		{URL: "ftp://x.example/hook", Secret: hookSecret},
		{URL: "https://user:pw@x.example/hook", Secret: hookSecret},
		{URL: "https://x.example/hook", Secret: "short"},
		{URL: "https://x.example/hook", Secret: hookSecret},
		{URL: "https://y.example/hook"},
	}}
	res := p.do(http.MethodPost, api.PathRoles, p.admin, bad)
	p.noSecret("a validation problem", string(res.body))
	if strings.Contains(string(res.body), "user:pw") {
		t.Fatalf("the URL credentials leaked: %s", res.body)
	}
	prob := res.problem(t, 400, api.CodeValidationFailed)
	want := []string{"/webhooks/0/url", "/webhooks/1/url", "/webhooks/2/secret", "/webhooks/3/url"}
	if got := violationPointers(prob); !slices.Equal(got, want) {
		t.Fatalf("violations %v, want %v", got, want)
	}
	// Creating needs a secret for every target.
	prob = p.do(http.MethodPost, api.PathRoles, p.admin, api.RoleInput{Name: "r",
		Webhooks: []api.RoleWebhook{{URL: "https://y.example/hook"}}}).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(prob); !slices.Equal(got, []string{"/webhooks/0/secret"}) {
		t.Fatalf("violations %v", got)
	}
	// The idempotent replay of a create with a secret does not carry it.
	in := api.RoleInput{Name: "idem", Webhooks: []api.RoleWebhook{{URL: "https://y.example/hook", Secret: hookSecret}}}
	r1 := p.do(http.MethodPost, api.PathRoles, p.admin, in, "Idempotency-Key", "role-1").want(t, 201)
	r2 := p.do(http.MethodPost, api.PathRoles, p.admin, in, "Idempotency-Key", "role-1").want(t, 201)
	if r2.header.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("not replayed")
	}
	p.noSecret("a create response", string(r1.body))
	p.noSecret("an idempotent replay", string(r2.body))
	if err := p.d.Store().View(context.Background(), func(tx store.Tx) error {
		recs, err := tx.GetIdempotency("service_account:bootstrap", http.MethodPost, api.PathRoles, "role-1")
		if err == nil {
			p.noSecret("the idempotency record", recs.Body+recs.Header)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p.noSecretAnywhere()
}
