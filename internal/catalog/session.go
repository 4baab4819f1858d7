package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/session"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/idemstore"
)

// Kinds of session objects, for problems and audit targets.
const (
	sessionPolicyKind = "session_policy"
	sessionKind       = "session"
	recordingKind     = "session_recording"
)

// sessionReaders may read every session and recording; other callers see
// only their own sessions and no recordings.
var sessionReaders = []string{api.ServerRoleAdmin, api.ServerRoleSecurity, api.ServerRoleAuditor}

// Terminator cuts a live session; the SSH gateway implements it. A nil
// error means the session is being cut and the gateway records its end; any
// error means the session is not live there (gateway restarted, session on
// no gateway), so Sessions ends it in the store itself.
type Terminator interface {
	TerminateSession(ctx context.Context, id, reason string) error
}

// ErrSessionNotLive is what NoopTerminator answers.
var ErrSessionNotLive = errors.New("session is not live on any gateway")

// NoopTerminator is the Terminator when no gateway runs: no session is live.
type NoopTerminator struct{}

// TerminateSession implements Terminator.
func (NoopTerminator) TerminateSession(context.Context, string, string) error {
	return ErrSessionNotLive
}

// Sessions orchestrates session policies, sessions and recordings: store
// transactions, the audit event of every change in the same transaction,
// and the opening of sealed recordings. Its ctx-taking session methods
// (CreateSession, UpdateSession, AppendFilterHit, CreateRecording,
// PutRecording) are the gateway's write path (gateway.SessionStore);
// SessionPolicySource is its gateway.PolicySource.
type Sessions struct {
	Store   store.Store
	Clock   clock.Clock
	Keyring *keys.Keyring
	Logger  *slog.Logger

	mu         sync.RWMutex
	terminator Terminator
}

// SetTerminator installs the gateway that cuts live sessions (nil means
// NoopTerminator). Safe to call while serving: the gateway starts after the
// API.
func (s *Sessions) SetTerminator(t Terminator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.terminator = t
}

func (s *Sessions) term() Terminator {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.terminator == nil {
		return NoopTerminator{}
	}
	return s.terminator
}

func (s *Sessions) clk() clock.Clock {
	if s.Clock == nil {
		return clock.Real{}
	}
	return s.Clock
}

func (s *Sessions) now() time.Time { return s.clk().Now().UTC().Truncate(time.Second) }

func (s *Sessions) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Sessions) record(tx store.Tx, c *Caller, action, kind, id string, before, after any, vb, va int64) error {
	m := audit.Mutation{Now: s.clk().Now(), Action: action, TargetType: kind, TargetID: id,
		Before: before, After: after, VersionBefore: vb, VersionAfter: va}
	if c != nil {
		m.Actor, m.Request = c.auditActor(), c.Request
	} else {
		m.Actor = systemActor
	}
	ev, err := audit.NewMutation(m)
	if err != nil {
		return err
	}
	if vb == 0 && va == 0 {
		ev.ResourceVersion = nil // sessions and recordings carry no version
	}
	return tx.AppendAudit(ev)
}

// errSessionDenied marks a refusal decided inside a transaction; it is
// audited after the rollback.
type errSessionDenied struct{ action, kind, id, msg string }

func (e *errSessionDenied) Error() string { return e.msg }

func sessionDeny(action, kind, id, msg string) error {
	return &errSessionDenied{action: action, kind: kind, id: id, msg: msg}
}

// finish audits a refusal (own transaction) and maps it to 403.
func (s *Sessions) finish(ctx context.Context, c Caller, err error) error {
	var d *errSessionDenied
	if !errors.As(err, &d) {
		return err
	}
	ev := audit.NewDenied(s.clk().Now(), c.auditActor(), c.Request, d.action, d.kind, d.id)
	if aerr := s.Store.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(ev) }); aerr != nil {
		return aerr
	}
	return api.NewProblem(http.StatusForbidden, api.CodeForbidden, d.msg)
}

const writersMsg = "requires server role admin or security"

// ---------------------------------------------------------------- policies

