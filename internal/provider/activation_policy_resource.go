package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
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
	_ resource.ResourceWithConfigure      = (*activationPolicyResource)(nil)
	_ resource.ResourceWithImportState    = (*activationPolicyResource)(nil)
	_ resource.ResourceWithIdentity       = (*activationPolicyResource)(nil)
	_ resource.ResourceWithValidateConfig = (*activationPolicyResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*activationPolicyResource)(nil)
)

// NewActivationPolicyResource is the factory of the pam_activation_policy resource.
func NewActivationPolicyResource() resource.Resource {
	return &activationPolicyResource{}
}

type activationPolicyResource struct {
	client *client.Client
}

func (r *activationPolicyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_activation_policy"
}

// Descriptions shared by the resource and the data source.
var activationPolicyDescriptions = map[string]string{
	"max_activation_seconds": fmt.Sprintf("Longest elevation one request may ask for, in seconds, between %d and %d.",
		api.MinActivationSeconds, api.MaxActivationSeconds),
	"default_activation_seconds": fmt.Sprintf("Duration of an elevation whose request names none, in seconds: at least %d and at most `max_activation_seconds`. "+
		"Defaults to the smaller of %d and `max_activation_seconds`.", api.MinActivationSeconds, api.DefaultActivationSeconds),
	"require_justification": "Whether a request must give a justification. Defaults to `false`.",
	"justification_min_length": fmt.Sprintf("Minimum length of the justification in characters (after trimming spaces), 0 to %d; "+
		"only with `require_justification`. Defaults to `0`.", api.MaxJustificationLength),
	"require_ticket": "Whether a request must reference a ticket. Defaults to `false`.",
	"ticket_systems": fmt.Sprintf("Ticket systems a request's ticket may name (for example `jira`); empty allows any. "+
		"At most %d, each at most %d characters. Defaults to `[]`.", api.MaxTicketSystems, api.MaxTicketFieldLength),
	"require_mfa": "Whether the requester's token must carry multi-factor authentication (`pamd login --mfa`). Defaults to `false`.",
	"mfa_max_age_seconds": fmt.Sprintf("How old the token's MFA may be, in seconds: `0` accepts any MFA on the token, otherwise 60 to %d; "+
		"only with `require_mfa`. Defaults to `0`.", api.MaxMFAMaxAgeSeconds),
	"allow_scheduled_start": "Whether a request may ask for a start time in the future. Defaults to `false`.",
	"max_schedule_ahead_seconds": fmt.Sprintf("How far ahead a start may be scheduled, in seconds, 60 to %d; only with `allow_scheduled_start`. "+
		"Defaults to %d when scheduled start is allowed, otherwise `0`.", api.MaxScheduleAheadSeconds, api.DefaultScheduleAheadSeconds),
	"allow_extension": "Whether an active elevation may be extended by its requester. Defaults to `false`.",
	"max_extensions": fmt.Sprintf("How many times one elevation may be extended, 0 to %d; only with `allow_extension`. "+
		"Defaults to `1` when extension is allowed, otherwise `0`.", api.MaxExtensions),
	"max_total_activation_seconds": fmt.Sprintf("Longest total duration of one elevation including extensions, in seconds, "+
		"between `max_activation_seconds` and %d; only with `allow_extension`. Defaults to `max_activation_seconds * (1 + max_extensions)` "+
		"(capped) when extension is allowed, otherwise `0`.", api.MaxTotalActivationSeconds),
	"eligibility_constraints": "Limits on the eligible role assignments that use this policy. Defaults to " +
		"`{ allow_permanent = false, max_eligibility_seconds = 0 }`.",
	"allow_permanent": "Whether an eligible role assignment using this policy may omit `ends_at` (be permanent). Defaults to `false`.",
	"max_eligibility_seconds": fmt.Sprintf("Longest eligibility window (`ends_at` - `starts_at`) in seconds; `0` for no limit, at most %d. Defaults to `0`.",
		api.MaxEligibilitySeconds),
	"approval": fmt.Sprintf("Approval an elevation needs before it becomes active. Omit it for activation without approval. "+
		"Stages are evaluated in order; within a stage, any `approvals_needed` distinct approvers suffice and one denial denies the request. "+
		"A requester never approves their own request. At most %d stages.", api.MaxApprovalStages),
	"require_approver_justification": "Whether approvers must give a reason when they approve or deny. Defaults to `false`.",
	"stages":                         fmt.Sprintf("Approval stages, in the order they are evaluated: between 1 and %d.", api.MaxApprovalStages),
	"approvers": fmt.Sprintf("Who may decide in this stage: users, service accounts, or groups (any member counts), 1 to %d.",
		api.MaxApproversPerStage),
	"principal_type": "Type of the principal: one of " + quotedList(api.PrincipalTypes) + ".",
	"principal_id":   fmt.Sprintf("Identifier of the principal as pamd tokens name it (for `user:alice`, `alice`), at most %d characters.", api.MaxPrincipalIDLength),
	"approvals_needed": "How many distinct approvers must approve in this stage: at least 1 and at most the number of individual approvers " +
		"(a stage with a group allows up to the per-stage maximum). Defaults to `1`.",
	"timeout_seconds": fmt.Sprintf("How long the stage waits for decisions before the request expires, in seconds, %d to %d. Defaults to %d.",
		api.MinApprovalTimeoutSeconds, api.MaxApprovalTimeoutSeconds, api.DefaultApprovalTimeoutSeconds),
}

