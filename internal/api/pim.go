package api

import "time"

// PIM wire types (API.md §7.2-7.5). Configuration objects (activation policies,
// eligible role assignments) are what Terraform manages; elevations are
// lifecycle objects that are only requested, acted on and read.

// Paths of the PIM collections. Actions are verbs appended as a path segment:
// PathElevations + "/" + id + "/" + ActionApprove.
const (
	PathActivationPolicies      = PathPrefix + "/activation_policies"
	PathEligibleRoleAssignments = PathPrefix + "/eligible_role_assignments"
	PathElevations              = PathPrefix + "/elevations"
	PathActiveElevations        = PathPrefix + "/active_elevations"
	PathApprovalRequests        = PathPrefix + "/approval_requests"
)

// ID prefixes of PIM objects.
const (
	PrefixActivationPolicy       = "actp"
	PrefixEligibleRoleAssignment = "era"
	PrefixElevation              = "elv"
)

// Problem codes specific to PIM (API.md §6.5).
const (
	CodePolicyViolation        = "policy_violation"
	CodeInvalidStateTransition = "invalid_state_transition"
	CodeSelfApprovalForbidden  = "self_approval_forbidden"
	CodeNotAnApprover          = "not_an_approver"
	CodeAlreadyDecided         = "already_decided"
	CodeStepUpRequired         = "step_up_required"
	CodeActiveElevationsExist  = "active_elevations_exist"
	// CodeNoMatchingEligibility: a request by role_id and scope found no
	// eligibility of the caller at exactly that scope.
	CodeNoMatchingEligibility = "no_matching_eligibility"
)

// Principal types. Users and service accounts act; groups only grant
// eligibility or approval rights to their members.
const (
	PrincipalTypeUser           = "user"
	PrincipalTypeGroup          = "group"
	PrincipalTypeServiceAccount = "service_account"
)

// PrincipalTypes lists every principal type, for validation and documentation.
var PrincipalTypes = []string{PrincipalTypeUser, PrincipalTypeGroup, PrincipalTypeServiceAccount}

// Bounds of the activation policy fields. They are constants of the contract so
// that the provider rejects at plan time what the server rejects at apply time.
const (
	MinActivationSeconds          = 60
	MaxActivationSeconds          = 30 * 24 * 3600
	DefaultActivationSeconds      = 3600
	MaxTotalActivationSeconds     = 90 * 24 * 3600
	MaxExtensions                 = 20
	MaxJustificationLength        = 1024
	MaxMFAMaxAgeSeconds           = 24 * 3600
	MaxScheduleAheadSeconds       = 90 * 24 * 3600
	DefaultScheduleAheadSeconds   = 7 * 24 * 3600
	MaxEligibilitySeconds         = 5 * 365 * 24 * 3600
	MaxApprovalStages             = 5
	MaxApproversPerStage          = 50
	MinApprovalTimeoutSeconds     = 60
	MaxApprovalTimeoutSeconds     = 30 * 24 * 3600
	DefaultApprovalTimeoutSeconds = 24 * 3600
	MaxTicketSystems              = 20
	MaxTicketFieldLength          = 128
	MaxPrincipalIDLength          = 256
)

// Principal is a flat reference to a user, group or service account.
type Principal struct {
	Type string `json:"principal_type"`
	ID   string `json:"principal_id"`
}

// Ticket references a change or incident in an external tracker.
type Ticket struct {
	System string `json:"system"`
	Number string `json:"number"`
}

// ApprovalStage is one serial step of an approval: any ApprovalsNeeded distinct
// approvers among Approvers (a group counts its members) satisfy it.
type ApprovalStage struct {
	Approvers       []Principal `json:"approvers"`
	ApprovalsNeeded int         `json:"approvals_needed"`
	// TimeoutSeconds bounds how long the stage waits for decisions before the
	// whole request becomes approval_expired. 0 means DefaultApprovalTimeoutSeconds.
	TimeoutSeconds int64 `json:"timeout_seconds"`
}

// Approval is the approval block of a policy. A nil *Approval means no
// approval is needed; a present one has at least one stage. Self-approval is
// never allowed, so there is no switch for it.
type Approval struct {
	Stages []ApprovalStage `json:"stages"`
	// RequireApproverJustification makes a reason mandatory on approve and deny.
	RequireApproverJustification bool `json:"require_approver_justification"`
}

