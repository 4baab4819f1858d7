resource "pam_role" "db_admin" {
  name        = "db-admin"
  description = "Full administrative access to the payments databases"

  # The role may only be made eligible at or below these scopes.
  assignable_scopes = [
    "/orgs/acme/projects/payments",
    "/orgs/acme/projects/ledger",
  ]

  labels = {
    team = "dba"
    tier = "production"
  }
}
