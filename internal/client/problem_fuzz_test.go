package client

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// FuzzDecodeProblem feeds the problem+json decoder arbitrary bodies, media
// types and statuses: it never panics, always yields a *ProblemError whose
// status is the status line's, and maps the sentinels exactly as documented.
// It also checks that peeking at a 409's problem code (for the retry policy)
// leaves the body intact, and that Retry-After handling stays bounded.
func FuzzDecodeProblem(f *testing.F) {
	seeds := []struct {
		status      uint16
		contentType string
		body        string
		retryAfter  string
	}{
		{404, api.ContentTypeProblem, `{"type":"https://pamd.dev/problems/not_found","title":"Not Found","status":404,"code":"not_found"}`, ""},
		{409, api.ContentTypeProblem, `{"title":"Conflict","status":409,"code":"idempotency_in_progress"}`, "1"},
		{412, "application/problem+json; charset=utf-8", `{"title":"Precondition Failed","code":"etag_mismatch","status":200}`, ""},
		{401, "application/json", `{"code":"unauthenticated"}`, ""},
		{403, api.ContentTypeProblem, `{"code":"forbidden","errors":[{"pointer":"/x","code":"y","message":"z"}]}`, ""},
		{500, api.ContentTypeProblem, `{"code":"unauthenticated","title":"liar"}`, ""},
		{502, "text/html", "<html><body>Bad Gateway</body></html>", ""},
		{503, api.ContentTypeProblem, `{"title":`, "Wed, 21 Oct 2015 07:28:00 GMT"},
		{429, "", "", "99999999999999999999"},
		{422, api.ContentTypeProblem, `{"errors":null,"title":"","code":""}`, "-1"},
		{418, "application/problem+json;;", "\xff\xfe\x00garbage", " 0 "},
		{400, api.ContentTypeProblem, `[]`, ""},
		{599, api.ContentTypeProblem, `null`, ""},
		{200, api.ContentTypeProblem, `{"code":"not_found"}`, ""},
	}
	for _, s := range seeds {
		f.Add(s.status, s.contentType, []byte(s.body), s.retryAfter)
	}
	f.Fuzz(func(t *testing.T, rawStatus uint16, contentType string, body []byte, retryAfterHeader string) {
		status := 100 + int(rawStatus)%500
		mk := func() *http.Response {
			h := http.Header{}
			h.Set("Content-Type", contentType)
			h.Set(api.HeaderRetryAfter, retryAfterHeader)
			h.Set(api.HeaderRequestID, "req_fuzz")
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body))}
		}

		perr := decodeProblem(mk(), body, request{method: http.MethodPost, path: "/v1/roles"})
		if perr == nil {
			t.Fatal("decodeProblem returned nil")
		}
		p := perr.Problem
		if p.Status != status {
			t.Fatalf("problem status %d, status line %d", p.Status, status)
		}
		if p.Title == "" && http.StatusText(status) != "" {
			t.Fatalf("problem without a title for %d", status)
		}
		if p.RequestID == "" {
			t.Fatal("problem lost the request id")
		}
		if c := codeForStatus(status); c != "" && p.Code == "" {
			t.Fatalf("status %d should default its code to %q", status, c)
		}
		msg := perr.Error()
		if !strings.HasPrefix(msg, "pamd POST /v1/roles: ") {
			t.Fatalf("error message %q", msg)
		}
		if perr.Code() != p.Code || ProblemCode(perr) != p.Code {
			t.Fatal("Code and ProblemCode disagree with the problem")
		}
		var err error = perr
		for _, c := range []struct {
			sentinel error
			want     bool
		}{
			{ErrNotFound, status == http.StatusNotFound},
			{ErrConflict, status == http.StatusConflict},
			{ErrPreconditionFailed, status == http.StatusPreconditionFailed},
			{ErrUnauthorized, status == http.StatusUnauthorized || p.Code == api.CodeUnauthenticated},
			{ErrForbidden, status == http.StatusForbidden || p.Code == api.CodeForbidden},
		} {
			if got := errors.Is(err, c.sentinel); got != c.want {
				t.Fatalf("errors.Is(%d %q, %v) = %v, want %v", status, p.Code, c.sentinel, got, c.want)
			}
		}
		// At most one of the status-only sentinels matches.
		n := 0
		for _, s := range []error{ErrNotFound, ErrConflict, ErrPreconditionFailed} {
			if errors.Is(err, s) {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("status %d matches %d sentinels", status, n)
		}

		// The retry policy peeks at the code and must put the body back.
		resp := mk()
		_ = problemCodeOf(resp)
		rest, _ := io.ReadAll(resp.Body)
		if !bytes.Equal(rest, body) {
			t.Fatalf("problemCodeOf consumed the body: %q -> %q", body, rest)
		}

		// Retry-After never yields a negative wait; backoff caps it.
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if d, ok := retryAfter(retryAfterHeader, now); ok && d < 0 {
			t.Fatalf("retryAfter(%q) = %v", retryAfterHeader, d)
		}
		const minWait, maxWait = 10 * time.Millisecond, 2 * time.Second
		for attempt := range 40 {
			if w := backoff(minWait, maxWait, attempt, mk()); w < 0 || w > maxWait {
				t.Fatalf("backoff(attempt %d, Retry-After %q) = %v, outside [0, %v]", attempt, retryAfterHeader, w, maxWait)
			}
		}
	})
}
