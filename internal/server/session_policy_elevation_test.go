package server_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func TestSessionPolicyRequireElevation(t *testing.T) {
	e := start(t)
	in := api.SessionPolicyInput{Name: "elevated", RequireElevation: &api.SessionElevationRequirement{RoleID: "role_missing"}}
	p := e.do(http.MethodPost, api.PathSessionPolicies, e.admin, in).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); !slices.Equal(got, []string{"/require_elevation/role_id"}) {
		t.Fatalf("pointers %v", got)
	}
	in.RequireElevation = &api.SessionElevationRequirement{RoleID: "", Scope: "orgs/"}
	p = e.do(http.MethodPost, api.PathSessionPolicies, e.admin, in).problem(t, 400, api.CodeValidationFailed)
	if got := violationPointers(p); !slices.Equal(got, []string{"/require_elevation/role_id", "/require_elevation/scope"}) {
		t.Fatalf("pointers %v", got)
	}
	role := e.createRole(api.RoleInput{Name: "db-admin"})
	in.RequireElevation = &api.SessionElevationRequirement{RoleID: role.ID, Scope: "/orgs/acme"}
	r := e.do(http.MethodPost, api.PathSessionPolicies, e.admin, in)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var got api.SessionPolicy
	r.json(t, &got)
	if got.RequireElevation == nil || *got.RequireElevation != *in.RequireElevation {
		t.Fatalf("require_elevation %+v", got.RequireElevation)
	}
	// Without it, the member is absent (null in Terraform).
	in.RequireElevation = nil
	r = e.do(http.MethodPut, api.PathSessionPolicies+"/"+got.ID, e.admin, in)
	if r.status != http.StatusOK {
		t.Fatalf("replace: %d %s", r.status, r.body)
	}
	var replaced api.SessionPolicy
	r.json(t, &replaced)
	if replaced.RequireElevation != nil {
		t.Fatalf("require_elevation %+v", replaced.RequireElevation)
	}
}
