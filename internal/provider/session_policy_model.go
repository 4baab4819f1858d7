package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/session"
)

// sessionPolicyModel is the Terraform shape of a session policy, shared by
// the pam_session_policy resource and data source. Attribute names are the
// JSON member names, so violation pointers (pamd's and internal/session's)
// map one to one.
type sessionPolicyModel struct {
	ID                                types.String `tfsdk:"id"`
	Name                              types.String `tfsdk:"name"`
	Description                       types.String `tfsdk:"description"`
	Protocols                         types.Set    `tfsdk:"protocols"`
	MaxSessionDurationSeconds         types.Int64  `tfsdk:"max_session_duration_seconds"`
	IdleTimeoutSeconds                types.Int64  `tfsdk:"idle_timeout_seconds"`
	MaxConcurrentSessionsPerPrincipal types.Int64  `tfsdk:"max_concurrent_sessions_per_principal"`
	TerminateOnAuthorizationEnd       types.Bool   `tfsdk:"terminate_on_authorization_end"`
	RequireMFA                        types.Bool   `tfsdk:"require_mfa"`
	MFAMaxAgeSeconds                  types.Int64  `tfsdk:"mfa_max_age_seconds"`
	RequireJustification              types.Bool   `tfsdk:"require_justification"`
	CredentialDelivery                types.String `tfsdk:"credential_delivery"`
	Recording                         types.Object `tfsdk:"recording"`
	CommandFilter                     types.Object `tfsdk:"command_filter"`
	FileTransfer                      types.Object `tfsdk:"file_transfer"`
	PortForwarding                    types.Bool   `tfsdk:"port_forwarding"`
	Labels                            types.Map    `tfsdk:"labels"`
	RequireElevation                  types.Object `tfsdk:"require_elevation"`
	Version                           types.Int64  `tfsdk:"version"`
	CreatedAt                         types.String `tfsdk:"created_at"`
	UpdatedAt                         types.String `tfsdk:"updated_at"`
}

type sessionRecordingModel struct {
	Enabled    types.Bool   `tfsdk:"enabled"`
	Mode       types.String `tfsdk:"mode"`
	RetainDays types.Int64  `tfsdk:"retain_days"`
}

type commandFilterModel struct {
	DefaultAction types.String `tfsdk:"default_action"`
	Rules         types.List   `tfsdk:"rules"`
}

type commandFilterRuleModel struct {
	Match       types.String `tfsdk:"match"`
	Pattern     types.String `tfsdk:"pattern"`
	Action      types.String `tfsdk:"action"`
	Description types.String `tfsdk:"description"`
}

type requireElevationModel struct {
	RoleID types.String `tfsdk:"role_id"`
	Scope  types.String `tfsdk:"scope"`
}

type fileTransferModel struct {
	Upload   types.Bool `tfsdk:"upload"`
	Download types.Bool `tfsdk:"download"`
}

var (
	sessionRecordingAttrTypes = map[string]attr.Type{
		"enabled":     types.BoolType,
		"mode":        types.StringType,
		"retain_days": types.Int64Type,
	}
	commandFilterRuleAttrTypes = map[string]attr.Type{
		"match":       types.StringType,
		"pattern":     types.StringType,
		"action":      types.StringType,
		"description": types.StringType,
	}
	commandFilterAttrTypes = map[string]attr.Type{
		"default_action": types.StringType,
		"rules":          types.ListType{ElemType: types.ObjectType{AttrTypes: commandFilterRuleAttrTypes}},
	}
	fileTransferAttrTypes = map[string]attr.Type{
		"upload":   types.BoolType,
		"download": types.BoolType,
	}
	requireElevationAttrTypes = map[string]attr.Type{
		"role_id": types.StringType,
		"scope":   types.StringType,
	}
)

// sessionPolicyPrefixPattern checks the shape of a policy id before any request.
var sessionPolicyPrefixPattern = regexp.MustCompile(`^` + api.PrefixSessionPolicy + `_[0-9A-Za-z]+$`)

