package client

import (
	"context"
	"net/url"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Health returns pamd's health; useful to check connectivity and credentials.
func (c *Client) Health(ctx context.Context) (*api.Health, error) {
	return getJSON[api.Health](ctx, c, api.PathHealth, nil)
}

// CreateRole creates a role. One Idempotency-Key is sent and reused on every
// retry, so a retried create never makes two roles.
func (c *Client) CreateRole(ctx context.Context, in api.RoleInput) (*api.Role, error) {
	return createJSON[api.Role](ctx, c, api.PathRoles, in)
}

// GetRole returns the role with id; ErrNotFound if there is none.
func (c *Client) GetRole(ctx context.Context, id string) (*api.Role, error) {
	p, err := objectPath(api.PathRoles, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.Role](ctx, c, p, nil)
}

// FindRoleByName returns the role named name; ErrNotFound if there is none.
func (c *Client) FindRoleByName(ctx context.Context, name string) (*api.Role, error) {
	return findOne[api.Role](ctx, c, api.PathRoles, url.Values{"name": {name}})
}

// ListRoles returns one page of roles.
func (c *Client) ListRoles(ctx context.Context, p api.RoleListParams) (*api.Page[api.Role], error) {
	q := url.Values{}
	if p.Name != "" {
		q.Set("name", p.Name)
	}
	return listPage[api.Role](ctx, c, api.PathRoles, q, p.PageSize, p.PageToken)
}

// UpdateRole replaces the role, conditional on version: ErrPreconditionFailed
// (code etag_mismatch) if the role changed since version was read.
func (c *Client) UpdateRole(ctx context.Context, id string, version int64, in api.RoleInput) (*api.Role, error) {
	p, err := objectPath(api.PathRoles, id)
	if err != nil {
		return nil, err
	}
	return replaceJSON[api.Role](ctx, c, p, version, in)
}

// DeleteRole deletes the role, conditional on version when version > 0.
func (c *Client) DeleteRole(ctx context.Context, id string, version int64) error {
	p, err := objectPath(api.PathRoles, id)
	if err != nil {
		return err
	}
	return deleteObject(ctx, c, p, version)
}
