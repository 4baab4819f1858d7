# A safe is imported by its id.
terraform import pam_safe.payments_db safe_01JB8X4M0Q3K7Z9V6W2D5R1T8N
