package store

import (
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// RotationTx persists rotation schedules, operations and the scheduler's
// per-account rotation state.
type RotationTx interface {
	GetRotationSchedule(id string) (api.RotationSchedule, error)
	GetRotationScheduleIDByName(name string) (string, error)
	// ListRotationSchedules returns schedules ordered by id, after AfterID.
	ListRotationSchedules(f RotationScheduleFilter) ([]api.RotationSchedule, error)
	// InsertRotationSchedule returns ErrConflict when the name is taken.
	InsertRotationSchedule(s api.RotationSchedule) error
	// UpdateRotationSchedule writes s if the stored version is still prevVersion.
	UpdateRotationSchedule(s api.RotationSchedule, prevVersion int64) error
	DeleteRotationSchedule(id string) error

	GetOperation(id string) (Operation, error)
	// InsertOperation returns ErrConflict when an open (queued or running)
	// rotate or verify operation already exists for the same target.
	InsertOperation(op Operation) error
	// UpdateOperation overwrites the operation with the same id.
	UpdateOperation(op Operation) error
	// OpenOperation returns the queued or running operation of that kind on
	// the target, or ErrNotFound.
	OpenOperation(kind, targetType, targetID string) (Operation, error)
	// DueOperations returns up to limit operations that can be claimed at
	// now: queued with DueAt <= now, or running with an expired claim;
	// earliest DueAt first. Schedule runs (parents) are never returned.
	DueOperations(now time.Time, limit int) ([]Operation, error)
	// ChildOperations returns the operations of a schedule run.
	ChildOperations(parentID string) ([]Operation, error)

	// GetRotationAccount returns the scheduler state of an account.
	GetRotationAccount(accountID string) (RotationAccount, error)
	// PutRotationAccount inserts or replaces the state of an account.
	PutRotationAccount(r RotationAccount) error
	DeleteRotationAccount(accountID string) error
	// ListRotationAccounts returns every row, ordered by account id.
	ListRotationAccounts() ([]RotationAccount, error)
	// DueRotationAccounts returns up to limit rows with NextRotationAt <= now
	// or NextVerificationAt <= now, earliest first.
	DueRotationAccounts(now time.Time, limit int) ([]RotationAccount, error)
}

// RotationScheduleFilter selects a page of rotation schedules.
type RotationScheduleFilter struct {
	Name    string
	AfterID string
	Limit   int
}

// Operation is an api.Operation with the engine's bookkeeping.
type Operation struct {
	api.Operation
	// ParentID is the schedule run this operation belongs to ("" for none).
	ParentID string `json:"parent_id,omitempty"`
	// Attempts counts the attempts started so far.
	Attempts int `json:"attempts"`
	// DueAt is when the next attempt may start.
	DueAt time.Time `json:"due_at"`
	// ClaimedUntil is the lease of a running attempt.
	ClaimedUntil *time.Time `json:"claimed_until,omitempty"`
	// Reason says why the operation exists: api, schedule, max_age, checkin, run.
	Reason string `json:"reason,omitempty"`
	// PendingSealed is the new secret of a rotate attempt, sealed (never
	// plaintext) before the connector is called, so that a secret the target
	// already accepted is not lost when recording it fails: the next attempt
	// tries it first. Cleared when the operation finishes.
	PendingSealed string `json:"pending_sealed,omitempty"`
}

// Reasons of operations.
const (
	ReasonAPI      = "api"
	ReasonSchedule = "schedule"
	ReasonMaxAge   = "max_age"
	ReasonCheckin  = "checkin"
	ReasonRun      = "schedule_run"
	ReasonVerify   = "verification_interval"
)

// RotationAccount is the scheduler's state of one account under a schedule.
type RotationAccount struct {
	AccountID       string
	ScheduleID      string
	ScheduleVersion int64
	// NextRotationAt is when the account is next due (fire time + jitter, or
	// the max secret age deadline, whichever comes first).
	NextRotationAt time.Time
	// FireAt is the trigger fire time NextRotationAt derives from; the run
	// must start within the schedule's window after it.
	FireAt time.Time
	// NextVerificationAt is nil when the schedule does not verify.
	NextVerificationAt *time.Time
}
