package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func runVault(t *testing.T, newStore NewFunc) {
	t.Run("VaultSafes", func(t *testing.T) { testVaultSafes(t, newStore(t)) })
	t.Run("VaultSafeListPaging", func(t *testing.T) { testVaultSafeList(t, newStore(t)) })
	t.Run("VaultAccounts", func(t *testing.T) { testVaultAccounts(t, newStore(t)) })
	t.Run("VaultAccountList", func(t *testing.T) { testVaultAccountList(t, newStore(t)) })
	t.Run("VaultAccountStatus", func(t *testing.T) { testVaultAccountStatus(t, newStore(t)) })
	t.Run("VaultSecretVersions", func(t *testing.T) { testVaultSecretVersions(t, newStore(t)) })
	t.Run("VaultCheckouts", func(t *testing.T) { testVaultCheckouts(t, newStore(t)) })
	t.Run("VaultCheckoutExclusive", func(t *testing.T) { testVaultCheckoutExclusive(t, newStore(t)) })
	t.Run("VaultCheckoutListAndDue", func(t *testing.T) { testVaultCheckoutListAndDue(t, newStore(t)) })
	t.Run("VaultSealedValues", func(t *testing.T) { testVaultSealedValues(t, newStore(t)) })
	t.Run("VaultRollback", func(t *testing.T) { testVaultRollback(t, newStore(t)) })
}

func newVaultSafe(name string) api.Safe {
	return api.Safe{
		Meta: api.Meta{ID: ids.New(api.PrefixSafe, t0), Version: 1, CreatedAt: t0, CreatedBy: alice, UpdatedAt: t0, UpdatedBy: alice},
		SafeInput: api.SafeInput{Name: name, Description: "d", Labels: map[string]string{"team": "dba"},
			Members: []api.SafeMember{{PrincipalType: api.PrincipalTypeGroup, PrincipalID: "dba", Permissions: []string{api.SafePermissionCheckout, api.SafePermissionRetrieve}}}},
	}
}

func newVaultAccount(safeID, name, platform string) api.VaultAccount {
	at := t0
	return api.VaultAccount{
		Meta: api.Meta{ID: ids.New(api.PrefixVaultAccount, t0), Version: 1, CreatedAt: t0, CreatedBy: alice, UpdatedAt: t0, UpdatedBy: alice},
		VaultAccountInput: api.VaultAccountInput{Name: name, SafeID: safeID, Platform: platform, Address: "db.example.com", Port: 5432,
			Username: "postgres", SecretType: api.SecretTypePassword, ManagementMode: api.ManagementManual,
			CheckoutPolicy: api.CheckoutPolicy{Exclusive: true, DefaultDurationSeconds: 3600, MaxDurationSeconds: 7200, AllowRetrieve: true},
			Labels:         map[string]string{"env": "prod"}},
		SecretVersion: 1, SecretUpdatedAt: &at,
	}
}

func newVaultCheckout(accountID string, holder api.Actor, expires time.Time) api.Checkout {
	return api.Checkout{
		Meta:      api.Meta{ID: ids.New(api.PrefixCheckout, t0), Version: 1, CreatedAt: t0, CreatedBy: holder, UpdatedAt: t0, UpdatedBy: holder},
		AccountID: accountID, SafeID: "safe_x", Holder: holder, State: api.CheckoutActive, DurationSeconds: int64(expires.Sub(t0) / time.Second),
		ExpiresAt: expires, Justification: "INC-1", SecretVersion: 1, Extensions: []api.CheckoutExtension{},
	}
}

func insertVaultSafe(t *testing.T, s store.Store, name string) api.Safe {
	t.Helper()
	sf := newVaultSafe(name)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertSafe(sf) })
	return sf
}

func insertVaultAccount(t *testing.T, s store.Store, safeID, name, platform string) api.VaultAccount {
	t.Helper()
	a := newVaultAccount(safeID, name, platform)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertVaultAccount(a) })
	return a
}

func getSafe(t *testing.T, s store.Store, id string) api.Safe {
	t.Helper()
	var got api.Safe
	view(t, s, func(tx store.Tx) (err error) { got, err = tx.GetSafe(id); return err })
	return got
}

func getVaultAccount(t *testing.T, s store.Store, id string) api.VaultAccount {
	t.Helper()
	var got api.VaultAccount
	view(t, s, func(tx store.Tx) (err error) { got, err = tx.GetVaultAccount(id); return err })
	return got
}

