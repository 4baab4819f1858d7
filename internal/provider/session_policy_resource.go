package provider

import (
	"context"
	"errors"
	"fmt"

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
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var (
	_ resource.ResourceWithConfigure      = (*sessionPolicyResource)(nil)
	_ resource.ResourceWithImportState    = (*sessionPolicyResource)(nil)
	_ resource.ResourceWithIdentity       = (*sessionPolicyResource)(nil)
	_ resource.ResourceWithValidateConfig = (*sessionPolicyResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*sessionPolicyResource)(nil)
)

// NewSessionPolicyResource is the factory of the pam_session_policy resource.
func NewSessionPolicyResource() resource.Resource {
	return &sessionPolicyResource{}
}

type sessionPolicyResource struct {
	client *client.Client
}

func (r *sessionPolicyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_session_policy"
}

// sessionPolicyDescriptions are shared by the resource and the data source.
var sessionPolicyDescriptions = map[string]string{
	"protocols": fmt.Sprintf("Protocols sessions under this policy may use: %s (`postgresql` is reserved: accepted, not yet brokered). "+
		"At least one, at most %d. Defaults to `[\"ssh\"]`.", quotedList(api.SessionProtocols), api.MaxSessionProtocols),
	"max_session_duration_seconds": fmt.Sprintf("Longest a session may last before the gateway ends it, in seconds, %d to %d. Defaults to %d.",
		api.MinSessionDurationSeconds, api.MaxSessionDurationSeconds, api.DefaultSessionDurationSeconds),
	"idle_timeout_seconds": fmt.Sprintf("End a session after this many seconds without input or output; `0` for no idle timeout, "+
		"otherwise %d to `max_session_duration_seconds`. Defaults to `0`.", api.MinIdleTimeoutSeconds),
	"max_concurrent_sessions_per_principal": fmt.Sprintf("How many sessions one principal may hold at once under this policy; "+
		"`0` for no limit, at most %d. Defaults to `0`.", api.MaxConcurrentSessionsLimit),
	"terminate_on_authorization_end": "Cut the session when the checkout or elevation that authorised it ends. Defaults to `false`.",
	"require_mfa":                    "Whether the user's token must carry multi-factor authentication to open a session. Defaults to `false`.",
	"mfa_max_age_seconds": fmt.Sprintf("How old the token's MFA may be, in seconds, 1 to %d; only with `require_mfa`. "+
		"Defaults to %d when `require_mfa` is true, otherwise `0`.", api.MaxSessionMFAMaxAgeSeconds, api.DefaultSessionMFAMaxAgeSeconds),
	"require_justification": "Whether the user must give a justification to open a session. Defaults to `false`.",
	"credential_delivery": fmt.Sprintf("How the vaulted credential reaches the target: one of %s (the gateway logs in upstream; "+
		"the user never sees the secret). Defaults to `%s`.", quotedList(api.CredentialDeliveries), api.CredentialDeliveryInjected),
	"recording": fmt.Sprintf("Whether and how sessions are recorded (asciicast v2: output with timing, input lines, filter hits; "+
		"encrypted at rest). Defaults to `{ enabled = false, mode = \"%s\", retain_days = %d }`.", api.RecordingModeStrict, api.DefaultRecordingRetainDays),
	"recording.enabled": "Record sessions. Defaults to `false`.",
	"recording.mode": fmt.Sprintf("One of %s: `strict` refuses (or ends) a session that cannot be recorded, `best_effort` continues without "+
		"a recording. Defaults to `%s`.", quotedList(api.RecordingModes), api.RecordingModeStrict),
	"recording.retain_days": fmt.Sprintf("How many days recordings are kept, 1 to %d. Defaults to %d.",
		api.MaxRecordingRetainDays, api.DefaultRecordingRetainDays),
	"command_filter": "Filters exec requests and interactive input lines. Commands are normalised before matching (trimmed, runs of " +
		"white space collapsed to one space). Rules are evaluated **in order** and the first that matches decides; when none matches, " +
		"`default_action` decides. Defaults to `{ default_action = \"allow\", rules = [] }`.",
	"command_filter.default_action": fmt.Sprintf("What happens to a command no rule matches: one of %s. Defaults to `%s`.",
		quotedList(api.CommandDefaultActions), api.CommandActionAllow),
	"command_filter.rules": fmt.Sprintf("Ordered rules, at most %d. The order is significant: reordering them changes the policy "+
		"(an in-place update). Defaults to `[]`.", api.MaxCommandFilterRules),
	"rule.match": fmt.Sprintf("How `pattern` is compared with the whole normalised command: one of %s. `exact` and `prefix` compare bytes; "+
		"`glob` uses shell-like syntax on the whole command line (`*`, `?`, `[class]`, `[^class]`, `\\` escapes; `*` and `?` also match `/`); `regex` is Go RE2 syntax, unanchored "+
		"unless the pattern anchors itself.", quotedList(api.CommandMatches)),
	"rule.pattern": fmt.Sprintf("The pattern, at most %d bytes. A regex or glob that does not compile, or an exact or prefix pattern "+
		"that no normalised command can match, fails the plan.", api.MaxCommandFilterPatternLength),
	"rule.action": fmt.Sprintf("What happens to a matching command: one of %s. `deny` refuses it with a message, `alert` allows it and "+
		"records an audit event, `terminate_session` ends the session.", quotedList(api.CommandActions)),
	"rule.description":       fmt.Sprintf("Why the rule exists, at most %d characters. Defaults to `\"\"`.", api.MaxDescriptionLength),
	"file_transfer":          "SCP/SFTP in each direction. Defaults to `{ upload = false, download = false }`.",
	"file_transfer.upload":   "Allow copying files to the target. Defaults to `false`.",
	"file_transfer.download": "Allow copying files from the target. Defaults to `false`.",
	"port_forwarding":        "Allow SSH port forwarding through the session. Defaults to `false`.",
	"require_elevation": "Make an **active elevation** (PIM) the authorisation of every session: the gateway admits a user only while " +
		"they hold an active elevation of `role_id` at `scope` (or at a scope containing it), refuses others with a message naming the " +
		"role and the `pamd elevate` command, and records the elevation on the session (`elevation_id`). With " +
		"`terminate_on_authorization_end` the session is cut when that elevation ends (deactivated, revoked, expired). Approval of the " +
		"session is thereby the elevation's approval workflow (the activation policy of the user's eligibility). Omit for no elevation requirement.",
	"require_elevation.role_id": "Identifier of the role (`" + api.PrefixRole + "_...`) the elevation must grant; the role must exist.",
	"require_elevation.scope": "Scope the elevation must cover: an elevation at this scope or at a scope containing it qualifies. " +
		"Defaults to `\"\"`, meaning an elevation of the role at any scope.",
}

func (r *sessionPolicyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	d := sessionPolicyDescriptions
	optInt := func(desc string, dflt int64) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc, Optional: true, Computed: true, Default: int64default.StaticInt64(dflt)}
	}
	optBool := func(desc string) schema.BoolAttribute {
		return schema.BoolAttribute{MarkdownDescription: desc, Optional: true, Computed: true, Default: booldefault.StaticBool(false)}
	}
	optStr := func(desc, dflt string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Optional: true, Computed: true, Default: stringdefault.StaticString(dflt)}
	}
	defaultRecording, _ := sessionRecordingObject(api.SessionRecordingPolicy{})
	defaultFilter, _ := commandFilterObject(api.CommandFilter{})
	defaultTransfer, _ := fileTransferObject(api.FileTransferPolicy{})
	ruleType := types.ObjectType{AttrTypes: commandFilterRuleAttrTypes}

	resp.Schema = schema.Schema{
		MarkdownDescription: "A session policy: how brokered sessions through pamd's SSH gateway happen (duration and idle limits, " +
			"concurrency, MFA and justification, credential injection, recording, an ordered command filter, file transfer and port " +
			"forwarding). Attach it to vault accounts (`session_policy_id`) or as a safe's default. Changes apply to new sessions; " +
			"running sessions keep the policy they started with. Every change is an in-place update. The configuration is checked at " +
			"plan time with pamd's own rules: a regex that does not compile fails the plan with the parser's message on the rule's `pattern`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the policy, assigned by pamd (`" + api.PrefixSessionPolicy + "_...`); immutable.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the policy, unique in pamd: " + api.NameRule + ". Renaming updates the policy in place.",
				Required:            true,
			},
			"description": optStr(fmt.Sprintf("Free-text description, at most %d characters. Defaults to `\"\"`.", api.MaxDescriptionLength), ""),
			"protocols": schema.SetAttribute{
				MarkdownDescription: d["protocols"],
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, []attr.Value{types.StringValue(api.SessionProtocolSSH)})),
			},
			"max_session_duration_seconds":          optInt(d["max_session_duration_seconds"], api.DefaultSessionDurationSeconds),
			"idle_timeout_seconds":                  optInt(d["idle_timeout_seconds"], 0),
			"max_concurrent_sessions_per_principal": optInt(d["max_concurrent_sessions_per_principal"], 0),
			"terminate_on_authorization_end":        optBool(d["terminate_on_authorization_end"]),
			"require_mfa":                           optBool(d["require_mfa"]),
			// The default depends on require_mfa: planned by ModifyPlan.
			"mfa_max_age_seconds":   schema.Int64Attribute{MarkdownDescription: d["mfa_max_age_seconds"], Optional: true, Computed: true},
			"require_justification": optBool(d["require_justification"]),
			"credential_delivery":   optStr(d["credential_delivery"], api.CredentialDeliveryInjected),
			"recording": schema.SingleNestedAttribute{
				MarkdownDescription: d["recording"],
				Optional:            true,
				Computed:            true,
				Default:             objectdefault.StaticValue(defaultRecording),
				Attributes: map[string]schema.Attribute{
					"enabled":     optBool(d["recording.enabled"]),
					"mode":        optStr(d["recording.mode"], api.RecordingModeStrict),
					"retain_days": optInt(d["recording.retain_days"], api.DefaultRecordingRetainDays),
				},
			},
			"command_filter": schema.SingleNestedAttribute{
				MarkdownDescription: d["command_filter"],
				Optional:            true,
				Computed:            true,
				Default:             objectdefault.StaticValue(defaultFilter),
				Attributes: map[string]schema.Attribute{
					"default_action": optStr(d["command_filter.default_action"], api.CommandActionAllow),
					"rules": schema.ListNestedAttribute{
						MarkdownDescription: d["command_filter.rules"],
						Optional:            true,
						Computed:            true,
						Default:             listdefault.StaticValue(types.ListValueMust(ruleType, []attr.Value{})),
						NestedObject: schema.NestedAttributeObject{
							Attributes: map[string]schema.Attribute{
								"match":       schema.StringAttribute{MarkdownDescription: d["rule.match"], Required: true},
								"pattern":     schema.StringAttribute{MarkdownDescription: d["rule.pattern"], Required: true},
								"action":      schema.StringAttribute{MarkdownDescription: d["rule.action"], Required: true},
								"description": optStr(d["rule.description"], ""),
							},
						},
					},
				},
			},
			"file_transfer": schema.SingleNestedAttribute{
				MarkdownDescription: d["file_transfer"],
				Optional:            true,
				Computed:            true,
				Default:             objectdefault.StaticValue(defaultTransfer),
				Attributes: map[string]schema.Attribute{
					"upload":   optBool(d["file_transfer.upload"]),
					"download": optBool(d["file_transfer.download"]),
				},
			},
			"port_forwarding": optBool(d["port_forwarding"]),
			"require_elevation": schema.SingleNestedAttribute{
				MarkdownDescription: d["require_elevation"],
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"role_id": schema.StringAttribute{MarkdownDescription: d["require_elevation.role_id"], Required: true},
					"scope":   optStr(d["require_elevation.scope"], ""),
				},
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: fmt.Sprintf("Labels for grouping and policy, at most %d. Keys are %s; values at most %d characters. Defaults to `{}`.",
					api.MaxLabels, api.LabelKeyRule, api.MaxLabelValueLength),
				ElementType: types.StringType,
				Optional:    true,
				Computed:    true,
				Default:     mapdefault.StaticValue(types.MapValueMust(types.StringType, map[string]attr.Value{})),
			},
			"version": schema.Int64Attribute{
				MarkdownDescription: "Version of the policy in pamd; increases on every change. Sent as `If-Match` on update and delete.",
				Computed:            true,
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: "When the policy was created (RFC 3339, UTC).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"updated_at": schema.StringAttribute{
				MarkdownDescription: "When the policy last changed (RFC 3339, UTC).",
				Computed:            true,
			},
		},
	}
}

