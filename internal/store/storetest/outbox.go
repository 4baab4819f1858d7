package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/provision"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func runOutbox(t *testing.T, newStore NewFunc) {
	t.Run("RoleWebhooks", func(t *testing.T) { testRoleWebhooks(t, newStore(t)) })
	t.Run("OutboxClaimAndLease", func(t *testing.T) { testOutboxClaim(t, newStore(t)) })
	t.Run("OutboxOutcomes", func(t *testing.T) { testOutboxOutcomes(t, newStore(t)) })
}

func testRoleWebhooks(t *testing.T, s store.Store) {
	r := newRole("hooked")
	hooks := []store.RoleWebhook{
		{URL: "https://b.example/hook", Secret: "0123456789abcdef-b", SecretVersion: 2},
		{URL: "https://a.example/hook", Secret: "0123456789abcdef-a", SecretVersion: 1},
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.InsertRole(r); err != nil {
			return err
		}
		return tx.PutRoleWebhooks(r.ID, hooks)
	})
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetRoleWebhooks(r.ID)
		if err != nil {
			return err
		}
		if len(got) != 2 || got[0] != hooks[0] || got[1] != hooks[1] {
			t.Errorf("webhooks = %+v, want %+v (in configured order)", got, hooks)
		}
		none, err := tx.GetRoleWebhooks("role_missing")
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("unknown role: %v, %v; want empty, nil", none, err)
		}
		return nil
	})
	// Replace, then delete the role: its webhooks go with it.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRoleWebhooks(r.ID, hooks[1:]) })
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetRoleWebhooks(r.ID)
		if err == nil && (len(got) != 1 || got[0].URL != hooks[1].URL) {
			t.Errorf("after replace: %+v", got)
		}
		return err
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteRole(r.ID) })
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetRoleWebhooks(r.ID)
		if err == nil && len(got) != 0 {
			t.Errorf("webhooks of a deleted role remain: %+v", got)
		}
		return err
	})
}

func newDelivery(id, elevationID, url string, typ provision.EventType, due time.Time) store.Delivery {
	return store.Delivery{ID: id, ElevationID: elevationID, URL: url, NextAttemptAt: due, CreatedAt: t0,
		Event: provision.Event{ID: "evt_" + id, Type: typ, OccurredAt: t0,
			Elevation: provision.Elevation{ID: elevationID, RoleID: "role_x", StartAt: t0, EndAt: t0.Add(time.Hour)}}}
}

func testOutboxClaim(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, d := range []store.Delivery{
			newDelivery("dlv_3", "elv_1", "https://r.example/3", provision.EventElevationActivated, t0.Add(2*time.Second)),
			newDelivery("dlv_1", "elv_1", "https://r.example/1", provision.EventElevationActivated, t0),
			newDelivery("dlv_2", "elv_1", "https://r.example/2", provision.EventElevationActivated, t0.Add(time.Second)),
			newDelivery("dlv_4", "elv_2", "https://r.example/4", provision.EventElevationEnded, t0.Add(time.Hour)),
		} {
			if err := tx.InsertDelivery(d); err != nil {
				return err
			}
		}
		return nil
	})
	const lease = time.Minute
	claim := func(now time.Time, limit int) []store.Delivery {
		t.Helper()
		var got []store.Delivery
		mustUpdate(t, s, func(tx store.Tx) (err error) {
			got, err = tx.ClaimDueDeliveries(now, lease, limit)
			return err
		})
		return got
	}
	now := t0.Add(5 * time.Second)
	first := claim(now, 2)
	if len(first) != 2 || first[0].ID != "dlv_1" || first[1].ID != "dlv_2" {
		t.Fatalf("first claim = %v, want dlv_1, dlv_2 (oldest due first, limit 2)", deliveryIDs(first))
	}
	if !first[0].NextAttemptAt.Equal(now.Add(lease)) {
		t.Errorf("claimed next_attempt_at = %v, want now+lease %v", first[0].NextAttemptAt, now.Add(lease))
	}
	if first[0].Event.Type != provision.EventElevationActivated || first[0].Event.Elevation.ID != "elv_1" || first[0].URL != "https://r.example/1" {
		t.Errorf("claimed row does not round-trip: %+v", first[0])
	}
	// A second worker at the same time gets only what the first did not claim.
	second := claim(now, 10)
	if len(second) != 1 || second[0].ID != "dlv_3" {
		t.Fatalf("second claim = %v, want only dlv_3 (the others are leased)", deliveryIDs(second))
	}
	if again := claim(now.Add(lease-time.Second), 10); len(again) != 0 {
		t.Fatalf("claim before the lease ends = %v, want none", deliveryIDs(again))
	}
	// The lease ends: a delivery whose worker died is due again.
	expired := claim(now.Add(lease), 10)
	if len(expired) != 3 {
		t.Fatalf("claim after the lease = %v, want the 3 leased deliveries", deliveryIDs(expired))
	}
	// dlv_4 is due in an hour (by then the leases above ended too).
	if later := claim(t0.Add(time.Hour), 10); len(later) != 4 || later[3].ID != "dlv_4" {
		t.Fatalf("claim at +1h = %v, want dlv_1..3 then dlv_4", deliveryIDs(later))
	}
}

