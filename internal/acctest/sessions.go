package acctest

import (
	"context"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// SeedSession writes a session row straight into the test pamd's store and
// returns it as stored. Sessions are created by the SSH gateway, never
// through the API; data source tests that only need rows to read use this
// instead of driving a gateway. Empty ID, StartedAt, ExpiresAt and UpdatedAt
// are filled in; CommandFilterHits are appended in order.
func SeedSession(t *testing.T, s api.Session) api.Session {
	t.Helper()
	PreCheck(t)
	now := time.Now().UTC().Truncate(time.Second)
	if s.ID == "" {
		s.ID = ids.New(api.PrefixSession, now)
	}
	if s.StartedAt.IsZero() {
		s.StartedAt = now
	}
	if s.ExpiresAt.IsZero() {
		s.ExpiresAt = s.StartedAt.Add(api.DefaultSessionDurationSeconds * time.Second)
	}
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = now
	}
	if s.Protocol == "" {
		s.Protocol = api.SessionProtocolSSH
	}
	// Owned by the running pamd, as the gateway's would be: its worker sweeps
	// sessions whose owner is gone.
	owner := catalog.SessionOwner(server.Store())
	var stored api.Session
	err := server.Store().Update(context.Background(), func(tx store.Tx) error {
		if err := tx.CreateSession(s, owner); err != nil {
			return err
		}
		for _, h := range s.CommandFilterHits {
			if err := tx.AppendFilterHit(s.ID, h); err != nil {
				return err
			}
		}
		var err error
		stored, err = tx.GetSession(s.ID)
		return err
	})
	if err != nil {
		t.Fatalf("acctest: seeding session: %v", err)
	}
	return stored
}
