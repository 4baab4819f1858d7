package catalog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"github.com/accessplane/terraform-provider-pam/internal/store/engine"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

// fakeRotator records the rotate-on-check-in seam calls and answers err.
type fakeRotator struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (r *fakeRotator) RotateAfterCheckin(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, id)
	return r.err
}

func (r *fakeRotator) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

type vaultFixture struct {
	t   *testing.T
	ctx context.Context
	dir string
	st  store.Store
	fc  *clock.Fake
	kr  *keys.Keyring
	// master is kr's raw master key, for rotation tests.
	master []byte
	rot    *fakeRotator
	logs   *bytes.Buffer
	v      *Vault
}

var (
	vaultT0    = time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	adminC     = Caller{Principal: auth.Principal{Subject: "user:root", ServerRoles: []string{api.ServerRoleAdmin}, TokenID: "tok_root"}}
	bobC       = Caller{Principal: auth.Principal{Subject: "user:bob", Groups: []string{"dba"}, TokenID: "tok_bob"}}
	carolC     = Caller{Principal: auth.Principal{Subject: "user:carol", TokenID: "tok_carol"}}
	outsiderC  = Caller{Principal: auth.Principal{Subject: "user:mallory", Groups: []string{"devs"}}}
	safeMember = []api.SafeMember{
		{PrincipalType: api.PrincipalTypeGroup, PrincipalID: "dba", Permissions: []string{api.SafePermissionCheckout, api.SafePermissionRetrieve}},
		{PrincipalType: api.PrincipalTypeUser, PrincipalID: "carol", Permissions: []string{api.SafePermissionCheckout}},
	}
)

