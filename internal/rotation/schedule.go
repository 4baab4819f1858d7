// Package rotation owns the rules of credential rotation: validation and
// normalisation of rotation schedules, their fire times (interval or cron
// with a time zone), password generation from a policy, and the connectors
// that change a secret on a target system. Schedule math, validation and
// password generation are pure (time is always an argument), so that the
// server, the scheduler, the provider at plan time and the tests share one
// definition of every rule.
//
// Violations follow the convention of package pim: a violation without Rule
// is a malformed field (400 validation_failed).
package rotation

import (
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Violation codes for malformed fields.
const (
	CodeRequired      = "required"
	CodePattern       = "pattern"
	CodeRange         = "out_of_range"
	CodeTooLong       = "max_length"
	CodeTooMany       = "max_items"
	CodeDuplicate     = "duplicate"
	CodeConflict      = "conflict"
	CodeInvalidCron   = "invalid_cron"
	CodeNeverFires    = "never_fires"
	CodeInvalidZone   = "invalid_time_zone"
	CodeUnsatisfiable = "unsatisfiable"
)

func fieldViolation(pointer, code, format string, args ...any) api.Violation {
	return api.Violation{Pointer: pointer, Code: code, Message: fmt.Sprintf(format, args...)}
}

// cronParser accepts the standard 5 fields (minute hour day-of-month month
// day-of-week) and the descriptors @yearly, @monthly, @weekly, @daily,
// @hourly; @every is rejected by ParseCron (use interval_seconds).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Trigger computes fire times.
type Trigger interface {
	// Next returns the first fire time strictly after t, or the zero time
	// when there is none.
	Next(t time.Time) time.Time
}

// intervalTrigger fires every d.
type intervalTrigger struct{ d time.Duration }

func (i intervalTrigger) Next(t time.Time) time.Time { return t.Add(i.d) }

// cronTrigger fires on a cron schedule, truncated to whole seconds.
type cronTrigger struct{ s cron.Schedule }

func (c cronTrigger) Next(t time.Time) time.Time {
	n := c.s.Next(t)
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// LoadZone resolves an IANA time zone; "" means UTC.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if strings.HasPrefix(name, "Local") || strings.ContainsAny(name, " \t") {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// ParseCron parses a cron expression evaluated in zone (an IANA name, ""
// means UTC). A "CRON_TZ=Zone " or "TZ=Zone " prefix is accepted when it
// names the same zone as zone, or zone is empty. The error carries the cron
// parser's message.
func ParseCron(expr, zone string) (Trigger, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, errors.New("cron expression is empty")
	}
	if strings.HasPrefix(expr, "@every") {
		return nil, errors.New("@every is not accepted: use interval_seconds")
	}
	loc, err := LoadZone(zone)
	if err != nil {
		return nil, err
	}
	inline := ""
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if strings.HasPrefix(expr, prefix) {
			head, rest, ok := strings.Cut(expr, " ")
			if !ok {
				return nil, fmt.Errorf("cron expression %q has a time zone but no schedule", expr)
			}
			inline = strings.TrimPrefix(head, prefix)
			expr = strings.TrimSpace(rest)
		}
	}
	if inline != "" {
		il, err := LoadZone(inline)
		if err != nil {
			return nil, err
		}
		if zone != "" && il.String() != loc.String() {
			return nil, fmt.Errorf("cron time zone %q differs from time_zone %q", inline, zone)
		}
		loc = il
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, err
	}
	if spec, ok := s.(*cron.SpecSchedule); ok {
		spec.Location = loc
	}
	return cronTrigger{s: s}, nil
}

// NewTrigger builds the trigger of a validated schedule.
func NewTrigger(in api.RotationScheduleInput) (Trigger, error) {
	switch {
	case in.IntervalSeconds != nil && in.Cron == nil:
		if *in.IntervalSeconds <= 0 {
			return nil, errors.New("interval_seconds must be positive")
		}
		return intervalTrigger{d: time.Duration(*in.IntervalSeconds) * time.Second}, nil
	case in.Cron != nil && in.IntervalSeconds == nil:
		return ParseCron(*in.Cron, in.TimeZone)
	}
	return nil, errors.New("exactly one of interval_seconds and cron must be set")
}

// Next returns the schedule's first fire time strictly after t (UTC, whole
// seconds), or an error when the schedule is invalid or never fires again.
func Next(in api.RotationScheduleInput, t time.Time) (time.Time, error) {
	tr, err := NewTrigger(in)
	if err != nil {
		return time.Time{}, err
	}
	n := tr.Next(t.Truncate(time.Second))
	if n.IsZero() {
		return n, errors.New("the schedule never fires again")
	}
	return n.UTC(), nil
}

