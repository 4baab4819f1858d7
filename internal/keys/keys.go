// Package keys holds pamd's master key and the envelope encryption built on it,
// which protects secrets at rest (TOTP secrets now, vaulted credentials later).
//
// Every Seal draws a fresh random AES-256 data key, encrypts the plaintext with
// it (AES-256-GCM, bound to caller-chosen associated data such as
// "mfa_totp:user:alice"), and wraps the data key with the master key (AES-256-GCM
// again, bound to the key id). The stored form names the master key by id, so a
// later rotation can keep old keys for Open while new Seals use the current one.
//
// The master key comes from PAMD_MASTER_KEY (base64 of 32 bytes) when that is
// set, otherwise from a 32-byte file that LoadOrCreate generates with mode 0600 on
// first start and refuses to use when group or others can read it.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Environment variables read by LoadOrCreate and the pamd CLI.
const (
	// EnvMasterKey holds the master key itself, base64 (standard or URL
	// alphabet, padding optional) of KeySize bytes. It wins over any file.
	EnvMasterKey = "PAMD_MASTER_KEY"
	// EnvMasterKeyFile names the key file (default: the database path + ".key").
	EnvMasterKeyFile = "PAMD_MASTER_KEY_FILE"
)

// KeySize is the size of the master key and of every data key (AES-256).
const KeySize = 32

// sealedVersion prefixes the serialised form, so the format can evolve.
const sealedVersion = "v1"

var (
	// ErrDecrypt means a sealed value could not be opened: wrong master key,
	// wrong associated data, or tampered bytes. The cases are deliberately not
	// told apart.
	ErrDecrypt = errors.New("keys: cannot decrypt: wrong key, wrong associated data or tampered data")
	// ErrUnknownKey means the sealed value names a master key this keyring lacks.
	ErrUnknownKey = errors.New("keys: sealed with an unknown master key")
	// ErrMalformed means a serialised sealed value does not parse.
	ErrMalformed = errors.New("keys: malformed sealed value")
	// ErrInsecureKeyFile means the key file is readable by group or others.
	ErrInsecureKeyFile = errors.New("keys: master key file is readable by group or others")
)

// Keyring holds the master key (and, after a rotation, retired ones for Open).
type Keyring struct {
	current string
	keys    map[string]cipher.AEAD
}

// New builds a keyring from a raw KeySize-byte master key. The slice is copied
// into the cipher and may be cleared by the caller afterwards.
func New(master []byte) (*Keyring, error) {
	if len(master) != KeySize {
		return nil, fmt.Errorf("keys: master key must be %d bytes, got %d", KeySize, len(master))
	}
	aead, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	id := keyID(master)
	return &Keyring{current: id, keys: map[string]cipher.AEAD{id: aead}}, nil
}

// Parse builds a keyring from the base64 form of a master key (EnvMasterKey).
func Parse(b64 string) (*Keyring, error) {
	s := strings.TrimSpace(b64)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		// The decoder's error quotes an offset, never the input.
		return nil, fmt.Errorf("keys: %s is not base64: %w", EnvMasterKey, err)
	}
	defer clear(raw)
	return New(raw)
}

// Generate returns a new random master key in base64, for operators who prefer
// to hand pamd the key through EnvMasterKey.
func Generate() (string, error) {
	b := make([]byte, KeySize)
	defer clear(b)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("keys: generate: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// LoadOrCreate returns the master keyring: from EnvMasterKey when it is set,
// otherwise from the file at path, which is created (KeySize random bytes,
// mode 0600, never overwritten) when it does not exist yet. An existing file
// must be a regular file of exactly KeySize bytes that neither group nor others
// can read or write.
func LoadOrCreate(path string) (*Keyring, error) {
	if v := os.Getenv(EnvMasterKey); v != "" {
		return Parse(v)
	}
	return LoadOrCreateFile(path)
}

// LoadOrCreateFile is LoadOrCreate without the environment variable.
func LoadOrCreateFile(path string) (*Keyring, error) {
	if path == "" {
		return nil, errors.New("keys: no master key file path")
	}
	kr, err := loadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		kr, err = createFile(path)
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use theirs.
			return loadFile(path)
		}
	}
	return kr, err
}

