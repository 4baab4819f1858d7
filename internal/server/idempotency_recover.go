package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Audit target types that have no catalog constant of their own here.
const (
	targetTypeToken = "token"
)

// targetCollections maps every audit target type that a POST or PUT endpoint
// records to the collection whose item (collection/id) is its canonical
// representation. An empty collection means the object has no readable
// representation: a request applied without a recorded response is answered
// 409 idempotency_outcome_lost, naming the object. TestIdempotencyTargetTable
// fails when a POST/PUT endpoint's target type is missing here.
var targetCollections = map[string]string{
	"role":                         api.PathRoles,
	"activation_policy":            api.PathActivationPolicies,
	"eligible_role_assignment":     api.PathEligibleRoleAssignments,
	"elevation":                    api.PathElevations,
	api.TargetTypeRotationSchedule: api.PathRotationSchedules,
	"operation":                    api.PathOperations,
	"safe":                         api.PathSafes,
	api.TargetTypeVaultAccount:     api.PathVaultAccounts,
	"checkout":                     api.PathCheckouts,
	"session_policy":               api.PathSessionPolicies,
	"session":                      api.PathSessions,
	"session_recording":            api.PathSessionRecordings,
	// No item to read: SSH keys are listed, tokens and MFA enrolments hold
	// secrets shown once.
	"ssh_key":       "",
	targetTypeToken: "",
	auditTypeTOTP:   "",
}

// recoverApplied answers a retry whose original request committed its
// mutation but recorded no response: from the object's current
// representation, read with the caller's identity through the server's own
// GET handler, with the status the original would have had. It never runs
// the request again.
func (s *Server) recoverApplied(w http.ResponseWriter, r *http.Request, rec store.IdempotencyRecord) {
	typ, id := rec.AppliedTargetType, rec.AppliedTargetID
	lost := func(why string) {
		writeProblem(w, r, api.NewProblem(http.StatusConflict, api.CodeIdempotencyOutcomeLost, fmt.Sprintf(
			"the request with this idempotency key was applied to %s %q, but its response was lost and %s; "+
				"the change is in effect: read or import %s %q instead of retrying", typ, id, why, typ, id)))
	}
	coll, ok := targetCollections[typ]
	if !ok || coll == "" {
		lost("that object has no representation to answer from")
		return
	}
	item := coll + "/" + url.PathEscape(id)
	orig, get := s.operationFor(r.Method, r.URL.Path), s.operationFor(http.MethodGet, item)
	status := http.StatusOK
	if orig != nil && (orig.DefaultStatus == http.StatusCreated || orig.DefaultStatus == http.StatusAccepted) {
		status = orig.DefaultStatus
	}
	// The object must be what the original answers with: an endpoint whose
	// first audited object is not its answer cannot be recovered this way.
	if orig == nil || get == nil || responseSchema(orig, status) == "" || responseSchema(orig, status) != responseSchema(get, http.StatusOK) {
		lost("the object's representation is not what this endpoint answers with")
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, item, nil)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	req.Header.Set("Accept", "application/json")
	got := newBufferedResponse()
	s.mux.ServeHTTP(got, req)
	if got.status != http.StatusOK {
		lost("the object cannot be read now (status " + strconv.Itoa(got.status) + ")")
		return
	}
	location := ""
	if status != http.StatusOK {
		location = item
	}
	hb, err := replayHeaders(got.header, location)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	out := rec
	out.Done, out.Status, out.Header, out.Body = true, status, hb, got.body.String()
	// A representation that must not be cached is answered, never stored.
	if !strings.Contains(got.header.Get("Cache-Control"), "no-store") {
		err := store.UpdateUnsynced(context.WithoutCancel(r.Context()), s.idem, func(tx store.Tx) error {
			cur, err := tx.GetIdempotency(rec.Subject, rec.Method, rec.Path, rec.Key)
			if err != nil || cur.Done || cur.Fingerprint != rec.Fingerprint {
				return err //nolint:nilerr // gone or answered meanwhile: keep that
			}
			return tx.PutIdempotency(out)
		})
		if err != nil {
			s.log.Error("idempotency: could not record the recovered outcome", "error", err.Error(), "request_id", requestID(r.Context()))
		}
	}
	s.log.Info("idempotency: answered a retry from the applied object", "target_type", typ, "target_id", id,
		"request_id", requestID(r.Context()))
	replay(w, out)
}

// operationFor finds the operation serving method on a concrete path; a
// literal segment beats a path parameter.
func (s *Server) operationFor(method, path string) *huma.Operation {
	segs := strings.Split(path, "/")
	var best *huma.Operation
	bestParams := len(segs) + 1
	for tmpl, item := range s.api.OpenAPI().Paths {
		t := strings.Split(tmpl, "/")
		if len(t) != len(segs) {
			continue
		}
		params := 0
		for i := range t {
			switch {
			case t[i] == segs[i]:
			case strings.HasPrefix(t[i], "{") && strings.HasSuffix(t[i], "}") && segs[i] != "":
				params++
			default:
				params = len(segs) + 1
			}
		}
		if params >= bestParams {
			continue
		}
		var op *huma.Operation
		switch method {
		case http.MethodGet:
			op = item.Get
		case http.MethodPost:
			op = item.Post
		case http.MethodPut:
			op = item.Put
		}
		if op != nil {
			best, bestParams = op, params
		}
	}
	return best
}

// responseSchema names the JSON schema of op's response with that status.
func responseSchema(op *huma.Operation, status int) string {
	r := op.Responses[strconv.Itoa(status)]
	if r == nil {
		return ""
	}
	c := r.Content["application/json"]
	if c == nil || c.Schema == nil {
		return ""
	}
	return c.Schema.Ref
}

// bufferedResponse keeps an internal response in memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse { return &bufferedResponse{header: http.Header{}} }

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
