package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/testkeys"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

func (e *env) account() api.VaultAccount {
	e.t.Helper()
	var a api.VaultAccount
	if err := e.st.View(e.ctx, func(tx store.Tx) (err error) { a, err = tx.GetVaultAccount(e.acct.ID); return err }); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// assertNoSecretLeak checks the log and every audit event for the target password.
func (e *env) assertNoSecretLeak(actions ...string) {
	e.t.Helper()
	if strings.Contains(e.logs.String(), targetPassword) {
		e.t.Error("the gateway log contains the target password")
	}
	for _, a := range actions {
		b, _ := json.Marshal(e.audits(a))
		if strings.Contains(string(b), targetPassword) {
			e.t.Errorf("audit %s contains the target password", a)
		}
	}
}

// auditChange returns the value of one change of ev, JSON-encoded.
func auditChange(ev api.AuditEvent, path string) string {
	for _, c := range ev.Changes {
		if c.Path == path {
			b, _ := json.Marshal(c.Value)
			return string(b)
		}
	}
	return ""
}

func TestPinnedHostKeyMatches(t *testing.T) {
	e := newEnv(t, opts{hostKeys: func(target ssh.PublicKey) []string {
		// a second pin (key rollover) and a comment, as an operator writes them
		return []string{testkeys.AuthorizedKey(testkeys.SSHPublicKey(t), "old"), testkeys.AuthorizedKey(target, "root@web-1")}
	}})
	c, seen := e.connect()
	out, _, err := run(t, c, "echo hi", seen)
	if err != nil || out != "hi\n" {
		t.Fatalf("echo hi through a pinned target: %q %v (%s)", out, err, seen)
	}
	if strings.Contains(e.logs.String(), "not pinned") {
		t.Fatal("a pinned target was logged as not pinned")
	}
	st := e.account().Status
	if st.LastHostKey != vault.NormalizedHostKey(e.target.HostKey) || st.LastHostKeyFingerprint != ssh.FingerprintSHA256(e.target.HostKey) {
		t.Fatalf("status last host key = %q %q", st.LastHostKey, st.LastHostKeyFingerprint)
	}
	e.assertNoSecretLeak("session.started")
}

func TestPinnedHostKeyMismatchRefuses(t *testing.T) {
	pinned := testkeys.SSHPublicKey(t)
	e := newEnv(t, opts{hostKeys: func(ssh.PublicKey) []string { return []string{testkeys.AuthorizedKey(pinned, "web-1")} }})
	c, seen := e.connect()
	presented, expected := ssh.FingerprintSHA256(e.target.HostKey), ssh.FingerprintSHA256(pinned)
	_, stderr, err := run(t, c, "echo hi", seen)
	if err == nil || !strings.Contains(stderr, "pamd: refused to log in to web-root") ||
		!strings.Contains(stderr, presented) || !strings.Contains(stderr, expected) {
		t.Fatalf("mismatch: %q %v", stderr, err)
	}
	if n := e.target.PasswordAttempts(); n != 0 || len(e.target.Commands()) != 0 {
		t.Fatalf("the impostor got %d password attempts and commands %v", n, e.target.Commands())
	}
	if s := e.waitEnded(e.sessions()[0].ID); s.EndReason != api.SessionEndHostKeyMismatch {
		t.Fatalf("end reason %s", s.EndReason)
	}
	evs := e.audits("session.host_key_mismatch")
	if len(evs) != 1 {
		t.Fatalf("%d host_key_mismatch audit events", len(evs))
	}
	if got := auditChange(evs[0], "/presented_fingerprint"); got != `"`+presented+`"` {
		t.Errorf("presented_fingerprint = %s, want %s", got, presented)
	}
	if got := auditChange(evs[0], "/expected_fingerprints"); got != `["`+expected+`"]` {
		t.Errorf("expected_fingerprints = %s, want [%s]", got, expected)
	}
	if st := e.account().Status; st.LastHostKey != "" {
		t.Errorf("a refused key was recorded as last_host_key: %q", st.LastHostKey)
	}
	e.assertNoSecretLeak("session.host_key_mismatch", "session.denied")
}

func TestUnpinnedHostKeyRequiredRefuses(t *testing.T) {
	e := newEnv(t, opts{requireHostKeys: true})
	c, seen := e.connect()
	presented := ssh.FingerprintSHA256(e.target.HostKey)
	_, stderr, err := run(t, c, "echo hi", seen)
	if err == nil || !strings.Contains(stderr, "the account has no pinned host_keys and this gateway requires them") ||
		!strings.Contains(stderr, presented) {
		t.Fatalf("unpinned with the requirement: %q %v", stderr, err)
	}
	if n := e.target.PasswordAttempts(); n != 0 {
		t.Fatalf("%d password attempts on an unauthenticated target", n)
	}
	if s := e.waitEnded(e.sessions()[0].ID); s.EndReason != api.SessionEndHostKeyUnpinned {
		t.Fatalf("end reason %s", s.EndReason)
	}
	evs := e.audits("session.host_key_unpinned")
	if len(evs) != 1 || auditChange(evs[0], "/presented_fingerprint") != `"`+presented+`"` {
		t.Fatalf("host_key_unpinned audit = %+v", evs)
	}
	// The observed key is offered for pinning (after verification on the target).
	if st := e.account().Status; st.LastHostKeyFingerprint != presented {
		t.Errorf("last_host_key_fingerprint = %q, want %q", st.LastHostKeyFingerprint, presented)
	}
	e.assertNoSecretLeak("session.host_key_unpinned")
}

func TestUnpinnedHostKeyWarns(t *testing.T) {
	e := newEnv(t, opts{})
	c, seen := e.connect()
	out, _, err := run(t, c, "echo hi", seen)
	if err != nil || out != "hi\n" {
		t.Fatalf("echo hi through an unpinned target: %q %v", out, err)
	}
	warned := false
	for _, line := range strings.Split(e.logs.String(), "\n") {
		warned = warned || strings.Contains(line, "level=WARN") && strings.Contains(line, "target host key not pinned") &&
			strings.Contains(line, ssh.FingerprintSHA256(e.target.HostKey))
	}
	if !warned {
		t.Fatalf("no warning for an unpinned target:\n%s", e.logs)
	}
	e.assertNoSecretLeak("session.started")
}
