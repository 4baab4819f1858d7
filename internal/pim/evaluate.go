package pim

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Policy rules of elevation requests, reported as api.Violation.Rule.
const (
	RuleEligibilityNotActive      = "eligibility_not_active"
	RuleNotEligible               = "not_eligible"
	RuleMaxActivationSeconds      = "max_activation_seconds"
	RuleEligibilityEndsBefore     = "eligibility_ends_before_elevation"
	RuleJustificationRequired     = "justification_required"
	RuleJustificationTooShort     = "justification_too_short"
	RuleTicketRequired            = "ticket_required"
	RuleTicketSystemNotAllowed    = "ticket_system_not_allowed"
	RuleMFARequired               = "mfa_required"
	RuleMFAStale                  = "mfa_stale"
	RuleScheduledStartNotAllowed  = "scheduled_start_not_allowed"
	RuleMaxScheduleAheadSeconds   = "max_schedule_ahead_seconds"
	RuleExtensionNotAllowed       = "extension_not_allowed"
	RuleMaxExtensions             = "max_extensions"
	RuleMaxTotalActivationSeconds = "max_total_activation_seconds"
)

// Identity is what the server knows about whoever acts: the token's subject, its
// groups (which qualify group eligibilities and group approvers) and when it
// last completed MFA (nil if the token carries no MFA).
type Identity struct {
	Actor  api.Actor
	Groups []string
	MFAAt  *time.Time
}

// ValidateElevationRequest checks the shape of POST /v1/elevations before any
// lookup; its violations are 400s, not policy decisions.
func ValidateElevationRequest(req api.ElevationRequest) []api.Violation {
	var vs []api.Violation
	byID := req.EligibleRoleAssignmentID != ""
	byRole := req.RoleID != "" || req.Scope != ""
	switch {
	case byID && byRole:
		vs = append(vs, fieldViolation("/eligible_role_assignment_id", CodeConflict,
			"give either eligible_role_assignment_id or role_id and scope, not both"))
	case !byID && !byRole:
		vs = append(vs, fieldViolation("/eligible_role_assignment_id", CodeRequired,
			"give eligible_role_assignment_id, or role_id and scope"))
	case byRole:
		if req.RoleID == "" {
			vs = append(vs, fieldViolation("/role_id", CodeRequired, "is required with scope"))
		}
		if req.Scope == "" {
			vs = append(vs, fieldViolation("/scope", CodeRequired, "is required with role_id"))
		} else if !api.ScopePattern.MatchString(req.Scope) {
			vs = append(vs, fieldViolation("/scope", CodePattern, "%q is not valid: %s", req.Scope, api.ScopeRule))
		}
	}
	if req.RequestedDurationSeconds < 0 {
		vs = append(vs, fieldViolation("/requested_duration_seconds", CodeRange,
			"must be positive, or 0 for the policy default; got %d", req.RequestedDurationSeconds))
	}
	if len(req.Justification) > api.MaxJustificationLength {
		vs = append(vs, fieldViolation("/justification", CodeTooLong, "must be at most %d characters", api.MaxJustificationLength))
	}
	vs = append(vs, checkTicket("/ticket", req.Ticket)...)
	switch req.IfExists {
	case "", api.IfExistsError, api.IfExistsReturnExisting:
	default:
		vs = append(vs, fieldViolation("/if_exists", CodeEnum, "%q is not one of %s, %s", req.IfExists, api.IfExistsError, api.IfExistsReturnExisting))
	}
	return vs
}

// Snapshot freezes a policy for an elevation.
func Snapshot(p api.ActivationPolicy) api.PolicySnapshot {
	return api.PolicySnapshot{ActivationPolicyID: p.ID, Version: p.Version, ActivationRules: p.ActivationRules}
}

