# The PostgreSQL admin account of the payments database. Its first password
# comes from an ephemeral variable through the write-only secret_wo, so it is
# never written to the plan or state; pamd then rotates it weekly.
variable "pg_admin_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "pam_vault_account" "pg_payments_admin" {
  safe_id         = pam_safe.payments_db.id
  name            = "pg-payments-admin"
  platform        = "postgresql"
  address         = "pg-payments.internal"
  port            = 5432
  username        = "pgadmin"
  secret_type     = "password"
  management_mode = "automatic"

  # Sent on create; to send a new value later, change the secret and bump
  # the version. Rotations by pamd do not cause a plan.
  secret_wo         = var.pg_admin_password
  secret_wo_version = 1

  rotation_schedule_id = pam_rotation_schedule.weekly.id

  checkout_policy = {
    exclusive                = true
    default_duration_seconds = 1800
    max_duration_seconds     = 7200
    rotate_on_checkin        = true
    allow_retrieve           = true
    require_justification    = true
  }

  labels = {
    env = "prod"
  }
}
