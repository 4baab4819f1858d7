package pim

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// twoStagePolicy: stage 0 needs two members of group "sec" within an hour,
// stage 1 needs dave within two hours.
func twoStagePolicy(mutate func(r *api.ActivationRules)) api.PolicySnapshot {
	return snapshot(func(r *api.ActivationRules) {
		r.Approval = &api.Approval{Stages: []api.ApprovalStage{
			{Approvers: []api.Principal{{Type: "group", ID: "sec"}}, ApprovalsNeeded: 2, TimeoutSeconds: 3600},
			{Approvers: []api.Principal{{Type: "user", ID: "dave"}, {Type: "user", ID: "bob"}}, ApprovalsNeeded: 1, TimeoutSeconds: 7200},
		}}
		r.AllowExtension, r.MaxExtensions, r.MaxTotalActivationSeconds = true, 2, 9000
		if mutate != nil {
			mutate(r)
		}
	})
}

func newElev(t *testing.T, snap api.PolicySnapshot, mutate func(r *api.ElevationRequest)) api.Elevation {
	t.Helper()
	req := goodRequest()
	if mutate != nil {
		mutate(&req)
	}
	c := aliceIdentity()
	c.Groups = []string{"dba", "sec"} // alice is also in the approver group
	e, ev, err := NewElevation(NewElevationParams{
		ID: "elv_1", Request: req, Policy: snap, Identity: c, Now: t0,
		Eligibility: elig("era_1", "group", "dba", "role_db", "/p", nil, nil),
	})
	if err != nil {
		t.Fatalf("NewElevation: %v", err)
	}
	if !ev.Allowed {
		t.Fatalf("evaluation refused: %+v", ev.Violations)
	}
	return e
}

func who(a api.Actor, groups ...string) Identity { return Identity{Actor: a, Groups: groups} }

func events(e api.Elevation) []string {
	out := make([]string, len(e.Timeline))
	for i, ev := range e.Timeline {
		out[i] = ev.Event
	}
	return out
}

