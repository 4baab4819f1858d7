package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/ratelimit"
)

// allow is Allow for a limiter that cannot fail.
func allow(l ratelimit.Limiter, key string) (bool, time.Duration) {
	ok, wait, err := l.Allow(context.Background(), key)
	if err != nil {
		panic(err)
	}
	return ok, wait
}

func newLimiter(t *testing.T, cfg ratelimit.Config) (*ratelimit.Memory, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg.Now = clk.Now
	m, err := ratelimit.NewMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, clk
}

func TestBurstThenRefill(t *testing.T) {
	m, clk := newLimiter(t, ratelimit.Config{Rate: 2, Burst: 5})
	for i := range 5 {
		if ok, _ := allow(m, "a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := allow(m, "a")
	if ok {
		t.Fatal("6th request at the same instant allowed; burst is 5")
	}
	if wait != 500*time.Millisecond {
		t.Errorf("retry after %v, want 500ms at 2/s", wait)
	}
	// Refused requests do not consume: after 500 ms exactly one is allowed.
	for range 10 {
		allow(m, "a")
	}
	clk.Advance(500 * time.Millisecond)
	if ok, _ := allow(m, "a"); !ok {
		t.Error("refused after waiting the advertised time")
	}
	if ok, _ := allow(m, "a"); ok {
		t.Error("second request after one refill interval allowed")
	}
	// Sustained rate: 10 s at exactly 2/s is all allowed.
	for i := range 20 {
		clk.Advance(500 * time.Millisecond)
		if ok, _ := allow(m, "a"); !ok {
			t.Fatalf("sustained request %d at the configured rate refused", i)
		}
	}
}

func TestKeysAreIndependent(t *testing.T) {
	m, _ := newLimiter(t, ratelimit.Config{Rate: 1, Burst: 1})
	if ok, _ := allow(m, "tok_a"); !ok {
		t.Fatal("first request of a refused")
	}
	if ok, _ := allow(m, "tok_a"); ok {
		t.Fatal("second request of a allowed")
	}
	if ok, _ := allow(m, "tok_b"); !ok {
		t.Error("b refused because a is out of requests")
	}
}

func TestIdleBucketsAreDropped(t *testing.T) {
	m, clk := newLimiter(t, ratelimit.Config{Rate: 10, Burst: 10})
	for i := range 100 {
		allow(m, fmt.Sprint("ip-", i))
	}
	if n := m.Len(); n != 100 {
		t.Fatalf("%d buckets, want 100", n)
	}
	clk.Advance(time.Minute) // every bucket refilled (1 s) and a sweep is due
	allow(m, "fresh")
	if n := m.Len(); n != 1 {
		t.Errorf("%d buckets after the sweep, want 1 (the fresh one)", n)
	}
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	m, clk := newLimiter(t, ratelimit.Config{Rate: 0.01, Burst: 1, MaxKeys: 64})
	for i := range 1000 {
		clk.Advance(time.Millisecond)
		allow(m, fmt.Sprint("ip-", i))
		if n := m.Len(); n > 64 {
			t.Fatalf("%d buckets after %d keys, max 64", n, i+1)
		}
	}
	// The most recent key kept its (empty) bucket: the eviction took the oldest.
	if ok, _ := allow(m, "ip-999"); ok {
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
		if ok, _ := allow(m, "k"); !ok {
			break
		}
		n++
	}
	if n != 3 {
		t.Errorf("default burst for 2.5/s = %d, want 3", n)
	}
}

// failing is a Limiter whose database is down.
type failing struct{ calls int }

func (f *failing) Allow(context.Context, string) (bool, time.Duration, error) {
	f.calls++
	return false, 0, errors.New("connection refused")
}

func TestFailOpenAllowsAndLogsOncePerInterval(t *testing.T) {
	var log bytes.Buffer
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	inner := &failing{}
	f := &ratelimit.FailOpen{Limiter: inner, Logger: slog.New(slog.NewTextHandler(&log, nil)), Every: time.Minute, Now: clk.Now}
	for range 100 {
		if ok, _ := allow(f, "k"); !ok {
			t.Fatal("refused while the limiter fails: must fail open")
		}
		clk.Advance(time.Second)
	}
	// 100 s of errors at one log a minute: the first, and one at 60 s
	// counting the 59 in between.
	if n := strings.Count(log.String(), "rate limiter unavailable"); n != 2 {
		t.Errorf("%d log lines for 100 errors over 100 s, want 2:\n%s", n, log.String())
	}
	if !strings.Contains(log.String(), "errors_not_logged=59") {
		t.Errorf("the second line does not count the errors in between:\n%s", log.String())
	}
	if inner.calls != 100 {
		t.Errorf("inner limiter asked %d times, want 100", inner.calls)
	}

	// A caller that hung up is no database fault: allowed, not logged.
	log.Reset()
	clk.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, _, err := f.Allow(ctx, "k"); !ok || err != nil {
		t.Errorf("cancelled request: ok=%v err=%v", ok, err)
	}
	if log.Len() != 0 {
		t.Errorf("a cancelled request was logged: %s", log.String())
	}

	// A working limiter passes its answers through.
	m, _ := newLimiter(t, ratelimit.Config{Rate: 1, Burst: 1})
	f2 := &ratelimit.FailOpen{Limiter: m}
	if ok, _ := allow(f2, "a"); !ok {
		t.Error("first request refused")
	}
	if ok, wait := allow(f2, "a"); ok || wait != time.Second {
		t.Errorf("second request: ok=%v wait=%v, want refused for 1s", ok, wait)
	}
}
