package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/mfa"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// MFA: TOTP enrollment (self-service) and the step-up login of internal/mfa's
// package documentation. Secrets are sealed with the master keyring, bound to
// the subject; codes are verified and their step spent in the transaction that
// acts on them; wrong codes are counted per subject and, past a limit, refused
// with 429 before any verification. Responses that carry a secret or a token
// are Cache-Control: no-store, which also keeps them out of the idempotency
// cache (see completeIdempotency).

const (
	// mfaIssuer names pamd in authenticator apps.
	mfaIssuer = "pamd"
	// mfaMaxFailures wrong codes within mfaFailureWindow lock the subject's
	// code checks until the window ends.
	mfaMaxFailures   = 5
	mfaFailureWindow = 5 * time.Minute
	// mfaRemoveMaxAge is how fresh the caller's MFA must be to remove a
	// confirmed enrollment: a stolen plain token must not be enough to swap
	// the victim's authenticator for the thief's.
	mfaRemoveMaxAge = 15 * time.Minute
	noStore         = "no-store"
	auditTypeTOTP   = "mfa_totp"
)

// mfaState is the server's MFA configuration.
type mfaState struct {
	keyring *keys.Keyring
}

// mfaAAD binds a sealed TOTP secret to its subject: a sealed value copied onto
// another subject's row does not open.
func mfaAAD(subject string) []byte { return []byte("pamd/mfa_totp/v1\x00" + subject) }

// errRateLimited is a 429 with its own Retry-After.
type errRateLimited struct{ retryAfter time.Duration }

func (e errRateLimited) Error() string { return "too many wrong MFA codes" }

// codeRefusal is why a code was refused: for audit and logs only, the client
// always sees the same 401.
type codeRefusal struct{ reason string }

func (e *codeRefusal) Error() string { return "mfa code refused: " + e.reason }

func invalidCode() *api.Problem {
	return api.NewProblem(http.StatusUnauthorized, api.CodeInvalidMFACode, "the code is not valid; wait for the next code of your authenticator app and retry")
}

func notEnrolled() *api.Problem {
	return api.NewProblem(http.StatusConflict, api.CodeMFANotEnrolled, "no confirmed TOTP enrollment: run `pamd mfa enroll` first")
}

// registerMFARoute is register with the MFA 429: its Retry-After is the time
// left in the failure window, not the generic one second.
func registerMFARoute[I, O any](s *Server, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	op.MaxBodyBytes = s.maxBody + 1
	path := op.Path
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err == nil {
			return out, nil
		}
		var rl errRateLimited
		if !errors.As(err, &rl) {
			return nil, humaError(ctx, path, err)
		}
		secs := max(int64((rl.retryAfter+time.Second-1)/time.Second), 1)
		p := finish(ctx, api.NewProblem(http.StatusTooManyRequests, api.CodeRateLimited,
			fmt.Sprintf("too many wrong codes; try again in %d seconds", secs)), path)
		h := http.Header{}
		h.Set(api.HeaderRetryAfter, strconv.FormatInt(secs, 10))
		return nil, huma.ErrorWithHeaders(humaProblem{p}, h)
	})
}

type enrollOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         api.TOTPEnrollment
}

type codeInput struct {
	Body api.MFACodeRequest
}

type totpStatusOutput struct {
	Body api.TOTPStatus
}

type stepUpInput struct {
	// The bearer token is re-read inside the step-up transaction (its expiry
	// caps the new token's); authentication already validated it.
	Authorization string `header:"Authorization" hidden:"true"`
	Body          api.StepUpRequest
}

type stepUpOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         api.StepUpResponse
}

