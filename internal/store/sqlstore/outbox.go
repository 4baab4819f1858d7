package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/provision"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// --- role webhooks ---

func (t *tx) GetRoleWebhooks(roleID string) ([]store.RoleWebhook, error) {
	rows, err := t.query(`SELECT url, secret, secret_version FROM role_webhooks
		WHERE role_id = $1 ORDER BY position`, roleID)
	if err != nil {
		return nil, t.mapErr(err)
	}
	defer rows.Close()
	out := []store.RoleWebhook{}
	for rows.Next() {
		var h store.RoleWebhook
		if err := rows.Scan(&h.URL, &h.Secret, &h.SecretVersion); err != nil {
			return nil, t.mapErr(err)
		}
		out = append(out, h)
	}
	return out, t.mapErr(rows.Err())
}

func (t *tx) PutRoleWebhooks(roleID string, hooks []store.RoleWebhook) error {
	if _, err := t.exec(`DELETE FROM role_webhooks WHERE role_id = $1`, roleID); err != nil {
		return err
	}
	for i, h := range hooks {
		if _, err := t.exec(`INSERT INTO role_webhooks (role_id, position, url, secret, secret_version)
			VALUES ($1, $2, $3, $4, $5)`, roleID, i, h.URL, h.Secret, h.SecretVersion); err != nil {
			return err
		}
	}
	return nil
}

// --- provisioning outbox ---

const deliveryCols = `id, elevation_id, event, target_url, attempts, next_attempt_at, created_at,
	delivered_at, failed_at, last_error`

func (t *tx) scanDelivery(s scanner) (store.Delivery, error) {
	var d store.Delivery
	var event, next, created string
	var delivered, failed sql.NullString
	if err := s.Scan(&d.ID, &d.ElevationID, &event, &d.URL, &d.Attempts, &next, &created,
		&delivered, &failed, &d.LastError); err != nil {
		return d, t.mapErr(err)
	}
	ev, err := decodeBody[provision.Event]("delivery event", event)
	if err != nil {
		return d, err
	}
	d.Event = ev
	if d.NextAttemptAt, err = parseTS(next); err != nil {
		return d, err
	}
	if d.CreatedAt, err = parseTS(created); err != nil {
		return d, err
	}
	if d.DeliveredAt, err = parseNullTS(delivered); err != nil {
		return d, err
	}
	if d.FailedAt, err = parseNullTS(failed); err != nil {
		return d, err
	}
	return d, nil
}

func parseNullTS(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTS(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *tx) InsertDelivery(d store.Delivery) error {
	ev, err := json.Marshal(d.Event)
	if err != nil {
		return fmt.Errorf("delivery event: %w", err)
	}
	_, err = t.exec(`INSERT INTO provisioning_deliveries (id, elevation_id, event_type, event, target_url, attempts,
		next_attempt_at, created_at, delivered_at, failed_at, last_error) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		d.ID, d.ElevationID, string(d.Event.Type), string(ev), d.URL, d.Attempts, ts(d.NextAttemptAt), ts(d.CreatedAt),
		nullTS(d.DeliveredAt), nullTS(d.FailedAt), d.LastError)
	return err
}

func (t *tx) ClaimDueDeliveries(now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	rows, err := t.query(`SELECT `+deliveryCols+` FROM provisioning_deliveries
		WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
		ORDER BY next_attempt_at, created_at, id LIMIT $2`, ts(now), max(limit, 1))
	if err != nil {
		return nil, t.mapErr(err)
	}
	var out []store.Delivery
	for rows.Next() {
		d, err := t.scanDelivery(rows)
		if err != nil {
			_ = rows.Close()
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Close(); err != nil {
		return nil, t.mapErr(err)
	}
	if err := rows.Err(); err != nil {
		return nil, t.mapErr(err)
	}
	// Writers are serialised on both engines (SQLite's write lock, the
	// PostgreSQL store's writer lock in Update), so the batch is claimed by
	// the write transaction itself: select-then-update cannot race another
	// claimer, on this replica or another. No SKIP LOCKED needed.
	leased := now.Add(lease)
	for i := range out {
		if _, err := t.exec(`UPDATE provisioning_deliveries SET next_attempt_at = $1 WHERE id = $2`, ts(leased), out[i].ID); err != nil {
			return nil, err
		}
		out[i].NextAttemptAt = leased.UTC()
	}
	return out, nil
}

func (t *tx) GetDelivery(id string) (store.Delivery, error) {
	return t.scanDelivery(t.queryRow(`SELECT `+deliveryCols+` FROM provisioning_deliveries WHERE id = $1`, id))
}

func (t *tx) ListDeliveries(f store.DeliveryFilter) ([]store.Delivery, error) {
	return queryAll(t, t.scanDelivery, `SELECT `+deliveryCols+` FROM provisioning_deliveries
		WHERE ($1 = '' OR elevation_id = $1) AND ($2 = '' OR event_type = $2)
		ORDER BY created_at, id`, f.ElevationID, string(f.EventType))
}

func (t *tx) UpdateDelivery(d store.Delivery) error {
	return t.execOne(`UPDATE provisioning_deliveries SET attempts = $1, next_attempt_at = $2, delivered_at = $3,
		failed_at = $4, last_error = $5 WHERE id = $6`,
		d.Attempts, ts(d.NextAttemptAt), nullTS(d.DeliveredAt), nullTS(d.FailedAt), d.LastError, d.ID)
}
