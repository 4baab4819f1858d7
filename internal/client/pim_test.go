package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// pimServer answers every PIM request with a plausible success: an empty page
// for collection GETs, 204 for DELETE, {} otherwise.
func pimServer(t *testing.T) *faultServer {
	return newFaultServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && strings.Count(r.URL.Path, "/") == 2:
			_, _ = w.Write([]byte(`{"items":[{"id":"x_1"}]}`))
		case r.Method == http.MethodPost && r.URL.Query().Get("validate_only") == "true":
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = w.Write([]byte(`{"id":"x_1","state":"active","allowed":true}`))
		}
	})
}

func TestPIMRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	created := time.Date(2025, 5, 3, 12, 0, 1, 500_000_000, time.FixedZone("CEST", 2*3600))
	before := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	policy := api.ActivationPolicyInput{Name: "prod"}
	era := api.EligibleRoleAssignmentInput{PrincipalType: "user", PrincipalID: "alice", RoleID: "role_1", Scope: "/orgs/acme"}

	type want struct {
		method, path string
		query        url.Values // nil means no query at all
		ifMatch      string     // "" means the header must be absent
		key          bool       // Idempotency-Key present
		body         string     // substring of the body
	}
	cases := []struct {
		name string
		call func(c *Client) error
		want want
	}{
		{"CreateActivationPolicy", func(c *Client) error { _, err := c.CreateActivationPolicy(ctx, policy); return err },
			want{method: "POST", path: "/v1/activation_policies", key: true, body: `"name":"prod"`}},
		{"GetActivationPolicy", func(c *Client) error { _, err := c.GetActivationPolicy(ctx, "actp_1"); return err },
			want{method: "GET", path: "/v1/activation_policies/actp_1"}},
		{"FindActivationPolicyByName", func(c *Client) error { _, err := c.FindActivationPolicyByName(ctx, "prod"); return err },
			want{method: "GET", path: "/v1/activation_policies", query: url.Values{"name": {"prod"}, "page_size": {"1"}}}},
		{"ListActivationPolicies", func(c *Client) error {
			_, err := c.ListActivationPolicies(ctx, api.ActivationPolicyListParams{PageSize: 7, PageToken: "t"})
			return err
		}, want{method: "GET", path: "/v1/activation_policies", query: url.Values{"page_size": {"7"}, "page_token": {"t"}}}},
		{"UpdateActivationPolicy", func(c *Client) error { _, err := c.UpdateActivationPolicy(ctx, "actp_1", 3, policy); return err },
			want{method: "PUT", path: "/v1/activation_policies/actp_1", ifMatch: `"3"`, body: `"name":"prod"`, key: true}},
		{"DeleteActivationPolicy", func(c *Client) error { return c.DeleteActivationPolicy(ctx, "actp_1", 4) },
			want{method: "DELETE", path: "/v1/activation_policies/actp_1", ifMatch: `"4"`}},

		{"CreateEligibleRoleAssignment", func(c *Client) error { _, err := c.CreateEligibleRoleAssignment(ctx, era); return err },
			want{method: "POST", path: "/v1/eligible_role_assignments", key: true, body: `"principal_id":"alice"`}},
		{"GetEligibleRoleAssignment", func(c *Client) error { _, err := c.GetEligibleRoleAssignment(ctx, "era_1"); return err },
			want{method: "GET", path: "/v1/eligible_role_assignments/era_1"}},
		{"FindEligibleRoleAssignment", func(c *Client) error {
			_, err := c.FindEligibleRoleAssignment(ctx, "group", "dba", "role_1", "/orgs/acme")
			return err
		}, want{method: "GET", path: "/v1/eligible_role_assignments", query: url.Values{
			"principal_type": {"group"}, "principal_id": {"dba"}, "role_id": {"role_1"}, "scope": {"/orgs/acme"}, "page_size": {"1"},
		}}},
		{"ListEligibleRoleAssignments", func(c *Client) error {
			_, err := c.ListEligibleRoleAssignments(ctx, api.EligibleRoleAssignmentListParams{
				PrincipalType: "user", PrincipalID: "alice", RoleID: "r", Scope: "/s", ScopePrefix: "/", ActivationPolicyID: "actp_1", Status: "active,scheduled",
			})
			return err
		}, want{method: "GET", path: "/v1/eligible_role_assignments", query: url.Values{
			"principal_type": {"user"}, "principal_id": {"alice"}, "role_id": {"r"}, "scope": {"/s"}, "scope_prefix": {"/"},
			"activation_policy_id": {"actp_1"}, "status": {"active,scheduled"},
		}}},
		{"UpdateEligibleRoleAssignment", func(c *Client) error { _, err := c.UpdateEligibleRoleAssignment(ctx, "era_1", 2, era); return err },
			want{method: "PUT", path: "/v1/eligible_role_assignments/era_1", ifMatch: `"2"`, body: `"role_id":"role_1"`, key: true}},
		{"DeleteEligibleRoleAssignment", func(c *Client) error { return c.DeleteEligibleRoleAssignment(ctx, "era_1", 5, false) },
			want{method: "DELETE", path: "/v1/eligible_role_assignments/era_1", ifMatch: `"5"`}},
		{"DeleteEligibleRoleAssignmentForce", func(c *Client) error { return c.DeleteEligibleRoleAssignment(ctx, "era_1", 0, true) },
			want{method: "DELETE", path: "/v1/eligible_role_assignments/era_1", query: url.Values{"force": {"true"}}}},
		{"ValidateEligibleRoleAssignmentCreate", func(c *Client) error { return c.ValidateEligibleRoleAssignment(ctx, "", era) },
			want{method: "POST", path: "/v1/eligible_role_assignments", query: url.Values{"validate_only": {"true"}}, body: `"scope":"/orgs/acme"`}},
		{"ValidateEligibleRoleAssignmentUpdate", func(c *Client) error { return c.ValidateEligibleRoleAssignment(ctx, "era_1", era) },
			want{method: "PUT", path: "/v1/eligible_role_assignments/era_1", query: url.Values{"validate_only": {"true"}}, body: `"scope":"/orgs/acme"`}},

		{"RequestElevation", func(c *Client) error {
			_, err := c.RequestElevation(ctx, api.ElevationRequest{RoleID: "role_1", Scope: "/s", RequestedDurationSeconds: 600, ValidateOnly: true})
			return err
		}, want{method: "POST", path: "/v1/elevations", key: true, body: `"requested_duration_seconds":600`}},
		{"EvaluateElevation", func(c *Client) error {
			ev, err := c.EvaluateElevation(ctx, api.ElevationRequest{EligibleRoleAssignmentID: "era_1"})
			if err == nil && !ev.Allowed {
				err = errors.New("evaluation not decoded")
			}
			return err
		}, want{method: "POST", path: "/v1/elevations", key: true, body: `"validate_only":true`}},
		{"GetElevation", func(c *Client) error { _, err := c.GetElevation(ctx, "elv_1"); return err },
			want{method: "GET", path: "/v1/elevations/elv_1"}},
		{"ListElevations", func(c *Client) error {
			_, err := c.ListElevations(ctx, api.ElevationListParams{
				State: "active,pending_approval", PrincipalID: "alice", RoleID: "r", Scope: "/s", ScopePrefix: "/o",
				EligibleRoleAssignmentID: "era_1", Relationship: api.RelationshipRequestedByMe,
				CreatedAfter: created, CreatedBefore: before, PageSize: 50, PageToken: "p2",
			})
			return err
		}, want{method: "GET", path: "/v1/elevations", query: url.Values{
			"state": {"active,pending_approval"}, "principal_id": {"alice"}, "role_id": {"r"}, "scope": {"/s"}, "scope_prefix": {"/o"},
			"eligible_role_assignment_id": {"era_1"}, "relationship": {"requested_by_me"},
			"created_after": {"2025-05-03T10:00:01.5Z"}, "created_before": {"2025-06-01T00:00:00Z"},
			"page_size": {"50"}, "page_token": {"p2"},
		}}},
		{"ListElevationsZeroTimesOmitted", func(c *Client) error { _, err := c.ListElevations(ctx, api.ElevationListParams{}); return err },
			want{method: "GET", path: "/v1/elevations"}},
		{"ListApprovalRequests", func(c *Client) error {
			_, err := c.ListApprovalRequests(ctx, api.ApprovalRequestListParams{PageSize: 20, PageToken: "n"})
			return err
		}, want{method: "GET", path: "/v1/approval_requests", query: url.Values{"page_size": {"20"}, "page_token": {"n"}}}},
		{"ApproveElevation", func(c *Client) error { _, err := c.ApproveElevation(ctx, "elv_1", "ok"); return err },
			want{method: "POST", path: "/v1/elevations/elv_1/approve", body: `{"reason":"ok"}`}},
		{"DenyElevation", func(c *Client) error { _, err := c.DenyElevation(ctx, "elv_1", "no"); return err },
			want{method: "POST", path: "/v1/elevations/elv_1/deny", body: `{"reason":"no"}`}},
		{"WithdrawElevation", func(c *Client) error { _, err := c.WithdrawElevation(ctx, "elv_1", ""); return err },
			want{method: "POST", path: "/v1/elevations/elv_1/withdraw", body: `{}`}},
		{"DeactivateElevation", func(c *Client) error { _, err := c.DeactivateElevation(ctx, "elv_1", "done"); return err },
			want{method: "POST", path: "/v1/elevations/elv_1/deactivate", body: `{"reason":"done"}`}},
		{"RevokeElevation", func(c *Client) error { _, err := c.RevokeElevation(ctx, "elv_1", "incident"); return err },
			want{method: "POST", path: "/v1/elevations/elv_1/revoke", body: `{"reason":"incident"}`}},
		{"ExtendElevation", func(c *Client) error {
			_, err := c.ExtendElevation(ctx, "elv_1", api.ElevationExtendRequest{AdditionalSeconds: 1800, Justification: "more"})
			return err
		}, want{method: "POST", path: "/v1/elevations/elv_1/extend", body: `{"additional_seconds":1800,"justification":"more"}`}},
		{"ListActiveElevations", func(c *Client) error {
			_, err := c.ListActiveElevations(ctx, api.ActiveElevationListParams{
				PrincipalID: "alice", RoleID: "r", Scope: "/s", ScopePrefix: "/o", EndsBefore: before, PageSize: 10,
			})
			return err
		}, want{method: "GET", path: "/v1/active_elevations", query: url.Values{
			"principal_id": {"alice"}, "role_id": {"r"}, "scope": {"/s"}, "scope_prefix": {"/o"},
			"ends_before": {"2025-06-01T00:00:00Z"}, "page_size": {"10"},
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := pimServer(t)
			c := newTestClient(t, fs.URL)
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			reqs := fs.requests()
			if len(reqs) != 1 {
				t.Fatalf("requests = %d, want 1", len(reqs))
			}
			got := reqs[0]
			if got.method != tc.want.method || got.path != tc.want.path {
				t.Errorf("request = %s %s, want %s %s", got.method, got.path, tc.want.method, tc.want.path)
			}
			q, err := url.ParseQuery(got.query)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.query == nil {
				if got.query != "" {
					t.Errorf("query = %q, want none", got.query)
				}
			} else if q.Encode() != tc.want.query.Encode() {
				t.Errorf("query = %q, want %q", q.Encode(), tc.want.query.Encode())
			}
			if im := got.header.Get(api.HeaderIfMatch); im != tc.want.ifMatch {
				t.Errorf("If-Match = %q, want %q", im, tc.want.ifMatch)
			}
			if key := got.header.Get(api.HeaderIdempotencyKey); (key != "") != tc.want.key {
				t.Errorf("Idempotency-Key = %q, want present=%v", key, tc.want.key)
			}
			if !strings.Contains(got.body, tc.want.body) {
				t.Errorf("body = %q, want it to contain %q", got.body, tc.want.body)
			}
		})
	}
}

