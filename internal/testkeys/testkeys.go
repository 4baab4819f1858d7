// Package testkeys makes throwaway SSH keys for tests.
package testkeys

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// SSHPublicKey returns a fresh ed25519 public key.
func SSHPublicKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// AuthorizedKey is pk in authorized_keys form ("ssh-ed25519 AAAA..."),
// followed by comment unless it is empty.
func AuthorizedKey(pk ssh.PublicKey, comment string) string {
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	if comment != "" {
		line += " " + comment
	}
	return line
}

// SSHPublicKeyLine is a fresh key in authorized_keys form, with comment
// unless it is empty.
func SSHPublicKeyLine(t testing.TB, comment string) string {
	t.Helper()
	return AuthorizedKey(SSHPublicKey(t), comment)
}
