package catalog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
	"github.com/accessplane/terraform-provider-pam/internal/provision"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Provisioning by webhook.
//
// A role may name webhook targets (api.RoleWebhook). WebhookProvisioner, the
// Provisioner the daemon installs, turns elevation transitions into rows of
// the store's outbox, in the transaction of the transition:
//
//   - Activate of an elevation whose role has targets writes one
//     elevation.activated delivery per target and leaves the elevation
//     activating. Without targets the activation completes at once, as with
//     SyncProvisioner.
//   - Deactivate (the elevation ended: expired, deactivated, revoked, ended
//     by its eligibility, or activation failed) cancels activation deliveries
//     that were never attempted and writes one elevation.ended delivery per
//     target that may hold the grant: its activation was acknowledged or at
//     least attempted. The elevation ends in pamd regardless of delivery.
//
// Service.Outbox adapts the outbox to provision.Outbox for provision.Worker
// and applies the outcomes to the elevation in the same transaction:
//
//   - when every elevation.activated delivery of an activating elevation is
//     acknowledged, pim.MarkActive (audited elevation.activated);
//   - when one fails for good (permanent error, attempts or age exhausted),
//     pim.MarkActivationFailed with the error (audited
//     elevation.activation_failed), which in turn ends the grant elsewhere;
//   - when an elevation.ended delivery fails for good, a provisioning warning
//     on the elevation (audited elevation.provisioning_failed).
//
// Secrets live only in store.RoleWebhook: the outbox row holds the URL, and
// the secret is read from the role when the delivery is due (a target that
// was removed from the role meanwhile fails the delivery). Errors recorded
// anywhere are provision's, which name the redacted URL, never the secret.

// DefaultDeliveryLease is how long a claimed delivery stays invisible to
// other workers; longer than one attempt (provision.DefaultTimeout).
const DefaultDeliveryLease = 2 * time.Minute

// Prefixes of provisioning ids.
const (
	prefixEvent    = "evt"
	prefixDelivery = "dlv"
)

// cancelledBeforeDelivery is the last_error of an activation delivery that
// was dropped because the elevation ended before it was ever attempted.
const cancelledBeforeDelivery = "cancelled: the elevation ended before this delivery was attempted"

// --- role webhooks ---

// validateWebhooks checks the targets of a role input. Messages name the
// position, never the URL (its query may carry a token) nor the secret.
func validateWebhooks(hooks []api.RoleWebhook) []api.Violation {
	var vs []api.Violation
	add := func(ptr, code, msg string) { vs = append(vs, api.Violation{Pointer: ptr, Code: code, Message: msg}) }
	if len(hooks) > api.MaxRoleWebhooks {
		add("/webhooks", "max_items", fmt.Sprintf("at most %d webhooks allowed", api.MaxRoleWebhooks))
	}
	seen := map[string]int{}
	for i, h := range hooks {
		ptr := "/webhooks/" + strconv.Itoa(i)
		if err := provision.ValidateURL(h.URL); err != nil {
			add(ptr+"/url", "invalid_url", err.Error())
		} else if j, dup := seen[h.URL]; dup {
			add(ptr+"/url", "duplicate", fmt.Sprintf("webhook %d has the same url as webhook %d; urls must be unique", i, j))
		} else {
			seen[h.URL] = i
		}
		if h.Secret != "" && len(h.Secret) < provision.MinSecretLength {
			add(ptr+"/secret", "min_length", fmt.Sprintf("secret must be at least %d bytes", provision.MinSecretLength))
		}
		if h.SecretVersion < 0 {
			add(ptr+"/secret_version", "minimum", "secret_version must not be negative")
		}
	}
	return vs
}

