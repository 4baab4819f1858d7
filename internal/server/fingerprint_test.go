package server

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// The idempotency fingerprint must survive key reordering (a retry is the
// same request) but must not be a bare hash of the body, which would let a
// copy of the database brute-force a weak secret sent in it.
func TestFingerprintIsKeyedAndCanonical(t *testing.T) {
	s := &Server{pages: pager{key: []byte("0123456789abcdef0123456789abcdef")}}
	a := s.fingerprint([]byte(`{"name":"db","secret":"hunter2"}`))
	b := s.fingerprint([]byte(`{ "secret": "hunter2", "name": "db" }`))
	if a != b {
		t.Fatalf("reordered body fingerprints differ: %s vs %s", a, b)
	}
	plain := sha256.Sum256([]byte(`{"name":"db","secret":"hunter2"}`))
	if a == hex.EncodeToString(plain[:]) {
		t.Fatal("fingerprint is the bare SHA-256 of the body")
	}
	other := &Server{pages: pager{key: []byte("fedcba9876543210fedcba9876543210")}}
	if other.fingerprint([]byte(`{"name":"db","secret":"hunter2"}`)) == a {
		t.Fatal("fingerprint does not depend on the server key")
	}
	if s.fingerprint([]byte(`{"name":"db","secret":"hunter3"}`)) == a {
		t.Fatal("different bodies share a fingerprint")
	}
}
