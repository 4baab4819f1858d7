package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

type listSchedulesInput struct {
	api.RotationScheduleListParams
}

type previewInput struct {
	ID    string `path:"id" doc:"Rotation schedule id (rot_...)."`
	Count int    `query:"count" doc:"How many fire times (1-100, default 5)."`
}

type previewOutput struct {
	Body api.RotationPreview
}

type runScheduleInput struct {
	ID             string `path:"id" doc:"Rotation schedule id (rot_...)."`
	IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the run safe to retry: a retry returns the first operation."`
}

type accountOpInput struct {
	ID             string `path:"id" doc:"Vault account id (acct_...)."`
	IdempotencyKey string `header:"Idempotency-Key" doc:"Required on rotate (400 idempotency_key_missing): a retry returns the same operation."`
	IfMatch        string `header:"If-Match" doc:"Optional: the account version the request is based on; 412 if stale."`
}

type operationIDInput struct {
	ID string `path:"id" doc:"Operation id (op_...)."`
}

type operationOutput struct {
	Location   string `header:"Location"`
	RetryAfter string `header:"Retry-After"`
	Body       api.Operation
}

const scheduleItemPath = api.PathRotationSchedules + "/{id}"

// accepted is the 202 answer of an asynchronous action (API.md §6.10).
func accepted(op api.Operation) *operationOutput {
	out := &operationOutput{Location: api.PathOperations + "/" + op.ID, Body: op}
	if op.State == api.OperationQueued || op.State == api.OperationRunning {
		out.RetryAfter = strconv.Itoa(api.DefaultOperationRetryAfterSec)
	}
	return out
}

