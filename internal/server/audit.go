package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// auditReaders may read the audit log.
var auditReaders = []string{api.ServerRoleAuditor, api.ServerRoleAdmin, api.ServerRoleSecurity}

type listAuditInput struct {
	api.AuditListParams
}

type auditListOutput struct {
	Body api.Page[api.AuditEvent]
}

type auditIDInput struct {
	ID string `path:"id" doc:"Audit event id (aud_...)."`
}

type auditOutput struct {
	Body api.AuditEvent
}

// mayReadAudit refuses (and audits the refusal of) callers without an audit
// reader role; id is the event asked for, "" for the list.
func (s *Server) mayReadAudit(ctx context.Context, method, path, action, id string) error {
	c, err := caller(ctx, method, path)
	if err != nil {
		return err
	}
	if c.Principal.HasAnyRole(auditReaders...) {
		return nil
	}
	if err := s.catalog.AuditDenied(ctx, c, action, "audit_event", id); err != nil {
		return err
	}
	return api.NewProblem(http.StatusForbidden, api.CodeForbidden, "reading the audit log requires server role auditor, admin or security")
}

// registerAudit adds the read-only audit feed. There are deliberately no
// write routes: PUT, PATCH and DELETE answer 405 from the router.
func (s *Server) registerAudit() {
	tags := []string{"audit"}
	register(s, huma.Operation{
		OperationID: "list-audit-events", Method: http.MethodGet, Path: api.PathAuditEvents, Summary: "List audit events", Tags: tags,
		Description: "Ordered by sequence. after_sequence is the resumable cursor for SIEM pulls; action matches a prefix (\"role.\").",
	}, func(ctx context.Context, in *listAuditInput) (*auditListOutput, error) {
		if err := s.mayReadAudit(ctx, http.MethodGet, api.PathAuditEvents, "audit_event.listed", ""); err != nil {
			return nil, err
		}
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		if in.AfterSequence < 0 {
			return nil, api.ValidationProblem("after_sequence is negative", api.Violation{
				Pointer: "query:after_sequence", Code: "range", Message: "after_sequence must be 0 or more"})
		}
		filter := fmt.Sprintf("after=%d&action=%s&target=%s", in.AfterSequence, in.Action, in.TargetID)
		after := in.AfterSequence
		if in.PageToken != "" {
			a, err := s.pages.decode(in.PageToken, "audit_events", filter)
			if err != nil {
				return nil, invalidPageToken()
			}
			if after, err = strconv.ParseInt(a, 10, 64); err != nil {
				return nil, invalidPageToken()
			}
		}
		var items []api.AuditEvent
		err = s.store.View(ctx, func(tx store.Tx) (err error) {
			items, err = tx.ListAudit(store.AuditFilter{AfterSequence: after, ActionPrefix: in.Action, TargetID: in.TargetID, Limit: size + 1})
			return err
		})
		if err != nil {
			return nil, err
		}
		page := api.Page[api.AuditEvent]{Items: items}
		if len(items) > size {
			page.Items = items[:size]
			page.NextPageToken = s.pages.encode("audit_events", filter, itoa(page.Items[size-1].Sequence))
		}
		return &auditListOutput{Body: page}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-audit-event", Method: http.MethodGet, Path: api.PathAuditEvents + "/{id}", Summary: "Read an audit event", Tags: tags,
	}, func(ctx context.Context, in *auditIDInput) (*auditOutput, error) {
		var ev api.AuditEvent
		err := s.store.View(ctx, func(tx store.Tx) (err error) {
			ev, err = tx.GetAuditEvent(in.ID)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil, api.NewProblem(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("audit event %q does not exist", in.ID))
		}
		if err != nil {
			return nil, err
		}
		if err := s.mayReadAudit(ctx, http.MethodGet, api.PathAuditEvents+"/"+in.ID, "audit_event.read", in.ID); err != nil {
			return nil, err
		}
		return &auditOutput{Body: ev}, nil
	})
}
