package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// instanceLockNamespace is the first key of the two-key advisory locks that
// mark live instances: pg_advisory_lock(instanceLockNamespace, hash of id).
// PostgreSQL keeps the two-int4-key space apart from the single-bigint one
// ("these two key spaces do not overlap"), so these locks cannot collide
// with writerLockKey, leaderLockKey or goose's migration lock.
const instanceLockNamespace int32 = 0x70616d64 // "pamd"

// instanceCheckInterval is how often the instance checks its lock's
// connection and, if it was lost, takes the lock again.
const instanceCheckInterval = 5 * time.Second

// instanceKey is the second lock key of instance id. Two ids may share it:
// then a dead owner looks alive while the other lives, and its reservation
// merely waits for the lock to lapse, as before instance ids.
func instanceKey(id string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int32(h.Sum32()) //nolint:gosec // a hash: wrapping is intended
}

// instance is this replica's store.Instance: a random id and a
// session-level advisory lock on (instanceLockNamespace, instanceKey(id))
// held on a dedicated connection for the life of the store. Another replica
// whose pg_try_advisory_xact_lock on that key succeeds knows the session is
// gone, hence the process (or at least its claim to liveness).
type instance struct {
	lock  sessionLock
	probe *sql.DB // the request pool, for Alive's probes
	log   *slog.Logger

	mu      sync.Mutex
	id      string // '' while the lock is not held
	mine    map[string]bool
	cancel  context.CancelFunc // stops keep
	done    chan struct{}
	closing sync.Once
}

var _ store.Instance = (*instance)(nil)

// startInstance takes the instance lock under a fresh id and keeps it.
func startInstance(ctx context.Context, ldb, probe *sql.DB, log *slog.Logger) (*instance, error) {
	in := &instance{lock: sessionLock{db: ldb}, probe: probe, log: log, mine: map[string]bool{},
		done: make(chan struct{})}
	if err := in.acquire(ctx); err != nil {
		return nil, err
	}
	if in.ID() == "" {
		return nil, errors.New("could not take an instance lock")
	}
	// keep outlives Open's context (not its values): it runs until close.
	kctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	in.cancel = cancel
	go in.keep(kctx)
	return in, nil
}

// acquire checks the held lock, or takes one under a new id. An id whose
// lock is taken (a hash collision with a live instance, or another
// replica's probe at that very moment) is given up for another.
func (in *instance) acquire(ctx context.Context) error {
	in.mu.Lock()
	id := in.id
	in.mu.Unlock()
	for range 3 {
		if id == "" {
			id = store.NewInstanceID()
		}
		got, err := in.lock.hold(ctx, `SELECT pg_try_advisory_lock($1, $2)`, instanceLockNamespace, instanceKey(id))
		if err != nil {
			in.setID("")
			return err
		}
		if got {
			in.setID(id)
			return nil
		}
		id = ""
	}
	in.setID("")
	return nil
}

func (in *instance) setID(id string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if id != "" {
		in.mine[id] = true
	}
	in.id = id
}

// keep checks the lock every instanceCheckInterval and takes it again once
// its connection is lost (database restart, network cut). Meanwhile ID is
// ”: new reservations carry no owner and other replicas wait for them to
// lapse, as before instance ids. Reservations made before the loss look
// dead to other replicas, which may take them over while this process still
// runs them: the same exposure as a request outliving the reservation's
// lock, and only while this process cannot reach the database either.
func (in *instance) keep(ctx context.Context) {
	defer close(in.done)
	t := time.NewTicker(instanceCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		had := in.ID()
		err := in.acquire(ctx)
		switch now := in.ID(); {
		case now == "" && had != "":
			in.log.Warn("postgres: lost the instance lock; idempotency reservations are recorded without an owner until it is back", "error", fmt.Sprint(err))
		case now != "" && had == "":
			in.log.Info("postgres: instance lock taken again")
		}
	}
}

// ID is this replica's instance id, or ” while its lock is not held.
func (in *instance) ID() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.id
}

// Alive reports whether the instance owner may be running: true for ”
// (unknown) and for this process's own ids; otherwise whether its lock is
// held, probed with a transaction-level try-lock that, when it succeeds,
// is released at once by the commit.
func (in *instance) Alive(ctx context.Context, owner string) (bool, error) {
	in.mu.Lock()
	self := owner == "" || in.mine[owner]
	in.mu.Unlock()
	if self {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	tx, err := in.probe.BeginTx(ctx, nil)
	if err != nil {
		return true, dialect.MapErr(err)
	}
	defer func() { _ = tx.Rollback() }()
	var got bool
	if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1, $2)`, instanceLockNamespace, instanceKey(owner)).Scan(&got); err != nil {
		return true, dialect.MapErr(err)
	}
	if err := tx.Commit(); err != nil {
		return true, dialect.MapErr(err)
	}
	return !got, nil
}

// close stops keeping the lock and releases it: the instance is then dead
// to the other replicas. Closing again does nothing.
func (in *instance) close() {
	in.closing.Do(in.closeOnce)
}

func (in *instance) closeOnce() {
	in.cancel()
	<-in.done
	in.mu.Lock()
	id := in.id
	in.id = ""
	in.mu.Unlock()
	in.lock.release(`SELECT pg_advisory_unlock($1, $2)`, instanceLockNamespace, instanceKey(id))
}

// Instance returns this replica's instance (store.Instance).
func (s *Store) Instance() store.Instance { return s.inst }