func (s *Server) registerMFA(kr *keys.Keyring) {
	s.mfa = mfaState{keyring: kr}
	tags := []string{"mfa"}
	registerMFARoute(s, huma.Operation{
		OperationID: "enroll-totp", Method: http.MethodPost, Path: api.PathMFATOTP, DefaultStatus: http.StatusCreated,
		Summary: "Enroll the caller in TOTP MFA", Tags: tags,
		Description: "Generates a TOTP secret for the caller's own subject and returns it, with its otpauth:// URI, exactly once " +
			"(Cache-Control: no-store; never replayed from the idempotency cache). The enrollment is unconfirmed until " +
			"POST /v1/mfa/totp/confirm accepts a code. Re-enrolling replaces an unconfirmed enrollment; a confirmed one is 409 " +
			"mfa_already_enrolled (remove it first with DELETE and a step-up token, or ask an operator: pamd mfa reset).",
	}, s.enrollTOTP)
	registerMFARoute(s, huma.Operation{
		OperationID: "confirm-totp", Method: http.MethodPost, Path: api.PathMFATOTPConfirm,
		Summary: "Confirm the caller's TOTP enrollment with a first code", Tags: tags,
		Description: "A valid code confirms the enrollment; wrong codes are 401 invalid_mfa_code and count towards the " +
			"per-subject limit (5 per 5 minutes, then 429 with Retry-After).",
	}, s.confirmTOTP)
	register(s, huma.Operation{
		OperationID: "delete-totp", Method: http.MethodDelete, Path: api.PathMFATOTP, DefaultStatus: http.StatusNoContent,
		Summary: "Remove the caller's TOTP enrollment", Tags: tags,
		Description: "Removing a confirmed enrollment needs a token with MFA at most 15 minutes old (a step-up token); " +
			"otherwise 401 step_up_required.",
	}, s.deleteTOTP)
	registerMFARoute(s, huma.Operation{
		OperationID: "step-up", Method: http.MethodPost, Path: api.PathAuthStepUp,
		Summary: "Exchange the bearer token and a TOTP code for a short-lived token with MFA", Tags: []string{"auth"},
		Description: "Verifies the code against the caller's confirmed enrollment (each code works once) and mints a new token " +
			"with the same subject, groups and server roles, mfa_at = now, living ttl_seconds (default 900, 60-3600) but " +
			"never past the presented token's expiry. The token is shown once (Cache-Control: no-store). Wrong or reused " +
			"codes are 401 invalid_mfa_code; no enrollment is 409 mfa_not_enrolled; too many wrong codes is 429.",
	}, s.stepUp)
}

func (s *Server) mfaCaller(ctx context.Context, method, path string) (auth.Principal, api.AuditActor, api.AuditRequest, error) {
	c, err := caller(ctx, method, path)
	if err != nil {
		return auth.Principal{}, api.AuditActor{}, api.AuditRequest{}, err
	}
	if s.mfa.keyring == nil {
		return auth.Principal{}, api.AuditActor{}, api.AuditRequest{}, api.NewProblem(http.StatusServiceUnavailable, api.CodeMFAUnavailable,
			"this pamd has no master key configured, so it cannot keep MFA secrets")
	}
	a := c.Principal.Actor()
	return c.Principal, api.AuditActor{Type: a.Type, ID: a.ID, TokenID: c.Principal.TokenID}, c.Request, nil
}

func (s *Server) mfaNow() time.Time { return s.clock.Now().UTC().Truncate(time.Second) }

// totpFacts is what the audit log keeps about an enrollment: never the secret.
type totpFacts struct {
	Subject   string `json:"subject"`
	Confirmed bool   `json:"confirmed"`
}