func (r *sessionPolicyResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				Description:       "Identifier of the session policy (" + api.PrefixSessionPolicy + "_...).",
				RequiredForImport: true,
			},
		},
	}
}

func (r *sessionPolicyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig runs pamd's pure policy rules (package session) on the
// configuration, so that a regex that does not compile, a glob with a bad
// class or an idle timeout longer than the session fails the plan, with the
// rule's own message, on the attribute to blame. Nothing reaches pamd.
func (r *sessionPolicyResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg sessionPolicyModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	zeroMeansDefaultViolations(ctx, cfg, &resp.Diagnostics)
	in, unknown, d := sessionPolicyInput(ctx, cfg)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	if vs := planTimeSessionPolicyViolations(in, unknown); len(vs) > 0 {
		addViolations(&resp.Diagnostics, sessionPolicyPaths, "Invalid Session Policy", "pamd would reject this value", vs)
	}
}

// ModifyPlan plans mfa_max_age_seconds, whose default depends on
// require_mfa, as pamd will store it, so that the plan says what the apply
// does and an out-of-band change of a defaulted value shows as drift.
func (r *sessionPolicyResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var cfgAge types.Int64
	var requireMFA types.Bool
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("mfa_max_age_seconds"), &cfgAge)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("require_mfa"), &requireMFA)...)
	if resp.Diagnostics.HasError() || !cfgAge.IsNull() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("mfa_max_age_seconds"), plannedMFAMaxAge(requireMFA))...)
}