func testVaultSafes(t *testing.T, s store.Store) {
	sf := insertVaultSafe(t, s, "prod")
	dup := newVaultSafe("prod")
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertSafe(dup) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate safe name: %v, want ErrConflict", err)
	}
	got := getSafe(t, s, sf.ID)
	if got.Name != "prod" || got.Version != 1 || got.Description != "d" || got.Labels["team"] != "dba" || got.AccountCount != 0 ||
		len(got.Members) != 1 || got.Members[0].PrincipalID != "dba" || len(got.Members[0].Permissions) != 2 ||
		!got.CreatedAt.Equal(t0) || got.CreatedBy != alice {
		t.Fatalf("safe round trip: %+v", got)
	}
	view(t, s, func(tx store.Tx) error {
		if id, err := tx.GetSafeIDByName("prod"); err != nil || id != sf.ID {
			t.Errorf("by name = %q, %v", id, err)
		}
		if _, err := tx.GetSafeIDByName("nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing name: %v", err)
		}
		if _, err := tx.GetSafe("safe_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing safe: %v", err)
		}
		return nil
	})

	// account_count follows the accounts; it is derived, never stored.
	a1 := insertVaultAccount(t, s, sf.ID, "a1", api.PlatformPostgreSQL)
	insertVaultAccount(t, s, sf.ID, "a2", api.PlatformGeneric)
	other := insertVaultSafe(t, s, "dev")
	insertVaultAccount(t, s, other.ID, "a1", api.PlatformGeneric)
	if n := getSafe(t, s, sf.ID).AccountCount; n != 2 {
		t.Fatalf("account_count = %d, want 2", n)
	}
	view(t, s, func(tx store.Tx) error {
		list, err := tx.ListSafes(store.SafeFilter{Limit: 10})
		if err != nil {
			return err
		}
		counts := map[string]int{}
		for _, x := range list {
			counts[x.Name] = x.AccountCount
		}
		if counts["prod"] != 2 || counts["dev"] != 1 {
			t.Errorf("account_count in list: %v", counts)
		}
		return nil
	})

	// Update: optimistic version, a stale or missing one refused; a stored
	// AccountCount in the object is ignored.
	up := got
	up.Version, up.Description, up.AccountCount = 2, "changed", 99
	up.Members = []api.SafeMember{}
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateSafe(up, 7) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale update: %v, want ErrVersionMismatch", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateSafe(up, 1) })
	got = getSafe(t, s, sf.ID)
	if got.Version != 2 || got.Description != "changed" || len(got.Members) != 0 || got.AccountCount != 2 {
		t.Fatalf("after update: %+v", got)
	}
	missing := newVaultSafe("ghost")
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateSafe(missing, 1) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v, want ErrNotFound", err)
	}
	clash := got
	clash.Name, clash.Version = "dev", 3
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateSafe(clash, 2) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename onto a taken name: %v, want ErrConflict", err)
	}

	// A safe with accounts cannot be deleted (the accounts reference it).
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteSafe(sf.ID) }); err == nil {
		t.Fatal("deleted a safe that still holds accounts")
	}
	if getSafe(t, s, sf.ID).AccountCount != 2 {
		t.Fatal("refused delete changed the safe")
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, name := range []string{"a1", "a2"} {
			ids, err := tx.GetVaultAccountIDsByName(sf.ID, name)
			if err != nil {
				return err
			}
			if err := tx.DeleteVaultAccount(ids[0]); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetVaultAccount(a1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted account still there: %v", err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteSafe(sf.ID) })
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteSafe(sf.ID) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	// The name is free again.
	insertVaultSafe(t, s, "prod")
}

func testVaultSafeList(t *testing.T, s store.Store) {
	var want []string
	for i := range 5 {
		want = append(want, insertVaultSafe(t, s, fmt.Sprintf("safe-%d", i)).ID)
	}
	var got []string
	after := ""
	for range 10 {
		var page []api.Safe
		view(t, s, func(tx store.Tx) (err error) {
			page, err = tx.ListSafes(store.SafeFilter{AfterID: after, Limit: 2})
			return err
		})
		if len(page) > 2 {
			t.Fatalf("page of %d, limit 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, x := range page {
			got = append(got, x.ID)
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paging order:\n got %v\nwant %v", got, want)
	}
	view(t, s, func(tx store.Tx) error {
		one, err := tx.ListSafes(store.SafeFilter{Name: "safe-3", Limit: 10})
		if err != nil || len(one) != 1 || one[0].ID != want[3] {
			t.Errorf("name filter = %+v, %v", one, err)
		}
		none, err := tx.ListSafes(store.SafeFilter{Name: "nope", Limit: 10})
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("no match = %#v, %v (want empty, non-nil)", none, err)
		}
		return nil
	})
}

func testVaultAccounts(t *testing.T, s store.Store) {
	sa, sb := insertVaultSafe(t, s, "a"), insertVaultSafe(t, s, "b")
	a := newVaultAccount(sa.ID, "db", api.PlatformPostgreSQL)
	a.Secret = "plaintext-must-not-be-stored" //nolint:gosec // a test value
	a.Status = api.VaultAccountStatus{CheckedOutBy: &alice, CheckoutID: "chk_x", CheckoutExpiresAt: &t0,
		LastRotationResult: api.RotationResultSucceeded, LastRotationAt: &t0, Note: "n"}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertVaultAccount(a) })

	// The same name in another safe is fine; in the same safe it is a conflict.
	b := insertVaultAccount(t, s, sb.ID, "db", api.PlatformGeneric)
	dup := newVaultAccount(sa.ID, "db", api.PlatformGeneric)
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertVaultAccount(dup) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name in safe: %v, want ErrConflict", err)
	}
	sameID := newVaultAccount(sb.ID, "other", api.PlatformGeneric)
	sameID.ID = a.ID
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertVaultAccount(sameID) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate id: %v, want ErrConflict", err)
	}
	orphan := newVaultAccount("safe_missing", "x", api.PlatformGeneric)
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertVaultAccount(orphan) }); err == nil {
		t.Fatal("inserted an account into a safe that does not exist")
	}

	got := getVaultAccount(t, s, a.ID)
	if got.Secret != "" {
		t.Fatal("the store returned a secret from the account body")
	}
	if got.Name != "db" || got.SafeID != sa.ID || got.Platform != api.PlatformPostgreSQL || got.Address != "db.example.com" || got.Port != 5432 ||
		got.Username != "postgres" || got.SecretType != api.SecretTypePassword || got.Version != 1 || got.SecretVersion != 1 ||
		got.SecretUpdatedAt == nil || !got.SecretUpdatedAt.Equal(t0) || got.CheckoutPolicy != a.CheckoutPolicy || got.Labels["env"] != "prod" {
		t.Fatalf("account round trip: %+v", got)
	}
	// The rotation part of the status is stored; the checkout part is derived, never stored.
	if got.Status.LastRotationResult != api.RotationResultSucceeded || got.Status.LastRotationAt == nil || got.Status.Note != "n" {
		t.Errorf("rotation status not stored: %+v", got.Status)
	}
	if got.Status.CheckedOutBy != nil || got.Status.CheckoutID != "" || got.Status.CheckoutExpiresAt != nil {
		t.Errorf("checkout status stored: %+v", got.Status)
	}

	view(t, s, func(tx store.Tx) error {
		if ids, err := tx.GetVaultAccountIDsByName(sa.ID, "db"); err != nil || !slices.Equal(ids, []string{a.ID}) {
			t.Errorf("by name in safe = %v, %v", ids, err)
		}
		all, err := tx.GetVaultAccountIDsByName("", "db")
		want := []string{a.ID, b.ID}
		slices.Sort(want)
		if err != nil || !slices.Equal(all, want) {
			t.Errorf("by name in every safe = %v, %v; want %v", all, err, want)
		}
		if _, err := tx.GetVaultAccountIDsByName(sa.ID, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing name: %v", err)
		}
		if _, err := tx.GetVaultAccountIDsByName("safe_missing", "db"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("name in a missing safe: %v", err)
		}
		if _, err := tx.GetVaultAccount("acct_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing account: %v", err)
		}
		return nil
	})

	// Update writes configuration and secret_version, not the status.
	up := got
	up.Version, up.Username, up.SecretVersion, up.Labels = 2, "admin", 2, map[string]string{}
	up.Status = api.VaultAccountStatus{LastRotationResult: api.RotationResultFailed}
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateVaultAccount(up, 5) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale update: %v, want ErrVersionMismatch", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateVaultAccount(up, 1) })
	got = getVaultAccount(t, s, a.ID)
	if got.Version != 2 || got.Username != "admin" || got.SecretVersion != 2 || len(got.Labels) != 0 {
		t.Fatalf("after update: %+v", got)
	}
	if got.Status.LastRotationResult != api.RotationResultSucceeded {
		t.Errorf("UpdateVaultAccount changed the status: %+v", got.Status)
	}
	ghost := newVaultAccount(sa.ID, "ghost", api.PlatformGeneric)
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateVaultAccount(ghost, 1) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v, want ErrNotFound", err)
	}
	insertVaultAccount(t, s, sa.ID, "taken", api.PlatformGeneric)
	clash := got
	clash.Name, clash.Version = "taken", 3
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateVaultAccount(clash, 2) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename onto a taken name: %v, want ErrConflict", err)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetVaultAccountIDsByName(sa.ID, "db"); err != nil {
			t.Errorf("old name lost after a refused rename: %v", err)
		}
		return nil
	})

	// Delete removes the account and its secret versions.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.InsertSecretVersion(store.SecretVersionRecord{AccountID: a.ID, Version: 1, Sealed: "sealed-1", Source: api.SecretSourceManual, CreatedAt: t0, CreatedBy: alice})
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteVaultAccount(a.ID) })
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetVaultAccount(a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted account: %v", err)
		}
		if _, err := tx.GetSecretVersion(a.ID, 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("secret version of a deleted account: %v", err)
		}
		vs, err := tx.ListSecretVersions(a.ID)
		if err != nil || len(vs) != 0 {
			t.Errorf("secret versions of a deleted account: %v, %v", vs, err)
		}
		return nil
	})
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteVaultAccount(a.ID) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
}

