package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

type createElevationInput struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"Required (400 idempotency_key_missing without it), except with validate_only. A retry returns the first result."`
	Body           api.ElevationRequest
}

// elevationWriteOutput is 201 (created), 200 (if_exists=return_existing) with
// an api.Elevation, or 200 with an api.PolicyEvaluation (validate_only).
type elevationWriteOutput struct {
	Status   int
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     any
}

type elevationOutput struct {
	ETag string `header:"ETag"`
	Body api.Elevation
}

type elevationIDInput struct {
	ID string `path:"id" doc:"Elevation id (elv_...)."`
}

type elevationActionInput struct {
	ID      string `path:"id" doc:"Elevation id (elv_...)."`
	IfMatch string `header:"If-Match" doc:"Optional version precondition; 412 if the elevation changed."`
	Body    *api.ElevationActionRequest
}

type elevationExtendInput struct {
	ID      string `path:"id" doc:"Elevation id (elv_...)."`
	IfMatch string `header:"If-Match" doc:"Optional version precondition; 412 if the elevation changed."`
	Body    *api.ElevationExtendRequest
}

type listElevationsInput struct {
	api.ElevationListParams
}

type elevationListOutput struct {
	Body api.Page[api.Elevation]
}

type listActiveInput struct {
	api.ActiveElevationListParams
}

type activeListOutput struct {
	Body api.Page[api.ActiveElevation]
}

type activeOutput struct {
	Body api.ActiveElevation
}

type listApprovalsInput struct {
	api.ApprovalRequestListParams
}

type approvalListOutput struct {
	Body api.Page[api.ApprovalRequest]
}

const elevationItemPath = api.PathElevations + "/{id}"

var relationships = []string{api.RelationshipRequestedByMe, api.RelationshipAwaitingMyApproval, api.RelationshipDecidedByMe}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func checkScopePrefix(p string) error {
	if p != "" && !api.ScopePattern.MatchString(p) {
		return api.ValidationProblem("scope_prefix is not valid", api.Violation{Pointer: "query:scope_prefix", Code: "pattern", Message: api.ScopeRule})
	}
	return nil
}

func (s *Server) registerElevations() {
	tags := []string{"elevations"}
	register(s, huma.Operation{
		OperationID: "create-elevation", Method: http.MethodPost, Path: api.PathElevations, DefaultStatus: http.StatusCreated,
		Summary: "Request an elevation", Tags: tags,
		Description: "Requires server role requester or admin, and the caller must hold the eligibility (be its principal, or be in its group " +
			"per the token's groups). Name eligible_role_assignment_id, or role_id and scope (the caller's eligibility at exactly that scope). " +
			"The policy is snapshotted now. Without approval the elevation is active at once (scheduled if start_at is ahead). " +
			"validate_only answers 200 with the PolicyEvaluation and writes nothing. Policy refusals are 422 policy_violation with violations[].rule; " +
			"a policy requiring fresher MFA answers 401 step_up_required with an RFC 9470 WWW-Authenticate challenge. " +
			"if_exists=return_existing answers 200 with the caller's live elevation on the same eligibility; otherwise that is 409 already_exists.",
		Responses: s.bodies(map[int]any{http.StatusCreated: api.Elevation{}, http.StatusOK: api.PolicyEvaluation{}}),
	}, func(ctx context.Context, in *createElevationInput) (*elevationWriteOutput, error) {
		c, err := caller(ctx, http.MethodPost, api.PathElevations)
		if err != nil {
			return nil, err
		}
		if in.IdempotencyKey == "" && !in.Body.ValidateOnly {
			p := api.NewProblem(http.StatusBadRequest, api.CodeIdempotencyKeyMissing, "POST /v1/elevations requires an Idempotency-Key header, so that a retry cannot elevate twice")
			p.Violations = []api.Violation{{Pointer: "header:" + api.HeaderIdempotencyKey, Code: "required", Message: "send a unique key (a UUID) per elevation request"}}
			return nil, p
		}
		res, err := s.catalog.RequestElevation(ctx, c, in.Body)
		if err != nil {
			return nil, err
		}
		if res.Evaluation != nil {
			return &elevationWriteOutput{Status: http.StatusOK, Body: *res.Evaluation}, nil
		}
		out := &elevationWriteOutput{Status: http.StatusOK, ETag: api.FormatETag(res.Elevation.Version), Body: *res.Elevation}
		if res.Created {
			out.Status, out.Location = http.StatusCreated, api.PathElevations+"/"+res.Elevation.ID
		}
		return out, nil
	})

	register(s, huma.Operation{
		OperationID: "list-elevations", Method: http.MethodGet, Path: api.PathElevations, Summary: "List elevations", Tags: tags,
		Description: "Admin, security and auditor see every elevation; anyone else sees the elevations they requested and those naming them " +
			"(or one of their token's groups) as an approver in any stage or as a decider. relationship narrows further: requested_by_me, " +
			"awaiting_my_approval (what the caller can approve right now) or decided_by_me. Ordered by id.",
	}, func(ctx context.Context, in *listElevationsInput) (*elevationListOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathElevations)
		if err != nil {
			return nil, err
		}
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		states := splitList(in.State)
		if err := checkEnumList("state", states, api.ElevationStates); err != nil {
			return nil, err
		}
		if in.Relationship != "" {
			if err := checkEnumList("relationship", []string{in.Relationship}, relationships); err != nil {
				return nil, err
			}
		}
		if err := checkScopePrefix(in.ScopePrefix); err != nil {
			return nil, err
		}
		filter := strings.Join([]string{in.State, in.PrincipalID, in.RoleID, in.Scope, in.ScopePrefix, in.EligibleRoleAssignmentID,
			in.Relationship, in.CreatedAfter.String(), in.CreatedBefore.String()}, "\x1f")
		after, err := s.after(in.PageToken, "elevations", filter)
		if err != nil {
			return nil, err
		}
		f := store.ElevationFilter{States: states, PrincipalID: in.PrincipalID, RoleID: in.RoleID, Scope: in.Scope, ScopePrefix: in.ScopePrefix,
			EligibilityID: in.EligibleRoleAssignmentID, CreatedAfter: timePtr(in.CreatedAfter), CreatedBefore: timePtr(in.CreatedBefore),
			AfterID: after, Limit: size + 1}
		me := c.Principal.Actor()
		var keep func(api.Elevation) bool
		switch in.Relationship {
		case api.RelationshipRequestedByMe:
			f.PrincipalType, f.PrincipalID = me.Type, me.ID
		case api.RelationshipAwaitingMyApproval:
			f.ApproverOf = &store.Party{Actor: me, Groups: c.Principal.Groups}
			keep = s.catalog.AwaitingDecision(c)
		case api.RelationshipDecidedByMe:
			f.DecidedBy = &me
		}
		items, err := s.catalog.ListElevations(ctx, c, f, keep)
		if err != nil {
			return nil, err
		}
		return &elevationListOutput{Body: paginate(s, items, size, "elevations", filter, func(e api.Elevation) string { return e.ID })}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-elevation", Method: http.MethodGet, Path: elevationItemPath, Summary: "Read an elevation", Tags: tags,
		Description: "Visible to the requester, the approvers named in its stages (directly or through a token group), deciders, and admin, security and auditor.",
	}, func(ctx context.Context, in *elevationIDInput) (*elevationOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathElevations+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		e, err := s.catalog.GetElevation(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return &elevationOutput{ETag: api.FormatETag(e.Version), Body: e}, nil
	})

	actions := []struct{ name, who string }{
		{api.ActionApprove, "Server role approver, admin or security, and an approver of the current stage (directly or through a token group); never the requester (403 self_approval_forbidden; 403 not_an_approver)."},
		{api.ActionDeny, "Same rule as approve. One denial denies the whole request."},
		{api.ActionWithdraw, "The requester, while pending_approval or scheduled."},
		{api.ActionDeactivate, "The requester, while active."},
		{api.ActionRevoke, "Server role admin or security, in any non-terminal state."},
	}
	for _, a := range actions {
		action := a.name
		register(s, huma.Operation{
			OperationID: action + "-elevation", Method: http.MethodPost, Path: elevationItemPath + "/" + action,
			Summary: strings.ToUpper(action[:1]) + action[1:] + " an elevation", Tags: tags,
			Description: a.who + " 409 invalid_state_transition (with state and allowed_transitions) when the state does not allow it.",
		}, func(ctx context.Context, in *elevationActionInput) (*elevationOutput, error) {
			return s.act(ctx, in.ID, in.IfMatch, catalog.ElevationAction{Name: action, Reason: reasonOf(in.Body)})
		})
	}
	register(s, huma.Operation{
		OperationID: "extend-elevation", Method: http.MethodPost, Path: elevationItemPath + "/" + api.ActionExtend,
		Summary: "Extend an active elevation", Tags: tags,
		Description: "The requester, while active, within the snapshot's extension rules (422 policy_violation beyond them).",
	}, func(ctx context.Context, in *elevationExtendInput) (*elevationOutput, error) {
		var body api.ElevationExtendRequest
		if in.Body != nil {
			body = *in.Body
		}
		return s.act(ctx, in.ID, in.IfMatch, catalog.ElevationAction{Name: api.ActionExtend, Extend: body})
	})
}

func reasonOf(b *api.ElevationActionRequest) string {
	if b == nil {
		return ""
	}
	return b.Reason
}

func (s *Server) act(ctx context.Context, id, ifMatchHeader string, a catalog.ElevationAction) (*elevationOutput, error) {
	c, err := caller(ctx, http.MethodPost, api.PathElevations+"/"+id+"/"+a.Name)
	if err != nil {
		return nil, err
	}
	if a.IfMatch, err = ifMatch(ifMatchHeader); err != nil {
		return nil, err
	}
	e, err := s.catalog.ActOnElevation(ctx, c, id, a)
	if err != nil {
		return nil, err
	}
	return &elevationOutput{ETag: api.FormatETag(e.Version), Body: e}, nil
}

func (s *Server) registerActiveElevations() {
	tags := []string{"active_elevations"}
	register(s, huma.Operation{
		OperationID: "list-active-elevations", Method: http.MethodGet, Path: api.PathActiveElevations, Summary: "List active elevations", Tags: tags,
		Description: "Any valid token. Elevations active now (end_at in the future), ordered by id. scope_prefix matches the scope and " +
			"everything below it; ends_before keeps those ending strictly before the time.",
	}, func(ctx context.Context, in *listActiveInput) (*activeListOutput, error) {
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		if err := checkScopePrefix(in.ScopePrefix); err != nil {
			return nil, err
		}
		filter := strings.Join([]string{in.PrincipalID, in.RoleID, in.Scope, in.ScopePrefix, strconv.FormatInt(in.EndsBefore.UnixNano(), 10)}, "\x1f")
		after, err := s.after(in.PageToken, "active_elevations", filter)
		if err != nil {
			return nil, err
		}
		items, err := s.catalog.ActiveElevations(ctx, store.ElevationFilter{PrincipalID: in.PrincipalID, RoleID: in.RoleID, Scope: in.Scope,
			ScopePrefix: in.ScopePrefix, EndBefore: timePtr(in.EndsBefore), AfterID: after, Limit: size + 1})
		if err != nil {
			return nil, err
		}
		return &activeListOutput{Body: paginate(s, items, size, "active_elevations", filter, func(a api.ActiveElevation) string { return a.ID })}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-active-elevation", Method: http.MethodGet, Path: api.PathActiveElevations + "/{id}", Summary: "Read an active elevation", Tags: tags,
		Description: "Any valid token. 404 unless the elevation is active now.",
	}, func(ctx context.Context, in *elevationIDInput) (*activeOutput, error) {
		a, err := s.catalog.GetActiveElevation(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &activeOutput{Body: a}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-approval-requests", Method: http.MethodGet, Path: api.PathApprovalRequests, Summary: "List what the caller can approve now",
		Tags:        []string{"approval_requests"},
		Description: "Elevations in pending_approval whose current stage names the caller (or one of the token's groups), that the caller has not decided and did not request; empty without server role approver, admin or security.",
	}, func(ctx context.Context, in *listApprovalsInput) (*approvalListOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathApprovalRequests)
		if err != nil {
			return nil, err
		}
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		after, err := s.after(in.PageToken, "approval_requests", "")
		if err != nil {
			return nil, err
		}
		me := c.Principal.Actor()
		elevs, err := s.catalog.ListElevations(ctx, c, store.ElevationFilter{States: []string{api.StatePendingApproval},
			ApproverOf: &store.Party{Actor: me, Groups: c.Principal.Groups}, AfterID: after, Limit: size + 1}, s.catalog.AwaitingDecision(c))
		if err != nil {
			return nil, err
		}
		items := make([]api.ApprovalRequest, 0, len(elevs))
		for _, e := range elevs {
			items = append(items, approvalRequestOf(e))
		}
		return &approvalListOutput{Body: paginate(s, items, size, "approval_requests", "", func(a api.ApprovalRequest) string { return a.ID })}, nil
	})
}

func approvalRequestOf(e api.Elevation) api.ApprovalRequest {
	a := api.ApprovalRequest{Kind: api.ApprovalKindElevation, ID: e.ID, RequestedBy: e.RequestedBy, Href: api.PathElevations + "/" + e.ID,
		Summary: fmt.Sprintf("%s:%s requests role %s at %s for %ds", e.PrincipalType, e.PrincipalID, e.RoleID, e.Scope, e.RequestedDurationSeconds)}
	if e.Justification != "" {
		a.Summary += ": " + e.Justification
	}
	if e.Approval != nil {
		a.CurrentStageIndex = e.Approval.CurrentStageIndex
		if i := e.Approval.CurrentStageIndex; i >= 0 && i < len(e.Approval.Stages) {
			a.ExpiresAt = e.Approval.Stages[i].ExpiresAt
		}
	}
	return a
}
