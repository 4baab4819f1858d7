package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Provisioner is the seam where an elevation takes effect outside pamd. It is
// called inside the transaction that moves an elevation (tx), so it must only
// record work in tx (an outbox row), never block on the network.
// WebhookProvisioner (provisioning.go) is the webhook implementation;
// SyncProvisioner grants synchronously.
type Provisioner interface {
	// Activate starts granting e's role. granted=true completes the
	// activation at once (pim.MarkActive); false leaves e activating until
	// the dispatcher reports back; an error fails the activation
	// (pim.MarkActivationFailed) with the error text.
	Activate(ctx context.Context, tx store.Tx, e api.Elevation) (granted bool, err error)
	// Deactivate is told that e left activating or active for good (ended,
	// revoked, deactivated, withdrawn by an eligibility deletion).
	Deactivate(ctx context.Context, tx store.Tx, e api.Elevation) error
}

// SyncProvisioner has no targets: every activation completes immediately.
type SyncProvisioner struct{}

// Activate grants at once.
func (SyncProvisioner) Activate(context.Context, store.Tx, api.Elevation) (bool, error) {
	return true, nil
}

// Deactivate has nothing to undo.
func (SyncProvisioner) Deactivate(context.Context, store.Tx, api.Elevation) error { return nil }

// auditActions maps timeline events to audit actions (elevation.<action>).
var auditActions = map[string]string{
	api.EventRequested: "requested", api.EventApproved: "approved", api.EventDenied: "denied",
	api.EventScheduled: "scheduled", api.EventActivationStarted: "activation_started",
	api.EventActivated: "activated", api.EventActivationFailed: "activation_failed",
	api.EventExtended: "extended", api.EventDeactivated: "deactivated", api.EventRevoked: "revoked",
	api.EventEnded: "expired", api.EventApprovalExpired: "approval_expired", api.EventWithdrawn: "withdrawn",
}

func auditAction(ev api.TimelineEvent) string {
	if (ev.Event == api.EventWithdrawn || ev.Event == api.EventRevoked) &&
		(ev.Reason == api.EndReasonEligibilityDeleted || ev.Reason == api.EndReasonEligibilityExpired) {
		return "elevation.ended"
	}
	if a, ok := auditActions[ev.Event]; ok {
		return "elevation." + a
	}
	return "elevation." + ev.Event
}

// settle runs the activation step on an elevation that reached activating.
func (s *Service) settle(ctx context.Context, tx store.Tx, e *api.Elevation, now time.Time) error {
	if e.State != api.StateActivating {
		return nil
	}
	granted, err := s.provisioner().Activate(ctx, tx, *e)
	if serr, ok := asStoreError(err); ok {
		return serr // the store failed, not the activation: roll back
	}
	switch {
	case err != nil:
		return pim.MarkActivationFailed(e, err.Error(), now)
	case granted:
		return pim.MarkActive(e, now)
	}
	return nil
}

func (s *Service) provisioner() Provisioner {
	if s.Provisioner == nil {
		return SyncProvisioner{}
	}
	return s.Provisioner
}

// saveElevation persists after (one version step from before) and appends one
// audit event per new timeline entry. A nil caller means the worker.
func (s *Service) saveElevation(ctx context.Context, tx store.Tx, c *Caller, before api.Elevation, after *api.Elevation, now time.Time) error {
	wasLive := before.State == api.StateActive || before.State == api.StateActivating
	if wasLive && pim.IsTerminal(after.State) {
		if err := s.provisioner().Deactivate(ctx, tx, *after); err != nil {
			return err
		}
	}
	after.Version = before.Version + 1
	after.UpdatedAt = now
	if c != nil {
		after.UpdatedBy = c.Principal.Actor()
	} else {
		after.UpdatedBy = api.Actor{Type: "system", ID: "pamd"}
	}
	if err := tx.UpdateElevation(*after, before.Version); err != nil {
		return err
	}
	return s.auditTimeline(tx, c, before, *after, len(before.Timeline))
}

func (s *Service) auditTimeline(tx store.Tx, c *Caller, before, after api.Elevation, from int) error {
	var b any
	if before.ID != "" {
		b = before
	}
	for _, ev := range after.Timeline[from:] {
		who := c
		if ev.Actor == nil {
			who = nil // time-driven: the system acted
		}
		if err := s.recordAny(tx, who, auditAction(ev), elevationKind, after.ID, b, after, before.Version, after.Version); err != nil {
			return err
		}
	}
	return nil
}

