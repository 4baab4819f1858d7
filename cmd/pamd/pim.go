package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

// The PIM commands for people: request, inspect and decide elevations through
// a running pamd's API (API.md §7.5).

var (
	// nowFunc and pollInterval are variables so tests can pin them.
	nowFunc      = time.Now
	pollInterval = 2 * time.Second
)

// callTimeout bounds one command's API calls (all pages included).
const callTimeout = time.Minute

// newPIMCommands returns the top-level PIM commands.
func newPIMCommands(stdout, stderr io.Writer) []*cobra.Command {
	return []*cobra.Command{
		newElevate(stdout, stderr),
		newElevations(stdout),
		newApprovals(stdout),
		newAction(stdout, api.ActionApprove, "Approve an elevation request awaiting your decision", false),
		newAction(stdout, api.ActionDeny, "Deny an elevation request awaiting your decision", true),
		newAction(stdout, api.ActionWithdraw, "Withdraw your pending or scheduled elevation request", false),
		newAction(stdout, api.ActionDeactivate, "End your active elevation early", false),
		newAction(stdout, api.ActionRevoke, "Revoke any elevation that has not ended (admin or security)", true),
		newExtend(stdout),
	}
}

// remoteRun wraps a command body: it builds the client, bounds the call and
// renders API problems readably.
func remoteRun(r *remote, timeout func() time.Duration, body func(ctx context.Context, c *client.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		d := callTimeout
		if timeout != nil {
			d = timeout()
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), d)
		defer cancel()
		return explain(body(ctx, c, args))
	}
}

// resolveRole accepts a role id (role_...) or a role name.
func resolveRole(ctx context.Context, c *client.Client, v string) (string, error) {
	if strings.HasPrefix(v, api.PrefixRole+"_") {
		return v, nil
	}
	role, err := c.FindRoleByName(ctx, v)
	if errors.Is(err, client.ErrNotFound) {
		return "", fmt.Errorf("no role named %q (pass a role id or an exact name; see `pamd roles list`)", v)
	}
	if err != nil {
		return "", err
	}
	return role.ID, nil
}

// --- pamd elevate ---

type elevateFlags struct {
	role, scope, eligibility        string
	duration, justification, ticket string
	startAt                         string
	wait, dryRun                    bool
	timeout                         time.Duration
}

// request builds the API request from the flags, without resolving the role.
func (f *elevateFlags) request() (api.ElevationRequest, error) {
	var req api.ElevationRequest
	switch {
	case f.eligibility != "" && (f.role != "" || f.scope != ""):
		return req, errors.New("pass either --eligibility or --role with --scope, not both")
	case f.eligibility != "":
		req.EligibleRoleAssignmentID = f.eligibility
	case f.role != "" && f.scope != "":
		req.RoleID, req.Scope = f.role, f.scope
	default:
		return req, errors.New("name what to activate: --role ROLE --scope SCOPE, or --eligibility ERA_ID")
	}
	var err error
	if req.RequestedDurationSeconds, err = parseDurationSeconds(f.duration); err != nil {
		return req, err
	}
	if req.Ticket, err = parseTicket(f.ticket); err != nil {
		return req, err
	}
	if req.StartAt, err = parseStartAt(f.startAt); err != nil {
		return req, err
	}
	if f.timeout <= 0 {
		return req, errors.New("--timeout must be positive")
	}
	req.Justification = strings.TrimSpace(f.justification)
	return req, nil
}

