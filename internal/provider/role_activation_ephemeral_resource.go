package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/ephemeralvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

var (
	_ ephemeral.EphemeralResourceWithConfigure        = (*roleActivationEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithClose            = (*roleActivationEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithConfigValidators = (*roleActivationEphemeralResource)(nil)
)

// Defaults and bounds of the activation wait.
const (
	defaultActivationWaitSeconds = 300
	maxActivationWaitSeconds     = 24 * 3600
	// privateKeyElevation is the private-state key holding what Close needs.
	privateKeyElevation = "elevation"
)

// NewRoleActivationEphemeralResource is the factory of the pam_role_activation
// ephemeral resource.
func NewRoleActivationEphemeralResource() ephemeral.EphemeralResource {
	return &roleActivationEphemeralResource{pollMin: 500 * time.Millisecond, pollMax: 5 * time.Second}
}

type roleActivationEphemeralResource struct {
	client           *client.Client
	pollMin, pollMax time.Duration
}

type roleActivationModel struct {
	RoleID                   types.String `tfsdk:"role_id"`
	Scope                    types.String `tfsdk:"scope"`
	EligibleRoleAssignmentID types.String `tfsdk:"eligible_role_assignment_id"`
	DurationSeconds          types.Int64  `tfsdk:"duration_seconds"`
	Justification            types.String `tfsdk:"justification"`
	Ticket                   types.Object `tfsdk:"ticket"`
	WaitTimeoutSeconds       types.Int64  `tfsdk:"wait_timeout_seconds"`
	ID                       types.String `tfsdk:"id"`
	State                    types.String `tfsdk:"state"`
	StartAt                  types.String `tfsdk:"start_at"`
	EndAt                    types.String `tfsdk:"end_at"`
}

// roleActivationPrivate is what Open leaves for Close.
type roleActivationPrivate struct {
	ID string `json:"id"`
}

func (e *roleActivationEphemeralResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role_activation"
}

func (e *roleActivationEphemeralResource) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Activates an eligible role for the length of one Terraform run: Open requests an elevation as the provider's " +
			"token (which must hold the eligibility, directly or through a group), waits until it is active, and Close deactivates it. " +
			"Meant for pipelines that need temporary privilege. If the policy requires approval and it is not granted within " +
			"`wait_timeout_seconds`, the request is withdrawn and the run fails naming the approvers it was waiting for. " +
			"Requires Terraform 1.10+ or OpenTofu 1.11+. Name either `eligible_role_assignment_id`, or `role_id` and `scope` " +
			"(pamd then picks the caller's eligibility at exactly that scope).",
		Attributes: map[string]schema.Attribute{
			"role_id": schema.StringAttribute{
				MarkdownDescription: "Role to activate (`role_...`), with `scope`. Conflicts with `eligible_role_assignment_id`; " +
					"when that is set instead, this is the role of the activated eligibility.",
				Optional: true,
				Computed: true,
			},
			"scope": schema.StringAttribute{
				MarkdownDescription: "Scope to activate the role at (" + api.ScopeRule + "), with `role_id`. " +
					"Only an eligibility at exactly this scope is used.",
				Optional: true,
				Computed: true,
			},
			"eligible_role_assignment_id": schema.StringAttribute{
				MarkdownDescription: "Eligibility to activate (`era_...`). Conflicts with `role_id` and `scope`; " +
					"when they are set instead, this is the eligibility pamd chose.",
				Optional: true,
				Computed: true,
			},
			"duration_seconds": schema.Int64Attribute{
				MarkdownDescription: "Requested duration of the elevation in seconds, at most the policy's `max_activation_seconds`. " +
					"Defaults to the policy's `default_activation_seconds`; the result is the duration granted.",
				Optional:   true,
				Computed:   true,
				Validators: []validator.Int64{int64validator.Between(api.MinActivationSeconds, api.MaxActivationSeconds)},
			},
			"justification": schema.StringAttribute{
				MarkdownDescription: "Why the elevation is needed, recorded on the elevation and in the audit log; " +
					"required when the policy requires a justification.",
				Optional: true,
			},
			"ticket": schema.SingleNestedAttribute{
				MarkdownDescription: "Ticket authorising the elevation; required when the policy requires a ticket.",
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"system": schema.StringAttribute{MarkdownDescription: "Ticket system, for example `jira`.", Optional: true},
					"number": schema.StringAttribute{MarkdownDescription: "Ticket number, for example `CHG-1234`.", Required: true},
				},
			},
			"wait_timeout_seconds": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("How long Open waits for the elevation to become active (approval, scheduled start, "+
					"provisioning), in seconds, 0 to %d. Defaults to %d.", maxActivationWaitSeconds, defaultActivationWaitSeconds),
				Optional:   true,
				Computed:   true,
				Validators: []validator.Int64{int64validator.Between(0, maxActivationWaitSeconds)},
			},
			"id": schema.StringAttribute{
				MarkdownDescription: "Identifier of the elevation (`elv_...`).",
				Computed:            true,
			},
			"state": schema.StringAttribute{
				MarkdownDescription: "State of the elevation when Open returned: `active`.",
				Computed:            true,
			},
			"start_at": schema.StringAttribute{
				MarkdownDescription: "When the access started (RFC 3339, UTC).",
				Computed:            true,
			},
			"end_at": schema.StringAttribute{
				MarkdownDescription: "When the access expires unless deactivated earlier (RFC 3339, UTC). Close deactivates it at the end of the run.",
				Computed:            true,
			},
		},
	}
}

