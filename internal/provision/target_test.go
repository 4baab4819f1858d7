package provision

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestValidateURL(t *testing.T) {
	for _, ok := range []string{
		"https://hooks.example.com/pam",
		"http://127.0.0.1:8080/x?y=z",
		"https://[::1]:9443/",
	} {
		if err := ValidateURL(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"",
		"ftp://example.com/",
		"file:///etc/passwd",
		"javascript:alert(1)",
		"/relative/path",
		"example.com/x",
		"https://",
		"https://user:pass@example.com/",
		"https://token@example.com/",
		"https://example.com/#frag",
		" https://example.com/",
		"https://example.com/" + strings.Repeat("a", MaxURLLength),
		"http://exa mple.com/",
	} {
		err := ValidateURL(bad)
		if !errors.Is(err, ErrInvalidTarget) {
			t.Errorf("%q: %v, want ErrInvalidTarget", bad, err)
			continue
		}
		if strings.Contains(bad, "pass") && strings.Contains(err.Error(), "pass@") {
			t.Errorf("error echoes credentials: %v", err)
		}
	}
}

func TestTargetValidateSecret(t *testing.T) {
	if err := (Target{URL: "https://example.com/", Secret: "short"}).Validate(); !errors.Is(err, ErrInvalidTarget) {
		t.Fatalf("short secret: %v", err)
	}
	s, err := GenerateSecret()
	if err != nil || len(s) < MinSecretLength {
		t.Fatalf("GenerateSecret: %q %v", s, err)
	}
	if err := (Target{URL: "https://example.com/", Secret: s}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestTargetNeverShowsSecret(t *testing.T) {
	const secret = "TOPSECRET-hmac-key-123456"
	tg := Target{URL: "https://hooks.example.com/pam?token=QUERYTOKEN", Secret: secret}
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("x", slog.Any("target", tg))
	slog.New(slog.NewTextHandler(&buf, nil)).Info("y", "target", tg)
	for _, s := range []string{
		fmt.Sprint(tg), fmt.Sprintf("%v %+v %#v %s", tg, tg, tg, tg), fmt.Sprintf("%v", &tg), buf.String(),
	} {
		if strings.Contains(s, secret) || strings.Contains(s, "QUERYTOKEN") {
			t.Fatalf("leak: %s", s)
		}
		if !strings.Contains(s, "hooks.example.com/pam") {
			t.Fatalf("url missing: %s", s)
		}
	}
}