func newElevate(stdout, stderr io.Writer) *cobra.Command {
	var r remote
	var f elevateFlags
	cmd := &cobra.Command{
		Use:   "elevate",
		Short: "Request just-in-time activation of a role you are eligible for",
		Long: "Request an elevation, by role and scope (your eligibility at exactly that scope) or by eligibility id.\n" +
			"It prints the elevation id, its state and what happens next. --wait blocks until it is active\n" +
			"(or refused); --dry-run evaluates the request against the policy and creates nothing.",
		Example: "  pamd elevate --role db-admin --scope /orgs/acme/projects/payments --duration 1h \\\n" +
			"      --justification 'INC-4711 failover' --ticket jira:INC-4711 --wait",
		Args: cobra.NoArgs,
	}
	cmd.RunE = remoteRun(&r, func() time.Duration {
		if f.wait {
			return f.timeout + callTimeout
		}
		return callTimeout
	}, func(ctx context.Context, c *client.Client, _ []string) error {
		req, err := f.request()
		if err != nil {
			return err
		}
		if req.RoleID != "" {
			if req.RoleID, err = resolveRole(ctx, c, req.RoleID); err != nil {
				return err
			}
		}
		if f.dryRun {
			ev, err := c.EvaluateElevation(ctx, req)
			if err != nil {
				return err
			}
			if r.json {
				if err := printJSON(stdout, ev); err != nil {
					return err
				}
			} else if err := printEvaluation(stdout, ev); err != nil {
				return err
			}
			if !ev.Allowed {
				return errors.New("the request would be refused")
			}
			return nil
		}
		el, err := c.RequestElevation(ctx, req)
		if err != nil {
			return err
		}
		if f.wait && !terminal(el.State) && el.State != api.StateActive {
			if !r.json {
				if err := printElevationSummary(stdout, el); err != nil {
					return err
				}
				_, _ = fmt.Fprintf(stderr, "waiting up to %s for %s to become active...\n", f.timeout, el.ID)
			}
			el, err = waitActive(ctx, c, el, f.timeout)
			if err != nil {
				return err
			}
		}
		if r.json {
			if err := printJSON(stdout, el); err != nil {
				return err
			}
		} else if err := printElevationSummary(stdout, el); err != nil {
			return err
		}
		if f.wait && el.State != api.StateActive {
			return fmt.Errorf("elevation %s did not become active: %s", el.ID, describeNext(el, nowFunc()))
		}
		return nil
	})
	r.bind(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.role, "role", "", "role id or name to activate (with --scope)")
	fl.StringVar(&f.scope, "scope", "", "scope of your eligibility, e.g. /orgs/acme/projects/payments")
	fl.StringVar(&f.eligibility, "eligibility", "", "eligible role assignment id (era_...) instead of --role/--scope")
	fl.StringVar(&f.duration, "duration", "", "how long, as a Go duration (1h30m) or seconds (5400); default: the policy's default")
	fl.StringVar(&f.justification, "justification", "", "why you need the access")
	fl.StringVar(&f.ticket, "ticket", "", "change or incident ticket as SYSTEM:NUMBER, e.g. jira:INC-4711")
	fl.StringVar(&f.startAt, "start-at", "", "scheduled start, RFC 3339 (if the policy allows scheduling)")
	fl.BoolVar(&f.wait, "wait", false, "wait until the elevation is active, or fails")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long --wait waits")
	fl.BoolVar(&f.dryRun, "dry-run", false, "evaluate the request against the policy and print violations; create nothing")
	return cmd
}

// waitActive polls until el is active or terminal, or timeout passes.
func waitActive(ctx context.Context, c *client.Client, el *api.Elevation, timeout time.Duration) (*api.Elevation, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for el.State != api.StateActive && !terminal(el.State) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fmt.Errorf("timed out after %s: %s is still %s", timeout, el.ID, describeNext(el, nowFunc()))
		case <-tick.C:
		}
		next, err := c.GetElevation(ctx, el.ID)
		if err != nil {
			return nil, err
		}
		el = next
	}
	return el, nil
}

func printEvaluation(w io.Writer, ev *api.PolicyEvaluation) error {
	allowed := "no"
	if ev.Allowed {
		allowed = "yes"
	}
	approval := "not required"
	if ev.ApprovalRequired {
		approval = "required"
	}
	rows := [][]string{
		{"Allowed:", allowed},
		{"Eligibility:", orDash(ev.EligibleRoleAssignmentID)},
		{"Policy:", fmt.Sprintf("%s (version %d)", orDash(ev.ActivationPolicyID), ev.PolicyVersion)},
		{"Duration:", formatSeconds(ev.DurationSeconds)},
		{"Approval:", approval},
	}
	if err := table(w, rows); err != nil {
		return err
	}
	if len(ev.Violations) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("Violations:")
	writeViolations(&b, ev.Violations)
	_, err := fmt.Fprintln(w, b.String())
	return err
}

