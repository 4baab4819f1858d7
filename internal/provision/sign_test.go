package provision

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"evt_1"}`)
	h := Sign("s3cret-s3cret-s3cret", now, body)
	if !strings.HasPrefix(h, "t=1777636800,v1=") || len(h) != len("t=1777636800,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := Verify("s3cret-s3cret-s3cret", h, body, now.Add(4*time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	// Rolled secret: several v1 values, one of which matches.
	other := Sign("other-other-other!", now, body)
	multi := other + "," + strings.Split(h, ",")[1] + ",v2=ignored"
	if err := Verify("s3cret-s3cret-s3cret", multi, body, now, time.Minute); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	secret := "s3cret-s3cret-s3cret"
	body := []byte(`{"id":"evt_1"}`)
	good := Sign(secret, now, body)
	for _, tc := range []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"wrong secret", "wrong-wrong-wrong-wrong", good, body, now, ErrSignatureMismatch},
		{"tampered body", secret, good, []byte(`{"id":"evt_2"}`), now, ErrSignatureMismatch},
		{"stale", secret, good, body, now.Add(6 * time.Minute), ErrStaleTimestamp},
		{"future", secret, good, body, now.Add(-6 * time.Minute), ErrStaleTimestamp},
		{"timestamp swapped", secret, strings.Replace(good, "t=1777636800", "t=1777636801", 1), body, now, ErrSignatureMismatch},
		{"empty", secret, "", body, now, ErrMalformedSignature},
		{"no t", secret, strings.Split(good, ",")[1], body, now, ErrMalformedSignature},
		{"no v1", secret, "t=1777636800", body, now, ErrMalformedSignature},
		{"bad t", secret, "t=abc,v1=00", body, now, ErrMalformedSignature},
		{"bad hex", secret, "t=1777636800,v1=zz", body, now, ErrMalformedSignature},
		{"short mac", secret, "t=1777636800,v1=abcd", body, now, ErrMalformedSignature},
		{"no equals", secret, "t=1777636800,v1", body, now, ErrMalformedSignature},
		{"repeated t", secret, "t=1777636800," + good, body, now, ErrMalformedSignature},
		{"too long", secret, good + strings.Repeat(",x=1", 2000), body, now, ErrMalformedSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Fatal("error contains the secret")
			}
		})
	}
}
