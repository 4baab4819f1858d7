package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/idemstore"
)

// Idempotency timings (draft-ietf-httpapi-idempotency-key-header).
const (
	// idempotencyTTL is how long a completed response is replayed.
	idempotencyTTL = 24 * time.Hour
	// idempotencyLock is how long a reservation blocks retries. If the server
	// dies mid-request before anything committed, the reservation simply
	// lapses, so no key is wedged; if the mutation committed, its transaction
	// marked the reservation applied and a retry is answered from the object
	// at once (idempotency_recover.go).
	idempotencyLock = time.Minute
	maxKeyLength    = 255
)

// replayedHeaders are the response headers worth replaying; the rest
// (Date, X-Request-Id) belong to the retry itself.
var replayedHeaders = []string{"Content-Type", "Location", api.HeaderETag, "Cache-Control"}

// recorder tees the response to the client and keeps a copy to store.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// fingerprint hashes the canonical form of a JSON body, so that a retry that
// merely reorders keys or whitespace still counts as the same request. It is
// an HMAC under the server's key, not a bare hash: bodies can carry secrets
// (vault passwords, webhook keys) and a stored plain SHA-256 of a weak one
// could be brute-forced from a copy of the database.
func (s *Server) fingerprint(body []byte) string {
	if c, err := jcs.Transform(body); err == nil {
		body = c
	}
	m := hmac.New(sha256.New, s.pages.key)
	m.Write([]byte("pamd idempotency fingerprint v1\n"))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// idempotency makes writes carrying Idempotency-Key safe to retry: POST
// creates, and also PUTs, which If-Match makes non-idempotent (a retry of an
// applied conditional PUT would otherwise fail with 412).
//
// Three transactions: the reservation (here, on the undecorated store), the
// handler's mutation (which, through idemstore, also marks the reservation
// applied with its target) and the outcome (completeIdempotency). A crash
// or a lost commit acknowledgement between the last two leaves the key
// applied but not done; a retry is then answered by recoverApplied.
//
// Only the mutation's commit waits for the disk; the reservation and the
// outcome commit unsynced (store.UpdateUnsynced), which turns three fsyncs
// per keyed write into one. Nothing is lost by it: a machine crash that
// drops the reservation drops everything after it too (the log is flushed
// in order), so the request never committed and its retry runs afresh; one
// that drops the outcome leaves the key applied, answered from the object,
// or, if the request changed nothing, a reservation that start-up releases
// (SQLite) or that lapses, whose retry changes nothing either.
func (s *Server) idempotency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(api.HeaderIdempotencyKey)
		if (r.Method != http.MethodPost && r.Method != http.MethodPut) || key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > maxKeyLength || strings.IndexFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) >= 0 {
			writeProblem(w, r, api.ValidationProblem("the idempotency key is not valid",
				api.Violation{Pointer: "header:" + api.HeaderIdempotencyKey, Code: "invalid", Message: "1-255 printable ASCII characters"}))
			return
		}
		p, _ := auth.FromContext(r.Context())
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := store.IdempotencyRecord{Subject: p.Subject, Method: r.Method, Path: r.URL.Path, Key: key, Fingerprint: s.fingerprint(body)}

		if s.instance != nil {
			rec.Owner = s.instance.ID()
		}

		prior, applied, err := s.reserve(r.Context(), &rec, "")
		var held *heldElsewhere
		if errors.As(err, &held) {
			// Outside the transaction (the probe needs a connection of its
			// own): if the holder is dead, try again, taking its key.
			alive, aerr := s.instance.Alive(r.Context(), held.owner)
			switch {
			case aerr != nil:
				s.log.Warn("idempotency: could not tell whether a reservation's holder is alive", "error", aerr.Error(), "request_id", requestID(r.Context()))
				err = errInProgress()
			case alive:
				err = errInProgress()
			default:
				prior, applied, err = s.reserve(r.Context(), &rec, held.owner)
				if errors.As(err, &held) {
					err = errInProgress() // someone else took it meanwhile
				} else if err == nil {
					s.log.Info(takeoverLogLine, "dead_instance", held.owner, "request_id", requestID(r.Context()))
				}
			}
		}
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if prior != nil {
			replay(w, *prior)
			return
		}
		if applied != nil {
			s.recoverApplied(w, r, *applied)
			return
		}

		rw := &recorder{ResponseWriter: w}
		completed := false
		res := &idemstore.Reservation{Record: rec, RequestID: requestID(r.Context())}
		defer func() {
			// Runs on panic too: a failed request must free its key.
			s.completeIdempotency(r.Context(), rec, rw, completed)
		}()
		next.ServeHTTP(rw, r.WithContext(idemstore.WithReservation(r.Context(), res)))
		completed = true
	})
}

// takeoverLogLine is logged when a retry takes over the reservation of a
// dead instance (the replica tests count it).
const takeoverLogLine = "idempotency: took over the reservation of a dead instance"

// heldElsewhere is reserve's answer for a reservation that is in progress,
// locked, and recorded by another instance, owner: whether it is alive is
// asked outside the transaction.
type heldElsewhere struct{ owner string }

