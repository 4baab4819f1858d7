package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/rotation"
	"github.com/accessplane/terraform-provider-pam/internal/rotation/connector"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

const (
	rotScheduleKind  = "rotation_schedule"
	rotOperationKind = "operation"
	rotAccountKind   = api.TargetTypeVaultAccount
)

// Defaults of the rotation engine.
const (
	// DefaultRotationLease is how long a claimed operation may run before
	// another worker may claim it again.
	DefaultRotationLease = 5 * time.Minute
	// DefaultRotationTimeout bounds one connector call.
	DefaultRotationTimeout = 2 * time.Minute
	// DefaultRotationBatch is how many operations one worker pass runs.
	DefaultRotationBatch = 20
)

// Rotation is the rotation engine: rotation schedules, the operations that
// rotate and verify vault accounts, and the scheduler that queues them. It
// writes new secret versions into the vault's accounts (sealed with the
// vault's associated data) and implements vault.Rotator.
type Rotation struct {
	*Service
	Keyring    *keys.Keyring
	Connectors connector.Connectors
	Logger     *slog.Logger
	// Lease, Timeout and Batch default to the Default* constants.
	Lease   time.Duration
	Timeout time.Duration
	Batch   int
}

var _ vault.Rotator = (*Rotation)(nil)

// NewRotation returns the engine over svc's store and clock.
func NewRotation(svc *Service, kr *keys.Keyring, conns connector.Connectors, log *slog.Logger) *Rotation {
	if conns == nil {
		conns = connector.DefaultConnectors()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Rotation{Service: svc, Keyring: kr, Connectors: conns, Logger: log}
}

// --- rotation schedules ---

func validateSchedule(in api.RotationScheduleInput, now time.Time) (api.RotationScheduleInput, error) {
	if vs := rotation.ValidateSchedule(in, now); len(vs) > 0 {
		return in, violationsProblem(fmt.Sprintf("%d field(s) are not valid", len(vs)), vs)
	}
	return rotation.NormalizeSchedule(in), nil
}

func (r *Rotation) scheduleNameConflict(tx store.Tx, name, selfID string) error {
	id, err := tx.GetRotationScheduleIDByName(name)
	switch {
	case isNotFound(err):
		return nil
	case err != nil:
		return err
	case id == selfID:
		return nil
	}
	return alreadyExists("rotation schedule", name, id)
}

// scheduleRefs maps schedule id to the ids of the vault accounts that
// reference it.
func scheduleRefs(tx store.Tx) (map[string][]string, []api.VaultAccount, error) {
	refs := map[string][]string{}
	var all []api.VaultAccount
	after := ""
	for {
		page, err := tx.ListVaultAccounts(store.VaultAccountFilter{AfterID: after, Limit: api.MaxPageSize})
		if err != nil {
			return nil, nil, err
		}
		for _, a := range page {
			all = append(all, a)
			if a.RotationScheduleID != "" {
				refs[a.RotationScheduleID] = append(refs[a.RotationScheduleID], a.ID)
			}
		}
		if len(page) < api.MaxPageSize {
			return refs, all, nil
		}
		after = page[len(page)-1].ID
	}
}

// withStatus fills the read-only status of a schedule at now.
func withStatus(s api.RotationSchedule, refs map[string][]string, now time.Time) api.RotationSchedule {
	s.Status.AccountCount = len(refs[s.ID])
	s.Status.NextRunAt = nil
	if n, err := rotation.Next(s.RotationScheduleInput, now); err == nil {
		s.Status.NextRunAt = &n
	}
	return s
}

// CreateRotationSchedule adds a schedule (admin or security).
func (r *Rotation) CreateRotationSchedule(ctx context.Context, c Caller, in api.RotationScheduleInput) (api.RotationSchedule, error) {
	if !c.Principal.HasAnyRole(catalogWriters...) {
		return api.RotationSchedule{}, r.denied(ctx, c, "rotation_schedule.created", rotScheduleKind, "")
	}
	now := r.now()
	norm, err := validateSchedule(in, now)
	if err != nil {
		return api.RotationSchedule{}, err
	}
	actor := c.Principal.Actor()
	s := api.RotationSchedule{
		Meta:                  api.Meta{ID: ids.New(api.PrefixRotationSchedule, now), Version: 1, CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor},
		RotationScheduleInput: norm,
	}
	err = r.Store.Update(ctx, func(tx store.Tx) error {
		if err := r.scheduleNameConflict(tx, s.Name, ""); err != nil {
			return err
		}
		if err := tx.InsertRotationSchedule(s); err != nil {
			return err
		}
		return r.recordAny(tx, &c, "rotation_schedule.created", rotScheduleKind, s.ID, nil, s.RotationScheduleInput, 0, 1)
	})
	if err != nil {
		return api.RotationSchedule{}, err
	}
	return withStatus(s, nil, now), nil
}

// GetRotationSchedule reads one schedule; any authenticated caller may.
func (r *Rotation) GetRotationSchedule(ctx context.Context, id string) (api.RotationSchedule, error) {
	var s api.RotationSchedule
	var refs map[string][]string
	err := r.Store.View(ctx, func(tx store.Tx) (err error) {
		if s, err = tx.GetRotationSchedule(id); err != nil {
			return err
		}
		refs, _, err = scheduleRefs(tx)
		return err
	})
	if isNotFound(err) {
		return s, notFound("rotation schedule", id)
	}
	return withStatus(s, refs, r.now()), err
}

// ListRotationSchedules returns a page of schedules.
func (r *Rotation) ListRotationSchedules(ctx context.Context, f store.RotationScheduleFilter) ([]api.RotationSchedule, error) {
	var out []api.RotationSchedule
	err := r.Store.View(ctx, func(tx store.Tx) error {
		items, err := tx.ListRotationSchedules(f)
		if err != nil {
			return err
		}
		refs, _, err := scheduleRefs(tx)
		if err != nil {
			return err
		}
		now := r.now()
		for _, s := range items {
			out = append(out, withStatus(s, refs, now))
		}
		return nil
	})
	return out, err
}

// ReplaceRotationSchedule overwrites a schedule; accounts under it are
// rescheduled on the next worker pass.
func (r *Rotation) ReplaceRotationSchedule(ctx context.Context, c Caller, id string, ifMatch *int64, in api.RotationScheduleInput) (api.RotationSchedule, error) {
	var out api.RotationSchedule
	var refs map[string][]string
	var deny bool
	now := r.now()
	err := r.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetRotationSchedule(id)
		if isNotFound(err) {
			return notFound("rotation schedule", id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			deny = true
			return errDenied
		}
		norm, err := validateSchedule(in, now)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch("rotation schedule", id, cur.Version)
		}
		if err := r.scheduleNameConflict(tx, norm.Name, id); err != nil {
			return err
		}
		out = cur
		out.RotationScheduleInput = norm
		out.Version = cur.Version + 1
		out.UpdatedAt, out.UpdatedBy = now, c.Principal.Actor()
		if err := tx.UpdateRotationSchedule(out, cur.Version); err != nil {
			return err
		}
		if refs, _, err = scheduleRefs(tx); err != nil {
			return err
		}
		return r.recordAny(tx, &c, "rotation_schedule.updated", rotScheduleKind, id, cur.RotationScheduleInput, out.RotationScheduleInput, cur.Version, out.Version)
	})
	if deny {
		return api.RotationSchedule{}, r.denied(ctx, c, "rotation_schedule.updated", rotScheduleKind, id)
	}
	return withStatus(out, refs, now), err
}

