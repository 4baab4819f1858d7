// Package auth owns pamd's bearer tokens and the authenticated principal: how
// a token is minted, how it is hashed for storage, how a presented token is
// checked against the stored hash, and how the principal travels in a context.
// It knows nothing of HTTP or SQL.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// TokenPrefix marks pamd tokens so that secret scanners and humans recognise them.
const TokenPrefix = "pamd_"

// tokenBytes of entropy: 256 bits, beyond any guessing.
const tokenBytes = 32

// NewToken returns a fresh random bearer token.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken is what the store keeps instead of the token. A plain SHA-256 is
// enough (no salt or slow hash) because tokens carry 256 random bits: there is
// no dictionary to attack.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Matches reports whether token hashes to storedHash, in constant time so the
// comparison leaks nothing about how much of a guess was right.
func Matches(token, storedHash string) bool {
	got := HashToken(token)
	return subtle.ConstantTimeCompare([]byte(got), []byte(storedHash)) == 1
}

// WellFormed reports whether s could be a pamd token; used to reject garbage
// before touching the store.
func WellFormed(s string) bool {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil && len(b) == tokenBytes
}

// Plausible reports whether s could be a bearer token at all: tokens minted
// by pamd are WellFormed, but an operator-supplied bootstrap token need only be
// long enough to resist guessing. Anything else is refused before the store is
// asked.
func Plausible(s string) bool {
	if len(s) < MinTokenLength || len(s) > 512 {
		return false
	}
	return strings.IndexFunc(s, func(c rune) bool { return c <= 0x20 || c > 0x7e }) < 0
}

// MinTokenLength is the shortest token accepted, including operator-chosen ones.
const MinTokenLength = 16

// Token is the stored form of a token: never the token itself.
type Token struct {
	ID          string
	Hash        string
	Subject     string
	Groups      []string
	ServerRoles []string
	CreatedAt   time.Time
	ExpiresAt   *time.Time
	// MFAAt is when the holder last completed MFA for this token (a step-up
	// login sets it); nil when the token carries no MFA.
	MFAAt *time.Time
	// ParentID is the token a step-up token was minted from ("" for others):
	// revoking the parent revokes it too.
	ParentID string
}

// Expired reports whether the token is past its expiry at now.
func (t Token) Expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// ValidateSubject checks the "<type>:<id>" form of a subject.
func ValidateSubject(subject string) error {
	typ, id, ok := strings.Cut(subject, ":")
	if !ok || id == "" {
		return fmt.Errorf("subject %q must look like user:alice or service_account:terraform", subject)
	}
	switch typ {
	case "user", "group", "service_account":
	default:
		return fmt.Errorf("subject %q: type must be user, group or service_account", subject)
	}
	return nil
}

// ValidateServerRoles checks that every role is one of api.ServerRoles.
func ValidateServerRoles(roles []string) error {
	for _, r := range roles {
		if !slices.Contains(api.ServerRoles, r) {
			return fmt.Errorf("unknown server role %q (known: %s)", r, strings.Join(api.ServerRoles, ", "))
		}
	}
	return nil
}

// Principal is the authenticated caller of a request.
type Principal struct {
	Subject     string
	Groups      []string
	ServerRoles []string
	// TokenID is the public id of the token used; safe to log and audit.
	TokenID string
	// MFAAt is the token's MFA time, nil without MFA.
	MFAAt *time.Time
}

// Actor splits the subject into the type and id recorded on objects.
func (p Principal) Actor() api.Actor {
	typ, id, _ := strings.Cut(p.Subject, ":")
	return api.Actor{Type: typ, ID: id}
}

// HasAnyRole reports whether the principal holds one of roles.
func (p Principal) HasAnyRole(roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(p.ServerRoles, r) {
			return true
		}
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of ctx, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