func (s *Server) enrollTOTP(ctx context.Context, _ *struct{}) (*enrollOutput, error) {
	p, actor, req, err := s.mfaCaller(ctx, http.MethodPost, api.PathMFATOTP)
	if err != nil {
		return nil, err
	}
	_, account, _ := strings.Cut(p.Subject, ":")
	en, err := mfa.Enroll(mfaIssuer, account)
	if err != nil {
		return nil, err
	}
	sealed, err := s.mfa.keyring.SealString([]byte(en.Secret), mfaAAD(p.Subject))
	if err != nil {
		return nil, err
	}
	now := s.mfaNow()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		var before any
		old, err := tx.GetTOTPEnrollment(p.Subject)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case old.ConfirmedAt != nil:
			return api.NewProblem(http.StatusConflict, api.CodeMFAAlreadyEnrolled,
				"you already have a confirmed TOTP enrollment; remove it first (DELETE /v1/mfa/totp with a step-up token) or ask an operator to run `pamd mfa reset`")
		default:
			before = totpFacts{Subject: p.Subject}
		}
		if err := tx.PutTOTPEnrollment(store.TOTPEnrollment{Subject: p.Subject, SealedSecret: sealed, CreatedAt: now}); err != nil {
			return err
		}
		ev, err := audit.NewMutation(audit.Mutation{Now: now, Actor: actor, Request: req, Action: "mfa.enrolled",
			TargetType: auditTypeTOTP, TargetID: p.Subject, Before: before, After: totpFacts{Subject: p.Subject}})
		if err != nil {
			return err
		}
		ev.ResourceVersion = nil
		return tx.AppendAudit(ev)
	})
	if err != nil {
		return nil, err
	}
	return &enrollOutput{CacheControl: noStore, Body: api.TOTPEnrollment{
		Subject: p.Subject, Secret: en.Secret, OTPAuthURI: en.URI, Issuer: en.Issuer, Account: en.Account,
		Digits: en.Digits, PeriodSeconds: int64(en.Period / time.Second), Algorithm: en.Algorithm,
	}}, nil
}

// checkCode runs inside a write transaction: it refuses a locked subject,
// verifies code against the enrollment and spends its step (compare-and-set).
// A refused code returns *codeRefusal, which rolls the transaction back; the
// caller then records the failure in a transaction of its own.
func (s *Server) checkCode(tx store.Tx, en store.TOTPEnrollment, code string, now time.Time, confirm bool) error {
	if en.FailedAttempts >= mfaMaxFailures && en.FailedSince != nil {
		if left := en.FailedSince.Add(mfaFailureWindow).Sub(now); left > 0 {
			return errRateLimited{retryAfter: left}
		}
	}
	secret, err := s.mfa.keyring.OpenString(en.SealedSecret, mfaAAD(en.Subject))
	if err != nil {
		return fmt.Errorf("open the TOTP secret of %s: %w", en.Subject, err)
	}
	defer clear(secret)
	step, err := mfa.Verify(string(secret), code, now, en.LastUsedStep)
	switch {
	case errors.Is(err, mfa.ErrCodeReused):
		return &codeRefusal{reason: "code_reused"}
	case errors.Is(err, mfa.ErrMalformedCode):
		return &codeRefusal{reason: "code_malformed"}
	case errors.Is(err, mfa.ErrInvalidCode):
		return &codeRefusal{reason: "code_invalid"}
	case err != nil:
		return fmt.Errorf("verify the TOTP code of %s: %w", en.Subject, err)
	}
	var confirmedAt *time.Time
	if confirm {
		confirmedAt = &now
	}
	err = tx.UseTOTPStep(en.Subject, en.LastUsedStep, step, confirmedAt)
	if errors.Is(err, store.ErrVersionMismatch) {
		// Another request spent a code in between (SQLite serialises writers,
		// so only a store without that guarantee gets here).
		return &codeRefusal{reason: "code_reused"}
	}
	return err
}

// refusalFacts is the audit detail of a refused code: the reason, never the code.
type refusalFacts struct {
	Reason string `json:"reason"`
}

// codeFailed records a refused code (failure counter and audit event) and
// returns the problem for the client.
func (s *Server) codeFailed(ctx context.Context, cause error, subject, action string, actor api.AuditActor, req api.AuditRequest, now time.Time) error {
	var refusal *codeRefusal
	var rl errRateLimited
	outcome, reason := api.OutcomeFailure, ""
	switch {
	case errors.As(cause, &refusal):
		reason = refusal.reason
	case errors.As(cause, &rl):
		outcome, reason = api.OutcomeDenied, "rate_limited"
	default:
		return cause
	}
	s.log.InfoContext(ctx, "mfa code refused", "subject", subject, "action", action, "reason", reason, "request_id", req.RequestID)
	err := s.store.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		if refusal != nil {
			en, err := tx.GetTOTPEnrollment(subject)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil {
				n, since := en.FailedAttempts+1, en.FailedSince
				if since == nil || !now.Before(since.Add(mfaFailureWindow)) {
					n, since = 1, &now
				}
				if err := tx.SetTOTPFailures(subject, n, since); err != nil {
					return err
				}
			}
		}
		ev, err := audit.NewMutation(audit.Mutation{Now: now, Actor: actor, Request: req, Action: action,
			TargetType: auditTypeTOTP, TargetID: subject, After: refusalFacts{Reason: reason}})
		if err != nil {
			return err
		}
		ev.Outcome, ev.ResourceVersion = outcome, nil
		return tx.AppendAudit(ev)
	})
	if err != nil {
		return err
	}
	if rl.retryAfter > 0 {
		return rl
	}
	return invalidCode()
}

