// Package faultproxy is a test helper: a reverse proxy in front of a pamd URL
// that injects the faults a real network and a loaded server produce — 429 and
// 503 with Retry-After, reset connections, slow responses — at configurable
// rates drawn from a seeded RNG, so a failing run can be repeated.
//
// Its most important fault is the one after the commit: the request is
// forwarded, the server commits the write, and the proxy throws the real
// response away and answers 503 or resets the connection instead. A client
// that retries such a create must be deduplicated by its Idempotency-Key, or
// the server ends up with two objects.
package faultproxy

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Kind names one kind of injected fault.
type Kind string

// The faults the proxy injects.
const (
	// Throttle answers 429 with Retry-After 0 or 1, without forwarding.
	Throttle Kind = "throttle_429"
	// Unavailable answers 503 with Retry-After 0 or 1, without forwarding.
	Unavailable Kind = "unavailable_503"
	// Reset closes the connection without a response, without forwarding.
	Reset Kind = "reset_before"
	// Delay forwards the request after a random pause of up to MaxDelay.
	Delay Kind = "delay"
	// AfterCommit503 forwards the request, discards the server's response and
	// answers 503 (no Retry-After, like a gateway that lost the upstream).
	AfterCommit503 Kind = "after_commit_503"
	// AfterCommitReset forwards the request, discards the server's response
	// and closes the connection.
	AfterCommitReset Kind = "after_commit_reset"
)

// Kinds lists every kind, in a stable order for reports.
var Kinds = []Kind{Throttle, Unavailable, Reset, Delay, AfterCommit503, AfterCommitReset}

// Config sets the probability of each fault per request. The rates are
// independent slices of one uniform draw, so their sum (at most 1) is the
// overall fault rate.
type Config struct {
	// Seed makes the fault sequence repeatable (for a given request order).
	Seed uint64
	// Throttle, Unavailable, Reset and Delay apply to every request.
	Throttle    float64
	Unavailable float64
	Reset       float64
	Delay       float64
	// AfterCommit503 and AfterCommitReset are for writes (POST, PUT, PATCH,
	// DELETE); a read that draws one gets, and is counted as, Unavailable or
	// Reset instead, so the overall rate is the same for reads and writes.
	AfterCommit503   float64
	AfterCommitReset float64
	// MaxDelay bounds the pause of a Delay fault; zero means 200ms.
	MaxDelay time.Duration
	// Skip, when it returns true, exempts a request from faults.
	Skip func(*http.Request) bool
}

// Uniform returns a Config that spreads rate evenly over the six kinds.
func Uniform(seed uint64, rate float64) Config {
	r := rate / float64(len(Kinds))
	return Config{Seed: seed, Throttle: r, Unavailable: r, Reset: r, Delay: r, AfterCommit503: r, AfterCommitReset: r}
}

func (c Config) validate() error {
	sum := 0.0
	for _, v := range []float64{c.Throttle, c.Unavailable, c.Reset, c.Delay, c.AfterCommit503, c.AfterCommitReset} {
		if v < 0 || v > 1 {
			return fmt.Errorf("faultproxy: rate %v is not in [0, 1]", v)
		}
		sum += v
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("faultproxy: the rates add up to %v, more than 1", sum)
	}
	return nil
}

// Stats counts the requests the proxy saw and the faults it injected.
type Stats struct {
	Requests int64
	// Writes counts POST, PUT, PATCH and DELETE requests.
	Writes int64
	// Replayed counts server responses marked "Idempotency-Replayed: true"
	// (retries the server deduplicated), including any the proxy then lost.
	Replayed int64
	Faults   map[Kind]int64
}

// Total is the number of injected faults of every kind.
func (s Stats) Total() int64 {
	var n int64
	for _, v := range s.Faults {
		n += v
	}
	return n
}

// String renders the counts on one line, kinds in a stable order.
func (s Stats) String() string {
	parts := make([]string, 0, len(s.Faults))
	for _, k := range Kinds {
		parts = append(parts, fmt.Sprintf("%s=%d", k, s.Faults[k]))
	}
	rate := 0.0
	if s.Requests > 0 {
		rate = 100 * float64(s.Total()) / float64(s.Requests)
	}
	return fmt.Sprintf("requests=%d writes=%d replayed=%d faults=%d (%.1f%%) %s",
		s.Requests, s.Writes, s.Replayed, s.Total(), rate, strings.Join(parts, " "))
}