func deepCopy(t *testing.T, e api.Elevation) api.Elevation {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var c api.Elevation
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func TestMultiStageApprovalWithGroups(t *testing.T) {
	e := newElev(t, twoStagePolicy(nil), nil)
	if e.State != api.StatePendingApproval || e.Approval.CurrentStageIndex != 0 {
		t.Fatalf("state = %s stage %d", e.State, e.Approval.CurrentStageIndex)
	}
	if got := e.Approval.Stages[0].ExpiresAt; got == nil || !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("stage 0 expires at %v, want t0+1h", got)
	}
	if e.Approval.Stages[1].State != api.StageWaiting || e.Approval.Stages[1].ExpiresAt != nil {
		t.Fatalf("stage 1 must wait, not run its clock: %+v", e.Approval.Stages[1])
	}

	// Self-approval is refused even though alice is in group sec.
	if err := Approve(&e, who(alice, "sec"), "me", t0.Add(time.Minute)); !errors.Is(err, ErrSelfApproval) {
		t.Fatalf("self approval: %v", err)
	}
	var re *RefusalError
	if err := Deny(&e, who(alice, "sec"), "me", t0.Add(time.Minute)); !errors.As(err, &re) || re.Code != api.CodeSelfApprovalForbidden {
		t.Fatalf("self deny: %v", err)
	}
	// dave is a stage-1 approver, not a current-stage one.
	err := Approve(&e, who(dave), "ok", t0.Add(time.Minute))
	if !errors.Is(err, ErrNotAnApprover) || !errors.As(err, &re) || re.Code != api.CodeNotAnApprover {
		t.Fatalf("wrong stage approver: %v", err)
	}

	mustNil(t, Approve(&e, who(bob, "sec"), "INC verified", t0.Add(2*time.Minute)))
	if e.State != api.StatePendingApproval || e.Approval.CurrentStageIndex != 0 {
		t.Fatalf("one of two approvals advanced the stage: %s %d", e.State, e.Approval.CurrentStageIndex)
	}
	if d := e.Approval.Stages[0].Decisions[0]; d.ViaGroupID != "sec" || d.Approver != bob || !d.DecidedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("decision = %+v", d)
	}
	if err := Approve(&e, who(bob, "sec"), "again", t0.Add(3*time.Minute)); !errors.Is(err, ErrAlreadyDecided) {
		t.Fatalf("second approval by the same approver: %v", err)
	}

	mustNil(t, Approve(&e, who(carol, "sec"), "", t0.Add(30*time.Minute)))
	if e.Approval.CurrentStageIndex != 1 || e.Approval.Stages[0].State != api.StageApproved || e.Approval.Stages[1].State != api.StagePending {
		t.Fatalf("stage 0 not closed or stage 1 not open: %+v", e.Approval)
	}
	if got := e.Approval.Stages[1].ExpiresAt; got == nil || !got.Equal(t0.Add(30*time.Minute+2*time.Hour)) {
		t.Fatalf("stage 1 timeout must count from its opening, got %v", got)
	}
	// bob is named in stage 1 but already decided in stage 0: one act per request.
	if err := Approve(&e, who(bob), "", t0.Add(31*time.Minute)); !errors.Is(err, ErrAlreadyDecided) {
		t.Fatalf("approver acting in two stages: %v", err)
	}

	mustNil(t, Approve(&e, who(dave), "fine", t0.Add(40*time.Minute)))
	if e.State != api.StateActivating {
		t.Fatalf("after the last stage state = %s, want activating", e.State)
	}
	mustNil(t, MarkActive(&e, t0.Add(41*time.Minute)))
	if e.State != api.StateActive || !e.StartAt.Equal(t0.Add(41*time.Minute)) || !e.EndAt.Equal(t0.Add(41*time.Minute+1800*time.Second)) {
		t.Fatalf("active window = %v..%v", e.StartAt, e.EndAt)
	}
	want := []string{api.EventRequested, api.EventApproved, api.EventApproved, api.EventApproved, api.EventActivationStarted, api.EventActivated}
	if !slices.Equal(events(e), want) {
		t.Fatalf("timeline = %v, want %v", events(e), want)
	}

	ae, ok := ActiveElevationOf(e, t0.Add(51*time.Minute))
	if !ok || ae.RemainingSeconds != 1200 || ae.ID != "elv_1" || len(ae.Approvals) != 3 || ae.Approvals[2].Approver != dave || ae.Justification != "INC-4711 failover" {
		t.Fatalf("projection = %+v %v", ae, ok)
	}

	end := t0.Add(41*time.Minute + 1800*time.Second)
	if _, ok := ActiveElevationOf(e, end); ok {
		t.Fatal("projection shows an elevation at its end time")
	}
	if Tick(&e, end.Add(-time.Second)) {
		t.Fatal("tick before end_at changed the elevation")
	}
	if !Tick(&e, end.Add(time.Hour)) || e.State != api.StateEnded || e.EndReason != api.EndReasonDurationElapsed || !e.EndedAt.Equal(end) {
		t.Fatalf("after end: %s %s %v", e.State, e.EndReason, e.EndedAt)
	}
	if last := e.Timeline[len(e.Timeline)-1]; last.Event != api.EventEnded || !last.At.Equal(end) || last.Actor != nil {
		t.Fatalf("ended event = %+v, want at end_at with no actor", last)
	}
	if Tick(&e, end.Add(2*time.Hour)) {
		t.Fatal("tick changed a terminal elevation")
	}
}

func TestDenyIsFinal(t *testing.T) {
	e := newElev(t, twoStagePolicy(nil), nil)
	mustNil(t, Approve(&e, who(bob, "sec"), "", t0.Add(time.Minute)))
	mustNil(t, Deny(&e, who(carol, "sec"), "no ticket context", t0.Add(2*time.Minute)))
	if e.State != api.StateDenied || e.Approval.Stages[0].State != api.StageDenied || !e.EndedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("after deny: %s %+v", e.State, e.Approval.Stages[0])
	}
	var te *TransitionError
	if err := Approve(&e, who(dave), "", t0.Add(3*time.Minute)); !errors.As(err, &te) || te.From != api.StateDenied || len(te.Allowed) != 0 {
		t.Fatalf("approve after deny: %v", err)
	}
	if te.Code() != api.CodeInvalidStateTransition || te.Error() == "" {
		t.Fatal("transition error lacks its code or message")
	}
}

