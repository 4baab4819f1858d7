package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

const adminToken = "test-bootstrap-admin-token"

type env struct {
	t     *testing.T
	d     *daemon.Daemon
	clock *clock.Fake
	admin string
}

func start(t *testing.T) *env {
	t.Helper()
	fc := clock.NewFake(time.Now())
	d, err := daemon.Start(context.Background(), daemon.Config{
		Listen: "127.0.0.1:0", DB: testdb.Target(t), MasterKeyFile: testdb.KeyFile(t), BootstrapToken: adminToken,
		Clock: fc, Version: "test",
	})
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

func (e *env) token(subject string, roles ...string) string {
	e.t.Helper()
	tok, err := e.d.IssueToken(context.Background(), subject, nil, roles)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r resp) problem(t *testing.T, status int, code string) api.Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != api.ContentTypeProblem {
		t.Fatalf("content type %q, want %q", ct, api.ContentTypeProblem)
	}
	var p api.Problem
	r.json(t, &p)
	if p.Code != code || p.Status != status || p.Title == "" || p.Type != api.ProblemTypeBase+code || p.RequestID == "" {
		t.Fatalf("problem = %+v, want code %s", p, code)
	}
	if p.RequestID != r.header.Get(api.HeaderRequestID) {
		t.Fatalf("problem request_id %q differs from header %q", p.RequestID, r.header.Get(api.HeaderRequestID))
	}
	return p
}

// do sends a request; body may be a string (sent raw) or a value (JSON).
func (e *env) do(method, path, token string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.d.URL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) createRole(in api.RoleInput) api.Role {
	e.t.Helper()
	r := e.do(http.MethodPost, api.PathRoles, e.admin, in)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create %s: %d %s", in.Name, r.status, r.body)
	}
	var role api.Role
	r.json(e.t, &role)
	return role
}

func violationPointers(p api.Problem) []string {
	var out []string
	for _, v := range p.Violations {
		out = append(out, v.Pointer)
	}
	slices.Sort(out)
	return out
}

