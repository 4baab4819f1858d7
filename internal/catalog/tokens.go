package catalog

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Tokens through the API. Admin sees and revokes every token; any other
// caller sees the tokens of its own subject and may revoke those (a leaked
// token's owner need not wait for an admin, and a step-up token can be
// dropped when the work is done). Someone else's token is 403 (audited)
// whether or not it exists, so non-admins cannot probe for token ids.

const tokenKind = "token"

// TokenView is the public form of a stored token: never the hash.
func TokenView(t auth.Token) api.Token {
	return api.Token{ID: t.ID, Subject: t.Subject, Groups: nonNilSlice(t.Groups), ServerRoles: nonNilSlice(t.ServerRoles),
		CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt, MFAAt: t.MFAAt, ParentID: t.ParentID}
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ListTokens returns up to limit tokens the caller may see with ids after
// after, ordered by id (ids are time-ordered).
func (s *Service) ListTokens(ctx context.Context, c Caller, after string, limit int) ([]api.Token, error) {
	var all []auth.Token
	if err := s.Store.View(ctx, func(tx store.Tx) (err error) { all, err = tx.ListTokens(); return err }); err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b auth.Token) int { return strings.Compare(a.ID, b.ID) })
	admin := c.Principal.HasAnyRole(api.ServerRoleAdmin)
	out := []api.Token{}
	for _, t := range all {
		if t.ID <= after || (!admin && t.Subject != c.Principal.Subject) {
			continue
		}
		out = append(out, TokenView(t))
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// RevokeToken revokes token id for the caller (admin, or the token's own
// subject) and returns the ids revoked: the token and every step-up token
// minted from it.
func (s *Service) RevokeToken(ctx context.Context, c Caller, id string) ([]string, error) {
	admin := c.Principal.HasAnyRole(api.ServerRoleAdmin)
	var revoked []string
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		tok, err := tx.TokenByID(id)
		switch {
		case errors.Is(err, store.ErrNotFound) && admin:
			return notFound(tokenKind, id)
		case errors.Is(err, store.ErrNotFound):
			return errDenied
		case err != nil:
			return err
		case !admin && tok.Subject != c.Principal.Subject:
			return errDenied
		}
		revoked, err = RevokeTokenTx(tx, s.Clock.Now(), tok, c.auditActor(), c.Request)
		return err
	})
	if errors.Is(err, errDenied) {
		if aerr := s.auditDenied(ctx, c, "token.revoked", tokenKind, id); aerr != nil {
			return nil, aerr
		}
		return nil, api.NewProblem(http.StatusForbidden, api.CodeForbidden,
			"revoking a token requires server role admin, or being the token's own subject")
	}
	return revoked, err
}

// RevokeTokenTx deletes tok and, recursively, the step-up tokens minted from
// it, appending token.revoked for each in tx. Deleting the record is the
// revocation: authentication reads the store on every request, so the token
// is refused (401) from the next request on, with no cache to wait for.
func RevokeTokenTx(tx store.Tx, now time.Time, tok auth.Token, by api.AuditActor, req api.AuditRequest) ([]string, error) {
	all, err := tx.ListTokens()
	if err != nil {
		return nil, err
	}
	children := map[string][]auth.Token{}
	for _, t := range all {
		if t.ParentID != "" {
			children[t.ParentID] = append(children[t.ParentID], t)
		}
	}
	var revoked []string
	queue := []auth.Token{tok}
	for len(queue) > 0 {
		t := queue[0]
		queue = append(queue[1:], children[t.ID]...)
		if err := tx.DeleteToken(t.ID); err != nil {
			return nil, err
		}
		// What the audit log keeps about a revoked token: never the token or its hash.
		before := map[string]any{"subject": t.Subject, "server_roles": nonNilSlice(t.ServerRoles)}
		if t.ParentID != "" {
			before["parent_id"] = t.ParentID
		}
		ev, err := audit.NewMutation(audit.Mutation{
			Now: now, Actor: by, Request: req, Action: "token.revoked", TargetType: tokenKind, TargetID: t.ID,
			Before: before, VersionBefore: 1,
		})
		if err != nil {
			return nil, err
		}
		if err := tx.AppendAudit(ev); err != nil {
			return nil, err
		}
		revoked = append(revoked, t.ID)
	}
	return revoked, nil
}