// CreateElevationResult is the outcome of RequestElevation: exactly one of
// Elevation (Created tells 201 from a return_existing 200) or Evaluation
// (validate_only) is set.
type CreateElevationResult struct {
	Elevation  *api.Elevation
	Created    bool
	Evaluation *api.PolicyEvaluation
}

// RequestElevation creates an elevation for the caller (server role requester
// or admin) on an eligibility they hold.
func (s *Service) RequestElevation(ctx context.Context, c Caller, req api.ElevationRequest) (CreateElevationResult, error) {
	var res CreateElevationResult
	if !c.Principal.HasAnyRole(elevationRequesters...) {
		if req.ValidateOnly {
			return res, api.NewProblem(http.StatusForbidden, api.CodeForbidden, "requesting an elevation requires server role requester or admin")
		}
		return res, s.deniedFor(ctx, c, "elevation.requested", elevationKind, "", elevationRequesters)
	}
	if vs := pim.ValidateElevationRequest(req); len(vs) > 0 {
		return res, api.ValidationProblem(fmt.Sprintf("%d field(s) are not valid", len(vs)), vs...)
	}
	now := s.now()
	id := c.identity()
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		elig, err := s.resolveEligibility(tx, req, id, now)
		if err != nil {
			return err
		}
		pol, err := tx.GetActivationPolicy(elig.ActivationPolicyID)
		if err != nil {
			return err
		}
		snap := pim.Snapshot(pol)
		if req.ValidateOnly {
			ev := pim.Evaluate(req, elig, snap, id, now)
			res.Evaluation = &ev
			return errValidateOnly
		}
		existing, err := tx.ListElevations(store.ElevationFilter{EligibilityID: elig.ID, PrincipalType: id.Actor.Type,
			PrincipalID: id.Actor.ID, States: liveStates, Limit: 1})
		if err != nil {
			return err
		}
		if len(existing) > 0 && !pim.IsTerminal(pim.StateAt(existing[0], now)) {
			if req.IfExists == api.IfExistsReturnExisting {
				res.Elevation = &existing[0]
				return nil
			}
			p := api.NewProblem(http.StatusConflict, api.CodeAlreadyExists, fmt.Sprintf(
				"you already have elevation %s (%s) on eligibility %s; send if_exists=return_existing to get it", existing[0].ID, existing[0].State, elig.ID))
			p.ExistingID = existing[0].ID
			return p
		}
		e, ev, err := pim.NewElevation(pim.NewElevationParams{ID: ids.New(api.PrefixElevation, now), Request: req,
			Eligibility: elig, Policy: snap, Identity: id, Now: now})
		if err != nil {
			return elevationRefusal(ev, snap)
		}
		if err := s.settle(ctx, tx, &e, now); err != nil {
			return err
		}
		if err := tx.InsertElevation(e); err != nil {
			return err
		}
		res.Elevation, res.Created = &e, true
		return s.auditTimeline(tx, &c, api.Elevation{}, e, 0)
	})
	if errors.Is(err, errValidateOnly) {
		return res, nil
	}
	return res, err
}

// elevationRefusal is 401 step_up_required when only MFA rules failed (no
// change to the body could help), else 422 policy_violation.
func elevationRefusal(ev api.PolicyEvaluation, snap api.PolicySnapshot) error {
	onlyMFA := true
	for _, v := range ev.Violations {
		if !pim.NeedsStepUp([]api.Violation{v}) {
			onlyMFA = false
		}
	}
	if onlyMFA && pim.NeedsStepUp(ev.Violations) {
		p := api.NewProblem(http.StatusUnauthorized, api.CodeStepUpRequired,
			"this activation policy requires a recent MFA: log in again with MFA (pamd login --mfa) and retry")
		p.Violations = ev.Violations
		if snap.MFAMaxAgeSeconds > 0 {
			age := snap.MFAMaxAgeSeconds
			p.MFAMaxAgeSeconds = &age
		}
		return p
	}
	p := api.NewProblem(http.StatusUnprocessableEntity, api.CodePolicyViolation,
		fmt.Sprintf("%d policy rule(s) failed for the elevation request", len(ev.Violations)))
	p.Violations = ev.Violations
	return p
}