func testVaultAccountList(t *testing.T, s store.Store) {
	sa, sb := insertVaultSafe(t, s, "a"), insertVaultSafe(t, s, "b")
	type row struct{ id, safe, name, platform string }
	var rows []row
	for _, spec := range []struct{ safe, name, platform string }{
		{sa.ID, "pg1", api.PlatformPostgreSQL}, {sa.ID, "gen1", api.PlatformGeneric}, {sb.ID, "pg1", api.PlatformPostgreSQL},
		{sb.ID, "ssh1", api.PlatformUnixSSH}, {sa.ID, "ssh1", api.PlatformUnixSSH}, {sb.ID, "gen2", api.PlatformGeneric},
	} {
		a := insertVaultAccount(t, s, spec.safe, spec.name, spec.platform)
		rows = append(rows, row{a.ID, spec.safe, spec.name, spec.platform})
	}
	list := func(f store.VaultAccountFilter) []string {
		t.Helper()
		var out []string
		view(t, s, func(tx store.Tx) error {
			as, err := tx.ListVaultAccounts(f)
			for _, a := range as {
				out = append(out, a.ID)
			}
			return err
		})
		return out
	}
	want := func(keep func(row) bool) []string {
		var out []string
		for _, r := range rows {
			if keep(r) {
				out = append(out, r.id)
			}
		}
		slices.Sort(out)
		return out
	}
	cases := []struct {
		name string
		f    store.VaultAccountFilter
		keep func(row) bool
	}{
		{"all", store.VaultAccountFilter{Limit: 100}, func(row) bool { return true }},
		{"safe", store.VaultAccountFilter{SafeID: sb.ID, Limit: 100}, func(r row) bool { return r.safe == sb.ID }},
		{"name", store.VaultAccountFilter{Name: "pg1", Limit: 100}, func(r row) bool { return r.name == "pg1" }},
		{"platform", store.VaultAccountFilter{Platform: api.PlatformUnixSSH, Limit: 100}, func(r row) bool { return r.platform == api.PlatformUnixSSH }},
		{"safe and platform", store.VaultAccountFilter{SafeID: sa.ID, Platform: api.PlatformGeneric, Limit: 100},
			func(r row) bool { return r.safe == sa.ID && r.platform == api.PlatformGeneric }},
		{"no match", store.VaultAccountFilter{SafeID: sa.ID, Name: "gen2", Limit: 100}, func(row) bool { return false }},
	}
	for _, tc := range cases {
		if got, w := list(tc.f), want(tc.keep); !slices.Equal(got, w) {
			t.Errorf("%s: got %v, want %v", tc.name, got, w)
		}
	}
	// Paging in id order, with a filter.
	all := want(func(row) bool { return true })
	var got []string
	after := ""
	for range 10 {
		page := list(store.VaultAccountFilter{AfterID: after, Limit: 4})
		if len(page) > 4 {
			t.Fatalf("page of %d, limit 4", len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(got, all) {
		t.Fatalf("paging:\n got %v\nwant %v", got, all)
	}
	pg := want(func(r row) bool { return r.platform == api.PlatformPostgreSQL })
	if p := list(store.VaultAccountFilter{Platform: api.PlatformPostgreSQL, AfterID: pg[0], Limit: 10}); !slices.Equal(p, pg[1:]) {
		t.Errorf("filtered second page = %v, want %v", p, pg[1:])
	}
}

func testVaultAccountStatus(t *testing.T, s store.Store) {
	sf := insertVaultSafe(t, s, "s")
	a := insertVaultAccount(t, s, sf.ID, "a", api.PlatformGeneric)
	next := t0.Add(24 * time.Hour)
	st := api.VaultAccountStatus{NextRotationAt: &next, LastRotationAt: &t0, LastRotationResult: api.RotationResultFailed,
		LastVerificationAt: &t0, LastVerificationResult: api.RotationResultSucceeded, Note: "connection refused",
		CheckedOutBy: &alice, CheckoutID: "chk_1", CheckoutExpiresAt: &next}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.SetVaultAccountStatus(a.ID, st) })
	got := getVaultAccount(t, s, a.ID)
	if got.Version != 1 {
		t.Errorf("SetVaultAccountStatus changed the version to %d", got.Version)
	}
	g := got.Status
	if g.NextRotationAt == nil || !g.NextRotationAt.Equal(next) || g.LastRotationResult != api.RotationResultFailed ||
		g.LastVerificationResult != api.RotationResultSucceeded || g.Note != "connection refused" {
		t.Errorf("status round trip: %+v", g)
	}
	if g.CheckedOutBy != nil || g.CheckoutID != "" || g.CheckoutExpiresAt != nil {
		t.Errorf("checkout part of the status was stored: %+v", g)
	}
	// Replaced as a whole.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.SetVaultAccountStatus(a.ID, api.VaultAccountStatus{}) })
	if g := getVaultAccount(t, s, a.ID).Status; g.NextRotationAt != nil || g.Note != "" || g.LastRotationResult != "" {
		t.Errorf("status not replaced: %+v", g)
	}
	if err := update(t, s, func(tx store.Tx) error { return tx.SetVaultAccountStatus("acct_missing", st) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status of a missing account: %v, want ErrNotFound", err)
	}
}

func testVaultSecretVersions(t *testing.T, s store.Store) {
	sf := insertVaultSafe(t, s, "s")
	a := insertVaultAccount(t, s, sf.ID, "a", api.PlatformGeneric)
	b := insertVaultAccount(t, s, sf.ID, "b", api.PlatformGeneric)
	sys := api.Actor{Type: "system", ID: "pamd"}
	// An opaque string, kept byte for byte.
	odd := "v1.mk_ab12.\x01 é'\"%_\\;--"
	recs := []store.SecretVersionRecord{
		{AccountID: a.ID, Version: 1, Sealed: "sealed-a-1", Source: api.SecretSourceManual, CreatedAt: t0, CreatedBy: alice},
		{AccountID: a.ID, Version: 2, Sealed: odd, Source: api.SecretSourceRotation, OperationID: "op_1", CreatedAt: t0.Add(time.Hour), CreatedBy: sys},
		{AccountID: a.ID, Version: 3, Sealed: "sealed-a-3", Source: api.SecretSourceReconcile, CreatedAt: t0.Add(2*time.Hour + 123*time.Millisecond), CreatedBy: sys},
		{AccountID: b.ID, Version: 1, Sealed: "sealed-b-1", Source: api.SecretSourceManual, CreatedAt: t0, CreatedBy: alice},
	}
	for _, r := range recs {
		mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertSecretVersion(r) })
	}
	again := recs[0]
	again.Sealed = "overwrite"
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertSecretVersion(again) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("an existing version was re-inserted: %v, want ErrConflict", err)
	}
	orphan := store.SecretVersionRecord{AccountID: "acct_missing", Version: 1, Sealed: "x", Source: api.SecretSourceManual, CreatedAt: t0, CreatedBy: alice}
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertSecretVersion(orphan) }); err == nil {
		t.Fatal("inserted a secret version of an account that does not exist")
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetSecretVersion(a.ID, 2)
		if err != nil {
			return err
		}
		if got.Sealed != odd || got.Source != api.SecretSourceRotation || got.OperationID != "op_1" || got.CreatedBy != sys ||
			!got.CreatedAt.Equal(t0.Add(time.Hour)) || got.AccountID != a.ID || got.Version != 2 {
			t.Errorf("secret version round trip: %+v", got)
		}
		if one, err := tx.GetSecretVersion(a.ID, 1); err != nil || one.Sealed != "sealed-a-1" {
			t.Errorf("version 1 = %+v, %v (overwritten?)", one, err)
		}
		if _, err := tx.GetSecretVersion(a.ID, 4); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing version: %v", err)
		}
		if _, err := tx.GetSecretVersion(b.ID, 2); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("version of another account: %v", err)
		}
		list, err := tx.ListSecretVersions(a.ID)
		if err != nil {
			return err
		}
		var vers []int64
		for _, r := range list {
			vers = append(vers, r.Version)
			if r.AccountID != a.ID {
				t.Errorf("list mixes accounts: %+v", r)
			}
		}
		if !slices.Equal(vers, []int64{3, 2, 1}) {
			t.Errorf("versions = %v, want newest first [3 2 1]", vers)
		}
		if !list[0].CreatedAt.Equal(recs[2].CreatedAt) {
			t.Errorf("sub-second created_at lost: %s", list[0].CreatedAt)
		}
		none, err := tx.ListSecretVersions("acct_missing")
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("versions of an unknown account = %#v, %v (want empty, non-nil)", none, err)
		}
		return nil
	})
}

