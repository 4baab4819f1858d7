# By id, or by the natural key principal_type/principal_id/role_id/scope.
import {
  to = pam_eligible_role_assignment.dba_payments
  id = "group/dba/role_01JB8X4M0Q3K7Z9V6W2D5R1T8N/orgs/acme/projects/payments"
}
