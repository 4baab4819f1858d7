package faultproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// backend counts the requests that reached it and echoes the method.
func backend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"method":"`+r.Method+`"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func start(t *testing.T, target string, cfg Config) *Proxy {
	t.Helper()
	p, err := New(target, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// noKeepAlive makes every request use a fresh connection, so a reset of one
// request cannot be confused with the transport's own reuse retries.
func noKeepAlive() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
}

func TestEachKind(t *testing.T) {
	for _, tc := range []struct {
		kind       Kind
		method     string
		wantStatus int // 0: a transport error
		wantHits   int64
	}{
		{Throttle, http.MethodGet, http.StatusTooManyRequests, 0},
		{Unavailable, http.MethodGet, http.StatusServiceUnavailable, 0},
		{Reset, http.MethodPost, 0, 0},
		{Delay, http.MethodGet, http.StatusOK, 1},
		{AfterCommit503, http.MethodPost, http.StatusServiceUnavailable, 1},
		{AfterCommitReset, http.MethodDelete, 0, 1},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			srv, hits := backend(t)
			cfg := Config{Seed: 1, MaxDelay: 20 * time.Millisecond}
			switch tc.kind {
			case Throttle:
				cfg.Throttle = 1
			case Unavailable:
				cfg.Unavailable = 1
			case Reset:
				cfg.Reset = 1
			case Delay:
				cfg.Delay = 1
			case AfterCommit503:
				cfg.AfterCommit503 = 1
			case AfterCommitReset:
				cfg.AfterCommitReset = 1
			}
			p := start(t, srv.URL, cfg)
			req, _ := http.NewRequest(tc.method, p.URL+"/v1/things", strings.NewReader(`{}`))
			resp, err := noKeepAlive().Do(req)
			if tc.wantStatus == 0 {
				if err == nil {
					_ = resp.Body.Close()
					t.Fatalf("want a transport error, got %d", resp.StatusCode)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
				}
				if tc.kind == Throttle || tc.kind == Unavailable {
					if ra := resp.Header.Get("Retry-After"); ra != "0" && ra != "1" {
						t.Fatalf("Retry-After %q, want 0 or 1", ra)
					}
					if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
						t.Fatalf("Content-Type %q", ct)
					}
				}
			}
			if got := hits.Load(); got != tc.wantHits {
				t.Fatalf("backend saw %d requests, want %d", got, tc.wantHits)
			}
			st := p.Stats()
			if st.Faults[tc.kind] != 1 || st.Total() != 1 || st.Requests != 1 {
				t.Fatalf("stats %s", st)
			}
		})
	}
}

// A read that draws an after-commit fault gets a plain 503 or reset.
func TestAfterCommitOnReads(t *testing.T) {
	srv, hits := backend(t)
	p := start(t, srv.URL, Config{Seed: 1, AfterCommit503: 0.5, AfterCommitReset: 0.5})
	for range 20 {
		resp, err := noKeepAlive().Get(p.URL + "/v1/x")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	st := p.Stats()
	if st.Total() != 20 || st.Faults[AfterCommit503]+st.Faults[AfterCommitReset] != 0 || hits.Load() != 0 || st.Writes != 0 {
		t.Fatalf("stats %s, hits %d", st, hits.Load())
	}
}

// The same seed and request order give the same faults; rates are honoured
// roughly; SetActive(false) turns injection off.
func TestSeededRates(t *testing.T) {
	srv, _ := backend(t)
	run := func() Stats {
		p := start(t, srv.URL, Uniform(42, 0.3))
		for range 300 {
			req, _ := http.NewRequest(http.MethodPost, p.URL+"/v1/x", strings.NewReader(`{}`))
			resp, err := noKeepAlive().Do(req)
			if err == nil {
				_ = resp.Body.Close()
			}
		}
		return p.Stats()
	}
	a, b := run(), run()
	if a.String() != b.String() {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a.Total() < 60 || a.Total() > 120 {
		t.Fatalf("30%% of 300 requests should fault, got %s", a)
	}
	for _, k := range Kinds {
		if a.Faults[k] == 0 {
			t.Fatalf("no %s fault in %s", k, a)
		}
	}

	p := start(t, srv.URL, Uniform(42, 1))
	p.SetActive(false)
	resp, err := noKeepAlive().Get(p.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if st := p.Stats(); st.Total() != 0 || st.Requests != 1 {
		t.Fatalf("inactive proxy injected faults: %s", st)
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := New("http://127.0.0.1:1", Config{Throttle: 0.6, Reset: 0.6}); err == nil {
		t.Fatal("rates over 1 accepted")
	}
	if _, err := New("http://127.0.0.1:1", Config{Delay: -0.1}); err == nil {
		t.Fatal("negative rate accepted")
	}
	if _, err := New("not a url", Config{}); err == nil {
		t.Fatal("bad target accepted")
	}
}

func TestSkip(t *testing.T) {
	srv, _ := backend(t)
	p := start(t, srv.URL, Config{Throttle: 1, Skip: func(r *http.Request) bool { return r.URL.Path == "/healthz" }})
	resp, err := noKeepAlive().Get(p.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("skipped request faulted: %d", resp.StatusCode)
	}
}

func TestCountsReplays(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Idempotency-Replayed", "true")
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	p := start(t, srv.URL, Config{})
	resp, err := noKeepAlive().Post(p.URL+"/v1/roles", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if st := p.Stats(); st.Replayed != 1 || st.Writes != 1 {
		t.Fatalf("stats %s", st)
	}
}
