package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var (
	_ resource.ResourceWithConfigure      = (*eligibleRoleAssignmentResource)(nil)
	_ resource.ResourceWithImportState    = (*eligibleRoleAssignmentResource)(nil)
	_ resource.ResourceWithIdentity       = (*eligibleRoleAssignmentResource)(nil)
	_ resource.ResourceWithValidateConfig = (*eligibleRoleAssignmentResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*eligibleRoleAssignmentResource)(nil)
)

// NewEligibleRoleAssignmentResource is the factory of pam_eligible_role_assignment.
func NewEligibleRoleAssignmentResource() resource.Resource {
	return &eligibleRoleAssignmentResource{}
}

type eligibleRoleAssignmentResource struct {
	client *client.Client
}

func (r *eligibleRoleAssignmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_eligible_role_assignment"
}

// Descriptions shared by the resource and the list data source.
var eligibilityDescriptions = map[string]string{
	"principal_type": "Type of the principal who may activate the role: one of " + quotedList(api.PrincipalTypes) +
		". For a group, every member may activate it.",
	"principal_id": fmt.Sprintf("Identifier of the principal as pamd tokens name it (for `user:alice`, `alice`), at most %d characters.",
		api.MaxPrincipalIDLength),
	"role_id": "Identifier of the role (`role_...`) that may be activated.",
	"scope": "Scope at which the role may be activated: " + api.ScopeRule +
		". It must lie at or below one of the role's assignable scopes.",
	"activation_policy_id": "Identifier of the activation policy (`actp_...`) that governs activations.",
	"starts_at": "When the eligibility starts (RFC 3339, whole seconds, for example `2026-01-01T00:00:00Z`). " +
		"Omit it for an eligibility that starts when created.",
	"ends_at": "When the eligibility ends (RFC 3339, whole seconds); must be after `starts_at`. Omit it for a permanent eligibility, " +
		"which the policy must allow (`eligibility_constraints.allow_permanent`). An expired eligibility stays in pamd with status `expired`.",
	"justification": fmt.Sprintf("Why the principal is eligible, recorded in the audit log; at most %d characters. Defaults to `\"\"`.",
		api.MaxJustificationLength),
	"ticket":        "Change or incident ticket that authorises the eligibility.",
	"ticket_system": fmt.Sprintf("Ticket system, for example `jira`; at most %d characters. Defaults to `\"\"`.", api.MaxTicketFieldLength),
	"ticket_number": fmt.Sprintf("Ticket number, for example `SEC-1234`; at most %d characters.", api.MaxTicketFieldLength),
	"labels": fmt.Sprintf("Labels for grouping and policy, at most %d. Keys are %s; values at most %d characters. Defaults to `{}`.",
		api.MaxLabels, api.LabelKeyRule, api.MaxLabelValueLength),
	"status": "Status derived from the time window: `scheduled` (before `starts_at`), `active`, or `expired` (after `ends_at`). " +
		"Refreshed on every read; it never causes a change by itself.",
	"active_elevation_count": "Number of elevations of this eligibility that are active now.",
	"version":                "Version of the eligibility in pamd; increases on every change. Sent as `If-Match` on update and delete.",
	"created_at":             "When the eligibility was created (RFC 3339, UTC).",
	"updated_at":             "When the eligibility last changed (RFC 3339, UTC).",
}

func (r *eligibleRoleAssignmentResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	d := eligibilityDescriptions
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An eligible role assignment: who (a user, group or service account) may activate which role, at which scope, " +
			"under which activation policy, and during which window. Principal, role and scope identify the assignment and force replacement; " +
			"everything else is updated in place. At plan time the provider asks pamd to validate the assignment (`validate_only`), " +
			"so a scope outside the role's assignable scopes, an unknown role or policy, or a window the policy forbids fails the plan " +
			"with the error on the attribute to blame.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the eligibility, assigned by pamd (`era_...`); immutable.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"principal_type": schema.StringAttribute{
				MarkdownDescription: d["principal_type"] + " Changing it replaces the assignment.",
				Required:            true,
				PlanModifiers:       replace,
			},
			"principal_id": schema.StringAttribute{
				MarkdownDescription: d["principal_id"] + " Changing it replaces the assignment.",
				Required:            true,
				PlanModifiers:       replace,
			},
			"role_id": schema.StringAttribute{
				MarkdownDescription: d["role_id"] + " Changing it replaces the assignment.",
				Required:            true,
				PlanModifiers:       replace,
			},
			"scope": schema.StringAttribute{
				MarkdownDescription: d["scope"] + " Changing it replaces the assignment.",
				Required:            true,
				PlanModifiers:       replace,
			},
			"activation_policy_id": schema.StringAttribute{
				MarkdownDescription: d["activation_policy_id"] + " Changing it does not end active elevations.",
				Required:            true,
			},
			"starts_at": schema.StringAttribute{
				MarkdownDescription: d["starts_at"],
				CustomType:          timetypes.RFC3339Type{},
				Optional:            true,
			},
			"ends_at": schema.StringAttribute{
				MarkdownDescription: d["ends_at"],
				CustomType:          timetypes.RFC3339Type{},
				Optional:            true,
			},
			"justification": schema.StringAttribute{
				MarkdownDescription: d["justification"],
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
			},
			"ticket": schema.SingleNestedAttribute{
				MarkdownDescription: d["ticket"],
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"system": schema.StringAttribute{
						MarkdownDescription: d["ticket_system"],
						Optional:            true,
						Computed:            true,
						Default:             stringdefault.StaticString(""),
					},
					"number": schema.StringAttribute{
						MarkdownDescription: d["ticket_number"],
						Required:            true,
					},
				},
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: d["labels"],
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             mapdefault.StaticValue(types.MapValueMust(types.StringType, map[string]attr.Value{})),
			},
			"force_destroy": schema.BoolAttribute{
				MarkdownDescription: "When `true`, destroying the assignment also ends its active and pending elevations " +
					"(they end with reason `eligibility_deleted`). When `false`, a destroy while elevations are active fails " +
					"and nothing is deleted. Not sent to pamd except on delete. Defaults to `false`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			// Computed values without plan modifiers: the framework keeps the
			// state value when nothing changes and plans them as unknown when
			// something does, which is exactly right for values pamd derives.
			"status": schema.StringAttribute{
				MarkdownDescription: d["status"],
				Computed:            true,
			},
			"active_elevation_count": schema.Int64Attribute{
				MarkdownDescription: d["active_elevation_count"],
				Computed:            true,
			},
			"version": schema.Int64Attribute{
				MarkdownDescription: d["version"],
				Computed:            true,
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: d["created_at"],
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"updated_at": schema.StringAttribute{
				MarkdownDescription: d["updated_at"],
				Computed:            true,
			},
		},
	}
}

func (r *eligibleRoleAssignmentResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				Description:       "Identifier of the eligible role assignment (era_...).",
				RequiredForImport: true,
			},
		},
	}
}

