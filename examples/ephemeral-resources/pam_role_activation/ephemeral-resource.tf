# A pipeline that needs db-admin on the payments project for one run. The
# provider's token (here a CI service account holding the eligibility) requests
# the elevation; it is deactivated when the run ends.
provider "pam" {
  alias = "ci"
  # token comes from a variable or PAM_TOKEN in the pipeline
}

ephemeral "pam_role_activation" "db_admin" {
  provider         = pam.ci
  role_id          = "role_01JB8X4M0Q3K7Z9V6W2D5R1T8N"
  scope            = "/orgs/acme/projects/payments"
  duration_seconds = 1800
  justification    = "Deploy pipeline run ${var.run_id}"
  ticket = {
    system = "jira"
    number = var.change_ticket
  }
  # Fail (and withdraw the request) if approval takes longer than 10 minutes.
  wait_timeout_seconds = 600
}

variable "run_id" {
  type = string
}

variable "change_ticket" {
  type = string
}

# Use the elevation, for example to pass its id and expiry to a deployment tool
# through another provider's ephemeral-friendly arguments.
locals {
  elevation_id      = ephemeral.pam_role_activation.db_admin.id
  elevation_expires = ephemeral.pam_role_activation.db_admin.end_at
}