func TestApprovalTimeout(t *testing.T) {
	e := newElev(t, twoStagePolicy(nil), nil)
	deadline := t0.Add(time.Hour)
	before := deepCopy(t, e)

	var te *TransitionError
	if err := Approve(&e, who(bob, "sec"), "", deadline); !errors.As(err, &te) || te.From != api.StateApprovalExpired {
		t.Fatalf("approve at the deadline: %v", err)
	}
	if !reflect.DeepEqual(deepCopy(t, e), before) {
		t.Fatal("a refused action changed the elevation")
	}
	if got := StateAt(e, deadline.Add(-time.Second)); got != api.StatePendingApproval {
		t.Fatalf("state before deadline = %s", got)
	}
	if Tick(&e, deadline.Add(-time.Second)) {
		t.Fatal("tick before the deadline expired the request")
	}
	if !Tick(&e, deadline.Add(5*time.Minute)) {
		t.Fatal("tick after the deadline did nothing")
	}
	if e.State != api.StateApprovalExpired || !e.EndedAt.Equal(deadline) || e.Approval.Stages[0].State != api.StageExpired {
		t.Fatalf("after timeout: %s ended %v stage %s", e.State, e.EndedAt, e.Approval.Stages[0].State)
	}
	if last := e.Timeline[len(e.Timeline)-1]; last.Event != api.EventApprovalExpired || !last.At.Equal(deadline) {
		t.Fatalf("timeline = %+v", last)
	}
	if _, ok := NextDeadline(e); ok {
		t.Fatal("terminal elevation has a deadline")
	}
}

func TestSecondStageTimesOutFromItsOwnStart(t *testing.T) {
	e := newElev(t, twoStagePolicy(nil), nil)
	mustNil(t, Approve(&e, who(bob, "sec"), "", t0.Add(50*time.Minute)))
	mustNil(t, Approve(&e, who(carol, "sec"), "", t0.Add(59*time.Minute)))
	if d, ok := NextDeadline(e); !ok || !d.Equal(t0.Add(59*time.Minute+2*time.Hour)) {
		t.Fatalf("next deadline = %v %v", d, ok)
	}
	mustNil(t, Approve(&e, who(dave), "", t0.Add(2*time.Hour))) // past stage 0's hour, within stage 1's
	if e.State != api.StateActivating {
		t.Fatalf("state = %s", e.State)
	}
}

func TestApproverJustificationRequired(t *testing.T) {
	e := newElev(t, twoStagePolicy(func(r *api.ActivationRules) { r.Approval.RequireApproverJustification = true }), nil)
	var ve *ViolationError
	if err := Approve(&e, who(bob, "sec"), "  ", t0.Add(time.Minute)); !errors.As(err, &ve) || ve.Code != api.CodeValidationFailed || ve.Violations[0].Pointer != "/reason" {
		t.Fatalf("approve without reason: %v", err)
	}
	if len(e.Approval.Stages[0].Decisions) != 0 {
		t.Fatal("refused approval was recorded")
	}
	mustNil(t, Approve(&e, who(bob, "sec"), "checked INC", t0.Add(time.Minute)))
	if err := Deny(&e, who(carol, "sec"), "", t0.Add(time.Minute)); !errors.As(err, &ve) {
		t.Fatalf("deny without reason: %v", err)
	}
}

func TestNoApprovalStartsActivating(t *testing.T) {
	e := newElev(t, snapshot(nil), nil)
	if e.State != api.StateActivating || e.Approval != nil || e.StartAt != nil {
		t.Fatalf("state = %s approval %v start %v", e.State, e.Approval, e.StartAt)
	}
	if e.RequestedBy != alice || e.PrincipalID != "alice" || e.RoleID != "role_db" || e.Scope != "/p" || e.PolicySnapshot.Version != 4 || e.Version != 1 {
		t.Fatalf("elevation fields: %+v", e)
	}
	if !slices.Equal(events(e), []string{api.EventRequested, api.EventActivationStarted}) {
		t.Fatalf("timeline = %v", events(e))
	}
	if e.MFA == nil || !e.MFA.Satisfied {
		t.Fatalf("mfa = %+v", e.MFA)
	}
}

func TestScheduledStart(t *testing.T) {
	e := newElev(t, snapshot(nil), func(r *api.ElevationRequest) { r.StartAt = at(2 * time.Hour) })
	start := t0.Add(2 * time.Hour)
	if e.State != api.StateScheduled || !e.StartAt.Equal(start) || !e.EndAt.Equal(start.Add(1800*time.Second)) {
		t.Fatalf("scheduled: %s %v %v", e.State, e.StartAt, e.EndAt)
	}
	if d, ok := NextDeadline(e); !ok || !d.Equal(start) {
		t.Fatalf("next deadline = %v", d)
	}
	if err := MarkActive(&e, t0.Add(time.Hour)); err == nil {
		t.Fatal("activated before its start")
	}
	if !Tick(&e, start) || e.State != api.StateActivating {
		t.Fatalf("after start tick: %s", e.State)
	}
	mustNil(t, MarkActive(&e, start.Add(time.Second)))
	if e.State != api.StateActive {
		t.Fatalf("state = %s", e.State)
	}
}