func testVaultCheckouts(t *testing.T, s store.Store) {
	bob := api.Actor{Type: "user", ID: "bob"}
	c := newVaultCheckout("acct_1", bob, t0.Add(time.Hour))
	c.RotateOnCheckin = true
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertCheckout(c, true) })
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertCheckout(c, false) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate checkout id: %v, want ErrConflict", err)
	}
	getCheckout := func(id string) api.Checkout {
		t.Helper()
		var got api.Checkout
		view(t, s, func(tx store.Tx) (err error) { got, err = tx.GetCheckout(id); return err })
		return got
	}
	got := getCheckout(c.ID)
	if got.AccountID != "acct_1" || got.Holder != bob || got.State != api.CheckoutActive || !got.ExpiresAt.Equal(c.ExpiresAt) ||
		got.DurationSeconds != 3600 || got.Justification != "INC-1" || got.SecretVersion != 1 || !got.RotateOnCheckin ||
		got.EndedAt != nil || got.EndedBy != nil || got.Extensions == nil || got.Version != 1 {
		t.Fatalf("checkout round trip: %+v", got)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetCheckout("chk_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing checkout: %v", err)
		}
		return nil
	})

	// Extend, then end: state, expiry and body follow; stale updates are refused.
	ext := got
	ext.Version, ext.ExpiresAt, ext.DurationSeconds = 2, t0.Add(2*time.Hour), 7200
	ext.Extensions = []api.CheckoutExtension{{AdditionalSeconds: 3600, Justification: "more", By: bob, At: t0.Add(30 * time.Minute)}}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateCheckout(ext, 1) })
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateCheckout(ext, 1) }); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("stale checkout update: %v, want ErrVersionMismatch", err)
	}
	ghost := newVaultCheckout("acct_1", bob, t0)
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateCheckout(ghost, 1) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing checkout: %v, want ErrNotFound", err)
	}
	view(t, s, func(tx store.Tx) error {
		due, err := tx.DueCheckouts(t0.Add(90*time.Minute), 10)
		if err != nil || len(due) != 0 {
			t.Errorf("extended checkout due at its old expiry: %+v, %v", due, err)
		}
		return nil
	})
	end := t0.Add(45 * time.Minute)
	done := ext
	done.Version, done.State, done.EndReason, done.EndedAt, done.EndedBy = 3, api.CheckoutCheckedIn, api.CheckoutEndCheckedIn, &end, &bob
	mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateCheckout(done, 2) })
	got = getCheckout(c.ID)
	if got.State != api.CheckoutCheckedIn || got.Version != 3 || got.EndedAt == nil || !got.EndedAt.Equal(end) || got.EndedBy == nil ||
		*got.EndedBy != bob || len(got.Extensions) != 1 || got.Extensions[0].Justification != "more" || !got.ExpiresAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("after end: %+v", got)
	}
	view(t, s, func(tx store.Tx) error {
		act, err := tx.ActiveCheckouts("acct_1")
		if err != nil || len(act) != 0 {
			t.Errorf("ended checkout still active: %+v, %v", act, err)
		}
		due, err := tx.DueCheckouts(t0.Add(24*time.Hour), 10)
		if err != nil || len(due) != 0 {
			t.Errorf("ended checkout is due: %+v, %v", due, err)
		}
		return nil
	})
}

