package provision

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"time"
)

// Policy decides when a failed delivery is tried again and when it is given
// up. Zero fields take the DefaultPolicy values.
type Policy struct {
	// InitialBackoff is the delay after the first failed attempt.
	InitialBackoff time.Duration
	// MaxBackoff caps the exponential delay.
	MaxBackoff time.Duration
	// Multiplier grows the delay after each failed attempt.
	Multiplier float64
	// Jitter, in [0, 1], removes up to that fraction of each delay at random,
	// so deliveries that failed together do not retry together. A negative
	// value disables jitter.
	Jitter float64
	// MaxAttempts is the number of attempts after which a delivery fails.
	MaxAttempts int
	// MaxAge is how long after its creation a delivery may still be retried.
	MaxAge time.Duration
	// MaxRetryAfter caps a receiver's Retry-After.
	MaxRetryAfter time.Duration
	// Rand returns a number in [0, 1) for jitter; nil uses crypto/rand.
	// Tests set it for determinism.
	Rand func() float64
}

// DefaultPolicy: 10s doubling up to 15m, 20% jitter, 15 attempts within 24h
// (about two hours of retries), Retry-After honoured up to 1h.
func DefaultPolicy() Policy {
	return Policy{
		InitialBackoff: 10 * time.Second,
		MaxBackoff:     15 * time.Minute,
		Multiplier:     2,
		Jitter:         0.2,
		MaxAttempts:    15,
		MaxAge:         24 * time.Hour,
		MaxRetryAfter:  time.Hour,
	}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = d.InitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	if p.Multiplier < 1 {
		p.Multiplier = d.Multiplier
	}
	switch {
	case p.Jitter == 0:
		p.Jitter = d.Jitter
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter > 1:
		p.Jitter = 1
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxAge <= 0 {
		p.MaxAge = d.MaxAge
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.Rand == nil {
		p.Rand = cryptoFloat
	}
	return p
}

// Backoff returns the delay after failed attempt number attempt (1-based):
// min(InitialBackoff * Multiplier^(attempt-1), MaxBackoff), minus up to
// Jitter of it. It never exceeds MaxBackoff.
func (p Policy) Backoff(attempt int) time.Duration {
	return p.withDefaults().backoff(attempt)
}

// backoff is Backoff on a policy whose defaults are already applied;
// applying them twice would turn a disabled jitter (-1 → 0) back into the
// default 0.2.
func (p Policy) backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := float64(p.InitialBackoff) * math.Pow(p.Multiplier, float64(attempt-1))
	if d > float64(p.MaxBackoff) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(p.MaxBackoff)
	}
	d -= d * p.Jitter * p.Rand()
	return time.Duration(d)
}

// Next returns when to make the next attempt after attempt number attempts
// (1-based) failed at now, for a delivery created at createdAt. retryAfter is
// the receiver's Retry-After (0 if none): the next attempt is never earlier
// than it (clamped to MaxRetryAfter). ok is false when the delivery must be
// marked failed: MaxAttempts reached or the next attempt would fall after
// createdAt + MaxAge.
func (p Policy) Next(attempts int, createdAt, now time.Time, retryAfter time.Duration) (next time.Time, ok bool) {
	p = p.withDefaults()
	if attempts >= p.MaxAttempts {
		return time.Time{}, false
	}
	delay := p.backoff(attempts)
	if retryAfter > 0 {
		delay = max(delay, min(retryAfter, p.MaxRetryAfter))
	}
	next = now.Add(delay)
	if next.After(createdAt.Add(p.MaxAge)) {
		return time.Time{}, false
	}
	return next, true
}

// cryptoFloat returns a uniform number in [0, 1) from crypto/rand.
func cryptoFloat() float64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0.5
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}
