package auth

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestNewTokenIsRandomAndWellFormed(t *testing.T) {
	a, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two tokens are equal")
	}
	if !strings.HasPrefix(a, TokenPrefix) || !WellFormed(a) {
		t.Fatalf("token %q is not well formed", a)
	}
	for _, bad := range []string{"", "pamd_", "pamd_abc", "Bearer " + a, a + "x", strings.TrimPrefix(a, TokenPrefix)} {
		if WellFormed(bad) {
			t.Errorf("WellFormed(%q) = true", bad)
		}
	}
}

func TestPlausible(t *testing.T) {
	tok, _ := NewToken()
	for _, ok := range []string{tok, "operator-chosen-secret-123"} {
		if !Plausible(ok) {
			t.Errorf("Plausible(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "short", "has space in the middle", strings.Repeat("a", 513), "tab\tinside-token-xx"} {
		if Plausible(bad) {
			t.Errorf("Plausible(%q) = true", bad)
		}
	}
}

func TestHashAndMatch(t *testing.T) {
	tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	h := HashToken(tok)
	if len(h) != 64 || strings.Contains(h, tok) {
		t.Fatalf("hash %q should be 64 hex chars and not contain the token", h)
	}
	if HashToken(tok) != h {
		t.Fatal("hash is not deterministic")
	}
	if !Matches(tok, h) {
		t.Fatal("token does not match its own hash")
	}
	other, _ := NewToken()
	if Matches(other, h) {
		t.Fatal("another token matches")
	}
	if Matches(tok, h[:63]) || Matches(tok, "") {
		t.Fatal("truncated hash matches")
	}
}

func TestExpiry(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	tok := Token{ExpiresAt: &exp}
	if tok.Expired(now) {
		t.Fatal("expired too early")
	}
	if !tok.Expired(exp) {
		t.Fatal("not expired at expiry")
	}
	if (Token{}).Expired(now.Add(1000 * time.Hour)) {
		t.Fatal("token without expiry expired")
	}
}

func TestSubjectAndRoles(t *testing.T) {
	for _, ok := range []string{"user:alice", "service_account:terraform", "group:dba"} {
		if err := ValidateSubject(ok); err != nil {
			t.Errorf("ValidateSubject(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"alice", "user:", "robot:x", ""} {
		if ValidateSubject(bad) == nil {
			t.Errorf("ValidateSubject(%q) accepted", bad)
		}
	}
	if ValidateServerRoles([]string{"admin", "auditor"}) != nil || ValidateServerRoles([]string{"root"}) == nil {
		t.Fatal("server role validation wrong")
	}
	p := Principal{Subject: "user:alice", ServerRoles: []string{"auditor"}}
	if p.HasAnyRole("admin", "security") || !p.HasAnyRole("admin", "auditor") {
		t.Fatal("HasAnyRole wrong")
	}
	if a := p.Actor(); a.Type != "user" || a.ID != "alice" {
		t.Fatalf("Actor = %+v", a)
	}
	ctx := WithPrincipal(context.Background(), p)
	got, ok := FromContext(ctx)
	if !ok || got.Subject != "user:alice" {
		t.Fatal("principal not carried in context")
	}
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("principal found in empty context")
	}
}