func testVaultCheckoutExclusive(t *testing.T, s store.Store) {
	bob, carol := api.Actor{Type: "user", ID: "bob"}, api.Actor{Type: "user", ID: "carol"}
	first := newVaultCheckout("acct_1", bob, t0.Add(time.Hour))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertCheckout(first, true) })

	second := newVaultCheckout("acct_1", carol, t0.Add(time.Hour))
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertCheckout(second, true) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second active exclusive checkout: %v, want ErrConflict", err)
	}
	// Another account is independent.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.InsertCheckout(newVaultCheckout("acct_2", carol, t0.Add(time.Hour)), true)
	})
	// Non-exclusive checkouts are not limited by the index.
	shared1, shared2 := newVaultCheckout("acct_3", bob, t0.Add(time.Hour)), newVaultCheckout("acct_3", carol, t0.Add(time.Hour))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertCheckout(shared1, false) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertCheckout(shared2, false) })
	view(t, s, func(tx store.Tx) error {
		act, err := tx.ActiveCheckouts("acct_1")
		if err != nil || len(act) != 1 || act[0].ID != first.ID {
			t.Errorf("active after the refused insert: %+v, %v", act, err)
		}
		act, err = tx.ActiveCheckouts("acct_3")
		if err != nil || len(act) != 2 {
			t.Errorf("shared checkouts: %+v, %v", act, err)
		}
		return nil
	})

	// Once the first ended (any terminal state), the account can be checked out again.
	for i, state := range []string{api.CheckoutCheckedIn, api.CheckoutExpired, api.CheckoutRevoked} {
		end := t0.Add(time.Duration(i+1) * time.Minute)
		ended := first
		ended.Version, ended.State, ended.EndedAt = first.Version+1, state, &end
		mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateCheckout(ended, first.Version) })
		next := newVaultCheckout("acct_1", carol, t0.Add(time.Hour))
		if err := update(t, s, func(tx store.Tx) error { return tx.InsertCheckout(next, true) }); err != nil {
			t.Fatalf("exclusive checkout after the previous one was %s: %v", state, err)
		}
		first = next
	}
	// Re-activating an ended checkout while another is active violates the
	// index too (whatever the code does).
	var ended api.Checkout
	view(t, s, func(tx store.Tx) error {
		list, err := tx.ListCheckouts(store.CheckoutFilter{AccountID: "acct_1", States: []string{api.CheckoutRevoked}, Limit: 10})
		if err != nil || len(list) != 1 {
			t.Fatalf("revoked checkouts: %+v, %v", list, err)
		}
		ended = list[0]
		return nil
	})
	revive := ended
	revive.Version, revive.State = ended.Version+1, api.CheckoutActive
	if err := update(t, s, func(tx store.Tx) error { return tx.UpdateCheckout(revive, ended.Version) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second active exclusive checkout by update: %v, want ErrConflict", err)
	}
}

