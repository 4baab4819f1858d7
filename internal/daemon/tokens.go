package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// TokenRequest describes a token to issue.
type TokenRequest struct {
	Subject     string
	Groups      []string
	ServerRoles []string
	// TTL of zero means the token does not expire.
	TTL time.Duration
	// Token, if set, is installed instead of a generated one (bootstrap from
	// PAMD_BOOTSTRAP_TOKEN); it must be auth.Plausible.
	Token string
	// IssuedBy is recorded as the audit actor.
	IssuedBy api.AuditActor
	// MFAAt, when set, is the time the holder completed MFA (a step-up login).
	MFAAt *time.Time
}

// CreateToken stores the hash of a new token and audits it in the same
// transaction; the token itself is returned once and never stored.
func CreateToken(ctx context.Context, st store.Store, clk clock.Clock, req TokenRequest) (string, auth.Token, error) {
	if err := auth.ValidateSubject(req.Subject); err != nil {
		return "", auth.Token{}, err
	}
	if err := auth.ValidateServerRoles(req.ServerRoles); err != nil {
		return "", auth.Token{}, err
	}
	if req.TTL < 0 {
		return "", auth.Token{}, errors.New("token ttl must not be negative")
	}
	secret := req.Token
	if secret == "" {
		var err error
		if secret, err = auth.NewToken(); err != nil {
			return "", auth.Token{}, err
		}
	} else if !auth.Plausible(secret) {
		return "", auth.Token{}, fmt.Errorf("token must be %d-512 printable characters without spaces", auth.MinTokenLength)
	}
	now := clk.Now().UTC()
	rec := auth.Token{
		ID: ids.New(api.PrefixToken, now), Hash: auth.HashToken(secret), Subject: req.Subject,
		Groups: nonNil(req.Groups), ServerRoles: nonNil(req.ServerRoles), CreatedAt: now, MFAAt: req.MFAAt,
	}
	if req.TTL > 0 {
		exp := now.Add(req.TTL)
		rec.ExpiresAt = &exp
	}
	// What the audit log keeps about a token: never the token or its hash.
	type tokenFacts struct {
		Subject     string     `json:"subject"`
		Groups      []string   `json:"groups"`
		ServerRoles []string   `json:"server_roles"`
		ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	}
	ev, err := audit.NewMutation(audit.Mutation{
		Now: now, Actor: req.IssuedBy, Action: "token.created", TargetType: "token", TargetID: rec.ID,
		After: tokenFacts{rec.Subject, rec.Groups, rec.ServerRoles, rec.ExpiresAt}, VersionAfter: 1,
	})
	if err != nil {
		return "", auth.Token{}, err
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertToken(rec); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errors.New("that token is already installed")
			}
			return err
		}
		return tx.AppendAudit(ev)
	})
	if err != nil {
		return "", auth.Token{}, err
	}
	return secret, rec, nil
}

// RevokeToken deletes a token record and those of the step-up tokens minted
// from it, so they are refused (401) from the next request on, and records
// token.revoked for each in the audit chain (catalog.RevokeTokenTx, shared
// with DELETE /v1/tokens/{id}). It returns the ids revoked.
func RevokeToken(ctx context.Context, st store.Store, clk clock.Clock, id string, by api.AuditActor) ([]string, error) {
	var revoked []string
	err := st.Update(ctx, func(tx store.Tx) error {
		tok, err := tx.TokenByID(id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no token with id %q (see pamd token list)", id)
		} else if err != nil {
			return err
		}
		revoked, err = catalog.RevokeTokenTx(tx, clk.Now(), tok, by, api.AuditRequest{})
		return err
	})
	return revoked, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const pageTokenKeySetting = "page_token_key"

// pageTokenKey loads the page-token signing key, creating it on first start.
func pageTokenKey(ctx context.Context, st store.Store) ([]byte, error) {
	var key string
	err := st.Update(ctx, func(tx store.Tx) error {
		v, err := tx.GetSetting(pageTokenKeySetting)
		if err == nil {
			key = v
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generate page token key: %w", err)
		}
		key = hex.EncodeToString(b)
		return tx.PutSetting(pageTokenKeySetting, key)
	})
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(key)
}

// VerifyAudit walks the default chain and checks every link.
func VerifyAudit(ctx context.Context, st store.Store) (audit.Result, error) {
	var res audit.Result
	err := st.View(ctx, func(tx store.Tx) error {
		v := audit.NewVerifier()
		if err := tx.WalkAudit(audit.DefaultChain, func(r audit.Record) error { v.Next(r); return nil }); err != nil {
			return err
		}
		head, err := tx.AuditHead(audit.DefaultChain)
		if err != nil {
			return err
		}
		res = v.Finish(&head)
		return nil
	})
	return res, err
}
