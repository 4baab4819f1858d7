// Package sqlstore is the dialect-neutral part of pamd's SQL stores: the
// store.Tx implementation (every query, written once in SQL that SQLite and
// PostgreSQL both accept), the transaction runner and the goose migration
// runner. The engine packages (store/sqlite, store/postgres) supply what
// differs: how to open and begin, and how to classify driver errors.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Dialect is what an engine tells the shared code about itself.
type Dialect struct {
	// Name prefixes unclassified driver errors ("sqlite", "postgres").
	Name string
	// Classify turns an engine error into a store sentinel (wrapping err),
	// or returns nil when it does not recognise err.
	Classify func(err error) error
	// ForUpdate is appended to a SELECT whose rows the transaction is about
	// to change, to lock them against other writers: "" for SQLite, whose
	// write transaction already holds the only write lock, " FOR UPDATE" for
	// PostgreSQL.
	ForUpdate string
}

// MapErr turns driver errors into store sentinels; other errors pass through
// wrapped, so callers can still log them.
func (d *Dialect) MapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if d.Classify != nil {
		if m := d.Classify(err); m != nil {
			return m
		}
	}
	return fmt.Errorf("%s: %w", d.Name, err)
}

// Run runs fn in the transaction that begin opens, committing if fn returns
// nil and rolling back otherwise (and on panic).
// begin may run statements of its own in the new transaction (PostgreSQL
// takes its writer lock there).
// stmts, when not nil, is the prepared statement cache of the pool begin
// opens its transactions on: fn's statements run prepared from it, and those
// it did not hold yet are prepared once the transaction has ended.
func Run(ctx context.Context, d *Dialect, stmts *Stmts, begin func(context.Context) (*sql.Tx, error), fn func(store.Tx) error) error {
	return RunOn(ctx, d, stmts, func(ctx context.Context) (*sql.Tx, func(), error) {
		t, err := begin(ctx)
		return t, nil, err
	}, fn)
}

// RunOn is Run for a transaction on a connection that begin takes out of
// the pool itself (a *sql.Conn, to run statements before and after the
// transaction on it): release, when begin returns one, is called once the
// transaction has ended and must give the connection back, before Run
// prepares statements on the pool (which, for a pool of one, waits for it).
func RunOn(ctx context.Context, d *Dialect, stmts *Stmts, begin func(context.Context) (tx *sql.Tx, release func(), err error), fn func(store.Tx) error) (err error) {
	sqlTx, release, err := begin(ctx)
	if err != nil {
		return d.MapErr(err)
	}
	t := &tx{ctx: ctx, tx: sqlTx, d: d, stmts: stmts}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			if release != nil {
				release()
			}
			panic(p)
		}
		if err != nil {
			_ = sqlTx.Rollback()
		}
		if release != nil {
			release()
		}
		// After the commit or rollback: the connection is back in the pool.
		if len(t.unprepared) > 0 {
			stmts.learn(ctx, t.unprepared)
		}
	}()
	if err = fn(t); err != nil {
		return err
	}
	if err = sqlTx.Commit(); err != nil {
		return d.MapErr(err)
	}
	return nil
}
