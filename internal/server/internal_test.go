package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
)

func TestPointerFromLocation(t *testing.T) {
	for in, want := range map[string]string{
		"body.assignable_scopes[0]": "/assignable_scopes/0",
		"body.labels.team":          "/labels/team",
		"body.a[2].b[10]":           "/a/2/b/10",
		"body":                      "",
		"query.page_size":           "query:page_size",
		"header.If-Match":           "header:If-Match",
		"path.id":                   "path:id",
	} {
		if got := pointerFromLocation(in); got != want {
			t.Errorf("pointerFromLocation(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPageTokens(t *testing.T) {
	fc := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	p := pager{key: []byte(strings.Repeat("k", 32)), now: fc.Now}
	tok := p.encode("roles", "name=", "role_X")
	if after, err := p.decode(tok, "roles", "name="); err != nil || after != "role_X" {
		t.Fatalf("round trip: %q %v", after, err)
	}
	other := pager{key: []byte(strings.Repeat("o", 32)), now: fc.Now}
	if _, err := other.decode(tok, "roles", "name="); err == nil {
		t.Fatal("token accepted under another key")
	}
	_, sig, _ := strings.Cut(tok, ".")
	// Forge a payload that points elsewhere but keep the old signature.
	forged, _ := json.Marshal(cursor{Collection: "roles", Filter: "name=", After: "role_A", Expires: fc.Now().Add(time.Hour).Unix()})
	for _, bad := range []string{"", "x", tok + "A", strings.Replace(tok, ".", "", 1),
		b64(forged) + "." + sig} {
		if _, err := p.decode(bad, "roles", "name="); err == nil {
			t.Errorf("tampered token %q accepted", bad)
		}
	}
	if _, err := p.decode(tok, "audit_events", "name="); err == nil {
		t.Error("token accepted for another collection")
	}
	if _, err := p.decode(tok, "roles", "name=x"); err == nil {
		t.Error("token accepted for another filter")
	}
	fc.Advance(pageTokenTTL + time.Second)
	if _, err := p.decode(tok, "roles", "name="); err == nil {
		t.Error("expired token accepted")
	}
}

func TestParseIfMatch(t *testing.T) {
	if v, err := ifMatch(`"7"`); err != nil || v == nil || *v != 7 {
		t.Fatalf(`ifMatch("7") = %v, %v`, v, err)
	}
	if v, err := ifMatch(""); err != nil || v != nil {
		t.Fatal("empty If-Match should mean no precondition")
	}
	if v, err := ifMatch("*"); err != nil || v != nil {
		t.Fatal("* should mean any version")
	}
	for _, bad := range []string{"7", `"0"`, `"-1"`, `"x"`, `"1", "2"`} {
		if _, err := ifMatch(bad); err == nil {
			t.Errorf("ifMatch(%q) accepted", bad)
		}
	}
}

func TestPanicBecomesProblemWithoutDetails(t *testing.T) {
	st := testdb.Open(t)
	s, err := New(Config{Store: st, PageTokenKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	h := s.observe(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret database password in panic")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/v1/roles", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != api.ContentTypeProblem {
		t.Fatalf("panic answered %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var p api.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Code != api.CodeInternal || strings.Contains(rec.Body.String(), "secret") || p.RequestID == "" {
		t.Fatalf("panic problem leaks or lacks fields: %s", rec.Body.String())
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// brokenLimiter cannot decide: its database is away.
type brokenLimiter struct{ calls int }

func (b *brokenLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	b.calls++
	return false, time.Hour, errors.New("connection refused")
}

// A limiter that fails lets requests through (fail open): the public
// description and a refused credential (audited, 401) are answered as if
// no limit applied, never 429.
func TestFailingLimiterAllows(t *testing.T) {
	st := testdb.Open(t)
	req, auth := &brokenLimiter{}, &brokenLimiter{}
	s, err := New(Config{Store: st, PageTokenKey: []byte(strings.Repeat("k", 32)), RateLimiter: req, AuthFailureLimiter: auth})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, api.PathPrefix+"/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("openapi with a failing limiter: %d, want 200", rec.Code)
	}
	rec = httptest.NewRecorder()
	r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/v1/roles", nil)
	r.Header.Set("Authorization", "Bearer pamd_unknown_token_0123456789abcdefghijklmnop")
	s.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("refused credential with a failing budget: %d, want 401", rec.Code)
	}
	if req.calls != 1 || auth.calls != 1 {
		t.Errorf("limiters asked %d and %d times, want 1 each", req.calls, auth.calls)
	}
}
