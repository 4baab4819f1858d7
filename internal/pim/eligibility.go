package pim

import (
	"slices"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Policy rules of eligible role assignments.
const (
	RulePermanentEligibilityNotAllowed = "permanent_eligibility_not_allowed"
	RuleMaxEligibilitySeconds          = "max_eligibility_seconds"
)

// ValidateEligibilityInput checks the fields of an eligible role assignment that
// need nothing but the request itself, so the provider can run them at plan time.
func ValidateEligibilityInput(in api.EligibleRoleAssignmentInput) []api.Violation {
	var vs []api.Violation
	vs = append(vs, checkPrincipal("/principal_type", "/principal_id", in.PrincipalType, in.PrincipalID)...)
	if strings.TrimSpace(in.RoleID) == "" {
		vs = append(vs, fieldViolation("/role_id", CodeRequired, "is required"))
	}
	switch {
	case in.Scope == "":
		vs = append(vs, fieldViolation("/scope", CodeRequired, "is required"))
	case !api.ScopePattern.MatchString(in.Scope):
		vs = append(vs, fieldViolation("/scope", CodePattern, "%q is not valid: %s", in.Scope, api.ScopeRule))
	}
	if strings.TrimSpace(in.ActivationPolicyID) == "" {
		vs = append(vs, fieldViolation("/activation_policy_id", CodeRequired, "is required"))
	}
	if in.StartsAt != nil && in.EndsAt != nil && !in.EndsAt.After(*in.StartsAt) {
		vs = append(vs, fieldViolation("/ends_at", CodeRange, "must be after starts_at (%s), got %s",
			in.StartsAt.UTC().Format(time.RFC3339), in.EndsAt.UTC().Format(time.RFC3339)))
	}
	if len(in.Justification) > api.MaxJustificationLength {
		vs = append(vs, fieldViolation("/justification", CodeTooLong, "must be at most %d characters", api.MaxJustificationLength))
	}
	vs = append(vs, checkTicket("/ticket", in.Ticket)...)
	vs = append(vs, checkLabels(in.Labels)...)
	return vs
}

// ValidateEligibility is ValidateEligibilityInput plus the checks that need the
// role and the policy: the scope must lie within one of the role's assignable
// scopes (empty means "/"), and the window must satisfy the policy's
// eligibility constraints. now stands in for a nil starts_at; for an update,
// pass the assignment's creation time so that its window does not drift.
func ValidateEligibility(in api.EligibleRoleAssignmentInput, assignableScopes []string, c api.EligibilityConstraints, now time.Time) []api.Violation {
	vs := ValidateEligibilityInput(in)
	if api.ScopePattern.MatchString(in.Scope) && !scopeAssignable(in.Scope, assignableScopes) {
		scopes := assignableScopes
		if len(scopes) == 0 {
			scopes = []string{"/"}
		}
		vs = append(vs, fieldViolation("/scope", "scope_not_assignable",
			"role %s is not assignable at %q; its assignable scopes are %s", in.RoleID, in.Scope, strings.Join(scopes, ", ")))
	}
	start := now
	if in.StartsAt != nil {
		start = *in.StartsAt
	}
	switch {
	case in.EndsAt == nil && !c.AllowPermanent:
		vs = append(vs, ruleViolation(RulePermanentEligibilityNotAllowed, "/ends_at",
			"the activation policy does not allow permanent eligibility; set ends_at"))
	case in.EndsAt != nil && c.MaxEligibilitySeconds > 0:
		if length := int64(in.EndsAt.Sub(start) / time.Second); length > c.MaxEligibilitySeconds {
			vs = append(vs, ruleViolation(RuleMaxEligibilitySeconds, "/ends_at",
				"eligibility window of %ds exceeds the policy maximum of %ds", length, c.MaxEligibilitySeconds))
		}
	}
	return vs
}

func scopeAssignable(scope string, assignable []string) bool {
	if len(assignable) == 0 {
		return true
	}
	for _, parent := range assignable {
		if api.ScopeContains(parent, scope) {
			return true
		}
	}
	return false
}

// NormalizeEligibilityInput returns the stored form of a valid input: times in
// UTC whole seconds (what RFC 3339 without fractions can round-trip) and labels
// never nil.
func NormalizeEligibilityInput(in api.EligibleRoleAssignmentInput) api.EligibleRoleAssignmentInput {
	out := in
	out.StartsAt = secondsUTC(in.StartsAt)
	out.EndsAt = secondsUTC(in.EndsAt)
	out.Ticket = cloneTicket(in.Ticket)
	out.Labels = cloneLabels(in.Labels)
	return out
}

func secondsUTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

// EligibilityStatus derives the status from the window: it is never stored, so
// an assignment cannot disagree with the clock.
func EligibilityStatus(e api.EligibleRoleAssignment, now time.Time) string {
	return windowStatus(e.StartsAt, e.EndsAt, now)
}

func windowStatus(starts, ends *time.Time, now time.Time) string {
	switch {
	case starts != nil && now.Before(*starts):
		return api.EligibilityScheduled
	case ends != nil && !now.Before(*ends):
		return api.EligibilityExpired
	default:
		return api.EligibilityActive
	}
}

// Holds reports whether the caller is the eligibility's principal, directly or
// through one of their groups; via names the group in the second case.
func Holds(e api.EligibleRoleAssignment, c Identity) (ok bool, via string) {
	switch e.PrincipalType {
	case api.PrincipalTypeGroup:
		if slices.Contains(c.Groups, e.PrincipalID) {
			return true, e.PrincipalID
		}
		return false, ""
	default:
		return e.PrincipalType == c.Actor.Type && e.PrincipalID == c.Actor.ID, ""
	}
}

// BestEligibility picks the eligibility a request by role and scope uses. Only
// exact scope matches count: activating a broader eligibility for a narrower
// scope would grant more than was asked. Among matches an active one wins,
// then a direct one over a group-derived one, then the lowest id for stability.
func BestEligibility(candidates []api.EligibleRoleAssignment, c Identity, roleID, scope string, now time.Time) (api.EligibleRoleAssignment, bool) {
	var best api.EligibleRoleAssignment
	bestRank := -1
	for _, e := range candidates {
		if e.RoleID != roleID || e.Scope != scope {
			continue
		}
		ok, via := Holds(e, c)
		if !ok {
			continue
		}
		rank := 0
		if EligibilityStatus(e, now) == api.EligibilityActive {
			rank += 2
		}
		if via == "" {
			rank++
		}
		if rank > bestRank || (rank == bestRank && e.ID < best.ID) {
			best, bestRank = e, rank
		}
	}
	return best, bestRank >= 0
}
