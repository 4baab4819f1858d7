package api

// PathAuditEvents is the read-only audit feed.
const PathAuditEvents = PathPrefix + "/audit_events"

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// AuditEvent is one entry of the hash-chained audit log (API.md §8.2). The hash
// covers the RFC 8785 canonical JSON of every field except Hash itself.
type AuditEvent struct {
	ID               string         `json:"id"`
	ChainID          string         `json:"chain_id"`
	Sequence         int64          `json:"sequence"`
	OccurredAt       string         `json:"occurred_at"`
	Action           string         `json:"action"`
	Category         string         `json:"category"`
	Outcome          string         `json:"outcome"`
	Actor            AuditActor     `json:"actor"`
	Target           AuditTarget    `json:"target"`
	Request          AuditRequest   `json:"request"`
	Changes          []AuditChange  `json:"changes,omitempty"`
	ResourceVersion  *VersionChange `json:"resource_version,omitempty"`
	PrevHash         string         `json:"prev_hash"`
	Hash             string         `json:"hash,omitempty"`
	HashAlg          string         `json:"hash_alg"`
	Canonicalization string         `json:"canonicalization"`
}

// AuditActor is who acted. TokenID is the token's public id, never the token.
type AuditActor struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	TokenID string `json:"token_id,omitempty"`
}

// AuditTarget is the object acted upon.
type AuditTarget struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuditRequest correlates an event with the HTTP request that caused it.
type AuditRequest struct {
	RequestID string `json:"request_id,omitempty"`
	Method    string `json:"method,omitempty"`
	Path      string `json:"path,omitempty"`
}

// AuditChange is one RFC 6902-style operation on the target's non-secret fields.
type AuditChange struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	From  any    `json:"from,omitempty"`
	Value any    `json:"value,omitempty"`
}

// VersionChange is the target's version before and after the event; Before is
// 0 on create and After is 0 on delete.
type VersionChange struct {
	Before int64 `json:"before"`
	After  int64 `json:"after"`
}

// AuditListParams are the query parameters of GET /v1/audit_events.
type AuditListParams struct {
	AfterSequence int64  `query:"after_sequence"`
	Action        string `query:"action"`
	TargetID      string `query:"target_id"`
	PageSize      int    `query:"page_size"`
	PageToken     string `query:"page_token"`
}
