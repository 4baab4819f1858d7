package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
)

// eligibleRoleAssignmentModel is the Terraform shape of pam_eligible_role_assignment.
type eligibleRoleAssignmentModel struct {
	ID                   types.String      `tfsdk:"id"`
	PrincipalType        types.String      `tfsdk:"principal_type"`
	PrincipalID          types.String      `tfsdk:"principal_id"`
	RoleID               types.String      `tfsdk:"role_id"`
	Scope                types.String      `tfsdk:"scope"`
	ActivationPolicyID   types.String      `tfsdk:"activation_policy_id"`
	StartsAt             timetypes.RFC3339 `tfsdk:"starts_at"`
	EndsAt               timetypes.RFC3339 `tfsdk:"ends_at"`
	Justification        types.String      `tfsdk:"justification"`
	Ticket               types.Object      `tfsdk:"ticket"`
	Labels               types.Map         `tfsdk:"labels"`
	ForceDestroy         types.Bool        `tfsdk:"force_destroy"`
	Status               types.String      `tfsdk:"status"`
	ActiveElevationCount types.Int64       `tfsdk:"active_elevation_count"`
	Version              types.Int64       `tfsdk:"version"`
	CreatedAt            types.String      `tfsdk:"created_at"`
	UpdatedAt            types.String      `tfsdk:"updated_at"`
}

type ticketModel struct {
	System types.String `tfsdk:"system"`
	Number types.String `tfsdk:"number"`
}

var ticketAttrTypes = map[string]attr.Type{
	"system": types.StringType,
	"number": types.StringType,
}

// eligibleRoleAssignmentPaths routes violations to attributes.
var eligibleRoleAssignmentPaths = nestedPaths{
	"principal_type":       leafPath(),
	"principal_id":         leafPath(),
	"role_id":              leafPath(),
	"scope":                leafPath(),
	"activation_policy_id": leafPath(),
	"starts_at":            leafPath(),
	"ends_at":              leafPath(),
	"justification":        leafPath(),
	"ticket":               objectPath(nestedPaths{"system": leafPath(), "number": leafPath()}),
	"labels":               mapPath(),
}

var eligibleRoleAssignmentPrefixPattern = regexp.MustCompile(`^` + api.PrefixEligibleRoleAssignment + `_[0-9A-Za-z]+$`)

// eligibilityToModel maps an eligibility from pamd. prior is the plan or state
// it replaces: it supplies force_destroy (not a pamd field) and the spelling of
// starts_at and ends_at, which is kept when it names the same instant, so
// "2026-01-01T02:00:00+02:00" in the configuration never diffs against the
// UTC form pamd returns.
func eligibilityToModel(e *api.EligibleRoleAssignment, prior eligibleRoleAssignmentModel) (eligibleRoleAssignmentModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	ticket, d := ticketToObject(e.Ticket)
	diags.Append(d...)
	labels, d := labelsValue(e.Labels)
	diags.Append(d...)
	force := prior.ForceDestroy
	if force.IsNull() || force.IsUnknown() {
		force = types.BoolValue(false)
	}
	return eligibleRoleAssignmentModel{
		ID:                   types.StringValue(e.ID),
		PrincipalType:        types.StringValue(e.PrincipalType),
		PrincipalID:          types.StringValue(e.PrincipalID),
		RoleID:               types.StringValue(e.RoleID),
		Scope:                types.StringValue(e.Scope),
		ActivationPolicyID:   types.StringValue(e.ActivationPolicyID),
		StartsAt:             keepTimeSpelling(prior.StartsAt, e.StartsAt),
		EndsAt:               keepTimeSpelling(prior.EndsAt, e.EndsAt),
		Justification:        types.StringValue(e.Justification),
		Ticket:               ticket,
		Labels:               labels,
		ForceDestroy:         force,
		Status:               types.StringValue(e.Status),
		ActiveElevationCount: types.Int64Value(int64(e.ActiveElevationCount)),
		Version:              types.Int64Value(e.Version),
		CreatedAt:            timeValue(e.CreatedAt),
		UpdatedAt:            timeValue(e.UpdatedAt),
	}, diags
}

func ticketToObject(t *api.Ticket) (types.Object, diag.Diagnostics) {
	if t == nil {
		return types.ObjectNull(ticketAttrTypes), nil
	}
	return types.ObjectValue(ticketAttrTypes, map[string]attr.Value{
		"system": types.StringValue(t.System),
		"number": types.StringValue(t.Number),
	})
}

