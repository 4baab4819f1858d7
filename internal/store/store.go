// Package store defines pamd's persistence boundary: the Store and Tx
// interfaces that domain code writes against, the sentinel errors every
// implementation returns, and the records that have no wire type. The SQL
// both engines share lives in store/sqlstore, the engines in store/sqlite and
// store/postgres; storetest holds the conformance suite that both pass.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
)

// Sentinel errors. Implementations wrap driver errors into these so that the
// domain never sees dialect-specific codes.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is a unique-constraint violation on a natural key.
	ErrConflict = errors.New("store: conflict")
	// ErrVersionMismatch is an optimistic-concurrency failure on update.
	ErrVersionMismatch = errors.New("store: version mismatch")
	// ErrUnavailable means the database could not serve the request (locked,
	// disk full, connection lost); the server answers 503 with Retry-After.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrSchemaTooNew is returned by Open when the database was migrated by a
	// newer pamd than this one.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")
)

// Store opens transactions. Every mutation, and the audit event recording it,
// happens inside one Update so that they commit or fail together.
type Store interface {
	// Update runs fn in a read-write transaction; writers are serialised. The
	// transaction commits if fn returns nil and rolls back otherwise.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Tx is one transaction. Its methods use the context the transaction was
// opened with.
type Tx interface {
	RoleTx
	AuditTx
	TokenTx
	IdempotencyTx
	SettingsTx
	MFATx
	ActivationPolicyTx
	EligibilityTx
	ElevationTx
	RoleWebhookTx
	OutboxTx
	VaultTx
	RotationTx
	SessionTx
	SSHKeyTx
}

// RoleTx persists roles.
type RoleTx interface {
	GetRole(id string) (api.Role, error)
	// GetRoleIDByName returns the id of the role with that exact name.
	GetRoleIDByName(name string) (string, error)
	// ListRoles returns roles ordered by id, after AfterID, at most Limit.
	ListRoles(f RoleFilter) ([]api.Role, error)
	// InsertRole returns ErrConflict when the name is taken.
	InsertRole(r api.Role) error
	// UpdateRole writes r if the stored version is still prevVersion:
	// ErrNotFound, ErrVersionMismatch or ErrConflict otherwise.
	UpdateRole(r api.Role, prevVersion int64) error
	DeleteRole(id string) error
}

// RoleFilter selects a page of roles.
type RoleFilter struct {
	Name    string
	AfterID string
	Limit   int
}

// AuditTx appends to and reads the audit chain.
type AuditTx interface {
	// AppendAudit seals ev onto the chain (sequence, prev_hash, hash) and stores it.
	AppendAudit(ev *api.AuditEvent) error
	// GetAuditEvent returns one event by id.
	GetAuditEvent(id string) (api.AuditEvent, error)
	// ListAudit returns events in sequence order.
	ListAudit(f AuditFilter) ([]api.AuditEvent, error)
	// WalkAudit streams the stored records of a chain in sequence order.
	WalkAudit(chainID string, fn func(audit.Record) error) error
	// AuditHead returns the recorded head of a chain (zero for an empty chain).
	AuditHead(chainID string) (audit.Head, error)
}

// AuditFilter selects a page of audit events.
type AuditFilter struct {
	ChainID       string
	AfterSequence int64
	// ActionPrefix matches actions starting with it ("role." or "role.created").
	ActionPrefix string
	TargetID     string
	Limit        int
}

// TokenTx persists token records (hashes, never tokens).
type TokenTx interface {
	InsertToken(t auth.Token) error
	TokenByHash(hash string) (auth.Token, error)
	// TokenByID returns the token record with that id.
	TokenByID(id string) (auth.Token, error)
	CountTokens() (int, error)
	// ListTokens returns every token record (hashes, never tokens), oldest first.
	ListTokens() ([]auth.Token, error)
	// DeleteToken removes a token record, which revokes the token at once;
	// ErrNotFound when there is none with that id.
	DeleteToken(id string) error
	// PurgeExpiredStepUpTokens deletes step-up tokens (those with a parent)
	// that expired before now, and returns how many. They are minted on
	// every MFA step-up and useless once expired; tokens an operator
	// created stay listed after expiry until they are revoked.
	PurgeExpiredStepUpTokens(now time.Time) (int64, error)
}

// IdempotencyRecord is a reserved or completed idempotent request.
type IdempotencyRecord struct {
	Subject, Method, Path, Key string
	// Fingerprint is the SHA-256 of the request body.
	Fingerprint string
	// Done is false while the first request is still running.
	Done bool
	// Status, Header (JSON of the replayed headers) and Body hold the response once Done.
	Status      int
	Header      string
	Body        string
	LockedUntil time.Time
	ExpiresAt   time.Time
	// AppliedTargetType and AppliedTargetID name the object the request's
	// mutation targeted, written in the transaction that committed it; empty
	// while nothing was applied. A reservation that is applied but not Done
	// lost its response (the server died, or the commit acknowledgement was
	// lost): a retry answers from the object instead of running again.
	AppliedTargetType string
	AppliedTargetID   string
	// Owner is the instance id (Instance.ID) of the pamd process that holds
	// the reservation; '' when unknown (written before migration 00014, or
	// while the process could not vouch for its liveness).
	Owner string
}

// Applied reports whether the request's mutation committed.
func (r IdempotencyRecord) Applied() bool {
	return r.AppliedTargetType != "" && r.AppliedTargetID != ""
}

// Instance is the running pamd process as its store engine sees it: an id
// chosen at random for each start, and whether the process that recorded
// some id is still alive. The idempotency middleware uses it to take over,
// at once, a reservation whose holder died before its write committed; the
// session sweep (catalog.Sessions.SweepSessions), to end the SSH sessions of
// a process that died.
type Instance interface {
	// ID is this process's instance id; '' when the engine cannot
	// currently vouch for it (others then treat its reservations as held).
	ID() string
	// Alive reports whether the process with instance id owner may still be
	// running. An error, or any doubt, must not report false: a live
	// holder's reservation would be taken over and its request run twice,
	// and a live gateway's sessions ended under it.
	Alive(ctx context.Context, owner string) (bool, error)
}

// InstanceOf returns the Instance of s when its engine provides one
// (method Instance), or nil. Unwrap decorators (idemstore) first.
func InstanceOf(s any) Instance {
	if p, ok := s.(interface{ Instance() Instance }); ok {
		return p.Instance()
	}
	return nil
}

// UpdateUnsynced runs fn like s.Update, but when the engine can, commits
// without waiting for the commit to reach disk (SQLite: synchronous=NORMAL
// for that one commit; PostgreSQL: synchronous_commit off). The commit is
// visible at once and survives a crash of pamd; only a crash of the machine
// (or of PostgreSQL) may lose it, and then it loses no durable commit made
// after it, since both engines flush their log in order. It is for
// bookkeeping whose loss a later durable commit or a restart repairs: the
// idempotency reservation and outcome (see server/idempotency.go). Engines
// without the method (and decorators) fall back to Update.
func UpdateUnsynced(ctx context.Context, s Store, fn func(Tx) error) error {
	if u, ok := s.(interface {
		UpdateUnsynced(context.Context, func(Tx) error) error
	}); ok {
		return u.UpdateUnsynced(ctx, fn)
	}
	return s.Update(ctx, fn)
}

// NewInstanceID returns a random instance id (128 bits, hex).
func NewInstanceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// IdempotencyTx persists idempotency keys.
type IdempotencyTx interface {
	GetIdempotency(subject, method, path, key string) (IdempotencyRecord, error)
	// PutIdempotency inserts or replaces the record with the same key.
	PutIdempotency(r IdempotencyRecord) error
	DeleteIdempotency(subject, method, path, key string) error
	// ReleaseIdempotency deletes the record only if it is neither applied nor
	// Done, and reports whether it did: a failed request frees its key, but
	// one whose mutation committed keeps it so that a retry is answered from
	// the object rather than run twice.
	ReleaseIdempotency(subject, method, path, key string) (bool, error)
	// PurgeIdempotency deletes records that expired before now.
	PurgeIdempotency(now time.Time) (int64, error)
	// ReleaseAbandonedIdempotency deletes every reservation that is neither
	// applied nor done. Only a store used by one process may call it, at
	// start: every such reservation then belongs to a process that died
	// before its write committed, so nothing was written and a retry must run.
	ReleaseAbandonedIdempotency() (int64, error)
}

// SettingsTx holds small server-wide values, such as the page token key.
type SettingsTx interface {
	GetSetting(key string) (string, error)
	PutSetting(key, value string) error
}
