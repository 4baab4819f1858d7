package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/server"
)

// fuzzServer is the real pamd handler over a real SQLite store, served
// in-process (no sockets) so that a fuzz run gets many executions, plus an
// admin token and the ids of one role, policy and eligibility to update.
type fuzzServer struct {
	h                       http.Handler
	token                   string
	roleID, policyID, eraID string
}

func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	ctx := context.Background()
	st := testdb.Open(tb)
	clk := clock.Real{}
	s, err := server.New(server.Config{Store: st, Clock: clk, PageTokenKey: []byte(strings.Repeat("k", 32)), Version: "fuzz"})
	if err != nil {
		tb.Fatal(err)
	}
	tok, _, err := daemon.CreateToken(ctx, st, clk, daemon.TokenRequest{
		Subject: "service_account:fuzz", ServerRoles: []string{api.ServerRoleAdmin},
		IssuedBy: api.AuditActor{Type: "system", ID: "pamd"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	fs := &fuzzServer{h: s, token: tok}
	fs.roleID = fs.mustCreate(tb, api.PathRoles, `{"name":"fuzz-role"}`)
	fs.policyID = fs.mustCreate(tb, api.PathActivationPolicies, `{"name":"fuzz-policy","max_activation_seconds":3600,"eligibility_constraints":{"allow_permanent":true}}`)
	fs.eraID = fs.mustCreate(tb, api.PathEligibleRoleAssignments, `{"principal_type":"user","principal_id":"fuzz-user","role_id":"`+
		fs.roleID+`","scope":"/","activation_policy_id":"`+fs.policyID+`"}`)
	return fs
}

func (fs *fuzzServer) serve(method, path string, body []byte, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(context.Background(), method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fs.token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	fs.h.ServeHTTP(rec, req)
	return rec
}

func (fs *fuzzServer) mustCreate(tb testing.TB, path, body string) string {
	tb.Helper()
	rec := fs.serve(http.MethodPost, path, []byte(body))
	if rec.Code != http.StatusCreated {
		tb.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
	}
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &obj); err != nil || obj.ID == "" {
		tb.Fatalf("POST %s: no id in %s", path, rec.Body)
	}
	return obj.ID
}

// checkResponse is the property every decoding fuzz target asserts: no
// 5xx, and either a success with a JSON body (or none) or an RFC 9457
// problem+json whose status and code are set.
func checkResponse(t *testing.T, method, path string, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
	}
	mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if rec.Code >= 200 && rec.Code < 300 {
		if rec.Code != http.StatusNoContent && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s %q: %d with a body that is not JSON: %s", method, path, body, rec.Code, rec.Body)
		}
		return
	}
	if mt != api.ContentTypeProblem {
		t.Fatalf("%s %s %q: %d with content type %q: %s", method, path, body, rec.Code, mt, rec.Body)
	}
	var p api.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("%s %s %q: problem does not decode: %v: %s", method, path, body, err, rec.Body)
	}
	if p.Status != rec.Code || p.Code == "" || p.Title == "" {
		t.Fatalf("%s %s %q: incomplete problem %+v for status %d", method, path, body, p, rec.Code)
	}
}

// fuzzDecode drives one collection with random bodies: as a create, as a
// server-side validation (validate_only) and as a conditional update of an
// existing object.
func fuzzDecode(f *testing.F, collection string, id func(*fuzzServer) string, seeds []string) {
	for _, s := range append(seeds, ``, `null`, `[]`, `"x"`, `{}`, `{"name":null}`, `{"name":1e309}`, `{"labels":{"":""}}`,
		`{"name":"a","name":"b"}`, `{"name":"\ud800"}`, `{"name":"`+strings.Repeat("a", 300)+`"}`, "{\"name\":\"x\"}garbage",
		`{"description":`+strings.Repeat("[", 200)+`}`, `{"unknown_field":true}`, "\xef\xbb\xbf{}") {
		f.Add([]byte(s), uint8(0))
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte, mode uint8) {
		var method, path string
		var headers []string
		switch mode % 3 {
		case 0:
			method, path = http.MethodPost, collection
		case 1:
			method, path = http.MethodPost, collection+"?validate_only=true"
		default:
			method, path = http.MethodPut, collection+"/"+id(fs)
			headers = []string{api.HeaderIfMatch, `"1"`}
		}
		checkResponse(t, method, path, body, fs.serve(method, path, body, headers...))
	})
}

