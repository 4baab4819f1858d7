package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

type vaultWant struct {
	method, path string
	query        url.Values // nil means no query at all
	ifMatch      string     // "" means the header must be absent
	key          bool       // Idempotency-Key present
	body         string     // substring of the body
}

type vaultCase struct {
	name string
	call func(c *Client) error
	want vaultWant
}

func runVaultCases(t *testing.T, cases []vaultCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := pimServer(t)
			c := newTestClient(t, fs.URL)
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			reqs := fs.requests()
			if len(reqs) != 1 {
				t.Fatalf("requests = %d, want 1", len(reqs))
			}
			got := reqs[0]
			if got.method != tc.want.method || got.path != tc.want.path {
				t.Errorf("request = %s %s, want %s %s", got.method, got.path, tc.want.method, tc.want.path)
			}
			q, err := url.ParseQuery(got.query)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.query == nil {
				if got.query != "" {
					t.Errorf("query = %q, want none", got.query)
				}
			} else if q.Encode() != tc.want.query.Encode() {
				t.Errorf("query = %q, want %q", q.Encode(), tc.want.query.Encode())
			}
			if im := got.header.Get(api.HeaderIfMatch); im != tc.want.ifMatch {
				t.Errorf("If-Match = %q, want %q", im, tc.want.ifMatch)
			}
			if key := got.header.Get(api.HeaderIdempotencyKey); (key != "") != tc.want.key {
				t.Errorf("Idempotency-Key = %q, want present=%v", key, tc.want.key)
			}
			if !strings.Contains(got.body, tc.want.body) {
				t.Errorf("body = %q, want it to contain %q", got.body, tc.want.body)
			}
		})
	}
}

func TestVaultRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	safe := api.SafeInput{Name: "prod-db", Members: []api.SafeMember{{PrincipalType: "group", PrincipalID: "dba", Permissions: []string{"checkout"}}}}
	acct := api.VaultAccountInput{Name: "pg-admin", SafeID: "safe_1", Platform: api.PlatformPostgreSQL, Username: "pgadmin"}
	withSecret := acct
	withSecret.Secret = "s3cr3t"

	runVaultCases(t, []vaultCase{
		{"CreateSafe", func(c *Client) error { _, err := c.CreateSafe(ctx, safe); return err },
			vaultWant{method: "POST", path: "/v1/safes", key: true, body: `"principal_id":"dba"`}},
		{"GetSafe", func(c *Client) error { _, err := c.GetSafe(ctx, "safe_1"); return err },
			vaultWant{method: "GET", path: "/v1/safes/safe_1"}},
		{"FindSafeByName", func(c *Client) error { _, err := c.FindSafeByName(ctx, "prod-db"); return err },
			vaultWant{method: "GET", path: "/v1/safes", query: url.Values{"name": {"prod-db"}, "page_size": {"1"}}}},
		{"ListSafes", func(c *Client) error {
			_, err := c.ListSafes(ctx, api.SafeListParams{PageSize: 3, PageToken: "t"})
			return err
		},
			vaultWant{method: "GET", path: "/v1/safes", query: url.Values{"page_size": {"3"}, "page_token": {"t"}}}},
		{"UpdateSafe", func(c *Client) error { _, err := c.UpdateSafe(ctx, "safe_1", 2, safe); return err },
			vaultWant{method: "PUT", path: "/v1/safes/safe_1", ifMatch: `"2"`, body: `"name":"prod-db"`, key: true}},
		{"DeleteSafe", func(c *Client) error { return c.DeleteSafe(ctx, "safe_1", 3) },
			vaultWant{method: "DELETE", path: "/v1/safes/safe_1", ifMatch: `"3"`}},

		{"CreateVaultAccount", func(c *Client) error { _, err := c.CreateVaultAccount(ctx, withSecret); return err },
			vaultWant{method: "POST", path: "/v1/vault_accounts", key: true, body: `"secret":"s3cr3t"`}},
		{"GetVaultAccount", func(c *Client) error { _, err := c.GetVaultAccount(ctx, "acct_1"); return err },
			vaultWant{method: "GET", path: "/v1/vault_accounts/acct_1"}},
		{"FindVaultAccountByName", func(c *Client) error { _, err := c.FindVaultAccountByName(ctx, "safe_1", "pg-admin"); return err },
			vaultWant{method: "GET", path: "/v1/vault_accounts", query: url.Values{"safe_id": {"safe_1"}, "name": {"pg-admin"}, "page_size": {"1"}}}},
		{"ListVaultAccounts", func(c *Client) error {
			_, err := c.ListVaultAccounts(ctx, api.VaultAccountListParams{SafeID: "safe_1", Platform: "generic", PageSize: 9})
			return err
		}, vaultWant{method: "GET", path: "/v1/vault_accounts", query: url.Values{"safe_id": {"safe_1"}, "platform": {"generic"}, "page_size": {"9"}}}},
		// Without a secret the member is omitted, so pamd keeps the stored one.
		{"UpdateVaultAccountKeepsSecret", func(c *Client) error { _, err := c.UpdateVaultAccount(ctx, "acct_1", 4, acct); return err },
			vaultWant{method: "PUT", path: "/v1/vault_accounts/acct_1", ifMatch: `"4"`, body: `"username":"pgadmin"`, key: true}},
		{"DeleteVaultAccount", func(c *Client) error { return c.DeleteVaultAccount(ctx, "acct_1", 5) },
			vaultWant{method: "DELETE", path: "/v1/vault_accounts/acct_1", ifMatch: `"5"`}},
		{"ListSecretVersions", func(c *Client) error { _, err := c.ListSecretVersions(ctx, "acct_1"); return err },
			vaultWant{method: "GET", path: "/v1/vault_accounts/acct_1/secret_versions"}},

		{"CreateCheckout", func(c *Client) error {
			_, err := c.CreateCheckout(ctx, "acct_1", api.CheckoutRequest{DurationSeconds: 600, Justification: "INC-1"})
			return err
		}, vaultWant{method: "POST", path: "/v1/vault_accounts/acct_1/checkouts", key: true, body: `{"duration_seconds":600,"justification":"INC-1"}`}},
		{"GetCheckout", func(c *Client) error { _, err := c.GetCheckout(ctx, "chk_1"); return err },
			vaultWant{method: "GET", path: "/v1/checkouts/chk_1"}},
		{"ListCheckouts", func(c *Client) error {
			_, err := c.ListCheckouts(ctx, api.CheckoutListParams{AccountID: "acct_1", Holder: "user:alice", State: "active"})
			return err
		}, vaultWant{method: "GET", path: "/v1/checkouts", query: url.Values{"account_id": {"acct_1"}, "holder": {"user:alice"}, "state": {"active"}}}},
		{"GetCheckoutSecret", func(c *Client) error { _, err := c.GetCheckoutSecret(ctx, "chk_1"); return err },
			vaultWant{method: "GET", path: "/v1/checkouts/chk_1/secret"}},
		{"CheckinCheckout", func(c *Client) error { _, err := c.CheckinCheckout(ctx, "chk_1", "done"); return err },
			vaultWant{method: "POST", path: "/v1/checkouts/chk_1/checkin", body: `{"reason":"done"}`}},
		{"ExtendCheckout", func(c *Client) error {
			_, err := c.ExtendCheckout(ctx, "chk_1", api.CheckoutExtendRequest{AdditionalSeconds: 300})
			return err
		}, vaultWant{method: "POST", path: "/v1/checkouts/chk_1/extend", body: `{"additional_seconds":300}`}},
		{"RevokeCheckout", func(c *Client) error { _, err := c.RevokeCheckout(ctx, "chk_1", ""); return err },
			vaultWant{method: "POST", path: "/v1/checkouts/chk_1/revoke", body: `{}`}},
	})
}