// EligibilityConstraints limit the eligible role assignments that may use a policy.
type EligibilityConstraints struct {
	// AllowPermanent permits assignments without ends_at.
	AllowPermanent bool `json:"allow_permanent"`
	// MaxEligibilitySeconds bounds ends_at - starts_at; 0 means no bound.
	MaxEligibilitySeconds int64 `json:"max_eligibility_seconds"`
}

// ActivationRules are the rules of an activation policy, without its
// identity: the part that is snapshotted into each elevation.
type ActivationRules struct {
	MaxActivationSeconds int64 `json:"max_activation_seconds"`
	// DefaultActivationSeconds applies when a request names no duration; 0 on
	// input means min(DefaultActivationSeconds, max_activation_seconds).
	DefaultActivationSeconds int64 `json:"default_activation_seconds"`
	RequireJustification     bool  `json:"require_justification"`
	// JustificationMinLength counts characters after trimming spaces; only
	// allowed with require_justification.
	JustificationMinLength int  `json:"justification_min_length"`
	RequireTicket          bool `json:"require_ticket"`
	// TicketSystems, when set, restricts ticket.system to these names.
	TicketSystems []string `json:"ticket_systems"`
	RequireMFA    bool     `json:"require_mfa"`
	// MFAMaxAgeSeconds is how old the token's MFA may be; 0 means any MFA on the
	// token counts. Only allowed with require_mfa.
	MFAMaxAgeSeconds    int64 `json:"mfa_max_age_seconds"`
	AllowScheduledStart bool  `json:"allow_scheduled_start"`
	// MaxScheduleAheadSeconds bounds start_at - now; 0 on input means
	// DefaultScheduleAheadSeconds when scheduled start is allowed.
	MaxScheduleAheadSeconds int64 `json:"max_schedule_ahead_seconds"`
	AllowExtension          bool  `json:"allow_extension"`
	// MaxExtensions bounds how many times one elevation may be extended; 0 on
	// input means 1 when extension is allowed.
	MaxExtensions int `json:"max_extensions"`
	// MaxTotalActivationSeconds bounds end_at - start_at after extensions; 0 on
	// input means max_activation_seconds * (1 + max_extensions), capped.
	MaxTotalActivationSeconds int64                  `json:"max_total_activation_seconds"`
	EligibilityConstraints    EligibilityConstraints `json:"eligibility_constraints"`
	Approval                  *Approval              `json:"approval"`
}

// ActivationPolicy is a reusable set of activation rules referenced by
// eligible role assignments.
type ActivationPolicy struct {
	Meta
	ActivationPolicyInput
}

// ActivationPolicyInput is the body of POST and PUT /v1/activation_policies.
type ActivationPolicyInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	ActivationRules
	Labels map[string]string `json:"labels"`
}

// ActivationPolicyListParams are the query parameters of GET /v1/activation_policies.
type ActivationPolicyListParams struct {
	Name      string `query:"name"`
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}

// Eligibility statuses, derived from time and never driven by clients.
const (
	EligibilityScheduled = "scheduled"
	EligibilityActive    = "active"
	EligibilityExpired   = "expired"
)

// EligibleRoleAssignment records that a principal may activate a role at a scope.
type EligibleRoleAssignment struct {
	Meta
	EligibleRoleAssignmentInput
	Status               string `json:"status"`
	ActiveElevationCount int    `json:"active_elevation_count"`
}

// EligibleRoleAssignmentInput is the body of POST and PUT
// /v1/eligible_role_assignments. Principal, role and scope are immutable.
type EligibleRoleAssignmentInput struct {
	PrincipalType      string `json:"principal_type"`
	PrincipalID        string `json:"principal_id"`
	RoleID             string `json:"role_id"`
	Scope              string `json:"scope"`
	ActivationPolicyID string `json:"activation_policy_id"`
	// StartsAt nil means the assignment is effective from its creation.
	StartsAt *time.Time `json:"starts_at"`
	// EndsAt nil means permanent, which the policy must allow.
	EndsAt        *time.Time        `json:"ends_at"`
	Justification string            `json:"justification"`
	Ticket        *Ticket           `json:"ticket"`
	Labels        map[string]string `json:"labels"`
}

