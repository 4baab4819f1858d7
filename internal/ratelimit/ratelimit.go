// Package ratelimit decides whether a caller may make another request now.
// It knows nothing of HTTP: callers name a key (a token id, a client address)
// and get a yes, or a no with how long to wait. The in-memory Memory limiter
// keeps one token bucket per key in this process; the PostgreSQL store
// implements the same Limiter with a table that every pamd replica shares
// (postgres.Store.Limiter), so that N replicas allow one limit, not N. This
// package stays free of database drivers.
package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter rations requests per key.
type Limiter interface {
	// Allow takes one request from key's allowance. When none is left it
	// returns false and how long until one is (always > 0). err is set only
	// when the limiter could not decide (its database is unreachable); ok is
	// then meaningless and the caller chooses (see FailOpen).
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// Config of a Memory limiter.
type Config struct {
	// Rate is the sustained requests per second per key; must be > 0.
	Rate float64
	// Burst is how many requests a key may make at once after being idle;
	// 0 means ceil(Rate), at least 1.
	Burst int
	// MaxKeys bounds the buckets kept (0 = DefaultMaxKeys). Idle buckets
	// are dropped first; see Memory.
	MaxKeys int
	// Now is the clock (nil = time.Now); tests inject a fake one.
	Now func() time.Time
}

// DefaultMaxKeys bounds memory at roughly 100 bytes per bucket: ~10 MB.
const DefaultMaxKeys = 100_000

// Memory is a Limiter with one token bucket per key in this process.
//
// Memory stays bounded: a bucket that has been idle long enough to refill
// completely is indistinguishable from a new one, so dropping it loses
// nothing; such buckets are swept once a minute (of the injected clock) and
// whenever MaxKeys is reached. If MaxKeys buckets are all still refilling
// (someone cycling through addresses), the least recently used half is
// dropped: those keys start again with a full bucket, which errs towards
// letting requests through rather than refusing callers never seen before.
type Memory struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time
	// idle is how long a bucket takes to refill completely.
	idle time.Duration

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// sweepEvery is how often idle buckets are dropped even below MaxKeys.
const sweepEvery = time.Minute

// Normalize checks cfg and fills in its defaults (Burst, MaxKeys, Now); every
// Limiter implementation starts with it, so that they agree on what a
// configuration means.
func Normalize(cfg Config) (Config, error) {
	if cfg.Rate <= 0 || math.IsInf(cfg.Rate, 0) || math.IsNaN(cfg.Rate) {
		return cfg, errors.New("ratelimit: rate must be a positive number of requests per second")
	}
	if cfg.Burst < 0 {
		return cfg, errors.New("ratelimit: burst must not be negative")
	}
	if cfg.Burst == 0 {
		cfg.Burst = max(1, int(math.Ceil(cfg.Rate)))
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

// NewMemory returns an in-memory limiter.
func NewMemory(cfg Config) (*Memory, error) {
	cfg, err := Normalize(cfg)
	if err != nil {
		return nil, err
	}
	return &Memory{
		limit: rate.Limit(cfg.Rate), burst: cfg.Burst, maxKeys: cfg.MaxKeys, now: cfg.Now,
		idle:    time.Duration(float64(cfg.Burst) / cfg.Rate * float64(time.Second)),
		buckets: map[string]*bucket{},
	}, nil
}

// Allow implements Limiter; it never fails.
func (m *Memory) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	ok, wait := m.allow(key)
	return ok, wait, nil
}

func (m *Memory) allow(key string) (bool, time.Duration) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.lastSweep) >= sweepEvery {
		m.sweep(now)
	}
	b, ok := m.buckets[key]
	if !ok {
		if len(m.buckets) >= m.maxKeys {
			m.sweep(now)
			if len(m.buckets) >= m.maxKeys {
				m.evictOldest(len(m.buckets) / 2)
			}
		}
		b = &bucket{lim: rate.NewLimiter(m.limit, m.burst)}
		m.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() { // only when burst < 1, which NewMemory rules out
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		// Give the token back: a refused request must not push the next
		// allowed one further out.
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len is the number of buckets held (for tests and metrics).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buckets)
}

// sweep drops buckets idle long enough to be full again. Called with mu held.
func (m *Memory) sweep(now time.Time) {
	m.lastSweep = now
	for k, b := range m.buckets {
		if now.Sub(b.last) >= m.idle {
			delete(m.buckets, k)
		}
	}
}

// evictOldest drops the n least recently used buckets. Called with mu held.
func (m *Memory) evictOldest(n int) {
	type kv struct {
		key  string
		last time.Time
	}
	all := make([]kv, 0, len(m.buckets))
	for k, b := range m.buckets {
		all = append(all, kv{k, b.last})
	}
	slices.SortFunc(all, func(a, b kv) int { return a.last.Compare(b.last) })
	for _, e := range all[:n] {
		delete(m.buckets, e.key)
	}
}

// RetryAfterSeconds rounds a wait up to whole seconds for a Retry-After
// header, at least 1: a client told "0" would retry at once and be refused
// again.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// DefaultFailOpenLogEvery is how often FailOpen logs while errors persist.
const DefaultFailOpenLogEvery = 30 * time.Second

// FailOpen wraps a Limiter that can fail (a shared one, in the database) so
// that an error allows the request instead of refusing it, and is logged at
// most once per Every with the number of errors since the last log.
//
// Failing open is deliberate. The limiter protects pamd from one caller's
// excess; it is not an access control. When its database cannot answer,
// refusing everyone (fail closed) would turn a database hiccup into a total
// outage of the API, including of requests that need no write; and when the
// database is really down, requests that need it already get 503 from the
// store, so nothing is gained by adding 429s. Availability of the API beats
// the accuracy of a rate count for the seconds the database is away. A
// request whose own context ended (the client hung up) is allowed without a
// log: that is no database fault.
type FailOpen struct {
	Limiter Limiter
	Logger  *slog.Logger // nil = discard
	// Every is the logging interval (0 = DefaultFailOpenLogEvery).
	Every time.Duration
	// Now is the clock for the interval (nil = time.Now).
	Now func() time.Time

	mu      sync.Mutex
	last    time.Time
	dropped int
}

// Allow implements Limiter; its error is always nil.
func (f *FailOpen) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	ok, wait, err := f.Limiter.Allow(ctx, key)
	if err == nil {
		return ok, wait, nil
	}
	if ctx.Err() == nil {
		f.logError(err)
	}
	return true, 0, nil
}

func (f *FailOpen) logError(err error) {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	every := f.Every
	if every <= 0 {
		every = DefaultFailOpenLogEvery
	}
	t := now()
	f.mu.Lock()
	if !f.last.IsZero() && t.Sub(f.last) < every {
		f.dropped++
		f.mu.Unlock()
		return
	}
	n := f.dropped
	f.last, f.dropped = t, 0
	f.mu.Unlock()
	if f.Logger != nil {
		f.Logger.Warn("rate limiter unavailable: allowing requests unlimited until it answers",
			"error", err.Error(), "errors_not_logged", n, "log_every", every.String())
	}
}
