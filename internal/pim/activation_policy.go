// Package pim owns the rules of privileged identity management: validation of
// activation policies and eligible role assignments, evaluation of elevation
// requests against a policy snapshot, the elevation state machine with its
// approvals and timeline, and the active-elevation projection. It is pure: no
// store, no HTTP, time always an argument, so the service, the background
// worker and the tests share one definition of every rule.
//
// Violations follow one convention: a violation with Rule set is a policy
// decision (422 policy_violation); one without Rule is a malformed field
// (400 validation_failed).
package pim

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Violation codes for malformed fields.
const (
	CodeRequired  = "required"
	CodePattern   = "pattern"
	CodeRange     = "out_of_range"
	CodeTooLong   = "max_length"
	CodeTooMany   = "max_items"
	CodeEnum      = "invalid_enum"
	CodeDuplicate = "duplicate"
	CodeConflict  = "conflict"
)

func fieldViolation(pointer, code, format string, args ...any) api.Violation {
	return api.Violation{Pointer: pointer, Code: code, Message: fmt.Sprintf(format, args...)}
}

func ruleViolation(rule, pointer, format string, args ...any) api.Violation {
	return api.Violation{Rule: rule, Pointer: pointer, Code: rule, Message: fmt.Sprintf(format, args...)}
}

// ValidateActivationPolicy checks a policy as the client sent it. Zero values
// that mean "default" are accepted here; NormalizeActivationPolicy fills them in
// after validation passes, so that the stored policy states every rule.
func ValidateActivationPolicy(in api.ActivationPolicyInput) []api.Violation {
	var vs []api.Violation
	vs = append(vs, checkName("/name", in.Name)...)
	if utf8.RuneCountInString(in.Description) > api.MaxDescriptionLength {
		vs = append(vs, fieldViolation("/description", CodeTooLong, "must be at most %d characters", api.MaxDescriptionLength))
	}
	vs = append(vs, validateRules(in.ActivationRules)...)
	vs = append(vs, checkLabels(in.Labels)...)
	return vs
}

func validateRules(r api.ActivationRules) []api.Violation {
	var vs []api.Violation
	if r.MaxActivationSeconds < api.MinActivationSeconds || r.MaxActivationSeconds > api.MaxActivationSeconds {
		vs = append(vs, fieldViolation("/max_activation_seconds", CodeRange,
			"must be between %d and %d seconds, got %d", api.MinActivationSeconds, api.MaxActivationSeconds, r.MaxActivationSeconds))
	}
	if r.DefaultActivationSeconds != 0 {
		switch {
		case r.DefaultActivationSeconds < api.MinActivationSeconds:
			vs = append(vs, fieldViolation("/default_activation_seconds", CodeRange,
				"must be at least %d seconds, got %d", api.MinActivationSeconds, r.DefaultActivationSeconds))
		case r.DefaultActivationSeconds > r.MaxActivationSeconds:
			vs = append(vs, fieldViolation("/default_activation_seconds", CodeRange,
				"must not exceed max_activation_seconds (%d), got %d", r.MaxActivationSeconds, r.DefaultActivationSeconds))
		}
	}

	if r.JustificationMinLength < 0 || r.JustificationMinLength > api.MaxJustificationLength {
		vs = append(vs, fieldViolation("/justification_min_length", CodeRange,
			"must be between 0 and %d, got %d", api.MaxJustificationLength, r.JustificationMinLength))
	} else if r.JustificationMinLength > 0 && !r.RequireJustification {
		vs = append(vs, fieldViolation("/justification_min_length", CodeConflict,
			"requires require_justification = true"))
	}

	vs = append(vs, checkTicketSystems(r.TicketSystems)...)

	if r.MFAMaxAgeSeconds != 0 {
		if r.MFAMaxAgeSeconds < 60 || r.MFAMaxAgeSeconds > api.MaxMFAMaxAgeSeconds {
			vs = append(vs, fieldViolation("/mfa_max_age_seconds", CodeRange,
				"must be 0 (any MFA) or between 60 and %d seconds, got %d", api.MaxMFAMaxAgeSeconds, r.MFAMaxAgeSeconds))
		} else if !r.RequireMFA {
			vs = append(vs, fieldViolation("/mfa_max_age_seconds", CodeConflict, "requires require_mfa = true"))
		}
	}

	if r.MaxScheduleAheadSeconds != 0 {
		if r.MaxScheduleAheadSeconds < 60 || r.MaxScheduleAheadSeconds > api.MaxScheduleAheadSeconds {
			vs = append(vs, fieldViolation("/max_schedule_ahead_seconds", CodeRange,
				"must be 0 (default) or between 60 and %d seconds, got %d", api.MaxScheduleAheadSeconds, r.MaxScheduleAheadSeconds))
		} else if !r.AllowScheduledStart {
			vs = append(vs, fieldViolation("/max_schedule_ahead_seconds", CodeConflict, "requires allow_scheduled_start = true"))
		}
	}

	if r.MaxExtensions < 0 || r.MaxExtensions > api.MaxExtensions {
		vs = append(vs, fieldViolation("/max_extensions", CodeRange,
			"must be between 0 and %d, got %d", api.MaxExtensions, r.MaxExtensions))
	} else if r.MaxExtensions > 0 && !r.AllowExtension {
		vs = append(vs, fieldViolation("/max_extensions", CodeConflict, "requires allow_extension = true"))
	}
	if r.MaxTotalActivationSeconds != 0 {
		switch {
		case r.MaxTotalActivationSeconds < r.MaxActivationSeconds || r.MaxTotalActivationSeconds > api.MaxTotalActivationSeconds:
			vs = append(vs, fieldViolation("/max_total_activation_seconds", CodeRange,
				"must be between max_activation_seconds (%d) and %d seconds, got %d",
				r.MaxActivationSeconds, api.MaxTotalActivationSeconds, r.MaxTotalActivationSeconds))
		case !r.AllowExtension:
			vs = append(vs, fieldViolation("/max_total_activation_seconds", CodeConflict, "requires allow_extension = true"))
		}
	}

	if m := r.EligibilityConstraints.MaxEligibilitySeconds; m < 0 || m > api.MaxEligibilitySeconds {
		vs = append(vs, fieldViolation("/eligibility_constraints/max_eligibility_seconds", CodeRange,
			"must be 0 (no limit) or at most %d seconds, got %d", api.MaxEligibilitySeconds, m))
	}

	if r.Approval != nil {
		vs = append(vs, validateApproval("/approval", *r.Approval)...)
	}
	return vs
}

