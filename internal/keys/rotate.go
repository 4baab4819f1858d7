package keys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
)

// Master key rotation.
//
// The key file holds the current master key. Retired keys live beside it in
// "<key file>.old" (KeySize bytes per key, mode 0600), and a rotation in
// progress keeps the next key in "<key file>.new". LoadRetired adds both to a
// keyring for Open, so that whatever step a rotation stopped at, every sealed
// value still opens. Rotation re-wraps data keys only: ciphertexts and nonces
// are unchanged, so no plaintext is ever produced.

// Suffixes of the files beside the key file.
const (
	RetiredSuffix = ".old"
	PendingSuffix = ".new"
)

// ErrRotationPending means a previous rotation left a pending key file.
var ErrRotationPending = errors.New("keys: a previous rotation did not finish")

// AddRetired adds a master key that Open accepts but Seal never uses.
func (k *Keyring) AddRetired(master []byte) error {
	if len(master) != KeySize {
		return fmt.Errorf("keys: master key must be %d bytes, got %d", KeySize, len(master))
	}
	id := keyID(master)
	if _, ok := k.keys[id]; ok {
		return nil
	}
	aead, err := newAEAD(master)
	if err != nil {
		return err
	}
	k.keys[id] = aead
	return nil
}

// KeyIDs returns the ids of every key of the ring, current first.
func (k *Keyring) KeyIDs() []string {
	out := []string{k.current}
	var rest []string
	for id := range k.keys {
		if id != k.current {
			rest = append(rest, id)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// Rewrap re-wraps the data key of a sealed value with the current master key,
// leaving nonce and ciphertext as they are. A value already wrapped with the
// current key is returned unchanged.
func (k *Keyring) Rewrap(sealed string) (string, error) {
	s, err := ParseSealed(sealed)
	if err != nil {
		return "", err
	}
	if s.KeyID == k.current {
		return sealed, nil
	}
	old, ok := k.keys[s.KeyID]
	if !ok {
		return "", ErrUnknownKey
	}
	ns := old.NonceSize()
	if len(s.WrappedDataKey) < ns {
		return "", ErrDecrypt
	}
	dk, err := old.Open(nil, s.WrappedDataKey[:ns], s.WrappedDataKey[ns:], wrapAAD(s.KeyID))
	if err != nil {
		return "", ErrDecrypt
	}
	defer clear(dk)
	master := k.keys[k.current]
	nonce := make([]byte, master.NonceSize(), master.NonceSize()+KeySize+master.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("keys: generate nonce: %w", err)
	}
	s.KeyID = k.current
	s.WrappedDataKey = master.Seal(nonce, nonce, dk, wrapAAD(k.current))
	return s.String(), nil
}

// LoadRetired adds the keys of "<keyFile>.old" and "<keyFile>.new" (when
// they exist) to the ring as retired keys.
func (k *Keyring) LoadRetired(keyFile string) error {
	for _, p := range []string{keyFile + RetiredSuffix, keyFile + PendingSuffix} {
		ks, err := readKeys(p)
		if err != nil {
			return err
		}
		for _, m := range ks {
			err := k.AddRetired(m)
			clear(m)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// readKeys reads a file of concatenated keys; a missing file holds none.
func readKeys(path string) ([][]byte, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("keys: %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrInsecureKeyFile, path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path) //nolint:gosec // beside the operator's key file
	if err != nil {
		return nil, fmt.Errorf("keys: read %s: %w", path, err)
	}
	defer clear(b)
	if len(b) == 0 || len(b)%KeySize != 0 {
		return nil, fmt.Errorf("keys: %s must hold a multiple of %d bytes", path, KeySize)
	}
	var out [][]byte
	for i := 0; i < len(b); i += KeySize {
		out = append(out, slices.Clone(b[i:i+KeySize]))
	}
	return out, nil
}

// writeKeys atomically replaces path with the concatenated keys, mode 0600.
func writeKeys(path string, ks [][]byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pamd-key-*")
	if err != nil {
		return fmt.Errorf("keys: create %s: %w", path, err)
	}
	name := tmp.Name()
	defer func() { _ = os.Remove(name) }()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("keys: chmod %s: %w", path, err)
	}
	for _, k := range ks {
		if _, err := tmp.Write(k); err != nil {
			_ = tmp.Close()
			return fmt.Errorf("keys: write %s: %w", path, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("keys: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keys: close %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("keys: install %s: %w", path, err)
	}
	return nil
}

// RotationResult reports a finished rotation.
type RotationResult struct {
	OldKeyID, NewKeyID string
	// Pruned is true when the retired keys were removed afterwards.
	Pruned bool
}

// RotateFile rotates the master key of keyFile:
//
//  1. generate the next key into "<keyFile>.new" (0600);
//  2. add the current key to "<keyFile>.old";
//  3. call rewrap with a keyring whose current key is the next key and which
//     still holds every old key: it must re-wrap every sealed value (in one
//     store transaction) and may audit the rotation;
//  4. install the next key as keyFile;
//  5. with prune, call inUse for the retired key ids and, when no stored value
//     uses them any more, delete "<keyFile>.old".
//
// A failure before 4 leaves the current key in place; the pending key stays
// loadable by LoadRetired, so values re-wrapped by a committed step 3 still open.
func RotateFile(keyFile string, prune bool, rewrap func(next *Keyring) error, inUse func(ids []string) (bool, error)) (RotationResult, error) {
	var res RotationResult
	if os.Getenv(EnvMasterKey) != "" {
		return res, fmt.Errorf("keys: %s is set; rotate the key where it is kept and re-wrap with a key file instead", EnvMasterKey)
	}
	if _, err := os.Stat(keyFile + PendingSuffix); err == nil {
		return res, fmt.Errorf("%w: %s exists; it may hold the key of a committed rotation: move it over %s if the last rotation committed (the audit log has keys.rotated), else delete it", ErrRotationPending, keyFile+PendingSuffix, keyFile)
	}
	curKeys, err := readKeys(keyFile)
	if err != nil {
		return res, err
	}
	if len(curKeys) != 1 {
		return res, fmt.Errorf("keys: %s must hold exactly one key", keyFile)
	}
	cur := curKeys[0]
	defer clear(cur)
	retired, err := readKeys(keyFile + RetiredSuffix)
	if err != nil {
		return res, err
	}
	next := make([]byte, KeySize)
	defer clear(next)
	if _, err := rand.Read(next); err != nil {
		return res, fmt.Errorf("keys: generate master key: %w", err)
	}
	res.OldKeyID, res.NewKeyID = keyID(cur), keyID(next)
	if err := writeKeys(keyFile+PendingSuffix, [][]byte{next}); err != nil {
		return res, err
	}
	if err := writeKeys(keyFile+RetiredSuffix, append(retired, cur)); err != nil {
		return res, err
	}
	kr, err := New(next)
	if err != nil {
		return res, err
	}
	for _, m := range append(retired, cur) {
		if err := kr.AddRetired(m); err != nil {
			return res, err
		}
	}
	if err := rewrap(kr); err != nil {
		_ = os.Remove(keyFile + PendingSuffix) // nothing was committed with it
		return res, err
	}
	if err := os.Rename(keyFile+PendingSuffix, keyFile); err != nil {
		return res, fmt.Errorf("keys: install the new key (the store is already re-wrapped: move %s over %s by hand): %w", keyFile+PendingSuffix, keyFile, err)
	}
	if prune && inUse != nil {
		ids := kr.KeyIDs()[1:]
		used, err := inUse(ids)
		if err != nil {
			return res, err
		}
		if !used {
			if err := os.Remove(keyFile + RetiredSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return res, fmt.Errorf("keys: remove retired keys: %w", err)
			}
			res.Pruned = true
		}
	}
	return res, nil
}

// SealedKeyID returns the id of the master key a sealed value is wrapped with.
func SealedKeyID(sealed string) (string, error) {
	s, err := ParseSealed(sealed)
	if err != nil {
		return "", err
	}
	return s.KeyID, nil
}
