package client

import (
	"context"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// CreateSSHKey registers a public key for the calling token (keyed,
// retry-safe). A registered fingerprint is 409 already_exists.
func (c *Client) CreateSSHKey(ctx context.Context, in api.SSHKeyInput) (*api.SSHKey, error) {
	return createJSON[api.SSHKey](ctx, c, api.PathSSHKeys, in)
}

// ListSSHKeys returns one page of the caller's keys (every key for admin
// and security).
func (c *Client) ListSSHKeys(ctx context.Context, p api.SSHKeyListParams) (*api.Page[api.SSHKey], error) {
	return listPage[api.SSHKey](ctx, c, api.PathSSHKeys, nil, p.PageSize, p.PageToken)
}

// DeleteSSHKey removes a registered key; ErrNotFound if there is none.
func (c *Client) DeleteSSHKey(ctx context.Context, id string) error {
	p, err := objectPath(api.PathSSHKeys, id)
	if err != nil {
		return err
	}
	return deleteObject(ctx, c, p, 0)
}