// Preview returns the next count fire times strictly after t. For an
// interval schedule they are t + k*interval.
func Preview(in api.RotationScheduleInput, t time.Time, count int) ([]time.Time, error) {
	tr, err := NewTrigger(in)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, count)
	cur := t.Truncate(time.Second)
	for range count {
		cur = tr.Next(cur)
		if cur.IsZero() {
			break
		}
		cur = cur.UTC()
		out = append(out, cur)
	}
	return out, nil
}

// Jitter is the delay added to a fire time for one account: uniformly spread
// in [0, jitter) but deterministic in (accountID, fire), so that a retry or a
// second scheduler computes the same due time.
func Jitter(accountID string, fire time.Time, jitterSeconds int64) time.Duration {
	if jitterSeconds <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(accountID))
	_, _ = h.Write([]byte(fire.UTC().Format(time.RFC3339)))
	return time.Duration(h.Sum64()%uint64(jitterSeconds)) * time.Second //nolint:gosec // jitterSeconds > 0
}

// ValidateSchedule checks a rotation schedule as the client sent it, at time
// now (a cron must fire within api.CronHorizonSeconds after now). Zero values
// that mean "default" are accepted; NormalizeSchedule fills them in. It is
// pure, so the provider calls it at plan time to reject what the server would.
func ValidateSchedule(in api.RotationScheduleInput, now time.Time) []api.Violation {
	var vs []api.Violation
	if in.Name == "" {
		vs = append(vs, fieldViolation("/name", CodeRequired, "is required"))
	} else if !api.NamePattern.MatchString(in.Name) {
		vs = append(vs, fieldViolation("/name", CodePattern, "%q is not valid: %s", in.Name, api.NameRule))
	}
	if utf8.RuneCountInString(in.Description) > api.MaxDescriptionLength {
		vs = append(vs, fieldViolation("/description", CodeTooLong, "must be at most %d characters", api.MaxDescriptionLength))
	}
	vs = append(vs, ValidateTrigger(in, now)...)
	win := in.WindowSeconds
	if win == 0 {
		win = api.DefaultRotationWindowSeconds
	}
	if in.WindowSeconds != 0 && (win < api.MinRotationWindowSeconds || win > api.MaxRotationWindowSeconds) {
		vs = append(vs, fieldViolation("/window_seconds", CodeRange, "must be between %d and %d (0 means %d), got %d",
			api.MinRotationWindowSeconds, api.MaxRotationWindowSeconds, api.DefaultRotationWindowSeconds, in.WindowSeconds))
	}
	switch {
	case in.JitterSeconds < 0 || in.JitterSeconds > api.MaxRotationJitterSeconds:
		vs = append(vs, fieldViolation("/jitter_seconds", CodeRange, "must be between 0 and %d, got %d", api.MaxRotationJitterSeconds, in.JitterSeconds))
	case in.JitterSeconds >= win:
		vs = append(vs, fieldViolation("/jitter_seconds", CodeConflict, "must be smaller than window_seconds (%d), got %d", win, in.JitterSeconds))
	case in.IntervalSeconds != nil && in.JitterSeconds >= *in.IntervalSeconds:
		vs = append(vs, fieldViolation("/jitter_seconds", CodeConflict, "must be smaller than interval_seconds (%d), got %d", *in.IntervalSeconds, in.JitterSeconds))
	}
	if in.MaxSecretAgeSeconds != 0 && (in.MaxSecretAgeSeconds < api.MinSecretAgeSeconds || in.MaxSecretAgeSeconds > api.MaxSecretAgeSeconds) {
		vs = append(vs, fieldViolation("/max_secret_age_seconds", CodeRange, "must be 0 (no ceiling) or between %d and %d, got %d",
			api.MinSecretAgeSeconds, api.MaxSecretAgeSeconds, in.MaxSecretAgeSeconds))
	}
	if v := in.VerificationIntervalSeconds; v != 0 && (v < api.MinVerificationIntervalSeconds || v > api.MaxVerificationIntervalSeconds) {
		vs = append(vs, fieldViolation("/verification_interval_seconds", CodeRange, "must be 0 (no verification) or between %d and %d, got %d",
			api.MinVerificationIntervalSeconds, api.MaxVerificationIntervalSeconds, v))
	}
	if a := in.Retry.MaxAttempts; a < 0 || a > api.MaxRotationRetryAttempts {
		vs = append(vs, fieldViolation("/retry/max_attempts", CodeRange, "must be between 1 and %d (0 means %d), got %d",
			api.MaxRotationRetryAttempts, api.DefaultRotationRetryAttempts, a))
	}
	if b := in.Retry.BackoffSeconds; b != 0 && (b < api.MinRotationRetryBackoff || b > api.MaxRotationRetryBackoff) {
		vs = append(vs, fieldViolation("/retry/backoff_seconds", CodeRange, "must be between %d and %d (0 means %d), got %d",
			api.MinRotationRetryBackoff, api.MaxRotationRetryBackoff, api.DefaultRotationRetryBackoff, b))
	}
	vs = append(vs, ValidatePasswordPolicy("/password_policy", in.PasswordPolicy)...)
	vs = append(vs, checkLabels(in.Labels)...)
	return vs
}

