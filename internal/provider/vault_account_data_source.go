package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var (
	_ datasource.DataSourceWithConfigure        = (*vaultAccountDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*vaultAccountDataSource)(nil)
)

// NewVaultAccountDataSource is the factory of the pam_vault_account data source.
func NewVaultAccountDataSource() datasource.DataSource {
	return &vaultAccountDataSource{}
}

type vaultAccountDataSource struct {
	client *client.Client
}

func (d *vaultAccountDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_vault_account"
}

func (d *vaultAccountDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	desc := vaultAccountDescriptions
	str := func(k string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc[k], Computed: true}
	}
	num := func(k string) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc[k], Computed: true}
	}
	flag := func(k string) schema.BoolAttribute {
		return schema.BoolAttribute{MarkdownDescription: desc[k], Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up a vault account by `id`, or by `safe_id` and `name` (account names are unique per safe). " +
			"Never returns the secret: use the `pam_credential_checkout` ephemeral resource for that.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the account (`acct_...`). Set either `id`, or `safe_id` and `name`.",
				Optional:            true,
				Computed:            true,
				Validators: []validator.String{stringvalidator.RegexMatches(vaultAccountPrefixPattern,
					"must be a vault account id starting with \""+api.PrefixVaultAccount+"_\"")},
			},
			"safe_id": schema.StringAttribute{
				MarkdownDescription: "Safe of the account (`safe_...`), with `name`.",
				Optional:            true,
				Computed:            true,
				Validators: []validator.String{stringvalidator.RegexMatches(safePrefixPattern,
					"must be a safe id starting with \""+api.PrefixSafe+"_\"")},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the account in the safe, with `safe_id`.",
				Optional:            true,
				Computed:            true,
				Validators:          roleNameValidators(),
			},
			"platform":             str("platform"),
			"address":              str("address"),
			"port":                 schema.Int64Attribute{MarkdownDescription: "TCP port of the target; null when the platform default applies.", Computed: true},
			"username":             str("username"),
			"secret_type":          str("secret_type"),
			"management_mode":      str("management_mode"),
			"rotation_schedule_id": str("rotation_schedule_id"),
			"session_policy_id":    str("session_policy_id"),
			"checkout_policy": schema.SingleNestedAttribute{
				MarkdownDescription: "How the account may be checked out.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"exclusive":                flag("exclusive"),
					"default_duration_seconds": num("default_duration_seconds"),
					"max_duration_seconds":     num("max_duration_seconds"),
					"rotate_on_checkin":        flag("rotate_on_checkin"),
					"allow_retrieve":           flag("allow_retrieve"),
					"require_justification":    flag("require_justification"),
				},
			},
			"labels": schema.MapAttribute{MarkdownDescription: "Labels of the account.", ElementType: types.StringType, Computed: true},
			"host_keys": schema.ListAttribute{MarkdownDescription: "Pinned SSH host keys of the target, normalised by pamd " +
				"(type and base64, no comment); empty when the target is not pinned.", ElementType: types.StringType, Computed: true},
			"last_host_key":             str("last_host_key"),
			"last_host_key_fingerprint": str("last_host_key_fingerprint"),
			"secret_version":            num("secret_version"),
			"secret_updated_at":         str("secret_updated_at"),
			"checked_out_by":            str("checked_out_by"),
			"checkout_id":               str("checkout_id"),
			"checkout_expires_at":       str("checkout_expires_at"),
			"next_rotation_at":          str("next_rotation_at"),
			"last_rotation_at":          str("last_rotation_at"),
			"last_rotation_result":      str("last_rotation_result"),
			"last_verification_at":      str("last_verification_at"),
			"last_verification_result":  str("last_verification_result"),
			"status_note":               str("status_note"),
			"version":                   num("version"),
			"created_at":                str("created_at"),
			"updated_at":                str("updated_at"),
		},
	}
}

func (d *vaultAccountDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("name")),
		datasourcevalidator.RequiredTogether(path.MatchRoot("safe_id"), path.MatchRoot("name")),
		datasourcevalidator.Conflicting(path.MatchRoot("id"), path.MatchRoot("safe_id")),
	}
}

func (d *vaultAccountDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (d *vaultAccountDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg vaultAccountModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var (
		a    *api.VaultAccount
		err  error
		by   string
		attr path.Path
	)
	if !cfg.ID.IsNull() {
		by, attr = "id "+cfg.ID.ValueString(), path.Root("id")
		a, err = d.client.GetVaultAccount(ctx, cfg.ID.ValueString())
	} else {
		by, attr = fmt.Sprintf("name %q in safe %s", cfg.Name.ValueString(), cfg.SafeID.ValueString()), path.Root("name")
		a, err = d.client.FindVaultAccountByName(ctx, cfg.SafeID.ValueString(), cfg.Name.ValueString())
	}
	var pe *client.ProblemError
	if errors.Is(err, client.ErrNotFound) && errors.As(err, &pe) {
		resp.Diagnostics.AddAttributeError(attr, "Vault Account Not Found",
			fmt.Sprintf("pamd has no vault account with %s. Check the spelling and the safe; if the account is created in the same "+
				"configuration, refer to the resource instead of looking it up. %s", by, serverMessage(pe.Problem)))
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, d.client, operation{"Read", "vault account"}, vaultAccountPaths, err)
		return
	}
	m, diags := vaultAccountToModel(a)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}