func TestRequestElevationNeverSendsValidateOnly(t *testing.T) {
	t.Parallel()
	fs := pimServer(t)
	c := newTestClient(t, fs.URL)
	if _, err := c.RequestElevation(context.Background(), api.ElevationRequest{EligibleRoleAssignmentID: "era_1", ValidateOnly: true}); err != nil {
		t.Fatal(err)
	}
	if body := fs.requests()[0].body; strings.Contains(body, "validate_only") {
		t.Fatalf("RequestElevation body %s carries validate_only", body)
	}
}

func TestRequestElevationRetryReusesKey(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 1:
			writeProblem(w, api.Problem{Status: 500, Title: "Internal", Code: api.CodeInternal})
		case 2:
			resetConnection(t, w)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"elv_1","state":"pending_approval"}`))
		}
	})
	c := newTestClient(t, fs.URL)
	el, err := c.RequestElevation(context.Background(), api.ElevationRequest{EligibleRoleAssignmentID: "era_1"})
	if err != nil || el.ID != "elv_1" || el.State != api.StatePendingApproval {
		t.Fatalf("RequestElevation = %+v, %v", el, err)
	}
	reqs := fs.requests()
	if len(reqs) != 3 {
		t.Fatalf("attempts = %d, want 3", len(reqs))
	}
	key := reqs[0].header.Get(api.HeaderIdempotencyKey)
	if key == "" {
		t.Fatal("no Idempotency-Key")
	}
	for i, r := range reqs {
		if got := r.header.Get(api.HeaderIdempotencyKey); got != key {
			t.Errorf("attempt %d key %q, want %q", i+1, got, key)
		}
		if r.body != reqs[0].body {
			t.Errorf("attempt %d body differs", i+1)
		}
	}
	// A second logical request gets a new key.
	if _, err := c.RequestElevation(context.Background(), api.ElevationRequest{EligibleRoleAssignmentID: "era_1"}); err != nil {
		t.Fatal(err)
	}
	if got := fs.requests()[3].header.Get(api.HeaderIdempotencyKey); got == key || got == "" {
		t.Errorf("second request key %q (first %q)", got, key)
	}
}

func TestElevationActionsNotRetriedOn500OrReset(t *testing.T) {
	t.Parallel()
	actions := map[string]func(c *Client) error{
		"approve":    func(c *Client) error { _, err := c.ApproveElevation(context.Background(), "elv_1", "ok"); return err },
		"deny":       func(c *Client) error { _, err := c.DenyElevation(context.Background(), "elv_1", "no"); return err },
		"withdraw":   func(c *Client) error { _, err := c.WithdrawElevation(context.Background(), "elv_1", ""); return err },
		"deactivate": func(c *Client) error { _, err := c.DeactivateElevation(context.Background(), "elv_1", ""); return err },
		"revoke":     func(c *Client) error { _, err := c.RevokeElevation(context.Background(), "elv_1", "x"); return err },
		"extend": func(c *Client) error {
			_, err := c.ExtendElevation(context.Background(), "elv_1", api.ElevationExtendRequest{AdditionalSeconds: 60})
			return err
		},
	}
	for name, call := range actions {
		t.Run(name+"/500", func(t *testing.T) {
			t.Parallel()
			fs := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				writeProblem(w, api.Problem{Status: 500, Title: "Internal", Code: api.CodeInternal})
			})
			err := call(newTestClient(t, fs.URL))
			var pe *ProblemError
			if !errors.As(err, &pe) || pe.Problem.Status != 500 {
				t.Fatalf("err = %v, want the 500 problem", err)
			}
			if n := len(fs.requests()); n != 1 {
				t.Fatalf("attempts = %d, want 1", n)
			}
			if fs.requests()[0].header.Get(api.HeaderIdempotencyKey) != "" {
				t.Error("action sent an Idempotency-Key")
			}
		})
		t.Run(name+"/reset", func(t *testing.T) {
			t.Parallel()
			fs := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { resetConnection(t, w) })
			err := call(newTestClient(t, fs.URL))
			var ce *ConnectionError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConnectionError", err)
			}
			if n := len(fs.requests()); n != 1 {
				t.Fatalf("attempts = %d, want 1", n)
			}
		})
		t.Run(name+"/503", func(t *testing.T) {
			t.Parallel()
			fs := newFaultServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					writeProblem(w, api.Problem{Status: 503, Title: "Unavailable", Code: api.CodeUnavailable})
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":"elv_1","state":"active"}`))
			})
			if err := call(newTestClient(t, fs.URL)); err != nil {
				t.Fatalf("after a 503: %v", err)
			}
			if n := len(fs.requests()); n != 2 {
				t.Fatalf("attempts = %d, want 2 (503 means not processed)", n)
			}
		})
	}
}

