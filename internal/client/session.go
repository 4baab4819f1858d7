package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Session methods (API.md §7.9): session policies are configuration objects
// with the usual CRUD; sessions are lifecycle objects created by the SSH
// gateway, only listed, read and terminated here.
//
// Retry policy: GET, PUT, DELETE and creates (keyed) retry on transport
// errors and 5xx. Terminate is a POST without an Idempotency-Key, retried
// only on 429 and 503 (the server did not process it); terminating twice is
// harmless, but a retried terminate of an already terminated session answers
// 409 invalid_state_transition, which would hide the first success.

// --- session policies ---

// CreateSessionPolicy creates a session policy (keyed, retry-safe). A
// duplicate name is 409 already_exists with ExistingID.
func (c *Client) CreateSessionPolicy(ctx context.Context, in api.SessionPolicyInput) (*api.SessionPolicy, error) {
	return createJSON[api.SessionPolicy](ctx, c, api.PathSessionPolicies, in)
}

// GetSessionPolicy returns the policy with id; ErrNotFound if there is none.
func (c *Client) GetSessionPolicy(ctx context.Context, id string) (*api.SessionPolicy, error) {
	p, err := objectPath(api.PathSessionPolicies, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.SessionPolicy](ctx, c, p, nil)
}

// FindSessionPolicyByName returns the policy named name; ErrNotFound if there is none.
func (c *Client) FindSessionPolicyByName(ctx context.Context, name string) (*api.SessionPolicy, error) {
	return findOne[api.SessionPolicy](ctx, c, api.PathSessionPolicies, url.Values{"name": {name}})
}

// ListSessionPolicies returns one page of session policies.
func (c *Client) ListSessionPolicies(ctx context.Context, p api.SessionPolicyListParams) (*api.Page[api.SessionPolicy], error) {
	q := url.Values{}
	setString(q, "name", p.Name)
	return listPage[api.SessionPolicy](ctx, c, api.PathSessionPolicies, q, p.PageSize, p.PageToken)
}

// UpdateSessionPolicy replaces the policy (command filter rules as a whole,
// in the order given), conditional on version (If-Match) when version > 0:
// ErrPreconditionFailed if it changed since. Running sessions keep the
// policy snapshot they started with.
func (c *Client) UpdateSessionPolicy(ctx context.Context, id string, version int64, in api.SessionPolicyInput) (*api.SessionPolicy, error) {
	p, err := objectPath(api.PathSessionPolicies, id)
	if err != nil {
		return nil, err
	}
	return replaceJSON[api.SessionPolicy](ctx, c, p, version, in)
}

// DeleteSessionPolicy deletes the policy, conditional on version when > 0.
// The server refuses with 409 in_use while vault accounts or safes reference it.
func (c *Client) DeleteSessionPolicy(ctx context.Context, id string, version int64) error {
	p, err := objectPath(api.PathSessionPolicies, id)
	if err != nil {
		return err
	}
	return deleteObject(ctx, c, p, version)
}

// --- sessions ---

// ListSessions returns one page of sessions; the filters are ANDed, and a
// comma-separated State means any of those states.
func (c *Client) ListSessions(ctx context.Context, p api.SessionListParams) (*api.Page[api.Session], error) {
	q := url.Values{}
	setString(q, "state", p.State)
	setString(q, "principal_id", p.PrincipalID)
	setString(q, "vault_account_id", p.VaultAccountID)
	setString(q, "session_policy_id", p.SessionPolicyID)
	setString(q, "started_after", p.StartedAfter)
	return listPage[api.Session](ctx, c, api.PathSessions, q, p.PageSize, p.PageToken)
}

// GetSession returns the session with id; ErrNotFound if there is none.
func (c *Client) GetSession(ctx context.Context, id string) (*api.Session, error) {
	p, err := objectPath(api.PathSessions, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.Session](ctx, c, p, nil)
}

// TerminateSession asks the gateway to cut a live session (administrators)
// and returns the session as pamd now has it (terminating or terminated). A
// session that already ended is 409 invalid_state_transition.
func (c *Client) TerminateSession(ctx context.Context, id, reason string) (*api.Session, error) {
	p, err := objectPath(api.PathSessions, id)
	if err != nil {
		return nil, err
	}
	var out api.Session
	body := api.SessionTerminateRequest{Reason: reason}
	if err := c.do(ctx, request{method: http.MethodPost, path: p + "/" + api.ActionTerminate, body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
