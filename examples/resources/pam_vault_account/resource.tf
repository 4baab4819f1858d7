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

# The root account of a web server, reached through pamd's SSH gateway.
# host_keys pins the server's SSH host key, so the gateway never hands the
# password to an impostor: copy the line of /etc/ssh/ssh_host_ed25519_key.pub
# after checking its fingerprint on the server (ssh-keygen -lf). The comment
# is ignored; list a second key during a host key rollover.
variable "web_root_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "pam_vault_account" "web_1_root" {
  safe_id           = pam_safe.payments_db.id
  name              = "web-1-root"
  platform          = "unix_ssh"
  address           = "web-1.internal"
  username          = "root"
  secret_wo         = var.web_root_password
  secret_wo_version = 1

  host_keys = [
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHTPDQJ8LIfKFyBZG7R+aBeQo1kkTx0ctq6XrDPS/h67 root@web-1",
  ]
}
