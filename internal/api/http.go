package api

import (
	"fmt"
	"strconv"
	"strings"
)

// Header names used by the API conventions.
const (
	HeaderIdempotencyKey      = "Idempotency-Key"
	HeaderIdempotencyReplayed = "Idempotency-Replayed"
	HeaderIfMatch             = "If-Match"
	HeaderETag                = "ETag"
	HeaderRequestID           = "X-Request-Id"
	HeaderRetryAfter          = "Retry-After"
)

// Paths of the API; the server routes and the client requests use the same
// constants so that the two cannot drift apart.
const (
	PathPrefix  = "/v1"
	PathHealth  = PathPrefix + "/health"
	PathOpenAPI = PathPrefix + "/openapi.json"
	PathRoles   = PathPrefix + "/roles"
)

// FormatETag renders a version as a strong entity tag: "3".
func FormatETag(version int64) string {
	return `"` + strconv.FormatInt(version, 10) + `"`
}

// ParseETag parses a strong entity tag produced by FormatETag. A weak tag
// (W/"3") is accepted and treated as strong, since pamd only emits strong tags.
func ParseETag(tag string) (int64, error) {
	t := strings.TrimSpace(tag)
	t = strings.TrimPrefix(t, "W/")
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return 0, fmt.Errorf("entity tag %q is not a quoted version", tag)
	}
	v, err := strconv.ParseInt(t[1:len(t)-1], 10, 64)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("entity tag %q is not a quoted positive version", tag)
	}
	return v, nil
}

// Health is the body of GET /v1/health.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

// Page is the body of every list response. NextPageToken is empty on the last page.
type Page[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"next_page_token,omitempty"`
}

// Page size bounds for list endpoints.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)
