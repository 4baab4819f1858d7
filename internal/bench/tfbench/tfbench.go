// Package tfbench measures the provider against Terraform core: OpenTofu
// applies, plans (with refresh), plans after out-of-band drift and destroys a
// generated configuration of N eligible role assignments against a real pamd,
// and the same operations on a terraform_data baseline of the same shape, in
// the same run, alternating, several times. It records wall time, the
// provider's peak RSS (rsswrap) and the API requests each phase sent (a
// faultproxy with no faults in front of pamd counts them).
package tfbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/bench/benchd"
	"github.com/accessplane/terraform-provider-pam/internal/bench/rsswrap"
	"github.com/accessplane/terraform-provider-pam/internal/bench/tfgen"
	"github.com/accessplane/terraform-provider-pam/internal/faultproxy"
)

// Kinds of configuration.
const (
	KindProvider = "provider"
	KindBaseline = "baseline"
)

// Phases, in the order each run performs them.
const (
	PhaseApply   = "apply"
	PhasePlan    = "plan"
	PhaseDrift   = "plan_drift"
	PhaseDestroy = "destroy"
)

// Phases lists the phases in order.
var Phases = []string{PhaseApply, PhasePlan, PhaseDrift, PhaseDestroy}

// Config configures a run.
type Config struct {
	Tofu string
	// Provider is the provider binary to measure.
	Provider string
	// Wrapper is the pam-bench binary, which turns into the RSS wrapper when
	// OpenTofu starts it as the provider.
	Wrapper  string
	Sizes    []int
	Reps     int
	DriftPct float64
	// WorkDir holds one directory per run, removed afterwards.
	WorkDir string
	Log     io.Writer
}

// Sample is one measured phase of one run.
type Sample struct {
	Size  int
	Kind  string
	Rep   int
	Phase string
	Wall  time.Duration
	// RSSKiB is the provider's peak RSS during the phase (0 for the baseline).
	RSSKiB int64
	// Requests is how many API requests pamd received during the phase.
	Requests int64
	// Resources is the number of managed resources of the configuration.
	Resources int
}

// Run measures every size, cfg.Reps times, alternating which kind goes first.
func Run(ctx context.Context, cfg Config) ([]Sample, error) {
	var out []Sample
	for rep := range cfg.Reps {
		for _, n := range cfg.Sizes {
			kinds := []string{KindProvider, KindBaseline}
			if rep%2 == 1 {
				kinds = []string{KindBaseline, KindProvider}
			}
			for _, kind := range kinds {
				fmt.Fprintf(cfg.Log, "tfbench: N=%d rep %d/%d %s\n", n, rep+1, cfg.Reps, kind)
				s, err := runOne(ctx, cfg, kind, n, rep)
				if err != nil {
					return out, fmt.Errorf("N=%d rep %d %s: %w", n, rep+1, kind, err)
				}
				out = append(out, s...)
			}
		}
	}
	return out, nil
}

type run struct {
	cfg   Config
	dir   string
	env   []string
	rss   string
	kind  string
	shape tfgen.Shape
	pamd  *benchd.Pamd
	proxy *faultproxy.Proxy
}

func runOne(ctx context.Context, cfg Config, kind string, n, rep int) (samples []Sample, err error) {
	dir, err := os.MkdirTemp(cfg.WorkDir, fmt.Sprintf("tf-%s-%d-", kind, n))
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	r := &run{cfg: cfg, dir: dir, kind: kind, shape: tfgen.Shape{Assignments: n}, rss: filepath.Join(dir, "provider.rss")}
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	defer r.close()

	sample := func(phase string, f func() (time.Duration, error)) error {
		before := r.requests()
		wall, err := f()
		if err != nil {
			return fmt.Errorf("%s: %w", phase, err)
		}
		peak, err := rsswrap.PeakKiB(r.rss)
		if err != nil {
			return err
		}
		samples = append(samples, Sample{Size: n, Kind: kind, Rep: rep, Phase: phase, Wall: wall, RSSKiB: peak,
			Requests: r.requests() - before, Resources: r.shape.Resources()})
		return nil
	}
	if err := sample(PhaseApply, func() (time.Duration, error) { return r.tofu(ctx, 0, "apply", "-auto-approve") }); err != nil {
		return samples, err
	}
	if err := sample(PhasePlan, func() (time.Duration, error) { return r.tofu(ctx, 0, "plan", "-detailed-exitcode") }); err != nil {
		return samples, err
	}
	drifted := tfgen.DriftIndices(n, cfg.DriftPct)
	if err := r.drift(ctx, drifted); err != nil {
		return samples, err
	}
	if err := sample(PhaseDrift, func() (time.Duration, error) {
		return r.tofu(ctx, 2, "plan", "-detailed-exitcode", "-out=drift.tfplan")
	}); err != nil {
		return samples, err
	}
	if err := r.checkDriftPlan(ctx, drifted); err != nil {
		return samples, err
	}
	err = sample(PhaseDestroy, func() (time.Duration, error) { return r.tofu(ctx, 0, "destroy", "-auto-approve") })
	return samples, err
}

