package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

// Kinds of vault objects, for problems and audit targets.
const (
	safeKind     = "safe"
	accountKind  = "vault_account"
	checkoutKind = "checkout"
)

// systemActor drives time-based transitions (checkout expiry).
var systemActor = api.AuditActor{Type: "system", ID: "pamd"}

// checkoutReaders may read every checkout besides holders.
var checkoutReaders = []string{api.ServerRoleAdmin, api.ServerRoleSecurity, api.ServerRoleAuditor}

// Vault orchestrates the credential vault: store transactions, the audit
// event of every change in the same transaction, envelope encryption of
// secrets, and the rules of package vault. Plaintext secrets exist only in
// memory, between the request body and Seal, and between Open and the
// response of GET /v1/checkouts/{id}/secret.
type Vault struct {
	Store   store.Store
	Clock   clock.Clock
	Keyring *keys.Keyring
	// Rotator is told about rotations due on check-in; nil means vault.NoopRotator.
	Rotator vault.Rotator
	Logger  *slog.Logger
}

func (v *Vault) now() time.Time { return v.Clock.Now().UTC().Truncate(time.Second) }

func (v *Vault) log() *slog.Logger {
	if v.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return v.Logger
}

func (v *Vault) rotator() vault.Rotator {
	if v.Rotator == nil {
		return vault.NoopRotator{}
	}
	return v.Rotator
}

func identity(c Caller) vault.Identity {
	return vault.Identity{Actor: c.Principal.Actor(), Groups: c.Principal.Groups, Admin: c.Principal.HasAnyRole(catalogWriters...)}
}

// errVaultDenied marks a refusal decided inside a transaction; the audit of
// the refusal happens after the rollback.
type errVaultDenied struct {
	action, kind, id, msg string
	code                  string
	// status is the HTTP status of the refusal; 0 means 403.
	status int
}

func (e *errVaultDenied) Error() string { return e.msg }

func deny(action, kind, id, format string, args ...any) error {
	return &errVaultDenied{action: action, kind: kind, id: id, msg: fmt.Sprintf(format, args...), code: api.CodeForbidden}
}

// finish audits a refusal (own transaction) and maps it to its problem
// (403 unless the refusal names another status).
func (v *Vault) finish(ctx context.Context, c Caller, err error) error {
	var d *errVaultDenied
	if !errors.As(err, &d) {
		return err
	}
	ev := audit.NewDenied(v.Clock.Now(), c.auditActor(), c.Request, d.action, d.kind, d.id)
	if aerr := v.Store.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(ev) }); aerr != nil {
		return aerr
	}
	status := d.status
	if status == 0 {
		status = http.StatusForbidden
	}
	return api.NewProblem(status, d.code, d.msg)
}

func (v *Vault) record(tx store.Tx, actor api.AuditActor, req api.AuditRequest, action, kind, id string, before, after any, vb, va int64) error {
	m := audit.Mutation{Now: v.Clock.Now(), Actor: actor, Request: req, Action: action, TargetType: kind, TargetID: id,
		Before: before, After: after, VersionBefore: vb, VersionAfter: va}
	ev, err := audit.NewMutation(m)
	if err != nil {
		return err
	}
	return tx.AppendAudit(ev)
}

func validationOf(vs []api.Violation) error {
	return violationsProblem(fmt.Sprintf("%d field(s) are not valid", len(vs)), vs)
}

// ---------------------------------------------------------------- safes

// CreateSafe adds a safe; admin or security.
func (v *Vault) CreateSafe(ctx context.Context, c Caller, in api.SafeInput) (api.Safe, error) {
	if !c.Principal.HasAnyRole(catalogWriters...) {
		return api.Safe{}, v.finish(ctx, c, deny("safe.created", safeKind, "", "creating a safe requires server role admin or security"))
	}
	norm, vs := vault.NormalizeSafe(in)
	if len(vs) > 0 {
		return api.Safe{}, validationOf(vs)
	}
	now, actor := v.now(), c.Principal.Actor()
	s := api.Safe{Meta: api.Meta{ID: ids.New(api.PrefixSafe, now), Version: 1, CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor}, SafeInput: norm}
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		if id, err := tx.GetSafeIDByName(s.Name); err == nil {
			return alreadyExists(safeKind, s.Name, id)
		} else if !isNotFound(err) {
			return err
		}
		if err := CheckSessionPolicyRef(tx, "/default_session_policy_id", s.DefaultSessionPolicyID); err != nil {
			return err
		}
		if err := tx.InsertSafe(s); err != nil {
			return err
		}
		return v.record(tx, c.auditActor(), c.Request, "safe.created", safeKind, s.ID, nil, s, 0, 1)
	})
	return s, err
}

// GetSafe reads a safe; any authenticated caller.
func (v *Vault) GetSafe(ctx context.Context, _ Caller, id string) (api.Safe, error) {
	var s api.Safe
	err := v.Store.View(ctx, func(tx store.Tx) (err error) { s, err = tx.GetSafe(id); return err })
	if isNotFound(err) {
		return s, notFound(safeKind, id)
	}
	return s, err
}

