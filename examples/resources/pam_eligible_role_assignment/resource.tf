# The DBA group may activate db-admin on the payments project for a year,
# under the production activation policy.
resource "pam_eligible_role_assignment" "dba_payments" {
  principal_type       = "group"
  principal_id         = "dba"
  role_id              = pam_role.db_admin.id
  scope                = "/orgs/acme/projects/payments"
  activation_policy_id = pam_activation_policy.prod_admin.id

  starts_at = "2026-01-01T00:00:00Z"
  ends_at   = "2026-12-31T23:59:59Z"

  justification = "Quarterly DBA rota"
  ticket = {
    system = "jira"
    number = "SEC-1234"
  }

  labels = {
    team = "dba"
  }

  # Destroying this eligibility also ends elevations that are active under it.
  force_destroy = true
}
