package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var (
	_ resource.ResourceWithConfigure      = (*vaultAccountResource)(nil)
	_ resource.ResourceWithImportState    = (*vaultAccountResource)(nil)
	_ resource.ResourceWithIdentity       = (*vaultAccountResource)(nil)
	_ resource.ResourceWithValidateConfig = (*vaultAccountResource)(nil)
)

// NewVaultAccountResource is the factory of the pam_vault_account resource.
func NewVaultAccountResource() resource.Resource {
	return &vaultAccountResource{}
}

type vaultAccountResource struct {
	client *client.Client
}

func (r *vaultAccountResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_vault_account"
}

// platformSecretTypesDoc renders api.PlatformSecretTypes (the table pamd
// enforces) for descriptions.
func platformSecretTypesDoc() string {
	parts := make([]string, 0, len(api.Platforms))
	for _, p := range api.Platforms {
		parts = append(parts, fmt.Sprintf("`%s`: %s", p, quotedList(api.PlatformSecretTypes[p])))
	}
	return strings.Join(parts, "; ")
}

// Descriptions shared by the resource and the data source.
var vaultAccountDescriptions = map[string]string{
	"id":      "Identifier of the account, assigned by pamd (`acct_...`); immutable.",
	"safe_id": "Safe (`safe_...`) that holds the account. Changing it replaces the account (a new id and a new secret history).",
	"name": "Name of the account, unique within its safe: " + api.NameRule +
		". Renaming updates the account in place.",
	"platform": "Kind of target system, which decides how pamd rotates and verifies the secret: one of " + quotedList(api.Platforms) +
		". Changing it replaces the account.",
	"address": fmt.Sprintf("Host name or IP address of the target, at most %d characters, without spaces or `/`. "+
		"Required for every platform except `generic`. Defaults to `\"\"`.", api.MaxAddressLength),
	"port":        "TCP port of the target, 1 to 65535. Omit it to use the platform's default port.",
	"username":    fmt.Sprintf("Account name on the target, at most %d characters on one line.", api.MaxUsernameLength),
	"secret_type": "Kind of secret: one of " + quotedList(api.SecretTypes) + ". Each platform accepts only some: " + platformSecretTypesDoc() + ". Defaults to `password`.",
	"management_mode": "Who changes the secret: `automatic` (pamd rotates it by the rotation schedule) or `manual` (only people, " +
		"through `secret_wo` or the API). Defaults to `manual`.",
	"rotation_schedule_id": "Rotation schedule (`rot_...`) of the account. Omit it to inherit the safe's `default_rotation_schedule_id`.",
	"session_policy_id":    "Session policy (`sesp_...`) of the account. Omit it to inherit the safe's `default_session_policy_id`.",
	"checkout_policy": "How the account may be checked out. Omitted members take pamd's defaults; omitting the whole object gives a " +
		"non-exclusive, connect-only account (no secret retrieval) with the default durations.",
	"exclusive": "When `true`, at most one checkout is active at a time; a second request fails with `account_locked`, naming the holder. Defaults to `false`.",
	"default_duration_seconds": fmt.Sprintf("Duration of a checkout that asks for none, in seconds, %d up to `max_duration_seconds`. "+
		"Defaults to the smaller of %d and `max_duration_seconds`.", api.MinCheckoutSeconds, api.DefaultCheckoutDurationSeconds),
	"max_duration_seconds": fmt.Sprintf("Longest checkout, extensions included, in seconds, %d to %d. Defaults to %d.",
		api.MinCheckoutSeconds, api.MaxCheckoutSeconds, api.DefaultCheckoutMaxSeconds),
	"rotate_on_checkin": "When `true`, pamd rotates the secret when a checkout ends (check-in, expiry or revocation). Defaults to `false`.",
	"allow_retrieve": "When `true`, the holder of a checkout may read the secret (for example through the `pam_credential_checkout` " +
		"ephemeral resource); when `false` the account is connect-only. Defaults to `false`.",
	"require_justification": "When `true`, every checkout needs a justification. Defaults to `false`.",
	"labels": fmt.Sprintf("Labels for grouping and policy, at most %d. Keys are %s; values at most %d characters. Defaults to `{}`.",
		api.MaxLabels, api.LabelKeyRule, api.MaxLabelValueLength),
	"secret_version": "Version of the stored secret: 0 until a secret is set, then increased by every `secret_wo` change and every rotation. " +
		"Rotations by pamd change it without any change in Terraform; it never causes a plan by itself.",
	"secret_updated_at":        "When the stored secret last changed (RFC 3339, UTC).",
	"checked_out_by":           "Holder of the current checkout as `type:id` (for example `user:alice`); null when the account is not checked out.",
	"checkout_id":              "Current checkout (`chk_...`); null when the account is not checked out.",
	"checkout_expires_at":      "When the current checkout ends unless checked in or extended (RFC 3339, UTC).",
	"next_rotation_at":         "When pamd next rotates the secret (RFC 3339, UTC); null without a rotation schedule.",
	"last_rotation_at":         "When pamd last rotated the secret (RFC 3339, UTC).",
	"last_rotation_result":     "Result of the last rotation: `succeeded`, `failed` or `pending`.",
	"last_verification_at":     "When pamd last verified the secret against the target (RFC 3339, UTC).",
	"last_verification_result": "Result of the last verification.",
	"status_note":              "Human explanation of the status, for example a rotation requested while no rotation engine runs.",
	"host_keys": fmt.Sprintf("SSH host keys of the target, at most %d, each in authorized_keys form as in the target's "+
		"`/etc/ssh/ssh_host_*_key.pub` (`\"ssh-ed25519 AAAA... comment\"`; the comment is ignored). When set, pamd's SSH gateway "+
		"logs in only to a target presenting one of them and otherwise ends the session as `host_key_mismatch` without sending the secret. "+
		"Only for platform `%s`. Verify a key on the target (`ssh-keygen -lf`) before pinning it. Defaults to `[]` (not pinned: the gateway "+
		"warns, or refuses with `pamd serve --ssh-require-host-keys`).", api.MaxHostKeys, api.PlatformUnixSSH),
	"last_host_key": "SSH host key the target presented at the gateway's last connection (normalised, no comment), unless it was refused " +
		"as a mismatch; null before the first session. Observed, not verified: check its fingerprint on the target before copying it to `host_keys`.",
	"last_host_key_fingerprint": "SHA-256 fingerprint (`SHA256:...`, as `ssh-keygen -l` prints it) of `last_host_key`.",
	"version":                   "Version of the account in pamd; increases on every change, rotations included. Sent as `If-Match` on update and delete.",
	"created_at":                "When the account was created (RFC 3339, UTC).",
	"updated_at":                "When the account last changed (RFC 3339, UTC).",
}

