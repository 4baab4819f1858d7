// Package sqlite is the embedded SQLite implementation of store.Store (pure Go,
// modernc.org/sqlite): one file, WAL, durable commits, serialised writers and
// schema migrations applied on open.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/sqlstore"
)

// dialect tells the shared SQL code how SQLite differs.
var dialect = &sqlstore.Dialect{Name: "sqlite", Classify: classify}

// busyTimeout bounds how long a connection waits for a lock before
// SQLITE_BUSY; writers normally queue on the Go side first (one write conn).
const busyTimeout = 10 * time.Second

// Store is a SQLite-backed store.Store.
type Store struct {
	// Writes go through a single connection whose transactions start with
	// BEGIN IMMEDIATE: SQLite allows one writer anyway, and taking the write
	// lock up front means a read-then-write transaction can never fail with
	// SQLITE_BUSY half-way. Reads use a separate pool and, thanks to WAL,
	// never wait for the writer.
	write *sql.DB
	read  *sql.DB
	// Prepared statements of each pool (sqlstore.Stmts): the driver would
	// otherwise prepare and finalise every statement of every transaction.
	writeStmts, readStmts *sqlstore.Stmts
	inst                  instance
}

// instance is this process's store.Instance. One process owns a SQLite
// file, so any other owner is a predecessor that died: alive iff it is us.
type instance struct{ id string }

func (i instance) ID() string { return i.id }

func (i instance) Alive(_ context.Context, owner string) (bool, error) { return owner == i.id, nil }

// Instance returns this process's instance (a new id for each Open).
func (s *Store) Instance() store.Instance { return s.inst }

var _ store.Store = (*Store)(nil)

func dsn(path string, txlock string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", txlock)
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and migrates it. It
// refuses a database whose schema is newer than this binary knows.
func Open(ctx context.Context, path string) (*Store, error) {
	w, err := sql.Open("sqlite", dsn(path, "immediate"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if err := sqlstore.Migrate(ctx, w, goose.DialectSQLite3); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, "deferred"))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	// Keep all four when idle: database/sql's default of two idle connections
	// closed the others after each burst of reads and opened new ones (the
	// DSN's pragmas, and every cached statement prepared again) under load.
	r.SetMaxIdleConns(4)
	return &Store{write: w, read: r, writeStmts: sqlstore.NewStmts(w, 0), readStmts: sqlstore.NewStmts(r, 0), inst: instance{id: store.NewInstanceID()}}, nil
}

// SchemaVersion reports the applied migration version; for diagnostics and tests.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	return sqlstore.SchemaVersion(ctx, s.read, dialect)
}

// Close closes the cached statements and both pools.
func (s *Store) Close() error {
	return errors.Join(s.readStmts.Close(), s.writeStmts.Close(), s.read.Close(), s.write.Close())
}

// Update runs fn in a BEGIN IMMEDIATE transaction.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, s.write, s.writeStmts, false, fn)
}

// UpdateUnsynced is Update with a commit that does not wait for fsync
// (store.UpdateUnsynced): the write connection is switched to
// synchronous=NORMAL for this one transaction. SQLite refuses to change the
// setting inside a transaction, so it is set before BEGIN and restored after
// the commit, on a connection held throughout, so that no other writer ever
// commits at NORMAL. A connection whose setting could not be restored is
// discarded (the pool opens a new one with the DSN's FULL).
//
// In WAL mode a NORMAL commit is appended to the log without a sync; the next
// FULL commit syncs the log up to itself, this one included.
func (s *Store) UpdateUnsynced(ctx context.Context, fn func(store.Tx) error) error {
	return sqlstore.RunOn(ctx, dialect, s.writeStmts, s.beginUnsynced, fn)
}

// beginUnsynced takes the write connection, sets it to NORMAL and begins on
// it; release restores FULL and gives the connection back.
func (s *Store) beginUnsynced(ctx context.Context) (*sql.Tx, func(), error) {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		// Not the request's context: a cancelled request must still leave
		// the connection at FULL (or discard it).
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous=FULL"); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=NORMAL"); err != nil {
		release()
		return nil, nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, nil, err
	}
	return tx, release, nil
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, s.read, s.readStmts, true, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, stmts *sqlstore.Stmts, readOnly bool, fn func(store.Tx) error) error {
	return sqlstore.Run(ctx, dialect, stmts, func(ctx context.Context) (*sql.Tx, error) {
		return db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	}, fn)
}

// classify maps SQLite result codes onto store sentinels.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	return nil
}