// sessionPolicyPaths routes pamd's and internal/session's violations to attributes.
var sessionPolicyPaths = nestedPaths{
	"name":                                  leafPath(),
	"description":                           leafPath(),
	"protocols":                             setPath(),
	"max_session_duration_seconds":          leafPath(),
	"idle_timeout_seconds":                  leafPath(),
	"max_concurrent_sessions_per_principal": leafPath(),
	"terminate_on_authorization_end":        leafPath(),
	"require_mfa":                           leafPath(),
	"mfa_max_age_seconds":                   leafPath(),
	"require_justification":                 leafPath(),
	"credential_delivery":                   leafPath(),
	"recording":                             objectPath(nestedPaths{"enabled": leafPath(), "mode": leafPath(), "retain_days": leafPath()}),
	"command_filter": objectPath(nestedPaths{
		"default_action": leafPath(),
		"rules": listOfObjectsPath(nestedPaths{
			"match": leafPath(), "pattern": leafPath(), "action": leafPath(), "description": leafPath(),
		}),
	}),
	"file_transfer":     objectPath(nestedPaths{"upload": leafPath(), "download": leafPath()}),
	"port_forwarding":   leafPath(),
	"labels":            mapPath(),
	"require_elevation": objectPath(nestedPaths{"role_id": leafPath(), "scope": leafPath()}),
}

// sessionRecordingObject maps the recording block, showing pamd's defaults
// for values stored as "default" (empty or zero), so that the object always
// says what the gateway enforces.
func sessionRecordingObject(r api.SessionRecordingPolicy) (types.Object, diag.Diagnostics) {
	if r.Mode == "" {
		r.Mode = api.RecordingModeStrict
	}
	if r.RetainDays == 0 {
		r.RetainDays = api.DefaultRecordingRetainDays
	}
	return types.ObjectValue(sessionRecordingAttrTypes, map[string]attr.Value{
		"enabled":     types.BoolValue(r.Enabled),
		"mode":        types.StringValue(r.Mode),
		"retain_days": types.Int64Value(int64(r.RetainDays)),
	})
}

// commandFilterObject maps the command filter; rules keep pamd's order,
// which is the order of evaluation (first match wins).
func commandFilterObject(f api.CommandFilter) (types.Object, diag.Diagnostics) {
	var diags diag.Diagnostics
	if f.DefaultAction == "" {
		f.DefaultAction = api.CommandActionAllow
	}
	rules := make([]attr.Value, 0, len(f.Rules))
	for _, r := range f.Rules {
		o, d := types.ObjectValue(commandFilterRuleAttrTypes, map[string]attr.Value{
			"match":       types.StringValue(r.Match),
			"pattern":     types.StringValue(r.Pattern),
			"action":      types.StringValue(r.Action),
			"description": types.StringValue(r.Description),
		})
		diags.Append(d...)
		rules = append(rules, o)
	}
	list, d := types.ListValue(types.ObjectType{AttrTypes: commandFilterRuleAttrTypes}, rules)
	diags.Append(d...)
	o, d := types.ObjectValue(commandFilterAttrTypes, map[string]attr.Value{
		"default_action": types.StringValue(f.DefaultAction),
		"rules":          list,
	})
	diags.Append(d...)
	return o, diags
}

func fileTransferObject(f api.FileTransferPolicy) (types.Object, diag.Diagnostics) {
	return types.ObjectValue(fileTransferAttrTypes, map[string]attr.Value{
		"upload":   types.BoolValue(f.Upload),
		"download": types.BoolValue(f.Download),
	})
}

// requireElevationObject maps require_elevation; nil is a null object.
func requireElevationObject(r *api.SessionElevationRequirement) (types.Object, diag.Diagnostics) {
	if r == nil {
		return types.ObjectNull(requireElevationAttrTypes), nil
	}
	return types.ObjectValue(requireElevationAttrTypes, map[string]attr.Value{
		"role_id": types.StringValue(r.RoleID),
		"scope":   types.StringValue(r.Scope),
	})
}