func loadFile(path string) (*Keyring, error) {
	f, err := os.Open(path) //nolint:gosec // the operator names the key file
	if err != nil {
		return nil, fmt.Errorf("keys: open master key file: %w", err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keys: stat master key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("keys: master key file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrInsecureKeyFile, path, st.Mode().Perm(), path)
	}
	buf := make([]byte, KeySize+1)
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("keys: read master key file: %w", err)
	}
	if n != KeySize {
		return nil, fmt.Errorf("keys: master key file %s must hold exactly %d bytes", path, KeySize)
	}
	return New(buf[:KeySize])
}

func createFile(path string) (*Keyring, error) {
	key := make([]byte, KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("keys: generate master key: %w", err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("keys: create key directory: %w", err)
		}
	}
	// Write to a temporary file and link it into place: a crash never leaves
	// a short key file behind, and O_EXCL semantics come from os.Link.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pamd-key-*")
	if err != nil {
		return nil, fmt.Errorf("keys: create master key file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() { _ = os.Remove(tmpName) }()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("keys: chmod master key file: %w", err)
	}
	if _, err := tmp.Write(key); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("keys: write master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("keys: sync master key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("keys: close master key file: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		return nil, fmt.Errorf("keys: install master key file: %w", err)
	}
	return New(key)
}

// KeyID returns the id of the current master key: a fingerprint that reveals
// nothing about the key.
func (k *Keyring) KeyID() string { return k.current }

// Sealed is an envelope-encrypted value.
type Sealed struct {
	// KeyID names the master key that wrapped the data key.
	KeyID string
	// WrappedDataKey is nonce || AES-GCM(master, data key).
	WrappedDataKey []byte
	// Nonce is the nonce of Ciphertext.
	Nonce []byte
	// Ciphertext is AES-GCM(data key, plaintext) with its tag.
	Ciphertext []byte
}

// Seal encrypts plaintext under a fresh data key bound to associatedData,
// which Open must be given again (use it to tie the value to its row, e.g.
// "mfa_totp:user:alice", so a ciphertext copied to another row will not open).
func (k *Keyring) Seal(plaintext, associatedData []byte) (Sealed, error) {
	master := k.keys[k.current]
	dk := make([]byte, KeySize)
	defer clear(dk)
	if _, err := rand.Read(dk); err != nil {
		return Sealed{}, fmt.Errorf("keys: generate data key: %w", err)
	}
	data, err := newAEAD(dk)
	if err != nil {
		return Sealed{}, err
	}
	nonce := make([]byte, data.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("keys: generate nonce: %w", err)
	}
	wrapNonce := make([]byte, master.NonceSize(), master.NonceSize()+KeySize+master.Overhead())
	if _, err := rand.Read(wrapNonce); err != nil {
		return Sealed{}, fmt.Errorf("keys: generate nonce: %w", err)
	}
	return Sealed{
		KeyID:          k.current,
		WrappedDataKey: master.Seal(wrapNonce, wrapNonce, dk, wrapAAD(k.current)),
		Nonce:          nonce,
		Ciphertext:     data.Seal(nil, nonce, plaintext, associatedData),
	}, nil
}

// Open decrypts s, which must have been sealed with the same associatedData.
func (k *Keyring) Open(s Sealed, associatedData []byte) ([]byte, error) {
	master, ok := k.keys[s.KeyID]
	if !ok {
		return nil, ErrUnknownKey
	}
	ns := master.NonceSize()
	if len(s.WrappedDataKey) < ns {
		return nil, ErrDecrypt
	}
	dk, err := master.Open(nil, s.WrappedDataKey[:ns], s.WrappedDataKey[ns:], wrapAAD(s.KeyID))
	if err != nil {
		return nil, ErrDecrypt
	}
	defer clear(dk)
	if len(dk) != KeySize {
		return nil, ErrDecrypt
	}
	data, err := newAEAD(dk)
	if err != nil {
		return nil, err
	}
	if len(s.Nonce) != data.NonceSize() {
		return nil, ErrDecrypt
	}
	pt, err := data.Open(nil, s.Nonce, s.Ciphertext, associatedData)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// SealString seals plaintext and returns the compact serialised form.
func (k *Keyring) SealString(plaintext, associatedData []byte) (string, error) {
	s, err := k.Seal(plaintext, associatedData)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

// OpenString opens the compact serialised form.
func (k *Keyring) OpenString(sealed string, associatedData []byte) ([]byte, error) {
	s, err := ParseSealed(sealed)
	if err != nil {
		return nil, err
	}
	return k.Open(s, associatedData)
}

var b64 = base64.RawURLEncoding

// String is the compact form stored in a database column:
// v1.<key id>.<wrapped data key>.<nonce>.<ciphertext>, base64url without
// padding. It holds no plaintext, so printing it leaks nothing.
func (s Sealed) String() string {
	return strings.Join([]string{sealedVersion, s.KeyID, b64.EncodeToString(s.WrappedDataKey),
		b64.EncodeToString(s.Nonce), b64.EncodeToString(s.Ciphertext)}, ".")
}

// ParseSealed parses the compact form written by Sealed.String.
func ParseSealed(v string) (Sealed, error) {
	parts := strings.Split(v, ".")
	if len(parts) != 5 || parts[0] != sealedVersion || parts[1] == "" {
		return Sealed{}, ErrMalformed
	}
	var s Sealed
	s.KeyID = parts[1]
	var err error
	if s.WrappedDataKey, err = b64.DecodeString(parts[2]); err != nil {
		return Sealed{}, ErrMalformed
	}
	if s.Nonce, err = b64.DecodeString(parts[3]); err != nil {
		return Sealed{}, ErrMalformed
	}
	if s.Ciphertext, err = b64.DecodeString(parts[4]); err != nil {
		return Sealed{}, ErrMalformed
	}
	return s, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return aead, nil
}

// keyID fingerprints a master key with a domain-separated hash.
func keyID(master []byte) string {
	h := sha256.New()
	h.Write([]byte("pamd master key id v1\x00"))
	h.Write(master)
	return "mk" + hex.EncodeToString(h.Sum(nil)[:6])
}

func wrapAAD(keyID string) []byte { return []byte("pamd data key v1\x00" + keyID) }
