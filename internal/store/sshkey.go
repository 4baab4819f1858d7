package store

import "github.com/accessplane/terraform-provider-pam/internal/api"

// SSHKeyTx persists registered SSH public keys (never private keys).
type SSHKeyTx interface {
	// InsertSSHKey returns ErrConflict when the fingerprint is registered.
	InsertSSHKey(k api.SSHKey) error
	GetSSHKey(id string) (api.SSHKey, error)
	// SSHKeyByFingerprint finds the key with that SHA256 fingerprint.
	SSHKeyByFingerprint(fingerprint string) (api.SSHKey, error)
	// ListSSHKeys returns keys ordered by id, after AfterID.
	ListSSHKeys(f SSHKeyFilter) ([]api.SSHKey, error)
	DeleteSSHKey(id string) error
}

// SSHKeyFilter selects a page of keys; Subject "" means every subject.
type SSHKeyFilter struct {
	Subject string
	AfterID string
	Limit   int
}
