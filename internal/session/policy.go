// Package session owns the rules of brokered privileged sessions: validation
// and normalisation of session policies, the command filter the SSH gateway
// applies to exec requests and interactive input lines, and the asciicast v2
// recording format. Everything here is pure (no I/O but the io.Reader and
// io.Writer handed in, time always an argument), so that the server, the
// gateway, the provider at plan time and the tests share one definition of
// every rule.
//
// Violations follow the convention of package pim: a violation without Rule
// is a malformed field (400 validation_failed), with an RFC 6901 pointer into
// the request body.
package session

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Violation codes for malformed fields.
const (
	CodeRequired     = "required"
	CodePattern      = "pattern"
	CodeRange        = "out_of_range"
	CodeTooLong      = "max_length"
	CodeTooMany      = "max_items"
	CodeEnum         = "invalid_enum"
	CodeDuplicate    = "duplicate"
	CodeConflict     = "conflict"
	CodeInvalidRegex = "invalid_regex"
	CodeInvalidGlob  = "invalid_glob"
	CodeInvalidUTF8  = "invalid_utf8"
	// CodeNeverMatches: an exact or prefix pattern that no normalised
	// command can match (leading white space, runs of white space, tabs).
	CodeNeverMatches = "never_matches"
)

func field(pointer, code, format string, args ...any) api.Violation {
	return api.Violation{Pointer: pointer, Code: code, Message: fmt.Sprintf(format, args...)}
}

// RecordingAAD is the associated data a recording body is sealed with
// (keys.Keyring.SealString(body, RecordingAAD(id))): it binds the ciphertext
// to the recording id, so that one recording's body cannot be swapped into
// another row.
func RecordingAAD(recordingID string) []byte {
	return []byte("session_recording\x00" + recordingID)
}

