package crashtest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

// Environment knobs, for longer runs by hand.
const (
	envSeed   = "PAM_CRASH_SEED"   // RNG seed; default: from the clock, logged
	envRounds = "PAM_CRASH_ROUNDS" // kill rounds; default defaultRounds
)

const (
	defaultRounds = 10
	numWriters    = 3
	// Kill delays are drawn from [minKill, maxKill) after work starts: from
	// OpenTofu still starting up and refreshing to well into its apply.
	minKill = 150 * time.Millisecond
	maxKill = 3 * time.Second
)

// crashConfig has 36–40 resources of five types; every round changes the
// descriptions (in-place updates) and the role count (creates and deletes).
func crashConfig(prefix string, round int) string {
	roles := 10 + 2*(round%3)
	return fmt.Sprintf(`
provider "pam" {
  # Enough retries to outlast a restart of pamd, which takes a second or two.
  max_retries             = 10
  request_timeout_seconds = 10
}

resource "pam_role" "r" {
  count       = %[3]d
  name        = "%[1]s-tf-role-${count.index}"
  description = "round %[2]d"
}

resource "pam_activation_policy" "p" {
  count                  = 4
  name                   = "%[1]s-tf-policy-${count.index}"
  description            = "round %[2]d"
  max_activation_seconds = 3600
  eligibility_constraints = {
    allow_permanent = true
  }
}

resource "pam_eligible_role_assignment" "e" {
  count                = 10
  principal_type       = "user"
  principal_id         = "%[1]s-tf-user-${count.index}"
  role_id              = pam_role.r[count.index].id
  scope                = "/"
  activation_policy_id = pam_activation_policy.p[count.index %% 4].id
}

resource "pam_safe" "s" {
  count       = 4
  name        = "%[1]s-tf-safe-${count.index}"
  description = "round %[2]d"
}

resource "pam_vault_account" "a" {
  count       = 8
  safe_id     = pam_safe.s[count.index %% 4].id
  name        = "acct-${count.index}"
  platform    = "generic"
  username    = "ci"
  secret_type = "token"
}
`, prefix, round, roles)
}

// crashCounts is what the test tried and found; logged at the end.
type crashCounts struct {
	rounds, kills, killsDuringApply int
	applyOK, applyFailed            int
	stateChecked                    int
	orphans                         int
}