// sessionPolicyToModel maps a policy from pamd to Terraform. pamd returns it
// normalised (session.NormalizePolicy); normalising again here is a no-op on
// such a policy and keeps an older or hand-written row from showing nulls.
func sessionPolicyToModel(p *api.SessionPolicy) (sessionPolicyModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	n := session.NormalizePolicy(p.SessionPolicyInput)

	protocols, d := types.SetValueFrom(context.Background(), types.StringType, n.Protocols)
	diags.Append(d...)
	recording, d := sessionRecordingObject(n.Recording)
	diags.Append(d...)
	filter, d := commandFilterObject(n.CommandFilter)
	diags.Append(d...)
	transfer, d := fileTransferObject(n.FileTransfer)
	diags.Append(d...)
	labels, d := stringMap(n.Labels)
	diags.Append(d...)
	elevation, d := requireElevationObject(n.RequireElevation)
	diags.Append(d...)

	return sessionPolicyModel{
		ID:                                types.StringValue(p.ID),
		Name:                              types.StringValue(n.Name),
		Description:                       types.StringValue(n.Description),
		Protocols:                         protocols,
		MaxSessionDurationSeconds:         types.Int64Value(n.MaxSessionDurationSeconds),
		IdleTimeoutSeconds:                types.Int64Value(n.IdleTimeoutSeconds),
		MaxConcurrentSessionsPerPrincipal: types.Int64Value(int64(n.MaxConcurrentSessionsPerPrincipal)),
		TerminateOnAuthorizationEnd:       types.BoolValue(n.TerminateOnAuthorizationEnd),
		RequireMFA:                        types.BoolValue(n.RequireMFA),
		MFAMaxAgeSeconds:                  types.Int64Value(n.MFAMaxAgeSeconds),
		RequireJustification:              types.BoolValue(n.RequireJustification),
		CredentialDelivery:                types.StringValue(n.CredentialDelivery),
		Recording:                         recording,
		CommandFilter:                     filter,
		FileTransfer:                      transfer,
		PortForwarding:                    types.BoolValue(n.PortForwarding),
		Labels:                            labels,
		RequireElevation:                  elevation,
		Version:                           types.Int64Value(p.Version),
		CreatedAt:                         timeValue(p.CreatedAt),
		UpdatedAt:                         timeValue(p.UpdatedAt),
	}, diags
}

