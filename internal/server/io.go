package server

import "github.com/accessplane/terraform-provider-pam/internal/api"

// The request and response shapes every configuration collection shares,
// written once: huma reads their tags (path id, If-Match, Idempotency-Key,
// ETag and Location headers) to route, validate and describe the API.

// objectOutput is a single object with its version as a strong ETag, and
// its address in Location when it was just created.
type objectOutput[T any] struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     T
}

// objectOut builds an objectOutput; location is empty except on create.
func objectOut[T any](v T, version int64, location string) *objectOutput[T] {
	return &objectOutput[T]{ETag: api.FormatETag(version), Location: location, Body: v}
}

type createInput[T any] struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the create safe to retry: a retry returns the first result."`
	Body           T
}

type idInput struct {
	ID string `path:"id" doc:"Object id: opaque, prefixed by kind (role_, actp_, safe_ ...)."`
}

type replaceInput[T any] struct {
	ID             string `path:"id" doc:"Object id: opaque, prefixed by kind (role_, actp_, safe_ ...)."`
	IfMatch        string `header:"If-Match" doc:"Version the change is based on, as returned in ETag; 412 if stale."`
	IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the replace safe to retry: a retry returns the first result instead of a 412."`
	Body           T
}

type deleteInput struct {
	ID      string `path:"id" doc:"Object id: opaque, prefixed by kind (role_, actp_, safe_ ...)."`
	IfMatch string `header:"If-Match" doc:"Optional version precondition."`
}

type listOutput[T any] struct {
	Body api.Page[T]
}
