package client

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

const testToken = "s3cr3t-token-value-0123456789"

// recorded is one request as the fault-injecting server saw it.
type recorded struct {
	method, path, query string
	header              http.Header
	body                string
}

// faultServer answers attempt n (1-based) with script(n, w, r); it records
// every request so tests can count attempts and compare headers.
type faultServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newFaultServer(t *testing.T, script func(n int, w http.ResponseWriter, r *http.Request)) *faultServer {
	t.Helper()
	fs := &faultServer{}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fs.mu.Lock()
		fs.reqs = append(fs.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
		n := len(fs.reqs)
		fs.mu.Unlock()
		script(n, w, r)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *faultServer) requests() []recorded {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]recorded(nil), fs.reqs...)
}

func newTestClient(t *testing.T, endpoint string, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		Endpoint:     endpoint,
		Token:        testToken,
		UserAgent:    "terraform-provider-pam/test",
		MaxRetries:   3,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 20 * time.Millisecond,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func writeProblem(w http.ResponseWriter, p api.Problem) {
	w.Header().Set("Content-Type", api.ContentTypeProblem)
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

var sampleRole = api.Role{
	Meta:      api.Meta{ID: "role_01TEST", Version: 1},
	RoleInput: api.RoleInput{Name: "db-admin", AssignableScopes: []string{"/"}, Labels: map[string]string{}},
}

func writeRole(w http.ResponseWriter, status int, r api.Role) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(api.HeaderETag, api.FormatETag(r.Version))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(r)
}

// resetConnection closes the TCP connection without an HTTP response, with
// SO_LINGER 0 so the client sees a reset rather than a clean EOF.
func resetConnection(t *testing.T, w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		t.Error("response writer cannot hijack")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

func TestRetryAfterSecondsHonoured(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set(api.HeaderRetryAfter, "1")
			writeProblem(w, api.Problem{Status: 429, Title: "Too Many Requests", Code: api.CodeRateLimited})
			return
		}
		writeRole(w, 200, sampleRole)
	})
	// RetryWaitMax above the header: the header, not the exponential backoff
	// (1ms here), must decide the wait.
	c := newTestClient(t, fs.URL, func(cfg *Config) { cfg.RetryWaitMax = 5 * time.Second })
	start := time.Now()
	if _, err := c.GetRole(context.Background(), sampleRole.ID); err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("waited %v, want >= 1s (Retry-After)", elapsed)
	}
	if got := len(fs.requests()); got != 2 {
		t.Errorf("attempts = %d, want 2", got)
	}
}

func TestRetryAfterCappedByRetryWaitMax(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set(api.HeaderRetryAfter, "3600")
			writeProblem(w, api.Problem{Status: 503, Title: "Service Unavailable", Code: api.CodeUnavailable})
			return
		}
		writeRole(w, 200, sampleRole)
	})
	c := newTestClient(t, fs.URL)
	start := time.Now()
	if _, err := c.GetRole(context.Background(), sampleRole.ID); err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("waited %v; Retry-After must be capped by RetryWaitMax (20ms)", elapsed)
	}
}

