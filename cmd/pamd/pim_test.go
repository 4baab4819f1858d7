package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

func TestParseDurationSeconds(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "3600": 3600, "1h": 3600, "90m": 5400, "1h30m": 5400, " 45s ": 45, "2h0m0s": 7200} {
		got, err := parseDurationSeconds(in)
		if err != nil || got != want {
			t.Errorf("parseDurationSeconds(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-5", "0s", "-1h", "1.5s", "500ms", "1 hour", "h", "1e3"} {
		if got, err := parseDurationSeconds(in); err == nil {
			t.Errorf("parseDurationSeconds(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseTicket(t *testing.T) {
	for in, want := range map[string]api.Ticket{
		"jira:INC-4711":      {System: "jira", Number: "INC-4711"},
		" servicenow : CHG1": {System: "servicenow", Number: "CHG1"},
		"sn:a:b":             {System: "sn", Number: "a:b"},
	} {
		got, err := parseTicket(in)
		if err != nil || got == nil || *got != want {
			t.Errorf("parseTicket(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if got, err := parseTicket(""); err != nil || got != nil {
		t.Errorf(`parseTicket("") = %+v, %v`, got, err)
	}
	for _, in := range []string{"INC-4711", ":1", "jira:", " : ", "jira:" + strings.Repeat("x", api.MaxTicketFieldLength+1)} {
		if _, err := parseTicket(in); err == nil {
			t.Errorf("parseTicket(%q) accepted", in)
		}
	}
}

func TestParseStartAt(t *testing.T) {
	got, err := parseStartAt("2025-05-03T14:00:00+02:00")
	if err != nil || !got.Equal(time.Date(2025, 5, 3, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("parseStartAt = %v, %v", got, err)
	}
	if got, err := parseStartAt(""); got != nil || err != nil {
		t.Fatalf(`parseStartAt("") = %v, %v`, got, err)
	}
	if _, err := parseStartAt("tomorrow"); err == nil {
		t.Fatal("bad start accepted")
	}
}

func TestElevateFlags(t *testing.T) {
	ok := elevateFlags{role: "db-admin", scope: "/orgs/acme", duration: "1h", ticket: "jira:INC-1", justification: " why ", startAt: "2030-01-01T00:00:00Z", timeout: time.Minute}
	req, err := ok.request()
	if err != nil || req.RoleID != "db-admin" || req.Scope != "/orgs/acme" || req.RequestedDurationSeconds != 3600 ||
		req.Ticket.Number != "INC-1" || req.Justification != "why" || req.StartAt == nil || req.ValidateOnly {
		t.Fatalf("request = %+v, %v", req, err)
	}
	for name, f := range map[string]elevateFlags{
		"nothing":      {timeout: time.Minute},
		"role only":    {role: "r", timeout: time.Minute},
		"both":         {role: "r", scope: "/", eligibility: "era_1", timeout: time.Minute},
		"bad duration": {eligibility: "era_1", duration: "soon", timeout: time.Minute},
		"bad ticket":   {eligibility: "era_1", ticket: "INC-1", timeout: time.Minute},
		"bad start":    {eligibility: "era_1", startAt: "now", timeout: time.Minute},
		"no timeout":   {eligibility: "era_1"},
	} {
		if _, err := f.request(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

var testNow = time.Date(2025, 5, 3, 13, 5, 0, 0, time.UTC)

func pendingElevation() *api.Elevation {
	exp := testNow.Add(4 * time.Hour)
	return &api.Elevation{
		Meta:  api.Meta{ID: "elv_1", Version: 2, CreatedAt: testNow.Add(-time.Minute)},
		State: api.StatePendingApproval, PrincipalType: "user", PrincipalID: "alice", RoleID: "role_1", Scope: "/orgs/acme",
		RequestedBy: api.Actor{Type: "user", ID: "alice"}, RequestedDurationSeconds: 3600, Justification: "INC-4711 failover",
		Ticket: &api.Ticket{System: "jira", Number: "INC-4711"},
		Approval: &api.ElevationApproval{CurrentStageIndex: 0, Stages: []api.ElevationApprovalStage{
			{Index: 0, State: api.StagePending, ApprovalsNeeded: 2, ExpiresAt: &exp,
				Approvers: []api.Principal{{Type: "group", ID: "dba-leads"}},
				Decisions: []api.ApprovalDecision{{Approver: api.Actor{Type: "user", ID: "carol"}, Decision: api.DecisionApproved, Reason: "ok"}}},
			{Index: 1, State: api.StageWaiting, ApprovalsNeeded: 1, Approvers: []api.Principal{{Type: "user", ID: "ciso"}}},
		}},
		Timeline: []api.TimelineEvent{
			{Event: api.EventRequested, At: testNow.Add(-time.Minute), Actor: &api.Actor{Type: "user", ID: "alice"}},
			{Event: api.EventApproved, At: testNow, Actor: &api.Actor{Type: "user", ID: "carol"}, Reason: "ok"},
		},
		PolicySnapshot: api.PolicySnapshot{ActivationPolicyID: "actp_1", Version: 4},
	}
}

func TestDescribeNext(t *testing.T) {
	end := testNow.Add(time.Hour)
	ended := testNow.Add(-time.Hour)
	tomorrow := testNow.Add(24 * time.Hour)
	cases := []struct {
		el   *api.Elevation
		want string
	}{
		{pendingElevation(), "pending approval by: group:dba-leads (1 of 2 approvals, stage 1 of 2), expires 17:05 UTC"},
		{&api.Elevation{State: api.StateActive, EndAt: &end}, "active until 14:05 UTC (1h left)"},
		{&api.Elevation{State: api.StateScheduled, StartAt: &tomorrow}, "approved; scheduled to start at 2025-05-04 13:05 UTC"},
		{&api.Elevation{State: api.StateDenied, Timeline: []api.TimelineEvent{{Event: api.EventDenied, Actor: &api.Actor{Type: "user", ID: "bob"}, Reason: "not now"}}}, "denied by user:bob: not now"},
		{&api.Elevation{State: api.StateEnded, EndedAt: &ended, EndReason: api.EndReasonDurationElapsed}, "ended at 12:05 UTC (duration_elapsed)"},
		{&api.Elevation{State: api.StateActivationFailed, ActivationError: "webhook 500"}, "activation failed: webhook 500"},
		{&api.Elevation{State: api.StateActivating}, "activating: the role is being provisioned"},
	}
	for _, tc := range cases {
		if got := describeNext(tc.el, testNow); got != tc.want {
			t.Errorf("describeNext(%s) =\n  %q\nwant\n  %q", tc.el.State, got, tc.want)
		}
	}
}

func TestFormatSeconds(t *testing.T) {
	for in, want := range map[int64]string{0: "-", 45: "45s", 60: "1m", 3600: "1h", 5400: "1h30m", 3661: "1h1m1s", 86400: "24h"} {
		if got := formatSeconds(in); got != want {
			t.Errorf("formatSeconds(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatProblem(t *testing.T) {
	err := explain(&client.ProblemError{Method: "POST", Path: "/v1/elevations", Problem: api.Problem{
		Title: "Policy violation", Status: 422, Code: api.CodePolicyViolation, Detail: "the request breaks the activation policy",
		RequestID: "req_1",
		Violations: []api.Violation{
			{Rule: "require_ticket", Pointer: "/ticket", Message: "a ticket is required"},
			{Pointer: "/requested_duration_seconds", Message: "at most 3600"},
		},
	}})
	want := "Policy violation (422 policy_violation): the request breaks the activation policy\n" +
		"  - require_ticket /ticket: a ticket is required\n" +
		"  - /requested_duration_seconds: at most 3600\n" +
		"  request id: req_1"
	if err.Error() != want {
		t.Fatalf("explain =\n%s\nwant\n%s", err, want)
	}
	var pe *client.ProblemError
	if !errors.As(err, &pe) || !errors.Is(err, err) {
		t.Fatal("explained error lost its problem")
	}
	plain := errors.New("x")
	var ce *cliError
	if errors.As(explain(plain), &ce) || !errors.Is(explain(plain), plain) || explain(nil) != nil {
		t.Fatal("non-problem errors must pass through")
	}
}

func TestPrintElevation(t *testing.T) {
	var b strings.Builder
	if err := printElevation(&b, pendingElevation(), testNow); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"ID:", "elv_1", "pending approval by: group:dba-leads", "jira:INC-4711", "actp_1 (version 4)",
		"Approval:", "1 of 2", "approved by user:carol: ok", "group:dba-leads", "user:ciso",
		"Timeline:", "2025-05-03 13:04:00 UTC", "requested", "user:alice",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
}

func TestRowsAlignWithHeaders(t *testing.T) {
	el := *pendingElevation()
	for name, rows := range map[string][][]string{
		"elevations": elevationRows([]api.Elevation{el}, testNow),
		"approvals":  approvalRows([]api.ApprovalRequest{{ID: "elv_1", Kind: "elevation", Summary: "s"}}, testNow),
		"active":     activeRows([]api.ActiveElevation{activeFromElevation(el, testNow)}, testNow),
	} {
		if len(rows) != 2 {
			t.Fatalf("%s: %d rows", name, len(rows))
		}
		if len(rows[0]) != len(rows[1]) {
			t.Errorf("%s: header has %d columns, row %d", name, len(rows[0]), len(rows[1]))
		}
	}
	a := activeRows([]api.ActiveElevation{activeFromElevation(el, testNow)}, testNow)[1]
	if a[6] != "user:carol" {
		t.Errorf("APPROVED BY = %q", a[6])
	}
}

// fakePamd serves canned responses and records requests, for CLI output tests
// that do not depend on the real server.
type fakePamd struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []string // "METHOD path?query body"
}

func newFakePamd(t *testing.T, handler func(n int, w http.ResponseWriter, r *http.Request)) *fakePamd {
	t.Helper()
	f := &fakePamd{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI()+" "+string(body))
		n := len(f.reqs)
		f.mu.Unlock()
		handler(n, w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakePamd) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func pinNow(t *testing.T) {
	old, oldPoll := nowFunc, pollInterval
	nowFunc, pollInterval = func() time.Time { return testNow }, 10*time.Millisecond
	t.Cleanup(func() { nowFunc, pollInterval = old, oldPoll })
}

func TestCLIProblemRendering(t *testing.T) {
	pinNow(t)
	f := newFakePamd(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", api.ContentTypeProblem)
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(api.Problem{Title: "Forbidden", Status: 403, Code: api.CodeSelfApprovalForbidden,
			Detail: "you requested this elevation", Violations: []api.Violation{{Rule: "approval.self_approval", Message: "requesters cannot approve their own requests"}}})
	})
	t.Setenv("PAM_TOKEN", "tok")
	_, _, err := run(t, "approve", "elv_1", "--reason", "ok", "--endpoint", f.URL)
	if err == nil {
		t.Fatal("approve succeeded")
	}
	want := "Forbidden (403 self_approval_forbidden): you requested this elevation\n  - approval.self_approval: requesters cannot approve their own requests"
	if err.Error() != want {
		t.Fatalf("error =\n%s\nwant\n%s", err, want)
	}
	if reqs := f.requests(); len(reqs) != 1 || reqs[0] != `POST /v1/elevations/elv_1/approve {"reason":"ok"}` {
		t.Fatalf("requests = %q", reqs)
	}
	// deny and revoke refuse to run without a reason, before any request.
	for _, action := range []string{"deny", "revoke"} {
		if _, _, err := run(t, action, "elv_1", "--endpoint", f.URL); err == nil || !strings.Contains(err.Error(), "--reason") {
			t.Errorf("%s without reason: %v", action, err)
		}
	}
	if n := len(f.requests()); n != 1 {
		t.Fatalf("requests = %d", n)
	}
}

func TestCLIElevateDryRun(t *testing.T) {
	pinNow(t)
	f := newFakePamd(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == api.PathRoles {
			writeJSON(w, 200, api.Page[api.Role]{Items: []api.Role{{Meta: api.Meta{ID: "role_9"}, RoleInput: api.RoleInput{Name: "db-admin"}}}})
			return
		}
		writeJSON(w, 200, api.PolicyEvaluation{Allowed: false, EligibleRoleAssignmentID: "era_1", ActivationPolicyID: "actp_1",
			PolicyVersion: 3, DurationSeconds: 7200, ApprovalRequired: true,
			Violations: []api.Violation{{Rule: "require_ticket", Pointer: "/ticket", Message: "a ticket is required"}}})
	})
	t.Setenv("PAM_TOKEN", "tok")
	out, _, err := run(t, "elevate", "--role", "db-admin", "--scope", "/orgs/acme", "--duration", "7200", "--dry-run", "--endpoint", f.URL)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("dry run of a refused request: err %v", err)
	}
	for _, want := range []string{"Allowed:", "no", "era_1", "actp_1 (version 3)", "2h", "required", "Violations:", "  - require_ticket /ticket: a ticket is required"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	reqs := f.requests()
	if len(reqs) != 2 || !strings.HasPrefix(reqs[0], "GET /v1/roles?name=db-admin") ||
		!strings.Contains(reqs[1], `"role_id":"role_9"`) || !strings.Contains(reqs[1], `"validate_only":true`) ||
		!strings.Contains(reqs[1], `"requested_duration_seconds":7200`) {
		t.Fatalf("requests = %q", reqs)
	}
	out, _, err = run(t, "elevate", "--eligibility", "era_1", "--dry-run", "--json", "--endpoint", f.URL)
	var ev api.PolicyEvaluation
	if err == nil || json.Unmarshal([]byte(out), &ev) != nil || ev.Violations[0].Rule != "require_ticket" {
		t.Fatalf("dry-run --json: %q, %v", out, err)
	}
}

func TestCLIElevateWait(t *testing.T) {
	pinNow(t)
	end := testNow.Add(time.Hour)
	f := newFakePamd(t, func(n int, w http.ResponseWriter, r *http.Request) {
		el := pendingElevation()
		switch {
		case r.Method == http.MethodPost:
			if r.Header.Get(api.HeaderIdempotencyKey) == "" {
				writeJSON(w, 400, api.Problem{Title: "no key", Status: 400, Code: "idempotency_key_missing"})
				return
			}
			writeJSON(w, 201, el)
		case n < 3:
			writeJSON(w, 200, el)
		default:
			el.State, el.StartAt, el.EndAt = api.StateActive, &testNow, &end
			writeJSON(w, 200, el)
		}
	})
	t.Setenv("PAM_TOKEN", "tok")
	out, stderr, err := run(t, "elevate", "--eligibility", "era_1", "--ticket", "jira:INC-4711", "--wait", "--timeout", "10s", "--endpoint", f.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Elevation elv_1: pending_approval\n  pending approval by: group:dba-leads (1 of 2 approvals") ||
		!strings.Contains(out, "Elevation elv_1: active\n  active until 14:05 UTC (1h left)") || !strings.Contains(stderr, "waiting") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", out, stderr)
	}
	if n := len(f.requests()); n != 3 {
		t.Fatalf("requests = %d, want POST + 2 polls", n)
	}

	// A wait that times out names who must approve, and fails.
	g := newFakePamd(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, pendingElevation()) })
	_, _, err = run(t, "elevate", "--eligibility", "era_1", "--wait", "--timeout", "50ms", "--endpoint", g.URL)
	if err == nil || !strings.Contains(err.Error(), "timed out") || !strings.Contains(err.Error(), "group:dba-leads") {
		t.Fatalf("timeout: %v", err)
	}
}

func TestCLIListsJSONAndQueries(t *testing.T) {
	pinNow(t)
	f := newFakePamd(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case api.PathApprovalRequests:
			exp := testNow.Add(time.Hour)
			writeJSON(w, 200, api.Page[api.ApprovalRequest]{Items: []api.ApprovalRequest{{Kind: "elevation", ID: "elv_1",
				RequestedBy: api.Actor{Type: "user", ID: "alice"}, Summary: "user:alice requests role role_1 at /orgs/acme for 3600s", ExpiresAt: &exp}}})
		case api.PathActiveElevations:
			if r.URL.Query().Get("page_token") == "" {
				writeJSON(w, 200, api.Page[api.ActiveElevation]{Items: []api.ActiveElevation{{ID: "elv_a"}}, NextPageToken: "p2"})
				return
			}
			writeJSON(w, 200, api.Page[api.ActiveElevation]{Items: []api.ActiveElevation{{ID: "elv_b", EndAt: testNow.Add(time.Hour),
				Approvals: []api.ApprovalDecision{{Approver: api.Actor{Type: "user", ID: "bob"}, Decision: api.DecisionApproved}}}}})
		default:
			writeJSON(w, 200, api.Page[api.Elevation]{Items: []api.Elevation{*pendingElevation()}})
		}
	})
	t.Setenv("PAM_TOKEN", "tok")
	out, _, err := run(t, "elevations", "list", "--active", "--scope-prefix", "/orgs", "--endpoint", f.URL)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[2], "user:bob") {
		t.Fatalf("active table:\n%s", out)
	}
	out, _, err = run(t, "elevations", "list", "--mine", "--state", "pending_approval", "--json", "--endpoint", f.URL)
	var els []api.Elevation
	if err != nil || json.Unmarshal([]byte(out), &els) != nil || len(els) != 1 || els[0].ID != "elv_1" {
		t.Fatalf("list --json: %q, %v", out, err)
	}
	out, _, err = run(t, "approvals", "list", "--endpoint", f.URL)
	if err != nil || !strings.Contains(out, "user:alice") || !strings.Contains(out, "14:05 UTC") || !strings.Contains(out, "for 3600s") {
		t.Fatalf("approvals list: %q, %v", out, err)
	}
	if _, _, err := run(t, "elevations", "list", "--active", "--state", "active", "--endpoint", f.URL); err == nil {
		t.Fatal("--active with --state accepted")
	}
	reqs := f.requests()
	want := []string{
		"GET /v1/active_elevations?page_size=1000&scope_prefix=%2Forgs ",
		"GET /v1/active_elevations?page_size=1000&page_token=p2&scope_prefix=%2Forgs ",
		"GET /v1/elevations?page_size=1000&relationship=requested_by_me&state=pending_approval ",
		"GET /v1/approval_requests?page_size=1000 ",
	}
	if strings.Join(reqs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(reqs, "\n"), strings.Join(want, "\n"))
	}
}

func TestCLIExtendAndShow(t *testing.T) {
	pinNow(t)
	f := newFakePamd(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, pendingElevation()) })
	t.Setenv("PAM_TOKEN", "tok")
	if _, _, err := run(t, "extend", "elv_1", "--duration", "30m", "--justification", "more", "--endpoint", f.URL); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "extend", "elv_1", "--duration", "soon", "--endpoint", f.URL); err == nil {
		t.Fatal("bad duration accepted")
	}
	out, _, err := run(t, "elevations", "show", "elv_1", "--endpoint", f.URL)
	if err != nil || !strings.Contains(out, "Timeline:") {
		t.Fatalf("show: %q %v", out, err)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0] != `POST /v1/elevations/elv_1/extend {"additional_seconds":1800,"justification":"more"}` ||
		!strings.HasPrefix(reqs[1], "GET /v1/elevations/elv_1 ") {
		t.Fatalf("requests = %q", reqs)
	}
}
