package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var (
	_ resource.ResourceWithConfigure   = (*safeResource)(nil)
	_ resource.ResourceWithImportState = (*safeResource)(nil)
	_ resource.ResourceWithIdentity    = (*safeResource)(nil)
)

// NewSafeResource is the factory of the pam_safe resource.
func NewSafeResource() resource.Resource {
	return &safeResource{}
}

type safeResource struct {
	client *client.Client
}

func (r *safeResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_safe"
}

// Descriptions shared by the resource and the data source.
var safeDescriptions = map[string]string{
	"id": "Identifier of the safe, assigned by pamd (`safe_...`); immutable.",
	"name": "Name of the safe, unique in pamd: " + api.NameRule + ". pamd keys safes by name, so renaming replaces the safe " +
		"(which fails while it holds accounts).",
	"description": fmt.Sprintf("Free-text description, at most %d characters. Defaults to `\"\"`.",
		api.MaxDescriptionLength),
	"default_rotation_schedule_id": "Rotation schedule (`rot_...`) that accounts of the safe without their own `rotation_schedule_id` inherit. " +
		"Omit it for none.",
	"default_session_policy_id": "Session policy (`sesp_...`) that accounts of the safe without their own `session_policy_id` inherit. " +
		"Omit it for none.",
	"members": fmt.Sprintf("Who may use the safe's accounts, at most %d members, each principal at most once. "+
		"Members are replaced as a whole on every change. Administrators and the `security` server role may always manage the safe. "+
		"Defaults to `[]` (no members).", api.MaxSafeMembers),
	"principal_type": "Type of the member: one of " + quotedList(api.PrincipalTypes) + ". For a group, every member of the group gets the permissions.",
	"principal_id": fmt.Sprintf("Identifier of the member as pamd tokens name it (for `user:alice`, `alice`); 1-%d characters without spaces or `:`.",
		api.MaxPrincipalIDLength),
	"permissions": "Permissions of the member, at least one of " + quotedList(api.SafePermissions) + ": " +
		"`checkout` creates checkouts of the safe's accounts, `retrieve` reads the secret of one's own active checkout, " +
		"`manage` creates, changes and deletes the safe's accounts and sets their secrets; `list` and `approve` are reserved.",
	"labels": fmt.Sprintf("Labels for grouping and policy, at most %d. Keys are %s; values at most %d characters. Defaults to `{}`.",
		api.MaxLabels, api.LabelKeyRule, api.MaxLabelValueLength),
	"account_count": "Number of vault accounts in the safe. Refreshed on every read; it never causes a change by itself.",
	"version":       "Version of the safe in pamd; increases on every change. Sent as `If-Match` on update and delete.",
	"created_at":    "When the safe was created (RFC 3339, UTC).",
	"updated_at":    "When the safe last changed (RFC 3339, UTC).",
}

func (r *safeResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	d := safeDescriptions
	resp.Schema = schema.Schema{
		MarkdownDescription: "A safe in the pamd vault: a container of vault accounts (`pam_vault_account`) and the members who may " +
			"check them out or manage them. A safe that still holds accounts cannot be deleted; destroy its accounts first " +
			"(Terraform does so when they are in the same configuration).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: d["id"],
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: d["name"],
				Required:            true,
				Validators:          roleNameValidators(),
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{
				MarkdownDescription: d["description"],
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
				Validators:          []validator.String{stringvalidator.UTF8LengthAtMost(api.MaxDescriptionLength)},
			},
			"default_rotation_schedule_id": schema.StringAttribute{
				MarkdownDescription: d["default_rotation_schedule_id"],
				Optional:            true,
				Validators:          objectIDValidators(),
			},
			"default_session_policy_id": schema.StringAttribute{
				MarkdownDescription: d["default_session_policy_id"],
				Optional:            true,
				Validators:          objectIDValidators(),
			},
			"members": schema.SetNestedAttribute{
				MarkdownDescription: d["members"],
				Optional:            true,
				Computed:            true,
				Default:             setdefault.StaticValue(types.SetValueMust(safeMemberObjectType, []attr.Value{})),
				Validators:          []validator.Set{setvalidator.SizeAtMost(api.MaxSafeMembers)},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"principal_type": schema.StringAttribute{
							MarkdownDescription: d["principal_type"],
							Required:            true,
							Validators:          []validator.String{stringvalidator.OneOf(api.PrincipalTypes...)},
						},
						"principal_id": schema.StringAttribute{
							MarkdownDescription: d["principal_id"],
							Required:            true,
							Validators:          principalIDValidators(),
						},
						"permissions": schema.SetAttribute{
							MarkdownDescription: d["permissions"],
							ElementType:         types.StringType,
							Required:            true,
							Validators: []validator.Set{
								setvalidator.SizeAtLeast(1),
								setvalidator.ValueStringsAre(stringvalidator.OneOf(api.SafePermissions...)),
							},
						},
					},
				},
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: d["labels"],
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             mapdefault.StaticValue(types.MapValueMust(types.StringType, map[string]attr.Value{})),
				Validators:          labelValidators(),
			},
			"account_count": schema.Int64Attribute{
				MarkdownDescription: d["account_count"],
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

// labelValidators are the label rules of every pamd object.
func labelValidators() []validator.Map {
	return []validator.Map{
		mapvalidator.SizeAtMost(api.MaxLabels),
		mapvalidator.KeysAre(stringvalidator.RegexMatches(api.LabelKeyPattern, "must be "+api.LabelKeyRule)),
		mapvalidator.ValueStringsAre(stringvalidator.UTF8LengthAtMost(api.MaxLabelValueLength)),
	}
}

// objectIDValidators check a reference to another pamd object: pamd accepts
// any id of at most 128 characters without spaces or slashes. "" is refused
// because it is how pamd says "none": omit the argument instead.
func objectIDValidators() []validator.String {
	return []validator.String{
		stringvalidator.LengthBetween(1, 128),
		stringvalidator.RegexMatches(objectIDPattern, "must be an id such as rot_01JB8X4M0Q3K7Z9V6W2D5R1T8N, without spaces or slashes"),
	}
}

// principalIDValidators mirror pamd's member rule.
func principalIDValidators() []validator.String {
	return []validator.String{
		stringvalidator.LengthBetween(1, api.MaxPrincipalIDLength),
		stringvalidator.RegexMatches(principalIDPattern, "must not contain spaces or ':'"),
	}
}

func (r *safeResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				Description:       "Identifier of the safe (safe_...).",
				RequiredForImport: true,
			},
		},
	}
}