// EligibleRoleAssignmentListParams are the query parameters of
// GET /v1/eligible_role_assignments.
type EligibleRoleAssignmentListParams struct {
	PrincipalType      string `query:"principal_type"`
	PrincipalID        string `query:"principal_id"`
	RoleID             string `query:"role_id"`
	Scope              string `query:"scope"`
	ScopePrefix        string `query:"scope_prefix"`
	ActivationPolicyID string `query:"activation_policy_id"`
	// Status is a comma-separated list of eligibility statuses.
	Status    string `query:"status"`
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}

// Elevation states (API.md §7.5).
const (
	StatePendingApproval  = "pending_approval"
	StateScheduled        = "scheduled"
	StateActivating       = "activating"
	StateActive           = "active"
	StateEnded            = "ended"
	StateDenied           = "denied"
	StateApprovalExpired  = "approval_expired"
	StateWithdrawn        = "withdrawn"
	StateActivationFailed = "activation_failed"
	StateDeactivated      = "deactivated"
	StateRevoked          = "revoked"
	// StateRevoking is reserved for asynchronous deprovisioning; v1 revokes
	// synchronously and never reports it.
	StateRevoking = "revoking"
)

// ElevationStates lists every state an elevation can report.
var ElevationStates = []string{
	StatePendingApproval, StateScheduled, StateActivating, StateActive, StateEnded,
	StateDenied, StateApprovalExpired, StateWithdrawn, StateActivationFailed,
	StateDeactivated, StateRevoked,
}

// Actions on an elevation, as path segments of POST /v1/elevations/{id}/{action}.
const (
	ActionApprove    = "approve"
	ActionDeny       = "deny"
	ActionWithdraw   = "withdraw"
	ActionDeactivate = "deactivate"
	ActionRevoke     = "revoke"
	ActionExtend     = "extend"
)

// End reasons of an elevation.
const (
	EndReasonDurationElapsed        = "duration_elapsed"
	EndReasonDeactivatedByRequester = "deactivated_by_requester"
	EndReasonRevokedByAdmin         = "revoked_by_admin"
	EndReasonEligibilityDeleted     = "eligibility_deleted"
	EndReasonEligibilityExpired     = "eligibility_expired"
	EndReasonPolicyViolation        = "policy_violation"
	EndReasonProvisioningFailed     = "provisioning_failed"
)

// Timeline event types.
const (
	EventRequested         = "requested"
	EventApproved          = "approved"
	EventDenied            = "denied"
	EventScheduled         = "scheduled"
	EventActivationStarted = "activation_started"
	EventActivated         = "activated"
	EventActivationFailed  = "activation_failed"
	EventExtended          = "extended"
	EventDeactivated       = "deactivated"
	EventRevoked           = "revoked"
	EventEnded             = "ended"
	EventApprovalExpired   = "approval_expired"
	EventWithdrawn         = "withdrawn"
)

// Approval decisions and stage states.
const (
	DecisionApproved = "approved"
	DecisionDenied   = "denied"

	StageWaiting  = "waiting"
	StagePending  = "pending"
	StageApproved = "approved"
	StageDenied   = "denied"
	StageExpired  = "expired"
)

// Elevation sources.
const (
	SourceSelfActivation = "self_activation"
)

// If-exists modes of an elevation request.
const (
	IfExistsError          = "error"
	IfExistsReturnExisting = "return_existing"
)

// ElevationRequest is the body of POST /v1/elevations. It names either an
// eligibility or a role and scope, from which the server picks the caller's
// eligibility at exactly that scope.
type ElevationRequest struct {
	EligibleRoleAssignmentID string `json:"eligible_role_assignment_id,omitempty"`
	RoleID                   string `json:"role_id,omitempty"`
	Scope                    string `json:"scope,omitempty"`
	// RequestedDurationSeconds 0 means the policy's default_activation_seconds.
	RequestedDurationSeconds int64 `json:"requested_duration_seconds,omitempty"`
	// StartAt nil (or not in the future) means as soon as approved.
	StartAt       *time.Time `json:"start_at,omitempty"`
	Justification string     `json:"justification,omitempty"`
	Ticket        *Ticket    `json:"ticket,omitempty"`
	// ValidateOnly returns the PolicyEvaluation and creates nothing.
	ValidateOnly bool   `json:"validate_only,omitempty"`
	IfExists     string `json:"if_exists,omitempty"`
}

