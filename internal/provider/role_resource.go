package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
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
	"github.com/accessplane/terraform-provider-pam/internal/provision"
)

var (
	_ resource.ResourceWithConfigure   = (*roleResource)(nil)
	_ resource.ResourceWithImportState = (*roleResource)(nil)
	_ resource.ResourceWithIdentity    = (*roleResource)(nil)
)

// NewRoleResource is the factory of the pam_role resource.
func NewRoleResource() resource.Resource {
	return &roleResource{}
}

type roleResource struct {
	client *client.Client
}

func (r *roleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role"
}

// Validators shared by the resource schema, built from the rules in
// internal/api so that plan-time checks and server checks cannot drift.
func roleNameValidators() []validator.String {
	return []validator.String{stringvalidator.RegexMatches(api.NamePattern, "must be "+api.NameRule)}
}

func (r *roleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A privileged role in the pamd catalog: what an elevation grants. " +
			"Eligibility (`pam_eligible_role_assignment`) says who may activate it, and where.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the role, assigned by pamd (`role_...`); immutable.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the role, unique in pamd: " + api.NameRule + ". Renaming updates the role in place; its id does not change.",
				Required:            true,
				Validators:          roleNameValidators(),
			},
			"description": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("Free-text description, at most %d characters. Defaults to `\"\"`.", api.MaxDescriptionLength),
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
				Validators:          []validator.String{stringvalidator.UTF8LengthAtMost(api.MaxDescriptionLength)},
			},
			"assignable_scopes": schema.SetAttribute{
				MarkdownDescription: fmt.Sprintf("Scopes at or below which the role may be made eligible, each %s. "+
					"Between 1 and %d scopes. Defaults to `[\"/\"]` (everywhere).", api.ScopeRule, api.MaxAssignableScopes),
				ElementType: types.StringType,
				Optional:    true,
				Computed:    true,
				Default:     setdefault.StaticValue(types.SetValueMust(types.StringType, []attr.Value{types.StringValue(rootScope)})),
				Validators: []validator.Set{
					setvalidator.SizeBetween(1, api.MaxAssignableScopes),
					setvalidator.ValueStringsAre(stringvalidator.RegexMatches(api.ScopePattern, "must be "+api.ScopeRule)),
				},
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: fmt.Sprintf("Labels for grouping and policy, at most %d. Keys are %s; values at most %d characters. Defaults to `{}`.",
					api.MaxLabels, api.LabelKeyRule, api.MaxLabelValueLength),
				ElementType: types.StringType,
				Optional:    true,
				Computed:    true,
				Default:     mapdefault.StaticValue(types.MapValueMust(types.StringType, map[string]attr.Value{})),
				Validators: []validator.Map{
					mapvalidator.SizeAtMost(api.MaxLabels),
					mapvalidator.KeysAre(stringvalidator.RegexMatches(api.LabelKeyPattern, "must be "+api.LabelKeyRule)),
					mapvalidator.ValueStringsAre(stringvalidator.UTF8LengthAtMost(api.MaxLabelValueLength)),
				},
			},
			// version changes on every update, so it is deliberately not
			// UseStateForUnknown: a plan that changes the role shows it as
			// known after apply, and a plan with no change leaves it alone.
			"version": schema.Int64Attribute{
				MarkdownDescription: "Version of the role in pamd; increases on every change. Sent as `If-Match` on update and delete, " +
					"so a change made outside Terraform since the last refresh is never overwritten silently.",
				Computed: true,
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: "When the role was created (RFC 3339, UTC).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"updated_at": schema.StringAttribute{
				MarkdownDescription: "When the role last changed (RFC 3339, UTC).",
				Computed:            true,
			},
		},
		Blocks: map[string]schema.Block{
			"webhook": roleWebhookBlock(),
		},
	}
}

