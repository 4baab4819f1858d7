# Every active eligibility at or below the payments project.
data "pam_eligible_role_assignments" "payments" {
  scope_prefix = "/orgs/acme/projects/payments"
  statuses     = ["active"]
}

# A policy-as-code check: no eligibility on payments may be permanent.
check "no_permanent_eligibility" {
  assert {
    condition     = alltrue([for a in data.pam_eligible_role_assignments.payments.assignments : a.ends_at != null])
    error_message = "An eligibility on the payments project has no end date."
  }
}
