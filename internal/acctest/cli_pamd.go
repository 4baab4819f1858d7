package acctest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

var (
	buildMu   sync.Mutex
	buildOnce = map[string]*builtBinary{}
)

type builtBinary struct {
	once sync.Once
	path string
	err  error
}

// buildBinary builds the main package pkg once per test binary into a temp
// dir of its own, as name; concurrent callers wait for the one build.
func buildBinary(t *testing.T, pkg, name string) string {
	t.Helper()
	buildMu.Lock()
	b, ok := buildOnce[pkg]
	if !ok {
		b = &builtBinary{}
		buildOnce[pkg] = b
	}
	buildMu.Unlock()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "pam-acctest-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, name)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", b.path, pkg).CombinedOutput() //nolint:gosec // fixed package list; the output path is our own temp dir
		if err != nil {
			b.err = &buildError{err: err, out: string(out)}
		}
	})
	if b.err != nil {
		t.Fatalf("acctest: building %s: %v", pkg, b.err)
	}
	return b.path
}

// pamdBinary builds cmd/pamd once per test binary, so end-to-end tests drive
// the same CLI a person would run.
func pamdBinary(t *testing.T) string {
	t.Helper()
	return buildBinary(t, "github.com/accessplane/terraform-provider-pam/cmd/pamd", "pamd")
}

// PamdBinary is the path of a pamd built from this tree, for tests that run
// pamd as a separate process (to kill it, for instance).
func PamdBinary(t *testing.T) string {
	t.Helper()
	return pamdBinary(t)
}

// ProviderBinary is the path of terraform-provider-pam built from this tree,
// named as the CLI's dev_overrides expect; see NewWorkdir.
func ProviderBinary(t *testing.T) string {
	t.Helper()
	return buildBinary(t, "github.com/accessplane/terraform-provider-pam", "terraform-provider-pam")
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// PamdCLI runs the pamd CLI against the test pamd with the given token and
// returns its stdout; a non-zero exit fails the test with stderr.
func PamdCLI(t *testing.T, token string, args ...string) string {
	t.Helper()
	PreCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pamdBinary(t), args...) //nolint:gosec // the binary this package just built
	cmd.Env = append(os.Environ(), EnvEndpoint+"="+os.Getenv(EnvEndpoint), EnvToken+"="+token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pamd %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// VerifyAudit fails the test unless the test pamd's audit chain verifies.
func VerifyAudit(t *testing.T) {
	t.Helper()
	PreCheck(t)
	res, err := daemon.VerifyAudit(context.Background(), server.Store())
	if err != nil {
		t.Fatalf("acctest: audit chain: %v", err)
	}
	if !res.OK() {
		t.Fatalf("acctest: audit chain broken: %+v", res)
	}
}

// AuditJSON returns every audit event of the test pamd as JSON, for tests
// that search the audit trail for values that must never be in it.
func AuditJSON(t *testing.T) string {
	t.Helper()
	PreCheck(t)
	var out []byte
	err := server.Store().View(context.Background(), func(tx store.Tx) error {
		evs, err := tx.ListAudit(store.AuditFilter{Limit: 1 << 30})
		if err != nil {
			return err
		}
		out, err = json.Marshal(evs)
		return err
	})
	if err != nil {
		t.Fatalf("acctest: reading the audit log: %v", err)
	}
	return string(out)
}
