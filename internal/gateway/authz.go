package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
	"github.com/accessplane/terraform-provider-pam/internal/session"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

// Grant is what a successful authentication decided: who connects, to which
// account, under which policy.
type Grant struct {
	Principal  auth.Principal
	Account    api.VaultAccount
	Safe       api.Safe
	Policy     Policy
	CheckoutID string
	// ElevationID is the active elevation that authorises the session when
	// the policy requires one.
	ElevationID string
	// Justification is the reason the user gave (require_justification).
	Justification string
	ClientIP      string
}

// denial is an authentication refusal with the message the user sees.
type denial struct {
	reason string // machine reason, audited
	msg    string // shown on the user's terminal
}

func (d *denial) Error() string { return d.msg }

func deny(reason, format string, args ...any) error {
	return &denial{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// ParseUser splits the SSH user "alice+ACCOUNT" into the user and the account
// reference (a vault account id, or "safe/name").
func ParseUser(user string) (name, account string, ok bool) {
	name, account, ok = strings.Cut(user, "+")
	if !ok || account == "" {
		return "", "", false
	}
	return name, account, true
}

// authorize checks the token, resolves the account and checks the principal
// may connect to it. Every refusal is a *denial.
func (g *Gateway) authorize(ctx context.Context, user, token, clientIP string) (*Grant, error) {
	if !auth.Plausible(token) {
		if _, _, ok := ParseUser(user); ok {
			return nil, deny("bad_token", "pamd: the password must be your pamd token")
		}
	}
	return g.authorizeWith(ctx, user, clientIP, func(tx store.Tx, _ string) (auth.Token, error) {
		rec, err := tx.TokenByHash(auth.HashToken(token))
		if errors.Is(err, store.ErrNotFound) {
			return rec, deny("bad_token", "pamd: the token is not valid")
		}
		return rec, err
	})
}

// authorizeKey authenticates a registered public key: the key's owner must
// be the user named, and the token that registered it must still be valid;
// the session runs with that token's principal.
func (g *Gateway) authorizeKey(ctx context.Context, user, clientIP string, key ssh.PublicKey) (*Grant, error) {
	fp := ssh.FingerprintSHA256(key)
	return g.authorizeWith(ctx, user, clientIP, func(tx store.Tx, name string) (auth.Token, error) {
		k, err := tx.SSHKeyByFingerprint(fp)
		if errors.Is(err, store.ErrNotFound) {
			return auth.Token{}, deny("unknown_key", "pamd: the key %s is not registered: register it with `pamd ssh-keys add FILE.pub`, or log in with your pamd token", fp)
		} else if err != nil {
			return auth.Token{}, err
		}
		if name != "" && name != k.Subject && "user:"+name != k.Subject {
			return auth.Token{}, deny("user_mismatch", "pamd: the key %s belongs to %s, not %s", fp, k.Subject, name)
		}
		rec, err := tx.TokenByID(k.TokenID)
		if errors.Is(err, store.ErrNotFound) {
			return rec, deny("bad_token", "pamd: the token that registered key %s (%s) is no longer valid: log in again and register the key anew", fp, k.ID)
		} else if err != nil {
			return rec, err
		}
		if rec.Subject != k.Subject {
			return auth.Token{}, deny("bad_token", "pamd: the key %s is not bound to a token of %s", fp, k.Subject)
		}
		if rec.Expired(g.cfg.Clock.Now()) {
			return rec, deny("bad_token", "pamd: the token that registered key %s (%s) has expired: log in again and register the key anew", fp, k.ID)
		}
		return rec, nil
	})
}

// authorizeWith resolves the token record with lookup (inside the read
// transaction), then checks the principal may connect to the account.
func (g *Gateway) authorizeWith(ctx context.Context, user, clientIP string, lookup func(tx store.Tx, name string) (auth.Token, error)) (*Grant, error) {
	name, ref, ok := ParseUser(user)
	if !ok {
		return nil, deny("malformed_user", "pamd: log in as USER+ACCOUNT (ACCOUNT is a vault account id or SAFE/NAME), e.g. ssh alice+acct_01...@gateway")
	}
	now := g.cfg.Clock.Now()
	var grant Grant
	err := g.cfg.Store.View(ctx, func(tx store.Tx) error {
		rec, err := lookup(tx, name)
		if err != nil {
			return err
		}
		if rec.Expired(now) {
			return deny("bad_token", "pamd: the token has expired")
		}
		grant.Principal = auth.Principal{Subject: rec.Subject, Groups: rec.Groups, ServerRoles: rec.ServerRoles, TokenID: rec.ID, MFAAt: rec.MFAAt}
		actor := grant.Principal.Actor()
		if name != "" && name != actor.ID && name != rec.Subject {
			return deny("user_mismatch", "pamd: the token belongs to %s, not %s", rec.Subject, name)
		}
		a, err := resolveAccount(tx, ref)
		if err != nil {
			return err
		}
		s, err := tx.GetSafe(a.SafeID)
		if err != nil {
			return err
		}
		grant.Account, grant.Safe = a, s
		id := vault.Identity{Actor: actor, Groups: rec.Groups, Admin: grant.Principal.HasAnyRole(api.ServerRoleAdmin, api.ServerRoleSecurity)}
		if !vault.HasPermission(s, id, api.SafePermissionCheckout) {
			return deny("forbidden", "pamd: %s may not connect to %s: it needs the checkout permission on safe %s", rec.Subject, a.ID, s.Name)
		}
		if a.Platform != api.PlatformUnixSSH {
			return deny("wrong_platform", "pamd: account %s is a %s account, not unix_ssh", a.ID, a.Platform)
		}
		if a.SecretVersion == 0 {
			return deny("no_secret", "pamd: account %s has no secret yet", a.ID)
		}
		cs, err := tx.ActiveCheckouts(a.ID)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.Holder == actor && !vault.Ended(c, now) {
				grant.CheckoutID = c.ID
				break
			}
		}
		pid := session.ResolvePolicyID(a, s)
		if pid == "" {
			grant.Policy = DefaultPolicy()
			return nil
		}
		pol, err := tx.GetSessionPolicy(pid)
		if errors.Is(err, store.ErrNotFound) {
			return deny("unknown_policy", "pamd: session policy %s of account %s does not exist; ask an administrator", pid, a.ID)
		} else if err != nil {
			return err
		}
		if len(pol.Protocols) > 0 && !contains(pol.Protocols, api.SessionProtocolSSH) {
			return deny("protocol_not_allowed", "pamd: session policy %s does not allow ssh", pol.Name)
		}
		if grant.Policy, err = CompilePolicy(pol.ID, pol.Version, pol.SessionPolicyInput); err != nil {
			return err
		}
		if pol.RequireMFA {
			maxAge := time.Duration(pol.MFAMaxAgeSeconds) * time.Second
			if maxAge <= 0 {
				maxAge = api.DefaultSessionMFAMaxAgeSeconds * time.Second
			}
			if rec.MFAAt == nil || now.Sub(*rec.MFAAt) > maxAge {
				return deny("mfa_required", "pamd: policy %s requires MFA within the last %s: use the token of `pamd login --mfa`", pol.Name, maxAge)
			}
		}
		if req := pol.RequireElevation; req != nil {
			e, err := activeElevation(tx, actor, *req, now)
			if err != nil {
				return err
			}
			if e == nil {
				return deny("elevation_required", "pamd: policy %s requires an active elevation of role %s%s: request one with `pamd elevate --role %s --scope %s`, then connect again",
					pol.Name, req.RoleID, scopeText(req.Scope), req.RoleID, scopeArg(req.Scope))
			}
			grant.ElevationID = e.ID
		}
		return nil
	})
	if err != nil {
		if grant.Principal.Subject != "" {
			return &grant, err // who was refused, for the audit
		}
		return nil, err
	}
	grant.ClientIP = clientIP
	return &grant, nil
}

// activeElevation is an elevation of the principal that is active at now and
// satisfies req (role, and scope at or above req.Scope); nil when none.
func activeElevation(tx store.Tx, actor api.Actor, req api.SessionElevationRequirement, now time.Time) (*api.Elevation, error) {
	after := ""
	for {
		page, err := tx.ListElevations(store.ElevationFilter{States: []string{api.StateActive}, PrincipalType: actor.Type,
			PrincipalID: actor.ID, RoleID: req.RoleID, AfterID: after, Limit: api.MaxPageSize})
		if err != nil {
			return nil, err
		}
		for i := range page {
			e := page[i]
			if pim.StateAt(e, now) != api.StateActive {
				continue
			}
			if req.Scope == "" || api.ScopeContains(e.Scope, req.Scope) {
				return &e, nil
			}
		}
		if len(page) < api.MaxPageSize {
			return nil, nil
		}
		after = page[len(page)-1].ID
	}
}

func scopeText(scope string) string {
	if scope == "" {
		return " (any scope)"
	}
	return " at scope " + scope + " (or a scope containing it)"
}

func scopeArg(scope string) string {
	if scope == "" {
		return "SCOPE"
	}
	return scope
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func resolveAccount(tx store.Tx, ref string) (api.VaultAccount, error) {
	unknown := deny("unknown_account", "pamd: unknown account %q", ref)
	if strings.HasPrefix(ref, api.PrefixVaultAccount+"_") {
		a, err := tx.GetVaultAccount(ref)
		if errors.Is(err, store.ErrNotFound) {
			return a, unknown
		}
		return a, err
	}
	safeName, name, ok := strings.Cut(ref, "/")
	if !ok {
		return api.VaultAccount{}, unknown
	}
	sid, err := tx.GetSafeIDByName(safeName)
	if errors.Is(err, store.ErrNotFound) {
		return api.VaultAccount{}, unknown
	} else if err != nil {
		return api.VaultAccount{}, err
	}
	ids, err := tx.GetVaultAccountIDsByName(sid, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(ids) == 0) {
		return api.VaultAccount{}, unknown
	} else if err != nil {
		return api.VaultAccount{}, err
	}
	return tx.GetVaultAccount(ids[0])
}

// ---------------------------------------------------------------- audit

func actorOf(p auth.Principal) api.AuditActor {
	a := p.Actor()
	return api.AuditActor{Type: a.Type, ID: a.ID, TokenID: p.TokenID}
}

func sshRequest(sessionID string) api.AuditRequest {
	return api.AuditRequest{RequestID: sessionID, Method: "SSH", Path: "ssh"}
}

// auditEvent appends one event (its own transaction); failures are logged:
// the SSH connection has no caller to hand them to.
func (g *Gateway) auditEvent(ctx context.Context, ev *api.AuditEvent) {
	if err := g.cfg.Store.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(ev) }); err != nil {
		g.cfg.Logger.Error("gateway audit failed", "action", ev.Action, "error", err.Error())
	}
}

