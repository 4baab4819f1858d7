package pim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// RefusalError is a refusal the HTTP layer maps by Code to a problem (the status
// belongs to the code: self_approval_forbidden and not_an_approver are 403,
// already_decided is 409). Sentinels are compared with errors.Is; errors.As
// recovers the code from a wrapped one.
type RefusalError struct {
	Code    string
	Message string
}

func (e *RefusalError) Error() string { return e.Message }

// Refusals of elevation actions.
var (
	ErrSelfApproval   = &RefusalError{Code: api.CodeSelfApprovalForbidden, Message: "the requester cannot approve or deny their own elevation"}
	ErrNotAnApprover  = &RefusalError{Code: api.CodeNotAnApprover, Message: "the caller is not an approver of the current approval stage"}
	ErrAlreadyDecided = &RefusalError{Code: api.CodeAlreadyDecided, Message: "the caller has already decided on this elevation; an approver acts once per request"}
	ErrNotRequester   = &RefusalError{Code: api.CodeForbidden, Message: "only the requester of an elevation may do this"}
)

// TransitionError refuses an action the elevation's state does not allow; it
// becomes 409 invalid_state_transition with state and allowed_transitions.
type TransitionError struct {
	ElevationID string
	// From is the state at the time of the action, which may already be a
	// time-driven successor of the stored state (see StateAt).
	From    string
	Action  string
	Allowed []string
}

func (e *TransitionError) Error() string {
	allowed := "none, the state is terminal"
	if len(e.Allowed) > 0 {
		allowed = strings.Join(e.Allowed, ", ")
	}
	return fmt.Sprintf("cannot %s elevation %s in state %s (allowed: %s)", e.Action, e.ElevationID, e.From, allowed)
}

// Code is the problem code of the error.
func (e *TransitionError) Code() string { return api.CodeInvalidStateTransition }

// ViolationError carries violations: Code is api.CodePolicyViolation (422) when
// a policy rule refused, api.CodeValidationFailed (400) for a malformed body.
type ViolationError struct {
	Code       string
	Violations []api.Violation
}

func (e *ViolationError) Error() string {
	msgs := make([]string, 0, len(e.Violations))
	for _, v := range e.Violations {
		where := v.Rule
		if where == "" {
			where = v.Pointer
		}
		msgs = append(msgs, where+": "+v.Message)
	}
	return e.Code + ": " + strings.Join(msgs, "; ")
}

// actions lists the client actions each non-terminal state allows; time-driven
// and provisioning transitions are not client actions and are not listed.
var actions = map[string][]string{
	api.StatePendingApproval: {api.ActionApprove, api.ActionDeny, api.ActionWithdraw, api.ActionRevoke},
	api.StateScheduled:       {api.ActionWithdraw, api.ActionRevoke},
	api.StateActivating:      {api.ActionRevoke},
	api.StateActive:          {api.ActionExtend, api.ActionDeactivate, api.ActionRevoke},
}

// AllowedActions lists the client actions allowed in state; empty when terminal.
func AllowedActions(state string) []string {
	return append([]string{}, actions[state]...)
}

// IsTerminal reports whether no transition leaves state.
func IsTerminal(state string) bool {
	_, live := actions[state]
	return !live
}

// StateAt is the state of e at now, applying the time-driven transitions the
// background worker may not have persisted yet. Actions are judged against it,
// so a late worker can never let an approval land after its stage timed out or
// an extension revive an elevation whose time ran out.
func StateAt(e api.Elevation, now time.Time) string {
	switch e.State {
	case api.StatePendingApproval:
		if d, ok := stageDeadline(e); ok && !now.Before(d) {
			return api.StateApprovalExpired
		}
	case api.StateScheduled:
		if e.StartAt != nil && !now.Before(*e.StartAt) {
			return api.StateActivating
		}
	case api.StateActive:
		if e.EndAt != nil && !now.Before(*e.EndAt) {
			return api.StateEnded
		}
	}
	return e.State
}