func TestRetryPolicyByStatusAndMethod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		status       int
		code         string
		call         func(*Client) error
		wantAttempts int
	}{
		{"503 GET retried", 503, api.CodeUnavailable, getRole, 2},
		{"503 non-idempotent POST retried", 503, api.CodeUnavailable, postWithoutKey, 2},
		{"429 non-idempotent POST retried", 429, api.CodeRateLimited, postWithoutKey, 2},
		{"500 GET retried", 500, api.CodeInternal, getRole, 2},
		{"502 PUT retried", 502, api.CodeUnavailable, updateRole, 2},
		{"500 DELETE retried", 500, api.CodeInternal, deleteRole, 2},
		{"500 create with key retried", 500, api.CodeInternal, createRole, 2},
		{"500 non-idempotent POST not retried", 500, api.CodeInternal, postWithoutKey, 1},
		{"501 GET not retried", 501, api.CodeInternal, getRole, 1},
		{"409 in progress retried", 409, api.CodeIdempotencyInProgress, createRole, 2},
		{"409 already_exists not retried", 409, api.CodeAlreadyExists, createRole, 1},
		{"400 not retried", 400, api.CodeValidationFailed, createRole, 1},
		{"401 not retried", 401, api.CodeUnauthenticated, getRole, 1},
		{"403 not retried", 403, api.CodeForbidden, getRole, 1},
		{"404 not retried", 404, api.CodeNotFound, getRole, 1},
		{"412 not retried", 412, api.CodeEtagMismatch, updateRole, 1},
		{"422 not retried", 422, api.CodeIdempotencyKeyReused, createRole, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					writeProblem(w, api.Problem{Status: tt.status, Title: http.StatusText(tt.status), Code: tt.code})
					return
				}
				if r.Method == http.MethodDelete {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				writeRole(w, 200, sampleRole)
			})
			err := tt.call(newTestClient(t, fs.URL))
			got := len(fs.requests())
			if got != tt.wantAttempts {
				t.Fatalf("attempts = %d, want %d (err %v)", got, tt.wantAttempts, err)
			}
			if tt.wantAttempts == 1 {
				var pe *ProblemError
				if !errors.As(err, &pe) || pe.Problem.Code != tt.code || pe.Problem.Status != tt.status {
					t.Fatalf("err = %v, want *ProblemError %d %s", err, tt.status, tt.code)
				}
			} else if err != nil {
				t.Fatalf("err = %v, want success after retry", err)
			}
		})
	}
}

func getRole(c *Client) error {
	_, err := c.GetRole(context.Background(), sampleRole.ID)
	return err
}

func createRole(c *Client) error {
	_, err := c.CreateRole(context.Background(), sampleRole.RoleInput)
	return err
}

func updateRole(c *Client) error {
	_, err := c.UpdateRole(context.Background(), sampleRole.ID, 1, sampleRole.RoleInput)
	return err
}

func deleteRole(c *Client) error {
	return c.DeleteRole(context.Background(), sampleRole.ID, 1)
}

// postWithoutKey stands for a future non-idempotent action (a POST that
// carries no Idempotency-Key): it must never be repeated after a 5xx.
func postWithoutKey(c *Client) error {
	var out api.Role
	return c.do(context.Background(), request{method: http.MethodPost, path: api.PathRoles + "/x/act", body: map[string]string{}}, &out)
}

func TestCreateRetriesReuseIdempotencyKey(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 1:
			resetConnection(t, w)
		case 2:
			writeProblem(w, api.Problem{Status: 500, Title: "Internal Server Error", Code: api.CodeInternal})
		case 3:
			writeProblem(w, api.Problem{Status: 409, Title: "Conflict", Code: api.CodeIdempotencyInProgress})
		default:
			writeRole(w, 201, sampleRole)
		}
	})
	c := newTestClient(t, fs.URL)
	got, err := c.CreateRole(context.Background(), sampleRole.RoleInput)
	if err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	if got.ID != sampleRole.ID {
		t.Errorf("id = %q", got.ID)
	}
	reqs := fs.requests()
	if len(reqs) != 4 {
		t.Fatalf("attempts = %d, want 4", len(reqs))
	}
	key := reqs[0].header.Get(api.HeaderIdempotencyKey)
	if key == "" {
		t.Fatal("create sent no Idempotency-Key")
	}
	for i, r := range reqs {
		if k := r.header.Get(api.HeaderIdempotencyKey); k != key {
			t.Errorf("attempt %d key = %q, want %q", i+1, k, key)
		}
		if r.body != reqs[0].body || r.body == "" {
			t.Errorf("attempt %d body = %q, want the first body %q", i+1, r.body, reqs[0].body)
		}
	}

	// A second logical create gets a new key.
	if _, err := c.CreateRole(context.Background(), sampleRole.RoleInput); err != nil {
		t.Fatalf("second CreateRole: %v", err)
	}
	if k := fs.requests()[4].header.Get(api.HeaderIdempotencyKey); k == key || k == "" {
		t.Errorf("second create key = %q, want a fresh key", k)
	}
}

func TestConnectionResetRetriedForGet(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			resetConnection(t, w)
			return
		}
		writeRole(w, 200, sampleRole)
	})
	if _, err := newTestClient(t, fs.URL).GetRole(context.Background(), sampleRole.ID); err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	if got := len(fs.requests()); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
}

