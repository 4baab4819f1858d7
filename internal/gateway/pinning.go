package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

// hostKeyRefusal is a target host key the gateway will not log in to. The
// upstream HostKeyCallback returns it during key exchange, before any
// authentication: the vaulted secret is never sent to that target.
type hostKeyRefusal struct {
	reason    string   // session end reason, also the audit reason
	msg       string   // shown to the user
	expected  []string // fingerprints pinned on the account
	presented string   // fingerprint the target presented
}

func (r *hostKeyRefusal) Error() string { return r.msg }

// auditChanges are the facts an investigation needs: which keys were
// expected and which one was presented (public keys only, never a secret).
func (r *hostKeyRefusal) auditChanges() []api.AuditChange {
	return []api.AuditChange{
		{Op: "add", Path: "/expected_fingerprints", Value: r.expected},
		{Op: "add", Path: "/presented_fingerprint", Value: r.presented},
	}
}

// pinnedKeys parses the account's host_keys (validated when they were
// written). A key that no longer parses is skipped, so it matches nothing:
// the account stays pinned and the gateway fails closed.
func pinnedKeys(a api.VaultAccount) []ssh.PublicKey {
	out := make([]ssh.PublicKey, 0, len(a.HostKeys))
	for _, k := range a.HostKeys {
		if pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err == nil {
			out = append(out, pk)
		}
	}
	return out
}

// hostKeyAlgorithms asks the target for the algorithms of the pinned keys
// only. Without it a target with several host keys may present another
// one first (Go prefers ECDSA to Ed25519) and be refused although one of its
// keys is pinned. nil (no pins) keeps the library's defaults.
func hostKeyAlgorithms(pins []ssh.PublicKey) []string {
	var out []string
	for _, pk := range pins {
		algos := []string{pk.Type()}
		if pk.Type() == ssh.KeyAlgoRSA { // one RSA key, three signature algorithms
			algos = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range algos {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// checkHostKey decides whether the gateway may log in to a target that
// presented key. With host_keys, the key must be one of them (exact bytes).
// Without, the gateway refuses when RequireHostKeys is set, and otherwise
// logs in with a warning: the target is not authenticated.
func (l *liveSession) checkHostKey(pins []ssh.PublicKey, key ssh.PublicKey) error {
	a := l.grant.Account
	presented := ssh.FingerprintSHA256(key)
	if len(a.HostKeys) == 0 {
		if l.g.cfg.RequireHostKeys {
			return &hostKeyRefusal{reason: api.SessionEndHostKeyUnpinned, expected: []string{}, presented: presented,
				msg: fmt.Sprintf("pamd: refused to log in to %s (%s): the account has no pinned host_keys and this gateway requires them. "+
					"The target presented %s; an administrator must verify that key on the target and add it to the account's host_keys "+
					"(the account status shows it as last_host_key)", a.Name, hostPort(a), presented)}
		}
		l.g.cfg.Logger.Warn("ssh gateway: target host key not pinned, the target is not authenticated; set host_keys on the account",
			"session", l.id, "account", a.ID, "fingerprint", presented)
		return nil
	}
	expected := make([]string, 0, len(pins))
	for _, pk := range pins {
		if bytes.Equal(pk.Marshal(), key.Marshal()) {
			return nil
		}
		expected = append(expected, ssh.FingerprintSHA256(pk))
	}
	return &hostKeyRefusal{reason: api.SessionEndHostKeyMismatch, expected: expected, presented: presented,
		msg: fmt.Sprintf("pamd: refused to log in to %s (%s): it presented the SSH host key %s, which is not one of the account's "+
			"pinned host_keys (%s). The target may be impersonated, or its host key changed: an administrator must verify the key "+
			"on the target before changing host_keys", a.Name, hostPort(a), presented, strings.Join(expected, ", "))}
}

// recordHostKey keeps the key the target presented in the account status
// (last_host_key), for an operator to verify and pin. A mismatching key is
// not recorded: it may be an attacker's, and the audit event holds it. The
// store is written only when the key changed, not once per session.
func (l *liveSession) recordHostKey(ctx context.Context, key ssh.PublicKey, err error) {
	if key == nil || isMismatch(err) {
		return
	}
	norm, fp := vault.NormalizedHostKey(key), ssh.FingerprintSHA256(key)
	if l.grant.Account.Status.LastHostKey == norm {
		return
	}
	uerr := l.g.cfg.Store.Update(ctx, func(tx store.Tx) error {
		a, err := tx.GetVaultAccount(l.grant.Account.ID)
		if err != nil || a.Status.LastHostKey == norm {
			return err
		}
		st := a.Status
		st.LastHostKey, st.LastHostKeyFingerprint = norm, fp
		return tx.SetVaultAccountStatus(a.ID, st)
	})
	if uerr != nil {
		l.g.cfg.Logger.Warn("ssh gateway: cannot record the target host key", "session", l.id, "account", l.grant.Account.ID, "error", uerr.Error())
	}
}

func isMismatch(err error) bool {
	r, ok := asHostKeyRefusal(err)
	return ok && r.reason == api.SessionEndHostKeyMismatch
}

func asHostKeyRefusal(err error) (*hostKeyRefusal, bool) {
	var r *hostKeyRefusal
	ok := errors.As(err, &r)
	return r, ok
}
