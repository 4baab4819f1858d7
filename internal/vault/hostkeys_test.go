package vault_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/testkeys"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

func sshAccount(keys ...string) api.VaultAccountInput {
	in := account(api.PlatformUnixSSH, api.SecretTypePassword)
	in.HostKeys = keys
	return in
}

func TestNormalizeAccountHostKeysStoredWithoutComments(t *testing.T) {
	k1, k2 := testkeys.SSHPublicKeyLine(t, ""), testkeys.SSHPublicKeyLine(t, "")
	got, vs := vault.NormalizeAccount(sshAccount("  "+k1+" root@web-1  ", k2))
	wantViolations(t, vs)
	if !slices.Equal(got.HostKeys, []string{k1, k2}) {
		t.Fatalf("host keys = %q, want %q (normalised, order kept)", got.HostKeys, []string{k1, k2})
	}
	if strings.Contains(strings.Join(got.HostKeys, "\n"), "root@web-1") {
		t.Fatal("the comment was stored")
	}
	none, vs := vault.NormalizeAccount(sshAccount())
	wantViolations(t, vs)
	if none.HostKeys == nil || len(none.HostKeys) != 0 {
		t.Fatalf("no host keys = %#v, want an empty list", none.HostKeys)
	}
}

func TestNormalizeAccountHostKeysRefused(t *testing.T) {
	k := testkeys.SSHPublicKeyLine(t, "")
	tooMany := make([]string, api.MaxHostKeys+1)
	for i := range tooMany {
		tooMany[i] = testkeys.SSHPublicKeyLine(t, "")
	}
	cases := []struct {
		name string
		in   api.VaultAccountInput
		want []string
	}{
		{"garbage", sshAccount(k, "not a key"), []string{"/host_keys/1=" + vault.CodePattern}},
		{"empty", sshAccount(""), []string{"/host_keys/0=" + vault.CodePattern}},
		{"truncated base64", sshAccount(k[:len(k)-6]), []string{"/host_keys/0=" + vault.CodePattern}},
		{"private key", sshAccount("-----BEGIN OPENSSH PRIVATE KEY-----"), []string{"/host_keys/0=" + vault.CodePattern}},
		{"known_hosts line with a host pattern", sshAccount("web-1.example.com " + k), []string{"/host_keys/0=" + vault.CodePattern}},
		{"two lines", sshAccount(k + "\n" + testkeys.SSHPublicKeyLine(t, "")), []string{"/host_keys/0=" + vault.CodePattern}},
		{"duplicate up to the comment", sshAccount(k+" a", k+" b"), []string{"/host_keys/1=" + vault.CodeDuplicate}},
		{"too many", sshAccount(tooMany...), []string{"/host_keys=" + vault.CodeTooMany}},
		{"not an ssh platform", func() api.VaultAccountInput {
			in := account(api.PlatformPostgreSQL, api.SecretTypePassword)
			in.HostKeys = []string{k}
			return in
		}(), []string{"/host_keys=" + vault.CodeMismatch}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, vs := vault.NormalizeAccount(tc.in)
			wantViolations(t, vs, tc.want...)
		})
	}
}

func TestParseHostKeyMessageSaysWhatToSend(t *testing.T) {
	_, _, err := vault.ParseHostKey("ssh-ed25519 !!!")
	if err == nil || !strings.Contains(err.Error(), "ssh-ed25519 AAAA") {
		t.Fatalf("error %v does not show the expected form", err)
	}
}
