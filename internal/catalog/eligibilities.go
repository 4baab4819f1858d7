package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// liveStates are the non-terminal elevation states.
var liveStates = []string{api.StatePendingApproval, api.StateScheduled, api.StateActivating, api.StateActive}

// checkEligibility runs every rule that needs the store: role and policy
// exist, the scope is assignable, the window fits the policy. windowStart
// stands in for a nil starts_at.
func checkEligibility(tx store.Tx, in api.EligibleRoleAssignmentInput, windowStart time.Time) error {
	var vs []api.Violation
	role, rerr := tx.GetRole(in.RoleID)
	if rerr != nil && !isNotFound(rerr) {
		return rerr
	}
	pol, perr := tx.GetActivationPolicy(in.ActivationPolicyID)
	if perr != nil && !isNotFound(perr) {
		return perr
	}
	if rerr == nil && perr == nil {
		vs = pim.ValidateEligibility(in, role.AssignableScopes, pol.EligibilityConstraints, windowStart)
	} else {
		vs = pim.ValidateEligibilityInput(in)
		if rerr != nil && in.RoleID != "" {
			vs = append(vs, api.Violation{Pointer: "/role_id", Code: "not_found", Message: fmt.Sprintf("role %q does not exist", in.RoleID)})
		}
		if perr != nil && in.ActivationPolicyID != "" {
			vs = append(vs, api.Violation{Pointer: "/activation_policy_id", Code: "not_found",
				Message: fmt.Sprintf("activation policy %q does not exist", in.ActivationPolicyID)})
		}
	}
	if len(vs) > 0 {
		return violationsProblem(fmt.Sprintf("%d problem(s) with the eligible role assignment", len(vs)), vs)
	}
	return nil
}

func (s *Service) withStatus(e api.EligibleRoleAssignment) api.EligibleRoleAssignment {
	e.Status = pim.EligibilityStatus(e, s.Clock.Now())
	return e
}

// CreateEligibility adds an eligible role assignment. With validateOnly it
// runs every check and writes nothing, not even an audit event.
func (s *Service) CreateEligibility(ctx context.Context, c Caller, in api.EligibleRoleAssignmentInput, validateOnly bool) (api.EligibleRoleAssignment, error) {
	if !c.Principal.HasAnyRole(catalogWriters...) {
		if validateOnly {
			return api.EligibleRoleAssignment{}, api.NewProblem(http.StatusForbidden, api.CodeForbidden, "eligible_role_assignment.created requires server role admin or security")
		}
		return api.EligibleRoleAssignment{}, s.denied(ctx, c, "eligible_role_assignment.created", eligibilityKind, "")
	}
	now := s.now()
	norm := pim.NormalizeEligibilityInput(in)
	actor := c.Principal.Actor()
	e := api.EligibleRoleAssignment{
		Meta:                        api.Meta{ID: ids.New(api.PrefixEligibleRoleAssignment, now), Version: 1, CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor},
		EligibleRoleAssignmentInput: norm,
	}
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		if err := checkEligibility(tx, norm, now); err != nil {
			return err
		}
		if id, err := tx.GetEligibilityIDByKey(norm.PrincipalType, norm.PrincipalID, norm.RoleID, norm.Scope); err == nil {
			p := api.NewProblem(http.StatusConflict, api.CodeAlreadyExists, fmt.Sprintf(
				"%s %s is already eligible for %s at %s (%s)", norm.PrincipalType, norm.PrincipalID, norm.RoleID, norm.Scope, id))
			p.ExistingID = id
			return p
		} else if !isNotFound(err) {
			return err
		}
		if validateOnly {
			return errValidateOnly
		}
		if err := tx.InsertEligibility(e); err != nil {
			return err
		}
		return s.recordAny(tx, &c, "eligible_role_assignment.created", eligibilityKind, e.ID, nil, e, 0, 1)
	})
	if errors.Is(err, errValidateOnly) {
		return api.EligibleRoleAssignment{}, nil
	}
	if err != nil {
		return api.EligibleRoleAssignment{}, err
	}
	return s.withStatus(e), nil
}

// errValidateOnly rolls back a validate_only transaction after every check passed.
var errValidateOnly = errors.New("validate only")

// GetEligibility reads one assignment, with status and active_elevation_count.
func (s *Service) GetEligibility(ctx context.Context, id string) (api.EligibleRoleAssignment, error) {
	var e api.EligibleRoleAssignment
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		e, err = tx.GetEligibility(id, s.Clock.Now())
		return err
	})
	if isNotFound(err) {
		return e, notFound("eligible role assignment", id)
	}
	if err != nil {
		return e, err
	}
	return s.withStatus(e), nil
}

// ListEligibilities returns a page of assignments.
func (s *Service) ListEligibilities(ctx context.Context, f store.EligibilityFilter) ([]api.EligibleRoleAssignment, error) {
	var out []api.EligibleRoleAssignment
	f.Now = s.Clock.Now()
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.ListEligibilities(f)
		return err
	})
	for i := range out {
		out[i] = s.withStatus(out[i])
	}
	return out, err
}

