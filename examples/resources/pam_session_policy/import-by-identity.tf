# Terraform 1.12+ and OpenTofu 1.12+ can import by resource identity.
import {
  to = pam_session_policy.prod_ssh
  identity = {
    id = "sesp_01JB5X4M0Q3K7Z9V6W2D5R1T8N"
  }
}