// DeleteRotationSchedule removes a schedule no vault account references.
func (r *Rotation) DeleteRotationSchedule(ctx context.Context, c Caller, id string, ifMatch *int64) error {
	var deny bool
	err := r.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetRotationSchedule(id)
		if isNotFound(err) {
			return notFound("rotation schedule", id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			deny = true
			return errDenied
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return etagMismatch("rotation schedule", id, cur.Version)
		}
		refs, _, err := scheduleRefs(tx)
		if err != nil {
			return err
		}
		if n := len(refs[id]); n > 0 {
			return api.NewProblem(http.StatusConflict, api.CodeInUse, fmt.Sprintf(
				"rotation schedule %q is used by %d vault account(s), for example %s; point them at another schedule first", id, n, refs[id][0]))
		}
		if err := tx.DeleteRotationSchedule(id); err != nil {
			return err
		}
		return r.recordAny(tx, &c, "rotation_schedule.deleted", rotScheduleKind, id, cur.RotationScheduleInput, nil, cur.Version, 0)
	})
	if deny {
		return r.denied(ctx, c, "rotation_schedule.deleted", rotScheduleKind, id)
	}
	return err
}

// PreviewRotationSchedule returns the next count fire times after now.
func (r *Rotation) PreviewRotationSchedule(ctx context.Context, id string, count int) (api.RotationPreview, error) {
	if count == 0 {
		count = api.DefaultRotationPreviewCount
	}
	if count < 1 || count > api.MaxRotationPreviewCount {
		return api.RotationPreview{}, api.ValidationProblem("count is out of range",
			api.Violation{Pointer: "query:count", Code: rotation.CodeRange, Message: fmt.Sprintf("must be between 1 and %d", api.MaxRotationPreviewCount)})
	}
	s, err := r.GetRotationSchedule(ctx, id)
	if err != nil {
		return api.RotationPreview{}, err
	}
	next, err := rotation.Preview(s.RotationScheduleInput, r.now(), count)
	if err != nil {
		return api.RotationPreview{}, err
	}
	return api.RotationPreview{Next: next}, nil
}

