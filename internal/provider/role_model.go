package provider

import (
	"context"
	"regexp"
	"sort"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// roleModel is the Terraform shape of a role, shared by the pam_role resource
// and data source so that both expose exactly the same fields.
type roleModel struct {
	ID               types.String `tfsdk:"id"`
	Name             types.String `tfsdk:"name"`
	Description      types.String `tfsdk:"description"`
	AssignableScopes types.Set    `tfsdk:"assignable_scopes"`
	Labels           types.Map    `tfsdk:"labels"`
	Version          types.Int64  `tfsdk:"version"`
	CreatedAt        types.String `tfsdk:"created_at"`
	UpdatedAt        types.String `tfsdk:"updated_at"`
}

// rootScope is what pamd stores when a role has no assignable scopes.
const rootScope = "/"

// roleAttributePaths routes server violations to role attributes.
var roleAttributePaths = attributePaths{
	"name":              pointerScalar,
	"description":       pointerScalar,
	"assignable_scopes": pointerScalar, // a set: elements have no stable index
	"labels":            pointerMap,
}

// roleToModel maps a role from pamd to Terraform. Empty collections become the
// same values as the schema defaults (["/"] and {}), so a role that pamd
// returns with null or empty fields never shows a perpetual diff.
func roleToModel(r *api.Role) (roleModel, diag.Diagnostics) {
	var diags diag.Diagnostics

	scopes := append([]string(nil), r.AssignableScopes...)
	if len(scopes) == 0 {
		scopes = []string{rootScope}
	}
	sort.Strings(scopes)
	scopeValues := make([]attr.Value, 0, len(scopes))
	for _, s := range scopes {
		scopeValues = append(scopeValues, types.StringValue(s))
	}
	scopeSet, d := types.SetValue(types.StringType, scopeValues)
	diags.Append(d...)

	labelValues := make(map[string]attr.Value, len(r.Labels))
	for k, v := range r.Labels {
		labelValues[k] = types.StringValue(v)
	}
	labels, d := types.MapValue(types.StringType, labelValues)
	diags.Append(d...)

	return roleModel{
		ID:               types.StringValue(r.ID),
		Name:             types.StringValue(r.Name),
		Description:      types.StringValue(r.Description),
		AssignableScopes: scopeSet,
		Labels:           labels,
		Version:          types.Int64Value(r.Version),
		CreatedAt:        timeValue(r.CreatedAt),
		UpdatedAt:        timeValue(r.UpdatedAt),
	}, diags
}

// roleInputFromModel maps the planned role to the body of POST/PUT. Null
// collections (possible only if a default were removed) are sent as the
// server's own defaults rather than null.
func roleInputFromModel(ctx context.Context, m roleModel) (api.RoleInput, diag.Diagnostics) {
	var diags diag.Diagnostics
	in := api.RoleInput{
		Name:             m.Name.ValueString(),
		Description:      m.Description.ValueString(),
		AssignableScopes: []string{},
		Labels:           map[string]string{},
	}
	if !m.AssignableScopes.IsNull() && !m.AssignableScopes.IsUnknown() {
		diags.Append(m.AssignableScopes.ElementsAs(ctx, &in.AssignableScopes, false)...)
		sort.Strings(in.AssignableScopes)
	}
	if len(in.AssignableScopes) == 0 {
		in.AssignableScopes = []string{rootScope}
	}
	if !m.Labels.IsNull() && !m.Labels.IsUnknown() {
		diags.Append(m.Labels.ElementsAs(ctx, &in.Labels, false)...)
	}
	return in, diags
}

// timeValue renders a timestamp as RFC 3339 UTC; the zero time (a field the
// server did not send) becomes null rather than "0001-01-01T00:00:00Z".
func timeValue(t time.Time) types.String {
	if t.IsZero() {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339))
}

// rolePrefixPattern checks the shape of a role id before any request, so a
// pasted id of another type fails at plan time.
var rolePrefixPattern = regexp.MustCompile(`^` + api.PrefixRole + `_[0-9A-Za-z]+$`)

// roleResourceModel is the pam_role resource: the shared role fields plus
// the webhook blocks, which only the resource has (their secrets are
// write-only and there is nothing to show of them in the data source).
type roleResourceModel struct {
	roleModel
	Webhooks types.List `tfsdk:"webhook"`
}

// roleWebhookModel is one webhook block. SecretWO is write-only: it is read
// from the configuration during apply and is always null in plan and state.
type roleWebhookModel struct {
	URL             types.String `tfsdk:"url"`
	SecretWO        types.String `tfsdk:"secret_wo"`
	SecretWOVersion types.Int64  `tfsdk:"secret_wo_version"`
}

var roleWebhookAttrTypes = map[string]attr.Type{
	"url":               types.StringType,
	"secret_wo":         types.StringType,
	"secret_wo_version": types.Int64Type,
}

var roleWebhookObjectType = types.ObjectType{AttrTypes: roleWebhookAttrTypes}

// webhooksToList maps the targets pamd returns (never with a secret) to the
// webhook blocks: secret_wo null, secret_wo_version null when pamd holds none
// (0), so that a block without secret_wo_version reads back unchanged.
func webhooksToList(hooks []api.RoleWebhook) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	elems := make([]attr.Value, 0, len(hooks))
	for _, h := range hooks {
		version := types.Int64Null()
		if h.SecretVersion != 0 {
			version = types.Int64Value(h.SecretVersion)
		}
		obj, d := types.ObjectValue(roleWebhookAttrTypes, map[string]attr.Value{
			"url":               types.StringValue(h.URL),
			"secret_wo":         types.StringNull(),
			"secret_wo_version": version,
		})
		diags.Append(d...)
		elems = append(elems, obj)
	}
	list, d := types.ListValue(roleWebhookObjectType, elems)
	diags.Append(d...)
	return list, diags
}

// webhooksFromConfig maps the configured webhook blocks to the request body.
// It must be given the configuration, not the plan: only the configuration
// holds secret_wo. A null secret is omitted, which makes pamd keep the
// secret it holds for the same URL.
func webhooksFromConfig(ctx context.Context, list types.List) ([]api.RoleWebhook, diag.Diagnostics) {
	if list.IsNull() || list.IsUnknown() {
		return nil, nil
	}
	var blocks []roleWebhookModel
	diags := list.ElementsAs(ctx, &blocks, false)
	if diags.HasError() {
		return nil, diags
	}
	out := make([]api.RoleWebhook, 0, len(blocks))
	for _, b := range blocks {
		out = append(out, api.RoleWebhook{URL: b.URL.ValueString(), Secret: b.SecretWO.ValueString(), SecretVersion: b.SecretWOVersion.ValueInt64()})
	}
	return out, diags
}

// roleResourceToModel maps a role from pamd to the resource's state.
func roleResourceToModel(r *api.Role) (roleResourceModel, diag.Diagnostics) {
	base, diags := roleToModel(r)
	hooks, d := webhooksToList(r.Webhooks)
	diags.Append(d...)
	return roleResourceModel{roleModel: base, Webhooks: hooks}, diags
}

// roleResourceInput maps plan (every ordinary attribute) and configuration
// (the webhook blocks with their write-only secrets) to the body of POST/PUT.
func roleResourceInput(ctx context.Context, plan, config roleResourceModel) (api.RoleInput, diag.Diagnostics) {
	in, diags := roleInputFromModel(ctx, plan.roleModel)
	hooks, d := webhooksFromConfig(ctx, config.Webhooks)
	diags.Append(d...)
	in.Webhooks = hooks
	return in, diags
}
