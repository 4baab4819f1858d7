// Package client owns every HTTP exchange between the provider and pamd: the
// transport (TLS, timeouts, retries, idempotency keys), logging through tflog,
// and the mapping of problem+json responses to Go errors. Resource code sees
// only typed methods and sentinel errors.
package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
)

// Defaults applied by New when the corresponding Config field is zero.
const (
	DefaultMaxRetries     = 4
	DefaultRequestTimeout = 30 * time.Second
	DefaultRetryWaitMin   = 200 * time.Millisecond
	DefaultRetryWaitMax   = 10 * time.Second
	DefaultUserAgent      = "terraform-provider-pam/dev"
)

// Config configures a Client. Zero values select the defaults above.
type Config struct {
	// Endpoint is the base URL of pamd, e.g. http://127.0.0.1:8443. A path
	// component is kept, so pamd may be served below a reverse-proxy prefix.
	Endpoint string
	// Token is sent as a bearer token; it is masked in every log line.
	Token     string
	UserAgent string
	// CACertPEM is appended to the system pool, for pamd behind a private CA.
	CACertPEM string
	// Insecure skips TLS verification; meant for local development only.
	Insecure bool
	// MaxRetries bounds the retries after the first attempt. Negative means no
	// retries; zero selects DefaultMaxRetries.
	MaxRetries int
	// RequestTimeout bounds each attempt, not the whole call: the caller's
	// context bounds the whole call.
	RequestTimeout time.Duration
	RetryWaitMin   time.Duration
	RetryWaitMax   time.Duration
}

// Client talks to one pamd endpoint. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	token      string
	userAgent  string
	http       *http.Client
	maxRetries int
	waitMin    time.Duration
	waitMax    time.Duration
}

// New validates cfg and builds a Client. It performs no I/O, so a provider can
// be configured (and plans validated) while pamd is unreachable.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.Endpoint) == "" {
		return nil, fmt.Errorf("%w: it is empty", ErrInvalidEndpoint)
	}
	if err := ValidateEndpoint(cfg.Endpoint); err != nil {
		return nil, err
	}
	base, err := url.Parse(strings.TrimSpace(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEndpoint, err)
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""

	transport := cleanhttp.DefaultPooledTransport()
	if base.Scheme == "https" || cfg.CACertPEM != "" || cfg.Insecure {
		tlsCfg, err := tlsConfig(cfg.CACertPEM, cfg.Insecure)
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig = tlsCfg
	}

	c := &Client{
		base:       base,
		token:      cfg.Token,
		userAgent:  cfg.UserAgent,
		maxRetries: cfg.MaxRetries,
		waitMin:    cfg.RetryWaitMin,
		waitMax:    cfg.RetryWaitMax,
	}
	timeout := cfg.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	// http.Client.Timeout applies per attempt because retryablehttp calls Do
	// once per attempt; the caller's context still bounds the whole call.
	c.http = &http.Client{Transport: transport, Timeout: timeout}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.waitMin <= 0 {
		c.waitMin = DefaultRetryWaitMin
	}
	if c.waitMax <= 0 {
		c.waitMax = DefaultRetryWaitMax
	}
	if c.waitMax < c.waitMin {
		c.waitMax = c.waitMin
	}
	return c, nil
}

// Endpoint returns the base URL the client talks to, for diagnostics.
func (c *Client) Endpoint() string { return redactedEndpoint(c.base) }

func tlsConfig(caPEM string, insecure bool) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		// Some platforms have no readable system pool; an explicit CA still works.
		pool = x509.NewCertPool()
	}
	if strings.TrimSpace(caPEM) != "" && !pool.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, fmt.Errorf("%w: no PEM-encoded certificate found", ErrInvalidCACert)
	}
	return &tls.Config{
		RootCAs:    pool,
		MinVersion: tls.VersionTLS12,
		// The operator asked for this explicitly (insecure = true).
		InsecureSkipVerify: insecure, //nolint:gosec // opt-in for development servers
	}, nil
}

// Configuration errors returned by New, so callers can blame the right setting.
var (
	ErrInvalidEndpoint = errors.New("invalid endpoint")
	ErrInvalidCACert   = errors.New("invalid CA certificate")
)

// ValidateEndpoint checks an endpoint without building a client, so the
// provider can reject a bad URL at plan time.
func ValidateEndpoint(endpoint string) error {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		return fmt.Errorf("%w: %q is not a URL", ErrInvalidEndpoint, endpoint)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: %q must start with http:// or https://", ErrInvalidEndpoint, redactedEndpoint(u))
	case u.Host == "":
		return fmt.Errorf("%w: %q has no host", ErrInvalidEndpoint, redactedEndpoint(u))
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%w: %q must not carry credentials, a query or a fragment", ErrInvalidEndpoint, redactedEndpoint(u))
	}
	return nil
}

func redactedEndpoint(u *url.URL) string {
	cp := *u
	cp.User = nil
	return cp.String()
}
