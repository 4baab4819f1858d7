package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Rotation methods (API.md §7.8, §6.10): rotation schedules are configuration
// objects with the usual CRUD plus a preview of their next fire times;
// rotate, verify and schedule runs are asynchronous operations.
//
// Retry policy: GET, PUT, DELETE and creates (keyed) retry on transport
// errors and 5xx. Rotate and run carry an Idempotency-Key (the server requires
// one on rotate), so a retry after a lost response replays rather than
// rotating twice.

// CreateRotationSchedule creates a rotation schedule (keyed, retry-safe).
func (c *Client) CreateRotationSchedule(ctx context.Context, in api.RotationScheduleInput) (*api.RotationSchedule, error) {
	return createJSON[api.RotationSchedule](ctx, c, api.PathRotationSchedules, in)
}

// GetRotationSchedule returns the schedule with id; ErrNotFound if none.
func (c *Client) GetRotationSchedule(ctx context.Context, id string) (*api.RotationSchedule, error) {
	p, err := objectPath(api.PathRotationSchedules, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.RotationSchedule](ctx, c, p, nil)
}

// FindRotationScheduleByName returns the schedule named name; ErrNotFound if none.
func (c *Client) FindRotationScheduleByName(ctx context.Context, name string) (*api.RotationSchedule, error) {
	return findOne[api.RotationSchedule](ctx, c, api.PathRotationSchedules, url.Values{"name": {name}})
}

// ListRotationSchedules returns one page of rotation schedules.
func (c *Client) ListRotationSchedules(ctx context.Context, p api.RotationScheduleListParams) (*api.Page[api.RotationSchedule], error) {
	q := url.Values{}
	setString(q, "name", p.Name)
	return listPage[api.RotationSchedule](ctx, c, api.PathRotationSchedules, q, p.PageSize, p.PageToken)
}

// UpdateRotationSchedule replaces the schedule, conditional on version
// (If-Match) when version > 0: ErrPreconditionFailed if it changed since.
func (c *Client) UpdateRotationSchedule(ctx context.Context, id string, version int64, in api.RotationScheduleInput) (*api.RotationSchedule, error) {
	p, err := objectPath(api.PathRotationSchedules, id)
	if err != nil {
		return nil, err
	}
	return replaceJSON[api.RotationSchedule](ctx, c, p, version, in)
}

// DeleteRotationSchedule deletes the schedule, conditional on version when
// > 0. The server refuses with 409 in_use while accounts reference it.
func (c *Client) DeleteRotationSchedule(ctx context.Context, id string, version int64) error {
	p, err := objectPath(api.PathRotationSchedules, id)
	if err != nil {
		return err
	}
	return deleteObject(ctx, c, p, version)
}

// PreviewRotationSchedule returns the next count fire times of the schedule
// (count 0 takes the server default, at most api.MaxRotationPreviewCount).
func (c *Client) PreviewRotationSchedule(ctx context.Context, id string, count int) (*api.RotationPreview, error) {
	p, err := objectPath(api.PathRotationSchedules, id)
	if err != nil {
		return nil, err
	}
	if count < 0 || count > api.MaxRotationPreviewCount {
		return nil, fmt.Errorf("preview count %d must be between 0 and %d", count, api.MaxRotationPreviewCount)
	}
	var q url.Values
	if count > 0 {
		q = url.Values{"count": {fmt.Sprint(count)}}
	}
	return getJSON[api.RotationPreview](ctx, c, p+"/"+api.SubPreview, q)
}

// RunRotationSchedule starts a rotation of every account of the schedule and
// returns the queued operation (keyed, retry-safe).
func (c *Client) RunRotationSchedule(ctx context.Context, id string) (*api.Operation, error) {
	p, err := objectPath(api.PathRotationSchedules, id)
	if err != nil {
		return nil, err
	}
	return createJSON[api.Operation](ctx, c, p+"/"+api.ActionRun, struct{}{})
}

// GetOperation returns the asynchronous operation with id.
func (c *Client) GetOperation(ctx context.Context, id string) (*api.Operation, error) {
	p, err := objectPath(api.PathOperations, id)
	if err != nil {
		return nil, err
	}
	return getJSON[api.Operation](ctx, c, p, nil)
}

// RotateVaultAccount starts a rotation of the account now and returns the
// queued operation (keyed, retry-safe: a retry replays instead of rotating twice).
func (c *Client) RotateVaultAccount(ctx context.Context, id string) (*api.Operation, error) {
	return c.accountAction(ctx, id, api.ActionRotate)
}

// VerifyVaultAccount starts a verification of the stored secret against the
// target and returns the queued operation (keyed, retry-safe).
func (c *Client) VerifyVaultAccount(ctx context.Context, id string) (*api.Operation, error) {
	return c.accountAction(ctx, id, api.ActionVerify)
}

func (c *Client) accountAction(ctx context.Context, id, action string) (*api.Operation, error) {
	p, err := objectPath(api.PathVaultAccountsCollection, id)
	if err != nil {
		return nil, err
	}
	return createJSON[api.Operation](ctx, c, p+"/"+action, struct{}{})
}
