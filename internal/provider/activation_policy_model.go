package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
)

// activationPolicyModel is the Terraform shape of an activation policy, shared
// by the pam_activation_policy resource and data source. Attribute names are
// the JSON member names, so server violation pointers map one to one.
type activationPolicyModel struct {
	ID                        types.String `tfsdk:"id"`
	Name                      types.String `tfsdk:"name"`
	Description               types.String `tfsdk:"description"`
	MaxActivationSeconds      types.Int64  `tfsdk:"max_activation_seconds"`
	DefaultActivationSeconds  types.Int64  `tfsdk:"default_activation_seconds"`
	RequireJustification      types.Bool   `tfsdk:"require_justification"`
	JustificationMinLength    types.Int64  `tfsdk:"justification_min_length"`
	RequireTicket             types.Bool   `tfsdk:"require_ticket"`
	TicketSystems             types.Set    `tfsdk:"ticket_systems"`
	RequireMFA                types.Bool   `tfsdk:"require_mfa"`
	MFAMaxAgeSeconds          types.Int64  `tfsdk:"mfa_max_age_seconds"`
	AllowScheduledStart       types.Bool   `tfsdk:"allow_scheduled_start"`
	MaxScheduleAheadSeconds   types.Int64  `tfsdk:"max_schedule_ahead_seconds"`
	AllowExtension            types.Bool   `tfsdk:"allow_extension"`
	MaxExtensions             types.Int64  `tfsdk:"max_extensions"`
	MaxTotalActivationSeconds types.Int64  `tfsdk:"max_total_activation_seconds"`
	EligibilityConstraints    types.Object `tfsdk:"eligibility_constraints"`
	Approval                  types.Object `tfsdk:"approval"`
	Labels                    types.Map    `tfsdk:"labels"`
	Version                   types.Int64  `tfsdk:"version"`
	CreatedAt                 types.String `tfsdk:"created_at"`
	UpdatedAt                 types.String `tfsdk:"updated_at"`
}

type eligibilityConstraintsModel struct {
	AllowPermanent        types.Bool  `tfsdk:"allow_permanent"`
	MaxEligibilitySeconds types.Int64 `tfsdk:"max_eligibility_seconds"`
}

type approvalModel struct {
	RequireApproverJustification types.Bool `tfsdk:"require_approver_justification"`
	Stages                       types.List `tfsdk:"stages"`
}

type approvalStageModel struct {
	Approvers       types.Set   `tfsdk:"approvers"`
	ApprovalsNeeded types.Int64 `tfsdk:"approvals_needed"`
	TimeoutSeconds  types.Int64 `tfsdk:"timeout_seconds"`
}

type principalModel struct {
	PrincipalType types.String `tfsdk:"principal_type"`
	PrincipalID   types.String `tfsdk:"principal_id"`
}

var (
	principalAttrTypes = map[string]attr.Type{
		"principal_type": types.StringType,
		"principal_id":   types.StringType,
	}
	approvalStageAttrTypes = map[string]attr.Type{
		"approvers":        types.SetType{ElemType: types.ObjectType{AttrTypes: principalAttrTypes}},
		"approvals_needed": types.Int64Type,
		"timeout_seconds":  types.Int64Type,
	}
	approvalAttrTypes = map[string]attr.Type{
		"require_approver_justification": types.BoolType,
		"stages":                         types.ListType{ElemType: types.ObjectType{AttrTypes: approvalStageAttrTypes}},
	}
	eligibilityConstraintsAttrTypes = map[string]attr.Type{
		"allow_permanent":         types.BoolType,
		"max_eligibility_seconds": types.Int64Type,
	}
)

// activationPolicyPaths routes server and internal/pim violations to attributes.
var activationPolicyPaths = nestedPaths{
	"name":                         leafPath(),
	"description":                  leafPath(),
	"max_activation_seconds":       leafPath(),
	"default_activation_seconds":   leafPath(),
	"require_justification":        leafPath(),
	"justification_min_length":     leafPath(),
	"require_ticket":               leafPath(),
	"ticket_systems":               setPath(),
	"require_mfa":                  leafPath(),
	"mfa_max_age_seconds":          leafPath(),
	"allow_scheduled_start":        leafPath(),
	"max_schedule_ahead_seconds":   leafPath(),
	"allow_extension":              leafPath(),
	"max_extensions":               leafPath(),
	"max_total_activation_seconds": leafPath(),
	"eligibility_constraints": objectPath(nestedPaths{
		"allow_permanent":         leafPath(),
		"max_eligibility_seconds": leafPath(),
	}),
	"approval": objectPath(nestedPaths{
		"require_approver_justification": leafPath(),
		"stages": listOfObjectsPath(nestedPaths{
			"approvers":        setPath(),
			"approvals_needed": leafPath(),
			"timeout_seconds":  leafPath(),
		}),
	}),
	"labels": mapPath(),
}

