# Terraform 1.12+ and OpenTofu 1.12+ can import by resource identity.
import {
  to = pam_vault_account.pg_payments_admin
  identity = {
    id = "acct_01JB8X4M0Q3K7Z9V6W2D5R1T8N"
  }
}
