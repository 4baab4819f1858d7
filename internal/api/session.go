package api

import "time"

// Privileged session wire types (API.md §7.9): session policies are
// configuration managed by Terraform and attached to vault accounts
// (session_policy_id) or as a safe default (default_session_policy_id);
// sessions and their recordings are lifecycle objects created by the SSH
// gateway, only read and acted on through the API.

// Paths of the session collections. Actions and sub-resources are path
// segments: PathSessions + "/" + id + "/" + ActionTerminate,
// PathSessionRecordings + "/" + id + "/" + SegmentDownload.
const (
	PathSessionPolicies   = PathPrefix + "/session_policies"
	PathSessions          = PathPrefix + "/sessions"
	PathSessionRecordings = PathPrefix + "/session_recordings"

	// ActionTerminate: POST /v1/sessions/{id}/terminate.
	ActionTerminate = "terminate"
	// SegmentDownload: GET /v1/session_recordings/{id}/download, the
	// asciicast v2 body (ContentTypeAsciicast), audited.
	SegmentDownload = "download"
)

// ID prefixes of session objects.
const (
	PrefixSessionPolicy    = "sesp"
	PrefixSession          = "ses"
	PrefixSessionRecording = "rec"
)

// ContentTypeAsciicast is the media type of a recording download.
const ContentTypeAsciicast = "application/x-asciicast"

// Session protocols. PostgreSQL is reserved: accepted in policies, not yet
// brokered by a gateway.
const (
	SessionProtocolSSH        = "ssh"
	SessionProtocolPostgreSQL = "postgresql"
)

// SessionProtocols lists every protocol a policy may name.
var SessionProtocols = []string{SessionProtocolSSH, SessionProtocolPostgreSQL}

// Credential delivery modes. Only injected exists in v1 (the gateway logs in
// upstream with the vaulted secret; the user never sees it).
const CredentialDeliveryInjected = "injected"

// CredentialDeliveries lists every credential delivery mode.
var CredentialDeliveries = []string{CredentialDeliveryInjected}

// Recording modes: strict refuses (or ends) a session that cannot be
// recorded; best_effort continues without a recording.
const (
	RecordingModeStrict     = "strict"
	RecordingModeBestEffort = "best_effort"
)

// RecordingModes lists every recording mode.
var RecordingModes = []string{RecordingModeStrict, RecordingModeBestEffort}

// Command filter match kinds. Every kind matches the whole normalised command
// line (see CommandFilter).
const (
	CommandMatchExact  = "exact"
	CommandMatchPrefix = "prefix"
	CommandMatchGlob   = "glob"
	CommandMatchRegex  = "regex"
)

// CommandMatches lists every match kind.
var CommandMatches = []string{CommandMatchExact, CommandMatchPrefix, CommandMatchGlob, CommandMatchRegex}

// Command filter actions. allow and deny are valid default actions; alert
// (allow, and record an audit event) and terminate_session only in rules.
const (
	CommandActionAllow            = "allow"
	CommandActionDeny             = "deny"
	CommandActionAlert            = "alert"
	CommandActionTerminateSession = "terminate_session"
)

// CommandActions lists every rule action.
var CommandActions = []string{CommandActionAllow, CommandActionDeny, CommandActionAlert, CommandActionTerminateSession}

// CommandDefaultActions lists the actions allowed as default_action.
var CommandDefaultActions = []string{CommandActionAllow, CommandActionDeny}

