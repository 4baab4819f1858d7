package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// maxResponseBytes bounds how much of a response is read, so a misbehaving
// endpoint cannot exhaust the provider's memory.
const maxResponseBytes = 16 << 20

// request describes one logical call; retries repeat it unchanged.
type request struct {
	method string
	path   string // already escaped, starting with /v1
	query  url.Values
	body   any // JSON-encoded when non-nil
	// idempotencyKey, when set, is sent on every attempt so the server can
	// replay rather than repeat a create whose response was lost.
	idempotencyKey string
	// ifMatch, when > 0, makes the write conditional on this version.
	ifMatch int64
	// safe marks a POST that writes nothing (a validate_only evaluation), so
	// it may be retried like a GET.
	safe bool
}

// idempotent reports whether a transport error or 5xx may be retried.
func (r *request) idempotent() bool {
	switch r.method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return true
	case http.MethodPost:
		return r.idempotencyKey != "" || r.safe
	}
	return false
}

// newIdempotencyKey returns a random key, one per logical create. It is a
// quoted UUID, the structured-field string form of the IETF draft (and of the
// examples in API.md); the server treats it as opaque either way.
func newIdempotencyKey() (string, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return "", fmt.Errorf("generating idempotency key: %w", err)
	}
	return `"` + id.String() + `"`, nil
}

// do performs r with retries and decodes a 2xx body into out (unless out is nil
// or the status is 204). Non-2xx responses become *ProblemError; failures to
// get any response become *ConnectionError.
func (c *Client) do(ctx context.Context, r request, out any) error {
	ctx = c.logContext(ctx)
	ctx = withIdempotent(ctx, r.idempotent())

	target := c.base.String() + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("encoding %s %s request: %w", r.method, r.path, err)
		}
	}
	// retryablehttp rewinds a []byte body on every attempt; a nil interface
	// (not a nil slice) means no body at all.
	var rawBody any
	if payload != nil {
		rawBody = payload
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, target, rawBody)
	if err != nil {
		return fmt.Errorf("building %s %s request: %w", r.method, r.path, err)
	}
	req.Header.Set("Accept", "application/json, "+api.ContentTypeProblem)
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.idempotencyKey != "" {
		req.Header.Set(api.HeaderIdempotencyKey, r.idempotencyKey)
	}
	if r.ifMatch > 0 {
		req.Header.Set(api.HeaderIfMatch, api.FormatETag(r.ifMatch))
	}
	if payload != nil && tflog.SubsystemIsTrace(ctx, LogSubsystem) {
		tflog.SubsystemTrace(ctx, LogSubsystem, "Request body", map[string]any{
			"method": r.method, "path": r.path, "body": string(payload),
		})
	}

	attempts := 0
	resp, err := c.retryClient(ctx, r, &attempts).Do(req)
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("pamd %s %s: %w", r.method, r.path, ctxErr)
		}
		cerr := &ConnectionError{Endpoint: c.Endpoint(), Method: r.method, Path: r.path, Attempts: attempts, Err: err}
		tflog.SubsystemError(ctx, LogSubsystem, "Request failed without a response", map[string]any{
			"method": r.method, "path": r.path, "attempts": attempts, "error": err.Error(),
		})
		return cerr
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return &ConnectionError{Endpoint: c.Endpoint(), Method: r.method, Path: r.path, Attempts: attempts,
			Err: fmt.Errorf("reading response body: %w", err)}
	}
	if tflog.SubsystemIsTrace(ctx, LogSubsystem) && len(body) > 0 {
		tflog.SubsystemTrace(ctx, LogSubsystem, "Response body", map[string]any{
			"method": r.method, "path": r.path, "status": resp.StatusCode, "body": string(body),
		})
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		perr := decodeProblem(resp, body, r)
		tflog.SubsystemDebug(ctx, LogSubsystem, "Request returned a problem", map[string]any{
			"method": r.method, "path": r.path, "status": resp.StatusCode, "code": perr.Problem.Code,
			"request_id": perr.Problem.RequestID, "attempts": attempts,
		})
		return perr
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		// The caller decodes (or ignores) the body itself; it may be empty.
		*raw = append((*raw)[:0], body...)
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("pamd %s %s: decoding %d response: %w", r.method, r.path, resp.StatusCode, err)
	}
	return nil
}

// retryClient builds the retryablehttp client of one call. It is built per call
// because its logger and hooks carry the call's context (tflog needs it) and
// the attempt counter; the underlying http.Client and its pool are shared.
func (c *Client) retryClient(ctx context.Context, r request, attempts *int) *retryablehttp.Client {
	var started time.Time
	return &retryablehttp.Client{
		HTTPClient:   c.http,
		Logger:       leveledLogger{ctx: ctx},
		RetryWaitMin: c.waitMin,
		RetryWaitMax: c.waitMax,
		RetryMax:     c.maxRetries,
		CheckRetry:   checkRetry,
		Backoff:      backoff,
		// Hand back the last response once retries are exhausted, so a final
		// 503 or 429 surfaces as its problem rather than "giving up".
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, attempt int) {
			*attempts = attempt + 1
			started = time.Now()
			fields := map[string]any{
				"method":  req.Method,
				"path":    r.path,
				"attempt": attempt + 1,
			}
			if r.idempotencyKey != "" {
				fields["idempotency_key"] = r.idempotencyKey
			}
			if tflog.SubsystemIsTrace(ctx, LogSubsystem) {
				for name, values := range req.Header {
					fields["request_header_"+strings.ToLower(name)] = strings.Join(values, ", ")
				}
			}
			tflog.SubsystemDebug(ctx, LogSubsystem, "Sending request", fields)
		},
		ResponseLogHook: func(_ retryablehttp.Logger, resp *http.Response) {
			tflog.SubsystemDebug(ctx, LogSubsystem, "Received response", map[string]any{
				"method":      r.method,
				"path":        r.path,
				"status":      resp.StatusCode,
				"attempt":     *attempts,
				"request_id":  resp.Header.Get(api.HeaderRequestID),
				"duration_ms": time.Since(started).Milliseconds(),
			})
		},
	}
}