// printElevationSummary prints the id, state and what happens next.
func printElevationSummary(w io.Writer, el *api.Elevation) error {
	_, err := fmt.Fprintf(w, "Elevation %s: %s\n  %s\n", el.ID, el.State, describeNext(el, nowFunc()))
	return err
}

// --- pamd elevations list|show ---

func newElevations(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "elevations", Short: "List and show elevations"}
	cmd.AddCommand(newElevationsList(stdout), newElevationsShow(stdout))
	return cmd
}

func newElevationsList(stdout io.Writer) *cobra.Command {
	var r remote
	var active, mine bool
	var state, role, scopePrefix string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List elevations you may see (all pages)",
		Long: "List elevations. --active lists only active ones, with their end time and approvers;\n" +
			"--mine restricts to elevations you requested.",
		Args: cobra.NoArgs,
	}
	cmd.RunE = remoteRun(&r, nil, func(ctx context.Context, c *client.Client, _ []string) error {
		if active && state != "" {
			return errors.New("--active and --state cannot be combined")
		}
		roleID := ""
		if role != "" {
			var err error
			if roleID, err = resolveRole(ctx, c, role); err != nil {
				return err
			}
		}
		now := nowFunc()
		if active {
			var items []api.ActiveElevation
			if mine {
				// The active projection has no "mine" filter: list my active
				// elevations and project them the same way.
				p := api.ElevationListParams{State: api.StateActive, Relationship: api.RelationshipRequestedByMe,
					RoleID: roleID, ScopePrefix: scopePrefix, PageSize: api.MaxPageSize}
				els, err := client.All(ctx, func(tok string) (*api.Page[api.Elevation], error) {
					p.PageToken = tok
					return c.ListElevations(ctx, p)
				})
				if err != nil {
					return err
				}
				items = make([]api.ActiveElevation, 0, len(els))
				for _, e := range els {
					items = append(items, activeFromElevation(e, now))
				}
			} else {
				p := api.ActiveElevationListParams{RoleID: roleID, ScopePrefix: scopePrefix, PageSize: api.MaxPageSize}
				var err error
				items, err = client.All(ctx, func(tok string) (*api.Page[api.ActiveElevation], error) {
					p.PageToken = tok
					return c.ListActiveElevations(ctx, p)
				})
				if err != nil {
					return err
				}
			}
			if items == nil {
				items = []api.ActiveElevation{}
			}
			if r.json {
				return printJSON(stdout, items)
			}
			return table(stdout, activeRows(items, now))
		}
		p := api.ElevationListParams{State: state, RoleID: roleID, ScopePrefix: scopePrefix, PageSize: api.MaxPageSize}
		if mine {
			p.Relationship = api.RelationshipRequestedByMe
		}
		els, err := client.All(ctx, func(tok string) (*api.Page[api.Elevation], error) {
			p.PageToken = tok
			return c.ListElevations(ctx, p)
		})
		if err != nil {
			return err
		}
		if els == nil {
			els = []api.Elevation{}
		}
		if r.json {
			return printJSON(stdout, els)
		}
		return table(stdout, elevationRows(els, now))
	})
	r.bind(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&active, "active", false, "only active elevations, with end time and approvers")
	fl.BoolVar(&mine, "mine", false, "only elevations you requested")
	fl.StringVar(&state, "state", "", "comma-separated states, e.g. pending_approval,active")
	fl.StringVar(&role, "role", "", "role id or name")
	fl.StringVar(&scopePrefix, "scope-prefix", "", "only scopes under this path, e.g. /orgs/acme")
	return cmd
}

func elevationRows(els []api.Elevation, now time.Time) [][]string {
	rows := [][]string{{"ID", "STATE", "PRINCIPAL", "ROLE", "SCOPE", "DURATION", "START", "END", "NEXT"}}
	for i := range els {
		e := &els[i]
		rows = append(rows, []string{
			e.ID, e.State, e.PrincipalType + ":" + e.PrincipalID, e.RoleID, e.Scope,
			formatSeconds(e.RequestedDurationSeconds), formatTimePtr(e.StartAt, now), formatTimePtr(e.EndAt, now),
			describeNext(e, now),
		})
	}
	return rows
}

