package provider

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// safeModel is the Terraform shape of a safe, shared by the pam_safe
// resource and data source.
type safeModel struct {
	ID                        types.String `tfsdk:"id"`
	Name                      types.String `tfsdk:"name"`
	Description               types.String `tfsdk:"description"`
	DefaultRotationScheduleID types.String `tfsdk:"default_rotation_schedule_id"`
	DefaultSessionPolicyID    types.String `tfsdk:"default_session_policy_id"`
	Members                   types.Set    `tfsdk:"members"`
	Labels                    types.Map    `tfsdk:"labels"`
	AccountCount              types.Int64  `tfsdk:"account_count"`
	Version                   types.Int64  `tfsdk:"version"`
	CreatedAt                 types.String `tfsdk:"created_at"`
	UpdatedAt                 types.String `tfsdk:"updated_at"`
}

// safeMemberModel is one element of members.
type safeMemberModel struct {
	PrincipalType types.String `tfsdk:"principal_type"`
	PrincipalID   types.String `tfsdk:"principal_id"`
	Permissions   types.Set    `tfsdk:"permissions"`
}

var safeMemberAttrTypes = map[string]attr.Type{
	"principal_type": types.StringType,
	"principal_id":   types.StringType,
	"permissions":    types.SetType{ElemType: types.StringType},
}

var safeMemberObjectType = types.ObjectType{AttrTypes: safeMemberAttrTypes}

// safePaths routes server violations to safe attributes. Members are a set,
// so a violation inside one stops at the set.
var safePaths = nestedPaths{
	"name":                         leafPath(),
	"description":                  leafPath(),
	"default_rotation_schedule_id": leafPath(),
	"default_session_policy_id":    leafPath(),
	"members":                      setPath(),
	"labels":                       mapPath(),
}

var safePrefixPattern = regexp.MustCompile(`^` + api.PrefixSafe + `_[0-9A-Za-z]+$`)

// Shapes pamd accepts for references to other objects and for principal ids.
var (
	objectIDPattern    = regexp.MustCompile(`^[^\s/]+$`)
	principalIDPattern = regexp.MustCompile(`^[^\s:]+$`)
)

// optionalString maps "" (the server's "none") to null, for optional
// attributes whose validators refuse the empty string.
func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// stringMap maps labels to a Terraform map; nil becomes an empty map, the
// schema default.
func stringMap(m map[string]string) (types.Map, diag.Diagnostics) {
	values := make(map[string]attr.Value, len(m))
	for k, v := range m {
		values[k] = types.StringValue(v)
	}
	return types.MapValue(types.StringType, values)
}

// mapFromModel reads a known map into Go; null or unknown gives an empty map.
func mapFromModel(ctx context.Context, m types.Map) (map[string]string, diag.Diagnostics) {
	out := map[string]string{}
	if m.IsNull() || m.IsUnknown() {
		return out, nil
	}
	diags := m.ElementsAs(ctx, &out, false)
	return out, diags
}

// safeToModel maps a safe from pamd to Terraform.
func safeToModel(s *api.Safe) (safeModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	members := make([]attr.Value, 0, len(s.Members))
	for _, m := range s.Members {
		perms := make([]attr.Value, 0, len(m.Permissions))
		for _, p := range m.Permissions {
			perms = append(perms, types.StringValue(p))
		}
		permSet, d := types.SetValue(types.StringType, perms)
		diags.Append(d...)
		obj, d := types.ObjectValue(safeMemberAttrTypes, map[string]attr.Value{
			"principal_type": types.StringValue(m.PrincipalType),
			"principal_id":   types.StringValue(m.PrincipalID),
			"permissions":    permSet,
		})
		diags.Append(d...)
		members = append(members, obj)
	}
	memberSet, d := types.SetValue(safeMemberObjectType, members)
	diags.Append(d...)
	labels, d := stringMap(s.Labels)
	diags.Append(d...)
	return safeModel{
		ID:                        types.StringValue(s.ID),
		Name:                      types.StringValue(s.Name),
		Description:               types.StringValue(s.Description),
		DefaultRotationScheduleID: optionalString(s.DefaultRotationScheduleID),
		DefaultSessionPolicyID:    optionalString(s.DefaultSessionPolicyID),
		Members:                   memberSet,
		Labels:                    labels,
		AccountCount:              types.Int64Value(int64(s.AccountCount)),
		Version:                   types.Int64Value(s.Version),
		CreatedAt:                 timeValue(s.CreatedAt),
		UpdatedAt:                 timeValue(s.UpdatedAt),
	}, diags
}

// safeInputFromModel maps the planned safe to the body of POST/PUT. Members
// are sent in the order pamd stores them, so that identical plans make
// identical bodies (and idempotent retries match).
func safeInputFromModel(ctx context.Context, m safeModel) (api.SafeInput, diag.Diagnostics) {
	var diags diag.Diagnostics
	in := api.SafeInput{
		Name:                      m.Name.ValueString(),
		Description:               m.Description.ValueString(),
		DefaultRotationScheduleID: m.DefaultRotationScheduleID.ValueString(),
		DefaultSessionPolicyID:    m.DefaultSessionPolicyID.ValueString(),
		Members:                   []api.SafeMember{},
	}
	if !m.Members.IsNull() && !m.Members.IsUnknown() {
		var members []safeMemberModel
		diags.Append(m.Members.ElementsAs(ctx, &members, false)...)
		for _, mm := range members {
			perms := []string{}
			if !mm.Permissions.IsNull() && !mm.Permissions.IsUnknown() {
				diags.Append(mm.Permissions.ElementsAs(ctx, &perms, false)...)
			}
			slices.Sort(perms)
			in.Members = append(in.Members, api.SafeMember{
				PrincipalType: mm.PrincipalType.ValueString(),
				PrincipalID:   mm.PrincipalID.ValueString(),
				Permissions:   perms,
			})
		}
		slices.SortFunc(in.Members, func(a, b api.SafeMember) int {
			return strings.Compare(a.PrincipalType+"\x00"+a.PrincipalID, b.PrincipalType+"\x00"+b.PrincipalID)
		})
	}
	labels, d := mapFromModel(ctx, m.Labels)
	diags.Append(d...)
	in.Labels = labels
	return in, diags
}
