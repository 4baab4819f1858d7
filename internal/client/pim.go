package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// PIM methods (API.md §7.2-7.5): activation policies and eligible role
// assignments are configuration objects with the usual CRUD; elevations are
// lifecycle objects that are requested, acted on and read.
//
// Retry policy: GET, PUT, DELETE and keyed POSTs (creates, RequestElevation)
// are retried on transport errors and 5xx. Elevation actions (approve, deny,
// withdraw, deactivate, revoke, extend) are POSTs without an Idempotency-Key,
// so they are retried only on 429 and 503, which mean the server did not
// process them; a lost response to an action surfaces as an error rather than
// risk acting twice (e.g. extending twice).

// setString sets key when v is not empty.
func setString(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}

// setTime sets key to t in RFC 3339 (UTC, with sub-second precision when t has
// any) when t is not the zero time.
func setTime(q url.Values, key string, t time.Time) {
	if !t.IsZero() {
		q.Set(key, t.UTC().Format(time.RFC3339Nano))
	}
}

// --- activation policies ---

// CreateActivationPolicy creates an activation policy (keyed, retry-safe).
func (c *Client) CreateActivationPolicy(ctx context.Context, in api.ActivationPolicyInput) (*api.ActivationPolicy, error) {
	return createJSON[api.ActivationPolicy](ctx, c, api.PathActivationPolicies, in)
}

// GetActivationPolicy returns the policy with id; ErrNotFound if there is none.
func (c *Client) GetActivationPolicy(ctx context.Context, id string) (*api.ActivationPolicy, error) {
	p, err := objectPath(api.PathActivationPolicies, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.ActivationPolicy](ctx, c, p, nil)
}

// FindActivationPolicyByName returns the policy named name; ErrNotFound if none.
func (c *Client) FindActivationPolicyByName(ctx context.Context, name string) (*api.ActivationPolicy, error) {
	return findOne[api.ActivationPolicy](ctx, c, api.PathActivationPolicies, url.Values{"name": {name}})
}

// ListActivationPolicies returns one page of activation policies.
func (c *Client) ListActivationPolicies(ctx context.Context, p api.ActivationPolicyListParams) (*api.Page[api.ActivationPolicy], error) {
	q := url.Values{}
	setString(q, "name", p.Name)
	return listPage[api.ActivationPolicy](ctx, c, api.PathActivationPolicies, q, p.PageSize, p.PageToken)
}

// UpdateActivationPolicy replaces the policy, conditional on version (If-Match)
// when version > 0: ErrPreconditionFailed if it changed since.
func (c *Client) UpdateActivationPolicy(ctx context.Context, id string, version int64, in api.ActivationPolicyInput) (*api.ActivationPolicy, error) {
	p, err := objectPath(api.PathActivationPolicies, id)
	if err != nil {
		return nil, err
	}
	return replaceJSON[api.ActivationPolicy](ctx, c, p, version, in)
}

// DeleteActivationPolicy deletes the policy, conditional on version when > 0.
// The server refuses with 409 in_use while eligibilities reference it.
func (c *Client) DeleteActivationPolicy(ctx context.Context, id string, version int64) error {
	p, err := objectPath(api.PathActivationPolicies, id)
	if err != nil {
		return err
	}
	return deleteObject(ctx, c, p, version)
}

// --- eligible role assignments ---

// CreateEligibleRoleAssignment creates an eligibility (keyed, retry-safe). A
// duplicate (principal, role, scope) is 409 already_exists with ExistingID.
func (c *Client) CreateEligibleRoleAssignment(ctx context.Context, in api.EligibleRoleAssignmentInput) (*api.EligibleRoleAssignment, error) {
	return createJSON[api.EligibleRoleAssignment](ctx, c, api.PathEligibleRoleAssignments, in)
}

// GetEligibleRoleAssignment returns the eligibility with id; ErrNotFound if none.
func (c *Client) GetEligibleRoleAssignment(ctx context.Context, id string) (*api.EligibleRoleAssignment, error) {
	p, err := objectPath(api.PathEligibleRoleAssignments, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.EligibleRoleAssignment](ctx, c, p, nil)
}

// FindEligibleRoleAssignment returns the eligibility with this natural key
// (exact scope, not a prefix); ErrNotFound if there is none.
func (c *Client) FindEligibleRoleAssignment(ctx context.Context, principalType, principalID, roleID, scope string) (*api.EligibleRoleAssignment, error) {
	q := url.Values{
		"principal_type": {principalType},
		"principal_id":   {principalID},
		"role_id":        {roleID},
		"scope":          {scope},
	}
	return findOne[api.EligibleRoleAssignment](ctx, c, api.PathEligibleRoleAssignments, q)
}

