package server_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"github.com/accessplane/terraform-provider-pam/internal/testkeys"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// recordingRotator records the rotate-on-check-in seam calls.
type recordingRotator struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingRotator) RotateAfterCheckin(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, id)
	return nil
}

func (r *recordingRotator) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type vaultEnv struct {
	*env
	logs *syncBuf
	rot  *recordingRotator
}

func startVault(t *testing.T, withRotator bool) *vaultEnv {
	t.Helper()
	fc := clock.NewFake(pimT0)
	logs := &syncBuf{}
	cfg := daemon.Config{
		Listen: "127.0.0.1:0", DB: testdb.Target(t), MasterKeyFile: testdb.KeyFile(t), BootstrapToken: adminToken,
		Clock: fc, Version: "test", WorkerInterval: -1,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	rot := &recordingRotator{}
	if withRotator {
		cfg.Rotator = rot
	}
	d, err := daemon.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &vaultEnv{env: &env{t: t, d: d, clock: fc, admin: adminToken}, logs: logs, rot: rot}
}

func (e *vaultEnv) safe(name string, members ...api.SafeMember) api.Safe {
	e.t.Helper()
	var s api.Safe
	e.do(http.MethodPost, api.PathSafes, e.admin, api.SafeInput{Name: name, Members: members}).want(e.t, 201).json(e.t, &s)
	return s
}

func (e *vaultEnv) account(in api.VaultAccountInput) api.VaultAccount {
	e.t.Helper()
	var a api.VaultAccount
	e.do(http.MethodPost, api.PathVaultAccounts, e.admin, in).want(e.t, 201).json(e.t, &a)
	return a
}

func (e *vaultEnv) checkout(token, accountID string, req api.CheckoutRequest) resp {
	e.t.Helper()
	idemCounter++
	return e.do(http.MethodPost, api.PathVaultAccounts+"/"+accountID+"/"+api.SegmentCheckouts, token, req, "Idempotency-Key", fmt.Sprintf("chk-%d", idemCounter))
}

// assertNoSecret fails if any secret appears in any stored audit event, in
// the captured logs, or in the given bodies.
func (e *vaultEnv) assertNoSecret(secrets []string, bodies ...[]byte) {
	e.t.Helper()
	var all bytes.Buffer
	for _, ev := range e.auditEvents() {
		fmt.Fprintf(&all, "%+v\n", ev)
	}
	raw := ""
	err := e.d.Store().View(context.Background(), func(tx store.Tx) error {
		evs, err := tx.ListAudit(store.AuditFilter{Limit: 100000})
		raw = fmt.Sprint(evs)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(all.String(), s) || strings.Contains(raw, s) {
			e.t.Errorf("secret %q found in the audit log", s)
		}
		if strings.Contains(e.logs.String(), s) {
			e.t.Errorf("secret %q found in the logs", s)
		}
		for _, b := range bodies {
			if bytes.Contains(b, []byte(s)) {
				e.t.Errorf("secret %q found in a response: %s", s, b)
			}
		}
	}
}

func pgAccount(safeID, name, secret string) api.VaultAccountInput {
	return api.VaultAccountInput{Name: name, SafeID: safeID, Platform: api.PlatformPostgreSQL, Address: "pg.internal", Port: 5432,
		Username: "pgadmin", SecretType: api.SecretTypePassword, Secret: secret, ManagementMode: api.ManagementManual,
		CheckoutPolicy: api.CheckoutPolicy{Exclusive: true, DefaultDurationSeconds: 1800, MaxDurationSeconds: 7200, AllowRetrieve: true, RotateOnCheckin: true}}
}

func TestVaultSafeAndAccountCRUD(t *testing.T) {
	e := startVault(t, false)
	const s1, s2 = "S3cret-One-xyzzy", "S3cret-Two-plugh"
	sf := e.safe("prod-db", api.SafeMember{PrincipalType: "group", PrincipalID: "dba", Permissions: []string{"retrieve", "checkout", "checkout"}})
	if sf.Version != 1 || len(sf.Members) != 1 || len(sf.Members[0].Permissions) != 2 {
		t.Fatalf("safe = %+v", sf)
	}
	// name unique
	e.do(http.MethodPost, api.PathSafes, e.admin, api.SafeInput{Name: "prod-db"}).problem(t, 409, api.CodeAlreadyExists)
	// bad permission
	p := e.do(http.MethodPost, api.PathSafes, e.admin, api.SafeInput{Name: "x", Members: []api.SafeMember{{PrincipalType: "user", PrincipalID: "a", Permissions: []string{"fly"}}}}).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); len(got) != 1 || got[0] != "/members/0/permissions/0" {
		t.Fatalf("pointers = %v", got)
	}

	a := e.account(pgAccount(sf.ID, "pg-admin", s1))
	if a.SecretVersion != 1 || a.Secret != "" || a.ID[:5] != "acct_" || a.CheckoutPolicy.MaxDurationSeconds != 7200 {
		t.Fatalf("account = %+v", a)
	}
	var bodies [][]byte
	r := e.do(http.MethodGet, api.PathVaultAccounts+"/"+a.ID, e.admin, nil).want(t, 200)
	bodies = append(bodies, r.body)
	if strings.Contains(string(r.body), `"secret"`) {
		t.Fatalf("GET carries a secret member: %s", r.body)
	}
	// unknown safe
	in := pgAccount("safe_nope", "x", "")
	p = e.do(http.MethodPost, api.PathVaultAccounts, e.admin, in).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); len(got) != 1 || got[0] != "/safe_id" {
		t.Fatalf("pointers = %v", got)
	}
	// platform / secret type mismatch
	in = pgAccount(sf.ID, "y", "")
	in.SecretType = api.SecretTypeSSHKey
	p = e.do(http.MethodPost, api.PathVaultAccounts, e.admin, in).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); len(got) != 1 || got[0] != "/secret_type" {
		t.Fatalf("pointers = %v", got)
	}
	// name unique per safe
	e.do(http.MethodPost, api.PathVaultAccounts, e.admin, pgAccount(sf.ID, "pg-admin", "")).problem(t, 409, api.CodeAlreadyExists)

	// immutable safe_id and platform
	other := e.safe("other")
	in = pgAccount(other.ID, "pg-admin", "")
	p = e.do(http.MethodPut, api.PathVaultAccounts+"/"+a.ID, e.admin, in, "If-Match", api.FormatETag(1)).problem(t, 422, api.CodeImmutableField)
	if got := violationPointers(p); len(got) != 1 || got[0] != "/safe_id" {
		t.Fatalf("pointers = %v", got)
	}
	in = pgAccount(sf.ID, "pg-admin", "")
	in.Platform = api.PlatformGeneric
	e.do(http.MethodPut, api.PathVaultAccounts+"/"+a.ID, e.admin, in).problem(t, 422, api.CodeImmutableField)

	// PUT without secret keeps the version; with one bumps it.
	in = pgAccount(sf.ID, "pg-admin", "")
	in.Address = "pg2.internal"
	var a2 api.VaultAccount
	r = e.do(http.MethodPut, api.PathVaultAccounts+"/"+a.ID, e.admin, in, "If-Match", api.FormatETag(1)).want(t, 200)
	r.json(t, &a2)
	bodies = append(bodies, r.body)
	if a2.SecretVersion != 1 || a2.Version != 2 || a2.Address != "pg2.internal" {
		t.Fatalf("after PUT without secret: %+v", a2)
	}
	e.do(http.MethodPut, api.PathVaultAccounts+"/"+a.ID, e.admin, in, "If-Match", api.FormatETag(1)).problem(t, 412, api.CodeEtagMismatch)
	in.Secret = s2
	r = e.do(http.MethodPut, api.PathVaultAccounts+"/"+a.ID, e.admin, in, "If-Match", api.FormatETag(2)).want(t, 200)
	r.json(t, &a2)
	bodies = append(bodies, r.body)
	if a2.SecretVersion != 2 || a2.Version != 3 {
		t.Fatalf("after PUT with secret: %+v", a2)
	}
	var versions api.Page[api.SecretVersion]
	r = e.do(http.MethodGet, api.PathVaultAccounts+"/"+a.ID+"/"+api.SegmentSecretVersions, e.admin, nil).want(t, 200)
	r.json(t, &versions)
	bodies = append(bodies, r.body)
	if len(versions.Items) != 2 || versions.Items[0].Version != 2 || versions.Items[0].Source != api.SecretSourceManual {
		t.Fatalf("versions = %+v", versions)
	}
	r = e.do(http.MethodGet, api.PathVaultAccounts+"?safe_id="+sf.ID, e.admin, nil).want(t, 200)
	bodies = append(bodies, r.body)
	var page api.Page[api.VaultAccount]
	r.json(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("list = %+v", page)
	}
	n := 0
	for _, ev := range e.auditEvents() {
		if ev.Action == "vault_account.secret_set" && ev.Target.ID == a.ID {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d secret_set events, want 2", n)
	}

	// a member without manage cannot write
	alice := e.tokenG("user:alice", []string{"dba"}, "requester")
	e.do(http.MethodPut, api.PathVaultAccounts+"/"+a.ID, alice, in).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodPut, api.PathVaultAccounts+"/acct_missing", alice, in).problem(t, 404, api.CodeNotFound)

	// the safe is in use; the account can go, then the safe.
	e.do(http.MethodDelete, api.PathSafes+"/"+sf.ID, e.admin, nil).problem(t, 409, api.CodeInUse)
	e.do(http.MethodDelete, api.PathVaultAccounts+"/"+a.ID, e.admin, nil).want(t, 204)
	e.do(http.MethodDelete, api.PathSafes+"/"+sf.ID, e.admin, nil).want(t, 204)
	e.assertNoSecret([]string{s1, s2}, bodies...)
}

