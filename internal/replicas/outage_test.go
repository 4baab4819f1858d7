package replicas_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

// TestDatabaseOutageAnswers503: while PostgreSQL refuses pamd's
// connections (sessions killed, new ones refused), the API answers 503 with
// Retry-After and writes nothing; once it is back, the same request works.
func TestDatabaseOutageAnswers503(t *testing.T) {
	c := startCluster(t, 1)
	admin := testdb.SQLDB(t, testdb.PostgresDSN(t))
	u, _ := url.Parse(c.dsn)
	name := strings.TrimPrefix(u.Path, "/")
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := admin.ExecContext(context.Background(), q, args...); err != nil {
			t.Fatal(err)
		}
	}
	post := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, c.nodes[0].URL()+api.PathRoles,
			strings.NewReader(`{"name":"during-outage","description":"d","assignable_scopes":["/"]}`))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	exec(`ALTER DATABASE "` + name + `" WITH ALLOW_CONNECTIONS false`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name)
	resp := post()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("during the outage: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	exec(`ALTER DATABASE "` + name + `" WITH ALLOW_CONNECTIONS true`)
	if resp := post(); resp.StatusCode != http.StatusCreated {
		t.Fatalf("after the outage: %d, want 201", resp.StatusCode)
	}
	var n int
	db := testdb.SQLDB(t, c.dsn)
	if err := db.QueryRow(`SELECT COUNT(*) FROM roles WHERE name = 'during-outage'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d roles named during-outage, %v", n, err)
	}
	c.verifyAudit()
}
