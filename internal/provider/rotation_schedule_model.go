package provider

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/rotation"
)

// rotationScheduleModel is the Terraform shape of a rotation schedule. The
// next fire times are deliberately not an attribute: they move with time
// and would make every refresh show a change.
type rotationScheduleModel struct {
	ID                          types.String `tfsdk:"id"`
	Name                        types.String `tfsdk:"name"`
	Description                 types.String `tfsdk:"description"`
	IntervalSeconds             types.Int64  `tfsdk:"interval_seconds"`
	Cron                        types.String `tfsdk:"cron"`
	TimeZone                    types.String `tfsdk:"time_zone"`
	WindowSeconds               types.Int64  `tfsdk:"window_seconds"`
	JitterSeconds               types.Int64  `tfsdk:"jitter_seconds"`
	MaxSecretAgeSeconds         types.Int64  `tfsdk:"max_secret_age_seconds"`
	VerificationIntervalSeconds types.Int64  `tfsdk:"verification_interval_seconds"`
	PasswordPolicy              types.Object `tfsdk:"password_policy"`
	Retry                       types.Object `tfsdk:"retry"`
	Labels                      types.Map    `tfsdk:"labels"`
	Version                     types.Int64  `tfsdk:"version"`
	CreatedAt                   types.String `tfsdk:"created_at"`
	UpdatedAt                   types.String `tfsdk:"updated_at"`
}

type passwordPolicyModel struct {
	Length           types.Int64  `tfsdk:"length"`
	RequireLowercase types.Bool   `tfsdk:"require_lowercase"`
	RequireUppercase types.Bool   `tfsdk:"require_uppercase"`
	RequireDigits    types.Bool   `tfsdk:"require_digits"`
	RequireSymbols   types.Bool   `tfsdk:"require_symbols"`
	Symbols          types.String `tfsdk:"symbols"`
	ExcludeAmbiguous types.Bool   `tfsdk:"exclude_ambiguous"`
}

type rotationRetryModel struct {
	MaxAttempts    types.Int64 `tfsdk:"max_attempts"`
	BackoffSeconds types.Int64 `tfsdk:"backoff_seconds"`
}

var passwordPolicyAttrTypes = map[string]attr.Type{
	"length":            types.Int64Type,
	"require_lowercase": types.BoolType,
	"require_uppercase": types.BoolType,
	"require_digits":    types.BoolType,
	"require_symbols":   types.BoolType,
	"symbols":           types.StringType,
	"exclude_ambiguous": types.BoolType,
}

var rotationRetryAttrTypes = map[string]attr.Type{
	"max_attempts":    types.Int64Type,
	"backoff_seconds": types.Int64Type,
}

// The UTC zone as pamd stores it when none is given.
const utcZone = "UTC"

var rotationSchedulePrefixPattern = regexp.MustCompile(`^` + api.PrefixRotationSchedule + `_[0-9A-Za-z]+$`)

// rotationSchedulePaths routes violations (pamd's and the plan-time ones
// from package rotation) to attributes: JSON members are named like them.
var rotationSchedulePaths = nestedPaths{
	"name":                          leafPath(),
	"description":                   leafPath(),
	"interval_seconds":              leafPath(),
	"cron":                          leafPath(),
	"time_zone":                     leafPath(),
	"window_seconds":                leafPath(),
	"jitter_seconds":                leafPath(),
	"max_secret_age_seconds":        leafPath(),
	"verification_interval_seconds": leafPath(),
	"password_policy": objectPath(nestedPaths{
		"length": leafPath(), "require_lowercase": leafPath(), "require_uppercase": leafPath(), "require_digits": leafPath(),
		"require_symbols": leafPath(), "symbols": leafPath(), "exclude_ambiguous": leafPath(),
	}),
	"retry":  objectPath(nestedPaths{"max_attempts": leafPath(), "backoff_seconds": leafPath()}),
	"labels": mapPath(),
}