func validateSessionPolicy(in api.SessionPolicyInput) (api.SessionPolicyInput, error) {
	if vs := session.ValidatePolicy(in); len(vs) > 0 {
		return in, validationOf(vs)
	}
	return session.NormalizePolicy(in), nil
}

// checkElevationRole: the role require_elevation names must exist (400 at
// /require_elevation/role_id otherwise).
func checkElevationRole(tx store.Tx, in api.SessionPolicyInput) error {
	if in.RequireElevation == nil {
		return nil
	}
	_, err := tx.GetRole(in.RequireElevation.RoleID)
	if isNotFound(err) {
		return validationOf([]api.Violation{{Pointer: "/require_elevation/role_id", Code: "not_found",
			Message: fmt.Sprintf("role %q does not exist", in.RequireElevation.RoleID)}})
	}
	return err
}

func sessionPolicyNameConflict(tx store.Tx, name, selfID string) error {
	id, err := tx.GetSessionPolicyIDByName(name)
	switch {
	case isNotFound(err):
		return nil
	case err != nil:
		return err
	case id == selfID:
		return nil
	}
	return alreadyExists("session policy", name, id)
}

// CreateSessionPolicy adds a policy (admin or security).
func (s *Sessions) CreateSessionPolicy(ctx context.Context, c Caller, in api.SessionPolicyInput) (api.SessionPolicy, error) {
	if !c.Principal.HasAnyRole(catalogWriters...) {
		return api.SessionPolicy{}, s.finish(ctx, c, sessionDeny("session_policy.created", sessionPolicyKind, "", "creating a session policy "+writersMsg))
	}
	norm, err := validateSessionPolicy(in)
	if err != nil {
		return api.SessionPolicy{}, err
	}
	now, actor := s.now(), c.Principal.Actor()
	p := api.SessionPolicy{
		Meta:               api.Meta{ID: ids.New(api.PrefixSessionPolicy, now), Version: 1, CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor},
		SessionPolicyInput: norm,
	}
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		if err := sessionPolicyNameConflict(tx, p.Name, ""); err != nil {
			return err
		}
		if err := checkElevationRole(tx, p.SessionPolicyInput); err != nil {
			return err
		}
		if err := tx.InsertSessionPolicy(p); err != nil {
			return err
		}
		return s.record(tx, &c, "session_policy.created", sessionPolicyKind, p.ID, nil, p, 0, 1)
	})
	if err != nil {
		return api.SessionPolicy{}, err
	}
	return p, nil
}

// GetSessionPolicy reads one policy; any authenticated caller may.
func (s *Sessions) GetSessionPolicy(ctx context.Context, id string) (api.SessionPolicy, error) {
	var p api.SessionPolicy
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		p, err = tx.GetSessionPolicy(id)
		return err
	})
	if isNotFound(err) {
		return p, notFound("session policy", id)
	}
	return p, err
}

// ListSessionPolicies returns a page of policies.
func (s *Sessions) ListSessionPolicies(ctx context.Context, f store.SessionPolicyFilter) ([]api.SessionPolicy, error) {
	var out []api.SessionPolicy
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.ListSessionPolicies(f)
		return err
	})
	return out, err
}

// ReplaceSessionPolicy overwrites a policy. Running sessions keep their
// policy_snapshot.
func (s *Sessions) ReplaceSessionPolicy(ctx context.Context, c Caller, id string, ifMatch *int64, in api.SessionPolicyInput) (api.SessionPolicy, error) {
	var out api.SessionPolicy
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetSessionPolicy(id)
		if isNotFound(err) {
			return notFound("session policy", id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			return sessionDeny("session_policy.updated", sessionPolicyKind, id, "changing a session policy "+writersMsg)
		}
		norm, err := validateSessionPolicy(in)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch("session policy", id, cur.Version)
		}
		if err := sessionPolicyNameConflict(tx, norm.Name, id); err != nil {
			return err
		}
		if err := checkElevationRole(tx, norm); err != nil {
			return err
		}
		out = cur
		out.SessionPolicyInput = norm
		out.Version = cur.Version + 1
		out.UpdatedAt, out.UpdatedBy = s.now(), c.Principal.Actor()
		if err := tx.UpdateSessionPolicy(out, cur.Version); err != nil {
			return err
		}
		return s.record(tx, &c, "session_policy.updated", sessionPolicyKind, id, cur.SessionPolicyInput, out.SessionPolicyInput, cur.Version, out.Version)
	})
	if err != nil {
		return api.SessionPolicy{}, s.finish(ctx, c, err)
	}
	return out, nil
}