// NextDeadline is when Tick next has something to do for e, so the worker (or
// the store, as an indexed column) can find due elevations without loading all.
func NextDeadline(e api.Elevation) (time.Time, bool) {
	switch e.State {
	case api.StatePendingApproval:
		return stageDeadline(e)
	case api.StateScheduled:
		if e.StartAt != nil {
			return *e.StartAt, true
		}
	case api.StateActive:
		if e.EndAt != nil {
			return *e.EndAt, true
		}
	}
	return time.Time{}, false
}

func stageDeadline(e api.Elevation) (time.Time, bool) {
	st := currentStage(&e)
	if st == nil || st.ExpiresAt == nil {
		return time.Time{}, false
	}
	return *st.ExpiresAt, true
}

func currentStage(e *api.Elevation) *api.ElevationApprovalStage {
	if e.Approval == nil || e.Approval.CurrentStageIndex < 0 || e.Approval.CurrentStageIndex >= len(e.Approval.Stages) {
		return nil
	}
	return &e.Approval.Stages[e.Approval.CurrentStageIndex]
}

// NewElevationParams is everything a new elevation is built from. The server
// resolves the eligibility (by id or with BestEligibility) and snapshots its
// policy before calling NewElevation.
type NewElevationParams struct {
	ID          string
	Request     api.ElevationRequest
	Eligibility api.EligibleRoleAssignment
	Policy      api.PolicySnapshot
	Identity    Identity
	Now         time.Time
}

// NewElevation evaluates the request and, if the policy allows it, returns the
// new elevation in pending_approval, scheduled or activating. A refusal is a
// *ViolationError with code policy_violation (check NeedsStepUp for MFA). The
// evaluation is returned either way, for validate_only and for audit.
func NewElevation(p NewElevationParams) (api.Elevation, api.PolicyEvaluation, error) {
	now := p.Now.UTC()
	ev := Evaluate(p.Request, p.Eligibility, p.Policy, p.Identity, now)
	if !ev.Allowed {
		return api.Elevation{}, ev, &ViolationError{Code: api.CodePolicyViolation, Violations: ev.Violations}
	}
	actor := p.Identity.Actor
	e := api.Elevation{
		Meta: api.Meta{
			ID: p.ID, Version: 1,
			CreatedAt: now, CreatedBy: actor,
			UpdatedAt: now, UpdatedBy: actor,
		},
		State:                    api.StatePendingApproval,
		EligibleRoleAssignmentID: p.Eligibility.ID,
		PrincipalType:            actor.Type,
		PrincipalID:              actor.ID,
		RoleID:                   p.Eligibility.RoleID,
		Scope:                    p.Eligibility.Scope,
		Source:                   api.SourceSelfActivation,
		RequestedBy:              actor,
		RequestedDurationSeconds: ev.DurationSeconds,
		Justification:            p.Request.Justification,
		Ticket:                   cloneTicket(p.Request.Ticket),
		MFA:                      &api.ElevationMFA{Satisfied: p.Identity.MFAAt != nil, VerifiedAt: utcPtr(p.Identity.MFAAt)},
		Extensions:               []api.Extension{},
		PolicySnapshot:           p.Policy,
	}
	if p.Request.StartAt != nil && p.Request.StartAt.After(now) {
		e.RequestedStartAt = utcPtr(p.Request.StartAt)
	}
	record(&e, api.EventRequested, now, &actor, p.Request.Justification, nil)

	if ev.ApprovalRequired {
		stages := p.Policy.Approval.Stages
		e.Approval = &api.ElevationApproval{Stages: make([]api.ElevationApprovalStage, len(stages))}
		for i, s := range stages {
			e.Approval.Stages[i] = api.ElevationApprovalStage{
				Index: i, State: api.StageWaiting, ApprovalsNeeded: s.ApprovalsNeeded,
				Approvers: append([]api.Principal{}, s.Approvers...), TimeoutSeconds: s.TimeoutSeconds,
				Decisions: []api.ApprovalDecision{},
			}
		}
		openStage(&e, 0, now)
		return e, ev, nil
	}
	approved(&e, now)
	return e, ev, nil
}

