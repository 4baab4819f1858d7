# Look a session policy up by name (or by id), for example to attach a policy
# managed in another configuration to a vault account.
data "pam_session_policy" "prod_ssh" {
  name = "prod-ssh-strict"
}

output "prod_ssh_filter" {
  value = [
    for i, r in data.pam_session_policy.prod_ssh.command_filter.rules :
    "${i}: ${r.match} ${jsonencode(r.pattern)} -> ${r.action}"
  ]
}
