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
)

// Idempotency timings (draft-ietf-httpapi-idempotency-key-header).
const (
	// idempotencyTTL is how long a completed response is replayed.
	idempotencyTTL = 24 * time.Hour
	// idempotencyLock is how long a reservation blocks retries. If the server
	// dies mid-request the reservation simply lapses, so no key is wedged.
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

		var prior *store.IdempotencyRecord
		err = s.store.Update(r.Context(), func(tx store.Tx) error {
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
			case now.Before(got.LockedUntil):
				return api.NewProblem(http.StatusConflict, api.CodeIdempotencyInProgress,
					"a request with this idempotency key is still being processed; retry shortly")
			}
			// Absent, or a reservation whose holder died: take it.
			rec.LockedUntil, rec.ExpiresAt, rec.Header = now.Add(idempotencyLock), now.Add(idempotencyTTL), "{}"
			return tx.PutIdempotency(rec)
		})
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if prior != nil {
			replay(w, *prior)
			return
		}

		rw := &recorder{ResponseWriter: w}
		completed := false
		defer func() {
			// Runs on panic too: a failed request must free its key.
			s.completeIdempotency(r.Context(), rec, rw, completed)
		}()
		next.ServeHTTP(rw, r)
		completed = true
	})
}

func (s *Server) completeIdempotency(ctx context.Context, rec store.IdempotencyRecord, rw *recorder, completed bool) {
	// The client may have gone away; the outcome must be recorded anyway.
	ctx = context.WithoutCancel(ctx)
	storeIt := completed && rw.status > 0 && rw.status < 500 &&
		// Responses holding secrets are never kept in the idempotency cache.
		!strings.Contains(rw.Header().Get("Cache-Control"), "no-store")
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if !storeIt {
			// 5xx and panics are not final answers: let a retry run again.
			return tx.DeleteIdempotency(rec.Subject, rec.Method, rec.Path, rec.Key)
		}
		h := map[string]string{}
		for _, name := range replayedHeaders {
			if v := rw.Header().Get(name); v != "" {
				h[name] = v
			}
		}
		hb, err := json.Marshal(h)
		if err != nil {
			return err
		}
		rec.Done, rec.Status, rec.Header, rec.Body = true, rw.status, string(hb), rw.body.String()
		return tx.PutIdempotency(rec)
	})
	if err != nil {
		// The reservation lapses after idempotencyLock, so a retry still works.
		s.log.Error("idempotency: could not record the outcome", "error", err.Error(), "request_id", requestID(ctx))
	}
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