// auditDenied records a refused session with its reason and any further
// facts of the refusal.
func (g *Gateway) auditDenied(ctx context.Context, action string, actor api.AuditActor, sessionID, targetType, targetID, reason, msg string,
	facts ...api.AuditChange) {
	ev := audit.NewDenied(g.cfg.Clock.Now(), actor, sshRequest(sessionID), action, targetType, targetID)
	ev.Changes = append([]api.AuditChange{{Op: "add", Path: "/reason", Value: reason}, {Op: "add", Path: "/message", Value: msg}}, facts...)
	g.auditEvent(ctx, ev)
}

// auditFact records a successful session event with facts as its changes.
func (g *Gateway) auditFact(ctx context.Context, action string, actor api.AuditActor, sessionID string, facts any) {
	ev, err := audit.NewMutation(audit.Mutation{Now: g.cfg.Clock.Now(), Actor: actor, Request: sshRequest(sessionID),
		Action: action, TargetType: "session", TargetID: sessionID, After: facts})
	if err != nil {
		g.cfg.Logger.Error("gateway audit failed", "action", action, "error", err.Error())
		return
	}
	ev.ResourceVersion = nil
	g.auditEvent(ctx, ev)
}

// timeNow is the injected clock's time truncated to seconds (stored objects).
func (g *Gateway) timeNow() time.Time { return g.cfg.Clock.Now().UTC().Truncate(time.Second) }
