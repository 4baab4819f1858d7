package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var _ datasource.DataSourceWithConfigure = (*activeElevationsDataSource)(nil)

// NewActiveElevationsDataSource is the factory of pam_active_elevations.
func NewActiveElevationsDataSource() datasource.DataSource {
	return &activeElevationsDataSource{}
}

type activeElevationsDataSource struct {
	client *client.Client
}

type activeElevationsDataSourceModel struct {
	PrincipalID types.String      `tfsdk:"principal_id"`
	RoleID      types.String      `tfsdk:"role_id"`
	Scope       types.String      `tfsdk:"scope"`
	ScopePrefix types.String      `tfsdk:"scope_prefix"`
	EndsBefore  timetypes.RFC3339 `tfsdk:"ends_before"`
	Elevations  types.List        `tfsdk:"elevations"`
}

func (d *activeElevationsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_active_elevations"
}

func (d *activeElevationsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	filter := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: "Only elevations " + desc + ".", Optional: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the elevations that are active now (a read-only projection: who holds which role where, since when, " +
			"until when, why, and who approved), optionally filtered; every page is read. Useful for dashboards and policy-as-code checks. " +
			"The list is read on every plan, so it changes as elevations start and end.",
		Attributes: map[string]schema.Attribute{
			"principal_id": filter("of this principal (the requester who holds the role)"),
			"role_id":      filter("of this role (`role_...`)"),
			"scope":        filter("at exactly this scope"),
			"scope_prefix": filter("at this scope or below it"),
			"ends_before": schema.StringAttribute{
				MarkdownDescription: "Only elevations that end before this time (RFC 3339).",
				CustomType:          timetypes.RFC3339Type{},
				Optional:            true,
			},
			"elevations": schema.ListNestedAttribute{
				MarkdownDescription: "The active elevations.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":                          str("Identifier of the elevation (`elv_...`)."),
						"principal_type":              str("Type of the principal holding the role (`user` or `service_account`)."),
						"principal_id":                str("Identifier of the principal holding the role."),
						"role_id":                     str("Identifier of the role (`role_...`)."),
						"scope":                       str("Scope of the elevation."),
						"eligible_role_assignment_id": str("Eligibility the elevation was requested under (`era_...`)."),
						"source":                      str("How the elevation came about, for example `self_activation`."),
						"started_at":                  str("When the access started (RFC 3339, UTC)."),
						"ends_at":                     str("When the access ends (RFC 3339, UTC), including extensions."),
						"remaining_seconds":           schema.Int64Attribute{MarkdownDescription: "Seconds left when pamd answered.", Computed: true},
						"justification":               str("Justification given with the request."),
						"ticket": schema.SingleNestedAttribute{
							MarkdownDescription: "Ticket given with the request; null if none.",
							Computed:            true,
							Attributes: map[string]schema.Attribute{
								"system": str("Ticket system."),
								"number": str("Ticket number."),
							},
						},
						"requested_by": str("Who requested it, as `type:id` (for example `user:alice`)."),
						"approvers": schema.ListNestedAttribute{
							MarkdownDescription: "Approval decisions, in the order they were made; empty when the policy needed no approval.",
							Computed:            true,
							NestedObject: schema.NestedAttributeObject{
								Attributes: map[string]schema.Attribute{
									"stage_index":    schema.Int64Attribute{MarkdownDescription: "Approval stage (from 0) the decision counted for.", Computed: true},
									"principal_type": str("Type of the approver (`user` or `service_account`)."),
									"principal_id":   str("Identifier of the approver."),
									"decision":       str("The decision: `approved` (an active elevation has only approvals)."),
									"reason":         str("Reason the approver gave; may be empty."),
									"via_group_id":   str("Approver group through which the approver qualified; empty when named directly."),
									"decided_at":     str("When the decision was made (RFC 3339, UTC)."),
								},
							},
						},
						"extended": schema.BoolAttribute{MarkdownDescription: "Whether the elevation has been extended.", Computed: true},
					},
				},
			},
		},
	}
}

func (d *activeElevationsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (d *activeElevationsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg activeElevationsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	params := api.ActiveElevationListParams{
		PrincipalID: cfg.PrincipalID.ValueString(),
		RoleID:      cfg.RoleID.ValueString(),
		Scope:       cfg.Scope.ValueString(),
		ScopePrefix: cfg.ScopePrefix.ValueString(),
		// The largest page: the data source reads every page anyway, and one
		// request of 1,000 costs pamd one query instead of ten (make bench).
		PageSize: api.MaxPageSize,
	}
	if !cfg.EndsBefore.IsNull() {
		t, diags := cfg.EndsBefore.ValueRFC3339Time()
		resp.Diagnostics.Append(diags...)
		params.EndsBefore = t
	}
	if resp.Diagnostics.HasError() {
		return
	}
	items, err := client.All(ctx, func(tok string) (*api.Page[api.ActiveElevation], error) {
		params.PageToken = tok
		return d.client.ListActiveElevations(ctx, params)
	})
	if err != nil {
		addClientError(&resp.Diagnostics, d.client, operation{"List", "active elevations"}, attributePaths{}, err)
		return
	}
	// The state is built directly, without the framework's reflection (see
	// active_elevations_state.go); the schema is the one the state is for.
	state, err := activeElevationsState(resp.State.Schema.Type().TerraformType(ctx), req.Config.Raw, items)
	if err != nil {
		resp.Diagnostics.AddError("Unable to build the state of the active elevations",
			"This is always an error in the provider. Please report it to the provider developers:\n\n"+err.Error())
		return
	}
	resp.State.Raw = state
}
