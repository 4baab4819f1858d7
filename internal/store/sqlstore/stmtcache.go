package sqlstore

import (
	"container/list"
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
	byText map[string]*list.Element // of *cachedStmt
	lru    list.List                // front: most recently used
	closed bool
}

type cachedStmt struct {
	query string
	stmt  *sql.Stmt
}

// NewStmts returns an empty cache of at most size statements prepared on db
// (size <= 0: DefaultStmtCacheSize).
func NewStmts(db *sql.DB, size int) *Stmts {
	if size <= 0 {
		size = DefaultStmtCacheSize
	}
	return &Stmts{db: db, max: size, byText: map[string]*list.Element{}}
}

// get returns the cached statement for q, or nil.
func (c *Stmts) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byText[q]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cachedStmt).stmt
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
		c.byText[q] = c.lru.PushFront(&cachedStmt{query: q, stmt: st})
		for c.lru.Len() > c.max {
			old := c.lru.Back()
			cs := c.lru.Remove(old).(*cachedStmt)
			delete(c.byText, cs.query)
			drop = append(drop, cs.stmt)
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
	return c.lru.Len()
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
	for el := c.lru.Front(); el != nil; el = el.Next() {
		stmts = append(stmts, el.Value.(*cachedStmt).stmt)
	}
	c.lru.Init()
	c.byText = map[string]*list.Element{}
	c.mu.Unlock()
	var errs []error
	for _, s := range stmts {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