func immutableProblem(cur, in api.EligibleRoleAssignmentInput) error {
	var vs []api.Violation
	check := func(ptr, was, now string) {
		if was != now {
			vs = append(vs, api.Violation{Pointer: ptr, Code: api.CodeImmutableField,
				Message: fmt.Sprintf("cannot change from %q to %q; create a new assignment instead", was, now)})
		}
	}
	check("/principal_type", cur.PrincipalType, in.PrincipalType)
	check("/principal_id", cur.PrincipalID, in.PrincipalID)
	check("/role_id", cur.RoleID, in.RoleID)
	check("/scope", cur.Scope, in.Scope)
	if len(vs) == 0 {
		return nil
	}
	p := api.NewProblem(http.StatusUnprocessableEntity, api.CodeImmutableField,
		"principal_type, principal_id, role_id and scope cannot be changed after creation")
	p.Violations = vs
	return p
}

// ReplaceEligibility overwrites the mutable fields of an assignment. With
// validateOnly it runs every check and writes nothing.
func (s *Service) ReplaceEligibility(ctx context.Context, c Caller, id string, ifMatch *int64, in api.EligibleRoleAssignmentInput, validateOnly bool) (api.EligibleRoleAssignment, error) {
	var out api.EligibleRoleAssignment
	var deny bool
	now := s.Clock.Now()
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetEligibility(id, now)
		if isNotFound(err) {
			return notFound("eligible role assignment", id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			deny = true
			return errDenied
		}
		norm := pim.NormalizeEligibilityInput(in)
		if err := immutableProblem(cur.EligibleRoleAssignmentInput, norm); err != nil {
			return err
		}
		if err := checkEligibility(tx, norm, cur.CreatedAt); err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch("eligible role assignment", id, cur.Version)
		}
		if validateOnly {
			return errValidateOnly
		}
		out = cur
		out.EligibleRoleAssignmentInput = norm
		out.Version = cur.Version + 1
		out.UpdatedAt, out.UpdatedBy = s.now(), c.Principal.Actor()
		if err := tx.UpdateEligibility(out, cur.Version); err != nil {
			return err
		}
		before, after := cur, out
		before.ActiveElevationCount, after.ActiveElevationCount = 0, 0
		return s.recordAny(tx, &c, "eligible_role_assignment.updated", eligibilityKind, id, before, after, cur.Version, out.Version)
	})
	if deny {
		if validateOnly {
			return out, api.NewProblem(http.StatusForbidden, api.CodeForbidden, "eligible_role_assignment.updated requires server role admin or security")
		}
		return out, s.denied(ctx, c, "eligible_role_assignment.updated", eligibilityKind, id)
	}
	if errors.Is(err, errValidateOnly) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	return s.withStatus(out), nil
}

// DeleteEligibility removes an assignment. Live elevations block it (409
// active_elevations_exist) unless force, which ends each of them in the same
// transaction with end_reason eligibility_deleted.
func (s *Service) DeleteEligibility(ctx context.Context, c Caller, id string, ifMatch *int64, force bool) error {
	var deny bool
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		cur, err := tx.GetEligibility(id, now)
		if isNotFound(err) {
			return notFound("eligible role assignment", id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			deny = true
			return errDenied
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch("eligible role assignment", id, cur.Version)
		}
		elevs, err := tx.ListElevations(store.ElevationFilter{EligibilityID: id, States: liveStates, Limit: 100000})
		if err != nil {
			return err
		}
		var live []api.Elevation
		for _, e := range elevs {
			if !pim.IsTerminal(pim.StateAt(e, now)) {
				live = append(live, e)
			}
		}
		if len(live) > 0 && !force {
			return api.NewProblem(http.StatusConflict, api.CodeActiveElevationsExist, fmt.Sprintf(
				"eligible role assignment %q has %d elevation(s) that have not ended, for example %s; retry with ?force=true to end them",
				id, len(live), live[0].ID))
		}
		actor := c.Principal.Actor()
		for _, e := range elevs {
			before := e
			if pim.EndForEligibility(&e, &actor, api.EndReasonEligibilityDeleted, now) {
				if err := s.saveElevation(ctx, tx, &c, before, &e, now); err != nil {
					return err
				}
			} else if pim.Tick(&e, now) {
				if err := s.saveElevation(ctx, tx, &c, before, &e, now); err != nil {
					return err
				}
			}
		}
		if err := tx.DeleteEligibility(id); err != nil {
			return err
		}
		cur.ActiveElevationCount = 0
		return s.recordAny(tx, &c, "eligible_role_assignment.deleted", eligibilityKind, id, cur, nil, cur.Version, 0)
	})
	if deny {
		return s.denied(ctx, c, "eligible_role_assignment.deleted", eligibilityKind, id)
	}
	return err
}