func activeRows(items []api.ActiveElevation, now time.Time) [][]string {
	rows := [][]string{{"ID", "PRINCIPAL", "ROLE", "SCOPE", "ENDS", "REMAINING", "APPROVED BY", "JUSTIFICATION", "TICKET"}}
	for _, a := range items {
		rows = append(rows, []string{
			a.ID, a.PrincipalType + ":" + a.PrincipalID, a.RoleID, a.Scope, formatWhen(a.EndAt, now),
			formatSeconds(a.RemainingSeconds), formatApprovals(a.Approvals), truncate(a.Justification, 40), formatTicket(a.Ticket),
		})
	}
	return rows
}

func newElevationsShow(stdout io.Writer) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one elevation with its approval progress and timeline",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = remoteRun(&r, nil, func(ctx context.Context, c *client.Client, args []string) error {
		el, err := c.GetElevation(ctx, args[0])
		if err != nil {
			return err
		}
		if r.json {
			return printJSON(stdout, el)
		}
		return printElevation(stdout, el, nowFunc())
	})
	r.bind(cmd)
	return cmd
}

// printElevation prints the details, approval stages and timeline.
func printElevation(w io.Writer, e *api.Elevation, now time.Time) error {
	rows := [][]string{
		{"ID:", e.ID},
		{"State:", e.State},
		{"Next:", describeNext(e, now)},
		{"Principal:", e.PrincipalType + ":" + e.PrincipalID},
		{"Requested by:", formatActor(e.RequestedBy)},
		{"Role:", e.RoleID},
		{"Scope:", e.Scope},
		{"Eligibility:", orDash(e.EligibleRoleAssignmentID)},
		{"Duration:", formatSeconds(e.RequestedDurationSeconds)},
		{"Start:", formatTimePtr(e.StartAt, now)},
		{"End:", formatTimePtr(e.EndAt, now)},
		{"Justification:", orDash(e.Justification)},
		{"Ticket:", formatTicket(e.Ticket)},
		{"Policy:", fmt.Sprintf("%s (version %d)", orDash(e.PolicySnapshot.ActivationPolicyID), e.PolicySnapshot.Version)},
		{"Created:", formatWhen(e.CreatedAt, now)},
	}
	if e.EndReason != "" {
		rows = append(rows, []string{"End reason:", e.EndReason})
	}
	if e.ActivationError != "" {
		rows = append(rows, []string{"Activation error:", e.ActivationError})
	}
	for _, x := range e.Extensions {
		rows = append(rows, []string{"Extended:", fmt.Sprintf("+%s by %s at %s%s", formatSeconds(x.AdditionalSeconds), formatActor(x.By), formatWhen(x.At, now), reasonSuffix(x.Justification))})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	if e.Approval != nil && len(e.Approval.Stages) > 0 {
		if _, err := fmt.Fprintln(w, "\nApproval:"); err != nil {
			return err
		}
		st := [][]string{{"  STAGE", "STATE", "APPROVALS", "APPROVERS", "DECISIONS"}}
		for _, s := range e.Approval.Stages {
			var ds []string
			for _, d := range s.Decisions {
				ds = append(ds, d.Decision+" by "+formatActor(d.Approver)+reasonSuffix(d.Reason))
			}
			st = append(st, []string{
				fmt.Sprintf("  %d", s.Index+1), s.State, fmt.Sprintf("%d of %d", approvedCount(s), s.ApprovalsNeeded),
				formatPrincipals(s.Approvers), orDash(strings.Join(ds, "; ")),
			})
		}
		if err := table(w, st); err != nil {
			return err
		}
	}
	if len(e.Timeline) > 0 {
		if _, err := fmt.Fprintln(w, "\nTimeline:"); err != nil {
			return err
		}
		tl := [][]string{{"  AT", "EVENT", "ACTOR", "DETAIL"}}
		for _, ev := range e.Timeline {
			detail := ev.Reason
			if ev.Error != "" {
				detail = strings.TrimSpace(detail + " " + ev.Error)
			}
			tl = append(tl, []string{"  " + ev.At.UTC().Format("2006-01-02 15:04:05 UTC"), ev.Event, formatActorPtr(ev.Actor), orDash(detail)})
		}
		if err := table(w, tl); err != nil {
			return err
		}
	}
	return nil
}

// --- pamd approvals list ---

func newApprovals(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "approvals", Short: "Elevation requests awaiting your decision"}
	var r remote
	list := &cobra.Command{
		Use:   "list",
		Short: "List elevation requests you can approve or deny now (all pages)",
		Args:  cobra.NoArgs,
	}
	list.RunE = remoteRun(&r, nil, func(ctx context.Context, c *client.Client, _ []string) error {
		p := api.ApprovalRequestListParams{PageSize: api.MaxPageSize}
		items, err := client.All(ctx, func(tok string) (*api.Page[api.ApprovalRequest], error) {
			p.PageToken = tok
			return c.ListApprovalRequests(ctx, p)
		})
		if err != nil {
			return err
		}
		if items == nil {
			items = []api.ApprovalRequest{}
		}
		if r.json {
			return printJSON(stdout, items)
		}
		if len(items) == 0 {
			_, err := fmt.Fprintln(stdout, "Nothing awaits your decision.")
			return err
		}
		return table(stdout, approvalRows(items, nowFunc()))
	})
	r.bind(list)
	cmd.AddCommand(list)
	return cmd
}

