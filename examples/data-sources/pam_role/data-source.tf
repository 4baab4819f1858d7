# Look a role up by name (or by id).
data "pam_role" "db_admin" {
  name = "db-admin"
}

output "db_admin_scopes" {
  value = data.pam_role.db_admin.assignable_scopes
}