func TestApprovedAfterRequestedStartActivatesNow(t *testing.T) {
	snap := twoStagePolicy(func(r *api.ActivationRules) { r.Approval.Stages = r.Approval.Stages[1:] })
	e := newElev(t, snap, func(r *api.ElevationRequest) { r.StartAt = at(10 * time.Minute) })
	mustNil(t, Approve(&e, who(dave), "", t0.Add(5*time.Minute)))
	if e.State != api.StateScheduled {
		t.Fatalf("approved before start: %s", e.State)
	}
	e2 := newElev(t, snap, func(r *api.ElevationRequest) { r.StartAt = at(10 * time.Minute) })
	mustNil(t, Approve(&e2, who(dave), "", t0.Add(20*time.Minute)))
	if e2.State != api.StateActivating {
		t.Fatalf("approved after start: %s", e2.State)
	}
}

func TestNewElevationRefused(t *testing.T) {
	req := goodRequest()
	req.Ticket = nil
	_, ev, err := NewElevation(NewElevationParams{
		ID: "elv_1", Request: req, Policy: snapshot(nil), Identity: aliceIdentity(), Now: t0,
		Eligibility: elig("era_1", "group", "dba", "r", "/", nil, nil),
	})
	var ve *ViolationError
	if !errors.As(err, &ve) || ve.Code != api.CodePolicyViolation || ve.Violations[0].Rule != RuleTicketRequired || ev.Allowed {
		t.Fatalf("err = %v ev = %+v", err, ev)
	}
}

// inState builds an elevation whose stored state is s and whose deadlines lie
// far in the future, so that StateAt(e, t0) == s.
func inState(t *testing.T, s string) api.Elevation {
	t.Helper()
	e := newElev(t, twoStagePolicy(nil), nil)
	far := t0.Add(1000 * time.Hour)
	switch s {
	case api.StatePendingApproval:
	case api.StateScheduled:
		e.Approval = nil
		e.StartAt, e.EndAt = &far, &far
	case api.StateActive:
		start := t0.Add(-time.Minute)
		end := t0.Add(time.Hour)
		e.StartAt, e.EndAt = &start, &end
	}
	e.State = s
	return e
}

func TestTransitionTable(t *testing.T) {
	type act func(e *api.Elevation) error
	actions := map[string]act{
		api.ActionApprove:    func(e *api.Elevation) error { return Approve(e, who(bob, "sec"), "ok", t0) },
		api.ActionDeny:       func(e *api.Elevation) error { return Deny(e, who(bob, "sec"), "no", t0) },
		api.ActionWithdraw:   func(e *api.Elevation) error { return Withdraw(e, who(alice), "nvm", t0) },
		api.ActionDeactivate: func(e *api.Elevation) error { return Deactivate(e, who(alice), "done", t0) },
		api.ActionRevoke:     func(e *api.Elevation) error { return Revoke(e, admin, "incident", t0) },
		api.ActionExtend: func(e *api.Elevation) error {
			return Extend(e, who(alice), api.ElevationExtendRequest{AdditionalSeconds: 600, Justification: "need more time"}, nil, t0)
		},
	}
	// The legal moves and where they lead; everything else must be refused.
	legal := map[string]map[string]string{
		api.StatePendingApproval: {api.ActionApprove: api.StatePendingApproval, api.ActionDeny: api.StateDenied, api.ActionWithdraw: api.StateWithdrawn, api.ActionRevoke: api.StateRevoked},
		api.StateScheduled:       {api.ActionWithdraw: api.StateWithdrawn, api.ActionRevoke: api.StateRevoked},
		api.StateActivating:      {api.ActionRevoke: api.StateRevoked},
		api.StateActive:          {api.ActionExtend: api.StateActive, api.ActionDeactivate: api.StateDeactivated, api.ActionRevoke: api.StateRevoked},
	}
	for _, state := range api.ElevationStates {
		for name, do := range actions {
			t.Run(state+"/"+name, func(t *testing.T) {
				e := inState(t, state)
				n := len(e.Timeline)
				err := do(&e)
				to, ok := legal[state][name]
				if !ok {
					var te *TransitionError
					if !errors.As(err, &te) || te.From != state || te.Action != name {
						t.Fatalf("want TransitionError from %s, got %v", state, err)
					}
					if !slices.Equal(te.Allowed, AllowedActions(state)) {
						t.Fatalf("allowed = %v, want %v", te.Allowed, AllowedActions(state))
					}
					if len(e.Timeline) != n {
						t.Fatal("refused action appended to the timeline")
					}
					return
				}
				mustNil(t, err)
				if e.State != to {
					t.Fatalf("state = %s, want %s", e.State, to)
				}
				if len(e.Timeline) != n+1 {
					t.Fatalf("timeline grew by %d, want 1", len(e.Timeline)-n)
				}
				if IsTerminal(to) && (e.EndedAt == nil || !e.EndedAt.Equal(t0)) {
					t.Fatalf("terminal without ended_at: %v", e.EndedAt)
				}
			})
		}
	}
}