func (s *Server) registerRotation(r *catalog.Rotation) {
	tags := []string{"rotation_schedules"}
	register(s, huma.Operation{
		OperationID: "create-rotation-schedule", Method: http.MethodPost, Path: api.PathRotationSchedules, DefaultStatus: http.StatusCreated,
		Summary: "Create a rotation schedule", Tags: tags,
		Description: "Requires server role admin or security. Exactly one of interval_seconds and cron; a cron that never fires " +
			"or a password policy that cannot be satisfied is 400 with a pointer. Names are unique (409 already_exists).",
	}, func(ctx context.Context, in *createInput[api.RotationScheduleInput]) (*objectOutput[api.RotationSchedule], error) {
		c, err := caller(ctx, http.MethodPost, api.PathRotationSchedules)
		if err != nil {
			return nil, err
		}
		sc, err := r.CreateRotationSchedule(ctx, c, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(sc, sc.Version, api.PathRotationSchedules+"/"+sc.ID), nil
	})

	register(s, huma.Operation{
		OperationID: "list-rotation-schedules", Method: http.MethodGet, Path: api.PathRotationSchedules, Summary: "List rotation schedules", Tags: tags,
		Description: "Any valid token. Ordered by id; follow next_page_token until it is absent.",
	}, func(ctx context.Context, in *listSchedulesInput) (*listOutput[api.RotationSchedule], error) {
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		filter := "name=" + in.Name
		after, err := s.after(in.PageToken, "rotation_schedules", filter)
		if err != nil {
			return nil, err
		}
		items, err := r.ListRotationSchedules(ctx, store.RotationScheduleFilter{Name: in.Name, AfterID: after, Limit: size + 1})
		if err != nil {
			return nil, err
		}
		return &listOutput[api.RotationSchedule]{Body: paginate(s, items, size, "rotation_schedules", filter, func(sc api.RotationSchedule) string { return sc.ID })}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-rotation-schedule", Method: http.MethodGet, Path: scheduleItemPath, Summary: "Read a rotation schedule", Tags: tags,
	}, func(ctx context.Context, in *idInput) (*objectOutput[api.RotationSchedule], error) {
		sc, err := r.GetRotationSchedule(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return objectOut(sc, sc.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "replace-rotation-schedule", Method: http.MethodPut, Path: scheduleItemPath, Summary: "Replace a rotation schedule", Tags: tags,
		Description: "Requires admin or security. Accounts under the schedule are rescheduled on the next worker pass.",
	}, func(ctx context.Context, in *replaceInput[api.RotationScheduleInput]) (*objectOutput[api.RotationSchedule], error) {
		c, err := caller(ctx, http.MethodPut, api.PathRotationSchedules+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		sc, err := r.ReplaceRotationSchedule(ctx, c, in.ID, v, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(sc, sc.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "delete-rotation-schedule", Method: http.MethodDelete, Path: scheduleItemPath, DefaultStatus: http.StatusNoContent,
		Summary: "Delete a rotation schedule", Tags: tags,
		Description: "Requires admin or security. 409 in_use while vault accounts reference the schedule.",
	}, func(ctx context.Context, in *deleteInput) (*struct{}, error) {
		c, err := caller(ctx, http.MethodDelete, api.PathRotationSchedules+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		if err := r.DeleteRotationSchedule(ctx, c, in.ID, v); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})

	register(s, huma.Operation{
		OperationID: "preview-rotation-schedule", Method: http.MethodGet, Path: scheduleItemPath + "/" + api.SubPreview,
		Summary: "Preview the next fire times of a rotation schedule", Tags: tags,
		Description: "Any valid token. Fire times are after now, in UTC, without jitter.",
	}, func(ctx context.Context, in *previewInput) (*previewOutput, error) {
		p, err := r.PreviewRotationSchedule(ctx, in.ID, in.Count)
		if err != nil {
			return nil, err
		}
		return &previewOutput{Body: p}, nil
	})

	register(s, huma.Operation{
		OperationID: "run-rotation-schedule", Method: http.MethodPost, Path: scheduleItemPath + "/" + api.ActionRun, DefaultStatus: http.StatusAccepted,
		Summary: "Rotate every account of a schedule now", Tags: tags,
		Description: "Requires admin or security. 202 with a rotation_schedule_run operation whose progress counts the accounts; poll Location.",
	}, func(ctx context.Context, in *runScheduleInput) (*operationOutput, error) {
		c, err := caller(ctx, http.MethodPost, api.PathRotationSchedules+"/"+in.ID+"/"+api.ActionRun)
		if err != nil {
			return nil, err
		}
		op, err := r.RunRotationSchedule(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return accepted(op), nil
	})

	accountTags := []string{"vault_accounts"}
	for _, kind := range []string{api.ActionRotate, api.ActionVerify} {
		register(s, huma.Operation{
			OperationID: kind + "-vault-account", Method: http.MethodPost, Path: api.PathVaultAccountsCollection + "/{id}/" + kind,
			DefaultStatus: http.StatusAccepted, Summary: "Queue a " + kind + " of a vault account", Tags: accountTags,
			Description: "Requires admin, security or the manage permission on the account's safe. 202 with an operation; poll Location. " +
				"An operation of the same kind already queued or running for the account is returned instead of a second one. " +
				"409 not_rotatable when the account's platform has no connector, its secret is not a password, or it has no secret yet.",
		}, func(ctx context.Context, in *accountOpInput) (*operationOutput, error) {
			path := api.PathVaultAccountsCollection + "/" + in.ID + "/" + kind
			c, err := caller(ctx, http.MethodPost, path)
			if err != nil {
				return nil, err
			}
			if kind == api.ActionRotate && in.IdempotencyKey == "" {
				p := api.NewProblem(http.StatusBadRequest, api.CodeIdempotencyKeyMissing, "POST "+path+" requires an Idempotency-Key header")
				p.Violations = []api.Violation{{Pointer: "header:" + api.HeaderIdempotencyKey, Code: "required", Message: "send a unique key (a UUID) per rotation request"}}
				return nil, p
			}
			v, err := ifMatch(in.IfMatch)
			if err != nil {
				return nil, err
			}
			op, err := r.RequestAccountOperation(ctx, c, in.ID, kind, v)
			if err != nil {
				return nil, err
			}
			return accepted(op), nil
		})
	}

	register(s, huma.Operation{
		OperationID: "get-operation", Method: http.MethodGet, Path: api.PathOperations + "/{id}", Summary: "Read an operation", Tags: []string{"operations"},
		Description: "Any valid token. Poll until state is succeeded or failed; Retry-After suggests the interval while it is not.",
	}, func(ctx context.Context, in *operationIDInput) (*operationOutput, error) {
		op, err := r.GetOperation(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		out := accepted(op)
		out.Location = ""
		return out, nil
	})
}