func TestRoleCRUD(t *testing.T) {
	e := start(t)
	in := api.RoleInput{Name: "db_admin", AssignableScopes: []string{"/orgs/b", "/orgs/a", "/orgs/b"}}
	r := e.do(http.MethodPost, api.PathRoles, e.admin, in)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var role api.Role
	r.json(t, &role)
	if !strings.HasPrefix(role.ID, "role_") || role.Version != 1 || r.header.Get("ETag") != `"1"` ||
		r.header.Get("Location") != api.PathRoles+"/"+role.ID {
		t.Fatalf("create response: %+v headers %v", role, r.header)
	}
	if !slices.Equal(role.AssignableScopes, []string{"/orgs/a", "/orgs/b"}) || role.Labels == nil || role.Description != "" {
		t.Fatalf("not normalised: %+v", role)
	}
	if !strings.Contains(string(r.body), `"labels":{}`) {
		t.Fatalf("labels must be {} not null: %s", r.body)
	}
	if role.CreatedBy != (api.Actor{Type: "service_account", ID: "bootstrap"}) || role.CreatedAt.Location() != time.UTC {
		t.Fatalf("envelope: %+v", role.Meta)
	}

	empty := e.createRole(api.RoleInput{Name: "reader"})
	if !slices.Equal(empty.AssignableScopes, []string{"/"}) {
		t.Fatalf("empty scopes should default to [\"/\"], got %v", empty.AssignableScopes)
	}

	g := e.do(http.MethodGet, api.PathRoles+"/"+role.ID, e.admin, nil)
	var got api.Role
	g.json(t, &got)
	if g.status != 200 || g.header.Get("ETag") != `"1"` || got.Name != "db_admin" {
		t.Fatalf("get: %d %s", g.status, g.body)
	}

	l := e.do(http.MethodGet, api.PathRoles+"?name=db_admin", e.admin, nil)
	var page api.Page[api.Role]
	l.json(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != role.ID || page.NextPageToken != "" {
		t.Fatalf("list by name: %s", l.body)
	}

	upd := api.RoleInput{Name: "db_admin", Description: "DBA", AssignableScopes: []string{"/"}, Labels: map[string]string{"team": "dba"}}
	u := e.do(http.MethodPut, api.PathRoles+"/"+role.ID, e.admin, upd, "If-Match", `"1"`)
	var updated api.Role
	u.json(t, &updated)
	if u.status != 200 || updated.Version != 2 || u.header.Get("ETag") != `"2"` || updated.Labels["team"] != "dba" ||
		updated.ID != role.ID || !updated.CreatedAt.Equal(role.CreatedAt) {
		t.Fatalf("update: %d %s", u.status, u.body)
	}

	if d := e.do(http.MethodDelete, api.PathRoles+"/"+role.ID, e.admin, nil); d.status != http.StatusNoContent || len(d.body) != 0 {
		t.Fatalf("delete: %d %s", d.status, d.body)
	}
	e.do(http.MethodGet, api.PathRoles+"/"+role.ID, e.admin, nil).problem(t, 404, api.CodeNotFound)
	e.do(http.MethodDelete, api.PathRoles+"/"+role.ID, e.admin, nil).problem(t, 404, api.CodeNotFound)
}

func TestIfMatch(t *testing.T) {
	e := start(t)
	role := e.createRole(api.RoleInput{Name: "r1"})
	path := api.PathRoles + "/" + role.ID
	if r := e.do(http.MethodPut, path, e.admin, api.RoleInput{Name: "r1", Description: "v2"}, "If-Match", `"1"`); r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	p := e.do(http.MethodPut, path, e.admin, api.RoleInput{Name: "r1", Description: "stale"}, "If-Match", `"1"`).
		problem(t, http.StatusPreconditionFailed, api.CodeEtagMismatch)
	if p.CurrentVersion == nil || *p.CurrentVersion != 2 {
		t.Fatalf("current_version = %v, want 2", p.CurrentVersion)
	}
	e.do(http.MethodDelete, path, e.admin, nil, "If-Match", `"1"`).problem(t, http.StatusPreconditionFailed, api.CodeEtagMismatch)
	bad := e.do(http.MethodPut, path, e.admin, api.RoleInput{Name: "r1"}, "If-Match", `v2`).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(bad); !slices.Equal(got, []string{"header:If-Match"}) {
		t.Fatalf("If-Match violation pointers %v", got)
	}
	// Nothing changed through the failed attempts.
	var cur api.Role
	e.do(http.MethodGet, path, e.admin, nil).json(t, &cur)
	if cur.Version != 2 || cur.Description != "v2" {
		t.Fatalf("role changed by a failed precondition: %+v", cur)
	}
	// A weak tag of the right version and "*" are accepted.
	if r := e.do(http.MethodPut, path, e.admin, api.RoleInput{Name: "r1"}, "If-Match", `W/"2"`); r.status != 200 {
		t.Fatalf("weak etag: %d %s", r.status, r.body)
	}
	if r := e.do(http.MethodDelete, path, e.admin, nil, "If-Match", `*`); r.status != 204 {
		t.Fatalf("delete with *: %d %s", r.status, r.body)
	}
}

func TestIdempotentCreate(t *testing.T) {
	e := start(t)
	in := api.RoleInput{Name: "idem", Labels: map[string]string{"a": "b"}}
	first := e.do(http.MethodPost, api.PathRoles, e.admin, in, "Idempotency-Key", "key-1")
	// Same JSON with different key order and spacing is the same request.
	second := e.do(http.MethodPost, api.PathRoles, e.admin, `{ "labels": {"a":"b"}, "assignable_scopes": null,  "name": "idem", "description": "" }`, "Idempotency-Key", "key-1")
	if first.status != 201 || second.status != 201 {
		t.Fatalf("statuses %d %d: %s", first.status, second.status, second.body)
	}
	if first.header.Get("Idempotency-Replayed") != "" || second.header.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("replay header: first %q second %q", first.header.Get("Idempotency-Replayed"), second.header.Get("Idempotency-Replayed"))
	}
	if !bytes.Equal(first.body, second.body) || second.header.Get("ETag") != `"1"` || second.header.Get("Location") != first.header.Get("Location") {
		t.Fatalf("replayed response differs:\n%s\n%s", first.body, second.body)
	}
	var page api.Page[api.Role]
	e.do(http.MethodGet, api.PathRoles, e.admin, nil).json(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("idempotent create made %d roles", len(page.Items))
	}

	e.do(http.MethodPost, api.PathRoles, e.admin, api.RoleInput{Name: "other"}, "Idempotency-Key", "key-1").
		problem(t, http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused)

	// Keys are scoped per subject: another caller's key-1 is a new request.
	sec := e.token("user:sec", api.ServerRoleSecurity)
	if r := e.do(http.MethodPost, api.PathRoles, sec, api.RoleInput{Name: "theirs"}, "Idempotency-Key", "key-1"); r.status != 201 {
		t.Fatalf("other subject: %d %s", r.status, r.body)
	}
}

