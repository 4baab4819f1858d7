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
	_ datasource.DataSourceWithConfigure        = (*sessionPolicyDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*sessionPolicyDataSource)(nil)
)

// NewSessionPolicyDataSource is the factory of the pam_session_policy data source.
func NewSessionPolicyDataSource() datasource.DataSource {
	return &sessionPolicyDataSource{}
}

type sessionPolicyDataSource struct {
	client *client.Client
}

func (d *sessionPolicyDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_session_policy"
}

func (d *sessionPolicyDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	desc := sessionPolicyDescriptions
	num := func(k string) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc[k], Computed: true}
	}
	flag := func(k string) schema.BoolAttribute {
		return schema.BoolAttribute{MarkdownDescription: desc[k], Computed: true}
	}
	str := func(k string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc[k], Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up a session policy by `id` or by `name` (exactly one of them). Every default is shown as pamd " +
			"stores it; `command_filter.rules` are in evaluation order.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the policy (`" + api.PrefixSessionPolicy + "_...`). Exactly one of `id` and `name` must be set.",
				Optional:            true,
				Computed:            true,
				Validators: []validator.String{stringvalidator.RegexMatches(sessionPolicyPrefixPattern,
					"must be a session policy id starting with \""+api.PrefixSessionPolicy+"_\"")},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the policy: " + api.NameRule + ". Exactly one of `id` and `name` must be set.",
				Optional:            true,
				Computed:            true,
				Validators:          roleNameValidators(),
			},
			"description":                           schema.StringAttribute{MarkdownDescription: "Free-text description.", Computed: true},
			"protocols":                             schema.SetAttribute{MarkdownDescription: desc["protocols"], ElementType: types.StringType, Computed: true},
			"max_session_duration_seconds":          num("max_session_duration_seconds"),
			"idle_timeout_seconds":                  num("idle_timeout_seconds"),
			"max_concurrent_sessions_per_principal": num("max_concurrent_sessions_per_principal"),
			"terminate_on_authorization_end":        flag("terminate_on_authorization_end"),
			"require_mfa":                           flag("require_mfa"),
			"mfa_max_age_seconds":                   num("mfa_max_age_seconds"),
			"require_justification":                 flag("require_justification"),
			"credential_delivery":                   str("credential_delivery"),
			"recording": schema.SingleNestedAttribute{
				MarkdownDescription: desc["recording"],
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"enabled":     flag("recording.enabled"),
					"mode":        str("recording.mode"),
					"retain_days": num("recording.retain_days"),
				},
			},
			"command_filter": schema.SingleNestedAttribute{
				MarkdownDescription: desc["command_filter"],
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"default_action": str("command_filter.default_action"),
					"rules": schema.ListNestedAttribute{
						MarkdownDescription: desc["command_filter.rules"],
						Computed:            true,
						NestedObject: schema.NestedAttributeObject{
							Attributes: map[string]schema.Attribute{
								"match":       str("rule.match"),
								"pattern":     str("rule.pattern"),
								"action":      str("rule.action"),
								"description": str("rule.description"),
							},
						},
					},
				},
			},
			"file_transfer": schema.SingleNestedAttribute{
				MarkdownDescription: desc["file_transfer"],
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"upload":   flag("file_transfer.upload"),
					"download": flag("file_transfer.download"),
				},
			},
			"port_forwarding": flag("port_forwarding"),
			"require_elevation": schema.SingleNestedAttribute{
				MarkdownDescription: desc["require_elevation"] + " Null when the policy requires none.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"role_id": str("require_elevation.role_id"),
					"scope":   str("require_elevation.scope"),
				},
			},
			"labels":     schema.MapAttribute{MarkdownDescription: "Labels of the policy.", ElementType: types.StringType, Computed: true},
			"version":    schema.Int64Attribute{MarkdownDescription: "Version of the policy in pamd; increases on every change.", Computed: true},
			"created_at": schema.StringAttribute{MarkdownDescription: "When the policy was created (RFC 3339, UTC).", Computed: true},
			"updated_at": schema.StringAttribute{MarkdownDescription: "When the policy last changed (RFC 3339, UTC).", Computed: true},
		},
	}
}

func (d *sessionPolicyDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("name")),
	}
}

func (d *sessionPolicyDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (d *sessionPolicyDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg sessionPolicyModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var (
		p    *api.SessionPolicy
		err  error
		by   string
		attr path.Path
	)
	if !cfg.ID.IsNull() {
		by, attr = "id "+cfg.ID.ValueString(), path.Root("id")
		p, err = d.client.GetSessionPolicy(ctx, cfg.ID.ValueString())
	} else {
		by, attr = fmt.Sprintf("name %q", cfg.Name.ValueString()), path.Root("name")
		p, err = d.client.FindSessionPolicyByName(ctx, cfg.Name.ValueString())
	}
	var pe *client.ProblemError
	if errors.Is(err, client.ErrNotFound) && errors.As(err, &pe) {
		resp.Diagnostics.AddAttributeError(attr, "Session Policy Not Found",
			fmt.Sprintf("pamd has no session policy with %s. Check the spelling; if the policy is created in the same configuration, "+
				"refer to the resource instead of looking it up. %s", by, serverMessage(pe.Problem)))
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, d.client, operation{"Read", "session policy"}, sessionPolicyPaths, err)
		return
	}
	m, diags := sessionPolicyToModel(p)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}