func (e *roleActivationEphemeralResource) ConfigValidators(context.Context) []ephemeral.ConfigValidator {
	return []ephemeral.ConfigValidator{
		ephemeralvalidator.ExactlyOneOf(path.MatchRoot("role_id"), path.MatchRoot("eligible_role_assignment_id")),
		ephemeralvalidator.RequiredTogether(path.MatchRoot("role_id"), path.MatchRoot("scope")),
		ephemeralvalidator.Conflicting(path.MatchRoot("scope"), path.MatchRoot("eligible_role_assignment_id")),
	}
}

func (e *roleActivationEphemeralResource) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.client = clientFromProviderData(req.ProviderData, &resp.Diagnostics)
}

// elevationRequestPaths maps request violations to the ephemeral resource's
// attributes (the request names the duration differently).
var elevationRequestPaths = renamedPaths{
	rename: map[string]string{"requested_duration_seconds": "duration_seconds"},
	paths: nestedPaths{
		"role_id":                     leafPath(),
		"scope":                       leafPath(),
		"eligible_role_assignment_id": leafPath(),
		"duration_seconds":            leafPath(),
		"justification":               leafPath(),
		"ticket":                      objectPath(nestedPaths{"system": leafPath(), "number": leafPath()}),
	},
}

var activationOp = operation{"Activate", "role"}

func (e *roleActivationEphemeralResource) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var cfg roleActivationModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if e.client == nil {
		resp.Diagnostics.AddError("Provider Not Configured",
			"pam_role_activation needs a configured provider (endpoint and token) to request an elevation.")
		return
	}
	ticket, d := ticketFromObject(ctx, cfg.Ticket)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	wait := int64(defaultActivationWaitSeconds)
	if !cfg.WaitTimeoutSeconds.IsNull() {
		wait = cfg.WaitTimeoutSeconds.ValueInt64()
	}

	elv, err := e.client.RequestElevation(ctx, api.ElevationRequest{
		EligibleRoleAssignmentID: cfg.EligibleRoleAssignmentID.ValueString(),
		RoleID:                   cfg.RoleID.ValueString(),
		Scope:                    cfg.Scope.ValueString(),
		RequestedDurationSeconds: cfg.DurationSeconds.ValueInt64(),
		Justification:            cfg.Justification.ValueString(),
		Ticket:                   ticket,
	})
	if err != nil {
		addActivationError(&resp.Diagnostics, e.client, cfg, err)
		return
	}
	tflog.Debug(ctx, "Requested elevation", map[string]any{"id": elv.ID, "state": elv.State})

	elv, err = e.waitActive(ctx, elv, time.Duration(wait)*time.Second)
	if err != nil {
		resp.Diagnostics.AddError("Role Activation Not Granted", err.Error())
		return
	}

	private, err := json.Marshal(roleActivationPrivate{ID: elv.ID})
	if err != nil {
		resp.Diagnostics.AddError("Unable to Activate Role", "Encoding the private state failed: "+err.Error())
		return
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateKeyElevation, private)...)

	cfg.ID = types.StringValue(elv.ID)
	cfg.State = types.StringValue(elv.State)
	cfg.RoleID = types.StringValue(elv.RoleID)
	cfg.Scope = types.StringValue(elv.Scope)
	cfg.EligibleRoleAssignmentID = types.StringValue(elv.EligibleRoleAssignmentID)
	cfg.DurationSeconds = types.Int64Value(elv.RequestedDurationSeconds)
	if elv.StartAt != nil && elv.EndAt != nil {
		cfg.DurationSeconds = types.Int64Value(int64(elv.EndAt.Sub(*elv.StartAt) / time.Second))
	}
	cfg.WaitTimeoutSeconds = types.Int64Value(wait)
	cfg.StartAt = timePtrValue(elv.StartAt)
	cfg.EndAt = timePtrValue(elv.EndAt)
	resp.Diagnostics.Append(resp.Result.Set(ctx, cfg)...)
}