func TestConnectionResetNotRetriedForNonIdempotentPost(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { resetConnection(t, w) })
	err := postWithoutKey(newTestClient(t, fs.URL))
	var ce *ConnectionError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *ConnectionError", err)
	}
	if got := len(fs.requests()); got != 1 || ce.Attempts != 1 {
		t.Errorf("attempts = %d (error says %d), want 1", got, ce.Attempts)
	}
}

func TestRetriesBounded(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, api.Problem{Status: 503, Title: "Service Unavailable", Code: api.CodeUnavailable, Detail: "audit sink down"})
	})
	c := newTestClient(t, fs.URL, func(cfg *Config) { cfg.MaxRetries = 2 })
	_, err := c.GetRole(context.Background(), sampleRole.ID)
	if got := len(fs.requests()); got != 3 {
		t.Errorf("attempts = %d, want 3 (1 + MaxRetries 2)", got)
	}
	// The last response surfaces as its problem, not as "giving up".
	var pe *ProblemError
	if !errors.As(err, &pe) || pe.Problem.Code != api.CodeUnavailable || pe.Problem.Detail != "audit sink down" {
		t.Fatalf("err = %v, want the 503 problem", err)
	}
}

func TestNegativeMaxRetriesDisablesRetries(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, api.Problem{Status: 503, Title: "Service Unavailable", Code: api.CodeUnavailable})
	})
	_, _ = newTestClient(t, fs.URL, func(cfg *Config) { cfg.MaxRetries = -1 }).GetRole(context.Background(), "role_x")
	if got := len(fs.requests()); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(api.HeaderRetryAfter, "2")
		writeProblem(w, api.Problem{Status: 503, Title: "Service Unavailable", Code: api.CodeUnavailable})
	})
	c := newTestClient(t, fs.URL, func(cfg *Config) { cfg.MaxRetries = 10; cfg.RetryWaitMax = 10 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetRole(ctx, sampleRole.ID)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("returned after %v; the backoff wait must stop at cancellation", elapsed)
	}
	if got := len(fs.requests()); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}
}

func TestPerAttemptTimeoutRetried(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		}
		writeRole(w, 200, sampleRole)
	})
	c := newTestClient(t, fs.URL, func(cfg *Config) { cfg.RequestTimeout = 100 * time.Millisecond })
	if _, err := c.GetRole(context.Background(), sampleRole.ID); err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	if got := len(fs.requests()); got != 2 {
		t.Errorf("attempts = %d, want 2", got)
	}
}

func TestProblemDecodingAndSentinels(t *testing.T) {
	t.Parallel()
	current := int64(7)
	tests := []struct {
		problem  api.Problem
		sentinel error
	}{
		{api.Problem{Status: 404, Title: "Not Found", Code: api.CodeNotFound}, ErrNotFound},
		{api.Problem{Status: 409, Title: "Conflict", Code: api.CodeAlreadyExists, ExistingID: "role_OLD"}, ErrConflict},
		{api.Problem{Status: 412, Title: "Precondition Failed", Code: api.CodeEtagMismatch, CurrentVersion: &current}, ErrPreconditionFailed},
		{api.Problem{Status: 401, Title: "Unauthorized", Code: api.CodeUnauthenticated}, ErrUnauthorized},
		{api.Problem{Status: 403, Title: "Forbidden", Code: api.CodeForbidden}, ErrForbidden},
		{api.Problem{Status: 400, Title: "Validation Failed", Code: api.CodeValidationFailed, RequestID: "req_1",
			Violations: []api.Violation{{Pointer: "/assignable_scopes/0", Code: "pattern", Message: "must be a path"}}}, nil},
	}
	all := []error{ErrNotFound, ErrConflict, ErrPreconditionFailed, ErrUnauthorized, ErrForbidden}
	for _, tt := range tests {
		t.Run(tt.problem.Code, func(t *testing.T) {
			t.Parallel()
			fs := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeProblem(w, tt.problem) })
			_, err := newTestClient(t, fs.URL).GetRole(context.Background(), "role_x")
			var pe *ProblemError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %T %v, want *ProblemError", err, err)
			}
			if pe.Problem.Code != tt.problem.Code || pe.Problem.Status != tt.problem.Status ||
				pe.Problem.ExistingID != tt.problem.ExistingID || len(pe.Problem.Violations) != len(tt.problem.Violations) {
				t.Errorf("decoded %+v, want %+v", pe.Problem, tt.problem)
			}
			if tt.problem.CurrentVersion != nil && (pe.Problem.CurrentVersion == nil || *pe.Problem.CurrentVersion != current) {
				t.Errorf("current_version = %v, want %d", pe.Problem.CurrentVersion, current)
			}
			if len(tt.problem.Violations) > 0 && pe.Problem.Violations[0].Pointer != "/assignable_scopes/0" {
				t.Errorf("violation = %+v", pe.Problem.Violations[0])
			}
			if ProblemCode(err) != tt.problem.Code {
				t.Errorf("ProblemCode = %q", ProblemCode(err))
			}
			for _, s := range all {
				if got, want := errors.Is(err, s), tt.sentinel != nil && errors.Is(s, tt.sentinel); got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", s, got, want)
				}
			}
		})
	}
}