func (s *Service) resolveEligibility(tx store.Tx, req api.ElevationRequest, id pim.Identity, now time.Time) (api.EligibleRoleAssignment, error) {
	if req.EligibleRoleAssignmentID != "" {
		e, err := tx.GetEligibility(req.EligibleRoleAssignmentID, now)
		if isNotFound(err) {
			return e, api.ValidationProblem("the eligibility does not exist", api.Violation{Pointer: "/eligible_role_assignment_id",
				Code: "not_found", Message: fmt.Sprintf("eligible role assignment %q does not exist", req.EligibleRoleAssignmentID)})
		}
		return e, err
	}
	cands, err := tx.ListEligibilities(store.EligibilityFilter{RoleID: req.RoleID, Scope: req.Scope, Now: now, Limit: 1000})
	if err != nil {
		return api.EligibleRoleAssignment{}, err
	}
	e, ok := pim.BestEligibility(cands, id, req.RoleID, req.Scope, now)
	if !ok {
		p := api.NewProblem(http.StatusUnprocessableEntity, api.CodeNoMatchingEligibility, fmt.Sprintf(
			"%s %s holds no eligibility for role %s at exactly %s, directly or through a group", id.Actor.Type, id.Actor.ID, req.RoleID, req.Scope))
		p.Violations = []api.Violation{{Pointer: "/role_id", Code: api.CodeNoMatchingEligibility, Message: "no eligibility of the caller for this role and scope"}}
		return e, p
	}
	return e, nil
}

// canSee is the read rule of elevations: admin, security and auditor see all;
// others see those they requested and those naming them (or one of their
// groups) as an approver or decider.
func canSee(e api.Elevation, c Caller) bool {
	if c.Principal.HasAnyRole(elevationReaders...) {
		return true
	}
	me := c.Principal.Actor()
	if e.RequestedBy == me || (e.PrincipalType == me.Type && e.PrincipalID == me.ID) {
		return true
	}
	if e.Approval == nil {
		return false
	}
	for _, st := range e.Approval.Stages {
		for _, ap := range st.Approvers {
			if (ap.Type == me.Type && ap.ID == me.ID) || (ap.Type == api.PrincipalTypeGroup && slices.Contains(c.Principal.Groups, ap.ID)) {
				return true
			}
		}
		for _, d := range st.Decisions {
			if d.Approver == me {
				return true
			}
		}
	}
	return false
}

// GetElevation reads one elevation the caller may see (404 before 403).
func (s *Service) GetElevation(ctx context.Context, c Caller, id string) (api.Elevation, error) {
	var e api.Elevation
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		e, err = tx.GetElevation(id)
		return err
	})
	if isNotFound(err) {
		return e, notFound("elevation", id)
	}
	if err != nil {
		return e, err
	}
	if !canSee(e, c) {
		// Reads are refused and audited like writes: probing for other
		// people's elevations is worth knowing about.
		if err := s.auditDenied(ctx, c, "elevation.read", elevationKind, id); err != nil {
			return api.Elevation{}, err
		}
		return api.Elevation{}, api.NewProblem(http.StatusForbidden, api.CodeForbidden,
			"only the requester, the approvers and server roles admin, security or auditor may read this elevation")
	}
	return e, nil
}

// ListElevations returns up to f.Limit elevations the caller may see, after
// f.AfterID; keep filters the rows further (for awaiting_my_approval) and is
// applied before the limit, scanning on until the page is full.
func (s *Service) ListElevations(ctx context.Context, c Caller, f store.ElevationFilter, keep func(api.Elevation) bool) ([]api.Elevation, error) {
	if !c.Principal.HasAnyRole(elevationReaders...) {
		f.VisibleTo = &store.Party{Actor: c.Principal.Actor(), Groups: c.Principal.Groups}
	}
	want := f.Limit
	out := []api.Elevation{}
	err := s.Store.View(ctx, func(tx store.Tx) error {
		for {
			batch, err := tx.ListElevations(f)
			if err != nil {
				return err
			}
			for _, e := range batch {
				if keep == nil || keep(e) {
					out = append(out, e)
					if len(out) == want {
						return nil
					}
				}
			}
			if len(batch) < f.Limit {
				return nil
			}
			f.AfterID = batch[len(batch)-1].ID
		}
	})
	return out, err
}

// AwaitingDecision reports whether the caller can approve or deny e now.
func (s *Service) AwaitingDecision(c Caller) func(api.Elevation) bool {
	now := s.Clock.Now()
	return func(e api.Elevation) bool {
		if !c.Principal.HasAnyRole(elevationDeciders...) {
			return false
		}
		_, err := pim.CanDecide(e, c.identity(), now)
		return err == nil
	}
}

