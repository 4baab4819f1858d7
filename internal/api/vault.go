package api

import "time"

// PAM vault wire types (API.md §7.6-7.7): safes and vault accounts are
// configuration that Terraform manages; checkouts are lifecycle objects that
// are only requested, acted on and read.
//
// Secrets are WRITE-ONLY on configuration objects (API.md P5): the secret of a
// vault account is accepted on POST and PUT and never returned; plaintext only
// leaves pamd through GET /v1/checkouts/{id}/secret, to the holder of an
// active checkout, with Cache-Control: no-store.

// Paths of the vault collections. Sub-collections and actions are path
// segments: PathVaultAccounts + "/" + id + "/" + SegmentCheckouts,
// PathCheckouts + "/" + id + "/" + ActionCheckin.
const (
	PathSafes         = PathPrefix + "/safes"
	PathVaultAccounts = PathPrefix + "/vault_accounts"
	PathCheckouts     = PathPrefix + "/checkouts"

	// SegmentCheckouts: POST /v1/vault_accounts/{id}/checkouts.
	SegmentCheckouts = "checkouts"
	// SegmentSecretVersions: GET /v1/vault_accounts/{id}/secret_versions.
	SegmentSecretVersions = "secret_versions"
	// SegmentSecret: GET /v1/checkouts/{id}/secret.
	SegmentSecret = "secret"

	// ActionCheckin: POST /v1/checkouts/{id}/checkin. ActionExtend and
	// ActionRevoke (pim.go) name the other checkout actions.
	ActionCheckin = "checkin"
)

// ID prefixes of vault objects.
const (
	PrefixSafe         = "safe"
	PrefixVaultAccount = "acct"
	PrefixCheckout     = "chk"
)

// Problem codes specific to the vault (API.md §6.5).
const (
	// CodeAccountLocked: 409, an exclusive checkout is held by someone else;
	// the problem carries holder and expires_at.
	CodeAccountLocked = "account_locked"
	// CodeAccountCheckedOut: 409, delete refused while a checkout is active.
	CodeAccountCheckedOut = "account_checked_out"
	// CodeSecretNoLongerAvailable: 410, the checkout has ended.
	CodeSecretNoLongerAvailable = "secret_no_longer_available"
	// CodeRetrieveNotAllowed: 403, the account's checkout policy forbids
	// retrieving the secret (connect-only account), or the caller lacks the
	// retrieve permission on the safe.
	CodeRetrieveNotAllowed = "retrieve_not_allowed"
)

// Safe member permissions: a closed set.
const (
	// SafePermissionList: see the safe's accounts (reserved; every valid token
	// can read account metadata in v1, never secrets).
	SafePermissionList = "list"
	// SafePermissionCheckout: create checkouts of the safe's accounts.
	SafePermissionCheckout = "checkout"
	// SafePermissionRetrieve: read the secret of one's own active checkout.
	SafePermissionRetrieve = "retrieve"
	// SafePermissionManage: create, update, delete the safe's accounts and
	// set their secrets (admin and security may always).
	SafePermissionManage = "manage"
	// SafePermissionApprove: approve checkouts (reserved for checkout approval).
	SafePermissionApprove = "approve"
)

// SafePermissions lists every safe member permission.
var SafePermissions = []string{SafePermissionList, SafePermissionCheckout, SafePermissionRetrieve, SafePermissionManage, SafePermissionApprove}

// Platforms of vault accounts.
const (
	PlatformGeneric    = "generic"
	PlatformPostgreSQL = "postgresql"
	PlatformUnixSSH    = "unix_ssh"
)

// Platforms lists every platform.
var Platforms = []string{PlatformGeneric, PlatformPostgreSQL, PlatformUnixSSH}

// Secret types.
const (
	SecretTypePassword = "password"
	SecretTypeSSHKey   = "ssh_key"
	SecretTypeToken    = "token"
)

// SecretTypes lists every secret type.
var SecretTypes = []string{SecretTypePassword, SecretTypeSSHKey, SecretTypeToken}