func TestUpdateVaultAccountWithoutSecretOmitsIt(t *testing.T) {
	t.Parallel()
	fs := pimServer(t)
	c := newTestClient(t, fs.URL)
	if _, err := c.UpdateVaultAccount(context.Background(), "acct_1", 1, api.VaultAccountInput{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if body := fs.requests()[0].body; strings.Contains(body, `"secret"`) {
		t.Fatalf("body %s carries a secret member", body)
	}
}

func TestFindVaultAccountByNameNeedsSafe(t *testing.T) {
	t.Parallel()
	fs := pimServer(t)
	c := newTestClient(t, fs.URL)
	if _, err := c.FindVaultAccountByName(context.Background(), "", "x"); err == nil {
		t.Fatal("no error without a safe id")
	}
	if n := len(fs.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// Neither the secret sent with an account nor the one read from a checkout
// reaches the logs, even at TRACE where bodies are logged.
func TestVaultSecretsNeverLogged(t *testing.T) {
	t.Setenv("TF_LOG_PROVIDER_PAM_API", "TRACE")
	const (
		sentSecret = "sent-Secret-9f3a1c-never-logged"
		readSecret = "read-Secret-77b2e0-never-logged\nwith a second line"
	)
	exp := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	fs := newFaultServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/"+api.SegmentSecret) {
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(api.CheckoutSecret{CheckoutID: "chk_1", AccountID: "acct_1", SecretType: api.SecretTypePassword,
				Username: "pgadmin", Secret: readSecret, SecretVersion: 3, ExpiresAt: exp})
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"acct_1","secret_version":1}`))
	})
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	c := newTestClient(t, fs.URL)

	if _, err := c.CreateVaultAccount(ctx, api.VaultAccountInput{Name: "a", SafeID: "safe_1", Secret: sentSecret}); err != nil {
		t.Fatal(err)
	}
	sec, err := c.GetCheckoutSecret(ctx, "chk_1")
	if err != nil {
		t.Fatal(err)
	}
	if sec.Secret != readSecret || sec.SecretVersion != 3 || !sec.ExpiresAt.Equal(exp) {
		t.Fatalf("decoded %+v", sec)
	}
	if !strings.Contains(fs.requests()[0].body, sentSecret) {
		t.Fatal("the secret was not sent")
	}
	out := buf.String()
	if !strings.Contains(out, "Response body") || !strings.Contains(out, "Request body") {
		t.Fatalf("bodies were not logged at TRACE, so masking is untested:\n%s", out)
	}
	for _, leak := range []string{sentSecret, "read-Secret-77b2e0", testToken} {
		if strings.Contains(out, leak) {
			t.Errorf("%q leaked into logs:\n%s", leak, out)
		}
	}
}
