package acctest

import "fmt"

// PIMConfig is the HCL of a mixed PIM configuration that several tests
// apply at scale (faults, parallelism, replicas): count roles, count
// activation policies and count eligibilities, each eligibility of its own
// role (so eligibilities <= roles) under one of the policies in turn. Names
// start with prefix; every role has the given description, so a test can
// change it to update them all in place.
func PIMConfig(prefix string, roles, policies, eligibilities int, description string) string {
	return fmt.Sprintf(`
resource "pam_role" "r" {
  count       = %[2]d
  name        = "%[1]s-role-${count.index}"
  description = %[5]q
}

resource "pam_activation_policy" "p" {
  count                  = %[3]d
  name                   = "%[1]s-policy-${count.index}"
  max_activation_seconds = 3600
  eligibility_constraints = {
    allow_permanent = true
  }
}

resource "pam_eligible_role_assignment" "e" {
  count                = %[4]d
  principal_type       = "user"
  principal_id         = "%[1]s-user-${count.index}"
  role_id              = pam_role.r[count.index].id
  scope                = "/"
  activation_policy_id = pam_activation_policy.p[count.index %% %[3]d].id
}
`, prefix, roles, policies, eligibilities, description)
}
