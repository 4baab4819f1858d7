# Quickstart: a small privileged-role catalog and who may elevate to it.
# `make demo` applies this against a pamd it starts on embedded SQLite;
# PAM_ENDPOINT and PAM_TOKEN configure the provider.
terraform {
  required_providers {
    pam = {
      source = "registry.terraform.io/accessplane/pam"
    }
  }
}

provider "pam" {}

resource "pam_role" "db_admin" {
  name        = "db-admin"
  description = "Administrative access to the payments databases"
  assignable_scopes = [
    "/orgs/acme/projects/payments",
  ]
  labels = {
    team = "dba"
  }
}

resource "pam_role" "k8s_cluster_admin" {
  name              = "k8s-cluster-admin"
  description       = "cluster-admin on the production Kubernetes clusters"
  assignable_scopes = ["/orgs/acme"]
  labels = {
    team = "platform"
    tier = "production"
  }
}

# How elevation to a production role happens: at most 2 hours, with a reason,
# approved by one DBA lead (never by the requester).
resource "pam_activation_policy" "production" {
  name                     = "production-dba"
  max_activation_seconds   = 7200
  require_justification    = true
  justification_min_length = 10

  # Standing eligibility (no ends_at) is allowed for this policy.
  eligibility_constraints = {
    allow_permanent = true
  }

  approval = {
    stages = [{
      approvers = [{
        principal_type = "user"
        principal_id   = "bob"
      }]
      approvals_needed = 1
      timeout_seconds  = 3600
    }]
  }
}

# alice may elevate to db-admin on the payments project, under that policy.
resource "pam_eligible_role_assignment" "alice_db_admin" {
  principal_type       = "user"
  principal_id         = "alice"
  role_id              = pam_role.db_admin.id
  scope                = "/orgs/acme/projects/payments"
  activation_policy_id = pam_activation_policy.production.id
  justification        = "on-call DBA rota"
}

# Read back through data sources: what a downstream configuration would do.
data "pam_role" "db_admin" {
  name = pam_role.db_admin.name
}

# Who is elevated right now, below /orgs/acme.
data "pam_active_elevations" "acme" {
  scope_prefix = "/orgs/acme"
  depends_on   = [pam_eligible_role_assignment.alice_db_admin]
}

output "roles" {
  value = {
    (pam_role.db_admin.name)          = pam_role.db_admin.id
    (pam_role.k8s_cluster_admin.name) = pam_role.k8s_cluster_admin.id
  }
}

output "db_admin_from_data_source" {
  value = {
    id                = data.pam_role.db_admin.id
    assignable_scopes = data.pam_role.db_admin.assignable_scopes
  }
}

output "eligibility" {
  value = {
    id     = pam_eligible_role_assignment.alice_db_admin.id
    status = pam_eligible_role_assignment.alice_db_admin.status
  }
}

output "active_elevations" {
  value = [
    for e in data.pam_active_elevations.acme.elevations :
    "${e.principal_type}:${e.principal_id} is ${e.role_id} at ${e.scope} until ${e.ends_at}, approved by ${join(",", [for a in e.approvers : "${a.principal_type}:${a.principal_id}"])}: ${e.justification}"
  ]
}
