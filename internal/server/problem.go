package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// retryAfterSeconds is what 503 and 429 answers suggest.
const retryAfterSeconds = 1

// toProblem turns any error into the problem sent to the client. Unknown
// errors become a bare 500: their text stays in the log, never on the wire.
func toProblem(ctx context.Context, err error) *api.Problem {
	var p *api.Problem
	if errors.As(err, &p) {
		return p
	}
	info := infoFrom(ctx)
	if info != nil {
		info.err = err
	}
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return api.NewProblem(http.StatusServiceUnavailable, api.CodeUnavailable, "the store is unavailable; retry later")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return api.NewProblem(http.StatusServiceUnavailable, api.CodeUnavailable, "the request was cancelled or timed out")
	}
	return api.NewProblem(http.StatusInternalServerError, api.CodeInternal, "an unexpected error occurred; the server log has details under this request_id")
}

// finish fills the per-request members of a problem.
func finish(ctx context.Context, p *api.Problem, path string) *api.Problem {
	cp := *p
	if info := infoFrom(ctx); info != nil {
		cp.RequestID = info.id
	}
	if cp.Instance == "" {
		cp.Instance = path
	}
	if cp.Type == "" {
		cp.Type = api.ProblemTypeBase + cp.Code
	}
	return &cp
}

func problemHeaders(p *api.Problem, h http.Header) {
	switch p.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if h.Get(api.HeaderRetryAfter) == "" { // a rate limiter knows the real wait
			h.Set(api.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds))
		}
	case http.StatusConflict:
		if p.Code == api.CodeIdempotencyInProgress {
			h.Set(api.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds))
		}
	case http.StatusUnauthorized:
		if p.Code == api.CodeStepUpRequired {
			// RFC 9470: the token is fine but lacks a recent enough MFA.
			c := `Bearer realm="pamd", error="insufficient_user_authentication", error_description="a more recent MFA is required"`
			if p.MFAMaxAgeSeconds != nil {
				c += ", max_age=" + strconv.FormatInt(*p.MFAMaxAgeSeconds, 10)
			}
			h.Set("WWW-Authenticate", c)
			return
		}
		h.Set("WWW-Authenticate", `Bearer realm="pamd"`)
	}
}

// writeProblem is the one writer of problem+json outside huma handlers.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := finish(r.Context(), toProblem(r.Context(), err), r.URL.Path)
	problemHeaders(p, w.Header())
	w.Header().Set("Content-Type", api.ContentTypeProblem)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// humaProblem adapts api.Problem to huma's error interfaces, so that errors
// raised inside huma (validation, body limits) and by our handlers share one
// shape. It marshals exactly as api.Problem.
type humaProblem struct{ *api.Problem }

func (e humaProblem) GetStatus() int { return e.Status }

// ContentType forces problem+json whatever the negotiated format.
func (e humaProblem) ContentType(string) string { return api.ContentTypeProblem }

func (e humaProblem) MarshalJSON() ([]byte, error) { return json.Marshal(e.Problem) }

// humaError converts a handler error for huma, with the headers it needs.
func humaError(ctx context.Context, path string, err error) error {
	p := finish(ctx, toProblem(ctx, err), path)
	h := http.Header{}
	problemHeaders(p, h)
	if len(h) == 0 {
		return humaProblem{p}
	}
	return huma.ErrorWithHeaders(humaProblem{p}, h)
}

var (
	indexRE     = regexp.MustCompile(`\[(\d+)\]`)
	installOnce sync.Once
)

// pointerFromLocation turns huma's "body.assignable_scopes[0]" into the RFC
// 6901 pointer "/assignable_scopes/0", and "query.page_size" into
// "query:page_size", the forms api.Violation documents.
func pointerFromLocation(loc string) string {
	where, rest, _ := strings.Cut(loc, ".")
	switch where {
	case "body":
		if rest == "" {
			return ""
		}
		rest = indexRE.ReplaceAllString(rest, ".$1")
		parts := strings.Split(rest, ".")
		for i, p := range parts {
			parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
		}
		return "/" + strings.Join(parts, "/")
	case "query", "header", "path", "cookie":
		return where + ":" + rest
	}
	return loc
}

var statusCodes = map[int]string{
	http.StatusBadRequest:            api.CodeValidationFailed,
	http.StatusUnprocessableEntity:   api.CodeValidationFailed,
	http.StatusUnauthorized:          api.CodeUnauthenticated,
	http.StatusForbidden:             api.CodeForbidden,
	http.StatusNotFound:              api.CodeNotFound,
	http.StatusMethodNotAllowed:      api.CodeMethodNotAllowed,
	http.StatusRequestEntityTooLarge: api.CodePayloadTooLarge,
	http.StatusUnsupportedMediaType:  api.CodeUnsupportedMediaType,
	http.StatusTooManyRequests:       api.CodeRateLimited,
	http.StatusServiceUnavailable:    api.CodeUnavailable,
}

// installHumaErrors replaces huma's error constructors. They are package
// globals in huma, so this happens once per process; nothing in them depends
// on a particular server.
func installHumaErrors() {
	installOnce.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			return humaProblem{fromHuma(status, msg, errs)}
		}
		huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			p := fromHuma(status, msg, errs)
			if p.Status >= 500 {
				// Internal details stay in the log.
				if info := infoFrom(hctx.Context()); info != nil && len(errs) > 0 {
					info.err = errors.Join(errs...)
				}
			}
			u := hctx.URL()
			return humaProblem{finish(hctx.Context(), p, u.Path)}
		}
	})
}

func fromHuma(status int, msg string, errs []error) *api.Problem {
	code, ok := statusCodes[status]
	if !ok {
		if status >= 500 {
			return api.NewProblem(http.StatusInternalServerError, api.CodeInternal, "an unexpected error occurred")
		}
		code = api.CodeValidationFailed
	}
	if code == api.CodeValidationFailed {
		// validation_failed is a 400 in our catalogue, whatever huma chose.
		status = http.StatusBadRequest
	}
	p := api.NewProblem(status, code, msg)
	for _, e := range errs {
		if e == nil {
			continue
		}
		var d huma.ErrorDetailer
		if errors.As(e, &d) {
			det := d.ErrorDetail()
			// det.Value is deliberately dropped: echoing input could echo secrets.
			p.Violations = append(p.Violations, api.Violation{Pointer: pointerFromLocation(det.Location), Code: "invalid", Message: det.Message})
			continue
		}
		p.Violations = append(p.Violations, api.Violation{Code: "invalid", Message: e.Error()})
	}
	return p
}