// sessionPolicyInput maps a model to the body of POST/PUT. It is used for the
// plan (every value known) and, at validation, for the configuration, where
// null means "pamd's default" exactly as a zero value does on the wire.
// Unknown values are sent as zero; unknown reports their JSON pointers so
// that validation can ignore what it cannot judge yet. Rules keep their
// order; protocols are sorted, as pamd stores them.
func sessionPolicyInput(ctx context.Context, m sessionPolicyModel) (in api.SessionPolicyInput, unknown []string, diags diag.Diagnostics) {
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
	in = api.SessionPolicyInput{
		Name:                              str(m.Name, "/name"),
		Description:                       str(m.Description, "/description"),
		MaxSessionDurationSeconds:         num(m.MaxSessionDurationSeconds, "/max_session_duration_seconds"),
		IdleTimeoutSeconds:                num(m.IdleTimeoutSeconds, "/idle_timeout_seconds"),
		MaxConcurrentSessionsPerPrincipal: int(num(m.MaxConcurrentSessionsPerPrincipal, "/max_concurrent_sessions_per_principal")),
		TerminateOnAuthorizationEnd:       flag(m.TerminateOnAuthorizationEnd, "/terminate_on_authorization_end"),
		RequireMFA:                        flag(m.RequireMFA, "/require_mfa"),
		MFAMaxAgeSeconds:                  num(m.MFAMaxAgeSeconds, "/mfa_max_age_seconds"),
		RequireJustification:              flag(m.RequireJustification, "/require_justification"),
		CredentialDelivery:                str(m.CredentialDelivery, "/credential_delivery"),
		PortForwarding:                    flag(m.PortForwarding, "/port_forwarding"),
		CommandFilter:                     api.CommandFilter{Rules: []api.CommandFilterRule{}},
	}
	if !fullyKnown(ctx, m.Protocols) {
		unknown = append(unknown, "/protocols")
	} else if !m.Protocols.IsNull() {
		diags.Append(m.Protocols.ElementsAs(ctx, &in.Protocols, false)...)
		sort.Strings(in.Protocols)
	}
	switch {
	case m.Recording.IsUnknown():
		unknown = append(unknown, "/recording")
	case !m.Recording.IsNull():
		var r sessionRecordingModel
		diags.Append(m.Recording.As(ctx, &r, objectAsOptions)...)
		in.Recording = api.SessionRecordingPolicy{
			Enabled:    flag(r.Enabled, "/recording/enabled"),
			Mode:       str(r.Mode, "/recording/mode"),
			RetainDays: int(num(r.RetainDays, "/recording/retain_days")),
		}
	}
	switch {
	case m.CommandFilter.IsUnknown():
		unknown = append(unknown, "/command_filter")
	case !m.CommandFilter.IsNull():
		var f commandFilterModel
		diags.Append(m.CommandFilter.As(ctx, &f, objectAsOptions)...)
		in.CommandFilter.DefaultAction = str(f.DefaultAction, "/command_filter/default_action")
		switch {
		case f.Rules.IsUnknown():
			unknown = append(unknown, "/command_filter/rules")
		case !f.Rules.IsNull():
			var rules []commandFilterRuleModel
			diags.Append(f.Rules.ElementsAs(ctx, &rules, false)...)
			for i, r := range rules {
				base := "/command_filter/rules/" + strconv.Itoa(i)
				in.CommandFilter.Rules = append(in.CommandFilter.Rules, api.CommandFilterRule{
					Match:       str(r.Match, base+"/match"),
					Pattern:     str(r.Pattern, base+"/pattern"),
					Action:      str(r.Action, base+"/action"),
					Description: str(r.Description, base+"/description"),
				})
			}
		}
	}
	switch {
	case m.FileTransfer.IsUnknown():
		unknown = append(unknown, "/file_transfer")
	case !m.FileTransfer.IsNull():
		var f fileTransferModel
		diags.Append(m.FileTransfer.As(ctx, &f, objectAsOptions)...)
		in.FileTransfer = api.FileTransferPolicy{
			Upload:   flag(f.Upload, "/file_transfer/upload"),
			Download: flag(f.Download, "/file_transfer/download"),
		}
	}
	switch {
	case m.RequireElevation.IsUnknown():
		unknown = append(unknown, "/require_elevation")
	case !m.RequireElevation.IsNull():
		var r requireElevationModel
		diags.Append(m.RequireElevation.As(ctx, &r, objectAsOptions)...)
		in.RequireElevation = &api.SessionElevationRequirement{
			RoleID: str(r.RoleID, "/require_elevation/role_id"),
			Scope:  str(r.Scope, "/require_elevation/scope"),
		}
	}
	if !fullyKnown(ctx, m.Labels) {
		unknown = append(unknown, "/labels")
	} else {
		labels, d := mapFromModel(ctx, m.Labels)
		diags.Append(d...)
		in.Labels = labels
	}
	return in, unknown, diags
}

