package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/ephemeralvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var (
	_ ephemeral.EphemeralResourceWithConfigure        = (*credentialCheckoutEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithClose            = (*credentialCheckoutEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithConfigValidators = (*credentialCheckoutEphemeralResource)(nil)
)

// privateKeyCheckout is the private-state key holding what Close needs.
const privateKeyCheckout = "checkout"

// NewCredentialCheckoutEphemeralResource is the factory of the
// pam_credential_checkout ephemeral resource.
func NewCredentialCheckoutEphemeralResource() ephemeral.EphemeralResource {
	return &credentialCheckoutEphemeralResource{}
}

type credentialCheckoutEphemeralResource struct {
	client *client.Client
}

type credentialCheckoutModel struct {
	AccountID       types.String `tfsdk:"account_id"`
	SafeID          types.String `tfsdk:"safe_id"`
	AccountName     types.String `tfsdk:"account_name"`
	DurationSeconds types.Int64  `tfsdk:"duration_seconds"`
	Justification   types.String `tfsdk:"justification"`
	CheckoutID      types.String `tfsdk:"checkout_id"`
	Secret          types.String `tfsdk:"secret"`
	SecretType      types.String `tfsdk:"secret_type"`
	SecretVersion   types.Int64  `tfsdk:"secret_version"`
	Username        types.String `tfsdk:"username"`
	Address         types.String `tfsdk:"address"`
	Port            types.Int64  `tfsdk:"port"`
	ExpiresAt       types.String `tfsdk:"expires_at"`
}

// credentialCheckoutPrivate is what Open leaves for Close.
type credentialCheckoutPrivate struct {
	ID string `json:"id"`
}

func (e *credentialCheckoutEphemeralResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_credential_checkout"
}

func (e *credentialCheckoutEphemeralResource) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Checks a vault account out for the length of one Terraform run and exposes its secret as an ephemeral value, " +
			"for example to configure another provider; the secret never reaches the plan or state. Open checks the account out as the " +
			"provider's token (which needs the `checkout` and `retrieve` permissions on the safe, or an administrator role) and reads the " +
			"secret; Close checks it in, which may rotate the secret when the account's policy says so. The account's checkout policy " +
			"must allow retrieval (`allow_retrieve`). Requires Terraform 1.10+ or OpenTofu 1.11+. Name either `account_id`, " +
			"or `safe_id` and `account_name`.",
		Attributes: map[string]schema.Attribute{
			"account_id": schema.StringAttribute{
				MarkdownDescription: "Vault account to check out (`acct_...`). Conflicts with `safe_id` and `account_name`; " +
					"when they are set instead, this is the account they name.",
				Optional: true,
				Computed: true,
				Validators: []validator.String{stringvalidator.RegexMatches(vaultAccountPrefixPattern,
					"must be a vault account id starting with \""+api.PrefixVaultAccount+"_\"")},
			},
			"safe_id": schema.StringAttribute{
				MarkdownDescription: "Safe of the account (`safe_...`), with `account_name`.",
				Optional:            true,
				Validators: []validator.String{stringvalidator.RegexMatches(safePrefixPattern,
					"must be a safe id starting with \""+api.PrefixSafe+"_\"")},
			},
			"account_name": schema.StringAttribute{
				MarkdownDescription: "Name of the account in the safe, with `safe_id`.",
				Optional:            true,
				Validators:          roleNameValidators(),
			},
			"duration_seconds": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("How long the checkout lasts at most, in seconds (%d to the account's `max_duration_seconds`); "+
					"Close checks in earlier. Defaults to the account's `default_duration_seconds`; the result is the duration granted.",
					api.MinCheckoutSeconds),
				Optional:   true,
				Computed:   true,
				Validators: []validator.Int64{int64validator.Between(api.MinCheckoutSeconds, api.MaxCheckoutSeconds)},
			},
			"justification": schema.StringAttribute{
				MarkdownDescription: "Why the credential is needed, recorded on the checkout and in the audit log; required when the " +
					"account's policy requires a justification.",
				Optional: true,
			},
			"checkout_id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the checkout (`chk_...`).",
				Computed:            true,
			},
			"secret": schema.StringAttribute{
				MarkdownDescription: "The secret (password, private key or token). Ephemeral: available during the run, never stored.",
				Computed:            true,
				Sensitive:           true,
			},
			"secret_type": schema.StringAttribute{
				MarkdownDescription: "Kind of secret: one of " + quotedList(api.SecretTypes) + ".",
				Computed:            true,
			},
			"secret_version": schema.Int64Attribute{
				MarkdownDescription: "Version of the secret that was read.",
				Computed:            true,
			},
			"username": schema.StringAttribute{
				MarkdownDescription: "Account name on the target.",
				Computed:            true,
			},
			"address": schema.StringAttribute{
				MarkdownDescription: "Host name or IP address of the target (`\"\"` when the account has none).",
				Computed:            true,
			},
			"port": schema.Int64Attribute{
				MarkdownDescription: "TCP port of the target; null when the platform's default applies.",
				Computed:            true,
			},
			"expires_at": schema.StringAttribute{
				MarkdownDescription: "When the checkout ends unless checked in earlier (RFC 3339, UTC). Close checks it in at the end of the run.",
				Computed:            true,
			},
		},
	}
}

