package replicas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

const (
	adminToken = "replicas-test-bootstrap-admin-token"
	replicas   = 3
	// workerTick is the replicas' worker (and leader election) interval.
	workerTick = 100 * time.Millisecond
)

// syncBuf collects one replica's logs.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type cluster struct {
	t      *testing.T
	dsn    string
	clock  *clock.Fake
	nodes  []*daemon.Daemon
	logs   []*syncBuf
	mu     sync.Mutex // guards closed
	closed []bool
	lb     *roundRobin
}

// startCluster starts n pamd replicas on one fresh PostgreSQL database,
// sharing the master key file and a fake clock, behind a round-robin proxy.
// opts adjust each replica's configuration.
func startCluster(t *testing.T, n int, opts ...func(*daemon.Config)) *cluster {
	t.Helper()
	admin := testdb.PostgresDSN(t)
	c := &cluster{t: t, dsn: testdb.NewPostgres(t, admin), clock: clock.NewFake(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))}
	keyFile := filepath.Join(t.TempDir(), "master.key")
	urls := make([]string, n)
	for i := range n {
		logs := &syncBuf{}
		cfg := daemon.Config{
			Listen: "127.0.0.1:0", DB: c.dsn, MasterKeyFile: keyFile, BootstrapToken: adminToken,
			Clock: c.clock, Version: "test", WorkerInterval: workerTick, DBMaxConns: 4,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		}
		for _, o := range opts {
			o(&cfg)
		}
		d, err := daemon.Start(context.Background(), cfg)
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		c.nodes = append(c.nodes, d)
		c.logs = append(c.logs, logs)
		c.closed = append(c.closed, false)
		urls[i] = d.URL()
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.kill(i)
		}
		u, _ := url.Parse(c.dsn)
		pw, _ := u.User.Password()
		for i, l := range c.logs {
			if pw != "" && strings.Contains(l.String(), pw) {
				t.Errorf("replica %d logged the database password", i)
			}
		}
	})
	c.lb = newRoundRobin(t, urls...)
	return c
}

func (c *cluster) kill(i int) {
	c.mu.Lock()
	if c.closed[i] {
		c.mu.Unlock()
		return
	}
	c.closed[i] = true
	c.mu.Unlock()
	if err := c.nodes[i].Close(); err != nil {
		c.t.Errorf("close replica %d: %v", i, err)
	}
}

func (c *cluster) isClosed(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed[i]
}

// leaders returns the indexes of the live replicas that lead.
func (c *cluster) leaders() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i, d := range c.nodes {
		if !c.closed[i] && d.IsLeader() {
			out = append(out, i)
		}
	}
	return out
}

// waitOneLeader waits (a few worker ticks at most) until exactly one live
// replica leads, and returns it.
func (c *cluster) waitOneLeader() int {
	c.t.Helper()
	deadline := time.Now().Add(20 * workerTick)
	for {
		if l := c.leaders(); len(l) == 1 {
			return l[0]
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("leaders = %v, want exactly one", c.leaders())
		}
		time.Sleep(workerTick / 4)
	}
}