func testVaultCheckoutListAndDue(t *testing.T, s store.Store) {
	bob, tf := api.Actor{Type: "user", ID: "bob"}, api.Actor{Type: "service_account", ID: "bob"}
	type spec struct {
		account string
		holder  api.Actor
		expires time.Duration
		state   string
	}
	specs := []spec{
		{"acct_1", bob, 30 * time.Minute, api.CheckoutActive},
		{"acct_2", bob, 10 * time.Minute, api.CheckoutActive},
		{"acct_1", tf, 20 * time.Minute, api.CheckoutCheckedIn},
		{"acct_3", tf, 10 * time.Minute, api.CheckoutActive},
		{"acct_2", alice, 5 * time.Minute, api.CheckoutExpired},
		{"acct_4", alice, 40 * time.Minute, api.CheckoutActive},
	}
	cs := make([]api.Checkout, len(specs))
	for i, sp := range specs {
		c := newVaultCheckout(sp.account, sp.holder, t0.Add(sp.expires))
		c.State = sp.state
		cs[i] = c
		mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertCheckout(c, false) })
	}
	idsOf := func(idx ...int) []string {
		out := make([]string, 0, len(idx))
		for _, i := range idx {
			out = append(out, cs[i].ID)
		}
		return out
	}
	sorted := func(ss []string) []string { ss = slices.Clone(ss); slices.Sort(ss); return ss }
	list := func(f store.CheckoutFilter) []string {
		t.Helper()
		out := []string{}
		view(t, s, func(tx store.Tx) error {
			got, err := tx.ListCheckouts(f)
			for _, c := range got {
				out = append(out, c.ID)
			}
			return err
		})
		return out
	}
	cases := []struct {
		name string
		f    store.CheckoutFilter
		want []string
	}{
		{"all", store.CheckoutFilter{Limit: 100}, sorted(idsOf(0, 1, 2, 3, 4, 5))},
		{"account", store.CheckoutFilter{AccountID: "acct_1", Limit: 100}, sorted(idsOf(0, 2))},
		{"holder type and id", store.CheckoutFilter{HolderType: "user", HolderID: "bob", Limit: 100}, sorted(idsOf(0, 1))},
		{"holder id only spans types", store.CheckoutFilter{HolderID: "bob", Limit: 100}, sorted(idsOf(0, 1, 2, 3))},
		{"holder type only", store.CheckoutFilter{HolderType: "service_account", Limit: 100}, sorted(idsOf(2, 3))},
		{"one state", store.CheckoutFilter{States: []string{api.CheckoutActive}, Limit: 100}, sorted(idsOf(0, 1, 3, 5))},
		{"two states", store.CheckoutFilter{States: []string{api.CheckoutCheckedIn, api.CheckoutExpired}, Limit: 100}, sorted(idsOf(2, 4))},
		{"combined", store.CheckoutFilter{AccountID: "acct_2", HolderType: "user", HolderID: "bob", States: []string{api.CheckoutActive}, Limit: 100}, idsOf(1)},
		{"no match", store.CheckoutFilter{AccountID: "acct_1", States: []string{api.CheckoutRevoked}, Limit: 100}, []string{}},
	}
	for _, tc := range cases {
		if got := list(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	all := sorted(idsOf(0, 1, 2, 3, 4, 5))
	var paged []string
	after := ""
	for range 10 {
		page := list(store.CheckoutFilter{AfterID: after, Limit: 4})
		if len(page) > 4 {
			t.Fatalf("page of %d, limit 4", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("paging:\n got %v\nwant %v", paged, all)
	}
	active := sorted(idsOf(0, 1, 3, 5))
	if got := list(store.CheckoutFilter{States: []string{api.CheckoutActive}, AfterID: active[1], Limit: 100}); !slices.Equal(got, active[2:]) {
		t.Errorf("filtered page after %s = %v, want %v", active[1], got, active[2:])
	}

	view(t, s, func(tx store.Tx) error {
		act, err := tx.ActiveCheckouts("acct_2")
		if err != nil || !slices.Equal(checkoutIDs(act), idsOf(1)) {
			t.Errorf("active acct_2 = %v, %v", checkoutIDs(act), err)
		}
		// Due: active and expiry at or before now, earliest first, bounded.
		due, err := tx.DueCheckouts(t0.Add(10*time.Minute), 10)
		if err != nil {
			return err
		}
		if got, want := checkoutIDs(due), sorted(idsOf(1, 3)); !slices.Equal(sorted(got), want) || len(got) != 2 {
			t.Errorf("due at +10m (inclusive) = %v, want %v", got, want)
		}
		due, err = tx.DueCheckouts(t0.Add(10*time.Minute-time.Second), 10)
		if err != nil || len(due) != 0 {
			t.Errorf("due just before the first expiry = %v, %v", checkoutIDs(due), err)
		}
		due, err = tx.DueCheckouts(t0.Add(time.Hour), 10)
		if err != nil {
			return err
		}
		got := checkoutIDs(due)
		if len(got) != 4 || got[2] != cs[0].ID || got[3] != cs[5].ID || !slices.Equal(sorted(got[:2]), sorted(idsOf(1, 3))) {
			t.Errorf("due at +1h = %v, want expiry order (acct_2|acct_3, acct_1, acct_4)", got)
		}
		due, err = tx.DueCheckouts(t0.Add(time.Hour), 3)
		if err != nil || len(due) != 3 || due[2].ID != cs[0].ID {
			t.Errorf("due with limit 3 = %v, %v", checkoutIDs(due), err)
		}
		return nil
	})
	// Expiry compares as time, not as text: an expiry with a fraction of a
	// second is due only once that instant passed.
	frac := newVaultCheckout("acct_9", bob, t0.Add(2*time.Hour+500*time.Millisecond))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertCheckout(frac, true) })
	view(t, s, func(tx store.Tx) error {
		due, err := tx.DueCheckouts(t0.Add(2*time.Hour), 100)
		if err != nil || slices.Contains(checkoutIDs(due), frac.ID) {
			t.Errorf("checkout due 500ms early: %v", err)
		}
		due, err = tx.DueCheckouts(t0.Add(2*time.Hour+time.Second), 100)
		if err != nil || !slices.Contains(checkoutIDs(due), frac.ID) {
			t.Errorf("checkout not due after its expiry: %v", err)
		}
		return nil
	})
	// ActiveCheckouts orders by expiry, not id.
	late := newVaultCheckout("acct_5", bob, t0.Add(3*time.Hour))
	early := newVaultCheckout("acct_5", alice, t0.Add(time.Hour))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertCheckout(late, false) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertCheckout(early, false) })
	view(t, s, func(tx store.Tx) error {
		act, err := tx.ActiveCheckouts("acct_5")
		if err != nil || !slices.Equal(checkoutIDs(act), []string{early.ID, late.ID}) {
			t.Errorf("active order = %v, %v; want earliest expiry first", checkoutIDs(act), err)
		}
		none, err := tx.ActiveCheckouts("acct_none")
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("active of unknown account = %#v, %v", none, err)
		}
		return nil
	})
}