func (r *eligibleRoleAssignmentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (r *eligibleRoleAssignmentResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg eligibleRoleAssignmentModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	validateEligibilityConfig(ctx, cfg, &resp.Diagnostics)
}

// ModifyPlan asks pamd to validate the planned assignment (validate_only) so
// that what pamd would refuse at apply fails the plan instead, on the
// attribute to blame. It runs when every value is known, on create and on
// updates that change what is sent to pamd; an unchanged assignment is not
// re-validated, so a stricter policy cannot block unrelated plans. When pamd
// cannot answer, the plan continues with a warning: the check is a courtesy,
// apply still validates.
func (r *eligibleRoleAssignmentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return
	}
	var plan eligibleRoleAssignmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, v := range []attr.Value{plan.PrincipalType, plan.PrincipalID, plan.RoleID, plan.Scope, plan.ActivationPolicyID,
		plan.StartsAt, plan.EndsAt, plan.Justification, plan.Ticket, plan.Labels} {
		if !fullyKnown(ctx, v) {
			tflog.Debug(ctx, "Skipping the plan-time eligibility check: some values are known only after apply")
			return
		}
	}
	in, d := eligibilityInputFromModel(ctx, plan)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := ""
	if !req.State.Raw.IsNull() {
		var state eligibleRoleAssignmentModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
		prior, d := eligibilityInputFromModel(ctx, state)
		resp.Diagnostics.Append(d...)
		if resp.Diagnostics.HasError() || sameEligibilityInput(prior, in) {
			return
		}
		// A replacement is a create: validate it as one.
		if prior.PrincipalType == in.PrincipalType && prior.PrincipalID == in.PrincipalID &&
			prior.RoleID == in.RoleID && prior.Scope == in.Scope {
			id = state.ID.ValueString()
		}
	}

	err := r.client.ValidateEligibleRoleAssignment(ctx, id, in)
	var (
		pe *client.ProblemError
		ce *client.ConnectionError
	)
	switch {
	case err == nil:
	case errors.As(err, &ce):
		resp.Diagnostics.AddWarning("pamd Policy Check Skipped",
			fmt.Sprintf("The provider could not reach pamd at %s to check this eligible role assignment at plan time, "+
				"so the plan does not show whether pamd will accept it (role, scope, policy and window are checked again at apply). Error: %s",
				ce.Endpoint, ce.Err))
	case errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists:
		key := eligibilityKey{in.PrincipalType, in.PrincipalID, in.RoleID, in.Scope}
		resp.Diagnostics.AddError("Eligible Role Assignment Already Exists", alreadyExistsEligibilityDetail(key, pe.Problem))
	case errors.As(err, &pe) && len(pe.Problem.Violations) > 0:
		addViolations(&resp.Diagnostics, eligibleRoleAssignmentPaths, "Eligible Role Assignment Rejected by pamd",
			"pamd's plan-time check (validate_only) refused this value", pe.Problem.Violations)
	case errors.As(err, &pe) && (pe.Problem.Status == 400 || pe.Problem.Status == 422):
		addClientError(&resp.Diagnostics, r.client, operation{"Plan", "eligible role assignment"}, eligibleRoleAssignmentPaths, err)
	default:
		resp.Diagnostics.AddWarning("pamd Policy Check Skipped",
			"pamd could not check this eligible role assignment at plan time, so the plan does not show whether pamd will accept it "+
				"(it is checked again at apply). Error: "+err.Error())
	}
}

var eligibilityOp = struct{ create, read, update, delete, imp operation }{
	create: operation{"Create", "eligible role assignment"},
	read:   operation{"Read", "eligible role assignment"},
	update: operation{"Update", "eligible role assignment"},
	delete: operation{"Delete", "eligible role assignment"},
	imp:    operation{"Import", "eligible role assignment"},
}

func alreadyExistsEligibilityDetail(key eligibilityKey, p api.Problem) string {
	return importHintDetail(fmt.Sprintf("An eligible role assignment of %s %q for role %s at scope %s",
		key.PrincipalType, key.PrincipalID, key.RoleID, key.Scope), "pam_eligible_role_assignment", key.String(), p) +
		" (The import id may also be the assignment's id.)"
}

