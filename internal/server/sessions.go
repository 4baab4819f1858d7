package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

type sessionOutput struct {
	Body api.Session
}

type sessionIDInput struct {
	ID string `path:"id" doc:"Session id (ses_...)."`
}

type terminateSessionInput struct {
	ID   string `path:"id" doc:"Session id (ses_...)."`
	Body *api.SessionTerminateRequest
}

type listSessionsInput struct {
	api.SessionListParams
}

type sessionListOutput struct {
	Body api.Page[api.Session]
}

type recordingOutput struct {
	Body api.SessionRecording
}

type recordingIDInput struct {
	ID string `path:"id" doc:"Session recording id (rec_...)."`
}

type listRecordingsInput struct {
	api.SessionRecordingListParams
}

type recordingListOutput struct {
	Body api.Page[api.SessionRecording]
}

type recordingDownloadOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	CacheControl       string `header:"Cache-Control"`
	Digest             string `header:"X-Content-SHA256"`
	Body               []byte
}

const (
	sessionItemPath   = api.PathSessions + "/{id}"
	recordingItemPath = api.PathSessionRecordings + "/{id}"
)

// registerSessions registers session policies, sessions and recordings.
func (s *Server) registerSessions(ss *catalog.Sessions) {
	s.registerSessionPolicies(ss)
	tags := []string{"sessions"}

	register(s, huma.Operation{
		OperationID: "list-sessions", Method: http.MethodGet, Path: api.PathSessions, Summary: "List sessions", Tags: tags,
		Description: "Admin, security and auditor see every session; others only their own. state is comma-separated; " +
			"principal_id is \"type:id\"; started_after is RFC 3339. Ordered by id (start order).",
	}, func(ctx context.Context, in *listSessionsInput) (*sessionListOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathSessions)
		if err != nil {
			return nil, err
		}
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		f := store.SessionFilter{VaultAccountID: in.VaultAccountID, SessionPolicyID: in.SessionPolicyID}
		var vs []api.Violation
		if in.PrincipalID != "" {
			t, id, ok := strings.Cut(in.PrincipalID, ":")
			if !ok || t == "" || id == "" {
				vs = append(vs, api.Violation{Pointer: "query:principal_id", Code: "pattern", Message: `principal_id must be "type:id", e.g. "user:alice"`})
			}
			f.PrincipalType, f.PrincipalID = t, id
		}
		for _, st := range strings.Split(in.State, ",") {
			if st = strings.TrimSpace(st); st == "" {
				continue
			}
			if !contains(api.SessionStates, st) {
				vs = append(vs, api.Violation{Pointer: "query:state", Code: "invalid_enum",
					Message: "state must be one of " + strings.Join(api.SessionStates, ", ")})
				break
			}
			f.States = append(f.States, st)
		}
		if in.StartedAfter != "" {
			t, err := time.Parse(time.RFC3339, in.StartedAfter)
			if err != nil {
				vs = append(vs, api.Violation{Pointer: "query:started_after", Code: "pattern", Message: "started_after must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z"})
			}
			f.StartedAfter = t
		}
		if len(vs) > 0 {
			return nil, api.ValidationProblem("query parameters are not valid", vs...)
		}
		filter := "state=" + in.State + "&principal_id=" + in.PrincipalID + "&vault_account_id=" + in.VaultAccountID +
			"&session_policy_id=" + in.SessionPolicyID + "&started_after=" + in.StartedAfter
		if f.AfterID, err = s.after(in.PageToken, "sessions", filter); err != nil {
			return nil, err
		}
		f.Limit = size + 1
		items, err := ss.ListSessions(ctx, c, f)
		if err != nil {
			return nil, err
		}
		return &sessionListOutput{Body: paginate(s, items, size, "sessions", filter, func(x api.Session) string { return x.ID })}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-session", Method: http.MethodGet, Path: sessionItemPath, Summary: "Read a session", Tags: tags,
		Description: "Admin, security and auditor read any session; others only their own (403 otherwise).",
	}, func(ctx context.Context, in *sessionIDInput) (*sessionOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathSessions+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		out, err := ss.GetSession(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return &sessionOutput{Body: out}, nil
	})

	register(s, huma.Operation{
		OperationID: "terminate-session", Method: http.MethodPost, Path: sessionItemPath + "/" + api.ActionTerminate,
		Summary: "Terminate a session", Tags: tags,
		Description: "Requires admin or security; audited as session.terminated. The session becomes terminating and the " +
			"gateway cuts it (it then ends as terminated with end_reason terminated_by_admin); a session no gateway holds " +
			"live ends at once. 409 invalid_state_transition when it has already ended.",
	}, func(ctx context.Context, in *terminateSessionInput) (*sessionOutput, error) {
		path := api.PathSessions + "/" + in.ID + "/" + api.ActionTerminate
		c, err := caller(ctx, http.MethodPost, path)
		if err != nil {
			return nil, err
		}
		reason := ""
		if in.Body != nil {
			reason = in.Body.Reason
		}
		out, err := ss.TerminateSession(ctx, c, in.ID, reason)
		if err != nil {
			return nil, err
		}
		return &sessionOutput{Body: out}, nil
	})

	rtags := []string{"session_recordings"}
	register(s, huma.Operation{
		OperationID: "list-session-recordings", Method: http.MethodGet, Path: api.PathSessionRecordings, Summary: "List session recordings", Tags: rtags,
		Description: "Requires admin, security or auditor. Metadata only.",
	}, func(ctx context.Context, in *listRecordingsInput) (*recordingListOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathSessionRecordings)
		if err != nil {
			return nil, err
		}
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		filter := "session_id=" + in.SessionID
		after, err := s.after(in.PageToken, "session_recordings", filter)
		if err != nil {
			return nil, err
		}
		items, err := ss.ListRecordings(ctx, c, store.RecordingFilter{SessionID: in.SessionID, AfterID: after, Limit: size + 1})
		if err != nil {
			return nil, err
		}
		return &recordingListOutput{Body: paginate(s, items, size, "session_recordings", filter, func(r api.SessionRecording) string { return r.ID })}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-session-recording", Method: http.MethodGet, Path: recordingItemPath, Summary: "Read a session recording's metadata", Tags: rtags,
		Description: "Requires admin, security or auditor.",
	}, func(ctx context.Context, in *recordingIDInput) (*recordingOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathSessionRecordings+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		out, err := ss.GetRecording(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return &recordingOutput{Body: out}, nil
	})

	register(s, huma.Operation{
		OperationID: "download-session-recording", Method: http.MethodGet, Path: recordingItemPath + "/" + api.SegmentDownload,
		Summary: "Download a session recording", Tags: rtags,
		Description: "Requires admin, security or auditor; every download is audited as session_recording.downloaded. " +
			"The body is the asciicast v2 recording (" + api.ContentTypeAsciicast + "), Cache-Control: no-store. " +
			"409 invalid_state_transition while the recording has no body.",
		Responses: map[string]*huma.Response{"200": {Description: "asciicast v2", Content: map[string]*huma.MediaType{api.ContentTypeAsciicast: {}}}},
	}, func(ctx context.Context, in *recordingIDInput) (*recordingDownloadOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathSessionRecordings+"/"+in.ID+"/"+api.SegmentDownload)
		if err != nil {
			return nil, err
		}
		meta, body, err := ss.DownloadRecording(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return &recordingDownloadOutput{
			ContentType: api.ContentTypeAsciicast, CacheControl: "no-store", Digest: meta.SHA256,
			ContentDisposition: `attachment; filename="` + meta.ID + `.cast"`, Body: body,
		}, nil
	})
}
