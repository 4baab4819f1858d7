package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// DefaultStmtCacheSize bounds a Stmts cache. pamd's static statements number
// about 200; the rest of the room is for the few listings whose SQL depends on
// list-valued filters (ListElevations, ListSessions and the like), whose
// distinct shapes are few in practice but not bounded in principle.
const DefaultStmtCacheSize = 512

// Stmts is a bounded, least-recently-used cache of prepared statements on one
// database pool, keyed by query text. A transaction runs a cached statement
// through tx.StmtContext, which reuses the statement database/sql already
// prepared on the transaction's connection (preparing it there once, the
// first time that connection runs it), instead of preparing and finalising the
// SQL on every call.
//
// Statements are prepared on the pool after the transaction that first ran
// them has ended (Run calls learn), never inside it: preparing on the pool
// needs a free connection, and the SQLite write pool has exactly one, which
// the transaction holds. That first run is unprepared, as before.
//
// Evicting or closing a statement that a transaction is still using is safe:
// database/sql keeps the statement open until its last transaction-bound copy
// is closed, and a statement closed before tx.StmtContext sees it is prepared
// again on the connection for that one use.
type Stmts struct {
	db  *sql.DB
	max int

	mu     sync.Mutex
	byText map[string]*cachedStmt
	// lru is a ring through a sentinel: lru.next is the most recently used
	// statement, lru.prev the least.
	lru    cachedStmt
	n      int
	closed bool
}

type cachedStmt struct {
	query      string
	stmt       *sql.Stmt
	prev, next *cachedStmt
}

func (c *Stmts) unlink(e *cachedStmt) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	c.n--
}

func (c *Stmts) pushFront(e *cachedStmt) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
	c.n++
}

// NewStmts returns an empty cache of at most size statements prepared on db
// (size <= 0: DefaultStmtCacheSize).
func NewStmts(db *sql.DB, size int) *Stmts {
	if size <= 0 {
		size = DefaultStmtCacheSize
	}
	c := &Stmts{db: db, max: size, byText: map[string]*cachedStmt{}}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// get returns the cached statement for q, or nil.
func (c *Stmts) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byText[q]
	if !ok {
		return nil
	}
	c.unlink(e)
	c.pushFront(e)
	return e.stmt
}

// learn prepares, on the pool, the queries a finished transaction ran
// unprepared. It must not be called while the caller holds a connection of
// the pool. Errors are dropped: the query then simply runs unprepared again.
func (c *Stmts) learn(ctx context.Context, queries []string) {
	for _, q := range queries {
		c.mu.Lock()
		_, have := c.byText[q]
		closed := c.closed
		c.mu.Unlock()
		if have || closed {
			continue
		}
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.put(q, st)
	}
}

// put adds st for q, evicting the least recently used statement when full.
func (c *Stmts) put(q string, st *sql.Stmt) {
	var drop []*sql.Stmt
	c.mu.Lock()
	if _, have := c.byText[q]; have || c.closed {
		drop = append(drop, st) // prepared concurrently, or closing
	} else {
		e := &cachedStmt{query: q, stmt: st}
		c.byText[q] = e
		c.pushFront(e)
		for c.n > c.max {
			old := c.lru.prev
			c.unlink(old)
			delete(c.byText, old.query)
			drop = append(drop, old.stmt)
		}
	}
	c.mu.Unlock()
	for _, s := range drop {
		_ = s.Close()
	}
}

// Len is the number of cached statements.
func (c *Stmts) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Close closes every cached statement; later transactions run their SQL
// unprepared and nothing more is cached. Call it before closing the pool.
func (c *Stmts) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	c.closed = true
	var stmts []*sql.Stmt
	for e := c.lru.next; e != &c.lru; e = e.next {
		stmts = append(stmts, e.stmt)
	}
	c.lru.prev, c.lru.next, c.n = &c.lru, &c.lru, 0
	c.byText = map[string]*cachedStmt{}
	c.mu.Unlock()
	var errs []error
	for _, s := range stmts {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