func passwordPolicyObject(p api.RotationPasswordPolicy) (types.Object, diag.Diagnostics) {
	p = rotation.NormalizePasswordPolicy(p)
	return types.ObjectValue(passwordPolicyAttrTypes, map[string]attr.Value{
		"length":            types.Int64Value(int64(p.Length)),
		"require_lowercase": types.BoolValue(p.RequireLowercase),
		"require_uppercase": types.BoolValue(p.RequireUppercase),
		"require_digits":    types.BoolValue(p.RequireDigits),
		"require_symbols":   types.BoolValue(p.RequireSymbols),
		"symbols":           types.StringValue(*p.Symbols),
		"exclude_ambiguous": types.BoolValue(p.ExcludeAmbiguous),
	})
}

func rotationRetryObject(r api.RotationRetry) (types.Object, diag.Diagnostics) {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = api.DefaultRotationRetryAttempts
	}
	if r.BackoffSeconds == 0 {
		r.BackoffSeconds = api.DefaultRotationRetryBackoff
	}
	return types.ObjectValue(rotationRetryAttrTypes, map[string]attr.Value{
		"max_attempts":    types.Int64Value(int64(r.MaxAttempts)),
		"backoff_seconds": types.Int64Value(r.BackoffSeconds),
	})
}

// rotationScheduleToModel maps a schedule from pamd to Terraform, showing
// pamd's defaults for values stored as "default" (zero).
func rotationScheduleToModel(s *api.RotationSchedule) (rotationScheduleModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	pp, d := passwordPolicyObject(s.PasswordPolicy)
	diags.Append(d...)
	retry, d := rotationRetryObject(s.Retry)
	diags.Append(d...)
	labels, d := stringMap(s.Labels)
	diags.Append(d...)
	interval := types.Int64Null()
	if s.IntervalSeconds != nil {
		interval = types.Int64Value(*s.IntervalSeconds)
	}
	cron := types.StringNull()
	if s.Cron != nil {
		cron = types.StringValue(*s.Cron)
	}
	zone := s.TimeZone
	if zone == "" {
		zone = utcZone
	}
	window := s.WindowSeconds
	if window == 0 {
		window = api.DefaultRotationWindowSeconds
	}
	return rotationScheduleModel{
		ID:                          types.StringValue(s.ID),
		Name:                        types.StringValue(s.Name),
		Description:                 types.StringValue(s.Description),
		IntervalSeconds:             interval,
		Cron:                        cron,
		TimeZone:                    types.StringValue(zone),
		WindowSeconds:               types.Int64Value(window),
		JitterSeconds:               types.Int64Value(s.JitterSeconds),
		MaxSecretAgeSeconds:         types.Int64Value(s.MaxSecretAgeSeconds),
		VerificationIntervalSeconds: types.Int64Value(s.VerificationIntervalSeconds),
		PasswordPolicy:              pp,
		Retry:                       retry,
		Labels:                      labels,
		Version:                     types.Int64Value(s.Version),
		CreatedAt:                   timeValue(s.CreatedAt),
		UpdatedAt:                   timeValue(s.UpdatedAt),
	}, diags
}

