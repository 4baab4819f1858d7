package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/clock"
)

// Delivery is one event to one target, as kept in the store's outbox.
type Delivery struct {
	// ID identifies the outbox row (not the event: one event fans out to one
	// delivery per target).
	ID     string
	Target Target
	Event  Event
	// Attempts is the number of attempts already made.
	Attempts int
	// CreatedAt starts the Policy's MaxAge.
	CreatedAt time.Time
	// NextAttemptAt is when the delivery is due.
	NextAttemptAt time.Time
	// LastError is the previous attempt's error, empty before the first.
	LastError string
}

// Outbox is the durable queue of deliveries, implemented by the store.
//
// Due returns at most limit pending deliveries whose NextAttemptAt <= now,
// oldest first. With several workers (replicas) it must claim what it
// returns, for example by moving NextAttemptAt forward by a lease longer than
// one attempt (Deliverer timeout), in the same statement; an attempt whose
// worker died then becomes due again when the lease ends.
//
// The Mark methods record an attempt's outcome and its total attempt count.
// MarkDelivered and MarkFailed are final: the delivery is no longer due.
// MarkFailed is where the store flags the elevation (activation_failed or a
// provisioning warning) and appends the audit event, in one transaction.
// lastErr never contains the target secret.
type Outbox interface {
	Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	MarkDelivered(ctx context.Context, id string, attempts int, at time.Time) error
	MarkRetry(ctx context.Context, id string, attempts int, next time.Time, lastErr string) error
	MarkFailed(ctx context.Context, id string, attempts int, at time.Time, lastErr string) error
}

// DefaultBatchSize is how many deliveries RunOnce takes when BatchSize is 0.
const DefaultBatchSize = 100

// maxErrorLength bounds a stored lastErr.
const maxErrorLength = 1024

// Worker drains due deliveries from an Outbox, one attempt each.
type Worker struct {
	Outbox Outbox
	Sender Sender
	Policy Policy
	// Clock stamps outcomes and drives Run; nil means clock.Real.
	Clock clock.Clock
	// BatchSize is the most deliveries one RunOnce attempts.
	BatchSize int
	// Logger receives one line per outcome (never the secret); nil discards.
	Logger *slog.Logger
}

// Result counts the outcomes of one RunOnce.
type Result struct {
	Delivered int
	Retried   int
	Failed    int
}

// RunOnce attempts every delivery due at now (up to BatchSize), one after
// the other, and records each outcome in the Outbox. It stops early, leaving
// the rest due, when ctx ends or the Outbox fails.
func (w *Worker) RunOnce(ctx context.Context, now time.Time) (Result, error) {
	var res Result
	if w.Outbox == nil || w.Sender == nil {
		return res, errors.New("provision: worker needs an Outbox and a Sender")
	}
	limit := w.BatchSize
	if limit <= 0 {
		limit = DefaultBatchSize
	}
	due, err := w.Outbox.Due(ctx, now, limit)
	if err != nil {
		return res, fmt.Errorf("provision: list due deliveries: %w", err)
	}
	for _, d := range due {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("provision: %w", err)
		}
		outcome, err := w.attempt(ctx, d)
		if err != nil {
			return res, err
		}
		switch outcome {
		case outcomeDelivered:
			res.Delivered++
		case outcomeRetry:
			res.Retried++
		case outcomeFailed:
			res.Failed++
		}
	}
	return res, nil
}

type outcome int

const (
	outcomeDelivered outcome = iota
	outcomeRetry
	outcomeFailed
	outcomeAborted
)

func (w *Worker) attempt(ctx context.Context, d Delivery) (outcome, error) {
	attempts := d.Attempts + 1
	ev := d.Event
	ev.Attempt = attempts
	sendErr := w.Sender.Deliver(ctx, d.Target, ev)
	if sendErr != nil && ctx.Err() != nil {
		// Shutting down: the attempt does not count and the delivery stays due.
		return outcomeAborted, fmt.Errorf("provision: %w", ctx.Err())
	}
	at := w.clock().Now()
	log := w.logger().With(
		slog.String("delivery_id", d.ID), slog.String("event_id", ev.ID),
		slog.String("event_type", string(ev.Type)), slog.Any("target", d.Target),
		slog.Int("attempt", attempts))
	if sendErr == nil {
		if err := w.Outbox.MarkDelivered(ctx, d.ID, attempts, at); err != nil {
			return 0, fmt.Errorf("provision: mark %s delivered: %w", d.ID, err)
		}
		log.Info("webhook delivered")
		return outcomeDelivered, nil
	}
	msg := errorText(sendErr, d.Target.Secret)
	if !IsPermanent(sendErr) {
		if next, ok := w.Policy.Next(attempts, d.CreatedAt, at, RetryAfterOf(sendErr)); ok {
			if err := w.Outbox.MarkRetry(ctx, d.ID, attempts, next, msg); err != nil {
				return 0, fmt.Errorf("provision: mark %s for retry: %w", d.ID, err)
			}
			log.Warn("webhook delivery failed, will retry", slog.String("error", msg), slog.Time("next_attempt_at", next))
			return outcomeRetry, nil
		}
		msg = errorText(fmt.Errorf("gave up after %d attempts: %w", attempts, sendErr), d.Target.Secret)
	}
	if err := w.Outbox.MarkFailed(ctx, d.ID, attempts, at, msg); err != nil {
		return 0, fmt.Errorf("provision: mark %s failed: %w", d.ID, err)
	}
	log.Error("webhook delivery failed", slog.String("error", msg))
	return outcomeFailed, nil
}

// Run calls RunOnce every interval until ctx ends, logging (not returning)
// errors. It returns ctx's error.
func (w *Worker) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if _, err := w.RunOnce(ctx, w.clock().Now()); err != nil && ctx.Err() == nil {
			w.logger().Error("webhook worker pass failed", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("provision: worker stopped: %w", ctx.Err())
		case <-ticker.C:
		}
	}
}

func (w *Worker) clock() clock.Clock {
	if w.Clock == nil {
		return clock.Real{}
	}
	return w.Clock
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

// errorText renders err for storage: bounded, and with the secret removed as
// a last line of defence (no error built here contains it).
func errorText(err error, secret string) string {
	s := err.Error()
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "[REDACTED]")
	}
	if len(s) > maxErrorLength {
		s = s[:maxErrorLength]
	}
	return s
}