// plannedMFAMaxAge is the mfa_max_age_seconds pamd stores when the
// configuration leaves it out.
func plannedMFAMaxAge(requireMFA types.Bool) types.Int64 {
	switch {
	case requireMFA.IsUnknown():
		return types.Int64Unknown()
	case requireMFA.ValueBool():
		return types.Int64Value(api.DefaultSessionMFAMaxAgeSeconds)
	}
	return types.Int64Value(0)
}

var sessionPolicyOp = struct{ create, read, update, delete, imp operation }{
	create: operation{"Create", "session policy"},
	read:   operation{"Read", "session policy"},
	update: operation{"Update", "session policy"},
	delete: operation{"Delete", "session policy"},
	imp:    operation{"Import", "session policy"},
}

func (r *sessionPolicyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan sessionPolicyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, _, diags := sessionPolicyInput(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.client.CreateSessionPolicy(ctx, in)
	if err != nil {
		var pe *client.ProblemError
		if errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Session Policy Already Exists",
				importHintDetail(fmt.Sprintf("A session policy named %q", in.Name), "pam_session_policy", pe.Problem.ExistingID, pe.Problem)+
					" Otherwise choose a different name.")
			return
		}
		addClientError(&resp.Diagnostics, r.client, sessionPolicyOp.create, sessionPolicyPaths, err)
		return
	}
	tflog.Debug(ctx, "Created session policy", map[string]any{"id": p.ID, "version": p.Version})
	r.setState(ctx, p, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *sessionPolicyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state sessionPolicyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.client.GetSessionPolicy(ctx, state.ID.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		removeGone(ctx, "Session policy", state.ID, resp)
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, r.client, sessionPolicyOp.read, sessionPolicyPaths, err)
		return
	}
	r.setState(ctx, p, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *sessionPolicyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state sessionPolicyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, _, diags := sessionPolicyInput(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	p, err := r.client.UpdateSessionPolicy(ctx, id, state.Version.ValueInt64(), in)
	if err != nil {
		var pe *client.ProblemError
		switch {
		case errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists:
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Session Policy Name Already Taken",
				fmt.Sprintf("Terraform could not rename session policy %s to %q because another policy (%s) already has that name. "+
					"Choose a different name, or rename or remove the other policy first. %s", id, in.Name, pe.Problem.ExistingID, serverMessage(pe.Problem)))
		case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
			addStale(&resp.Diagnostics, "Session Policy", "update", id, state.Version.ValueInt64(), pe.Problem)
		case errors.Is(err, client.ErrNotFound) && errors.As(err, &pe):
			addGoneOnUpdate(&resp.Diagnostics, "Session Policy", id, pe.Problem)
		default:
			addClientError(&resp.Diagnostics, r.client, sessionPolicyOp.update, sessionPolicyPaths, err)
		}
		return
	}
	tflog.Debug(ctx, "Updated session policy", map[string]any{"id": p.ID, "version": p.Version})
	r.setState(ctx, p, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *sessionPolicyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state sessionPolicyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	err := r.client.DeleteSessionPolicy(ctx, id, state.Version.ValueInt64())
	if errors.Is(err, client.ErrNotFound) {
		tflog.Debug(ctx, "Session policy already gone", map[string]any{"id": id})
		return
	}
	var pe *client.ProblemError
	switch {
	case err == nil:
	case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
		addStale(&resp.Diagnostics, "Session Policy", "delete", id, state.Version.ValueInt64(), pe.Problem)
	case errors.As(err, &pe) && pe.Problem.Code == api.CodeInUse:
		resp.Diagnostics.AddError("Session Policy Is In Use",
			fmt.Sprintf("Terraform did not delete session policy %s because vault accounts or safes still use it; nothing was deleted. "+
				"Point them at another policy (or none) first; in the same run Terraform orders this for you when they refer to the "+
				"policy's id. %s", id, serverMessage(pe.Problem)))
	default:
		addClientError(&resp.Diagnostics, r.client, sessionPolicyOp.delete, sessionPolicyPaths, err)
	}
}

// ImportState accepts a policy id, a policy name (resolved to its id), or an
// identity (Terraform/OpenTofu 1.12+); Read fills the rest.
func (r *sessionPolicyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	if id == "" && req.Identity != nil {
		var ident idIdentity
		resp.Diagnostics.Append(req.Identity.Get(ctx, &ident)...)
		if resp.Diagnostics.HasError() {
			return
		}
		id = ident.ID.ValueString()
	}
	if !sessionPolicyPrefixPattern.MatchString(id) {
		if !api.NamePattern.MatchString(id) {
			resp.Diagnostics.AddError("Invalid Session Policy Import ID",
				fmt.Sprintf("Expected the id of a session policy (%s_..., for example %s_01JB8X4M0Q3K7Z9V6W2D5R1T8N) or its name (%s); got %q.",
					api.PrefixSessionPolicy, api.PrefixSessionPolicy, api.NameRule, id))
			return
		}
		p, err := r.client.FindSessionPolicyByName(ctx, id)
		if err != nil {
			if errors.Is(err, client.ErrNotFound) {
				resp.Diagnostics.AddError("Session Policy Not Found",
					fmt.Sprintf("pamd has no session policy named %q to import. Check the name, or import by id (%s_...).", id, api.PrefixSessionPolicy))
				return
			}
			addClientError(&resp.Diagnostics, r.client, sessionPolicyOp.imp, sessionPolicyPaths, err)
			return
		}
		id = p.ID
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, idIdentity{ID: types.StringValue(id)})...)
	}
}

func (r *sessionPolicyResource) setState(ctx context.Context, p *api.SessionPolicy, state *tfsdk.State,
	identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	m, d := sessionPolicyToModel(p)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	diags.Append(state.Set(ctx, m)...)
	if identity != nil {
		diags.Append(identity.Set(ctx, idIdentity{ID: m.ID})...)
	}
}