// --- operations ---

// GetOperation reads an operation; any authenticated caller may.
func (r *Rotation) GetOperation(ctx context.Context, id string) (api.Operation, error) {
	var op store.Operation
	err := r.Store.View(ctx, func(tx store.Tx) (err error) {
		op, err = tx.GetOperation(id)
		return err
	})
	if isNotFound(err) {
		return api.Operation{}, notFound("operation", id)
	}
	return op.Operation, err
}

func (r *Rotation) newOperation(kind, targetType, targetID, reason, parent string, by api.Actor, now time.Time) store.Operation {
	return store.Operation{
		Operation: api.Operation{ID: ids.New(api.PrefixOperation, now), Kind: kind,
			Target: api.OperationTarget{Type: targetType, ID: targetID}, State: api.OperationQueued, RequestedBy: by, CreatedAt: now},
		ParentID: parent, DueAt: now, Reason: reason,
	}
}

// rotatable explains why an account cannot be rotated or verified ("" when it can).
func (r *Rotation) rotatable(a api.VaultAccount, kind string) string {
	if _, err := r.Connectors.For(a.Platform); err != nil {
		return fmt.Sprintf("platform %q has no rotation connector", a.Platform)
	}
	if a.SecretType != api.SecretTypePassword {
		return fmt.Sprintf("secret type %q is not rotated (only password)", a.SecretType)
	}
	if a.SecretVersion == 0 && (kind == api.OperationKindVerify || a.Platform != api.PlatformGeneric) {
		return "the account has no secret yet: set one first"
	}
	return ""
}

// RequestAccountOperation queues a rotate or verify of a vault account
// (admin, security, or a member with manage permission on its safe). An
// operation of that kind already open for the account is returned instead of
// a second one.
func (r *Rotation) RequestAccountOperation(ctx context.Context, c Caller, accountID, kind string, ifMatch *int64) (api.Operation, error) {
	action := "vault_account." + kind
	var out store.Operation
	var deny bool
	err := r.Store.Update(ctx, func(tx store.Tx) error {
		a, err := tx.GetVaultAccount(accountID)
		if isNotFound(err) {
			return notFound("vault account", accountID)
		} else if err != nil {
			return err
		}
		safe, err := tx.GetSafe(a.SafeID)
		if err != nil {
			return err
		}
		id := vault.Identity{Actor: c.Principal.Actor(), Groups: c.Principal.Groups, Admin: c.Principal.HasAnyRole(catalogWriters...)}
		if !vault.HasPermission(safe, id, api.SafePermissionManage) {
			deny = true
			return errDenied
		}
		if ifMatch != nil && *ifMatch != a.Version {
			return etagMismatch("vault account", accountID, a.Version)
		}
		if why := r.rotatable(a, kind); why != "" {
			return api.NewProblem(http.StatusConflict, api.CodeNotRotatable, fmt.Sprintf("vault account %q cannot be %sd: %s", accountID, kind, why))
		}
		if open, err := tx.OpenOperation(kind, rotAccountKind, accountID); err == nil {
			out = open
			return nil
		} else if !isNotFound(err) {
			return err
		}
		out = r.newOperation(kind, rotAccountKind, accountID, store.ReasonAPI, "", c.Principal.Actor(), r.now())
		if err := tx.InsertOperation(out); err != nil {
			return err
		}
		return r.recordAny(tx, &c, "operation.created", rotOperationKind, out.ID, nil, opAudit(out), 0, 0)
	})
	if deny {
		return api.Operation{}, r.denied(ctx, c, action, rotAccountKind, accountID)
	}
	return out.Operation, err
}

