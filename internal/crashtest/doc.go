// Package crashtest kills a real pamd process under load (OpenTofu applies
// through the provider, concurrent API writers) and checks what survives on
// the SQLite file. It holds tests only; see RELIABILITY.md.
package crashtest
