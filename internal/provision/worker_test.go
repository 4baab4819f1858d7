package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/clock"
)

const testSecret = "whsec-TOPSECRET-0123456789abcdef"

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// reply is one scripted receiver answer.
type reply struct {
	status int
	header map[string]string
}

// receiver is a real HTTP webhook receiver: it verifies the signature with
// Verify, records the events it accepted and answers from a script (200 once
// the script is exhausted).
type receiver struct {
	srv    *httptest.Server
	secret string
	clk    clock.Clock

	mu       sync.Mutex
	script   []reply
	events   []Event
	requests int
	rejected int
}

func newReceiver(t *testing.T, secret string, clk clock.Clock, script ...reply) *receiver {
	t.Helper()
	r := &receiver{secret: secret, clk: clk, script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(r.handle))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if err != nil || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := Verify(r.secret, req.Header.Get(HeaderSignature), body, r.clk.Now(), 5*time.Minute); err != nil {
		r.rejected++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(HeaderEventID) {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	if len(r.script) > 0 {
		rep := r.script[0]
		r.script = r.script[1:]
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.status)
		if rep.status >= 200 && rep.status < 300 {
			r.events = append(r.events, ev)
		}
		return
	}
	r.events = append(r.events, ev)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) snapshot() (events []Event, requests, rejected int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events), r.requests, r.rejected
}

// memOutbox is an in-memory Outbox for tests only.
type memOutbox struct {
	mu   sync.Mutex
	rows map[string]*memRow
	log  []string // every Mark call, for assertions
}

type memRow struct {
	d           Delivery
	state       string // pending, delivered, failed
	deliveredAt time.Time
	failedAt    time.Time
}

func newMemOutbox(ds ...Delivery) *memOutbox {
	o := &memOutbox{rows: map[string]*memRow{}}
	for _, d := range ds {
		o.rows[d.ID] = &memRow{d: d, state: "pending"}
	}
	return o
}

