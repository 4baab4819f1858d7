package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

type idempotentKey struct{}

// withIdempotent marks a request context as safe to repeat after a transport
// error or a 5xx: the server either never saw it, or will recognise it (GET,
// PUT and DELETE by their semantics, POST creates by their Idempotency-Key).
func withIdempotent(ctx context.Context, idempotent bool) context.Context {
	return context.WithValue(ctx, idempotentKey{}, idempotent)
}

func isIdempotent(ctx context.Context) bool {
	v, _ := ctx.Value(idempotentKey{}).(bool)
	return v
}

// checkRetry is the retry policy of every call. retryablehttp's default retries
// any 5xx and any transport error regardless of method, which could repeat a
// non-idempotent POST; this one decides per request.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	if err != nil {
		if permanentTransportError(err) {
			return false, err
		}
		return isIdempotent(ctx), nil
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
		// The server asked us to come back later; it did not process the request.
		return true, nil
	case resp.StatusCode == http.StatusConflict:
		return problemCodeOf(resp) == api.CodeIdempotencyInProgress, nil
	case resp.StatusCode == http.StatusNotImplemented:
		return false, nil
	case resp.StatusCode >= 500:
		return isIdempotent(ctx), nil
	}
	return false, nil
}

// permanentTransportError reports failures that a retry cannot fix: a server
// certificate we do not trust will not become trusted in 200ms.
func permanentTransportError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		ierr x509.CertificateInvalidError
		rerr tls.RecordHeaderError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) ||
		errors.As(err, &ierr) || errors.As(err, &rerr)
}

// problemCodeOf reads the problem code from a response and puts the body back,
// so the caller can still decode it if no retry follows.
func problemCodeOf(resp *http.Response) string {
	if resp.Body == nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), api.ContentTypeProblem) {
		return ""
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	var p api.Problem
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.Code
}

// backoff honours Retry-After (capped by max, so a misbehaving server cannot
// stall a plan for an hour) and otherwise waits a capped exponential delay with
// jitter, so that parallel Terraform operations do not retry in lockstep.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get(api.HeaderRetryAfter), time.Now()); ok {
			return min(d, maxWait)
		}
	}
	base := minWait
	for i := 0; i < attempt && base < maxWait; i++ {
		base *= 2
	}
	base = min(base, maxWait)
	half := base / 2
	if half <= 0 {
		return base
	}
	return half + rand.N(half+1) //nolint:gosec // jitter needs no cryptographic randomness
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP-date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Cap before multiplying so a huge value cannot overflow.
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