// PolicyEvaluation is the outcome of evaluating a request against its
// eligibility and policy: the body of a validate_only request.
type PolicyEvaluation struct {
	Allowed                  bool   `json:"allowed"`
	EligibleRoleAssignmentID string `json:"eligible_role_assignment_id"`
	ActivationPolicyID       string `json:"activation_policy_id"`
	PolicyVersion            int64  `json:"policy_version"`
	// DurationSeconds is the duration the elevation would get, after defaulting.
	DurationSeconds  int64       `json:"duration_seconds"`
	ApprovalRequired bool        `json:"approval_required"`
	Violations       []Violation `json:"violations"`
}

// PolicySnapshot is the policy as it was when the elevation was requested;
// later policy edits do not change in-flight elevations (API.md P7).
type PolicySnapshot struct {
	ActivationPolicyID string `json:"activation_policy_id"`
	Version            int64  `json:"version"`
	ActivationRules
}

// ElevationMFA records the MFA fact the request was evaluated with.
type ElevationMFA struct {
	Satisfied  bool       `json:"satisfied"`
	VerifiedAt *time.Time `json:"verified_at"`
}

// ApprovalDecision is one approver's decision, counted only for its stage.
type ApprovalDecision struct {
	StageIndex int    `json:"stage_index"`
	Approver   Actor  `json:"approver"`
	Decision   string `json:"decision"`
	Reason     string `json:"reason"`
	// ViaGroupID names the approver group that qualified the approver, if any.
	ViaGroupID string    `json:"via_group_id,omitempty"`
	DecidedAt  time.Time `json:"decided_at"`
}

