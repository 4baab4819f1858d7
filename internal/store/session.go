package store

import (
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// SessionTx persists session policies, brokered sessions, their command
// filter hits and their recordings.
//
// Sessions are written by the SSH gateway. Writers are serialised by
// Store.Update, so a read-modify-write of a session (GetSession, change,
// UpdateSession) inside one Update cannot lose a concurrent change such as
// an admin's terminate; do not carry a Session across transactions and
// write it back later.
type SessionTx interface {
	GetSessionPolicy(id string) (api.SessionPolicy, error)
	GetSessionPolicyIDByName(name string) (string, error)
	// ListSessionPolicies returns policies ordered by id, after AfterID.
	ListSessionPolicies(f SessionPolicyFilter) ([]api.SessionPolicy, error)
	// InsertSessionPolicy returns ErrConflict when the name is taken.
	InsertSessionPolicy(p api.SessionPolicy) error
	// UpdateSessionPolicy writes p if the stored version is still
	// prevVersion: ErrNotFound, ErrVersionMismatch or ErrConflict otherwise.
	UpdateSessionPolicy(p api.SessionPolicy, prevVersion int64) error
	DeleteSessionPolicy(id string) error

	// CreateSession inserts a session (ErrConflict on a duplicate id). Its
	// CommandFilterHits are ignored: hits are appended with AppendFilterHit.
	// owner is the instance id (Instance.ID) of the pamd process whose
	// gateway brokers it; "" (unknown) is stored as NULL.
	CreateSession(s api.Session, owner string) error
	// GetSession returns a session with its filter hits, oldest first.
	GetSession(id string) (api.Session, error)
	// UpdateSession overwrites the mutable fields of the session with the
	// same id: state, last_activity_at, ended_at, end_reason, ended_by,
	// recording_id, updated_at (the rest is immutable and ignored; hits are
	// kept). ErrNotFound when there is no such session.
	UpdateSession(s api.Session) error
	// TouchSession sets last_activity_at (and updated_at) alone, the
	// gateway's cheap idle-tracking write.
	TouchSession(id string, at time.Time) error
	// AppendFilterHit appends one command filter hit to a session.
	AppendFilterHit(sessionID string, hit api.CommandFilterHit) error
	// ListSessions returns sessions ordered by id (start order), after
	// AfterID, with their hits.
	ListSessions(f SessionFilter) ([]api.Session, error)
	// ListSessionOwners returns the distinct owners of the sessions not yet
	// terminated (pending, active or terminating), sorted; "" stands for
	// sessions with no owner. The sweep of sessions left by dead processes
	// asks Instance.Alive about each.
	ListSessionOwners() ([]string, error)
	// CountActiveSessions counts the principal's sessions in state pending,
	// active or terminating.
	CountActiveSessions(principal api.Actor) (int, error)

	// PutRecording inserts or replaces the recording with the same id.
	PutRecording(r RecordingRecord) error
	// GetRecording returns a recording with its sealed body.
	GetRecording(id string) (RecordingRecord, error)
	// ListRecordings returns recording metadata ordered by id, after AfterID.
	ListRecordings(f RecordingFilter) ([]api.SessionRecording, error)
}

// SessionPolicyFilter selects a page of session policies.
type SessionPolicyFilter struct {
	Name    string
	AfterID string
	Limit   int
}

// SessionFilter selects a page of sessions; empty fields do not filter.
type SessionFilter struct {
	States          []string
	PrincipalType   string
	PrincipalID     string
	VaultAccountID  string
	SessionPolicyID string
	// StartedAfter keeps sessions started strictly after it (zero: no bound).
	StartedAfter time.Time
	// Owners keeps sessions whose owner (CreateSession) is one of these; ""
	// matches sessions with no owner. nil does not filter.
	Owners  []string
	AfterID string
	Limit   int
}

// RecordingRecord is a recording with its body. Sealed is the internal/keys
// compact form of the asciicast v2 body, sealed by the caller with
// session.RecordingAAD(ID); "" while the recording is in progress or
// unavailable. The store never sees plaintext. SHA256 and Bytes (in the
// embedded metadata) describe the plaintext body.
type RecordingRecord struct {
	api.SessionRecording
	Sealed string
}

// RecordingFilter selects a page of recordings.
type RecordingFilter struct {
	SessionID string
	AfterID   string
	Limit     int
}

// SealedSessionRecording is the SealedValue kind of recording bodies (Key is
// the recording id).
const SealedSessionRecording = "session_recording"