// SessionPolicyReferences lists the vault accounts and safes that name the
// policy (session_policy_id, default_session_policy_id).
func SessionPolicyReferences(tx store.Tx, id string) (accounts, safes []string, err error) {
	after := ""
	for {
		page, err := tx.ListVaultAccounts(store.VaultAccountFilter{AfterID: after, Limit: api.MaxPageSize})
		if err != nil {
			return nil, nil, err
		}
		for _, a := range page {
			if a.SessionPolicyID == id {
				accounts = append(accounts, a.ID)
			}
		}
		if len(page) < api.MaxPageSize {
			break
		}
		after = page[len(page)-1].ID
	}
	after = ""
	for {
		page, err := tx.ListSafes(store.SafeFilter{AfterID: after, Limit: api.MaxPageSize})
		if err != nil {
			return nil, nil, err
		}
		for _, sf := range page {
			if sf.DefaultSessionPolicyID == id {
				safes = append(safes, sf.ID)
			}
		}
		if len(page) < api.MaxPageSize {
			break
		}
		after = page[len(page)-1].ID
	}
	return accounts, safes, nil
}

// DeleteSessionPolicy removes a policy no vault account or safe references
// (409 in_use otherwise). Past sessions keep their snapshot.
func (s *Sessions) DeleteSessionPolicy(ctx context.Context, c Caller, id string, ifMatch *int64) error {
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetSessionPolicy(id)
		if isNotFound(err) {
			return notFound("session policy", id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			return sessionDeny("session_policy.deleted", sessionPolicyKind, id, "deleting a session policy "+writersMsg)
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch("session policy", id, cur.Version)
		}
		accts, safes, err := SessionPolicyReferences(tx, id)
		if err != nil {
			return err
		}
		if len(accts)+len(safes) > 0 {
			var parts []string
			if len(accts) > 0 {
				parts = append(parts, fmt.Sprintf("%d vault account(s) (for example %s)", len(accts), accts[0]))
			}
			if len(safes) > 0 {
				parts = append(parts, fmt.Sprintf("%d safe(s) as their default (for example %s)", len(safes), safes[0]))
			}
			return api.NewProblem(http.StatusConflict, api.CodeInUse, fmt.Sprintf(
				"session policy %q is used by %s; point them at another policy first", id, strings.Join(parts, " and ")))
		}
		if err := tx.DeleteSessionPolicy(id); err != nil {
			return err
		}
		return s.record(tx, &c, "session_policy.deleted", sessionPolicyKind, id, cur.SessionPolicyInput, nil, cur.Version, 0)
	})
	return s.finish(ctx, c, err)
}

// CheckSessionPolicyRef validates a session policy reference of a vault
// account or safe: "" or an existing policy, else a 400 violation at pointer.
func CheckSessionPolicyRef(tx store.Tx, pointer, id string) error {
	if id == "" {
		return nil
	}
	if _, err := tx.GetSessionPolicy(id); isNotFound(err) {
		return api.ValidationProblem("unknown session policy", api.Violation{Pointer: pointer, Code: "unknown_reference",
			Message: fmt.Sprintf("session policy %q does not exist", id)})
	} else if err != nil {
		return err
	}
	return nil
}

// ---------------------------------------------------------------- sessions

func canReadAll(c Caller) bool { return c.Principal.HasAnyRole(sessionReaders...) }

func ownSession(c Caller, sess api.Session) bool { return sess.Principal == c.Principal.Actor() }

