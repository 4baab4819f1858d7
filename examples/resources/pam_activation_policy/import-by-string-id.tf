import {
  to = pam_activation_policy.prod_admin
  id = "actp_01JB8W2Q7Y3K5Z9V6W2D5R1T8N"
}