func (r *vaultAccountResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	d := vaultAccountDescriptions
	computedString := func(k string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: d[k], Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A privileged account in a pamd safe: where the target is, who the account is, how it may be checked out " +
			"and rotated, and its secret. The secret is **write-only** (`secret_wo`, Terraform 1.11+ / OpenTofu 1.11+): it is sent to pamd, " +
			"encrypted there, and never stored in the Terraform plan or state; read it for one run with the `pam_credential_checkout` " +
			"ephemeral resource. pamd's own rotations change `secret_version` and the status attributes without causing a plan.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: d["id"],
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"safe_id": schema.StringAttribute{
				MarkdownDescription: d["safe_id"],
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators: []validator.String{stringvalidator.RegexMatches(safePrefixPattern,
					"must be a safe id starting with \""+api.PrefixSafe+"_\"")},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: d["name"],
				Required:            true,
				Validators:          roleNameValidators(),
			},
			"platform": schema.StringAttribute{
				MarkdownDescription: d["platform"],
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{stringvalidator.OneOf(api.Platforms...)},
			},
			"address": schema.StringAttribute{
				MarkdownDescription: d["address"],
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
				Validators: []validator.String{
					stringvalidator.LengthAtMost(api.MaxAddressLength),
					stringvalidator.RegexMatches(addressPattern, "must be a host name or IP address without spaces or '/'"),
				},
			},
			"port": schema.Int64Attribute{
				MarkdownDescription: d["port"],
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(1, 65535)},
			},
			"username": schema.StringAttribute{
				MarkdownDescription: d["username"],
				Required:            true,
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, api.MaxUsernameLength),
					stringvalidator.RegexMatches(singleLinePattern, "must be on one line"),
				},
			},
			"secret_type": schema.StringAttribute{
				MarkdownDescription: d["secret_type"],
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(api.SecretTypePassword),
				Validators:          []validator.String{stringvalidator.OneOf(api.SecretTypes...)},
			},
			"management_mode": schema.StringAttribute{
				MarkdownDescription: d["management_mode"],
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(api.ManagementManual),
				Validators:          []validator.String{stringvalidator.OneOf(api.ManagementModes...)},
			},
			"rotation_schedule_id": schema.StringAttribute{
				MarkdownDescription: d["rotation_schedule_id"],
				Optional:            true,
				Validators:          objectIDValidators(),
			},
			"session_policy_id": schema.StringAttribute{
				MarkdownDescription: d["session_policy_id"],
				Optional:            true,
				Validators:          objectIDValidators(),
			},
			"checkout_policy": schema.SingleNestedAttribute{
				MarkdownDescription: d["checkout_policy"],
				Optional:            true,
				Computed:            true,
				Default:             objectdefault.StaticValue(defaultCheckoutPolicy()),
				Attributes: map[string]schema.Attribute{
					"exclusive": schema.BoolAttribute{
						MarkdownDescription: d["exclusive"], Optional: true, Computed: true, Default: booldefault.StaticBool(false),
					},
					"default_duration_seconds": schema.Int64Attribute{
						MarkdownDescription: d["default_duration_seconds"],
						Optional:            true,
						Computed:            true,
						PlanModifiers:       []planmodifier.Int64{checkoutDefaultDurationModifier{}},
						Validators:          []validator.Int64{int64validator.Between(api.MinCheckoutSeconds, api.MaxCheckoutSeconds)},
					},
					"max_duration_seconds": schema.Int64Attribute{
						MarkdownDescription: d["max_duration_seconds"],
						Optional:            true,
						Computed:            true,
						Default:             int64default.StaticInt64(api.DefaultCheckoutMaxSeconds),
						Validators:          []validator.Int64{int64validator.Between(api.MinCheckoutSeconds, api.MaxCheckoutSeconds)},
					},
					"rotate_on_checkin": schema.BoolAttribute{
						MarkdownDescription: d["rotate_on_checkin"], Optional: true, Computed: true, Default: booldefault.StaticBool(false),
					},
					"allow_retrieve": schema.BoolAttribute{
						MarkdownDescription: d["allow_retrieve"], Optional: true, Computed: true, Default: booldefault.StaticBool(false),
					},
					"require_justification": schema.BoolAttribute{
						MarkdownDescription: d["require_justification"], Optional: true, Computed: true, Default: booldefault.StaticBool(false),
					},
				},
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: d["labels"],
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             mapdefault.StaticValue(types.MapValueMust(types.StringType, map[string]attr.Value{})),
				Validators:          labelValidators(),
			},
			"host_keys": schema.ListAttribute{
				MarkdownDescription: d["host_keys"],
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             listdefault.StaticValue(types.ListValueMust(types.StringType, []attr.Value{})),
				Validators: []validator.List{
					listvalidator.SizeAtMost(api.MaxHostKeys),
					listvalidator.ValueStringsAre(hostKeyValidator{}),
					distinctHostKeysValidator{},
				},
			},
			"secret_wo": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("The secret (password, private key or token), at most %d bytes. **Write-only**: sent to pamd "+
					"on create, and on update only when `secret_wo_version` changes; never stored in the plan or state and never returned by pamd. "+
					"Terraform cannot see a change of this value by itself: change `secret_wo_version` to send it. "+
					"Omit it to create the account without a secret (for example when pamd's rotation sets the first one).", api.MaxSecretLength),
				Optional:   true,
				Sensitive:  true,
				WriteOnly:  true,
				Validators: []validator.String{stringvalidator.LengthBetween(1, api.MaxSecretLength)},
			},
			"secret_wo_version": schema.Int64Attribute{
				MarkdownDescription: "Trigger for sending `secret_wo`: kept in state (pamd does not know it). Change it, for example increment it, " +
					"to send the current `secret_wo` on the next apply, which creates a new `secret_version` in pamd. Requires `secret_wo`.",
				Optional: true,
				Validators: []validator.Int64{
					int64validator.AlsoRequires(path.MatchRoot("secret_wo")),
				},
			},
			// Computed values without plan modifiers: the framework keeps the
			// state value when the configuration does not change and plans
			// them as unknown when it does. pamd changes them on its own
			// (rotation, checkouts); a refresh shows the new values and the
			// plan stays empty.
			"secret_version":            schema.Int64Attribute{MarkdownDescription: d["secret_version"], Computed: true},
			"secret_updated_at":         computedString("secret_updated_at"),
			"checked_out_by":            computedString("checked_out_by"),
			"checkout_id":               computedString("checkout_id"),
			"checkout_expires_at":       computedString("checkout_expires_at"),
			"next_rotation_at":          computedString("next_rotation_at"),
			"last_rotation_at":          computedString("last_rotation_at"),
			"last_rotation_result":      computedString("last_rotation_result"),
			"last_verification_at":      computedString("last_verification_at"),
			"last_verification_result":  computedString("last_verification_result"),
			"status_note":               computedString("status_note"),
			"last_host_key":             computedString("last_host_key"),
			"last_host_key_fingerprint": computedString("last_host_key_fingerprint"),
			"version":                   schema.Int64Attribute{MarkdownDescription: d["version"], Computed: true},
			"created_at": schema.StringAttribute{
				MarkdownDescription: d["created_at"],
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"updated_at": computedString("updated_at"),
		},
	}
}

