// Package throughput measures pamd's capacity with the closed-loop load
// generator (package load) against a real pamd on loopback with SQLite:
// audited writes (eligibility creates; elevation request, approve and
// deactivate), reads by id, and active-elevation listings with filters, each
// at fixed concurrency levels. Every worker has its own token, as distinct
// clients would.
package throughput

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/bench/benchd"
	"github.com/accessplane/terraform-provider-pam/internal/bench/load"
)

// Config configures a run.
type Config struct {
	Concurrency []int
	// Duration is how long each scenario runs at each concurrency.
	Duration time.Duration
	// ActiveElevations is how many active elevations the listings read.
	ActiveElevations int
	WorkDir          string
	// ProfileDir, when set, receives a CPU profile of each scenario at the
	// highest concurrency (cpu-<scenario>.pprof).
	ProfileDir string
	Log        io.Writer
}

// Scenario names.
const (
	ScenarioCreate     = "eligibility_create"
	ScenarioElevate    = "elevation_cycle"
	ScenarioGet        = "eligibility_get"
	ScenarioActiveByID = "active_by_principal"
	ScenarioActivePage = "active_by_scope_prefix"
)

// Scenarios in the order they run.
var Scenarios = []string{ScenarioCreate, ScenarioElevate, ScenarioGet, ScenarioActiveByID, ScenarioActivePage}

// Writes names the request kinds that are audited writes.
var Writes = map[string]bool{"eligibility.create": true, "elevation.request": true, "elevation.approve": true, "elevation.deactivate": true}

// Row is the outcome of one scenario at one concurrency.
type Row struct {
	Scenario    string
	Concurrency int
	Results     []load.Result
	// FirstError is the first failure, if any (failures are counted in
	// Results, and the run goes on).
	FirstError string `json:",omitempty"`
}

type env struct {
	pamd     *benchd.Pamd
	c        *httpClient
	admins   []string // one admin token per worker
	reqs     []string // one requester token per worker
	reqElig  []string // the eligibility of each requester
	approver string
	roleID   string
	policyID string // no approval: eligibilities created under load use it
	getIDs   []string
	active   []string // principals with an active elevation
	teams    int
	created  atomic.Int64
}

