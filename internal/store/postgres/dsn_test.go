package postgres_test

import (
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/store/postgres"
)

func TestRedactAndIsURL(t *testing.T) {
	for _, c := range []struct {
		in    string
		isURL bool
	}{
		{"postgres://u:pw1@h:5432/db?sslmode=disable", true},
		{"postgresql://u:pw1@h/db?password=pw1", true},
		{"POSTGRES://u@h/db", true},
		{"pamd.db", false},
		{"/var/lib/pamd/postgres://x", false},
	} {
		if got := postgres.IsURL(c.in); got != c.isURL {
			t.Errorf("IsURL(%q) = %v", c.in, got)
		}
		if c.isURL && strings.Contains(postgres.Redact(c.in), "pw1") {
			t.Errorf("Redact(%q) = %q keeps the password", c.in, postgres.Redact(c.in))
		}
	}
	if got := postgres.Redact("postgres://u:pw1@h:5432/db?sslmode=disable"); got != "postgres://u:xxxxx@h:5432/db?sslmode=disable" {
		t.Errorf("Redact = %q", got)
	}
}
