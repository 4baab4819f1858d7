package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Vault methods (API.md §7.6-7.7): safes and vault accounts are
// configuration objects with the usual CRUD; checkouts are lifecycle objects
// that are requested, read and ended.
//
// Secrets: a vault account's secret travels only inside VaultAccountInput
// (write-only, omitted when empty) and comes back only from
// GetCheckoutSecret. Neither is ever logged in clear: the TRACE body log masks
// every JSON member whose name contains "secret" (see secretPatterns), and
// GetCheckoutSecret's result must not be logged by callers either.
//
// Retry policy: GET, PUT, DELETE and keyed POSTs (creates, CreateCheckout)
// retry on transport errors and 5xx. Check-in, extend and revoke are POSTs
// without an Idempotency-Key, retried only on 429 and 503 (the server did not
// process them): a lost response to an extend must not extend twice.

// --- safes ---

// CreateSafe creates a safe (keyed, retry-safe). A duplicate name is 409
// already_exists with ExistingID.
func (c *Client) CreateSafe(ctx context.Context, in api.SafeInput) (*api.Safe, error) {
	return createJSON[api.Safe](ctx, c, api.PathSafes, in)
}

// GetSafe returns the safe with id; ErrNotFound if there is none.
func (c *Client) GetSafe(ctx context.Context, id string) (*api.Safe, error) {
	p, err := objectPath(api.PathSafes, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.Safe](ctx, c, p, nil)
}

// FindSafeByName returns the safe named name; ErrNotFound if there is none.
func (c *Client) FindSafeByName(ctx context.Context, name string) (*api.Safe, error) {
	return findOne[api.Safe](ctx, c, api.PathSafes, url.Values{"name": {name}})
}

// ListSafes returns one page of safes.
func (c *Client) ListSafes(ctx context.Context, p api.SafeListParams) (*api.Page[api.Safe], error) {
	q := url.Values{}
	setString(q, "name", p.Name)
	return listPage[api.Safe](ctx, c, api.PathSafes, q, p.PageSize, p.PageToken)
}

// UpdateSafe replaces the safe (members as a whole), conditional on version
// (If-Match) when version > 0: ErrPreconditionFailed if it changed since.
func (c *Client) UpdateSafe(ctx context.Context, id string, version int64, in api.SafeInput) (*api.Safe, error) {
	p, err := objectPath(api.PathSafes, id)
	if err != nil {
		return nil, err
	}
	return replaceJSON[api.Safe](ctx, c, p, version, in)
}

// DeleteSafe deletes the safe, conditional on version when > 0. The server
// refuses with 409 in_use while the safe holds accounts.
func (c *Client) DeleteSafe(ctx context.Context, id string, version int64) error {
	p, err := objectPath(api.PathSafes, id)
	if err != nil {
		return err
	}
	return deleteObject(ctx, c, p, version)
}

// --- vault accounts ---

// CreateVaultAccount creates an account (keyed, retry-safe) and sets its
// first secret when in.Secret is not empty. A duplicate name in the safe is
// 409 already_exists with ExistingID.
func (c *Client) CreateVaultAccount(ctx context.Context, in api.VaultAccountInput) (*api.VaultAccount, error) {
	return createJSON[api.VaultAccount](ctx, c, api.PathVaultAccounts, in)
}

// GetVaultAccount returns the account with id (never its secret); ErrNotFound
// if there is none.
func (c *Client) GetVaultAccount(ctx context.Context, id string) (*api.VaultAccount, error) {
	p, err := objectPath(api.PathVaultAccounts, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.VaultAccount](ctx, c, p, nil)
}

// FindVaultAccountByName returns the account named name in the safe;
// ErrNotFound if there is none. Names are unique per safe only, so the safe
// is required.
func (c *Client) FindVaultAccountByName(ctx context.Context, safeID, name string) (*api.VaultAccount, error) {
	if safeID == "" {
		return nil, errors.New("finding a vault account by name needs the safe id")
	}
	return findOne[api.VaultAccount](ctx, c, api.PathVaultAccounts, url.Values{"safe_id": {safeID}, "name": {name}})
}

// ListVaultAccounts returns one page of accounts.
func (c *Client) ListVaultAccounts(ctx context.Context, p api.VaultAccountListParams) (*api.Page[api.VaultAccount], error) {
	q := url.Values{}
	setString(q, "safe_id", p.SafeID)
	setString(q, "name", p.Name)
	setString(q, "platform", p.Platform)
	return listPage[api.VaultAccount](ctx, c, api.PathVaultAccounts, q, p.PageSize, p.PageToken)
}