// ListSafes lists safes in id order.
func (v *Vault) ListSafes(ctx context.Context, _ Caller, f store.SafeFilter) ([]api.Safe, error) {
	var out []api.Safe
	err := v.Store.View(ctx, func(tx store.Tx) (err error) { out, err = tx.ListSafes(f); return err })
	return out, err
}

// ReplaceSafe overwrites a safe's writable fields; the name is immutable.
func (v *Vault) ReplaceSafe(ctx context.Context, c Caller, id string, ifMatch *int64, in api.SafeInput) (api.Safe, error) {
	var out api.Safe
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetSafe(id)
		if isNotFound(err) {
			return notFound(safeKind, id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			return deny("safe.updated", safeKind, id, "changing a safe requires server role admin or security")
		}
		norm, vs := vault.NormalizeSafe(in)
		if len(vs) > 0 {
			return validationOf(vs)
		}
		if norm.Name != cur.Name {
			return immutable("/name", "name", cur.Name)
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch(safeKind, id, cur.Version)
		}
		if err := CheckSessionPolicyRef(tx, "/default_session_policy_id", norm.DefaultSessionPolicyID); err != nil {
			return err
		}
		out = cur
		out.SafeInput = norm
		out.Version = cur.Version + 1
		out.UpdatedAt, out.UpdatedBy = v.now(), c.Principal.Actor()
		if err := tx.UpdateSafe(out, cur.Version); err != nil {
			return err
		}
		return v.record(tx, c.auditActor(), c.Request, "safe.updated", safeKind, id, cur, out, cur.Version, out.Version)
	})
	return out, v.finish(ctx, c, err)
}

// DeleteSafe removes an empty safe (409 in_use while accounts exist).
func (v *Vault) DeleteSafe(ctx context.Context, c Caller, id string, ifMatch *int64) error {
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetSafe(id)
		if isNotFound(err) {
			return notFound(safeKind, id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			return deny("safe.deleted", safeKind, id, "deleting a safe requires server role admin or security")
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch(safeKind, id, cur.Version)
		}
		if cur.AccountCount > 0 {
			return api.NewProblem(http.StatusConflict, api.CodeInUse, fmt.Sprintf("safe %q still holds %d vault account(s); delete them first", id, cur.AccountCount))
		}
		if err := tx.DeleteSafe(id); err != nil {
			return err
		}
		return v.record(tx, c.auditActor(), c.Request, "safe.deleted", safeKind, id, cur, nil, cur.Version, 0)
	})
	return v.finish(ctx, c, err)
}

func immutable(pointer, name, cur string) error {
	p := api.NewProblem(http.StatusUnprocessableEntity, api.CodeImmutableField, fmt.Sprintf("%s cannot be changed (it is %q); create a new object instead", name, cur))
	p.Violations = []api.Violation{{Pointer: pointer, Code: api.CodeImmutableField, Message: name + " is immutable"}}
	return p
}

// ---------------------------------------------------------------- accounts

// secretSetEvent is what the audit records of a secret change: never the secret.
type secretSetEvent struct {
	SecretVersion int64  `json:"secret_version"`
	Source        string `json:"source"`
	OperationID   string `json:"operation_id,omitempty"`
}

// putSecret seals plaintext as version n of the account and records it.
func (v *Vault) putSecret(tx store.Tx, actor api.AuditActor, req api.AuditRequest, accountID string, n int64, plaintext []byte, source, opID string, at time.Time, by api.Actor) error {
	if v.Keyring == nil {
		return api.NewProblem(http.StatusServiceUnavailable, api.CodeUnavailable, "the vault has no master key configured")
	}
	sealed, err := v.Keyring.SealString(plaintext, vault.SecretAAD(accountID, n))
	if err != nil {
		return err
	}
	if err := tx.InsertSecretVersion(store.SecretVersionRecord{AccountID: accountID, Version: n, Sealed: sealed, Source: source,
		OperationID: opID, CreatedAt: at, CreatedBy: by}); err != nil {
		return err
	}
	return v.record(tx, actor, req, "vault_account.secret_set", accountKind, accountID, nil,
		secretSetEvent{SecretVersion: n, Source: source, OperationID: opID}, n-1, n)
}

// withCheckoutStatus fills the checkout part of an account's status at now.
func withCheckoutStatus(tx store.Tx, a *api.VaultAccount, now time.Time) error {
	active, err := tx.ActiveCheckouts(a.ID)
	if err != nil {
		return err
	}
	a.Secret = ""
	for _, c := range active {
		if vault.Ended(c, now) {
			continue
		}
		holder, exp := c.Holder, c.ExpiresAt
		a.Status.CheckedOutBy, a.Status.CheckoutID, a.Status.CheckoutExpiresAt = &holder, c.ID, &exp
		break
	}
	return nil
}

