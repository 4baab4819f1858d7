package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

const sshKeyKind = "ssh_key"

// sshKeyReaders see every registered key; others see their own.
var sshKeyReaders = []string{api.ServerRoleAdmin, api.ServerRoleSecurity}

// ParseSSHPublicKey parses one authorized_keys line; violations point at
// /public_key. It refuses private keys outright.
func ParseSSHPublicKey(text string) (ssh.PublicKey, string, []api.Violation) {
	bad := func(format string, args ...any) []api.Violation {
		return []api.Violation{{Pointer: "/public_key", Code: "invalid", Message: fmt.Sprintf(format, args...)}}
	}
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return nil, "", []api.Violation{{Pointer: "/public_key", Code: "required", Message: "is required"}}
	case len(text) > api.MaxSSHPublicKeyLength:
		return nil, "", bad("must be at most %d bytes", api.MaxSSHPublicKeyLength)
	case strings.Contains(text, "PRIVATE KEY"):
		return nil, "", bad("this is a PRIVATE key: never send it anywhere; register the public key (the .pub file) instead")
	}
	pk, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		return nil, "", bad("is not a public key in authorized_keys format (e.g. \"ssh-ed25519 AAAA... comment\"): %s", err.Error())
	}
	if len(options) > 0 {
		return nil, "", bad("must not carry authorized_keys options (%s)", strings.Join(options, ","))
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, "", bad("must hold exactly one key")
	}
	return pk, comment, nil
}

// RegisterSSHKey registers a public key for the caller's token.
func (s *Service) RegisterSSHKey(ctx context.Context, c Caller, in api.SSHKeyInput) (api.SSHKey, error) {
	pk, comment, vs := ParseSSHPublicKey(in.PublicKey)
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = comment
	}
	if name == "" && pk != nil {
		name = pk.Type()
	}
	if utf8.RuneCountInString(name) > api.MaxSSHKeyNameLength {
		vs = append(vs, api.Violation{Pointer: "/name", Code: "max_length", Message: fmt.Sprintf("must be at most %d characters", api.MaxSSHKeyNameLength)})
	}
	if len(vs) > 0 {
		return api.SSHKey{}, validationOf(vs)
	}
	if c.Principal.TokenID == "" {
		return api.SSHKey{}, api.NewProblem(http.StatusForbidden, api.CodeForbidden,
			"registering an ssh key needs a pamd token (the key acts with that token's principal); log in with pamd login")
	}
	now := s.now()
	k := api.SSHKey{ID: ids.New(api.PrefixSSHKey, now), Name: name, Subject: c.Principal.Subject, TokenID: c.Principal.TokenID,
		Fingerprint: ssh.FingerprintSHA256(pk), PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))), CreatedAt: now}
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		if cur, err := tx.SSHKeyByFingerprint(k.Fingerprint); err == nil {
			p := api.NewProblem(http.StatusConflict, api.CodeAlreadyExists, fmt.Sprintf("the key %s is already registered", k.Fingerprint))
			if cur.Subject == k.Subject {
				p.ExistingID = cur.ID
				p.Detail += " (" + cur.ID + ")"
			}
			return p
		} else if !isNotFound(err) {
			return err
		}
		if err := tx.InsertSSHKey(k); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return api.NewProblem(http.StatusConflict, api.CodeAlreadyExists, fmt.Sprintf("the key %s is already registered", k.Fingerprint))
			}
			return err
		}
		return s.recordAny(tx, &c, "ssh_key.registered", sshKeyKind, k.ID, nil, k, 0, 0)
	})
	if err != nil {
		return api.SSHKey{}, err
	}
	return k, nil
}

// ListSSHKeys returns a page of the caller's keys (every key for admin and
// security).
func (s *Service) ListSSHKeys(ctx context.Context, c Caller, after string, limit int) ([]api.SSHKey, error) {
	f := store.SSHKeyFilter{Subject: c.Principal.Subject, AfterID: after, Limit: limit}
	if c.Principal.HasAnyRole(sshKeyReaders...) {
		f.Subject = ""
	}
	var out []api.SSHKey
	err := s.Store.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.ListSSHKeys(f)
		return err
	})
	return out, err
}

// DeleteSSHKey removes a key: its owner, admin or security (404 for others).
func (s *Service) DeleteSSHKey(ctx context.Context, c Caller, id string) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		k, err := tx.GetSSHKey(id)
		if isNotFound(err) || (err == nil && k.Subject != c.Principal.Subject && !c.Principal.HasAnyRole(sshKeyReaders...)) {
			return notFound("ssh key", id)
		} else if err != nil {
			return err
		}
		if err := tx.DeleteSSHKey(id); err != nil {
			return err
		}
		return s.recordAny(tx, &c, "ssh_key.deleted", sshKeyKind, id, k, nil, 0, 0)
	})
}
