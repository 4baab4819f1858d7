package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// The scope_prefix filter of ListElevations is a range on the scope (so the
// state/scope index serves it) plus an exact subtree test: scopes that sort
// inside the range without being below the prefix must not match.
func TestElevationScopePrefixRange(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "pamd.db"))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := now.Add(time.Hour)
	scopes := []string{"/orgs/a", "/orgs/a/x", "/orgs/a/x/y", "/orgs/a-x", "/orgs/a.x", "/orgs/a0", "/orgs/ab", "/orgs/b", "/orgs"}
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for i, sc := range scopes {
			e := api.Elevation{Meta: api.Meta{ID: fmt.Sprintf("elv_%02d", i), Version: 1, CreatedAt: now}, State: api.StateActive,
				EligibleRoleAssignmentID: "era_1", PrincipalType: "user", PrincipalID: "alice", RoleID: "role_1", Scope: sc, EndAt: &end}
			if err := tx.InsertElevation(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = s.View(context.Background(), func(tx store.Tx) error {
		es, err := tx.ListElevations(store.ElevationFilter{States: []string{api.StateActive}, EndAfter: &now, ScopePrefix: "/orgs/a", Limit: 100})
		for _, e := range es {
			got = append(got, e.Scope)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/orgs/a", "/orgs/a/x", "/orgs/a/x/y"}; !slices.Equal(got, want) {
		t.Errorf("scope_prefix /orgs/a = %v, want %v", got, want)
	}
}
