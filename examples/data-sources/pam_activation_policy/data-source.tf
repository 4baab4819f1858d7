# Look an activation policy up by name (or by id).
data "pam_activation_policy" "prod_admin" {
  name = "prod-admin-activation"
}

output "prod_admin_max_hours" {
  value = data.pam_activation_policy.prod_admin.max_activation_seconds / 3600
}