// RunRotationSchedule queues a rotation of every automatically managed
// account under the schedule, as one rotation_schedule_run operation whose
// progress counts them (admin or security).
func (r *Rotation) RunRotationSchedule(ctx context.Context, c Caller, id string) (api.Operation, error) {
	var parent store.Operation
	var deny bool
	err := r.Store.Update(ctx, func(tx store.Tx) error {
		s, err := tx.GetRotationSchedule(id)
		if isNotFound(err) {
			return notFound("rotation schedule", id)
		} else if err != nil {
			return err
		}
		if !c.Principal.HasAnyRole(catalogWriters...) {
			deny = true
			return errDenied
		}
		_, accounts, err := scheduleRefs(tx)
		if err != nil {
			return err
		}
		now := r.now()
		by := c.Principal.Actor()
		parent = r.newOperation(api.OperationKindRotationScheduleRun, api.TargetTypeRotationSchedule, id, store.ReasonRun, "", by, now)
		parent.Progress = &api.OperationProgress{}
		var children []store.Operation
		for _, a := range accounts {
			if a.RotationScheduleID != id || a.ManagementMode == api.ManagementManual || r.rotatable(a, api.OperationKindRotate) != "" {
				continue
			}
			if _, err := tx.OpenOperation(api.OperationKindRotate, rotAccountKind, a.ID); err == nil {
				continue // already queued: that run covers it
			} else if !isNotFound(err) {
				return err
			}
			children = append(children, r.newOperation(api.OperationKindRotate, rotAccountKind, a.ID, store.ReasonRun, parent.ID, by, now))
		}
		parent.Progress.Total = len(children)
		if len(children) == 0 {
			parent.State = api.OperationSucceeded
			parent.StartedAt, parent.FinishedAt = &now, &now
		} else {
			parent.State = api.OperationRunning
			parent.StartedAt = &now
		}
		if err := tx.InsertOperation(parent); err != nil {
			return err
		}
		for _, ch := range children {
			if err := tx.InsertOperation(ch); err != nil {
				return err
			}
		}
		s.Status.LastRunAt, s.Status.LastRunOperationID = &now, parent.ID
		if err := tx.UpdateRotationSchedule(s, s.Version); err != nil {
			return err
		}
		// The operation first, as a rotation of one account records it: the
		// request's answer is this operation, and a retry whose response was
		// lost is answered from the first object the request audited
		// (idemstore).
		if err := r.recordAny(tx, &c, "operation.created", rotOperationKind, parent.ID, nil, opAudit(parent), 0, 0); err != nil {
			return err
		}
		return r.recordAny(tx, &c, "rotation_schedule.run", rotScheduleKind, id, nil, opAudit(parent), s.Version, s.Version)
	})
	if deny {
		return api.Operation{}, r.denied(ctx, c, "rotation_schedule.run", rotScheduleKind, id)
	}
	return parent.Operation, err
}

// RotateAfterCheckin implements vault.Rotator: it queues a rotation of the
// account (or keeps the one already queued) for the next worker pass.
func (r *Rotation) RotateAfterCheckin(ctx context.Context, accountID string) error {
	return r.Store.Update(ctx, func(tx store.Tx) error {
		a, err := tx.GetVaultAccount(accountID)
		if err != nil {
			return err
		}
		if why := r.rotatable(a, api.OperationKindRotate); why != "" {
			return fmt.Errorf("rotate on check-in of %s: %s", accountID, why)
		}
		if _, err := tx.OpenOperation(api.OperationKindRotate, rotAccountKind, accountID); err == nil {
			return nil
		} else if !isNotFound(err) {
			return err
		}
		op := r.newOperation(api.OperationKindRotate, rotAccountKind, accountID, store.ReasonCheckin, "", api.Actor{Type: "system", ID: "pamd"}, r.now())
		if err := tx.InsertOperation(op); err != nil {
			return err
		}
		st := a.Status
		st.LastRotationResult = api.RotationResultPending
		if err := tx.SetVaultAccountStatus(accountID, st); err != nil {
			return err
		}
		return r.recordAny(tx, nil, "operation.created", rotOperationKind, op.ID, nil, opAudit(op), 0, 0)
	})
}

// opAudit is what the audit chain records of an operation: never a secret.
type opAuditFields struct {
	OperationID string                 `json:"operation_id"`
	Kind        string                 `json:"kind"`
	Target      api.OperationTarget    `json:"target"`
	State       string                 `json:"state"`
	Reason      string                 `json:"reason,omitempty"`
	Attempt     int                    `json:"attempt,omitempty"`
	Result      *api.OperationResult   `json:"result,omitempty"`
	Error       string                 `json:"error,omitempty"`
	Progress    *api.OperationProgress `json:"progress,omitempty"`
}

func opAudit(op store.Operation) opAuditFields {
	f := opAuditFields{OperationID: op.ID, Kind: op.Kind, Target: op.Target, State: op.State, Reason: op.Reason,
		Attempt: op.Attempts, Result: op.Result, Progress: op.Progress}
	if op.Error != nil {
		f.Error = op.Error.Detail
	}
	return f
}

// recordOutcome appends a rotation/verification event on the account.
func (r *Rotation) recordOutcome(tx store.Tx, action string, op store.Operation, failed bool) error {
	ev, err := audit.NewMutation(audit.Mutation{Now: r.Clock.Now(), Actor: api.AuditActor{Type: "system", ID: "pamd"},
		Action: action, TargetType: rotAccountKind, TargetID: op.Target.ID, After: opAudit(op)})
	if err != nil {
		return err
	}
	ev.ResourceVersion = nil
	if failed {
		ev.Outcome = api.OutcomeFailure
	}
	return tx.AppendAudit(ev)
}

// --- the worker ---