func (r *eligibleRoleAssignmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan eligibleRoleAssignmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, diags := eligibilityInputFromModel(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	e, err := r.client.CreateEligibleRoleAssignment(ctx, in)
	if err != nil {
		var pe *client.ProblemError
		if errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists {
			key := eligibilityKey{in.PrincipalType, in.PrincipalID, in.RoleID, in.Scope}
			resp.Diagnostics.AddError("Eligible Role Assignment Already Exists", alreadyExistsEligibilityDetail(key, pe.Problem))
			return
		}
		addClientError(&resp.Diagnostics, r.client, eligibilityOp.create, eligibleRoleAssignmentPaths, err)
		return
	}
	tflog.Debug(ctx, "Created eligible role assignment", map[string]any{"id": e.ID, "version": e.Version})
	r.setState(ctx, e, plan, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *eligibleRoleAssignmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state eligibleRoleAssignmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	e, err := r.client.GetEligibleRoleAssignment(ctx, state.ID.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		removeGone(ctx, "Eligible role assignment", state.ID, resp)
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, r.client, eligibilityOp.read, eligibleRoleAssignmentPaths, err)
		return
	}
	r.setState(ctx, e, state, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *eligibleRoleAssignmentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state eligibleRoleAssignmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, diags := eligibilityInputFromModel(ctx, plan)
	resp.Diagnostics.Append(diags...)
	prior, diags := eligibilityInputFromModel(ctx, state)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()

	var (
		e   *api.EligibleRoleAssignment
		err error
	)
	if sameEligibilityInput(prior, in) {
		// Only force_destroy changed: nothing to send, and no version to bump.
		e, err = r.client.GetEligibleRoleAssignment(ctx, id)
	} else {
		e, err = r.client.UpdateEligibleRoleAssignment(ctx, id, state.Version.ValueInt64(), in)
	}
	if err != nil {
		var pe *client.ProblemError
		switch {
		case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
			addStale(&resp.Diagnostics, "Eligible Role Assignment", "update", id, state.Version.ValueInt64(), pe.Problem)
		case errors.Is(err, client.ErrNotFound) && errors.As(err, &pe):
			addGoneOnUpdate(&resp.Diagnostics, "Eligible Role Assignment", id, pe.Problem)
		default:
			addClientError(&resp.Diagnostics, r.client, eligibilityOp.update, eligibleRoleAssignmentPaths, err)
		}
		return
	}
	tflog.Debug(ctx, "Updated eligible role assignment", map[string]any{"id": e.ID, "version": e.Version})
	r.setState(ctx, e, plan, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *eligibleRoleAssignmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state eligibleRoleAssignmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	err := r.client.DeleteEligibleRoleAssignment(ctx, id, state.Version.ValueInt64(), state.ForceDestroy.ValueBool())
	if errors.Is(err, client.ErrNotFound) {
		tflog.Debug(ctx, "Eligible role assignment already gone", map[string]any{"id": id})
		return
	}
	var pe *client.ProblemError
	switch {
	case err == nil:
	case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
		addStale(&resp.Diagnostics, "Eligible Role Assignment", "delete", id, state.Version.ValueInt64(), pe.Problem)
	case errors.As(err, &pe) && pe.Problem.Code == api.CodeActiveElevationsExist:
		resp.Diagnostics.AddError("Eligible Role Assignment Has Active Elevations",
			fmt.Sprintf("Terraform did not delete eligible role assignment %s because elevations of it are active or pending; nothing was deleted. "+
				"Wait until they end, have their requesters deactivate or withdraw them, or set force_destroy = true "+
				"(and apply that first) to end them with the assignment. %s", id, serverMessage(pe.Problem)))
	default:
		addClientError(&resp.Diagnostics, r.client, eligibilityOp.delete, eligibleRoleAssignmentPaths, err)
	}
}

// ImportState accepts an id (era_...), the natural key
// principal_type/principal_id/role_id/scope, or an identity.
func (r *eligibleRoleAssignmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	if id == "" && req.Identity != nil {
		var ident idIdentity
		resp.Diagnostics.Append(req.Identity.Get(ctx, &ident)...)
		if resp.Diagnostics.HasError() {
			return
		}
		id = ident.ID.ValueString()
	}
	if !eligibleRoleAssignmentPrefixPattern.MatchString(id) {
		key, err := parseEligibilityKey(id)
		if err != nil {
			resp.Diagnostics.AddError("Invalid Eligible Role Assignment Import ID",
				fmt.Sprintf("Expected the id of an eligible role assignment (%s_...) or its natural key %s. %s.",
					api.PrefixEligibleRoleAssignment, eligibilityKeyFormat, err))
			return
		}
		e, err := r.client.FindEligibleRoleAssignment(ctx, key.PrincipalType, key.PrincipalID, key.RoleID, key.Scope)
		if errors.Is(err, client.ErrNotFound) {
			resp.Diagnostics.AddError("Eligible Role Assignment Not Found",
				fmt.Sprintf("pamd has no eligible role assignment of %s %q for role %s at exactly scope %s. "+
					"Check the key (the scope must match exactly, not as a prefix), or import by id.",
					key.PrincipalType, key.PrincipalID, key.RoleID, key.Scope))
			return
		}
		if err != nil {
			addClientError(&resp.Diagnostics, r.client, eligibilityOp.imp, eligibleRoleAssignmentPaths, err)
			return
		}
		id = e.ID
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, idIdentity{ID: types.StringValue(id)})...)
	}
}

func (r *eligibleRoleAssignmentResource) setState(ctx context.Context, e *api.EligibleRoleAssignment, prior eligibleRoleAssignmentModel,
	state *tfsdk.State, identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	m, d := eligibilityToModel(e, prior)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	diags.Append(state.Set(ctx, m)...)
	if identity != nil {
		diags.Append(identity.Set(ctx, idIdentity{ID: m.ID})...)
	}
}
