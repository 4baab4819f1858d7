# An activation policy is imported by its id, or by its name.
terraform import pam_activation_policy.prod_admin actp_01JB8W2Q7Y3K5Z9V6W2D5R1T8N
terraform import pam_activation_policy.prod_admin prod-admin-activation