func checkTicketSystems(systems []string) []api.Violation {
	var vs []api.Violation
	if len(systems) > api.MaxTicketSystems {
		vs = append(vs, fieldViolation("/ticket_systems", CodeTooMany, "must list at most %d systems", api.MaxTicketSystems))
	}
	seen := map[string]bool{}
	for i, s := range systems {
		p := fmt.Sprintf("/ticket_systems/%d", i)
		switch {
		case strings.TrimSpace(s) == "":
			vs = append(vs, fieldViolation(p, CodeRequired, "must not be empty"))
		case len(s) > api.MaxTicketFieldLength:
			vs = append(vs, fieldViolation(p, CodeTooLong, "must be at most %d characters", api.MaxTicketFieldLength))
		case seen[s]:
			vs = append(vs, fieldViolation(p, CodeDuplicate, "%q is listed twice", s))
		}
		seen[s] = true
	}
	return vs
}

func validateApproval(base string, a api.Approval) []api.Violation {
	var vs []api.Violation
	// A present block with no stages is ambiguous (approval required by whom?),
	// so absence is the only way to say "no approval".
	if len(a.Stages) == 0 {
		return append(vs, fieldViolation(base+"/stages", CodeRequired,
			"must have at least one stage; omit the approval block to require no approval"))
	}
	if len(a.Stages) > api.MaxApprovalStages {
		vs = append(vs, fieldViolation(base+"/stages", CodeTooMany, "must have at most %d stages", api.MaxApprovalStages))
	}
	for i, st := range a.Stages {
		sp := fmt.Sprintf("%s/stages/%d", base, i)
		vs = append(vs, validateStage(sp, st)...)
	}
	return vs
}

func validateStage(sp string, st api.ApprovalStage) []api.Violation {
	var vs []api.Violation
	switch {
	case len(st.Approvers) == 0:
		vs = append(vs, fieldViolation(sp+"/approvers", CodeRequired, "must name at least one approver"))
	case len(st.Approvers) > api.MaxApproversPerStage:
		vs = append(vs, fieldViolation(sp+"/approvers", CodeTooMany, "must name at most %d approvers", api.MaxApproversPerStage))
	}
	seen := map[api.Principal]int{}
	hasGroup := false
	for j, ap := range st.Approvers {
		pp := fmt.Sprintf("%s/approvers/%d", sp, j)
		vs = append(vs, checkPrincipal(pp+"/principal_type", pp+"/principal_id", ap.Type, ap.ID)...)
		if first, dup := seen[ap]; dup {
			vs = append(vs, fieldViolation(pp, CodeDuplicate, "%s %q is already listed at index %d", ap.Type, ap.ID, first))
		} else {
			seen[ap] = j
		}
		hasGroup = hasGroup || ap.Type == api.PrincipalTypeGroup
	}
	// Only individual approvers can be counted here: a group may have any number
	// of members, so with a group present the bound is the per-stage maximum.
	limit := len(seen)
	if hasGroup {
		limit = api.MaxApproversPerStage
	}
	if st.ApprovalsNeeded < 1 {
		vs = append(vs, fieldViolation(sp+"/approvals_needed", CodeRange, "must be at least 1, got %d", st.ApprovalsNeeded))
	} else if len(st.Approvers) > 0 && st.ApprovalsNeeded > limit {
		vs = append(vs, fieldViolation(sp+"/approvals_needed", CodeRange,
			"needs %d approvals but the stage lists only %d distinct approvers", st.ApprovalsNeeded, limit))
	}
	if st.TimeoutSeconds != 0 && (st.TimeoutSeconds < api.MinApprovalTimeoutSeconds || st.TimeoutSeconds > api.MaxApprovalTimeoutSeconds) {
		vs = append(vs, fieldViolation(sp+"/timeout_seconds", CodeRange,
			"must be 0 (default %d) or between %d and %d seconds, got %d",
			api.DefaultApprovalTimeoutSeconds, api.MinApprovalTimeoutSeconds, api.MaxApprovalTimeoutSeconds, st.TimeoutSeconds))
	}
	return vs
}

