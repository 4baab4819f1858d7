package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

// Parsing and formatting helpers of the PIM commands, kept free of I/O so they
// can be tested on their own.

// parseDurationSeconds accepts a Go duration ("90m", "1h30m") or an integer
// number of seconds ("3600") and returns whole seconds. "" is 0, meaning "the
// policy's default".
func parseDurationSeconds(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		if secs <= 0 {
			return 0, fmt.Errorf("duration %q must be positive", s)
		}
		return secs, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q is neither a Go duration (like 90m or 1h30m) nor a number of seconds", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("duration %q must be a whole number of seconds", s)
	}
	return int64(d / time.Second), nil
}

// parseTicket parses SYSTEM:NUMBER ("jira:INC-4711"); the number may itself
// contain colons. "" is no ticket.
func parseTicket(s string) (*api.Ticket, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	system, number, ok := strings.Cut(s, ":")
	system, number = strings.TrimSpace(system), strings.TrimSpace(number)
	if !ok || system == "" || number == "" {
		return nil, fmt.Errorf("ticket %q must be SYSTEM:NUMBER, e.g. jira:INC-4711", s)
	}
	if len(system) > api.MaxTicketFieldLength || len(number) > api.MaxTicketFieldLength {
		return nil, fmt.Errorf("ticket %q: system and number are limited to %d characters each", s, api.MaxTicketFieldLength)
	}
	return &api.Ticket{System: system, Number: number}, nil
}

// parseStartAt parses an RFC 3339 time; "" is nil (start as soon as possible).
func parseStartAt(s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("start time %q is not RFC 3339 (e.g. 2025-05-03T14:00:00Z)", s)
	}
	return &t, nil
}