// Bounds and defaults of session policy fields, constants of the contract so
// that the provider rejects at plan time what the server rejects at apply time.
const (
	// MinSessionDurationSeconds / MaxSessionDurationSeconds bound
	// max_session_duration_seconds; 0 on input means
	// DefaultSessionDurationSeconds.
	MinSessionDurationSeconds     = 60
	MaxSessionDurationSeconds     = 7 * 24 * 3600
	DefaultSessionDurationSeconds = 8 * 3600
	// idle_timeout_seconds: 0 means no idle timeout; otherwise at least
	// MinIdleTimeoutSeconds and at most max_session_duration_seconds.
	MinIdleTimeoutSeconds = 30
	// MaxConcurrentSessionsLimit bounds max_concurrent_sessions_per_principal
	// (0 means unlimited).
	MaxConcurrentSessionsLimit = 1000
	// mfa_max_age_seconds: 0 with require_mfa means
	// DefaultSessionMFAMaxAgeSeconds; must be 0 without require_mfa.
	DefaultSessionMFAMaxAgeSeconds = 300
	MaxSessionMFAMaxAgeSeconds     = 24 * 3600
	// recording.retain_days: 0 means DefaultRecordingRetainDays.
	DefaultRecordingRetainDays = 90
	MaxRecordingRetainDays     = 10 * 366
	// Command filter bounds.
	MaxCommandFilterRules         = 256
	MaxCommandFilterPatternLength = 1024
	// MaxFilterHitCommandLength: the command recorded in a filter hit is
	// truncated to this many bytes.
	MaxFilterHitCommandLength = 4096
	// MaxSessionProtocols bounds the protocols list.
	MaxSessionProtocols = 8
	// MinSessionJustificationLength / MaxSessionJustificationLength bound
	// the reason a user gives when a policy has require_justification
	// (characters, after trimming white space).
	MinSessionJustificationLength = 10
	MaxSessionJustificationLength = 1024
)

// SessionJustificationEnv is the SSH environment variable that carries the
// justification with password authentication (ssh -o SetEnv=... or SendEnv).
const SessionJustificationEnv = "PAM_JUSTIFICATION"

// SessionRecordingPolicy is whether and how sessions are recorded.
type SessionRecordingPolicy struct {
	Enabled bool `json:"enabled"`
	// Mode: strict | best_effort; "" on input means strict.
	Mode string `json:"mode"`
	// RetainDays: how long recordings are kept; 0 on input means
	// DefaultRecordingRetainDays.
	RetainDays int `json:"retain_days"`
}

// CommandFilterRule is one ordered rule of a command filter.
type CommandFilterRule struct {
	// Match: exact | prefix | glob | regex.
	Match string `json:"match"`
	// Pattern: exact and prefix compare bytes of the normalised command;
	// glob uses path.Match syntax against the whole line, except that '*'
	// and '?' also match '/' (a command line is not a path); regex is Go RE2
	// syntax, unanchored unless the pattern anchors itself (^...$).
	Pattern string `json:"pattern"`
	// Action: allow | deny | alert | terminate_session.
	Action      string `json:"action"`
	Description string `json:"description"`
}

// CommandFilter filters exec requests and interactive input lines. ORDER
// MATTERS: the first rule that matches decides; when none matches,
// DefaultAction decides. Commands are normalised before matching: leading
// and trailing white space trimmed and every run of white space (spaces,
// tabs) collapsed to one space, so that "rm  -rf /" cannot dodge a rule
// written for "rm -rf /".
type CommandFilter struct {
	// DefaultAction: allow | deny; "" on input means allow.
	DefaultAction string              `json:"default_action"`
	Rules         []CommandFilterRule `json:"rules"`
}

// FileTransferPolicy switches SCP/SFTP in each direction.
type FileTransferPolicy struct {
	Upload   bool `json:"upload"`
	Download bool `json:"download"`
}

// SessionPolicy is how brokered sessions to an account happen.
type SessionPolicy struct {
	Meta
	SessionPolicyInput
}

