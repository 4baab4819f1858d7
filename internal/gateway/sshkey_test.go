package gateway_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokenCaller stores a token for subject and returns a caller holding it.
func (e *env) tokenCaller(subject string, expires *time.Time) catalog.Caller {
	now := e.clk.Now()
	rec := auth.Token{ID: ids.New(api.PrefixToken, now), Hash: auth.HashToken(ids.New("x", now)), Subject: subject, Groups: []string{},
		ServerRoles: []string{}, CreatedAt: now, ExpiresAt: expires}
	if err := e.st.Update(e.ctx, func(tx store.Tx) error { return tx.InsertToken(rec) }); err != nil {
		e.t.Fatal(err)
	}
	return catalog.Caller{Principal: auth.Principal{Subject: subject, Groups: []string{}, ServerRoles: []string{}, TokenID: rec.ID}}
}

func (e *env) register(c catalog.Caller, s ssh.Signer) api.SSHKey {
	e.t.Helper()
	svc := &catalog.Service{Store: e.st, Clock: e.clk}
	k, err := svc.RegisterSSHKey(e.ctx, c, api.SSHKeyInput{PublicKey: string(ssh.MarshalAuthorizedKey(s.PublicKey()))})
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

func (e *env) dialKey(user string, s ssh.Signer, seen *received) (*ssh.Client, error) {
	cc := &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(s)}, HostKeyCallback: ssh.FixedHostKey(e.hostPK),
		BannerCallback: func(m string) error { _, _ = seen.Write([]byte(m)); return nil }, Timeout: 3 * time.Second,
	}
	return ssh.Dial("tcp", e.gw.Addr(), cc)
}

func (e *env) refusedKey(t *testing.T, user string, s ssh.Signer, want string) {
	t.Helper()
	seen := &received{}
	if c, err := e.dialKey(user, s, seen); err == nil {
		_ = c.Close()
		t.Fatalf("%s: the key was accepted", want)
	}
	if !strings.Contains(seen.String(), want) {
		t.Fatalf("banner %q lacks %q", seen.String(), want)
	}
}

func TestRegisteredPublicKey(t *testing.T) {
	e := newEnv(t, opts{})
	exp := e.clk.Now().Add(time.Hour)
	aliceKey, bobKey, stranger := newSigner(t), newSigner(t), newSigner(t)
	k := e.register(e.tokenCaller("user:alice", &exp), aliceKey)
	e.register(e.tokenCaller("user:bob", nil), bobKey)

	c, err := e.dialKey(e.user(), aliceKey, &received{})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, c, "echo by-key", &received{})
	if err != nil || out != "by-key\n" {
		t.Fatalf("exec: %q %v", out, err)
	}
	id := e.waitLive(1)[0]
	_ = c.Close()
	if s := e.waitEnded(id); s.Principal != (api.Actor{Type: "user", ID: "alice"}) {
		t.Fatalf("session principal %+v", s.Principal)
	}

	e.refusedKey(t, e.user(), stranger, "is not registered")
	e.refusedKey(t, e.user(), bobKey, "belongs to user:bob, not alice")
	d := e.audits("session.denied")
	if len(d) < 2 || !strings.Contains(auditText(d[len(d)-1]), "user_mismatch") {
		t.Fatalf("denied audits %+v", d)
	}

	// The registering token expires: the key stops working.
	e.clk.Advance(2 * time.Hour)
	e.refusedKey(t, e.user(), aliceKey, "has expired")
	e.clk.Advance(-2 * time.Hour)

	// Deleted: refused.
	svc := &catalog.Service{Store: e.st, Clock: e.clk}
	if err := svc.DeleteSSHKey(e.ctx, catalog.Caller{Principal: auth.Principal{Subject: "user:alice"}}, k.ID); err != nil {
		t.Fatal(err)
	}
	e.refusedKey(t, e.user(), aliceKey, "is not registered")
}
