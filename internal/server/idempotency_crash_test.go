package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/server"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/idemstore"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"github.com/accessplane/terraform-provider-pam/internal/testkeys"
)

// errCrash stands for pamd dying: the transaction never commits.
var errCrash = errors.New("simulated crash")

// faultStore injects the faults of the idempotency crash window into a real
// store (SQLite or PostgreSQL, as testdb selects).
type faultStore struct {
	store.Store
	mu sync.Mutex
	// failOutcome makes recording a Done outcome fail, as if pamd died after
	// the mutation committed and before the response was stored.
	failOutcome bool
	// loseAck makes the next mutation of a request holding a reservation
	// commit and then report ErrUnavailable: a lost commit acknowledgement.
	loseAck bool
	// failMutation makes the next mutation of a request holding a
	// reservation fail before it commits (ErrUnavailable, nothing applied).
	failMutation bool
}

func (f *faultStore) take(flag *bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := *flag
	*flag = false
	return v
}

func (f *faultStore) set(flag *bool, v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*flag = v
}

func (f *faultStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	mutation := idemstore.FromContext(ctx) != nil
	if mutation && f.take(&f.failMutation) {
		return store.ErrUnavailable
	}
	err := f.Store.Update(ctx, func(tx store.Tx) error { return fn(&faultTx{Tx: tx, f: f}) })
	if err == nil && mutation && f.take(&f.loseAck) {
		return store.ErrUnavailable
	}
	return err
}

type faultTx struct {
	store.Tx
	f *faultStore
}

func (t *faultTx) PutIdempotency(r store.IdempotencyRecord) error {
	t.f.mu.Lock()
	fail := t.f.failOutcome && r.Done
	t.f.mu.Unlock()
	if fail {
		return errCrash
	}
	return t.Tx.PutIdempotency(r)
}

type crashEnv struct {
	t     *testing.T
	fs    *faultStore
	url   string
	clock *clock.Fake
	admin string
}

const crashSubject = "service_account:crash"

