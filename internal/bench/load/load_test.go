package load

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsEveryRequestByName(t *testing.T) {
	var n atomic.Int64
	res, err := Run(context.Background(), 4, 50*time.Millisecond, func(_ context.Context, _, _ int, r *Recorder) error {
		n.Add(1)
		if err := r.Time("a", func() error { time.Sleep(time.Millisecond); return nil }); err != nil {
			return err
		}
		return r.Time("b", func() error { return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Name != "a" || res[1].Name != "b" {
		t.Fatalf("results %+v", res)
	}
	if int64(res[0].Ops) != n.Load() || res[0].Ops != res[1].Ops || res[0].Ops < 4 {
		t.Errorf("ops a=%d b=%d steps=%d", res[0].Ops, res[1].Ops, n.Load())
	}
	if res[0].Latency.P50 < time.Millisecond || res[0].PerSec <= 0 {
		t.Errorf("latency %+v rate %v", res[0].Latency, res[0].PerSec)
	}
}

func TestRunReportsFailures(t *testing.T) {
	boom := errors.New("boom")
	res, err := Run(context.Background(), 2, 20*time.Millisecond, func(_ context.Context, _, i int, r *Recorder) error {
		if i == 1 {
			return r.Time("x", func() error { return boom })
		}
		return r.Time("x", func() error { return nil })
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if len(res) != 1 || res[0].Errors != 2 || res[0].Ops != 2 {
		t.Errorf("results %+v, want 2 ok and 2 failed (one of each per worker)", res)
	}
}
