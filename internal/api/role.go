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
}

// RoleListParams are the query parameters of GET /v1/roles.
type RoleListParams struct {
	// Name filters on the exact role name (names are unique).
	Name      string `query:"name"`
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}
