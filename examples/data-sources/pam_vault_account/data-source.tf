# Look an account up by safe and name (or by id). The secret is never
# returned: use the pam_credential_checkout ephemeral resource for that.
data "pam_vault_account" "pg_payments_admin" {
  safe_id = data.pam_safe.payments_db.id
  name    = "pg-payments-admin"
}

output "pg_admin_next_rotation" {
  value = data.pam_vault_account.pg_payments_admin.next_rotation_at
}
