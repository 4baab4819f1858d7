package api

import "time"

// Registered SSH public keys (POST/GET /v1/ssh_keys, DELETE
// /v1/ssh_keys/{id}): a key is registered by a token's holder for that
// token; the SSH gateway then accepts the key for the token's subject and
// runs the session with the token's principal (subject, groups, server
// roles, MFA time) for as long as the token is valid. Private keys never
// reach pamd.

// PathSSHKeys is the collection of registered public keys.
const PathSSHKeys = PathPrefix + "/ssh_keys"

// PrefixSSHKey is the id prefix of registered keys.
const PrefixSSHKey = "sshk"

// MaxSSHKeyNameLength bounds SSHKeyInput.Name (characters).
const MaxSSHKeyNameLength = 128

// MaxSSHPublicKeyLength bounds SSHKeyInput.PublicKey (bytes).
const MaxSSHPublicKeyLength = 16 << 10

// SSHKeyInput is the body of POST /v1/ssh_keys.
type SSHKeyInput struct {
	// Name labels the key for its owner; "" means the key's comment.
	Name string `json:"name" maxLength:"128" doc:"Label of the key; empty means the comment of the authorized_keys line."`
	// PublicKey is one line in authorized_keys format ("ssh-ed25519 AAAA... comment").
	PublicKey string `json:"public_key" doc:"The public key, one line in authorized_keys format (ssh-ed25519 AAAA... comment). Never a private key."`
}

// SSHKey is a registered public key.
type SSHKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Subject is the owner ("user:alice"), the subject of TokenID.
	Subject string `json:"subject"`
	// TokenID is the token that registered the key; the key works while it
	// is valid and carries its principal.
	TokenID string `json:"token_id"`
	// Fingerprint is "SHA256:..." as ssh-keygen -l prints it; unique.
	Fingerprint string `json:"fingerprint"`
	// PublicKey is the key in authorized_keys format, without comment.
	PublicKey string    `json:"public_key"`
	CreatedAt time.Time `json:"created_at"`
}

// SSHKeyListParams are the query parameters of GET /v1/ssh_keys.
type SSHKeyListParams struct {
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}
