package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
)

func TestRolesList(t *testing.T) {
	const token = "pamd_test_roles_list_admin_token"
	d, err := daemon.Start(context.Background(), daemon.Config{Listen: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "pamd.db"), BootstrapToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	c, err := client.New(client.Config{Endpoint: d.URL(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"db-admin", "k8s-admin"} {
		if _, err := c.CreateRole(context.Background(), api.RoleInput{Name: name, AssignableScopes: []string{"/orgs/acme"}, Labels: map[string]string{"team": "ops"}}); err != nil {
			t.Fatal(err)
		}
	}

	t.Setenv("PAM_TOKEN", "")
	if _, _, err := run(t, "roles", "list", "--endpoint", d.URL()); err == nil || !strings.Contains(err.Error(), "PAM_TOKEN") {
		t.Fatalf("without a token: %v", err)
	}

	t.Setenv("PAM_TOKEN", token)
	out, _, err := run(t, "roles", "list", "--endpoint", d.URL())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(out, "db-admin") || !strings.Contains(out, "team=ops") {
		t.Fatalf("table output:\n%s", out)
	}
	if strings.Contains(out, token) {
		t.Fatal("the token was printed")
	}

	out, _, err = run(t, "roles", "list", "--endpoint", d.URL(), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var roles []api.Role
	if err := json.Unmarshal([]byte(out), &roles); err != nil || len(roles) != 2 || roles[0].AssignableScopes[0] != "/orgs/acme" {
		t.Fatalf("json output %q: %v", out, err)
	}
}