func (e *credentialCheckoutEphemeralResource) ConfigValidators(context.Context) []ephemeral.ConfigValidator {
	return []ephemeral.ConfigValidator{
		ephemeralvalidator.ExactlyOneOf(path.MatchRoot("account_id"), path.MatchRoot("account_name")),
		ephemeralvalidator.RequiredTogether(path.MatchRoot("safe_id"), path.MatchRoot("account_name")),
		ephemeralvalidator.Conflicting(path.MatchRoot("account_id"), path.MatchRoot("safe_id")),
	}
}

func (e *credentialCheckoutEphemeralResource) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

// checkoutRequestPaths maps checkout request violations to attributes.
var checkoutRequestPaths = attributePaths{
	"duration_seconds": pointerScalar,
	"justification":    pointerScalar,
}

var checkoutOp = operation{"Check Out", "vault account"}

func (e *credentialCheckoutEphemeralResource) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var cfg credentialCheckoutModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if e.client == nil {
		resp.Diagnostics.AddError("Provider Not Configured",
			"pam_credential_checkout needs a configured provider (endpoint and token) to check an account out.")
		return
	}

	account, err := e.resolveAccount(ctx, cfg)
	if err != nil {
		var pe *client.ProblemError
		if errors.Is(err, client.ErrNotFound) && errors.As(err, &pe) {
			at, what := path.Root("account_id"), "id "+cfg.AccountID.ValueString()
			if cfg.AccountID.IsNull() {
				at, what = path.Root("account_name"), fmt.Sprintf("name %q in safe %s", cfg.AccountName.ValueString(), cfg.SafeID.ValueString())
			}
			resp.Diagnostics.AddAttributeError(at, "Vault Account Not Found",
				fmt.Sprintf("pamd has no vault account with %s, so nothing was checked out. Check the id, or the safe and name. %s",
					what, serverMessage(pe.Problem)))
			return
		}
		addClientError(&resp.Diagnostics, e.client, operation{"Read", "vault account"}, attributePaths{}, err)
		return
	}

	chk, err := e.client.CreateCheckout(ctx, account.ID, api.CheckoutRequest{
		DurationSeconds: cfg.DurationSeconds.ValueInt64(),
		Justification:   cfg.Justification.ValueString(),
	})
	if err != nil {
		addCheckoutError(&resp.Diagnostics, e.client, account, err)
		return
	}
	tflog.Debug(ctx, "Checked out vault account", map[string]any{"account_id": account.ID, "checkout_id": chk.ID, "expires_at": chk.ExpiresAt})

	// From here on the checkout exists: remember it for Close before
	// anything else can fail, and check it in again if reading fails.
	private, err := json.Marshal(credentialCheckoutPrivate{ID: chk.ID})
	if err != nil {
		e.checkin(ctx, chk.ID, "Terraform could not record the checkout")
		resp.Diagnostics.AddError("Unable to Check Out Vault Account", "Encoding the private state failed: "+err.Error())
		return
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateKeyCheckout, private)...)
	if resp.Diagnostics.HasError() {
		e.checkin(ctx, chk.ID, "Terraform could not record the checkout")
		return
	}

	sec, err := e.client.GetCheckoutSecret(ctx, chk.ID)
	if err != nil {
		e.checkin(ctx, chk.ID, "Terraform could not read the secret")
		var pe *client.ProblemError
		if errors.As(err, &pe) && (pe.Problem.Code == api.CodeRetrieveNotAllowed || pe.Problem.Status == 403) {
			resp.Diagnostics.AddError("Secret Retrieval Not Allowed",
				fmt.Sprintf("pamd checked vault account %s out but refused to reveal its secret, so the checkout was checked in again. "+
					"Either the account is connect-only (set checkout_policy.allow_retrieve = true on it) or the provider's token lacks the "+
					"retrieve permission on safe %s (add it to the safe's members). %s", account.ID, account.SafeID, serverMessage(pe.Problem)))
			return
		}
		addClientError(&resp.Diagnostics, e.client, operation{"Read", "secret of checkout " + chk.ID}, attributePaths{}, err)
		return
	}

	cfg.AccountID = types.StringValue(account.ID)
	cfg.CheckoutID = types.StringValue(chk.ID)
	cfg.DurationSeconds = types.Int64Value(chk.DurationSeconds)
	cfg.Secret = types.StringValue(sec.Secret)
	cfg.SecretType = types.StringValue(sec.SecretType)
	cfg.SecretVersion = types.Int64Value(sec.SecretVersion)
	cfg.Username = types.StringValue(sec.Username)
	if sec.Username == "" {
		cfg.Username = types.StringValue(account.Username)
	}
	cfg.Address = types.StringValue(account.Address)
	cfg.Port = types.Int64Null()
	if account.Port != 0 {
		cfg.Port = types.Int64Value(int64(account.Port))
	}
	expires := chk.ExpiresAt
	if !sec.ExpiresAt.IsZero() {
		expires = sec.ExpiresAt
	}
	cfg.ExpiresAt = timeValue(expires)
	resp.Diagnostics.Append(resp.Result.Set(ctx, cfg)...)
}

