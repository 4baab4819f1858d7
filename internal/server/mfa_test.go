package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// syncBuffer collects the server log; the server writes from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type mfaFixture struct {
	pimFixture
	log *syncBuffer
	// secrets and codes and tokens seen, none of which may reach audit or log.
	leaks *[]string
}

// startMFA starts pamd on a fake clock, logging at debug level as JSON into a buffer.
func startMFA(t *testing.T) mfaFixture {
	t.Helper()
	fc := clock.NewFake(pimT0)
	buf := &syncBuffer{}
	d, err := daemon.Start(context.Background(), daemon.Config{
		Listen: "127.0.0.1:0", DB: testdb.Target(t), MasterKeyFile: testdb.KeyFile(t), BootstrapToken: adminToken,
		Clock: fc, Version: "test", WorkerInterval: -1,
		Logger: slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
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
	f := pimFixture{env: e, role: e.createRole(api.RoleInput{Name: "db_admin", AssignableScopes: []string{"/orgs"}})}
	return mfaFixture{pimFixture: f, log: buf, leaks: &[]string{}}
}

func (f mfaFixture) leak(s ...string) { *f.leaks = append(*f.leaks, s...) }

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode is a code valid at no step near at.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	near := []string{totpCode(t, secret, at.Add(-30*time.Second)), totpCode(t, secret, at), totpCode(t, secret, at.Add(30*time.Second))}
	for _, c := range []string{"000000", "111111", "222222"} {
		if !slices.Contains(near, c) {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// enrol enrols and confirms tok's subject, returns the secret and moves the
// clock to the next TOTP step (the confirming code's step is spent).
func (f mfaFixture) enrol(tok string) string {
	f.t.Helper()
	r := f.do(http.MethodPost, api.PathMFATOTP, tok, nil).want(f.t, 201)
	var en api.TOTPEnrollment
	r.json(f.t, &en)
	f.leak(en.Secret, en.OTPAuthURI)
	code := totpCode(f.t, en.Secret, f.clock.Now())
	f.leak(code)
	f.do(http.MethodPost, api.PathMFATOTPConfirm, tok, api.MFACodeRequest{Code: code}).want(f.t, 200)
	f.clock.Advance(30 * time.Second)
	return en.Secret
}

func (f mfaFixture) stepUp(tok, code string, ttl int64) resp {
	f.t.Helper()
	f.leak(code)
	return f.do(http.MethodPost, api.PathAuthStepUp, tok, api.StepUpRequest{Code: code, TTLSeconds: ttl})
}

func (f mfaFixture) mustStepUp(tok, secret string, ttl int64) api.StepUpResponse {
	f.t.Helper()
	r := f.stepUp(tok, totpCode(f.t, secret, f.clock.Now()), ttl).want(f.t, 200)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		f.t.Fatalf("step-up Cache-Control %q", cc)
	}
	var out api.StepUpResponse
	r.json(f.t, &out)
	f.leak(out.Token)
	f.clock.Advance(30 * time.Second)
	return out
}

func TestMFAEnrollAndStepUp(t *testing.T) {
	f := startMFA(t)
	pol := f.policy("mfa", func(r *api.ActivationRules) { r.RequireMFA, r.MFAMaxAgeSeconds = true, 300 })
	elA := f.elig("user", "alice", "/orgs/a", pol.ID)
	elB := f.elig("user", "alice", "/orgs/b", pol.ID)
	alice := f.token("user:alice", api.ServerRoleRequester)
	f.leak(alice)

	// Nothing to step up with yet.
	f.stepUp(alice, "123456", 0).problem(t, 409, api.CodeMFANotEnrolled)
	f.do(http.MethodPost, api.PathMFATOTPConfirm, alice, api.MFACodeRequest{Code: "123456"}).problem(t, 409, api.CodeMFANotEnrolled)

	// Enrol, with an Idempotency-Key: the answer carries the secret, so it is
	// no-store and must not be kept for replay.
	r := f.do(http.MethodPost, api.PathMFATOTP, alice, nil, api.HeaderIdempotencyKey, "enrol-1").want(t, 201)
	var en api.TOTPEnrollment
	r.json(t, &en)
	f.leak(en.Secret, en.OTPAuthURI)
	if r.header.Get("Cache-Control") != "no-store" || en.Subject != "user:alice" || len(en.Secret) < 32 || en.Digits != 6 || en.PeriodSeconds != 30 ||
		!strings.HasPrefix(en.OTPAuthURI, "otpauth://totp/") || !strings.Contains(en.OTPAuthURI, "secret="+en.Secret) || en.Confirmed {
		t.Fatalf("enrol: %v %s", r.header, r.body)
	}
	err := f.d.Store().View(context.Background(), func(tx store.Tx) error {
		if _, err := tx.GetIdempotency("user:alice", http.MethodPost, api.PathMFATOTP, "enrol-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("enrolment response kept in the idempotency cache: %v", err)
		}
		row, err := tx.GetTOTPEnrollment("user:alice")
		if err != nil {
			return err
		}
		if strings.Contains(row.SealedSecret, en.Secret) || !strings.HasPrefix(row.SealedSecret, "v1.") {
			t.Errorf("secret stored in clear: %q", row.SealedSecret)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Unconfirmed: no step-up yet; re-enrolling replaces the secret.
	f.stepUp(alice, totpCode(t, en.Secret, f.clock.Now()), 0).problem(t, 409, api.CodeMFANotEnrolled)
	var en2 api.TOTPEnrollment
	f.do(http.MethodPost, api.PathMFATOTP, alice, nil).want(t, 201).json(t, &en2)
	f.leak(en2.Secret, en2.OTPAuthURI)
	if en2.Secret == en.Secret {
		t.Fatal("re-enrolment kept the secret")
	}
	secret := en2.Secret
	bad := wrongCode(t, secret, f.clock.Now())
	f.leak(bad)
	f.do(http.MethodPost, api.PathMFATOTPConfirm, alice, api.MFACodeRequest{Code: bad}).problem(t, 401, api.CodeInvalidMFACode)
	f.do(http.MethodPost, api.PathMFATOTPConfirm, alice, api.MFACodeRequest{Code: ""}).problem(t, 400, api.CodeValidationFailed)
	first := totpCode(t, secret, f.clock.Now())
	f.leak(first)
	var st api.TOTPStatus
	f.do(http.MethodPost, api.PathMFATOTPConfirm, alice, api.MFACodeRequest{Code: first}).want(t, 200).json(t, &st)
	if !st.Confirmed || st.ConfirmedAt == nil || !st.ConfirmedAt.Equal(f.clock.Now()) {
		t.Fatalf("confirm: %+v", st)
	}
	f.do(http.MethodPost, api.PathMFATOTP, alice, nil).problem(t, 409, api.CodeMFAAlreadyEnrolled)

	// The confirming code is spent: replaying it for a step-up is the same 401
	// as a wrong code.
	replay := f.stepUp(alice, first, 0).problem(t, 401, api.CodeInvalidMFACode)
	wrong := f.stepUp(alice, bad, 0).problem(t, 401, api.CodeInvalidMFACode)
	if replay.Detail != wrong.Detail || replay.Title != wrong.Title {
		t.Fatalf("replay and wrong code answer differently: %+v vs %+v", replay, wrong)
	}

	// The plain token cannot elevate under require_mfa.
	req := api.ElevationRequest{EligibleRoleAssignmentID: elA.ID}
	er := f.elevate(alice, req)
	er.problem(t, 401, api.CodeStepUpRequired)
	if h := er.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_user_authentication"`) || !strings.Contains(h, "max_age=300") {
		t.Fatalf("challenge %q", h)
	}

	// Step up with the next step's code.
	f.clock.Advance(30 * time.Second)
	now := f.clock.Now()
	code := totpCode(t, secret, now)
	sr := f.stepUp(alice, code, 0).want(t, 200)
	if sr.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("step-up headers %v", sr.header)
	}
	var up api.StepUpResponse
	sr.json(t, &up)
	f.leak(up.Token)
	if up.Subject != "user:alice" || !up.MFAAt.Equal(now) || !up.ExpiresAt.Equal(now.Add(15*time.Minute)) || up.Token == alice || !strings.HasPrefix(up.TokenID, "tok_") {
		t.Fatalf("step-up: %+v", up)
	}
	// The same code again (replay within its own 30 seconds).
	f.stepUp(alice, code, 0).problem(t, 401, api.CodeInvalidMFACode)

	// The step-up token works, keeps the roles, and satisfies the policy.
	f.do(http.MethodGet, api.PathRoles, up.Token, nil).want(t, 200)
	ev := f.mustElevate(up.Token, req)
	if ev.MFA == nil || !ev.MFA.Satisfied || ev.State != api.StateActive {
		t.Fatalf("elevation with MFA: %+v", ev)
	}

	// Past mfa_max_age the same token is refused again.
	f.clock.Advance(301 * time.Second)
	f.elevate(up.Token, api.ElevationRequest{EligibleRoleAssignmentID: elB.ID}).problem(t, 401, api.CodeStepUpRequired)
	fresh := f.mustStepUp(alice, secret, 0)
	f.mustElevate(fresh.Token, api.ElevationRequest{EligibleRoleAssignmentID: elB.ID})

	// Bad ttl.
	f.stepUp(alice, totpCode(t, secret, f.clock.Now()), 7200).problem(t, 400, api.CodeValidationFailed)

	// Removing a confirmed enrollment needs a fresh MFA token.
	f.do(http.MethodDelete, api.PathMFATOTP, alice, nil).problem(t, 401, api.CodeStepUpRequired)
	rm := f.mustStepUp(alice, secret, 0)
	f.do(http.MethodDelete, api.PathMFATOTP, rm.Token, nil).want(t, 204)
	f.do(http.MethodDelete, api.PathMFATOTP, rm.Token, nil).problem(t, 404, api.CodeNotFound)
	f.stepUp(alice, totpCode(t, secret, f.clock.Now()), 0).problem(t, 409, api.CodeMFANotEnrolled)

	// Audited, without secrets.
	var actions []string
	var failures int
	for _, e := range f.auditEvents() {
		if e.Category == "mfa" || e.Category == "auth" {
			actions = append(actions, e.Action)
			if e.Action == "auth.step_up" && e.Outcome == api.OutcomeFailure {
				failures++
			}
		}
	}
	for _, want := range []string{"mfa.enrolled", "mfa.confirmed", "auth.step_up", "mfa.removed"} {
		if !slices.Contains(actions, want) {
			t.Errorf("no %s event in %v", want, actions)
		}
	}
	if failures < 3 {
		t.Errorf("step-up failures audited: %d, want >= 3 (%v)", failures, actions)
	}
	f.assertNoLeaks()
	f.verifyAudit()
}

// assertNoLeaks scans every audit event and the server log for any secret,
// otpauth URI, code or token the test saw.
func (f mfaFixture) assertNoLeaks() {
	f.t.Helper()
	events, err := json.Marshal(f.auditEvents())
	if err != nil {
		f.t.Fatal(err)
	}
	logs := f.log.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		f.t.Fatalf("server log not captured: %q", logs)
	}
	for _, s := range *f.leaks {
		if s == "" {
			continue
		}
		// Codes are six digits: look for them as whole JSON values, which is
		// how a leak would appear, rather than inside hashes.
		needle := s
		if len(s) == 6 {
			needle = strconv.Quote(s)
		}
		if bytes.Contains(events, []byte(needle)) {
			f.t.Errorf("audit events contain %q", s)
		}
		if strings.Contains(logs, needle) {
			f.t.Errorf("server log contains %q", s)
		}
	}
}

func TestMFAStepUpBoundedByParentToken(t *testing.T) {
	f := startMFA(t)
	tok, rec, err := daemon.CreateToken(context.Background(), f.d.Store(), f.clock, daemon.TokenRequest{Subject: "user:carol",
		Groups: []string{"dba"}, ServerRoles: []string{api.ServerRoleRequester, api.ServerRoleApprover}, TTL: 10 * time.Minute,
		IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	f.leak(tok)
	secret := f.enrol(tok)
	up := f.mustStepUp(tok, secret, 3600)
	if !up.ExpiresAt.Equal(*rec.ExpiresAt) {
		t.Fatalf("step-up token expires %s, parent %s", up.ExpiresAt, *rec.ExpiresAt)
	}
	// Same subject, groups and roles (no more): read back from the store.
	err = f.d.Store().View(context.Background(), func(tx store.Tx) error {
		for _, e := range mustEvents(t, tx) {
			if e.Action == "auth.step_up" && e.Target.ID == up.TokenID {
				b, _ := json.Marshal(e.Changes)
				if !strings.Contains(string(b), rec.ID) || !strings.Contains(string(b), "approver") || !strings.Contains(string(b), "dba") {
					t.Errorf("step-up audit facts: %s", b)
				}
				return nil
			}
		}
		t.Error("no auth.step_up event for the token")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A step-up token can itself step up, still bounded by the first parent.
	up2 := f.mustStepUp(up.Token, secret, 3600)
	if up2.ExpiresAt.After(*rec.ExpiresAt) {
		t.Fatalf("chained step-up outlives the parent: %s", up2.ExpiresAt)
	}
	f.do(http.MethodGet, api.PathRoles, up.Token, nil).want(t, 200)
	f.clock.Set(rec.ExpiresAt.Add(time.Second))
	f.do(http.MethodGet, api.PathRoles, up.Token, nil).problem(t, 401, api.CodeUnauthenticated)
	f.do(http.MethodGet, api.PathRoles, up2.Token, nil).problem(t, 401, api.CodeUnauthenticated)
	f.assertNoLeaks()
}

func mustEvents(t *testing.T, tx store.Tx) []api.AuditEvent {
	t.Helper()
	evs, err := tx.ListAudit(store.AuditFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestMFABruteForceLimited(t *testing.T) {
	f := startMFA(t)
	bob := f.token("user:bob", api.ServerRoleRequester)
	f.leak(bob)
	secret := f.enrol(bob)
	bad := wrongCode(t, secret, f.clock.Now())
	for i := range 5 {
		f.stepUp(bob, bad, 0).problem(t, 401, api.CodeInvalidMFACode)
		f.clock.Advance(10 * time.Second)
		_ = i
	}
	// Locked: even the right code is refused, with the time left to wait.
	r := f.stepUp(bob, totpCode(t, secret, f.clock.Now()), 0)
	r.problem(t, 429, api.CodeRateLimited)
	ra, err := strconv.Atoi(r.header.Get(api.HeaderRetryAfter))
	if err != nil || ra < 200 || ra > 300 {
		t.Fatalf("Retry-After %q", r.header.Get(api.HeaderRetryAfter))
	}
	// Other subjects are unaffected.
	carol := f.token("user:carol", api.ServerRoleRequester)
	f.leak(carol)
	cs := f.enrol(carol)
	f.mustStepUp(carol, cs, 0)
	// After the window the right code works again, and resets the count.
	f.clock.Advance(time.Duration(ra) * time.Second)
	f.mustStepUp(bob, secret, 0)
	f.stepUp(bob, wrongCode(t, secret, f.clock.Now()), 0).problem(t, 401, api.CodeInvalidMFACode)
	f.mustStepUp(bob, secret, 0)

	var denied int
	for _, e := range f.auditEvents() {
		if e.Action == "auth.step_up" && e.Outcome == api.OutcomeDenied {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("rate-limited attempts audited: %d", denied)
	}
	f.assertNoLeaks()
	f.verifyAudit()
}

func TestMFAInOpenAPI(t *testing.T) {
	f := startMFA(t)
	r := f.do(http.MethodGet, api.PathOpenAPI, "", nil).want(t, 200)
	for _, p := range []string{api.PathMFATOTP, api.PathMFATOTPConfirm, api.PathAuthStepUp} {
		if !bytes.Contains(r.body, []byte(`"`+p+`"`)) {
			t.Errorf("openapi lacks %s", p)
		}
	}
	// The bearer token is not documented as a parameter of step-up.
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	r.json(t, &doc)
	for _, p := range doc.Paths[api.PathAuthStepUp]["post"].Parameters {
		if strings.EqualFold(p.Name, "Authorization") {
			t.Error("step-up documents Authorization as a parameter")
		}
	}
}

// TestMFAConcurrentStepUpSpendsCodeOnce races one code through parallel
// step-ups: exactly one may mint a token.
func TestMFAConcurrentStepUpSpendsCodeOnce(t *testing.T) {
	f := startMFA(t)
	dave := f.token("user:dave", api.ServerRoleRequester)
	secret := f.enrol(dave)
	code := totpCode(t, secret, f.clock.Now())
	body, err := json.Marshal(api.StepUpRequest{Code: code})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, f.d.URL()+api.PathAuthStepUp, bytes.NewReader(body))
			if err != nil {
				statuses <- -1
				return
			}
			req.Header.Set("Authorization", "Bearer "+dave)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- -1
				return
			}
			_ = res.Body.Close()
			statuses <- res.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	var ok, refused int
	for s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusUnauthorized, http.StatusTooManyRequests:
			// Losers see the spent code as invalid; once five have failed,
			// the brute-force limit answers the rest with 429 first.
			refused++
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if ok != 1 || refused != n-1 {
		t.Fatalf("%d step-ups succeeded and %d were refused, want 1 and %d", ok, refused, n-1)
	}
}

// TestMFAExpiredStepUpTokensPurged: the worker pass deletes step-up tokens
// once expired (one is minted per step-up), and nothing else: a step-up
// token still valid and the token it was minted from stay.
func TestMFAExpiredStepUpTokensPurged(t *testing.T) {
	f := startMFA(t)
	tok, rec, err := daemon.CreateToken(context.Background(), f.d.Store(), f.clock, daemon.TokenRequest{Subject: "user:carol",
		ServerRoles: []string{api.ServerRoleRequester}, IssuedBy: api.AuditActor{Type: "system", ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	f.leak(tok)
	secret := f.enrol(tok)
	first := f.mustStepUp(tok, secret, 300) // the clock moves 30 s after each
	second := f.mustStepUp(tok, secret, 300)
	if !first.ExpiresAt.Before(second.ExpiresAt) {
		t.Fatalf("step-up expiries %s, %s: want the first earlier", first.ExpiresAt, second.ExpiresAt)
	}
	f.clock.Set(first.ExpiresAt.Add(time.Second))
	if _, err := f.d.RunWorkerOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = f.d.Store().View(context.Background(), func(tx store.Tx) error {
		if _, err := tx.TokenByID(first.TokenID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired step-up token after the worker pass: %v, want not found", err)
		}
		for _, id := range []string{second.TokenID, rec.ID} {
			if _, err := tx.TokenByID(id); err != nil {
				t.Errorf("token %s was purged: %v", id, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.do(http.MethodGet, api.PathRoles, second.Token, nil).want(t, 200)
	f.assertNoLeaks()
}
