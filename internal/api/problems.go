package api

import "net/http"

// codeTitles are the stable, human titles of each problem code; RFC 9457 says a
// title must not change between occurrences, so it belongs to the code.
var codeTitles = map[string]string{
	CodeValidationFailed:        "Request is not valid",
	CodeInvalidPageToken:        "Page token is not valid",
	CodeUnauthenticated:         "Authentication required",
	CodeForbidden:               "Not allowed",
	CodeNotFound:                "Not found",
	CodeMethodNotAllowed:        "Method not allowed",
	CodeAlreadyExists:           "Already exists",
	CodeInUse:                   "In use",
	CodeIdempotencyInProgress:   "Request with this idempotency key is in progress",
	CodeIdempotencyKeyReused:    "Idempotency key reused with a different request",
	CodeIdempotencyOutcomeLost:  "Request with this idempotency key was applied but its response was lost",
	CodeEtagMismatch:            "Version mismatch",
	CodeImmutableField:          "Field cannot be changed",
	CodeIfMatchRequired:         "If-Match required",
	CodePayloadTooLarge:         "Request body too large",
	CodeUnsupportedMediaType:    "Unsupported media type",
	CodeRateLimited:             "Too many requests",
	CodeInternal:                "Internal error",
	CodeUnavailable:             "Service unavailable",
	CodeAccountLocked:           "Account is checked out by someone else",
	CodeAccountCheckedOut:       "Account is checked out",
	CodeSecretNoLongerAvailable: "Secret no longer available",
}

// NewProblem builds a problem with the stable title and type of code.
func NewProblem(status int, code, detail string) *Problem {
	title := codeTitles[code]
	if title == "" {
		title = http.StatusText(status)
	}
	return &Problem{
		Type:      ProblemTypeBase + code,
		Title:     title,
		Status:    status,
		Detail:    detail,
		Code:      code,
		Retryable: status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || code == CodeIdempotencyInProgress,
	}
}

// ValidationProblem is the 400 validation_failed problem listing violations.
func ValidationProblem(detail string, violations ...Violation) *Problem {
	p := NewProblem(http.StatusBadRequest, CodeValidationFailed, detail)
	p.Violations = violations
	return p
}
