package ids

import (
	"testing"
	"time"
)

func TestNewIsValidAndOrdered(t *testing.T) {
	now := time.Now()
	a := New("role", now)
	b := New("role", now)
	if !Valid("role", a) || !Valid("role", b) {
		t.Fatalf("minted ids not valid: %q %q", a, b)
	}
	if a >= b {
		t.Fatalf("ids minted in order should sort in order: %q >= %q", a, b)
	}
	// A clock stepping backwards must not break the order.
	c := New("role", now.Add(-time.Hour))
	if b >= c {
		t.Fatalf("id minted later with an earlier time sorts first: %q >= %q", b, c)
	}
	for _, bad := range []string{"", "role_", "roleX01JB8X4M0Q3K7Z9V6W2D5R1T8N", "aud_" + a[5:], "role_not-a-ulid"} {
		if Valid("role", bad) {
			t.Errorf("Valid(%q) = true, want false", bad)
		}
	}
}
