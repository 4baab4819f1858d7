package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
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
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/rotation"
)

var (
	_ resource.ResourceWithConfigure        = (*rotationScheduleResource)(nil)
	_ resource.ResourceWithImportState      = (*rotationScheduleResource)(nil)
	_ resource.ResourceWithIdentity         = (*rotationScheduleResource)(nil)
	_ resource.ResourceWithConfigValidators = (*rotationScheduleResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*rotationScheduleResource)(nil)
)

// NewRotationScheduleResource is the factory of the pam_rotation_schedule resource.
func NewRotationScheduleResource() resource.Resource {
	return &rotationScheduleResource{now: time.Now}
}

type rotationScheduleResource struct {
	client *client.Client
	now    func() time.Time
}

func (r *rotationScheduleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_rotation_schedule"
}

// trimmedPattern refuses leading or trailing white space, which pamd trims
// (a configuration with it would never match what pamd stores).
var trimmedPattern = regexp.MustCompile(`^\S(.*\S)?$`)

func (r *rotationScheduleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	optInt := func(desc string, def int64) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc, Optional: true, Computed: true, Default: int64default.StaticInt64(def)}
	}
	optBool := func(desc string) schema.BoolAttribute {
		return schema.BoolAttribute{MarkdownDescription: desc + " Defaults to `false`.", Optional: true, Computed: true, Default: booldefault.StaticBool(false)}
	}
	defaultPolicy, _ := passwordPolicyObject(api.RotationPasswordPolicy{})
	defaultRetry, _ := rotationRetryObject(api.RotationRetry{})
	resp.Schema = schema.Schema{
		MarkdownDescription: "A rotation schedule: when pamd rotates the secrets of the vault accounts that use it " +
			"(`rotation_schedule_id`, or a safe's `default_rotation_schedule_id`), and what the generated passwords look like. " +
			"The trigger is exactly one of `interval_seconds` and `cron`. The configuration is checked at plan time with pamd's own rules: " +
			"an invalid cron expression, a cron that never fires, an unknown time zone or a password policy that cannot be satisfied " +
			"fail the plan with the reason.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the schedule, assigned by pamd (`rot_...`); immutable.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the schedule, unique in pamd: " + api.NameRule + ". Renaming updates it in place.",
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
			"interval_seconds": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("Rotate every this many seconds, counted from the last rotation (or the account's creation), "+
					"%d to %d. Exactly one of `interval_seconds` and `cron` must be set.", api.MinRotationIntervalSeconds, api.MaxRotationIntervalSeconds),
				Optional: true,
			},
			"cron": schema.StringAttribute{
				MarkdownDescription: "Rotate at the times of this standard 5-field cron expression (`minute hour day-of-month month day-of-week`, " +
					"for example `0 2 * * SUN`) or descriptor (`@daily`, `@weekly`, `@monthly`; `@every` is not accepted: use `interval_seconds`), " +
					"evaluated in `time_zone`. It must fire within 5 years. Exactly one of `interval_seconds` and `cron` must be set.",
				Optional: true,
				Validators: []validator.String{
					stringvalidator.LengthAtMost(api.MaxCronExpressionLength),
					stringvalidator.RegexMatches(trimmedPattern, "must not start or end with white space"),
				},
			},
			"time_zone": schema.StringAttribute{
				MarkdownDescription: "IANA time zone the cron expression is evaluated in, for example `Europe/Berlin`. " +
					"Only meaningful with `cron`; with `interval_seconds` it must stay `UTC`. Defaults to `UTC`.",
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(utcZone),
			},
			"window_seconds": optInt(fmt.Sprintf("A rotation must start within this many seconds after its fire time, otherwise that run is skipped "+
				"and logged; %d to %d. Defaults to %d.", api.MinRotationWindowSeconds, api.MaxRotationWindowSeconds, api.DefaultRotationWindowSeconds),
				api.DefaultRotationWindowSeconds),
			"jitter_seconds": optInt(fmt.Sprintf("Random delay of up to this many seconds added to each fire time per account, so that accounts "+
				"sharing the schedule do not all rotate at once; 0 to %d and smaller than `window_seconds` (and `interval_seconds`). Defaults to 0.",
				api.MaxRotationJitterSeconds), 0),
			"max_secret_age_seconds": optInt(fmt.Sprintf("Compliance ceiling: rotate whenever the secret is older than this, whatever the trigger; "+
				"0 (no ceiling) or %d to %d. Defaults to 0.", api.MinSecretAgeSeconds, api.MaxSecretAgeSeconds), 0),
			"verification_interval_seconds": optInt(fmt.Sprintf("Verify the stored secret against the target this often; 0 (never) or %d to %d. "+
				"Defaults to 0.", api.MinVerificationIntervalSeconds, api.MaxVerificationIntervalSeconds), 0),
			"password_policy": schema.SingleNestedAttribute{
				MarkdownDescription: "What generated passwords look like. Omitted members take their defaults. A policy that cannot be " +
					"satisfied (for example `require_symbols` with an empty `symbols`, or more required classes than `length`) fails the plan.",
				Optional: true,
				Computed: true,
				Default:  objectdefault.StaticValue(defaultPolicy),
				Attributes: map[string]schema.Attribute{
					"length": optInt(fmt.Sprintf("Length of generated passwords, %d to %d. Defaults to %d.",
						api.MinPasswordLength, api.MaxPasswordLength, api.DefaultPasswordLength), api.DefaultPasswordLength),
					"require_lowercase": optBool("At least one lowercase letter."),
					"require_uppercase": optBool("At least one uppercase letter."),
					"require_digits":    optBool("At least one digit."),
					"require_symbols":   optBool("At least one symbol from `symbols`."),
					"symbols": schema.StringAttribute{
						MarkdownDescription: "Symbols that may appear: printable ASCII punctuation without spaces or duplicates; `\"\"` for none. " +
							"Defaults to `" + api.DefaultPasswordSymbols + "`.",
						Optional: true,
						Computed: true,
						Default:  stringdefault.StaticString(api.DefaultPasswordSymbols),
					},
					"exclude_ambiguous": optBool("Leave out characters that look alike or are easily mangled (`" + rotation.AmbiguousCharacters + "`)."),
				},
			},
			"retry": schema.SingleNestedAttribute{
				MarkdownDescription: "How a failed rotation is retried; attempt n waits `backoff_seconds * 2^(n-2)`.",
				Optional:            true,
				Computed:            true,
				Default:             objectdefault.StaticValue(defaultRetry),
				Attributes: map[string]schema.Attribute{
					"max_attempts": optInt(fmt.Sprintf("Attempts including the first, 1 to %d. Defaults to %d.",
						api.MaxRotationRetryAttempts, api.DefaultRotationRetryAttempts), api.DefaultRotationRetryAttempts),
					"backoff_seconds": optInt(fmt.Sprintf("Base delay between attempts in seconds, %d to %d. Defaults to %d.",
						api.MinRotationRetryBackoff, api.MaxRotationRetryBackoff, api.DefaultRotationRetryBackoff), api.DefaultRotationRetryBackoff),
				},
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: fmt.Sprintf("Labels for grouping and policy, at most %d. Keys are %s; values at most %d characters. Defaults to `{}`.",
					api.MaxLabels, api.LabelKeyRule, api.MaxLabelValueLength),
				ElementType: types.StringType,
				Optional:    true,
				Computed:    true,
				Default:     mapdefault.StaticValue(types.MapValueMust(types.StringType, map[string]attr.Value{})),
				Validators:  labelValidators(),
			},
			"version": schema.Int64Attribute{
				MarkdownDescription: "Version of the schedule in pamd; increases on every change. Sent as `If-Match` on update and delete.",
				Computed:            true,
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: "When the schedule was created (RFC 3339, UTC).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"updated_at": schema.StringAttribute{
				MarkdownDescription: "When the schedule last changed (RFC 3339, UTC).",
				Computed:            true,
			},
		},
	}
}