func (v *Vault) canManage(tx store.Tx, c Caller, safeID string) (bool, error) {
	if c.Principal.HasAnyRole(catalogWriters...) {
		return true, nil
	}
	s, err := tx.GetSafe(safeID)
	if err != nil {
		return false, err
	}
	return vault.HasPermission(s, identity(c), api.SafePermissionManage), nil
}

func unknownSafe(id string) error {
	return api.ValidationProblem("the safe does not exist", api.Violation{Pointer: "/safe_id", Code: vault.CodeUnknown,
		Message: fmt.Sprintf("safe %q does not exist", id)})
}

// CreateAccount adds a vault account (and its first secret version when a
// secret is given); admin, security or the safe's manage permission.
func (v *Vault) CreateAccount(ctx context.Context, c Caller, in api.VaultAccountInput) (api.VaultAccount, error) {
	secret := in.Secret
	norm, vs := vault.NormalizeAccount(in)
	if len(vs) > 0 {
		return api.VaultAccount{}, validationOf(vs)
	}
	now, actor := v.now(), c.Principal.Actor()
	a := api.VaultAccount{Meta: api.Meta{ID: ids.New(api.PrefixVaultAccount, now), Version: 1, CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor},
		VaultAccountInput: norm}
	if secret != "" {
		a.SecretVersion, a.SecretUpdatedAt = 1, &now
	}
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.GetSafe(a.SafeID); isNotFound(err) {
			return unknownSafe(a.SafeID)
		} else if err != nil {
			return err
		}
		ok, err := v.canManage(tx, c, a.SafeID)
		if err != nil {
			return err
		}
		if !ok {
			return deny("vault_account.created", accountKind, "", "creating an account requires server role admin or security, or the manage permission on safe %s", a.SafeID)
		}
		if ids, err := tx.GetVaultAccountIDsByName(a.SafeID, a.Name); err == nil {
			return alreadyExists(accountKind, a.Name, ids[0])
		} else if !isNotFound(err) {
			return err
		}
		if err := CheckSessionPolicyRef(tx, "/session_policy_id", a.SessionPolicyID); err != nil {
			return err
		}
		if err := tx.InsertVaultAccount(a); err != nil {
			return err
		}
		if err := v.record(tx, c.auditActor(), c.Request, "vault_account.created", accountKind, a.ID, nil, a, 0, 1); err != nil {
			return err
		}
		if secret != "" {
			return v.putSecret(tx, c.auditActor(), c.Request, a.ID, 1, []byte(secret), api.SecretSourceManual, "", now, actor)
		}
		return nil
	})
	return a, v.finish(ctx, c, err)
}

// GetAccount reads an account (never its secret); any authenticated caller.
func (v *Vault) GetAccount(ctx context.Context, _ Caller, id string) (api.VaultAccount, error) {
	var a api.VaultAccount
	now := v.Clock.Now()
	err := v.Store.View(ctx, func(tx store.Tx) (err error) {
		if a, err = tx.GetVaultAccount(id); err != nil {
			return err
		}
		return withCheckoutStatus(tx, &a, now)
	})
	if isNotFound(err) {
		return a, notFound(accountKind, id)
	}
	return a, err
}

// FindAccounts returns the ids of accounts named name (in any safe when
// safeID is empty).
func (v *Vault) FindAccounts(ctx context.Context, safeID, name string) ([]string, error) {
	var out []string
	err := v.Store.View(ctx, func(tx store.Tx) (err error) { out, err = tx.GetVaultAccountIDsByName(safeID, name); return err })
	if isNotFound(err) {
		return nil, nil
	}
	return out, err
}

