// Package provprof profiles the provider as OpenTofu runs it. With EnvDir set,
// the pam-bench binary that dev_overrides names as terraform-provider-pam
// serves the provider itself (the same provider.New as main.go) under a CPU
// profile, written to EnvDir as cpu-<pid>.pprof when OpenTofu shuts the
// provider down. OpenTofu starts the provider several times per command;
// `go tool pprof` merges the files.
package provprof

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/accessplane/terraform-provider-pam/internal/provider"
)

// EnvDir names the directory that receives the profiles.
const EnvDir = "PAM_BENCH_PROVIDER_CPUPROFILE_DIR"

// Main serves the provider under a CPU profile when EnvDir is set and
// reports whether it did, with the exit code to use.
func Main() (handled bool, code int) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return false, 0
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", os.Getpid()))) //nolint:gosec // the directory the benchmark chose
	if err != nil {
		fmt.Fprintln(os.Stderr, "provprof:", err)
		return true, 1
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "provprof:", err)
		return true, 1
	}
	provider.QuietLogsUnlessRequested() // as main.go does
	err = providerserver.Serve(context.Background(), provider.New("bench"), providerserver.ServeOpts{
		Address: "registry.terraform.io/accessplane/pam", ProtocolVersion: 6,
	})
	pprof.StopCPUProfile()
	_ = f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "provprof:", err)
		return true, 1
	}
	return true, 0
}
