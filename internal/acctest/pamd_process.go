package acctest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// PamdProcess is `pamd serve` run as a child process on a fixed loopback
// address, so a test can SIGKILL it (no shutdown hook runs, as in a power cut
// of the process) and, if it wants, start it again on the same address, as an
// init system would after a crash.
type PamdProcess struct {
	Bin     string
	Listen  string
	LogPath string
	// Args follow `serve --listen ADDR`; Env is added to the test's
	// environment ("NAME=value").
	Args []string
	Env  []string
	// Starts counts the starts so far.
	Starts int

	mu     sync.Mutex // guards cmd
	cmd    *exec.Cmd
	exited chan struct{}
}

// NewPamdProcess prepares (does not start) `pamd serve` from bin on a free
// loopback port, logging to logPath (appended across restarts).
func NewPamdProcess(t *testing.T, bin, logPath string, args []string, env ...string) *PamdProcess {
	t.Helper()
	return &PamdProcess{Bin: bin, Listen: FreeAddr(t), LogPath: logPath, Args: args, Env: env}
}

// FreeAddr picks a loopback port that is free now, to reuse across
// restarts: the provider's endpoint and the state written by OpenTofu keep
// working after a restart, as they would against a real server.
func FreeAddr(t *testing.T) string {
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

// URL is the process's base URL.
func (p *PamdProcess) URL() string { return "http://" + p.Listen }

// Start runs `pamd serve` and waits (60 s at most) until /v1/health
// answers. The test's cleanup kills it.
func (p *PamdProcess) Start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--listen", p.Listen}, p.Args...)
	cmd := exec.CommandContext(context.Background(), p.Bin, args...) //nolint:gosec // the pamd this test built, with the test's arguments; Kill ends it
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatalf("starting pamd: %v", err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	p.Starts++
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	t.Cleanup(func() { p.Kill(t) })

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("pamd exited during start %d: %v; log %s", p.Starts, cmd.ProcessState, p.LogPath)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+api.PathHealth, nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = res.Body.Close()
		}
		cancel()
		if err == nil && res.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pamd did not become healthy within 60 s (start %d): %v", p.Starts, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill sends SIGKILL and waits until the process is gone. Idempotent; safe
// from any goroutine.
func (p *PamdProcess) Kill(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
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

// Running reports whether the process was started and not killed.
func (p *PamdProcess) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Log returns what the process has logged so far (all starts).
func (p *PamdProcess) Log(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.LogPath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