// Proxy is a running fault-injecting reverse proxy.
type Proxy struct {
	// URL is the proxy's base URL, to give clients instead of the target's.
	URL string

	cfg    Config
	srv    *httptest.Server
	rp     *httputil.ReverseProxy
	mu     sync.Mutex
	rng    *rand.Rand
	stats  Stats
	active bool
}

// New starts a proxy in front of target (a base URL such as pamd's).
func New(target string, cfg Config) (*Proxy, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not a base URL", target)
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 200 * time.Millisecond
	}
	p := &Proxy{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), //nolint:gosec // repeatable test faults, not security
		stats:  Stats{Faults: map[Kind]int64{}},
		active: true,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) },
		// Flush at once so a streamed response is not held back.
		FlushInterval: -1,
	}
	p.rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Header.Get("Idempotency-Replayed") == "true" {
			p.mu.Lock()
			p.stats.Replayed++
			p.mu.Unlock()
		}
		return nil
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() { p.srv.Close() }

// SetActive turns fault injection on or off; when off the proxy only forwards.
func (p *Proxy) SetActive(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active = on
}

// Stats returns a copy of the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := Stats{Requests: p.stats.Requests, Writes: p.stats.Writes, Replayed: p.stats.Replayed, Faults: make(map[Kind]int64, len(Kinds))}
	for _, k := range Kinds {
		out.Faults[k] = p.stats.Faults[k]
	}
	return out
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// pick draws the fault for one request ("" for none) and its parameters, and
// counts it.
func (p *Proxy) pick(r *http.Request) (kind Kind, retryAfter int, delay time.Duration) {
	write := isWrite(r.Method)
	skip := p.cfg.Skip != nil && p.cfg.Skip(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests++
	if write {
		p.stats.Writes++
	}
	if !p.active || skip {
		return "", 0, 0
	}
	x := p.rng.Float64()
	retryAfter = p.rng.IntN(2)
	delay = time.Duration(p.rng.Int64N(int64(p.cfg.MaxDelay) + 1))
	c := p.cfg
	for _, slot := range []struct {
		k     Kind
		rate  float64
		write bool
	}{
		{Throttle, c.Throttle, false},
		{Unavailable, c.Unavailable, false},
		{Reset, c.Reset, false},
		{Delay, c.Delay, false},
		{AfterCommit503, c.AfterCommit503, true},
		{AfterCommitReset, c.AfterCommitReset, true},
	} {
		if x < slot.rate {
			k := slot.k
			if slot.write && !write {
				// On a read a lost response is just a 503 or a reset.
				k = map[Kind]Kind{AfterCommit503: Unavailable, AfterCommitReset: Reset}[k]
			}
			p.stats.Faults[k]++
			return k, retryAfter, delay
		}
		x -= slot.rate
	}
	return "", 0, 0
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	kind, retryAfter, delay := p.pick(r)
	switch kind {
	case Throttle:
		refuse(w, http.StatusTooManyRequests, "rate_limited", retryAfter)
	case Unavailable:
		refuse(w, http.StatusServiceUnavailable, "unavailable", retryAfter)
	case Reset:
		// Drain nothing: the server never sees the request.
		reset(w)
	case Delay:
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		p.rp.ServeHTTP(w, r)
	case AfterCommit503, AfterCommitReset:
		// Let the server process (and commit) the request, then lose the answer.
		p.rp.ServeHTTP(httptest.NewRecorder(), r)
		if kind == AfterCommitReset {
			reset(w)
			return
		}
		refuse(w, http.StatusServiceUnavailable, "unavailable", -1)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// refuse writes a problem+json error; retryAfter < 0 omits the header.
func refuse(w http.ResponseWriter, status int, code string, retryAfter int) {
	w.Header().Set("Content-Type", "application/problem+json")
	if retryAfter >= 0 {
		w.Header().Set("Retry-After", fmt.Sprint(retryAfter))
	}
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"type":"about:blank","title":%q,"status":%d,"code":%q,"detail":"injected by faultproxy"}`,
		http.StatusText(status), status, code)
}

// reset closes the client connection without writing a response. With
// SO_LINGER 0 where available the peer sees a RST, otherwise an EOF; either
// way the client gets a transport error and no status.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 cannot be hijacked; abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