func TestIdempotencyInProgressAndStale(t *testing.T) {
	e := start(t)
	body := `{"name":"slow"}`
	// The fingerprint is keyed by the server, so learn it from a completed
	// request with the same body under another key (then free the name).
	fp := learnFingerprint(t, e, body)
	now := e.clock.Now()
	// Held by this very process (alive): in progress until it lapses. A
	// dead owner's reservation is taken over at once (idempotency_owner_test.go).
	rec := store.IdempotencyRecord{Subject: "service_account:bootstrap", Method: "POST", Path: api.PathRoles, Key: "k",
		Fingerprint: fp, Header: "{}", LockedUntil: now.Add(time.Minute), ExpiresAt: now.Add(24 * time.Hour),
		Owner: store.InstanceOf(e.d.Store()).ID()}
	if err := e.d.Store().Update(context.Background(), func(tx store.Tx) error { return tx.PutIdempotency(rec) }); err != nil {
		t.Fatal(err)
	}
	r := e.do(http.MethodPost, api.PathRoles, e.admin, body, "Idempotency-Key", "k")
	p := r.problem(t, http.StatusConflict, api.CodeIdempotencyInProgress)
	if r.header.Get("Retry-After") == "" || !p.Retryable {
		t.Fatalf("in-progress answer should be retryable with Retry-After: %v %+v", r.header, p)
	}
	// The holder died: once the reservation lapses the key is usable again.
	e.clock.Advance(2 * time.Minute)
	if r := e.do(http.MethodPost, api.PathRoles, e.admin, body, "Idempotency-Key", "k"); r.status != 201 || r.header.Get("Idempotency-Replayed") != "" {
		t.Fatalf("after stale reservation: %d %s", r.status, r.body)
	}
	// Keys expire after 24h: the same key then runs again (and meets the name).
	e.clock.Advance(25 * time.Hour)
	e.do(http.MethodPost, api.PathRoles, e.admin, body, "Idempotency-Key", "k").problem(t, http.StatusConflict, api.CodeAlreadyExists)
}

