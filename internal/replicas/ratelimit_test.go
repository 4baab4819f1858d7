package replicas_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
)

// Rate limit of these tests: 5 requests/s per token, burst 10.
const (
	rlRate  = 5
	rlBurst = 10
)

func withRateLimit(cfg *daemon.Config) { cfg.RateLimit, cfg.RateBurst = rlRate, rlBurst }

// tally counts a run of requests' answers.
type tally struct {
	ok, limited, other atomic.Int64
	badRetryAfter      atomic.Int64
}

// get sends one authenticated GET through the balancer and counts the answer.
func (c *cluster) get(tl *tally) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, c.lb.URL()+api.PathRoles, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		tl.ok.Add(1)
	case http.StatusTooManyRequests:
		tl.limited.Add(1)
		if s, err := strconv.Atoi(res.Header.Get(api.HeaderRetryAfter)); err != nil || s < 1 {
			tl.badRetryAfter.Add(1)
		}
	default:
		tl.other.Add(1)
		c.t.Errorf("status %d", res.StatusCode)
	}
}

// TestRateLimitSharedAcrossReplicas: one token sending round-robin across
// three replicas gets one allowance, not three. The replicas share a fake
// clock that stands still, so the count is exact: the burst, then after one
// second the rate. Per-replica limiters would have let 3 x 10 through.
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	c := startCluster(t, replicas, withRateLimit)
	var tl tally
	for range 60 {
		c.get(&tl)
	}
	for i := range c.nodes {
		if n := c.lb.served[i].Load(); n < 60/replicas-1 {
			t.Errorf("replica %d answered %d of 60: the balancer did not spread the requests", i, n)
		}
	}
	if got := tl.ok.Load(); got != rlBurst {
		t.Errorf("%d of 60 requests across %d replicas allowed at one instant, want the burst, %d (per-replica limits would allow %d)",
			got, replicas, rlBurst, replicas*rlBurst)
	}
	if tl.limited.Load() != 60-rlBurst || tl.badRetryAfter.Load() != 0 {
		t.Errorf("%d answered 429 (%d without Retry-After >= 1), want %d with it", tl.limited.Load(), tl.badRetryAfter.Load(), 60-rlBurst)
	}

	c.clock.Advance(time.Second)
	tl = tally{}
	for range 30 {
		c.get(&tl)
	}
	if got := tl.ok.Load(); got != rlRate {
		t.Errorf("%d of 30 allowed one second later, want the rate, %d", got, rlRate)
	}
	// The health check stays exempt.
	res, err := http.Get(c.lb.URL() + api.PathHealth) //nolint:noctx // test
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("health check answered %d while the token is limited", res.StatusCode)
	}
}

// TestRateLimitSharedAcrossReplicasRealClock: the same with the wall clock
// and eight concurrent senders for about 1.5 s: the requests allowed stay
// within burst + rate x elapsed (plus one for rounding), far below what
// three separate limiters would allow.
func TestRateLimitSharedAcrossReplicasRealClock(t *testing.T) {
	c := startCluster(t, replicas, withRateLimit, func(cfg *daemon.Config) { cfg.Clock = clock.Real{} })
	var tl tally
	start := time.Now()
	deadline := start.Add(1500 * time.Millisecond)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				c.get(&tl)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	bound := int64(rlBurst + rlRate*elapsed.Seconds() + 1)
	t.Logf("%v: %d allowed, %d answered 429 across %d replicas (bound %d; %d with per-replica limits)",
		elapsed.Round(time.Millisecond), tl.ok.Load(), tl.limited.Load(), replicas, bound, int64(replicas)*bound)
	if got := tl.ok.Load(); got > bound || got < rlBurst {
		t.Errorf("%d allowed in %v, want between the burst (%d) and burst + rate x elapsed (%d)", got, elapsed, rlBurst, bound)
	}
	if tl.limited.Load() == 0 || tl.badRetryAfter.Load() != 0 {
		t.Errorf("%d answered 429, %d of them without Retry-After >= 1", tl.limited.Load(), tl.badRetryAfter.Load())
	}
}