// roleWebhookBlock is the provisioning target block. Its secret is a
// write-only attribute (Terraform and OpenTofu 1.11+): roles without webhook
// blocks work on older CLIs, which simply never see the attribute set.
func roleWebhookBlock() schema.ListNestedBlock {
	return schema.ListNestedBlock{
		MarkdownDescription: fmt.Sprintf("A provisioning webhook target, at most %d. When an elevation of this role becomes active, "+
			"and again when it ends, pamd POSTs a signed JSON event (header `Pam-Signature`, HMAC-SHA256 over the timestamp and body) "+
			"to `url` and retries until the receiver answers 2xx; the elevation stays `activating` until every target acknowledged. "+
			"Changing `url` updates the role in place. Requires Terraform or OpenTofu 1.11 or later (write-only attributes).", api.MaxRoleWebhooks),
		Validators: []validator.List{listvalidator.SizeAtMost(api.MaxRoleWebhooks)},
		NestedObject: schema.NestedBlockObject{
			Attributes: map[string]schema.Attribute{
				"url": schema.StringAttribute{
					MarkdownDescription: "Absolute `http` or `https` URL of the receiver, unique within the role; no credentials and no fragment.",
					Required:            true,
					Validators:          []validator.String{webhookURLValidator{}},
				},
				"secret_wo": schema.StringAttribute{
					MarkdownDescription: fmt.Sprintf("HMAC-SHA256 signing secret shared with the receiver, at least %d bytes. "+
						"**Write-only**: sent to pamd on create and on every update, never stored in the Terraform plan or state, "+
						"and never returned by pamd. Terraform cannot see a change of this value: bump `secret_wo_version` to send a new secret.",
						provision.MinSecretLength),
					Required:   true,
					Sensitive:  true,
					WriteOnly:  true,
					Validators: []validator.String{stringvalidator.LengthAtLeast(provision.MinSecretLength)},
				},
				"secret_wo_version": schema.Int64Attribute{
					MarkdownDescription: "Version of `secret_wo`, kept in state and in pamd. Change it (for example increment it) " +
						"to roll the secret: the change updates the role in place and sends the current `secret_wo`.",
					Optional:   true,
					Validators: []validator.Int64{int64validator.AtLeast(1)},
				},
			},
		},
	}
}

// webhookURLValidator checks a webhook URL at plan time with the server's rule.
type webhookURLValidator struct{}

func (webhookURLValidator) Description(context.Context) string {
	return "must be an absolute http or https URL without credentials or fragment"
}

func (v webhookURLValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (webhookURLValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := provision.ValidateURL(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Webhook URL",
			fmt.Sprintf("The webhook url is not valid: %s. Use an absolute http or https URL such as https://provisioner.example.com/pam.", err))
	}
}

func (r *roleResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				Description:       "Identifier of the role (role_...).",
				RequiredForImport: true,
			},
		},
	}
}

