# Look a safe up by name (or by id).
data "pam_safe" "payments_db" {
  name = "payments-db"
}

output "payments_db_accounts" {
  value = data.pam_safe.payments_db.account_count
}
