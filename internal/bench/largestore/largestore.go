// Package largestore measures reads over a large store: pamd (the real
// binary, as a child process, so its memory is its own) serves a SQLite store
// seeded with many elevations, and the pam_active_elevations data source
// reads one team's active elevations through OpenTofu. It reports the
// end-to-end read time, the API listing time, and pamd's resident memory, at
// several store sizes: bounded memory means it does not grow with the store.
package largestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/bench/benchd"
	"github.com/accessplane/terraform-provider-pam/internal/bench/rsswrap"
	"github.com/accessplane/terraform-provider-pam/internal/bench/stats"
	"github.com/accessplane/terraform-provider-pam/internal/bench/tfbench"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
)

// Config configures a run.
type Config struct {
	// Sizes are the store sizes (total elevations).
	Sizes []int
	// Return is how many active elevations the data source returns.
	Return int
	Reps   int
	// Pamd is the pamd binary; Tofu, Provider and Wrapper as in tfbench.
	Pamd, Tofu, Provider, Wrapper string
	WorkDir                       string
	// ProviderProfileDir, when set, profiles the provider (see provprof).
	ProviderProfileDir string
	Log                io.Writer
}

// perEligibility is the history depth: nine ended elevations per active one.
const perEligibility = 10

// pageSize is the page size the pam_active_elevations data source asks for;
// the API listing uses the same, so it shows pamd's part of the read.
const pageSize = api.MaxPageSize

// Row is the outcome at one store size.
type Row struct {
	Elevations, Active, Returned int
	Seed                         time.Duration
	// APIList is the median time to list every page of the team's active
	// elevations over HTTP, as the data source does (pages of pageSize).
	APIList time.Duration
	// Plan and PlanEmpty are the medians of `tofu plan` of the data source
	// returning Returned elevations and of the same data source matching
	// none; Read is their difference, the cost of the elevations read.
	Plan, PlanEmpty, Read time.Duration
	ProviderRSSKiB        int64
	// PamdStartKiB is pamd's RSS once started; PamdPeakKiB its peak (VmHWM)
	// after every read.
	PamdStartKiB, PamdPeakKiB int64
}

