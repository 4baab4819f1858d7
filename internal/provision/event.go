// Package provision delivers signed webhook events so that an elevation has an
// effect outside pamd: when an elevation becomes active and when it ends, pamd
// POSTs a JSON Event to each webhook Target of the role and retries with
// capped, jittered exponential backoff until the receiver acknowledges it with
// a 2xx answer, or the delivery is given up and marked failed.
//
// # Wire format
//
// Each attempt is an HTTP POST of the JSON Event with the headers
//
//	Content-Type: application/json
//	Pam-Event-Id: <event id>            (stable across attempts: deduplicate on it)
//	Pam-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//	User-Agent: pamd-webhook/1
//
// Receivers check the signature with Verify (or an equivalent of it) over the
// raw body before parsing it, and reject timestamps outside a tolerance to
// limit replay. Delivery is at least once: the same event may arrive again
// (with a higher "attempt"), so receivers must be idempotent on the event id.
// A receiver acknowledges with any 2xx status. 408, 429 and 5xx (and network
// errors, timeouts) are retried, honouring Retry-After; any other status,
// including 3xx (redirects are not followed) and 401 for a bad signature, is a
// permanent failure.
//
// # Architecture
//
// The package holds no state. A durable outbox in the store drives it:
//
//   - When an elevation activates or ends, the server writes one Delivery per
//     target of the role (Event, Target, CreatedAt, NextAttemptAt = now) in the
//     same transaction as the state change, so an event is never lost nor sent
//     for a change that rolled back.
//   - A Worker, run periodically with an injected clock, asks the Outbox for
//     due deliveries, makes one attempt each with a Deliverer, and records the
//     outcome: MarkDelivered, MarkRetry (next attempt time from the Policy) or
//     MarkFailed (permanent error, attempts or age exhausted).
//   - The store's MarkFailed is where the elevation shows the failure
//     (activation_failed or a provisioning warning) and where the audit event
//     is appended, in one transaction.
//
// Target secrets are HMAC keys: Target's String, GoString and LogValue redact
// them, and no error produced here contains a secret.
package provision

import (
	"encoding/json"
	"fmt"
	"time"
)

// EventType names what happened.
type EventType string

// Event types.
const (
	// EventElevationActivated is sent when an elevation becomes active: the
	// receiver grants the privilege.
	EventElevationActivated EventType = "elevation.activated"
	// EventElevationEnded is sent when an active elevation ends (expired,
	// deactivated or revoked): the receiver removes the privilege.
	EventElevationEnded EventType = "elevation.ended"
)

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool {
	return t == EventElevationActivated || t == EventElevationEnded
}

// Principal is the user, group or service account that holds the elevation.
type Principal struct {
	Type string `json:"type"` // user, group or service_account
	ID   string `json:"id"`
}

// Elevation is the part of an elevation a receiver needs to act on.
type Elevation struct {
	ID        string    `json:"id"`
	Principal Principal `json:"principal"`
	RoleID    string    `json:"role_id"`
	Scope     string    `json:"scope"`
	StartAt   time.Time `json:"start_at"`
	EndAt     time.Time `json:"end_at"`
	// EndReason says why an elevation ended (expired, deactivated, revoked);
	// empty on activation.
	EndReason string `json:"end_reason,omitempty"`
}

// Event is the JSON body of a webhook delivery.
type Event struct {
	// ID identifies the event; it is the same for every attempt and target
	// retry, and receivers deduplicate on it.
	ID         string    `json:"id"`
	Type       EventType `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	Elevation  Elevation `json:"elevation"`
	// Attempt is the 1-based number of this delivery attempt. The Worker sets
	// it before each attempt.
	Attempt int `json:"attempt"`
}

// Validate checks the fields every event must have.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("provision: event id is required")
	case !e.Type.Valid():
		return fmt.Errorf("provision: unknown event type %q", e.Type)
	case e.OccurredAt.IsZero():
		return fmt.Errorf("provision: event occurred_at is required")
	case e.Elevation.ID == "":
		return fmt.Errorf("provision: event elevation id is required")
	}
	return nil
}

// Marshal returns the JSON body of e, with times in UTC (RFC 3339).
func (e Event) Marshal() ([]byte, error) {
	e.OccurredAt = e.OccurredAt.UTC()
	e.Elevation.StartAt = e.Elevation.StartAt.UTC()
	e.Elevation.EndAt = e.Elevation.EndAt.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("provision: marshal event: %w", err)
	}
	return b, nil
}