// PlatformSecretTypes is which secret types each platform accepts; the server
// refuses other combinations with 400 at /secret_type.
var PlatformSecretTypes = map[string][]string{
	PlatformGeneric:    {SecretTypePassword, SecretTypeSSHKey, SecretTypeToken},
	PlatformPostgreSQL: {SecretTypePassword},
	PlatformUnixSSH:    {SecretTypePassword, SecretTypeSSHKey},
}

// Management modes.
const (
	ManagementAutomatic = "automatic"
	ManagementManual    = "manual"
)

// ManagementModes lists every management mode.
var ManagementModes = []string{ManagementAutomatic, ManagementManual}

// Secret version sources.
const (
	SecretSourceManual    = "manual"
	SecretSourceRotation  = "rotation"
	SecretSourceReconcile = "reconcile"
)

// Checkout states (API.md §7.7; approval states are reserved).
const (
	CheckoutActive    = "active"
	CheckoutCheckedIn = "checked_in"
	CheckoutExpired   = "expired"
	CheckoutRevoked   = "revoked"
)

// CheckoutStates lists every state a checkout can report.
var CheckoutStates = []string{CheckoutActive, CheckoutCheckedIn, CheckoutExpired, CheckoutRevoked}

// Bounds of vault fields, constants of the contract so that the provider
// rejects at plan time what the server rejects at apply time.
const (
	MinCheckoutSeconds = 60
	MaxCheckoutSeconds = 7 * 24 * 3600
	// DefaultCheckoutDurationSeconds applies when checkout_policy
	// .default_duration_seconds is 0 (capped by max_duration_seconds).
	DefaultCheckoutDurationSeconds = 3600
	// DefaultCheckoutMaxSeconds applies when checkout_policy
	// .max_duration_seconds is 0.
	DefaultCheckoutMaxSeconds = 8 * 3600
	MaxSafeMembers            = 200
	MaxSecretLength           = 16 * 1024
	MaxAddressLength          = 255
	MaxUsernameLength         = 256
	// MaxCheckoutExtensions bounds the extensions of one checkout.
	MaxCheckoutExtensions = 20
	// MaxHostKeys bounds VaultAccountInput.HostKeys: a host has one key per
	// algorithm, and a few more cover a key rollover or a cluster address.
	MaxHostKeys = 16
)

// SafeMember grants a principal permissions on a safe's accounts. Members of
// a group member get the group's permissions.
type SafeMember struct {
	PrincipalType string   `json:"principal_type"`
	PrincipalID   string   `json:"principal_id"`
	Permissions   []string `json:"permissions"`
}

// Safe is a container of vault accounts with its members.
type Safe struct {
	Meta
	SafeInput
	// AccountCount is the number of vault accounts in the safe (read-only).
	AccountCount int `json:"account_count"`
}

// SafeInput is the body of POST and PUT /v1/safes. Members are replaced as a
// whole; the server stores them sorted by (principal_type, principal_id) with
// permissions de-duplicated and sorted.
type SafeInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// DefaultRotationScheduleID and DefaultSessionPolicyID are placeholders for
	// the defaults accounts inherit; empty means none. Stored as given.
	DefaultRotationScheduleID string            `json:"default_rotation_schedule_id"`
	DefaultSessionPolicyID    string            `json:"default_session_policy_id"`
	Members                   []SafeMember      `json:"members"`
	Labels                    map[string]string `json:"labels"`
}

// SafeListParams are the query parameters of GET /v1/safes.
type SafeListParams struct {
	Name      string `query:"name"`
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}

