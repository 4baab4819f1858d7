package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
)

func twoWritersConfig(name, desc string, importID string) string {
	imp := ""
	if importID != "" {
		imp = fmt.Sprintf("import {\n  to = pam_role.r\n  id = %q\n}\n", importID)
	}
	return imp + fmt.Sprintf(`
resource "pam_role" "r" {
  name        = %q
  description = %q
}
`, name, desc)
}

// TestAccTwoWritersSameRole: two working directories manage one role (the
// second imported it). The second plans a change; before it applies, the
// first applies its own. The second's apply of its saved plan must fail
// with the provider's 412 diagnostic and change nothing (pamd keeps the
// first's value: no lost update); after a refresh the second converges.
func TestAccTwoWritersSameRole(t *testing.T) {
	skipUnlessAcc(t)
	acctest.PreCheck(t)
	ctx := context.Background()
	c := acctest.Client(t)
	name := acctest.RandomName("tf-acc-two-writers")
	const timeout = 2 * time.Minute

	a := acctest.NewWorkdir(t)
	a.SetConfig(t, twoWritersConfig(name, "from A", ""))
	a.MustRun(t, timeout, "apply", "-auto-approve", "-no-color")
	st := a.State(t)
	if len(st) != 1 {
		t.Fatalf("A's state holds %d resources, want 1", len(st))
	}
	id := st[0].ID

	b := acctest.NewWorkdir(t)
	b.SetConfig(t, twoWritersConfig(name, "from A", id))
	b.MustRun(t, timeout, "apply", "-auto-approve", "-no-color")
	if out, err := b.Run(t, timeout, "plan", "-detailed-exitcode", "-no-color"); err != nil {
		t.Fatalf("B's plan after the import is not empty: %v\n%s", err, out)
	}
	t.Cleanup(func() { b.MustRun(t, timeout, "destroy", "-auto-approve", "-no-color") })

	// B plans its change against version 1 and saves the plan...
	b.SetConfig(t, twoWritersConfig(name, "from B", id))
	b.MustRun(t, timeout, "plan", "-out=b.tfplan", "-no-color")
	// ... A applies first: version 2 ...
	a.SetConfig(t, twoWritersConfig(name, "from A, second", ""))
	a.MustRun(t, timeout, "apply", "-auto-approve", "-no-color")
	// ... and B's apply of its saved plan, at version 1, is refused.
	out, err := b.Run(t, timeout, "apply", "-no-color", "b.tfplan")
	if err == nil {
		t.Fatalf("B's apply of a plan made before A's change succeeded: a lost update\n%s", out)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"Role Changed Outside Terraform",
		"because it changed outside Terraform since the last refresh",
		"Terraform knew version 1, pamd has a newer one",
		"Nothing was changed.",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("B's failed apply does not say %q:\n%s", want, out)
		}
	}
	role, err := c.GetRole(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if role.Description != "from A, second" || role.Version != 2 {
		t.Fatalf("after B's refused apply pamd holds version %d %q; want A's version 2 %q", role.Version, role.Description, "from A, second")
	}

	// B refreshes (a normal apply) and converges on its own configuration.
	b.MustRun(t, timeout, "apply", "-auto-approve", "-no-color")
	if out, err := b.Run(t, timeout, "plan", "-detailed-exitcode", "-no-color"); err != nil {
		t.Fatalf("B's plan after the refresh is not empty: %v\n%s", err, out)
	}
	role, err = c.GetRole(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if role.Description != "from B" || role.Version != 3 {
		t.Fatalf("after B's second apply pamd holds version %d %q; want 3 %q", role.Version, role.Description, "from B")
	}
	// A, in turn, now sees B's change as drift (exit code 2: changes).
	if out, err := a.Run(t, timeout, "plan", "-detailed-exitcode", "-no-color"); err == nil || !strings.Contains(out, `"from B" -> "from A, second"`) {
		t.Fatalf("A's plan does not propose to undo B's change: %v\n%s", err, out)
	}
}

// Sizes of the parallelism configuration: 300 resources.
const (
	parRoles       = 120
	parPolicies    = 90
	parEligibility = 90
	parParallelism = 32
	// parBarrier writes are held until that many are in flight at once,
	// which OpenTofu's default parallelism (10) can never reach.
	parBarrier = 20
)

func parallelismConfig(prefix, description string) string {
	return acctest.PIMConfig(prefix, parRoles, parPolicies, parEligibility, description)
}

// countingProxy forwards to pamd, counts requests by method and status,
// tracks the peak number of requests in flight, and holds the first writes
// at a barrier until parBarrier of them are in flight together.
type countingProxy struct {
	srv             *httptest.Server
	inFlight, peak  atomic.Int64
	mu              sync.Mutex
	byMethod        map[string]int
	byStatus        map[int]int
	waiting         int
	released        chan struct{}
	releasedByCount bool
	barrierDeadline time.Duration
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * parParallelism
	rp.Transport = tr
	p := &countingProxy{byMethod: map[string]int{}, byStatus: map[int]int{}, released: make(chan struct{}), barrierDeadline: 20 * time.Second}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.inFlight.Add(1)
		defer p.inFlight.Add(-1)
		for {
			old := p.peak.Load()
			if n <= old || p.peak.CompareAndSwap(old, n) {
				break
			}
		}
		if r.Method != http.MethodGet && !p.barrier(r) {
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		rp.ServeHTTP(sw, r)
		p.mu.Lock()
		p.byMethod[r.Method]++
		p.byStatus[sw.status]++
		p.mu.Unlock()
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// barrier holds a write until parBarrier writes wait together (then opens
// for good), or until barrierDeadline passes: with parallelism below
// parBarrier the count is never reached and the test fails on
// releasedByCount, not on a timing. A waiter whose client gave up leaves,
// so only requests really in flight count.
func (p *countingProxy) barrier(r *http.Request) bool {
	p.mu.Lock()
	select {
	case <-p.released:
		p.mu.Unlock()
		return true
	default:
	}
	p.waiting++
	if p.waiting >= parBarrier {
		p.releasedByCount = true
		close(p.released)
		p.mu.Unlock()
		return true
	}
	p.mu.Unlock()
	timer := time.NewTimer(p.barrierDeadline)
	defer timer.Stop()
	select {
	case <-p.released:
		return true
	case <-r.Context().Done():
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
		return false
	case <-timer.C:
		p.mu.Lock()
		select {
		case <-p.released:
		default:
			close(p.released)
		}
		p.mu.Unlock()
		return true
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (p *countingProxy) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	for _, n := range p.byMethod {
		total += n
	}
	return fmt.Sprintf("%d requests (by method %v, by status %v), peak %d in flight", total, p.byMethod, p.byStatus, p.peak.Load())
}

// TestAccParallelism32 applies, re-plans, updates and destroys 300
// resources with OpenTofu at -parallelism=32 (given as TF_CLI_ARGS_plan,
// _apply and _destroy) against one pamd on SQLite: no errors, empty plans,
// one object per resource at the version in state, and pamd's debug log
// shows no SQLITE_BUSY, "database is locked", 503 or request error. A proxy counts
// the requests and proves the parallelism took effect: it holds the first
// writes until parBarrier of them are in flight together, which the
// default parallelism (10) cannot reach.
//
// It runs the CLI through acctest.Workdir, not terraform-plugin-testing:
// terraform-exec passes -parallelism=10 on every apply's command line,
// which overrides TF_CLI_ARGS_apply (the first version of this test, on
// resource.Test, held 10 writes at the barrier and no more).
//
// Not parallel, so that the slice of pamd's log it checks is its own.
func TestAccParallelism32(t *testing.T) {
	skipUnlessAcc(t)
	acctest.PreCheck(t)
	// The test is about pamd under concurrent load, which the CLI only
	// generates; the OpenTofu leg covers it, so the Terraform leg saves the
	// two minutes.
	if info, err := acctest.CLI(); err != nil || !info.OpenTofu {
		t.Skipf("runs on the OpenTofu leg only (CLI: %v %v)", info, err)
	}
	direct := acctest.Client(t)
	proxy := newCountingProxy(t, os.Getenv(acctest.EnvEndpoint))
	arg := fmt.Sprintf("-parallelism=%d", parParallelism)
	wd := acctest.NewWorkdir(t, acctest.EnvEndpoint+"="+proxy.srv.URL,
		"TF_CLI_ARGS_plan="+arg, "TF_CLI_ARGS_apply="+arg, "TF_CLI_ARGS_destroy="+arg)
	logStart := len(acctest.PamdLog(t))
	const timeout = 10 * time.Minute

	prefix := acctest.RandomName("tf-acc-par")
	matchesServer := func(step string) {
		t.Helper()
		versions, err := faultObjects(direct, prefix, parRoles, parPolicies, parEligibility)
		if err != nil {
			t.Fatalf("after %s: %v", step, err)
		}
		st := wd.State(t)
		for _, r := range st {
			v, ok := versions[r.ID]
			sv, _ := r.Attributes["version"].(float64)
			if !ok || int64(sv) != v {
				t.Errorf("after %s: %s (%s): state version %v, pamd %d (present: %v)", step, r.Address, r.ID, sv, v, ok)
			}
		}
		if len(st) != len(versions) {
			t.Fatalf("after %s: state holds %d resources, pamd %d objects", step, len(st), len(versions))
		}
	}
	emptyPlan := func(step string) {
		t.Helper()
		if out, err := wd.Run(t, timeout, "plan", "-detailed-exitcode", "-no-color"); err != nil {
			t.Fatalf("plan after %s is not empty (or failed): %v\n%s", step, err, out)
		}
	}

	wd.SetConfig(t, parallelismConfig(prefix, "parallel"))
	wd.MustRun(t, timeout, "apply", "-auto-approve", "-no-color")
	matchesServer("create")
	emptyPlan("create")
	t.Logf("after create: %s", proxy)
	// Update every role in place: 120 conditional PUTs, 32 at a time.
	wd.SetConfig(t, parallelismConfig(prefix, "parallel, updated"))
	out := wd.MustRun(t, timeout, "apply", "-auto-approve", "-no-color")
	if !strings.Contains(out, fmt.Sprintf("0 added, %d changed, 0 destroyed", parRoles)) {
		t.Fatalf("the update apply did not change exactly the %d roles:\n%s", parRoles, tail(out, 5))
	}
	matchesServer("update")
	emptyPlan("update")
	wd.MustRun(t, timeout, "destroy", "-auto-approve", "-no-color")
	if err := checkFaultObjects(direct, prefix, 0, 0, 0); err != nil {
		t.Fatalf("after destroy: %v", err)
	}

	t.Logf("parallelism %d: %s", parParallelism, proxy)
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	if !proxy.releasedByCount {
		t.Errorf("never %d writes in flight together (peak %d): -parallelism=%d did not take effect", parBarrier, proxy.peak.Load(), parParallelism)
	}
	for status, n := range proxy.byStatus {
		if status >= 500 {
			t.Errorf("%d responses with status %d", n, status)
		}
	}
	log := acctest.PamdLog(t)[logStart:]
	requests := strings.Count(log, "msg=request ")
	for _, bad := range []string{"SQLITE_BUSY", "database is locked", "status=503"} {
		if n := strings.Count(log, bad); n > 0 {
			t.Errorf("pamd's log has %d lines with %q during the run", n, bad)
		}
	}
	// Request errors only: the background worker may log a webhook of an
	// earlier test failing, which is not this test's business.
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "level=ERROR") && strings.Contains(line, "msg=request ") {
			t.Errorf("pamd logged a request error: %s", line)
		}
	}
	if requests == 0 {
		t.Error("pamd logged no requests during the run: the log check saw nothing")
	}
	t.Logf("pamd logged %d requests during the run", requests)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
