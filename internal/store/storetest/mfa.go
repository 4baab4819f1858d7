package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func runMFA(t *testing.T, newStore NewFunc) {
	t.Run("TOTPEnrollment", func(t *testing.T) { testTOTPEnrollment(t, newStore(t)) })
}

func testTOTPEnrollment(t *testing.T, s store.Store) {
	const subj = "user:alice"
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetTOTPEnrollment(subj); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing enrollment: %v", err)
		}
		return nil
	})
	for name, fn := range map[string]func(tx store.Tx) error{
		"use step": func(tx store.Tx) error { return tx.UseTOTPStep(subj, 0, 1, nil) },
		"failures": func(tx store.Tx) error { return tx.SetTOTPFailures(subj, 1, &t0) },
		"delete":   func(tx store.Tx) error { return tx.DeleteTOTPEnrollment(subj) },
	} {
		if err := update(t, s, fn); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s without enrollment: %v, want ErrNotFound", name, err)
		}
	}

	e := store.TOTPEnrollment{Subject: subj, SealedSecret: "v1.mk1.a.b.c", CreatedAt: t0} //nolint:gosec // an opaque test value, not a credential
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutTOTPEnrollment(e) })
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutTOTPEnrollment(store.TOTPEnrollment{Subject: "user:bob", SealedSecret: "bob", CreatedAt: t0})
	})
	get := func() store.TOTPEnrollment {
		t.Helper()
		var got store.TOTPEnrollment
		view(t, s, func(tx store.Tx) (err error) { got, err = tx.GetTOTPEnrollment(subj); return err })
		return got
	}
	if got := get(); got.SealedSecret != e.SealedSecret || !got.CreatedAt.Equal(t0) || got.ConfirmedAt != nil ||
		got.LastUsedStep != 0 || got.FailedAttempts != 0 || got.FailedSince != nil {
		t.Fatalf("round trip: %+v", got)
	}

	// Failures are counted and cleared by a successful use.
	since := t0.Add(time.Minute)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.SetTOTPFailures(subj, 3, &since) })
	if got := get(); got.FailedAttempts != 3 || got.FailedSince == nil || !got.FailedSince.Equal(since) {
		t.Fatalf("failures: %+v", got)
	}

	// Compare-and-set on the step: confirm with the first code.
	confirmed := t0.Add(2 * time.Minute)
	if err := update(t, s, func(tx store.Tx) error { return tx.UseTOTPStep(subj, 5, 100, &confirmed) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale step: %v, want ErrVersionMismatch", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UseTOTPStep(subj, 0, 100, &confirmed) })
	got := get()
	if got.LastUsedStep != 100 || got.ConfirmedAt == nil || !got.ConfirmedAt.Equal(confirmed) || got.FailedAttempts != 0 || got.FailedSince != nil {
		t.Fatalf("after confirm: %+v", got)
	}
	// A later use keeps the first confirmation time.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UseTOTPStep(subj, 100, 101, &since) })
	if got := get(); got.LastUsedStep != 101 || !got.ConfirmedAt.Equal(confirmed) {
		t.Fatalf("after second use: %+v", got)
	}
	// The same step cannot be spent twice: the second CAS from 100 fails.
	if err := update(t, s, func(tx store.Tx) error { return tx.UseTOTPStep(subj, 100, 101, nil) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("replayed CAS: %v", err)
	}
	// A rolled-back transaction leaves the step untouched.
	boom := errors.New("boom")
	if err := update(t, s, func(tx store.Tx) error {
		if err := tx.UseTOTPStep(subj, 101, 102, nil); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got := get(); got.LastUsedStep != 101 {
		t.Fatalf("rollback kept step %d", got.LastUsedStep)
	}

	// Re-enrolment replaces the row wholesale.
	e2 := store.TOTPEnrollment{Subject: subj, SealedSecret: "v1.mk1.new", CreatedAt: t0.Add(time.Hour)} //nolint:gosec // an opaque test value
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutTOTPEnrollment(e2) })
	if got := get(); got.SealedSecret != "v1.mk1.new" || got.ConfirmedAt != nil || got.LastUsedStep != 0 || !got.CreatedAt.Equal(e2.CreatedAt) {
		t.Fatalf("replaced: %+v", got)
	}

	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteTOTPEnrollment(subj) })
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetTOTPEnrollment(subj); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
		if b, err := tx.GetTOTPEnrollment("user:bob"); err != nil || b.SealedSecret != "bob" {
			t.Errorf("other subject affected: %+v %v", b, err)
		}
		return nil
	})
}
