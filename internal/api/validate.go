package api

import (
	"regexp"
	"strings"
)

// Validation rules shared by server and provider, so that the provider rejects
// at plan time exactly what the server would reject at apply time.
var (
	// NamePattern: names of catalog objects (roles, policies, safes ...).
	NamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	// ScopePattern: a hierarchical path, "/" for the root or "/a/b" with
	// segments of letters, digits, '.', '_' and '-'; no trailing slash.
	ScopePattern = regexp.MustCompile(`^/([A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*)?$`)
	// LabelKeyPattern: label keys, lowercase and short like Kubernetes labels.
	LabelKeyPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$`)
)

// Human descriptions of the patterns, used in error messages and docs.
const (
	NameRule     = "1-128 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"
	ScopeRule    = `a path such as "/" or "/orgs/acme/projects/payments": segments of letters, digits, '.', '_' or '-', no trailing slash`
	LabelKeyRule = "1-63 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit"
)

// Limits on free text and collections.
const (
	MaxDescriptionLength = 1024
	MaxLabels            = 64
	MaxLabelValueLength  = 256
	MaxAssignableScopes  = 100
)

// ScopeContains reports whether scope lies at or below parent in the hierarchy.
func ScopeContains(parent, scope string) bool {
	if parent == "/" {
		return strings.HasPrefix(scope, "/")
	}
	return scope == parent || strings.HasPrefix(scope, parent+"/")
}