func openStage(e *api.Elevation, i int, now time.Time) {
	st := &e.Approval.Stages[i]
	timeout := st.TimeoutSeconds
	if timeout <= 0 {
		timeout = api.DefaultApprovalTimeoutSeconds
	}
	exp := now.Add(time.Duration(timeout) * time.Second)
	e.Approval.CurrentStageIndex = i
	st.State = api.StagePending
	st.StartedAt, st.ExpiresAt = &now, &exp
}

// approved moves a fully approved (or approval-free) elevation on: to
// scheduled when its requested start is still ahead, else to activating.
func approved(e *api.Elevation, now time.Time) {
	if e.RequestedStartAt != nil && e.RequestedStartAt.After(now) {
		start := *e.RequestedStartAt
		end := start.Add(time.Duration(e.RequestedDurationSeconds) * time.Second)
		e.State, e.StartAt, e.EndAt = api.StateScheduled, &start, &end
		record(e, api.EventScheduled, now, nil, "", nil)
		return
	}
	e.State = api.StateActivating
	record(e, api.EventActivationStarted, now, nil, "", nil)
}

func record(e *api.Elevation, event string, at time.Time, actor *api.Actor, reason string, stage *int) {
	var a *api.Actor
	if actor != nil {
		c := *actor
		a = &c
	}
	e.Timeline = append(e.Timeline, api.TimelineEvent{Event: event, At: at, Actor: a, Reason: reason, StageIndex: stage})
}

func refuse(e api.Elevation, action string, now time.Time) *TransitionError {
	from := StateAt(e, now)
	return &TransitionError{ElevationID: e.ID, From: from, Action: action, Allowed: AllowedActions(from)}
}

// allows reports whether action is legal at now and, if not, the error to return.
func allows(e api.Elevation, action string, now time.Time) error {
	if slices.Contains(actions[StateAt(e, now)], action) {
		return nil
	}
	return refuse(e, action, now)
}

// CanDecide checks that c may approve or deny e now, and returns the approver
// group that qualifies c ("" when named directly). The approvals inbox uses it
// too, so the inbox never offers a request the caller cannot decide.
func CanDecide(e api.Elevation, c Identity, now time.Time) (viaGroup string, err error) {
	return canDecide(e, c, api.ActionApprove, now)
}

func canDecide(e api.Elevation, c Identity, action string, now time.Time) (string, error) {
	if err := allows(e, action, now); err != nil {
		return "", err
	}
	// Checked before membership so that a requester in an approver group learns
	// the real reason rather than a misleading "not an approver".
	if c.Actor == e.RequestedBy {
		return "", ErrSelfApproval
	}
	for _, st := range e.Approval.Stages {
		for _, d := range st.Decisions {
			if d.Approver == c.Actor {
				return "", ErrAlreadyDecided
			}
		}
	}
	st := currentStage(&e)
	if st == nil {
		return "", ErrNotAnApprover
	}
	for _, ap := range st.Approvers {
		if ap.Type == c.Actor.Type && ap.ID == c.Actor.ID {
			return "", nil
		}
	}
	for _, ap := range st.Approvers {
		if ap.Type == api.PrincipalTypeGroup && slices.Contains(c.Groups, ap.ID) {
			return ap.ID, nil
		}
	}
	return "", fmt.Errorf("%w: stage %d approvers are %s", ErrNotAnApprover, st.Index, describePrincipals(st.Approvers))
}

func describePrincipals(ps []api.Principal) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Type + ":" + p.ID
	}
	return strings.Join(parts, ", ")
}

func checkApproverReason(e api.Elevation, reason string) error {
	if a := e.PolicySnapshot.Approval; a != nil && a.RequireApproverJustification && strings.TrimSpace(reason) == "" {
		return &ViolationError{Code: api.CodeValidationFailed, Violations: []api.Violation{
			fieldViolation("/reason", CodeRequired, "the policy requires approvers to give a reason"),
		}}
	}
	return nil
}

