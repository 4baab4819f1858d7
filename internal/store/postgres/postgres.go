// Package postgres is the PostgreSQL implementation of store.Store (pgx
// through database/sql), for several pamd replicas sharing one database. The
// SQL and the transaction code are shared with SQLite (store/sqlstore); this
// package adds opening with retries, the writer lock, error classification
// and leader election for the background worker.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/sqlstore"
)

// Advisory lock keys. They only need to be distinct from each other and from
// goose's migration lock; any application sharing the database should not
// use them.
const (
	// writerLockKey serialises every Update across all replicas.
	writerLockKey int64 = 0x70616d64_00000001 // "pamd", 1
	// leaderLockKey is held, at session level, by the replica that runs the
	// background worker.
	leaderLockKey int64 = 0x70616d64_00000002 // "pamd", 2
)

// Defaults of Options.
const (
	DefaultRetryFor = 30 * time.Second
	DefaultMaxConns = 10
	// DefaultLockTimeout bounds waiting for a lock, the writer lock above
	// all: a write stuck behind a wedged one fails (503) instead of hanging.
	DefaultLockTimeout = 30 * time.Second
	// DefaultConnectTimeout bounds one connection attempt, so that a
	// database host that drops packets fails a request instead of hanging it.
	DefaultConnectTimeout = 10 * time.Second
)

// dialect tells the shared SQL code how PostgreSQL differs: rows read to be
// changed are locked (FOR UPDATE), since here other replicas' transactions
// run at the same time, not one after the other as in SQLite.
var dialect = &sqlstore.Dialect{Name: "postgres", Classify: classify, ForUpdate: " FOR UPDATE"}

// Options tunes Open.
type Options struct {
	// RetryFor is how long Open keeps retrying an unreachable database, with
	// backoff, before giving up (0 = DefaultRetryFor; negative = try once).
	RetryFor time.Duration
	// MaxConns caps the connection pool of this replica (0 = DefaultMaxConns).
	// The instance lock takes one more connection, and leader election
	// another while this replica leads.
	MaxConns int
	// LimiterConns caps the pool of the shared rate limiters (0 =
	// DefaultLimiterConns): connections are opened when a limiter is used,
	// so a replica without rate limits opens none.
	LimiterConns int
	// LimiterTimeout bounds one rate check (0 = DefaultLimiterTimeout).
	LimiterTimeout time.Duration
	// LockTimeout is PostgreSQL's lock_timeout for pamd's sessions (0 =
	// DefaultLockTimeout); a lock_timeout in the URL wins.
	LockTimeout time.Duration
	// Logger receives retry notices (nil = discard).
	Logger *slog.Logger
	// CacheStatements adds database/sql's prepared statement cache
	// (sqlstore.Stmts) in front of pgx, as the SQLite store does. Off by
	// default: pgx already caches a prepared statement per connection and
	// query text (QueryExecModeCacheStatement), and the measured difference
	// is within noise, see internal/bench/report/findings.md.
	CacheStatements bool
}

// Store is a PostgreSQL-backed store.Store.
type Store struct {
	db     *sql.DB
	stmts  *sqlstore.Stmts // nil unless Options.CacheStatements
	where  string          // host:port/database, for messages: never the password
	leader *elector
	inst   *instance
	// limits is the rate limiters' pool (ratelimit.go).
	limits       *sql.DB
	limitTimeout time.Duration
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL), waiting for it
// with backoff up to Options.RetryFor, and migrates it. It refuses a
// database whose schema is newer than this binary knows. Errors name the
// server as host:port/database, never the password.
func Open(ctx context.Context, dsn string, o Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the whole DSN: say what is wrong
		// without repeating it.
		return nil, fmt.Errorf("postgres: cannot parse the database URL %s (expected postgres://user:password@host:port/database?sslmode=...)", Redact(dsn))
	}
	if o.RetryFor == 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.LimiterConns <= 0 {
		o.LimiterConns = DefaultLimiterConns
	}
	if o.LimiterTimeout <= 0 {
		o.LimiterTimeout = DefaultLimiterTimeout
	}
	if _, set := cfg.RuntimeParams["lock_timeout"]; !set {
		cfg.RuntimeParams["lock_timeout"] = fmt.Sprint(o.LockTimeout.Milliseconds())
	}
	if cfg.ConnectTimeout == 0 { // no connect_timeout in the URL
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	where := fmt.Sprintf("%s/%s", net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), cfg.Database)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := waitFor(ctx, db, where, o); err != nil {
		_ = db.Close()
		return nil, err
	}
	// The session locker makes replicas that start together take turns:
	// the first migrates, the others find the schema current.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres %s: %w", where, err)
	}
	if err := sqlstore.Migrate(ctx, db, goose.DialectPostgres, goose.WithSessionLocker(locker)); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres %s: %w", where, err)
	}
	// The leader and instance locks live on connections of their own,
	// outside the pool, so that holding them never takes a connection from
	// request handling.
	ldb := stdlib.OpenDB(*cfg)
	ldb.SetMaxOpenConns(2)
	ldb.SetMaxIdleConns(2)
	inst, err := startInstance(ctx, ldb, db, o.Logger)
	if err != nil {
		_ = ldb.Close()
		_ = db.Close()
		return nil, fmt.Errorf("postgres %s: instance lock: %s", where, describe(err))
	}
	// The rate limiters' pool: asynchronous commit, see ratelimit.go.
	rcfg := cfg.Copy()
	rcfg.RuntimeParams["synchronous_commit"] = "off"
	rdb := stdlib.OpenDB(*rcfg)
	rdb.SetMaxOpenConns(o.LimiterConns)
	rdb.SetMaxIdleConns(o.LimiterConns)
	rdb.SetConnMaxIdleTime(5 * time.Minute)
	var stmts *sqlstore.Stmts
	if o.CacheStatements {
		stmts = sqlstore.NewStmts(db, 0)
	}
	return &Store{db: db, stmts: stmts, where: where, leader: &elector{lock: sessionLock{db: ldb}}, inst: inst, limits: rdb, limitTimeout: o.LimiterTimeout}, nil
}

