# Terraform 1.12+ and OpenTofu 1.12+ can import by resource identity.
import {
  to = pam_role.db_admin
  identity = {
    id = "role_01JB8X4M0Q3K7Z9V6W2D5R1T8N"
  }
}