// Run measures every size.
func Run(ctx context.Context, cfg Config) ([]Row, error) {
	var rows []Row
	for _, size := range cfg.Sizes {
		fmt.Fprintf(cfg.Log, "largestore: %d elevations\n", size)
		row, err := runSize(ctx, cfg, size)
		if err != nil {
			return rows, fmt.Errorf("%d elevations: %w", size, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func runSize(ctx context.Context, cfg Config, size int) (Row, error) {
	dir, err := os.MkdirTemp(cfg.WorkDir, fmt.Sprintf("large-%d-", size))
	if err != nil {
		return Row{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	shape := Shape{Elevations: size, PerEligibility: perEligibility, TeamSize: cfg.Return}
	row := Row{Elevations: shape.Eligibilities() * perEligibility, Active: shape.Eligibilities()}
	db := filepath.Join(dir, "pamd.db")
	token := benchd.Token()

	start := time.Now()
	roleID, policyID, err := catalog(ctx, db, token)
	if err != nil {
		return row, err
	}
	if err := Seed(ctx, db, roleID, policyID, shape, time.Now()); err != nil {
		return row, err
	}
	row.Seed = time.Since(start)

	p, err := startPamd(ctx, cfg.Pamd, db, token, filepath.Join(dir, "pamd.log"))
	if err != nil {
		return row, err
	}
	defer p.stop()
	if row.PamdStartKiB, err = procStatusKiB(p.cmd.Process.Pid, "VmRSS"); err != nil {
		return row, err
	}
	team := shape.Team(0)

	c, err := benchd.Client(p.url, token)
	if err != nil {
		return row, err
	}
	var lists []time.Duration
	for range cfg.Reps {
		t0 := time.Now()
		items, err := client.All(ctx, func(tok string) (*api.Page[api.ActiveElevation], error) {
			return c.ListActiveElevations(ctx, api.ActiveElevationListParams{ScopePrefix: team, PageSize: pageSize, PageToken: tok})
		})
		if err != nil {
			return row, err
		}
		lists = append(lists, time.Since(t0))
		row.Returned = len(items)
	}
	row.APIList = stats.MedianDuration(lists)
	if row.Returned != min(cfg.Return, row.Active) {
		return row, fmt.Errorf("the team lists %d active elevations, want %d", row.Returned, cfg.Return)
	}

	if err := measurePlans(ctx, cfg, dir, p.url, token, team, &row); err != nil {
		return row, err
	}
	row.PamdPeakKiB, err = procStatusKiB(p.cmd.Process.Pid, "VmHWM")
	return row, err
}

// dataSource is the configuration read: one team's active elevations.
func dataSource(scopePrefix string) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    pam = { source = "registry.terraform.io/accessplane/pam" }
  }
}

data "pam_active_elevations" "team" {
  scope_prefix = %q
}

output "n" {
  value = length(data.pam_active_elevations.team.elevations)
}
`, scopePrefix)
}

func measurePlans(ctx context.Context, cfg Config, dir, url, token, team string, row *Row) error {
	wsDir := filepath.Join(dir, "tf")
	if err := os.Mkdir(wsDir, 0o700); err != nil {
		return err
	}
	ws, err := tfbench.NewWorkspace(wsDir, cfg.Tofu, &tfbench.ProviderSetup{Wrapper: cfg.Wrapper, Provider: cfg.Provider, Endpoint: url, Token: token,
		ProfileDir: cfg.ProviderProfileDir})
	if err != nil {
		return err
	}
	// Check once that the plan reads what the API listed.
	if err := ws.Write(dataSource(team)); err != nil {
		return err
	}
	out, err := ws.Output(ctx, "plan", "-input=false", "-no-color")
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("n = %d", row.Returned); !strings.Contains(string(out), want) {
		return fmt.Errorf("the plan does not show %q:\n%s", want, out)
	}
	var full, empty []time.Duration
	for range cfg.Reps {
		for _, scope := range []string{team, "/orgs/none"} {
			if err := ws.Write(dataSource(scope)); err != nil {
				return err
			}
			t, err := ws.Run(ctx, 0, "plan")
			if err != nil {
				return err
			}
			d := t.Wall
			if scope == team {
				full = append(full, d)
			} else {
				empty = append(empty, d)
			}
		}
	}
	row.Plan, row.PlanEmpty = stats.MedianDuration(full), stats.MedianDuration(empty)
	row.Read = row.Plan - row.PlanEmpty
	u, err := rsswrap.Read(ws.RSSFile)
	row.ProviderRSSKiB = u.PeakKiB
	return err
}

// catalog creates the role and the policy through the API of an in-process
// pamd on the new store (which also installs the admin token), then stops it.
func catalog(ctx context.Context, db, token string) (roleID, policyID string, err error) {
	d, err := daemon.Start(ctx, benchd.Config(db, token))
	if err != nil {
		return "", "", err
	}
	defer func() { err = errors.Join(err, d.Close()) }()
	c, err := benchd.Client(d.URL(), token)
	if err != nil {
		return "", "", err
	}
	role, err := c.CreateRole(ctx, api.RoleInput{Name: "big-role", AssignableScopes: []string{"/orgs/big"}})
	if err != nil {
		return "", "", err
	}
	pol, err := c.CreateActivationPolicy(ctx, api.ActivationPolicyInput{Name: "big-policy", ActivationRules: api.ActivationRules{
		MaxActivationSeconds: 3600, EligibilityConstraints: api.EligibilityConstraints{AllowPermanent: true}}})
	if err != nil {
		return "", "", err
	}
	return role.ID, pol.ID, nil
}

type pamdProc struct {
	cmd *exec.Cmd
	url string
	log *os.File
}

func freePort() (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// startPamd runs `pamd serve` on the seeded store and waits until it answers.
func startPamd(ctx context.Context, bin, db, token, logPath string) (*pamdProc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath) //nolint:gosec // the benchmark's own temp dir
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--listen", addr, "--db", db) //nolint:gosec // the pamd binary the benchmark built
	cmd.Env = append(os.Environ(), "PAMD_BOOTSTRAP_TOKEN="+token)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	p := &pamdProc{cmd: cmd, url: "http://" + addr, log: logf}
	c, err := benchd.Client(p.url, token)
	if err != nil {
		p.stop()
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := c.Health(ctx); err == nil {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			b, _ := os.ReadFile(logPath) //nolint:gosec // see above
			return nil, fmt.Errorf("pamd did not answer within 30s:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *pamdProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	_ = p.log.Close()
}

// procStatusKiB reads one kB field (VmRSS, VmHWM) of /proc/<pid>/status.
func procStatusKiB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return statusField(f, field)
}

func statusField(r io.Reader, field string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", field, err)
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}