// Run starts a fresh pamd, prepares it, and runs every scenario at every
// concurrency level.
func Run(ctx context.Context, cfg Config) ([]Row, error) {
	dir, err := os.MkdirTemp(cfg.WorkDir, "throughput-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	p, err := benchd.Start(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = p.Close() }()
	maxC := 1
	for _, c := range cfg.Concurrency {
		maxC = max(maxC, c)
	}
	e := &env{pamd: p, c: newHTTPClient(p.URL(), maxC)}
	fmt.Fprintf(cfg.Log, "throughput: preparing pamd (%d workers, %d active elevations)\n", maxC, cfg.ActiveElevations)
	if err := e.prepare(ctx, maxC, cfg.ActiveElevations); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	var rows []Row
	for _, sc := range Scenarios {
		for _, conc := range cfg.Concurrency {
			fmt.Fprintf(cfg.Log, "throughput: %s at concurrency %d for %s\n", sc, conc, cfg.Duration)
			stop := func() {}
			if cfg.ProfileDir != "" && conc == maxC {
				if stop, err = cpuProfile(filepath.Join(cfg.ProfileDir, "cpu-"+sc+".pprof")); err != nil {
					return rows, err
				}
			}
			res, err := load.Run(ctx, conc, cfg.Duration, e.step(sc))
			stop()
			row := Row{Scenario: sc, Concurrency: conc, Results: res}
			if err != nil {
				// Reported with the figures rather than ending the run.
				row.FirstError = err.Error()
				fmt.Fprintf(cfg.Log, "throughput: %s at %d: %v\n", sc, conc, err)
			}
			rows = append(rows, row)
			if ctx.Err() != nil {
				return rows, ctx.Err()
			}
		}
	}
	return rows, nil
}

func cpuProfile(path string) (func(), error) {
	f, err := os.Create(path) //nolint:gosec // the directory the person running the benchmark chose
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

func (e *env) token(ctx context.Context, subject string, roles ...string) (string, error) {
	return e.pamd.IssueToken(ctx, subject, nil, roles)
}

func (e *env) createEligibility(ctx context.Context, token, principal, policyID, scope string) (string, error) {
	var out api.EligibleRoleAssignment
	err := e.c.do(ctx, "POST", api.PathEligibleRoleAssignments, token, true, api.EligibleRoleAssignmentInput{
		PrincipalType: "user", PrincipalID: principal, RoleID: e.roleID, Scope: scope, ActivationPolicyID: policyID,
		Justification: "load test"}, &out)
	return out.ID, err
}

// requestApproved requests an elevation on elig with the requester's token and
// approves it: the elevation is then active.
func (e *env) request(ctx context.Context, token, elig string) (string, error) {
	var out api.Elevation
	err := e.c.do(ctx, "POST", api.PathElevations, token, true, api.ElevationRequest{EligibleRoleAssignmentID: elig,
		RequestedDurationSeconds: 3600, Justification: "load test"}, &out)
	return out.ID, err
}

func (e *env) act(ctx context.Context, token, id, action string) error {
	return e.c.do(ctx, "POST", api.PathElevations+"/"+id+"/"+action, token, false, api.ElevationActionRequest{Reason: "load test"}, nil)
}

func (e *env) prepare(ctx context.Context, workers, active int) error {
	admin := e.pamd.Token
	var role api.Role
	if err := e.c.do(ctx, "POST", api.PathRoles, admin, true, api.RoleInput{Name: "load-role", AssignableScopes: []string{"/orgs/load"}}, &role); err != nil {
		return err
	}
	e.roleID = role.ID
	policy := func(name string, approval *api.Approval) (string, error) {
		var p api.ActivationPolicy
		err := e.c.do(ctx, "POST", api.PathActivationPolicies, admin, true, api.ActivationPolicyInput{Name: name,
			ActivationRules: api.ActivationRules{MaxActivationSeconds: 3600, EligibilityConstraints: api.EligibilityConstraints{AllowPermanent: true},
				Approval: approval}}, &p)
		return p.ID, err
	}
	var err error
	if e.policyID, err = policy("load-direct", nil); err != nil {
		return err
	}
	approved, err := policy("load-approved", &api.Approval{Stages: []api.ApprovalStage{{
		Approvers: []api.Principal{{Type: "user", ID: "load-approver"}}, ApprovalsNeeded: 1, TimeoutSeconds: 3600}}})
	if err != nil {
		return err
	}
	if e.approver, err = e.token(ctx, "user:load-approver", api.ServerRoleApprover); err != nil {
		return err
	}
	for w := range workers {
		adm, err := e.token(ctx, fmt.Sprintf("service_account:load-admin-%03d", w), api.ServerRoleAdmin)
		if err != nil {
			return err
		}
		e.admins = append(e.admins, adm)
		principal := fmt.Sprintf("load-req-%03d", w)
		tok, err := e.token(ctx, "user:"+principal, api.ServerRoleRequester)
		if err != nil {
			return err
		}
		id, err := e.createEligibility(ctx, admin, principal, approved, "/orgs/load/requesters")
		if err != nil {
			return err
		}
		e.reqs, e.reqElig = append(e.reqs, tok), append(e.reqElig, id)
	}
	// Active elevations over a few teams, so that a scope_prefix listing
	// reads a full page and a principal_id listing finds one.
	e.teams = max(1, active/100)
	for j := range active {
		principal := fmt.Sprintf("load-act-%04d", j)
		elig, err := e.createEligibility(ctx, admin, principal, approved, fmt.Sprintf("/orgs/load/teams/t%02d", j%e.teams))
		if err != nil {
			return err
		}
		tok, err := e.token(ctx, "user:"+principal, api.ServerRoleRequester)
		if err != nil {
			return err
		}
		id, err := e.request(ctx, tok, elig)
		if err != nil {
			return err
		}
		if err := e.act(ctx, e.approver, id, api.ActionApprove); err != nil {
			return err
		}
		e.active = append(e.active, principal)
		e.getIDs = append(e.getIDs, elig)
	}
	return nil
}

func (e *env) step(sc string) load.Step {
	switch sc {
	case ScenarioCreate:
		return func(ctx context.Context, w, _ int, r *load.Recorder) error {
			n := e.created.Add(1)
			return r.Time("eligibility.create", func() error {
				_, err := e.createEligibility(ctx, e.admins[w], fmt.Sprintf("load-new-%07d", n), e.policyID, "/orgs/load/new")
				return err
			})
		}
	case ScenarioElevate:
		// request, approve by the approver, deactivate by the requester: the
		// eligibility is free again for the worker's next cycle. A failure is
		// counted; the elevation is then revoked (untimed) so that the next
		// cycle can start.
		return func(ctx context.Context, w, _ int, r *load.Recorder) error {
			var id string
			if err := r.Time("elevation.request", func() (err error) { id, err = e.request(ctx, e.reqs[w], e.reqElig[w]); return err }); err != nil {
				return nil //nolint:nilerr // counted by the recorder; the worker goes on
			}
			err := r.Time("elevation.approve", func() error { return e.act(ctx, e.approver, id, api.ActionApprove) })
			if err == nil {
				err = r.Time("elevation.deactivate", func() error { return e.act(ctx, e.reqs[w], id, api.ActionDeactivate) })
			}
			if err != nil {
				_ = e.act(ctx, e.admins[w], id, api.ActionRevoke)
			}
			return nil
		}
	case ScenarioGet:
		return func(ctx context.Context, w, _ int, r *load.Recorder) error {
			id := e.getIDs[rand.IntN(len(e.getIDs))] //nolint:gosec // load spread, not security
			return r.Time("eligibility.get", func() error {
				return e.c.do(ctx, "GET", api.PathEligibleRoleAssignments+"/"+id, e.admins[w], false, nil, nil)
			})
		}
	case ScenarioActiveByID:
		return func(ctx context.Context, w, _ int, r *load.Recorder) error {
			p := e.active[rand.IntN(len(e.active))] //nolint:gosec // load spread
			return r.Time("active_elevations.list principal_id", func() error {
				var page api.Page[api.ActiveElevation]
				if err := e.c.do(ctx, "GET", api.PathActiveElevations+"?principal_id="+p, e.admins[w], false, nil, &page); err != nil {
					return err
				}
				if len(page.Items) != 1 {
					return fmt.Errorf("active elevations of %s: %d, want 1", p, len(page.Items))
				}
				return nil
			})
		}
	default: // ScenarioActivePage
		return func(ctx context.Context, w, _ int, r *load.Recorder) error {
			team := rand.IntN(e.teams) //nolint:gosec // load spread
			return r.Time("active_elevations.list scope_prefix (100/page)", func() error {
				var page api.Page[api.ActiveElevation]
				q := fmt.Sprintf("?scope_prefix=/orgs/load/teams/t%02d&page_size=100", team)
				if err := e.c.do(ctx, "GET", api.PathActiveElevations+q, e.admins[w], false, nil, &page); err != nil {
					return err
				}
				if len(page.Items) == 0 {
					return fmt.Errorf("no active elevations under team %d", team)
				}
				return nil
			})
		}
	}
}