// ValidateTrigger checks interval_seconds, cron and time_zone alone.
func ValidateTrigger(in api.RotationScheduleInput, now time.Time) []api.Violation {
	var vs []api.Violation
	if in.TimeZone != "" {
		if _, err := LoadZone(in.TimeZone); err != nil {
			vs = append(vs, fieldViolation("/time_zone", CodeInvalidZone, "%s: use an IANA name such as \"Europe/Berlin\" or \"UTC\"", err))
		}
	}
	switch {
	case in.IntervalSeconds != nil && in.Cron != nil:
		vs = append(vs, fieldViolation("/cron", CodeConflict, "set exactly one of interval_seconds and cron, not both"))
	case in.IntervalSeconds == nil && in.Cron == nil:
		vs = append(vs, fieldViolation("/interval_seconds", CodeRequired, "set exactly one of interval_seconds and cron"))
	case in.IntervalSeconds != nil:
		if s := *in.IntervalSeconds; s < api.MinRotationIntervalSeconds || s > api.MaxRotationIntervalSeconds {
			vs = append(vs, fieldViolation("/interval_seconds", CodeRange, "must be between %d and %d, got %d",
				api.MinRotationIntervalSeconds, api.MaxRotationIntervalSeconds, s))
		}
		if in.TimeZone != "" && in.TimeZone != "UTC" {
			vs = append(vs, fieldViolation("/time_zone", CodeConflict, "only applies to cron; leave it empty with interval_seconds"))
		}
	default:
		expr := *in.Cron
		if len(expr) > api.MaxCronExpressionLength {
			vs = append(vs, fieldViolation("/cron", CodeTooLong, "must be at most %d characters", api.MaxCronExpressionLength))
			break
		}
		tr, err := ParseCron(expr, in.TimeZone)
		if err != nil {
			if in.TimeZone != "" && len(vs) > 0 {
				break // the zone is already reported
			}
			vs = append(vs, fieldViolation("/cron", CodeInvalidCron, "invalid cron expression %q: %s", expr, err))
			break
		}
		if n := tr.Next(now); n.IsZero() || n.Sub(now) > api.CronHorizonSeconds*time.Second {
			vs = append(vs, fieldViolation("/cron", CodeNeverFires, "cron expression %q never fires: no time within 5 years matches it", expr))
		}
	}
	return vs
}

// NormalizeSchedule fills in the defaults of a validated schedule so that the
// stored object states every rule.
func NormalizeSchedule(in api.RotationScheduleInput) api.RotationScheduleInput {
	out := in
	if out.Cron != nil {
		c := strings.TrimSpace(*out.Cron)
		out.Cron = &c
		if out.TimeZone == "" {
			out.TimeZone = "UTC"
		}
	}
	if out.IntervalSeconds != nil {
		v := *out.IntervalSeconds
		out.IntervalSeconds = &v
		out.TimeZone = "UTC"
	}
	if out.WindowSeconds == 0 {
		out.WindowSeconds = api.DefaultRotationWindowSeconds
	}
	if out.Retry.MaxAttempts == 0 {
		out.Retry.MaxAttempts = api.DefaultRotationRetryAttempts
	}
	if out.Retry.BackoffSeconds == 0 {
		out.Retry.BackoffSeconds = api.DefaultRotationRetryBackoff
	}
	out.PasswordPolicy = NormalizePasswordPolicy(out.PasswordPolicy)
	labels := make(map[string]string, len(in.Labels))
	for k, v := range in.Labels {
		labels[k] = v
	}
	out.Labels = labels
	return out
}

// RetryDelay is how long to wait before attempt (2, 3, ...) after a failure:
// backoff * 2^(attempt-2), capped at api.MaxRotationRetryBackoff.
func RetryDelay(r api.RotationRetry, attempt int) time.Duration {
	b := r.BackoffSeconds
	if b <= 0 {
		b = api.DefaultRotationRetryBackoff
	}
	d := b
	for i := 2; i < attempt && d < api.MaxRotationRetryBackoff; i++ {
		d *= 2
	}
	return time.Duration(min(d, api.MaxRotationRetryBackoff)) * time.Second
}

func checkLabels(labels map[string]string) []api.Violation {
	var vs []api.Violation
	if len(labels) > api.MaxLabels {
		vs = append(vs, fieldViolation("/labels", CodeTooMany, "must have at most %d labels", api.MaxLabels))
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		v := labels[k]
		p := "/labels/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
		if !api.LabelKeyPattern.MatchString(k) {
			vs = append(vs, fieldViolation(p, CodePattern, "label key %q is not valid: %s", k, api.LabelKeyRule))
		}
		if utf8.RuneCountInString(v) > api.MaxLabelValueLength {
			vs = append(vs, fieldViolation(p, CodeTooLong, "label value must be at most %d characters", api.MaxLabelValueLength))
		}
	}
	return vs
}