func (o *memOutbox) Due(_ context.Context, now time.Time, limit int) ([]Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Delivery
	for _, r := range o.rows {
		if r.state == "pending" && !r.d.NextAttemptAt.After(now) {
			out = append(out, r.d)
		}
	}
	slices.SortFunc(out, func(a, b Delivery) int { return a.NextAttemptAt.Compare(b.NextAttemptAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (o *memOutbox) row(id string) (*memRow, error) {
	r, ok := o.rows[id]
	if !ok || r.state != "pending" {
		return nil, fmt.Errorf("delivery %s not pending", id)
	}
	return r, nil
}

func (o *memOutbox) MarkDelivered(_ context.Context, id string, attempts int, at time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, err := o.row(id)
	if err != nil {
		return err
	}
	r.state, r.d.Attempts, r.deliveredAt = "delivered", attempts, at
	o.log = append(o.log, "delivered")
	return nil
}

func (o *memOutbox) MarkRetry(_ context.Context, id string, attempts int, next time.Time, lastErr string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, err := o.row(id)
	if err != nil {
		return err
	}
	r.d.Attempts, r.d.NextAttemptAt, r.d.LastError = attempts, next, lastErr
	o.log = append(o.log, "retry: "+lastErr)
	return nil
}

func (o *memOutbox) MarkFailed(_ context.Context, id string, attempts int, at time.Time, lastErr string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, err := o.row(id)
	if err != nil {
		return err
	}
	r.state, r.d.Attempts, r.d.LastError, r.failedAt = "failed", attempts, lastErr, at
	o.log = append(o.log, "failed: "+lastErr)
	return nil
}

func (o *memOutbox) get(id string) memRow {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.rows[id]
}

func testEvent() Event {
	return Event{
		ID:         "evt_01JTEST",
		Type:       EventElevationActivated,
		OccurredAt: t0,
		Elevation: Elevation{
			ID:        "elv_01JTEST",
			Principal: Principal{Type: "user", ID: "alice"},
			RoleID:    "role_01JTEST",
			Scope:     "/prod/db",
			StartAt:   t0,
			EndAt:     t0.Add(time.Hour),
		},
	}
}

type harness struct {
	clk    *clock.Fake
	rcv    *receiver
	outbox *memOutbox
	worker *Worker
	logs   *bytes.Buffer
}

// newHarness wires a real receiver (verifying with rcvSecret) to a worker
// whose target uses testSecret. Jitter is off (Rand returns 0) so backoff
// delays are exact.
func newHarness(t *testing.T, rcvSecret string, policy Policy, script ...reply) *harness {
	t.Helper()
	clk := clock.NewFake(t0)
	rcv := newReceiver(t, rcvSecret, clk, script...)
	d := Delivery{
		ID:            "dlv_1",
		Target:        Target{URL: rcv.srv.URL + "/hook?token=QUERYTOKEN", Secret: testSecret},
		Event:         testEvent(),
		CreatedAt:     t0,
		NextAttemptAt: t0,
	}
	ob := newMemOutbox(d)
	policy.Rand = func() float64 { return 0 }
	logs := &bytes.Buffer{}
	w := &Worker{
		Outbox: ob,
		Sender: NewDeliverer(rcv.srv.Client(), clk),
		Policy: policy,
		Clock:  clk,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	t.Cleanup(func() { assertNoSecret(t, logs.String()+strings.Join(ob.log, "\n")) })
	return &harness{clk: clk, rcv: rcv, outbox: ob, worker: w, logs: logs}
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, testSecret) || strings.Contains(s, "QUERYTOKEN") {
		t.Errorf("secret leaked: %s", s)
	}
}

func (h *harness) run(t *testing.T) Result {
	t.Helper()
	res, err := h.worker.RunOnce(context.Background(), h.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDeliveredAndAcknowledged(t *testing.T) {
	h := newHarness(t, testSecret, Policy{})
	if res := h.run(t); res != (Result{Delivered: 1}) {
		t.Fatalf("result %+v", res)
	}
	events, requests, _ := h.rcv.snapshot()
	if requests != 1 || len(events) != 1 {
		t.Fatalf("requests %d events %d", requests, len(events))
	}
	got := events[0]
	want := testEvent()
	want.Attempt = 1
	if got.ID != want.ID || got.Type != want.Type || got.Attempt != 1 || !got.OccurredAt.Equal(want.OccurredAt) ||
		got.Elevation.ID != want.Elevation.ID || got.Elevation.Principal != want.Elevation.Principal ||
		got.Elevation.Scope != "/prod/db" || !got.Elevation.EndAt.Equal(want.Elevation.EndAt) {
		t.Fatalf("event %+v", got)
	}
	row := h.outbox.get("dlv_1")
	if row.state != "delivered" || row.d.Attempts != 1 || !row.deliveredAt.Equal(t0) {
		t.Fatalf("row %+v", row)
	}
	// Nothing is due any more.
	h.clk.Advance(time.Hour)
	if res := h.run(t); res != (Result{}) {
		t.Fatalf("second pass %+v", res)
	}
}

func TestRetriedWithBackoffThenDelivered(t *testing.T) {
	h := newHarness(t, testSecret, Policy{InitialBackoff: 10 * time.Second, Multiplier: 2},
		reply{status: 503}, reply{status: 503}, reply{status: 200})

	if res := h.run(t); res != (Result{Retried: 1}) {
		t.Fatalf("pass 1: %+v", res)
	}
	row := h.outbox.get("dlv_1")
	if row.d.Attempts != 1 || !row.d.NextAttemptAt.Equal(t0.Add(10*time.Second)) || !strings.Contains(row.d.LastError, "503") {
		t.Fatalf("after 1: %+v", row.d)
	}
	// Not due yet: no request is made.
	h.clk.Advance(9 * time.Second)
	if res := h.run(t); res != (Result{}) {
		t.Fatalf("early pass: %+v", res)
	}
	if _, requests, _ := h.rcv.snapshot(); requests != 1 {
		t.Fatalf("requests %d", requests)
	}
	h.clk.Advance(time.Second)
	if res := h.run(t); res != (Result{Retried: 1}) {
		t.Fatalf("pass 2: %+v", res)
	}
	row = h.outbox.get("dlv_1")
	if row.d.Attempts != 2 || !row.d.NextAttemptAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("after 2: %+v (second delay must double)", row.d)
	}
	h.clk.Set(row.d.NextAttemptAt)
	if res := h.run(t); res != (Result{Delivered: 1}) {
		t.Fatalf("pass 3: %+v", res)
	}
	events, requests, _ := h.rcv.snapshot()
	if requests != 3 || len(events) != 1 || events[0].Attempt != 3 || events[0].ID != "evt_01JTEST" {
		t.Fatalf("requests %d events %+v", requests, events)
	}
	if row := h.outbox.get("dlv_1"); row.state != "delivered" || row.d.Attempts != 3 {
		t.Fatalf("final %+v", row)
	}
}

func TestPermanentFailureNotRetried(t *testing.T) {
	h := newHarness(t, testSecret, Policy{}, reply{status: 400})
	if res := h.run(t); res != (Result{Failed: 1}) {
		t.Fatalf("result %+v", res)
	}
	row := h.outbox.get("dlv_1")
	if row.state != "failed" || row.d.Attempts != 1 || !strings.Contains(row.d.LastError, "permanent") || !strings.Contains(row.d.LastError, "400") {
		t.Fatalf("row %+v", row)
	}
	h.clk.Advance(24 * time.Hour)
	h.run(t)
	if _, requests, _ := h.rcv.snapshot(); requests != 1 {
		t.Fatalf("retried a permanent failure: %d requests", requests)
	}
}

func TestBadSecretRejectedByReceiver(t *testing.T) {
	h := newHarness(t, "the-receivers-other-secret", Policy{})
	if res := h.run(t); res != (Result{Failed: 1}) {
		t.Fatalf("result %+v", res)
	}
	events, requests, rejected := h.rcv.snapshot()
	if requests != 1 || rejected != 1 || len(events) != 0 {
		t.Fatalf("requests %d rejected %d events %d", requests, rejected, len(events))
	}
	if row := h.outbox.get("dlv_1"); row.state != "failed" || !strings.Contains(row.d.LastError, "401") {
		t.Fatalf("row %+v", row)
	}
}

func TestMaxAttemptsThenFailed(t *testing.T) {
	h := newHarness(t, testSecret, Policy{MaxAttempts: 3},
		reply{status: 500}, reply{status: 502}, reply{status: 504}, reply{status: 200})
	for i := range 3 {
		h.run(t)
		if i < 2 {
			h.clk.Set(h.outbox.get("dlv_1").d.NextAttemptAt)
		}
	}
	row := h.outbox.get("dlv_1")
	if row.state != "failed" || row.d.Attempts != 3 || !strings.Contains(row.d.LastError, "gave up after 3 attempts") {
		t.Fatalf("row %+v", row)
	}
	h.clk.Advance(time.Hour)
	h.run(t)
	if _, requests, _ := h.rcv.snapshot(); requests != 3 {
		t.Fatalf("requests %d, want 3", requests)
	}
}

func TestMaxAgeThenFailed(t *testing.T) {
	h := newHarness(t, testSecret, Policy{MaxAge: time.Minute, InitialBackoff: 40 * time.Second},
		reply{status: 503}, reply{status: 503})
	h.run(t) // t0+40s is within the minute
	h.clk.Set(h.outbox.get("dlv_1").d.NextAttemptAt)
	if res := h.run(t); res != (Result{Failed: 1}) { // t0+40s+80s is not
		t.Fatalf("result %+v", res)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	h := newHarness(t, testSecret, Policy{},
		reply{status: 429, header: map[string]string{"Retry-After": "120"}},
		reply{status: 503, header: map[string]string{"Retry-After": t0.Add(time.Hour).Add(2 * time.Minute).Format(http.TimeFormat)}})
	h.run(t)
	next := h.outbox.get("dlv_1").d.NextAttemptAt
	if !next.Equal(t0.Add(120 * time.Second)) {
		t.Fatalf("next %v, want Retry-After 120s", next.Sub(t0))
	}
	h.clk.Set(next)
	h.run(t)
	// An HTTP-date one hour and two minutes ahead of a clock two minutes on:
	// one hour, which is also the default MaxRetryAfter.
	if got := h.outbox.get("dlv_1").d.NextAttemptAt; !got.Equal(next.Add(time.Hour)) {
		t.Fatalf("next %v, want +1h", got.Sub(next))
	}
}

func TestNetworkErrorRetryable(t *testing.T) {
	clk := clock.NewFake(t0)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	d := NewDeliverer(nil, clk)
	err := d.Deliver(context.Background(), Target{URL: url + "/hook?token=QUERYTOKEN", Secret: testSecret}, testEvent())
	var de *DeliveryError
	if !errors.As(err, &de) || de.Permanent || de.StatusCode != 0 || IsPermanent(err) {
		t.Fatalf("err %#v", err)
	}
	assertNoSecret(t, err.Error())
}

func TestRedirectNotFollowed(t *testing.T) {
	clk := clock.NewFake(t0)
	rcv := newReceiver(t, testSecret, clk)
	redirect := httptest.NewServer(http.RedirectHandler(rcv.srv.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	err := NewDeliverer(nil, clk).Deliver(context.Background(), Target{URL: redirect.URL, Secret: testSecret}, testEvent())
	if !IsPermanent(err) {
		t.Fatalf("err %v", err)
	}
	if _, requests, _ := rcv.snapshot(); requests != 0 {
		t.Fatal("redirect was followed")
	}
}

func TestDeliverRejectsInvalidInput(t *testing.T) {
	d := NewDeliverer(nil, clock.NewFake(t0))
	for _, tc := range []struct {
		target Target
		event  Event
	}{
		{Target{URL: "ftp://x/", Secret: testSecret}, testEvent()},
		{Target{URL: "https://u:" + testSecret + "@x/", Secret: testSecret}, testEvent()},
		{Target{URL: "https://x/", Secret: "short"}, testEvent()},
		{Target{URL: "https://x/", Secret: testSecret}, Event{ID: "evt", Type: "elevation.bogus", OccurredAt: t0}},
	} {
		err := d.Deliver(context.Background(), tc.target, tc.event)
		if !IsPermanent(err) {
			t.Errorf("%v: %v, want permanent", tc.target, err)
			continue
		}
		assertNoSecret(t, err.Error())
	}
}

func TestCancelledContextLeavesDeliveryDue(t *testing.T) {
	h := newHarness(t, testSecret, Policy{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.worker.RunOnce(ctx, h.clk.Now()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if row := h.outbox.get("dlv_1"); row.state != "pending" || row.d.Attempts != 0 {
		t.Fatalf("row %+v", row)
	}
}

func TestSecretNeverInErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 408, 429, 500, 503} {
		h := newHarness(t, testSecret, Policy{}, reply{status: status})
		h.run(t)
		row := h.outbox.get("dlv_1")
		if row.d.LastError == "" {
			t.Fatalf("%d: no error recorded", status)
		}
		assertNoSecret(t, row.d.LastError)
		if want := status != 408 && status != 429 && status < 500; (row.state == "failed") != want {
			t.Errorf("%d: state %s", status, row.state)
		}
	}
}

func TestRunLoopsUntilCancelled(t *testing.T) {
	h := newHarness(t, testSecret, Policy{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.worker.Run(ctx, 10*time.Millisecond) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if events, _, _ := h.rcv.snapshot(); len(events) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not deliver")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}
