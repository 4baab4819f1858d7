package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

const (
	mfaTestSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	mfaTestToken  = "pamd_stepUpTokenValueThatMustNeverBeLogged0123456"
	mfaTestCode   = "492039"
)

func TestMFARequestsAndMasking(t *testing.T) {
	t.Setenv("TF_LOG_PROVIDER_PAM_API", "TRACE")
	exp := time.Date(2025, 5, 1, 9, 15, 0, 0, time.UTC)
	fs := newFaultServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		switch r.URL.Path {
		case api.PathMFATOTP:
			if r.Method == http.MethodDelete {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(api.TOTPEnrollment{Subject: "user:alice", Secret: mfaTestSecret,
				OTPAuthURI: "otpauth://totp/pamd:alice?secret=" + mfaTestSecret + "&issuer=pamd", Digits: 6, PeriodSeconds: 30})
		case api.PathMFATOTPConfirm:
			_ = json.NewEncoder(w).Encode(api.TOTPStatus{Subject: "user:alice", Confirmed: true})
		case api.PathAuthStepUp:
			_ = json.NewEncoder(w).Encode(api.StepUpResponse{Token: mfaTestToken, TokenID: "tok_1", Subject: "user:alice", ExpiresAt: exp, MFAAt: exp})
		}
	})
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	c := newTestClient(t, fs.URL)

	en, err := c.EnrollTOTP(ctx)
	if err != nil || en.Secret != mfaTestSecret {
		t.Fatalf("EnrollTOTP: %+v %v", en, err)
	}
	if st, err := c.ConfirmTOTP(ctx, mfaTestCode); err != nil || !st.Confirmed {
		t.Fatalf("ConfirmTOTP: %+v %v", st, err)
	}
	su, err := c.StepUp(ctx, mfaTestCode, 10*time.Minute)
	if err != nil || su.Token != mfaTestToken || !su.ExpiresAt.Equal(exp) {
		t.Fatalf("StepUp: %+v %v", su, err)
	}
	if err := c.DeleteTOTP(ctx); err != nil {
		t.Fatalf("DeleteTOTP: %v", err)
	}
	if _, err := c.StepUp(ctx, mfaTestCode, 1500*time.Millisecond); err == nil {
		t.Fatal("fractional ttl accepted")
	}

	reqs := fs.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests", len(reqs))
	}
	var body api.StepUpRequest
	if err := json.Unmarshal([]byte(reqs[2].body), &body); err != nil || body.Code != mfaTestCode || body.TTLSeconds != 600 ||
		reqs[2].method != http.MethodPost || reqs[2].path != api.PathAuthStepUp {
		t.Fatalf("step-up request %+v (%v)", reqs[2], err)
	}
	if reqs[3].method != http.MethodDelete {
		t.Fatalf("delete request %+v", reqs[3])
	}

	out := buf.String()
	if !strings.Contains(out, "Response body") || !strings.Contains(out, "Request body") {
		t.Fatalf("bodies were not logged at TRACE, so masking is untested:\n%s", out)
	}
	for _, leak := range []string{mfaTestSecret, mfaTestToken, mfaTestCode, "otpauth://", testToken} {
		if strings.Contains(out, leak) {
			t.Errorf("%q leaked into logs:\n%s", leak, out)
		}
	}
}

func TestStepUpNotRetriedOn429(t *testing.T) {
	fs := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(api.HeaderRetryAfter, "300")
		writeProblem(w, api.Problem{Status: http.StatusTooManyRequests, Title: "Too Many Requests", Code: api.CodeRateLimited})
	})
	c := newTestClient(t, fs.URL)
	_, err := c.StepUp(context.Background(), mfaTestCode, 0)
	var pe *ProblemError
	if !errors.As(err, &pe) || pe.Problem.Status != http.StatusTooManyRequests {
		t.Fatalf("err %v", err)
	}
	if n := len(fs.requests()); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
}