// mergeWebhooks builds the stored targets from validated input. A target
// sent without secret keeps the stored secret (and, unless given, the secret
// version) of the stored target with the same URL; a new URL needs a secret.
// New secrets are sealed with the keyring, bound to role and URL, so the
// store only ever holds ciphertext; carried-over secrets are already sealed.
func (s *Service) mergeWebhooks(roleID string, in []api.RoleWebhook, stored []store.RoleWebhook) ([]store.RoleWebhook, error) {
	byURL := make(map[string]store.RoleWebhook, len(stored))
	for _, h := range stored {
		byURL[h.URL] = h
	}
	out := make([]store.RoleWebhook, 0, len(in))
	var vs []api.Violation
	for i, h := range in {
		sh := store.RoleWebhook{URL: h.URL, SecretVersion: h.SecretVersion}
		if h.Secret != "" {
			if s.Keyring == nil {
				return nil, errors.New("no keyring: webhook secrets cannot be sealed")
			}
			sealed, err := s.Keyring.SealString([]byte(h.Secret), webhookAAD(roleID, h.URL))
			if err != nil {
				return nil, fmt.Errorf("sealing webhook secret: %w", err)
			}
			sh.Secret = sealed
		} else {
			old, ok := byURL[h.URL]
			if !ok {
				vs = append(vs, api.Violation{Pointer: "/webhooks/" + strconv.Itoa(i) + "/secret", Code: "required",
					Message: "secret is required for a webhook url the role does not have yet (a target sent without secret keeps " +
						"the stored secret only when its url is unchanged)"})
				continue
			}
			sh.Secret = old.Secret
			if sh.SecretVersion == 0 {
				sh.SecretVersion = old.SecretVersion
			}
		}
		out = append(out, sh)
	}
	if len(vs) > 0 {
		return nil, api.ValidationProblem(fmt.Sprintf("%d field(s) are not valid", len(vs)), vs...)
	}
	return out, nil
}

// publicWebhooks is what responses and audit events show of the targets:
// never the secret. Nil when there are none (the field is then omitted).
func publicWebhooks(hooks []store.RoleWebhook) []api.RoleWebhook {
	if len(hooks) == 0 {
		return nil
	}
	out := make([]api.RoleWebhook, 0, len(hooks))
	for _, h := range hooks {
		out = append(out, api.RoleWebhook{URL: h.URL, SecretVersion: h.SecretVersion, HasSecret: h.Secret != ""})
	}
	return out
}

// getRole reads a role with its (public) webhooks.
func getRole(tx store.Tx, id string) (api.Role, error) {
	r, err := tx.GetRole(id)
	if err != nil {
		return r, err
	}
	return r, withWebhooks(tx, &r)
}

func withWebhooks(tx store.Tx, r *api.Role) error {
	hooks, err := tx.GetRoleWebhooks(r.ID)
	if err != nil {
		return err
	}
	r.Webhooks = publicWebhooks(hooks)
	return nil
}

// --- the provisioner ---

// WebhookProvisioner records webhook deliveries in the outbox (see above).
// The zero value uses the real clock.
type WebhookProvisioner struct {
	Clock clock.Clock
}

var _ Provisioner = WebhookProvisioner{}

// StoreError wraps a store failure met while provisioning: it aborts the
// transaction instead of failing the activation (see Service.settle).
type StoreError struct{ Err error }

func (e *StoreError) Error() string { return "provisioning: " + e.Err.Error() }

// Unwrap returns the store error.
func (e *StoreError) Unwrap() error { return e.Err }

func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return &StoreError{Err: err}
}

func (p WebhookProvisioner) now() time.Time {
	if p.Clock == nil {
		return time.Now().UTC().Truncate(time.Second)
	}
	return p.Clock.Now().UTC().Truncate(time.Second)
}

// Activate queues elevation.activated for each target of e's role and
// leaves e activating; without targets it grants at once.
func (p WebhookProvisioner) Activate(_ context.Context, tx store.Tx, e api.Elevation) (bool, error) {
	hooks, err := tx.GetRoleWebhooks(e.RoleID)
	if err != nil {
		return false, storeErr(err)
	}
	if len(hooks) == 0 {
		return true, nil
	}
	now := p.now()
	ev := provision.Event{ID: ids.New(prefixEvent, now), Type: provision.EventElevationActivated, OccurredAt: now,
		Elevation: eventElevation(e, now)}
	for _, h := range hooks {
		if err := tx.InsertDelivery(store.Delivery{ID: ids.New(prefixDelivery, now), ElevationID: e.ID, Event: ev,
			URL: h.URL, NextAttemptAt: now, CreatedAt: now}); err != nil {
			return false, storeErr(err)
		}
	}
	return false, nil
}

// Deactivate cancels unattempted activation deliveries and queues
// elevation.ended for every target that may hold the grant.
func (p WebhookProvisioner) Deactivate(_ context.Context, tx store.Tx, e api.Elevation) error {
	now := p.now()
	acts, err := tx.ListDeliveries(store.DeliveryFilter{ElevationID: e.ID, EventType: provision.EventElevationActivated})
	if err != nil {
		return storeErr(err)
	}
	mayHold := map[string]bool{}
	for _, d := range acts {
		if mayHoldGrant(d) {
			mayHold[d.URL] = true
		}
		if d.Pending() && d.Attempts == 0 {
			d.FailedAt, d.LastError = &now, cancelledBeforeDelivery
			if err := tx.UpdateDelivery(d); err != nil {
				return storeErr(err)
			}
		}
	}
	if len(mayHold) == 0 {
		return nil
	}
	hooks, err := tx.GetRoleWebhooks(e.RoleID)
	if err != nil {
		return storeErr(err)
	}
	ev := provision.Event{ID: ids.New(prefixEvent, now), Type: provision.EventElevationEnded, OccurredAt: now,
		Elevation: eventElevation(e, now)}
	for _, h := range hooks {
		if !mayHold[h.URL] {
			continue
		}
		if err := tx.InsertDelivery(store.Delivery{ID: ids.New(prefixDelivery, now), ElevationID: e.ID, Event: ev,
			URL: h.URL, NextAttemptAt: now, CreatedAt: now}); err != nil {
			return storeErr(err)
		}
	}
	return nil
}

