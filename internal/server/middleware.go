package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// reqInfo is per-request state shared by the middleware and the handlers.
type reqInfo struct {
	id      string
	subject string
	// err is an internal error behind a 5xx, logged but never sent.
	err error
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(infoKey{}).(*reqInfo)
	return i
}

// clientRequestID accepts a caller's correlation id only if it is short and
// plain, so it cannot inject into logs or headers.
var clientRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe assigns the request id, recovers panics and writes the one access
// log line per request. It is the outermost layer so that it sees everything.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{id: r.Header.Get(api.HeaderRequestID)}
		if !clientRequestID.MatchString(info.id) {
			info.id = ids.New("req", start)
		}
		w.Header().Set(api.HeaderRequestID, info.id)
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		sw := &statusWriter{ResponseWriter: w}

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
					panic(p)
				}
				info.err = fmt.Errorf("panic: %v", p)
				if sw.status == 0 {
					writeProblem(sw, r, api.NewProblem(http.StatusInternalServerError, api.CodeInternal,
						"an unexpected error occurred; the server log has details under this request_id"))
				}
			}
			attrs := []any{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", sw.status),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", info.id),
				slog.Int64("bytes", sw.bytes),
			}
			if info.subject != "" {
				attrs = append(attrs, slog.String("subject", info.subject))
			}
			level := slog.LevelInfo
			if info.err != nil {
				attrs = append(attrs, slog.String("error", info.err.Error()))
			}
			if sw.status >= 500 {
				level = slog.LevelError
			}
			s.log.Log(r.Context(), level, "request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// methods probed to tell 405 from 404.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// route answers 404 and 405 as problems before authentication: ServeMux would
// answer them in text/plain, and an unknown route reveals nothing secret.
func (s *Server) route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); pattern != "" {
			next.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := s.mux.Handler(probe); p != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			writeProblem(w, r, api.NewProblem(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no route for %s", r.URL.Path)))
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, r, api.NewProblem(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed,
			fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", "))))
	})
}

// readBody buffers bodies of writes up to the size limit and checks their
// media type. Buffering lets the idempotency layer fingerprint the body and
// gives one clean 413, whatever reads the body later.
func (s *Server) readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := api.NewProblem(http.StatusRequestEntityTooLarge, api.CodePayloadTooLarge,
			fmt.Sprintf("request body exceeds %d bytes", s.maxBody))
		if r.ContentLength > s.maxBody {
			writeProblem(w, r, tooLarge)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeProblem(w, r, tooLarge)
				return
			}
			writeProblem(w, r, api.NewProblem(http.StatusBadRequest, api.CodeValidationFailed, "could not read the request body"))
			return
		}
		if len(body) > 0 {
			if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
				writeProblem(w, r, api.NewProblem(http.StatusUnsupportedMediaType, api.CodeUnsupportedMediaType,
					fmt.Sprintf("content type %q is not supported; send application/json", ct)))
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// publicPaths need no token.
func isPublic(path string) bool {
	return path == api.PathHealth || strings.HasPrefix(path, api.PathPrefix+"/openapi")
}

// authenticate resolves the bearer token into a principal, and rations
// requests: per token once it is known, per client address before that
// (limits.go). The health endpoint is exempt from both, so that load
// balancers and monitors never see a 429.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == api.PathHealth {
			next.ServeHTTP(w, r)
			return
		}
		if isPublic(r.URL.Path) {
			if s.admit(w, r, addrKey(r)) {
				next.ServeHTTP(w, r)
			}
			return
		}
		p, fail, err := s.principal(r)
		switch {
		case err != nil:
			writeProblem(w, r, err)
			return
		case fail != nil:
			s.refuse(w, r, fail)
			return
		}
		if info := infoFrom(r.Context()); info != nil {
			info.subject = p.Subject
		}
		if !s.admit(w, r, "token:"+p.TokenID) {
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// authFailure is why a request was not authenticated. Its reason and token
// id go to the audit log; the client gets one detail for all of them.
type authFailure struct {
	// reason is missing, malformed, unknown or expired.
	reason string
	// tokenID names the stored token when one matched (expired); never the
	// token or its hash.
	tokenID string
	detail  string
}

// Reasons of authFailure. A revoked token's record is deleted, so it is
// "unknown"; its token.revoked event names its id.
const (
	authMissing   = "missing"
	authMalformed = "malformed"
	authUnknown   = "unknown"
	authExpired   = "expired"
)

// principal resolves the bearer token. It returns a failure when the request
// is not authenticated and an error only when the store could not answer.
func (s *Server) principal(r *http.Request) (auth.Principal, *authFailure, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return auth.Principal{}, &authFailure{reason: authMissing, detail: "send Authorization: Bearer <token>"}, nil
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return auth.Principal{}, &authFailure{reason: authMalformed, detail: "the Authorization header must use the Bearer scheme"}, nil
	}
	token = strings.TrimSpace(token)
	// The same answer for malformed, unknown and expired tokens: telling them
	// apart would help someone probing for valid ones.
	const bad = "the token is invalid or expired"
	if !auth.Plausible(token) {
		return auth.Principal{}, &authFailure{reason: authMalformed, detail: bad}, nil
	}
	var rec auth.Token
	err := s.store.View(r.Context(), func(tx store.Tx) (err error) {
		rec, err = tx.TokenByHash(auth.HashToken(token))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, &authFailure{reason: authUnknown, detail: bad}, nil
	}
	if err != nil {
		return auth.Principal{}, nil, err
	}
	if !auth.Matches(token, rec.Hash) {
		return auth.Principal{}, &authFailure{reason: authUnknown, detail: bad}, nil
	}
	if rec.Expired(s.clock.Now()) {
		return auth.Principal{}, &authFailure{reason: authExpired, tokenID: rec.ID, detail: bad}, nil
	}
	return auth.Principal{Subject: rec.Subject, Groups: rec.Groups, ServerRoles: rec.ServerRoles, TokenID: rec.ID, MFAAt: rec.MFAAt}, nil, nil
}