// activationPolicyPrefixPattern checks the shape of a policy id before any request.
var activationPolicyPrefixPattern = regexp.MustCompile(`^` + api.PrefixActivationPolicy + `_[0-9A-Za-z]+$`)

// activationPolicyToModel maps a policy from pamd to Terraform. pamd stores
// every default explicitly (pim.NormalizeActivationPolicy), so the result has
// no nulls except approval, which is null exactly when no approval is needed.
func activationPolicyToModel(p *api.ActivationPolicy) (activationPolicyModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	r := p.ActivationRules

	systems := append(make([]string, 0, len(r.TicketSystems)), r.TicketSystems...)
	sort.Strings(systems)
	ticketSystems, d := types.SetValueFrom(context.Background(), types.StringType, systems)
	diags.Append(d...)

	constraints, d := types.ObjectValue(eligibilityConstraintsAttrTypes, map[string]attr.Value{
		"allow_permanent":         types.BoolValue(r.EligibilityConstraints.AllowPermanent),
		"max_eligibility_seconds": types.Int64Value(r.EligibilityConstraints.MaxEligibilitySeconds),
	})
	diags.Append(d...)

	approval, d := approvalToObject(r.Approval)
	diags.Append(d...)

	labels, d := labelsValue(p.Labels)
	diags.Append(d...)

	return activationPolicyModel{
		ID:                        types.StringValue(p.ID),
		Name:                      types.StringValue(p.Name),
		Description:               types.StringValue(p.Description),
		MaxActivationSeconds:      types.Int64Value(r.MaxActivationSeconds),
		DefaultActivationSeconds:  types.Int64Value(r.DefaultActivationSeconds),
		RequireJustification:      types.BoolValue(r.RequireJustification),
		JustificationMinLength:    types.Int64Value(int64(r.JustificationMinLength)),
		RequireTicket:             types.BoolValue(r.RequireTicket),
		TicketSystems:             ticketSystems,
		RequireMFA:                types.BoolValue(r.RequireMFA),
		MFAMaxAgeSeconds:          types.Int64Value(r.MFAMaxAgeSeconds),
		AllowScheduledStart:       types.BoolValue(r.AllowScheduledStart),
		MaxScheduleAheadSeconds:   types.Int64Value(r.MaxScheduleAheadSeconds),
		AllowExtension:            types.BoolValue(r.AllowExtension),
		MaxExtensions:             types.Int64Value(int64(r.MaxExtensions)),
		MaxTotalActivationSeconds: types.Int64Value(r.MaxTotalActivationSeconds),
		EligibilityConstraints:    constraints,
		Approval:                  approval,
		Labels:                    labels,
		Version:                   types.Int64Value(p.Version),
		CreatedAt:                 timeValue(p.CreatedAt),
		UpdatedAt:                 timeValue(p.UpdatedAt),
	}, diags
}

// approvalToObject maps the approval block; nil (no approval) becomes null.
// Approvers are a set: pamd keeps them in the order sent, but the order has no
// meaning, and a set keeps a reordering from showing as a change.
func approvalToObject(a *api.Approval) (types.Object, diag.Diagnostics) {
	var diags diag.Diagnostics
	if a == nil {
		return types.ObjectNull(approvalAttrTypes), diags
	}
	stageType := types.ObjectType{AttrTypes: approvalStageAttrTypes}
	stages := make([]attr.Value, 0, len(a.Stages))
	for _, st := range a.Stages {
		approvers := make([]attr.Value, 0, len(st.Approvers))
		for _, ap := range st.Approvers {
			o, d := types.ObjectValue(principalAttrTypes, map[string]attr.Value{
				"principal_type": types.StringValue(ap.Type),
				"principal_id":   types.StringValue(ap.ID),
			})
			diags.Append(d...)
			approvers = append(approvers, o)
		}
		set, d := types.SetValue(types.ObjectType{AttrTypes: principalAttrTypes}, approvers)
		diags.Append(d...)
		o, d := types.ObjectValue(approvalStageAttrTypes, map[string]attr.Value{
			"approvers":        set,
			"approvals_needed": types.Int64Value(int64(st.ApprovalsNeeded)),
			"timeout_seconds":  types.Int64Value(st.TimeoutSeconds),
		})
		diags.Append(d...)
		stages = append(stages, o)
	}
	list, d := types.ListValue(stageType, stages)
	diags.Append(d...)
	o, d := types.ObjectValue(approvalAttrTypes, map[string]attr.Value{
		"require_approver_justification": types.BoolValue(a.RequireApproverJustification),
		"stages":                         list,
	})
	diags.Append(d...)
	return o, diags
}

