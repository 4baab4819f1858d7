package catalog

import (
	"slices"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func TestNormalizeRoleInput(t *testing.T) {
	out, vs := NormalizeRoleInput(api.RoleInput{Name: "db_admin", AssignableScopes: []string{"/b", "/a", "/b"}})
	if len(vs) != 0 || !slices.Equal(out.AssignableScopes, []string{"/a", "/b"}) || out.Labels == nil {
		t.Fatalf("normalise: %+v %+v", out, vs)
	}
	out, _ = NormalizeRoleInput(api.RoleInput{Name: "x"})
	if !slices.Equal(out.AssignableScopes, []string{"/"}) {
		t.Fatalf("default scope: %v", out.AssignableScopes)
	}
	_, vs = NormalizeRoleInput(api.RoleInput{
		Name:             "-bad",
		Description:      strings.Repeat("é", api.MaxDescriptionLength+1),
		AssignableScopes: []string{"/", "/a/", "relative"},
		Labels:           map[string]string{"a/b": "v", "ok": strings.Repeat("v", api.MaxLabelValueLength+1)},
	})
	var ptrs []string
	for _, v := range vs {
		ptrs = append(ptrs, v.Pointer)
	}
	want := []string{"/name", "/description", "/assignable_scopes/1", "/assignable_scopes/2", "/labels/a~1b", "/labels/ok"}
	if !slices.Equal(ptrs, want) {
		t.Fatalf("pointers %v, want %v", ptrs, want)
	}
	// Exactly at the limits is fine (counted in characters, not bytes).
	_, vs = NormalizeRoleInput(api.RoleInput{Name: strings.Repeat("a", 128), Description: strings.Repeat("é", api.MaxDescriptionLength)})
	if len(vs) != 0 {
		t.Fatalf("limits rejected: %+v", vs)
	}
}