func TestEvaluationsRetriedOn500(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n%2 == 1 {
			writeProblem(w, api.Problem{Status: 500, Title: "Internal", Code: api.CodeInternal})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == api.PathElevations {
			_, _ = w.Write([]byte(`{"allowed":false,"violations":[{"rule":"require_ticket","message":"a ticket is required"}]}`))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	c := newTestClient(t, fs.URL)
	ev, err := c.EvaluateElevation(context.Background(), api.ElevationRequest{EligibleRoleAssignmentID: "era_1"})
	if err != nil || ev.Allowed || len(ev.Violations) != 1 || ev.Violations[0].Rule != "require_ticket" {
		t.Fatalf("EvaluateElevation = %+v, %v", ev, err)
	}
	if err := c.ValidateEligibleRoleAssignment(context.Background(), "", api.EligibleRoleAssignmentInput{}); err != nil {
		t.Fatal(err)
	}
	if n := len(fs.requests()); n != 4 {
		t.Fatalf("attempts = %d, want 4", n)
	}
}

func TestValidateEligibleRoleAssignmentErrors(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 1:
			writeProblem(w, api.Problem{Status: 422, Title: "Policy violation", Code: api.CodePolicyViolation,
				Violations: []api.Violation{{Pointer: "/ends_at", Rule: "eligibility_constraints.allow_permanent", Message: "required"}}})
		case 2:
			// A 200 that reports a failed validation.
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"allowed":false,"violations":[{"pointer":"/scope","message":"not assignable"}]}`))
		case 3:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"valid":false,"violations":[{"pointer":"/role_id","message":"no such role"}]}`))
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"valid":true}`))
		}
	})
	c := newTestClient(t, fs.URL)
	in := api.EligibleRoleAssignmentInput{PrincipalType: "user", PrincipalID: "alice"}
	err := c.ValidateEligibleRoleAssignment(context.Background(), "", in)
	var pe *ProblemError
	if !errors.As(err, &pe) || pe.Problem.Status != 422 || len(pe.Problem.Violations) != 1 || pe.Problem.Violations[0].Pointer != "/ends_at" {
		t.Fatalf("422: err = %v", err)
	}
	err = c.ValidateEligibleRoleAssignment(context.Background(), "era_1", in)
	if !errors.As(err, &pe) || pe.Problem.Code != api.CodePolicyViolation || pe.Problem.Violations[0].Pointer != "/scope" {
		t.Fatalf("200 not allowed: err = %v", err)
	}
	err = c.ValidateEligibleRoleAssignment(context.Background(), "era_1", in)
	if !errors.As(err, &pe) || pe.Problem.Violations[0].Pointer != "/role_id" {
		t.Fatalf("200 valid=false: err = %v", err)
	}
	if err := c.ValidateEligibleRoleAssignment(context.Background(), "era_1", in); err != nil {
		t.Fatalf("200 allowed: %v", err)
	}
}

func TestFindEligibleRoleAssignmentNotFound(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items":[]}`))
	})
	c := newTestClient(t, fs.URL)
	if _, err := c.FindEligibleRoleAssignment(context.Background(), "user", "alice", "r", "/"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if _, err := c.FindActivationPolicyByName(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if _, err := c.GetElevation(context.Background(), " "); err == nil {
		t.Fatal("empty id accepted")
	}
	if len(fs.requests()) != 2 {
		t.Fatalf("requests = %d", len(fs.requests()))
	}
}

// pagedServer serves /v1/elevations as pages of size 2 over n items, failing
// page failAt (1-based) with a 400 when failAt > 0.
func pagedServer(t *testing.T, n, failAt int) *faultServer {
	return newFaultServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		start := 0
		if tok := r.URL.Query().Get("page_token"); tok != "" {
			if _, err := fmt.Sscanf(tok, "at-%d", &start); err != nil {
				writeProblem(w, api.Problem{Status: 400, Title: "Bad token", Code: api.CodeInvalidPageToken})
				return
			}
		}
		if failAt > 0 && start/2+1 == failAt {
			writeProblem(w, api.Problem{Status: 400, Title: "Bad token", Code: api.CodeInvalidPageToken})
			return
		}
		page := api.Page[api.Elevation]{Items: []api.Elevation{}}
		for i := start; i < n && i < start+2; i++ {
			page.Items = append(page.Items, api.Elevation{Meta: api.Meta{ID: fmt.Sprintf("elv_%d", i)}})
		}
		if start+2 < n {
			page.NextPageToken = fmt.Sprintf("at-%d", start+2)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	})
}