func approvalRows(items []api.ApprovalRequest, now time.Time) [][]string {
	rows := [][]string{{"ID", "KIND", "REQUESTED BY", "STAGE", "EXPIRES", "SUMMARY"}}
	for _, a := range items {
		rows = append(rows, []string{
			a.ID, a.Kind, formatActor(a.RequestedBy), fmt.Sprintf("%d", a.CurrentStageIndex+1),
			formatTimePtr(a.ExpiresAt, now), truncate(a.Summary, 100),
		})
	}
	return rows
}

// --- pamd approve|deny|withdraw|deactivate|revoke ID ---

func newAction(stdout io.Writer, action, short string, reasonRequired bool) *cobra.Command {
	var r remote
	var reason string
	cmd := &cobra.Command{
		Use:   action + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = remoteRun(&r, nil, func(ctx context.Context, c *client.Client, args []string) error {
		reason = strings.TrimSpace(reason)
		if reasonRequired && reason == "" {
			return fmt.Errorf("--reason is required to %s", action)
		}
		var call func(context.Context, string, string) (*api.Elevation, error)
		switch action {
		case api.ActionApprove:
			call = c.ApproveElevation
		case api.ActionDeny:
			call = c.DenyElevation
		case api.ActionWithdraw:
			call = c.WithdrawElevation
		case api.ActionDeactivate:
			call = c.DeactivateElevation
		case api.ActionRevoke:
			call = c.RevokeElevation
		default:
			return fmt.Errorf("unknown action %q", action)
		}
		el, err := call(ctx, args[0], reason)
		if err != nil {
			return err
		}
		if r.json {
			return printJSON(stdout, el)
		}
		return printElevationSummary(stdout, el)
	})
	r.bind(cmd)
	help := "why (recorded in the timeline and audit log)"
	if reasonRequired {
		help += "; required"
	}
	cmd.Flags().StringVar(&reason, "reason", "", help)
	return cmd
}

// --- pamd extend ID ---

func newExtend(stdout io.Writer) *cobra.Command {
	var r remote
	var duration, justification string
	cmd := &cobra.Command{
		Use:   "extend ID",
		Short: "Extend your active elevation",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = remoteRun(&r, nil, func(ctx context.Context, c *client.Client, args []string) error {
		secs, err := parseDurationSeconds(duration)
		if err != nil {
			return err
		}
		el, err := c.ExtendElevation(ctx, args[0], api.ElevationExtendRequest{AdditionalSeconds: secs, Justification: strings.TrimSpace(justification)})
		if err != nil {
			return err
		}
		if r.json {
			return printJSON(stdout, el)
		}
		return printElevationSummary(stdout, el)
	})
	r.bind(cmd)
	cmd.Flags().StringVar(&duration, "duration", "", "additional time, as a Go duration (30m) or seconds (1800); default: the policy's default")
	cmd.Flags().StringVar(&justification, "justification", "", "why you need more time")
	return cmd
}
