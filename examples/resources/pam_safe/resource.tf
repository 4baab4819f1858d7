# A safe for the payments databases: DBAs may check accounts out and read
# their secrets, the platform team manages the accounts.
resource "pam_safe" "payments_db" {
  name        = "payments-db"
  description = "Payments PostgreSQL admin accounts"

  members = [
    {
      principal_type = "group"
      principal_id   = "dba"
      permissions    = ["checkout", "retrieve"]
    },
    {
      principal_type = "group"
      principal_id   = "platform"
      permissions    = ["manage"]
    },
  ]

  default_rotation_schedule_id = pam_rotation_schedule.weekly.id

  labels = {
    team = "payments"
  }
}