// activationPolicyInputFromModel maps a plan (or a configuration) to the body
// of POST/PUT. Null values become the zero values that pamd reads as "use the
// default"; unknown values must have been ruled out by the caller. A null
// approvals_needed counts as 1, the schema default.
func activationPolicyInputFromModel(ctx context.Context, m activationPolicyModel) (api.ActivationPolicyInput, diag.Diagnostics) {
	var diags diag.Diagnostics
	in := api.ActivationPolicyInput{
		Name:        m.Name.ValueString(),
		Description: m.Description.ValueString(),
		ActivationRules: api.ActivationRules{
			MaxActivationSeconds:      m.MaxActivationSeconds.ValueInt64(),
			DefaultActivationSeconds:  m.DefaultActivationSeconds.ValueInt64(),
			RequireJustification:      m.RequireJustification.ValueBool(),
			JustificationMinLength:    int(m.JustificationMinLength.ValueInt64()),
			RequireTicket:             m.RequireTicket.ValueBool(),
			TicketSystems:             []string{},
			RequireMFA:                m.RequireMFA.ValueBool(),
			MFAMaxAgeSeconds:          m.MFAMaxAgeSeconds.ValueInt64(),
			AllowScheduledStart:       m.AllowScheduledStart.ValueBool(),
			MaxScheduleAheadSeconds:   m.MaxScheduleAheadSeconds.ValueInt64(),
			AllowExtension:            m.AllowExtension.ValueBool(),
			MaxExtensions:             int(m.MaxExtensions.ValueInt64()),
			MaxTotalActivationSeconds: m.MaxTotalActivationSeconds.ValueInt64(),
		},
		Labels: map[string]string{},
	}
	if !m.TicketSystems.IsNull() && !m.TicketSystems.IsUnknown() {
		diags.Append(m.TicketSystems.ElementsAs(ctx, &in.TicketSystems, false)...)
		sort.Strings(in.TicketSystems)
	}
	if !m.EligibilityConstraints.IsNull() && !m.EligibilityConstraints.IsUnknown() {
		var ec eligibilityConstraintsModel
		diags.Append(m.EligibilityConstraints.As(ctx, &ec, objectAsOptions)...)
		in.EligibilityConstraints = api.EligibilityConstraints{
			AllowPermanent:        ec.AllowPermanent.ValueBool(),
			MaxEligibilitySeconds: ec.MaxEligibilitySeconds.ValueInt64(),
		}
	}
	if !m.Approval.IsNull() && !m.Approval.IsUnknown() {
		a, d := approvalFromObject(ctx, m.Approval)
		diags.Append(d...)
		in.Approval = a
	}
	if !m.Labels.IsNull() && !m.Labels.IsUnknown() {
		diags.Append(m.Labels.ElementsAs(ctx, &in.Labels, false)...)
	}
	return in, diags
}

func approvalFromObject(ctx context.Context, o types.Object) (*api.Approval, diag.Diagnostics) {
	var (
		diags diag.Diagnostics
		am    approvalModel
	)
	diags.Append(o.As(ctx, &am, objectAsOptions)...)
	a := &api.Approval{RequireApproverJustification: am.RequireApproverJustification.ValueBool(), Stages: []api.ApprovalStage{}}
	var stages []approvalStageModel
	if !am.Stages.IsNull() && !am.Stages.IsUnknown() {
		diags.Append(am.Stages.ElementsAs(ctx, &stages, false)...)
	}
	for _, sm := range stages {
		st := api.ApprovalStage{
			Approvers:       []api.Principal{},
			ApprovalsNeeded: int(sm.ApprovalsNeeded.ValueInt64()),
			TimeoutSeconds:  sm.TimeoutSeconds.ValueInt64(),
		}
		if sm.ApprovalsNeeded.IsNull() {
			st.ApprovalsNeeded = 1
		}
		var approvers []principalModel
		if !sm.Approvers.IsNull() && !sm.Approvers.IsUnknown() {
			diags.Append(sm.Approvers.ElementsAs(ctx, &approvers, false)...)
		}
		for _, ap := range approvers {
			st.Approvers = append(st.Approvers, api.Principal{Type: ap.PrincipalType.ValueString(), ID: ap.PrincipalID.ValueString()})
		}
		// A stable order, so that the same configuration always sends the same body.
		sort.Slice(st.Approvers, func(i, j int) bool {
			if st.Approvers[i].Type != st.Approvers[j].Type {
				return st.Approvers[i].Type < st.Approvers[j].Type
			}
			return st.Approvers[i].ID < st.Approvers[j].ID
		})
		a.Stages = append(a.Stages, st)
	}
	return a, diags
}