func (e *heldElsewhere) Error() string { return "idempotency key held by instance " + e.owner }

func errInProgress() error {
	return api.NewProblem(http.StatusConflict, api.CodeIdempotencyInProgress,
		"a request with this idempotency key is still being processed; retry shortly")
}

// reserve takes the key for rec, or returns the completed record to replay
// (prior) or the applied one to recover (applied). A reservation still
// locked by another instance is taken only when its owner is deadOwner (an
// owner found dead); otherwise reserve returns a *heldElsewhere when the
// owner can be asked about (an Instance is configured and the owner is
// recorded), or 409 in progress.
func (s *Server) reserve(ctx context.Context, rec *store.IdempotencyRecord, deadOwner string) (prior, applied *store.IdempotencyRecord, err error) {
	err = store.UpdateUnsynced(ctx, s.idem, func(tx store.Tx) error {
		prior, applied = nil, nil
		now := s.clock.Now()
		if _, err := tx.PurgeIdempotency(now); err != nil {
			return err
		}
		got, err := tx.GetIdempotency(rec.Subject, rec.Method, rec.Path, rec.Key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case got.Fingerprint != rec.Fingerprint:
			return api.NewProblem(http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused,
				"this idempotency key was used with a different request body; use a new key")
		case got.Done:
			prior = &got
			return nil
		case got.Applied():
			// The mutation committed but no response was recorded: the
			// holder died, or its commit acknowledgement was lost. Never
			// run it again; answer from the object (below).
			applied = &got
			return nil
		case !now.Before(got.LockedUntil):
			// Lapsed: its holder died or gave up before changing anything.
		case deadOwner != "" && got.Owner == deadOwner:
			// Its holder's instance is gone (checked by the caller): it
			// died before changing anything, so take it as if it lapsed.
		case s.instance != nil && got.Owner != "" && got.Owner != rec.Owner:
			return &heldElsewhere{owner: got.Owner}
		default:
			return errInProgress()
		}
		// Absent, or a reservation whose holder died before changing anything: take it.
		rec.LockedUntil, rec.ExpiresAt, rec.Header = now.Add(idempotencyLock), now.Add(idempotencyTTL), "{}"
		return tx.PutIdempotency(*rec)
	})
	return prior, applied, err
}

func (s *Server) completeIdempotency(ctx context.Context, rec store.IdempotencyRecord, rw *recorder, completed bool) {
	// The client may have gone away; the outcome must be recorded anyway.
	ctx = context.WithoutCancel(ctx)
	final := completed && rw.status > 0 && rw.status < 500
	// Responses holding secrets are never kept in the idempotency cache.
	storeIt := final && !strings.Contains(rw.Header().Get("Cache-Control"), "no-store")
	err := store.UpdateUnsynced(ctx, s.idem, func(tx store.Tx) error {
		if !final {
			// 5xx and panics are not final answers: let a retry run again,
			// unless the mutation committed (marked in its own transaction,
			// see idemstore): then the reservation stays, and the retry is
			// answered from the object. This is what turns a lost commit
			// acknowledgement (503) into a replay instead of a duplicate.
			_, err := tx.ReleaseIdempotency(rec.Subject, rec.Method, rec.Path, rec.Key)
			return err
		}
		if !storeIt {
			// A delivered answer that must not be cached (no-store).
			return tx.DeleteIdempotency(rec.Subject, rec.Method, rec.Path, rec.Key)
		}
		hb, err := replayHeaders(rw.Header(), "")
		if err != nil {
			return err
		}
		// Keep what the mutation's transaction wrote (the applied target).
		if got, err := tx.GetIdempotency(rec.Subject, rec.Method, rec.Path, rec.Key); err == nil && got.Fingerprint == rec.Fingerprint {
			rec.AppliedTargetType, rec.AppliedTargetID = got.AppliedTargetType, got.AppliedTargetID
		}
		rec.Done, rec.Status, rec.Header, rec.Body = true, rw.status, hb, rw.body.String()
		return tx.PutIdempotency(rec)
	})
	if err != nil {
		// The reservation lapses after idempotencyLock, or, if the mutation
		// committed, is answered from the object: a retry still works.
		s.log.Error("idempotency: could not record the outcome", "error", err.Error(), "request_id", requestID(ctx))
	}
}

// replayHeaders is the JSON of the replayed headers of h, plus Location when
// location is set.
func replayHeaders(h http.Header, location string) (string, error) {
	m := map[string]string{}
	for _, name := range replayedHeaders {
		if v := h.Get(name); v != "" {
			m[name] = v
		}
	}
	if location != "" {
		m["Location"] = location
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func replay(w http.ResponseWriter, rec store.IdempotencyRecord) {
	var h map[string]string
	if err := json.Unmarshal([]byte(rec.Header), &h); err == nil {
		for k, v := range h {
			w.Header().Set(k, v)
		}
	}
	w.Header().Set(api.HeaderIdempotencyReplayed, "true")
	w.WriteHeader(rec.Status)
	_, _ = io.WriteString(w, rec.Body)
}

func requestID(ctx context.Context) string {
	if i := infoFrom(ctx); i != nil {
		return i.id
	}
	return ""
}