// mayHoldGrant reports whether the target of an activation delivery may have
// granted: it acknowledged, or an attempt was made whose effect is unknown
// (still retrying, or given up after retryable errors such as timeouts). A
// receiver that refused permanently (4xx) did not grant.
func mayHoldGrant(d store.Delivery) bool {
	switch {
	case d.DeliveredAt != nil:
		return true
	case d.Attempts == 0:
		return false
	case d.FailedAt != nil:
		// provision.DeliveryError names its kind: "...: permanent failure: ...".
		return !strings.Contains(d.LastError, "permanent failure")
	}
	return true
}

// eventElevation is the receiver's view of e. Before activation completes,
// start and end are the planned ones (from now, for the requested duration).
func eventElevation(e api.Elevation, now time.Time) provision.Elevation {
	out := provision.Elevation{ID: e.ID, Principal: provision.Principal{Type: e.PrincipalType, ID: e.PrincipalID},
		RoleID: e.RoleID, Scope: e.Scope, EndReason: e.EndReason, StartAt: now,
		EndAt: now.Add(time.Duration(e.RequestedDurationSeconds) * time.Second)}
	if e.StartAt != nil {
		out.StartAt = *e.StartAt
	}
	if e.EndAt != nil {
		out.EndAt = *e.EndAt
	}
	if e.EndedAt != nil {
		out.EndAt = *e.EndedAt
	}
	return out
}

// --- the outbox ---

// Outbox returns the store's outbox as a provision.Outbox whose outcomes
// move the elevations (see above). lease <= 0 means DefaultDeliveryLease.
func (s *Service) Outbox(lease time.Duration) provision.Outbox {
	if lease <= 0 {
		lease = DefaultDeliveryLease
	}
	return &outbox{s: s, lease: lease}
}

type outbox struct {
	s     *Service
	lease time.Duration
}

// Due claims due deliveries and attaches each target's current secret. A
// delivery whose target was removed from the role fails at once.
func (o *outbox) Due(ctx context.Context, now time.Time, limit int) ([]provision.Delivery, error) {
	var out []provision.Delivery
	err := o.s.Store.Update(ctx, func(tx store.Tx) error {
		out = nil
		claimed, err := tx.ClaimDueDeliveries(now, o.lease, limit)
		if err != nil {
			return err
		}
		hooks := map[string][]store.RoleWebhook{}
		for _, d := range claimed {
			roleID := d.Event.Elevation.RoleID
			hs, ok := hooks[roleID]
			if !ok {
				if hs, err = tx.GetRoleWebhooks(roleID); err != nil {
					return err
				}
				hooks[roleID] = hs
			}
			secret, found := "", false
			for _, h := range hs {
				if h.URL == d.URL {
					secret, found = h.Secret, true
				}
			}
			if found {
				if secret, err = o.s.openWebhookSecret(roleID, d.URL, secret); err != nil {
					return err
				}
			}
			if !found {
				msg := fmt.Sprintf("webhook %s: permanent failure: the target is no longer configured on role %s",
					provision.RedactURL(d.URL), roleID)
				if err := o.fail(ctx, tx, d, d.Attempts, now, msg); err != nil {
					return err
				}
				continue
			}
			out = append(out, provision.Delivery{ID: d.ID, Target: provision.Target{URL: d.URL, Secret: secret},
				Event: d.Event, Attempts: d.Attempts, CreatedAt: d.CreatedAt, NextAttemptAt: d.NextAttemptAt, LastError: d.LastError})
		}
		return nil
	})
	return out, err
}

// pendingDelivery reads a delivery and reports whether it still waits for
// an outcome (a late outcome for a finished delivery is ignored).
func pendingDelivery(tx store.Tx, id string) (store.Delivery, bool, error) {
	d, err := tx.GetDelivery(id)
	if err != nil {
		return d, false, err
	}
	return d, d.Pending(), nil
}