// waitFor pings the database until it answers, backing off from 250ms to
// 5s, for at most o.RetryFor. Errors that waiting cannot fix (bad password,
// no such database) end it at once.
func waitFor(ctx context.Context, db *sql.DB, where string, o Options) error {
	deadline := time.Now().Add(max(o.RetryFor, 0))
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := db.PingContext(ctx)
		if err == nil {
			return nil
		}
		if permanent(err) || time.Now().Add(delay).After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("postgres %s: unreachable after %d attempt(s): %s", where, attempt, describe(err))
		}
		o.Logger.Warn("postgres not reachable yet; retrying", "server", where, "attempt", attempt, "retry_in", delay.String(), "error", describe(err))
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres %s: %w", where, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// permanent reports errors the server gave for a reason retrying will not
// change: authentication (class 28) and unknown database (3D000).
func permanent(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "28") || pe.Code == "3D000")
}

// describe is err's innermost useful message. pgx's connect errors start
// with the user and database, which the caller already names as where.
func describe(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap().Error()
	}
	return err.Error()
}

// Where is host:port/database of the server, for logs.
func (s *Store) Where() string { return s.where }

// SchemaVersion reports the applied migration version; for diagnostics and tests.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	return sqlstore.SchemaVersion(ctx, s.db, dialect)
}

// Close resigns leadership, releases the instance lock and closes the pools.
func (s *Store) Close() error {
	s.Resign()
	s.inst.close()
	return errors.Join(s.leader.lock.db.Close(), s.limits.Close(), s.stmts.Close(), s.db.Close())
}

// Update runs fn in a read-write transaction that first takes a
// transaction-scoped advisory lock shared by every replica. That makes
// writers run one at a time, as they do in SQLite: the domain code reads
// then writes (check a version, count active elevations, read the audit
// chain head) and relies on nothing changing in between, and the audit chain
// stays one gap-free sequence across replicas. Readers never take the lock.
// The lock is released by COMMIT or ROLLBACK, including when the connection
// dies.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.update(ctx, false, fn)
}

// UpdateUnsynced is Update with asynchronous commit
// (store.UpdateUnsynced): SET LOCAL synchronous_commit, for this transaction
// only. The commit is visible to every replica at once; PostgreSQL flushes
// its WAL in order, so a later synchronous commit makes it durable too.
func (s *Store) UpdateUnsynced(ctx context.Context, fn func(store.Tx) error) error {
	return s.update(ctx, true, fn)
}

func (s *Store) update(ctx context.Context, unsynced bool, fn func(store.Tx) error) error {
	return sqlstore.Run(ctx, dialect, s.stmts, func(ctx context.Context) (*sql.Tx, error) {
		return s.beginWrite(ctx, unsynced)
	}, fn)
}

// beginWrite begins a write transaction holding the writer lock; unsynced
// commits asynchronously.
func (s *Store) beginWrite(ctx context.Context, unsynced bool) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if unsynced {
		if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit TO OFF`); err != nil {
			_ = tx.Rollback()
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, writerLockKey); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// View runs fn in a read-only REPEATABLE READ transaction: one snapshot for
// all of fn's queries (a page and its details agree), and no locks taken.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return sqlstore.Run(ctx, dialect, s.stmts, func(ctx context.Context) (*sql.Tx, error) {
		return s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	}, fn)
}

// classify maps PostgreSQL and connection errors onto store sentinels.
func classify(err error) error {
	// Checked first: a failed connect can wrap a server error (database
	// not accepting connections, starting up) that is no fault of the
	// statement.
	if unreachable(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case pe.Code == "40001", // serialization_failure
			pe.Code == "40P01",                // deadlock_detected
			pe.Code == "53300",                // too_many_connections
			pe.Code == "55P03",                // lock_not_available
			strings.HasPrefix(pe.Code, "57P"), // admin/crash shutdown, cannot connect now
			strings.HasPrefix(pe.Code, "08"),  // connection exceptions
			strings.HasPrefix(pe.Code, "53"):  // insufficient resources (disk full, out of memory)
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	return nil
}

// unreachable reports errors of the connection rather than the statement:
// the server could not be reached or the connection broke. The transaction
// is then gone on the server side, rolled back.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, pgconn.ErrConnClosed) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}
