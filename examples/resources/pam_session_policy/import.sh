# A session policy is imported by its id, or by its name.
terraform import pam_session_policy.prod_ssh sesp_01JB5X4M0Q3K7Z9V6W2D5R1T8N
terraform import pam_session_policy.prod_ssh prod-ssh-strict