// checkoutDefaultDurationModifier plans default_duration_seconds as pamd
// will store it when it is not configured: the smaller of the default
// duration and max_duration_seconds. A static default would disagree with
// pamd whenever max_duration_seconds is below it.
type checkoutDefaultDurationModifier struct{}

func (checkoutDefaultDurationModifier) Description(context.Context) string {
	return fmt.Sprintf("defaults to the smaller of %d and max_duration_seconds", api.DefaultCheckoutDurationSeconds)
}

func (m checkoutDefaultDurationModifier) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (checkoutDefaultDurationModifier) PlanModifyInt64(ctx context.Context, req planmodifier.Int64Request, resp *planmodifier.Int64Response) {
	if !req.ConfigValue.IsNull() {
		return
	}
	var maxSeconds types.Int64
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, req.Path.ParentPath().AtName("max_duration_seconds"), &maxSeconds)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if maxSeconds.IsNull() || maxSeconds.IsUnknown() {
		resp.PlanValue = types.Int64Unknown()
		return
	}
	resp.PlanValue = types.Int64Value(min(int64(api.DefaultCheckoutDurationSeconds), maxSeconds.ValueInt64()))
}

func (r *vaultAccountResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				Description:       "Identifier of the vault account (acct_...).",
				RequiredForImport: true,
			},
		},
	}
}

