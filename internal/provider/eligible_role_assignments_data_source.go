package provider

import (
	"context"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var _ datasource.DataSourceWithConfigure = (*eligibleRoleAssignmentsDataSource)(nil)

// NewEligibleRoleAssignmentsDataSource is the factory of pam_eligible_role_assignments.
func NewEligibleRoleAssignmentsDataSource() datasource.DataSource {
	return &eligibleRoleAssignmentsDataSource{}
}

type eligibleRoleAssignmentsDataSource struct {
	client *client.Client
}

type eligibleRoleAssignmentsDataSourceModel struct {
	PrincipalType      types.String `tfsdk:"principal_type"`
	PrincipalID        types.String `tfsdk:"principal_id"`
	RoleID             types.String `tfsdk:"role_id"`
	Scope              types.String `tfsdk:"scope"`
	ScopePrefix        types.String `tfsdk:"scope_prefix"`
	ActivationPolicyID types.String `tfsdk:"activation_policy_id"`
	Statuses           types.Set    `tfsdk:"statuses"`
	Assignments        types.List   `tfsdk:"assignments"`
}

var eligibilityStatuses = []string{api.EligibilityScheduled, api.EligibilityActive, api.EligibilityExpired}

var eligibilityItemAttrTypes = map[string]attr.Type{
	"id":                     types.StringType,
	"principal_type":         types.StringType,
	"principal_id":           types.StringType,
	"role_id":                types.StringType,
	"scope":                  types.StringType,
	"activation_policy_id":   types.StringType,
	"starts_at":              timetypes.RFC3339Type{},
	"ends_at":                timetypes.RFC3339Type{},
	"justification":          types.StringType,
	"ticket":                 types.ObjectType{AttrTypes: ticketAttrTypes},
	"labels":                 types.MapType{ElemType: types.StringType},
	"status":                 types.StringType,
	"active_elevation_count": types.Int64Type,
	"version":                types.Int64Type,
	"created_at":             types.StringType,
	"updated_at":             types.StringType,
}

func (d *eligibleRoleAssignmentsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_eligible_role_assignments"
}

func (d *eligibleRoleAssignmentsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	desc := eligibilityDescriptions
	filter := func(what string, v ...validator.String) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: "Only assignments " + what + ".", Optional: true, Validators: v}
	}
	computed := func(k string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc[k], Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists eligible role assignments, optionally filtered; every page is read. " +
			"Useful to check who may elevate where, for example in policy-as-code checks.",
		Attributes: map[string]schema.Attribute{
			"principal_type": filter("of this principal type: one of "+quotedList(api.PrincipalTypes),
				stringvalidator.OneOf(api.PrincipalTypes...)),
			"principal_id":         filter("of this principal id"),
			"role_id":              filter("of this role (`role_...`)"),
			"scope":                filter("at exactly this scope"),
			"scope_prefix":         filter("at this scope or below it"),
			"activation_policy_id": filter("using this activation policy (`actp_...`)"),
			"statuses": schema.SetAttribute{
				MarkdownDescription: "Only assignments in one of these statuses: " + quotedList(eligibilityStatuses) + ".",
				ElementType:         types.StringType,
				Optional:            true,
				Validators:          []validator.Set{setvalidator.ValueStringsAre(stringvalidator.OneOf(eligibilityStatuses...))},
			},
			"assignments": schema.ListNestedAttribute{
				MarkdownDescription: "The matching assignments, in pamd's order (by id).",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":                   schema.StringAttribute{MarkdownDescription: "Identifier of the eligibility (`era_...`).", Computed: true},
						"principal_type":       computed("principal_type"),
						"principal_id":         computed("principal_id"),
						"role_id":              computed("role_id"),
						"scope":                computed("scope"),
						"activation_policy_id": computed("activation_policy_id"),
						"starts_at": schema.StringAttribute{MarkdownDescription: "When the eligibility starts (RFC 3339, UTC); null if from creation.",
							CustomType: timetypes.RFC3339Type{}, Computed: true},
						"ends_at": schema.StringAttribute{MarkdownDescription: "When the eligibility ends (RFC 3339, UTC); null if permanent.",
							CustomType: timetypes.RFC3339Type{}, Computed: true},
						"justification": computed("justification"),
						"ticket": schema.SingleNestedAttribute{
							MarkdownDescription: desc["ticket"] + " Null if none.",
							Computed:            true,
							Attributes: map[string]schema.Attribute{
								"system": computed("ticket_system"),
								"number": computed("ticket_number"),
							},
						},
						"labels":                 schema.MapAttribute{MarkdownDescription: "Labels of the eligibility.", ElementType: types.StringType, Computed: true},
						"status":                 computed("status"),
						"active_elevation_count": schema.Int64Attribute{MarkdownDescription: desc["active_elevation_count"], Computed: true},
						"version":                schema.Int64Attribute{MarkdownDescription: "Version of the eligibility in pamd.", Computed: true},
						"created_at":             computed("created_at"),
						"updated_at":             computed("updated_at"),
					},
				},
			},
		},
	}
}

func (d *eligibleRoleAssignmentsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (d *eligibleRoleAssignmentsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg eligibleRoleAssignmentsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	params := api.EligibleRoleAssignmentListParams{
		PrincipalType:      cfg.PrincipalType.ValueString(),
		PrincipalID:        cfg.PrincipalID.ValueString(),
		RoleID:             cfg.RoleID.ValueString(),
		Scope:              cfg.Scope.ValueString(),
		ScopePrefix:        cfg.ScopePrefix.ValueString(),
		ActivationPolicyID: cfg.ActivationPolicyID.ValueString(),
		PageSize:           api.DefaultPageSize,
	}
	if !cfg.Statuses.IsNull() {
		var statuses []string
		resp.Diagnostics.Append(cfg.Statuses.ElementsAs(ctx, &statuses, false)...)
		sort.Strings(statuses)
		params.Status = strings.Join(statuses, ",")
	}
	items, err := client.All(ctx, func(tok string) (*api.Page[api.EligibleRoleAssignment], error) {
		params.PageToken = tok
		return d.client.ListEligibleRoleAssignments(ctx, params)
	})
	if err != nil {
		addClientError(&resp.Diagnostics, d.client, operation{"List", "eligible role assignments"}, attributePaths{}, err)
		return
	}
	list, diags := eligibilityItemsValue(items)
	resp.Diagnostics.Append(diags...)
	cfg.Assignments = list
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, cfg)...)
}

// eligibilityItemsValue maps listed eligibilities to the assignments list.
func eligibilityItemsValue(items []api.EligibleRoleAssignment) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	elemType := types.ObjectType{AttrTypes: eligibilityItemAttrTypes}
	values := make([]attr.Value, 0, len(items))
	for i := range items {
		m, d := eligibilityToModel(&items[i], eligibleRoleAssignmentModel{})
		diags.Append(d...)
		o, d := types.ObjectValue(eligibilityItemAttrTypes, map[string]attr.Value{
			"id":                     m.ID,
			"principal_type":         m.PrincipalType,
			"principal_id":           m.PrincipalID,
			"role_id":                m.RoleID,
			"scope":                  m.Scope,
			"activation_policy_id":   m.ActivationPolicyID,
			"starts_at":              m.StartsAt,
			"ends_at":                m.EndsAt,
			"justification":          m.Justification,
			"ticket":                 m.Ticket,
			"labels":                 m.Labels,
			"status":                 m.Status,
			"active_elevation_count": m.ActiveElevationCount,
			"version":                m.Version,
			"created_at":             m.CreatedAt,
			"updated_at":             m.UpdatedAt,
		})
		diags.Append(d...)
		values = append(values, o)
	}
	list, d := types.ListValue(elemType, values)
	diags.Append(d...)
	return list, diags
}