// rotationScheduleInput maps a model to the body of POST/PUT. It is used for
// the plan (every value known) and, at validation, for the configuration,
// where null means "pamd's default" exactly as zero does on the wire.
// Unknown values are sent as zero; unknown reports their JSON pointers so
// that validation can ignore what it cannot judge yet.
func rotationScheduleInput(ctx context.Context, m rotationScheduleModel) (in api.RotationScheduleInput, unknown []string, diags diag.Diagnostics) {
	str := func(v types.String, ptr string) string {
		if v.IsUnknown() {
			unknown = append(unknown, ptr)
		}
		return v.ValueString()
	}
	num := func(v types.Int64, ptr string) int64 {
		if v.IsUnknown() {
			unknown = append(unknown, ptr)
		}
		return v.ValueInt64()
	}
	flag := func(v types.Bool, ptr string) bool {
		if v.IsUnknown() {
			unknown = append(unknown, ptr)
		}
		return v.ValueBool()
	}
	in = api.RotationScheduleInput{
		Name:                        str(m.Name, "/name"),
		Description:                 str(m.Description, "/description"),
		TimeZone:                    str(m.TimeZone, "/time_zone"),
		WindowSeconds:               num(m.WindowSeconds, "/window_seconds"),
		JitterSeconds:               num(m.JitterSeconds, "/jitter_seconds"),
		MaxSecretAgeSeconds:         num(m.MaxSecretAgeSeconds, "/max_secret_age_seconds"),
		VerificationIntervalSeconds: num(m.VerificationIntervalSeconds, "/verification_interval_seconds"),
	}
	if !m.IntervalSeconds.IsNull() {
		v := num(m.IntervalSeconds, "/interval_seconds")
		in.IntervalSeconds = &v
	}
	if !m.Cron.IsNull() {
		v := str(m.Cron, "/cron")
		in.Cron = &v
	}
	switch {
	case m.PasswordPolicy.IsUnknown():
		unknown = append(unknown, "/password_policy")
	case !m.PasswordPolicy.IsNull():
		var pp passwordPolicyModel
		diags.Append(m.PasswordPolicy.As(ctx, &pp, objectAsOptions)...)
		in.PasswordPolicy = api.RotationPasswordPolicy{
			Length:           int(num(pp.Length, "/password_policy/length")),
			RequireLowercase: flag(pp.RequireLowercase, "/password_policy/require_lowercase"),
			RequireUppercase: flag(pp.RequireUppercase, "/password_policy/require_uppercase"),
			RequireDigits:    flag(pp.RequireDigits, "/password_policy/require_digits"),
			RequireSymbols:   flag(pp.RequireSymbols, "/password_policy/require_symbols"),
			ExcludeAmbiguous: flag(pp.ExcludeAmbiguous, "/password_policy/exclude_ambiguous"),
		}
		if !pp.Symbols.IsNull() {
			s := str(pp.Symbols, "/password_policy/symbols")
			in.PasswordPolicy.Symbols = &s
		}
	}
	switch {
	case m.Retry.IsUnknown():
		unknown = append(unknown, "/retry")
	case !m.Retry.IsNull():
		var r rotationRetryModel
		diags.Append(m.Retry.As(ctx, &r, objectAsOptions)...)
		in.Retry = api.RotationRetry{
			MaxAttempts:    int(num(r.MaxAttempts, "/retry/max_attempts")),
			BackoffSeconds: num(r.BackoffSeconds, "/retry/backoff_seconds"),
		}
	}
	if m.Labels.IsUnknown() {
		unknown = append(unknown, "/labels")
	} else {
		labels, d := mapFromModel(ctx, m.Labels)
		diags.Append(d...)
		in.Labels = labels
	}
	return in, unknown, diags
}

// planTimeScheduleViolations runs pamd's pure schedule validation on the
// configuration, dropping what depends on values not known yet and the
// "exactly one of interval_seconds and cron" rule, which the schema's own
// validator reports.
func planTimeScheduleViolations(in api.RotationScheduleInput, unknown []string, now time.Time) []api.Violation {
	if in.Name == "" || containsPointer(unknown, "/name") {
		in.Name = "placeholder" // the name is checked by its own validator
	}
	dependsOn := map[string][]string{
		// A cron is parsed in its zone; jitter is compared with the window
		// and the interval.
		"/cron":           {"/time_zone"},
		"/jitter_seconds": {"/window_seconds", "/interval_seconds"},
		"/time_zone":      {"/interval_seconds", "/cron"},
	}
	var out []api.Violation
	for _, v := range rotation.ValidateSchedule(in, now) {
		if (in.IntervalSeconds == nil) == (in.Cron == nil) &&
			(v.Pointer == "/cron" || v.Pointer == "/interval_seconds") && (v.Code == rotation.CodeConflict || v.Code == rotation.CodeRequired) {
			continue
		}
		skip := containsPointer(unknown, v.Pointer)
		for _, dep := range dependsOn[v.Pointer] {
			skip = skip || containsPointer(unknown, dep)
		}
		if !skip {
			out = append(out, v)
		}
	}
	return out
}

// containsPointer reports whether pointer is one of ptrs or lies below one.
func containsPointer(ptrs []string, pointer string) bool {
	for _, p := range ptrs {
		if pointer == p || strings.HasPrefix(pointer, p+"/") {
			return true
		}
	}
	return false
}
