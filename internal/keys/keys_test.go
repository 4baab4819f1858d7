package keys_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/keys"
)

func newRing(t *testing.T, fill byte) *keys.Keyring {
	t.Helper()
	kr, err := keys.New(bytes.Repeat([]byte{fill}, keys.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSealOpenRoundTrip(t *testing.T) {
	kr := newRing(t, 7)
	pt := []byte("JBSWY3DPEHPK3PXP")
	aad := []byte("mfa_totp:user:alice")
	s, err := kr.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID != kr.KeyID() || len(s.Nonce) != 12 || len(s.WrappedDataKey) == 0 || bytes.Contains(s.Ciphertext, pt) {
		t.Fatalf("sealed %+v", s)
	}
	got, err := kr.Open(s, aad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %q %v", got, err)
	}
	// The compact form round-trips and never contains the plaintext.
	str := s.String()
	if strings.Contains(str, string(pt)) || !strings.HasPrefix(str, "v1."+kr.KeyID()+".") {
		t.Fatalf("serialised %q", str)
	}
	got, err = kr.OpenString(str, aad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open string: %q %v", got, err)
	}
	// Fresh data key and nonce each time.
	s2, err := kr.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(s2.Ciphertext, s.Ciphertext) || bytes.Equal(s2.WrappedDataKey, s.WrappedDataKey) {
		t.Fatal("two seals of the same plaintext are identical")
	}
}

func TestOpenRefusesWrongAADTamperingAndKey(t *testing.T) {
	kr := newRing(t, 7)
	aad := []byte("mfa_totp:user:alice")
	s, err := kr.Seal([]byte("secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Open(s, []byte("mfa_totp:user:bob")); !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("wrong aad: %v", err)
	}
	tampered := s
	tampered.Ciphertext = append([]byte(nil), s.Ciphertext...)
	tampered.Ciphertext[0] ^= 1
	if _, err := kr.Open(tampered, aad); !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("tampered ciphertext: %v", err)
	}
	tw := s
	tw.WrappedDataKey = append([]byte(nil), s.WrappedDataKey...)
	tw.WrappedDataKey[len(tw.WrappedDataKey)-1] ^= 1
	if _, err := kr.Open(tw, aad); !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("tampered wrapped key: %v", err)
	}
	other := newRing(t, 8)
	if _, err := other.Open(s, aad); !errors.Is(err, keys.ErrUnknownKey) {
		t.Fatalf("other master key (by id): %v", err)
	}
	// Even when the id is forged to match, the wrong master key cannot unwrap.
	forged := s
	forged.KeyID = other.KeyID()
	if _, err := other.Open(forged, aad); !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("wrong master key: %v", err)
	}
	for _, bad := range []string{"", "v1.a.b.c", "v2." + kr.KeyID() + ".AA.AA.AA", "v1." + kr.KeyID() + ".!!.AA.AA"} {
		if _, err := kr.OpenString(bad, aad); !errors.Is(err, keys.ErrMalformed) {
			t.Errorf("malformed %q: %v", bad, err)
		}
	}
}

func TestLoadOrCreateFile(t *testing.T) {
	t.Setenv(keys.EnvMasterKey, "")
	path := filepath.Join(t.TempDir(), "sub", "pamd.db.key")
	kr, err := keys.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("generated key file mode %04o, want 0600", st.Mode().Perm())
	}
	if st.Size() != keys.KeySize {
		t.Fatalf("key file size %d", st.Size())
	}
	s, err := kr.Seal([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Loading again gives the same key (not a new one).
	kr2, err := keys.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kr2.Open(s, nil); err != nil || string(got) != "x" {
		t.Fatalf("reload: %q %v", got, err)
	}
	names, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".pamd-key-*"))
	if len(names) != 0 {
		t.Fatalf("temporary files left: %v", names)
	}
}

func TestLoadRefusesReadableOrBadFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	t.Setenv(keys.EnvMasterKey, "")
	dir := t.TempDir()
	path := filepath.Join(dir, "k")
	if err := os.WriteFile(path, bytes.Repeat([]byte{1}, keys.KeySize), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.LoadOrCreate(path); !errors.Is(err, keys.ErrInsecureKeyFile) {
			t.Fatalf("mode %04o: %v", mode, err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadOrCreate(path); err != nil {
		t.Fatalf("mode 0400: %v", err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadOrCreate(short); err == nil || !strings.Contains(err.Error(), "exactly 32 bytes") {
		t.Fatalf("short key: %v", err)
	}
	if _, err := keys.LoadOrCreate(dir); err == nil {
		t.Fatal("a directory was accepted as key file")
	}
}

func TestLoadFromEnv(t *testing.T) {
	raw := bytes.Repeat([]byte{9}, keys.KeySize)
	t.Setenv(keys.EnvMasterKey, base64.StdEncoding.EncodeToString(raw))
	path := filepath.Join(t.TempDir(), "never-created.key")
	kr, err := keys.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("env key must not create a file: %v", err)
	}
	want := newRing(t, 9)
	if kr.KeyID() != want.KeyID() {
		t.Fatal("env key differs from the raw key")
	}
	t.Setenv(keys.EnvMasterKey, base64.StdEncoding.EncodeToString(raw[:16]))
	if _, err := keys.LoadOrCreate(path); err == nil {
		t.Fatal("short env key accepted")
	}
	t.Setenv(keys.EnvMasterKey, "not base64 at all!")
	if _, err := keys.LoadOrCreate(path); err == nil || strings.Contains(err.Error(), "not base64 at all") {
		t.Fatalf("bad env key: %v", err)
	}
	g, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Parse(g); err != nil {
		t.Fatalf("generated key does not parse: %v", err)
	}
}