// ListAccounts lists accounts in id order.
func (v *Vault) ListAccounts(ctx context.Context, _ Caller, f store.VaultAccountFilter) ([]api.VaultAccount, error) {
	var out []api.VaultAccount
	now := v.Clock.Now()
	err := v.Store.View(ctx, func(tx store.Tx) (err error) {
		if out, err = tx.ListVaultAccounts(f); err != nil {
			return err
		}
		for i := range out {
			if err := withCheckoutStatus(tx, &out[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// ReplaceAccount overwrites an account's writable fields. safe_id and
// platform are immutable. A secret in the body creates a new secret version;
// none keeps the current one.
func (v *Vault) ReplaceAccount(ctx context.Context, c Caller, id string, ifMatch *int64, in api.VaultAccountInput) (api.VaultAccount, error) {
	secret := in.Secret
	var out api.VaultAccount
	now := v.now()
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetVaultAccount(id)
		if isNotFound(err) {
			return notFound(accountKind, id)
		} else if err != nil {
			return err
		}
		ok, err := v.canManage(tx, c, cur.SafeID)
		if err != nil {
			return err
		}
		if !ok {
			return deny("vault_account.updated", accountKind, id, "changing an account requires server role admin or security, or the manage permission on its safe")
		}
		if in.SafeID != "" && in.SafeID != cur.SafeID {
			return immutable("/safe_id", "safe_id", cur.SafeID)
		}
		if in.Platform != "" && in.Platform != cur.Platform {
			return immutable("/platform", "platform", cur.Platform)
		}
		in.SafeID, in.Platform = cur.SafeID, cur.Platform
		norm, vs := vault.NormalizeAccount(in)
		if len(vs) > 0 {
			return validationOf(vs)
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch(accountKind, id, cur.Version)
		}
		if ids, err := tx.GetVaultAccountIDsByName(cur.SafeID, norm.Name); err == nil && ids[0] != id {
			return alreadyExists(accountKind, norm.Name, ids[0])
		} else if err != nil && !isNotFound(err) {
			return err
		}
		if err := CheckSessionPolicyRef(tx, "/session_policy_id", norm.SessionPolicyID); err != nil {
			return err
		}
		out = cur
		out.VaultAccountInput = norm
		out.Version = cur.Version + 1
		out.UpdatedAt, out.UpdatedBy = now, c.Principal.Actor()
		if secret != "" {
			out.SecretVersion, out.SecretUpdatedAt = cur.SecretVersion+1, &now
		}
		if err := tx.UpdateVaultAccount(out, cur.Version); err != nil {
			return err
		}
		if err := v.record(tx, c.auditActor(), c.Request, "vault_account.updated", accountKind, id, cur, out, cur.Version, out.Version); err != nil {
			return err
		}
		if secret != "" {
			if err := v.putSecret(tx, c.auditActor(), c.Request, id, out.SecretVersion, []byte(secret), api.SecretSourceManual, "", now, c.Principal.Actor()); err != nil {
				return err
			}
		}
		return withCheckoutStatus(tx, &out, v.Clock.Now())
	})
	return out, v.finish(ctx, c, err)
}

// DeleteAccount removes an account and its secret versions; 409
// account_checked_out while a checkout is active.
func (v *Vault) DeleteAccount(ctx context.Context, c Caller, id string, ifMatch *int64) error {
	now := v.Clock.Now()
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetVaultAccount(id)
		if isNotFound(err) {
			return notFound(accountKind, id)
		} else if err != nil {
			return err
		}
		ok, err := v.canManage(tx, c, cur.SafeID)
		if err != nil {
			return err
		}
		if !ok {
			return deny("vault_account.deleted", accountKind, id, "deleting an account requires server role admin or security, or the manage permission on its safe")
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch(accountKind, id, cur.Version)
		}
		if err := withCheckoutStatus(tx, &cur, now); err != nil {
			return err
		}
		if cur.Status.CheckoutID != "" {
			return api.NewProblem(http.StatusConflict, api.CodeAccountCheckedOut,
				fmt.Sprintf("account %q is checked out (%s) until %s; check it in or revoke the checkout first", id, cur.Status.CheckoutID, cur.Status.CheckoutExpiresAt.Format(time.RFC3339)))
		}
		if err := tx.DeleteVaultAccount(id); err != nil {
			return err
		}
		return v.record(tx, c.auditActor(), c.Request, "vault_account.deleted", accountKind, id, cur, nil, cur.Version, 0)
	})
	return v.finish(ctx, c, err)
}

// ListSecretVersions lists version metadata, newest first; never secrets.
func (v *Vault) ListSecretVersions(ctx context.Context, _ Caller, id string) ([]api.SecretVersion, error) {
	var recs []store.SecretVersionRecord
	err := v.Store.View(ctx, func(tx store.Tx) error {
		if _, err := tx.GetVaultAccount(id); err != nil {
			return err
		}
		var err error
		recs, err = tx.ListSecretVersions(id)
		return err
	})
	if isNotFound(err) {
		return nil, notFound(accountKind, id)
	}
	out := make([]api.SecretVersion, 0, len(recs))
	for _, r := range recs {
		out = append(out, api.SecretVersion{Version: r.Version, Source: r.Source, OperationID: r.OperationID, CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy})
	}
	return out, err
}

// ---------------------------------------------------------------- rotation seam

// CurrentSecret opens the account's current secret, for the rotation engine
// (which must not log or persist it).
func (v *Vault) CurrentSecret(ctx context.Context, accountID string) ([]byte, int64, error) {
	var rec store.SecretVersionRecord
	err := v.Store.View(ctx, func(tx store.Tx) error {
		a, err := tx.GetVaultAccount(accountID)
		if err != nil {
			return err
		}
		if a.SecretVersion == 0 {
			return store.ErrNotFound
		}
		rec, err = tx.GetSecretVersion(accountID, a.SecretVersion)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	pt, err := v.Keyring.OpenString(rec.Sealed, vault.SecretAAD(accountID, rec.Version))
	return pt, rec.Version, err
}

// StoreRotatedSecret stores secret as the account's next version (source
// rotation), audited as vault_account.secret_set by the system, and returns
// the new version. The account's configuration version is not changed, so
// Terraform sees no diff.
func (v *Vault) StoreRotatedSecret(ctx context.Context, accountID string, secret []byte, operationID string) (int64, error) {
	var n int64
	now := v.now()
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		a, err := tx.GetVaultAccount(accountID)
		if err != nil {
			return err
		}
		n = a.SecretVersion + 1
		a.SecretVersion, a.SecretUpdatedAt = n, &now
		if err := tx.UpdateVaultAccount(a, a.Version); err != nil {
			return err
		}
		return v.putSecret(tx, systemActor, api.AuditRequest{}, accountID, n, secret, api.SecretSourceRotation, operationID, now, api.Actor{Type: systemActor.Type, ID: systemActor.ID})
	})
	return n, err
}

// SetAccountStatus records rotation health (the rotation engine's write path).
func (v *Vault) SetAccountStatus(ctx context.Context, accountID string, st api.VaultAccountStatus) error {
	return v.Store.Update(ctx, func(tx store.Tx) error { return tx.SetVaultAccountStatus(accountID, st) })
}

// requestRotations tells the rotator about checkouts that ended with
// rotate_on_checkin, after their transaction committed.
func (v *Vault) requestRotations(ctx context.Context, accountIDs []string) {
	ctx = context.WithoutCancel(ctx)
	for _, id := range accountIDs {
		err := v.rotator().RotateAfterCheckin(ctx, id)
		note := ""
		switch {
		case errors.Is(err, vault.ErrNoRotationEngine):
			note = "rotation on check-in requested at " + v.now().Format(time.RFC3339) + "; no rotation engine is configured, the secret was not rotated"
		case err != nil:
			note = "rotation on check-in requested at " + v.now().Format(time.RFC3339) + " could not be queued: " + err.Error()
			v.log().Error("rotate on check-in failed", "account_id", id, "error", err.Error())
		default:
			continue // the engine records its own results
		}
		uerr := v.Store.Update(ctx, func(tx store.Tx) error {
			a, err := tx.GetVaultAccount(id)
			if err != nil {
				return err
			}
			a.Status.Note = note
			a.Status.LastRotationResult = api.RotationResultPending
			return tx.SetVaultAccountStatus(id, a.Status)
		})
		if uerr != nil && !isNotFound(uerr) {
			v.log().Error("rotate on check-in: could not record the status", "account_id", id, "error", uerr.Error())
		}
	}
}

// ---------------------------------------------------------------- checkouts

func lockedProblem(c api.Checkout) error {
	holder, exp := c.Holder, c.ExpiresAt
	p := api.NewProblem(http.StatusConflict, api.CodeAccountLocked,
		fmt.Sprintf("account %s is checked out exclusively by %s:%s until %s", c.AccountID, holder.Type, holder.ID, exp.Format(time.RFC3339)))
	p.Holder, p.ExpiresAt = &holder, &exp
	return p
}

func stateProblem(c api.Checkout, action string) error {
	p := api.NewProblem(http.StatusConflict, api.CodeInvalidStateTransition, fmt.Sprintf("checkout %s is %s; %s is not possible", c.ID, c.State, action))
	p.State = c.State
	p.AllowedTransitions = []string{}
	if c.State == api.CheckoutActive {
		p.AllowedTransitions = []string{api.ActionCheckin, api.ActionExtend, api.ActionRevoke}
	}
	return p
}

// expireDue ends the account's active checkouts whose expiry passed and
// returns the accounts to rotate.
func (v *Vault) expireDue(tx store.Tx, cs []api.Checkout, now time.Time) ([]string, error) {
	var rotate []string
	for _, c := range cs {
		if c.State != api.CheckoutActive || now.Before(c.ExpiresAt) {
			continue
		}
		out := vault.End(c, api.CheckoutExpired, api.CheckoutEndExpired, nil, now)
		out.Version = c.Version + 1
		out.UpdatedAt, out.UpdatedBy = now.UTC().Truncate(time.Second), api.Actor{Type: systemActor.Type, ID: systemActor.ID}
		if err := tx.UpdateCheckout(out, c.Version); err != nil {
			return nil, err
		}
		if err := v.record(tx, systemActor, api.AuditRequest{}, "checkout.expired", checkoutKind, c.ID, c, out, c.Version, out.Version); err != nil {
			return nil, err
		}
		if c.RotateOnCheckin {
			rotate = append(rotate, c.AccountID)
		}
	}
	return rotate, nil
}

// CreateCheckout checks an account out for the caller, who needs the
// checkout permission on its safe (directly, through a group, or admin).
func (v *Vault) CreateCheckout(ctx context.Context, c Caller, accountID string, req api.CheckoutRequest) (api.Checkout, error) {
	var out api.Checkout
	var rotate []string
	now := v.now()
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		a, err := tx.GetVaultAccount(accountID)
		if isNotFound(err) {
			return notFound(accountKind, accountID)
		} else if err != nil {
			return err
		}
		s, err := tx.GetSafe(a.SafeID)
		if err != nil {
			return err
		}
		if !vault.HasPermission(s, identity(c), api.SafePermissionCheckout) {
			return deny("checkout.created", accountKind, accountID, "checking out requires the checkout permission on safe %s", s.Name)
		}
		d, vs := vault.CheckoutDuration(a.CheckoutPolicy, req)
		if len(vs) > 0 {
			return violationsProblem(fmt.Sprintf("%d checkout policy rule(s) failed", len(vs)), vs)
		}
		if a.SecretVersion == 0 {
			p := api.NewProblem(http.StatusUnprocessableEntity, api.CodePolicyViolation, "the account has no secret yet")
			p.Violations = []api.Violation{{Rule: "secret_required", Code: "secret_required", Message: "set the account's secret before checking it out"}}
			return p
		}
		active, err := tx.ActiveCheckouts(accountID)
		if err != nil {
			return err
		}
		if rotate, err = v.expireDue(tx, active, v.Clock.Now()); err != nil {
			return err
		}
		if a.CheckoutPolicy.Exclusive {
			for _, o := range active {
				if !vault.Ended(o, v.Clock.Now()) {
					return lockedProblem(o)
				}
			}
		}
		actor := c.Principal.Actor()
		out = api.Checkout{
			Meta:      api.Meta{ID: ids.New(api.PrefixCheckout, now), Version: 1, CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor},
			AccountID: accountID, SafeID: a.SafeID, Holder: actor, State: api.CheckoutActive, DurationSeconds: d,
			ExpiresAt: now.Add(time.Duration(d) * time.Second), Justification: req.Justification, SecretVersion: a.SecretVersion,
			RotateOnCheckin: a.CheckoutPolicy.RotateOnCheckin, Extensions: []api.CheckoutExtension{},
		}
		if err := tx.InsertCheckout(out, a.CheckoutPolicy.Exclusive); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return api.NewProblem(http.StatusConflict, api.CodeAccountLocked, "account "+accountID+" is checked out exclusively")
			}
			return err
		}
		return v.record(tx, c.auditActor(), c.Request, "checkout.created", checkoutKind, out.ID, nil, out, 0, 1)
	})
	if err == nil {
		v.requestRotations(ctx, rotate)
	}
	return out, v.finish(ctx, c, err)
}