func (r *roleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

var roleOp = struct{ create, read, update, delete, imp operation }{
	create: operation{"Create", "role"},
	read:   operation{"Read", "role"},
	update: operation{"Update", "role"},
	delete: operation{"Delete", "role"},
	imp:    operation{"Import", "role"},
}

func (r *roleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan, config roleResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, diags := roleResourceInput(ctx, plan, config)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}

	role, err := r.client.CreateRole(ctx, in)
	if err != nil {
		var pe *client.ProblemError
		if errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Role Already Exists", alreadyExistsDetail(in.Name, pe.Problem))
			return
		}
		addClientError(&resp.Diagnostics, r.client, roleOp.create, roleAttributePaths, err)
		return
	}
	tflog.Debug(ctx, "Created role", map[string]any{"id": role.ID, "version": role.Version})
	r.setState(ctx, role, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *roleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state roleResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	role, err := r.client.GetRole(ctx, state.ID.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		removeGone(ctx, "Role", state.ID, resp)
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, r.client, roleOp.read, roleAttributePaths, err)
		return
	}
	r.setState(ctx, role, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *roleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state, config roleResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, diags := roleResourceInput(ctx, plan, config)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}

	role, err := r.client.UpdateRole(ctx, state.ID.ValueString(), state.Version.ValueInt64(), in)
	if err != nil {
		var pe *client.ProblemError
		switch {
		case errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists:
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Role Name Already Taken",
				fmt.Sprintf("Terraform could not rename the role to %q because another role (%s) already has that name. "+
					"Choose a different name, or rename or remove the other role first. %s",
					in.Name, pe.Problem.ExistingID, serverMessage(pe.Problem)))
		case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
			addStale(&resp.Diagnostics, "Role", "update", state.ID.ValueString(), state.Version.ValueInt64(), pe.Problem)
		case errors.Is(err, client.ErrNotFound) && errors.As(err, &pe):
			addGoneOnUpdate(&resp.Diagnostics, "Role", state.ID.ValueString(), pe.Problem)
		default:
			addClientError(&resp.Diagnostics, r.client, roleOp.update, roleAttributePaths, err)
		}
		return
	}
	tflog.Debug(ctx, "Updated role", map[string]any{"id": role.ID, "version": role.Version})
	r.setState(ctx, role, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *roleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state roleResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.DeleteRole(ctx, state.ID.ValueString(), state.Version.ValueInt64())
	if errors.Is(err, client.ErrNotFound) {
		tflog.Debug(ctx, "Role already gone", map[string]any{"id": state.ID.ValueString()})
		return
	}
	var pe *client.ProblemError
	switch {
	case err == nil:
	case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
		addStale(&resp.Diagnostics, "Role", "delete", state.ID.ValueString(), state.Version.ValueInt64(), pe.Problem)
	case errors.As(err, &pe) && pe.Problem.Code == api.CodeInUse:
		resp.Diagnostics.AddError("Role Is In Use",
			fmt.Sprintf("Terraform could not delete role %s because other objects in pamd still refer to it "+
				"(eligible role assignments or activation policies). Remove those first, or destroy them in the same run. %s",
				state.ID.ValueString(), serverMessage(pe.Problem)))
	default:
		addClientError(&resp.Diagnostics, r.client, roleOp.delete, roleAttributePaths, err)
	}
}

// ImportState accepts a role id (`terraform import`, import blocks with id)
// or an identity (import blocks with identity, Terraform/OpenTofu 1.12+).
// Read then fills every attribute.
func (r *roleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	if id == "" && req.Identity != nil {
		var ident idIdentity
		resp.Diagnostics.Append(req.Identity.Get(ctx, &ident)...)
		if resp.Diagnostics.HasError() {
			return
		}
		id = ident.ID.ValueString()
	}
	if !rolePrefixPattern.MatchString(id) {
		resp.Diagnostics.AddError("Invalid Role Import ID",
			fmt.Sprintf("Expected the id of a role, which starts with %q (for example role_01JB8X4M0Q3K7Z9V6W2D5R1T8N), got %q. "+
				"Find the id with the pam_role data source (by name) or with `pamd` on the server. Import by name is not supported.",
				api.PrefixRole+"_", id))
		return
	}
	resource.ImportStatePassthroughWithIdentity(ctx, path.Root("id"), path.Root("id"), req, resp)
}

// setState writes a role from pamd into state and identity. Identity is set on
// every operation, Update included: Terraform < 1.12 fails an Update that
// returns no identity for a resource that has an identity schema.
func (r *roleResource) setState(ctx context.Context, role *api.Role, state *tfsdk.State, identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	m, d := roleResourceToModel(role)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	diags.Append(state.Set(ctx, m)...)
	if identity != nil {
		diags.Append(identity.Set(ctx, idIdentity{ID: m.ID})...)
	}
}

func alreadyExistsDetail(name string, p api.Problem) string {
	existing := p.ExistingID
	if existing == "" {
		existing = "<role id>"
	}
	return fmt.Sprintf("A role named %q already exists in pamd (id %s), so Terraform did not create another. "+
		"To manage the existing role with Terraform, import it, replacing <name> with this resource's name:\n\n"+
		"  terraform import pam_role.<name> %s\n\n"+
		"or add an import block:\n\n"+
		"  import {\n    to = pam_role.<name>\n    id = %q\n  }\n\n"+
		"Otherwise choose a different name. %s", name, existing, existing, existing, serverMessage(p))
}
