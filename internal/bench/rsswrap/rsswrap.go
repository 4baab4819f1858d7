// Package rsswrap measures the peak resident set size of a provider process
// that OpenTofu starts. The benchmark's CLI config points dev_overrides at a
// directory whose terraform-provider-pam is the pam-bench binary; started
// with EnvProvider set, pam-bench runs the real provider as its child with
// inherited stdio (so the go-plugin handshake passes through untouched),
// waits, and appends the child's rusage (ru_maxrss and user+system CPU time)
// to EnvOut. The child is the provider alone, so the figures exclude OpenTofu
// and the wrapper. CPU time, unlike wall time, hardly changes when other work
// shares the machine, so it is the steadier before/after measure.
package rsswrap

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment of the wrapper mode, inherited from OpenTofu's environment.
const (
	EnvProvider = "PAM_BENCH_WRAP_PROVIDER"
	EnvOut      = "PAM_BENCH_WRAP_RSS_FILE"
)

// Main runs the wrapper when EnvProvider is set and reports whether it did,
// with the exit code to use.
func Main() (handled bool, code int) {
	prov := os.Getenv(EnvProvider)
	if prov == "" {
		return false, 0
	}
	cmd := exec.Command(prov, os.Args[1:]...) //nolint:gosec,noctx // the provider binary the benchmark built; its lifetime is OpenTofu's to manage
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "rsswrap:", err)
		return true, 1
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		if out := os.Getenv(EnvOut); out != "" {
			line := strconv.FormatInt(ru.Maxrss, 10) + " " + strconv.FormatInt(CPUTime(ru).Nanoseconds(), 10)
			if werr := appendLine(out, line); werr != nil {
				fmt.Fprintln(os.Stderr, "rsswrap:", werr)
			}
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return true, ee.ExitCode()
	}
	if err != nil {
		return true, 1
	}
	return true, 0
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) //nolint:gosec // the benchmark's own temp file
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// CPUTime is the user plus system time of a rusage.
func CPUTime(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Usage is what the provider processes of one command used.
type Usage struct {
	// PeakKiB is the largest ru_maxrss (KiB on Linux) of any of them.
	PeakKiB int64
	// CPU is their total user and system time.
	CPU time.Duration
}

// Read reads the file the wrappers appended to (OpenTofu may start the
// provider several times per command) and removes it, so the next command
// starts afresh. No file means no provider ran: zero usage.
func Read(path string) (Usage, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the benchmark's own temp file
	if errors.Is(err, os.ErrNotExist) {
		return Usage{}, nil
	}
	if err != nil {
		return Usage{}, err
	}
	_ = os.Remove(path)
	return parse(string(b))
}

func parse(s string) (Usage, error) {
	var u Usage
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 2 {
			return Usage{}, fmt.Errorf("rsswrap: bad line %q", l)
		}
		rss, err1 := strconv.ParseInt(f[0], 10, 64)
		cpu, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return Usage{}, fmt.Errorf("rsswrap: bad line %q", l)
		}
		u.PeakKiB = max(u.PeakKiB, rss)
		u.CPU += time.Duration(cpu)
	}
	return u, nil
}
