// Package mfa implements TOTP (RFC 6238) enrollment and verification for
// pamd's step-up authentication, on top of github.com/pquerna/otp.
//
// Parameters are fixed to what every authenticator app supports: SHA-1,
// 6 digits, a 30-second period, a 160-bit random secret. Verify accepts the
// current step and one step either side (clock skew) and refuses any step at
// or before the last one the user already spent, so a code observed once
// cannot be replayed, not even within its own 30 seconds.
//
// # Storage
//
// The enrollment Secret is a credential: store it encrypted (or at least never
// return it after enrollment), never log it, and keep per user the last
// accepted step (an int64, 0 before the first use). Verification must read and
// update that step atomically (one transaction, or a compare-and-set on the
// stored value), otherwise two concurrent requests could both spend one code.
//
// # Step-up tokens
//
// A step-up login (pamd login --mfa) exchanges an existing bearer token plus a
// TOTP code for a new short-lived token:
//
//  1. The server authenticates the presented token (subject S, groups, roles).
//  2. It loads S's enrollment (secret, last_step) and calls
//     Verify(secret, code, now, last_step). On success it stores the returned
//     step as S's new last_step in the same transaction that mints the token.
//  3. It mints a token with the same subject, groups and roles (never more), a
//     short lifetime (for example 15 minutes, capped by the parent token's own
//     expiry) and mfa_at = now. The token row stores mfa_at; nothing else about
//     the code is kept. The exchange is audited (never the code or secret).
//
// A policy that requires MFA with a max age M accepts a request only when the
// token's mfa_at is set and now - mfa_at <= M. Otherwise the server answers 401
// with an RFC 9470 style challenge, for example
//
//	WWW-Authenticate: Bearer error="insufficient_user_authentication",
//	    error_description="step-up MFA required", max_age=900
//
// so that clients know to run the step-up login and retry. ErrInvalidCode and
// ErrCodeReused should both map to the same 401 response, so an attacker learns
// nothing from the difference; the distinction is for audit and logs.
package mfa

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// Fixed TOTP parameters.
const (
	// Period is the length of one TOTP step.
	Period = 30 * time.Second
	// Digits is the number of digits of a code.
	Digits = 6
	// Skew is how many steps before or after the current one are accepted.
	Skew = 1
	// SecretSize is the size of a generated secret in bytes (160 bits, as
	// RFC 4226 recommends for HMAC-SHA1).
	SecretSize = 20
	// Algorithm is the HMAC algorithm, as written in the otpauth URI.
	Algorithm = "SHA1"
)

var (
	// ErrInvalidCode means the code does not match the secret at any accepted
	// step (or is not a code at all: see ErrMalformedCode).
	ErrInvalidCode = errors.New("mfa: invalid code")
	// ErrMalformedCode means the code is not exactly Digits ASCII digits. It
	// wraps ErrInvalidCode, so errors.Is(err, ErrInvalidCode) also holds.
	ErrMalformedCode = fmt.Errorf("%w: a code is %d digits", ErrInvalidCode, Digits)
	// ErrCodeReused means the code is valid but its step was already used
	// (replay), or an earlier step than the last one used.
	ErrCodeReused = errors.New("mfa: code already used")
	// ErrInvalidSecret means the stored secret is not valid base32.
	ErrInvalidSecret = errors.New("mfa: invalid secret")
	// ErrInvalidEnrollment means the issuer or account name is unusable.
	ErrInvalidEnrollment = errors.New("mfa: invalid enrollment")
)

// Enrollment is a freshly generated TOTP secret and its provisioning URI.
// Secret and URI both carry the secret: show them to the user once.
type Enrollment struct {
	// Secret is the base32 (RFC 4648, unpadded) shared secret.
	Secret string
	// URI is the otpauth://totp/... key URI that authenticator apps import
	// (as text or QR code).
	URI string
	// Issuer names the service ("pamd" or the deployment's name).
	Issuer string
	// Account names the user (for example "alice").
	Account string
	// Period, Digits and Algorithm repeat the fixed parameters for display.
	Period    time.Duration
	Digits    int
	Algorithm string
}

// String redacts the secret, so an Enrollment cannot leak through %v.
func (e Enrollment) String() string {
	return fmt.Sprintf("mfa.Enrollment{Issuer: %q, Account: %q, Secret: [REDACTED]}", e.Issuer, e.Account)
}

// GoString redacts the secret for %#v as well.
func (e Enrollment) GoString() string { return e.String() }

// Enroll generates a new random secret for account at issuer.
func Enroll(issuer, account string) (Enrollment, error) {
	issuer = strings.TrimSpace(issuer)
	account = strings.TrimSpace(account)
	if issuer == "" || account == "" {
		return Enrollment{}, fmt.Errorf("%w: issuer and account are required", ErrInvalidEnrollment)
	}
	// A colon separates issuer and account in the URI label.
	if strings.Contains(issuer, ":") {
		return Enrollment{}, fmt.Errorf("%w: issuer must not contain ':'", ErrInvalidEnrollment)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      uint(Period / time.Second),
		SecretSize:  SecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: generate secret: %w", err)
	}
	return Enrollment{
		Secret:    key.Secret(),
		URI:       key.URL(),
		Issuer:    issuer,
		Account:   account,
		Period:    Period,
		Digits:    Digits,
		Algorithm: Algorithm,
	}, nil
}

// StepAt returns the TOTP step (counter) that contains t.
func StepAt(t time.Time) int64 {
	u := t.Unix()
	p := int64(Period / time.Second)
	if u < 0 {
		return (u - p + 1) / p
	}
	return u / p
}

// Verify checks code against secret at now, accepting the current step and
// Skew steps either side. It returns the matched step, which the caller must
// store as the new lastUsedStep; a step at or before lastUsedStep is refused
// with ErrCodeReused. Pass 0 as lastUsedStep before the first use.
//
// Errors: ErrMalformedCode (also ErrInvalidCode), ErrInvalidCode,
// ErrCodeReused, ErrInvalidSecret. Error strings never contain the secret or
// the code.
func Verify(secret, code string, now time.Time, lastUsedStep int64) (int64, error) {
	code = strings.TrimSpace(code)
	if !wellFormed(code) {
		return 0, ErrMalformedCode
	}
	current := StepAt(now)
	opts := hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	matched := int64(-1)
	reused := false
	// Every candidate step is computed and compared, whatever matched earlier,
	// so the time taken does not depend on which step matched.
	for step := current - Skew; step <= current+Skew; step++ {
		if step < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), opts)
		if err != nil {
			return 0, ErrInvalidSecret
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		if step <= lastUsedStep {
			reused = true
			continue
		}
		// A later fresh step wins over an earlier one (codes of different
		// steps can collide one time in a million).
		matched = step
	}
	switch {
	case matched >= 0:
		return matched, nil
	case reused:
		return 0, ErrCodeReused
	default:
		return 0, ErrInvalidCode
	}
}

func wellFormed(code string) bool {
	if len(code) != Digits {
		return false
	}
	for i := range len(code) {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
