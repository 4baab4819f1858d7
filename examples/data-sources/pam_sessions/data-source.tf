# Who is connected to production accounts through the gateway right now?
data "pam_sessions" "live_prod" {
  state             = "active"
  session_policy_id = data.pam_session_policy.prod_ssh.id
}

output "live_prod_sessions" {
  value = [
    for s in data.pam_sessions.live_prod.sessions :
    "${s.principal} on ${s.vault_account_id} since ${s.started_at} (${s.command_filter_hit_count} filter hits)"
  ]
}

# Sessions of one person in the last day, live or ended.
data "pam_sessions" "alice_today" {
  principal_id  = "user:alice"
  started_after = timeadd(plantimestamp(), "-24h")
}

output "alice_recordings" {
  value = [for s in data.pam_sessions.alice_today.sessions : s.recording_id if s.recording_id != null]
}
