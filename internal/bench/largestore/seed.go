package largestore

import (
	"context"
	"fmt"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/sqlite"
)

// Shape is the content of a seeded store.
type Shape struct {
	// Elevations is the total number of elevations.
	Elevations int
	// PerEligibility is how many elevations each eligibility has had; the
	// newest is active, the others ended long ago. Elevations/PerEligibility
	// eligibilities (and active elevations) result.
	PerEligibility int
	// TeamSize is how many eligibilities share a team scope: a listing
	// filtered on one team returns TeamSize active elevations.
	TeamSize int
}

// Eligibilities is the number of eligibilities, which is also the number of
// active elevations.
func (s Shape) Eligibilities() int { return max(1, s.Elevations/s.PerEligibility) }

// Team is the scope of eligibility j.
func (s Shape) Team(j int) string { return fmt.Sprintf("/orgs/big/teams/t%03d", j/s.TeamSize) }

// batch is how many rows one seeding transaction writes: large enough that
// the per-commit fsync is amortised, small enough to keep the WAL modest.
const batch = 5000

// Seed writes s's eligibilities and elevations straight into the SQLite
// store at dbPath, in large transactions. The records are the ones pamd would
// have written: eligibilities normalised as the API does, elevations built by
// pim.NewElevation from the eligibility and a snapshot of the policy, made
// active by pim.MarkActive and, for the old ones, ended by pim.Tick exactly as
// the worker ends them. (The audit chain does not record the seeded history;
// nothing the benchmark reads depends on it.)
func Seed(ctx context.Context, dbPath, roleID, policyID string, s Shape, now time.Time) error {
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	var pol api.ActivationPolicy
	if err := st.View(ctx, func(tx store.Tx) (err error) { pol, err = tx.GetActivationPolicy(policyID); return err }); err != nil {
		return err
	}
	snap := pim.Snapshot(pol)
	admin := api.Actor{Type: "service_account", ID: "bench-seed"}
	n := s.Eligibilities()
	eligs := make([]api.EligibleRoleAssignment, n)
	start := now.Add(-time.Duration(s.PerEligibility+2) * 2 * time.Hour)
	err = inBatches(ctx, st, n, func(tx store.Tx, j int) error {
		in := pim.NormalizeEligibilityInput(api.EligibleRoleAssignmentInput{PrincipalType: api.PrincipalTypeUser,
			PrincipalID: fmt.Sprintf("big-%06d", j), RoleID: roleID, Scope: s.Team(j), ActivationPolicyID: policyID,
			Justification: "large-store benchmark"})
		eligs[j] = api.EligibleRoleAssignment{Meta: api.Meta{ID: ids.New(api.PrefixEligibleRoleAssignment, start), Version: 1,
			CreatedAt: start, CreatedBy: admin, UpdatedAt: start, UpdatedBy: admin}, EligibleRoleAssignmentInput: in}
		return tx.InsertEligibility(eligs[j])
	})
	if err != nil {
		return fmt.Errorf("seed eligibilities: %w", err)
	}
	// Elevation k belongs to eligibility k%n; round r = k/n. Rounds run two
	// hours apart with one-hour elevations, so every round but the last has
	// ended; the last is active now.
	rounds := s.PerEligibility
	err = inBatches(ctx, st, n*rounds, func(tx store.Tx, k int) error {
		j, r := k%n, k/n
		at := start.Add(time.Duration(r) * 2 * time.Hour)
		if r == rounds-1 {
			at = now.Add(-time.Minute)
		}
		e := eligs[j]
		ev, _, err := pim.NewElevation(pim.NewElevationParams{ID: ids.New(api.PrefixElevation, at),
			Request:     api.ElevationRequest{EligibleRoleAssignmentID: e.ID, RequestedDurationSeconds: 3600, Justification: "large-store benchmark"},
			Eligibility: e, Policy: snap, Identity: pim.Identity{Actor: api.Actor{Type: e.PrincipalType, ID: e.PrincipalID}}, Now: at})
		if err != nil {
			return err
		}
		if err := pim.MarkActive(&ev, at); err != nil {
			return err
		}
		if pim.Tick(&ev, now) {
			ev.Version++
		}
		return tx.InsertElevation(ev)
	})
	if err != nil {
		return fmt.Errorf("seed elevations: %w", err)
	}
	return nil
}

func inBatches(ctx context.Context, st store.Store, n int, f func(tx store.Tx, i int) error) error {
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		if err := st.Update(ctx, func(tx store.Tx) error {
			for i := lo; i < hi; i++ {
				if err := f(tx, i); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}
