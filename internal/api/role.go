package api

// Role is a privileged role in the catalog: what an elevation grants.
type Role struct {
	Meta
	RoleInput
}

// RoleInput is the writable part of a role: the body of POST and PUT /v1/roles.
type RoleInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// AssignableScopes are the scopes at or below which the role may be made
	// eligible. The server stores them de-duplicated and sorted; empty means ["/"].
	AssignableScopes []string          `json:"assignable_scopes"`
	Labels           map[string]string `json:"labels"`
	// Webhooks are the provisioning targets notified (signed POST) when an
	// elevation of the role becomes active and when it ends. Order is kept.
	Webhooks []RoleWebhook `json:"webhooks,omitempty" maxItems:"8" doc:"Provisioning webhook targets (at most 8, URLs unique). Each secret is write-only: accepted on create and replace, never returned. On replace, a target sent without secret keeps the stored secret of the target with the same URL."`
}

// MaxRoleWebhooks bounds the webhook targets of one role.
const MaxRoleWebhooks = 8

// RoleWebhook is one provisioning target of a role.
//
// Secret is WRITE-ONLY: the server accepts it on POST and PUT and never
// returns it (responses, audit events, idempotent replays and logs carry
// has_secret instead). On PUT a target whose secret is omitted keeps the
// secret stored for the same URL, so a client that cannot read the secret
// back can still update other fields; a target with a new URL needs one.
type RoleWebhook struct {
	URL string `json:"url" doc:"Absolute http(s) URL the signed events are POSTed to; no credentials, no fragment."`
	// Secret is the HMAC-SHA256 key shared with the receiver.
	Secret string `json:"secret,omitempty" doc:"Write-only HMAC-SHA256 signing key (at least 16 bytes); never returned."`
	// SecretVersion is an opaque client counter stored with the secret and
	// returned, so that a client can tell which secret the server holds.
	SecretVersion int64 `json:"secret_version,omitempty" minimum:"0" doc:"Client-chosen version of the secret; stored and returned. Omitted on replace keeps the stored one."`
	// HasSecret is set in responses when a secret is stored; ignored on input.
	HasSecret bool `json:"has_secret,omitempty" doc:"Response only: true when the server holds a secret for this target."`
}

// RoleListParams are the query parameters of GET /v1/roles.
type RoleListParams struct {
	// Name filters on the exact role name (names are unique).
	Name      string `query:"name"`
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}
