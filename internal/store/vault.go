package store

import (
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// SecretVersionRecord is one stored secret version of a vault account.
// Sealed is the internal/keys compact form, sealed with
// vault.SecretAAD(AccountID, Version); the store never sees plaintext.
type SecretVersionRecord struct {
	AccountID   string
	Version     int64
	Sealed      string
	Source      string
	OperationID string
	CreatedAt   time.Time
	CreatedBy   api.Actor
}

// SealedValue is one envelope-encrypted value at rest, of any kind, for
// master key rotation: Kind says where it lives ("vault_secret" keyed by
// account id and version, "mfa_totp" keyed by subject).
type SealedValue struct {
	Kind    string
	Key     string
	Version int64
	Sealed  string
}

// Kinds of SealedValue.
const (
	SealedVaultSecret = "vault_secret"
	SealedMFATOTP     = "mfa_totp"
	// SealedRoleWebhook: Key is the role id, Version the target's position.
	SealedRoleWebhook = "role_webhook"
)

// VaultTx persists safes, vault accounts, secret versions and checkouts.
type VaultTx interface {
	// GetSafe returns a safe with AccountCount filled in.
	GetSafe(id string) (api.Safe, error)
	GetSafeIDByName(name string) (string, error)
	ListSafes(f SafeFilter) ([]api.Safe, error)
	// InsertSafe returns ErrConflict when the name is taken.
	InsertSafe(s api.Safe) error
	UpdateSafe(s api.Safe, prevVersion int64) error
	DeleteSafe(id string) error

	// GetVaultAccount returns an account with the rotation part of its status
	// (the checkout part is derived by the domain from checkouts).
	GetVaultAccount(id string) (api.VaultAccount, error)
	// GetVaultAccountIDsByName returns the ids of accounts with that name
	// (unique per safe); safeID "" searches every safe.
	GetVaultAccountIDsByName(safeID, name string) ([]string, error)
	ListVaultAccounts(f VaultAccountFilter) ([]api.VaultAccount, error)
	// InsertVaultAccount returns ErrConflict when the name is taken in the safe.
	InsertVaultAccount(a api.VaultAccount) error
	// UpdateVaultAccount writes the configuration, secret_version and
	// secret_updated_at if the stored version is still prevVersion; the
	// status is left alone.
	UpdateVaultAccount(a api.VaultAccount, prevVersion int64) error
	// DeleteVaultAccount removes the account and its secret versions.
	DeleteVaultAccount(id string) error
	// SetVaultAccountStatus replaces the rotation part of an account's status
	// (the checkout fields are ignored) without changing its version: the
	// rotation engine's write path.
	SetVaultAccountStatus(id string, st api.VaultAccountStatus) error

	InsertSecretVersion(r SecretVersionRecord) error
	GetSecretVersion(accountID string, version int64) (SecretVersionRecord, error)
	// ListSecretVersions returns the versions of an account, newest first.
	ListSecretVersions(accountID string) ([]SecretVersionRecord, error)

	// ListSealedValues returns every sealed value at rest, for key rotation.
	ListSealedValues() ([]SealedValue, error)
	// ReplaceSealedValue overwrites the sealed form of one value.
	ReplaceSealedValue(v SealedValue) error

	GetCheckout(id string) (api.Checkout, error)
	// InsertCheckout returns ErrConflict when exclusive and the account
	// already has an active exclusive checkout.
	InsertCheckout(c api.Checkout, exclusive bool) error
	UpdateCheckout(c api.Checkout, prevVersion int64) error
	ListCheckouts(f CheckoutFilter) ([]api.Checkout, error)
	// ActiveCheckouts returns the account's checkouts in state active
	// (whatever their expiry), earliest expiry first.
	ActiveCheckouts(accountID string) ([]api.Checkout, error)
	// DueCheckouts returns up to limit active checkouts whose expiry is at or
	// before now, earliest first.
	DueCheckouts(now time.Time, limit int) ([]api.Checkout, error)
}

// SafeFilter selects a page of safes.
type SafeFilter struct {
	Name    string
	AfterID string
	Limit   int
}

// VaultAccountFilter selects a page of vault accounts; empty fields do not filter.
type VaultAccountFilter struct {
	SafeID, Name, Platform string
	AfterID                string
	Limit                  int
}

// CheckoutFilter selects a page of checkouts; empty fields do not filter.
type CheckoutFilter struct {
	AccountID            string
	HolderType, HolderID string
	States               []string
	AfterID              string
	Limit                int
}
