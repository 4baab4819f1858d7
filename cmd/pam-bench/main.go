// Command pam-bench runs the benchmarks behind `make bench` and writes
// BENCHMARKS.md: the provider against Terraform core (OpenTofu), pamd's
// throughput under a load generator, and reads over a large store. It drives
// real parts only: the pinned OpenTofu, the provider binary, pamd on SQLite.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/bench/rsswrap"
	"github.com/accessplane/terraform-provider-pam/internal/bench/tfbench"
)

func main() {
	// OpenTofu starts this binary as the provider (see rsswrap).
	if ok, code := rsswrap.Main(); ok {
		os.Exit(code)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pam-bench:", err)
		os.Exit(1)
	}
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func run() error {
	var (
		tofu     = flag.String("tofu", os.Getenv("TOFU"), "OpenTofu binary")
		provider = flag.String("provider", "bin/terraform-provider-pam", "provider binary to measure")
		sizes    = flag.String("sizes", "100,1000", "provider-vs-core sizes N (comma-separated; empty skips)")
		reps     = flag.Int("reps", 3, "repetitions of each provider-vs-core measurement")
		workDir  = flag.String("workdir", "", "directory for temporary files (default: the system temp dir)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	prov, err := filepath.Abs(*provider)
	if err != nil {
		return err
	}
	ns, err := ints(*sizes)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(*workDir, "pam-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	start := time.Now()
	samples, err := tfbench.Run(ctx, tfbench.Config{Tofu: *tofu, Provider: prov, Wrapper: self, Sizes: ns, Reps: *reps,
		DriftPct: 1, WorkDir: tmp, Log: os.Stderr})
	for _, s := range samples {
		fmt.Printf("%+v\n", s)
	}
	fmt.Println("took", time.Since(start))
	return err
}
