package client

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// MFA methods: TOTP enrollment of the caller and the step-up login.
//
// Responses of EnrollTOTP (the secret) and StepUp (a token) are secrets: the
// TRACE body log masks them (see secretPatterns), and callers must show them
// once and keep them out of their own logs.
//
// Retry policy: none of these POSTs carries an Idempotency-Key (the server
// never caches secret-bearing answers), so transport errors and 5xx are not
// retried. ConfirmTOTP and StepUp are not retried on 429 either: a TOTP code
// lives 30 seconds, far less than the wait the server asks for.

// EnrollTOTP enrols the caller in TOTP and returns the secret and otpauth URI,
// which the server shows only this once. It replaces an unconfirmed
// enrollment; a confirmed one is 409 mfa_already_enrolled.
func (c *Client) EnrollTOTP(ctx context.Context) (*api.TOTPEnrollment, error) {
	var out api.TOTPEnrollment
	if err := c.do(ctx, request{method: http.MethodPost, path: api.PathMFATOTP}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConfirmTOTP confirms the caller's enrollment with a first code.
func (c *Client) ConfirmTOTP(ctx context.Context, code string) (*api.TOTPStatus, error) {
	var out api.TOTPStatus
	if err := c.noRetry().do(ctx, request{method: http.MethodPost, path: api.PathMFATOTPConfirm, body: api.MFACodeRequest{Code: code}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteTOTP removes the caller's enrollment; a confirmed one needs a token
// from StepUp (401 step_up_required otherwise).
func (c *Client) DeleteTOTP(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodDelete, path: api.PathMFATOTP}, nil)
}

// StepUp exchanges the client's token and a TOTP code for a short-lived token
// carrying mfa_at. ttl of 0 takes the server default (15 minutes); it is
// rounded to whole seconds, must be within 1m-1h, and the new token never
// outlives the client's token.
func (c *Client) StepUp(ctx context.Context, code string, ttl time.Duration) (*api.StepUpResponse, error) {
	if ttl < 0 || ttl%time.Second != 0 {
		return nil, fmt.Errorf("step-up ttl %s must be a positive whole number of seconds", ttl)
	}
	req := api.StepUpRequest{Code: code, TTLSeconds: int64(ttl / time.Second)}
	var out api.StepUpResponse
	if err := c.noRetry().do(ctx, request{method: http.MethodPost, path: api.PathAuthStepUp, body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// noRetry returns a copy of c that makes a single attempt.
func (c *Client) noRetry() *Client {
	cp := *c
	cp.maxRetries = 0
	return &cp
}