// TestAccCrashSafety kills pamd with SIGKILL at random points while OpenTofu
// applies a mixed configuration through the provider and concurrent API
// writers create and update objects, then restarts pamd on the same SQLite
// file. After each crash: the audit chain on disk verifies (`pamd audit
// verify`), every write pamd acknowledged is present with its version and
// content, and every resource in OpenTofu's state exists on pamd. At the
// end a re-apply converges, a plan is empty and pamd holds exactly one
// object per resource.
func TestAccCrashSafety(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("set TF_ACC=1 to run the crash test (it drives OpenTofu)")
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSeed); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", envSeed, err)
		}
		seed = s
	}
	rounds := defaultRounds
	if v := os.Getenv(envRounds); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive integer", envRounds, v)
		}
		rounds = n
	}
	t.Logf("seed %d (rerun with %s=%d), %d rounds", seed, envSeed, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 0)) //nolint:gosec // reproducible kill schedule

	dir := t.TempDir()
	p := newPamd(t, acctest.PamdBinary(t), dir)
	t.Cleanup(func() { keepLogOnFailure(t, p.LogPath) })
	p.Start(t)
	ctx := context.Background()
	checker := mustClient(t, p, 4) // checks: retries are fine
	w := &writers{c: mustClient(t, p, -1), prefix: "crash-" + randomHex(4)}
	wd := acctest.NewWorkdir(t, acctest.EnvEndpoint+"="+p.URL(), acctest.EnvToken+"="+p.token)
	prefix := w.prefix

	var counts crashCounts
	for round := 1; round <= rounds; round++ {
		wd.SetConfig(t, crashConfig(prefix, round))
		applyCtx, cancelApply := context.WithTimeout(ctx, 5*time.Minute)
		// If the test stops mid-round, interrupt the apply before its working
		// directory is removed.
		t.Cleanup(cancelApply)
		apply := wd.Command(applyCtx, "apply", "-auto-approve", "-no-color")
		var out strings.Builder
		apply.Stdout, apply.Stderr = &out, &out
		if err := apply.Start(); err != nil {
			cancelApply()
			t.Fatal(err)
		}
		applyDone := make(chan error, 1)
		go func() { applyDone <- apply.Wait() }()

		stop := make(chan struct{})
		waitWriters := w.run(round, numWriters, seed, stop)

		delay := minKill + time.Duration(rng.Int64N(int64(maxKill-minKill)))
		timer := time.NewTimer(delay)
		var applyErr error
		applyRunning := true
		select {
		case <-timer.C:
		case applyErr = <-applyDone:
			// The apply beat the kill; the writers are still writing.
			applyRunning = false
			<-timer.C
		}
		p.Kill(t)
		counts.kills++
		if applyRunning {
			counts.killsDuringApply++
		}
		close(stop)
		waitWriters()

		verify := p.verifyAudit(t)
		p.Start(t)
		w.check(ctx, t, checker)

		if applyRunning {
			// The provider retries across the restart; the apply may still
			// fail (a create or update whose outcome was lost), which the
			// next round's apply must then repair.
			applyErr = <-applyDone
		}
		cancelApply()
		if applyErr != nil {
			counts.applyFailed++
			// pamd came back on the same file: the provider's retries must
			// finish the apply (an applied write is answered from its object, an
			// unapplied reservation was released at restart).
			t.Errorf("round %d: apply failed across the kill: %v\n%s", round, applyErr, out.String())
		} else {
			counts.applyOK++
		}
		counts.stateChecked += checkStateOnServer(ctx, t, wd, checker)
		counts.orphans += findOrphans(ctx, t, wd, checker, prefix+"-tf-")
		counts.rounds++
		t.Logf("round %d: killed after %v (apply running: %v, apply ok: %v); %s; writers so far %+v",
			round, delay.Round(time.Millisecond), applyRunning, applyErr == nil, strings.TrimSpace(verify), w.stats)
		if t.Failed() {
			t.FailNow()
		}
	}

	// Convergence: the last configuration applies cleanly, the next plan is
	// empty, and pamd holds one object per resource.
	wd.MustRun(t, 5*time.Minute, "apply", "-auto-approve", "-no-color")
	if out, err := wd.Run(t, 5*time.Minute, "plan", "-detailed-exitcode", "-no-color"); err != nil {
		t.Fatalf("plan after the final apply is not empty (or failed): %v\n%s", err, out)
	}
	counts.stateChecked += checkStateOnServer(ctx, t, wd, checker)
	findOrphans(ctx, t, wd, checker, prefix+"-tf-")
	w.check(ctx, t, checker)
	p.Kill(t)
	p.verifyAudit(t)

	t.Logf("crash safety: %d rounds, %d SIGKILLs (%d during an OpenTofu apply; applies: %d completed, %d failed); "+
		"writers: %d writes acknowledged, %d acknowledged-object checks passed, %d writes lost in flight (%d of them committed anyway); "+
		"%d state resources found on pamd; %d orphans; pamd started %d times",
		counts.rounds, counts.kills, counts.killsDuringApply, counts.applyOK, counts.applyFailed,
		w.stats.acked, w.stats.checked, w.stats.lost, w.stats.lostButApplied, counts.stateChecked, counts.orphans, p.Starts)
	if w.stats.acked == 0 || counts.killsDuringApply == 0 {
		t.Fatalf("the run proved too little: %d acknowledged writes, %d kills during an apply", w.stats.acked, counts.killsDuringApply)
	}
}

// keepLogOnFailure copies pamd's debug log (all starts) out of the test's
// temp dir when the test failed, so the requests around a crash can be read.
func keepLogOnFailure(t *testing.T, path string) {
	if !t.Failed() {
		return
	}
	b, err := os.ReadFile(path) //nolint:gosec // the log this test wrote
	if err != nil {
		t.Logf("pamd log: %v", err)
		return
	}
	f, err := os.CreateTemp("", "pamd-crash-*.log")
	if err != nil {
		t.Logf("keeping the pamd log: %v", err)
		return
	}
	_, err = f.Write(b)
	if err = errors.Join(err, f.Close()); err != nil {
		t.Logf("keeping the pamd log: %v", err)
		return
	}
	t.Logf("pamd debug log kept at %s", f.Name())
}

func mustClient(t *testing.T, p *pamdProc, retries int) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Endpoint: p.URL(), Token: p.token, MaxRetries: retries, RequestTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// getVersion reads one object of a state resource type from pamd.
func getVersion(ctx context.Context, c *client.Client, typ, id string) (int64, error) {
	switch typ {
	case "pam_role":
		o, err := c.GetRole(ctx, id)
		if err != nil {
			return 0, err
		}
		return o.Version, nil
	case "pam_activation_policy":
		o, err := c.GetActivationPolicy(ctx, id)
		if err != nil {
			return 0, err
		}
		return o.Version, nil
	case "pam_eligible_role_assignment":
		o, err := c.GetEligibleRoleAssignment(ctx, id)
		if err != nil {
			return 0, err
		}
		return o.Version, nil
	case "pam_safe":
		o, err := c.GetSafe(ctx, id)
		if err != nil {
			return 0, err
		}
		return o.Version, nil
	case "pam_vault_account":
		o, err := c.GetVaultAccount(ctx, id)
		if err != nil {
			return 0, err
		}
		return o.Version, nil
	}
	return 0, fmt.Errorf("unknown resource type %s", typ)
}

