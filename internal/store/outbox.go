package store

import (
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/provision"
)

// RoleWebhook is a role's provisioning target as stored, secret included.
// It is kept apart from api.Role so that the secret cannot reach a response
// or an audit event by accident: only the provisioning outbox reads it.
type RoleWebhook struct {
	URL string
	// Secret is the HMAC key in its sealed form (catalog seals and opens it
	// with the keyring); the store never sees plaintext.
	Secret        string
	SecretVersion int64
}

// RoleWebhookTx persists the webhook targets of roles. Deleting a role
// deletes its targets.
type RoleWebhookTx interface {
	// GetRoleWebhooks returns the targets of a role in their configured
	// order; an empty slice when it has none (or the role does not exist).
	GetRoleWebhooks(roleID string) ([]RoleWebhook, error)
	// PutRoleWebhooks replaces the targets of a role.
	PutRoleWebhooks(roleID string, hooks []RoleWebhook) error
}

// Delivery is one row of the provisioning outbox: one event to one target.
type Delivery struct {
	ID          string
	ElevationID string
	// Event is the JSON body sent (Attempt is set per attempt by the worker).
	Event provision.Event
	// URL is the target; its secret is looked up on the role at send time.
	URL           string
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
	DeliveredAt   *time.Time
	FailedAt      *time.Time
	// LastError never contains the secret.
	LastError string
}

// Pending reports whether the delivery is neither delivered nor failed.
func (d Delivery) Pending() bool { return d.DeliveredAt == nil && d.FailedAt == nil }

// DeliveryFilter selects outbox rows; empty fields do not filter.
type DeliveryFilter struct {
	ElevationID string
	EventType   provision.EventType
}

// OutboxTx persists the provisioning outbox.
type OutboxTx interface {
	// InsertDelivery adds a pending delivery.
	InsertDelivery(d Delivery) error
	// ClaimDueDeliveries returns up to limit pending deliveries with
	// NextAttemptAt <= now, oldest due first, and moves their NextAttemptAt to
	// now+lease in the same transaction, so that another worker does not
	// take them while the attempt runs; a delivery whose worker died becomes
	// due again when the lease ends. The returned rows show the claimed
	// NextAttemptAt.
	ClaimDueDeliveries(now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	GetDelivery(id string) (Delivery, error)
	// ListDeliveries returns matching rows in creation order.
	ListDeliveries(f DeliveryFilter) ([]Delivery, error)
	// UpdateDelivery writes the mutable fields (attempts, next_attempt_at,
	// delivered_at, failed_at, last_error) of d.
	UpdateDelivery(d Delivery) error
}
