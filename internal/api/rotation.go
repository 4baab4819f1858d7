package api

import "time"

// Rotation wire types (API.md §7.8, §6.10): rotation schedules are
// configuration objects managed by Terraform; operations are lifecycle objects
// that are only read.

// Paths of the rotation collections. Actions are verbs appended as a path
// segment: PathRotationSchedules + "/" + id + "/" + ActionRun, and
// PathVaultAccounts + "/" + id + "/" + ActionRotate.
const (
	PathRotationSchedules = PathPrefix + "/rotation_schedules"
	PathOperations        = PathPrefix + "/operations"
	// PathVaultAccountsCollection is the vault accounts collection, repeated
	// here so that the rotate/verify actions can be routed without depending
	// on the vault file.
	PathVaultAccountsCollection = PathPrefix + "/vault_accounts"
)

// Sub-resources and actions of rotation.
const (
	// SubPreview: GET /v1/rotation_schedules/{id}/preview?count=N.
	SubPreview = "preview"
	// ActionRun: POST /v1/rotation_schedules/{id}/run.
	ActionRun = "run"
	// ActionRotate: POST /v1/vault_accounts/{id}/rotate.
	ActionRotate = "rotate"
	// ActionVerify: POST /v1/vault_accounts/{id}/verify.
	ActionVerify = "verify"
)

// ID prefixes of rotation objects.
const (
	PrefixRotationSchedule = "rot"
	PrefixOperation        = "op"
)

// Bounds of the rotation schedule fields, constants of the contract so that
// the provider rejects at plan time what the server rejects at apply time.
const (
	// MinRotationIntervalSeconds is the shortest interval trigger (5 minutes).
	MinRotationIntervalSeconds = 300
	// MaxRotationIntervalSeconds is the longest interval trigger (5 years).
	MaxRotationIntervalSeconds = 5 * 365 * 24 * 3600
	// MaxCronExpressionLength bounds the cron text.
	MaxCronExpressionLength = 256
	// CronHorizonSeconds: a cron expression must fire at least once within
	// this horizon after now, otherwise it is rejected as never firing.
	CronHorizonSeconds = 5 * 366 * 24 * 3600
	// MinRotationWindowSeconds / MaxRotationWindowSeconds bound window_seconds
	// (0 on input means DefaultRotationWindowSeconds).
	MinRotationWindowSeconds     = 60
	MaxRotationWindowSeconds     = 7 * 24 * 3600
	DefaultRotationWindowSeconds = 3600
	// MaxRotationJitterSeconds bounds jitter_seconds; jitter must also be
	// smaller than the window.
	MaxRotationJitterSeconds = 24 * 3600
	// MaxSecretAgeSeconds bounds max_secret_age_seconds (0 means no ceiling).
	MinSecretAgeSeconds = 3600
	MaxSecretAgeSeconds = 5 * 365 * 24 * 3600
	// Verification interval bounds (0 means no periodic verification).
	MinVerificationIntervalSeconds = 300
	MaxVerificationIntervalSeconds = 365 * 24 * 3600
	// Password policy bounds.
	MinPasswordLength     = 8
	MaxPasswordLength     = 128
	DefaultPasswordLength = 32
	// DefaultPasswordSymbols is the symbol set used when password_policy.symbols
	// is null. The server always returns the resolved set.
	DefaultPasswordSymbols = "!#%+-=_@^~"
	// Retry bounds.
	MaxRotationRetryAttempts      = 10
	DefaultRotationRetryAttempts  = 3
	MinRotationRetryBackoff       = 10
	MaxRotationRetryBackoff       = 24 * 3600
	DefaultRotationRetryBackoff   = 600
	MaxRotationPreviewCount       = 100
	DefaultRotationPreviewCount   = 5
	DefaultOperationRetryAfterSec = 2
)

// RotationPasswordPolicy describes generated passwords.
type RotationPasswordPolicy struct {
	// Length of generated passwords; 0 on input means DefaultPasswordLength.
	Length           int  `json:"length"`
	RequireLowercase bool `json:"require_lowercase"`
	RequireUppercase bool `json:"require_uppercase"`
	RequireDigits    bool `json:"require_digits"`
	RequireSymbols   bool `json:"require_symbols"`
	// Symbols is the allowed symbol set (printable ASCII punctuation, no
	// spaces, no duplicates). Nil means DefaultPasswordSymbols; an explicit
	// empty string means "no symbols", which contradicts require_symbols.
	Symbols *string `json:"symbols"`
	// ExcludeAmbiguous removes look-alike characters (0 O o 1 l I | ` ' ").
	ExcludeAmbiguous bool `json:"exclude_ambiguous"`
}

// RotationRetry bounds how a failed rotation is retried.
type RotationRetry struct {
	// MaxAttempts counts all attempts including the first; 0 on input means
	// DefaultRotationRetryAttempts.
	MaxAttempts int `json:"max_attempts"`
	// BackoffSeconds is the base delay; attempt n waits backoff * 2^(n-1).
	// 0 on input means DefaultRotationRetryBackoff.
	BackoffSeconds int64 `json:"backoff_seconds"`
}

