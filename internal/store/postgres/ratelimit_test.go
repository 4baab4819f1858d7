package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/ratelimit"
	"github.com/accessplane/terraform-provider-pam/internal/store/postgres"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

func newClock() *clock.Fake { return clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

func limiter(t *testing.T, s *postgres.Store, name string, cfg ratelimit.Config) ratelimit.Limiter {
	t.Helper()
	l, err := s.Limiter(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func allow(t *testing.T, l ratelimit.Limiter, key string) (bool, time.Duration) {
	t.Helper()
	ok, wait, err := l.Allow(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok, wait
}

// The shared limiter behaves as the in-memory one (ratelimit tests) does:
// exactly Burst at once, then Rate per second, refusals not consuming.
func TestLimiterBurstThenRefill(t *testing.T) {
	s := open(t, testdb.NewPostgres(t, testdb.PostgresDSN(t)))
	clk := newClock()
	l := limiter(t, s, "requests", ratelimit.Config{Rate: 2, Burst: 5, Now: clk.Now})
	for i := range 5 {
		if ok, _ := allow(t, l, "token:a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := allow(t, l, "token:a")
	if ok {
		t.Fatal("6th request at the same instant allowed; burst is 5")
	}
	if wait != 500*time.Millisecond {
		t.Errorf("retry after %v, want 500ms at 2/s", wait)
	}
	if secs := ratelimit.RetryAfterSeconds(wait); secs < 1 {
		t.Errorf("Retry-After %d s, want >= 1", secs)
	}
	for range 10 { // refused requests do not push the next allowed one out
		allow(t, l, "token:a")
	}
	clk.Advance(499 * time.Millisecond)
	if ok, wait := allow(t, l, "token:a"); ok || wait != time.Millisecond {
		t.Errorf("1 ms early: ok=%v wait=%v, want refused for 1ms", ok, wait)
	}
	clk.Advance(time.Millisecond)
	if ok, _ := allow(t, l, "token:a"); !ok {
		t.Error("refused after waiting the advertised time")
	}
	if ok, _ := allow(t, l, "token:a"); ok {
		t.Error("second request after one refill interval allowed")
	}
	for i := range 20 { // sustained rate: 10 s at exactly 2/s is all allowed
		clk.Advance(500 * time.Millisecond)
		if ok, _ := allow(t, l, "token:a"); !ok {
			t.Fatalf("sustained request %d at the configured rate refused", i)
		}
	}
	// Idle long enough, the bucket is full again: a whole burst.
	clk.Advance(time.Hour)
	for i := range 5 {
		if ok, _ := allow(t, l, "token:a"); !ok {
			t.Fatalf("request %d of the burst after an idle hour refused", i+1)
		}
	}
	if ok, _ := allow(t, l, "token:a"); ok {
		t.Error("burst after idling is more than 5")
	}
}

func TestLimiterKeysAndNamesAreIndependent(t *testing.T) {
	s := open(t, testdb.NewPostgres(t, testdb.PostgresDSN(t)))
	clk := newClock()
	req := limiter(t, s, "requests", ratelimit.Config{Rate: 1, Burst: 1, Now: clk.Now})
	auth := limiter(t, s, "auth_failures", ratelimit.Config{Rate: 1, Burst: 1, Now: clk.Now})
	if ok, _ := allow(t, req, "addr:10.0.0.1"); !ok {
		t.Fatal("first request of 10.0.0.1 refused")
	}
	if ok, _ := allow(t, req, "addr:10.0.0.1"); ok {
		t.Fatal("second request of 10.0.0.1 allowed")
	}
	if ok, _ := allow(t, req, "addr:10.0.0.2"); !ok {
		t.Error("10.0.0.2 refused because 10.0.0.1 is out of requests")
	}
	if ok, _ := allow(t, auth, "addr:10.0.0.1"); !ok {
		t.Error("the auth-failure budget of 10.0.0.1 is spent by its requests: the limiters share a row")
	}
}

// Two stores on one database are two replicas: they share the allowance.
func TestLimiterSharedByReplicas(t *testing.T) {
	dsn := testdb.NewPostgres(t, testdb.PostgresDSN(t))
	a, b := open(t, dsn), open(t, dsn)
	clk := newClock()
	cfg := ratelimit.Config{Rate: 5, Burst: 10, Now: clk.Now}
	la, lb := limiter(t, a, "requests", cfg), limiter(t, b, "requests", cfg)
	// 100 requests from 10 goroutines alternating between the replicas at
	// one instant: exactly the burst gets through.
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for i := range 10 {
				l := la
				if (g+i)%2 == 1 {
					l = lb
				}
				ok, _, err := l.Allow(context.Background(), "token:x")
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Errorf("%d of 100 concurrent requests on 2 replicas allowed, want the burst, 10", n)
	}
	clk.Advance(time.Second)
	n := 0
	for i := range 20 {
		if ok, _ := allow(t, []ratelimit.Limiter{la, lb}[i%2], "token:x"); ok {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d allowed one second later, want the rate, 5", n)
	}
}

func TestPurgeRateLimits(t *testing.T) {
	s := open(t, testdb.NewPostgres(t, testdb.PostgresDSN(t)))
	clk := newClock()
	l := limiter(t, s, "requests", ratelimit.Config{Rate: 1, Burst: 10, Now: clk.Now})
	for i := range 50 {
		allow(t, l, fmt.Sprint("addr:10.0.0.", i))
	}
	allow(t, l, "token:busy")
	for range 9 {
		allow(t, l, "token:busy") // full in 10 s
	}
	clk.Advance(5 * time.Second)
	if n, err := s.PurgeRateLimits(context.Background(), clk.Now()); err != nil || n != 50 {
		t.Fatalf("purged %d, %v; want the 50 full buckets", n, err)
	}
	// The busy key kept its state: 5 s refilled 5 of 10.
	got := 0
	for range 20 {
		if ok, _ := allow(t, l, "token:busy"); ok {
			got++
		}
	}
	if got != 5 {
		t.Errorf("busy key allowed %d after the purge, want 5: its row was lost", got)
	}
}

func TestLimiterErrorsWhenTheDatabaseIsGone(t *testing.T) {
	s, err := postgres.Open(context.Background(), testdb.NewPostgres(t, testdb.PostgresDSN(t)), postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	l := limiter(t, s, "requests", ratelimit.Config{Rate: 1})
	_ = s.Close()
	if _, _, err := l.Allow(context.Background(), "k"); err == nil {
		t.Fatal("no error from a closed store's limiter")
	}
	f := &ratelimit.FailOpen{Limiter: l}
	if ok, _, err := f.Allow(context.Background(), "k"); !ok || err != nil {
		t.Errorf("FailOpen over a dead database: ok=%v err=%v, want allowed", ok, err)
	}
}

func TestLimiterConfig(t *testing.T) {
	s := open(t, testdb.NewPostgres(t, testdb.PostgresDSN(t)))
	if _, err := s.Limiter("", ratelimit.Config{Rate: 1}); err == nil {
		t.Error("unnamed limiter accepted")
	}
	if _, err := s.Limiter("x", ratelimit.Config{Rate: 0}); err == nil {
		t.Error("rate 0 accepted")
	}
	// Extreme figures stay within BIGINT.
	for _, cfg := range []ratelimit.Config{{Rate: 1e-9, Burst: 1 << 30}, {Rate: 1e12, Burst: 1}} {
		l := limiter(t, s, "extreme", cfg)
		if _, _, err := l.Allow(context.Background(), fmt.Sprint(cfg.Rate)); err != nil {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}

// BenchmarkLimiterAllow is the cost of one rate check against the database
// (README, "Running pamd highly available"): sequential, one key (the hot
// row of a busy token), and parallel over distinct keys.
func BenchmarkLimiterAllow(b *testing.B) {
	s, err := postgres.Open(context.Background(), testdb.NewPostgres(b, testdb.PostgresDSN(b)), postgres.Options{MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	l, err := s.Limiter("bench", ratelimit.Config{Rate: 1e9, Burst: 1000})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("one_key", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := l.Allow(context.Background(), "token:hot"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel_keys", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			key := fmt.Sprint("token:", n.Add(1))
			for pb.Next() {
				if _, _, err := l.Allow(context.Background(), key); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
