package tfbench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/bench/provprof"
	"github.com/accessplane/terraform-provider-pam/internal/bench/rsswrap"
	"github.com/accessplane/terraform-provider-pam/internal/bench/tfgen"
)

// Workspace is a directory OpenTofu runs in, with the benchmark's own CLI
// config (the person's settings stay out of the measurement).
type Workspace struct {
	Dir  string
	Tofu string
	Env  []string
	// RSSFile collects the provider's peak RSS (see rsswrap).
	RSSFile string
}

// ProviderSetup makes a workspace run the provider under measurement.
type ProviderSetup struct {
	// Wrapper is the pam-bench binary, Provider the provider it wraps.
	Wrapper, Provider string
	Endpoint, Token   string
	// ProfileDir, when set, profiles the provider instead (see provprof).
	ProfileDir string
}

// NewWorkspace prepares dir. Without a provider (the baseline) the CLI
// config is empty: terraform_data is built in. With one, dev_overrides points
// the provider address at a directory whose terraform-provider-pam is the
// RSS wrapper around the real provider, so no registry and no `init` are
// needed (as in scripts/demo.sh).
func NewWorkspace(dir, tofu string, p *ProviderSetup) (*Workspace, error) {
	cli := filepath.Join(dir, "cli.tfrc")
	w := &Workspace{Dir: dir, Tofu: tofu, RSSFile: filepath.Join(dir, "provider.rss"),
		Env: append(os.Environ(), "TF_CLI_CONFIG_FILE="+cli, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")}
	if p == nil {
		return w, os.WriteFile(cli, nil, 0o600)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o700); err != nil {
		return nil, err
	}
	if err := os.Symlink(p.Wrapper, filepath.Join(bin, "terraform-provider-pam")); err != nil {
		return nil, err
	}
	rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n", tfgen.ProviderSource, bin)
	if err := os.WriteFile(cli, []byte(rc), 0o600); err != nil {
		return nil, err
	}
	w.Env = append(w.Env, "PAM_ENDPOINT="+p.Endpoint, "PAM_TOKEN="+p.Token,
		rsswrap.EnvProvider+"="+p.Provider, rsswrap.EnvOut+"="+w.RSSFile)
	if p.ProfileDir != "" {
		w.Env = append(w.Env, provprof.EnvDir+"="+p.ProfileDir)
	}
	return w, nil
}

// Write replaces the workspace's configuration.
func (w *Workspace) Write(config string) error {
	return os.WriteFile(filepath.Join(w.Dir, "main.tf"), []byte(config), 0o600)
}

// Timing is the cost of one command.
type Timing struct {
	Wall time.Duration
	// CPU is the user and system time of OpenTofu and every process it
	// waited for (the provider included).
	CPU time.Duration
}

// Run runs one OpenTofu command and returns its cost; an exit code other
// than want is an error carrying the output's tail.
func (w *Workspace) Run(ctx context.Context, want int, args ...string) (Timing, error) {
	args = append([]string{"-chdir=" + w.Dir}, append(args, "-input=false", "-no-color", "-compact-warnings")...)
	cmd := exec.CommandContext(ctx, w.Tofu, args...) //nolint:gosec // the pinned OpenTofu the benchmark was given
	cmd.Env = w.Env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t := Timing{Wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			t.CPU = rsswrap.CPUTime(ru)
		}
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError) //nolint:errorlint // Run returns *exec.ExitError itself
		if !ok {
			return t, err
		}
		code = ee.ExitCode()
	}
	if code != want {
		return t, fmt.Errorf("tofu %s exited %d, want %d:\n%s", strings.Join(args[1:], " "), code, want, tail(out.String(), 3000))
	}
	return t, nil
}

// Output runs a command that must succeed and returns its stdout.
func (w *Workspace) Output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, w.Tofu, append([]string{"-chdir=" + w.Dir}, args...)...) //nolint:gosec // see Run
	cmd.Env = w.Env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tofu %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return b, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