func ticketFromObject(ctx context.Context, o types.Object) (*api.Ticket, diag.Diagnostics) {
	if o.IsNull() || o.IsUnknown() {
		return nil, nil
	}
	var tm ticketModel
	diags := o.As(ctx, &tm, objectAsOptions)
	return &api.Ticket{System: tm.System.ValueString(), Number: tm.Number.ValueString()}, diags
}

// keepTimeSpelling returns prior when it denotes the instant t, else t in UTC.
func keepTimeSpelling(prior timetypes.RFC3339, t *time.Time) timetypes.RFC3339 {
	if t == nil {
		return timetypes.NewRFC3339Null()
	}
	if !prior.IsNull() && !prior.IsUnknown() {
		if pt, err := time.Parse(time.RFC3339, prior.ValueString()); err == nil && pt.Equal(*t) {
			return prior
		}
	}
	return timetypes.NewRFC3339TimeValue(t.UTC())
}

func timePointer(v timetypes.RFC3339) (*time.Time, diag.Diagnostics) {
	if v.IsNull() || v.IsUnknown() {
		return nil, nil
	}
	t, diags := v.ValueRFC3339Time()
	if diags.HasError() {
		return nil, diags
	}
	return &t, diags
}

// eligibilityInputFromModel maps a plan to the body of POST/PUT.
func eligibilityInputFromModel(ctx context.Context, m eligibleRoleAssignmentModel) (api.EligibleRoleAssignmentInput, diag.Diagnostics) {
	var diags diag.Diagnostics
	in := api.EligibleRoleAssignmentInput{
		PrincipalType:      m.PrincipalType.ValueString(),
		PrincipalID:        m.PrincipalID.ValueString(),
		RoleID:             m.RoleID.ValueString(),
		Scope:              m.Scope.ValueString(),
		ActivationPolicyID: m.ActivationPolicyID.ValueString(),
		Justification:      m.Justification.ValueString(),
		Labels:             map[string]string{},
	}
	var d diag.Diagnostics
	in.StartsAt, d = timePointer(m.StartsAt)
	diags.Append(d...)
	in.EndsAt, d = timePointer(m.EndsAt)
	diags.Append(d...)
	in.Ticket, d = ticketFromObject(ctx, m.Ticket)
	diags.Append(d...)
	if !m.Labels.IsNull() && !m.Labels.IsUnknown() {
		diags.Append(m.Labels.ElementsAs(ctx, &in.Labels, false)...)
	}
	return in, diags
}