func (r *safeResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

var safeOp = struct{ create, read, update, delete operation }{
	create: operation{"Create", "safe"},
	read:   operation{"Read", "safe"},
	update: operation{"Update", "safe"},
	delete: operation{"Delete", "safe"},
}

func (r *safeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan safeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, diags := safeInputFromModel(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.client.CreateSafe(ctx, in)
	if err != nil {
		var pe *client.ProblemError
		if errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Safe Already Exists",
				importHintDetail(fmt.Sprintf("A safe named %q", in.Name), "pam_safe", pe.Problem.ExistingID, pe.Problem))
			return
		}
		addClientError(&resp.Diagnostics, r.client, safeOp.create, safePaths, err)
		return
	}
	tflog.Debug(ctx, "Created safe", map[string]any{"id": s.ID, "version": s.Version})
	r.setState(ctx, s, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *safeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state safeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.client.GetSafe(ctx, state.ID.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		removeGone(ctx, "Safe", state.ID, resp)
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, r.client, safeOp.read, safePaths, err)
		return
	}
	r.setState(ctx, s, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *safeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state safeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, diags := safeInputFromModel(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	s, err := r.client.UpdateSafe(ctx, id, state.Version.ValueInt64(), in)
	if err != nil {
		var pe *client.ProblemError
		switch {
		case errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists:
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Safe Name Already Taken",
				fmt.Sprintf("Terraform could not rename safe %s to %q because another safe (%s) already has that name. "+
					"Choose a different name, or rename or remove the other safe first. %s", id, in.Name, pe.Problem.ExistingID, serverMessage(pe.Problem)))
		case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
			addStale(&resp.Diagnostics, "Safe", "update", id, state.Version.ValueInt64(), pe.Problem)
		case errors.Is(err, client.ErrNotFound) && errors.As(err, &pe):
			addGoneOnUpdate(&resp.Diagnostics, "Safe", id, pe.Problem)
		default:
			addClientError(&resp.Diagnostics, r.client, safeOp.update, safePaths, err)
		}
		return
	}
	tflog.Debug(ctx, "Updated safe", map[string]any{"id": s.ID, "version": s.Version})
	r.setState(ctx, s, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *safeResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state safeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	err := r.client.DeleteSafe(ctx, id, state.Version.ValueInt64())
	if errors.Is(err, client.ErrNotFound) {
		tflog.Debug(ctx, "Safe already gone", map[string]any{"id": id})
		return
	}
	var pe *client.ProblemError
	switch {
	case err == nil:
	case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
		addStale(&resp.Diagnostics, "Safe", "delete", id, state.Version.ValueInt64(), pe.Problem)
	case errors.As(err, &pe) && pe.Problem.Code == api.CodeInUse:
		resp.Diagnostics.AddError("Safe Is Not Empty",
			fmt.Sprintf("Terraform did not delete safe %s because it still holds vault accounts; nothing was deleted. "+
				"Destroy or move its accounts first (accounts managed in the same configuration are destroyed before the safe). %s",
				id, serverMessage(pe.Problem)))
	default:
		addClientError(&resp.Diagnostics, r.client, safeOp.delete, safePaths, err)
	}
}

// ImportState accepts a safe id or an identity; Read fills the rest.
func (r *safeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	if id == "" && req.Identity != nil {
		var ident idIdentity
		resp.Diagnostics.Append(req.Identity.Get(ctx, &ident)...)
		if resp.Diagnostics.HasError() {
			return
		}
		id = ident.ID.ValueString()
	}
	if !safePrefixPattern.MatchString(id) {
		resp.Diagnostics.AddError("Invalid Safe Import ID",
			fmt.Sprintf("Expected the id of a safe, which starts with %q (for example safe_01JB8X4M0Q3K7Z9V6W2D5R1T8N), got %q. "+
				"Find the id with the pam_safe data source (by name).", api.PrefixSafe+"_", id))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, idIdentity{ID: types.StringValue(id)})...)
	}
}

// setState writes a safe from pamd into state and identity (on every
// operation, Update included).
func (r *safeResource) setState(ctx context.Context, s *api.Safe, state *tfsdk.State, identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	m, d := safeToModel(s)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	diags.Append(state.Set(ctx, m)...)
	if identity != nil {
		diags.Append(identity.Set(ctx, idIdentity{ID: m.ID})...)
	}
}
