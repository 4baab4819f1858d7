package replicas_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/store/engine"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

const (
	// procTick is the replica processes' --worker-interval: how often each
	// campaigns for the lead, so it bounds the failover time.
	procTick = 200 * time.Millisecond
	// procKillAt is the proxied request after which the leader is killed:
	// the apply below sends about 70 (a POST per resource and a few reads).
	procKillAt = 30
	// failoverLimit bounds the time from the kill until a survivor logs that
	// it leads.
	failoverLimit = 10 * time.Second

	leadLine = "leader election: this replica now runs the background worker"
	lostLine = "leader election: this replica lost the lead"
)

// Resource counts of processConfig: 66 resources of six types.
const (
	procRoles, procPolicies, procEligibilities = 20, 6, 20
	procSafes, procAccounts, procSchedules     = 6, 12, 2
)

// processConfig mixes the PIM and vault resources; the vault accounts are
// rotated automatically by pamd on an hourly schedule (not due during the
// test: the test starts one run of the schedule itself).
func processConfig(prefix string) string {
	return `
provider "pam" {
  # The leader is killed mid-apply: requests in flight on it fail with 502
  # (the proxy cannot know whether they were applied) and are retried, with
  # their Idempotency-Key, on a survivor. A key the dead replica reserved
  # but had not yet applied is taken over at once: its owner's instance
  # lock ended with its session. The provider's default max_retries (4)
  # suffices.
  request_timeout_seconds = 15
}

` + acctest.PIMConfig(prefix, procRoles, procPolicies, procEligibilities, "applied across replica processes") + fmt.Sprintf(`
resource "pam_rotation_schedule" "h" {
  count            = %[4]d
  name             = "%[1]s-hourly-${count.index}"
  interval_seconds = 3600
}

resource "pam_safe" "s" {
  count = %[2]d
  name  = "%[1]s-safe-${count.index}"
}

resource "pam_vault_account" "a" {
  count                = %[3]d
  safe_id              = pam_safe.s[count.index %% %[2]d].id
  name                 = "svc-${count.index}"
  platform             = "generic"
  username             = "svc"
  secret_type          = "password"
  management_mode      = "automatic"
  rotation_schedule_id = pam_rotation_schedule.h[count.index %% %[4]d].id
}
`, prefix, procSafes, procAccounts, procSchedules)
}

// leads reports whether a replica's log says it leads: its last leader
// election line is taking the lead.
func leads(log string) bool {
	return strings.LastIndex(log, leadLine) > strings.LastIndex(log, lostLine)
}

