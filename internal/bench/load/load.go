// Package load runs a closed-loop load: a fixed number of workers, each
// issuing its next request as soon as the previous one answered, for a fixed
// time. Every request's latency is recorded under a name, so one worker step
// made of several requests (request, approve, deactivate) reports each.
package load

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/bench/stats"
)

// Recorder times the requests of one worker.
type Recorder struct {
	lat  map[string][]time.Duration
	errs map[string]int
	err  error
}

// Time runs f and records its latency under name; a failure is counted (the
// first one kept) and not recorded as a latency.
func (r *Recorder) Time(name string, f func() error) error {
	start := time.Now()
	err := f()
	d := time.Since(start)
	if err != nil {
		r.errs[name]++
		if r.err == nil {
			r.err = err
		}
		return err
	}
	r.lat[name] = append(r.lat[name], d)
	return nil
}

// Step is one iteration of a worker; worker is 0..concurrency-1 and i counts
// that worker's iterations. Returning an error stops the worker.
type Step func(ctx context.Context, worker, i int, r *Recorder) error

// Result is the outcome of one named request kind.
type Result struct {
	Name    string
	Ops     int
	Errors  int
	PerSec  float64
	Latency stats.Latency
}

// Run runs concurrency workers for d and returns one Result per request
// name, in name order, and the first error any request or step returned.
func Run(ctx context.Context, concurrency int, d time.Duration, step Step) ([]Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := time.Now().Add(d)
	recs := make([]*Recorder, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		rec := &Recorder{lat: map[string][]time.Duration{}, errs: map[string]int{}}
		recs[w] = rec
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				if err := step(ctx, w, i, rec); err != nil {
					if rec.err == nil {
						rec.err = err
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return merge(recs, elapsed)
}

func merge(recs []*Recorder, elapsed time.Duration) ([]Result, error) {
	lat := map[string][]time.Duration{}
	errs := map[string]int{}
	var first error
	for _, r := range recs {
		for k, v := range r.lat {
			lat[k] = append(lat[k], v...)
		}
		for k, v := range r.errs {
			errs[k] += v
		}
		if first == nil && r.err != nil && !errors.Is(r.err, context.Canceled) {
			first = r.err
		}
	}
	names := map[string]bool{}
	for k := range lat {
		names[k] = true
	}
	for k := range errs {
		names[k] = true
	}
	out := make([]Result, 0, len(names))
	for k := range names {
		out = append(out, Result{Name: k, Ops: len(lat[k]), Errors: errs[k],
			PerSec: float64(len(lat[k])) / elapsed.Seconds(), Latency: stats.Summarize(lat[k])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, first
}
