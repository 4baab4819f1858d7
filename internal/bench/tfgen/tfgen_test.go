package tfgen

import (
	"slices"
	"strings"
	"testing"
)

func TestShape(t *testing.T) {
	for _, tc := range []struct{ n, roles, resources int }{{1, 1, 3}, {100, 10, 111}, {1000, 100, 1101}, {5000, 500, 5501}} {
		s := Shape{Assignments: tc.n}
		if s.Roles() != tc.roles || s.Resources() != tc.resources {
			t.Errorf("n=%d: roles %d resources %d, want %d %d", tc.n, s.Roles(), s.Resources(), tc.roles, tc.resources)
		}
	}
}

func TestProviderConfig(t *testing.T) {
	s := Shape{Assignments: 20}
	cfg := Provider(s)
	if got := strings.Count(cfg, `resource "pam_eligible_role_assignment"`); got != 20 {
		t.Errorf("%d assignments, want 20", got)
	}
	if got := strings.Count(cfg, `resource "pam_role"`); got != 2 {
		t.Errorf("%d roles, want 2", got)
	}
	if got := strings.Count(cfg, `resource "pam_activation_policy"`); got != 1 {
		t.Errorf("%d policies, want 1", got)
	}
	// Principals are distinct: the natural key (principal, role, scope) must not collide.
	seen := map[string]bool{}
	for i := range 20 {
		p := Principal(i)
		if seen[p] {
			t.Fatalf("principal %s repeats", p)
		}
		seen[p] = true
		if !strings.Contains(cfg, `"`+p+`"`) {
			t.Errorf("config lacks principal %s", p)
		}
	}
	if !strings.Contains(cfg, "pam_role.r0001.id") || !strings.Contains(cfg, `source = "`+ProviderSource+`"`) {
		t.Errorf("config does not reference roles or the provider source:\n%s", cfg[:400])
	}
}

func TestBaselineSameShape(t *testing.T) {
	s := Shape{Assignments: 30}
	cfg := Baseline(s, nil)
	if got := strings.Count(cfg, `resource "terraform_data"`); got != s.Resources() {
		t.Errorf("%d terraform_data, want %d (same count as the provider config)", got, s.Resources())
	}
	if strings.Contains(cfg, DriftedJustification) {
		t.Error("unchanged baseline carries the drifted value")
	}
	drifted := Baseline(s, map[int]bool{3: true, 7: true})
	if got := strings.Count(drifted, DriftedJustification); got != 2 {
		t.Errorf("%d drifted inputs, want 2", got)
	}
}

func TestDriftIndices(t *testing.T) {
	for _, tc := range []struct {
		n    int
		pct  float64
		want []int
	}{
		{100, 1, []int{0}},
		{1000, 1, []int{0, 100, 200, 300, 400, 500, 600, 700, 800, 900}},
		{5, 1, []int{0}},
		{0, 1, nil},
	} {
		if got := DriftIndices(tc.n, tc.pct); !slices.Equal(got, tc.want) {
			t.Errorf("DriftIndices(%d, %v) = %v, want %v", tc.n, tc.pct, got, tc.want)
		}
	}
	if got := len(DriftIndices(5000, 1)); got != 50 {
		t.Errorf("5000 at 1%% = %d indices, want 50", got)
	}
}