// ElevationApprovalStage is the progress of one approval stage.
type ElevationApprovalStage struct {
	Index           int                `json:"index"`
	State           string             `json:"state"`
	ApprovalsNeeded int                `json:"approvals_needed"`
	Approvers       []Principal        `json:"approvers"`
	TimeoutSeconds  int64              `json:"timeout_seconds"`
	Decisions       []ApprovalDecision `json:"decisions"`
	// StartedAt and ExpiresAt are set when the stage becomes current.
	StartedAt *time.Time `json:"started_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// ElevationApproval is the approval progress of an elevation.
type ElevationApproval struct {
	CurrentStageIndex int                      `json:"current_stage_index"`
	Stages            []ElevationApprovalStage `json:"stages"`
}

// Extension is one granted extension of an active elevation.
type Extension struct {
	AdditionalSeconds int64     `json:"additional_seconds"`
	Justification     string    `json:"justification"`
	By                Actor     `json:"by"`
	At                time.Time `json:"at"`
}

// TimelineEvent is one entry of an elevation's history.
type TimelineEvent struct {
	Event string    `json:"event"`
	At    time.Time `json:"at"`
	// Actor is nil for transitions driven by time (expiry, scheduled start).
	Actor      *Actor `json:"actor"`
	Reason     string `json:"reason,omitempty"`
	Error      string `json:"error,omitempty"`
	StageIndex *int   `json:"stage_index,omitempty"`
}

// Elevation is one request to activate an eligibility, and its whole life.
type Elevation struct {
	Meta
	State                    string `json:"state"`
	EligibleRoleAssignmentID string `json:"eligible_role_assignment_id"`
	// PrincipalType and PrincipalID are the requester, who receives the role,
	// even when the eligibility was granted to one of their groups.
	PrincipalType            string        `json:"principal_type"`
	PrincipalID              string        `json:"principal_id"`
	RoleID                   string        `json:"role_id"`
	Scope                    string        `json:"scope"`
	Source                   string        `json:"source"`
	RequestedBy              Actor         `json:"requested_by"`
	RequestedDurationSeconds int64         `json:"requested_duration_seconds"`
	RequestedStartAt         *time.Time    `json:"requested_start_at"`
	Justification            string        `json:"justification"`
	Ticket                   *Ticket       `json:"ticket"`
	MFA                      *ElevationMFA `json:"mfa"`
	// Approval is nil when the policy required none.
	Approval *ElevationApproval `json:"approval"`
	// StartAt is when access starts (planned while scheduled); EndAt when it
	// ends. Both are set once the times are known.
	StartAt   *time.Time `json:"start_at"`
	EndAt     *time.Time `json:"end_at"`
	EndedAt   *time.Time `json:"ended_at"`
	EndReason string     `json:"end_reason,omitempty"`
	// ActivationError is the last provisioning error, for activation_failed.
	ActivationError string          `json:"activation_error,omitempty"`
	Extensions      []Extension     `json:"extensions"`
	Timeline        []TimelineEvent `json:"timeline"`
	PolicySnapshot  PolicySnapshot  `json:"policy_snapshot"`

	// ProvisioningWarnings lists provisioning deliveries that failed after
	// the elevation could no longer be failed (an elevation.ended event that
	// was never acknowledged): the elevation ended in pamd regardless.
	ProvisioningWarnings []string `json:"provisioning_warnings,omitempty"`
}

// ElevationListParams are the query parameters of GET /v1/elevations.
type ElevationListParams struct {
	// State is a comma-separated list of states.
	State                    string `query:"state"`
	PrincipalID              string `query:"principal_id"`
	RoleID                   string `query:"role_id"`
	Scope                    string `query:"scope"`
	ScopePrefix              string `query:"scope_prefix"`
	EligibleRoleAssignmentID string `query:"eligible_role_assignment_id"`
	// Relationship is requested_by_me, awaiting_my_approval or decided_by_me.
	Relationship  string    `query:"relationship"`
	CreatedAfter  time.Time `query:"created_after"`
	CreatedBefore time.Time `query:"created_before"`
	PageSize      int       `query:"page_size"`
	PageToken     string    `query:"page_token"`
}

// Relationships of the caller to an elevation, for list filters.
const (
	RelationshipRequestedByMe      = "requested_by_me"
	RelationshipAwaitingMyApproval = "awaiting_my_approval"
	RelationshipDecidedByMe        = "decided_by_me"
)

// ElevationActionRequest is the body of approve, deny, withdraw, deactivate and revoke.
type ElevationActionRequest struct {
	Reason string `json:"reason,omitempty"`
}

// ElevationExtendRequest is the body of POST /v1/elevations/{id}/extend.
type ElevationExtendRequest struct {
	// AdditionalSeconds 0 means the policy's default_activation_seconds.
	AdditionalSeconds int64  `json:"additional_seconds,omitempty"`
	Justification     string `json:"justification,omitempty"`
}

// ActiveElevation is the read projection of an active elevation; its id is the
// elevation's id.
type ActiveElevation struct {
	ID                       string             `json:"id"`
	PrincipalType            string             `json:"principal_type"`
	PrincipalID              string             `json:"principal_id"`
	RoleID                   string             `json:"role_id"`
	Scope                    string             `json:"scope"`
	EligibleRoleAssignmentID string             `json:"eligible_role_assignment_id"`
	Source                   string             `json:"source"`
	StartAt                  time.Time          `json:"start_at"`
	EndAt                    time.Time          `json:"end_at"`
	RemainingSeconds         int64              `json:"remaining_seconds"`
	Justification            string             `json:"justification"`
	Ticket                   *Ticket            `json:"ticket"`
	RequestedBy              Actor              `json:"requested_by"`
	Approvals                []ApprovalDecision `json:"approvals"`
	Extended                 bool               `json:"extended"`
}

// ActiveElevationListParams are the query parameters of GET /v1/active_elevations.
type ActiveElevationListParams struct {
	PrincipalID string    `query:"principal_id"`
	RoleID      string    `query:"role_id"`
	Scope       string    `query:"scope"`
	ScopePrefix string    `query:"scope_prefix"`
	EndsBefore  time.Time `query:"ends_before"`
	PageSize    int       `query:"page_size"`
	PageToken   string    `query:"page_token"`
}