// RunDue runs one pass of the rotation engine at the clock's now: it brings
// the per-account schedule state in line with the vault accounts, queues a
// rotation for every account that is due (and a verification for every one
// whose verification is due), then runs every queued operation that is due.
// It returns how many operations it finished or retried.
func (r *Rotation) RunDue(ctx context.Context) (int, error) {
	if err := r.syncAndQueue(ctx); err != nil {
		return 0, err
	}
	batch := r.Batch
	if batch <= 0 {
		batch = DefaultRotationBatch
	}
	n := 0
	for range batch {
		op, ok, err := r.claim(ctx)
		if err != nil || !ok {
			return n, err
		}
		if err := r.execute(ctx, op); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// schedulePlan computes when an account is next due under s, from its last
// secret change (or creation), with jitter and the max secret age.
func schedulePlan(a api.VaultAccount, s api.RotationSchedule, now time.Time) (store.RotationAccount, bool) {
	base := a.CreatedAt
	if a.SecretUpdatedAt != nil {
		base = *a.SecretUpdatedAt
	}
	row := store.RotationAccount{AccountID: a.ID, ScheduleID: s.ID, ScheduleVersion: s.Version}
	// Fire times older than one window before now were never this
	// schedule's to miss (the account was not under it, or pamd was not
	// running): plan from the first fire that can still start in time.
	from := base
	if earliest := now.Add(-time.Duration(s.WindowSeconds) * time.Second); from.Before(earliest) {
		from = earliest
	}
	fire, err := rotation.Next(s.RotationScheduleInput, from)
	if err != nil {
		return row, false
	}
	row.FireAt = fire
	row.NextRotationAt = fire.Add(rotation.Jitter(a.ID, fire, s.JitterSeconds))
	if s.MaxSecretAgeSeconds > 0 {
		if deadline := base.Add(time.Duration(s.MaxSecretAgeSeconds) * time.Second); deadline.Before(row.NextRotationAt) {
			row.NextRotationAt, row.FireAt = deadline, deadline
		}
	}
	if s.VerificationIntervalSeconds > 0 {
		v := now.Add(time.Duration(s.VerificationIntervalSeconds) * time.Second)
		row.NextVerificationAt = &v
	}
	return row, true
}

func (r *Rotation) syncAndQueue(ctx context.Context) error {
	return r.Store.Update(ctx, func(tx store.Tx) error {
		now := r.now()
		_, accounts, err := scheduleRefs(tx)
		if err != nil {
			return err
		}
		rows, err := tx.ListRotationAccounts()
		if err != nil {
			return err
		}
		have := map[string]store.RotationAccount{}
		for _, row := range rows {
			have[row.AccountID] = row
		}
		schedules := map[string]*api.RotationSchedule{}
		byID := map[string]api.VaultAccount{}
		for _, a := range accounts {
			byID[a.ID] = a
			if a.RotationScheduleID == "" || a.ManagementMode == api.ManagementManual || r.rotatable(a, api.OperationKindRotate) != "" {
				continue
			}
			s, ok := schedules[a.RotationScheduleID]
			if !ok {
				got, err := tx.GetRotationSchedule(a.RotationScheduleID)
				if err != nil && !isNotFound(err) {
					return err
				}
				if err == nil {
					s = &got
				}
				schedules[a.RotationScheduleID] = s
			}
			if s == nil {
				continue
			}
			if row, ok := have[a.ID]; ok && row.ScheduleID == s.ID && row.ScheduleVersion == s.Version {
				delete(have, a.ID)
				continue
			}
			delete(have, a.ID)
			row, ok := schedulePlan(a, *s, now)
			if !ok {
				continue
			}
			if err := tx.PutRotationAccount(row); err != nil {
				return err
			}
			if err := r.setNextRotation(tx, a, &row.NextRotationAt); err != nil {
				return err
			}
		}
		// Rows left over belong to accounts that no longer rotate.
		for id := range have {
			if err := tx.DeleteRotationAccount(id); err != nil {
				return err
			}
			if a, ok := byID[id]; ok {
				if err := r.setNextRotation(tx, a, nil); err != nil {
					return err
				}
			}
		}
		return r.queueDue(tx, now, byID, schedules)
	})
}

func (r *Rotation) setNextRotation(tx store.Tx, a api.VaultAccount, next *time.Time) error {
	st := a.Status
	st.NextRotationAt = next
	return tx.SetVaultAccountStatus(a.ID, st)
}

func (r *Rotation) queueDue(tx store.Tx, now time.Time, accounts map[string]api.VaultAccount, schedules map[string]*api.RotationSchedule) error {
	due, err := tx.DueRotationAccounts(now, 1000)
	if err != nil {
		return err
	}
	system := api.Actor{Type: "system", ID: "pamd"}
	for _, row := range due {
		a, okA := accounts[row.AccountID]
		s := schedules[row.ScheduleID]
		if !okA || s == nil {
			continue
		}
		if !row.NextRotationAt.After(now) {
			base := a.CreatedAt
			if a.SecretUpdatedAt != nil {
				base = *a.SecretUpdatedAt
			}
			overAge := s.MaxSecretAgeSeconds > 0 && !now.Before(base.Add(time.Duration(s.MaxSecretAgeSeconds)*time.Second))
			window := time.Duration(s.WindowSeconds) * time.Second
			reason := store.ReasonSchedule
			if overAge {
				reason = store.ReasonMaxAge
			}
			if !overAge && now.After(row.FireAt.Add(window)) {
				// Missed the window (pamd was down or busy): skip this run.
				op := r.newOperation(api.OperationKindRotate, rotAccountKind, a.ID, reason, "", system, now)
				op.State = api.OperationFailed
				op.Error = api.NewProblem(http.StatusConflict, api.CodeRotationFailed,
					fmt.Sprintf("skipped: the run due at %s did not start within the %ds window", row.FireAt.Format(time.RFC3339), s.WindowSeconds))
				if err := r.recordOutcome(tx, "rotation.skipped", op, true); err != nil {
					return err
				}
			} else if err := tx.InsertOperation(r.newOperation(api.OperationKindRotate, rotAccountKind, a.ID, reason, "", system, now)); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
			// Advance to the next fire after now so the account is not
			// queued again; a success recomputes it from the new secret.
			fire, err := rotation.Next(s.RotationScheduleInput, now)
			if err == nil {
				row.FireAt = fire
				row.NextRotationAt = fire.Add(rotation.Jitter(a.ID, fire, s.JitterSeconds))
			} else {
				row.NextRotationAt = now.Add(api.MaxSecretAgeSeconds * time.Second)
			}
			if err := r.setNextRotation(tx, a, &row.NextRotationAt); err != nil {
				return err
			}
		}
		if row.NextVerificationAt != nil && !row.NextVerificationAt.After(now) {
			if a.SecretVersion > 0 {
				err := tx.InsertOperation(r.newOperation(api.OperationKindVerify, rotAccountKind, a.ID, store.ReasonVerify, "", system, now))
				if err != nil && !errors.Is(err, store.ErrConflict) {
					return err
				}
			}
			v := now.Add(time.Duration(s.VerificationIntervalSeconds) * time.Second)
			row.NextVerificationAt = &v
		}
		if err := tx.PutRotationAccount(row); err != nil {
			return err
		}
	}
	return nil
}

// claim moves the earliest due operation to running, with a lease.
func (r *Rotation) claim(ctx context.Context) (store.Operation, bool, error) {
	var op store.Operation
	var ok bool
	lease := r.Lease
	if lease <= 0 {
		lease = DefaultRotationLease
	}
	err := r.Store.Update(ctx, func(tx store.Tx) error {
		now := r.now()
		due, err := tx.DueOperations(now, 1)
		if err != nil || len(due) == 0 {
			return err
		}
		op, ok = due[0], true
		op.State = api.OperationRunning
		op.Attempts++
		until := now.Add(lease)
		op.ClaimedUntil = &until
		if op.StartedAt == nil {
			op.StartedAt = &now
		}
		if err := tx.UpdateOperation(op); err != nil {
			return err
		}
		action := "rotation.started"
		if op.Kind == api.OperationKindVerify {
			action = "verification.started"
		}
		return r.recordOutcome(tx, action, op, false)
	})
	return op, ok, err
}

// currentSecret opens the account's current secret version.
func (r *Rotation) currentSecret(tx store.Tx, a api.VaultAccount) (string, error) {
	if a.SecretVersion == 0 {
		return "", nil
	}
	if r.Keyring == nil {
		return "", errors.New("no key ring: secrets cannot be opened")
	}
	rec, err := tx.GetSecretVersion(a.ID, a.SecretVersion)
	if err != nil {
		return "", fmt.Errorf("secret version %d: %w", a.SecretVersion, err)
	}
	pt, err := r.Keyring.OpenString(rec.Sealed, vault.SecretAAD(a.ID, a.SecretVersion))
	if err != nil {
		return "", fmt.Errorf("open secret version %d: %w", a.SecretVersion, err)
	}
	return string(pt), nil
}

// execute runs one claimed operation against the target, outside any
// transaction, then records its outcome.
func (r *Rotation) execute(ctx context.Context, op store.Operation) error {
	var a api.VaultAccount
	var current string
	var sched *api.RotationSchedule
	err := r.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if a, err = tx.GetVaultAccount(op.Target.ID); err != nil {
			return err
		}
		if a.RotationScheduleID != "" {
			s, err := tx.GetRotationSchedule(a.RotationScheduleID)
			if err == nil {
				sched = &s
			} else if !isNotFound(err) {
				return err
			}
		}
		current, err = r.currentSecret(tx, a)
		return err
	})
	if isNotFound(err) {
		return r.finish(ctx, op, nil, "", fmt.Errorf("vault account %s no longer exists", op.Target.ID), false)
	}
	if err != nil {
		return r.finish(ctx, op, sched, "", err, false)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultRotationTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := r.Connectors.For(a.Platform)
	if err != nil {
		return r.finish(ctx, op, sched, "", err, false)
	}
	if op.Kind == api.OperationKindVerify {
		return r.finish(ctx, op, sched, "", conn.Verify(cctx, a, current), false)
	}
	// A previous attempt may have changed the target and then failed to
	// record it: if its sealed secret logs in, it is the new secret.
	if op.PendingSealed != "" && r.Keyring != nil {
		if pt, err := r.Keyring.OpenString(op.PendingSealed, pendingAAD(op.ID)); err == nil {
			if conn.Verify(cctx, a, string(pt)) == nil {
				return r.finish(ctx, op, sched, string(pt), nil, true)
			}
		}
	}
	policy := api.RotationPasswordPolicy{}
	if sched != nil {
		policy = sched.PasswordPolicy
	}
	next, err := rotation.GeneratePassword(policy)
	if err != nil {
		return r.finish(ctx, op, sched, "", err, false)
	}
	if err := r.savePending(ctx, &op, next); err != nil {
		return r.finish(ctx, op, sched, "", err, false)
	}
	err = conn.Rotate(cctx, a, current, next)
	return r.finish(ctx, op, sched, next, err, err == nil)
}

// pendingAAD binds a pending secret to its operation.
func pendingAAD(opID string) []byte { return []byte("pamd rotation pending v1\x00" + opID) }

// savePending records the sealed new secret on the running operation before
// the connector is called.
func (r *Rotation) savePending(ctx context.Context, op *store.Operation, secret string) error {
	if r.Keyring == nil {
		return errors.New("no key ring: the new secret cannot be sealed")
	}
	sealed, err := r.Keyring.SealString([]byte(secret), pendingAAD(op.ID))
	if err != nil {
		return err
	}
	return r.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetOperation(op.ID)
		if err != nil {
			return err
		}
		if cur.State != api.OperationRunning || cur.Attempts != op.Attempts {
			return errors.New("the operation was taken over by another worker")
		}
		cur.PendingSealed = sealed
		if err := tx.UpdateOperation(cur); err != nil {
			return err
		}
		*op = cur
		return nil
	})
}

