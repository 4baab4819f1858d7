package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/testkeys"
)

func TestSSHKeys(t *testing.T) {
	e := start(t)
	alice, bob := e.token("user:alice"), e.token("user:bob")
	line := testkeys.SSHPublicKeyLine(t, "alice@laptop")

	r := e.do(http.MethodPost, api.PathSSHKeys, alice, api.SSHKeyInput{PublicKey: line})
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	var k api.SSHKey
	r.json(t, &k)
	if !strings.HasPrefix(k.ID, api.PrefixSSHKey+"_") || k.Subject != "user:alice" || k.TokenID == "" || k.Name != "alice@laptop" ||
		!strings.HasPrefix(k.Fingerprint, "SHA256:") || !strings.HasPrefix(line, k.PublicKey) || r.header.Get("Location") != api.PathSSHKeys+"/"+k.ID {
		t.Fatalf("key %+v", k)
	}

	// Duplicate fingerprint: 409, for the owner and for anyone else.
	p := e.do(http.MethodPost, api.PathSSHKeys, alice, api.SSHKeyInput{Name: "again", PublicKey: line}).problem(t, 409, api.CodeAlreadyExists)
	if p.ExistingID != k.ID {
		t.Fatalf("existing id %q", p.ExistingID)
	}
	if p := e.do(http.MethodPost, api.PathSSHKeys, bob, api.SSHKeyInput{PublicKey: line}).problem(t, 409, api.CodeAlreadyExists); p.ExistingID != "" {
		t.Fatalf("another subject learns the key id: %+v", p)
	}

	// Malformed keys: 400 at /public_key; a private key is named as such.
	for _, bad := range []string{"", "ssh-ed25519 not-base64!", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----",
		line + "\n" + testkeys.SSHPublicKeyLine(t, "second")} {
		p := e.do(http.MethodPost, api.PathSSHKeys, alice, api.SSHKeyInput{PublicKey: bad}).problem(t, 400, api.CodeValidationFailed)
		if got := violationPointers(p); !slices.Equal(got, []string{"/public_key"}) {
			t.Fatalf("%q: pointers %v", bad, got)
		}
		if strings.Contains(bad, "PRIVATE") && !strings.Contains(p.Violations[0].Message, "PRIVATE key") {
			t.Fatalf("private key message %q", p.Violations[0].Message)
		}
	}

	bobKey := e.do(http.MethodPost, api.PathSSHKeys, bob, api.SSHKeyInput{Name: "bob", PublicKey: testkeys.SSHPublicKeyLine(t, "")})
	if bobKey.status != http.StatusCreated {
		t.Fatalf("bob: %d %s", bobKey.status, bobKey.body)
	}
	var bk api.SSHKey
	bobKey.json(t, &bk)

	// Lists: own keys; admin sees all.
	list := func(tok string) []string {
		var page api.Page[api.SSHKey]
		e.do(http.MethodGet, api.PathSSHKeys, tok, nil).json(t, &page)
		var out []string
		for _, k := range page.Items {
			out = append(out, k.ID)
		}
		return out
	}
	if got := list(alice); !slices.Equal(got, []string{k.ID}) {
		t.Fatalf("alice sees %v", got)
	}
	if got := list(e.admin); !slices.Equal(got, []string{k.ID, bk.ID}) {
		t.Fatalf("admin sees %v", got)
	}

	// Delete: not someone else's (404), one's own (204), then 404.
	e.do(http.MethodDelete, api.PathSSHKeys+"/"+k.ID, bob, nil).problem(t, 404, api.CodeNotFound)
	if r := e.do(http.MethodDelete, api.PathSSHKeys+"/"+k.ID, alice, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	e.do(http.MethodDelete, api.PathSSHKeys+"/"+k.ID, alice, nil).problem(t, 404, api.CodeNotFound)

	var audit api.Page[api.AuditEvent]
	e.do(http.MethodGet, api.PathAuditEvents+"?target_id="+k.ID, e.admin, nil).json(t, &audit)
	var actions []string
	for _, ev := range audit.Items {
		actions = append(actions, ev.Action)
		if strings.Contains(ev.Actor.ID, "bob") {
			t.Fatalf("event by bob %+v", ev)
		}
	}
	if !slices.Equal(actions, []string{"ssh_key.registered", "ssh_key.deleted"}) {
		t.Fatalf("audit actions %v", actions)
	}
}