// SessionPolicyInput is the body of POST and PUT /v1/session_policies. The
// server returns it normalised (NormalizePolicy in internal/session):
// protocols sorted and de-duplicated (nil means ["ssh"]), zero durations
// replaced by their defaults, empty enums by their defaults, nil rules and
// labels as empty.
type SessionPolicyInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Protocols is a set: ssh, postgresql (reserved).
	Protocols                 []string `json:"protocols"`
	MaxSessionDurationSeconds int64    `json:"max_session_duration_seconds"`
	// IdleTimeoutSeconds 0 means no idle timeout.
	IdleTimeoutSeconds int64 `json:"idle_timeout_seconds"`
	// MaxConcurrentSessionsPerPrincipal 0 means unlimited.
	MaxConcurrentSessionsPerPrincipal int `json:"max_concurrent_sessions_per_principal"`
	// TerminateOnAuthorizationEnd cuts the session when the checkout or
	// elevation that authorised it ends.
	TerminateOnAuthorizationEnd bool                   `json:"terminate_on_authorization_end"`
	RequireMFA                  bool                   `json:"require_mfa"`
	MFAMaxAgeSeconds            int64                  `json:"mfa_max_age_seconds"`
	RequireJustification        bool                   `json:"require_justification"`
	CredentialDelivery          string                 `json:"credential_delivery"`
	Recording                   SessionRecordingPolicy `json:"recording"`
	CommandFilter               CommandFilter          `json:"command_filter"`
	FileTransfer                FileTransferPolicy     `json:"file_transfer"`
	PortForwarding              bool                   `json:"port_forwarding"`
	Labels                      map[string]string      `json:"labels"`
	// RequireElevation, when set, makes an ACTIVE elevation of the role (PIM)
	// the authorisation of every session: the gateway admits a user only
	// while they hold one at the scope (or at a scope containing it). Any
	// approval is the elevation's own approval workflow (its activation
	// policy). nil means no elevation is required.
	RequireElevation *SessionElevationRequirement `json:"require_elevation,omitempty"`
}

// SessionElevationRequirement names the role (and optionally the scope) an
// active elevation must grant for a session to be admitted.
type SessionElevationRequirement struct {
	RoleID string `json:"role_id"`
	// Scope "" means an active elevation of the role at any scope; otherwise
	// the elevation's scope must be Scope or contain it (ScopeContains).
	Scope string `json:"scope"`
}

// SessionPolicyListParams are the query parameters of GET /v1/session_policies.
type SessionPolicyListParams struct {
	Name      string `query:"name"`
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}

// Session states. pending: the gateway accepted the client and is connecting
// upstream; active: brokered; terminating: an admin asked to cut it and the
// gateway has not confirmed yet; terminated: over (see end_reason).
const (
	SessionPending     = "pending"
	SessionActive      = "active"
	SessionTerminating = "terminating"
	SessionTerminated  = "terminated"
)

// SessionStates lists every session state.
var SessionStates = []string{SessionPending, SessionActive, SessionTerminating, SessionTerminated}

// Session end reasons.
const (
	SessionEndExpired              = "expired"
	SessionEndIdleTimeout          = "idle_timeout"
	SessionEndTerminatedByAdmin    = "terminated_by_admin"
	SessionEndPolicyViolation      = "policy_violation"
	SessionEndAuthorizationEnded   = "authorization_ended"
	SessionEndClientClosed         = "client_closed"
	SessionEndRecordingUnavailable = "recording_unavailable"
	SessionEndUpstreamError        = "upstream_error"
	// SessionEndGatewayLost: the pamd process whose gateway brokered the
	// session died (crash, SIGKILL, power loss) and a later sweep ended it.
	SessionEndGatewayLost = "gateway_lost"
	// SessionEndHostKeyMismatch: the target presented an SSH host key that is
	// not one of the account's host_keys; the gateway did not log in.
	SessionEndHostKeyMismatch = "host_key_mismatch"
	// SessionEndHostKeyUnpinned: the account has no host_keys and the gateway
	// requires them (pamd serve --ssh-require-host-keys).
	SessionEndHostKeyUnpinned = "host_key_unpinned"
)

// SessionEndReasons lists every end reason.
var SessionEndReasons = []string{
	SessionEndExpired, SessionEndIdleTimeout, SessionEndTerminatedByAdmin, SessionEndPolicyViolation,
	SessionEndAuthorizationEnded, SessionEndClientClosed, SessionEndRecordingUnavailable, SessionEndUpstreamError,
	SessionEndGatewayLost, SessionEndHostKeyMismatch, SessionEndHostKeyUnpinned,
}

