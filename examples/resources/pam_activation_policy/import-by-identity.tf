# Terraform 1.12+ and OpenTofu 1.12+ can import by resource identity.
import {
  to = pam_activation_policy.prod_admin
  identity = {
    id = "actp_01JB8W2Q7Y3K5Z9V6W2D5R1T8N"
  }
}
