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
	_ datasource.DataSourceWithConfigure        = (*activationPolicyDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*activationPolicyDataSource)(nil)
)

// NewActivationPolicyDataSource is the factory of the pam_activation_policy data source.
func NewActivationPolicyDataSource() datasource.DataSource {
	return &activationPolicyDataSource{}
}

type activationPolicyDataSource struct {
	client *client.Client
}

func (d *activationPolicyDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_activation_policy"
}

func (d *activationPolicyDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	desc := activationPolicyDescriptions
	computedInt := func(k string) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc[k], Computed: true}
	}
	computedBool := func(k string) schema.BoolAttribute {
		return schema.BoolAttribute{MarkdownDescription: desc[k], Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up an activation policy by `id` or by `name` (exactly one of them). " +
			"Every default is shown as pamd stores it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the policy (`actp_...`). Exactly one of `id` and `name` must be set.",
				Optional:            true,
				Computed:            true,
				Validators: []validator.String{stringvalidator.RegexMatches(activationPolicyPrefixPattern,
					"must be an activation policy id starting with \""+api.PrefixActivationPolicy+"_\"")},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the policy: " + api.NameRule + ". Exactly one of `id` and `name` must be set.",
				Optional:            true,
				Computed:            true,
				Validators:          roleNameValidators(),
			},
			"description":                  schema.StringAttribute{MarkdownDescription: "Free-text description.", Computed: true},
			"max_activation_seconds":       computedInt("max_activation_seconds"),
			"default_activation_seconds":   computedInt("default_activation_seconds"),
			"require_justification":        computedBool("require_justification"),
			"justification_min_length":     computedInt("justification_min_length"),
			"require_ticket":               computedBool("require_ticket"),
			"ticket_systems":               schema.SetAttribute{MarkdownDescription: desc["ticket_systems"], ElementType: types.StringType, Computed: true},
			"require_mfa":                  computedBool("require_mfa"),
			"mfa_max_age_seconds":          computedInt("mfa_max_age_seconds"),
			"allow_scheduled_start":        computedBool("allow_scheduled_start"),
			"max_schedule_ahead_seconds":   computedInt("max_schedule_ahead_seconds"),
			"allow_extension":              computedBool("allow_extension"),
			"max_extensions":               computedInt("max_extensions"),
			"max_total_activation_seconds": computedInt("max_total_activation_seconds"),
			"eligibility_constraints": schema.SingleNestedAttribute{
				MarkdownDescription: desc["eligibility_constraints"],
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"allow_permanent":         computedBool("allow_permanent"),
					"max_eligibility_seconds": computedInt("max_eligibility_seconds"),
				},
			},
			"approval": schema.SingleNestedAttribute{
				MarkdownDescription: desc["approval"] + " Null when the policy needs no approval.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"require_approver_justification": computedBool("require_approver_justification"),
					"stages": schema.ListNestedAttribute{
						MarkdownDescription: desc["stages"],
						Computed:            true,
						NestedObject: schema.NestedAttributeObject{
							Attributes: map[string]schema.Attribute{
								"approvers": schema.SetNestedAttribute{
									MarkdownDescription: desc["approvers"],
									Computed:            true,
									NestedObject: schema.NestedAttributeObject{
										Attributes: map[string]schema.Attribute{
											"principal_type": schema.StringAttribute{MarkdownDescription: desc["principal_type"], Computed: true},
											"principal_id":   schema.StringAttribute{MarkdownDescription: desc["principal_id"], Computed: true},
										},
									},
								},
								"approvals_needed": computedInt("approvals_needed"),
								"timeout_seconds":  computedInt("timeout_seconds"),
							},
						},
					},
				},
			},
			"labels":     schema.MapAttribute{MarkdownDescription: "Labels of the policy.", ElementType: types.StringType, Computed: true},
			"version":    schema.Int64Attribute{MarkdownDescription: "Version of the policy in pamd; increases on every change.", Computed: true},
			"created_at": schema.StringAttribute{MarkdownDescription: "When the policy was created (RFC 3339, UTC).", Computed: true},
			"updated_at": schema.StringAttribute{MarkdownDescription: "When the policy last changed (RFC 3339, UTC).", Computed: true},
		},
	}
}

func (d *activationPolicyDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("name")),
	}
}

func (d *activationPolicyDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (d *activationPolicyDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg activationPolicyModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var (
		p    *api.ActivationPolicy
		err  error
		by   string
		attr path.Path
	)
	if !cfg.ID.IsNull() {
		by, attr = "id "+cfg.ID.ValueString(), path.Root("id")
		p, err = d.client.GetActivationPolicy(ctx, cfg.ID.ValueString())
	} else {
		by, attr = fmt.Sprintf("name %q", cfg.Name.ValueString()), path.Root("name")
		p, err = d.client.FindActivationPolicyByName(ctx, cfg.Name.ValueString())
	}
	var pe *client.ProblemError
	if errors.Is(err, client.ErrNotFound) && errors.As(err, &pe) {
		resp.Diagnostics.AddAttributeError(attr, "Activation Policy Not Found",
			fmt.Sprintf("pamd has no activation policy with %s. Check the spelling; if the policy is created in the same "+
				"configuration, refer to the resource instead of looking it up. %s", by, serverMessage(pe.Problem)))
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, d.client, operation{"Read", "activation policy"}, activationPolicyPaths, err)
		return
	}
	m, diags := activationPolicyToModel(p)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}
