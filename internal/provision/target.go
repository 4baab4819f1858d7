package provision

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// MinSecretLength is the shortest accepted target secret, in bytes.
const MinSecretLength = 16

// MaxURLLength bounds a target URL.
const MaxURLLength = 2048

// ErrInvalidTarget is wrapped by every target validation error.
var ErrInvalidTarget = errors.New("invalid webhook target")

// Target is one webhook receiver of a role.
//
// Secret is the HMAC key shared with the receiver. It is never logged: String,
// GoString and LogValue redact it, and it is excluded from JSON.
type Target struct {
	URL    string `json:"url"`
	Secret string `json:"-"`
}

// String shows the target without its secret (and without the URL's query).
func (t Target) String() string {
	return fmt.Sprintf("Target{URL: %s, Secret: [REDACTED]}", RedactURL(t.URL))
}

// GoString redacts the secret for %#v too.
func (t Target) GoString() string { return t.String() }

// LogValue makes slog print the target without its secret.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", RedactURL(t.URL)), slog.String("secret", "[REDACTED]"))
}

// Validate checks the URL (see ValidateURL) and that a secret of at least
// MinSecretLength bytes is set.
func (t Target) Validate() error {
	if err := ValidateURL(t.URL); err != nil {
		return err
	}
	if len(t.Secret) < MinSecretLength {
		return fmt.Errorf("%w: secret must be at least %d bytes", ErrInvalidTarget, MinSecretLength)
	}
	return nil
}

// ValidateURL checks a webhook target URL: absolute http or https, a host, no
// user:password (credentials belong in the signature secret), no fragment, at
// most MaxURLLength bytes. Loopback and private addresses are allowed (targets
// are configured by administrators, and tests use loopback receivers).
// The error never echoes the URL, which may hold a token in its query.
func ValidateURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("%w: url is required", ErrInvalidTarget)
	}
	if len(raw) > MaxURLLength {
		return fmt.Errorf("%w: url is longer than %d bytes", ErrInvalidTarget, MaxURLLength)
	}
	if strings.TrimSpace(raw) != raw {
		return fmt.Errorf("%w: url has surrounding whitespace", ErrInvalidTarget)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: url does not parse", ErrInvalidTarget)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: url scheme must be http or https", ErrInvalidTarget)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%w: url must be absolute with a host", ErrInvalidTarget)
	case u.User != nil:
		return fmt.Errorf("%w: url must not contain credentials", ErrInvalidTarget)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%w: url must not contain a fragment", ErrInvalidTarget)
	}
	return nil
}

// RedactURL returns scheme://host/path of raw, dropping user info, query and
// fragment, which may carry secrets. It is meant for logs and errors.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[unparsable url]"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

// GenerateSecret returns a new random target secret (32 bytes, base64url,
// unpadded), for a server that mints secrets instead of accepting them.
func GenerateSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("provision: generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
