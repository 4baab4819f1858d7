package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"time"
)

// sessionLock holds a session-level advisory lock on one dedicated
// connection. PostgreSQL releases it when that session ends, so when the
// process dies or loses its connection, others see the lock free. It serves
// the leader election (elector) and the instance lock (instance.go).
type sessionLock struct {
	db   *sql.DB
	mu   sync.Mutex
	conn *sql.Conn // non-nil while the lock is held
}

// checkTimeout bounds one check of the held connection or one attempt.
const checkTimeout = 5 * time.Second

// hold checks that a lock already held is still held (its connection
// alive), or else tries to take it with try, a query returning whether it
// got the lock (pg_try_advisory_lock). It returns whether the lock is held.
func (l *sessionLock) hold(ctx context.Context, try string, args ...any) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if l.conn != nil {
		// Still ours while the session lives: the lock belongs to it.
		if err := l.conn.PingContext(ctx); err == nil {
			return true, nil
		}
		l.drop()
	}
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return false, dialect.MapErr(err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, try, args...).Scan(&got); err != nil {
		discard(conn)
		return false, dialect.MapErr(err)
	}
	if !got {
		_ = conn.Close() // back to the pool: it holds nothing
		return false, nil
	}
	l.conn = conn
	return true, nil
}

// release unlocks with unlock and closes the connection.
func (l *sessionLock) release(unlock string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	_, _ = l.conn.ExecContext(ctx, unlock, args...)
	l.drop()
}

// drop forgets the connection and closes it for good: were it returned to
// the pool while still holding the lock, this process would keep the lock
// without knowing and no other could take it.
func (l *sessionLock) drop() {
	discard(l.conn)
	l.conn = nil
}

// elector holds the leader lock (leaderLockKey). If the leading replica
// dies or loses its connection, another replica's next Campaign takes over.
type elector struct{ lock sessionLock }

// Campaign makes this replica the leader if no other replica is, and checks
// that a lead already held is still held (its connection alive). It returns
// whether this replica leads now. Call it before each background pass.
func (s *Store) Campaign(ctx context.Context) (bool, error) {
	return s.leader.lock.hold(ctx, `SELECT pg_try_advisory_lock($1)`, leaderLockKey)
}

// Resign gives the lead up (at shutdown), so that another replica can take
// it at once rather than when this connection times out.
func (s *Store) Resign() { s.leader.lock.release(`SELECT pg_advisory_unlock($1)`, leaderLockKey) }

// discard closes the physical connection rather than pooling it.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}
