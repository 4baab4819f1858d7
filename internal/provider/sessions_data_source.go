package provider

import (
	"context"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
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

var _ datasource.DataSourceWithConfigure = (*sessionsDataSource)(nil)

// NewSessionsDataSource is the factory of pam_sessions.
func NewSessionsDataSource() datasource.DataSource {
	return &sessionsDataSource{}
}

type sessionsDataSource struct {
	client *client.Client
}

type sessionsDataSourceModel struct {
	State           types.String      `tfsdk:"state"`
	PrincipalID     types.String      `tfsdk:"principal_id"`
	VaultAccountID  types.String      `tfsdk:"vault_account_id"`
	SessionPolicyID types.String      `tfsdk:"session_policy_id"`
	StartedAfter    timetypes.RFC3339 `tfsdk:"started_after"`
	Sessions        types.List        `tfsdk:"sessions"`
}

// principalRefPattern is the type:id form pamd's session filters take.
var principalRefPattern = regexp.MustCompile(`^[a-z_]+:\S+$`)

var sessionAttrTypes = map[string]attr.Type{
	"id":                       types.StringType,
	"state":                    types.StringType,
	"principal":                types.StringType,
	"vault_account_id":         types.StringType,
	"checkout_id":              types.StringType,
	"session_policy_id":        types.StringType,
	"policy_version":           types.Int64Type,
	"protocol":                 types.StringType,
	"client_ip":                types.StringType,
	"justification":            types.StringType,
	"started_at":               types.StringType,
	"expires_at":               types.StringType,
	"last_activity_at":         types.StringType,
	"ended_at":                 types.StringType,
	"end_reason":               types.StringType,
	"ended_by":                 types.StringType,
	"recording_id":             types.StringType,
	"command_filter_hit_count": types.Int64Type,
}

func (d *sessionsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_sessions"
}

func (d *sessionsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists brokered sessions (live and past), optionally filtered; every page is read. Sessions are created by " +
			"pamd's SSH gateway, never by Terraform: this is a read-only view for dashboards, audits and policy-as-code checks. " +
			"The list is read on every plan, so it changes as sessions start and end.",
		Attributes: map[string]schema.Attribute{
			"state": schema.StringAttribute{
				MarkdownDescription: "Only sessions in this state: one of " + quotedList(api.SessionStates) + ".",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf(api.SessionStates...)},
			},
			"principal_id": schema.StringAttribute{
				MarkdownDescription: "Only sessions of this principal, written `type:id` (for example `user:alice`).",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.RegexMatches(principalRefPattern, "must be written type:id, for example user:alice")},
			},
			"vault_account_id": schema.StringAttribute{
				MarkdownDescription: "Only sessions to this vault account (`" + api.PrefixVaultAccount + "_...`).",
				Optional:            true,
				Validators: []validator.String{stringvalidator.RegexMatches(vaultAccountPrefixPattern,
					"must be a vault account id starting with \""+api.PrefixVaultAccount+"_\"")},
			},
			"session_policy_id": schema.StringAttribute{
				MarkdownDescription: "Only sessions governed by this session policy (`" + api.PrefixSessionPolicy + "_...`).",
				Optional:            true,
				Validators: []validator.String{stringvalidator.RegexMatches(sessionPolicyPrefixPattern,
					"must be a session policy id starting with \""+api.PrefixSessionPolicy+"_\"")},
			},
			"started_after": schema.StringAttribute{
				MarkdownDescription: "Only sessions that started after this time (RFC 3339).",
				CustomType:          timetypes.RFC3339Type{},
				Optional:            true,
			},
			"sessions": schema.ListNestedAttribute{
				MarkdownDescription: "The sessions, in start order (oldest first).",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":                str("Identifier of the session (`" + api.PrefixSession + "_...`)."),
						"state":             str("State: one of " + quotedList(api.SessionStates) + "."),
						"principal":         str("Who opened the session, as `type:id` (for example `user:alice`)."),
						"vault_account_id":  str("Vault account the session connects to (`" + api.PrefixVaultAccount + "_...`)."),
						"checkout_id":       str("Checkout that authorised the session; empty when it was authorised otherwise."),
						"session_policy_id": str("Session policy that governs the session (`" + api.PrefixSessionPolicy + "_...`)."),
						"policy_version": schema.Int64Attribute{
							MarkdownDescription: "Version of the session policy the session started under (later edits do not apply to it).",
							Computed:            true,
						},
						"protocol":         str("Protocol of the session, for example `ssh`."),
						"client_ip":        str("Address the user connected from."),
						"justification":    str("Justification the user gave; may be empty."),
						"started_at":       str("When the session started (RFC 3339, UTC)."),
						"expires_at":       str("When the session reaches its maximum duration (RFC 3339, UTC)."),
						"last_activity_at": str("Last input or output (RFC 3339, UTC); null if none yet."),
						"ended_at":         str("When the session ended (RFC 3339, UTC); null while it runs."),
						"end_reason":       str("Why it ended: one of " + quotedList(api.SessionEndReasons) + "; null while it runs."),
						"ended_by":         str("Administrator who terminated it, as `type:id`; null otherwise."),
						"recording_id":     str("Recording of the session (`" + api.PrefixSessionRecording + "_...`); null when not recorded."),
						"command_filter_hit_count": schema.Int64Attribute{
							MarkdownDescription: "How many commands matched a command filter rule (or were denied by the default action).",
							Computed:            true,
						},
					},
				},
			},
		},
	}
}

