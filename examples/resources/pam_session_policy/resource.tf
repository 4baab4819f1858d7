# Production SSH: 4-hour sessions cut after 15 idle minutes, two at a time per
# person, recent MFA and a justification, every session recorded (refused if
# it cannot be), downloads only, no port forwarding, and a command filter.
resource "pam_session_policy" "prod_ssh" {
  name        = "prod-ssh-strict"
  description = "Recorded, filtered SSH to production"

  max_session_duration_seconds          = 14400
  idle_timeout_seconds                  = 900
  max_concurrent_sessions_per_principal = 2
  terminate_on_authorization_end        = true # ends with the checkout or elevation

  require_mfa           = true # mfa_max_age_seconds defaults to 300
  require_justification = true

  recording = {
    enabled     = true
    mode        = "strict"
    retain_days = 365
  }

  # Rules are evaluated in order and the first match decides, so the order
  # matters: the alert on "sudo systemctl status" must come before the
  # terminate on "sudo ". Reordering rules is an in-place update.
  command_filter = {
    default_action = "allow"
    rules = [
      {
        match       = "regex"
        pattern     = "^rm\\s+-rf\\s+/($|\\s)"
        action      = "deny"
        description = "no root wipes"
      },
      {
        match       = "prefix"
        pattern     = "sudo systemctl status"
        action      = "alert"
        description = "allowed, but the SOC hears about it"
      },
      {
        match       = "prefix"
        pattern     = "sudo "
        action      = "terminate_session"
        description = "no other root commands"
      },
      {
        match   = "glob"
        pattern = "iptables *"
        action  = "deny"
      },
    ]
  }

  file_transfer = {
    upload   = false
    download = true
  }
  port_forwarding = false

  labels = {
    tier = "production"
  }
}

# Everything at its default: 8-hour SSH sessions, no recording, no filter.
resource "pam_session_policy" "lab" {
  name = "lab-ssh"
}