func requireCode(code string) (string, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return "", api.ValidationProblem("a code is required",
			api.Violation{Pointer: "/code", Code: "required", Message: "the current 6-digit code of your authenticator app"})
	}
	return code, nil
}

func (s *Server) confirmTOTP(ctx context.Context, in *codeInput) (*totpStatusOutput, error) {
	p, actor, req, err := s.mfaCaller(ctx, http.MethodPost, api.PathMFATOTPConfirm)
	if err != nil {
		return nil, err
	}
	code, err := requireCode(in.Body.Code)
	if err != nil {
		return nil, err
	}
	now := s.mfaNow()
	var out api.TOTPStatus
	err = s.store.Update(ctx, func(tx store.Tx) error {
		en, err := tx.GetTOTPEnrollment(p.Subject)
		if errors.Is(err, store.ErrNotFound) {
			return api.NewProblem(http.StatusConflict, api.CodeMFANotEnrolled, "no TOTP enrollment to confirm: run `pamd mfa enroll` first")
		}
		if err != nil {
			return err
		}
		if en.ConfirmedAt != nil {
			return api.NewProblem(http.StatusConflict, api.CodeMFAAlreadyEnrolled, "your TOTP enrollment is already confirmed")
		}
		if err := s.checkCode(tx, en, code, now, true); err != nil {
			return err
		}
		ev, err := audit.NewMutation(audit.Mutation{Now: now, Actor: actor, Request: req, Action: "mfa.confirmed",
			TargetType: auditTypeTOTP, TargetID: p.Subject, Before: totpFacts{Subject: p.Subject}, After: totpFacts{Subject: p.Subject, Confirmed: true}})
		if err != nil {
			return err
		}
		ev.ResourceVersion = nil
		out = api.TOTPStatus{Subject: p.Subject, Confirmed: true, ConfirmedAt: &now, CreatedAt: en.CreatedAt}
		return tx.AppendAudit(ev)
	})
	if err != nil {
		return nil, s.codeFailed(ctx, err, p.Subject, "mfa.confirmed", actor, req, now)
	}
	return &totpStatusOutput{Body: out}, nil
}

func (s *Server) deleteTOTP(ctx context.Context, _ *struct{}) (*struct{}, error) {
	p, actor, req, err := s.mfaCaller(ctx, http.MethodDelete, api.PathMFATOTP)
	if err != nil {
		return nil, err
	}
	now := s.mfaNow()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		en, err := tx.GetTOTPEnrollment(p.Subject)
		if errors.Is(err, store.ErrNotFound) {
			return api.NewProblem(http.StatusNotFound, api.CodeNotFound, "you have no TOTP enrollment")
		}
		if err != nil {
			return err
		}
		if en.ConfirmedAt != nil && (p.MFAAt == nil || now.Sub(*p.MFAAt) > mfaRemoveMaxAge) {
			pr := api.NewProblem(http.StatusUnauthorized, api.CodeStepUpRequired,
				"removing a confirmed TOTP enrollment needs a recent MFA: log in with `pamd login --mfa` and retry with that token")
			age := int64(mfaRemoveMaxAge / time.Second)
			pr.MFAMaxAgeSeconds = &age
			return pr
		}
		if err := tx.DeleteTOTPEnrollment(p.Subject); err != nil {
			return err
		}
		ev, err := audit.NewMutation(audit.Mutation{Now: now, Actor: actor, Request: req, Action: "mfa.removed",
			TargetType: auditTypeTOTP, TargetID: p.Subject, Before: totpFacts{Subject: p.Subject, Confirmed: en.ConfirmedAt != nil}})
		if err != nil {
			return err
		}
		ev.ResourceVersion = nil
		return tx.AppendAudit(ev)
	})
	if err != nil {
		return nil, err
	}
	return nil, nil //nolint:nilnil // 204 has no body
}