func FuzzRoleInputDecode(f *testing.F) {
	fuzzDecode(f, api.PathRoles, func(fs *fuzzServer) string { return fs.roleID }, []string{
		`{"name":"r1"}`, `{"name":"r2","description":"d","assignable_scopes":["/","/orgs/acme"],"labels":{"team":"dba"}}`,
		`{"name":"r3","assignable_scopes":[]}`, `{"name":"r4","assignable_scopes":["no-slash"]}`, `{"name":"UPPER case"}`,
	})
}

func FuzzActivationPolicyInputDecode(f *testing.F) {
	fuzzDecode(f, api.PathActivationPolicies, func(fs *fuzzServer) string { return fs.policyID }, []string{
		`{"name":"p1","max_activation_seconds":3600}`,
		`{"name":"p2","max_activation_seconds":-1}`,
		`{"name":"p3","max_activation_seconds":3600,"default_activation_seconds":7200}`,
		`{"name":"p4","max_activation_seconds":3600,"approval":{"required":true,"stages":[{"approvers":[{"type":"user","id":"u"}]}]}}`,
		`{"name":"p5","max_activation_seconds":9223372036854775807,"eligibility_constraints":{"allow_permanent":true,"max_duration_seconds":-5}}`,
	})
}

func FuzzEligibleRoleAssignmentInputDecode(f *testing.F) {
	fuzzDecode(f, api.PathEligibleRoleAssignments, func(fs *fuzzServer) string { return fs.eraID }, []string{
		`{"principal_type":"user","principal_id":"u1","role_id":"role_x","scope":"/","activation_policy_id":"actp_x"}`,
		`{"principal_type":"group","principal_id":"g","role_id":"","scope":"","starts_at":"2026-01-01T00:00:00Z","ends_at":"2025-01-01T00:00:00Z"}`,
		`{"principal_type":"robot","principal_id":"u1","starts_at":"yesterday"}`,
		`{"principal_type":"user","principal_id":"u1","starts_at":"9999-12-31T23:59:59Z","ends_at":"0001-01-01T00:00:00Z"}`,
	})
}

// TestConditionalPutIsReplayedByIdempotencyKey: a conditional PUT whose
// response was lost and that is retried with the same Idempotency-Key gets
// the first outcome replayed, not 412 (found by TestAccFaultInjectionConverges).
func TestConditionalPutIsReplayedByIdempotencyKey(t *testing.T) {
	fs := newFuzzServer(t)
	path := api.PathRoles + "/" + fs.roleID
	body := []byte(`{"name":"fuzz-role","description":"updated"}`)
	first := fs.serve(http.MethodPut, path, body, api.HeaderIfMatch, `"1"`, api.HeaderIdempotencyKey, "put-1")
	if first.Code != http.StatusOK {
		t.Fatalf("first PUT: %d %s", first.Code, first.Body)
	}
	again := fs.serve(http.MethodPut, path, body, api.HeaderIfMatch, `"1"`, api.HeaderIdempotencyKey, "put-1")
	if again.Code != http.StatusOK || again.Header().Get(api.HeaderIdempotencyReplayed) != "true" ||
		again.Body.String() != first.Body.String() || again.Header().Get(api.HeaderETag) != `"2"` {
		t.Fatalf("retried PUT: %d %v %s", again.Code, again.Header(), again.Body)
	}
	// Without the key, the same retry is a stale write.
	if stale := fs.serve(http.MethodPut, path, body, api.HeaderIfMatch, `"1"`); stale.Code != http.StatusPreconditionFailed {
		t.Fatalf("keyless retry: %d %s", stale.Code, stale.Body)
	}
	// The key is bound to its body.
	if reused := fs.serve(http.MethodPut, path, []byte(`{"name":"fuzz-role"}`), api.HeaderIfMatch, `"2"`, api.HeaderIdempotencyKey, "put-1"); reused.Code != http.StatusUnprocessableEntity {
		t.Fatalf("reused key: %d %s", reused.Code, reused.Body)
	}
}