func quotedList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "`" + v + "`"
	}
	return strings.Join(q, ", ")
}

func (r *activationPolicyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	d := activationPolicyDescriptions
	optInt := func(desc string, dflt int64) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc, Optional: true, Computed: true, Default: int64default.StaticInt64(dflt)}
	}
	optBool := func(desc string) schema.BoolAttribute {
		return schema.BoolAttribute{MarkdownDescription: desc, Optional: true, Computed: true, Default: booldefault.StaticBool(false)}
	}
	// Defaults that depend on other attributes are planned by ModifyPlan.
	dynInt := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc, Optional: true, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An activation policy: the rules an elevation of an eligible role assignment must satisfy " +
			"(duration, justification, ticket, MFA, scheduling, extension, approval stages) and the limits on the eligibilities that use it. " +
			"Changes apply to future elevations; in-flight elevations keep the policy they were requested under. " +
			"Every duration is an integer number of seconds. The policy is validated with pamd's own rules at plan time.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the policy, assigned by pamd (`actp_...`); immutable.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the policy, unique in pamd: " + api.NameRule + ". Renaming updates the policy in place.",
				Required:            true,
			},
			"description": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("Free-text description, at most %d characters. Defaults to `\"\"`.", api.MaxDescriptionLength),
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
			},
			"max_activation_seconds": schema.Int64Attribute{
				MarkdownDescription: d["max_activation_seconds"],
				Required:            true,
			},
			"default_activation_seconds":   dynInt(d["default_activation_seconds"]),
			"require_justification":        optBool(d["require_justification"]),
			"justification_min_length":     optInt(d["justification_min_length"], 0),
			"require_ticket":               optBool(d["require_ticket"]),
			"require_mfa":                  optBool(d["require_mfa"]),
			"mfa_max_age_seconds":          optInt(d["mfa_max_age_seconds"], 0),
			"allow_scheduled_start":        optBool(d["allow_scheduled_start"]),
			"max_schedule_ahead_seconds":   dynInt(d["max_schedule_ahead_seconds"]),
			"allow_extension":              optBool(d["allow_extension"]),
			"max_extensions":               dynInt(d["max_extensions"]),
			"max_total_activation_seconds": dynInt(d["max_total_activation_seconds"]),
			"ticket_systems": schema.SetAttribute{
				MarkdownDescription: d["ticket_systems"],
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, []attr.Value{})),
			},
			"eligibility_constraints": schema.SingleNestedAttribute{
				MarkdownDescription: d["eligibility_constraints"],
				Optional:            true,
				Computed:            true,
				Default: objectdefault.StaticValue(types.ObjectValueMust(eligibilityConstraintsAttrTypes, map[string]attr.Value{
					"allow_permanent":         types.BoolValue(false),
					"max_eligibility_seconds": types.Int64Value(0),
				})),
				Attributes: map[string]schema.Attribute{
					"allow_permanent":         optBool(d["allow_permanent"]),
					"max_eligibility_seconds": optInt(d["max_eligibility_seconds"], 0),
				},
			},
			"approval": schema.SingleNestedAttribute{
				MarkdownDescription: d["approval"],
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"require_approver_justification": optBool(d["require_approver_justification"]),
					"stages": schema.ListNestedAttribute{
						MarkdownDescription: d["stages"],
						Required:            true,
						NestedObject: schema.NestedAttributeObject{
							Attributes: map[string]schema.Attribute{
								"approvers": schema.SetNestedAttribute{
									MarkdownDescription: d["approvers"],
									Required:            true,
									NestedObject: schema.NestedAttributeObject{
										Attributes: map[string]schema.Attribute{
											"principal_type": schema.StringAttribute{MarkdownDescription: d["principal_type"], Required: true},
											"principal_id":   schema.StringAttribute{MarkdownDescription: d["principal_id"], Required: true},
										},
									},
								},
								"approvals_needed": optInt(d["approvals_needed"], 1),
								"timeout_seconds":  optInt(d["timeout_seconds"], api.DefaultApprovalTimeoutSeconds),
							},
						},
					},
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

func (r *activationPolicyResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				Description:       "Identifier of the activation policy (actp_...).",
				RequiredForImport: true,
			},
		},
	}
}