func (r *run) setup(ctx context.Context) error {
	cli := filepath.Join(r.dir, "cli.tfrc")
	r.env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+cli, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	if r.kind == KindBaseline {
		// No provider to install: terraform_data is built in. An empty CLI
		// config keeps the person's own settings out of the measurement.
		if err := os.WriteFile(cli, nil, 0o600); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(r.dir, "main.tf"), []byte(tfgen.Baseline(r.shape, nil)), 0o600)
	}
	// dev_overrides points the provider address at a directory whose
	// terraform-provider-pam is the RSS wrapper around the real provider, so
	// no registry and no `init` are needed (as in scripts/demo.sh).
	bin := filepath.Join(r.dir, "bin")
	if err := os.Mkdir(bin, 0o700); err != nil {
		return err
	}
	if err := os.Symlink(r.cfg.Wrapper, filepath.Join(bin, "terraform-provider-pam")); err != nil {
		return err
	}
	rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n", tfgen.ProviderSource, bin)
	if err := os.WriteFile(cli, []byte(rc), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.dir, "main.tf"), []byte(tfgen.Provider(r.shape)), 0o600); err != nil {
		return err
	}
	pamdDir := filepath.Join(r.dir, "pamd")
	if err := os.Mkdir(pamdDir, 0o700); err != nil {
		return err
	}
	p, err := benchd.Start(ctx, pamdDir)
	if err != nil {
		return err
	}
	r.pamd = p
	// A proxy with no faults is a request counter.
	r.proxy, err = faultproxy.New(p.URL(), faultproxy.Config{})
	if err != nil {
		return err
	}
	r.env = append(r.env, "PAM_ENDPOINT="+r.proxy.URL, "PAM_TOKEN="+p.Token,
		rsswrap.EnvProvider+"="+r.cfg.Provider, rsswrap.EnvOut+"="+r.rss)
	return nil
}

func (r *run) close() {
	if r.proxy != nil {
		r.proxy.Close()
	}
	if r.pamd != nil {
		_ = r.pamd.Close()
	}
}

func (r *run) requests() int64 {
	if r.proxy == nil {
		return 0
	}
	return r.proxy.Stats().Requests
}

// tofu runs one OpenTofu command in the run's directory and returns its wall
// time; an exit code other than want is an error carrying the output's tail.
func (r *run) tofu(ctx context.Context, want int, args ...string) (time.Duration, error) {
	args = append([]string{"-chdir=" + r.dir}, append(args, "-input=false", "-no-color", "-compact-warnings")...)
	cmd := exec.CommandContext(ctx, r.cfg.Tofu, args...) //nolint:gosec // the pinned OpenTofu the benchmark was given
	cmd.Env = r.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError) //nolint:errorlint // Run returns *exec.ExitError itself
		if !ok {
			return wall, err
		}
		code = ee.ExitCode()
	}
	if code != want {
		return wall, fmt.Errorf("tofu %s exited %d, want %d:\n%s", strings.Join(args[1:], " "), code, want, tail(out.String(), 3000))
	}
	return wall, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// drift changes the drifted assignments: through the API for the provider
// (what an operator clicking in a console would do), in the configuration
// for the baseline (core has nothing out of band to detect).
func (r *run) drift(ctx context.Context, idx []int) error {
	if r.kind == KindBaseline {
		changed := map[int]bool{}
		for _, i := range idx {
			changed[i] = true
		}
		return os.WriteFile(filepath.Join(r.dir, "main.tf"), []byte(tfgen.Baseline(r.shape, changed)), 0o600)
	}
	// Straight to pamd, not through the counting proxy.
	c, err := benchd.Client(r.pamd.URL(), r.pamd.Token)
	if err != nil {
		return err
	}
	for _, i := range idx {
		page, err := c.ListEligibleRoleAssignments(ctx, api.EligibleRoleAssignmentListParams{PrincipalID: tfgen.Principal(i)})
		if err != nil {
			return err
		}
		if len(page.Items) != 1 {
			return fmt.Errorf("drift: %d assignments of %s, want 1", len(page.Items), tfgen.Principal(i))
		}
		e := page.Items[0]
		in := e.EligibleRoleAssignmentInput
		in.Justification = tfgen.DriftedJustification
		if _, err := c.UpdateEligibleRoleAssignment(ctx, e.ID, e.Version, in); err != nil {
			return err
		}
	}
	return nil
}

// checkDriftPlan verifies that the drift plan changes exactly the drifted
// assignments, and each in place.
func (r *run) checkDriftPlan(ctx context.Context, idx []int) error {
	cmd := exec.CommandContext(ctx, r.cfg.Tofu, "-chdir="+r.dir, "show", "-json", "drift.tfplan") //nolint:gosec // see tofu
	cmd.Env = r.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("tofu show: %w: %s", err, stderr.String())
	}
	var plan tfjson.Plan
	if err := json.Unmarshal(b, &plan); err != nil {
		return fmt.Errorf("tofu show: %w", err)
	}
	resType := "terraform_data"
	if r.kind == KindProvider {
		resType = "pam_eligible_role_assignment"
	}
	var want, got []string
	for _, i := range idx {
		want = append(want, tfgen.AssignmentAddress(resType, i))
	}
	for _, rc := range plan.ResourceChanges {
		if rc.Change == nil || rc.Change.Actions.NoOp() || rc.Change.Actions.Read() {
			continue
		}
		if !rc.Change.Actions.Update() {
			return fmt.Errorf("drift plan: %s has actions %v, want an in-place update", rc.Address, rc.Change.Actions)
		}
		got = append(got, rc.Address)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		return fmt.Errorf("drift plan changes %v, want exactly %v", got, want)
	}
	return nil
}