func startCrash(t *testing.T) *crashEnv {
	t.Helper()
	fs := &faultStore{Store: testdb.Open(t)}
	fc := clock.NewFake(time.Now())
	s, err := server.New(server.Config{Store: fs, Clock: fc, PageTokenKey: []byte(strings.Repeat("k", 32)), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := daemon.CreateToken(context.Background(), fs, fc, daemon.TokenRequest{
		Subject: crashSubject, ServerRoles: []string{api.ServerRoleAdmin}, IssuedBy: api.AuditActor{Type: "system", ID: "pamd"},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &crashEnv{t: t, fs: fs, url: hs.URL, clock: fc, admin: tok}
}

func (e *crashEnv) do(method, path, body string, headers ...string) resp {
	e.t.Helper()
	var rd *bytes.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+e.admin)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(res.Body); err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b.Bytes()}
}

func (e *crashEnv) record(method, path, key string) store.IdempotencyRecord {
	e.t.Helper()
	var rec store.IdempotencyRecord
	if err := e.fs.View(context.Background(), func(tx store.Tx) (err error) {
		rec, err = tx.GetIdempotency(crashSubject, method, path, key)
		return err
	}); err != nil {
		e.t.Fatalf("idempotency record %s %s %s: %v", method, path, key, err)
	}
	return rec
}

// audits counts the audit events with that action about target.
func (e *crashEnv) audits(action, target string) int {
	e.t.Helper()
	var n int
	if err := e.fs.View(context.Background(), func(tx store.Tx) error {
		evs, err := tx.ListAudit(store.AuditFilter{ChainID: audit.DefaultChain, ActionPrefix: action, TargetID: target, Limit: 1000})
		n = len(evs)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// roles returns the ids of the roles named name.
func (e *crashEnv) roles(name string) []string {
	e.t.Helper()
	r := e.do(http.MethodGet, api.PathRoles+"?name="+name, "")
	if r.status != http.StatusOK {
		e.t.Fatalf("list roles: %d %s", r.status, r.body)
	}
	var page struct {
		Items []api.Role `json:"items"`
	}
	r.json(e.t, &page)
	var ids []string
	for _, it := range page.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

func replayed(r resp) bool { return r.header.Get(api.HeaderIdempotencyReplayed) == "true" }

// pamd dies after the create committed and before its response was stored:
// the retry gets the created object (201, same id), not 409 in progress,
// and nothing is created twice.
func TestIdempotencyCrashAfterCommitPOST(t *testing.T) {
	e := startCrash(t)
	body := `{"name":"crash-post","description":"made once"}`
	e.fs.set(&e.fs.failOutcome, true)
	first := e.do(http.MethodPost, api.PathRoles, body, "Idempotency-Key", "c1")
	if first.status != http.StatusCreated {
		t.Fatalf("first attempt: %d %s", first.status, first.body)
	}
	var created api.Role
	first.json(t, &created)
	e.fs.set(&e.fs.failOutcome, false)
	// The client never saw that answer; the key is reserved, applied, not Done.
	if rec := e.record(http.MethodPost, api.PathRoles, "c1"); rec.Done || rec.AppliedTargetType != "role" || rec.AppliedTargetID != created.ID {
		t.Fatalf("after the crash the reservation should be applied to %s and not done: %+v", created.ID, rec)
	}
	// The lock is still held: the retry is answered all the same.
	retry := e.do(http.MethodPost, api.PathRoles, body, "Idempotency-Key", "c1")
	if retry.status != http.StatusCreated || !replayed(retry) {
		t.Fatalf("retry: %d replayed=%q %s", retry.status, retry.header.Get(api.HeaderIdempotencyReplayed), retry.body)
	}
	var got api.Role
	retry.json(t, &got)
	if got.ID != created.ID || got.Description != "made once" || got.Version != 1 ||
		retry.header.Get("Location") != api.PathRoles+"/"+created.ID || retry.header.Get(api.HeaderETag) != first.header.Get(api.HeaderETag) {
		t.Fatalf("retry answered %+v with Location %q ETag %q; want role %s as created (ETag %q)", got,
			retry.header.Get("Location"), retry.header.Get(api.HeaderETag), created.ID, first.header.Get(api.HeaderETag))
	}
	if ids := e.roles("crash-post"); len(ids) != 1 || ids[0] != created.ID {
		t.Fatalf("roles named crash-post: %v, want exactly [%s]", ids, created.ID)
	}
	if n := e.audits("role.created", created.ID); n != 1 {
		t.Fatalf("%d role.created events, want 1", n)
	}
	// The recovered answer is now the stored outcome.
	if rec := e.record(http.MethodPost, api.PathRoles, "c1"); !rec.Done || rec.Status != http.StatusCreated {
		t.Fatalf("recovered outcome not stored: %+v", rec)
	}
	again := e.do(http.MethodPost, api.PathRoles, body, "Idempotency-Key", "c1")
	if again.status != http.StatusCreated || !replayed(again) || !bytes.Equal(again.body, retry.body) {
		t.Fatalf("second retry: %d %s", again.status, again.body)
	}
	// A different body under the same key is still refused.
	e.do(http.MethodPost, api.PathRoles, `{"name":"other"}`, "Idempotency-Key", "c1").problem(t, 422, api.CodeIdempotencyKeyReused)
}

// The same for a conditional PUT, after the lock lapsed: 200 with the new
// version, not 412 (the If-Match no longer holds) and no second update.
func TestIdempotencyCrashAfterCommitPUT(t *testing.T) {
	e := startCrash(t)
	c := e.do(http.MethodPost, api.PathRoles, `{"name":"crash-put"}`)
	if c.status != http.StatusCreated {
		t.Fatalf("create: %d %s", c.status, c.body)
	}
	var role api.Role
	c.json(t, &role)
	path := api.PathRoles + "/" + role.ID
	body := `{"name":"crash-put","description":"v2"}`
	e.fs.set(&e.fs.failOutcome, true)
	if r := e.do(http.MethodPut, path, body, "Idempotency-Key", "p1", "If-Match", `"1"`); r.status != http.StatusOK {
		t.Fatalf("first attempt: %d %s", r.status, r.body)
	}
	e.fs.set(&e.fs.failOutcome, false)
	e.clock.Advance(2 * time.Minute)
	retry := e.do(http.MethodPut, path, body, "Idempotency-Key", "p1", "If-Match", `"1"`)
	if retry.status != http.StatusOK || !replayed(retry) || retry.header.Get("Location") != "" {
		t.Fatalf("retry: %d replayed=%v Location=%q %s", retry.status, replayed(retry), retry.header.Get("Location"), retry.body)
	}
	var got api.Role
	retry.json(t, &got)
	if got.ID != role.ID || got.Version != 2 || got.Description != "v2" || retry.header.Get(api.HeaderETag) != `"2"` {
		t.Fatalf("retry answered %+v ETag %q, want version 2", got, retry.header.Get(api.HeaderETag))
	}
	if n := e.audits("role.updated", role.ID); n != 1 {
		t.Fatalf("%d role.updated events, want 1", n)
	}
}

// PostgreSQL's lost commit acknowledgement: the create committed, the
// handler saw ErrUnavailable and answered 503. The reservation must survive
// the 5xx, and the retry replays instead of meeting "already exists".
func TestIdempotencyLostCommitAcknowledgement(t *testing.T) {
	e := startCrash(t)
	body := `{"name":"lost-ack"}`
	e.fs.set(&e.fs.loseAck, true)
	first := e.do(http.MethodPost, api.PathRoles, body, "Idempotency-Key", "a1")
	first.problem(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	rec := e.record(http.MethodPost, api.PathRoles, "a1")
	if rec.Done || rec.AppliedTargetType != "role" || rec.AppliedTargetID == "" {
		t.Fatalf("after a 5xx the applied reservation must stay: %+v", rec)
	}
	retry := e.do(http.MethodPost, api.PathRoles, body, "Idempotency-Key", "a1")
	if retry.status != http.StatusCreated || !replayed(retry) {
		t.Fatalf("retry: %d %s", retry.status, retry.body)
	}
	var got api.Role
	retry.json(t, &got)
	if got.ID != rec.AppliedTargetID {
		t.Fatalf("retry answered role %s, want %s", got.ID, rec.AppliedTargetID)
	}
	if ids := e.roles("lost-ack"); len(ids) != 1 {
		t.Fatalf("roles named lost-ack: %v, want one", ids)
	}
	if n := e.audits("role.created", got.ID); n != 1 {
		t.Fatalf("%d role.created events, want 1", n)
	}
}

// A 5xx before anything committed still frees the key: the retry runs.
func TestIdempotencyFailedBeforeCommitRunsAgain(t *testing.T) {
	e := startCrash(t)
	body := `{"name":"not-applied"}`
	e.fs.set(&e.fs.failMutation, true)
	e.do(http.MethodPost, api.PathRoles, body, "Idempotency-Key", "f1").problem(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	if err := e.fs.View(context.Background(), func(tx store.Tx) error {
		_, err := tx.GetIdempotency(crashSubject, http.MethodPost, api.PathRoles, "f1")
		return err
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unapplied reservation should be freed after a 5xx: %v", err)
	}
	r := e.do(http.MethodPost, api.PathRoles, body, "Idempotency-Key", "f1")
	if r.status != http.StatusCreated || replayed(r) {
		t.Fatalf("retry should run: %d replayed=%v %s", r.status, replayed(r), r.body)
	}
}

// An applied request whose object has no representation to answer from
// (SSH keys have no item to read) is never run again: 409
// idempotency_outcome_lost naming the object.
func TestIdempotencyOutcomeLost(t *testing.T) {
	e := startCrash(t)
	body, err := json.Marshal(api.SSHKeyInput{PublicKey: testkeys.SSHPublicKeyLine(t, "crash")})
	if err != nil {
		t.Fatal(err)
	}
	e.fs.set(&e.fs.failOutcome, true)
	first := e.do(http.MethodPost, api.PathSSHKeys, string(body), "Idempotency-Key", "s1")
	if first.status != http.StatusCreated {
		t.Fatalf("first attempt: %d %s", first.status, first.body)
	}
	e.fs.set(&e.fs.failOutcome, false)
	var k api.SSHKey
	first.json(t, &k)
	for range 2 {
		p := e.do(http.MethodPost, api.PathSSHKeys, string(body), "Idempotency-Key", "s1").problem(t, http.StatusConflict, api.CodeIdempotencyOutcomeLost)
		if !strings.Contains(p.Detail, "ssh_key") || !strings.Contains(p.Detail, k.ID) || p.Retryable {
			t.Fatalf("outcome lost problem should name ssh_key %s and not be retryable: %+v", k.ID, p)
		}
	}
	if n := e.audits("ssh_key.registered", k.ID); n != 1 {
		t.Fatalf("%d ssh_key.registered events, want 1", n)
	}
}

// Through the daemon's wiring, every request-serving service (the catalog,
// the rotation engine, session policies) writes through the decorated
// store: the mutation marks the key applied, and the Done outcome keeps it.
func TestIdempotencyDaemonServicesMarkApplied(t *testing.T) {
	e := start(t)
	for _, c := range []struct {
		path, typ string
		body      any
	}{
		{api.PathRoles, "role", api.RoleInput{Name: "wired"}},
		{api.PathRotationSchedules, api.TargetTypeRotationSchedule, api.RotationScheduleInput{Name: "wired", Cron: strp("@daily")}},
		{api.PathSessionPolicies, "session_policy", strictPolicy("wired")},
	} {
		r := e.do(http.MethodPost, c.path, e.admin, c.body, "Idempotency-Key", "w-"+c.typ)
		if r.status != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", c.path, r.status, r.body)
		}
		var obj struct {
			ID string `json:"id"`
		}
		r.json(t, &obj)
		var rec store.IdempotencyRecord
		if err := e.d.Store().View(context.Background(), func(tx store.Tx) (err error) {
			rec, err = tx.GetIdempotency("service_account:bootstrap", http.MethodPost, c.path, "w-"+c.typ)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !rec.Done || rec.AppliedTargetType != c.typ || rec.AppliedTargetID != obj.ID {
			t.Errorf("POST %s: record %+v, want done and applied to %s %s", c.path, rec, c.typ, obj.ID)
		}
	}
}

// An applied create whose object was deleted before the retry is not run
// again either: 409 idempotency_outcome_lost naming it.
func TestIdempotencyAppliedObjectGone(t *testing.T) {
	e := startCrash(t)
	body := `{"name":"gone"}`
	e.fs.set(&e.fs.failOutcome, true)
	first := e.do(http.MethodPost, api.PathRoles, body, "Idempotency-Key", "g1")
	e.fs.set(&e.fs.failOutcome, false)
	var created api.Role
	first.json(t, &created)
	if r := e.do(http.MethodDelete, api.PathRoles+"/"+created.ID, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	p := e.do(http.MethodPost, api.PathRoles, body, "Idempotency-Key", "g1").problem(t, http.StatusConflict, api.CodeIdempotencyOutcomeLost)
	if !strings.Contains(p.Detail, created.ID) || !strings.Contains(p.Detail, "404") {
		t.Fatalf("detail = %q", p.Detail)
	}
	if ids := e.roles("gone"); len(ids) != 0 {
		t.Fatalf("the retry created the role again: %v", ids)
	}
}

// A rotation schedule run answers with an operation, and audits that
// operation first: a run whose response was lost is answered from the
// operation (202, Location, same id) and never queued twice.
func TestIdempotencyCrashAfterCommitScheduleRun(t *testing.T) {
	e := startCrash(t)
	c := e.do(http.MethodPost, api.PathRotationSchedules, `{"name":"crash-run","cron":"@daily"}`)
	if c.status != http.StatusCreated {
		t.Fatalf("create schedule: %d %s", c.status, c.body)
	}
	var sched api.RotationSchedule
	c.json(t, &sched)
	path := api.PathRotationSchedules + "/" + sched.ID + "/" + api.ActionRun
	e.fs.set(&e.fs.failOutcome, true)
	first := e.do(http.MethodPost, path, "", "Idempotency-Key", "r1")
	e.fs.set(&e.fs.failOutcome, false)
	if first.status != http.StatusAccepted {
		t.Fatalf("first run: %d %s", first.status, first.body)
	}
	var op api.Operation
	first.json(t, &op)
	if rec := e.record(http.MethodPost, path, "r1"); rec.Done || rec.AppliedTargetType != "operation" || rec.AppliedTargetID != op.ID {
		t.Fatalf("after the crash the reservation should be applied to operation %s and not done: %+v", op.ID, rec)
	}
	retry := e.do(http.MethodPost, path, "", "Idempotency-Key", "r1")
	if retry.status != http.StatusAccepted || !replayed(retry) {
		t.Fatalf("retry: %d replayed=%v %s", retry.status, replayed(retry), retry.body)
	}
	var got api.Operation
	retry.json(t, &got)
	if got.ID != op.ID || got.Kind != api.OperationKindRotationScheduleRun || retry.header.Get("Location") != api.PathOperations+"/"+op.ID {
		t.Fatalf("retry answered operation %s (%s) with Location %q; want %s", got.ID, got.Kind, retry.header.Get("Location"), op.ID)
	}
	if n := e.audits("rotation_schedule.run", sched.ID); n != 1 {
		t.Fatalf("%d rotation_schedule.run events, want 1", n)
	}
	if n := e.audits("operation.created", op.ID); n != 1 {
		t.Fatalf("%d operation.created events for the run, want 1", n)
	}
}
