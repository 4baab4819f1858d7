package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/postgres"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func dbName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func role(name string) api.Role {
	a := api.Actor{Type: "user", ID: "alice"}
	return api.Role{
		Meta:      api.Meta{ID: ids.New(api.PrefixRole, t0), Version: 1, CreatedAt: t0, CreatedBy: a, UpdatedAt: t0, UpdatedBy: a},
		RoleInput: api.RoleInput{Name: name, Description: "d", AssignableScopes: []string{"/"}},
	}
}

func event(target string) *api.AuditEvent {
	return &api.AuditEvent{
		ID: ids.New(api.PrefixAudit, t0), OccurredAt: audit.FormatTime(t0), Action: "role.created", Category: "role",
		Outcome: api.OutcomeSuccess, Actor: api.AuditActor{Type: "user", ID: "alice"},
		Target: api.AuditTarget{Type: "role", ID: target},
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	admin := testdb.PostgresDSN(t)
	dsn := testdb.NewPostgres(t, admin)
	s := open(t, dsn)
	v, err := s.SchemaVersion(context.Background())
	if err != nil || v < 8 {
		t.Fatalf("schema version %d, %v", v, err)
	}
	_ = s.Close()
	db := testdb.SQLDB(t, dsn)
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, true)`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(context.Background(), dsn, postgres.Options{})
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("open newer schema: %v, want ErrSchemaTooNew", err)
	}
	want := fmt.Sprintf("database is at schema version 9999, this pamd knows up to %d", v)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// TestUnreachableAtStart: nothing listens on the port; Open retries with
// backoff for RetryFor, then fails naming host:port and not the password.
func TestUnreachableAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // a port that refuses connections
	const password = "s3cret-Pa55word"
	dsn := "postgres://pamd:" + password + "@" + addr + "/pamd?sslmode=disable"
	start := time.Now()
	_, err = postgres.Open(context.Background(), dsn, postgres.Options{RetryFor: 1500 * time.Millisecond})
	took := time.Since(start)
	if err == nil {
		t.Fatal("open succeeded against a closed port")
	}
	msg := err.Error()
	if strings.Contains(msg, password) {
		t.Fatalf("error leaks the password: %s", msg)
	}
	if !strings.Contains(msg, addr+"/pamd") || !strings.Contains(msg, "unreachable after") {
		t.Errorf("error does not name the server: %s", msg)
	}
	if strings.Contains(msg, "after 1 attempt") {
		t.Errorf("did not retry: %s", msg)
	}
	if took < 500*time.Millisecond {
		t.Errorf("gave up after %s, before any backoff", took)
	}
	// A DSN that does not parse is refused without quoting it.
	_, err = postgres.Open(context.Background(), "postgres://pamd:"+password+"@host:notaport/x", postgres.Options{RetryFor: -1})
	if err == nil || strings.Contains(err.Error(), password) {
		t.Fatalf("bad URL: %v", err)
	}
}

// TestWrongPasswordFailsAtOnce: authentication failures are not retried.
func TestWrongPasswordFailsAtOnce(t *testing.T) {
	admin := testdb.PostgresDSN(t)
	u, _ := url.Parse(admin)
	u.User = url.UserPassword(u.User.Username(), "wrong-Pa55word")
	start := time.Now()
	_, err := postgres.Open(context.Background(), u.String(), postgres.Options{RetryFor: 20 * time.Second})
	if err == nil || strings.Contains(err.Error(), "wrong-Pa55word") {
		t.Fatalf("open with a wrong password: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("retried an authentication failure for %s", time.Since(start))
	}
}

// TestLostConnectionMidTransaction: the server ends the session half-way
// through an Update. The caller gets ErrUnavailable and nothing of the
// transaction is stored.
func TestLostConnectionMidTransaction(t *testing.T) {
	admin := testdb.PostgresDSN(t)
	dsn := testdb.NewPostgres(t, admin)
	s := open(t, dsn)
	adm := testdb.SQLDB(t, admin)
	name := dbName(t, dsn)
	ctx := context.Background()
	r1, r2 := role("first"), role("second")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertRole(r1); err != nil {
			return err
		}
		if err := tx.AppendAudit(event(r1.ID)); err != nil {
			return err
		}
		if _, err := adm.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
			t.Fatal(err)
		}
		return tx.InsertRole(r2)
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("update after the connection died: %v, want ErrUnavailable", err)
	}
	// The pool replaces the dead connection; nothing was committed.
	if err := s.View(ctx, func(tx store.Tx) error {
		for _, id := range []string{r1.ID, r2.ID} {
			if _, err := tx.GetRole(id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("role %s after the failed update: %v", id, err)
			}
		}
		h, err := tx.AuditHead(audit.DefaultChain)
		if err != nil || h.Sequence != 0 {
			t.Errorf("audit head after the failed update: %+v, %v", h, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// While the database refuses connections, every call is ErrUnavailable.
	if _, err := adm.ExecContext(ctx, `ALTER DATABASE "`+name+`" WITH ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.InsertRole(r1) })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("update while refused: %v, want ErrUnavailable", err)
	}
	if _, err := adm.ExecContext(ctx, `ALTER DATABASE "`+name+`" WITH ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertRole(r1) }); err != nil {
		t.Fatalf("update after the database is back: %v", err)
	}
}

// TestAuditChainAcrossReplicas: two stores (two replicas) append to the
// chain at once; it stays one gap-free, verifiable sequence.
func TestAuditChainAcrossReplicas(t *testing.T) {
	admin := testdb.PostgresDSN(t)
	dsn := testdb.NewPostgres(t, admin)
	a, b := open(t, dsn), open(t, dsn)
	const perReplica = 60
	var wg sync.WaitGroup
	errs := make(chan error, 2*perReplica)
	for _, s := range []*postgres.Store{a, b} {
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perReplica/2; i++ {
					r := role(ids.New("x", t0))
					errs <- s.Update(context.Background(), func(tx store.Tx) error {
						if err := tx.InsertRole(r); err != nil {
							return err
						}
						return tx.AppendAudit(event(r.ID))
					})
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	res, err := daemon.VerifyAudit(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Checked != 2*perReplica {
		t.Fatalf("audit chain after concurrent appends: %v (checked %d, want %d)", res, res.Checked, 2*perReplica)
	}
}

// TestLeaderElection: one of two replicas leads; when it resigns or its
// session dies, the other takes over at its next campaign.
func TestLeaderElection(t *testing.T) {
	admin := testdb.PostgresDSN(t)
	dsn := testdb.NewPostgres(t, admin)
	a, b := open(t, dsn), open(t, dsn)
	ctx := context.Background()
	campaign := func(s *postgres.Store) bool {
		t.Helper()
		ok, err := s.Campaign(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !campaign(a) || campaign(b) {
		t.Fatal("want a to lead and b to follow")
	}
	if !campaign(a) || campaign(b) {
		t.Fatal("lead changed without a reason")
	}
	a.Resign()
	if !campaign(b) || campaign(a) {
		t.Fatal("b did not take over after a resigned")
	}
	// The leader's session is killed (a crashed replica, a cut network):
	// the lock goes with it, and a takes over. A bigint advisory key shows
	// in pg_locks as classid (high 32 bits) and objid (low): "pamd", 2.
	var pid int
	if err := testdb.SQLDB(t, admin).QueryRowContext(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = $1)
		AND classid::bigint = $2 AND objid::bigint = $3`, dbName(t, dsn), 0x70616d64, 2).Scan(&pid); err != nil {
		t.Fatalf("find the leader's session: %v", err)
	}
	if _, err := testdb.SQLDB(t, admin).ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !campaign(a) {
		if time.Now().After(deadline) {
			t.Fatal("a never took over from the killed leader")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if campaign(b) {
		t.Fatal("b still thinks it leads after its session was killed")
	}
}

// TestWriterLockTimeout: a write waiting behind a writer that holds the lock
// too long fails with ErrUnavailable (a 503) instead of hanging.
func TestWriterLockTimeout(t *testing.T) {
	admin := testdb.PostgresDSN(t)
	dsn := testdb.NewPostgres(t, admin)
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 2, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	// Another session (a wedged replica) holds the writer lock.
	holder := testdb.SQLDB(t, dsn)
	conn, err := holder.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_lock($1)`, int64(0x70616d64_00000001)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Update(context.Background(), func(tx store.Tx) error { return tx.PutSetting("k", "v") })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("update behind a held writer lock: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("waited %s", d)
	}
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(0x70616d64_00000001)); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), func(tx store.Tx) error { return tx.PutSetting("k", "v") }); err != nil {
		t.Fatalf("update after the lock is free: %v", err)
	}
}
