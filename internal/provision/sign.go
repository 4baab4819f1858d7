package provision

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	HeaderSignature = "Pam-Signature"
	HeaderEventID   = "Pam-Event-Id"
)

// DefaultTolerance is the signature timestamp tolerance Verify uses when
// given zero.
const DefaultTolerance = 5 * time.Minute

// Signature verification errors. Each error returned by Verify wraps
// ErrInvalidSignature and one of the more precise errors.
var (
	ErrInvalidSignature   = errors.New("invalid webhook signature")
	ErrMalformedSignature = errors.New("malformed signature header")
	ErrSignatureMismatch  = errors.New("signature does not match")
	ErrStaleTimestamp     = errors.New("signature timestamp outside tolerance")
)

// Sign returns the Pam-Signature header value for body signed at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := t.Unix()
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(strconv.FormatInt(ts, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a Pam-Signature header against the raw request body: the
// header must hold t=<unix> and at least one v1=<hex> (several v1 values are
// accepted, so a receiver can roll its secret), the timestamp must be within
// tolerance of now (either direction; 0 means DefaultTolerance), and one v1
// must equal HMAC-SHA256(secret, "<t>.<body>") (compared in constant time).
// Unknown keys are ignored, for forward compatibility.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	signedAt := time.Unix(ts, 0)
	if d := now.Sub(signedAt); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %w", ErrInvalidSignature, ErrStaleTimestamp)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		if hmac.Equal(want, s) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: %w", ErrInvalidSignature, ErrSignatureMismatch)
	}
	return nil
}

func parseSignature(header string) (int64, [][]byte, error) {
	if header == "" {
		return 0, nil, fmt.Errorf("%w: empty", ErrMalformedSignature)
	}
	if len(header) > 4096 {
		return 0, nil, fmt.Errorf("%w: too long", ErrMalformedSignature)
	}
	var (
		ts    int64
		haveT bool
		sigs  [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, fmt.Errorf("%w: element without '='", ErrMalformedSignature)
		}
		switch k {
		case "t":
			if haveT {
				return 0, nil, fmt.Errorf("%w: repeated t", ErrMalformedSignature)
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return 0, nil, fmt.Errorf("%w: t is not a unix time", ErrMalformedSignature)
			}
			ts, haveT = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return 0, nil, fmt.Errorf("%w: v1 is not a hex SHA-256 HMAC", ErrMalformedSignature)
			}
			sigs = append(sigs, b)
		}
	}
	if !haveT {
		return 0, nil, fmt.Errorf("%w: missing t", ErrMalformedSignature)
	}
	if len(sigs) == 0 {
		return 0, nil, fmt.Errorf("%w: missing v1", ErrMalformedSignature)
	}
	return ts, sigs, nil
}
