// Package vault owns the rules of the PAM credential vault: validation and
// normalisation of safes and vault accounts, which platform accepts which
// secret type, who may do what on a safe (membership, directly or through a
// group), the checkout rules (duration, justification, exclusivity) and the
// associated data that binds every sealed secret to its account and version.
// It is pure: no store, no HTTP, time always an argument.
//
// Violations follow the pim convention: one with Rule set is a policy decision
// (422 policy_violation); one without Rule is a malformed field (400).
package vault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Violation codes for malformed fields.
const (
	CodeRequired  = "required"
	CodePattern   = "pattern"
	CodeRange     = "out_of_range"
	CodeTooLong   = "max_length"
	CodeTooMany   = "max_items"
	CodeEnum      = "invalid_enum"
	CodeDuplicate = "duplicate"
	CodeMismatch  = "mismatch"
	CodeUnknown   = "unknown_reference"
)

// Policy rules of a checkout request.
const (
	RuleMaxDuration          = "max_duration_seconds"
	RuleMinDuration          = "min_duration_seconds"
	RuleRequireJustification = "require_justification"
	RuleMaxExtensions        = "max_extensions"
)

func field(pointer, code, format string, args ...any) api.Violation {
	return api.Violation{Pointer: pointer, Code: code, Message: fmt.Sprintf(format, args...)}
}

func rule(r, pointer, format string, args ...any) api.Violation {
	return api.Violation{Rule: r, Pointer: pointer, Code: r, Message: fmt.Sprintf(format, args...)}
}

// SecretAAD is the associated data a secret version is sealed with: a
// ciphertext copied to another account or version does not open.
func SecretAAD(accountID string, version int64) []byte {
	return []byte("pamd vault secret v1\x00" + accountID + "\x00" + strconv.FormatInt(version, 10))
}

// ErrNoRotationEngine is returned by NoopRotator: no rotation engine is wired.
var ErrNoRotationEngine = errors.New("vault: no rotation engine configured")

// Rotator is the seam to the rotation engine. RotateAfterCheckin is called
// after a checkout whose policy snapshot says rotate_on_checkin has ended
// (check-in, expiry or revoke), outside any store transaction. It should
// queue the rotation and return quickly; the engine records results on the
// account's status.
type Rotator interface {
	RotateAfterCheckin(ctx context.Context, accountID string) error
}

// NoopRotator is the default Rotator until the rotation engine is wired: it
// rotates nothing and reports ErrNoRotationEngine, which the vault records as
// a status note on the account.
type NoopRotator struct{}

// RotateAfterCheckin implements Rotator.
func (NoopRotator) RotateAfterCheckin(context.Context, string) error { return ErrNoRotationEngine }

func checkName(ptr, name string) []api.Violation {
	switch {
	case name == "":
		return []api.Violation{field(ptr, CodeRequired, "is required")}
	case !api.NamePattern.MatchString(name):
		return []api.Violation{field(ptr, CodePattern, "must be %s", api.NameRule)}
	}
	return nil
}

func checkLabels(labels map[string]string) []api.Violation {
	var vs []api.Violation
	if len(labels) > api.MaxLabels {
		vs = append(vs, field("/labels", CodeTooMany, "at most %d labels allowed", api.MaxLabels))
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := "/labels/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
		if !api.LabelKeyPattern.MatchString(k) {
			vs = append(vs, field(p, CodePattern, "label key %q must be %s", k, api.LabelKeyRule))
		}
		if utf8.RuneCountInString(labels[k]) > api.MaxLabelValueLength {
			vs = append(vs, field(p, CodeTooLong, "label value must be at most %d characters", api.MaxLabelValueLength))
		}
	}
	return vs
}