// CommandFilterHit is one command that matched a filter rule (or the default
// action when it denied). RuleIndex is the 0-based index into
// command_filter.rules of the policy snapshot, -1 for the default action.
type CommandFilterHit struct {
	At        time.Time `json:"at"`
	Command   string    `json:"command"`
	RuleIndex int       `json:"rule_index"`
	Action    string    `json:"action"`
}

// Session is one brokered connection of a principal to a vault account.
type Session struct {
	ID             string `json:"id"`
	State          string `json:"state"`
	VaultAccountID string `json:"vault_account_id"`
	Principal      Actor  `json:"principal"`
	// CheckoutID is the checkout that authorises the session ("" when the
	// session was authorised otherwise, e.g. by safe permission).
	CheckoutID string `json:"checkout_id"`
	// ElevationID is the active elevation that authorised the session when
	// its policy has require_elevation ("" otherwise).
	ElevationID     string `json:"elevation_id"`
	SessionPolicyID string `json:"session_policy_id"`
	// PolicySnapshot is the policy as it was when the session started; later
	// edits of the policy do not change running sessions.
	PolicySnapshot SessionPolicyInput `json:"policy_snapshot"`
	// PolicyVersion is the version of the policy snapshotted.
	PolicyVersion  int64      `json:"policy_version"`
	Protocol       string     `json:"protocol"`
	ClientIP       string     `json:"client_ip"`
	Justification  string     `json:"justification"`
	StartedAt      time.Time  `json:"started_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	LastActivityAt *time.Time `json:"last_activity_at"`
	EndedAt        *time.Time `json:"ended_at"`
	EndReason      string     `json:"end_reason,omitempty"`
	// EndedBy is set when an admin terminated the session.
	EndedBy           *Actor             `json:"ended_by"`
	RecordingID       string             `json:"recording_id"`
	CommandFilterHits []CommandFilterHit `json:"command_filter_hits"`
	UpdatedAt         time.Time          `json:"updated_at"`
}

// SessionListParams are the query parameters of GET /v1/sessions. State is a
// comma-separated list of states; PrincipalID is "type:id" ("user:alice");
// StartedAfter is RFC 3339.
type SessionListParams struct {
	State           string `query:"state"`
	PrincipalID     string `query:"principal_id"`
	VaultAccountID  string `query:"vault_account_id"`
	SessionPolicyID string `query:"session_policy_id"`
	StartedAfter    string `query:"started_after"`
	PageSize        int    `query:"page_size"`
	PageToken       string `query:"page_token"`
}

// SessionTerminateRequest is the body of POST /v1/sessions/{id}/terminate.
type SessionTerminateRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Recording states. recording: in progress (the body is in the gateway's
// memory until the session ends); available: sealed and stored;
// unavailable: there is no body, e.g. the gateway died before sealing it.
const (
	RecordingRecording   = "recording"
	RecordingAvailable   = "available"
	RecordingUnavailable = "unavailable"
)

// RecordingStates lists every recording state.
var RecordingStates = []string{RecordingRecording, RecordingAvailable, RecordingUnavailable}

// RecordingFormatAsciicastV2 is the only recording format.
const RecordingFormatAsciicastV2 = "asciicast_v2"

// SessionRecording is the metadata of one session's recording; the body is
// only served by GET /v1/session_recordings/{id}/download (audited).
type SessionRecording struct {
	ID              string     `json:"id"`
	SessionID       string     `json:"session_id"`
	State           string     `json:"state"`
	Format          string     `json:"format"`
	DurationSeconds int64      `json:"duration_seconds"`
	Bytes           int64      `json:"bytes"`
	SHA256          string     `json:"sha256"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	RetainUntil     *time.Time `json:"retain_until"`
}

// SessionRecordingListParams are the query parameters of
// GET /v1/session_recordings.
type SessionRecordingListParams struct {
	SessionID string `query:"session_id"`
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}
