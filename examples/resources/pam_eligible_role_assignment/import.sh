# An eligible role assignment is imported by its id ...
terraform import pam_eligible_role_assignment.dba_payments era_01JB8X4M0Q3K7Z9V6W2D5R1T8N

# ... or by its natural key principal_type/principal_id/role_id/scope, where the
# scope's leading slash separates it from the role id:
terraform import pam_eligible_role_assignment.dba_payments group/dba/role_01JB8X4M0Q3K7Z9V6W2D5R1T8N/orgs/acme/projects/payments

# At the root scope "/" the key ends with the separator:
terraform import pam_eligible_role_assignment.break_glass user/alice/role_01JB8X4M0Q3K7Z9V6W2D5R1T8N/