func checkoutIDs(cs []api.Checkout) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testVaultSealedValues(t *testing.T, s store.Store) {
	view(t, s, func(tx store.Tx) error {
		vals, err := tx.ListSealedValues()
		if err != nil || len(vals) != 0 {
			t.Errorf("empty store sealed values = %+v, %v", vals, err)
		}
		return nil
	})
	sf := insertVaultSafe(t, s, "s")
	a := insertVaultAccount(t, s, sf.ID, "a", api.PlatformGeneric)
	for v := int64(1); v <= 2; v++ {
		mustUpdate(t, s, func(tx store.Tx) error {
			return tx.InsertSecretVersion(store.SecretVersionRecord{AccountID: a.ID, Version: v, Sealed: fmt.Sprintf("vault-%d", v),
				Source: api.SecretSourceManual, CreatedAt: t0, CreatedBy: alice})
		})
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutTOTPEnrollment(store.TOTPEnrollment{Subject: "user:alice", SealedSecret: "totp-alice", CreatedAt: t0})
	})
	r := newRole("hooked")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertRole(r) })
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutRoleWebhooks(r.ID, []store.RoleWebhook{
			{URL: "https://a.example/hook", Secret: "hook-0", SecretVersion: 1},
			{URL: "https://b.example/hook", Secret: "hook-1", SecretVersion: 1},
		})
	})

	var vals []store.SealedValue
	view(t, s, func(tx store.Tx) (err error) { vals, err = tx.ListSealedValues(); return err })
	got := map[string]string{}
	for _, v := range vals {
		got[fmt.Sprintf("%s|%s|%d", v.Kind, v.Key, v.Version)] = v.Sealed
	}
	hookPos := map[string]int64{}
	for _, v := range vals {
		if v.Kind == store.SealedRoleWebhook {
			hookPos[v.Sealed] = v.Version
		}
	}
	want := map[string]string{
		fmt.Sprintf("%s|%s|1", store.SealedVaultSecret, a.ID):                     "vault-1",
		fmt.Sprintf("%s|%s|2", store.SealedVaultSecret, a.ID):                     "vault-2",
		fmt.Sprintf("%s|user:alice|0", store.SealedMFATOTP):                       "totp-alice",
		fmt.Sprintf("%s|%s|%d", store.SealedRoleWebhook, r.ID, hookPos["hook-0"]): "hook-0",
		fmt.Sprintf("%s|%s|%d", store.SealedRoleWebhook, r.ID, hookPos["hook-1"]): "hook-1",
	}
	if len(vals) != 5 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sealed values:\n got %v\nwant %v", got, want)
	}
	if hookPos["hook-0"] == hookPos["hook-1"] {
		t.Fatalf("webhook positions are not distinct: %v", hookPos)
	}

	// Replace each; every kind lands where its owner reads it, and only there.
	for _, v := range vals {
		v.Sealed = "re-" + v.Sealed
		mustUpdate(t, s, func(tx store.Tx) error { return tx.ReplaceSealedValue(v) })
	}
	view(t, s, func(tx store.Tx) error {
		for v := int64(1); v <= 2; v++ {
			rec, err := tx.GetSecretVersion(a.ID, v)
			if err != nil || rec.Sealed != fmt.Sprintf("re-vault-%d", v) {
				t.Errorf("vault secret v%d = %q, %v", v, rec.Sealed, err)
			}
		}
		e, err := tx.GetTOTPEnrollment("user:alice")
		if err != nil || e.SealedSecret != "re-totp-alice" {
			t.Errorf("totp = %q, %v", e.SealedSecret, err)
		}
		hooks, err := tx.GetRoleWebhooks(r.ID)
		if err != nil || len(hooks) != 2 || hooks[0].Secret != "re-hook-0" || hooks[1].Secret != "re-hook-1" ||
			hooks[0].URL != "https://a.example/hook" || hooks[0].SecretVersion != 1 {
			t.Errorf("webhooks = %+v, %v", hooks, err)
		}
		again, err := tx.ListSealedValues()
		if err != nil || len(again) != 5 {
			t.Errorf("after replace: %+v, %v", again, err)
		}
		return nil
	})

	for name, v := range map[string]store.SealedValue{
		"vault version":    {Kind: store.SealedVaultSecret, Key: a.ID, Version: 9, Sealed: "x"},
		"vault account":    {Kind: store.SealedVaultSecret, Key: "acct_missing", Version: 1, Sealed: "x"},
		"totp subject":     {Kind: store.SealedMFATOTP, Key: "user:nobody", Sealed: "x"},
		"webhook position": {Kind: store.SealedRoleWebhook, Key: r.ID, Version: 99, Sealed: "x"},
		"webhook role":     {Kind: store.SealedRoleWebhook, Key: "role_missing", Version: 0, Sealed: "x"},
	} {
		if err := update(t, s, func(tx store.Tx) error { return tx.ReplaceSealedValue(v) }); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("replace missing %s: %v, want ErrNotFound", name, err)
		}
	}
	bogus := store.SealedValue{Kind: "unknown", Key: a.ID, Version: 1, Sealed: "x"}
	if err := update(t, s, func(tx store.Tx) error { return tx.ReplaceSealedValue(bogus) }); err == nil {
		t.Error("replace of an unknown kind succeeded")
	}
	view(t, s, func(tx store.Tx) error {
		rec, err := tx.GetSecretVersion(a.ID, 1)
		if err != nil || rec.Sealed != "re-vault-1" {
			t.Errorf("unknown kind touched a vault secret: %q, %v", rec.Sealed, err)
		}
		return nil
	})
}

func testVaultRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	sf := newVaultSafe("rolled-back")
	a := newVaultAccount(sf.ID, "a", api.PlatformGeneric)
	c := newVaultCheckout(a.ID, alice, t0.Add(time.Hour))
	err := update(t, s, func(tx store.Tx) error {
		if err := tx.InsertSafe(sf); err != nil {
			return err
		}
		if err := tx.InsertVaultAccount(a); err != nil {
			return err
		}
		if err := tx.InsertSecretVersion(store.SecretVersionRecord{AccountID: a.ID, Version: 1, Sealed: "sealed", Source: api.SecretSourceManual,
			CreatedAt: t0, CreatedBy: alice}); err != nil {
			return err
		}
		if err := tx.InsertCheckout(c, true); err != nil {
			return err
		}
		if err := tx.AppendAudit(auditEvent("checkout.created", c.ID)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update error: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetSafe(sf.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("safe survived rollback: %v", err)
		}
		if _, err := tx.GetSafeIDByName("rolled-back"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("safe name survived rollback: %v", err)
		}
		if _, err := tx.GetVaultAccount(a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("account survived rollback: %v", err)
		}
		if _, err := tx.GetSecretVersion(a.ID, 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("secret version survived rollback: %v", err)
		}
		if _, err := tx.GetCheckout(c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("checkout survived rollback: %v", err)
		}
		vals, err := tx.ListSealedValues()
		if err != nil || len(vals) != 0 {
			t.Errorf("sealed values after rollback: %+v, %v", vals, err)
		}
		evs, err := tx.ListAudit(store.AuditFilter{Limit: 10})
		if err != nil || len(evs) != 0 {
			t.Errorf("audit after rollback: %+v, %v", evs, err)
		}
		return nil
	})
	// The exclusive lock of the rolled-back checkout does not linger.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertSafe(sf) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertVaultAccount(a) })
	c2 := newVaultCheckout(a.ID, alice, t0.Add(time.Hour))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertCheckout(c2, true) })
}
