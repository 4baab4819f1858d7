# A vault account is imported by its id. secret_wo_version is not imported
# (pamd does not know it): setting it in the configuration afterwards sends
# secret_wo once on the next apply.
terraform import pam_vault_account.pg_payments_admin acct_01JB8X4M0Q3K7Z9V6W2D5R1T8N
