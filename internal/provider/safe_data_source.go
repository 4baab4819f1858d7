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
	_ datasource.DataSourceWithConfigure        = (*safeDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*safeDataSource)(nil)
)

// NewSafeDataSource is the factory of the pam_safe data source.
func NewSafeDataSource() datasource.DataSource {
	return &safeDataSource{}
}

type safeDataSource struct {
	client *client.Client
}

func (d *safeDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_safe"
}

func (d *safeDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	desc := safeDescriptions
	computed := func(k string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc[k], Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up a safe of the pamd vault by `id` or by `name` (exactly one of them).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the safe (`safe_...`). Exactly one of `id` and `name` must be set.",
				Optional:            true,
				Computed:            true,
				Validators: []validator.String{stringvalidator.RegexMatches(safePrefixPattern,
					"must be a safe id starting with \""+api.PrefixSafe+"_\"")},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the safe: " + api.NameRule + ". Exactly one of `id` and `name` must be set.",
				Optional:            true,
				Computed:            true,
				Validators:          roleNameValidators(),
			},
			"description":                  computed("description"),
			"default_rotation_schedule_id": computed("default_rotation_schedule_id"),
			"default_session_policy_id":    computed("default_session_policy_id"),
			"members": schema.SetNestedAttribute{
				MarkdownDescription: desc["members"],
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"principal_type": computed("principal_type"),
						"principal_id":   computed("principal_id"),
						"permissions":    schema.SetAttribute{MarkdownDescription: desc["permissions"], ElementType: types.StringType, Computed: true},
					},
				},
			},
			"labels":        schema.MapAttribute{MarkdownDescription: "Labels of the safe.", ElementType: types.StringType, Computed: true},
			"account_count": schema.Int64Attribute{MarkdownDescription: "Number of vault accounts in the safe.", Computed: true},
			"version":       schema.Int64Attribute{MarkdownDescription: "Version of the safe in pamd; increases on every change.", Computed: true},
			"created_at":    computed("created_at"),
			"updated_at":    computed("updated_at"),
		},
	}
}

func (d *safeDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("name")),
	}
}

func (d *safeDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (d *safeDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg safeModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var (
		s    *api.Safe
		err  error
		by   string
		attr path.Path
	)
	if !cfg.ID.IsNull() {
		by, attr = "id "+cfg.ID.ValueString(), path.Root("id")
		s, err = d.client.GetSafe(ctx, cfg.ID.ValueString())
	} else {
		by, attr = fmt.Sprintf("name %q", cfg.Name.ValueString()), path.Root("name")
		s, err = d.client.FindSafeByName(ctx, cfg.Name.ValueString())
	}
	var pe *client.ProblemError
	if errors.Is(err, client.ErrNotFound) && errors.As(err, &pe) {
		resp.Diagnostics.AddAttributeError(attr, "Safe Not Found",
			fmt.Sprintf("pamd has no safe with %s. Check the spelling; if the safe is created in the same "+
				"configuration, refer to the resource instead of looking it up. %s", by, serverMessage(pe.Problem)))
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, d.client, operation{"Read", "safe"}, safePaths, err)
		return
	}
	m, diags := safeToModel(s)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}
