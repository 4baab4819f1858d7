# Production admin access: at most 8 hours (1 hour unless asked), a
# justification and a Jira or ServiceNow ticket, recent MFA, and two
# approval stages (the on-call security group, then the CISO).
resource "pam_activation_policy" "prod_admin" {
  name        = "prod-admin-activation"
  description = "8h max, MFA, ticket, two approval stages"

  max_activation_seconds     = 28800
  default_activation_seconds = 3600

  require_justification    = true
  justification_min_length = 10
  require_ticket           = true
  ticket_systems           = ["jira", "servicenow"]

  require_mfa         = true
  mfa_max_age_seconds = 300

  allow_scheduled_start = true # max_schedule_ahead_seconds defaults to 7 days
  allow_extension       = true # one extension, up to 2 x max_activation_seconds in total

  # Eligibilities using this policy must end within a year.
  eligibility_constraints = {
    allow_permanent         = false
    max_eligibility_seconds = 31536000
  }

  approval = {
    require_approver_justification = true
    stages = [
      {
        approvers = [
          { principal_type = "group", principal_id = "sec-oncall" },
        ]
        approvals_needed = 1
        timeout_seconds  = 14400
      },
      {
        approvers = [
          { principal_type = "user", principal_id = "ciso" },
        ]
      },
    ]
  }

  labels = {
    tier = "production"
  }
}

# For pipelines: short activations without approval.
resource "pam_activation_policy" "ci" {
  name                   = "ci-activation"
  max_activation_seconds = 1800
  require_justification  = true
}