func (d *sessionsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (d *sessionsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg sessionsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	params := api.SessionListParams{
		State:           cfg.State.ValueString(),
		PrincipalID:     cfg.PrincipalID.ValueString(),
		VaultAccountID:  cfg.VaultAccountID.ValueString(),
		SessionPolicyID: cfg.SessionPolicyID.ValueString(),
		PageSize:        api.DefaultPageSize,
	}
	if !cfg.StartedAfter.IsNull() {
		t, diags := cfg.StartedAfter.ValueRFC3339Time()
		resp.Diagnostics.Append(diags...)
		params.StartedAfter = t.UTC().Format(time.RFC3339Nano)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	items, err := client.All(ctx, func(tok string) (*api.Page[api.Session], error) {
		params.PageToken = tok
		return d.client.ListSessions(ctx, params)
	})
	if err != nil {
		addClientError(&resp.Diagnostics, d.client, operation{"List", "sessions"}, attributePaths{}, err)
		return
	}
	list, diags := sessionsValue(items)
	resp.Diagnostics.Append(diags...)
	cfg.Sessions = list
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, cfg)...)
}

// sessionsValue maps sessions to the sessions list. Empty optional strings
// become null, so that configurations can test them with `!= null`.
func sessionsValue(items []api.Session) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	optional := func(s string) types.String {
		if s == "" {
			return types.StringNull()
		}
		return types.StringValue(s)
	}
	actor := func(a *api.Actor) types.String {
		if a == nil || (a.Type == "" && a.ID == "") {
			return types.StringNull()
		}
		return types.StringValue(a.Type + ":" + a.ID)
	}
	values := make([]attr.Value, 0, len(items))
	for _, s := range items {
		o, d := types.ObjectValue(sessionAttrTypes, map[string]attr.Value{
			"id":                       types.StringValue(s.ID),
			"state":                    types.StringValue(s.State),
			"principal":                actor(&s.Principal),
			"vault_account_id":         types.StringValue(s.VaultAccountID),
			"checkout_id":              optional(s.CheckoutID),
			"session_policy_id":        optional(s.SessionPolicyID),
			"policy_version":           types.Int64Value(s.PolicyVersion),
			"protocol":                 types.StringValue(s.Protocol),
			"client_ip":                types.StringValue(s.ClientIP),
			"justification":            types.StringValue(s.Justification),
			"started_at":               timeValue(s.StartedAt),
			"expires_at":               timeValue(s.ExpiresAt),
			"last_activity_at":         timeValuePtr(s.LastActivityAt),
			"ended_at":                 timeValuePtr(s.EndedAt),
			"end_reason":               optional(s.EndReason),
			"ended_by":                 actor(s.EndedBy),
			"recording_id":             optional(s.RecordingID),
			"command_filter_hit_count": types.Int64Value(int64(len(s.CommandFilterHits))),
		})
		diags.Append(d...)
		values = append(values, o)
	}
	list, d := types.ListValue(types.ObjectType{AttrTypes: sessionAttrTypes}, values)
	diags.Append(d...)
	return list, diags
}