// labelsValue maps labels to a map value; nil becomes {} like the schema default.
func labelsValue(labels map[string]string) (types.Map, diag.Diagnostics) {
	values := make(map[string]attr.Value, len(labels))
	for k, v := range labels {
		values[k] = types.StringValue(v)
	}
	return types.MapValue(types.StringType, values)
}

// objectAsOptions converts nested objects strictly: the models use framework
// types, so null and unknown members are represented, not lost.
var objectAsOptions = basetypes.ObjectAsOptions{}

// planActivationDefaults fills the attributes whose default depends on other
// attributes (default_activation_seconds, max_schedule_ahead_seconds,
// max_extensions, max_total_activation_seconds) into the plan, with the same
// function pamd normalises with, wherever the configuration leaves them out.
// The plan then shows the value pamd will store, so the apply is consistent
// and an out-of-band change to a defaulted value shows as drift. When an input
// of the computation is unknown, so is the result.
func planActivationDefaults(cfg, plan activationPolicyModel) activationPolicyModel {
	out := plan
	dynamic := []struct {
		cfg  types.Int64
		plan *types.Int64
	}{
		{cfg.DefaultActivationSeconds, &out.DefaultActivationSeconds},
		{cfg.MaxScheduleAheadSeconds, &out.MaxScheduleAheadSeconds},
		{cfg.MaxExtensions, &out.MaxExtensions},
		{cfg.MaxTotalActivationSeconds, &out.MaxTotalActivationSeconds},
	}
	known := !plan.MaxActivationSeconds.IsUnknown() && !plan.AllowScheduledStart.IsUnknown() && !plan.AllowExtension.IsUnknown()
	for _, d := range dynamic {
		if !d.cfg.IsNull() && d.cfg.IsUnknown() {
			known = false
		}
	}
	if !known {
		for _, d := range dynamic {
			if d.cfg.IsNull() {
				*d.plan = types.Int64Unknown()
			}
		}
		return out
	}
	valueOrZero := func(v types.Int64) int64 {
		if v.IsNull() {
			return 0
		}
		return v.ValueInt64()
	}
	n := pim.NormalizeActivationPolicy(api.ActivationPolicyInput{ActivationRules: api.ActivationRules{
		MaxActivationSeconds:      plan.MaxActivationSeconds.ValueInt64(),
		DefaultActivationSeconds:  valueOrZero(cfg.DefaultActivationSeconds),
		AllowScheduledStart:       plan.AllowScheduledStart.ValueBool(),
		MaxScheduleAheadSeconds:   valueOrZero(cfg.MaxScheduleAheadSeconds),
		AllowExtension:            plan.AllowExtension.ValueBool(),
		MaxExtensions:             int(valueOrZero(cfg.MaxExtensions)),
		MaxTotalActivationSeconds: valueOrZero(cfg.MaxTotalActivationSeconds),
	}}).ActivationRules
	normalized := []int64{n.DefaultActivationSeconds, n.MaxScheduleAheadSeconds, int64(n.MaxExtensions), n.MaxTotalActivationSeconds}
	for i, d := range dynamic {
		if d.cfg.IsNull() {
			*d.plan = types.Int64Value(normalized[i])
		}
	}
	return out
}

