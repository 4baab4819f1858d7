package store

import (
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// ActivationPolicyTx persists activation policies.
type ActivationPolicyTx interface {
	GetActivationPolicy(id string) (api.ActivationPolicy, error)
	GetActivationPolicyIDByName(name string) (string, error)
	// ListActivationPolicies returns policies ordered by id, after AfterID.
	ListActivationPolicies(f ActivationPolicyFilter) ([]api.ActivationPolicy, error)
	// InsertActivationPolicy returns ErrConflict when the name is taken.
	InsertActivationPolicy(p api.ActivationPolicy) error
	// UpdateActivationPolicy writes p if the stored version is still prevVersion.
	UpdateActivationPolicy(p api.ActivationPolicy, prevVersion int64) error
	DeleteActivationPolicy(id string) error
	// PolicyReferences counts the eligibilities using a policy and returns the
	// lowest id among them as an example ("" when none).
	PolicyReferences(policyID string) (count int, exampleID string, err error)
}

// ActivationPolicyFilter selects a page of activation policies.
type ActivationPolicyFilter struct {
	Name    string
	AfterID string
	Limit   int
}

// EligibilityTx persists eligible role assignments. Status is not stored (it
// is derived from time by the domain); ActiveElevationCount is computed by the
// store at the Now given to the read.
type EligibilityTx interface {
	GetEligibility(id string, now time.Time) (api.EligibleRoleAssignment, error)
	// GetEligibilityIDByKey looks up the natural key.
	GetEligibilityIDByKey(principalType, principalID, roleID, scope string) (string, error)
	ListEligibilities(f EligibilityFilter) ([]api.EligibleRoleAssignment, error)
	// InsertEligibility returns ErrConflict when the natural key is taken.
	InsertEligibility(e api.EligibleRoleAssignment) error
	UpdateEligibility(e api.EligibleRoleAssignment, prevVersion int64) error
	DeleteEligibility(id string) error
}

// EligibilityFilter selects a page of eligible role assignments; empty fields
// do not filter.
type EligibilityFilter struct {
	PrincipalType, PrincipalID, RoleID, Scope string
	// ScopePrefix matches the scope and everything below it ("/" matches all).
	ScopePrefix        string
	ActivationPolicyID string
	// Statuses keeps only assignments whose derived status at Now is listed.
	Statuses []string
	// Now is the time statuses and active_elevation_count are computed at.
	Now     time.Time
	AfterID string
	Limit   int
}

// ElevationTx persists elevations.
type ElevationTx interface {
	GetElevation(id string) (api.Elevation, error)
	InsertElevation(e api.Elevation) error
	// UpdateElevation writes e if the stored version is still prevVersion.
	UpdateElevation(e api.Elevation, prevVersion int64) error
	// ListElevations returns elevations ordered by id, after AfterID.
	ListElevations(f ElevationFilter) ([]api.Elevation, error)
	// DueElevations returns up to limit elevations whose next deadline is at or
	// before now, earliest first: the background worker's batch.
	DueElevations(now time.Time, limit int) ([]api.Elevation, error)
}

// ElevationFilter selects a page of elevations; empty fields do not filter.
type ElevationFilter struct {
	States                     []string
	PrincipalType, PrincipalID string
	RoleID, Scope, ScopePrefix string
	EligibilityID              string
	CreatedAfter               *time.Time
	CreatedBefore              *time.Time
	// EndAfter and EndBefore bound end_at (exclusive); an elevation without
	// end_at never matches either.
	EndAfter  *time.Time
	EndBefore *time.Time
	// VisibleTo restricts to elevations requested by the party, or naming it
	// (or one of Groups) as an approver or decider.
	VisibleTo *Party
	// ApproverOf restricts to elevations naming the party (or one of Groups)
	// as an approver in any stage.
	ApproverOf *Party
	// DecidedBy restricts to elevations the actor decided on.
	DecidedBy *api.Actor
	AfterID   string
	Limit     int
}

// Party is an actor and its groups, for visibility filters.
type Party struct {
	Actor  api.Actor
	Groups []string
}

// Relations of elevation_parties rows.
const (
	RelationApprover = "approver"
	RelationDecider  = "decider"
)
