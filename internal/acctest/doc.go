// Package acctest is the acceptance-test harness: it finds the CLI
// (OpenTofu by default, Terraform as a second leg), makes the test binary safe
// to run on any machine, starts a real pamd on a loopback port with a temporary
// SQLite store, and hands tests the provider factories and an admin API client
// for out-of-band changes and destroy checks.
package acctest