// planTimeSessionPolicyViolations runs internal/session's validation, the
// very function pamd runs, on the configuration, dropping what depends on
// values not known yet.
func planTimeSessionPolicyViolations(in api.SessionPolicyInput, unknown []string) []api.Violation {
	if containsPointer(unknown, "/name") {
		in.Name = "placeholder"
	}
	// Rules spanning attributes: the idle timeout is compared with the
	// maximum duration, the MFA age with require_mfa, a pattern is checked
	// according to its match kind.
	dependsOn := func(ptr string) []string {
		switch ptr {
		case "/idle_timeout_seconds":
			return []string{"/max_session_duration_seconds"}
		case "/mfa_max_age_seconds":
			return []string{"/require_mfa"}
		}
		if rest, ok := strings.CutSuffix(ptr, "/pattern"); ok {
			return []string{rest + "/match"}
		}
		return nil
	}
	var out []api.Violation
	for _, v := range session.ValidatePolicy(in) {
		skip := containsPointer(unknown, v.Pointer)
		for _, dep := range dependsOn(v.Pointer) {
			skip = skip || containsPointer(unknown, dep)
		}
		if !skip {
			out = append(out, v)
		}
	}
	return out
}

// zeroMeansDefaultViolations reports explicit values that pamd would replace
// by a default (a 0 duration, an empty enum, no protocols): the apply would
// store something other than the configuration says. Terraform's way of
// asking for the default is to leave the argument out.
func zeroMeansDefaultViolations(ctx context.Context, m sessionPolicyModel, diags *diag.Diagnostics) {
	zero := func(v types.Int64, at path.Path, dflt string) {
		if !v.IsNull() && !v.IsUnknown() && v.ValueInt64() == 0 {
			diags.AddAttributeError(at, "Invalid Attribute Value",
				fmt.Sprintf("pamd reads 0 as \"use the default\" (%s) and would store that instead of 0. "+
					"Leave %s out of the configuration to get the default, or set another value.", dflt, at))
		}
	}
	empty := func(v types.String, at path.Path, dflt string) {
		if !v.IsNull() && !v.IsUnknown() && v.ValueString() == "" {
			diags.AddAttributeError(at, "Invalid Attribute Value",
				fmt.Sprintf("pamd reads \"\" as \"use the default\" (%q) and would store that instead. "+
					"Leave %s out of the configuration to get the default, or set a value.", dflt, at))
		}
	}
	zero(m.MaxSessionDurationSeconds, path.Root("max_session_duration_seconds"), strconv.Itoa(api.DefaultSessionDurationSeconds))
	if !m.RequireMFA.IsUnknown() && m.RequireMFA.ValueBool() {
		zero(m.MFAMaxAgeSeconds, path.Root("mfa_max_age_seconds"), strconv.Itoa(api.DefaultSessionMFAMaxAgeSeconds))
	}
	empty(m.CredentialDelivery, path.Root("credential_delivery"), api.CredentialDeliveryInjected)
	if !m.Protocols.IsNull() && !m.Protocols.IsUnknown() && len(m.Protocols.Elements()) == 0 {
		diags.AddAttributeError(path.Root("protocols"), "Invalid Attribute Value",
			fmt.Sprintf("pamd reads an empty protocols set as [%q] and would store that instead. "+
				"Leave protocols out of the configuration to get the default, or name at least one protocol.", api.SessionProtocolSSH))
	}
	if !m.Recording.IsNull() && !m.Recording.IsUnknown() {
		var r sessionRecordingModel
		diags.Append(m.Recording.As(ctx, &r, objectAsOptions)...)
		empty(r.Mode, path.Root("recording").AtName("mode"), api.RecordingModeStrict)
		zero(r.RetainDays, path.Root("recording").AtName("retain_days"), strconv.Itoa(api.DefaultRecordingRetainDays))
	}
	if !m.CommandFilter.IsNull() && !m.CommandFilter.IsUnknown() {
		var f commandFilterModel
		diags.Append(m.CommandFilter.As(ctx, &f, objectAsOptions)...)
		empty(f.DefaultAction, path.Root("command_filter").AtName("default_action"), api.CommandActionAllow)
	}
}
