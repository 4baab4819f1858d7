# Endpoint and token usually come from the environment (PAM_ENDPOINT,
# PAM_TOKEN) so that no secret is written into configuration.
provider "pam" {
  endpoint                = "https://pamd.example.internal:8443"
  max_retries             = 4
  request_timeout_seconds = 30
}
