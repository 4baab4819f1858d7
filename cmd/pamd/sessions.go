package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/session"
)

// newSessionCommands returns `pamd sessions list|terminate` and
// `pamd recordings play`, all API-backed (PAM_TOKEN).
func newSessionCommands(stdout, _ io.Writer) []*cobra.Command {
	sessions := &cobra.Command{Use: "sessions", Short: "List and terminate brokered privileged sessions"}
	sessions.AddCommand(newSessionsList(stdout), newSessionsTerminate(stdout))
	recordings := &cobra.Command{Use: "recordings", Short: "Replay session recordings"}
	recordings.AddCommand(newRecordingsPlay(stdout))
	return []*cobra.Command{sessions, recordings}
}

// activeStates are the states --active selects.
var activeStates = strings.Join([]string{api.SessionPending, api.SessionActive, api.SessionTerminating}, ",")

func newSessionsList(stdout io.Writer) *cobra.Command {
	var r remote
	var active bool
	var p api.SessionListParams
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List sessions (admin, security and auditor see all; others their own)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if active {
				if p.State != "" {
					return errors.New("--active and --state are exclusive")
				}
				p.State = activeStates
			}
			var all []api.Session
			for {
				page, err := c.ListSessions(cmd.Context(), p)
				if err != nil {
					return err
				}
				all = append(all, page.Items...)
				if page.NextPageToken == "" {
					break
				}
				p.PageToken = page.NextPageToken
			}
			if all == nil {
				all = []api.Session{}
			}
			if r.json {
				return printJSON(stdout, all)
			}
			if len(all) == 0 {
				_, err := fmt.Fprintln(stdout, "no sessions")
				return err
			}
			rows := [][]string{{"ID", "STATE", "PRINCIPAL", "ACCOUNT", "STARTED", "LAST ACTIVITY", "END", "HITS", "RECORDING"}}
			for _, s := range all {
				end := "-"
				if s.EndedAt != nil {
					end = s.EndedAt.UTC().Format(time.RFC3339) + " " + s.EndReason
				}
				last := "-"
				if s.LastActivityAt != nil {
					last = s.LastActivityAt.UTC().Format(time.RFC3339)
				}
				rec := s.RecordingID
				if rec == "" {
					rec = "-"
				}
				rows = append(rows, []string{s.ID, s.State, s.Principal.Type + ":" + s.Principal.ID, s.VaultAccountID,
					s.StartedAt.UTC().Format(time.RFC3339), last, end, formatInt(int64(len(s.CommandFilterHits))), rec})
			}
			return table(stdout, rows)
		},
	}
	r.bind(cmd)
	cmd.Flags().BoolVar(&active, "active", false, "only sessions in progress (pending, active, terminating)")
	cmd.Flags().StringVar(&p.State, "state", "", "comma-separated states: "+strings.Join(api.SessionStates, ", "))
	cmd.Flags().StringVar(&p.PrincipalID, "principal", "", `only this principal, "type:id" (e.g. user:alice)`)
	cmd.Flags().StringVar(&p.VaultAccountID, "account", "", "only sessions to this vault account id")
	return cmd
}

func newSessionsTerminate(stdout io.Writer) *cobra.Command {
	var r remote
	var reason string
	cmd := &cobra.Command{
		Use:   "terminate SESSION_ID",
		Short: "Cut a live session (admin or security)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required: say why the session is cut (it is audited and shown to the user)")
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			s, err := c.TerminateSession(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			if r.json {
				return printJSON(stdout, s)
			}
			_, err = fmt.Fprintf(stdout, "session %s %s\n", s.ID, s.State)
			return err
		},
	}
	r.bind(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why the session is cut (required; audited)")
	return cmd
}

func newRecordingsPlay(stdout io.Writer) *cobra.Command {
	var r remote
	var speed float64
	var maxWait time.Duration
	cmd := &cobra.Command{
		Use:   "play RECORDING_ID",
		Short: "Replay a session recording in the terminal (admin, security or auditor; audited)",
		Long: `Download a session recording (asciicast v2) and replay its output with the
recorded timing divided by --speed. --speed 0 prints everything at once.
Pauses longer than --max-wait are shortened to it (0: never).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if speed < 0 {
				return errors.New("--speed must be 0 (no delay) or positive")
			}
			if _, err := r.client(); err != nil { // validates PAM_TOKEN
				return err
			}
			body, err := downloadRecording(cmd.Context(), r.endpoint, r.token, args[0])
			if err != nil {
				return err
			}
			_, events, err := session.ParseAsciicast(bytes.NewReader(body))
			if err != nil {
				return fmt.Errorf("recording %s: %w", args[0], err)
			}
			return session.Replay(stdout, events, speed, maxWait, time.Sleep)
		},
	}
	r.bind(cmd)
	cmd.Flags().Float64Var(&speed, "speed", 1, "playback speed factor; 0 prints without delay")
	cmd.Flags().DurationVar(&maxWait, "max-wait", 2*time.Second, "cap on any single pause (0: no cap)")
	return cmd
}

// downloadRecording fetches GET /v1/session_recordings/{id}/download.
func downloadRecording(ctx context.Context, endpoint, token, id string) ([]byte, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return nil, fmt.Errorf("recording id %q is not valid", id)
	}
	u, err := url.JoinPath(endpoint, api.PathSessionRecordings, url.PathEscape(id), api.SegmentDownload)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", api.ContentTypeAsciicast+", "+api.ContentTypeProblem)
	req.Header.Set("User-Agent", "pamd-cli/"+version)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download recording %s: %w", id, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("download recording %s: %w", id, err)
	}
	if res.StatusCode != http.StatusOK {
		var p api.Problem
		if json.Unmarshal(body, &p) == nil && p.Code != "" {
			return nil, &p
		}
		return nil, fmt.Errorf("download recording %s: HTTP %d", id, res.StatusCode)
	}
	if want := res.Header.Get("X-Content-SHA256"); want != "" && want != session.SHA256Hex(body) {
		return nil, fmt.Errorf("download recording %s: body does not match its sha256 %s", id, want)
	}
	return body, nil
}
