// Package idemstore closes the crash window of idempotent requests: it
// decorates a store.Store so that the first mutating transaction of a request
// carrying an idempotency reservation also marks that reservation applied,
// with the target of the mutation's audit event, before it commits. If pamd
// then dies before it records the response (or the commit acknowledgement is
// lost), a retry finds the reservation applied and answers from the object
// instead of running the request again.
//
// The decorator is engine-independent and does nothing for contexts without
// a reservation (background workers, the idempotency middleware's own
// transactions).
package idemstore

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Reservation is the idempotency key a request holds. It is shared by the
// request's transactions: only the first that commits an audited change
// marks it.
type Reservation struct {
	// Record is the reservation as the middleware wrote it.
	Record store.IdempotencyRecord
	// RequestID is the request's id. When set, only audit events recorded on
	// behalf of this request (Request.RequestID) count: side effects in the
	// same transaction, such as the system expiring an earlier checkout
	// before a new one is created, are about other objects.
	RequestID string

	mu                   sync.Mutex
	targetType, targetID string
}

// Applied returns the target recorded for the request, if any of its
// transactions committed an audited change.
func (r *Reservation) Applied() (targetType, targetID string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.targetType, r.targetID, r.targetType != ""
}

type ctxKey struct{}

// WithReservation returns ctx carrying res.
func WithReservation(ctx context.Context, res *Reservation) context.Context {
	return context.WithValue(ctx, ctxKey{}, res)
}

// FromContext returns the reservation ctx carries, or nil.
func FromContext(ctx context.Context) *Reservation {
	r, _ := ctx.Value(ctxKey{}).(*Reservation)
	return r
}

// Store marks reservations applied; see the package comment.
type Store struct {
	store.Store
}

// Wrap decorates s (once: a decorated store is returned as it is).
func Wrap(s store.Store) store.Store {
	if _, ok := s.(*Store); ok {
		return s
	}
	return &Store{Store: s}
}

// Unwrap returns the store under the decorator, or s itself.
func Unwrap(s store.Store) store.Store {
	if d, ok := s.(*Store); ok {
		return d.Store
	}
	return s
}

// Update runs fn; for a request holding a reservation that nothing marked
// yet, a successful fn that appended a successful audit event about an
// object also marks the reservation applied, in the same transaction.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	res := FromContext(ctx)
	if res == nil {
		return s.Store.Update(ctx, fn)
	}
	if _, _, done := res.Applied(); done {
		return s.Store.Update(ctx, fn)
	}
	var typ, id string
	err := s.Store.Update(ctx, func(inner store.Tx) error {
		// The engine may run fn again (a serialisation retry): start afresh.
		typ, id = "", ""
		tx := &auditTx{Tx: inner, requestID: res.RequestID}
		if err := fn(tx); err != nil {
			return err
		}
		if tx.targetType == "" {
			return nil
		}
		if err := markApplied(inner, res.Record, tx.targetType, tx.targetID); err != nil {
			return err
		}
		typ, id = tx.targetType, tx.targetID
		return nil
	})
	if err == nil && typ != "" {
		res.mu.Lock()
		if res.targetType == "" {
			res.targetType, res.targetID = typ, id
		}
		res.mu.Unlock()
	}
	return err
}

// ErrTakenOver refuses the mutation of a request whose reservation another
// pamd instance has taken over, believing this one dead (a replica whose
// liveness lock connection dropped while the request ran). The other
// instance runs the request; this attempt must change nothing, and its
// client, retrying, gets the other's answer.
var ErrTakenOver = api.NewProblem(http.StatusConflict, api.CodeIdempotencyInProgress,
	"a request with this idempotency key is being processed by another pamd instance; retry shortly")

// markApplied writes the applied target into the reservation, unless another
// instance took the reservation over meanwhile (ErrTakenOver: the
// transaction rolls back). A record already applied (by an earlier holder of
// the key) keeps its target, and a Done record is left alone: its response
// is the answer.
func markApplied(tx store.Tx, res store.IdempotencyRecord, typ, id string) error {
	rec, err := tx.GetIdempotency(res.Subject, res.Method, res.Path, res.Key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		rec = res
	case err != nil:
		return err
	case rec.Owner != res.Owner:
		// Checked before Done and applied: the taker may even have
		// finished, and this attempt would then be a second execution.
		return ErrTakenOver
	case rec.Done || rec.Applied():
		return nil
	}
	rec.AppliedTargetType, rec.AppliedTargetID = typ, id
	return tx.PutIdempotency(rec)
}

// auditTx notes the target of the first successful audit event that names
// an object on behalf of the request. Refusals and failures are audited too,
// but change nothing.
type auditTx struct {
	store.Tx
	requestID            string
	targetType, targetID string
}

func (t *auditTx) AppendAudit(ev *api.AuditEvent) error {
	if err := t.Tx.AppendAudit(ev); err != nil {
		return err
	}
	if t.targetType == "" && ev.Outcome == api.OutcomeSuccess && ev.Target.Type != "" && ev.Target.ID != "" &&
		(t.requestID == "" || ev.Request.RequestID == t.requestID) {
		t.targetType, t.targetID = ev.Target.Type, ev.Target.ID
	}
	return nil
}
