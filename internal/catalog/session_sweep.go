package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// sweepBatch is how many sessions of a dead owner one transaction ends.
const sweepBatch = 100

// unendedStates are the states of a session its gateway still holds.
var unendedStates = []string{api.SessionPending, api.SessionActive, api.SessionTerminating}

// sweptFacts are the changes of the session.ended event of a swept session.
type sweptFacts struct {
	State     string `json:"state"`
	EndReason string `json:"end_reason,omitempty"`
	// Owner is the instance id of the pamd process that brokered it.
	Owner          string `json:"owner,omitempty"`
	RecordingID    string `json:"recording_id,omitempty"`
	RecordingState string `json:"recording_state,omitempty"`
}

// SweepSessions ends the sessions that no live pamd process brokers: every
// session not yet terminated whose owner (SessionOwner) inst reports dead.
// Without it a pamd killed mid-session would leave its sessions listed as
// pending or active for ever. Each session becomes terminated with end
// reason gateway_lost, a recording never sealed becomes unavailable (its
// body died with the process's memory), and session.ended is audited with
// actor system in the same transaction. An owner whose liveness cannot be
// told (Alive errs) counts as alive: a live session must never be ended
// under its gateway. It returns how many sessions it ended.
func (s *Sessions) SweepSessions(ctx context.Context, inst store.Instance) (int, error) {
	if inst == nil {
		return 0, nil
	}
	var owners []string
	if err := s.Store.View(ctx, func(tx store.Tx) (err error) { owners, err = tx.ListSessionOwners(); return err }); err != nil {
		return 0, fmt.Errorf("list session owners: %w", err)
	}
	n := 0
	for _, owner := range owners {
		alive, err := inst.Alive(ctx, owner)
		if err != nil {
			s.log().Warn("sessions: cannot tell whether their gateway is alive; they are left as they are until the next sweep",
				"owner", owner, "error", err.Error())
			continue
		}
		if alive {
			continue
		}
		m, err := s.endSessionsOf(ctx, owner)
		n += m
		if err != nil {
			return n, err
		}
	}
	if n > 0 {
		s.log().Info("sessions: ended the sessions of a pamd process that is gone", "sessions", n, "end_reason", api.SessionEndGatewayLost)
	}
	return n, nil
}

// endSessionsOf ends the unended sessions of a dead owner, a batch per
// transaction. Ended sessions leave the filter, so each batch reads the
// first page again until one comes back short.
func (s *Sessions) endSessionsOf(ctx context.Context, owner string) (int, error) {
	n := 0
	for {
		var got int
		err := s.Store.Update(ctx, func(tx store.Tx) error {
			page, err := tx.ListSessions(store.SessionFilter{States: unendedStates, Owners: []string{owner}, Limit: sweepBatch})
			if err != nil {
				return err
			}
			now := s.now()
			for _, cur := range page {
				if err := s.endLost(tx, cur, owner, now); err != nil {
					return err
				}
			}
			got = len(page)
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("end the sessions of pamd instance %q: %w", owner, err)
		}
		n += got
		if got < sweepBatch {
			return n, nil
		}
	}
}

// endLost ends one session whose gateway is gone, with its audit event.
// ended_by is kept: an admin who asked to terminate it stays on record.
func (s *Sessions) endLost(tx store.Tx, cur api.Session, owner string, now time.Time) error {
	before := sweptFacts{State: cur.State, Owner: owner, RecordingID: cur.RecordingID}
	recID, recState, err := abandonRecordings(tx, cur.ID, now)
	if err != nil {
		return err
	}
	if cur.RecordingID == "" {
		cur.RecordingID = recID // the gateway crashed before writing it on the session
	}
	cur.State, cur.EndedAt, cur.EndReason, cur.UpdatedAt = api.SessionTerminated, &now, api.SessionEndGatewayLost, now
	if err := tx.UpdateSession(cur); err != nil {
		return err
	}
	after := sweptFacts{State: cur.State, EndReason: cur.EndReason, Owner: owner, RecordingID: cur.RecordingID, RecordingState: recState}
	return s.record(tx, nil, "session.ended", sessionKind, cur.ID, before, after, 0, 0)
}

// abandonRecordings marks the session's recordings still in progress
// unavailable: their body was only in the dead gateway's memory, so none
// may pass for complete. A recording sealed before the crash stays
// available. It returns the session's recording id and final state ("" when
// it has none).
func abandonRecordings(tx store.Tx, sessionID string, now time.Time) (id, state string, err error) {
	recs, err := tx.ListRecordings(store.RecordingFilter{SessionID: sessionID, Limit: sweepBatch})
	if err != nil {
		return "", "", err
	}
	for _, r := range recs {
		if r.State == api.RecordingRecording {
			r.State, r.UpdatedAt = api.RecordingUnavailable, now
			if err := tx.PutRecording(store.RecordingRecord{SessionRecording: r}); err != nil {
				return "", "", err
			}
		}
		id, state = r.ID, r.State
	}
	return id, state, nil
}
