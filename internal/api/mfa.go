package api

import "time"

// MFA wire types: TOTP enrollment and the step-up login that exchanges a
// bearer token plus a TOTP code for a short-lived token carrying mfa_at.

// Paths of the MFA endpoints.
const (
	PathMFATOTP        = PathPrefix + "/mfa/totp"
	PathMFATOTPConfirm = PathMFATOTP + "/confirm"
	PathAuthStepUp     = PathPrefix + "/auth/step_up"
)

// Problem codes of the MFA endpoints.
const (
	// CodeInvalidMFACode: the code is wrong, malformed, or was already used
	// (one answer for all, so that nothing is learnt from the difference).
	CodeInvalidMFACode = "invalid_mfa_code"
	// CodeMFANotEnrolled: the caller has no confirmed TOTP enrollment.
	CodeMFANotEnrolled = "mfa_not_enrolled"
	// CodeMFAAlreadyEnrolled: re-enrolment over a confirmed enrollment.
	CodeMFAAlreadyEnrolled = "mfa_already_enrolled"
	// CodeMFAUnavailable: the server has no master key to protect secrets.
	CodeMFAUnavailable = "mfa_unavailable"
)

// Step-up token lifetimes.
const (
	DefaultStepUpTTLSeconds = 15 * 60
	MinStepUpTTLSeconds     = 60
	MaxStepUpTTLSeconds     = 3600
)

// TOTPEnrollment is the 201 body of POST /v1/mfa/totp. Secret and OTPAuthURI
// carry the shared secret: they are returned once (Cache-Control: no-store)
// and can never be read again.
type TOTPEnrollment struct {
	Subject    string `json:"subject"`
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	Issuer     string `json:"issuer"`
	Account    string `json:"account"`
	Digits     int    `json:"digits"`
	// PeriodSeconds is the TOTP step length.
	PeriodSeconds int64  `json:"period_seconds"`
	Algorithm     string `json:"algorithm"`
	// Confirmed is false until POST /v1/mfa/totp/confirm accepts a code.
	Confirmed bool `json:"confirmed"`
}

// MFACodeRequest carries a TOTP code (confirm).
type MFACodeRequest struct {
	Code string `json:"code" doc:"The current 6-digit code of the authenticator app."`
}

// TOTPStatus is the 200 body of POST /v1/mfa/totp/confirm: never the secret.
type TOTPStatus struct {
	Subject     string     `json:"subject"`
	Confirmed   bool       `json:"confirmed"`
	ConfirmedAt *time.Time `json:"confirmed_at"`
	CreatedAt   time.Time  `json:"created_at"`
}

// StepUpRequest is the body of POST /v1/auth/step_up.
type StepUpRequest struct {
	Code string `json:"code" doc:"The current 6-digit TOTP code."`
	// TTLSeconds is the new token's lifetime (default 900, at most 3600); it
	// is further capped by the presented token's own expiry.
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
}

// StepUpResponse is the 200 body of POST /v1/auth/step_up. Token is shown
// once (Cache-Control: no-store) and only its hash is stored.
type StepUpResponse struct {
	Token     string    `json:"token"`
	TokenID   string    `json:"token_id"`
	Subject   string    `json:"subject"`
	ExpiresAt time.Time `json:"expires_at"`
	MFAAt     time.Time `json:"mfa_at"`
}

func init() {
	for code, title := range map[string]string{
		CodeInvalidMFACode:     "Invalid MFA code",
		CodeMFANotEnrolled:     "MFA not enrolled",
		CodeMFAAlreadyEnrolled: "MFA already enrolled",
		CodeMFAUnavailable:     "MFA unavailable",
	} {
		if _, ok := codeTitles[code]; !ok {
			codeTitles[code] = title
		}
	}
}
