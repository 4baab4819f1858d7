package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func newSSHKey(subject, fp string, at time.Time) api.SSHKey {
	return api.SSHKey{ID: ids.New(api.PrefixSSHKey, at), Name: "laptop", Subject: subject, TokenID: "tok_1", Fingerprint: fp,
		PublicKey: "ssh-ed25519 AAAAC3Nza...", CreatedAt: at}
}

func testSSHKeys(t *testing.T, s store.Store) {
	a := newSSHKey("user:alice", "SHA256:aaa", t0)
	b := newSSHKey("user:bob", "SHA256:bbb", t0.Add(time.Second))
	c := newSSHKey("user:alice", "SHA256:ccc", t0.Add(2*time.Second))
	for _, k := range []api.SSHKey{a, b, c} {
		mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertSSHKey(k) })
	}
	dup := newSSHKey("user:carol", "SHA256:aaa", t0.Add(3*time.Second))
	if err := update(t, s, func(tx store.Tx) error { return tx.InsertSSHKey(dup) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate fingerprint: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetSSHKey(a.ID)
		if err != nil || got != a {
			t.Errorf("get: %+v %v", got, err)
		}
		got, err = tx.SSHKeyByFingerprint("SHA256:bbb")
		if err != nil || got.ID != b.ID {
			t.Errorf("by fingerprint: %+v %v", got, err)
		}
		if _, err := tx.SSHKeyByFingerprint("SHA256:zzz"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown fingerprint: %v", err)
		}
		all, err := tx.ListSSHKeys(store.SSHKeyFilter{Limit: 10})
		if err != nil || len(all) != 3 || all[0].ID != a.ID || all[2].ID != c.ID {
			t.Errorf("list all: %+v %v", all, err)
		}
		mine, err := tx.ListSSHKeys(store.SSHKeyFilter{Subject: "user:alice", Limit: 10})
		if err != nil || len(mine) != 2 {
			t.Errorf("list alice: %+v %v", mine, err)
		}
		page, err := tx.ListSSHKeys(store.SSHKeyFilter{Subject: "user:alice", AfterID: a.ID, Limit: 1})
		if err != nil || len(page) != 1 || page[0].ID != c.ID {
			t.Errorf("page: %+v %v", page, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteSSHKey(a.ID) })
	if err := update(t, s, func(tx store.Tx) error { return tx.DeleteSSHKey(a.ID) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.SSHKeyByFingerprint("SHA256:aaa"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted key still found: %v", err)
		}
		return nil
	})
	// The fingerprint is free again once deleted.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertSSHKey(dup) })
}
