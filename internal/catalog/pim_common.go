package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Kinds (audit target types) of PIM objects.
const (
	policyKind      = "activation_policy"
	eligibilityKind = "eligible_role_assignment"
	elevationKind   = "elevation"
)

// Server roles of the PIM operations (documented in the OpenAPI descriptions).
var (
	// elevationRequesters may request elevations (for their own eligibilities).
	elevationRequesters = []string{api.ServerRoleRequester, api.ServerRoleAdmin}
	// elevationDeciders may approve or deny, if also an approver of the stage.
	elevationDeciders = []string{api.ServerRoleApprover, api.ServerRoleAdmin, api.ServerRoleSecurity}
	// elevationRevokers may revoke any live elevation.
	elevationRevokers = []string{api.ServerRoleAdmin, api.ServerRoleSecurity}
	// elevationReaders see every elevation; others see their own and those they approve.
	elevationReaders = []string{api.ServerRoleAdmin, api.ServerRoleSecurity, api.ServerRoleAuditor}
)

// deniedFor audits a refusal and returns 403 naming the roles that would do.
func (s *Service) deniedFor(ctx context.Context, c Caller, action, targetType, targetID string, roles []string) error {
	if err := s.auditDenied(ctx, c, action, targetType, targetID); err != nil {
		return err
	}
	return api.NewProblem(http.StatusForbidden, api.CodeForbidden,
		fmt.Sprintf("%s requires server role %s", action, strings.Join(roles, " or ")))
}

// recordAny appends a mutation event for any object.
func (s *Service) recordAny(tx store.Tx, c *Caller, action, kind, id string, before, after any, vb, va int64) error {
	m := audit.Mutation{Now: s.Clock.Now(), Action: action, TargetType: kind, TargetID: id,
		Before: before, After: after, VersionBefore: vb, VersionAfter: va}
	if c != nil {
		m.Actor, m.Request = c.auditActor(), c.Request
	} else {
		m.Actor = api.AuditActor{Type: "system", ID: "pamd"}
	}
	ev, err := audit.NewMutation(m)
	if err != nil {
		return err
	}
	return tx.AppendAudit(ev)
}

// violationsProblem maps violations to a problem: any malformed field makes
// it 400 validation_failed (listing all), policy rules alone 422 policy_violation.
func violationsProblem(detail string, vs []api.Violation) *api.Problem {
	for _, v := range vs {
		if v.Rule == "" {
			return api.ValidationProblem(detail, vs...)
		}
	}
	p := api.NewProblem(http.StatusUnprocessableEntity, api.CodePolicyViolation, detail)
	p.Violations = vs
	return p
}

// pimError maps the errors of package pim to problems.
func pimError(err error) error {
	var te *pim.TransitionError
	if errors.As(err, &te) {
		p := api.NewProblem(http.StatusConflict, api.CodeInvalidStateTransition, te.Error())
		p.State, p.AllowedTransitions = te.From, te.Allowed
		if p.AllowedTransitions == nil {
			p.AllowedTransitions = []string{}
		}
		return p
	}
	var ve *pim.ViolationError
	if errors.As(err, &ve) {
		if ve.Code == api.CodePolicyViolation {
			p := api.NewProblem(http.StatusUnprocessableEntity, api.CodePolicyViolation, fmt.Sprintf("%d policy rule(s) failed", len(ve.Violations)))
			p.Violations = ve.Violations
			return p
		}
		return api.ValidationProblem(fmt.Sprintf("%d field(s) are not valid", len(ve.Violations)), ve.Violations...)
	}
	var re *pim.RefusalError
	if errors.As(err, &re) {
		status := http.StatusForbidden
		if re.Code == api.CodeAlreadyDecided {
			status = http.StatusConflict
		}
		return api.NewProblem(status, re.Code, err.Error())
	}
	return err
}

// identity is the pim view of the caller.
func (c Caller) identity() pim.Identity {
	return pim.Identity{Actor: c.Principal.Actor(), Groups: c.Principal.Groups, MFAAt: c.Principal.MFAAt}
}

// auditDenied records a refused attempt in its own transaction (fail closed:
// an error means the refusal could not be recorded).
func (s *Service) auditDenied(ctx context.Context, c Caller, action, targetType, targetID string) error {
	ev := audit.NewDenied(s.Clock.Now(), c.auditActor(), c.Request, action, targetType, targetID)
	return s.Store.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(ev) })
}