func (c *cluster) client() *client.Client {
	c.t.Helper()
	cl, err := client.New(client.Config{Endpoint: c.lb.URL(), Token: adminToken, MaxRetries: 8,
		RetryWaitMin: 20 * time.Millisecond, RetryWaitMax: 500 * time.Millisecond, RequestTimeout: 20 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// live returns a replica that is still running.
func (c *cluster) live() *daemon.Daemon {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, d := range c.nodes {
		if !c.closed[i] {
			return d
		}
	}
	c.t.Fatal("no live replica")
	return nil
}

func (c *cluster) auditEvents() []api.AuditEvent {
	c.t.Helper()
	return allAuditEvents(c.t, c.live().Store())
}

// allAuditEvents reads the whole audit log of st, page by page.
func allAuditEvents(t *testing.T, st store.Store) []api.AuditEvent {
	t.Helper()
	var out []api.AuditEvent
	err := st.View(context.Background(), func(tx store.Tx) error {
		after := int64(0)
		for {
			page, err := tx.ListAudit(store.AuditFilter{AfterSequence: after, Limit: 1000})
			if err != nil {
				return err
			}
			if len(page) == 0 {
				return nil
			}
			out = append(out, page...)
			after = page[len(page)-1].Sequence
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// verifyAudit runs `pamd audit verify`'s check on the shared chain.
func (c *cluster) verifyAudit() int64 {
	c.t.Helper()
	res, err := daemon.VerifyAudit(context.Background(), c.live().Store())
	if err != nil {
		c.t.Fatal(err)
	}
	if !res.OK() {
		c.t.Fatalf("audit chain: %v", res)
	}
	return res.Checked
}

// TestBurstAcrossReplicasWithOneKilled: a burst of mixed writes through the
// round-robin proxy, with the leading replica killed half-way, converges:
// every write lands exactly once, the audit chain is one intact sequence,
// and another replica takes over the background worker.
func TestBurstAcrossReplicasWithOneKilled(t *testing.T) {
	c := startCluster(t, replicas)
	leader := c.waitOneLeader()
	cl := c.client()
	ctx := context.Background()

	const workers, perWorker = 6, 50 // 300 logical writes
	var done atomic.Int64
	killAt := int64(workers * perWorker / 2)
	var killOnce sync.Once
	type result struct {
		created map[string]string // role name -> id, still existing
		deleted map[string]bool   // role names deleted
		updates int
		safes   []string
	}
	results := make([]result, workers)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := result{created: map[string]string{}, deleted: map[string]bool{}}
			var last *api.Role
			for i := range perWorker {
				if done.Add(1) == killAt {
					killOnce.Do(func() { c.kill(leader) })
				}
				var err error
				switch {
				case i%10 == 9: // a safe with an account in it
					var s *api.Safe
					s, err = cl.CreateSafe(ctx, api.SafeInput{Name: fmt.Sprintf("safe-%d-%d", w, i)})
					if err == nil {
						res.safes = append(res.safes, s.ID)
						_, err = cl.CreateVaultAccount(ctx, api.VaultAccountInput{Name: "svc", SafeID: s.ID, Platform: api.PlatformGeneric,
							Username: "svc", SecretType: api.SecretTypePassword, Secret: fmt.Sprintf("secret-%d-%d-xyz", w, i),
							ManagementMode: api.ManagementManual,
							CheckoutPolicy: api.CheckoutPolicy{DefaultDurationSeconds: 600, MaxDurationSeconds: 3600, AllowRetrieve: true}})
					}
				case i%5 == 4 && last != nil: // update the last role
					in := last.RoleInput
					in.Description = fmt.Sprintf("updated by worker %d at %d", w, i)
					last, err = cl.UpdateRole(ctx, last.ID, last.Version, in)
					if err == nil {
						res.updates++
					}
				case i%7 == 6 && last != nil: // delete the last role
					err = cl.DeleteRole(ctx, last.ID, last.Version)
					if errors.Is(err, client.ErrNotFound) {
						err = nil // deleted by an attempt whose answer was lost
					}
					if err == nil {
						delete(res.created, last.Name)
						res.deleted[last.Name] = true
						last = nil
					}
				default:
					last, err = cl.CreateRole(ctx, api.RoleInput{Name: fmt.Sprintf("role-%d-%d", w, i), Description: "burst", AssignableScopes: []string{"/"}})
					if err == nil {
						res.created[last.Name] = last.ID
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d op %d: %w", w, i, err)
					return
				}
			}
			results[w] = res
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	if !c.isClosed(leader) {
		t.Fatal("the leader was never killed")
	}

	// Every replica served part of the burst.
	for i := range c.nodes {
		if c.lb.served[i].Load() == 0 {
			t.Errorf("replica %d served no request", i)
		}
	}

	// Converged: exactly the roles that should exist, once each.
	want := map[string]string{}
	deleted := map[string]bool{}
	updates, safes := 0, 0
	for _, r := range results {
		for n, id := range r.created {
			want[n] = id
		}
		for n := range r.deleted {
			deleted[n] = true
		}
		updates += r.updates
		safes += len(r.safes)
	}
	roles, err := client.All(ctx, func(tok string) (*api.Page[api.Role], error) {
		return cl.ListRoles(ctx, api.RoleListParams{PageToken: tok, PageSize: 100})
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range roles {
		if _, dup := got[r.Name]; dup {
			t.Errorf("role %s twice", r.Name)
		}
		got[r.Name] = r.ID
	}
	if len(got) != len(want) {
		t.Errorf("%d roles stored, want %d", len(got), len(want))
	}
	for n, id := range want {
		if got[n] != id {
			t.Errorf("role %s: stored id %q, want %q", n, got[n], id)
		}
	}

	// One audit event per write, none twice, on one intact chain.
	evs := c.auditEvents()
	count := map[string]int{}
	seen := map[string]int{}
	for _, ev := range evs {
		count[ev.Action]++
		if ev.Action == "role.created" {
			seen[ev.Target.ID]++
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("role %s created %d times in the audit log", id, n)
		}
	}
	if count["role.created"] != len(want)+len(deleted) || count["role.deleted"] != len(deleted) || count["role.updated"] != updates {
		t.Errorf("audit counts %v; want %d role.created, %d role.deleted, %d role.updated",
			count, len(want)+len(deleted), len(deleted), updates)
	}
	if count["safe.created"] != safes || count["vault_account.created"] != safes {
		t.Errorf("audit counts %v; want %d safe.created and vault_account.created", count, safes)
	}
	checked := c.verifyAudit()
	if checked != int64(len(evs)) {
		t.Errorf("verified %d events, listed %d", checked, len(evs))
	}

	// The survivors elect a new leader within a few ticks.
	next := c.waitOneLeader()
	if next == leader {
		t.Fatalf("killed replica %d still leads", leader)
	}
	if !strings.Contains(c.logs[next].String(), "now runs the background worker") {
		t.Errorf("new leader %d did not log taking the lead", next)
	}
	t.Logf("%d writes (%d roles kept, %d deleted, %d updates, %d safes+accounts), %d audit events verified; replica %d killed, replica %d leads; served %d/%d/%d",
		workers*perWorker, len(want), len(deleted), updates, safes, checked, leader, next,
		c.lb.served[0].Load(), c.lb.served[1].Load(), c.lb.served[2].Load())
}

// TestIdempotencyKeyAcrossReplicas: a retried POST with the same
// Idempotency-Key that lands on another replica replays the first one's
// response instead of creating again.
func TestIdempotencyKeyAcrossReplicas(t *testing.T) {
	c := startCluster(t, 2)
	post := func(base string) (*http.Response, []byte) {
		t.Helper()
		body := `{"name":"idem-role","description":"d","assignable_scopes":["/"]}`
		req, err := http.NewRequest(http.MethodPost, base+api.PathRoles, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(api.HeaderIdempotencyKey, "same-key-on-two-replicas")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp, buf.Bytes()
	}
	r1, b1 := post(c.nodes[0].URL())
	r2, b2 := post(c.nodes[1].URL())
	if r1.StatusCode != http.StatusCreated || r2.StatusCode != http.StatusCreated {
		t.Fatalf("statuses %d, %d: %s / %s", r1.StatusCode, r2.StatusCode, b1, b2)
	}
	if r1.Header.Get(api.HeaderIdempotencyReplayed) != "" || r2.Header.Get(api.HeaderIdempotencyReplayed) != "true" {
		t.Fatalf("replayed headers: first %q, second %q", r1.Header.Get(api.HeaderIdempotencyReplayed), r2.Header.Get(api.HeaderIdempotencyReplayed))
	}
	var a, b api.Role
	if err := json.Unmarshal(b1, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b2, &b); err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || a.ID != b.ID {
		t.Fatalf("replica B answered role %q, replica A created %q", b.ID, a.ID)
	}
	n := 0
	for _, ev := range c.auditEvents() {
		if ev.Action == "role.created" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d role.created events, want 1", n)
	}
}

// TestRotationRunsOnceAcrossReplicas: accounts whose rotation is due are
// rotated exactly once each, although every replica runs worker passes at
// the same time (as two leaders would, by accident) besides the elected
// leader's own loop.
func TestRotationRunsOnceAcrossReplicas(t *testing.T) {
	c := startCluster(t, replicas)
	cl := c.client()
	ctx := context.Background()
	interval := int64(3600)
	sched, err := cl.CreateRotationSchedule(ctx, api.RotationScheduleInput{Name: "hourly", IntervalSeconds: &interval, WindowSeconds: 600})
	if err != nil {
		t.Fatal(err)
	}
	safe, err := cl.CreateSafe(ctx, api.SafeInput{Name: "rotated"})
	if err != nil {
		t.Fatal(err)
	}
	const accounts = 8
	var ids []string
	for i := range accounts {
		a, err := cl.CreateVaultAccount(ctx, api.VaultAccountInput{Name: fmt.Sprintf("svc-%d", i), SafeID: safe.ID, Platform: api.PlatformGeneric,
			Username: "svc", SecretType: api.SecretTypePassword, Secret: fmt.Sprintf("initial-secret-%d", i),
			ManagementMode: api.ManagementAutomatic, RotationScheduleID: sched.ID,
			CheckoutPolicy: api.CheckoutPolicy{DefaultDurationSeconds: 600, MaxDurationSeconds: 3600, AllowRetrieve: true}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	passes := func() {
		var wg sync.WaitGroup
		for i, d := range c.nodes {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := d.RunWorkerOnce(ctx); err != nil {
						t.Errorf("replica %d worker pass: %v", i, err)
					}
				}()
			}
		}
		wg.Wait()
	}
	passes() // schedules the accounts; nothing is due yet
	c.clock.Advance(time.Hour + time.Second)
	for range 3 {
		passes()
	}
	time.Sleep(3 * workerTick) // and the leader's own loop has had its turns
	started := map[string]int{}
	for _, ev := range c.auditEvents() {
		if ev.Action == "rotation.started" {
			started[ev.Target.ID]++
		}
	}
	for _, id := range ids {
		a, err := cl.GetVaultAccount(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if started[id] != 1 || a.SecretVersion != 2 {
			t.Errorf("account %s: %d rotation.started events, secret version %d; want 1 and 2", id, started[id], a.SecretVersion)
		}
	}
	if len(started) != accounts {
		t.Errorf("rotations started for %d accounts, want %d", len(started), accounts)
	}
	c.verifyAudit()
}
