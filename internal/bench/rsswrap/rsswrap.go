// Package rsswrap measures the peak resident set size of a provider process
// that OpenTofu starts. The benchmark's CLI config points dev_overrides at a
// directory whose terraform-provider-pam is the pam-bench binary; started
// with EnvProvider set, pam-bench runs the real provider as its child with
// inherited stdio (so the go-plugin handshake passes through untouched),
// waits, and appends the child's rusage ru_maxrss to EnvOut. The child is the
// provider alone, so the figure excludes OpenTofu and the wrapper.
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
)

// Environment of the wrapper mode, inherited from OpenTofu's environment.
const (
	EnvProvider = "PAM_BENCH_WRAP_PROVIDER"
	EnvOut      = "PAM_BENCH_WRAP_RSS_FILE"
)

// Main runs the wrapper when EnvProvider is set and reports whether it did,
// with the exit code to use.
func Main() (handled bool, code int) {
	real := os.Getenv(EnvProvider)
	if real == "" {
		return false, 0
	}
	cmd := exec.Command(real, os.Args[1:]...) //nolint:gosec,noctx // the provider binary the benchmark built; its lifetime is OpenTofu's to manage
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
			if werr := appendLine(out, strconv.FormatInt(ru.Maxrss, 10)); werr != nil {
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

// PeakKiB reads the file the wrappers appended to and returns the largest
// ru_maxrss (KiB on Linux) of the provider processes recorded there, and
// removes the file so the next command starts afresh. No file means no
// provider ran: 0.
func PeakKiB(path string) (int64, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the benchmark's own temp file
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	_ = os.Remove(path)
	return maxOfLines(string(b))
}

func maxOfLines(s string) (int64, error) {
	var peak int64
	for _, l := range strings.Fields(s) {
		v, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("rsswrap: bad line %q", l)
		}
		peak = max(peak, v)
	}
	return peak, nil
}