func (o *outbox) MarkDelivered(ctx context.Context, id string, attempts int, at time.Time) error {
	return o.s.Store.Update(ctx, func(tx store.Tx) error {
		d, pending, err := pendingDelivery(tx, id)
		if err != nil || !pending {
			return err
		}
		at := at.UTC()
		d.Attempts, d.DeliveredAt, d.LastError = attempts, &at, ""
		if err := tx.UpdateDelivery(d); err != nil {
			return err
		}
		if d.Event.Type != provision.EventElevationActivated {
			return nil
		}
		return o.activateIfAcknowledged(ctx, tx, d.ElevationID, at)
	})
}

// activateIfAcknowledged completes the activation once every target
// acknowledged elevation.activated.
func (o *outbox) activateIfAcknowledged(ctx context.Context, tx store.Tx, elevationID string, at time.Time) error {
	ds, err := tx.ListDeliveries(store.DeliveryFilter{ElevationID: elevationID, EventType: provision.EventElevationActivated})
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.DeliveredAt == nil {
			return nil
		}
	}
	e, err := tx.GetElevation(elevationID)
	if isNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if e.State != api.StateActivating {
		return nil // revoked meanwhile: its end events are queued already
	}
	before, now := e, at.Truncate(time.Second)
	if err := pim.MarkActive(&e, now); err != nil {
		return err
	}
	return o.s.saveElevation(ctx, tx, nil, before, &e, now)
}

func (o *outbox) MarkRetry(ctx context.Context, id string, attempts int, next time.Time, lastErr string) error {
	return o.s.Store.Update(ctx, func(tx store.Tx) error {
		d, pending, err := pendingDelivery(tx, id)
		if err != nil || !pending {
			return err
		}
		d.Attempts, d.NextAttemptAt, d.LastError = attempts, next.UTC(), lastErr
		return tx.UpdateDelivery(d)
	})
}

func (o *outbox) MarkFailed(ctx context.Context, id string, attempts int, at time.Time, lastErr string) error {
	return o.s.Store.Update(ctx, func(tx store.Tx) error {
		d, pending, err := pendingDelivery(tx, id)
		if err != nil || !pending {
			return err
		}
		return o.fail(ctx, tx, d, attempts, at, lastErr)
	})
}

// fail records a final failure and shows it on the elevation: an activating
// elevation fails its activation; an ended one gets a provisioning warning.
func (o *outbox) fail(ctx context.Context, tx store.Tx, d store.Delivery, attempts int, at time.Time, lastErr string) error {
	at = at.UTC()
	d.Attempts, d.FailedAt, d.LastError = attempts, &at, lastErr
	if err := tx.UpdateDelivery(d); err != nil {
		return err
	}
	e, err := tx.GetElevation(d.ElevationID)
	if isNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	before, now := e, at.Truncate(time.Second)
	switch d.Event.Type {
	case provision.EventElevationActivated:
		if e.State != api.StateActivating {
			return nil
		}
		if err := pim.MarkActivationFailed(&e, "provisioning failed: "+lastErr, now); err != nil {
			return err
		}
		return o.s.saveElevation(ctx, tx, nil, before, &e, now)
	case provision.EventElevationEnded:
		e.ProvisioningWarnings = append(e.ProvisioningWarnings, "elevation.ended was not acknowledged: "+lastErr)
		e.Version, e.UpdatedAt, e.UpdatedBy = before.Version+1, now, api.Actor{Type: "system", ID: "pamd"}
		if err := tx.UpdateElevation(e, before.Version); err != nil {
			return err
		}
		return o.s.recordAny(tx, nil, "elevation.provisioning_failed", elevationKind, e.ID, before, e, before.Version, e.Version)
	}
	return nil
}

// asStoreError unwraps a StoreError.
func asStoreError(err error) (error, bool) {
	var se *StoreError
	if errors.As(err, &se) {
		return se.Err, true
	}
	return nil, false
}

// webhookAAD binds a sealed webhook secret to its role and URL: copied to
// another role or target it no longer opens.
func webhookAAD(roleID, url string) []byte {
	return []byte("role_webhook\x00" + roleID + "\x00" + url)
}

func (s *Service) openWebhookSecret(roleID, url, sealed string) (string, error) {
	if s.Keyring == nil {
		return "", errors.New("no keyring: webhook secrets cannot be opened")
	}
	pt, err := s.Keyring.OpenString(sealed, webhookAAD(roleID, url))
	if err != nil {
		return "", fmt.Errorf("opening the secret of webhook %s on role %s: %w", provision.RedactURL(url), roleID, err)
	}
	return string(pt), nil
}
