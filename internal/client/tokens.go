package client

import (
	"context"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// ListTokens returns one page of tokens: every token for admin, the caller's
// own otherwise. Never tokens or hashes.
func (c *Client) ListTokens(ctx context.Context, p api.TokenListParams) (*api.Page[api.Token], error) {
	return listPage[api.Token](ctx, c, api.PathTokens, nil, p.PageSize, p.PageToken)
}

// RevokeToken revokes a token and the step-up tokens minted from it;
// ErrNotFound if there is no such token (admin), ErrForbidden for someone
// else's token.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	p, err := objectPath(api.PathTokens, id)
	if err != nil {
		return err
	}
	return deleteObject(ctx, c, p, 0)
}