// CheckoutPolicy is how an account may be checked out. Zero durations are
// normalised by the server and returned: max 0 means
// DefaultCheckoutMaxSeconds, default 0 means
// min(DefaultCheckoutDurationSeconds, max).
type CheckoutPolicy struct {
	// Exclusive: at most one active checkout at a time; a second caller gets
	// 409 account_locked.
	Exclusive              bool  `json:"exclusive"`
	DefaultDurationSeconds int64 `json:"default_duration_seconds"`
	MaxDurationSeconds     int64 `json:"max_duration_seconds"`
	// RotateOnCheckin asks the rotation engine to rotate the secret when a
	// checkout ends (check-in, expiry, revoke).
	RotateOnCheckin bool `json:"rotate_on_checkin"`
	// AllowRetrieve false makes the account connect-only: its secret cannot be
	// read through a checkout.
	AllowRetrieve        bool `json:"allow_retrieve"`
	RequireJustification bool `json:"require_justification"`
}

// VaultAccount is a privileged credential stored in a safe.
type VaultAccount struct {
	Meta
	VaultAccountInput
	// SecretVersion is read-only: 0 while no secret was ever set, then
	// incremented on every manual set and every rotation.
	SecretVersion   int64              `json:"secret_version"`
	SecretUpdatedAt *time.Time         `json:"secret_updated_at"`
	Status          VaultAccountStatus `json:"status"`
}

// VaultAccountInput is the body of POST and PUT /v1/vault_accounts.
// SafeID and Platform are immutable (422 immutable_field).
type VaultAccountInput struct {
	Name     string `json:"name"`
	SafeID   string `json:"safe_id"`
	Platform string `json:"platform"`
	Address  string `json:"address"`
	// Port 0 means none / the platform default.
	Port       int    `json:"port"`
	Username   string `json:"username"`
	SecretType string `json:"secret_type"`
	// Secret is WRITE-ONLY: accepted on POST and PUT, never returned (always
	// omitted from responses). A PUT with a secret creates a new secret
	// version; a PUT without one keeps the current secret.
	Secret             string            `json:"secret,omitempty" doc:"Write-only secret; never returned. On replace, omitted keeps the current secret, present creates a new secret_version."`
	ManagementMode     string            `json:"management_mode"`
	RotationScheduleID string            `json:"rotation_schedule_id"`
	SessionPolicyID    string            `json:"session_policy_id"`
	CheckoutPolicy     CheckoutPolicy    `json:"checkout_policy"`
	Labels             map[string]string `json:"labels"`
	// HostKeys pins the target's SSH host keys (platform unix_ssh only): the
	// SSH gateway logs in only to a target presenting one of them. Accepted
	// in authorized_keys form ("ssh-ed25519 AAAA... comment"), stored and
	// returned normalised (type and base64, no comment), in the order given.
	HostKeys []string `json:"host_keys" doc:"Pinned SSH host keys of the target (unix_ssh only), authorized_keys form; returned without comments. Empty: not pinned."`
}

// VaultAccountStatus is the read-only health of an account.
type VaultAccountStatus struct {
	// CheckedOutBy, CheckoutID and CheckoutExpiresAt describe the current
	// active checkout (the earliest-ending one for a non-exclusive account).
	CheckedOutBy       *Actor     `json:"checked_out_by"`
	CheckoutID         string     `json:"checkout_id"`
	CheckoutExpiresAt  *time.Time `json:"checkout_expires_at"`
	NextRotationAt     *time.Time `json:"next_rotation_at"`
	LastRotationAt     *time.Time `json:"last_rotation_at"`
	LastRotationResult string     `json:"last_rotation_result"`
	// LastVerificationAt and LastVerificationResult are set by the rotation engine.
	LastVerificationAt     *time.Time `json:"last_verification_at"`
	LastVerificationResult string     `json:"last_verification_result"`
	// Note is a human explanation of the status, e.g. a rotation requested on
	// check-in while no rotation engine is configured.
	Note string `json:"note,omitempty"`
	// LastHostKey and LastHostKeyFingerprint are the SSH host key the target
	// presented to the gateway at its last connection (normalised
	// authorized_keys form, and "SHA256:..."), unless it was refused as a
	// mismatch: what an operator verifies on the target and copies to
	// host_keys. Observed, not verified, when host_keys is empty.
	LastHostKey            string `json:"last_host_key,omitempty"`
	LastHostKeyFingerprint string `json:"last_host_key_fingerprint,omitempty"`
}

