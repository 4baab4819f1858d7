package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

type listSessionPoliciesInput struct {
	api.SessionPolicyListParams
}

const sessionPolicyItemPath = api.PathSessionPolicies + "/{id}"

func (s *Server) registerSessionPolicies(ss *catalog.Sessions) {
	tags := []string{"session_policies"}
	register(s, huma.Operation{
		OperationID: "create-session-policy", Method: http.MethodPost, Path: api.PathSessionPolicies, DefaultStatus: http.StatusCreated,
		Summary: "Create a session policy", Tags: tags,
		Description: "Requires server role admin or security. Names are unique (409 already_exists with existing_id). " +
			"Command filter rules are ordered: the first match wins. A malformed regex is a 400 violation at " +
			"/command_filter/rules/N/pattern carrying the regexp error. The response holds the normalised policy.",
	}, func(ctx context.Context, in *createInput[api.SessionPolicyInput]) (*objectOutput[api.SessionPolicy], error) {
		c, err := caller(ctx, http.MethodPost, api.PathSessionPolicies)
		if err != nil {
			return nil, err
		}
		p, err := ss.CreateSessionPolicy(ctx, c, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(p, p.Version, api.PathSessionPolicies+"/"+p.ID), nil
	})

	register(s, huma.Operation{
		OperationID: "list-session-policies", Method: http.MethodGet, Path: api.PathSessionPolicies, Summary: "List session policies", Tags: tags,
		Description: "Any valid token. Ordered by id; follow next_page_token until it is absent.",
	}, func(ctx context.Context, in *listSessionPoliciesInput) (*listOutput[api.SessionPolicy], error) {
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		filter := "name=" + in.Name
		after, err := s.after(in.PageToken, "session_policies", filter)
		if err != nil {
			return nil, err
		}
		items, err := ss.ListSessionPolicies(ctx, store.SessionPolicyFilter{Name: in.Name, AfterID: after, Limit: size + 1})
		if err != nil {
			return nil, err
		}
		return &listOutput[api.SessionPolicy]{Body: paginate(s, items, size, "session_policies", filter, func(p api.SessionPolicy) string { return p.ID })}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-session-policy", Method: http.MethodGet, Path: sessionPolicyItemPath, Summary: "Read a session policy", Tags: tags,
	}, func(ctx context.Context, in *idInput) (*objectOutput[api.SessionPolicy], error) {
		p, err := ss.GetSessionPolicy(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return objectOut(p, p.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "replace-session-policy", Method: http.MethodPut, Path: sessionPolicyItemPath, Summary: "Replace a session policy", Tags: tags,
		Description: "Requires admin or security. Applies to future sessions; running ones keep their policy_snapshot.",
	}, func(ctx context.Context, in *replaceInput[api.SessionPolicyInput]) (*objectOutput[api.SessionPolicy], error) {
		c, err := caller(ctx, http.MethodPut, api.PathSessionPolicies+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		p, err := ss.ReplaceSessionPolicy(ctx, c, in.ID, v, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(p, p.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "delete-session-policy", Method: http.MethodDelete, Path: sessionPolicyItemPath, DefaultStatus: http.StatusNoContent,
		Summary: "Delete a session policy", Tags: tags,
		Description: "Requires admin or security. 409 in_use while a vault account (session_policy_id) or a safe " +
			"(default_session_policy_id) references the policy.",
	}, func(ctx context.Context, in *deleteInput) (*struct{}, error) {
		c, err := caller(ctx, http.MethodDelete, api.PathSessionPolicies+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		if err := ss.DeleteSessionPolicy(ctx, c, in.ID, v); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})
}