// Evaluate decides an elevation request against the eligibility it uses and a
// snapshot of that eligibility's policy. It reports every failed rule at once,
// so validate_only shows the whole picture, and it is the same function the
// real request runs, so the two can never disagree.
func Evaluate(req api.ElevationRequest, e api.EligibleRoleAssignment, snap api.PolicySnapshot, c Identity, now time.Time) api.PolicyEvaluation {
	r := snap.ActivationRules
	ev := api.PolicyEvaluation{
		EligibleRoleAssignmentID: e.ID,
		ActivationPolicyID:       snap.ActivationPolicyID,
		PolicyVersion:            snap.Version,
		DurationSeconds:          EffectiveDuration(req.RequestedDurationSeconds, r),
		ApprovalRequired:         r.Approval != nil && len(r.Approval.Stages) > 0,
		Violations:               []api.Violation{},
	}
	add := func(v api.Violation) { ev.Violations = append(ev.Violations, v) }

	if ok, _ := Holds(e, c); !ok {
		add(ruleViolation(RuleNotEligible, "/eligible_role_assignment_id",
			"%s %s is not the principal of eligibility %s (%s %s), nor in that group",
			c.Actor.Type, c.Actor.ID, e.ID, e.PrincipalType, e.PrincipalID))
	}

	start := now
	scheduled := req.StartAt != nil && req.StartAt.After(now)
	if scheduled {
		start = *req.StartAt
		if !r.AllowScheduledStart {
			add(ruleViolation(RuleScheduledStartNotAllowed, "/start_at",
				"the policy does not allow a scheduled start; omit start_at to start when approved"))
		} else if ahead := int64(start.Sub(now) / time.Second); r.MaxScheduleAheadSeconds > 0 && ahead > r.MaxScheduleAheadSeconds {
			add(ruleViolation(RuleMaxScheduleAheadSeconds, "/start_at",
				"start_at is %ds ahead, more than the policy maximum of %ds", ahead, r.MaxScheduleAheadSeconds))
		}
	}

	if st := EligibilityStatus(e, start); st != api.EligibilityActive {
		add(ruleViolation(RuleEligibilityNotActive, "/eligible_role_assignment_id",
			"eligibility %s is %s at %s", e.ID, st, start.UTC().Format(time.RFC3339)))
	} else if end := start.Add(time.Duration(ev.DurationSeconds) * time.Second); e.EndsAt != nil && end.After(*e.EndsAt) {
		add(ruleViolation(RuleEligibilityEndsBefore, "/requested_duration_seconds",
			"the elevation would end at %s, after the eligibility ends at %s",
			end.UTC().Format(time.RFC3339), e.EndsAt.UTC().Format(time.RFC3339)))
	}

	if ev.DurationSeconds > r.MaxActivationSeconds {
		add(ruleViolation(RuleMaxActivationSeconds, "/requested_duration_seconds",
			"requested %ds exceeds the policy maximum of %ds", ev.DurationSeconds, r.MaxActivationSeconds))
	}

	for _, v := range justificationViolations("/justification", req.Justification, r) {
		add(v)
	}

	switch {
	case req.Ticket == nil && r.RequireTicket:
		add(ruleViolation(RuleTicketRequired, "/ticket", "a ticket is required by this policy"))
	case req.Ticket != nil && len(r.TicketSystems) > 0 && !slices.Contains(r.TicketSystems, req.Ticket.System):
		add(ruleViolation(RuleTicketSystemNotAllowed, "/ticket/system",
			"ticket system %q is not one of %s", req.Ticket.System, strings.Join(r.TicketSystems, ", ")))
	}

	if r.RequireMFA {
		switch {
		case c.MFAAt == nil:
			add(ruleViolation(RuleMFARequired, "", "this policy requires a token with MFA; log in again with MFA"))
		case r.MFAMaxAgeSeconds > 0 && now.Sub(*c.MFAAt) > time.Duration(r.MFAMaxAgeSeconds)*time.Second:
			add(ruleViolation(RuleMFAStale, "",
				"MFA from %s is older than the policy maximum of %ds; log in again with MFA",
				c.MFAAt.UTC().Format(time.RFC3339), r.MFAMaxAgeSeconds))
		}
	}

	ev.Allowed = len(ev.Violations) == 0
	return ev
}

// EffectiveDuration applies the policy default to an unspecified duration.
func EffectiveDuration(requested int64, r api.ActivationRules) int64 {
	if requested > 0 {
		return requested
	}
	if r.DefaultActivationSeconds > 0 {
		return r.DefaultActivationSeconds
	}
	return min(int64(api.DefaultActivationSeconds), r.MaxActivationSeconds)
}

func justificationViolations(pointer, justification string, r api.ActivationRules) []api.Violation {
	if !r.RequireJustification {
		return nil
	}
	n := utf8.RuneCountInString(strings.TrimSpace(justification))
	switch {
	case n == 0:
		return []api.Violation{ruleViolation(RuleJustificationRequired, pointer, "a justification is required by this policy")}
	case n < r.JustificationMinLength:
		return []api.Violation{ruleViolation(RuleJustificationTooShort, pointer,
			"justification has %d characters, the policy requires at least %d", n, r.JustificationMinLength)}
	}
	return nil
}

// NeedsStepUp reports whether a failed rule asks for a fresh MFA login. The
// server answers such a request with 401 step_up_required (RFC 9470) rather
// than 422, because no change to the request body can satisfy it.
func NeedsStepUp(vs []api.Violation) bool {
	for _, v := range vs {
		if v.Rule == RuleMFARequired || v.Rule == RuleMFAStale {
			return true
		}
	}
	return false
}
