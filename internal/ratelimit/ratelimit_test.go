package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/ratelimit"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newLimiter(t *testing.T, cfg ratelimit.Config) (*ratelimit.Memory, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg.Now = clk.now
	m, err := ratelimit.NewMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, clk
}

func TestBurstThenRefill(t *testing.T) {
	m, clk := newLimiter(t, ratelimit.Config{Rate: 2, Burst: 5})
	for i := range 5 {
		if ok, _ := m.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := m.Allow("a")
	if ok {
		t.Fatal("6th request at the same instant allowed; burst is 5")
	}
	if wait != 500*time.Millisecond {
		t.Errorf("retry after %v, want 500ms at 2/s", wait)
	}
	// Refused requests do not consume: after 500 ms exactly one is allowed.
	for range 10 {
		m.Allow("a")
	}
	clk.advance(500 * time.Millisecond)
	if ok, _ := m.Allow("a"); !ok {
		t.Error("refused after waiting the advertised time")
	}
	if ok, _ := m.Allow("a"); ok {
		t.Error("second request after one refill interval allowed")
	}
	// Sustained rate: 10 s at exactly 2/s is all allowed.
	for i := range 20 {
		clk.advance(500 * time.Millisecond)
		if ok, _ := m.Allow("a"); !ok {
			t.Fatalf("sustained request %d at the configured rate refused", i)
		}
	}
}

func TestKeysAreIndependent(t *testing.T) {
	m, _ := newLimiter(t, ratelimit.Config{Rate: 1, Burst: 1})
	if ok, _ := m.Allow("tok_a"); !ok {
		t.Fatal("first request of a refused")
	}
	if ok, _ := m.Allow("tok_a"); ok {
		t.Fatal("second request of a allowed")
	}
	if ok, _ := m.Allow("tok_b"); !ok {
		t.Error("b refused because a is out of requests")
	}
}

func TestIdleBucketsAreDropped(t *testing.T) {
	m, clk := newLimiter(t, ratelimit.Config{Rate: 10, Burst: 10})
	for i := range 100 {
		m.Allow(fmt.Sprint("ip-", i))
	}
	if n := m.Len(); n != 100 {
		t.Fatalf("%d buckets, want 100", n)
	}
	clk.advance(time.Minute) // every bucket refilled (1 s) and a sweep is due
	m.Allow("fresh")
	if n := m.Len(); n != 1 {
		t.Errorf("%d buckets after the sweep, want 1 (the fresh one)", n)
	}
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	m, clk := newLimiter(t, ratelimit.Config{Rate: 0.01, Burst: 1, MaxKeys: 64})
	for i := range 1000 {
		clk.advance(time.Millisecond)
		m.Allow(fmt.Sprint("ip-", i))
		if n := m.Len(); n > 64 {
			t.Fatalf("%d buckets after %d keys, max 64", n, i+1)
		}
	}
	// The most recent key kept its (empty) bucket: the eviction took the oldest.
	if ok, _ := m.Allow("ip-999"); ok {
		t.Error("the most recent key was evicted")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {90 * time.Second, 90}} {
		if got := ratelimit.RetryAfterSeconds(c.d); got != c.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []ratelimit.Config{{Rate: 0}, {Rate: -1}, {Rate: 1, Burst: -1}} {
		if _, err := ratelimit.NewMemory(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	m, err := ratelimit.NewMemory(ratelimit.Config{Rate: 2.5})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if ok, _ := m.Allow("k"); !ok {
			break
		}
		n++
	}
	if n != 3 {
		t.Errorf("default burst for 2.5/s = %d, want 3", n)
	}
}
