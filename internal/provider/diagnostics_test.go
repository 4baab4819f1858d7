package provider

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

func TestPointerToAttributePath(t *testing.T) {
	t.Parallel()
	tests := map[string]path.Path{
		"/name":                path.Root("name"),
		"/labels/team":         path.Root("labels").AtMapKey("team"),
		"/labels/a~1b~0c":      path.Root("labels").AtMapKey("a/b~c"),
		"/assignable_scopes/3": path.Root("assignable_scopes"),
	}
	for ptr, want := range tests {
		got, ok := roleAttributePaths.pathFor(ptr)
		if !ok || !got.Equal(want) {
			t.Errorf("pathFor(%q) = %s, %v; want %s", ptr, got, ok, want)
		}
	}
	for _, ptr := range []string{"", "name", "/unknown", "query:name"} {
		if _, ok := roleAttributePaths.pathFor(ptr); ok {
			t.Errorf("pathFor(%q) matched, want no attribute", ptr)
		}
	}
	list := attributePaths{"stages": pointerList}
	if got, _ := list.pathFor("/stages/2/x"); !got.Equal(path.Root("stages").AtListIndex(2)) {
		t.Errorf("list pointer = %s", got)
	}
}

func TestClientErrorDiagnostics(t *testing.T) {
	t.Parallel()
	c, err := client.New(client.Config{Endpoint: "http://pamd.test:8443", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	op := operation{"Create", "role"}

	t.Run("violations land on attributes", func(t *testing.T) {
		var d diag.Diagnostics
		addClientError(&d, c, op, roleAttributePaths, &client.ProblemError{Problem: api.Problem{
			Status: 400, Code: api.CodeValidationFailed, Title: "Request is not valid", RequestID: "req_9",
			Violations: []api.Violation{
				{Pointer: "/labels/Bad", Message: "label key must be lowercase"},
				{Pointer: "/assignable_scopes/0", Message: "scope must be a path"},
			},
		}})
		if len(d) != 2 {
			t.Fatalf("diagnostics = %v, want 2 attribute errors", d)
		}
		var paths []string
		for _, x := range d {
			wp, ok := x.(diag.DiagnosticWithPath)
			if !ok {
				t.Fatalf("diagnostic %q has no path", x.Summary())
			}
			paths = append(paths, wp.Path().String())
			if !strings.Contains(x.Detail(), "req_9") {
				t.Errorf("detail lacks the request id: %q", x.Detail())
			}
		}
		if strings.Join(paths, ",") != `labels["Bad"],assignable_scopes` {
			t.Errorf("paths = %v", paths)
		}
	})
	t.Run("unplaced violations are listed with the server message last", func(t *testing.T) {
		var d diag.Diagnostics
		addClientError(&d, c, op, roleAttributePaths, &client.ProblemError{Problem: api.Problem{
			Status: 422, Code: "policy_violation", Title: "Request violates policy", Detail: "1 rule failed",
			Violations: []api.Violation{{Rule: "max_roles", Message: "too many roles"}},
		}})
		if len(d) != 1 || d[0].Summary() != "Unable to Create Role" {
			t.Fatalf("diagnostics = %v", d)
		}
		det := d[0].Detail()
		if !strings.Contains(det, "max_roles: too many roles") || !strings.HasSuffix(det, "(status 422, code policy_violation)") ||
			!strings.Contains(det, "Server message: Request violates policy: 1 rule failed") {
			t.Errorf("detail = %q", det)
		}
	})
	t.Run("an applied request whose outcome was lost says to import it", func(t *testing.T) {
		var d diag.Diagnostics
		addClientError(&d, c, op, roleAttributePaths, &client.ProblemError{Problem: api.Problem{
			Status: 409, Code: api.CodeIdempotencyOutcomeLost, Title: "Request with this idempotency key was applied but its response was lost",
			Detail: `the request with this idempotency key was applied to ssh_key "sshk_1"`, RequestID: "req_7",
		}})
		if len(d) != 1 || d[0].Summary() != "Unable to Create Role" {
			t.Fatalf("diagnostics = %v", d)
		}
		det := d[0].Detail()
		if !strings.Contains(det, "idempotency_outcome_lost") || !strings.Contains(det, "import") ||
			!strings.Contains(det, `ssh_key "sshk_1"`) || !strings.Contains(det, "req_7") {
			t.Errorf("detail = %q", det)
		}
	})
	t.Run("unreachable server names the endpoint", func(t *testing.T) {
		var d diag.Diagnostics
		addClientError(&d, c, op, roleAttributePaths, &client.ConnectionError{
			Endpoint: c.Endpoint(), Attempts: 5, Err: errors.New("connection refused")})
		if len(d) != 1 || d[0].Summary() != "Cannot Reach pamd" ||
			!strings.Contains(d[0].Detail(), "http://pamd.test:8443") || !strings.Contains(d[0].Detail(), "connection refused") {
			t.Errorf("diagnostics = %v", d)
		}
	})
	t.Run("wrong token blames the token", func(t *testing.T) {
		var d diag.Diagnostics
		addClientError(&d, c, op, roleAttributePaths, &client.ProblemError{Problem: api.Problem{Status: 401, Code: api.CodeUnauthenticated, Title: "Authentication required"}})
		wp, ok := d[0].(diag.DiagnosticWithPath)
		if !ok || !wp.Path().Equal(path.Root("token")) || !strings.Contains(d[0].Detail(), EnvToken) {
			t.Errorf("diagnostics = %v", d)
		}
	})
	t.Run("timeouts", func(t *testing.T) {
		var d diag.Diagnostics
		addClientError(&d, c, op, roleAttributePaths, context.DeadlineExceeded)
		if len(d) != 1 || !strings.Contains(d[0].Detail(), "timed out") {
			t.Errorf("diagnostics = %v", d)
		}
	})
}

func TestRoleDiagnosticDetails(t *testing.T) {
	t.Parallel()
	det := alreadyExistsDetail("db-admin", api.Problem{Status: 409, Code: api.CodeAlreadyExists, Title: "Already exists", ExistingID: "role_01ABC"})
	for _, want := range []string{"terraform import pam_role.<name> role_01ABC", `id = "role_01ABC"`, `"db-admin"`, "Server message: Already exists"} {
		if !strings.Contains(det, want) {
			t.Errorf("already-exists detail lacks %q:\n%s", want, det)
		}
	}
	v := int64(4)
	var diags diag.Diagnostics
	addStale(&diags, "Role", "update", "role_01ABC", 3, api.Problem{Status: 412, Code: api.CodeEtagMismatch, Title: "Version mismatch", CurrentVersion: &v})
	if len(diags) != 1 || diags[0].Summary() != "Role Changed Outside Terraform" {
		t.Fatalf("stale diagnostics = %v", diags)
	}
	det = diags[0].Detail()
	for _, want := range []string{"update role role_01ABC", "changed outside Terraform since the last refresh", "version 3", "now version 4", "terraform apply -refresh-only"} {
		if !strings.Contains(det, want) {
			t.Errorf("stale-version detail lacks %q:\n%s", want, det)
		}
	}
	diags = nil
	addGoneOnUpdate(&diags, "Vault Account", "acct_01ABC", api.Problem{Status: 404, Code: api.CodeNotFound, Title: "Not found"})
	if len(diags) != 1 || diags[0].Summary() != "Vault Account Deleted Outside Terraform" ||
		!strings.Contains(diags[0].Detail(), "update vault account acct_01ABC") {
		t.Fatalf("gone-on-update diagnostics = %v", diags)
	}
}