func TestValidationProblems(t *testing.T) {
	e := start(t)
	r := e.do(http.MethodPost, api.PathRoles, e.admin, api.RoleInput{
		Name: "bad name", AssignableScopes: []string{"/ok", "no-slash", "/trailing/"}, Labels: map[string]string{"Bad": "v", "good": "v"},
	})
	p := r.problem(t, 400, api.CodeValidationFailed)
	want := []string{"/assignable_scopes/1", "/assignable_scopes/2", "/labels/Bad", "/name"}
	if got := violationPointers(p); !slices.Equal(got, want) {
		t.Fatalf("violation pointers %v, want %v", got, want)
	}
	for _, v := range p.Violations {
		if v.Message == "" || v.Code == "" {
			t.Fatalf("violation without message or code: %+v", v)
		}
	}
	p = e.do(http.MethodPost, api.PathRoles, e.admin, api.RoleInput{}).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); !slices.Equal(got, []string{"/name"}) {
		t.Fatalf("missing name pointers %v", got)
	}
	// Type errors come from huma's schema validation, in the same shape.
	p = e.do(http.MethodPost, api.PathRoles, e.admin, `{"name":"x","assignable_scopes":["/",7]}`).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); !slices.Equal(got, []string{"/assignable_scopes/1"}) {
		t.Fatalf("schema violation pointers %v (%s)", got, r.body)
	}
	e.do(http.MethodPost, api.PathRoles, e.admin, `{"name":`).problem(t, 400, api.CodeValidationFailed)
	e.do(http.MethodPost, api.PathRoles, e.admin, `{"name":"x","unknown_field":"typo"}`).problem(t, 400, api.CodeValidationFailed)

	big := `{"name":"x","description":"` + strings.Repeat("a", 2<<20) + `"}`
	e.do(http.MethodPost, api.PathRoles, e.admin, big).problem(t, http.StatusRequestEntityTooLarge, api.CodePayloadTooLarge)
	e.do(http.MethodPost, api.PathRoles, e.admin, "name=x", "Content-Type", "application/x-www-form-urlencoded").
		problem(t, http.StatusUnsupportedMediaType, api.CodeUnsupportedMediaType)
	e.do(http.MethodGet, "/v1/nope", e.admin, nil).problem(t, 404, api.CodeNotFound)
	e.do(http.MethodGet, "/v1/nope", "", nil).problem(t, 404, api.CodeNotFound)
	r = e.do(http.MethodPatch, api.PathRoles, e.admin, nil)
	r.problem(t, 405, api.CodeMethodNotAllowed)
	if r.header.Get("Allow") != "GET, POST" {
		t.Fatalf("Allow = %q", r.header.Get("Allow"))
	}
	for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost} {
		e.do(m, api.PathAuditEvents, e.admin, nil).problem(t, 405, api.CodeMethodNotAllowed)
		e.do(m, api.PathAuditEvents+"/aud_x", e.admin, nil).problem(t, 405, api.CodeMethodNotAllowed)
	}
	p = e.do(http.MethodGet, api.PathRoles+"?page_size=5000", e.admin, nil).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); !slices.Equal(got, []string{"query:page_size"}) {
		t.Fatalf("page_size pointers %v", got)
	}
	p = e.do(http.MethodGet, api.PathRoles+"?page_size=abc", e.admin, nil).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); !slices.Equal(got, []string{"query:page_size"}) {
		t.Fatalf("page_size type pointers %v", got)
	}
}

func TestAlreadyExists(t *testing.T) {
	e := start(t)
	first := e.createRole(api.RoleInput{Name: "dup"})
	p := e.do(http.MethodPost, api.PathRoles, e.admin, api.RoleInput{Name: "dup"}).problem(t, http.StatusConflict, api.CodeAlreadyExists)
	if p.ExistingID != first.ID {
		t.Fatalf("existing_id = %q, want %q", p.ExistingID, first.ID)
	}
	second := e.createRole(api.RoleInput{Name: "dup2"})
	p = e.do(http.MethodPut, api.PathRoles+"/"+second.ID, e.admin, api.RoleInput{Name: "dup"}).problem(t, http.StatusConflict, api.CodeAlreadyExists)
	if p.ExistingID != first.ID {
		t.Fatalf("rename clash existing_id = %q", p.ExistingID)
	}
}

