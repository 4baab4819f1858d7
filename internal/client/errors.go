package client

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Sentinel errors. A *ProblemError matches them with errors.Is by HTTP status,
// so callers branch on meaning without inspecting status codes.
var (
	ErrNotFound           = errors.New("not found")
	ErrConflict           = errors.New("conflict")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrUnauthorized       = errors.New("unauthorized")
	ErrForbidden          = errors.New("forbidden")
)

// ProblemError is a non-2xx response from pamd, decoded from problem+json.
// Responses that are not problem+json (a proxy's HTML 502, say) are turned into
// a synthetic Problem so that callers handle a single shape.
type ProblemError struct {
	Problem api.Problem
	// Method and Path name the request, for messages; the path has no query.
	Method string
	Path   string
}

func (e *ProblemError) Error() string {
	return fmt.Sprintf("pamd %s %s: %s", e.Method, e.Path, e.Problem.Error())
}

// Is maps the status (and, for 401/403, also the code) to the sentinels.
func (e *ProblemError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Problem.Status == http.StatusNotFound
	case ErrConflict:
		return e.Problem.Status == http.StatusConflict
	case ErrPreconditionFailed:
		return e.Problem.Status == http.StatusPreconditionFailed
	case ErrUnauthorized:
		return e.Problem.Status == http.StatusUnauthorized || e.Problem.Code == api.CodeUnauthenticated
	case ErrForbidden:
		return e.Problem.Status == http.StatusForbidden || e.Problem.Code == api.CodeForbidden
	}
	return false
}

// Code returns the stable problem code ("already_exists", "etag_mismatch" ...).
func (e *ProblemError) Code() string { return e.Problem.Code }

// ProblemCode returns the problem code of err if it wraps a *ProblemError, else "".
func ProblemCode(err error) string {
	var pe *ProblemError
	if errors.As(err, &pe) {
		return pe.Problem.Code
	}
	return ""
}

// ConnectionError means no HTTP response was obtained, after all retries:
// DNS, refused or reset connections, TLS failures and per-attempt timeouts.
type ConnectionError struct {
	Endpoint string
	Method   string
	Path     string
	Attempts int
	Err      error
}

func (e *ConnectionError) Error() string {
	return fmt.Sprintf("pamd %s %s: cannot reach %s after %d attempt(s): %v", e.Method, e.Path, e.Endpoint, e.Attempts, e.Err)
}

func (e *ConnectionError) Unwrap() error { return e.Err }
