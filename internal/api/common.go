package api

import "time"

// Actor names who made a change: a token's subject split into type and id
// ("user:alice" is {Type: "user", ID: "alice"}).
type Actor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Meta is the envelope every configuration object carries.
type Meta struct {
	ID        string    `json:"id"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy Actor     `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy Actor     `json:"updated_by"`
}

// ID prefixes: IDs are "<prefix>_<ULID>", opaque and immutable.
const (
	PrefixRole  = "role"
	PrefixAudit = "aud"
	PrefixToken = "tok"
)

// Server roles a token may carry.
const (
	ServerRoleAdmin     = "admin"
	ServerRoleSecurity  = "security"
	ServerRoleAuditor   = "auditor"
	ServerRoleRequester = "requester"
	ServerRoleApprover  = "approver"
)

// ServerRoles lists every server role, for validation and documentation.
var ServerRoles = []string{ServerRoleAdmin, ServerRoleSecurity, ServerRoleAuditor, ServerRoleRequester, ServerRoleApprover}
