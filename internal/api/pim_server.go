package api

import "time"

// Additions to the PIM contract made while building the pamd side (API.md
// §6.5, §7.4, §7.5). Kept apart from pim.go so that the wire types already in
// use stay untouched.

// CodeIdempotencyKeyMissing: a POST that requires Idempotency-Key (POST
// /v1/elevations) was sent without one.
const CodeIdempotencyKeyMissing = "idempotency_key_missing"

// Query parameters shared by several PIM endpoints.
const (
	// QueryValidateOnly runs every check of a POST or PUT and writes nothing.
	QueryValidateOnly = "validate_only"
	// QueryForce lets DELETE end dependants instead of refusing.
	QueryForce = "force"
)

// ValidationResult is the 200 body of a validate_only request that would
// succeed. A request that would fail answers with the same problem the real
// request would, so Valid is true whenever this body is returned; Violations
// is reserved for warnings and is empty.
type ValidationResult struct {
	Valid      bool        `json:"valid"`
	Violations []Violation `json:"violations,omitempty"`
}

// Approval request kinds.
const (
	ApprovalKindElevation = "elevation"
)

// ApprovalRequest is one item of GET /v1/approval_requests: something the
// caller can approve or deny right now.
type ApprovalRequest struct {
	Kind        string `json:"kind"`
	ID          string `json:"id"`
	RequestedBy Actor  `json:"requested_by"`
	// Summary is a one-line human description ("user:alice wants role_... at /p for 3600s").
	Summary           string     `json:"summary"`
	CurrentStageIndex int        `json:"current_stage_index"`
	ExpiresAt         *time.Time `json:"expires_at"`
	// Href is the path of the object the decision is made on.
	Href string `json:"href"`
}

// ApprovalRequestListParams are the query parameters of GET /v1/approval_requests.
type ApprovalRequestListParams struct {
	PageSize  int    `query:"page_size"`
	PageToken string `query:"page_token"`
}

func init() {
	for code, title := range map[string]string{
		CodeIdempotencyKeyMissing:  "Idempotency-Key required",
		CodePolicyViolation:        "Request violates the activation policy",
		CodeInvalidStateTransition: "Action not allowed in the current state",
		CodeSelfApprovalForbidden:  "Self-approval is not allowed",
		CodeNotAnApprover:          "Not an approver of the current stage",
		CodeAlreadyDecided:         "Already decided",
		CodeStepUpRequired:         "Step-up authentication required",
		CodeActiveElevationsExist:  "Active elevations exist",
		CodeNoMatchingEligibility:  "No matching eligibility",
	} {
		if _, ok := codeTitles[code]; !ok {
			codeTitles[code] = title
		}
	}
}