// GetSession reads a session: readers (admin, security, auditor) any,
// others only their own (404 before 403).
func (s *Sessions) GetSession(ctx context.Context, c Caller, id string) (api.Session, error) {
	var out api.Session
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.GetSession(id)
		if isNotFound(err) {
			return notFound("session", id)
		}
		return err
	})
	if err != nil {
		return api.Session{}, err
	}
	if !canReadAll(c) && !ownSession(c, out) {
		return api.Session{}, s.finish(ctx, c, sessionDeny("session.read", sessionKind, id,
			"reading another principal's session requires server role admin, security or auditor"))
	}
	return out, nil
}

// ListSessions returns a page of sessions. Callers without a reader role
// see only their own sessions, whatever the filter says.
func (s *Sessions) ListSessions(ctx context.Context, c Caller, f store.SessionFilter) ([]api.Session, error) {
	if !canReadAll(c) {
		a := c.Principal.Actor()
		if (f.PrincipalType != "" && f.PrincipalType != a.Type) || (f.PrincipalID != "" && f.PrincipalID != a.ID) {
			return []api.Session{}, nil
		}
		f.PrincipalType, f.PrincipalID = a.Type, a.ID
	}
	var out []api.Session
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.ListSessions(f)
		return err
	})
	return out, err
}

type terminateFacts struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// TerminateSession cuts a session (admin or security): the session becomes
// terminating, the event session.terminated is audited, then the gateway is
// told to cut it. When no gateway holds it live, the session is ended in
// the store at once (terminated, terminated_by_admin). A session already
// terminated answers 409 invalid_state_transition.
func (s *Sessions) TerminateSession(ctx context.Context, c Caller, id, reason string) (api.Session, error) {
	if len(reason) > api.MaxDescriptionLength {
		return api.Session{}, api.ValidationProblem("reason is too long", api.Violation{Pointer: "/reason", Code: "max_length",
			Message: fmt.Sprintf("must be at most %d bytes", api.MaxDescriptionLength)})
	}
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetSession(id)
		if isNotFound(err) {
			return notFound("session", id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			return sessionDeny("session.terminated", sessionKind, id, "terminating a session "+writersMsg)
		}
		if cur.State == api.SessionTerminated {
			p := api.NewProblem(http.StatusConflict, api.CodeInvalidStateTransition, fmt.Sprintf("session %q has already ended (%s)", id, cur.EndReason))
			p.State = cur.State
			p.AllowedTransitions = []string{}
			return p
		}
		before := terminateFacts{State: cur.State}
		by := c.Principal.Actor()
		cur.State, cur.EndedBy, cur.UpdatedAt = api.SessionTerminating, &by, s.now()
		if err := tx.UpdateSession(cur); err != nil {
			return err
		}
		return s.record(tx, &c, "session.terminated", sessionKind, id, before, terminateFacts{State: cur.State, Reason: reason}, 0, 0)
	})
	if err != nil {
		return api.Session{}, s.finish(ctx, c, err)
	}
	if terr := s.term().TerminateSession(ctx, id, reason); terr != nil {
		s.log().Info("session not live on a gateway; ending it in the store", "session", id, "cause", terr.Error())
		if err := s.Store.Update(ctx, func(tx store.Tx) error {
			cur, err := tx.GetSession(id)
			if err != nil || cur.State == api.SessionTerminated {
				return err
			}
			now := s.now()
			cur.State, cur.EndedAt, cur.EndReason, cur.UpdatedAt = api.SessionTerminated, &now, api.SessionEndTerminatedByAdmin, now
			return tx.UpdateSession(cur)
		}); err != nil {
			return api.Session{}, err
		}
	}
	var out api.Session
	err = s.Store.View(ctx, func(tx store.Tx) (err error) { out, err = tx.GetSession(id); return err })
	return out, err
}

// --- the gateway's write path (gateway.SessionStore and PolicySource) ---

// SessionPolicySource reads session policies inside the caller's
// transaction; it is the gateway's gateway.PolicySource.
type SessionPolicySource struct{}

