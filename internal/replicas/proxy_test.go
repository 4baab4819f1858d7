package replicas_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// roundRobin is a small load balancer for tests: each request goes to the
// next live backend. A backend that refuses connections is marked down and
// the request goes to the next one (it never reached the dead one, so
// resending is safe); any other failure is answered 502 for the client to
// retry, as a real balancer would.
type roundRobin struct {
	srv      *httptest.Server
	mu       sync.Mutex
	backends []*url.URL
	down     map[int]bool
	next     atomic.Uint64
	served   []atomic.Int64
	total    atomic.Int64
	// badGateway counts requests answered 502: the backend failed after
	// the request was sent (killed mid-request, say).
	badGateway atomic.Int64
	// conflicts counts 409 answers; inProgress those of them that refused
	// an Idempotency-Key still reserved by another request.
	conflicts, inProgress atomic.Int64
	// hook, when set before the first request, is called with the running
	// count of requests, for faults at a chosen point.
	hook func(n int64)
}

func newRoundRobin(t *testing.T, urls ...string) *roundRobin {
	t.Helper()
	rr := &roundRobin{down: map[int]bool{}, served: make([]atomic.Int64, len(urls))}
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		rr.backends = append(rr.backends, p)
	}
	rr.srv = httptest.NewServer(http.HandlerFunc(rr.serve))
	t.Cleanup(rr.srv.Close)
	return rr
}

func (rr *roundRobin) URL() string { return rr.srv.URL }

// pick returns the index of the next live backend, or -1.
func (rr *roundRobin) pick() int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	n := len(rr.backends)
	for range n {
		i := int(rr.next.Add(1) % uint64(n))
		if !rr.down[i] {
			return i
		}
	}
	return -1
}

func (rr *roundRobin) markDown(i int) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.down[i] = true
}

// refused reports a dial that nothing answered: the request was not sent.
func refused(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial")
}

func (rr *roundRobin) serve(w http.ResponseWriter, r *http.Request) {
	if n := rr.total.Add(1); rr.hook != nil {
		rr.hook(n)
	}
	// A request body can be read once; bodies here are small JSON, so the
	// balancer keeps it to resend after a refused dial.
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = b
	}
	for range len(rr.backends) {
		i := rr.pick()
		if i < 0 {
			break
		}
		var dialFailed bool
		p := httputil.NewSingleHostReverseProxy(rr.backends[i])
		p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			if refused(err) {
				dialFailed = true
				return
			}
			rr.badGateway.Add(1)
			http.Error(w, "upstream failed: "+err.Error(), http.StatusBadGateway)
		}
		p.ModifyResponse = func(res *http.Response) error {
			if res.StatusCode == http.StatusConflict {
				rr.conflicts.Add(1)
				if strings.Contains(res.Header.Get("Content-Type"), "problem") && res.Body != nil {
					b, err := io.ReadAll(res.Body)
					_ = res.Body.Close()
					res.Body = io.NopCloser(bytes.NewReader(b))
					if err == nil && bytes.Contains(b, []byte(api.CodeIdempotencyInProgress)) {
						rr.inProgress.Add(1)
					}
				}
			}
			return nil
		}
		out := r.Clone(r.Context())
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		p.ServeHTTP(w, out)
		if !dialFailed {
			rr.served[i].Add(1)
			return
		}
		rr.markDown(i)
	}
	w.Header().Set("Retry-After", "1")
	http.Error(w, "no live backend", http.StatusServiceUnavailable)
}
