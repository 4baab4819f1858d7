// Package tfgen writes the configurations the provider-versus-core benchmark
// plans and applies: N pam_eligible_role_assignment resources with their
// roles and policy, and a baseline of terraform_data resources in the same
// shape, so that the difference between the two is the provider's cost.
package tfgen

import (
	"fmt"
	"strings"
)

// ProviderSource is the provider address the configurations require; the
// benchmark's CLI config points it at a local build with dev_overrides.
const ProviderSource = "registry.terraform.io/accessplane/pam"

// Shape is the size of one generated configuration.
type Shape struct {
	// Assignments is N, the number of eligible role assignments (one per
	// distinct principal).
	Assignments int
}

// Roles is how many roles the assignments spread over: one per ten
// assignments, as in a catalog where a role is granted to a team.
func (s Shape) Roles() int { return max(1, s.Assignments/10) }

// Resources is the number of managed resources: assignments, roles and the
// one activation policy. The baseline has the same count.
func (s Shape) Resources() int { return s.Assignments + s.Roles() + 1 }

// Principal is the principal id of assignment i.
func Principal(i int) string { return fmt.Sprintf("bench-%05d", i) }

// Scope is the scope of assignment i: one project per role.
func (s Shape) Scope(i int) string { return fmt.Sprintf("/orgs/bench/projects/p%04d", i%s.Roles()) }

// AssignmentAddress is the resource address of assignment i in both configurations.
func AssignmentAddress(kind string, i int) string { return fmt.Sprintf("%s.a%05d", kind, i) }

// Justification is what the configuration sets on every assignment; drift
// changes it out of band and the plan must put it back.
const Justification = "benchmark eligibility"

// Provider returns the provider configuration: one activation policy that
// allows standing eligibility, Roles() roles, and N assignments over distinct
// principals, each referencing its role and the policy.
func Provider(s Shape) string {
	var b strings.Builder
	fmt.Fprintf(&b, "terraform {\n  required_providers {\n    pam = { source = %q }\n  }\n}\n\nprovider \"pam\" {}\n\n", ProviderSource)
	b.WriteString(`resource "pam_activation_policy" "p" {
  name                   = "bench"
  max_activation_seconds = 3600
  eligibility_constraints = {
    allow_permanent = true
  }
}
`)
	for r := range s.Roles() {
		fmt.Fprintf(&b, "\nresource \"pam_role\" \"r%04d\" {\n  name              = \"bench-role-%04d\"\n  assignable_scopes = [\"/orgs/bench\"]\n}\n", r, r)
	}
	for i := range s.Assignments {
		fmt.Fprintf(&b, `
resource "pam_eligible_role_assignment" "a%05d" {
  principal_type       = "user"
  principal_id         = %q
  role_id              = pam_role.r%04d.id
  scope                = %q
  activation_policy_id = pam_activation_policy.p.id
  justification        = %q
}
`, i, Principal(i), i%s.Roles(), s.Scope(i), Justification)
	}
	return b.String()
}

// Baseline returns the core-only configuration: terraform_data resources in
// the provider configuration's shape (a policy, the roles, and N assignments
// whose input references them and carries the same values). changed lists
// assignment indices whose input differs, the baseline's stand-in for drift:
// core has no out-of-band changes, so the same number of updates is planned
// from a configuration change instead.
func Baseline(s Shape, changed map[int]bool) string {
	var b strings.Builder
	b.WriteString("resource \"terraform_data\" \"p\" {\n  input = { name = \"bench\", max_activation_seconds = 3600 }\n}\n")
	for r := range s.Roles() {
		fmt.Fprintf(&b, "\nresource \"terraform_data\" \"r%04d\" {\n  input = { name = \"bench-role-%04d\", assignable_scopes = [\"/orgs/bench\"] }\n}\n", r, r)
	}
	for i := range s.Assignments {
		j := Justification
		if changed[i] {
			j = DriftedJustification
		}
		fmt.Fprintf(&b, `
resource "terraform_data" "a%05d" {
  input = {
    principal_type       = "user"
    principal_id         = %q
    role_id              = terraform_data.r%04d.id
    scope                = %q
    activation_policy_id = terraform_data.p.id
    justification        = %q
  }
}
`, i, Principal(i), i%s.Roles(), s.Scope(i), j)
	}
	return b.String()
}

// DriftedJustification is the out-of-band value drift writes.
const DriftedJustification = "changed outside Terraform"

// DriftIndices picks pct percent of n assignments (at least one), evenly
// spread, so that drift touches every part of the configuration.
func DriftIndices(n int, pct float64) []int {
	if n <= 0 {
		return nil
	}
	k := max(1, int(float64(n)*pct/100))
	k = min(k, n)
	out := make([]int, k)
	for j := range k {
		out[j] = j * n / k
	}
	return out
}