// NormalizeActivationPolicy fills the defaults that zero values stand for. Call
// it only on a policy that passed ValidateActivationPolicy. The result is what
// the server stores and returns, so every default is visible to Terraform.
func NormalizeActivationPolicy(in api.ActivationPolicyInput) api.ActivationPolicyInput {
	out := in
	out.Labels = cloneLabels(in.Labels)
	r := &out.ActivationRules
	// Empty rather than null, so that what Terraform reads back equals an
	// omitted or empty list without a diff.
	r.TicketSystems = append([]string{}, r.TicketSystems...)
	if r.DefaultActivationSeconds == 0 {
		r.DefaultActivationSeconds = min(int64(api.DefaultActivationSeconds), r.MaxActivationSeconds)
	}
	if r.AllowScheduledStart && r.MaxScheduleAheadSeconds == 0 {
		r.MaxScheduleAheadSeconds = api.DefaultScheduleAheadSeconds
	}
	if r.AllowExtension {
		if r.MaxExtensions == 0 {
			r.MaxExtensions = 1
		}
		if r.MaxTotalActivationSeconds == 0 {
			r.MaxTotalActivationSeconds = min(r.MaxActivationSeconds*int64(1+r.MaxExtensions), int64(api.MaxTotalActivationSeconds))
		}
	}
	if r.Approval != nil {
		// Copy so that normalising never writes through the caller's slices.
		a := *r.Approval
		a.Stages = append([]api.ApprovalStage(nil), a.Stages...)
		for i := range a.Stages {
			if a.Stages[i].TimeoutSeconds == 0 {
				a.Stages[i].TimeoutSeconds = api.DefaultApprovalTimeoutSeconds
			}
		}
		r.Approval = &a
	}
	return out
}

func cloneLabels(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

func checkName(pointer, name string) []api.Violation {
	if name == "" {
		return []api.Violation{fieldViolation(pointer, CodeRequired, "is required")}
	}
	if !api.NamePattern.MatchString(name) {
		return []api.Violation{fieldViolation(pointer, CodePattern, "%q is not valid: %s", name, api.NameRule)}
	}
	return nil
}

func checkLabels(labels map[string]string) []api.Violation {
	var vs []api.Violation
	if len(labels) > api.MaxLabels {
		vs = append(vs, fieldViolation("/labels", CodeTooMany, "must have at most %d labels", api.MaxLabels))
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	// Sorted so that the same input always yields the same violations.
	sort.Strings(keys)
	for _, k := range keys {
		p := "/labels/" + escapePointer(k)
		if !api.LabelKeyPattern.MatchString(k) {
			vs = append(vs, fieldViolation(p, CodePattern, "label key %q is not valid: %s", k, api.LabelKeyRule))
		}
		if utf8.RuneCountInString(labels[k]) > api.MaxLabelValueLength {
			vs = append(vs, fieldViolation(p, CodeTooLong, "label value must be at most %d characters", api.MaxLabelValueLength))
		}
	}
	return vs
}

// escapePointer escapes a JSON pointer reference token (RFC 6901 §3).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func checkPrincipal(typePointer, idPointer, typ, id string) []api.Violation {
	var vs []api.Violation
	switch typ {
	case api.PrincipalTypeUser, api.PrincipalTypeGroup, api.PrincipalTypeServiceAccount:
	case "":
		vs = append(vs, fieldViolation(typePointer, CodeRequired, "is required: one of %s", strings.Join(api.PrincipalTypes, ", ")))
	default:
		vs = append(vs, fieldViolation(typePointer, CodeEnum, "%q is not one of %s", typ, strings.Join(api.PrincipalTypes, ", ")))
	}
	switch {
	case strings.TrimSpace(id) == "":
		vs = append(vs, fieldViolation(idPointer, CodeRequired, "is required"))
	case len(id) > api.MaxPrincipalIDLength:
		vs = append(vs, fieldViolation(idPointer, CodeTooLong, "must be at most %d characters", api.MaxPrincipalIDLength))
	}
	return vs
}

func checkTicket(pointer string, t *api.Ticket) []api.Violation {
	if t == nil {
		return nil
	}
	var vs []api.Violation
	if strings.TrimSpace(t.Number) == "" {
		vs = append(vs, fieldViolation(pointer+"/number", CodeRequired, "is required when a ticket is given"))
	}
	if len(t.Number) > api.MaxTicketFieldLength {
		vs = append(vs, fieldViolation(pointer+"/number", CodeTooLong, "must be at most %d characters", api.MaxTicketFieldLength))
	}
	if len(t.System) > api.MaxTicketFieldLength {
		vs = append(vs, fieldViolation(pointer+"/system", CodeTooLong, "must be at most %d characters", api.MaxTicketFieldLength))
	}
	return vs
}