// GetSessionPolicy returns the policy (store.ErrNotFound for an unknown id).
func (SessionPolicySource) GetSessionPolicy(tx store.Tx, id string) (api.SessionPolicy, error) {
	return tx.GetSessionPolicy(id)
}

// CreateSession stores a new session, owned by this process (NewSession).
func (s *Sessions) CreateSession(ctx context.Context, sess api.Session) error {
	return NewSession(ctx, s.Store, sess)
}

// ErrSessionLimit refuses a new session whose principal already has as many
// pending, active or terminating sessions as the policy allows
// (max_concurrent_sessions_per_principal).
var ErrSessionLimit = errors.New("the principal already has as many sessions as the session policy allows")

// NewSession stores sess, a new session this process brokers (its owner is
// SessionOwner(st)). The same transaction first counts the principal's
// unended sessions in the store against the limit of sess's policy
// snapshot (ErrSessionLimit), so the limit holds across every replica's
// gateway, not only within one process.
func NewSession(ctx context.Context, st store.Store, sess api.Session) error {
	owner := SessionOwner(st)
	return st.Update(ctx, func(tx store.Tx) error {
		if limit := sess.PolicySnapshot.MaxConcurrentSessionsPerPrincipal; limit > 0 {
			n, err := tx.CountActiveSessions(sess.Principal)
			if err != nil {
				return err
			}
			if n >= limit {
				return ErrSessionLimit
			}
		}
		return tx.CreateSession(sess, owner)
	})
}

// SessionOwner is the owner to record on a session this process brokers:
// the instance id of st's engine (under any idempotency decorator), so that
// SweepSessions can tell once the process is gone. "" when the engine has no
// instance or cannot vouch for it now; such sessions are only swept where
// one process owns the store (SQLite).
func SessionOwner(st store.Store) string {
	if in := store.InstanceOf(idemstore.Unwrap(st)); in != nil {
		return in.ID()
	}
	return ""
}

// UpdateSession writes the gateway's view of a session (state, last
// activity, end, recording id) without undoing an admin's terminate: a
// stored terminating state is not moved back to pending or active, an
// ended session stays ended, and a stored ended_by survives.
func (s *Sessions) UpdateSession(ctx context.Context, sess api.Session) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetSession(sess.ID)
		if err != nil {
			return err
		}
		return tx.UpdateSession(MergeSessionUpdate(cur, sess))
	})
}

// MergeSessionUpdate is the rule of UpdateSession: next as written by the
// gateway, merged over the stored cur so that states only move forward
// (pending, active, terminating, terminated) and the stored end is kept
// once the session ended.
func MergeSessionUpdate(cur, next api.Session) api.Session {
	rank := map[string]int{api.SessionPending: 0, api.SessionActive: 1, api.SessionTerminating: 2, api.SessionTerminated: 3}
	out := next
	if cur.State == api.SessionTerminated {
		out.State, out.EndedAt, out.EndReason = cur.State, cur.EndedAt, cur.EndReason
	} else if rank[next.State] < rank[cur.State] {
		out.State = cur.State
	}
	if out.EndedBy == nil {
		out.EndedBy = cur.EndedBy
	}
	if out.RecordingID == "" {
		out.RecordingID = cur.RecordingID
	}
	if out.LastActivityAt == nil || (cur.LastActivityAt != nil && out.LastActivityAt.Before(*cur.LastActivityAt)) {
		out.LastActivityAt = cur.LastActivityAt
	}
	return out
}

// AppendFilterHit appends a command filter hit to a session.
func (s *Sessions) AppendFilterHit(ctx context.Context, sessionID string, hit api.CommandFilterHit) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return tx.AppendFilterHit(sessionID, hit) })
}

// CountActiveSessions counts a principal's pending, active and terminating sessions.
func (s *Sessions) CountActiveSessions(ctx context.Context, principal api.Actor) (int, error) {
	var n int
	err := s.Store.View(ctx, func(tx store.Tx) (err error) { n, err = tx.CountActiveSessions(principal); return err })
	return n, err
}