// TestAccReplicaProcessKilled is the multi-replica test of issue 8 with real
// processes: three `pamd serve` processes on one fresh PostgreSQL database
// (shared master key file) behind the round-robin proxy. OpenTofu applies 66
// resources of six types through the proxy; after the 30th proxied request
// the leading replica gets SIGKILL (no shutdown: its in-flight requests die
// with it and the proxy answers them 502, its database sessions end with
// their sockets). The proxy routes around the dead replica (connection
// refused, marked down). Checked: the apply succeeds, the next plan is
// empty, every object exists exactly once (objects and create events),
// a survivor takes the lead within failoverLimit, a run of the rotation
// schedules after the kill rotates each account exactly once (one
// rotation.started per account, secret version +1), the plan stays empty
// after the rotations, and `pamd audit verify` accepts the chain.
func TestAccReplicaProcessKilled(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (and TF_ACC_TERRAFORM_PATH) to run it")
	}
	dsn := testdb.NewPostgres(t, testdb.PostgresDSN(t)) // skips when PAM_TEST_POSTGRES_DSN is unset
	bin := acctest.PamdBinary(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")

	procs := make([]*acctest.PamdProcess, replicas)
	urls := make([]string, replicas)
	for i := range procs {
		procs[i] = acctest.NewPamdProcess(t, bin, filepath.Join(dir, fmt.Sprintf("pamd-%d.log", i)),
			[]string{"--db", dsn, "--master-key-file", keyFile, "--rate-limit", "0",
				"--worker-interval", procTick.String(), "--db-max-conns", "4"},
			"PAMD_BOOTSTRAP_TOKEN="+adminToken)
		// One after the other: the first creates the schema and the key.
		procs[i].Start(t)
		urls[i] = procs[i].URL()
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, p := range procs {
			log := p.Log(t)
			if n := len(log); n > 6000 {
				log = log[n-6000:]
			}
			t.Logf("replica %d log (tail):\n%s", i, log)
		}
	})

	// The leader: the one replica whose log says it leads.
	leaders := func() []int {
		var out []int
		for i, p := range procs {
			if p.Running() && leads(p.Log(t)) {
				out = append(out, i)
			}
		}
		return out
	}
	leader := -1
	for deadline := time.Now().Add(failoverLimit); leader < 0; {
		if l := leaders(); len(l) == 1 {
			leader = l[0]
		} else if time.Now().After(deadline) {
			t.Fatalf("leaders %v, want exactly one", l)
		}
		time.Sleep(procTick / 4)
	}

	lb := newRoundRobin(t, urls...)
	var (
		killOnce  sync.Once
		killedAt  time.Time
		killServe [replicas]int64 // requests each replica had served at the kill
		failover  = make(chan time.Duration, 1)
		newLeader = make(chan int, 1)
		watching  sync.WaitGroup
	)
	t.Cleanup(watching.Wait) // the failover watch reads the logs
	lb.hook = func(n int64) {
		if n != procKillAt {
			return
		}
		killOnce.Do(func() {
			for i := range killServe {
				killServe[i] = lb.served[i].Load()
			}
			procs[leader].Kill(t)
			killedAt = time.Now()
			watching.Add(1)
			go func() {
				defer watching.Done()
				for time.Since(killedAt) < failoverLimit {
					if l := leaders(); len(l) == 1 {
						failover <- time.Since(killedAt)
						newLeader <- l[0]
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				failover <- -1
				newLeader <- -1
			}()
		})
	}

	prefix := "kill-" + acctest.RandomName("run")
	wd := acctest.NewWorkdir(t, acctest.EnvEndpoint+"="+lb.URL(), acctest.EnvToken+"="+adminToken)
	wd.SetConfig(t, processConfig(prefix))
	start := time.Now()
	wd.MustRun(t, 3*time.Minute, "apply", "-auto-approve")
	applyTook := time.Since(start)
	if procs[leader].Running() {
		t.Fatalf("the leader was not killed during the apply (%d proxied requests, kill after %d)", lb.total.Load(), procKillAt)
	}
	applyRequests := lb.total.Load()
	if out, err := wd.Run(t, 2*time.Minute, "plan", "-detailed-exitcode"); err != nil {
		t.Fatalf("plan after the apply is not empty (%v):\n%s", err, out)
	}

	// A survivor took the lead in bounded time.
	took, next := <-failover, <-newLeader
	if took < 0 {
		t.Fatalf("no survivor took the lead within %s of the kill", failoverLimit)
	}
	if next == leader {
		t.Fatalf("the killed replica %d still leads", leader)
	}

	// Every object exists exactly once, with the id OpenTofu recorded.
	cl, err := client.New(client.Config{Endpoint: lb.URL(), Token: adminToken, MaxRetries: 8,
		RetryWaitMin: 20 * time.Millisecond, RetryWaitMax: 500 * time.Millisecond, RequestTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The database is this test's own: everything in it is the apply's.
	stored := map[string]map[string]int{} // resource type -> id -> count
	add := func(typ, id string) {
		if stored[typ] == nil {
			stored[typ] = map[string]int{}
		}
		stored[typ][id]++
	}
	names := map[string]int{} // type/name -> count
	list := func(typ string, f func() ([][2]string, error)) {
		t.Helper()
		rows, err := f()
		if err != nil {
			t.Fatalf("listing %s: %v", typ, err)
		}
		for _, r := range rows {
			add(typ, r[0])
			names[typ+"/"+r[1]]++
		}
	}
	list("pam_role", func() ([][2]string, error) {
		rs, err := client.All(ctx, func(tok string) (*api.Page[api.Role], error) {
			return cl.ListRoles(ctx, api.RoleListParams{PageToken: tok, PageSize: 100})
		})
		var out [][2]string
		for _, r := range rs {
			out = append(out, [2]string{r.ID, r.Name})
		}
		return out, err
	})
	list("pam_activation_policy", func() ([][2]string, error) {
		ps, err := client.All(ctx, func(tok string) (*api.Page[api.ActivationPolicy], error) {
			return cl.ListActivationPolicies(ctx, api.ActivationPolicyListParams{PageToken: tok, PageSize: 100})
		})
		var out [][2]string
		for _, p := range ps {
			out = append(out, [2]string{p.ID, p.Name})
		}
		return out, err
	})
	list("pam_eligible_role_assignment", func() ([][2]string, error) {
		es, err := client.All(ctx, func(tok string) (*api.Page[api.EligibleRoleAssignment], error) {
			return cl.ListEligibleRoleAssignments(ctx, api.EligibleRoleAssignmentListParams{PageToken: tok, PageSize: 100})
		})
		var out [][2]string
		for _, e := range es {
			out = append(out, [2]string{e.ID, e.PrincipalID})
		}
		return out, err
	})
	list("pam_rotation_schedule", func() ([][2]string, error) {
		ss, err := client.All(ctx, func(tok string) (*api.Page[api.RotationSchedule], error) {
			return cl.ListRotationSchedules(ctx, api.RotationScheduleListParams{PageToken: tok, PageSize: 100})
		})
		var out [][2]string
		for _, s := range ss {
			out = append(out, [2]string{s.ID, s.Name})
		}
		return out, err
	})
	list("pam_safe", func() ([][2]string, error) {
		ss, err := client.All(ctx, func(tok string) (*api.Page[api.Safe], error) {
			return cl.ListSafes(ctx, api.SafeListParams{PageToken: tok, PageSize: 100})
		})
		var out [][2]string
		for _, s := range ss {
			out = append(out, [2]string{s.ID, s.Name})
		}
		return out, err
	})
	var accounts []api.VaultAccount
	list("pam_vault_account", func() ([][2]string, error) {
		as, err := client.All(ctx, func(tok string) (*api.Page[api.VaultAccount], error) {
			return cl.ListVaultAccounts(ctx, api.VaultAccountListParams{PageToken: tok, PageSize: 100})
		})
		accounts = as
		var out [][2]string
		for _, a := range as {
			out = append(out, [2]string{a.ID, a.SafeID + "/" + a.Name})
		}
		return out, err
	})
	for n, k := range names {
		if k != 1 {
			t.Errorf("%s stored %d times", n, k)
		}
	}
	want := map[string]int{
		"pam_role": procRoles, "pam_activation_policy": procPolicies, "pam_eligible_role_assignment": procEligibilities,
		"pam_rotation_schedule": procSchedules, "pam_safe": procSafes, "pam_vault_account": procAccounts,
	}
	state := wd.State(t)
	if len(state) != procRoles+procPolicies+procEligibilities+procSchedules+procSafes+procAccounts {
		t.Errorf("%d resources in the state", len(state))
	}
	for _, r := range state {
		if stored[r.Type][r.ID] != 1 {
			t.Errorf("%s (%s) stored %d times", r.Address, r.ID, stored[r.Type][r.ID])
		}
	}
	for typ, n := range want {
		if len(stored[typ]) != n {
			t.Errorf("%d %s objects stored, want %d", len(stored[typ]), typ, n)
		}
	}

	// One create event per object.
	events := auditEventsOf(t, dsn)
	created := map[string]int{}
	createdTotal := 0
	for _, ev := range events {
		// token.created is the bootstrap token of the first start.
		if strings.HasSuffix(ev.Action, ".created") && ev.Action != "token.created" {
			created[ev.Target.ID]++
			createdTotal++
		}
	}
	for _, r := range state {
		if created[r.ID] != 1 {
			t.Errorf("%s (%s): %d create events, want 1", r.Address, r.ID, created[r.ID])
		}
	}
	if createdTotal != len(state) {
		t.Errorf("%d create events, want %d (one per resource)", createdTotal, len(state))
	}
	if t.Failed() {
		t.FailNow()
	}

	// Rotations after the kill: one run of each schedule, requested through
	// the proxy; the new leader's worker executes the queued rotations.
	before := map[string]int64{}
	for _, a := range accounts {
		before[a.ID] = a.SecretVersion
	}
	var runs []string
	for _, r := range state {
		if r.Type != "pam_rotation_schedule" {
			continue
		}
		op, err := cl.RunRotationSchedule(ctx, r.ID)
		if err != nil {
			t.Fatalf("run %s: %v", r.Address, err)
		}
		runs = append(runs, op.ID)
	}
	rotStart := time.Now()
	for _, id := range runs {
		for {
			op, err := cl.GetOperation(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if op.State == api.OperationSucceeded || op.State == api.OperationFailed {
				if op.State != api.OperationSucceeded || op.Progress == nil || op.Progress.Succeeded != procAccounts/procSchedules {
					t.Fatalf("schedule run %s: %s, progress %+v", id, op.State, op.Progress)
				}
				break
			}
			if time.Since(rotStart) > 30*time.Second {
				t.Fatalf("schedule run %s still %s after 30 s", id, op.State)
			}
			time.Sleep(procTick / 2)
		}
	}
	rotTook := time.Since(rotStart)
	time.Sleep(5 * procTick)                 // room for a second, wrong, execution to show
	rotEvents := map[string]map[string]int{} // account -> rotation.* action -> count
	for _, ev := range auditEventsOf(t, dsn) {
		if strings.HasPrefix(ev.Action, "rotation.") && ev.Target.Type == "vault_account" {
			if rotEvents[ev.Target.ID] == nil {
				rotEvents[ev.Target.ID] = map[string]int{}
			}
			rotEvents[ev.Target.ID][ev.Action]++
		}
	}
	actionTotals := map[string]int{}
	for _, a := range accounts {
		got, err := cl.GetVaultAccount(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rotEvents[a.ID]["rotation.started"] != 1 || got.SecretVersion != before[a.ID]+1 {
			t.Errorf("account %s: rotation events %v, secret version %d -> %d; want one rotation.started and +1",
				a.ID, rotEvents[a.ID], before[a.ID], got.SecretVersion)
		}
		for act, n := range rotEvents[a.ID] {
			actionTotals[act] += n
		}
	}
	if len(rotEvents) != procAccounts {
		t.Errorf("rotation events for %d accounts, want %d", len(rotEvents), procAccounts)
	}
	if !leads(procs[next].Log(t)) {
		t.Errorf("replica %d lost the lead during the rotations", next)
	}

	// Rotations change no configuration: the plan stays empty.
	if out, err := wd.Run(t, 2*time.Minute, "plan", "-detailed-exitcode"); err != nil {
		t.Fatalf("plan after the rotations is not empty (%v):\n%s", err, out)
	}

	// The operator's check of the shared chain, as a separate process.
	vctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	verify, err := exec.CommandContext(vctx, bin, "audit", "verify", "--db", dsn).CombinedOutput() //nolint:gosec // the pamd this test built
	if err != nil {
		t.Fatalf("pamd audit verify: %v\n%s", err, verify)
	}

	// A dead replica's reservations are taken over at once: no retry waits
	// out their lock ("in progress" only if a survivor probed before
	// PostgreSQL noticed the killed session).
	if n := lb.inProgress.Load(); n > 3 {
		t.Errorf("%d answers refused an idempotency key as in progress, want none or nearly", n)
	}
	takeovers := 0
	for i, p := range procs {
		if i != leader {
			takeovers += strings.Count(p.Log(t), "idempotency: took over the reservation of a dead instance")
		}
	}
	t.Logf("apply of %d resources through the proxy in %s: %d requests (%d to the end of both plans), served %d/%d/%d; %d answered 502, %d answered 409 (%d of them: idempotency key in progress)",
		len(state), applyTook.Round(time.Millisecond), applyRequests, lb.total.Load(),
		lb.served[0].Load(), lb.served[1].Load(), lb.served[2].Load(), lb.badGateway.Load(), lb.conflicts.Load(), lb.inProgress.Load())
	t.Logf("replica %d (leader) SIGKILLed after request %d (served %d/%d/%d at the kill); replica %d led %s later (worker interval %s)",
		leader, procKillAt, killServe[0], killServe[1], killServe[2], next, took.Round(time.Millisecond), procTick)
	t.Logf("reservations of the killed replica taken over by survivors: %d", takeovers)
	t.Logf("rotations after the kill: %d accounts, events %v, all done in %s", len(rotEvents), actionTotals, rotTook.Round(time.Millisecond))
	t.Logf("pamd audit verify: %s", strings.TrimSpace(string(verify)))
}

// auditEventsOf reads the whole audit log from the database, as an operator
// tool would.
func auditEventsOf(t *testing.T, dsn string) []api.AuditEvent {
	t.Helper()
	ctx := context.Background()
	st, err := engine.Open(ctx, dsn, engine.Options{RetryFor: -1, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	return allAuditEvents(t, st)
}