func TestAllowedActionsAndTerminal(t *testing.T) {
	for _, s := range []string{api.StateDenied, api.StateApprovalExpired, api.StateWithdrawn, api.StateActivationFailed, api.StateEnded, api.StateDeactivated, api.StateRevoked} {
		if !IsTerminal(s) || len(AllowedActions(s)) != 0 || AllowedActions(s) == nil {
			t.Errorf("%s must be terminal with an empty (non-nil) action list", s)
		}
	}
	for _, s := range []string{api.StatePendingApproval, api.StateScheduled, api.StateActivating, api.StateActive} {
		if IsTerminal(s) {
			t.Errorf("%s is not terminal", s)
		}
	}
	a := AllowedActions(api.StateActive)
	a[0] = "mutated"
	if AllowedActions(api.StateActive)[0] == "mutated" {
		t.Fatal("AllowedActions exposes the shared table")
	}
}

func TestRequesterOnlyActions(t *testing.T) {
	pending := inState(t, api.StatePendingApproval)
	if err := Withdraw(&pending, who(bob), "", t0); !errors.Is(err, ErrNotRequester) {
		t.Fatalf("withdraw by other: %v", err)
	}
	active := inState(t, api.StateActive)
	if err := Deactivate(&active, who(bob), "", t0); !errors.Is(err, ErrNotRequester) {
		t.Fatalf("deactivate by other: %v", err)
	}
	if err := Extend(&active, who(bob), api.ElevationExtendRequest{Justification: "need more time"}, nil, t0); !errors.Is(err, ErrNotRequester) {
		t.Fatalf("extend by other: %v", err)
	}
	mustNil(t, Deactivate(&active, who(alice), "done", t0))
	if active.EndReason != api.EndReasonDeactivatedByRequester {
		t.Fatalf("end reason = %s", active.EndReason)
	}
}

func TestExtend(t *testing.T) {
	elEnd := t0.Add(2 * time.Hour)
	tests := []struct {
		name     string
		rules    func(r *api.ActivationRules)
		prior    int
		req      api.ElevationExtendRequest
		eligEnds *time.Time
		want     []string
		wantEnd  time.Duration // relative to t0, when allowed
	}{
		{name: "allowed", req: api.ElevationExtendRequest{AdditionalSeconds: 1800, Justification: "need more time"}, wantEnd: time.Hour + 30*time.Minute},
		{name: "default additional", req: api.ElevationExtendRequest{Justification: "need more time"}, wantEnd: 2 * time.Hour},
		{name: "not allowed", rules: func(r *api.ActivationRules) { r.AllowExtension = false },
			req: api.ElevationExtendRequest{AdditionalSeconds: 60, Justification: "need more time"}, want: []string{RuleExtensionNotAllowed}},
		{name: "max extensions reached", prior: 2, req: api.ElevationExtendRequest{AdditionalSeconds: 60, Justification: "need more time"}, want: []string{RuleMaxExtensions}},
		{name: "extension above max activation", req: api.ElevationExtendRequest{AdditionalSeconds: 7201, Justification: "need more time"},
			want: []string{RuleMaxActivationSeconds, RuleMaxTotalActivationSeconds}},
		{name: "total above max", req: api.ElevationExtendRequest{AdditionalSeconds: 5400, Justification: "need more time"}, want: []string{RuleMaxTotalActivationSeconds}},
		{name: "total at max", req: api.ElevationExtendRequest{AdditionalSeconds: 5340, Justification: "need more time"}, wantEnd: time.Hour + 5340*time.Second},
		{name: "past eligibility end", eligEnds: &elEnd, req: api.ElevationExtendRequest{AdditionalSeconds: 7200, Justification: "need more time"},
			rules: func(r *api.ActivationRules) { r.MaxTotalActivationSeconds = 0 }, want: []string{RuleEligibilityEndsBefore}},
		{name: "justification too short", req: api.ElevationExtendRequest{AdditionalSeconds: 60, Justification: "more"}, want: []string{RuleJustificationTooShort}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newElev(t, twoStagePolicy(func(r *api.ActivationRules) {
				r.Approval = nil
				if tt.rules != nil {
					tt.rules(r)
				}
			}), nil)
			start, end := t0.Add(-time.Minute), t0.Add(time.Hour)
			e.State, e.StartAt, e.EndAt = api.StateActive, &start, &end
			for i := 0; i < tt.prior; i++ {
				e.Extensions = append(e.Extensions, api.Extension{AdditionalSeconds: 1})
			}
			err := Extend(&e, who(alice), tt.req, tt.eligEnds, t0)
			if len(tt.want) > 0 {
				var ve *ViolationError
				if !errors.As(err, &ve) || ve.Code != api.CodePolicyViolation {
					t.Fatalf("want policy violation, got %v", err)
				}
				wantViolations(t, ve.Violations, tt.want...)
				if !e.EndAt.Equal(end) {
					t.Fatal("refused extension moved end_at")
				}
				return
			}
			mustNil(t, err)
			if !e.EndAt.Equal(t0.Add(tt.wantEnd)) || len(e.Extensions) != tt.prior+1 || e.Timeline[len(e.Timeline)-1].Event != api.EventExtended {
				t.Fatalf("end = %v extensions %d", e.EndAt, len(e.Extensions))
			}
			if ae, ok := ActiveElevationOf(e, t0); !ok || !ae.Extended {
				t.Fatal("projection does not show the extension")
			}
		})
	}
}