func (r *rotationScheduleResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("interval_seconds"), path.MatchRoot("cron")),
	}
}

// ValidateConfig runs pamd's pure schedule rules (package rotation) on the
// configuration, so that an invalid cron, a cron that never fires or an
// unsatisfiable password policy fails the plan with the parser's or the
// policy's own message, on the attribute to blame.
func (r *rotationScheduleResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg rotationScheduleModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, unknown, d := rotationScheduleInput(ctx, cfg)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	if vs := planTimeScheduleViolations(in, unknown, now()); len(vs) > 0 {
		addViolations(&resp.Diagnostics, rotationSchedulePaths, "Invalid Rotation Schedule", "pamd's rotation rules refuse this value", vs)
	}
}

func (r *rotationScheduleResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				Description:       "Identifier of the rotation schedule (rot_...).",
				RequiredForImport: true,
			},
		},
	}
}

func (r *rotationScheduleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

var rotationScheduleOp = struct{ create, read, update, delete operation }{
	create: operation{"Create", "rotation schedule"},
	read:   operation{"Read", "rotation schedule"},
	update: operation{"Update", "rotation schedule"},
	delete: operation{"Delete", "rotation schedule"},
}

func (r *rotationScheduleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan rotationScheduleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, _, diags := rotationScheduleInput(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.client.CreateRotationSchedule(ctx, in)
	if err != nil {
		var pe *client.ProblemError
		if errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Rotation Schedule Already Exists",
				importHintDetail(fmt.Sprintf("A rotation schedule named %q", in.Name), "pam_rotation_schedule", pe.Problem.ExistingID, pe.Problem))
			return
		}
		addClientError(&resp.Diagnostics, r.client, rotationScheduleOp.create, rotationSchedulePaths, err)
		return
	}
	tflog.Debug(ctx, "Created rotation schedule", map[string]any{"id": s.ID, "version": s.Version})
	r.setState(ctx, s, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *rotationScheduleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state rotationScheduleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.client.GetRotationSchedule(ctx, state.ID.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		removeGone(ctx, "Rotation schedule", state.ID, resp)
		return
	}
	if err != nil {
		addClientError(&resp.Diagnostics, r.client, rotationScheduleOp.read, rotationSchedulePaths, err)
		return
	}
	r.setState(ctx, s, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *rotationScheduleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state rotationScheduleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, _, diags := rotationScheduleInput(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	s, err := r.client.UpdateRotationSchedule(ctx, id, state.Version.ValueInt64(), in)
	if err != nil {
		var pe *client.ProblemError
		switch {
		case errors.As(err, &pe) && pe.Problem.Code == api.CodeAlreadyExists:
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Rotation Schedule Name Already Taken",
				fmt.Sprintf("Terraform could not rename rotation schedule %s to %q because another schedule (%s) already has that name. %s",
					id, in.Name, pe.Problem.ExistingID, serverMessage(pe.Problem)))
		case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
			addStale(&resp.Diagnostics, "Rotation Schedule", "update", id, state.Version.ValueInt64(), pe.Problem)
		case errors.Is(err, client.ErrNotFound) && errors.As(err, &pe):
			addGoneOnUpdate(&resp.Diagnostics, "Rotation Schedule", id, pe.Problem)
		default:
			addClientError(&resp.Diagnostics, r.client, rotationScheduleOp.update, rotationSchedulePaths, err)
		}
		return
	}
	tflog.Debug(ctx, "Updated rotation schedule", map[string]any{"id": s.ID, "version": s.Version})
	r.setState(ctx, s, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *rotationScheduleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state rotationScheduleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	err := r.client.DeleteRotationSchedule(ctx, id, state.Version.ValueInt64())
	if errors.Is(err, client.ErrNotFound) {
		tflog.Debug(ctx, "Rotation schedule already gone", map[string]any{"id": id})
		return
	}
	var pe *client.ProblemError
	switch {
	case err == nil:
	case errors.Is(err, client.ErrPreconditionFailed) && errors.As(err, &pe):
		addStale(&resp.Diagnostics, "Rotation Schedule", "delete", id, state.Version.ValueInt64(), pe.Problem)
	case errors.As(err, &pe) && pe.Problem.Code == api.CodeInUse:
		resp.Diagnostics.AddError("Rotation Schedule Is In Use",
			fmt.Sprintf("Terraform did not delete rotation schedule %s because vault accounts or safes still use it; nothing was deleted. "+
				"Point them at another schedule (or none) first. %s", id, serverMessage(pe.Problem)))
	default:
		addClientError(&resp.Diagnostics, r.client, rotationScheduleOp.delete, rotationSchedulePaths, err)
	}
}

// ImportState accepts a schedule id or an identity; Read fills the rest.
func (r *rotationScheduleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	if id == "" && req.Identity != nil {
		var ident idIdentity
		resp.Diagnostics.Append(req.Identity.Get(ctx, &ident)...)
		if resp.Diagnostics.HasError() {
			return
		}
		id = ident.ID.ValueString()
	}
	if !rotationSchedulePrefixPattern.MatchString(id) {
		resp.Diagnostics.AddError("Invalid Rotation Schedule Import ID",
			fmt.Sprintf("Expected the id of a rotation schedule, which starts with %q (for example rot_01JB8X4M0Q3K7Z9V6W2D5R1T8N), got %q.",
				api.PrefixRotationSchedule+"_", id))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, idIdentity{ID: types.StringValue(id)})...)
	}
}

func (r *rotationScheduleResource) setState(ctx context.Context, s *api.RotationSchedule, state *tfsdk.State,
	identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	m, d := rotationScheduleToModel(s)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	diags.Append(state.Set(ctx, m)...)
	if identity != nil {
		diags.Append(identity.Set(ctx, idIdentity{ID: m.ID})...)
	}
}