// Approve records c's approval in the current stage. When the stage has its
// approvals_needed distinct approvals, the next stage opens; after the last
// stage the elevation is scheduled or starts activating. On error e is unchanged.
func Approve(e *api.Elevation, c Identity, reason string, now time.Time) error {
	now = now.UTC()
	via, err := canDecide(*e, c, api.ActionApprove, now)
	if err != nil {
		return err
	}
	if err := checkApproverReason(*e, reason); err != nil {
		return err
	}
	st := currentStage(e)
	idx := st.Index
	st.Decisions = append(st.Decisions, api.ApprovalDecision{
		StageIndex: idx, Approver: c.Actor, Decision: api.DecisionApproved, Reason: reason, ViaGroupID: via, DecidedAt: now,
	})
	record(e, api.EventApproved, now, &c.Actor, reason, &idx)
	if countApprovals(st) < st.ApprovalsNeeded {
		return nil
	}
	st.State = api.StageApproved
	if idx+1 < len(e.Approval.Stages) {
		openStage(e, idx+1, now)
		return nil
	}
	approved(e, now)
	return nil
}

func countApprovals(st *api.ElevationApprovalStage) int {
	n := 0
	for _, d := range st.Decisions {
		if d.Decision == api.DecisionApproved {
			n++
		}
	}
	return n
}

// Deny records c's denial; one denial at any stage denies the whole request.
func Deny(e *api.Elevation, c Identity, reason string, now time.Time) error {
	now = now.UTC()
	via, err := canDecide(*e, c, api.ActionDeny, now)
	if err != nil {
		return err
	}
	if err := checkApproverReason(*e, reason); err != nil {
		return err
	}
	st := currentStage(e)
	idx := st.Index
	st.Decisions = append(st.Decisions, api.ApprovalDecision{
		StageIndex: idx, Approver: c.Actor, Decision: api.DecisionDenied, Reason: reason, ViaGroupID: via, DecidedAt: now,
	})
	st.State = api.StageDenied
	e.State, e.EndedAt = api.StateDenied, &now
	record(e, api.EventDenied, now, &c.Actor, reason, &idx)
	return nil
}

func requesterAction(e api.Elevation, c Identity, action string, now time.Time) error {
	if err := allows(e, action, now); err != nil {
		return err
	}
	if c.Actor != e.RequestedBy {
		return fmt.Errorf("%w: %s %s requested elevation %s", ErrNotRequester, e.RequestedBy.Type, e.RequestedBy.ID, e.ID)
	}
	return nil
}

// Withdraw lets the requester cancel an elevation that has not started.
func Withdraw(e *api.Elevation, c Identity, reason string, now time.Time) error {
	now = now.UTC()
	if err := requesterAction(*e, c, api.ActionWithdraw, now); err != nil {
		return err
	}
	e.State, e.EndedAt = api.StateWithdrawn, &now
	record(e, api.EventWithdrawn, now, &c.Actor, reason, nil)
	return nil
}

// Deactivate lets the requester give up an active elevation early.
func Deactivate(e *api.Elevation, c Identity, reason string, now time.Time) error {
	now = now.UTC()
	if err := requesterAction(*e, c, api.ActionDeactivate, now); err != nil {
		return err
	}
	e.State, e.EndedAt, e.EndReason = api.StateDeactivated, &now, api.EndReasonDeactivatedByRequester
	record(e, api.EventDeactivated, now, &c.Actor, reason, nil)
	return nil
}

// Revoke ends any live elevation. Who may revoke (admin, security) is a
// server-role decision the server makes before calling it.
func Revoke(e *api.Elevation, by api.Actor, reason string, now time.Time) error {
	now = now.UTC()
	if err := allows(*e, api.ActionRevoke, now); err != nil {
		return err
	}
	e.State, e.EndedAt, e.EndReason = api.StateRevoked, &now, api.EndReasonRevokedByAdmin
	record(e, api.EventRevoked, now, &by, reason, nil)
	return nil
}

