package client

import (
	"context"
	"net/url"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func TestSessionRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := api.SessionPolicyInput{
		Name: "prod-ssh",
		CommandFilter: api.CommandFilter{DefaultAction: "deny", Rules: []api.CommandFilterRule{
			{Match: "prefix", Pattern: "ls", Action: "allow"},
			{Match: "regex", Pattern: `^rm\s`, Action: "deny"},
		}},
	}

	runVaultCases(t, []vaultCase{
		{"CreateSessionPolicy", func(c *Client) error { _, err := c.CreateSessionPolicy(ctx, in); return err },
			// Rules travel in the order given.
			vaultWant{method: "POST", path: "/v1/session_policies", key: true,
				body: `"rules":[{"match":"prefix","pattern":"ls","action":"allow","description":""},{"match":"regex"`}},
		{"GetSessionPolicy", func(c *Client) error { _, err := c.GetSessionPolicy(ctx, "sesp_1"); return err },
			vaultWant{method: "GET", path: "/v1/session_policies/sesp_1"}},
		{"FindSessionPolicyByName", func(c *Client) error { _, err := c.FindSessionPolicyByName(ctx, "prod-ssh"); return err },
			vaultWant{method: "GET", path: "/v1/session_policies", query: url.Values{"name": {"prod-ssh"}, "page_size": {"1"}}}},
		{"ListSessionPolicies", func(c *Client) error {
			_, err := c.ListSessionPolicies(ctx, api.SessionPolicyListParams{Name: "prod-ssh", PageSize: 5, PageToken: "tok"})
			return err
		}, vaultWant{method: "GET", path: "/v1/session_policies", query: url.Values{"name": {"prod-ssh"}, "page_size": {"5"}, "page_token": {"tok"}}}},
		{"UpdateSessionPolicy", func(c *Client) error { _, err := c.UpdateSessionPolicy(ctx, "sesp_1", 3, in); return err },
			vaultWant{method: "PUT", path: "/v1/session_policies/sesp_1", ifMatch: `"3"`, body: `"default_action":"deny"`, key: true}},
		{"DeleteSessionPolicy", func(c *Client) error { return c.DeleteSessionPolicy(ctx, "sesp_1", 4) },
			vaultWant{method: "DELETE", path: "/v1/session_policies/sesp_1", ifMatch: `"4"`}},
		{"ListSessionsNoFilter", func(c *Client) error { _, err := c.ListSessions(ctx, api.SessionListParams{}); return err },
			vaultWant{method: "GET", path: "/v1/sessions", query: url.Values{}}},
		{"ListSessions", func(c *Client) error {
			_, err := c.ListSessions(ctx, api.SessionListParams{
				State: "active,terminated", PrincipalID: "user:alice", VaultAccountID: "acct_1", SessionPolicyID: "sesp_1",
				StartedAfter: "2025-05-01T00:00:00Z", PageSize: 100,
			})
			return err
		}, vaultWant{method: "GET", path: "/v1/sessions", query: url.Values{
			"state": {"active,terminated"}, "principal_id": {"user:alice"}, "vault_account_id": {"acct_1"},
			"session_policy_id": {"sesp_1"}, "started_after": {"2025-05-01T00:00:00Z"}, "page_size": {"100"},
		}}},
		{"GetSession", func(c *Client) error { _, err := c.GetSession(ctx, "ses_1"); return err },
			vaultWant{method: "GET", path: "/v1/sessions/ses_1"}},
		{"TerminateSession", func(c *Client) error { _, err := c.TerminateSession(ctx, "ses_1", "INC-42"); return err },
			vaultWant{method: "POST", path: "/v1/sessions/ses_1/terminate", body: `{"reason":"INC-42"}`}},
	})
}

func TestSessionMethodsRefuseEmptyID(t *testing.T) {
	t.Parallel()
	fs := pimServer(t)
	c := newTestClient(t, fs.URL)
	ctx := context.Background()
	calls := map[string]func() error{
		"GetSessionPolicy":    func() error { _, err := c.GetSessionPolicy(ctx, " "); return err },
		"UpdateSessionPolicy": func() error { _, err := c.UpdateSessionPolicy(ctx, "", 1, api.SessionPolicyInput{}); return err },
		"DeleteSessionPolicy": func() error { return c.DeleteSessionPolicy(ctx, "", 1) },
		"GetSession":          func() error { _, err := c.GetSession(ctx, ""); return err },
		"TerminateSession":    func() error { _, err := c.TerminateSession(ctx, "", "x"); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s accepted an empty id", name)
		}
	}
	if n := len(fs.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}