// ListEligibleRoleAssignments returns one page of eligibilities.
func (c *Client) ListEligibleRoleAssignments(ctx context.Context, p api.EligibleRoleAssignmentListParams) (*api.Page[api.EligibleRoleAssignment], error) {
	q := url.Values{}
	setString(q, "principal_type", p.PrincipalType)
	setString(q, "principal_id", p.PrincipalID)
	setString(q, "role_id", p.RoleID)
	setString(q, "scope", p.Scope)
	setString(q, "scope_prefix", p.ScopePrefix)
	setString(q, "activation_policy_id", p.ActivationPolicyID)
	setString(q, "status", p.Status)
	return listPage[api.EligibleRoleAssignment](ctx, c, api.PathEligibleRoleAssignments, q, p.PageSize, p.PageToken)
}

// UpdateEligibleRoleAssignment replaces the eligibility, conditional on version
// (If-Match) when version > 0. Principal, role and scope are immutable.
func (c *Client) UpdateEligibleRoleAssignment(ctx context.Context, id string, version int64, in api.EligibleRoleAssignmentInput) (*api.EligibleRoleAssignment, error) {
	p, err := objectPath(api.PathEligibleRoleAssignments, id)
	if err != nil {
		return nil, err
	}
	return replaceJSON[api.EligibleRoleAssignment](ctx, c, p, version, in)
}

// DeleteEligibleRoleAssignment deletes the eligibility, conditional on version
// when > 0. Without force the server refuses with 409 active_elevations_exist
// while elevations are in flight; force (?force=true) ends them.
func (c *Client) DeleteEligibleRoleAssignment(ctx context.Context, id string, version int64, force bool) error {
	p, err := objectPath(api.PathEligibleRoleAssignments, id)
	if err != nil {
		return err
	}
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	return c.do(ctx, request{method: http.MethodDelete, path: p, query: q, ifMatch: version}, nil)
}

// ValidateEligibleRoleAssignment asks the server to run every check of a create
// (id == "": POST) or an update (PUT /{id}) without writing anything, with
// ?validate_only=true. It returns nil when the input is valid, otherwise the
// *ProblemError (422 with violations; 404 for an unknown id). Nothing is
// written, so the call is retried like a read.
func (c *Client) ValidateEligibleRoleAssignment(ctx context.Context, id string, in api.EligibleRoleAssignmentInput) error {
	r := request{method: http.MethodPost, path: api.PathEligibleRoleAssignments, body: in, safe: true,
		query: url.Values{"validate_only": {"true"}}}
	if id != "" {
		p, err := objectPath(api.PathEligibleRoleAssignments, id)
		if err != nil {
			return err
		}
		r.method, r.path = http.MethodPut, p
	}
	// pamd answers a passing validation with 200 {"valid": true} and a failing
	// one with the problem the real request would get. Should a 200 carry
	// valid=false (or an evaluation with allowed=false) instead, treat it as
	// that same problem.
	var out struct {
		Valid      *bool           `json:"valid"`   // api.ValidationResult
		Allowed    *bool           `json:"allowed"` // an evaluation, defensively
		Violations []api.Violation `json:"violations"`
	}
	var raw json.RawMessage
	if err := c.do(ctx, r, &raw); err != nil {
		return err
	}
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		// Not an evaluation (e.g. the would-be object): the server found
		// nothing to refuse.
		return nil //nolint:nilerr // a body we cannot read as an evaluation is not a violation
	}
	if (out.Valid != nil && !*out.Valid) || (out.Allowed != nil && !*out.Allowed) || len(out.Violations) > 0 {
		return &ProblemError{Method: r.method, Path: r.path, Problem: api.Problem{
			Status: http.StatusUnprocessableEntity, Title: "Policy violation", Code: api.CodePolicyViolation,
			Detail: "the eligible role assignment would be refused", Violations: out.Violations,
		}}
	}
	return nil
}

// --- elevations ---

// RequestElevation requests an elevation (POST /v1/elevations). One
// Idempotency-Key, required by the server, is sent and reused on every retry,
// so a retried request never creates two elevations. req.ValidateOnly is
// forced to false; use EvaluateElevation for a dry run.
func (c *Client) RequestElevation(ctx context.Context, req api.ElevationRequest) (*api.Elevation, error) {
	req.ValidateOnly = false
	return createJSON[api.Elevation](ctx, c, api.PathElevations, req)
}