func TestAllWalksEveryPage(t *testing.T) {
	t.Parallel()
	fs := pagedServer(t, 5, 0)
	c := newTestClient(t, fs.URL)
	ctx := context.Background()
	p := api.ElevationListParams{State: api.StateActive, PageSize: 2}
	all, err := All(ctx, func(tok string) (*api.Page[api.Elevation], error) {
		p.PageToken = tok
		return c.ListElevations(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range all {
		ids = append(ids, e.ID)
	}
	if got := strings.Join(ids, ","); got != "elv_0,elv_1,elv_2,elv_3,elv_4" {
		t.Fatalf("ids = %s", got)
	}
	reqs := fs.requests()
	if len(reqs) != 3 {
		t.Fatalf("pages fetched = %d, want 3", len(reqs))
	}
	for _, r := range reqs {
		if !strings.Contains(r.query, "state=active") {
			t.Errorf("filter lost on a later page: %q", r.query)
		}
	}
}

func TestAllErrorMidway(t *testing.T) {
	t.Parallel()
	fs := pagedServer(t, 6, 2)
	c := newTestClient(t, fs.URL)
	ctx := context.Background()
	all, err := All(ctx, func(tok string) (*api.Page[api.Elevation], error) {
		return c.ListElevations(ctx, api.ElevationListParams{PageSize: 2, PageToken: tok})
	})
	if ProblemCode(err) != api.CodeInvalidPageToken || all != nil {
		t.Fatalf("All = %v, %v; want the page-2 problem and no items", all, err)
	}
	if n := len(fs.requests()); n != 2 {
		t.Fatalf("pages fetched = %d, want 2", n)
	}
}

func TestItemsStopsOnContextCancel(t *testing.T) {
	t.Parallel()
	fs := pagedServer(t, 10, 0)
	c := newTestClient(t, fs.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen int
	var gotErr error
	for e, err := range Items(ctx, func(tok string) (*api.Page[api.Elevation], error) {
		return c.ListElevations(ctx, api.ElevationListParams{PageSize: 2, PageToken: tok})
	}) {
		if err != nil {
			gotErr = err
			break
		}
		seen++
		if e.ID == "elv_1" {
			cancel() // after the first page
		}
	}
	if !errors.Is(gotErr, context.Canceled) || seen != 2 {
		t.Fatalf("seen %d, err %v; want 2 items then context.Canceled", seen, gotErr)
	}
	if n := len(fs.requests()); n != 1 {
		t.Fatalf("pages fetched after cancel = %d, want 1", n)
	}
}

func TestItemsEarlyBreakAndBounds(t *testing.T) {
	t.Parallel()
	calls := 0
	for _, err := range Items(context.Background(), func(string) (*api.Page[int], error) {
		calls++
		return &api.Page[int]{Items: []int{1, 2}, NextPageToken: "more"}, nil
	}) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if calls != 1 {
		t.Fatalf("calls after break = %d", calls)
	}
	// A server that repeats its token must not loop forever.
	calls = 0
	_, err := All(context.Background(), func(string) (*api.Page[int], error) {
		calls++
		return &api.Page[int]{Items: []int{1}, NextPageToken: "same"}, nil
	})
	if err == nil || calls != 2 {
		t.Fatalf("repeated token: calls %d, err %v", calls, err)
	}
	// Distinct tokens forever stop at MaxPages.
	calls = 0
	_, err = All(context.Background(), func(string) (*api.Page[int], error) {
		calls++
		return &api.Page[int]{NextPageToken: fmt.Sprint(calls)}, nil
	})
	if !errors.Is(err, ErrTooManyPages) || calls != MaxPages {
		t.Fatalf("endless pages: calls %d, err %v", calls, err)
	}
}
