package client

import (
	"context"
	"net/url"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func TestRotationRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cron := "0 2 * * SUN"
	in := api.RotationScheduleInput{Name: "weekly", Cron: &cron, TimeZone: "Europe/Berlin"}

	runVaultCases(t, []vaultCase{
		{"CreateRotationSchedule", func(c *Client) error { _, err := c.CreateRotationSchedule(ctx, in); return err },
			vaultWant{method: "POST", path: "/v1/rotation_schedules", key: true, body: `"cron":"0 2 * * SUN"`}},
		{"GetRotationSchedule", func(c *Client) error { _, err := c.GetRotationSchedule(ctx, "rot_1"); return err },
			vaultWant{method: "GET", path: "/v1/rotation_schedules/rot_1"}},
		{"FindRotationScheduleByName", func(c *Client) error { _, err := c.FindRotationScheduleByName(ctx, "weekly"); return err },
			vaultWant{method: "GET", path: "/v1/rotation_schedules", query: url.Values{"name": {"weekly"}, "page_size": {"1"}}}},
		{"ListRotationSchedules", func(c *Client) error {
			_, err := c.ListRotationSchedules(ctx, api.RotationScheduleListParams{Name: "weekly", PageSize: 2})
			return err
		}, vaultWant{method: "GET", path: "/v1/rotation_schedules", query: url.Values{"name": {"weekly"}, "page_size": {"2"}}}},
		{"UpdateRotationSchedule", func(c *Client) error { _, err := c.UpdateRotationSchedule(ctx, "rot_1", 6, in); return err },
			vaultWant{method: "PUT", path: "/v1/rotation_schedules/rot_1", ifMatch: `"6"`, body: `"time_zone":"Europe/Berlin"`, key: true}},
		{"DeleteRotationSchedule", func(c *Client) error { return c.DeleteRotationSchedule(ctx, "rot_1", 7) },
			vaultWant{method: "DELETE", path: "/v1/rotation_schedules/rot_1", ifMatch: `"7"`}},
		{"PreviewRotationSchedule", func(c *Client) error { _, err := c.PreviewRotationSchedule(ctx, "rot_1", 10); return err },
			vaultWant{method: "GET", path: "/v1/rotation_schedules/rot_1/preview", query: url.Values{"count": {"10"}}}},
		{"PreviewRotationScheduleDefaultCount", func(c *Client) error { _, err := c.PreviewRotationSchedule(ctx, "rot_1", 0); return err },
			vaultWant{method: "GET", path: "/v1/rotation_schedules/rot_1/preview"}},
		{"RunRotationSchedule", func(c *Client) error { _, err := c.RunRotationSchedule(ctx, "rot_1"); return err },
			vaultWant{method: "POST", path: "/v1/rotation_schedules/rot_1/run", key: true}},
		{"GetOperation", func(c *Client) error { _, err := c.GetOperation(ctx, "op_1"); return err },
			vaultWant{method: "GET", path: "/v1/operations/op_1"}},
		{"RotateVaultAccount", func(c *Client) error { _, err := c.RotateVaultAccount(ctx, "acct_1"); return err },
			vaultWant{method: "POST", path: "/v1/vault_accounts/acct_1/rotate", key: true}},
		{"VerifyVaultAccount", func(c *Client) error { _, err := c.VerifyVaultAccount(ctx, "acct_1"); return err },
			vaultWant{method: "POST", path: "/v1/vault_accounts/acct_1/verify", key: true}},
	})
}

func TestPreviewRotationScheduleRejectsBadCount(t *testing.T) {
	t.Parallel()
	fs := pimServer(t)
	c := newTestClient(t, fs.URL)
	for _, n := range []int{-1, api.MaxRotationPreviewCount + 1} {
		if _, err := c.PreviewRotationSchedule(context.Background(), "rot_1", n); err == nil {
			t.Errorf("count %d accepted", n)
		}
	}
	if n := len(fs.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}