// formatWhen renders t in UTC: the time alone when it is today (relative to
// now), the date too otherwise.
func formatWhen(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

func formatTimePtr(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return formatWhen(*t, now)
}

// formatSeconds renders a duration in seconds as 1h30m, 45m, 30s.
func formatSeconds(secs int64) string {
	if secs <= 0 {
		return "-"
	}
	d := time.Duration(secs) * time.Second
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

func formatPrincipal(p api.Principal) string { return p.Type + ":" + p.ID }

func formatActor(a api.Actor) string {
	if a.Type == "" && a.ID == "" {
		return "-"
	}
	return a.Type + ":" + a.ID
}

func formatPrincipals(ps []api.Principal) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, formatPrincipal(p))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func formatTicket(t *api.Ticket) string {
	if t == nil {
		return "-"
	}
	return t.System + ":" + t.Number
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// truncate shortens s for a table cell.
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return orDash(s)
}

// approvedCount counts approvals in a stage.
func approvedCount(st api.ElevationApprovalStage) int {
	n := 0
	for _, d := range st.Decisions {
		if d.Decision == api.DecisionApproved {
			n++
		}
	}
	return n
}

// currentStage returns the stage awaiting decisions, if any.
func currentStage(e *api.Elevation) (api.ElevationApprovalStage, bool) {
	if e.Approval == nil {
		return api.ElevationApprovalStage{}, false
	}
	i := e.Approval.CurrentStageIndex
	if i < 0 || i >= len(e.Approval.Stages) {
		return api.ElevationApprovalStage{}, false
	}
	return e.Approval.Stages[i], true
}

// lastEvent returns the last timeline event of one of the given types.
func lastEvent(e *api.Elevation, events ...string) (api.TimelineEvent, bool) {
	for i := len(e.Timeline) - 1; i >= 0; i-- {
		for _, ev := range events {
			if e.Timeline[i].Event == ev {
				return e.Timeline[i], true
			}
		}
	}
	return api.TimelineEvent{}, false
}

// describeNext says, in one line, what happens next to an elevation.
func describeNext(e *api.Elevation, now time.Time) string {
	switch e.State {
	case api.StatePendingApproval:
		st, ok := currentStage(e)
		if !ok {
			return "pending approval"
		}
		msg := fmt.Sprintf("pending approval by: %s (%d of %d approvals", formatPrincipals(st.Approvers), approvedCount(st), st.ApprovalsNeeded)
		if n := len(e.Approval.Stages); n > 1 {
			msg += fmt.Sprintf(", stage %d of %d", st.Index+1, n)
		}
		msg += ")"
		if st.ExpiresAt != nil {
			msg += ", expires " + formatWhen(*st.ExpiresAt, now)
		}
		return msg
	case api.StateScheduled:
		return "approved; scheduled to start at " + formatTimePtr(e.StartAt, now)
	case api.StateActivating:
		return "activating: the role is being provisioned"
	case api.StateActive:
		if e.EndAt == nil {
			return "active"
		}
		msg := "active until " + formatWhen(*e.EndAt, now)
		if left := e.EndAt.Sub(now).Round(time.Minute); left > 0 {
			msg += " (" + formatSeconds(int64(left/time.Second)) + " left)"
		}
		return msg
	case api.StateDenied:
		if ev, ok := lastEvent(e, api.EventDenied); ok {
			return "denied by " + formatActorPtr(ev.Actor) + reasonSuffix(ev.Reason)
		}
		return "denied"
	case api.StateActivationFailed:
		return "activation failed" + reasonSuffix(e.ActivationError)
	case api.StateApprovalExpired:
		return "approval expired: nobody decided in time"
	case api.StateWithdrawn, api.StateDeactivated, api.StateRevoked, api.StateEnded:
		msg := e.State
		if e.EndedAt != nil {
			msg += " at " + formatWhen(*e.EndedAt, now)
		}
		if e.EndReason != "" {
			msg += " (" + e.EndReason + ")"
		}
		return msg
	}
	return e.State
}

func formatActorPtr(a *api.Actor) string {
	if a == nil {
		return "system"
	}
	return formatActor(*a)
}

func reasonSuffix(r string) string {
	if strings.TrimSpace(r) == "" {
		return ""
	}
	return ": " + r
}

// terminal reports whether an elevation can no longer change.
func terminal(state string) bool {
	switch state {
	case api.StateDenied, api.StateApprovalExpired, api.StateWithdrawn, api.StateActivationFailed,
		api.StateEnded, api.StateDeactivated, api.StateRevoked:
		return true
	}
	return false
}

// approvers lists who approved, for the active-elevation table.
func formatApprovals(ds []api.ApprovalDecision) string {
	parts := []string{}
	for _, d := range ds {
		if d.Decision == api.DecisionApproved {
			parts = append(parts, formatActor(d.Approver))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// activeFromElevation projects an active elevation the way
// /v1/active_elevations does, for listings built from /v1/elevations.
func activeFromElevation(e api.Elevation, now time.Time) api.ActiveElevation {
	a := api.ActiveElevation{
		ID: e.ID, PrincipalType: e.PrincipalType, PrincipalID: e.PrincipalID, RoleID: e.RoleID, Scope: e.Scope,
		EligibleRoleAssignmentID: e.EligibleRoleAssignmentID, Source: e.Source, Justification: e.Justification,
		Ticket: e.Ticket, RequestedBy: e.RequestedBy, Extended: len(e.Extensions) > 0, Approvals: []api.ApprovalDecision{},
	}
	if e.StartAt != nil {
		a.StartAt = *e.StartAt
	}
	if e.EndAt != nil {
		a.EndAt = *e.EndAt
		a.RemainingSeconds = max(int64(e.EndAt.Sub(now)/time.Second), 0)
	}
	if e.Approval != nil {
		for _, st := range e.Approval.Stages {
			for _, d := range st.Decisions {
				if d.Decision == api.DecisionApproved {
					a.Approvals = append(a.Approvals, d)
				}
			}
		}
	}
	return a
}

// cliError carries a human-readable rendering of an API error while keeping
// the original for errors.Is/As.
type cliError struct {
	msg string
	err error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

// explain renders a *client.ProblemError as its title, detail and one line per
// violation; other errors pass through.
func explain(err error) error {
	var pe *client.ProblemError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	return &cliError{msg: formatProblem(pe.Problem), err: err}
}

func formatProblem(p api.Problem) string {
	var b strings.Builder
	b.WriteString(orDash(p.Title))
	var tags []string
	if p.Status != 0 {
		tags = append(tags, strconv.Itoa(p.Status))
	}
	if p.Code != "" {
		tags = append(tags, p.Code)
	}
	if len(tags) > 0 {
		b.WriteString(" (" + strings.Join(tags, " ") + ")")
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	writeViolations(&b, p.Violations)
	if p.ExistingID != "" {
		b.WriteString("\n  existing id: " + p.ExistingID)
	}
	if p.RequestID != "" {
		b.WriteString("\n  request id: " + p.RequestID)
	}
	return b.String()
}

func writeViolations(b *strings.Builder, vs []api.Violation) {
	for _, v := range vs {
		var where []string
		if v.Rule != "" {
			where = append(where, v.Rule)
		}
		if v.Pointer != "" {
			where = append(where, v.Pointer)
		}
		if len(where) == 0 && v.Code != "" {
			where = append(where, v.Code)
		}
		b.WriteString("\n  - ")
		if len(where) > 0 {
			b.WriteString(strings.Join(where, " ") + ": ")
		}
		b.WriteString(v.Message)
	}
}