func (r *vaultAccountResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig applies pamd's cross-field rules at plan time, from the
// same table pamd enforces (api.PlatformSecretTypes).
func (r *vaultAccountResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg vaultAccountResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	validateVaultAccountConfig(ctx, cfg.vaultAccountModel, &resp.Diagnostics)
}

func validateVaultAccountConfig(ctx context.Context, cfg vaultAccountModel, diags *diag.Diagnostics) {
	platformKnown := !cfg.Platform.IsNull() && !cfg.Platform.IsUnknown()
	platform := cfg.Platform.ValueString()
	if platformKnown && !cfg.SecretType.IsUnknown() {
		secretType := api.SecretTypePassword
		if !cfg.SecretType.IsNull() {
			secretType = cfg.SecretType.ValueString()
		}
		if allowed, ok := api.PlatformSecretTypes[platform]; ok && slices.Contains(api.SecretTypes, secretType) && !slices.Contains(allowed, secretType) {
			diags.AddAttributeError(path.Root("secret_type"), "Secret Type Not Accepted by Platform",
				fmt.Sprintf("Platform %s does not accept secret type %s; it accepts %s. Change secret_type (or platform).",
					platform, secretType, strings.Join(allowed, ", ")))
		}
	}
	if platformKnown && platform != api.PlatformGeneric && slices.Contains(api.Platforms, platform) &&
		!cfg.Address.IsUnknown() && cfg.Address.ValueString() == "" {
		diags.AddAttributeError(path.Root("address"), "Missing Address",
			fmt.Sprintf("Platform %s needs the address (host name or IP) of the target, so pamd can rotate and verify the secret there. "+
				"Set address, or use platform generic for a secret that lives nowhere pamd can reach.", platform))
	}
	if platformKnown && platform != api.PlatformUnixSSH && !cfg.HostKeys.IsUnknown() && len(cfg.HostKeys.Elements()) > 0 {
		diags.AddAttributeError(path.Root("host_keys"), "Host Keys Need Platform unix_ssh",
			fmt.Sprintf("Only %s accounts are reached over SSH by pamd's gateway, so host_keys would protect nothing on a %s account. "+
				"Remove host_keys, or use platform %s.", api.PlatformUnixSSH, platform, api.PlatformUnixSSH))
	}
	if cfg.CheckoutPolicy.IsNull() || cfg.CheckoutPolicy.IsUnknown() {
		return
	}
	var cp checkoutPolicyModel
	diags.Append(cfg.CheckoutPolicy.As(ctx, &cp, objectAsOptions)...)
	if diags.HasError() {
		return
	}
	if cp.DefaultDurationSeconds.IsNull() || cp.DefaultDurationSeconds.IsUnknown() || cp.MaxDurationSeconds.IsUnknown() {
		return
	}
	maxSeconds := int64(api.DefaultCheckoutMaxSeconds)
	if !cp.MaxDurationSeconds.IsNull() {
		maxSeconds = cp.MaxDurationSeconds.ValueInt64()
	}
	if def := cp.DefaultDurationSeconds.ValueInt64(); def > maxSeconds {
		diags.AddAttributeError(path.Root("checkout_policy").AtName("default_duration_seconds"), "Invalid Checkout Policy",
			fmt.Sprintf("checkout_policy.default_duration_seconds (%d) is longer than max_duration_seconds (%d). Lower it or raise the maximum.",
				def, maxSeconds))
	}
}

var vaultAccountOp = struct{ create, read, update, delete operation }{
	create: operation{"Create", "vault account"},
	read:   operation{"Read", "vault account"},
	update: operation{"Update", "vault account"},
	delete: operation{"Delete", "vault account"},
}

func (r *vaultAccountResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan, config vaultAccountResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, diags := vaultAccountInputFromModel(ctx, plan.vaultAccountModel)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	in.Secret = secretToSend(&config, &plan, nil)
	a, err := r.client.CreateVaultAccount(ctx, in)
	if err != nil {
		var pe *client.ProblemError
		if errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Vault Account Already Exists",
				importHintDetail(fmt.Sprintf("An account named %q in safe %s", in.Name, in.SafeID), "pam_vault_account", pe.Problem.ExistingID, pe.Problem))
			return
		}
		addClientError(&resp.Diagnostics, r.client, vaultAccountOp.create, vaultAccountPaths, err)
		return
	}
	tflog.Debug(ctx, "Created vault account", map[string]any{"id": a.ID, "version": a.Version, "secret_version": a.SecretVersion})
	r.setState(ctx, a, plan, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *vaultAccountResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state vaultAccountResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	a, err := r.client.GetVaultAccount(ctx, state.ID.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		removeGone(ctx, "Vault account", state.ID, resp)
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, r.client, vaultAccountOp.read, vaultAccountPaths, err)
		return
	}
	r.setState(ctx, a, state, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *vaultAccountResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state, config vaultAccountResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, diags := vaultAccountInputFromModel(ctx, plan.vaultAccountModel)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	in.Secret = secretToSend(&config, &plan, &state)
	id := state.ID.ValueString()
	a, err := r.client.UpdateVaultAccount(ctx, id, state.Version.ValueInt64(), in)
	if err != nil {
		var pe *client.ProblemError
		switch {
		case errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists:
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Vault Account Name Already Taken",
				fmt.Sprintf("Terraform could not rename account %s to %q because another account of the safe (%s) already has that name. "+
					"Choose a different name. %s", id, in.Name, pe.Problem.ExistingID, serverMessage(pe.Problem)))
		case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
			addStale(&resp.Diagnostics, "Vault Account", "update", id, state.Version.ValueInt64(), pe.Problem)
		case errors.Is(err, client.ErrNotFound) && errors.As(err, &pe):
			addGoneOnUpdate(&resp.Diagnostics, "Vault Account", id, pe.Problem)
		default:
			addClientError(&resp.Diagnostics, r.client, vaultAccountOp.update, vaultAccountPaths, err)
		}
		return
	}
	tflog.Debug(ctx, "Updated vault account", map[string]any{"id": a.ID, "version": a.Version, "secret_sent": in.Secret != "",
		"secret_version": a.SecretVersion})
	r.setState(ctx, a, plan, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *vaultAccountResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state vaultAccountResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	err := r.client.DeleteVaultAccount(ctx, id, state.Version.ValueInt64())
	if errors.Is(err, client.ErrNotFound) {
		tflog.Debug(ctx, "Vault account already gone", map[string]any{"id": id})
		return
	}
	var pe *client.ProblemError
	switch {
	case err == nil:
	case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
		addStale(&resp.Diagnostics, "Vault Account", "delete", id, state.Version.ValueInt64(), pe.Problem)
	case errors.As(err, &pe) && pe.Problem.Code == api.CodeAccountCheckedOut:
		resp.Diagnostics.AddError("Vault Account Is Checked Out",
			fmt.Sprintf("Terraform did not delete vault account %s because it is checked out; nothing was deleted. "+
				"Wait for the checkout to end, ask the holder to check it in, or revoke it with pamd, then apply again. %s",
				id, serverMessage(pe.Problem)))
	default:
		addClientError(&resp.Diagnostics, r.client, vaultAccountOp.delete, vaultAccountPaths, err)
	}
}