// sameEligibilityInput reports whether a and b store the same eligibility,
// comparing the forms pamd stores (UTC, whole seconds).
func sameEligibilityInput(a, b api.EligibleRoleAssignmentInput) bool {
	ja, errA := json.Marshal(pim.NormalizeEligibilityInput(a))
	jb, errB := json.Marshal(pim.NormalizeEligibilityInput(b))
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// validateEligibilityConfig runs internal/pim's checks of an eligibility that
// need nothing but the request (the same function pamd runs), with unknown
// values replaced by valid placeholders whose own checks are then dropped.
// The checks that need the role and policy run on pamd in ModifyPlan.
func validateEligibilityConfig(ctx context.Context, cfg eligibleRoleAssignmentModel, diags *diag.Diagnostics) {
	for _, t := range []struct {
		name string
		v    timetypes.RFC3339
	}{{"starts_at", cfg.StartsAt}, {"ends_at", cfg.EndsAt}} {
		if t.v.IsNull() || t.v.IsUnknown() {
			continue
		}
		if parsed, err := time.Parse(time.RFC3339, t.v.ValueString()); err == nil && parsed.Nanosecond() != 0 {
			diags.AddAttributeError(path.Root(t.name), "Invalid Attribute Value",
				fmt.Sprintf("pamd stores %s in whole seconds and would drop the fraction of %q, which Terraform would then see as a change. "+
					"Remove the fractional seconds.", t.name, t.v.ValueString()))
		}
	}
	if diags.HasError() {
		return
	}

	var unknown []string
	placeholder := func(v types.String, pointer, value string) types.String {
		if v.IsUnknown() {
			unknown = append(unknown, pointer)
			return types.StringValue(value)
		}
		return v
	}
	cfg.PrincipalType = placeholder(cfg.PrincipalType, "/principal_type", api.PrincipalTypeUser)
	cfg.PrincipalID = placeholder(cfg.PrincipalID, "/principal_id", "placeholder")
	cfg.RoleID = placeholder(cfg.RoleID, "/role_id", api.PrefixRole+"_placeholder")
	cfg.Scope = placeholder(cfg.Scope, "/scope", rootScope)
	cfg.ActivationPolicyID = placeholder(cfg.ActivationPolicyID, "/activation_policy_id", api.PrefixActivationPolicy+"_placeholder")
	cfg.Justification = placeholder(cfg.Justification, "/justification", "")
	if cfg.StartsAt.IsUnknown() {
		cfg.StartsAt, unknown = timetypes.NewRFC3339Null(), append(unknown, "/starts_at", "/ends_at")
	}
	if cfg.EndsAt.IsUnknown() {
		cfg.EndsAt, unknown = timetypes.NewRFC3339Null(), append(unknown, "/ends_at")
	}
	if !fullyKnown(ctx, cfg.Ticket) {
		cfg.Ticket, unknown = types.ObjectNull(ticketAttrTypes), append(unknown, "/ticket")
	}
	if !fullyKnown(ctx, cfg.Labels) {
		cfg.Labels, unknown = types.MapNull(types.StringType), append(unknown, "/labels")
	}
	in, d := eligibilityInputFromModel(ctx, cfg)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	var vs []api.Violation
	for _, v := range pim.ValidateEligibilityInput(in) {
		if !slices.ContainsFunc(unknown, func(p string) bool { return v.Pointer == p || strings.HasPrefix(v.Pointer, p+"/") }) {
			vs = append(vs, v)
		}
	}
	addViolations(diags, eligibleRoleAssignmentPaths, "Invalid Eligible Role Assignment", "pamd would reject this value", vs)
}

// eligibilityKey is the natural key of an eligible role assignment, unique in
// pamd: principal, role and scope.
type eligibilityKey struct {
	PrincipalType, PrincipalID, RoleID, Scope string
}

// String renders the key as an import id: type/id/role followed by the scope,
// whose leading slash doubles as the separator ("user/alice/role_01ABC/orgs/acme";
// the root scope gives "user/alice/role_01ABC/").
func (k eligibilityKey) String() string {
	return k.PrincipalType + "/" + k.PrincipalID + "/" + k.RoleID + k.Scope
}

const eligibilityKeyFormat = "<principal_type>/<principal_id>/<role_id>/<scope without its leading slash>, " +
	"for example user/alice/role_01JB8X4M0Q3K7Z9V6W2D5R1T8N/orgs/acme/projects/payments, " +
	"or user/alice/role_01JB8X4M0Q3K7Z9V6W2D5R1T8N/ for the root scope"

// parseEligibilityKey parses an import id written as eligibilityKey.String
// does. The scope may also keep its own leading slash
// ("group/dba/role_01ABC//orgs/acme", the form in the API design notes).
// Principal ids cannot contain "/" in this form; import those by id.
func parseEligibilityKey(s string) (eligibilityKey, error) {
	parts := strings.SplitN(s, "/", 4)
	if len(parts) != 4 {
		return eligibilityKey{}, fmt.Errorf("%q has %d part(s); expected %s", s, len(parts), eligibilityKeyFormat)
	}
	k := eligibilityKey{PrincipalType: parts[0], PrincipalID: parts[1], RoleID: parts[2], Scope: parts[3]}
	if !strings.HasPrefix(k.Scope, "/") {
		k.Scope = "/" + k.Scope
	}
	switch {
	case !slices.Contains(api.PrincipalTypes, k.PrincipalType):
		return eligibilityKey{}, fmt.Errorf("principal type %q in %q is not one of %s", k.PrincipalType, s, strings.Join(api.PrincipalTypes, ", "))
	case strings.TrimSpace(k.PrincipalID) == "":
		return eligibilityKey{}, fmt.Errorf("%q has an empty principal id; expected %s", s, eligibilityKeyFormat)
	case strings.TrimSpace(k.RoleID) == "":
		return eligibilityKey{}, fmt.Errorf("%q has an empty role id; expected %s", s, eligibilityKeyFormat)
	case !api.ScopePattern.MatchString(k.Scope):
		return eligibilityKey{}, fmt.Errorf("scope %q in %q is not valid: %s", k.Scope, s, api.ScopeRule)
	}
	return k, nil
}
