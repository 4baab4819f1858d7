package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/ratelimit"
)

// Rate limits shared by replicas.
//
// Behind a load balancer each replica sees only its share of a client's
// requests, so per-process token buckets would let a client through N times
// the limit with N replicas. The Limiter keeps the buckets in one table
// (rate_limits, migration 00013) instead, with GCRA, the "generic cell rate
// algorithm": a key's whole state is its theoretical arrival time (tat), the
// instant at which its bucket would be full again. With T = 1/rate between
// requests and a tolerance tau = burst*T, a request at now is allowed when
// max(tat, now) + T <= now + tau, and then moves tat to max(tat, now) + T. It
// allows exactly Burst requests at once and Rate per second sustained, as
// the in-memory token bucket does, in one integer per key and one statement
// per request: an INSERT ... ON CONFLICT DO UPDATE that reads, decides and
// writes under the row lock, so concurrent requests on several replicas
// cannot both take the last request of a burst.
//
// Choices:
//   - The statement runs alone (autocommit), never inside Store.Update: it
//     must not take the writer lock that serialises every write, nor wait
//     behind it.
//   - It runs on a small pool of its own (Options.LimiterConns) with
//     synchronous_commit off. The pool keeps rate checks from queueing
//     behind request transactions waiting for the writer lock (and those
//     from losing connections to rate checks). Asynchronous commit matters
//     more: every request of one token updates the same row, so they take
//     its lock one after the other, and with synchronous commit each would
//     hold it until its WAL record is flushed to disk, capping one token at
//     roughly one request per fsync. A crash can then lose the last few
//     milliseconds of counts, which only lets a few requests more through.
//   - The time is the caller's clock, passed in (Config.Now), not the
//     database's: tests are deterministic with a fake clock, and all of pamd
//     runs on one clock. Replicas' clocks that disagree by d (NTP keeps d to
//     milliseconds) blur a limit by about rate*d requests: under one at the
//     default 500/s with 1 ms.
//   - A refused request changes nothing (the UPDATE's WHERE fails), so a
//     client hammering past its limit does not push its next allowed request
//     further out, as with the in-memory limiter.
//   - Each check is bounded by Options.LimiterTimeout; an error (timeout,
//     database away) is returned, and the daemon's ratelimit.FailOpen lets
//     the request through (see there for why).
//   - Keys of rows whose tat has passed are full buckets, which is what no
//     row means; the leader deletes them (PurgeRateLimits) every worker pass.

// allowSQL decides one request. $1 limiter, $2 key, $3 now, $4 T, $5 tau
// (nanoseconds). It returns exactly one row: the new tat when the request is
// allowed (NULL when refused), and the key's tat as the statement's snapshot
// saw it, from which a refused request's wait is computed. That snapshot can
// be a little older than the row the upsert locked (a concurrent request
// committed meanwhile) or miss a row inserted meanwhile: the wait is then a
// little short, or one interval, and the client that retries early is told
// again. The decision itself is always made on the latest row.
const allowSQL = `
WITH up AS (
  INSERT INTO rate_limits AS r (limiter, key, tat) VALUES ($1, $2, $3::bigint + $4::bigint)
  ON CONFLICT (limiter, key) DO UPDATE
    SET tat = GREATEST(r.tat, $3::bigint) + $4::bigint
    WHERE GREATEST(r.tat, $3::bigint) + $4::bigint <= $3::bigint + $5::bigint
  RETURNING r.tat
)
SELECT (SELECT tat FROM up), (SELECT tat FROM rate_limits WHERE limiter = $1 AND key = $2)`

// Defaults of Options for the rate limiter.
const (
	DefaultLimiterConns   = 4
	DefaultLimiterTimeout = time.Second
)

// maxSpan bounds T and tau (2^57 ns, about 4.5 years) so that now + tau
// stays within a BIGINT of nanoseconds whatever rate and burst are
// configured.
const maxSpan = int64(1) << 57

// Limiter is a ratelimit.Limiter shared by every replica on the database.
type Limiter struct {
	db      *sql.DB
	name    string
	now     func() time.Time
	t, tau  int64 // nanoseconds
	timeout time.Duration
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// Limiter returns a rate limiter kept in the database, shared by every
// replica that asks for one with the same name (and, for the counts to mean
// anything, the same cfg). name separates limiters whose keys could be the
// same, such as the request limit and the refused-credential budget, which
// both count client addresses. cfg.MaxKeys does not apply: the table holds a
// row per key active in the last Burst/Rate seconds.
func (s *Store) Limiter(name string, cfg ratelimit.Config) (ratelimit.Limiter, error) {
	if name == "" {
		return nil, errors.New("postgres: a rate limiter needs a name")
	}
	cfg, err := ratelimit.Normalize(cfg)
	if err != nil {
		return nil, err
	}
	t := min(max(int64(math.Round(float64(time.Second)/cfg.Rate)), 1), maxSpan)
	tau := maxSpan
	if int64(cfg.Burst) <= maxSpan/t {
		tau = t * int64(cfg.Burst)
	}
	return &Limiter{db: s.limits, name: name, now: cfg.Now, t: t, tau: tau, timeout: s.limitTimeout}, nil
}

// Allow implements ratelimit.Limiter.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	now := l.now().UnixNano()
	var allowed, cur sql.NullInt64
	if err := l.db.QueryRowContext(ctx, allowSQL, l.name, key, now, l.t, l.tau).Scan(&allowed, &cur); err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", l.name, err)
	}
	if allowed.Valid {
		return true, 0, nil
	}
	wait := l.t
	if cur.Valid {
		wait = cur.Int64 + l.t - l.tau - now
	}
	return false, time.Duration(max(wait, 1)), nil
}

// PurgeRateLimits deletes the rate-limit rows that are full buckets at now
// (tat passed), which no row means as well; it returns how many. The
// daemon's leader calls it every worker pass.
func (s *Store) PurgeRateLimits(ctx context.Context, now time.Time) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*s.limitTimeout)
	defer cancel()
	res, err := s.limits.ExecContext(ctx, `DELETE FROM rate_limits WHERE tat <= $1`, now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("purge rate limits: %w", err)
	}
	return res.RowsAffected()
}