// Results recorded in VaultAccountStatus.LastRotationResult.
const (
	RotationResultSucceeded = "succeeded"
	RotationResultFailed    = "failed"
	// RotationResultPending: a rotation was requested (e.g. on check-in) and
	// has not run yet.
	RotationResultPending = "pending"
)

// VaultAccountListParams are the query parameters of GET /v1/vault_accounts.
type VaultAccountListParams struct {
	SafeID    string `query:"safe_id"`
	Name      string `query:"name"`
	Platform  string `query:"platform"`
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}

// SecretVersion is the metadata of one secret version; never the secret.
type SecretVersion struct {
	Version     int64     `json:"version"`
	Source      string    `json:"source"`
	OperationID string    `json:"operation_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   Actor     `json:"created_by"`
}

// CheckoutRequest is the body of POST /v1/vault_accounts/{id}/checkouts
// (Idempotency-Key required). DurationSeconds 0 means the policy default.
type CheckoutRequest struct {
	DurationSeconds int64  `json:"duration_seconds,omitempty"`
	Justification   string `json:"justification,omitempty"`
}

// CheckoutExtension is one granted extension of a checkout.
type CheckoutExtension struct {
	AdditionalSeconds int64     `json:"additional_seconds"`
	Justification     string    `json:"justification,omitempty"`
	By                Actor     `json:"by"`
	At                time.Time `json:"at"`
}

// End reasons of a checkout.
const (
	CheckoutEndCheckedIn = "checked_in"
	CheckoutEndExpired   = "expired"
	CheckoutEndRevoked   = "revoked"
)

// Checkout is one time-limited use of a vault account by its holder. It
// never carries the secret (so that idempotent replays cannot leak it).
type Checkout struct {
	Meta
	AccountID string `json:"account_id"`
	SafeID    string `json:"safe_id"`
	// Holder is the principal that checked the account out.
	Holder          Actor      `json:"holder"`
	State           string     `json:"state"`
	DurationSeconds int64      `json:"duration_seconds"`
	ExpiresAt       time.Time  `json:"expires_at"`
	EndedAt         *time.Time `json:"ended_at"`
	EndReason       string     `json:"end_reason,omitempty"`
	EndedBy         *Actor     `json:"ended_by"`
	Justification   string     `json:"justification"`
	// SecretVersion is the account's secret version when checked out.
	SecretVersion int64 `json:"secret_version"`
	// RotateOnCheckin is the policy snapshot: the end of this checkout asks
	// the rotation engine for a rotation.
	RotateOnCheckin bool                `json:"rotate_on_checkin"`
	Extensions      []CheckoutExtension `json:"extensions"`
}

// CheckoutListParams are the query parameters of GET /v1/checkouts.
type CheckoutListParams struct {
	AccountID string `query:"account_id"`
	// Holder is "type:id", e.g. "user:alice".
	Holder string `query:"holder"`
	// State is a comma-separated list of checkout states.
	State     string `query:"state"`
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}

// CheckoutActionRequest is the body of POST /v1/checkouts/{id}/checkin and /revoke.
type CheckoutActionRequest struct {
	Reason string `json:"reason,omitempty"`
}

// CheckoutExtendRequest is the body of POST /v1/checkouts/{id}/extend; the
// new total duration may not exceed the policy's max_duration_seconds.
type CheckoutExtendRequest struct {
	AdditionalSeconds int64  `json:"additional_seconds"`
	Justification     string `json:"justification,omitempty"`
}

// CheckoutSecret is the 200 body of GET /v1/checkouts/{id}/secret, served
// with Cache-Control: no-store and never stored for replay.
type CheckoutSecret struct {
	CheckoutID    string    `json:"checkout_id"`
	AccountID     string    `json:"account_id"`
	SecretType    string    `json:"secret_type"`
	Username      string    `json:"username"`
	Secret        string    `json:"secret"`
	SecretVersion int64     `json:"secret_version"`
	ExpiresAt     time.Time `json:"expires_at"`
}
