// Command pam-bench runs the benchmarks behind `make bench` and writes
// BENCHMARKS.md: the provider against Terraform core (OpenTofu), pamd's
// throughput under a load generator, and reads over a large store. It drives
// real parts only: the pinned OpenTofu, the provider binary, pamd on SQLite.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/bench/largestore"
	"github.com/accessplane/terraform-provider-pam/internal/bench/provprof"
	"github.com/accessplane/terraform-provider-pam/internal/bench/report"
	"github.com/accessplane/terraform-provider-pam/internal/bench/rsswrap"
	"github.com/accessplane/terraform-provider-pam/internal/bench/tfbench"
	"github.com/accessplane/terraform-provider-pam/internal/bench/throughput"
)

func main() {
	// OpenTofu starts this binary as the provider (see provprof and rsswrap).
	if ok, code := provprof.Main(); ok {
		os.Exit(code)
	}
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

type options struct {
	tofu, provider, pamd, out, note, workDir, provProf, loadProf string
	jsonOut, render                                              string
	sizes, conc, stores                                          string
	reps, largeReps, ret                                         int
	loadTime                                                     time.Duration
}

func run() error {
	var o options
	flag.StringVar(&o.tofu, "tofu", os.Getenv("TOFU"), "OpenTofu binary")
	flag.StringVar(&o.provider, "provider", "bin/terraform-provider-pam", "provider binary to measure")
	flag.StringVar(&o.pamd, "pamd", "bin/pamd", "pamd binary (large-store part)")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	flag.StringVar(&o.note, "note", "", "note printed at the top of the report (for example that the machine was busy)")
	flag.StringVar(&o.sizes, "sizes", "100,1000", "provider-vs-core sizes N (comma-separated; empty skips the part)")
	flag.IntVar(&o.reps, "reps", 3, "repetitions of each provider-vs-core measurement")
	flag.StringVar(&o.conc, "concurrency", "1,8,32", "load generator concurrency levels (empty skips the part)")
	flag.DurationVar(&o.loadTime, "load-duration", 3*time.Second, "how long each load scenario runs at each concurrency")
	flag.StringVar(&o.stores, "stores", "10000,100000", "large-store sizes in elevations (empty skips the part)")
	flag.IntVar(&o.ret, "return", 1000, "active elevations the large-store data source returns")
	flag.IntVar(&o.largeReps, "large-reps", 5, "repetitions of each large-store plan")
	flag.StringVar(&o.workDir, "workdir", "", "directory for temporary files (default: the system temp dir)")
	flag.StringVar(&o.provProf, "provider-cpuprofile", "", "directory for CPU profiles of the provider (provider-vs-core and large-store runs)")
	flag.StringVar(&o.loadProf, "load-cpuprofile", "", "directory for CPU profiles of pamd and the load generator, per scenario")
	flag.StringVar(&o.jsonOut, "json", "", "also write the raw figures as JSON to this file")
	flag.StringVar(&o.render, "render", "", "only re-render the report from a JSON file written by -json (no measurement)")
	flag.Parse()
	if o.render != "" {
		return render(o)
	}
	if o.tofu == "" {
		return fmt.Errorf("no OpenTofu: pass -tofu or set TOFU (make bench does)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	tmp, err := os.MkdirTemp(o.workDir, "pam-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	res := report.Results{Machine: report.Describe(ctx, o.tofu), Command: commandLine(),
		Note: o.note, Started: time.Now(), Reps: o.reps, LoadTime: o.loadTime}
	sizes, err := ints(o.sizes)
	if err != nil {
		return err
	}
	if len(sizes) > 0 {
		res.TF, err = tfbench.Run(ctx, tfbench.Config{Tofu: o.tofu, Provider: abs(o.provider), Wrapper: self, Sizes: sizes, Reps: o.reps,
			DriftPct: 1, WorkDir: tmp, Log: os.Stderr, ProviderProfileDir: o.provProf})
		res.Errors = failed(res.Errors, "provider against core", err)
	}
	conc, err := ints(o.conc)
	if err != nil {
		return err
	}
	if len(conc) > 0 {
		res.Load, err = throughput.Run(ctx, throughput.Config{Concurrency: conc, Duration: o.loadTime, ActiveElevations: 300,
			WorkDir: tmp, ProfileDir: o.loadProf, Log: os.Stderr})
		res.Errors = failed(res.Errors, "pamd throughput", err)
	}
	stores, err := ints(o.stores)
	if err != nil {
		return err
	}
	if len(stores) > 0 {
		res.Large, err = largestore.Run(ctx, largestore.Config{Sizes: stores, Return: o.ret, Reps: o.largeReps, Pamd: abs(o.pamd),
			Tofu: o.tofu, Provider: abs(o.provider), Wrapper: self, WorkDir: tmp, Log: os.Stderr, ProviderProfileDir: o.provProf})
		res.Errors = failed(res.Errors, "large stores", err)
	}
	res.Took = time.Since(res.Started)
	res.Machine.LoadEnd = report.Load()
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil { //nolint:gosec // figures meant to be read
			return err
		}
	}
	if err := writeReport(o.out, res); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "pam-bench: wrote %s in %s\n", o.out, res.Took.Round(time.Second))
	if len(res.Errors) > 0 {
		return fmt.Errorf("incomplete: %s", strings.Join(res.Errors, "; "))
	}
	return nil
}

// commandLine is how pam-bench was run, quoted where needed, the note left out
// (it is printed on its own).
func commandLine() string {
	parts := []string{"pam-bench"}
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-note" || a == "--note" {
			i++
			continue
		}
		if strings.HasPrefix(a, "-note=") || strings.HasPrefix(a, "--note=") {
			continue
		}
		if strings.ContainsAny(a, " \t\"'") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// failed records a part's error, so that the parts after it still run and
// the figures measured before it are still written.
func failed(errs []string, part string, err error) []string {
	if err == nil {
		return errs
	}
	fmt.Fprintf(os.Stderr, "pam-bench: %s: %v\n", part, err)
	return append(errs, part+": "+err.Error())
}

func writeReport(path string, res report.Results) error {
	var buf bytes.Buffer
	if err := report.Write(&buf, res); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644) //nolint:gosec // a report meant to be read and committed
}

// render rewrites the report from saved figures, e.g. after the findings
// text changed; nothing is measured again.
func render(o options) error {
	b, err := os.ReadFile(o.render)
	if err != nil {
		return err
	}
	var res report.Results
	if err := json.Unmarshal(b, &res); err != nil {
		return err
	}
	if o.note != "" {
		res.Note = o.note
	}
	return writeReport(o.out, res)
}