func canSeeCheckout(c Caller, co api.Checkout) bool {
	a := c.Principal.Actor()
	return (a.Type == co.Holder.Type && a.ID == co.Holder.ID) || c.Principal.HasAnyRole(checkoutReaders...)
}

// GetCheckout reads a checkout: its holder, admin, security or auditor.
func (v *Vault) GetCheckout(ctx context.Context, c Caller, id string) (api.Checkout, error) {
	var co api.Checkout
	err := v.Store.View(ctx, func(tx store.Tx) (err error) { co, err = tx.GetCheckout(id); return err })
	if isNotFound(err) {
		return co, notFound(checkoutKind, id)
	} else if err != nil {
		return co, err
	}
	if !canSeeCheckout(c, co) {
		return api.Checkout{}, v.finish(ctx, c, deny("checkout.read", checkoutKind, id, "only the holder, admin, security or auditor may read a checkout"))
	}
	return co, nil
}

// ListCheckouts lists checkouts in id order; callers without a reader role
// see only their own.
func (v *Vault) ListCheckouts(ctx context.Context, c Caller, f store.CheckoutFilter) ([]api.Checkout, error) {
	if !c.Principal.HasAnyRole(checkoutReaders...) {
		a := c.Principal.Actor()
		if (f.HolderType != "" && f.HolderType != a.Type) || (f.HolderID != "" && f.HolderID != a.ID) {
			return []api.Checkout{}, nil
		}
		f.HolderType, f.HolderID = a.Type, a.ID
	}
	var out []api.Checkout
	err := v.Store.View(ctx, func(tx store.Tx) (err error) { out, err = tx.ListCheckouts(f); return err })
	return out, err
}