func newVaultFixture(t *testing.T) *vaultFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "pamd.db")
	if testdb.IsPostgres() {
		db = testdb.Target(t)
	}
	st, err := engine.Open(ctx, db, engine.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	kr, err := keys.New(master)
	if err != nil {
		t.Fatal(err)
	}
	fc := clock.NewFake(vaultT0)
	rot := &fakeRotator{}
	logs := &bytes.Buffer{}
	v := &Vault{Store: st, Clock: fc, Keyring: kr, Rotator: rot, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	return &vaultFixture{t: t, ctx: ctx, dir: dir, st: st, fc: fc, kr: kr, master: master, rot: rot, logs: logs, v: v}
}

func (f *vaultFixture) safe(name string) api.Safe {
	f.t.Helper()
	s, err := f.v.CreateSafe(f.ctx, adminC, api.SafeInput{Name: name, Members: safeMember})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *vaultFixture) account(safeID, name, secret string, p api.CheckoutPolicy) api.VaultAccount {
	f.t.Helper()
	a, err := f.v.CreateAccount(f.ctx, adminC, api.VaultAccountInput{Name: name, SafeID: safeID, Platform: api.PlatformPostgreSQL,
		Address: "db.example.com", Port: 5432, Username: "app", SecretType: api.SecretTypePassword, Secret: secret, CheckoutPolicy: p})
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

func (f *vaultFixture) sealed(accountID string, version int64) string {
	f.t.Helper()
	var rec store.SecretVersionRecord
	if err := f.st.View(f.ctx, func(tx store.Tx) (err error) { rec, err = tx.GetSecretVersion(accountID, version); return err }); err != nil {
		f.t.Fatal(err)
	}
	return rec.Sealed
}

func (f *vaultFixture) auditEvents() []api.AuditEvent {
	f.t.Helper()
	var evs []api.AuditEvent
	if err := f.st.View(f.ctx, func(tx store.Tx) (err error) { evs, err = tx.ListAudit(store.AuditFilter{Limit: 1000}); return err }); err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func (f *vaultFixture) checkout(id string) api.Checkout {
	f.t.Helper()
	var c api.Checkout
	if err := f.st.View(f.ctx, func(tx store.Tx) (err error) { c, err = tx.GetCheckout(id); return err }); err != nil {
		f.t.Fatal(err)
	}
	return c
}

// wantProblem returns the problem by value (a *api.Problem is an error).
func wantProblem(t *testing.T, err error, status int, code string) api.Problem {
	t.Helper()
	var p *api.Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %v (%T), want a %d %s problem", err, err, status, code)
	}
	if p.Status != status || p.Code != code {
		t.Fatalf("problem %d %s (%s), want %d %s", p.Status, p.Code, p.Detail, status, code)
	}
	return *p
}

var retrievable = api.CheckoutPolicy{Exclusive: true, AllowRetrieve: true, DefaultDurationSeconds: 600, MaxDurationSeconds: 3600}

// TestVaultSecretSealedAtRest: the store holds only the sealed form, bound
// to account and version; the database files never contain the plaintext.
func TestVaultSecretSealedAtRest(t *testing.T) {
	f := newVaultFixture(t)
	const first, second = "Plaintext-Secret-One-7f3a", "Plaintext-Secret-Two-91bc" //nolint:gosec // test values
	s := f.safe("prod")
	a := f.account(s.ID, "db", first, retrievable)
	if a.Secret != "" || a.SecretVersion != 1 || a.SecretUpdatedAt == nil {
		t.Fatalf("created account = %+v", a)
	}
	sealed1 := f.sealed(a.ID, 1)
	if strings.Contains(sealed1, first) || sealed1 == "" {
		t.Fatalf("stored value holds the plaintext: %q", sealed1)
	}
	if _, err := keys.ParseSealed(sealed1); err != nil {
		t.Fatalf("stored value is not a sealed envelope: %v", err)
	}
	pt, err := f.kr.OpenString(sealed1, vault.SecretAAD(a.ID, 1))
	if err != nil || string(pt) != first {
		t.Fatalf("open with the account's AAD = %q, %v", pt, err)
	}

	// Replacing with a secret appends version 2; without one keeps it.
	in := a.VaultAccountInput
	in.Secret = second
	a2, err := f.v.ReplaceAccount(f.ctx, adminC, a.ID, nil, in)
	if err != nil || a2.SecretVersion != 2 || a2.Secret != "" {
		t.Fatalf("replace with secret = %+v, %v", a2, err)
	}
	in.Secret, in.Username = "", "app2"
	a3, err := f.v.ReplaceAccount(f.ctx, adminC, a.ID, nil, in)
	if err != nil || a3.SecretVersion != 2 || a3.Username != "app2" {
		t.Fatalf("replace without secret = %+v, %v", a3, err)
	}
	if s2 := f.sealed(a.ID, 2); strings.Contains(s2, second) || s2 == sealed1 {
		t.Fatalf("version 2 stored as %q", s2)
	}
	vers, err := f.v.ListSecretVersions(f.ctx, adminC, a.ID)
	if err != nil || len(vers) != 2 || vers[0].Version != 2 || vers[1].Version != 1 || vers[0].Source != api.SecretSourceManual {
		t.Fatalf("secret versions = %+v, %v", vers, err)
	}
	cur, n, err := f.v.CurrentSecret(f.ctx, a.ID)
	if err != nil || string(cur) != second || n != 2 {
		t.Fatalf("current secret = %q v%d, %v", cur, n, err)
	}
	got, err := f.v.GetAccount(f.ctx, bobC, a.ID)
	if err != nil || got.Secret != "" {
		t.Fatalf("get account = %+v, %v", got, err)
	}

	// The holder reads the current secret.
	co, err := f.v.CreateCheckout(f.ctx, bobC, a.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := f.v.CheckoutSecret(f.ctx, bobC, co.ID)
	if err != nil || sec.Secret != second || sec.SecretVersion != 2 || sec.Username != "app2" {
		t.Fatalf("checkout secret = %+v, %v", sec, err)
	}

	// Nowhere on disk (database, WAL) in plain form.
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	if testdb.IsPostgres() {
		t.Log("on-disk plaintext check skipped: PostgreSQL keeps its files on the server, not in the test's directory")
		return
	}
	files, _ := filepath.Glob(filepath.Join(f.dir, "*"))
	if len(files) == 0 {
		t.Fatal("no database files found")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{first, second} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains the plaintext secret", filepath.Base(p))
			}
		}
	}
}

// TestVaultAADBinding: a sealed value copied to another account or version
// does not open.
func TestVaultAADBinding(t *testing.T) {
	f := newVaultFixture(t)
	const secretA, secretB = "secret-of-account-A", "secret-of-account-B" //nolint:gosec // test values
	s := f.safe("prod")
	a := f.account(s.ID, "a", secretA, retrievable)
	b := f.account(s.ID, "b", secretB, retrievable)

	// Copy A's ciphertext over B's version 1.
	if err := f.st.Update(f.ctx, func(tx store.Tx) error {
		return tx.ReplaceSealedValue(store.SealedValue{Kind: store.SealedVaultSecret, Key: b.ID, Version: 1, Sealed: f.sealed(a.ID, 1)})
	}); err != nil {
		t.Fatal(err)
	}
	if pt, _, err := f.v.CurrentSecret(f.ctx, b.ID); err == nil {
		t.Fatalf("a ciphertext copied from another account opened: %q", pt)
	}
	co, err := f.v.CreateCheckout(f.ctx, bobC, b.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	before := len(f.auditEvents())
	sec, err := f.v.CheckoutSecret(f.ctx, bobC, co.ID)
	if err == nil || sec.Secret != "" {
		t.Fatalf("checkout secret of a swapped ciphertext = %+v, %v", sec, err)
	}
	if strings.Contains(err.Error(), secretA) {
		t.Fatalf("error leaks the secret: %v", err)
	}
	if n := len(f.auditEvents()); n != before {
		t.Errorf("a failed secret read was recorded as a read (%d new events)", n-before)
	}
	// A still opens: only the copy is refused.
	if pt, _, err := f.v.CurrentSecret(f.ctx, a.ID); err != nil || string(pt) != secretA {
		t.Fatalf("A = %q, %v", pt, err)
	}

	// Same account, other version: version 1 copied into version 2's slot.
	in := a.VaultAccountInput
	in.Secret = "secret-of-account-A-v2"
	if _, err := f.v.ReplaceAccount(f.ctx, adminC, a.ID, nil, in); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Update(f.ctx, func(tx store.Tx) error {
		return tx.ReplaceSealedValue(store.SealedValue{Kind: store.SealedVaultSecret, Key: a.ID, Version: 2, Sealed: f.sealed(a.ID, 1)})
	}); err != nil {
		t.Fatal(err)
	}
	if pt, _, err := f.v.CurrentSecret(f.ctx, a.ID); err == nil {
		t.Fatalf("version 1 opened as version 2 (rollback of a rotated secret): %q", pt)
	}
}

// TestVaultCheckoutExpiry: an exclusive checkout locks the account until its
// expiry; RunDue with the fake clock expires it, audits it as the system,
// asks for the rotation and releases the lock.
func TestVaultCheckoutExpiry(t *testing.T) {
	f := newVaultFixture(t)
	s := f.safe("prod")
	p := retrievable
	p.RotateOnCheckin = true
	a := f.account(s.ID, "db", "pw-expiry-1", p)

	co, err := f.v.CreateCheckout(f.ctx, bobC, a.ID, api.CheckoutRequest{DurationSeconds: 900, Justification: "INC-7"})
	if err != nil {
		t.Fatal(err)
	}
	if co.State != api.CheckoutActive || !co.ExpiresAt.Equal(vaultT0.Add(15*time.Minute)) || co.Holder.ID != "bob" || !co.RotateOnCheckin {
		t.Fatalf("checkout = %+v", co)
	}
	got, err := f.v.GetAccount(f.ctx, carolC, a.ID)
	if err != nil || got.Status.CheckoutID != co.ID || got.Status.CheckedOutBy == nil || got.Status.CheckedOutBy.ID != "bob" {
		t.Fatalf("account status while checked out = %+v, %v", got.Status, err)
	}
	_, err = f.v.CreateCheckout(f.ctx, carolC, a.ID, api.CheckoutRequest{})
	lp := wantProblem(t, err, http.StatusConflict, api.CodeAccountLocked)
	if lp.Holder == nil || lp.Holder.ID != "bob" || lp.ExpiresAt == nil || !lp.ExpiresAt.Equal(co.ExpiresAt) {
		t.Fatalf("locked problem does not name holder and expiry: %+v", lp)
	}
	if err := f.v.DeleteAccount(f.ctx, adminC, a.ID, nil); err == nil {
		t.Fatal("deleted a checked-out account")
	} else {
		wantProblem(t, err, http.StatusConflict, api.CodeAccountCheckedOut)
	}

	// One second before the expiry nothing is due.
	f.fc.Advance(15*time.Minute - time.Second)
	if n, err := f.v.RunDue(f.ctx, 0); err != nil || n != 0 {
		t.Fatalf("RunDue before expiry = %d, %v", n, err)
	}
	if len(f.rot.got()) != 0 {
		t.Fatal("rotation requested before the checkout ended")
	}
	// Noticed late: ended at its expiry, not at the pass.
	f.fc.Advance(time.Minute)
	if n, err := f.v.RunDue(f.ctx, 0); err != nil || n != 1 {
		t.Fatalf("RunDue after expiry = %d, %v", n, err)
	}
	ended := f.checkout(co.ID)
	if ended.State != api.CheckoutExpired || ended.EndReason != api.CheckoutEndExpired || ended.EndedAt == nil ||
		!ended.EndedAt.Equal(co.ExpiresAt) || ended.EndedBy != nil || ended.Version != 2 || ended.UpdatedBy.Type != "system" {
		t.Fatalf("expired checkout = %+v", ended)
	}
	if calls := f.rot.got(); !slices.Equal(calls, []string{a.ID}) {
		t.Fatalf("rotator calls = %v, want [%s]", calls, a.ID)
	}
	evs := f.auditEvents()
	last := evs[len(evs)-1]
	if last.Action != "checkout.expired" || last.Actor.Type != "system" || last.Target.ID != co.ID {
		t.Fatalf("last audit event = %+v", last)
	}
	// Idempotent: a second pass finds nothing.
	if n, err := f.v.RunDue(f.ctx, 0); err != nil || n != 0 || len(f.rot.got()) != 1 {
		t.Fatalf("second pass = %d, %v, rotations %v", n, err, f.rot.got())
	}

	// The secret is gone for the holder; the lock is released.
	_, err = f.v.CheckoutSecret(f.ctx, bobC, co.ID)
	wantProblem(t, err, http.StatusGone, api.CodeSecretNoLongerAvailable)
	_, err = f.v.Checkin(f.ctx, bobC, co.ID, nil)
	wantProblem(t, err, http.StatusConflict, api.CodeInvalidStateTransition)
	got, _ = f.v.GetAccount(f.ctx, carolC, a.ID)
	if got.Status.CheckoutID != "" {
		t.Fatalf("account still checked out: %+v", got.Status)
	}
	if _, err := f.v.CreateCheckout(f.ctx, carolC, a.ID, api.CheckoutRequest{}); err != nil {
		t.Fatalf("checkout after expiry: %v", err)
	}
}

// TestVaultExpiredCheckoutReleasedInline: an exclusive checkout past its
// expiry does not lock the account even before the worker ran; the new
// checkout expires it in the same transaction.
func TestVaultExpiredCheckoutReleasedInline(t *testing.T) {
	f := newVaultFixture(t)
	s := f.safe("prod")
	p := retrievable
	p.RotateOnCheckin = true
	a := f.account(s.ID, "db", "pw-inline", p)
	co, err := f.v.CreateCheckout(f.ctx, bobC, a.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	f.fc.Advance(10 * time.Minute) // exactly the expiry
	co2, err := f.v.CreateCheckout(f.ctx, carolC, a.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatalf("checkout at the previous expiry: %v", err)
	}
	if st := f.checkout(co.ID).State; st != api.CheckoutExpired {
		t.Fatalf("previous checkout state = %s, want expired", st)
	}
	if calls := f.rot.got(); !slices.Equal(calls, []string{a.ID}) {
		t.Fatalf("rotator calls = %v", calls)
	}
	if f.checkout(co2.ID).State != api.CheckoutActive {
		t.Fatal("new checkout not active")
	}
}

// TestVaultRotateOnCheckin: check-in and revoke call the rotator only when
// the checkout's policy snapshot says so; a failing or missing engine is
// recorded on the account's status.
func TestVaultRotateOnCheckin(t *testing.T) {
	f := newVaultFixture(t)
	s := f.safe("prod")
	p := retrievable
	p.RotateOnCheckin = true
	rot := f.account(s.ID, "rotating", "pw-rot", p)
	plain := f.account(s.ID, "plain", "pw-plain", retrievable)

	co, err := f.v.CreateCheckout(f.ctx, bobC, plain.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Checkin(f.ctx, bobC, co.ID, nil); err != nil {
		t.Fatal(err)
	}
	if len(f.rot.got()) != 0 {
		t.Fatalf("rotator called for an account without rotate_on_checkin: %v", f.rot.got())
	}

	co, err = f.v.CreateCheckout(f.ctx, bobC, rot.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// Only the holder checks in; that refusal rotates nothing.
	_, err = f.v.Checkin(f.ctx, carolC, co.ID, nil)
	wantProblem(t, err, http.StatusForbidden, api.CodeForbidden)
	stale := co.Version + 5
	_, err = f.v.Checkin(f.ctx, bobC, co.ID, &stale)
	wantProblem(t, err, http.StatusPreconditionFailed, api.CodeEtagMismatch)
	in, err := f.v.Checkin(f.ctx, bobC, co.ID, &co.Version)
	if err != nil {
		t.Fatal(err)
	}
	if in.State != api.CheckoutCheckedIn || in.EndedBy == nil || in.EndedBy.ID != "bob" || in.Version != co.Version+1 {
		t.Fatalf("checked in = %+v", in)
	}
	if calls := f.rot.got(); !slices.Equal(calls, []string{rot.ID}) {
		t.Fatalf("rotator calls after check-in = %v", calls)
	}
	if acc, _ := f.v.GetAccount(f.ctx, adminC, rot.ID); acc.Status.Note != "" {
		t.Errorf("a queued rotation left a note: %q", acc.Status.Note)
	}
	_, err = f.v.Checkin(f.ctx, bobC, co.ID, nil)
	wantProblem(t, err, http.StatusConflict, api.CodeInvalidStateTransition)
	if len(f.rot.got()) != 1 {
		t.Fatal("a refused second check-in rotated again")
	}

	// Revoke by an admin; the engine fails: the failure is noted, not lost.
	f.rot.err = errors.New("queue full")
	co, err = f.v.CreateCheckout(f.ctx, bobC, rot.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.v.Revoke(f.ctx, bobC, co.ID, nil)
	wantProblem(t, err, http.StatusForbidden, api.CodeForbidden)
	rv, err := f.v.Revoke(f.ctx, adminC, co.ID, nil)
	if err != nil || rv.State != api.CheckoutRevoked || rv.EndedBy == nil || rv.EndedBy.ID != "root" {
		t.Fatalf("revoke = %+v, %v", rv, err)
	}
	if calls := f.rot.got(); len(calls) != 2 || calls[1] != rot.ID {
		t.Fatalf("rotator calls after revoke = %v", calls)
	}
	acc, err := f.v.GetAccount(f.ctx, adminC, rot.ID)
	if err != nil || !strings.Contains(acc.Status.Note, "queue full") || acc.Status.LastRotationResult != api.RotationResultPending {
		t.Fatalf("status after a failed rotation request = %+v, %v", acc.Status, err)
	}
	if acc.Version != rot.Version {
		t.Errorf("status note changed the account version %d -> %d", rot.Version, acc.Version)
	}

	// Without a rotator the NoopRotator's answer is noted.
	f.v.Rotator = nil
	co, err = f.v.CreateCheckout(f.ctx, bobC, rot.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Checkin(f.ctx, bobC, co.ID, nil); err != nil {
		t.Fatal(err)
	}
	acc, _ = f.v.GetAccount(f.ctx, adminC, rot.ID)
	if !strings.Contains(acc.Status.Note, "no rotation engine") {
		t.Fatalf("note without an engine = %q", acc.Status.Note)
	}
}

// TestVaultAuditNoSecret: every mutation appends its audit event, refusals
// are audited as denied, the chain verifies, and no event or log line
// contains a secret.
func TestVaultAuditNoSecret(t *testing.T) {
	f := newVaultFixture(t)
	secrets := []string{"Audit-Secret-One-x1", "Audit-Secret-Two-x2", "Rotated-Secret-x3"}
	actions := func() []string {
		var out []string
		for _, e := range f.auditEvents() {
			out = append(out, e.Action+":"+e.Outcome)
		}
		return out
	}
	step := func(name string, want []string, fn func() error) {
		t.Helper()
		n := len(f.auditEvents())
		if err := fn(); err != nil {
			var p *api.Problem
			if !errors.As(err, &p) || !slices.ContainsFunc(want, func(w string) bool { return strings.HasSuffix(w, ":"+api.OutcomeDenied) }) {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if got := actions()[n:]; !slices.Equal(got, want) {
			t.Fatalf("%s: audit %v, want %v", name, got, want)
		}
	}
	ok := func(a string) string { return a + ":" + api.OutcomeSuccess }
	denied := func(a string) string { return a + ":" + api.OutcomeDenied }

	var s api.Safe
	var a api.VaultAccount
	var co api.Checkout
	step("create safe", []string{ok("safe.created")}, func() (err error) {
		s, err = f.v.CreateSafe(f.ctx, adminC, api.SafeInput{Name: "prod", Members: safeMember})
		return err
	})
	step("create safe refused", []string{denied("safe.created")}, func() error {
		_, err := f.v.CreateSafe(f.ctx, bobC, api.SafeInput{Name: "mine"})
		return err
	})
	step("invalid safe is not audited", nil, func() error {
		_, err := f.v.CreateSafe(f.ctx, adminC, api.SafeInput{Name: "bad name"})
		if err == nil {
			return errors.New("accepted")
		}
		return nil
	})
	step("update safe", []string{ok("safe.updated")}, func() error {
		in := s.SafeInput
		in.Description = "production"
		_, err := f.v.ReplaceSafe(f.ctx, adminC, s.ID, nil, in)
		return err
	})
	step("create account with secret", []string{ok("vault_account.created"), ok("vault_account.secret_set")}, func() (err error) {
		a, err = f.v.CreateAccount(f.ctx, adminC, api.VaultAccountInput{Name: "db", SafeID: s.ID, Platform: api.PlatformGeneric,
			Username: "app", SecretType: api.SecretTypePassword, Secret: secrets[0], CheckoutPolicy: retrievable})
		return err
	})
	step("create account refused", []string{denied("vault_account.created")}, func() error {
		_, err := f.v.CreateAccount(f.ctx, bobC, api.VaultAccountInput{Name: "db2", SafeID: s.ID, Platform: api.PlatformGeneric,
			Username: "app", SecretType: api.SecretTypePassword, Secret: secrets[1]})
		return err
	})
	step("replace account with new secret", []string{ok("vault_account.updated"), ok("vault_account.secret_set")}, func() error {
		in := a.VaultAccountInput
		in.Secret = secrets[1]
		_, err := f.v.ReplaceAccount(f.ctx, adminC, a.ID, nil, in)
		return err
	})
	step("rotated secret", []string{ok("vault_account.secret_set")}, func() error {
		n, err := f.v.StoreRotatedSecret(f.ctx, a.ID, []byte(secrets[2]), "op_1")
		if err == nil && n != 3 {
			return errors.New("rotated version is not 3")
		}
		return err
	})
	step("checkout", []string{ok("checkout.created")}, func() (err error) {
		co, err = f.v.CreateCheckout(f.ctx, bobC, a.ID, api.CheckoutRequest{Justification: "INC-1"})
		return err
	})
	step("checkout by a non-member", []string{denied("checkout.created")}, func() error {
		_, err := f.v.CreateCheckout(f.ctx, outsiderC, a.ID, api.CheckoutRequest{})
		return err
	})
	step("secret read", []string{ok("checkout.secret_read")}, func() error {
		sec, err := f.v.CheckoutSecret(f.ctx, bobC, co.ID)
		if err == nil && sec.Secret != secrets[2] {
			return errors.New("read a stale secret: " + sec.Secret)
		}
		return err
	})
	step("secret read by a non-holder", []string{denied("checkout.secret_read")}, func() error {
		sec, err := f.v.CheckoutSecret(f.ctx, carolC, co.ID)
		if sec.Secret != "" {
			t.Fatal("a non-holder got the secret")
		}
		return err
	})
	step("extend", []string{ok("checkout.extended")}, func() error {
		_, err := f.v.Extend(f.ctx, bobC, co.ID, nil, api.CheckoutExtendRequest{AdditionalSeconds: 300, Justification: "more"})
		return err
	})
	step("checkin", []string{ok("checkout.checked_in")}, func() error {
		_, err := f.v.Checkin(f.ctx, bobC, co.ID, nil)
		return err
	})
	step("secret read after check-in", []string{denied("checkout.secret_read")}, func() error {
		sec, err := f.v.CheckoutSecret(f.ctx, bobC, co.ID)
		if sec.Secret != "" {
			t.Fatal("an ended checkout returned its secret")
		}
		wantProblem(t, err, http.StatusGone, api.CodeSecretNoLongerAvailable)
		return err
	})
	step("delete account", []string{ok("vault_account.deleted")}, func() error { return f.v.DeleteAccount(f.ctx, adminC, a.ID, nil) })
	step("delete safe", []string{ok("safe.deleted")}, func() error { return f.v.DeleteSafe(f.ctx, adminC, s.ID, nil) })

	// The secret_set events carry versions and sources only.
	var setVersions []any
	for _, e := range f.auditEvents() {
		if e.Action != "vault_account.secret_set" {
			continue
		}
		if e.Target.ID != a.ID || e.ResourceVersion == nil {
			t.Errorf("secret_set event = %+v", e)
		}
		for _, c := range e.Changes {
			if c.Path == "/secret_version" || strings.HasSuffix(c.Path, "secret_version") {
				setVersions = append(setVersions, c.Value)
			}
		}
	}
	if len(setVersions) != 3 {
		t.Errorf("secret_version in secret_set events = %v, want 3 entries", setVersions)
	}

	for _, e := range f.auditEvents() {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("audit event %s contains a secret: %s", e.Action, b)
			}
		}
		for _, c := range e.Changes {
			if c.Path == "/secret" {
				t.Errorf("audit event %s records a secret field: %s", e.Action, b)
			}
		}
	}
	for _, sec := range secrets {
		if strings.Contains(f.logs.String(), sec) {
			t.Errorf("logs contain a secret")
		}
	}

	var res audit.Result
	if err := f.st.View(f.ctx, func(tx store.Tx) error {
		ver := audit.NewVerifier()
		if err := tx.WalkAudit(audit.DefaultChain, func(r audit.Record) error { ver.Next(r); return nil }); err != nil {
			return err
		}
		head, err := tx.AuditHead(audit.DefaultChain)
		if err != nil {
			return err
		}
		res = ver.Finish(&head)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Checked != int64(len(f.auditEvents())) {
		t.Fatalf("audit chain: %v", res)
	}
}

// TestVaultBadInputWritesNothing: the refusals of the "bad input"
// list leave the store as it was.
func TestVaultBadInputWritesNothing(t *testing.T) {
	f := newVaultFixture(t)
	s := f.safe("prod")
	a := f.account(s.ID, "db", "pw-bad-input", retrievable)
	snapshot := func() string {
		var b strings.Builder
		_ = f.st.View(f.ctx, func(tx store.Tx) error {
			as, _ := tx.ListVaultAccounts(store.VaultAccountFilter{Limit: 100})
			ss, _ := tx.ListSafes(store.SafeFilter{Limit: 100})
			sv, _ := tx.ListSealedValues()
			cs, _ := tx.ListCheckouts(store.CheckoutFilter{Limit: 100})
			for _, x := range []any{as, ss, sv, cs} {
				j, _ := json.Marshal(x)
				b.Write(j)
			}
			return nil
		})
		return b.String()
	}
	base := snapshot()
	cases := []struct {
		name   string
		status int
		code   string
		fn     func() error
	}{
		{"unknown safe", http.StatusBadRequest, api.CodeValidationFailed, func() error {
			_, err := f.v.CreateAccount(f.ctx, adminC, api.VaultAccountInput{Name: "x", SafeID: "safe_missing", Platform: api.PlatformGeneric,
				Username: "u", SecretType: api.SecretTypePassword, Secret: "s"})
			return err
		}},
		{"platform secret type mismatch", http.StatusBadRequest, api.CodeValidationFailed, func() error {
			_, err := f.v.CreateAccount(f.ctx, adminC, api.VaultAccountInput{Name: "x", SafeID: s.ID, Platform: api.PlatformPostgreSQL,
				Address: "h", Username: "u", SecretType: api.SecretTypeSSHKey, Secret: "s"})
			return err
		}},
		{"duplicate account name", http.StatusConflict, api.CodeAlreadyExists, func() error {
			_, err := f.v.CreateAccount(f.ctx, adminC, api.VaultAccountInput{Name: "db", SafeID: s.ID, Platform: api.PlatformGeneric,
				Username: "u", SecretType: api.SecretTypePassword, Secret: "s"})
			return err
		}},
		{"duplicate safe name", http.StatusConflict, api.CodeAlreadyExists, func() error {
			_, err := f.v.CreateSafe(f.ctx, adminC, api.SafeInput{Name: "prod"})
			return err
		}},
		{"platform is immutable", http.StatusUnprocessableEntity, api.CodeImmutableField, func() error {
			in := a.VaultAccountInput
			in.Platform, in.Secret = api.PlatformGeneric, "new"
			_, err := f.v.ReplaceAccount(f.ctx, adminC, a.ID, nil, in)
			return err
		}},
		{"safe_id is immutable", http.StatusUnprocessableEntity, api.CodeImmutableField, func() error {
			in := a.VaultAccountInput
			in.SafeID = "safe_other"
			_, err := f.v.ReplaceAccount(f.ctx, adminC, a.ID, nil, in)
			return err
		}},
		{"safe name is immutable", http.StatusUnprocessableEntity, api.CodeImmutableField, func() error {
			_, err := f.v.ReplaceSafe(f.ctx, adminC, s.ID, nil, api.SafeInput{Name: "renamed"})
			return err
		}},
		{"stale if-match", http.StatusPreconditionFailed, api.CodeEtagMismatch, func() error {
			v := a.Version + 1
			in := a.VaultAccountInput
			in.Secret = "new"
			_, err := f.v.ReplaceAccount(f.ctx, adminC, a.ID, &v, in)
			return err
		}},
		{"safe with accounts", http.StatusConflict, api.CodeInUse, func() error { return f.v.DeleteSafe(f.ctx, adminC, s.ID, nil) }},
		{"duration above the policy maximum", http.StatusUnprocessableEntity, api.CodePolicyViolation, func() error {
			_, err := f.v.CreateCheckout(f.ctx, bobC, a.ID, api.CheckoutRequest{DurationSeconds: 3601})
			return err
		}},
		{"unknown account", http.StatusNotFound, api.CodeNotFound, func() error {
			_, err := f.v.CreateCheckout(f.ctx, bobC, "acct_missing", api.CheckoutRequest{})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, tc.fn(), tc.status, tc.code)
			if got := snapshot(); got != base {
				t.Fatalf("a refused request changed the store")
			}
		})
	}
	// An account without a secret cannot be checked out.
	empty := f.account(s.ID, "empty", "", retrievable)
	_, err := f.v.CreateCheckout(f.ctx, bobC, empty.ID, api.CheckoutRequest{})
	p := wantProblem(t, err, http.StatusUnprocessableEntity, api.CodePolicyViolation)
	if len(p.Violations) != 1 || p.Violations[0].Rule != "secret_required" {
		t.Fatalf("violations = %+v", p.Violations)
	}
}

// TestVaultRetrieveRules: connect-only accounts and members without the
// retrieve permission get no secret, and the refusal is audited.
func TestVaultRetrieveRules(t *testing.T) {
	f := newVaultFixture(t)
	s := f.safe("prod")
	connectOnly := retrievable
	connectOnly.AllowRetrieve = false
	co1 := f.account(s.ID, "connect-only", "pw-connect", connectOnly)
	open := f.account(s.ID, "open", "pw-open", retrievable)

	c1, err := f.v.CreateCheckout(f.ctx, bobC, co1.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := f.v.CheckoutSecret(f.ctx, bobC, c1.ID)
	wantProblem(t, err, http.StatusForbidden, api.CodeRetrieveNotAllowed)
	if sec.Secret != "" {
		t.Fatal("secret returned with the refusal")
	}
	// carol has checkout but not retrieve.
	c2, err := f.v.CreateCheckout(f.ctx, carolC, open.ID, api.CheckoutRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.v.CheckoutSecret(f.ctx, carolC, c2.ID)
	wantProblem(t, err, http.StatusForbidden, api.CodeRetrieveNotAllowed)
	evs := f.auditEvents()
	denied := 0
	for _, e := range evs {
		if e.Action == "checkout.secret_read" && e.Outcome == api.OutcomeDenied {
			denied++
		}
	}
	if denied != 2 {
		t.Fatalf("denied secret reads audited = %d, want 2", denied)
	}
	// Non-holders without a reader role see neither the checkout nor it in lists.
	_, err = f.v.GetCheckout(f.ctx, bobC, c2.ID)
	wantProblem(t, err, http.StatusForbidden, api.CodeForbidden)
	list, err := f.v.ListCheckouts(f.ctx, bobC, store.CheckoutFilter{Limit: 10})
	if err != nil || len(list) != 1 || list[0].ID != c1.ID {
		t.Fatalf("bob's checkouts = %+v, %v", list, err)
	}
	list, err = f.v.ListCheckouts(f.ctx, bobC, store.CheckoutFilter{HolderType: "user", HolderID: "carol", Limit: 10})
	if err != nil || len(list) != 0 {
		t.Fatalf("bob listing carol's checkouts = %+v, %v", list, err)
	}
	list, err = f.v.ListCheckouts(f.ctx, adminC, store.CheckoutFilter{Limit: 10})
	if err != nil || len(list) != 2 {
		t.Fatalf("admin's view = %+v, %v", list, err)
	}
}

// TestVaultRewrapAllKinds: master key rotation re-wraps every sealed value at
// rest (vault secrets, TOTP secrets, webhook secrets) in one audited
// transaction; the secrets open with the new ring and the old key is unused.
func TestVaultRewrapAllKinds(t *testing.T) {
	f := newVaultFixture(t)
	s := f.safe("prod")
	a := f.account(s.ID, "db", "pw-rewrap-1", retrievable)
	in := a.VaultAccountInput
	in.Secret = "pw-rewrap-2"
	if _, err := f.v.ReplaceAccount(f.ctx, adminC, a.ID, nil, in); err != nil {
		t.Fatal(err)
	}
	totp, err := f.kr.SealString([]byte("totp-seed"), []byte("totp aad"))
	if err != nil {
		t.Fatal(err)
	}
	hook, err := f.kr.SealString([]byte("hook-key"), []byte("hook aad"))
	if err != nil {
		t.Fatal(err)
	}
	role := api.Role{Meta: api.Meta{ID: "role_rewrap", Version: 1, CreatedAt: vaultT0, UpdatedAt: vaultT0},
		RoleInput: api.RoleInput{Name: "r", AssignableScopes: []string{"/"}, Labels: map[string]string{}}}
	if err := f.st.Update(f.ctx, func(tx store.Tx) error {
		if err := tx.PutTOTPEnrollment(store.TOTPEnrollment{Subject: "user:bob", SealedSecret: totp, CreatedAt: vaultT0}); err != nil {
			return err
		}
		if err := tx.InsertRole(role); err != nil {
			return err
		}
		return tx.PutRoleWebhooks(role.ID, []store.RoleWebhook{{URL: "https://h.example", Secret: hook, SecretVersion: 1}})
	}); err != nil {
		t.Fatal(err)
	}

	oldID := f.kr.KeyID()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	next, err := keys.New(master)
	if err != nil {
		t.Fatal(err)
	}
	// next cannot open the old values until the old key is added as retired.
	if _, err := RewrapAll(f.ctx, f.st, f.fc, systemActor, oldID, next); err == nil {
		t.Fatal("re-wrapped with a ring that lacks the old key")
	}
	if used, err := SealedKeysInUse(f.ctx, f.st, []string{oldID}); err != nil || !used {
		t.Fatalf("a failed rewrap changed values: used=%v %v", used, err)
	}
	if err := next.AddRetired(f.master); err != nil {
		t.Fatal(err)
	}
	n, err := RewrapAll(f.ctx, f.st, f.fc, systemActor, oldID, next)
	if err != nil || n != 4 {
		t.Fatalf("rewrapped %d, %v; want 4 (2 vault versions, 1 totp, 1 webhook)", n, err)
	}
	if used, err := SealedKeysInUse(f.ctx, f.st, []string{oldID}); err != nil || used {
		t.Fatalf("old key still in use: %v %v", used, err)
	}
	// Idempotent.
	if n, err := RewrapAll(f.ctx, f.st, f.fc, systemActor, oldID, next); err != nil || n != 0 {
		t.Fatalf("second rewrap = %d, %v", n, err)
	}
	f.v.Keyring = next
	pt, ver, err := f.v.CurrentSecret(f.ctx, a.ID)
	if err != nil || string(pt) != "pw-rewrap-2" || ver != 2 {
		t.Fatalf("secret after rewrap = %q v%d, %v", pt, ver, err)
	}
	if pt, err := next.OpenString(f.sealed(a.ID, 1), vault.SecretAAD(a.ID, 1)); err != nil || string(pt) != "pw-rewrap-1" {
		t.Fatalf("version 1 after rewrap = %q, %v", pt, err)
	}
	var e store.TOTPEnrollment
	var hooks []store.RoleWebhook
	if err := f.st.View(f.ctx, func(tx store.Tx) (err error) {
		if e, err = tx.GetTOTPEnrollment("user:bob"); err != nil {
			return err
		}
		hooks, err = tx.GetRoleWebhooks(role.ID)
		return err
	}); err != nil || len(hooks) != 1 {
		t.Fatalf("read back: %v, %d hooks", err, len(hooks))
	}
	if pt, err := next.OpenString(e.SealedSecret, []byte("totp aad")); err != nil || string(pt) != "totp-seed" {
		t.Fatalf("totp after rewrap = %q, %v", pt, err)
	}
	if pt, err := next.OpenString(hooks[0].Secret, []byte("hook aad")); err != nil || string(pt) != "hook-key" {
		t.Fatalf("webhook after rewrap = %q, %v", pt, err)
	}
	evs := f.auditEvents()
	last := evs[len(evs)-1]
	if last.Action != "keys.rotated" || last.Target.ID != next.KeyID() {
		t.Fatalf("last audit event = %+v", last)
	}
}

// TestVaultConcurrentExclusiveCheckouts: of many simultaneous checkouts of
// one exclusive account exactly one wins; the others get 409 account_locked.
func TestVaultConcurrentExclusiveCheckouts(t *testing.T) {
	f := newVaultFixture(t)
	s := f.safe("prod")
	a := f.account(s.ID, "db", "pw-race", retrievable)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := Caller{Principal: auth.Principal{Subject: "user:dba" + string(rune('a'+i)), Groups: []string{"dba"}}}
			_, errs[i] = f.v.CreateCheckout(f.ctx, c, a.ID, api.CheckoutRequest{})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		wantProblem(t, err, http.StatusConflict, api.CodeAccountLocked)
	}
	if wins != 1 {
		t.Fatalf("%d checkouts won, want exactly 1", wins)
	}
	var active []api.Checkout
	if err := f.st.View(f.ctx, func(tx store.Tx) (err error) { active, err = tx.ActiveCheckouts(a.ID); return err }); err != nil || len(active) != 1 {
		t.Fatalf("active checkouts = %d, %v", len(active), err)
	}
}
