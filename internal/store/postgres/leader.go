package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"time"
)

// elector holds the leader lock: a session-level advisory lock taken with
// pg_try_advisory_lock on one dedicated connection. PostgreSQL releases it
// when that session ends, so if the leading replica dies or loses its
// connection, another replica's next Campaign takes over.
type elector struct {
	db   *sql.DB
	mu   sync.Mutex
	conn *sql.Conn // non-nil while this replica holds the lock
}

// checkTimeout bounds one check of the held connection or one attempt.
const checkTimeout = 5 * time.Second

// Campaign makes this replica the leader if no other replica is, and checks
// that a lead already held is still held (its connection alive). It returns
// whether this replica leads now. Call it before each background pass.
func (s *Store) Campaign(ctx context.Context) (bool, error) {
	return s.leader.campaign(ctx)
}

// Resign gives the lead up (at shutdown), so that another replica can take
// it at once rather than when this connection times out.
func (s *Store) Resign() { s.leader.resign() }

func (e *elector) campaign(ctx context.Context) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if e.conn != nil {
		// Still ours while the session lives: the lock belongs to it.
		if err := e.conn.PingContext(ctx); err == nil {
			return true, nil
		}
		e.drop()
	}
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return false, dialect.MapErr(err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, leaderLockKey).Scan(&got); err != nil {
		discard(conn)
		return false, dialect.MapErr(err)
	}
	if !got {
		_ = conn.Close() // back to the pool: it holds nothing
		return false, nil
	}
	e.conn = conn
	return true, nil
}

func (e *elector) resign() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	_, _ = e.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, leaderLockKey)
	e.drop()
}

// drop forgets the leader connection and closes it for good: were it
// returned to the pool while still holding the lock, this replica would keep
// the lead without knowing and no other could take it.
func (e *elector) drop() {
	discard(e.conn)
	e.conn = nil
}

// discard closes the physical connection rather than pooling it.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}