// waitActive polls the elevation with a growing interval until it is active,
// ends, or the wait runs out. A request still waiting at the end is withdrawn,
// so that no approval arrives for a run that has already failed.
func (e *roleActivationEphemeralResource) waitActive(ctx context.Context, elv *api.Elevation, wait time.Duration) (*api.Elevation, error) {
	deadline := time.Now().Add(wait)
	interval := e.pollMin
	for {
		switch {
		case elv.State == api.StateActive:
			return elv, nil
		case isTerminalElevationState(elv.State):
			return nil, fmt.Errorf("elevation %s ended as %s before it became active%s; nothing is left to clean up",
				elv.ID, elv.State, endExplanation(elv))
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil, e.giveUp(ctx, elv, wait)
		}
		timer := time.NewTimer(min(interval, remaining))
		select {
		case <-ctx.Done():
			timer.Stop()
			e.withdraw(context.WithoutCancel(ctx), elv.ID, "Terraform run cancelled")
			return nil, fmt.Errorf("waiting for elevation %s was cancelled (%w); the request was withdrawn", elv.ID, ctx.Err())
		case <-timer.C:
		}
		interval = min(interval*2, e.pollMax)
		next, err := e.client.GetElevation(ctx, elv.ID)
		if err != nil {
			e.withdraw(ctx, elv.ID, "Terraform could not follow the request")
			return nil, fmt.Errorf("reading elevation %s while waiting for it failed; the request was withdrawn. Error: %w", elv.ID, err)
		}
		elv = next
	}
}

// giveUp withdraws an elevation that did not become active in time and says
// what it was waiting for.
func (e *roleActivationEphemeralResource) giveUp(ctx context.Context, elv *api.Elevation, wait time.Duration) error {
	withdrawn := e.withdraw(ctx, elv.ID, fmt.Sprintf("not active within Terraform's wait_timeout_seconds (%ds)", int64(wait/time.Second)))
	cleanup := "Terraform withdrew the request."
	if !withdrawn {
		cleanup = fmt.Sprintf("Terraform could not withdraw it; withdraw it with `pamd` (elevation %s) if it is no longer wanted.", elv.ID)
	}
	var what string
	switch elv.State {
	case api.StatePendingApproval:
		what = "is still waiting for approval: " + pendingApprovalSummary(elv) +
			". Ask one of them to approve (`pamd approvals list`, `pamd approve " + elv.ID + "`) while the run waits, " +
			"raise wait_timeout_seconds, or use an activation policy without approval for unattended runs"
	case api.StateScheduled:
		at := "later"
		if elv.StartAt != nil {
			at = elv.StartAt.UTC().Format(time.RFC3339)
		}
		what = "is scheduled to start at " + at + ", after the wait"
	default:
		what = "is still " + elv.State + " (pamd is provisioning the role); check pamd's log and the role's webhook targets"
	}
	return fmt.Errorf("elevation %s was not active after %s: it %s. %s", elv.ID, wait, what, cleanup)
}

// withdraw withdraws a pending or scheduled request, reporting success.
func (e *roleActivationEphemeralResource) withdraw(ctx context.Context, id, reason string) bool {
	_, err := e.client.WithdrawElevation(ctx, id, reason)
	if err != nil {
		tflog.Warn(ctx, "Withdrawing the elevation failed", map[string]any{"id": id, "error": err.Error()})
		return false
	}
	return true
}

