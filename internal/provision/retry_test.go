package provision

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoffCappedExponential(t *testing.T) {
	p := Policy{InitialBackoff: time.Second, MaxBackoff: 10 * time.Second, Multiplier: 2, Rand: func() float64 { return 0 }}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := p.Backoff(i + 1); got != w {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w)
		}
	}
	if got := p.Backoff(10_000); got != 10*time.Second {
		t.Errorf("huge attempt: %v", got)
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	p := Policy{InitialBackoff: 10 * time.Second, Jitter: 0.5}
	for range 200 {
		d := p.Backoff(1)
		if d < 5*time.Second || d > 10*time.Second {
			t.Fatalf("jittered delay %v outside [5s, 10s]", d)
		}
	}
	p.Rand = func() float64 { return 0.999999 }
	if d := p.Backoff(1); d < 5*time.Second {
		t.Fatalf("%v", d)
	}
}

func TestNextLimits(t *testing.T) {
	p := Policy{MaxAttempts: 3, MaxAge: time.Hour, MaxRetryAfter: 10 * time.Minute, Rand: func() float64 { return 0 }}
	if next, ok := p.Next(1, t0, t0, 0); !ok || !next.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("next %v %v", next, ok)
	}
	if _, ok := p.Next(3, t0, t0, 0); ok {
		t.Fatal("max attempts not enforced")
	}
	if next, ok := p.Next(1, t0, t0, 2*time.Hour); !ok || !next.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("Retry-After not clamped: %v %v", next, ok)
	}
	if _, ok := p.Next(1, t0, t0.Add(59*time.Minute+55*time.Second), 0); ok {
		t.Fatal("max age not enforced")
	}
}

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"30", 30 * time.Second},
		{"soon", 0},
		{t0.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{t0.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999999999", 365 * 24 * time.Hour},
	} {
		if got := parseRetryAfter(tc.in, t0); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
		}
	}
}

// A negative Jitter disables jitter in Next too: Next once applied the
// defaults twice, so the -1 became 0 and then the default 0.2 again.
func TestNextHonoursDisabledJitter(t *testing.T) {
	p := Policy{InitialBackoff: 10 * time.Second, Jitter: -1, Rand: func() float64 { return 0.999 }}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	next, ok := p.Next(1, now, now, 0)
	if !ok || next.Sub(now) != 10*time.Second {
		t.Fatalf("Next with jitter disabled = %v (ok %v), want exactly 10s", next.Sub(now), ok)
	}
	if d := p.Backoff(1); d != 10*time.Second {
		t.Fatalf("Backoff with jitter disabled = %v, want 10s", d)
	}
}