// CheckoutSecret opens the secret for the holder of an active checkout;
// every read (and every refused read) is audited, never with the secret.
func (v *Vault) CheckoutSecret(ctx context.Context, c Caller, id string) (api.CheckoutSecret, error) {
	var out api.CheckoutSecret
	now := v.Clock.Now()
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		co, err := tx.GetCheckout(id)
		if isNotFound(err) {
			return notFound(checkoutKind, id)
		} else if err != nil {
			return err
		}
		actor := c.Principal.Actor()
		if actor.Type != co.Holder.Type || actor.ID != co.Holder.ID {
			return deny("checkout.secret_read", checkoutKind, id, "only the holder of checkout %s may read its secret", id)
		}
		if vault.Ended(co, now) {
			// Refused reads are audited too: a holder probing an ended
			// checkout is worth seeing in the trail.
			return &errVaultDenied{action: "checkout.secret_read", kind: checkoutKind, id: id, status: http.StatusGone,
				code: api.CodeSecretNoLongerAvailable, msg: fmt.Sprintf("checkout %s has ended (%s); check the account out again", id, endedState(co, now))}
		}
		a, err := tx.GetVaultAccount(co.AccountID)
		if isNotFound(err) {
			return api.NewProblem(http.StatusGone, api.CodeSecretNoLongerAvailable, "the account of checkout "+id+" was deleted")
		} else if err != nil {
			return err
		}
		if !a.CheckoutPolicy.AllowRetrieve {
			d := &errVaultDenied{action: "checkout.secret_read", kind: checkoutKind, id: id, code: api.CodeRetrieveNotAllowed,
				msg: fmt.Sprintf("account %s is connect-only: its checkout policy does not allow retrieving the secret", a.ID)}
			return d
		}
		s, err := tx.GetSafe(a.SafeID)
		if err != nil {
			return err
		}
		if !vault.HasPermission(s, identity(c), api.SafePermissionRetrieve) {
			d := &errVaultDenied{action: "checkout.secret_read", kind: checkoutKind, id: id, code: api.CodeRetrieveNotAllowed,
				msg: fmt.Sprintf("reading the secret requires the retrieve permission on safe %s", s.Name)}
			return d
		}
		rec, err := tx.GetSecretVersion(a.ID, a.SecretVersion)
		if err != nil {
			return err
		}
		if v.Keyring == nil {
			return api.NewProblem(http.StatusServiceUnavailable, api.CodeUnavailable, "the vault has no master key configured")
		}
		pt, err := v.Keyring.OpenString(rec.Sealed, vault.SecretAAD(a.ID, rec.Version))
		if err != nil {
			return fmt.Errorf("open secret version %d of %s: %w", rec.Version, a.ID, err)
		}
		out = api.CheckoutSecret{CheckoutID: id, AccountID: a.ID, SecretType: a.SecretType, Username: a.Username, Secret: string(pt),
			SecretVersion: rec.Version, ExpiresAt: co.ExpiresAt}
		clear(pt)
		return v.record(tx, c.auditActor(), c.Request, "checkout.secret_read", checkoutKind, id, nil,
			secretSetEvent{SecretVersion: rec.Version, Source: "checkout"}, co.Version, co.Version)
	})
	return out, v.finish(ctx, c, err)
}