func copyLabels(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// NormalizeSafe validates a safe and returns its stored form: members sorted
// by (principal_type, principal_id), permissions de-duplicated and sorted,
// labels and members never nil.
func NormalizeSafe(in api.SafeInput) (api.SafeInput, []api.Violation) {
	var vs []api.Violation
	vs = append(vs, checkName("/name", in.Name)...)
	if utf8.RuneCountInString(in.Description) > api.MaxDescriptionLength {
		vs = append(vs, field("/description", CodeTooLong, "must be at most %d characters", api.MaxDescriptionLength))
	}
	if len(in.Members) > api.MaxSafeMembers {
		vs = append(vs, field("/members", CodeTooMany, "at most %d members allowed", api.MaxSafeMembers))
	}
	seen := map[string]int{}
	out := in
	out.Members = make([]api.SafeMember, 0, len(in.Members))
	for i, m := range in.Members {
		p := "/members/" + strconv.Itoa(i)
		if !slices.Contains(api.PrincipalTypes, m.PrincipalType) {
			vs = append(vs, field(p+"/principal_type", CodeEnum, "must be one of %s", strings.Join(api.PrincipalTypes, ", ")))
		}
		if m.PrincipalID == "" || len(m.PrincipalID) > api.MaxPrincipalIDLength || strings.ContainsAny(m.PrincipalID, " :\t\n") {
			vs = append(vs, field(p+"/principal_id", CodePattern, "must be 1-%d characters without spaces or ':'", api.MaxPrincipalIDLength))
		}
		key := m.PrincipalType + ":" + m.PrincipalID
		if j, dup := seen[key]; dup {
			vs = append(vs, field(p, CodeDuplicate, "member %s is already listed at /members/%d", key, j))
		}
		seen[key] = i
		if len(m.Permissions) == 0 {
			vs = append(vs, field(p+"/permissions", CodeRequired, "at least one permission is required (%s)", strings.Join(api.SafePermissions, ", ")))
		}
		for k, perm := range m.Permissions {
			if !slices.Contains(api.SafePermissions, perm) {
				vs = append(vs, field(p+"/permissions/"+strconv.Itoa(k), CodeEnum, "%q is not one of %s", perm, strings.Join(api.SafePermissions, ", ")))
			}
		}
		out.Members = append(out.Members, api.SafeMember{PrincipalType: m.PrincipalType, PrincipalID: m.PrincipalID,
			Permissions: slices.Compact(slices.Sorted(slices.Values(m.Permissions)))})
	}
	vs = append(vs, checkLabels(in.Labels)...)
	if len(vs) > 0 {
		return in, vs
	}
	slices.SortFunc(out.Members, func(a, b api.SafeMember) int {
		return strings.Compare(a.PrincipalType+"\x00"+a.PrincipalID, b.PrincipalType+"\x00"+b.PrincipalID)
	})
	out.Labels = copyLabels(in.Labels)
	return out, nil
}

// Identity is who asks, for permission checks on a safe.
type Identity struct {
	Actor  api.Actor
	Groups []string
	// Admin is true for server roles that bypass safe membership.
	Admin bool
}

// HasPermission reports whether id holds perm on the safe, as a member
// directly or through one of its groups; admins always do.
func HasPermission(safe api.Safe, id Identity, perm string) bool {
	if id.Admin {
		return true
	}
	for _, m := range safe.Members {
		if !slices.Contains(m.Permissions, perm) {
			continue
		}
		switch m.PrincipalType {
		case api.PrincipalTypeGroup:
			if slices.Contains(id.Groups, m.PrincipalID) {
				return true
			}
		default:
			if m.PrincipalType == id.Actor.Type && m.PrincipalID == id.Actor.ID {
				return true
			}
		}
	}
	return false
}

// NormalizeAccount validates an account as the client sent it and returns
// its stored form (checkout durations defaulted, labels and host keys never
// nil, host keys without comments, secret cleared). secretRequired is true on create. Whether SafeID names an
// existing safe is checked by the caller.
func NormalizeAccount(in api.VaultAccountInput) (api.VaultAccountInput, []api.Violation) {
	var vs []api.Violation
	vs = append(vs, checkName("/name", in.Name)...)
	if in.SafeID == "" {
		vs = append(vs, field("/safe_id", CodeRequired, "is required"))
	}
	platformOK := slices.Contains(api.Platforms, in.Platform)
	if !platformOK {
		vs = append(vs, field("/platform", CodeEnum, "%q is not one of %s", in.Platform, strings.Join(api.Platforms, ", ")))
	}
	switch {
	case !slices.Contains(api.SecretTypes, in.SecretType):
		vs = append(vs, field("/secret_type", CodeEnum, "%q is not one of %s", in.SecretType, strings.Join(api.SecretTypes, ", ")))
	case platformOK && !slices.Contains(api.PlatformSecretTypes[in.Platform], in.SecretType):
		vs = append(vs, field("/secret_type", CodeMismatch, "platform %s does not accept secret type %s (accepted: %s)",
			in.Platform, in.SecretType, strings.Join(api.PlatformSecretTypes[in.Platform], ", ")))
	}
	if len(in.Address) > api.MaxAddressLength || strings.ContainsAny(in.Address, " \t\r\n/") {
		vs = append(vs, field("/address", CodePattern, "must be a host name or IP address of at most %d characters", api.MaxAddressLength))
	}
	if in.Platform != api.PlatformGeneric && platformOK && in.Address == "" {
		vs = append(vs, field("/address", CodeRequired, "is required for platform %s", in.Platform))
	}
	if in.Port < 0 || in.Port > 65535 {
		vs = append(vs, field("/port", CodeRange, "must be between 0 and 65535"))
	}
	if in.Username == "" {
		vs = append(vs, field("/username", CodeRequired, "is required"))
	} else if len(in.Username) > api.MaxUsernameLength || strings.ContainsAny(in.Username, "\r\n\x00") {
		vs = append(vs, field("/username", CodePattern, "must be at most %d characters on one line", api.MaxUsernameLength))
	}
	if len(in.Secret) > api.MaxSecretLength {
		// The length only: the value is never echoed.
		vs = append(vs, field("/secret", CodeTooLong, "must be at most %d bytes", api.MaxSecretLength))
	}
	if strings.ContainsRune(in.Secret, 0) {
		vs = append(vs, field("/secret", CodePattern, "must not contain NUL bytes"))
	}
	mode := in.ManagementMode
	if mode == "" {
		mode = api.ManagementManual
	}
	if !slices.Contains(api.ManagementModes, mode) {
		vs = append(vs, field("/management_mode", CodeEnum, "%q is not one of %s", in.ManagementMode, strings.Join(api.ManagementModes, ", ")))
	}
	for _, f := range []struct{ ptr, v string }{{"/rotation_schedule_id", in.RotationScheduleID}, {"/session_policy_id", in.SessionPolicyID}} {
		if len(f.v) > 128 || strings.ContainsAny(f.v, " \t\r\n/") {
			vs = append(vs, field(f.ptr, CodePattern, "must be an id of at most 128 characters"))
		}
	}
	cp, cvs := normalizeCheckoutPolicy(in.CheckoutPolicy)
	vs = append(vs, cvs...)
	vs = append(vs, checkLabels(in.Labels)...)
	hostKeys, hvs := normalizeHostKeys(in.Platform, in.HostKeys)
	vs = append(vs, hvs...)
	if len(vs) > 0 {
		return in, vs
	}
	out := in
	out.HostKeys = hostKeys
	out.Secret = ""
	out.ManagementMode = mode
	out.CheckoutPolicy = cp
	out.Labels = copyLabels(in.Labels)
	return out, nil
}

func normalizeCheckoutPolicy(p api.CheckoutPolicy) (api.CheckoutPolicy, []api.Violation) {
	var vs []api.Violation
	if p.MaxDurationSeconds == 0 {
		p.MaxDurationSeconds = api.DefaultCheckoutMaxSeconds
	}
	if p.MaxDurationSeconds < api.MinCheckoutSeconds || p.MaxDurationSeconds > api.MaxCheckoutSeconds {
		vs = append(vs, field("/checkout_policy/max_duration_seconds", CodeRange, "must be between %d and %d seconds", api.MinCheckoutSeconds, api.MaxCheckoutSeconds))
	}
	if p.DefaultDurationSeconds == 0 {
		p.DefaultDurationSeconds = min(api.DefaultCheckoutDurationSeconds, p.MaxDurationSeconds)
	}
	if p.DefaultDurationSeconds < api.MinCheckoutSeconds || p.DefaultDurationSeconds > p.MaxDurationSeconds {
		vs = append(vs, field("/checkout_policy/default_duration_seconds", CodeRange, "must be between %d and max_duration_seconds (%d)", api.MinCheckoutSeconds, p.MaxDurationSeconds))
	}
	return p, vs
}

// CheckoutDuration evaluates a checkout request against the account's
// policy and returns the duration to grant, or policy violations.
func CheckoutDuration(p api.CheckoutPolicy, req api.CheckoutRequest) (int64, []api.Violation) {
	var vs []api.Violation
	d := req.DurationSeconds
	if d == 0 {
		d = p.DefaultDurationSeconds
	}
	if d < api.MinCheckoutSeconds {
		vs = append(vs, rule(RuleMinDuration, "/duration_seconds", "requested %ds is below the minimum %ds", d, api.MinCheckoutSeconds))
	}
	if d > p.MaxDurationSeconds {
		vs = append(vs, rule(RuleMaxDuration, "/duration_seconds", "requested %ds exceeds the maximum %ds", d, p.MaxDurationSeconds))
	}
	vs = append(vs, checkJustification(p, req.Justification)...)
	return d, vs
}

func checkJustification(p api.CheckoutPolicy, j string) []api.Violation {
	var vs []api.Violation
	if utf8.RuneCountInString(j) > api.MaxJustificationLength {
		vs = append(vs, field("/justification", CodeTooLong, "must be at most %d characters", api.MaxJustificationLength))
	}
	if p.RequireJustification && strings.TrimSpace(j) == "" {
		vs = append(vs, rule(RuleRequireJustification, "/justification", "a justification is required by this account's checkout policy"))
	}
	return vs
}

// Extend evaluates an extension of an active checkout: the total duration
// may not exceed the policy maximum. It returns the new expiry.
func Extend(p api.CheckoutPolicy, c api.Checkout, req api.CheckoutExtendRequest) (time.Time, []api.Violation) {
	var vs []api.Violation
	if req.AdditionalSeconds < 1 {
		vs = append(vs, field("/additional_seconds", CodeRange, "must be at least 1 second"))
		return c.ExpiresAt, vs
	}
	total := c.DurationSeconds + req.AdditionalSeconds
	if total > p.MaxDurationSeconds {
		vs = append(vs, rule(RuleMaxDuration, "/additional_seconds", "the checkout would last %ds in total, the maximum is %ds", total, p.MaxDurationSeconds))
	}
	if len(c.Extensions) >= api.MaxCheckoutExtensions {
		vs = append(vs, rule(RuleMaxExtensions, "", "a checkout may be extended at most %d times", api.MaxCheckoutExtensions))
	}
	if utf8.RuneCountInString(req.Justification) > api.MaxJustificationLength {
		vs = append(vs, field("/justification", CodeTooLong, "must be at most %d characters", api.MaxJustificationLength))
	}
	return c.ExpiresAt.Add(time.Duration(req.AdditionalSeconds) * time.Second), vs
}

// Ended reports whether a checkout no longer grants access at now: it left
// the active state, or its expiry passed (before the worker noticed).
func Ended(c api.Checkout, now time.Time) bool {
	return c.State != api.CheckoutActive || !now.Before(c.ExpiresAt)
}

// End moves an active checkout to a terminal state at now.
func End(c api.Checkout, state, reason string, by *api.Actor, now time.Time) api.Checkout {
	out := c
	out.State, out.EndReason, out.EndedBy = state, reason, by
	at := now
	if state == api.CheckoutExpired && c.ExpiresAt.Before(now) {
		at = c.ExpiresAt // expired at its expiry, even if noticed later
	}
	out.EndedAt = &at
	out.Extensions = slices.Clone(c.Extensions)
	return out
}
