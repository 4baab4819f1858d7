package crashtest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// pamdProc is pamd running as a child process on a fixed address and
// database, so it can be SIGKILLed and started again on the same file, as an
// init system would after a crash.
type pamdProc struct {
	bin, db, listen, token, logPath string
	cmd                             *exec.Cmd
	exited                          chan struct{}
	starts                          int
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// freeAddr picks a loopback port to reuse across restarts: the provider's
// endpoint and the state written by OpenTofu must keep working after a
// restart, as they would against a real server.
func freeAddr(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func newPamd(t *testing.T, bin, dir string) *pamdProc {
	t.Helper()
	return &pamdProc{
		bin: bin, db: filepath.Join(dir, "pamd.db"), listen: freeAddr(t),
		token: "pamd_crash_" + randomHex(24), logPath: filepath.Join(dir, "pamd.log"),
	}
}

func (p *pamdProc) url() string { return "http://" + p.listen }

// start runs `pamd serve` and waits until /v1/health answers.
func (p *pamdProc) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.bin, "serve", "--db", p.db, "--listen", p.listen, "--log-level", "debug") //nolint:gosec // the pamd this test built
	cmd.Env = append(os.Environ(), "PAMD_BOOTSTRAP_TOKEN="+p.token)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatalf("starting pamd: %v", err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	p.starts++
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill(t) })

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.exited:
			t.Fatalf("pamd exited during start %d: %v; log %s", p.starts, cmd.ProcessState, p.logPath)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url()+api.PathHealth, nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = res.Body.Close()
		}
		cancel()
		if err == nil && res.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pamd did not become healthy within 60 s (start %d): %v", p.starts, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL (no shutdown hook runs, as in a power cut of the
// process) and waits until the process is gone. Idempotent.
func (p *pamdProc) kill(t *testing.T) {
	t.Helper()
	if p.cmd == nil {
		return
	}
	select {
	case <-p.exited:
	default:
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("killing pamd: %v", err)
		}
		<-p.exited
	}
	p.cmd = nil
}

// verifyAudit runs `pamd audit verify` on the database while no pamd runs,
// so it checks exactly what the crash left on disk.
func (p *pamdProc) verifyAudit(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, p.bin, "audit", "verify", "--db", p.db).CombinedOutput() //nolint:gosec // the pamd this test built
	if err != nil {
		t.Fatalf("pamd audit verify after start %d: %v\n%s", p.starts, err, out)
	}
	return string(out)
}

func (p *pamdProc) String() string { return fmt.Sprintf("pamd at %s (db %s)", p.listen, p.db) }