// Extend lengthens an active elevation by req.AdditionalSeconds (0 means the
// policy default), within the snapshot's extension rules and never past
// eligibilityEndsAt (nil for a permanent eligibility). Policy refusals are a
// *ViolationError with code policy_violation.
func Extend(e *api.Elevation, c Identity, req api.ElevationExtendRequest, eligibilityEndsAt *time.Time, now time.Time) error {
	now = now.UTC()
	if err := requesterAction(*e, c, api.ActionExtend, now); err != nil {
		return err
	}
	if req.AdditionalSeconds < 0 {
		return &ViolationError{Code: api.CodeValidationFailed, Violations: []api.Violation{
			fieldViolation("/additional_seconds", CodeRange, "must be positive, or 0 for the policy default; got %d", req.AdditionalSeconds),
		}}
	}
	if e.StartAt == nil || e.EndAt == nil {
		return refuse(*e, api.ActionExtend, now)
	}
	r := e.PolicySnapshot.ActivationRules
	add := EffectiveDuration(req.AdditionalSeconds, r)
	var vs []api.Violation
	if !r.AllowExtension {
		vs = append(vs, ruleViolation(RuleExtensionNotAllowed, "", "the activation policy does not allow extensions"))
	} else {
		if len(e.Extensions) >= r.MaxExtensions {
			vs = append(vs, ruleViolation(RuleMaxExtensions, "",
				"the elevation has been extended %d times, the policy allows %d", len(e.Extensions), r.MaxExtensions))
		}
		if add > r.MaxActivationSeconds {
			vs = append(vs, ruleViolation(RuleMaxActivationSeconds, "/additional_seconds",
				"an extension of %ds exceeds the policy maximum of %ds", add, r.MaxActivationSeconds))
		}
		newEnd := e.EndAt.Add(time.Duration(add) * time.Second)
		if total := int64(newEnd.Sub(*e.StartAt) / time.Second); r.MaxTotalActivationSeconds > 0 && total > r.MaxTotalActivationSeconds {
			vs = append(vs, ruleViolation(RuleMaxTotalActivationSeconds, "/additional_seconds",
				"the elevation would last %ds in total, the policy allows %ds", total, r.MaxTotalActivationSeconds))
		}
		if eligibilityEndsAt != nil && newEnd.After(*eligibilityEndsAt) {
			vs = append(vs, ruleViolation(RuleEligibilityEndsBefore, "/additional_seconds",
				"the elevation would end at %s, after the eligibility ends at %s",
				newEnd.UTC().Format(time.RFC3339), eligibilityEndsAt.UTC().Format(time.RFC3339)))
		}
		vs = append(vs, justificationViolations("/justification", req.Justification, r)...)
	}
	if len(vs) > 0 {
		return &ViolationError{Code: api.CodePolicyViolation, Violations: vs}
	}
	end := e.EndAt.Add(time.Duration(add) * time.Second)
	e.EndAt = &end
	e.Extensions = append(e.Extensions, api.Extension{AdditionalSeconds: add, Justification: req.Justification, By: c.Actor, At: now})
	record(e, api.EventExtended, now, &c.Actor, req.Justification, nil)
	return nil
}

// MarkActive records that provisioning granted the role: the access window
// starts now, so time spent waiting for approval or provisioning is not lost.
func MarkActive(e *api.Elevation, now time.Time) error {
	now = now.UTC()
	if StateAt(*e, now) != api.StateActivating {
		return refuse(*e, "activate", now)
	}
	end := now.Add(time.Duration(e.RequestedDurationSeconds) * time.Second)
	e.State, e.StartAt, e.EndAt = api.StateActive, &now, &end
	record(e, api.EventActivated, now, nil, "", nil)
	return nil
}

// MarkActivationFailed records that provisioning gave up.
func MarkActivationFailed(e *api.Elevation, cause string, now time.Time) error {
	now = now.UTC()
	if StateAt(*e, now) != api.StateActivating {
		return refuse(*e, "fail_activation", now)
	}
	e.State, e.EndedAt, e.EndReason, e.ActivationError = api.StateActivationFailed, &now, api.EndReasonProvisioningFailed, cause
	e.Timeline = append(e.Timeline, api.TimelineEvent{Event: api.EventActivationFailed, At: now, Error: cause})
	return nil
}