func deliveryIDs(ds []store.Delivery) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func testOutboxOutcomes(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, d := range []store.Delivery{
			newDelivery("dlv_a", "elv_1", "https://r.example/a", provision.EventElevationActivated, t0),
			newDelivery("dlv_b", "elv_1", "https://r.example/b", provision.EventElevationActivated, t0),
			newDelivery("dlv_c", "elv_1", "https://r.example/a", provision.EventElevationEnded, t0),
			newDelivery("dlv_d", "elv_2", "https://r.example/a", provision.EventElevationActivated, t0),
		} {
			if err := tx.InsertDelivery(d); err != nil {
				return err
			}
		}
		return nil
	})
	done := t0.Add(time.Minute)
	next := t0.Add(time.Hour)
	mustUpdate(t, s, func(tx store.Tx) error {
		a, err := tx.GetDelivery("dlv_a")
		if err != nil {
			return err
		}
		a.Attempts, a.DeliveredAt = 1, &done
		if err := tx.UpdateDelivery(a); err != nil {
			return err
		}
		b, err := tx.GetDelivery("dlv_b")
		if err != nil {
			return err
		}
		b.Attempts, b.NextAttemptAt, b.LastError = 2, next, "webhook https://r.example/b: retryable failure: HTTP 503"
		if err := tx.UpdateDelivery(b); err != nil {
			return err
		}
		c, err := tx.GetDelivery("dlv_c")
		if err != nil {
			return err
		}
		c.Attempts, c.FailedAt, c.LastError = 1, &done, "webhook https://r.example/a: permanent failure: HTTP 400"
		if err := tx.UpdateDelivery(c); err != nil {
			return err
		}
		if err := tx.UpdateDelivery(store.Delivery{ID: "dlv_missing"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("update of a missing delivery: %v, want ErrNotFound", err)
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		acts, err := tx.ListDeliveries(store.DeliveryFilter{ElevationID: "elv_1", EventType: provision.EventElevationActivated})
		if err != nil {
			return err
		}
		if len(acts) != 2 {
			t.Fatalf("activation deliveries of elv_1 = %v, want dlv_a, dlv_b", deliveryIDs(acts))
		}
		for _, d := range acts {
			switch d.ID {
			case "dlv_a":
				if d.Pending() || d.DeliveredAt == nil || !d.DeliveredAt.Equal(done) || d.Attempts != 1 {
					t.Errorf("dlv_a = %+v, want delivered at %v after 1 attempt", d, done)
				}
			case "dlv_b":
				if !d.Pending() || d.Attempts != 2 || !d.NextAttemptAt.Equal(next) || d.LastError == "" {
					t.Errorf("dlv_b = %+v, want pending, 2 attempts, next %v, last error", d, next)
				}
			}
		}
		all, err := tx.ListDeliveries(store.DeliveryFilter{ElevationID: "elv_1"})
		if err == nil && len(all) != 3 {
			t.Errorf("deliveries of elv_1 = %v, want 3", deliveryIDs(all))
		}
		if _, err := tx.GetDelivery("dlv_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get missing delivery: %v, want ErrNotFound", err)
		}
		return err
	})
	// Delivered and failed rows are never due again; the retry is due at next.
	mustUpdate(t, s, func(tx store.Tx) error {
		due, err := tx.ClaimDueDeliveries(next, time.Minute, 10)
		if err != nil {
			return err
		}
		if len(due) != 2 || due[0].ID == "dlv_a" || due[1].ID == "dlv_a" || due[0].ID == "dlv_c" || due[1].ID == "dlv_c" {
			t.Errorf("due at next = %v, want dlv_b and dlv_d only", deliveryIDs(due))
		}
		return nil
	})
}
