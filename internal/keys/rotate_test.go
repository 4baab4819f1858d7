package keys_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

func TestVaultSecretSealing(t *testing.T) {
	t.Setenv(keys.EnvMasterKey, "")
	kr, err := keys.LoadOrCreateFile(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("p@ssw0rd")
	s, err := kr.SealString(pt, vault.SecretAAD("acct_1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kr.OpenString(s, vault.SecretAAD("acct_1", 1)); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	// A row moved to another account or version does not open.
	for _, aad := range [][]byte{vault.SecretAAD("acct_2", 1), vault.SecretAAD("acct_1", 2)} {
		if _, err := kr.OpenString(s, aad); !errors.Is(err, keys.ErrDecrypt) {
			t.Fatalf("moved row opened: %v", err)
		}
	}
	// Tampering with the ciphertext is detected.
	b := []byte(s)
	b[len(b)-3] ^= 1
	if b[len(b)-3] == '.' {
		b[len(b)-3] = 'A'
	}
	if _, err := kr.OpenString(string(b), vault.SecretAAD("acct_1", 1)); err == nil {
		t.Fatal("tampered value opened")
	}
}

func TestRotateFile(t *testing.T) {
	t.Setenv(keys.EnvMasterKey, "")
	path := filepath.Join(t.TempDir(), "master.key")
	old, err := keys.LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	aad := vault.SecretAAD("acct_1", 3)
	sealed, err := old.SealString([]byte("secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	oldCT, _ := keys.ParseSealed(sealed)
	var rewrapped string
	res, err := keys.RotateFile(path, true, func(next *keys.Keyring) error {
		// The old key is still available during the rewrap.
		if _, err := next.OpenString(sealed, aad); err != nil {
			return err
		}
		rewrapped, err = next.Rewrap(sealed)
		return err
	}, func(ids []string) (bool, error) {
		id, _ := keys.SealedKeyID(rewrapped)
		for _, k := range ids {
			if k == id {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pruned || res.OldKeyID == res.NewKeyID || res.OldKeyID != old.KeyID() {
		t.Fatalf("result = %+v", res)
	}
	newCT, _ := keys.ParseSealed(rewrapped)
	if !bytes.Equal(oldCT.Ciphertext, newCT.Ciphertext) || !bytes.Equal(oldCT.Nonce, newCT.Nonce) || newCT.KeyID != res.NewKeyID {
		t.Fatal("rewrap changed the ciphertext or kept the old key id")
	}
	if _, err := os.Stat(path + keys.RetiredSuffix); !os.IsNotExist(err) {
		t.Fatalf("old key file not removed: %v", err)
	}
	// Fresh load: only the new key, which opens the re-wrapped value.
	kr, err := keys.LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := kr.LoadRetired(path); err != nil {
		t.Fatal(err)
	}
	if got, err := kr.OpenString(rewrapped, aad); err != nil || string(got) != "secret" {
		t.Fatalf("after rotation: %q, %v", got, err)
	}
	// The old key cannot open the re-wrapped value; the new key cannot
	// open the value still wrapped with the old key.
	if _, err := old.OpenString(rewrapped, aad); !errors.Is(err, keys.ErrUnknownKey) {
		t.Fatalf("old key opened the re-wrapped value: %v", err)
	}
	if _, err := kr.OpenString(sealed, aad); !errors.Is(err, keys.ErrUnknownKey) {
		t.Fatalf("pruned key still opens: %v", err)
	}
	// Without prune the old key is kept and both forms open.
	if _, err := keys.RotateFile(path, false, func(next *keys.Keyring) error { return nil }, nil); err != nil {
		t.Fatal(err)
	}
	kr2, _ := keys.LoadOrCreateFile(path)
	if err := kr2.LoadRetired(path); err != nil {
		t.Fatal(err)
	}
	if _, err := kr2.OpenString(rewrapped, aad); err != nil {
		t.Fatalf("kept old key does not open: %v", err)
	}
}
