package api

import (
	"fmt"
	"time"
)

// ContentTypeProblem is the media type of every error response (RFC 9457).
const ContentTypeProblem = "application/problem+json"

// Stable problem codes. The type URI of a problem is derived from its code.
const (
	CodeValidationFailed      = "validation_failed"
	CodeInvalidPageToken      = "invalid_page_token"
	CodeUnauthenticated       = "unauthenticated"
	CodeForbidden             = "forbidden"
	CodeNotFound              = "not_found"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodeAlreadyExists         = "already_exists"
	CodeInUse                 = "in_use"
	CodeIdempotencyInProgress = "idempotency_request_in_progress"
	CodeIdempotencyKeyReused  = "idempotency_key_reused"
	// CodeIdempotencyOutcomeLost: the request with this key was applied but
	// its response was lost and the object has no representation to answer
	// from; the detail names the object (type and id) so it can be imported.
	CodeIdempotencyOutcomeLost = "idempotency_outcome_lost"
	CodeEtagMismatch           = "etag_mismatch"
	CodeImmutableField         = "immutable_field"
	CodeIfMatchRequired        = "if_match_required"
	CodePayloadTooLarge        = "payload_too_large"
	CodeUnsupportedMediaType   = "unsupported_media_type"
	CodeRateLimited            = "rate_limited"
	CodeInternal               = "internal"
	CodeUnavailable            = "unavailable"
)

// ProblemTypeBase prefixes the problem type URI: ProblemTypeBase + code.
const ProblemTypeBase = "https://pam.dev/problems/"

// Problem is an RFC 9457 problem details object with pamd's extension members.
type Problem struct {
	Type      string `json:"type,omitempty"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
	Retryable bool   `json:"retryable,omitempty"`
	// Violations point at the fields (RFC 6901 pointers into the request body,
	// or query/header names) or policy rules that caused the problem.
	Violations []Violation `json:"violations,omitempty"`
	// CurrentVersion is set on 412 etag_mismatch.
	CurrentVersion *int64 `json:"current_version,omitempty"`
	// ExistingID is set on 409 already_exists.
	ExistingID string `json:"existing_id,omitempty"`
	// State and AllowedTransitions are set on 409 invalid_state_transition:
	// the state the object is in and the actions it allows from there.
	State              string   `json:"state,omitempty"`
	AllowedTransitions []string `json:"allowed_transitions,omitzero"`
	// MFAMaxAgeSeconds is set on 401 step_up_required when the policy bounds
	// the age of the MFA (mirrors max_age in WWW-Authenticate, RFC 9470).
	MFAMaxAgeSeconds *int64 `json:"mfa_max_age_seconds,omitempty"`
	// Holder and ExpiresAt are set on 409 account_locked: who holds the
	// exclusive checkout and when it ends.
	Holder    *Actor     `json:"holder,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Violation is one field or rule failure inside a Problem.
type Violation struct {
	// Pointer is an RFC 6901 JSON pointer into the request body
	// ("/assignable_scopes/0"), or "query:name" / "header:name" for parameters.
	Pointer string `json:"pointer,omitempty"`
	// Rule names a policy rule when the failure is a policy decision.
	Rule    string `json:"rule,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

func (p *Problem) Error() string {
	msg := fmt.Sprintf("%d %s", p.Status, p.Title)
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	for _, v := range p.Violations {
		where := v.Pointer
		if where == "" {
			where = v.Rule
		}
		msg += fmt.Sprintf("; %s: %s", where, v.Message)
	}
	return msg
}