func (r *activationPolicyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (r *activationPolicyResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg activationPolicyModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	validateActivationPolicyConfig(ctx, cfg, &resp.Diagnostics)
}

// ModifyPlan plans the defaults that depend on other attributes, so that the
// plan states what pamd will store.
func (r *activationPolicyResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var cfg, plan activationPolicyModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, planActivationDefaults(cfg, plan))...)
}

var activationPolicyOp = struct{ create, read, update, delete, imp operation }{
	create: operation{"Create", "activation policy"},
	read:   operation{"Read", "activation policy"},
	update: operation{"Update", "activation policy"},
	delete: operation{"Delete", "activation policy"},
	imp:    operation{"Import", "activation policy"},
}

func (r *activationPolicyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan activationPolicyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, diags := activationPolicyInputFromModel(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.client.CreateActivationPolicy(ctx, in)
	if err != nil {
		var pe *client.ProblemError
		if errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Activation Policy Already Exists",
				importHintDetail(fmt.Sprintf("An activation policy named %q", in.Name), "pam_activation_policy", pe.Problem.ExistingID, pe.Problem)+
					" Otherwise choose a different name.")
			return
		}
		addClientError(&resp.Diagnostics, r.client, activationPolicyOp.create, activationPolicyPaths, err)
		return
	}
	tflog.Debug(ctx, "Created activation policy", map[string]any{"id": p.ID, "version": p.Version})
	r.setState(ctx, p, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *activationPolicyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state activationPolicyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.client.GetActivationPolicy(ctx, state.ID.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		removeGone(ctx, "Activation policy", state.ID, resp)
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, r.client, activationPolicyOp.read, activationPolicyPaths, err)
		return
	}
	r.setState(ctx, p, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *activationPolicyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state activationPolicyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, diags := activationPolicyInputFromModel(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.client.UpdateActivationPolicy(ctx, state.ID.ValueString(), state.Version.ValueInt64(), in)
	if err != nil {
		var pe *client.ProblemError
		switch {
		case errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists:
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Activation Policy Name Already Taken",
				fmt.Sprintf("Terraform could not rename the activation policy to %q because another policy (%s) already has that name. "+
					"Choose a different name, or rename or remove the other policy first. %s", in.Name, pe.Problem.ExistingID, serverMessage(pe.Problem)))
		case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
			addStale(&resp.Diagnostics, "Activation Policy", "update", state.ID.ValueString(), state.Version.ValueInt64(), pe.Problem)
		case errors.Is(err, client.ErrNotFound) && errors.As(err, &pe):
			addGoneOnUpdate(&resp.Diagnostics, "Activation Policy", state.ID.ValueString(), pe.Problem)
		default:
			addClientError(&resp.Diagnostics, r.client, activationPolicyOp.update, activationPolicyPaths, err)
		}
		return
	}
	tflog.Debug(ctx, "Updated activation policy", map[string]any{"id": p.ID, "version": p.Version})
	r.setState(ctx, p, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *activationPolicyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state activationPolicyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.DeleteActivationPolicy(ctx, state.ID.ValueString(), state.Version.ValueInt64())
	if errors.Is(err, client.ErrNotFound) {
		tflog.Debug(ctx, "Activation policy already gone", map[string]any{"id": state.ID.ValueString()})
		return
	}
	var pe *client.ProblemError
	switch {
	case err == nil:
	case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
		addStale(&resp.Diagnostics, "Activation Policy", "delete", state.ID.ValueString(), state.Version.ValueInt64(), pe.Problem)
	case errors.As(err, &pe) && pe.Problem.Code == api.CodeInUse:
		resp.Diagnostics.AddError("Activation Policy Is In Use",
			fmt.Sprintf("Terraform could not delete activation policy %s because eligible role assignments still use it. "+
				"Point them at another policy or destroy them first (in the same run, Terraform orders this for you when they "+
				"refer to the policy's id). %s", state.ID.ValueString(), serverMessage(pe.Problem)))
	default:
		addClientError(&resp.Diagnostics, r.client, activationPolicyOp.delete, activationPolicyPaths, err)
	}
}

// ImportState accepts a policy id, a policy name (resolved to its id), or an
// identity (Terraform/OpenTofu 1.12+).
func (r *activationPolicyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	if id == "" && req.Identity != nil {
		var ident idIdentity
		resp.Diagnostics.Append(req.Identity.Get(ctx, &ident)...)
		if resp.Diagnostics.HasError() {
			return
		}
		id = ident.ID.ValueString()
	}
	if !activationPolicyPrefixPattern.MatchString(id) {
		if looksLikeOtherID(id) {
			resp.Diagnostics.AddError("Invalid Activation Policy Import ID",
				fmt.Sprintf("Expected the id of an activation policy, which starts with %q, or a policy name; got %q, "+
					"which is the id of another kind of object.", api.PrefixActivationPolicy+"_", id))
			return
		}
		if !api.NamePattern.MatchString(id) {
			resp.Diagnostics.AddError("Invalid Activation Policy Import ID",
				fmt.Sprintf("Expected the id of an activation policy (%s_...) or its name (%s); got %q.",
					api.PrefixActivationPolicy, api.NameRule, id))
			return
		}
		p, err := r.client.FindActivationPolicyByName(ctx, id)
		if err != nil {
			if errors.Is(err, client.ErrNotFound) {
				resp.Diagnostics.AddError("Activation Policy Not Found",
					fmt.Sprintf("pamd has no activation policy named %q to import. Check the name, or import by id.", id))
				return
			}
			addClientError(&resp.Diagnostics, r.client, activationPolicyOp.imp, activationPolicyPaths, err)
			return
		}
		id = p.ID
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, idIdentity{ID: types.StringValue(id)})...)
	}
}