// finish records the outcome of an attempt: the new secret version on
// success, a retry or a failure otherwise, on the operation, the account's
// status, the audit chain and the parent run's progress.
func (r *Rotation) finish(ctx context.Context, op store.Operation, sched *api.RotationSchedule, secret string, runErr error, rotated bool) error {
	retry := api.RotationRetry{MaxAttempts: api.DefaultRotationRetryAttempts, BackoffSeconds: api.DefaultRotationRetryBackoff}
	if sched != nil {
		retry = sched.Retry
	}
	if runErr != nil {
		r.Logger.Warn("rotation operation failed", "operation_id", op.ID, "kind", op.Kind, "account_id", op.Target.ID, "attempt", op.Attempts, "error", runErr.Error())
	}
	return r.Store.Update(ctx, func(tx store.Tx) error {
		now := r.now()
		cur, err := tx.GetOperation(op.ID)
		if err != nil {
			return err
		}
		if cur.State != api.OperationRunning || cur.Attempts != op.Attempts {
			return nil // the lease expired and another worker took over
		}
		op = cur
		op.ClaimedUntil = nil
		a, aerr := tx.GetVaultAccount(op.Target.ID)
		if aerr != nil && !isNotFound(aerr) {
			return aerr
		}
		accountExists := aerr == nil
		verify := op.Kind == api.OperationKindVerify
		switch {
		case runErr == nil && rotated && accountExists:
			v := a.SecretVersion + 1
			if r.Keyring == nil {
				return errors.New("no key ring: the new secret cannot be sealed")
			}
			sealed, err := r.Keyring.SealString([]byte(secret), vault.SecretAAD(a.ID, v))
			if err != nil {
				return err
			}
			if err := tx.InsertSecretVersion(store.SecretVersionRecord{AccountID: a.ID, Version: v, Sealed: sealed,
				Source: api.SecretSourceRotation, OperationID: op.ID, CreatedAt: now, CreatedBy: api.Actor{Type: "system", ID: "pamd"}}); err != nil {
				return err
			}
			a.SecretVersion, a.SecretUpdatedAt = v, &now
			// The configuration version is left alone: a rotation is not a
			// configuration change and must not fail a client's If-Match.
			if err := tx.UpdateVaultAccount(a, a.Version); err != nil {
				return err
			}
			if err := r.recordAny(tx, nil, "vault_account.secret_set", rotAccountKind, a.ID, nil,
				secretSetEvent{SecretVersion: v, Source: api.SecretSourceRotation, OperationID: op.ID}, v-1, v); err != nil {
				return err
			}
			op.State, op.Result, op.PendingSealed = api.OperationSucceeded, &api.OperationResult{SecretVersion: v}, ""
			op.FinishedAt = &now
			st := a.Status
			st.LastRotationAt, st.LastRotationResult, st.Note = &now, api.RotationResultSucceeded, ""
			if sched != nil && a.RotationScheduleID == sched.ID && a.ManagementMode != api.ManagementManual {
				if row, ok := schedulePlan(a, *sched, now); ok {
					if old, err := tx.GetRotationAccount(a.ID); err == nil {
						row.NextVerificationAt = old.NextVerificationAt
					}
					if err := tx.PutRotationAccount(row); err != nil {
						return err
					}
					st.NextRotationAt = &row.NextRotationAt
				}
			}
			if err := tx.SetVaultAccountStatus(a.ID, st); err != nil {
				return err
			}
			if err := r.recordOutcome(tx, api.AuditRotationSucceeded, op, false); err != nil {
				return err
			}
		case runErr == nil && verify:
			op.State, op.Result, op.FinishedAt = api.OperationSucceeded, &api.OperationResult{Verified: true}, &now
			if accountExists {
				st := a.Status
				st.LastVerificationAt, st.LastVerificationResult = &now, api.RotationResultSucceeded
				if err := tx.SetVaultAccountStatus(a.ID, st); err != nil {
					return err
				}
			}
			if err := r.recordOutcome(tx, api.AuditVerificationSucceeded, op, false); err != nil {
				return err
			}
		default:
			if runErr == nil {
				runErr = errors.New("vault account no longer exists")
			}
			code, action := api.CodeRotationFailed, api.AuditRotationFailed
			if verify {
				code, action = api.CodeVerificationFailed, api.AuditVerificationFailed
			}
			// The message is scrubbed of the secrets of this attempt even
			// though connectors never put them there.
			msg := runErr.Error()
			for _, s := range []string{secret} {
				if s != "" {
					msg = strings.ReplaceAll(msg, s, "[redacted]")
				}
			}
			op.Error = api.NewProblem(http.StatusBadGateway, code, msg)
			if !verify && accountExists && op.Attempts < retry.MaxAttempts {
				op.State = api.OperationQueued
				op.DueAt = now.Add(rotation.RetryDelay(retry, op.Attempts+1))
			} else {
				op.State, op.FinishedAt, op.PendingSealed = api.OperationFailed, &now, ""
			}
			if accountExists {
				st := a.Status
				if verify {
					st.LastVerificationAt, st.LastVerificationResult = &now, api.RotationResultFailed
					st.Note = "verification failed: " + msg
				} else {
					st.LastRotationAt, st.LastRotationResult = &now, api.RotationResultFailed
					st.Note = fmt.Sprintf("rotation attempt %d of %d failed: %s", op.Attempts, retry.MaxAttempts, msg)
				}
				if err := tx.SetVaultAccountStatus(a.ID, st); err != nil {
					return err
				}
			}
			if err := r.recordOutcome(tx, action, op, true); err != nil {
				return err
			}
		}
		if err := tx.UpdateOperation(op); err != nil {
			return err
		}
		if op.ParentID != "" && (op.State == api.OperationSucceeded || op.State == api.OperationFailed) {
			return r.updateParent(tx, op.ParentID, now)
		}
		return nil
	})
}

func (r *Rotation) updateParent(tx store.Tx, parentID string, now time.Time) error {
	parent, err := tx.GetOperation(parentID)
	if err != nil {
		return err
	}
	children, err := tx.ChildOperations(parentID)
	if err != nil {
		return err
	}
	p := api.OperationProgress{Total: len(children)}
	for _, ch := range children {
		switch ch.State {
		case api.OperationSucceeded:
			p.Succeeded++
		case api.OperationFailed:
			p.Failed++
		}
	}
	parent.Progress = &p
	if p.Succeeded+p.Failed == p.Total {
		parent.FinishedAt = &now
		parent.State = api.OperationSucceeded
		if p.Failed > 0 {
			parent.State = api.OperationFailed
			parent.Error = api.NewProblem(http.StatusBadGateway, api.CodeRotationFailed,
				fmt.Sprintf("%d of %d account rotation(s) failed", p.Failed, p.Total))
		}
		if err := r.recordAny(tx, nil, "rotation_schedule.run_finished", rotScheduleKind, parent.Target.ID, nil, opAudit(parent), 0, 0); err != nil {
			return err
		}
	}
	return tx.UpdateOperation(parent)
}