// checkStateOnServer: every resource in OpenTofu's state exists on pamd at
// the state's version or later (later when an update committed but its
// response was lost with the crash). Returns how many it checked.
func checkStateOnServer(ctx context.Context, t *testing.T, wd *acctest.Workdir, c *client.Client) int {
	t.Helper()
	n := 0
	for _, r := range wd.State(t) {
		v, err := getVersion(ctx, c, r.Type, r.ID)
		if errors.Is(err, client.ErrNotFound) {
			t.Errorf("%s (%s) is in OpenTofu's state but not on pamd", r.Address, r.ID)
			continue
		}
		if err != nil {
			t.Fatalf("reading %s (%s): %v", r.Address, r.ID, err)
		}
		sv, _ := r.Attributes["version"].(float64)
		if v < int64(sv) {
			t.Errorf("%s (%s): state has version %v, pamd only %d", r.Address, r.ID, sv, v)
		}
		n++
	}
	return n
}

// serverObject is an object on pamd that the configuration may manage.
type serverObject struct {
	typ, id, name string
	version       int64
}

// listPrefixed lists pamd's roles, activation policies, eligibilities (by
// principal id), safes and their vault accounts whose names start with prefix.
func listPrefixed(ctx context.Context, t *testing.T, c *client.Client, prefix string) []serverObject {
	t.Helper()
	var out []serverObject
	var safes []string
	for tok := ""; ; {
		pg, err := c.ListRoles(ctx, api.RoleListParams{PageSize: 200, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Items {
			if strings.HasPrefix(o.Name, prefix) {
				out = append(out, serverObject{"pam_role", o.ID, o.Name, o.Version})
			}
		}
		if tok = pg.NextPageToken; tok == "" {
			break
		}
	}
	for tok := ""; ; {
		pg, err := c.ListActivationPolicies(ctx, api.ActivationPolicyListParams{PageSize: 200, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Items {
			if strings.HasPrefix(o.Name, prefix) {
				out = append(out, serverObject{"pam_activation_policy", o.ID, o.Name, o.Version})
			}
		}
		if tok = pg.NextPageToken; tok == "" {
			break
		}
	}
	for tok := ""; ; {
		pg, err := c.ListEligibleRoleAssignments(ctx, api.EligibleRoleAssignmentListParams{PageSize: 200, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Items {
			if strings.HasPrefix(o.PrincipalID, prefix) {
				out = append(out, serverObject{"pam_eligible_role_assignment", o.ID, o.PrincipalID + " " + o.RoleID, o.Version})
			}
		}
		if tok = pg.NextPageToken; tok == "" {
			break
		}
	}
	for tok := ""; ; {
		pg, err := c.ListSafes(ctx, api.SafeListParams{PageSize: 200, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range pg.Items {
			if strings.HasPrefix(o.Name, prefix) {
				out = append(out, serverObject{"pam_safe", o.ID, o.Name, o.Version})
				safes = append(safes, o.ID)
			}
		}
		if tok = pg.NextPageToken; tok == "" {
			break
		}
	}
	for _, safe := range safes {
		for tok := ""; ; {
			pg, err := c.ListVaultAccounts(ctx, api.VaultAccountListParams{SafeID: safe, PageSize: 200, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range pg.Items {
				out = append(out, serverObject{"pam_vault_account", o.ID, safe + "/" + o.Name, o.Version})
			}
			if tok = pg.NextPageToken; tok == "" {
				break
			}
		}
	}
	return out
}

// findOrphans reports, as test errors, objects on pamd that the
// configuration would manage but no resource in state names (and names used
// twice), and returns how many orphans it found. A create whose outcome was
// lost in a crash would leave one: on pamd, not in state, and the next apply
// failing with "Already Exists".
func findOrphans(ctx context.Context, t *testing.T, wd *acctest.Workdir, c *client.Client, prefix string) int {
	t.Helper()
	inState := map[string]bool{}
	for _, r := range wd.State(t) {
		inState[r.ID] = true
	}
	var orphans []serverObject
	seen := map[string]string{}
	for _, o := range listPrefixed(ctx, t, c, prefix) {
		if prev, dup := seen[o.typ+" "+o.name]; dup {
			t.Errorf("pamd holds two %s named %s: %s and %s", o.typ, o.name, prev, o.id)
		}
		seen[o.typ+" "+o.name] = o.id
		if !inState[o.id] {
			orphans = append(orphans, o)
		}
	}
	if len(seen) == 0 {
		t.Fatal("no objects with the test prefix on pamd: the check looked at nothing")
	}
	if len(orphans) == 0 {
		return 0
	}
	for _, o := range orphans {
		t.Errorf("orphan: pamd holds %s %s (%s), which no resource in state names", o.typ, o.name, o.id)
	}
	return len(orphans)
}
