package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/bench/load"
	"github.com/accessplane/terraform-provider-pam/internal/bench/stats"
	"github.com/accessplane/terraform-provider-pam/internal/bench/tfbench"
	"github.com/accessplane/terraform-provider-pam/internal/bench/throughput"
)

func sample(kind, phase string, rep int, wall time.Duration, reqs int64) tfbench.Sample {
	return tfbench.Sample{Size: 1000, Kind: kind, Rep: rep, Phase: phase, Wall: wall, CPU: wall / 2, Requests: reqs, Resources: 1101}
}

func TestSummarizeTFMediansAndRatios(t *testing.T) {
	var ss []tfbench.Sample
	for i, w := range []int{12, 10, 30} {
		ss = append(ss, sample(tfbench.KindProvider, tfbench.PhasePlan, i, time.Duration(w)*time.Second, 1101))
	}
	for i, w := range []int{9, 10, 11} {
		ss = append(ss, sample(tfbench.KindBaseline, tfbench.PhasePlan, i, time.Duration(w)*time.Second, 0))
	}
	rows := SummarizeTF(ss)
	if len(rows) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	r := rows[0]
	// Medians, not means: the 30 s outlier does not move the figure.
	if r.Provider != 12*time.Second || r.Baseline != 10*time.Second || r.Ratio != 1.2 || r.Requests != 1101 {
		t.Errorf("row %+v", r)
	}
}

func TestBestWritesKeepsOnlyRowsUnderTheLatencyGoal(t *testing.T) {
	res := func(name string, rate float64, p99 time.Duration) load.Result {
		return load.Result{Name: name, PerSec: rate, Latency: stats.Latency{P99: p99}}
	}
	rows := []throughput.Row{
		{Scenario: throughput.ScenarioCreate, Concurrency: 1, Results: []load.Result{res("eligibility.create", 300, 5*time.Millisecond)}},
		{Scenario: throughput.ScenarioCreate, Concurrency: 32, Results: []load.Result{res("eligibility.create", 900, 80*time.Millisecond)}},
		{Scenario: throughput.ScenarioElevate, Concurrency: 8, Results: []load.Result{
			res("elevation.request", 150, 10*time.Millisecond), res("elevation.approve", 150, 12*time.Millisecond),
			res("elevation.deactivate", 150, 9*time.Millisecond)}},
		{Scenario: throughput.ScenarioGet, Concurrency: 8, Results: []load.Result{res("eligibility.get", 5000, time.Millisecond)}},
	}
	got, where := bestWrites(rows)
	if got != 450 || !strings.Contains(where, throughput.ScenarioElevate) {
		t.Errorf("bestWrites = %v (%s), want 450 from the elevation cycle (the 900/s row missed p99)", got, where)
	}
	if got, _ := bestReads(rows); got != 5000 {
		t.Errorf("bestReads = %v", got)
	}
}

func TestWriteRendersEveryPart(t *testing.T) {
	var b bytes.Buffer
	err := Write(&b, Results{Reps: 1, Note: "busy", TF: []tfbench.Sample{
		sample(tfbench.KindProvider, tfbench.PhasePlan, 0, 2*time.Second, 1101),
		sample(tfbench.KindBaseline, tfbench.PhasePlan, 0, time.Second, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"> **busy**", "## Machine", "plan (refresh, unchanged) at N = 1,000", "2.00×", "**missed**", "## 4. Profiling"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
