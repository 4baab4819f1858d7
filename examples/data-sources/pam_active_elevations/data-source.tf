# Who holds privileged roles on the payments project right now?
data "pam_active_elevations" "payments" {
  scope_prefix = "/orgs/acme/projects/payments"
}

output "payments_elevations" {
  value = [
    for e in data.pam_active_elevations.payments.elevations :
    "${e.principal_type}:${e.principal_id} has ${e.role_id} at ${e.scope} until ${e.ends_at} (${e.justification})"
  ]
}

# Elevations that end within the next hour.
data "pam_active_elevations" "ending_soon" {
  ends_before = timeadd(plantimestamp(), "1h")
}
