package api

import "time"

// Tokens (GET /v1/tokens, DELETE /v1/tokens/{id}): the API shows a token's
// public facts and revokes it; it never returns a token or its hash. Tokens
// are issued by `pamd token create` (operator, on the store) and by step-up
// login (POST /v1/auth/step_up).

// PathTokens is the collection of issued tokens.
const PathTokens = PathPrefix + "/tokens"

// Token is what pamd shows of an issued token.
type Token struct {
	ID          string     `json:"id" doc:"Public token id (tok_...); safe to log."`
	Subject     string     `json:"subject" doc:"Who the token acts as, e.g. user:alice."`
	Groups      []string   `json:"groups"`
	ServerRoles []string   `json:"server_roles"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty" doc:"Absent when the token does not expire."`
	// MFAAt is set on step-up tokens.
	MFAAt *time.Time `json:"mfa_at,omitempty" doc:"When the holder completed MFA (step-up tokens)."`
	// ParentID is the token a step-up token was minted from; revoking the
	// parent revokes it too.
	ParentID string `json:"parent_id,omitempty" doc:"The token this step-up token was minted from; revoked with it."`
}

// TokenListParams are the query parameters of GET /v1/tokens.
type TokenListParams struct {
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}
