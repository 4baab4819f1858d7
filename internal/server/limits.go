package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/ratelimit"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Refused credentials are audited, which costs a durable write; to keep
// unauthenticated clients from flooding the audit chain, each client address
// may have at most this many refusals audited at once, then one per second.
// Beyond that a refused credential is answered 429 (retry later) and not
// audited: the access log still has every request. Valid tokens never touch
// this budget. The burst leaves room for a misconfigured CI job retrying a
// stale token, and for the authorisation matrix test's 78 invalid-token cells.
const (
	DefaultAuthFailureRate  = 1.0
	DefaultAuthFailureBurst = 100
)

// admit charges one request to key's allowance; when it is spent it answers
// 429 with the wait in Retry-After and returns false.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, key string) bool {
	if s.limiter == nil {
		return true
	}
	ok, wait := s.allow(r, s.limiter, key)
	if !ok {
		tooManyRequests(w, r, wait, "too many requests from this caller")
	}
	return ok
}

// allow asks l about key. A limiter that cannot decide (its database is
// away) lets the request through: the daemon wraps shared limiters in
// ratelimit.FailOpen, which logs that once per interval and explains the
// choice; an unwrapped limiter's error is logged here at debug level.
func (s *Server) allow(r *http.Request, l ratelimit.Limiter, key string) (bool, time.Duration) {
	ok, wait, err := l.Allow(r.Context(), key)
	if err != nil {
		s.log.DebugContext(r.Context(), "rate limiter failed: request allowed", "error", err.Error(), "request_id", requestID(r.Context()))
		return true, 0
	}
	return ok, wait
}

func tooManyRequests(w http.ResponseWriter, r *http.Request, wait time.Duration, what string) {
	secs := ratelimit.RetryAfterSeconds(wait)
	w.Header().Set(api.HeaderRetryAfter, strconv.Itoa(secs))
	writeProblem(w, r, api.NewProblem(http.StatusTooManyRequests, api.CodeRateLimited,
		fmt.Sprintf("%s; retry after %d s", what, secs)))
}

// refuse answers an unauthenticated request with 401. A credential that was
// presented and refused is audited as auth.denied (within the per-address
// budget above); a request with no credential at all is not: it is no attempt
// to authenticate, and auditing it would let anyone grow the chain for free.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, fail *authFailure) {
	unauth := api.NewProblem(http.StatusUnauthorized, api.CodeUnauthenticated, fail.detail)
	if fail.reason == authMissing {
		if s.admit(w, r, addrKey(r)) {
			writeProblem(w, r, unauth)
		}
		return
	}
	if ok, wait := s.allow(r, s.authFailures, addrKey(r)); !ok {
		s.log.WarnContext(r.Context(), "refused credentials over budget: answered 429, not audited",
			"remote_addr", clientAddr(r), "reason", fail.reason, "request_id", requestID(r.Context()))
		tooManyRequests(w, r, wait, "too many refused credentials from this address")
		return
	}
	if err := s.auditAuthDenied(r, fail); err != nil {
		// Fail closed: still a refusal, but the caller learns the server
		// could not record it.
		writeProblem(w, r, err)
		return
	}
	writeProblem(w, r, unauth)
}

// authDeniedFacts is what the audit log keeps about a refused credential
// besides the token id (target) and the client address (actor id): never the
// token or its hash.
type authDeniedFacts struct {
	Reason string `json:"reason"`
}

func (s *Server) auditAuthDenied(r *http.Request, fail *authFailure) error {
	ctx := r.Context()
	ev, err := audit.NewMutation(audit.Mutation{
		Now: s.clock.Now(), Actor: api.AuditActor{Type: "anonymous", ID: clientAddr(r)},
		Request: api.AuditRequest{RequestID: requestID(ctx), Method: r.Method, Path: r.URL.Path},
		Action:  "auth.denied", TargetType: "token", TargetID: fail.tokenID,
		After: authDeniedFacts{Reason: fail.reason},
	})
	if err != nil {
		return err
	}
	ev.Outcome, ev.ResourceVersion = api.OutcomeDenied, nil
	// Recorded even if the client hangs up: the attempt happened.
	return s.store.Update(context.WithoutCancel(ctx), func(tx store.Tx) error { return tx.AppendAudit(ev) })
}

// clientAddr is the peer's IP address. pamd does not trust X-Forwarded-For:
// behind a proxy every client shares the proxy's address (and budget).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func addrKey(r *http.Request) string { return "addr:" + clientAddr(r) }
