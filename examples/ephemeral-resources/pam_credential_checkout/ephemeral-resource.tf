# Check the PostgreSQL admin account out for the length of one run and
# configure the postgresql provider with it. The password lives only in
# memory during the run: it is in no plan and no state, and the account is
# checked in (and, with rotate_on_checkin, rotated) when the run ends.
terraform {
  required_providers {
    pam = {
      source = "accessplane/pam"
    }
    postgresql = {
      source = "cyrilgdn/postgresql"
    }
  }
}

ephemeral "pam_credential_checkout" "pg_admin" {
  account_id       = "acct_01JB8X4M0Q3K7Z9V6W2D5R1T8N"
  duration_seconds = 900
  justification    = "Terraform run ${var.run_id}"
}

provider "postgresql" {
  host     = ephemeral.pam_credential_checkout.pg_admin.address
  port     = coalesce(ephemeral.pam_credential_checkout.pg_admin.port, 5432)
  username = ephemeral.pam_credential_checkout.pg_admin.username
  password = ephemeral.pam_credential_checkout.pg_admin.secret
  sslmode  = "require"
}

resource "postgresql_role" "app" {
  name  = "payments_app"
  login = true
}

variable "run_id" {
  type = string
}