func (e *credentialCheckoutEphemeralResource) resolveAccount(ctx context.Context, cfg credentialCheckoutModel) (*api.VaultAccount, error) {
	if !cfg.AccountID.IsNull() && !cfg.AccountID.IsUnknown() {
		return e.client.GetVaultAccount(ctx, cfg.AccountID.ValueString())
	}
	return e.client.FindVaultAccountByName(ctx, cfg.SafeID.ValueString(), cfg.AccountName.ValueString())
}

// checkin checks a checkout in after Open failed half-way, reporting nothing:
// the caller's error says what went wrong.
func (e *credentialCheckoutEphemeralResource) checkin(ctx context.Context, id, reason string) {
	if _, err := e.client.CheckinCheckout(context.WithoutCancel(ctx), id, reason); err != nil {
		tflog.Warn(ctx, "Checking the checkout in failed", map[string]any{"checkout_id": id, "error": err.Error()})
	}
}

// Close checks in the checkout Open made. One that is gone or already over
// (expired, revoked, checked in by someone) needs nothing.
func (e *credentialCheckoutEphemeralResource) Close(ctx context.Context, req ephemeral.CloseRequest, resp *ephemeral.CloseResponse) {
	raw, d := req.Private.GetKey(ctx, privateKeyCheckout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() || len(raw) == 0 {
		return
	}
	var priv credentialCheckoutPrivate
	if err := json.Unmarshal(raw, &priv); err != nil || priv.ID == "" {
		resp.Diagnostics.AddError("Unable to Check In Vault Account",
			"The private state of pam_credential_checkout is unreadable, so Terraform does not know which checkout to check in. "+
				"It ends at its expires_at; check it in earlier with `pamd checkin`. This is a bug in the provider; please report it.")
		return
	}
	if e.client == nil {
		resp.Diagnostics.AddError("Unable to Check In Vault Account", fmt.Sprintf("The provider is not configured, so checkout %s could not be "+
			"checked in. It ends at its expires_at; check it in earlier with `pamd checkin %s`.", priv.ID, priv.ID))
		return
	}
	_, err := e.client.CheckinCheckout(ctx, priv.ID, "Terraform run finished")
	var pe *client.ProblemError
	switch {
	case err == nil:
		tflog.Debug(ctx, "Checked in vault account", map[string]any{"checkout_id": priv.ID})
	case errors.Is(err, client.ErrNotFound):
		tflog.Debug(ctx, "Checkout already gone", map[string]any{"checkout_id": priv.ID})
	case errors.As(err, &pe) && (pe.Problem.Code == api.CodeInvalidStateTransition || pe.Problem.Status == 410):
		tflog.Debug(ctx, "Checkout no longer active", map[string]any{"checkout_id": priv.ID, "state": pe.Problem.State})
	default:
		addClientError(&resp.Diagnostics, e.client, operation{"Check In", "checkout " + priv.ID}, attributePaths{}, err)
	}
}

// addCheckoutError explains a refused checkout.
func addCheckoutError(diags *diag.Diagnostics, c *client.Client, account *api.VaultAccount, err error) {
	var pe *client.ProblemError
	if errors.As(err, &pe) {
		switch pe.Problem.Code {
		case api.CodeAccountLocked:
			diags.AddError("Vault Account Is Checked Out by Someone Else",
				fmt.Sprintf("Vault account %s is exclusive and someone else holds it, so Terraform could not check it out. "+
					"Wait until their checkout ends (pamd names the holder and expiry below) or ask them to check it in, then run again. %s",
					account.ID, serverMessage(pe.Problem)))
			return
		case api.CodeStepUpRequired:
			diags.AddError("Multi-Factor Authentication Required",
				"The checkout needs a recent multi-factor authentication, and the provider's token does not carry one. "+
					"Get a step-up token with `pamd login --mfa` and use it as the provider's token for this run. "+serverMessage(pe.Problem))
			return
		}
	}
	addClientError(diags, c, checkoutOp, checkoutRequestPaths, err)
}