// RotationSchedule is a reusable rotation trigger and password policy
// referenced by vault accounts (rotation_schedule_id).
type RotationSchedule struct {
	Meta
	RotationScheduleInput
	Status RotationScheduleStatus `json:"status"`
}

// RotationScheduleStatus is read-only runtime information.
type RotationScheduleStatus struct {
	// NextRunAt is the next trigger fire time after now.
	NextRunAt          *time.Time `json:"next_run_at"`
	LastRunAt          *time.Time `json:"last_run_at"`
	LastRunOperationID string     `json:"last_run_operation_id,omitempty"`
	AccountCount       int        `json:"account_count"`
}

// RotationScheduleInput is the body of POST and PUT /v1/rotation_schedules.
// Exactly one of IntervalSeconds and Cron is set.
type RotationScheduleInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// IntervalSeconds fires every N seconds counted from the last rotation
	// (or from the account's creation).
	IntervalSeconds *int64 `json:"interval_seconds"`
	// Cron is a standard 5-field cron expression or a descriptor (@daily,
	// @weekly, @monthly, @every is NOT accepted: use interval_seconds).
	Cron *string `json:"cron"`
	// TimeZone is the IANA zone the cron is evaluated in; "" means UTC.
	TimeZone string `json:"time_zone"`
	// WindowSeconds: a rotation must start within this long after the fire
	// time, otherwise the run is skipped. 0 on input means the default.
	WindowSeconds int64 `json:"window_seconds"`
	// JitterSeconds: a random delay in [0, jitter) added to each fire time.
	JitterSeconds int64 `json:"jitter_seconds"`
	// MaxSecretAgeSeconds: rotate when the secret is older, whatever the
	// trigger. 0 means no ceiling.
	MaxSecretAgeSeconds int64                  `json:"max_secret_age_seconds"`
	PasswordPolicy      RotationPasswordPolicy `json:"password_policy"`
	// VerificationIntervalSeconds: verify the stored secret against the
	// target this often. 0 means no periodic verification.
	VerificationIntervalSeconds int64             `json:"verification_interval_seconds"`
	Retry                       RotationRetry     `json:"retry"`
	Labels                      map[string]string `json:"labels"`
}

// RotationScheduleListParams are the query parameters of GET /v1/rotation_schedules.
type RotationScheduleListParams struct {
	Name      string `query:"name"`
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}

// RotationPreview is the body of GET /v1/rotation_schedules/{id}/preview.
type RotationPreview struct {
	Next []time.Time `json:"next"`
}

// Operation kinds.
const (
	OperationKindRotate              = "rotate"
	OperationKindVerify              = "verify"
	OperationKindRotationScheduleRun = "rotation_schedule_run"
)

// Operation states.
const (
	OperationQueued    = "queued"
	OperationRunning   = "running"
	OperationSucceeded = "succeeded"
	OperationFailed    = "failed"
)

// OperationStates lists every state an operation can report.
var OperationStates = []string{OperationQueued, OperationRunning, OperationSucceeded, OperationFailed}

// Operation target types.
const (
	TargetTypeVaultAccount     = "vault_account"
	TargetTypeRotationSchedule = "rotation_schedule"
)

// OperationTarget names the object an operation acts on.
type OperationTarget struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// OperationProgress counts per-account outcomes of a schedule run.
type OperationProgress struct {
	Total     int `json:"total"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
}

// OperationResult is what a finished operation produced.
type OperationResult struct {
	// SecretVersion is the account's secret version after a successful rotate.
	SecretVersion int64 `json:"secret_version,omitempty"`
	// Verified is true after a successful verify.
	Verified bool `json:"verified,omitempty"`
}

// Operation is an asynchronous action (API.md §6.10).
type Operation struct {
	ID          string             `json:"id"`
	Kind        string             `json:"kind"`
	Target      OperationTarget    `json:"target"`
	State       string             `json:"state"`
	Progress    *OperationProgress `json:"progress,omitempty"`
	Result      *OperationResult   `json:"result,omitempty"`
	Error       *Problem           `json:"error,omitempty"`
	RequestedBy Actor              `json:"requested_by"`
	CreatedAt   time.Time          `json:"created_at"`
	StartedAt   *time.Time         `json:"started_at,omitempty"`
	FinishedAt  *time.Time         `json:"finished_at,omitempty"`
}

// Problem codes specific to rotation.
const (
	// CodeRotationFailed: the connector could not change the secret.
	CodeRotationFailed = "rotation_failed"
	// CodeVerificationFailed: the stored secret does not log in.
	CodeVerificationFailed = "verification_failed"
	// CodeNotRotatable: the account has no connector or is manually managed.
	CodeNotRotatable = "not_rotatable"
)

// Audit actions of rotation. They never carry secrets.
const (
	AuditRotationStarted       = "rotation.started"
	AuditRotationSucceeded     = "rotation.succeeded"
	AuditRotationFailed        = "rotation.failed"
	AuditVerificationSucceeded = "verification.succeeded"
	AuditVerificationFailed    = "verification.failed"
)