func endedState(co api.Checkout, now time.Time) string {
	if co.State == api.CheckoutActive && !now.Before(co.ExpiresAt) {
		return api.CheckoutExpired
	}
	return co.State
}

// endCheckout runs a terminal action (checkin, revoke) on a checkout.
func (v *Vault) endCheckout(ctx context.Context, c Caller, id string, ifMatch *int64, action string) (api.Checkout, error) {
	var out api.Checkout
	var rotate []string
	now := v.Clock.Now()
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		co, err := tx.GetCheckout(id)
		if isNotFound(err) {
			return notFound(checkoutKind, id)
		} else if err != nil {
			return err
		}
		actor := c.Principal.Actor()
		isHolder := actor.Type == co.Holder.Type && actor.ID == co.Holder.ID
		state, reason := api.CheckoutCheckedIn, api.CheckoutEndCheckedIn
		switch action {
		case api.ActionCheckin:
			if !isHolder {
				return deny("checkout.checked_in", checkoutKind, id, "only the holder may check in; admin or security may revoke")
			}
		case api.ActionRevoke:
			if !c.Principal.HasAnyRole(catalogWriters...) {
				return deny("checkout.revoked", checkoutKind, id, "revoking a checkout requires server role admin or security")
			}
			state, reason = api.CheckoutRevoked, api.CheckoutEndRevoked
		}
		if ifMatch != nil && *ifMatch != co.Version {
			return etagMismatch(checkoutKind, id, co.Version)
		}
		if vault.Ended(co, now) {
			// Expired before the worker noticed: report it as expired; the
			// worker records the expiry (and any rotation) on its next pass.
			co.State = endedState(co, now)
			return stateProblem(co, action)
		}
		if co.State != api.CheckoutActive {
			return stateProblem(co, action)
		}
		out = vault.End(co, state, reason, &actor, now.UTC().Truncate(time.Second))
		out.Version = co.Version + 1
		out.UpdatedAt, out.UpdatedBy = v.now(), actor
		if err := tx.UpdateCheckout(out, co.Version); err != nil {
			return err
		}
		if co.RotateOnCheckin {
			rotate = []string{co.AccountID}
		}
		return v.record(tx, c.auditActor(), c.Request, "checkout."+state, checkoutKind, id, co, out, co.Version, out.Version)
	})
	if err == nil {
		v.requestRotations(ctx, rotate)
	}
	return out, v.finish(ctx, c, err)
}

// Checkin ends the caller's checkout; with rotate_on_checkin the rotator is asked.
func (v *Vault) Checkin(ctx context.Context, c Caller, id string, ifMatch *int64) (api.Checkout, error) {
	return v.endCheckout(ctx, c, id, ifMatch, api.ActionCheckin)
}