// UpdateVaultAccount replaces the account, conditional on version (If-Match)
// when version > 0. An empty in.Secret keeps the stored secret; a non-empty
// one creates a new secret version. SafeID and Platform are immutable.
func (c *Client) UpdateVaultAccount(ctx context.Context, id string, version int64, in api.VaultAccountInput) (*api.VaultAccount, error) {
	p, err := objectPath(api.PathVaultAccounts, id)
	if err != nil {
		return nil, err
	}
	return replaceJSON[api.VaultAccount](ctx, c, p, version, in)
}

// DeleteVaultAccount deletes the account, conditional on version when > 0.
// The server refuses with 409 account_checked_out while a checkout is active.
func (c *Client) DeleteVaultAccount(ctx context.Context, id string, version int64) error {
	p, err := objectPath(api.PathVaultAccounts, id)
	if err != nil {
		return err
	}
	return deleteObject(ctx, c, p, version)
}

// ListSecretVersions returns the metadata (never the secrets) of the
// account's secret versions.
func (c *Client) ListSecretVersions(ctx context.Context, accountID string) (*api.Page[api.SecretVersion], error) {
	p, err := objectPath(api.PathVaultAccounts, accountID)
	if err != nil {
		return nil, err
	}
	return getJSON[api.Page[api.SecretVersion]](ctx, c, p+"/"+api.SegmentSecretVersions, nil)
}

// --- checkouts ---

// CreateCheckout checks the account out for the caller (keyed, retry-safe: a
// retry after a lost response replays the same checkout). An exclusive
// account held by someone else is 409 account_locked. The checkout never
// carries the secret; read it with GetCheckoutSecret.
func (c *Client) CreateCheckout(ctx context.Context, accountID string, in api.CheckoutRequest) (*api.Checkout, error) {
	p, err := objectPath(api.PathVaultAccounts, accountID)
	if err != nil {
		return nil, err
	}
	return createJSON[api.Checkout](ctx, c, p+"/"+api.SegmentCheckouts, in)
}

// GetCheckout returns the checkout with id; ErrNotFound if there is none.
func (c *Client) GetCheckout(ctx context.Context, id string) (*api.Checkout, error) {
	p, err := objectPath(api.PathCheckouts, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.Checkout](ctx, c, p, nil)
}

// ListCheckouts returns one page of checkouts.
func (c *Client) ListCheckouts(ctx context.Context, p api.CheckoutListParams) (*api.Page[api.Checkout], error) {
	q := url.Values{}
	setString(q, "account_id", p.AccountID)
	setString(q, "holder", p.Holder)
	setString(q, "state", p.State)
	return listPage[api.Checkout](ctx, c, api.PathCheckouts, q, p.PageSize, p.PageToken)
}

// GetCheckoutSecret reads the secret of the caller's active checkout. The
// result is plaintext: callers must not log it. 410 secret_no_longer_available
// once the checkout has ended; 403 for a non-holder or a connect-only account.
func (c *Client) GetCheckoutSecret(ctx context.Context, checkoutID string) (*api.CheckoutSecret, error) {
	p, err := objectPath(api.PathCheckouts, checkoutID)
	if err != nil {
		return nil, err
	}
	return getJSON[api.CheckoutSecret](ctx, c, p+"/"+api.SegmentSecret, nil)
}

// CheckinCheckout ends the caller's checkout. A checkout that already ended is
// 409 invalid_state_transition.
func (c *Client) CheckinCheckout(ctx context.Context, id, reason string) (*api.Checkout, error) {
	return c.checkoutAction(ctx, id, api.ActionCheckin, api.CheckoutActionRequest{Reason: reason})
}

// ExtendCheckout extends the checkout; the total may not exceed the policy's
// max_duration_seconds.
func (c *Client) ExtendCheckout(ctx context.Context, id string, in api.CheckoutExtendRequest) (*api.Checkout, error) {
	return c.checkoutAction(ctx, id, api.ActionExtend, in)
}

// RevokeCheckout ends someone's checkout (administrators).
func (c *Client) RevokeCheckout(ctx context.Context, id, reason string) (*api.Checkout, error) {
	return c.checkoutAction(ctx, id, api.ActionRevoke, api.CheckoutActionRequest{Reason: reason})
}

func (c *Client) checkoutAction(ctx context.Context, id, action string, body any) (*api.Checkout, error) {
	p, err := objectPath(api.PathCheckouts, id)
	if err != nil {
		return nil, err
	}
	var out api.Checkout
	if err := c.do(ctx, request{method: http.MethodPost, path: p + "/" + action, body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