// EndForEligibility ends a live elevation because its eligibility went away
// (reason is api.EndReasonEligibilityDeleted or EndReasonEligibilityExpired):
// one that never started is withdrawn, one that did is revoked. It reports
// whether e changed; a terminal elevation is left alone.
func EndForEligibility(e *api.Elevation, by *api.Actor, reason string, now time.Time) bool {
	now = now.UTC()
	Tick(e, now)
	switch e.State {
	case api.StatePendingApproval, api.StateScheduled:
		e.State, e.EndedAt, e.EndReason = api.StateWithdrawn, &now, reason
		record(e, api.EventWithdrawn, now, by, reason, nil)
	case api.StateActivating, api.StateActive:
		e.State, e.EndedAt, e.EndReason = api.StateRevoked, &now, reason
		record(e, api.EventRevoked, now, by, reason, nil)
	default:
		return false
	}
	return true
}

// Tick applies the time-driven transitions due at now: a stage past its
// timeout expires the request, a scheduled start that arrived begins
// activation, an active elevation past end_at ends. Each is recorded at the
// moment it was due, not when the worker noticed, so the timeline is exact
// however late the worker runs. It reports whether e changed.
func Tick(e *api.Elevation, now time.Time) bool {
	now = now.UTC()
	changed := false
	for {
		switch {
		case e.State == api.StatePendingApproval && StateAt(*e, now) == api.StateApprovalExpired:
			st := currentStage(e)
			at := *st.ExpiresAt
			idx := st.Index
			st.State = api.StageExpired
			e.State, e.EndedAt = api.StateApprovalExpired, &at
			record(e, api.EventApprovalExpired, at, nil, fmt.Sprintf("approval stage %d timed out", idx), &idx)
		case e.State == api.StateScheduled && StateAt(*e, now) == api.StateActivating:
			e.State = api.StateActivating
			record(e, api.EventActivationStarted, *e.StartAt, nil, "", nil)
		case e.State == api.StateActive && StateAt(*e, now) == api.StateEnded:
			at := *e.EndAt
			e.State, e.EndedAt, e.EndReason = api.StateEnded, &at, api.EndReasonDurationElapsed
			record(e, api.EventEnded, at, nil, "", nil)
		default:
			return changed
		}
		changed = true
	}
}

// ActiveElevationOf projects e for /v1/active_elevations; ok is false unless e
// is active at now.
func ActiveElevationOf(e api.Elevation, now time.Time) (api.ActiveElevation, bool) {
	if StateAt(e, now) != api.StateActive || e.StartAt == nil || e.EndAt == nil {
		return api.ActiveElevation{}, false
	}
	approvals := []api.ApprovalDecision{}
	if e.Approval != nil {
		for _, st := range e.Approval.Stages {
			for _, d := range st.Decisions {
				if d.Decision == api.DecisionApproved {
					approvals = append(approvals, d)
				}
			}
		}
	}
	return api.ActiveElevation{
		ID:                       e.ID,
		PrincipalType:            e.PrincipalType,
		PrincipalID:              e.PrincipalID,
		RoleID:                   e.RoleID,
		Scope:                    e.Scope,
		EligibleRoleAssignmentID: e.EligibleRoleAssignmentID,
		Source:                   e.Source,
		StartAt:                  *e.StartAt,
		EndAt:                    *e.EndAt,
		RemainingSeconds:         int64(e.EndAt.Sub(now) / time.Second),
		Justification:            e.Justification,
		Ticket:                   cloneTicket(e.Ticket),
		RequestedBy:              e.RequestedBy,
		Approvals:                approvals,
		Extended:                 len(e.Extensions) > 0,
	}, true
}

func cloneTicket(t *api.Ticket) *api.Ticket {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