// Revoke force-ends a checkout; admin or security.
func (v *Vault) Revoke(ctx context.Context, c Caller, id string, ifMatch *int64) (api.Checkout, error) {
	return v.endCheckout(ctx, c, id, ifMatch, api.ActionRevoke)
}

// Extend lengthens the caller's active checkout within the policy maximum.
func (v *Vault) Extend(ctx context.Context, c Caller, id string, ifMatch *int64, req api.CheckoutExtendRequest) (api.Checkout, error) {
	var out api.Checkout
	now := v.Clock.Now()
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		co, err := tx.GetCheckout(id)
		if isNotFound(err) {
			return notFound(checkoutKind, id)
		} else if err != nil {
			return err
		}
		actor := c.Principal.Actor()
		if actor.Type != co.Holder.Type || actor.ID != co.Holder.ID {
			return deny("checkout.extended", checkoutKind, id, "only the holder may extend a checkout")
		}
		if ifMatch != nil && *ifMatch != co.Version {
			return etagMismatch(checkoutKind, id, co.Version)
		}
		if vault.Ended(co, now) {
			co.State = endedState(co, now)
			return stateProblem(co, api.ActionExtend)
		}
		a, err := tx.GetVaultAccount(co.AccountID)
		if err != nil {
			return err
		}
		exp, vs := vault.Extend(a.CheckoutPolicy, co, req)
		if len(vs) > 0 {
			return violationsProblem(fmt.Sprintf("%d checkout policy rule(s) failed", len(vs)), vs)
		}
		out = co
		out.Extensions = append(append([]api.CheckoutExtension{}, co.Extensions...),
			api.CheckoutExtension{AdditionalSeconds: req.AdditionalSeconds, Justification: req.Justification, By: actor, At: v.now()})
		out.ExpiresAt = exp
		out.DurationSeconds = co.DurationSeconds + req.AdditionalSeconds
		out.Version = co.Version + 1
		out.UpdatedAt, out.UpdatedBy = v.now(), actor
		if err := tx.UpdateCheckout(out, co.Version); err != nil {
			return err
		}
		return v.record(tx, c.auditActor(), c.Request, "checkout.extended", checkoutKind, id, co, out, co.Version, out.Version)
	})
	return out, v.finish(ctx, c, err)
}

// DefaultVaultWorkerBatch is how many due checkouts one worker pass expires.
const DefaultVaultWorkerBatch = 100

// RunDue expires every active checkout whose expiry passed (automatic
// check-in), with its audit event, then asks for the rotations due. It
// returns how many checkouts ended.
func (v *Vault) RunDue(ctx context.Context, batch int) (int, error) {
	if batch <= 0 {
		batch = DefaultVaultWorkerBatch
	}
	now := v.Clock.Now()
	var n int
	var rotate []string
	err := v.Store.Update(ctx, func(tx store.Tx) error {
		due, err := tx.DueCheckouts(now, batch)
		if err != nil {
			return err
		}
		n = len(due)
		rotate, err = v.expireDue(tx, due, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	v.requestRotations(ctx, rotate)
	return n, nil
}

// ---------------------------------------------------------------- master key rotation

// RewrapAll re-wraps every sealed value at rest with next's current key in
// one transaction, audited as keys.rotated (key ids only). It returns how
// many values were re-wrapped.
func RewrapAll(ctx context.Context, st store.Store, clk clock.Clock, actor api.AuditActor, oldKeyID string, next *keys.Keyring) (int, error) {
	var n int
	err := st.Update(ctx, func(tx store.Tx) error {
		vals, err := tx.ListSealedValues()
		if err != nil {
			return err
		}
		for _, sv := range vals {
			nw, err := next.Rewrap(sv.Sealed)
			if err != nil {
				return fmt.Errorf("re-wrap %s %s: %w", sv.Kind, sv.Key, err)
			}
			if nw == sv.Sealed {
				continue
			}
			sv.Sealed = nw
			if err := tx.ReplaceSealedValue(sv); err != nil {
				return err
			}
			n++
		}
		ev, err := audit.NewMutation(audit.Mutation{Now: clk.Now(), Actor: actor, Action: "keys.rotated", TargetType: "master_key", TargetID: next.KeyID(),
			After: map[string]any{"old_key_id": oldKeyID, "new_key_id": next.KeyID(), "rewrapped": n}})
		if err != nil {
			return err
		}
		return tx.AppendAudit(ev)
	})
	return n, err
}

// SealedKeysInUse reports whether any sealed value at rest is wrapped with
// one of the key ids.
func SealedKeysInUse(ctx context.Context, st store.Store, keyIDs []string) (bool, error) {
	used := false
	err := st.View(ctx, func(tx store.Tx) error {
		vals, err := tx.ListSealedValues()
		if err != nil {
			return err
		}
		for _, sv := range vals {
			id, err := keys.SealedKeyID(sv.Sealed)
			if err != nil {
				return err
			}
			for _, k := range keyIDs {
				if strings.EqualFold(id, k) {
					used = true
				}
			}
		}
		return nil
	})
	return used, err
}
