// Package tfbench measures the provider against Terraform core: OpenTofu
// applies, plans (with refresh), plans after out-of-band drift and destroys a
// generated configuration of N eligible role assignments against a real pamd,
// and the same operations on a terraform_data baseline of the same shape, in
// the same run, alternating, several times. It records wall time, the
// provider's peak RSS (rsswrap) and the API requests each phase sent (a
// faultproxy with no faults in front of pamd counts them).
package tfbench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
	// ProviderProfileDir, when set, makes the provider runs serve the
	// provider under a CPU profile written there (see provprof) instead of
	// measuring RSS.
	ProviderProfileDir string
	Log                io.Writer
}

// Sample is one measured phase of one run.
type Sample struct {
	Size  int
	Kind  string
	Rep   int
	Phase string
	Wall  time.Duration
	// CPU is the CPU time of OpenTofu and the provider; ProviderCPU the
	// provider's share (0 for the baseline).
	CPU, ProviderCPU time.Duration
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
					return out, fmt.Errorf("size %d, rep %d, %s: %w", n, rep+1, kind, err)
				}
				out = append(out, s...)
			}
		}
	}
	return out, nil
}

type run struct {
	cfg   Config
	ws    *Workspace
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
	r := &run{cfg: cfg, kind: kind, shape: tfgen.Shape{Assignments: n}}
	if err := r.setup(ctx, dir); err != nil {
		return nil, err
	}
	defer r.close()

	sample := func(phase string, f func() (Timing, error)) error {
		before := r.requests()
		t, err := f()
		if err != nil {
			return fmt.Errorf("%s: %w", phase, err)
		}
		u, err := rsswrap.Read(r.ws.RSSFile)
		if err != nil {
			return err
		}
		samples = append(samples, Sample{Size: n, Kind: kind, Rep: rep, Phase: phase, Wall: t.Wall, CPU: t.CPU, ProviderCPU: u.CPU,
			RSSKiB: u.PeakKiB, Requests: r.requests() - before, Resources: r.shape.Resources()})
		return nil
	}
	if err := sample(PhaseApply, func() (Timing, error) { return r.ws.Run(ctx, 0, "apply", "-auto-approve") }); err != nil {
		return samples, err
	}
	if err := sample(PhasePlan, func() (Timing, error) { return r.ws.Run(ctx, 0, "plan", "-detailed-exitcode") }); err != nil {
		return samples, err
	}
	drifted := tfgen.DriftIndices(n, cfg.DriftPct)
	if err := r.drift(ctx, drifted); err != nil {
		return samples, err
	}
	if err := sample(PhaseDrift, func() (Timing, error) {
		return r.ws.Run(ctx, 2, "plan", "-detailed-exitcode", "-out=drift.tfplan")
	}); err != nil {
		return samples, err
	}
	if err := r.checkDriftPlan(ctx, drifted); err != nil {
		return samples, err
	}
	err = sample(PhaseDestroy, func() (Timing, error) { return r.ws.Run(ctx, 0, "destroy", "-auto-approve") })
	return samples, err
}

func (r *run) setup(ctx context.Context, dir string) (err error) {
	if r.kind == KindBaseline {
		if r.ws, err = NewWorkspace(dir, r.cfg.Tofu, nil); err != nil {
			return err
		}
		return r.ws.Write(tfgen.Baseline(r.shape, nil))
	}
	pamdDir := filepath.Join(dir, "pamd")
	if err := os.Mkdir(pamdDir, 0o700); err != nil {
		return err
	}
	if r.pamd, err = benchd.Start(ctx, pamdDir); err != nil {
		return err
	}
	// A proxy with no faults is a request counter.
	if r.proxy, err = faultproxy.New(r.pamd.URL(), faultproxy.Config{}); err != nil {
		return err
	}
	r.ws, err = NewWorkspace(dir, r.cfg.Tofu, &ProviderSetup{Wrapper: r.cfg.Wrapper, Provider: r.cfg.Provider,
		Endpoint: r.proxy.URL, Token: r.pamd.Token, ProfileDir: r.cfg.ProviderProfileDir})
	if err != nil {
		return err
	}
	return r.ws.Write(tfgen.Provider(r.shape))
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

// drift changes the drifted assignments: through the API for the provider
// (what an operator clicking in a console would do), in the configuration
// for the baseline (core has nothing out of band to detect).
func (r *run) drift(ctx context.Context, idx []int) error {
	if r.kind == KindBaseline {
		changed := map[int]bool{}
		for _, i := range idx {
			changed[i] = true
		}
		return r.ws.Write(tfgen.Baseline(r.shape, changed))
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
	b, err := r.ws.Output(ctx, "show", "-json", "drift.tfplan")
	if err != nil {
		return err
	}
	resType := "terraform_data"
	if r.kind == KindProvider {
		resType = "pam_eligible_role_assignment"
	}
	return CheckDrift(b, resType, idx)
}

// CheckDrift verifies a plan (the JSON of `tofu show -json`) changes exactly
// the assignments idx of resType, each with an in-place update, and nothing
// else.
func CheckDrift(planJSON []byte, resType string, idx []int) error {
	var plan tfjson.Plan
	if err := json.Unmarshal(planJSON, &plan); err != nil {
		return fmt.Errorf("tofu show: %w", err)
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
