package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/clock"
)

// DefaultTimeout bounds one delivery attempt, from dialling to the response
// headers and body.
const DefaultTimeout = 10 * time.Second

// UserAgent is sent with every delivery.
const UserAgent = "pamd-webhook/1"

// maxDrain is how much of a response body is read (and discarded) so that the
// connection can be reused.
const maxDrain = 64 << 10

// Sender makes one delivery attempt. *Deliverer implements it; the Worker
// takes the interface so that the server can wrap it (metrics, tracing).
type Sender interface {
	Deliver(ctx context.Context, target Target, event Event) error
}

// Deliverer POSTs signed events. The zero value is not usable; build one with
// NewDeliverer.
type Deliverer struct {
	client *http.Client
	clock  clock.Clock
}

// NewDeliverer returns a Deliverer signing with clk's time. A nil client gets
// NewHTTPClient(DefaultTimeout). A client given here should have a Timeout and
// should not follow redirects (3xx is treated as a permanent failure).
func NewDeliverer(client *http.Client, clk clock.Clock) *Deliverer {
	if client == nil {
		client = NewHTTPClient(DefaultTimeout)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Deliverer{client: client, clock: clk}
}

// NewHTTPClient returns an HTTP client for webhook delivery: an overall
// timeout per attempt, dial and TLS handshake timeouts, proxies from the
// environment, and redirects not followed (a redirect would send the signed
// event somewhere the administrator did not configure).
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// DeliveryError describes a failed attempt. Its message names the redacted
// URL and the status or network error, never the secret.
type DeliveryError struct {
	// URL is the target URL without query, fragment or user info.
	URL string
	// StatusCode is the receiver's status, 0 when no response was received.
	StatusCode int
	// Permanent reports that retrying will not help (4xx other than 408 and
	// 429, 3xx, an invalid target or event).
	Permanent bool
	// RetryAfter is the receiver's Retry-After delay, 0 when absent.
	RetryAfter time.Duration
	// Err is the underlying cause.
	Err error
}

func (e *DeliveryError) Error() string {
	kind := "retryable"
	if e.Permanent {
		kind = "permanent"
	}
	if e.StatusCode != 0 {
		return fmt.Sprintf("webhook %s: %s failure: HTTP %d %s", e.URL, kind, e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("webhook %s: %s failure: %v", e.URL, kind, e.Err)
}

// Unwrap returns the cause.
func (e *DeliveryError) Unwrap() error { return e.Err }

// ErrStatus is the cause of a DeliveryError for a non-2xx response.
var ErrStatus = errors.New("unexpected HTTP status")

// IsPermanent reports whether err is a DeliveryError that must not be retried.
func IsPermanent(err error) bool {
	var de *DeliveryError
	return errors.As(err, &de) && de.Permanent
}

// RetryAfterOf returns the Retry-After delay carried by err, or 0.
func RetryAfterOf(err error) time.Duration {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.RetryAfter
	}
	return 0
}

// Deliver makes exactly one attempt to deliver event to target. It returns nil
// when the receiver answered 2xx, a *DeliveryError otherwise (see its
// Permanent and RetryAfter), or the context's error when ctx ended.
func (d *Deliverer) Deliver(ctx context.Context, target Target, event Event) error {
	redacted := RedactURL(target.URL)
	permanent := func(err error) error {
		return &DeliveryError{URL: redacted, Permanent: true, Err: err}
	}
	if err := target.Validate(); err != nil {
		return permanent(err)
	}
	if err := event.Validate(); err != nil {
		return permanent(err)
	}
	body, err := event.Marshal()
	if err != nil {
		return permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.URL, bytes.NewReader(body))
	if err != nil {
		return permanent(errors.New("cannot build request"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEventID, event.ID)
	req.Header.Set(HeaderSignature, Sign(target.Secret, d.clock.Now(), body))

	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("webhook %s: %w", redacted, ctx.Err())
		}
		// *url.Error repeats the full URL (query included): keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return &DeliveryError{URL: redacted, Err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))

	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	de := &DeliveryError{URL: redacted, StatusCode: code, Err: fmt.Errorf("%w %d", ErrStatus, code)}
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		de.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), d.clock.Now())
	default:
		de.Permanent = true
	}
	return de
}

// parseRetryAfter reads delay-seconds or an HTTP-date; 0 when absent, invalid
// or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		// Clamp absurd values before converting, so the multiplication cannot
		// overflow; Policy clamps further.
		return time.Duration(min(secs, int64(365*24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