func TestAuthentication(t *testing.T) {
	e := start(t)
	role := e.createRole(api.RoleInput{Name: "target"})
	r := e.do(http.MethodGet, api.PathRoles, "", nil)
	r.problem(t, 401, api.CodeUnauthenticated)
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
	}
	e.do(http.MethodGet, api.PathRoles, "pamd_notarealtokenatallnotarealtoken00000000", nil).problem(t, 401, api.CodeUnauthenticated)
	e.do(http.MethodGet, api.PathRoles, "", nil, "Authorization", "Basic YWRtaW46YWRtaW4=").problem(t, 401, api.CodeUnauthenticated)

	// Expired tokens are refused.
	tok, _, err := daemon.CreateToken(context.Background(), e.d.Store(), e.clock, daemon.TokenRequest{
		Subject: "user:temp", ServerRoles: []string{api.ServerRoleAdmin}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do(http.MethodGet, api.PathRoles, tok, nil); r.status != 200 {
		t.Fatalf("fresh token: %d", r.status)
	}
	e.clock.Advance(2 * time.Hour)
	e.do(http.MethodGet, api.PathRoles, tok, nil).problem(t, 401, api.CodeUnauthenticated)

	// Health and the OpenAPI description are public.
	if r := e.do(http.MethodGet, api.PathHealth, "", nil); r.status != 200 || !strings.Contains(string(r.body), `"status":"ok"`) {
		t.Fatalf("health: %d %s", r.status, r.body)
	}
	_ = role
}

func TestAuthorisation(t *testing.T) {
	e := start(t)
	role := e.createRole(api.RoleInput{Name: "target"})
	req := e.token("user:bob", api.ServerRoleRequester)
	path := api.PathRoles + "/" + role.ID

	if r := e.do(http.MethodGet, path, req, nil); r.status != 200 {
		t.Fatalf("requester read: %d", r.status)
	}
	e.do(http.MethodPost, api.PathRoles, req, api.RoleInput{Name: "mine"}).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodPut, path, req, api.RoleInput{Name: "target"}).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodDelete, path, req, nil).problem(t, 403, api.CodeForbidden)
	// Unknown ids are 404 before authorisation, for readers and writers alike.
	e.do(http.MethodGet, api.PathRoles+"/role_01JB8X4M0Q3K7Z9V6W2D5R1T8N", req, nil).problem(t, 404, api.CodeNotFound)
	e.do(http.MethodPut, api.PathRoles+"/role_01JB8X4M0Q3K7Z9V6W2D5R1T8N", req, api.RoleInput{Name: "x"}).problem(t, 404, api.CodeNotFound)
	e.do(http.MethodDelete, api.PathRoles+"/role_01JB8X4M0Q3K7Z9V6W2D5R1T8N", req, nil).problem(t, 404, api.CodeNotFound)

	// The security role may write the catalog.
	sec := e.token("user:sec", api.ServerRoleSecurity)
	if r := e.do(http.MethodPut, path, sec, api.RoleInput{Name: "target", Description: "by security"}); r.status != 200 {
		t.Fatalf("security write: %d %s", r.status, r.body)
	}

	// The audit log is for auditors, admins and security only.
	e.do(http.MethodGet, api.PathAuditEvents, req, nil).problem(t, 403, api.CodeForbidden)
	aud := e.token("user:audrey", api.ServerRoleAuditor)
	var page api.Page[api.AuditEvent]
	r := e.do(http.MethodGet, api.PathAuditEvents+"?action=role.", aud, nil)
	r.json(t, &page)
	if r.status != 200 {
		t.Fatalf("auditor read: %d %s", r.status, r.body)
	}
	var denied int
	for _, ev := range page.Items {
		if ev.Outcome == api.OutcomeDenied {
			denied++
			if ev.Actor.ID != "bob" {
				t.Errorf("denied event actor %+v", ev.Actor)
			}
		}
	}
	if denied != 3 {
		t.Fatalf("denied attempts audited: %d, want 3", denied)
	}
	// A writer without audit access is refused; an unknown event is 404 first.
	e.do(http.MethodGet, api.PathAuditEvents+"/"+page.Items[0].ID, req, nil).problem(t, 403, api.CodeForbidden)
	e.do(http.MethodGet, api.PathAuditEvents+"/aud_missing", req, nil).problem(t, 404, api.CodeNotFound)
}