func TestVaultCheckoutLifecycle(t *testing.T) {
	e := startVault(t, true)
	const secret = "Hunter2-Vault-Secret-9f8e"
	sf := e.safe("prod-db",
		api.SafeMember{PrincipalType: "group", PrincipalID: "dba", Permissions: []string{"checkout", "retrieve"}},
		api.SafeMember{PrincipalType: "user", PrincipalID: "bob", Permissions: []string{"checkout", "retrieve"}})
	in := pgAccount(sf.ID, "pg-admin", secret)
	in.CheckoutPolicy.RequireJustification = true
	a := e.account(in)
	alice := e.tokenG("user:alice", []string{"dba"}, "requester")
	bob := e.tokenG("user:bob", nil, "requester")
	carol := e.tokenG("user:carol", nil, "requester")
	var bodies [][]byte

	// carol is no member: 403, audited
	e.checkout(carol, a.ID, api.CheckoutRequest{Justification: "x"}).problem(t, 403, api.CodeForbidden)
	// policy: justification and max duration
	p := e.checkout(alice, a.ID, api.CheckoutRequest{DurationSeconds: 99999}).problem(t, 422, api.CodePolicyViolation)
	if len(p.Violations) != 2 {
		t.Fatalf("violations = %+v", p.Violations)
	}
	// missing idempotency key
	e.do(http.MethodPost, api.PathVaultAccounts+"/"+a.ID+"/checkouts", alice, api.CheckoutRequest{Justification: "x"}).problem(t, 400, api.CodeIdempotencyKeyMissing)

	// alice checks out (via group dba); replay returns the same checkout
	body := api.CheckoutRequest{DurationSeconds: 600, Justification: "fix replication"}
	path := api.PathVaultAccounts + "/" + a.ID + "/checkouts"
	r := e.do(http.MethodPost, path, alice, body, "Idempotency-Key", "same-key").want(t, 201)
	var co, co2 api.Checkout
	r.json(t, &co)
	r2 := e.do(http.MethodPost, path, alice, body, "Idempotency-Key", "same-key").want(t, 201)
	r2.json(t, &co2)
	if co2.ID != co.ID || r2.header.Get(api.HeaderIdempotencyReplayed) != "true" {
		t.Fatalf("replay gave %s (replayed=%q), want %s", co2.ID, r2.header.Get(api.HeaderIdempotencyReplayed), co.ID)
	}
	if co.State != api.CheckoutActive || co.Holder != (api.Actor{Type: "user", ID: "alice"}) || !co.ExpiresAt.Equal(pimT0.Add(600*time.Second)) || co.SecretVersion != 1 {
		t.Fatalf("checkout = %+v", co)
	}
	bodies = append(bodies, r.body, r2.body)

	// exclusivity: bob gets 409 naming alice and the expiry
	p = e.checkout(bob, a.ID, api.CheckoutRequest{Justification: "me too"}).problem(t, 409, api.CodeAccountLocked)
	if p.Holder == nil || *p.Holder != co.Holder || p.ExpiresAt == nil || !p.ExpiresAt.Equal(co.ExpiresAt) {
		t.Fatalf("locked problem = %+v", p)
	}
	// account status shows the checkout
	var acc api.VaultAccount
	e.do(http.MethodGet, api.PathVaultAccounts+"/"+a.ID, bob, nil).want(t, 200).json(t, &acc)
	if acc.Status.CheckoutID != co.ID || acc.Status.CheckedOutBy == nil || acc.Status.CheckedOutBy.ID != "alice" {
		t.Fatalf("status = %+v", acc.Status)
	}
	// delete refused while checked out
	e.do(http.MethodDelete, api.PathVaultAccounts+"/"+a.ID, e.admin, nil).problem(t, 409, api.CodeAccountCheckedOut)

	// non-holder secret read: 403 and audited as denied
	secretPath := api.PathCheckouts + "/" + co.ID + "/secret"
	e.do(http.MethodGet, secretPath, bob, nil).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodGet, secretPath, e.admin, nil).problem(t, 403, api.CodeForbidden)
	denied := 0
	for _, ev := range e.auditEvents() {
		if ev.Action == "checkout.secret_read" && ev.Outcome == api.OutcomeDenied && ev.Target.ID == co.ID {
			denied++
		}
	}
	if denied != 2 {
		t.Fatalf("%d denied secret reads audited, want 2", denied)
	}
	e.do(http.MethodGet, api.PathCheckouts+"/chk_nope/secret", bob, nil).problem(t, 404, api.CodeNotFound)

	// holder reads the secret
	r = e.do(http.MethodGet, secretPath, alice, nil).want(t, 200)
	var cs api.CheckoutSecret
	r.json(t, &cs)
	if cs.Secret != secret || cs.SecretVersion != 1 || cs.Username != "pgadmin" || cs.CheckoutID != co.ID {
		t.Fatalf("secret = %+v", cs)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q", cc)
	}
	if got := e.auditActionsFor(co.ID); !contains(got, "checkout.secret_read") {
		t.Fatalf("audit = %v", got)
	}

	// extend within max, then beyond
	var ext api.Checkout
	e.do(http.MethodPost, api.PathCheckouts+"/"+co.ID+"/extend", alice, api.CheckoutExtendRequest{AdditionalSeconds: 600}).want(t, 200).json(t, &ext)
	if !ext.ExpiresAt.Equal(co.ExpiresAt.Add(600*time.Second)) || len(ext.Extensions) != 1 {
		t.Fatalf("extended = %+v", ext)
	}
	e.do(http.MethodPost, api.PathCheckouts+"/"+co.ID+"/extend", alice, api.CheckoutExtendRequest{AdditionalSeconds: 7200}).problem(t, 422, api.CodePolicyViolation)

	// listing: bob sees none of alice's; admin filters by holder
	var page api.Page[api.Checkout]
	e.do(http.MethodGet, api.PathCheckouts, bob, nil).want(t, 200).json(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("bob sees %+v", page.Items)
	}
	e.do(http.MethodGet, api.PathCheckouts+"?holder=user:alice&state=active&account_id="+a.ID, e.admin, nil).want(t, 200).json(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != co.ID {
		t.Fatalf("admin list = %+v", page.Items)
	}
	e.do(http.MethodGet, api.PathCheckouts+"/"+co.ID, bob, nil).problem(t, 403, api.CodeForbidden)

	// bob cannot check in alice's checkout; alice can; rotation seam called
	e.do(http.MethodPost, api.PathCheckouts+"/"+co.ID+"/checkin", bob, nil).problem(t, 403, api.CodeForbidden)
	var in2 api.Checkout
	e.do(http.MethodPost, api.PathCheckouts+"/"+co.ID+"/checkin", alice, nil).want(t, 200).json(t, &in2)
	if in2.State != api.CheckoutCheckedIn || in2.EndedAt == nil {
		t.Fatalf("checked in = %+v", in2)
	}
	if got := e.rot.got(); len(got) != 1 || got[0] != a.ID {
		t.Fatalf("rotator calls = %v", got)
	}
	e.do(http.MethodGet, secretPath, alice, nil).problem(t, 410, api.CodeSecretNoLongerAvailable)
	p = e.do(http.MethodPost, api.PathCheckouts+"/"+co.ID+"/checkin", alice, nil).problem(t, 409, api.CodeInvalidStateTransition)
	if p.State != api.CheckoutCheckedIn {
		t.Fatalf("state problem = %+v", p)
	}

	// bob now checks out; expiry -> worker -> expired, secret 410, seam called
	var cb api.Checkout
	e.checkout(bob, a.ID, api.CheckoutRequest{Justification: "night shift", DurationSeconds: 300}).want(t, 201).json(t, &cb)
	e.do(http.MethodGet, api.PathCheckouts+"/"+cb.ID+"/secret", bob, nil).want(t, 200)
	e.clock.Advance(301 * time.Second)
	e.do(http.MethodGet, api.PathCheckouts+"/"+cb.ID+"/secret", bob, nil).problem(t, 410, api.CodeSecretNoLongerAvailable)
	n, err := e.d.RunWorkerOnce(context.Background())
	if err != nil || n < 1 {
		t.Fatalf("worker: %d, %v", n, err)
	}
	var expired api.Checkout
	e.do(http.MethodGet, api.PathCheckouts+"/"+cb.ID, bob, nil).want(t, 200).json(t, &expired)
	if expired.State != api.CheckoutExpired || expired.EndReason != api.CheckoutEndExpired || expired.EndedAt == nil || !expired.EndedAt.Equal(cb.ExpiresAt) {
		t.Fatalf("expired = %+v", expired)
	}
	if got := e.rot.got(); len(got) != 2 {
		t.Fatalf("rotator calls = %v", got)
	}
	e.do(http.MethodGet, api.PathCheckouts+"/"+cb.ID+"/secret", bob, nil).problem(t, 410, api.CodeSecretNoLongerAvailable)

	// revoke: admin only
	var cc api.Checkout
	e.checkout(alice, a.ID, api.CheckoutRequest{Justification: "again"}).want(t, 201).json(t, &cc)
	e.do(http.MethodPost, api.PathCheckouts+"/"+cc.ID+"/revoke", alice, nil).problem(t, 403, api.CodeForbidden)
	var rv api.Checkout
	e.do(http.MethodPost, api.PathCheckouts+"/"+cc.ID+"/revoke", e.admin, nil).want(t, 200).json(t, &rv)
	if rv.State != api.CheckoutRevoked {
		t.Fatalf("revoked = %+v", rv)
	}

	// nothing leaked anywhere
	r = e.do(http.MethodGet, api.PathVaultAccounts, e.admin, nil).want(t, 200)
	bodies = append(bodies, r.body)
	r = e.do(http.MethodGet, api.PathCheckouts, e.admin, nil).want(t, 200)
	bodies = append(bodies, r.body)
	e.assertNoSecret([]string{secret}, bodies...)
	// the idempotency cache never holds the secret
	err = e.d.Store().View(context.Background(), func(tx store.Tx) error {
		rec, err := tx.GetIdempotency("user:alice", http.MethodPost, path, "same-key")
		if err != nil {
			return err
		}
		if strings.Contains(rec.Body, secret) {
			t.Errorf("idempotency record holds the secret")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVaultRotateOnCheckinDefaultRotator(t *testing.T) {
	e := startVault(t, false)
	sf := e.safe("s")
	a := e.account(pgAccount(sf.ID, "acc", "pw-123456789"))
	var co api.Checkout
	e.checkout(e.admin, a.ID, api.CheckoutRequest{}).want(t, 201).json(t, &co)
	e.do(http.MethodPost, api.PathCheckouts+"/"+co.ID+"/checkin", e.admin, nil).want(t, 200)
	var acc api.VaultAccount
	e.do(http.MethodGet, api.PathVaultAccounts+"/"+a.ID, e.admin, nil).want(t, 200).json(t, &acc)
	// The server's default Rotator (the rotation engine when wired, else the
	// no-op with a note) marks the rotation as pending.
	if acc.Status.LastRotationResult != api.RotationResultPending {
		t.Fatalf("status = %+v", acc.Status)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestVaultAccountHostKeys: host_keys are validated with problem+json
// pointers to the bad element, and stored and echoed without comments.
func TestVaultAccountHostKeys(t *testing.T) {
	e := startVault(t, false)
	sf := e.safe("ssh-hosts")
	key := testkeys.SSHPublicKeyLine(t, "")
	in := api.VaultAccountInput{Name: "web-root", SafeID: sf.ID, Platform: api.PlatformUnixSSH, Address: "web-1.internal",
		Username: "root", SecretType: api.SecretTypePassword, HostKeys: []string{key + " root@web-1", "ssh-ed25519 AAAA-broken"}}
	p := e.do(http.MethodPost, api.PathVaultAccounts, e.admin, in).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); len(got) != 1 || got[0] != "/host_keys/1" {
		t.Fatalf("pointers = %v", got)
	}
	in.HostKeys = in.HostKeys[:1]
	a := e.account(in)
	if len(a.HostKeys) != 1 || a.HostKeys[0] != key {
		t.Fatalf("host_keys = %q, want [%q] (no comment)", a.HostKeys, key)
	}
	var got api.VaultAccount
	e.do(http.MethodGet, api.PathVaultAccounts+"/"+a.ID, e.admin, nil).want(t, 200).json(t, &got)
	if len(got.HostKeys) != 1 || got.HostKeys[0] != key {
		t.Fatalf("GET host_keys = %q", got.HostKeys)
	}
	pg := pgAccount(sf.ID, "pg", "")
	pg.HostKeys = []string{key}
	p = e.do(http.MethodPost, api.PathVaultAccounts, e.admin, pg).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); len(got) != 1 || got[0] != "/host_keys" {
		t.Fatalf("pointers on a postgresql account = %v", got)
	}
}
