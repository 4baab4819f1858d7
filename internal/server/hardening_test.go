package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/server"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

// startWith starts pamd on a fake clock with extra configuration.
func startWith(t *testing.T, cfg daemon.Config) *env {
	t.Helper()
	fc := clock.NewFake(pimT0)
	// On the engine PAM_TEST_DB selects: with PostgreSQL the rate limits
	// and the refusal budget are the shared ones, in the database.
	cfg.Listen, cfg.DB, cfg.BootstrapToken = "127.0.0.1:0", testdb.Target(t), adminToken
	if testdb.IsPostgres() {
		cfg.MasterKeyFile = testdb.KeyFile(t)
	}
	cfg.Clock, cfg.Version, cfg.WorkerInterval = fc, "test", -1
	d, err := daemon.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &env{t: t, d: d, clock: fc, admin: adminToken}
}

// rateLimited checks a 429 problem and returns its Retry-After in seconds.
func rateLimited(t *testing.T, r resp) int {
	t.Helper()
	r.problem(t, http.StatusTooManyRequests, api.CodeRateLimited)
	secs, err := strconv.Atoi(r.header.Get(api.HeaderRetryAfter))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q, want whole seconds >= 1", r.header.Get(api.HeaderRetryAfter))
	}
	return secs
}

// TestRateLimitPerToken bursts one token past its allowance: the excess gets
// 429 problem+json with Retry-After, another token and health checks are
// unaffected, and after the advertised wait the token is served again. The
// clock is fake, so nothing refills behind the test's back.
func TestRateLimitPerToken(t *testing.T) {
	const burst = 5
	e := startWith(t, daemon.Config{RateLimit: 0.5, RateBurst: burst})
	a := e.token("user:a", api.ServerRoleAuditor)
	b := e.token("user:b", api.ServerRoleAuditor)

	served, limited := 0, 0
	var retry int
	for range 3 * burst {
		r := e.do(http.MethodGet, api.PathRoles, a, nil)
		switch r.status {
		case http.StatusOK:
			served++
		case http.StatusTooManyRequests:
			limited++
			retry = rateLimited(t, r)
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if served != burst || limited != 2*burst {
		t.Fatalf("token a: %d served, %d limited; want %d and %d", served, limited, burst, 2*burst)
	}
	if retry != 2 { // one request per 2 s
		t.Errorf("Retry-After %d, want 2 at 0.5 requests/s", retry)
	}
	// Another token has its own bucket; health checks are never limited.
	for range burst {
		e.do(http.MethodGet, api.PathRoles, b, nil).want(t, 200)
	}
	for range 3 * burst {
		e.do(http.MethodGet, api.PathHealth, "", nil).want(t, 200)
	}
	// Writes count too, and a 429 changes nothing.
	rateLimited(t, e.do(http.MethodPost, api.PathRoles, a, api.RoleInput{Name: "limited", AssignableScopes: []string{"/orgs"}}))
	// After the advertised wait, exactly one more request is allowed.
	e.clock.Advance(time.Duration(retry) * time.Second)
	e.do(http.MethodGet, api.PathRoles, a, nil).want(t, 200)
	rateLimited(t, e.do(http.MethodGet, api.PathRoles, a, nil))

	// Without a token the client address is the key: it is limited too.
	limited = 0
	for range 2 * burst {
		if r := e.do(http.MethodGet, api.PathRoles, "", nil); r.status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != burst {
		t.Errorf("anonymous: %d of %d limited, want %d", limited, 2*burst, burst)
	}
	t.Logf("token a: %d served, %d limited (Retry-After %d s); token b and %d health checks unaffected", served, 2*burst, retry, 3*burst)
}

// TestRateLimitOff: the zero Config has no limit (tests, embedded use).
func TestRateLimitOff(t *testing.T) {
	e := startWith(t, daemon.Config{})
	for range 300 {
		e.do(http.MethodGet, api.PathHealth, e.admin, nil).want(t, 200)
	}
	for range 300 {
		e.do(http.MethodGet, api.PathRoles, e.admin, nil).want(t, 200)
	}
}

// authDeniedEvents returns the auth.denied events so far.
func (e *env) authDeniedEvents() []api.AuditEvent {
	var out []api.AuditEvent
	for _, ev := range e.auditEvents() {
		if ev.Action == "auth.denied" {
			out = append(out, ev)
		}
	}
	return out
}

// TestRefusedCredentialsAudited: every presented-and-refused credential is
// one auth.denied event with the reason, the token id when pamd knows it,
// actor anonymous at the client address, and never the token or its hash; a
// request without credentials is not audited.
func TestRefusedCredentialsAudited(t *testing.T) {
	e := startWith(t, daemon.Config{})
	ctx := context.Background()
	expiring, rec, err := daemon.CreateToken(ctx, e.d.Store(), e.clock, daemon.TokenRequest{Subject: "user:short", TTL: time.Minute,
		IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	e.do(http.MethodGet, api.PathRoles, expiring, nil).want(t, 200)
	e.clock.Advance(time.Minute)
	unknown := "pamd_" + strings.Repeat("u", 43)

	cases := []struct {
		name, header, reason, tokenID string
	}{
		{"missing", "", "", ""},
		{"basic scheme", "Basic YWRtaW46YWRtaW4=", "malformed", ""},
		{"too short", "Bearer short", "malformed", ""},
		{"unknown", "Bearer " + unknown, "unknown", ""},
		{"expired", "Bearer " + expiring, "expired", rec.ID},
	}
	for _, c := range cases {
		before := len(e.authDeniedEvents())
		var r resp
		if c.header == "" {
			r = e.do(http.MethodGet, api.PathRoles, "", nil)
		} else {
			r = e.do(http.MethodGet, api.PathRoles, "", nil, "Authorization", c.header)
		}
		p := r.problem(t, 401, api.CodeUnauthenticated)
		evs := e.authDeniedEvents()[before:]
		if c.reason == "" {
			if len(evs) != 0 {
				t.Errorf("%s: %d auth.denied events, want none", c.name, len(evs))
			}
			continue
		}
		if len(evs) != 1 {
			t.Fatalf("%s: %d auth.denied events, want 1", c.name, len(evs))
		}
		ev := evs[0]
		if auditReason(ev) != c.reason || ev.Target.ID != c.tokenID || ev.Target.Type != "token" || ev.Outcome != api.OutcomeDenied ||
			ev.Actor.Type != "anonymous" || ev.Actor.ID != "127.0.0.1" || ev.Request.RequestID != p.RequestID || ev.Request.Path != api.PathRoles {
			t.Errorf("%s: event %+v", c.name, ev)
		}
		raw, _ := json.Marshal(ev)
		for _, secret := range []string{expiring, unknown, auth.HashToken(expiring), auth.HashToken(unknown), "YWRtaW46YWRtaW4="} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s: the audit event holds a credential or its hash: %s", c.name, raw)
			}
		}
		// Every refusal gives the client the same detail, whatever the reason.
		if c.name != "basic scheme" && p.Detail != "the token is invalid or expired" {
			t.Errorf("%s: detail %q tells reasons apart", c.name, p.Detail)
		}
	}
	e.verifyAudit()
}

// TestRefusedCredentialsFloodGuard: one client address may have at most
// DefaultAuthFailureBurst refusals audited while the (fake) clock stands
// still; beyond that it gets 429 and the chain does not grow. A valid token
// from the same address is still served.
func TestRefusedCredentialsFloodGuard(t *testing.T) {
	e := startWith(t, daemon.Config{})
	const extra = 20
	bad := "pamd_" + strings.Repeat("f", 43)
	unauth, limited := 0, 0
	for range server.DefaultAuthFailureBurst + extra {
		r := e.do(http.MethodGet, api.PathRoles, bad, nil)
		switch r.status {
		case http.StatusUnauthorized:
			unauth++
		case http.StatusTooManyRequests:
			limited++
			rateLimited(t, r)
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	audited := len(e.authDeniedEvents())
	if unauth != server.DefaultAuthFailureBurst || limited != extra || audited != server.DefaultAuthFailureBurst {
		t.Errorf("%d refused credentials: %d answered 401, %d answered 429, %d audited; want %d, %d, %d",
			server.DefaultAuthFailureBurst+extra, unauth, limited, audited, server.DefaultAuthFailureBurst, extra, server.DefaultAuthFailureBurst)
	}
	e.do(http.MethodGet, api.PathRoles, e.admin, nil).want(t, 200)
	// One second later one more refusal is audited.
	e.clock.Advance(time.Second)
	e.do(http.MethodGet, api.PathRoles, bad, nil).problem(t, 401, api.CodeUnauthenticated)
	if n := len(e.authDeniedEvents()); n != audited+1 {
		t.Errorf("after 1 s: %d audited, want %d", n, audited+1)
	}
	t.Logf("%d refused credentials from one address: %d audited (401), %d answered 429 unaudited", server.DefaultAuthFailureBurst+extra, audited, limited)
}

// TestTokensAPI lists and revokes tokens through the API: no hashes on the
// wire, non-admins see and revoke only their own, revoking a token revokes
// the step-up token minted from it at the next request, all audited.
func TestTokensAPI(t *testing.T) {
	e := startWith(t, daemon.Config{})
	ctx := context.Background()
	alice, aliceRec, err := daemon.CreateToken(ctx, e.d.Store(), e.clock, daemon.TokenRequest{Subject: "user:alice",
		ServerRoles: []string{api.ServerRoleRequester}, IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	bob, bobRec, err := daemon.CreateToken(ctx, e.d.Store(), e.clock, daemon.TokenRequest{Subject: "user:bob",
		IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	// Alice steps up: her step-up token's parent is her token.
	var en api.TOTPEnrollment
	e.do(http.MethodPost, api.PathMFATOTP, alice, nil).want(t, 201).json(t, &en)
	e.do(http.MethodPost, api.PathMFATOTPConfirm, alice, api.MFACodeRequest{Code: totpCode(t, en.Secret, e.clock.Now())}).want(t, 200)
	e.clock.Advance(30 * time.Second)
	var su api.StepUpResponse
	e.do(http.MethodPost, api.PathAuthStepUp, alice, api.StepUpRequest{Code: totpCode(t, en.Secret, e.clock.Now())}).want(t, 200).json(t, &su)

	list := func(tok string) (api.Page[api.Token], []byte) {
		var p api.Page[api.Token]
		r := e.do(http.MethodGet, api.PathTokens, tok, nil).want(t, 200)
		r.json(t, &p)
		return p, r.body
	}
	ids := func(p api.Page[api.Token]) []string {
		var out []string
		for _, tk := range p.Items {
			out = append(out, tk.ID)
		}
		return out
	}
	all, raw := list(e.admin)
	if got := ids(all); len(got) != 4 || !slices.Contains(got, aliceRec.ID) || !slices.Contains(got, su.TokenID) || !slices.Contains(got, bobRec.ID) {
		t.Fatalf("admin list: %v", got)
	}
	for _, s := range []string{alice, bob, su.Token, adminToken, auth.HashToken(alice), auth.HashToken(bob), auth.HashToken(su.Token), `"hash"`} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("token list shows a token or a hash: %s", raw)
		}
	}
	for _, tk := range all.Items {
		if tk.ID == su.TokenID && (tk.ParentID != aliceRec.ID || tk.MFAAt == nil || tk.ExpiresAt == nil) {
			t.Errorf("step-up token: %+v", tk)
		}
	}
	if got, _ := list(alice); len(got.Items) != 2 || got.Items[0].Subject != "user:alice" || got.Items[1].Subject != "user:alice" {
		t.Errorf("alice's list: %+v", got.Items)
	}

	// Bob may not revoke Alice's token (403, audited), nor probe for ids.
	e.do(http.MethodDelete, api.PathTokens+"/"+aliceRec.ID, bob, nil).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodDelete, api.PathTokens+"/tok_doesnotexist", bob, nil).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodDelete, api.PathTokens+"/tok_doesnotexist", e.admin, nil).problem(t, 404, api.CodeNotFound)
	denied := 0
	for _, ev := range e.auditEvents() {
		if ev.Action == "token.revoked" && ev.Outcome == api.OutcomeDenied && ev.Actor.ID == "bob" {
			denied++
		}
	}
	if denied != 2 {
		t.Errorf("%d denied token.revoked events for bob, want 2", denied)
	}
	e.do(http.MethodGet, api.PathRoles, alice, nil).want(t, 200)

	// Alice revokes her own token: it and the step-up token are refused at
	// their next request; two token.revoked events name them.
	e.do(http.MethodGet, api.PathRoles, su.Token, nil).want(t, 200)
	e.do(http.MethodDelete, api.PathTokens+"/"+aliceRec.ID, alice, nil).want(t, 204)
	e.do(http.MethodGet, api.PathRoles, alice, nil).problem(t, 401, api.CodeUnauthenticated)
	e.do(http.MethodGet, api.PathRoles, su.Token, nil).problem(t, 401, api.CodeUnauthenticated)
	var revoked []string
	for _, ev := range e.auditEvents() {
		if ev.Action == "token.revoked" && ev.Outcome == api.OutcomeSuccess {
			revoked = append(revoked, ev.Target.ID)
			if ev.Actor.ID != "alice" || ev.Actor.TokenID != aliceRec.ID {
				t.Errorf("token.revoked actor %+v", ev.Actor)
			}
		}
	}
	slices.Sort(revoked)
	want := []string{aliceRec.ID, su.TokenID}
	slices.Sort(want)
	if !slices.Equal(revoked, want) {
		t.Errorf("token.revoked for %v, want %v", revoked, want)
	}
	// The admin revokes Bob's token.
	e.do(http.MethodDelete, api.PathTokens+"/"+bobRec.ID, e.admin, nil).want(t, 204)
	e.do(http.MethodGet, api.PathRoles, bob, nil).problem(t, 401, api.CodeUnauthenticated)
	if got, _ := list(e.admin); len(got.Items) != 1 {
		t.Errorf("after revocations: %v", ids(got))
	}
	e.verifyAudit()
}

// TestOversizedStreamedBody: a body without Content-Length that grows past
// the limit is cut off with 413 problem+json (the Content-Length case is in
// TestValidationProblems).
func TestOversizedStreamedBody(t *testing.T) {
	e := startWith(t, daemon.Config{})
	body := io.MultiReader(strings.NewReader(`{"name":"x","description":"`), strings.NewReader(strings.Repeat("a", server.DefaultMaxBodyBytes)), strings.NewReader(`"}`))
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.d.URL()+api.PathRoles, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	resp{status: res.StatusCode, header: res.Header, body: b}.problem(t, http.StatusRequestEntityTooLarge, api.CodePayloadTooLarge)
}

// TestClientConvergesThroughRateLimit: the provider's API client, sending
// more than a token's allowance from 8 goroutines, gets 429s from a real
// pamd limiter, honours their Retry-After and ends with every call done
// exactly once (no failed call, no duplicate create). Real clock: it takes a
// few seconds of mostly waiting.
func TestClientConvergesThroughRateLimit(t *testing.T) {
	var log bytes.Buffer
	var mu sync.Mutex
	d, err := daemon.Start(context.Background(), daemon.Config{
		Listen: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "pamd.db"), BootstrapToken: adminToken, WorkerInterval: -1,
		RateLimit: 10, RateBurst: 5, Logger: slog.New(slog.NewJSONHandler(lockedWriter{&log, &mu}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	c, err := client.New(client.Config{Endpoint: d.URL(), Token: adminToken, MaxRetries: 10, RetryWaitMax: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r, err := c.CreateRole(context.Background(), api.RoleInput{Name: fmt.Sprintf("rl-%d-%d", w, i), AssignableScopes: []string{"/orgs"}})
				if err != nil {
					errs <- err
					continue
				}
				if _, err := c.GetRole(context.Background(), r.ID); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("call failed: %v", err)
	}
	page, err := c.ListRoles(context.Background(), api.RoleListParams{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != workers*each {
		t.Errorf("%d roles on pamd, want %d (one per create)", len(page.Items), workers*each)
	}
	mu.Lock()
	limited := strings.Count(log.String(), `"status":429`)
	served := strings.Count(log.String(), `"status":200`) + strings.Count(log.String(), `"status":201`)
	mu.Unlock()
	if limited == 0 {
		t.Error("no request was rate limited: the test did not exercise the limiter")
	}
	t.Logf("%d calls from %d goroutines at 10 req/s (burst 5): %d answered 429 and retried, %d served; %d roles, 0 errors",
		2*workers*each, workers, limited, served, len(page.Items))
}

// lockedWriter serialises writes of the pamd log for a concurrent reader.
type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
