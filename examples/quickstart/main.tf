# Quickstart: a small privileged-role catalog. `make demo` applies this against a
# pamd it starts on embedded SQLite; PAM_ENDPOINT and PAM_TOKEN configure the
# provider.
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

# Read back through the data source: what a downstream configuration would do.
data "pam_role" "db_admin" {
  name = pam_role.db_admin.name
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
    version           = data.pam_role.db_admin.version
  }
}