// ImportState accepts an account id or an identity; Read fills the rest.
// secret_wo_version cannot be imported (pamd does not know it): it is null
// until the configuration sets it, and setting it sends secret_wo once.
func (r *vaultAccountResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	if id == "" && req.Identity != nil {
		var ident idIdentity
		resp.Diagnostics.Append(req.Identity.Get(ctx, &ident)...)
		if resp.Diagnostics.HasError() {
			return
		}
		id = ident.ID.ValueString()
	}
	if !vaultAccountPrefixPattern.MatchString(id) {
		resp.Diagnostics.AddError("Invalid Vault Account Import ID",
			fmt.Sprintf("Expected the id of a vault account, which starts with %q (for example acct_01JB8X4M0Q3K7Z9V6W2D5R1T8N), got %q. "+
				"Find the id with the pam_vault_account data source (by safe and name).", api.PrefixVaultAccount+"_", id))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, idIdentity{ID: types.StringValue(id)})...)
	}
}

func (r *vaultAccountResource) setState(ctx context.Context, a *api.VaultAccount, prior vaultAccountResourceModel,
	state *tfsdk.State, identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	m, d := vaultAccountResourceToModel(a, prior)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	diags.Append(state.Set(ctx, m)...)
	if identity != nil {
		diags.Append(identity.Set(ctx, idIdentity{ID: m.ID})...)
	}
}
