package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func runRotation(t *testing.T, newStore NewFunc) {
	t.Run("RotationSchedules", func(t *testing.T) { testRotationSchedules(t, newStore(t)) })
	t.Run("Operations", func(t *testing.T) { testOperations(t, newStore(t)) })
	t.Run("RotationAccounts", func(t *testing.T) { testRotationAccounts(t, newStore(t)) })
}

func newSchedule(name string) api.RotationSchedule {
	a := api.Actor{Type: "user", ID: "alice"}
	c := "@daily"
	return api.RotationSchedule{
		Meta:                  api.Meta{ID: ids.New(api.PrefixRotationSchedule, t0), Version: 1, CreatedAt: t0, CreatedBy: a, UpdatedAt: t0, UpdatedBy: a},
		RotationScheduleInput: api.RotationScheduleInput{Name: name, Cron: &c, TimeZone: "UTC", Labels: map[string]string{}},
	}
}

func testRotationSchedules(t *testing.T, s store.Store) {
	a, b := newSchedule("a"), newSchedule("b")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertRotationSchedule(a) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertRotationSchedule(b) })
	dup := newSchedule("a")
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertRotationSchedule(dup) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v, want ErrConflict", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetRotationSchedule(a.ID)
		if err != nil || got.Name != "a" || got.Cron == nil || *got.Cron != "@daily" {
			t.Fatalf("get = %+v, %v", got, err)
		}
		id, err := tx.GetRotationScheduleIDByName("b")
		if err != nil || id != b.ID {
			t.Fatalf("by name = %q, %v", id, err)
		}
		list, err := tx.ListRotationSchedules(store.RotationScheduleFilter{Limit: 10})
		if err != nil || len(list) != 2 || list[0].ID > list[1].ID {
			t.Fatalf("list = %+v, %v", list, err)
		}
		list, err = tx.ListRotationSchedules(store.RotationScheduleFilter{Name: "b", Limit: 10})
		if err != nil || len(list) != 1 {
			t.Fatalf("list by name = %+v, %v", list, err)
		}
		return nil
	})
	a2 := a
	a2.Version = 2
	a2.Name = "b"
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateRotationSchedule(a2, 1) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename onto b: %v, want ErrConflict", err)
	}
	a2.Name = "a2"
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateRotationSchedule(a2, 1) })
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateRotationSchedule(a2, 1) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale update: %v, want ErrVersionMismatch", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteRotationSchedule(a.ID) })
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteRotationSchedule(a.ID) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
}

func newOp(kind, target string, due time.Time) store.Operation {
	return store.Operation{
		Operation: api.Operation{ID: ids.New(api.PrefixOperation, t0), Kind: kind, Target: api.OperationTarget{Type: api.TargetTypeVaultAccount, ID: target},
			State: api.OperationQueued, CreatedAt: t0},
		DueAt: due,
	}
}

func testOperations(t *testing.T, s store.Store) {
	first := newOp(api.OperationKindRotate, "acct_1", t0.Add(time.Minute))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertOperation(first) })
	// One open rotate per account; a verify beside it is fine.
	if err := update(t, s, func(tx store.Tx) error {
		return tx.InsertOperation(newOp(api.OperationKindRotate, "acct_1", t0))
	}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second open rotate: %v, want ErrConflict", err)
	}
	verify := newOp(api.OperationKindVerify, "acct_1", t0)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertOperation(verify) })
	other := newOp(api.OperationKindRotate, "acct_2", t0.Add(time.Hour))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertOperation(other) })
	view(t, s, func(tx store.Tx) error {
		due, err := tx.DueOperations(t0.Add(time.Minute), 10)
		if err != nil || len(due) != 2 || due[0].ID != verify.ID || due[1].ID != first.ID {
			t.Fatalf("due = %+v, %v", due, err)
		}
		open, err := tx.OpenOperation(api.OperationKindRotate, api.TargetTypeVaultAccount, "acct_1")
		if err != nil || open.ID != first.ID {
			t.Fatalf("open = %+v, %v", open, err)
		}
		return nil
	})
	// A running operation with a live claim is not due; an expired claim is.
	until := t0.Add(5 * time.Minute)
	first.State, first.Attempts, first.ClaimedUntil = api.OperationRunning, 1, &until
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateOperation(first) })
	view(t, s, func(tx store.Tx) error {
		due, _ := tx.DueOperations(t0.Add(2*time.Minute), 10)
		if len(due) != 1 || due[0].ID != verify.ID {
			t.Fatalf("due with a live claim = %+v", due)
		}
		due, _ = tx.DueOperations(t0.Add(6*time.Minute), 10)
		if len(due) != 2 {
			t.Fatalf("due with an expired claim = %+v", due)
		}
		got, err := tx.GetOperation(first.ID)
		if err != nil || got.Attempts != 1 || got.State != api.OperationRunning || got.ClaimedUntil == nil || !got.ClaimedUntil.Equal(until) {
			t.Fatalf("get = %+v, %v", got, err)
		}
		return nil
	})
	// Finished operations free the slot.
	first.State, first.ClaimedUntil = api.OperationSucceeded, nil
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateOperation(first) })
	next := newOp(api.OperationKindRotate, "acct_1", t0)
	next.ParentID = "op_parent"
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertOperation(next) })
	view(t, s, func(tx store.Tx) error {
		kids, err := tx.ChildOperations("op_parent")
		if err != nil || len(kids) != 1 || kids[0].ID != next.ID {
			t.Fatalf("children = %+v, %v", kids, err)
		}
		if _, err := tx.GetOperation("op_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
		return nil
	})
}

func testRotationAccounts(t *testing.T, s store.Store) {
	v := t0.Add(48 * time.Hour)
	rows := []store.RotationAccount{
		{AccountID: "acct_b", ScheduleID: "rot_1", ScheduleVersion: 1, NextRotationAt: t0.Add(time.Hour), FireAt: t0.Add(time.Hour)},
		{AccountID: "acct_a", ScheduleID: "rot_1", ScheduleVersion: 1, NextRotationAt: t0.Add(2 * time.Hour), FireAt: t0.Add(2 * time.Hour), NextVerificationAt: &v},
	}
	for _, r := range rows {
		mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRotationAccount(r) })
	}
	// Put replaces.
	rows[0].ScheduleVersion = 2
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRotationAccount(rows[0]) })
	view(t, s, func(tx store.Tx) error {
		all, err := tx.ListRotationAccounts()
		if err != nil || len(all) != 2 || all[0].AccountID != "acct_a" || all[1].ScheduleVersion != 2 {
			t.Fatalf("list = %+v, %v", all, err)
		}
		if all[0].NextVerificationAt == nil || !all[0].NextVerificationAt.Equal(v) {
			t.Fatalf("verification time = %v", all[0].NextVerificationAt)
		}
		due, err := tx.DueRotationAccounts(t0.Add(time.Hour), 10)
		if err != nil || len(due) != 1 || due[0].AccountID != "acct_b" {
			t.Fatalf("due = %+v, %v", due, err)
		}
		due, _ = tx.DueRotationAccounts(t0.Add(49*time.Hour), 10)
		if len(due) != 2 {
			t.Fatalf("due incl. verification = %+v", due)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteRotationAccount("acct_b") })
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetRotationAccount("acct_b"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted row: %v", err)
		}
		return nil
	})
}