// EvaluateElevation evaluates req against the caller's eligibility and policy
// without creating anything (validate_only): the returned evaluation says
// whether it would be allowed, with which duration, whether approval is
// needed, and the violations. Problems that are not policy decisions (unknown
// eligibility, bad input) come back as *ProblemError.
func (c *Client) EvaluateElevation(ctx context.Context, req api.ElevationRequest) (*api.PolicyEvaluation, error) {
	req.ValidateOnly = true
	// The server requires an Idempotency-Key on every POST /v1/elevations; a
	// fresh one per evaluation is harmless and makes retries safe.
	key, err := newIdempotencyKey()
	if err != nil {
		return nil, err
	}
	var out api.PolicyEvaluation
	if err := c.do(ctx, request{method: http.MethodPost, path: api.PathElevations, body: req, idempotencyKey: key, safe: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetElevation returns the elevation with id; ErrNotFound if there is none.
func (c *Client) GetElevation(ctx context.Context, id string) (*api.Elevation, error) {
	p, err := objectPath(api.PathElevations, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.Elevation](ctx, c, p, nil)
}

func elevationQuery(p api.ElevationListParams) url.Values {
	q := url.Values{}
	setString(q, "state", p.State)
	setString(q, "principal_id", p.PrincipalID)
	setString(q, "role_id", p.RoleID)
	setString(q, "scope", p.Scope)
	setString(q, "scope_prefix", p.ScopePrefix)
	setString(q, "eligible_role_assignment_id", p.EligibleRoleAssignmentID)
	setString(q, "relationship", p.Relationship)
	setTime(q, "created_after", p.CreatedAfter)
	setTime(q, "created_before", p.CreatedBefore)
	return q
}

// ListElevations returns one page of elevations the caller may see.
func (c *Client) ListElevations(ctx context.Context, p api.ElevationListParams) (*api.Page[api.Elevation], error) {
	return listPage[api.Elevation](ctx, c, api.PathElevations, elevationQuery(p), p.PageSize, p.PageToken)
}

// ListApprovalRequests returns one page of the caller's approval inbox
// (GET /v1/approval_requests): what the caller can approve or deny right now.
// Decisions are posted on the object named by each item's Href (for
// elevations: ApproveElevation / DenyElevation with the item's ID).
func (c *Client) ListApprovalRequests(ctx context.Context, p api.ApprovalRequestListParams) (*api.Page[api.ApprovalRequest], error) {
	return listPage[api.ApprovalRequest](ctx, c, api.PathApprovalRequests, nil, p.PageSize, p.PageToken)
}

// elevationAction POSTs an action on an elevation. It carries no
// Idempotency-Key and so is not retried on transport errors or 5xx (only on
// 429/503, which the server sends before doing anything).
func (c *Client) elevationAction(ctx context.Context, id, action string, body any) (*api.Elevation, error) {
	p, err := objectPath(api.PathElevations, id)
	if err != nil {
		return nil, err
	}
	var out api.Elevation
	if err := c.do(ctx, request{method: http.MethodPost, path: p + "/" + action, body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ApproveElevation records the caller's approval for the current stage.
func (c *Client) ApproveElevation(ctx context.Context, id, reason string) (*api.Elevation, error) {
	return c.elevationAction(ctx, id, api.ActionApprove, api.ElevationActionRequest{Reason: reason})
}

// DenyElevation denies the request; one denial denies the whole request.
func (c *Client) DenyElevation(ctx context.Context, id, reason string) (*api.Elevation, error) {
	return c.elevationAction(ctx, id, api.ActionDeny, api.ElevationActionRequest{Reason: reason})
}

// WithdrawElevation withdraws the caller's pending or scheduled request.
func (c *Client) WithdrawElevation(ctx context.Context, id, reason string) (*api.Elevation, error) {
	return c.elevationAction(ctx, id, api.ActionWithdraw, api.ElevationActionRequest{Reason: reason})
}

// DeactivateElevation ends the caller's active elevation early.
func (c *Client) DeactivateElevation(ctx context.Context, id, reason string) (*api.Elevation, error) {
	return c.elevationAction(ctx, id, api.ActionDeactivate, api.ElevationActionRequest{Reason: reason})
}

// RevokeElevation ends any non-terminal elevation (admin or security).
func (c *Client) RevokeElevation(ctx context.Context, id, reason string) (*api.Elevation, error) {
	return c.elevationAction(ctx, id, api.ActionRevoke, api.ElevationActionRequest{Reason: reason})
}

// ExtendElevation extends the caller's active elevation. It is never retried
// after a lost response, since a repeat would extend twice.
func (c *Client) ExtendElevation(ctx context.Context, id string, req api.ElevationExtendRequest) (*api.Elevation, error) {
	return c.elevationAction(ctx, id, api.ActionExtend, req)
}

// ListActiveElevations returns one page of the active-elevation projection.
func (c *Client) ListActiveElevations(ctx context.Context, p api.ActiveElevationListParams) (*api.Page[api.ActiveElevation], error) {
	q := url.Values{}
	setString(q, "principal_id", p.PrincipalID)
	setString(q, "role_id", p.RoleID)
	setString(q, "scope", p.Scope)
	setString(q, "scope_prefix", p.ScopePrefix)
	setTime(q, "ends_before", p.EndsBefore)
	return listPage[api.ActiveElevation](ctx, c, api.PathActiveElevations, q, p.PageSize, p.PageToken)
}