// ActiveElevations lists the active projection: state active and end_at after now.
func (s *Service) ActiveElevations(ctx context.Context, f store.ElevationFilter) ([]api.ActiveElevation, error) {
	now := s.Clock.Now()
	f.States, f.EndAfter = []string{api.StateActive}, &now
	var elevs []api.Elevation
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		elevs, err = tx.ListElevations(f)
		return err
	})
	out := make([]api.ActiveElevation, 0, len(elevs))
	for _, e := range elevs {
		if a, ok := pim.ActiveElevationOf(e, now); ok {
			out = append(out, a)
		}
	}
	return out, err
}

// GetActiveElevation reads one active elevation (404 unless active now).
func (s *Service) GetActiveElevation(ctx context.Context, id string) (api.ActiveElevation, error) {
	var e api.Elevation
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		e, err = tx.GetElevation(id)
		return err
	})
	if isNotFound(err) {
		return api.ActiveElevation{}, notFound("active elevation", id)
	}
	if err != nil {
		return api.ActiveElevation{}, err
	}
	a, ok := pim.ActiveElevationOf(e, s.Clock.Now())
	if !ok {
		return a, notFound("active elevation", id)
	}
	return a, nil
}

// ElevationAction is a client action on an elevation.
type ElevationAction struct {
	Name    string // api.Action*
	Reason  string
	Extend  api.ElevationExtendRequest
	IfMatch *int64
}

// ActOnElevation applies an action (approve, deny, withdraw, deactivate,
// revoke, extend) in one transaction with its audit events.
func (s *Service) ActOnElevation(ctx context.Context, c Caller, id string, a ElevationAction) (api.Elevation, error) {
	var out api.Elevation
	var denied error
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		cur, err := tx.GetElevation(id)
		if isNotFound(err) {
			return notFound("elevation", id)
		} else if err != nil {
			return err
		}
		var roles []string
		switch a.Name {
		case api.ActionApprove, api.ActionDeny:
			roles = elevationDeciders
		case api.ActionRevoke:
			roles = elevationRevokers
		}
		if roles != nil && !c.Principal.HasAnyRole(roles...) {
			denied = fmt.Errorf("%s an elevation requires server role %s", a.Name, strings.Join(roles, " or "))
			return errDenied
		}
		if a.IfMatch != nil && *a.IfMatch != cur.Version {
			return etagMismatch("elevation", id, cur.Version)
		}
		e := cur
		id := c.identity()
		switch a.Name {
		case api.ActionApprove:
			err = pim.Approve(&e, id, a.Reason, now)
		case api.ActionDeny:
			err = pim.Deny(&e, id, a.Reason, now)
		case api.ActionWithdraw:
			err = pim.Withdraw(&e, id, a.Reason, now)
		case api.ActionDeactivate:
			err = pim.Deactivate(&e, id, a.Reason, now)
		case api.ActionRevoke:
			err = pim.Revoke(&e, id.Actor, a.Reason, now)
		case api.ActionExtend:
			var endsAt *time.Time
			elig, gerr := tx.GetEligibility(e.EligibleRoleAssignmentID, now)
			switch {
			case gerr == nil:
				endsAt = elig.EndsAt
			case !isNotFound(gerr):
				return gerr
			}
			err = pim.Extend(&e, id, a.Extend, endsAt, now)
		default:
			return notFound("action", a.Name)
		}
		if err != nil {
			var re *pim.RefusalError
			if errors.As(err, &re) {
				denied = err
				return errDenied
			}
			return pimError(err)
		}
		if err := s.settle(ctx, tx, &e, now); err != nil {
			return err
		}
		if err := s.saveElevation(ctx, tx, &c, cur, &e, now); err != nil {
			return err
		}
		out = e
		return nil
	})
	if errors.Is(err, errDenied) {
		// Refusals are audited in their own transaction; the problem carries
		// the refusal's own code (self_approval_forbidden, not_an_approver ...).
		if aerr := s.auditDenied(ctx, c, "elevation."+a.Name, elevationKind, id); aerr != nil {
			return out, aerr
		}
		var re *pim.RefusalError
		if errors.As(denied, &re) {
			return out, pimError(denied)
		}
		return out, api.NewProblem(http.StatusForbidden, api.CodeForbidden, denied.Error())
	}
	return out, err
}
