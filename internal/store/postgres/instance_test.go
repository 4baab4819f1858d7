package postgres_test

import (
	"context"
	"database/sql"
	"hash/fnv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

// TestInstanceLiveness: replica B sees the instance of replica A, which
// holds a reservation, alive while A's store is open, and dead once A has
// closed (its session, hence its instance lock, is gone).
func TestInstanceLiveness(t *testing.T) {
	dsn := testdb.NewPostgres(t, testdb.PostgresDSN(t))
	a, b := open(t, dsn), open(t, dsn)
	ctx := context.Background()
	ia, ib := a.Instance(), b.Instance()
	if ia.ID() == "" || ib.ID() == "" || ia.ID() == ib.ID() {
		t.Fatalf("instance ids %q and %q: want two distinct ones", ia.ID(), ib.ID())
	}
	rec := store.IdempotencyRecord{Subject: "user:alice", Method: "POST", Path: "/v1/roles", Key: "k", Fingerprint: "f",
		Header: "{}", LockedUntil: time.Now().Add(time.Minute), ExpiresAt: time.Now().Add(time.Hour), Owner: ia.ID()}
	if err := a.Update(ctx, func(tx store.Tx) error { return tx.PutIdempotency(rec) }); err != nil {
		t.Fatal(err)
	}
	var owner string
	if err := b.View(ctx, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(rec.Subject, rec.Method, rec.Path, rec.Key)
		owner = got.Owner
		return err
	}); err != nil {
		t.Fatal(err)
	}
	alive := func(in store.Instance, owner string) bool {
		t.Helper()
		ok, err := in.Alive(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !alive(ib, owner) || !alive(ib, ib.ID()) || !alive(ib, "") {
		t.Fatal("B sees A (open), itself or an unknown owner as dead")
	}
	// Probing does not take A's lock away: it is still alive afterwards.
	if !alive(ib, owner) {
		t.Fatal("A looks dead after a probe")
	}
	if !alive(ia, ia.ID()) {
		t.Fatal("A sees itself dead")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(ib, owner) {
		t.Fatal("B still sees A alive after A closed")
	}
	if alive(ib, store.NewInstanceID()) {
		t.Fatal("an instance id nobody holds looks alive")
	}
}

// TestInstanceLockLost: when the instance lock's session is killed (as a
// SIGKILLed replica's would end), the other replica sees the instance dead;
// the survivor (here the same process, its connection cut) then takes an
// instance lock again within a check interval.
func TestInstanceLockLost(t *testing.T) {
	dsn := testdb.NewPostgres(t, testdb.PostgresDSN(t))
	a, b := open(t, dsn), open(t, dsn)
	ctx := context.Background()
	id := a.Instance().ID()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	var n int
	if err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND classid = $1 AND objid = $2 AND granted`,
		int64(0x70616d64), int64(h.Sum32())).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("terminated %d sessions holding A's instance lock, want 1", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := b.Instance().Alive(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A's instance still looks alive after its session was terminated")
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(15 * time.Second)
	for a.Instance().ID() == "" || !alive(t, b, a.Instance().ID()) {
		if time.Now().After(deadline) {
			t.Fatalf("A did not take its instance lock again (id %q)", a.Instance().ID())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func alive(t *testing.T, s interface{ Instance() store.Instance }, owner string) bool {
	t.Helper()
	ok, err := s.Instance().Alive(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestAdvisoryKeySpaces: PostgreSQL keeps the two-int4-key advisory locks
// (the instance locks) apart from the single-bigint ones (writer, leader,
// goose): holding bigint 0x70616d64_00000001 (the writer lock) does not
// hold (0x70616d64, 1), whose halves are the same numbers.
func TestAdvisoryKeySpaces(t *testing.T) {
	dsn := testdb.NewPostgres(t, testdb.PostgresDSN(t))
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ctx := context.Background()
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c1.Close() }()
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c2.Close() }()
	if _, err := c1.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(0x70616d64_00000001)); err != nil {
		t.Fatal(err)
	}
	var got bool
	if err := c2.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, int32(0x70616d64), int32(1)).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !got {
		t.Fatal("the two-key lock (0x70616d64, 1) conflicts with the bigint lock 0x70616d6400000001")
	}
	_, _ = c1.ExecContext(ctx, `SELECT pg_advisory_unlock_all()`)
	_, _ = c2.ExecContext(ctx, `SELECT pg_advisory_unlock_all()`)
}