func TestNonProblemErrorBodySynthesised(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set(api.HeaderRequestID, "req_proxy")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>bad gateway</html>")
	})
	_, err := newTestClient(t, fs.URL, func(cfg *Config) { cfg.MaxRetries = -1 }).GetRole(context.Background(), "role_x")
	var pe *ProblemError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	if pe.Problem.Status != 502 || pe.Problem.Code != api.CodeUnavailable || pe.Problem.Title != "Bad Gateway" ||
		!strings.Contains(pe.Problem.Detail, "bad gateway") || pe.Problem.RequestID != "req_proxy" {
		t.Errorf("problem = %+v", pe.Problem)
	}
}

func TestRoleRequests(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == api.PathRoles:
			page := api.Page[api.Role]{Items: []api.Role{}}
			if r.URL.Query().Get("name") == sampleRole.Name {
				page.Items = append(page.Items, sampleRole)
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(page)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && r.URL.Path == api.PathHealth:
			_ = json.NewEncoder(w).Encode(api.Health{Status: "ok", Version: "1.2.3"})
		default:
			writeRole(w, 200, sampleRole)
		}
	})
	// A trailing slash and a base path in the endpoint are both tolerated.
	c := newTestClient(t, fs.URL+"/")
	ctx := context.Background()

	if h, err := c.Health(ctx); err != nil || h.Status != "ok" {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	if r, err := c.FindRoleByName(ctx, sampleRole.Name); err != nil || r.ID != sampleRole.ID {
		t.Fatalf("FindRoleByName = %+v, %v", r, err)
	}
	if _, err := c.FindRoleByName(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FindRoleByName(nope) err = %v, want ErrNotFound", err)
	}
	if _, err := c.ListRoles(ctx, api.RoleListParams{PageSize: 5, PageToken: "tok"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRole(ctx, "role_a/b", 3, sampleRole.RoleInput); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRole(ctx, sampleRole.ID, 4); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRole(ctx, sampleRole.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRole(ctx, ""); err == nil {
		t.Fatal("GetRole with empty id must fail before any request")
	}

	reqs := fs.requests()
	for _, r := range reqs {
		if got := r.header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("%s %s Authorization = %q", r.method, r.path, got)
		}
		if got := r.header.Get("User-Agent"); got != "terraform-provider-pam/test" {
			t.Errorf("User-Agent = %q", got)
		}
	}
	if q := reqs[1].query; q != "name=db-admin&page_size=1" {
		t.Errorf("find query = %q", q)
	}
	if q := reqs[3].query; q != "page_size=5&page_token=tok" {
		t.Errorf("list query = %q", q)
	}
	put := reqs[4]
	if put.method != http.MethodPut || put.path != "/v1/roles/role_a/b" || put.header.Get(api.HeaderIfMatch) != `"3"` {
		t.Errorf("PUT = %s %s If-Match %q", put.method, put.path, put.header.Get(api.HeaderIfMatch))
	}
	if put.header.Get("Content-Type") != "application/json" || !strings.Contains(put.body, `"name":"db-admin"`) {
		t.Errorf("PUT body = %q", put.body)
	}
	if got := reqs[5].header.Get(api.HeaderIfMatch); got != `"4"` {
		t.Errorf("DELETE If-Match = %q", got)
	}
	if got, ok := reqs[6].header[api.HeaderIfMatch]; ok {
		t.Errorf("DELETE with version 0 sent If-Match %q", got)
	}
	if len(reqs) != 7 {
		t.Errorf("requests = %d, want 7", len(reqs))
	}
}

func TestTokenNeverLogged(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			writeProblem(w, api.Problem{Status: 503, Title: "Service Unavailable", Code: api.CodeUnavailable,
				// A hostile or buggy server echoing credentials must not leak them either.
				Detail: "echo: " + r.Header.Get("Authorization")})
			return
		}
		w.Header().Set(api.HeaderRequestID, "req_42")
		writeRole(w, 201, sampleRole)
	})
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	c := newTestClient(t, fs.URL)
	in := sampleRole.RoleInput
	in.Description = `{"password": "hunter2"}`
	if _, err := c.CreateRole(ctx, in); err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	out := buf.String()
	if strings.Contains(out, testToken) {
		t.Errorf("token leaked into logs:\n%s", out)
	}
	entries, err := tflogtest.MultilineJSONDecode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var sent, received bool
	for _, e := range entries {
		if e["@module"] != "provider."+LogSubsystem {
			continue
		}
		switch e["@message"] {
		case "Sending request":
			sent = e["method"] == "POST" && e["path"] == api.PathRoles && e["request_header_authorization"] == "***"
		case "Received response":
			received = received || (e["status"] == float64(201) && e["request_id"] == "req_42" && e["attempt"] == float64(2))
		}
	}
	if !sent || !received {
		t.Errorf("request not logged with structured fields (sent %v, received %v):\n%s", sent, received, out)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	for _, endpoint := range []string{"", "127.0.0.1:8443", "ftp://host", "http://", "http://user:pw@host", "http://host?x=1"} {
		if _, err := New(Config{Endpoint: endpoint}); !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("New(%q) err = %v, want ErrInvalidEndpoint", endpoint, err)
		}
	}
	if _, err := New(Config{Endpoint: "https://pamd.example", CACertPEM: "not pem"}); !errors.Is(err, ErrInvalidCACert) {
		t.Errorf("New with a bad CA PEM: err = %v, want ErrInvalidCACert", err)
	}
	// Credentials in the endpoint must not be echoed into error messages.
	if _, err := New(Config{Endpoint: "http://user:hunter2@host"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(api.Health{Status: "ok"})
	}))
	t.Cleanup(srv.Close)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	ctx := context.Background()

	if _, err := newTestClient(t, srv.URL, func(c *Config) { c.CACertPEM = caPEM }).Health(ctx); err != nil {
		t.Errorf("with CA: %v", err)
	}
	if _, err := newTestClient(t, srv.URL, func(c *Config) { c.Insecure = true }).Health(ctx); err != nil {
		t.Errorf("insecure: %v", err)
	}
	start := time.Now()
	_, err := newTestClient(t, srv.URL, func(c *Config) { c.RetryWaitMin, c.RetryWaitMax = time.Second, time.Second }).Health(ctx)
	var ce *ConnectionError
	if !errors.As(err, &ce) {
		t.Fatalf("untrusted certificate: err = %v, want *ConnectionError", err)
	}
	if ce.Attempts != 1 || time.Since(start) > 900*time.Millisecond {
		t.Errorf("untrusted certificate retried (%d attempts); retries cannot fix it", ce.Attempts)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	minW, maxW := 100*time.Millisecond, time.Second
	for attempt := range 8 {
		want := min(minW<<attempt, maxW)
		for range 20 {
			got := backoff(minW, maxW, attempt, nil)
			if got < want/2 || got > want {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, got, want/2, want)
			}
		}
	}
	resp := &http.Response{Header: http.Header{}}
	resp.Header.Set(api.HeaderRetryAfter, time.Now().Add(500*time.Millisecond).UTC().Format(http.TimeFormat))
	if got := backoff(minW, maxW, 0, resp); got > maxW {
		t.Errorf("HTTP-date Retry-After: %v", got)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"3":                             3 * time.Second,
		"0":                             0,
		"Wed, 01 Jan 2025 00:00:05 GMT": 5 * time.Second,
		"Tue, 31 Dec 2024 23:59:00 GMT": 0,
	} {
		if got, ok := retryAfter(v, now); !ok || got != want {
			t.Errorf("retryAfter(%q) = %v, %v; want %v", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "-1", "soon"} {
		if _, ok := retryAfter(v, now); ok {
			t.Errorf("retryAfter(%q) accepted", v)
		}
	}
}
