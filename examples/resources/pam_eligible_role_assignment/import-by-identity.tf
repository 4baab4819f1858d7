# Terraform 1.12+ and OpenTofu 1.12+ can import by resource identity.
import {
  to = pam_eligible_role_assignment.dba_payments
  identity = {
    id = "era_01JB8X4M0Q3K7Z9V6W2D5R1T8N"
  }
}