// decodeProblem turns an error response into a *ProblemError, synthesising a
// problem when the body is not problem+json (proxies, load balancers).
func decodeProblem(resp *http.Response, body []byte, r request) *ProblemError {
	perr := &ProblemError{Method: r.method, Path: r.path}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	decoded := false
	if mediaType == api.ContentTypeProblem || mediaType == "application/json" {
		decoded = json.Unmarshal(body, &perr.Problem) == nil && (perr.Problem.Code != "" || perr.Problem.Title != "")
	}
	if !decoded {
		perr.Problem = api.Problem{Title: http.StatusText(resp.StatusCode), Detail: snippet(body)}
	}
	// The status line is authoritative; a body may omit or misstate it.
	perr.Problem.Status = resp.StatusCode
	if perr.Problem.Title == "" {
		perr.Problem.Title = http.StatusText(resp.StatusCode)
	}
	if perr.Problem.Code == "" {
		perr.Problem.Code = codeForStatus(resp.StatusCode)
	}
	if perr.Problem.RequestID == "" {
		perr.Problem.RequestID = resp.Header.Get(api.HeaderRequestID)
	}
	return perr
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return api.CodeUnauthenticated
	case http.StatusForbidden:
		return api.CodeForbidden
	case http.StatusNotFound:
		return api.CodeNotFound
	case http.StatusTooManyRequests:
		return api.CodeRateLimited
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return api.CodeUnavailable
	}
	if status >= 500 {
		return api.CodeInternal
	}
	return ""
}

// snippet keeps a non-problem body short and printable for an error message.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(bytes.ToValidUTF8(body, []byte("?"))))
	const limit = 512
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return s
}

// Generic typed helpers: each resource adds only thin methods over these.

func getJSON[T any](ctx context.Context, c *Client, path string, query url.Values) (*T, error) {
	var out T
	if err := c.do(ctx, request{method: http.MethodGet, path: path, query: query}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// createJSON POSTs in with a fresh Idempotency-Key that every retry reuses.
func createJSON[T any](ctx context.Context, c *Client, path string, in any) (*T, error) {
	key, err := newIdempotencyKey()
	if err != nil {
		return nil, err
	}
	var out T
	if err := c.do(ctx, request{method: http.MethodPost, path: path, body: in, idempotencyKey: key}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// replaceJSON PUTs in, conditional on version (If-Match) when version > 0.
// A conditional PUT is not idempotent: if the response to an applied PUT is
// lost, a plain retry fails with 412 because the version moved. So every
// attempt carries one Idempotency-Key, and pamd replays the first outcome.
func replaceJSON[T any](ctx context.Context, c *Client, path string, version int64, in any) (*T, error) {
	key, err := newIdempotencyKey()
	if err != nil {
		return nil, err
	}
	var out T
	if err := c.do(ctx, request{method: http.MethodPut, path: path, body: in, ifMatch: version, idempotencyKey: key}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// deleteObject DELETEs path, conditional on version (If-Match) when version > 0.
func deleteObject(ctx context.Context, c *Client, path string, version int64) error {
	return c.do(ctx, request{method: http.MethodDelete, path: path, ifMatch: version}, nil)
}

// listPage GETs one page of a collection.
func listPage[T any](ctx context.Context, c *Client, path string, query url.Values, pageSize int, pageToken string) (*api.Page[T], error) {
	if query == nil {
		query = url.Values{}
	}
	if pageSize > 0 {
		query.Set("page_size", fmt.Sprint(pageSize))
	}
	if pageToken != "" {
		query.Set("page_token", pageToken)
	}
	return getJSON[api.Page[T]](ctx, c, path, query)
}

// findOne returns the single item of a name-filtered list, or a not-found
// problem, so callers treat "no such name" exactly like "no such id".
func findOne[T any](ctx context.Context, c *Client, path string, query url.Values) (*T, error) {
	page, err := listPage[T](ctx, c, path, query, 1, "")
	if err != nil {
		return nil, err
	}
	if len(page.Items) == 0 {
		return nil, &ProblemError{Method: http.MethodGet, Path: path, Problem: api.Problem{
			Status: http.StatusNotFound, Title: "Not Found", Code: api.CodeNotFound,
			Detail: fmt.Sprintf("no object matches %s", query.Encode()),
		}}
	}
	return &page.Items[0], nil
}

// objectPath joins a collection path and an id, escaping the id.
func objectPath(collection, id string) (string, error) {
	if strings.TrimSpace(id) == "" {
		return "", errors.New("id is empty")
	}
	return collection + "/" + url.PathEscape(id), nil
}
