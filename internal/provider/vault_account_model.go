package provider

import (
	"context"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// vaultAccountModel is the Terraform shape of a vault account shared by the
// resource and the data source: everything pamd returns, never a secret.
type vaultAccountModel struct {
	ID                     types.String `tfsdk:"id"`
	SafeID                 types.String `tfsdk:"safe_id"`
	Name                   types.String `tfsdk:"name"`
	Platform               types.String `tfsdk:"platform"`
	Address                types.String `tfsdk:"address"`
	Port                   types.Int64  `tfsdk:"port"`
	Username               types.String `tfsdk:"username"`
	SecretType             types.String `tfsdk:"secret_type"`
	ManagementMode         types.String `tfsdk:"management_mode"`
	RotationScheduleID     types.String `tfsdk:"rotation_schedule_id"`
	SessionPolicyID        types.String `tfsdk:"session_policy_id"`
	CheckoutPolicy         types.Object `tfsdk:"checkout_policy"`
	Labels                 types.Map    `tfsdk:"labels"`
	HostKeys               types.List   `tfsdk:"host_keys"`
	SecretVersion          types.Int64  `tfsdk:"secret_version"`
	SecretUpdatedAt        types.String `tfsdk:"secret_updated_at"`
	CheckedOutBy           types.String `tfsdk:"checked_out_by"`
	CheckoutID             types.String `tfsdk:"checkout_id"`
	CheckoutExpiresAt      types.String `tfsdk:"checkout_expires_at"`
	NextRotationAt         types.String `tfsdk:"next_rotation_at"`
	LastRotationAt         types.String `tfsdk:"last_rotation_at"`
	LastRotationResult     types.String `tfsdk:"last_rotation_result"`
	LastVerificationAt     types.String `tfsdk:"last_verification_at"`
	LastVerificationResult types.String `tfsdk:"last_verification_result"`
	StatusNote             types.String `tfsdk:"status_note"`
	LastHostKey            types.String `tfsdk:"last_host_key"`
	LastHostKeyFingerprint types.String `tfsdk:"last_host_key_fingerprint"`
	Version                types.Int64  `tfsdk:"version"`
	CreatedAt              types.String `tfsdk:"created_at"`
	UpdatedAt              types.String `tfsdk:"updated_at"`
}

// vaultAccountResourceModel adds the write-only secret and its version
// trigger, which only the resource has.
type vaultAccountResourceModel struct {
	vaultAccountModel
	// SecretWO is write-only: read from the configuration during apply,
	// always null in plan and state.
	SecretWO        types.String `tfsdk:"secret_wo"`
	SecretWOVersion types.Int64  `tfsdk:"secret_wo_version"`
}

// checkoutPolicyModel is the checkout_policy object.
type checkoutPolicyModel struct {
	Exclusive              types.Bool  `tfsdk:"exclusive"`
	DefaultDurationSeconds types.Int64 `tfsdk:"default_duration_seconds"`
	MaxDurationSeconds     types.Int64 `tfsdk:"max_duration_seconds"`
	RotateOnCheckin        types.Bool  `tfsdk:"rotate_on_checkin"`
	AllowRetrieve          types.Bool  `tfsdk:"allow_retrieve"`
	RequireJustification   types.Bool  `tfsdk:"require_justification"`
}

var checkoutPolicyAttrTypes = map[string]attr.Type{
	"exclusive":                types.BoolType,
	"default_duration_seconds": types.Int64Type,
	"max_duration_seconds":     types.Int64Type,
	"rotate_on_checkin":        types.BoolType,
	"allow_retrieve":           types.BoolType,
	"require_justification":    types.BoolType,
}

// defaultCheckoutPolicy is what pamd stores for an account sent without a
// checkout policy (every member zero, durations normalised).
func defaultCheckoutPolicy() types.Object {
	return types.ObjectValueMust(checkoutPolicyAttrTypes, map[string]attr.Value{
		"exclusive":                types.BoolValue(false),
		"default_duration_seconds": types.Int64Value(min(api.DefaultCheckoutDurationSeconds, api.DefaultCheckoutMaxSeconds)),
		"max_duration_seconds":     types.Int64Value(api.DefaultCheckoutMaxSeconds),
		"rotate_on_checkin":        types.BoolValue(false),
		"allow_retrieve":           types.BoolValue(false),
		"require_justification":    types.BoolValue(false),
	})
}

// vaultAccountPaths routes server violations to account attributes.
var vaultAccountPaths = renamedPaths{
	rename: map[string]string{"secret": "secret_wo"},
	paths: nestedPaths{
		"name":                 leafPath(),
		"safe_id":              leafPath(),
		"platform":             leafPath(),
		"address":              leafPath(),
		"port":                 leafPath(),
		"username":             leafPath(),
		"secret_type":          leafPath(),
		"secret_wo":            leafPath(),
		"management_mode":      leafPath(),
		"rotation_schedule_id": leafPath(),
		"session_policy_id":    leafPath(),
		"checkout_policy": objectPath(nestedPaths{
			"exclusive": leafPath(), "default_duration_seconds": leafPath(), "max_duration_seconds": leafPath(),
			"rotate_on_checkin": leafPath(), "allow_retrieve": leafPath(), "require_justification": leafPath(),
		}),
		"labels":    mapPath(),
		"host_keys": listPath(),
	},
}

var vaultAccountPrefixPattern = regexp.MustCompile(`^` + api.PrefixVaultAccount + `_[0-9A-Za-z]+$`)

// Shapes pamd accepts for an address (empty allowed: required is checked per
// platform) and a username.
var (
	addressPattern    = regexp.MustCompile(`^[^\s/]*$`)
	singleLinePattern = regexp.MustCompile(`^[^\r\n\x00]*$`)
)

func timeValuePtr(t *time.Time) types.String {
	if t == nil || t.IsZero() {
		return types.StringNull()
	}
	return timeValue(*t)
}

// vaultAccountToModel maps an account from pamd to Terraform. Status values
// are flattened; "none" (empty strings, zero port, null times) becomes null.
func vaultAccountToModel(a *api.VaultAccount) (vaultAccountModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	cp := a.CheckoutPolicy
	policy, d := types.ObjectValue(checkoutPolicyAttrTypes, map[string]attr.Value{
		"exclusive":                types.BoolValue(cp.Exclusive),
		"default_duration_seconds": types.Int64Value(cp.DefaultDurationSeconds),
		"max_duration_seconds":     types.Int64Value(cp.MaxDurationSeconds),
		"rotate_on_checkin":        types.BoolValue(cp.RotateOnCheckin),
		"allow_retrieve":           types.BoolValue(cp.AllowRetrieve),
		"require_justification":    types.BoolValue(cp.RequireJustification),
	})
	diags.Append(d...)
	labels, d := stringMap(a.Labels)
	diags.Append(d...)
	hostKeys, d := hostKeysValue(types.ListNull(types.StringType), a.HostKeys)
	diags.Append(d...)
	port := types.Int64Null()
	if a.Port != 0 {
		port = types.Int64Value(int64(a.Port))
	}
	checkedOutBy := types.StringNull()
	if a.Status.CheckedOutBy != nil {
		checkedOutBy = types.StringValue(a.Status.CheckedOutBy.Type + ":" + a.Status.CheckedOutBy.ID)
	}
	mode := a.ManagementMode
	if mode == "" {
		mode = api.ManagementManual
	}
	return vaultAccountModel{
		ID:                     types.StringValue(a.ID),
		SafeID:                 types.StringValue(a.SafeID),
		Name:                   types.StringValue(a.Name),
		Platform:               types.StringValue(a.Platform),
		Address:                types.StringValue(a.Address),
		Port:                   port,
		Username:               types.StringValue(a.Username),
		SecretType:             types.StringValue(a.SecretType),
		ManagementMode:         types.StringValue(mode),
		RotationScheduleID:     optionalString(a.RotationScheduleID),
		SessionPolicyID:        optionalString(a.SessionPolicyID),
		CheckoutPolicy:         policy,
		Labels:                 labels,
		HostKeys:               hostKeys,
		SecretVersion:          types.Int64Value(a.SecretVersion),
		SecretUpdatedAt:        timeValuePtr(a.SecretUpdatedAt),
		CheckedOutBy:           checkedOutBy,
		CheckoutID:             optionalString(a.Status.CheckoutID),
		CheckoutExpiresAt:      timeValuePtr(a.Status.CheckoutExpiresAt),
		NextRotationAt:         timeValuePtr(a.Status.NextRotationAt),
		LastRotationAt:         timeValuePtr(a.Status.LastRotationAt),
		LastRotationResult:     optionalString(a.Status.LastRotationResult),
		LastVerificationAt:     timeValuePtr(a.Status.LastVerificationAt),
		LastVerificationResult: optionalString(a.Status.LastVerificationResult),
		StatusNote:             optionalString(a.Status.Note),
		LastHostKey:            optionalString(a.Status.LastHostKey),
		LastHostKeyFingerprint: optionalString(a.Status.LastHostKeyFingerprint),
		Version:                types.Int64Value(a.Version),
		CreatedAt:              timeValue(a.CreatedAt),
		UpdatedAt:              timeValue(a.UpdatedAt),
	}, diags
}

// vaultAccountResourceToModel maps an account to the resource state, keeping
// secret_wo_version from prior (pamd does not know it), secret_wo null, and
// host_keys as prior wrote them where pamd holds the same keys.
func vaultAccountResourceToModel(a *api.VaultAccount, prior vaultAccountResourceModel) (vaultAccountResourceModel, diag.Diagnostics) {
	base, diags := vaultAccountToModel(a)
	hostKeys, d := hostKeysValue(prior.HostKeys, a.HostKeys)
	diags.Append(d...)
	base.HostKeys = hostKeys
	return vaultAccountResourceModel{
		vaultAccountModel: base,
		SecretWO:          types.StringNull(),
		SecretWOVersion:   prior.SecretWOVersion,
	}, diags
}

// vaultAccountInputFromModel maps the planned account to the body of
// POST/PUT without a secret; the caller adds one from the configuration when
// it is to be sent.
func vaultAccountInputFromModel(ctx context.Context, m vaultAccountModel) (api.VaultAccountInput, diag.Diagnostics) {
	var diags diag.Diagnostics
	in := api.VaultAccountInput{
		Name:               m.Name.ValueString(),
		SafeID:             m.SafeID.ValueString(),
		Platform:           m.Platform.ValueString(),
		Address:            m.Address.ValueString(),
		Port:               int(m.Port.ValueInt64()),
		Username:           m.Username.ValueString(),
		SecretType:         m.SecretType.ValueString(),
		ManagementMode:     m.ManagementMode.ValueString(),
		RotationScheduleID: m.RotationScheduleID.ValueString(),
		SessionPolicyID:    m.SessionPolicyID.ValueString(),
	}
	if !m.CheckoutPolicy.IsNull() && !m.CheckoutPolicy.IsUnknown() {
		var cp checkoutPolicyModel
		diags.Append(m.CheckoutPolicy.As(ctx, &cp, objectAsOptions)...)
		in.CheckoutPolicy = api.CheckoutPolicy{
			Exclusive:              cp.Exclusive.ValueBool(),
			DefaultDurationSeconds: cp.DefaultDurationSeconds.ValueInt64(),
			MaxDurationSeconds:     cp.MaxDurationSeconds.ValueInt64(),
			RotateOnCheckin:        cp.RotateOnCheckin.ValueBool(),
			AllowRetrieve:          cp.AllowRetrieve.ValueBool(),
			RequireJustification:   cp.RequireJustification.ValueBool(),
		}
	}
	labels, d := mapFromModel(ctx, m.Labels)
	diags.Append(d...)
	in.Labels = labels
	if !m.HostKeys.IsNull() && !m.HostKeys.IsUnknown() {
		diags.Append(m.HostKeys.ElementsAs(ctx, &in.HostKeys, false)...)
	}
	return in, diags
}

// secretToSend decides whether an apply sends the write-only secret: always
// on create (when configured), and on update only when secret_wo_version
// changed, because Terraform cannot see a change of secret_wo itself.
func secretToSend(config, plan, state *vaultAccountResourceModel) string {
	if config == nil || config.SecretWO.IsNull() || config.SecretWO.IsUnknown() {
		return ""
	}
	if state == nil || !plan.SecretWOVersion.Equal(state.SecretWOVersion) {
		return config.SecretWO.ValueString()
	}
	return ""
}
