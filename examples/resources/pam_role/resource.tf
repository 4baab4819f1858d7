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

  # Provisioning: pamd POSTs a signed elevation.activated event here when an
  # elevation of this role starts (it stays "activating" until the receiver
  # answers 2xx) and elevation.ended when it ends. Needs Terraform or OpenTofu
  # 1.11+: secret_wo is write-only and never stored in plan or state. To roll
  # the secret, change var.provisioner_secret and bump secret_wo_version.
  webhook {
    url               = "https://provisioner.example.com/pam/events"
    secret_wo         = var.provisioner_secret
    secret_wo_version = 1
  }
}

variable "provisioner_secret" {
  description = "HMAC secret shared with the provisioning receiver (at least 16 bytes)."
  type        = string
  sensitive   = true
  ephemeral   = true
}
