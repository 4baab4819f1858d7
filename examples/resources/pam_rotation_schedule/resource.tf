# Rotate every Sunday at 02:00 Berlin time, starting within two hours, with
# 32-character passwords of every character class.
resource "pam_rotation_schedule" "weekly" {
  name           = "db-weekly-sunday"
  description    = "Weekly rotation of production database accounts"
  cron           = "0 2 * * SUN"
  time_zone      = "Europe/Berlin"
  window_seconds = 7200
  jitter_seconds = 300

  # Rotate anyway when a secret is older than 30 days; verify daily.
  max_secret_age_seconds        = 2592000
  verification_interval_seconds = 86400

  password_policy = {
    length            = 32
    require_lowercase = true
    require_uppercase = true
    require_digits    = true
    require_symbols   = true
    symbols           = "!#%+-=_"
    exclude_ambiguous = true
  }

  retry = {
    max_attempts    = 3
    backoff_seconds = 600
  }
}

# Or every 12 hours, counted from the last rotation.
resource "pam_rotation_schedule" "twice_daily" {
  name             = "service-keys-12h"
  interval_seconds = 43200
}
