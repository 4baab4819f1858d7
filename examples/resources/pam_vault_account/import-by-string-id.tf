import {
  to = pam_vault_account.pg_payments_admin
  id = "acct_01JB8X4M0Q3K7Z9V6W2D5R1T8N"
}
