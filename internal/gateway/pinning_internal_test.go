package gateway

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestHostKeyAlgorithms: the gateway asks for the pinned key types only, so
// that a target with several host keys presents a pinned one (Go would ask
// for ECDSA before Ed25519); an RSA key allows its three signature
// algorithms; no pins keep the library defaults.
func TestHostKeyAlgorithms(t *testing.T) {
	pub := func(k any) ssh.PublicKey {
		t.Helper()
		pk, err := ssh.NewPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pk
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ed, edToo := pub(edPub), pub(edPub)
	got := hostKeyAlgorithms([]ssh.PublicKey{ed, pub(rk.Public()), edToo, pub(ec.Public())})
	want := []string{ssh.KeyAlgoED25519, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA, ssh.KeyAlgoECDSA256}
	if !slices.Equal(got, want) {
		t.Fatalf("algorithms = %v, want %v", got, want)
	}
	if got := hostKeyAlgorithms(nil); got != nil {
		t.Fatalf("no pins: %v, want nil (library defaults)", got)
	}
}