// stepUpFacts is what the audit log keeps about a step-up: never the code or the token.
type stepUpFacts struct {
	Subject       string    `json:"subject"`
	ParentTokenID string    `json:"parent_token_id"`
	Groups        []string  `json:"groups"`
	ServerRoles   []string  `json:"server_roles"`
	ExpiresAt     time.Time `json:"expires_at"`
	MFAAt         time.Time `json:"mfa_at"`
}

func (s *Server) stepUp(ctx context.Context, in *stepUpInput) (*stepUpOutput, error) {
	p, actor, req, err := s.mfaCaller(ctx, http.MethodPost, api.PathAuthStepUp)
	if err != nil {
		return nil, err
	}
	code, err := requireCode(in.Body.Code)
	if err != nil {
		return nil, err
	}
	ttl := in.Body.TTLSeconds
	if ttl == 0 {
		ttl = api.DefaultStepUpTTLSeconds
	}
	if ttl < api.MinStepUpTTLSeconds || ttl > api.MaxStepUpTTLSeconds {
		return nil, api.ValidationProblem("ttl_seconds is out of range", api.Violation{Pointer: "/ttl_seconds", Code: "range",
			Message: fmt.Sprintf("must be between %d and %d seconds", api.MinStepUpTTLSeconds, api.MaxStepUpTTLSeconds)})
	}
	_, bearer, _ := strings.Cut(in.Authorization, " ")
	bearer = strings.TrimSpace(bearer)
	secret, err := auth.NewToken()
	if err != nil {
		return nil, err
	}
	now := s.mfaNow()
	var out api.StepUpResponse
	err = s.store.Update(ctx, func(tx store.Tx) error {
		// The presented token, re-read in this transaction: it must still be
		// the one authentication resolved, and its expiry caps the new one.
		parent, err := tx.TokenByHash(auth.HashToken(bearer))
		if err != nil || parent.ID != p.TokenID || parent.Expired(now) {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return api.NewProblem(http.StatusUnauthorized, api.CodeUnauthenticated, "the token is invalid or expired")
		}
		en, err := tx.GetTOTPEnrollment(p.Subject)
		if errors.Is(err, store.ErrNotFound) {
			return notEnrolled()
		}
		if err != nil {
			return err
		}
		if en.ConfirmedAt == nil {
			return notEnrolled()
		}
		if err := s.checkCode(tx, en, code, now, false); err != nil {
			return err
		}
		exp := now.Add(time.Duration(ttl) * time.Second)
		if parent.ExpiresAt != nil && parent.ExpiresAt.Before(exp) {
			exp = *parent.ExpiresAt
		}
		mfaAt := now
		rec := auth.Token{
			ID: ids.New(api.PrefixToken, now), Hash: auth.HashToken(secret), Subject: parent.Subject,
			Groups: nonNilStrings(parent.Groups), ServerRoles: nonNilStrings(parent.ServerRoles),
			CreatedAt: now, ExpiresAt: &exp, MFAAt: &mfaAt, ParentID: parent.ID,
		}
		if err := tx.InsertToken(rec); err != nil {
			return err
		}
		ev, err := audit.NewMutation(audit.Mutation{Now: now, Actor: actor, Request: req, Action: "auth.step_up",
			TargetType: "token", TargetID: rec.ID, After: stepUpFacts{Subject: rec.Subject, ParentTokenID: parent.ID,
				Groups: rec.Groups, ServerRoles: rec.ServerRoles, ExpiresAt: exp, MFAAt: mfaAt}, VersionAfter: 1})
		if err != nil {
			return err
		}
		out = api.StepUpResponse{Token: secret, TokenID: rec.ID, Subject: rec.Subject, ExpiresAt: exp, MFAAt: mfaAt}
		return tx.AppendAudit(ev)
	})
	if err != nil {
		return nil, s.codeFailed(ctx, err, p.Subject, "auth.step_up", actor, req, now)
	}
	return &stepUpOutput{CacheControl: noStore, Body: out}, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