func TestPagination(t *testing.T) {
	e := start(t)
	var want []string
	for _, n := range []string{"p1", "p2", "p3", "p4", "p5"} {
		want = append(want, e.createRole(api.RoleInput{Name: n}).ID)
	}
	var got []string
	path := api.PathRoles + "?page_size=2"
	pages := 0
	var firstToken string
	for {
		var page api.Page[api.Role]
		r := e.do(http.MethodGet, path, e.admin, nil)
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		r.json(t, &page)
		pages++
		for _, it := range page.Items {
			got = append(got, it.ID)
		}
		if page.NextPageToken == "" {
			break
		}
		if firstToken == "" {
			firstToken = page.NextPageToken
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		path = api.PathRoles + "?page_size=2&page_token=" + page.NextPageToken
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("pages %d, ids %v, want %v", pages, got, want)
	}
	tampered := []byte(firstToken)
	tampered[3] ^= 1
	for _, tok := range []string{string(tampered), "garbage", firstToken + "x", "." + firstToken} {
		e.do(http.MethodGet, api.PathRoles+"?page_size=2&page_token="+tok, e.admin, nil).problem(t, 400, api.CodeInvalidPageToken)
	}
	// A token is bound to its query: another filter or collection refuses it.
	e.do(http.MethodGet, api.PathRoles+"?name=p1&page_token="+firstToken, e.admin, nil).problem(t, 400, api.CodeInvalidPageToken)
	e.do(http.MethodGet, api.PathAuditEvents+"?page_token="+firstToken, e.admin, nil).problem(t, 400, api.CodeInvalidPageToken)
	// And expires.
	e.clock.Advance(25 * time.Hour)
	e.do(http.MethodGet, api.PathRoles+"?page_size=2&page_token="+firstToken, e.admin, nil).problem(t, 400, api.CodeInvalidPageToken)
}

func TestOpenAPI(t *testing.T) {
	e := start(t)
	r := e.do(http.MethodGet, api.PathOpenAPI, "", nil)
	if r.status != 200 {
		t.Fatalf("openapi: %d", r.status)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	r.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	for _, p := range []string{api.PathRoles, api.PathRoles + "/{id}", api.PathAuditEvents, api.PathHealth} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("openapi lacks %s", p)
		}
	}
	if _, ok := doc.Paths[api.PathRoles]["post"]; !ok {
		t.Error("openapi lacks POST /v1/roles")
	}
}

func TestEveryMutationIsAudited(t *testing.T) {
	e := start(t)
	role := e.createRole(api.RoleInput{Name: "audited"})
	path := api.PathRoles + "/" + role.ID
	if r := e.do(http.MethodPut, path, e.admin, api.RoleInput{Name: "audited", Description: "changed"}, "If-Match", `"1"`); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := e.do(http.MethodDelete, path, e.admin, nil); r.status != 204 {
		t.Fatal(r.status)
	}
	// A failed mutation leaves no success event behind.
	e.do(http.MethodPost, api.PathRoles, e.admin, api.RoleInput{Name: "bad name"}).problem(t, 400, api.CodeValidationFailed)

	var page api.Page[api.AuditEvent]
	r := e.do(http.MethodGet, api.PathAuditEvents+"?target_id="+role.ID, e.admin, nil)
	r.json(t, &page)
	var actions []string
	for i, ev := range page.Items {
		actions = append(actions, ev.Action)
		if ev.Target.ID != role.ID || ev.Outcome != api.OutcomeSuccess || ev.Request.Method == "" || ev.Request.RequestID == "" ||
			ev.Actor.TokenID == "" || ev.Hash == "" || ev.PrevHash == "" || ev.ResourceVersion == nil {
			t.Errorf("event %d incomplete: %+v", i, ev)
		}
		if strings.Contains(string(r.body), adminToken) {
			t.Fatal("audit events contain the token")
		}
	}
	if !slices.Equal(actions, []string{"role.created", "role.updated", "role.deleted"}) {
		t.Fatalf("actions %v", actions)
	}
	upd := page.Items[1]
	if upd.ResourceVersion.Before != 1 || upd.ResourceVersion.After != 2 || len(upd.Changes) != 1 ||
		upd.Changes[0].Path != "/description" || upd.Changes[0].Op != "replace" {
		t.Fatalf("update event changes: %+v %+v", upd.Changes, upd.ResourceVersion)
	}
	res, err := daemon.VerifyAudit(context.Background(), e.d.Store())
	if err != nil {
		t.Fatal(err)
	}
	// bootstrap token + create + update + delete.
	if !res.OK() || res.Checked != 4 {
		t.Fatalf("verify: %v", res)
	}
}
