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
	_ datasource.DataSourceWithConfigure        = (*roleDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*roleDataSource)(nil)
)

// NewRoleDataSource is the factory of the pam_role data source.
func NewRoleDataSource() datasource.DataSource {
	return &roleDataSource{}
}

type roleDataSource struct {
	client *client.Client
}

func (d *roleDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role"
}

func (d *roleDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up a role in the pamd catalog by `id` or by `name` (exactly one of them).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the role (`role_...`). Exactly one of `id` and `name` must be set.",
				Optional:            true,
				Computed:            true,
				Validators: []validator.String{stringvalidator.RegexMatches(rolePrefixPattern,
					"must be a role id starting with \""+api.PrefixRole+"_\"")},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the role: " + api.NameRule + ". Exactly one of `id` and `name` must be set.",
				Optional:            true,
				Computed:            true,
				Validators:          roleNameValidators(),
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "Free-text description.",
				Computed:            true,
			},
			"assignable_scopes": schema.SetAttribute{
				MarkdownDescription: "Scopes at or below which the role may be made eligible.",
				ElementType:         types.StringType,
				Computed:            true,
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: "Labels of the role.",
				ElementType:         types.StringType,
				Computed:            true,
			},
			"version": schema.Int64Attribute{
				MarkdownDescription: "Version of the role in pamd; increases on every change.",
				Computed:            true,
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: "When the role was created (RFC 3339, UTC).",
				Computed:            true,
			},
			"updated_at": schema.StringAttribute{
				MarkdownDescription: "When the role last changed (RFC 3339, UTC).",
				Computed:            true,
			},
		},
	}
}

func (d *roleDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("name")),
	}
}

func (d *roleDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (d *roleDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg roleModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}

	var (
		role *api.Role
		err  error
		by   string
		attr path.Path
	)
	if !cfg.ID.IsNull() {
		by, attr = "id "+cfg.ID.ValueString(), path.Root("id")
		role, err = d.client.GetRole(ctx, cfg.ID.ValueString())
	} else {
		by, attr = fmt.Sprintf("name %q", cfg.Name.ValueString()), path.Root("name")
		role, err = d.client.FindRoleByName(ctx, cfg.Name.ValueString())
	}
	var pe *client.ProblemError
	if errors.Is(err, client.ErrNotFound) && errors.As(err, &pe) {
		resp.Diagnostics.AddAttributeError(attr, "Role Not Found",
			fmt.Sprintf("pamd has no role with %s. Check the spelling, and that the token may see it; "+
				"if the role is created in the same configuration, refer to the resource instead of looking it up. %s",
				by, serverMessage(pe.Problem)))
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, d.client, operation{"Read", "role"}, roleAttributePaths, err)
		return
	}
	m, diags := roleToModel(role)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}