func TestExtendAfterEndIsRefused(t *testing.T) {
	e := inState(t, api.StateActive)
	var te *TransitionError
	err := Extend(&e, who(alice), api.ElevationExtendRequest{Justification: "need more time"}, nil, e.EndAt.Add(time.Second))
	if !errors.As(err, &te) || te.From != api.StateEnded {
		t.Fatalf("extend after end_at: %v", err)
	}
}

func TestActivationFailed(t *testing.T) {
	e := newElev(t, snapshot(nil), nil)
	mustNil(t, MarkActivationFailed(&e, "webhook 500", t0.Add(time.Minute)))
	if e.State != api.StateActivationFailed || e.EndReason != api.EndReasonProvisioningFailed || e.ActivationError != "webhook 500" {
		t.Fatalf("after failure: %+v", e)
	}
	if last := e.Timeline[len(e.Timeline)-1]; last.Event != api.EventActivationFailed || last.Error != "webhook 500" {
		t.Fatalf("timeline = %+v", last)
	}
	if err := MarkActive(&e, t0.Add(2*time.Minute)); err == nil {
		t.Fatal("activated a failed elevation")
	}
	if err := MarkActivationFailed(&e, "again", t0.Add(2*time.Minute)); err == nil {
		t.Fatal("failed a failed elevation")
	}
}

func TestEndForEligibility(t *testing.T) {
	tests := []struct{ from, to string }{
		{api.StatePendingApproval, api.StateWithdrawn},
		{api.StateScheduled, api.StateWithdrawn},
		{api.StateActivating, api.StateRevoked},
		{api.StateActive, api.StateRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			e := inState(t, tt.from)
			if !EndForEligibility(&e, &admin, api.EndReasonEligibilityDeleted, t0) || e.State != tt.to || e.EndReason != api.EndReasonEligibilityDeleted {
				t.Fatalf("state = %s reason %s", e.State, e.EndReason)
			}
		})
	}
	e := inState(t, api.StateDenied)
	if EndForEligibility(&e, &admin, api.EndReasonEligibilityDeleted, t0) {
		t.Fatal("changed a terminal elevation")
	}
	active := inState(t, api.StateActive)
	if EndForEligibility(&active, &admin, api.EndReasonEligibilityDeleted, active.EndAt.Add(time.Minute)) || active.State != api.StateEnded {
		t.Fatalf("an elevation that already ran out must end by time, got %s", active.State)
	}
}

func TestActiveElevationOfOnlyActive(t *testing.T) {
	for _, s := range api.ElevationStates {
		if _, ok := ActiveElevationOf(inState(t, s), t0); ok != (s == api.StateActive) {
			t.Errorf("%s: projected = %v", s, ok)
		}
	}
}