// CreateRecording stores a recording's metadata without a body (state
// recording).
func (s *Sessions) CreateRecording(ctx context.Context, r api.SessionRecording) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		return tx.PutRecording(store.RecordingRecord{SessionRecording: r})
	})
}

// PutRecording stores the final metadata and the sealed body
// (keys.Keyring.SealString(body, session.RecordingAAD(r.ID))).
func (s *Sessions) PutRecording(ctx context.Context, r api.SessionRecording, sealed string) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		return tx.PutRecording(store.RecordingRecord{SessionRecording: r, Sealed: sealed})
	})
}

// ---------------------------------------------------------------- recordings

func (s *Sessions) recordingDenied(ctx context.Context, c Caller, action, id string) error {
	return s.finish(ctx, c, sessionDeny(action, recordingKind, id, "session recordings require server role admin, security or auditor"))
}

// GetRecording reads a recording's metadata (admin, security, auditor).
func (s *Sessions) GetRecording(ctx context.Context, c Caller, id string) (api.SessionRecording, error) {
	var r store.RecordingRecord
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		r, err = tx.GetRecording(id)
		if isNotFound(err) {
			return notFound("session recording", id)
		}
		return err
	})
	if err != nil {
		return api.SessionRecording{}, err
	}
	if !canReadAll(c) {
		return api.SessionRecording{}, s.recordingDenied(ctx, c, "session_recording.read", id)
	}
	return r.SessionRecording, nil
}

// ListRecordings returns a page of recordings (admin, security, auditor).
func (s *Sessions) ListRecordings(ctx context.Context, c Caller, f store.RecordingFilter) ([]api.SessionRecording, error) {
	if !canReadAll(c) {
		return nil, s.recordingDenied(ctx, c, "session_recording.listed", "")
	}
	var out []api.SessionRecording
	err := s.Store.View(ctx, func(tx store.Tx) (err error) { out, err = tx.ListRecordings(f); return err })
	return out, err
}

// DownloadRecording opens a recording's body (admin, security, auditor).
// The download is audited (session_recording.downloaded) in the same
// transaction that reads the body: no audit, no body. A recording without a
// body answers 409 invalid_state_transition with its state.
func (s *Sessions) DownloadRecording(ctx context.Context, c Caller, id string) (api.SessionRecording, []byte, error) {
	var meta api.SessionRecording
	var body []byte
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		r, err := tx.GetRecording(id)
		if isNotFound(err) {
			return notFound("session recording", id)
		} else if err != nil {
			return err
		}
		if !canReadAll(c) {
			return sessionDeny("session_recording.downloaded", recordingKind, id, "session recordings require server role admin, security or auditor")
		}
		if r.Sealed == "" || r.State != api.RecordingAvailable {
			p := api.NewProblem(http.StatusConflict, api.CodeInvalidStateTransition, fmt.Sprintf("session recording %q has no body to download (state %s)", id, r.State))
			p.State = r.State
			p.AllowedTransitions = []string{}
			return p
		}
		if s.Keyring == nil {
			return api.NewProblem(http.StatusServiceUnavailable, api.CodeUnavailable, "no master key is configured; recordings cannot be opened")
		}
		b, err := s.Keyring.OpenString(r.Sealed, session.RecordingAAD(id))
		if err != nil {
			return fmt.Errorf("open session recording %s: %w", id, err)
		}
		if got := session.SHA256Hex(b); r.SHA256 != "" && got != r.SHA256 {
			return fmt.Errorf("session recording %s: body sha256 %s does not match the recorded %s", id, got, r.SHA256)
		}
		meta, body = r.SessionRecording, b
		return s.record(tx, &c, "session_recording.downloaded", recordingKind, id, nil,
			struct {
				SessionID string `json:"session_id"`
				Bytes     int64  `json:"bytes"`
				SHA256    string `json:"sha256"`
			}{r.SessionID, r.Bytes, r.SHA256}, 0, 0)
	})
	if err != nil {
		return api.SessionRecording{}, nil, s.finish(ctx, c, err)
	}
	return meta, body, nil
}
