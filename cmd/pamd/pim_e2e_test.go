package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
)

// TestElevateApproveEndToEnd drives the PIM CLI against a real daemon: an admin
// sets up a role, a policy with one approval stage naming user:bob and an
// eligibility for user:alice; alice elevates, bob approves, and the active
// listing shows the elevation with its approver.
func TestElevateApproveEndToEnd(t *testing.T) {
	pinNow(t)
	nowFunc = time.Now
	ctx := context.Background()
	const adminToken = "pamd_test_pim_e2e_admin_token"
	d, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "pamd.db"), BootstrapToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	admin, err := client.New(client.Config{Endpoint: d.URL(), Token: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ListElevations(ctx, api.ElevationListParams{}); errors.Is(err, client.ErrNotFound) {
		t.Skip("this pamd does not serve /v1/elevations yet")
	}

	role, err := admin.CreateRole(ctx, api.RoleInput{Name: "db-admin", AssignableScopes: []string{"/orgs/acme"}})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := admin.CreateActivationPolicy(ctx, api.ActivationPolicyInput{Name: "prod", ActivationRules: api.ActivationRules{
		MaxActivationSeconds: 7200, DefaultActivationSeconds: 3600, RequireJustification: true,
		EligibilityConstraints: api.EligibilityConstraints{AllowPermanent: true},
		Approval: &api.Approval{Stages: []api.ApprovalStage{{
			Approvers: []api.Principal{{Type: api.PrincipalTypeUser, ID: "bob"}}, ApprovalsNeeded: 1,
		}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	era, err := admin.CreateEligibleRoleAssignment(ctx, api.EligibleRoleAssignmentInput{
		PrincipalType: api.PrincipalTypeUser, PrincipalID: "alice", RoleID: role.ID, Scope: "/orgs/acme", ActivationPolicyID: policy.ID,
	})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := d.IssueToken(ctx, "user:alice", nil, []string{api.ServerRoleRequester})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := d.IssueToken(ctx, "user:bob", nil, []string{api.ServerRoleApprover})
	if err != nil {
		t.Fatal(err)
	}
	ep := []string{"--endpoint", d.URL()}

	// A dry run without the required justification shows the violation.
	t.Setenv("PAM_TOKEN", alice)
	out, _, err := run(t, append([]string{"elevate", "--role", "db-admin", "--scope", "/orgs/acme", "--dry-run"}, ep...)...)
	if err == nil || !strings.Contains(out, "Violations:") {
		t.Fatalf("dry run without justification: %q, %v", out, err)
	}
	t.Logf("pamd elevate --dry-run:\n%s\nerror: %v", out, err)

	// Alice elevates by role name and scope, as JSON.
	out, _, err = run(t, append([]string{"elevate", "--role", "db-admin", "--scope", "/orgs/acme", "--duration", "30m",
		"--justification", "INC-4711 failover", "--ticket", "jira:INC-4711", "--json"}, ep...)...)
	if err != nil {
		t.Fatal(err)
	}
	var el api.Elevation
	if err := json.Unmarshal([]byte(out), &el); err != nil {
		t.Fatalf("elevate --json %q: %v", out, err)
	}
	if el.State != api.StatePendingApproval || el.EligibleRoleAssignmentID != era.ID || el.RequestedDurationSeconds != 1800 {
		t.Fatalf("elevation = %+v", el)
	}
	// Alice cannot approve her own request, and sees why.
	if _, _, err := run(t, append([]string{"approve", el.ID, "--reason", "me"}, ep...)...); err == nil {
		t.Fatal("self-approval succeeded")
	} else if t.Logf("pamd approve (self):\n%v", err); !strings.Contains(err.Error(), "(403") {
		t.Errorf("self-approval error: %v", err)
	}

	// Bob sees it in his inbox and approves it.
	t.Setenv("PAM_TOKEN", bob)
	out, _, err = run(t, append([]string{"approvals", "list"}, ep...)...)
	if err != nil || !strings.Contains(out, el.ID) || !strings.Contains(out, "user:alice") {
		t.Fatalf("approvals list: %q, %v", out, err)
	}
	t.Logf("pamd approvals list:\n%s", out)
	out, _, err = run(t, append([]string{"approve", el.ID, "--reason", "INC verified"}, ep...)...)
	if err != nil || !strings.Contains(out, "active until") {
		t.Fatalf("approve: %q, %v", out, err)
	}
	out, _, err = run(t, append([]string{"approvals", "list"}, ep...)...)
	if err != nil || strings.Contains(out, el.ID) {
		t.Fatalf("approvals list after deciding: %q, %v", out, err)
	}

	// The active listing shows it with its approver, as a table and as JSON.
	t.Setenv("PAM_TOKEN", adminToken)
	out, _, err = run(t, append([]string{"elevations", "list", "--active"}, ep...)...)
	if err != nil || !strings.Contains(out, el.ID) || !strings.Contains(out, "user:bob") || !strings.Contains(out, "INC-4711 failover") {
		t.Fatalf("elevations list --active:\n%s\n%v", out, err)
	}
	t.Logf("pamd elevations list --active:\n%s", out)
	out, _, err = run(t, append([]string{"elevations", "list", "--active", "--json"}, ep...)...)
	var active []api.ActiveElevation
	if err != nil || json.Unmarshal([]byte(out), &active) != nil || len(active) != 1 || active[0].ID != el.ID ||
		len(active[0].Approvals) != 1 || active[0].Approvals[0].Approver.ID != "bob" {
		t.Fatalf("elevations list --active --json: %q, %v", out, err)
	}

	// Alice sees it as hers, shows its timeline, and deactivates it.
	t.Setenv("PAM_TOKEN", alice)
	out, _, err = run(t, append([]string{"elevations", "list", "--active", "--mine"}, ep...)...)
	if err != nil || !strings.Contains(out, el.ID) || !strings.Contains(out, "user:bob") {
		t.Fatalf("elevations list --active --mine:\n%s\n%v", out, err)
	}
	out, _, err = run(t, append([]string{"elevations", "show", el.ID}, ep...)...)
	if err != nil || !strings.Contains(out, "Timeline:") || !strings.Contains(out, "approved by user:bob: INC verified") {
		t.Fatalf("elevations show:\n%s\n%v", out, err)
	}
	t.Logf("pamd elevations show:\n%s", out)
	out, _, err = run(t, append([]string{"deactivate", el.ID, "--reason", "done"}, ep...)...)
	if err != nil || !strings.Contains(out, api.StateDeactivated) {
		t.Fatalf("deactivate: %q, %v", out, err)
	}
	out, _, err = run(t, append([]string{"elevations", "list", "--active", "--json"}, ep...)...)
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("active after deactivate: %q, %v", out, err)
	}

	// --wait blocks until an approver (bob, through the client here) approves.
	bobClient, err := client.New(client.Config{Endpoint: d.URL(), Token: bob})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, _, err := run(t, append([]string{"elevate", "--eligibility", era.ID, "--justification", "second round", "--wait", "--timeout", "20s"}, ep...)...)
		done <- result{out, err}
	}()
	approved := false
	for deadline := time.Now().Add(15 * time.Second); !approved && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		page, err := bobClient.ListApprovalRequests(ctx, api.ApprovalRequestListParams{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Items {
			if _, err := bobClient.ApproveElevation(ctx, a.ID, "ok again"); err != nil {
				t.Fatal(err)
			}
			approved = true
		}
	}
	res := <-done
	if !approved || res.err != nil || !strings.Contains(res.out, "pending_approval") || !strings.Contains(res.out, ": active\n  active until") {
		t.Fatalf("elevate --wait (approved %v):\n%s\n%v", approved, res.out, res.err)
	}

	// The client calls the provider relies on, against the real server.
	if got, err := admin.FindEligibleRoleAssignment(ctx, api.PrincipalTypeUser, "alice", role.ID, "/orgs/acme"); err != nil || got.ID != era.ID {
		t.Fatalf("FindEligibleRoleAssignment = %+v, %v", got, err)
	}
	if _, err := admin.FindEligibleRoleAssignment(ctx, api.PrincipalTypeUser, "carol", role.ID, "/orgs/acme"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("FindEligibleRoleAssignment(carol) err = %v", err)
	}
	valid := api.EligibleRoleAssignmentInput{PrincipalType: api.PrincipalTypeUser, PrincipalID: "carol", RoleID: role.ID, Scope: "/orgs/acme", ActivationPolicyID: policy.ID}
	if err := admin.ValidateEligibleRoleAssignment(ctx, "", valid); err != nil {
		t.Fatalf("validate a valid create: %v", err)
	}
	bad := valid
	bad.Scope = "/orgs/other"
	var pe *client.ProblemError
	if err := admin.ValidateEligibleRoleAssignment(ctx, "", bad); !errors.As(err, &pe) || len(pe.Problem.Violations) == 0 {
		t.Fatalf("validate a scope outside the role: %v", err)
	}
	if _, err := admin.FindEligibleRoleAssignment(ctx, api.PrincipalTypeUser, "carol", role.ID, "/orgs/acme"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("validate_only wrote: %v", err)
	}
	if err := admin.DeleteEligibleRoleAssignment(ctx, era.ID, 0, false); client.ProblemCode(err) != api.CodeActiveElevationsExist {
		t.Fatalf("delete with an active elevation: %v", err)
	}
	if err := admin.DeleteEligibleRoleAssignment(ctx, era.ID, 0, true); err != nil {
		t.Fatalf("forced delete: %v", err)
	}
	page, err := admin.ListActiveElevations(ctx, api.ActiveElevationListParams{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("active after forced delete: %+v, %v", page, err)
	}
}