// looksLikeOtherID reports whether s has the shape of another pamd object's
// id (prefix_ULID), so an import of the wrong kind fails with a clear message
// instead of a "not found" by name.
func looksLikeOtherID(s string) bool {
	prefix, rest, ok := strings.Cut(s, "_")
	if !ok || len(rest) != 26 {
		return false
	}
	switch prefix {
	case api.PrefixRole, api.PrefixEligibleRoleAssignment, api.PrefixElevation, api.PrefixAudit, api.PrefixToken:
		return true
	}
	return false
}

func (r *activationPolicyResource) setState(ctx context.Context, p *api.ActivationPolicy, state *tfsdk.State, identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	m, d := activationPolicyToModel(p)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	diags.Append(state.Set(ctx, m)...)
	if identity != nil {
		diags.Append(identity.Set(ctx, idIdentity{ID: m.ID})...)
	}
}

// importHintDetail explains a 409 already_exists with the import command and
// block that bring the existing object under Terraform.
func importHintDetail(what, resourceType, importID string, p api.Problem) string {
	if importID == "" {
		importID = "<id>"
	}
	return fmt.Sprintf("%s already exists in pamd (id %s), so Terraform did not create another. "+
		"To manage the existing object with Terraform, import it, replacing <name> with this resource's name:\n\n"+
		"  terraform import %s.<name> %s\n\n"+
		"or add an import block:\n\n"+
		"  import {\n    to = %s.<name>\n    id = %q\n  }\n\n%s",
		what, p.ExistingID, resourceType, shellQuote(importID), resourceType, importID, serverMessage(p))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./:", r)
	}
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !safe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