// SHA256Hex is the digest recorded for a recording body: lowercase hex of
// its SHA-256.
func SHA256Hex(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// ResolvePolicyID is the session policy that governs an account: its own
// session_policy_id, else its safe's default_session_policy_id; "" for none.
func ResolvePolicyID(account api.VaultAccount, safe api.Safe) string {
	if account.SessionPolicyID != "" {
		return account.SessionPolicyID
	}
	return safe.DefaultSessionPolicyID
}

// ValidatePolicy reports every malformed field of a session policy input.
// Zero values that mean "default" are accepted; NormalizePolicy fills them
// in. Every regex rule is compiled with Go's regexp (RE2 syntax) and every
// glob checked with path.Match syntax, so a pattern that passes here never
// fails in the gateway.
func ValidatePolicy(in api.SessionPolicyInput) []api.Violation {
	var vs []api.Violation
	if in.Name == "" {
		vs = append(vs, field("/name", CodeRequired, "is required"))
	} else if !api.NamePattern.MatchString(in.Name) {
		vs = append(vs, field("/name", CodePattern, "%q is not valid: %s", in.Name, api.NameRule))
	}
	if utf8.RuneCountInString(in.Description) > api.MaxDescriptionLength {
		vs = append(vs, field("/description", CodeTooLong, "must be at most %d characters", api.MaxDescriptionLength))
	}
	vs = append(vs, checkProtocols(in.Protocols)...)

	maxDur := in.MaxSessionDurationSeconds
	if maxDur == 0 {
		maxDur = api.DefaultSessionDurationSeconds
	} else if maxDur < api.MinSessionDurationSeconds || maxDur > api.MaxSessionDurationSeconds {
		vs = append(vs, field("/max_session_duration_seconds", CodeRange, "must be between %d and %d (0 means %d), got %d",
			api.MinSessionDurationSeconds, api.MaxSessionDurationSeconds, api.DefaultSessionDurationSeconds, maxDur))
		maxDur = api.MaxSessionDurationSeconds
	}
	switch idle := in.IdleTimeoutSeconds; {
	case idle == 0:
	case idle < api.MinIdleTimeoutSeconds || idle > api.MaxSessionDurationSeconds:
		vs = append(vs, field("/idle_timeout_seconds", CodeRange, "must be 0 (no idle timeout) or between %d and %d, got %d",
			api.MinIdleTimeoutSeconds, api.MaxSessionDurationSeconds, idle))
	case idle > maxDur:
		vs = append(vs, field("/idle_timeout_seconds", CodeConflict, "must not exceed max_session_duration_seconds (%d), got %d", maxDur, idle))
	}
	if n := in.MaxConcurrentSessionsPerPrincipal; n < 0 || n > api.MaxConcurrentSessionsLimit {
		vs = append(vs, field("/max_concurrent_sessions_per_principal", CodeRange, "must be between 0 (unlimited) and %d, got %d",
			api.MaxConcurrentSessionsLimit, n))
	}
	switch age := in.MFAMaxAgeSeconds; {
	case age == 0:
	case !in.RequireMFA:
		vs = append(vs, field("/mfa_max_age_seconds", CodeConflict, "must be 0 unless require_mfa is true, got %d", age))
	case age < 1 || age > api.MaxSessionMFAMaxAgeSeconds:
		vs = append(vs, field("/mfa_max_age_seconds", CodeRange, "must be between 1 and %d (0 means %d), got %d",
			api.MaxSessionMFAMaxAgeSeconds, api.DefaultSessionMFAMaxAgeSeconds, age))
	}
	if in.CredentialDelivery != "" && !slices.Contains(api.CredentialDeliveries, in.CredentialDelivery) {
		vs = append(vs, field("/credential_delivery", CodeEnum, "must be one of %s, got %q", strings.Join(api.CredentialDeliveries, ", "), in.CredentialDelivery))
	}
	if m := in.Recording.Mode; m != "" && !slices.Contains(api.RecordingModes, m) {
		vs = append(vs, field("/recording/mode", CodeEnum, "must be one of %s, got %q", strings.Join(api.RecordingModes, ", "), m))
	}
	if d := in.Recording.RetainDays; d < 0 || d > api.MaxRecordingRetainDays {
		vs = append(vs, field("/recording/retain_days", CodeRange, "must be between 1 and %d (0 means %d), got %d",
			api.MaxRecordingRetainDays, api.DefaultRecordingRetainDays, d))
	}
	vs = append(vs, ValidateCommandFilter("/command_filter", in.CommandFilter)...)
	vs = append(vs, checkLabels(in.Labels)...)
	vs = append(vs, ValidateElevationRequirement(in.RequireElevation)...)
	return vs
}

// ValidateElevationRequirement checks the shape of require_elevation (nil is
// valid): role_id is required, scope empty or a scope path. Whether the role
// exists is the server's check.
func ValidateElevationRequirement(r *api.SessionElevationRequirement) []api.Violation {
	if r == nil {
		return nil
	}
	var vs []api.Violation
	if strings.TrimSpace(r.RoleID) == "" {
		vs = append(vs, field("/require_elevation/role_id", CodeRequired, "is required"))
	} else if len(r.RoleID) > 128 || strings.ContainsAny(r.RoleID, " \t\r\n/") {
		vs = append(vs, field("/require_elevation/role_id", CodePattern, "%q is not a role id", r.RoleID))
	}
	if r.Scope != "" && !api.ScopePattern.MatchString(r.Scope) {
		vs = append(vs, field("/require_elevation/scope", CodePattern, "%q is not valid: %s (empty means any scope)", r.Scope, api.ScopeRule))
	}
	return vs
}

func checkProtocols(ps []string) []api.Violation {
	var vs []api.Violation
	if len(ps) > api.MaxSessionProtocols {
		vs = append(vs, field("/protocols", CodeTooMany, "must have at most %d items", api.MaxSessionProtocols))
	}
	seen := map[string]bool{}
	for i, p := range ps {
		ptr := "/protocols/" + strconv.Itoa(i)
		switch {
		case !slices.Contains(api.SessionProtocols, p):
			vs = append(vs, field(ptr, CodeEnum, "must be one of %s, got %q", strings.Join(api.SessionProtocols, ", "), p))
		case seen[p]:
			vs = append(vs, field(ptr, CodeDuplicate, "%q is listed twice", p))
		}
		seen[p] = true
	}
	return vs
}

// ValidateCommandFilter checks a command filter; base is the pointer of the
// filter in the request body ("/command_filter").
func ValidateCommandFilter(base string, f api.CommandFilter) []api.Violation {
	var vs []api.Violation
	if f.DefaultAction != "" && !slices.Contains(api.CommandDefaultActions, f.DefaultAction) {
		vs = append(vs, field(base+"/default_action", CodeEnum, "must be one of %s, got %q",
			strings.Join(api.CommandDefaultActions, ", "), f.DefaultAction))
	}
	if len(f.Rules) > api.MaxCommandFilterRules {
		vs = append(vs, field(base+"/rules", CodeTooMany, "must have at most %d rules", api.MaxCommandFilterRules))
	}
	for i, r := range f.Rules {
		vs = append(vs, ValidateRule(base+"/rules/"+strconv.Itoa(i), r)...)
	}
	return vs
}

// ValidateRule checks one command filter rule; base is its pointer
// ("/command_filter/rules/3"). A malformed regex is reported at base +
// "/pattern" with the regexp package's error text.
func ValidateRule(base string, r api.CommandFilterRule) []api.Violation {
	var vs []api.Violation
	if !slices.Contains(api.CommandMatches, r.Match) {
		vs = append(vs, field(base+"/match", CodeEnum, "must be one of %s, got %q", strings.Join(api.CommandMatches, ", "), r.Match))
	}
	if !slices.Contains(api.CommandActions, r.Action) {
		vs = append(vs, field(base+"/action", CodeEnum, "must be one of %s, got %q", strings.Join(api.CommandActions, ", "), r.Action))
	}
	if utf8.RuneCountInString(r.Description) > api.MaxDescriptionLength {
		vs = append(vs, field(base+"/description", CodeTooLong, "must be at most %d characters", api.MaxDescriptionLength))
	}
	pp := base + "/pattern"
	switch {
	case r.Pattern == "":
		return append(vs, field(pp, CodeRequired, "is required"))
	case len(r.Pattern) > api.MaxCommandFilterPatternLength:
		return append(vs, field(pp, CodeTooLong, "must be at most %d bytes", api.MaxCommandFilterPatternLength))
	case !utf8.ValidString(r.Pattern):
		// Matching works on characters; a stray byte would silently match
		// every invalid byte of a command (all decode to U+FFFD).
		return append(vs, field(pp, CodeInvalidUTF8, "must be valid UTF-8"))
	}
	switch r.Match {
	case api.CommandMatchRegex:
		if _, err := regexp.Compile(r.Pattern); err != nil {
			vs = append(vs, field(pp, CodeInvalidRegex, "is not a valid regular expression: %s", err.Error()))
		}
	case api.CommandMatchGlob:
		if _, err := path.Match(r.Pattern, ""); err != nil {
			vs = append(vs, field(pp, CodeInvalidGlob, "is not a valid glob (* ? [class] [^class] \\escape; * and ? also match /): %s", err.Error()))
		}
	case api.CommandMatchExact:
		if NormalizeCommand(r.Pattern) != r.Pattern {
			vs = append(vs, field(pp, CodeNeverMatches,
				"can never match: commands are compared after trimming and collapsing white space to single spaces, so write %q", NormalizeCommand(r.Pattern)))
		}
	case api.CommandMatchPrefix:
		// A single trailing space is meaningful ("sudo " does not match "sudoedit").
		if n := NormalizeCommand(r.Pattern); n != r.Pattern && n+" " != r.Pattern {
			vs = append(vs, field(pp, CodeNeverMatches,
				"can never match: commands are compared after trimming and collapsing white space to single spaces, so write %q", n))
		}
	}
	return vs
}

func checkLabels(labels map[string]string) []api.Violation {
	var vs []api.Violation
	if len(labels) > api.MaxLabels {
		vs = append(vs, field("/labels", CodeTooMany, "must have at most %d labels", api.MaxLabels))
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := "/labels/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
		if !api.LabelKeyPattern.MatchString(k) {
			vs = append(vs, field(p, CodePattern, "label key %q is not valid: %s", k, api.LabelKeyRule))
		}
		if utf8.RuneCountInString(labels[k]) > api.MaxLabelValueLength {
			vs = append(vs, field(p, CodeTooLong, "label value must be at most %d characters", api.MaxLabelValueLength))
		}
	}
	return vs
}

// NormalizePolicy fills in the defaults that zero values stand for, so that
// the stored and returned policy says exactly what the gateway enforces:
// protocols sorted and de-duplicated (none means ssh), max duration 0 means
// DefaultSessionDurationSeconds, mfa_max_age 0 with require_mfa means
// DefaultSessionMFAMaxAgeSeconds, empty credential_delivery means injected,
// empty recording mode strict, retain_days 0 DefaultRecordingRetainDays,
// empty default_action allow; nil rules and labels become empty. Rules keep
// their order (first match wins). Call it on a valid input.
func NormalizePolicy(in api.SessionPolicyInput) api.SessionPolicyInput {
	out := in
	out.Protocols = slices.Clone(in.Protocols)
	if len(out.Protocols) == 0 {
		out.Protocols = []string{api.SessionProtocolSSH}
	}
	slices.Sort(out.Protocols)
	out.Protocols = slices.Compact(out.Protocols)
	if out.MaxSessionDurationSeconds == 0 {
		out.MaxSessionDurationSeconds = api.DefaultSessionDurationSeconds
	}
	if out.RequireMFA && out.MFAMaxAgeSeconds == 0 {
		out.MFAMaxAgeSeconds = api.DefaultSessionMFAMaxAgeSeconds
	}
	if out.CredentialDelivery == "" {
		out.CredentialDelivery = api.CredentialDeliveryInjected
	}
	if out.Recording.Mode == "" {
		out.Recording.Mode = api.RecordingModeStrict
	}
	if out.Recording.RetainDays == 0 {
		out.Recording.RetainDays = api.DefaultRecordingRetainDays
	}
	if out.CommandFilter.DefaultAction == "" {
		out.CommandFilter.DefaultAction = api.CommandActionAllow
	}
	out.CommandFilter.Rules = slices.Clone(in.CommandFilter.Rules)
	if out.CommandFilter.Rules == nil {
		out.CommandFilter.Rules = []api.CommandFilterRule{}
	}
	if in.RequireElevation != nil {
		r := *in.RequireElevation
		out.RequireElevation = &r
	}
	out.Labels = make(map[string]string, len(in.Labels))
	for k, v := range in.Labels {
		out.Labels[k] = v
	}
	return out
}
