package catalog

import (
	"context"

	"github.com/accessplane/terraform-provider-pam/internal/pim"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// DefaultWorkerBatch is how many due elevations one worker transaction claims.
const DefaultWorkerBatch = 50

// RunDue applies the time-driven transitions (approval timeouts, scheduled
// starts, expiry) to every elevation due at the clock's now, in transactions
// of at most batch elevations, each with its audit events. It returns how
// many elevations changed.
func (s *Service) RunDue(ctx context.Context, batch int) (int, error) {
	if batch <= 0 {
		batch = DefaultWorkerBatch
	}
	total := 0
	for {
		var claimed, changed int
		err := s.Store.Update(ctx, func(tx store.Tx) error {
			now := s.now()
			due, err := tx.DueElevations(now, batch)
			if err != nil {
				return err
			}
			claimed = len(due)
			for _, e := range due {
				before := e
				ticked := pim.Tick(&e, now)
				if err := s.settle(ctx, tx, &e, now); err != nil {
					return err
				}
				if !ticked && e.State == before.State {
					continue
				}
				if err := s.saveElevation(ctx, tx, nil, before, &e, now); err != nil {
					return err
				}
				changed++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += changed
		// A short batch was the last one; a batch that changed nothing would
		// only be claimed again, so stop rather than spin.
		if claimed < batch || changed == 0 {
			return total, nil
		}
	}
}
