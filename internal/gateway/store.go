package gateway

import (
	"context"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// StoreSessions is the SessionStore of a pamd store.
type StoreSessions struct{ Store store.Store }

// CreateSession inserts the session, owned by this process
// (catalog.SessionOwner) so that a sweep ends it if the process dies.
func (s StoreSessions) CreateSession(ctx context.Context, se api.Session) error {
	return catalog.NewSession(ctx, s.Store, se)
}

// UpdateSession merges the gateway's view into the stored session in one
// transaction (catalog.MergeSessionUpdate), so that a concurrent change by an
// admin (state terminating, ended_by) is not overwritten.
func (s StoreSessions) UpdateSession(ctx context.Context, se api.Session) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetSession(se.ID)
		if err != nil {
			return err
		}
		return tx.UpdateSession(catalog.MergeSessionUpdate(cur, se))
	})
}

// TouchSession records the last activity.
func (s StoreSessions) TouchSession(ctx context.Context, id string, at time.Time) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return tx.TouchSession(id, at) })
}

// AppendFilterHit appends one hit.
func (s StoreSessions) AppendFilterHit(ctx context.Context, sessionID string, hit api.CommandFilterHit) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return tx.AppendFilterHit(sessionID, hit) })
}

// CreateRecording stores the metadata of a recording in progress.
func (s StoreSessions) CreateRecording(ctx context.Context, r api.SessionRecording) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return tx.PutRecording(store.RecordingRecord{SessionRecording: r}) })
}

// PutRecording stores the sealed body with its final metadata.
func (s StoreSessions) PutRecording(ctx context.Context, r api.SessionRecording, sealed string) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		return tx.PutRecording(store.RecordingRecord{SessionRecording: r, Sealed: sealed})
	})
}