// validateActivationPolicyConfig runs internal/pim's validation, the very
// function pamd runs, on the configuration, so that a policy pamd would reject
// fails at plan time with the same messages. It skips the rules when a value
// they need is unknown (it will be checked at apply by pamd).
func validateActivationPolicyConfig(ctx context.Context, cfg activationPolicyModel, diags *diag.Diagnostics) {
	// A zero that pamd would replace by a default cannot be stored as written;
	// Terraform's way of asking for the default is to leave the argument out.
	zeroMeansDefault := func(v types.Int64, attrName string, when bool, dflt string) {
		if when && !v.IsNull() && !v.IsUnknown() && v.ValueInt64() == 0 {
			diags.AddAttributeError(path.Root(attrName), "Invalid Attribute Value",
				fmt.Sprintf("pamd reads 0 as \"use the default\" (%s) and would store that instead of 0. "+
					"Leave %s out of the configuration to get the default, or set a positive value.", dflt, attrName))
		}
	}
	zeroMeansDefault(cfg.DefaultActivationSeconds, "default_activation_seconds", true,
		fmt.Sprintf("the smaller of %d and max_activation_seconds", api.DefaultActivationSeconds))
	zeroMeansDefault(cfg.MaxScheduleAheadSeconds, "max_schedule_ahead_seconds", cfg.AllowScheduledStart.ValueBool(),
		fmt.Sprintf("%d", api.DefaultScheduleAheadSeconds))
	zeroMeansDefault(cfg.MaxExtensions, "max_extensions", cfg.AllowExtension.ValueBool(), "1")
	zeroMeansDefault(cfg.MaxTotalActivationSeconds, "max_total_activation_seconds", cfg.AllowExtension.ValueBool(),
		"max_activation_seconds * (1 + max_extensions)")

	if !cfg.Approval.IsNull() && !cfg.Approval.IsUnknown() {
		var am approvalModel
		diags.Append(cfg.Approval.As(ctx, &am, objectAsOptions)...)
		var stages []approvalStageModel
		if !am.Stages.IsNull() && !am.Stages.IsUnknown() {
			diags.Append(am.Stages.ElementsAs(ctx, &stages, false)...)
		}
		for i, st := range stages {
			if !st.TimeoutSeconds.IsNull() && !st.TimeoutSeconds.IsUnknown() && st.TimeoutSeconds.ValueInt64() == 0 {
				diags.AddAttributeError(path.Root("approval").AtName("stages").AtListIndex(i).AtName("timeout_seconds"), "Invalid Attribute Value",
					fmt.Sprintf("pamd reads 0 as \"use the default\" (%d) and would store that instead of 0. "+
						"Leave timeout_seconds out of the configuration to get the default, or set a positive value.", api.DefaultApprovalTimeoutSeconds))
			}
		}
	}
	if diags.HasError() {
		return
	}

	// Name, description and labels are checked on their own, so an unknown one
	// only removes its own checks; every other value takes part in rules that
	// span several attributes.
	skip := map[string]bool{}
	if cfg.Name.IsUnknown() {
		cfg.Name, skip["/name"] = types.StringValue("placeholder"), true
	}
	if cfg.Description.IsUnknown() {
		cfg.Description, skip["/description"] = types.StringNull(), true
	}
	if !fullyKnown(ctx, cfg.Labels) {
		cfg.Labels, skip["/labels"] = types.MapNull(types.StringType), true
	}
	for _, v := range []attr.Value{
		cfg.MaxActivationSeconds, cfg.DefaultActivationSeconds, cfg.RequireJustification, cfg.JustificationMinLength,
		cfg.RequireTicket, cfg.TicketSystems, cfg.RequireMFA, cfg.MFAMaxAgeSeconds, cfg.AllowScheduledStart,
		cfg.MaxScheduleAheadSeconds, cfg.AllowExtension, cfg.MaxExtensions, cfg.MaxTotalActivationSeconds,
		cfg.EligibilityConstraints, cfg.Approval,
	} {
		if !fullyKnown(ctx, v) {
			return
		}
	}
	if cfg.MaxActivationSeconds.IsNull() {
		return // required: Terraform reports it
	}
	in, d := activationPolicyInputFromModel(ctx, cfg)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	var vs []api.Violation
	for _, v := range pim.ValidateActivationPolicy(in) {
		labelOfUnknownLabels := skip["/labels"] && strings.HasPrefix(v.Pointer, "/labels/")
		if !skip[v.Pointer] && !labelOfUnknownLabels {
			vs = append(vs, v)
		}
	}
	addViolations(diags, activationPolicyPaths, "Invalid Activation Policy", "pamd would reject this value", vs)
}

// fullyKnown reports whether v and everything nested in it is known.
func fullyKnown(ctx context.Context, v attr.Value) bool {
	tv, err := v.ToTerraformValue(ctx)
	return err == nil && tv.IsFullyKnown()
}