// Close deactivates the elevation Open activated. An elevation that is gone
// or already over needs nothing.
func (e *roleActivationEphemeralResource) Close(ctx context.Context, req ephemeral.CloseRequest, resp *ephemeral.CloseResponse) {
	raw, d := req.Private.GetKey(ctx, privateKeyElevation)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() || len(raw) == 0 {
		return
	}
	var priv roleActivationPrivate
	if err := json.Unmarshal(raw, &priv); err != nil || priv.ID == "" {
		resp.Diagnostics.AddError("Unable to Deactivate Role",
			"The private state of pam_role_activation is unreadable, so Terraform does not know which elevation to deactivate. "+
				"It ends at its end_at; deactivate it earlier with `pamd deactivate`. This is a bug in the provider; please report it.")
		return
	}
	if e.client == nil {
		resp.Diagnostics.AddError("Unable to Deactivate Role", fmt.Sprintf("The provider is not configured, so elevation %s could not be "+
			"deactivated. It ends at its end_at; deactivate it earlier with `pamd deactivate %s`.", priv.ID, priv.ID))
		return
	}
	_, err := e.client.DeactivateElevation(ctx, priv.ID, "Terraform run finished")
	var pe *client.ProblemError
	switch {
	case err == nil:
		tflog.Debug(ctx, "Deactivated elevation", map[string]any{"id": priv.ID})
	case errors.Is(err, client.ErrNotFound):
		tflog.Debug(ctx, "Elevation already gone", map[string]any{"id": priv.ID})
	case errors.As(err, &pe) && pe.Problem.Code == api.CodeInvalidStateTransition:
		// Already ended (expired, revoked, deactivated by someone else).
		tflog.Debug(ctx, "Elevation no longer active", map[string]any{"id": priv.ID, "state": pe.Problem.State})
	default:
		addClientError(&resp.Diagnostics, e.client, operation{"Deactivate", "role activation " + priv.ID}, attributePaths{}, err)
	}
}

// addActivationError explains a refused elevation request.
func addActivationError(diags *diag.Diagnostics, c *client.Client, cfg roleActivationModel, err error) {
	var pe *client.ProblemError
	if errors.As(err, &pe) {
		switch pe.Problem.Code {
		case api.CodeNoMatchingEligibility:
			diags.AddAttributeError(path.Root("role_id"), "No Matching Eligibility",
				fmt.Sprintf("The provider's token holds no eligibility for role %s at exactly scope %s (directly or through a group), "+
					"so pamd refused to activate it. Check the role and scope, or name the eligibility with eligible_role_assignment_id. %s",
					cfg.RoleID.ValueString(), cfg.Scope.ValueString(), serverMessage(pe.Problem)))
			return
		case api.CodeStepUpRequired:
			diags.AddError("Multi-Factor Authentication Required",
				"The activation policy requires a recent multi-factor authentication, and the provider's token does not carry one. "+
					"Get a step-up token with `pamd login --mfa` and use it as the provider's token for this run. "+serverMessage(pe.Problem))
			return
		}
	}
	addClientError(diags, c, activationOp, elevationRequestPaths, err)
}

// pendingApprovalSummary names the current stage and who may still approve it.
func pendingApprovalSummary(elv *api.Elevation) string {
	if elv.Approval == nil || elv.Approval.CurrentStageIndex < 0 || elv.Approval.CurrentStageIndex >= len(elv.Approval.Stages) {
		return "no approval stage is pending"
	}
	st := elv.Approval.Stages[elv.Approval.CurrentStageIndex]
	approved := 0
	for _, d := range st.Decisions {
		if d.Decision == api.DecisionApproved {
			approved++
		}
	}
	names := make([]string, 0, len(st.Approvers))
	for _, a := range st.Approvers {
		names = append(names, a.Type+" "+a.ID)
	}
	return fmt.Sprintf("stage %d of %d needs %d more approval(s) from %s",
		st.Index+1, len(elv.Approval.Stages), max(st.ApprovalsNeeded-approved, 1), strings.Join(names, ", "))
}

func endExplanation(elv *api.Elevation) string {
	var parts []string
	if elv.EndReason != "" {
		parts = append(parts, "reason "+elv.EndReason)
	}
	if elv.ActivationError != "" {
		parts = append(parts, "activation error: "+elv.ActivationError)
	}
	for i := len(elv.Timeline) - 1; i >= 0; i-- {
		if r := elv.Timeline[i].Reason; r != "" {
			parts = append(parts, fmt.Sprintf("%s: %q", elv.Timeline[i].Event, r))
			break
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func isTerminalElevationState(s string) bool {
	switch s {
	case api.StateEnded, api.StateDenied, api.StateApprovalExpired, api.StateWithdrawn,
		api.StateActivationFailed, api.StateDeactivated, api.StateRevoked:
		return true
	}
	return false
}

func timePtrValue(t *time.Time) types.String {
	if t == nil {
		return types.StringNull()
	}
	return timeValue(*t)
}

// renamedPaths maps pointers whose first member is named differently in
// Terraform than on the wire.
type renamedPaths struct {
	rename map[string]string
	paths  nestedPaths
}

func (r renamedPaths) pathFor(pointer string) (path.Path, bool) {
	if rest, ok := strings.CutPrefix(pointer, "/"); ok {
		first, tail, _ := strings.Cut(rest, "/")
		if to, ok := r.rename[first]; ok {
			pointer = "/" + to
			if tail != "" {
				pointer += "/" + tail
			}
		}
	}
	return r.paths.pathFor(pointer)
}
