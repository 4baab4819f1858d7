package server

import (
	"context"
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

type listPoliciesInput struct {
	api.ActivationPolicyListParams
}

const policyItemPath = api.PathActivationPolicies + "/{id}"

func (s *Server) registerActivationPolicies() {
	tags := []string{"activation_policies"}
	register(s, huma.Operation{
		OperationID: "create-activation-policy", Method: http.MethodPost, Path: api.PathActivationPolicies, DefaultStatus: http.StatusCreated,
		Summary: "Create an activation policy", Tags: tags,
		Description: "Requires server role admin or security. Names are unique (409 already_exists with existing_id). " +
			"The response holds the normalised policy: every default that a zero value stands for is filled in.",
	}, func(ctx context.Context, in *createInput[api.ActivationPolicyInput]) (*objectOutput[api.ActivationPolicy], error) {
		c, err := caller(ctx, http.MethodPost, api.PathActivationPolicies)
		if err != nil {
			return nil, err
		}
		p, err := s.catalog.CreateActivationPolicy(ctx, c, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(p, p.Version, api.PathActivationPolicies+"/"+p.ID), nil
	})

	register(s, huma.Operation{
		OperationID: "list-activation-policies", Method: http.MethodGet, Path: api.PathActivationPolicies, Summary: "List activation policies", Tags: tags,
		Description: "Any valid token. Ordered by id; follow next_page_token until it is absent.",
	}, func(ctx context.Context, in *listPoliciesInput) (*listOutput[api.ActivationPolicy], error) {
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		filter := "name=" + in.Name
		after, err := s.after(in.PageToken, "activation_policies", filter)
		if err != nil {
			return nil, err
		}
		items, err := s.catalog.ListActivationPolicies(ctx, store.ActivationPolicyFilter{Name: in.Name, AfterID: after, Limit: size + 1})
		if err != nil {
			return nil, err
		}
		return &listOutput[api.ActivationPolicy]{Body: paginate(s, items, size, "activation_policies", filter, func(p api.ActivationPolicy) string { return p.ID })}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-activation-policy", Method: http.MethodGet, Path: policyItemPath, Summary: "Read an activation policy", Tags: tags,
	}, func(ctx context.Context, in *idInput) (*objectOutput[api.ActivationPolicy], error) {
		p, err := s.catalog.GetActivationPolicy(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return objectOut(p, p.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "replace-activation-policy", Method: http.MethodPut, Path: policyItemPath, Summary: "Replace an activation policy", Tags: tags,
		Description: "Requires admin or security. Applies to future elevations; in-flight ones keep their policy_snapshot.",
	}, func(ctx context.Context, in *replaceInput[api.ActivationPolicyInput]) (*objectOutput[api.ActivationPolicy], error) {
		c, err := caller(ctx, http.MethodPut, api.PathActivationPolicies+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		p, err := s.catalog.ReplaceActivationPolicy(ctx, c, in.ID, v, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(p, p.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "delete-activation-policy", Method: http.MethodDelete, Path: policyItemPath, DefaultStatus: http.StatusNoContent,
		Summary: "Delete an activation policy", Tags: tags,
		Description: "Requires admin or security. 409 in_use while eligible role assignments reference the policy.",
	}, func(ctx context.Context, in *deleteInput) (*struct{}, error) {
		c, err := caller(ctx, http.MethodDelete, api.PathActivationPolicies+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		if err := s.catalog.DeleteActivationPolicy(ctx, c, in.ID, v); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})
}

// after decodes an optional page token into the id to continue after.
func (s *Server) after(token, collection, filter string) (string, error) {
	if token == "" {
		return "", nil
	}
	a, err := s.pages.decode(token, collection, filter)
	if err != nil {
		return "", invalidPageToken()
	}
	return a, nil
}

// paginate trims the extra row fetched to detect a next page and signs the cursor.
func paginate[T any](s *Server, items []T, size int, collection, filter string, id func(T) string) api.Page[T] {
	page := api.Page[T]{Items: items}
	if page.Items == nil {
		page.Items = []T{}
	}
	if len(items) > size {
		page.Items = items[:size]
		page.NextPageToken = s.pages.encode(collection, filter, id(page.Items[size-1]))
	}
	return page
}

// listOwn serves a page of a collection that each caller sees only its own
// part of (tokens, SSH keys; admins see more, as list decides). The page
// token is bound to the caller's subject, so a cursor replayed by someone
// else is refused.
func listOwn[T any](ctx context.Context, s *Server, path, collection, pageToken string, pageSizeParam int,
	list func(c catalog.Caller, after string, limit int) ([]T, error), id func(T) string) (api.Page[T], error) {
	c, err := caller(ctx, http.MethodGet, path)
	if err != nil {
		return api.Page[T]{}, err
	}
	size, err := pageSize(pageSizeParam)
	if err != nil {
		return api.Page[T]{}, err
	}
	filter := "subject=" + c.Principal.Subject
	after, err := s.after(pageToken, collection, filter)
	if err != nil {
		return api.Page[T]{}, err
	}
	items, err := list(c, after, size+1)
	if err != nil {
		return api.Page[T]{}, err
	}
	return paginate(s, items, size, collection, filter, id), nil
}

// bodies documents responses whose body type depends on the request
// (validate_only), since such handlers return their body as any.
func (s *Server) bodies(resp map[int]any) map[string]*huma.Response {
	reg := s.api.OpenAPI().Components.Schemas
	out := map[string]*huma.Response{}
	for status, v := range resp {
		out[strconv.Itoa(status)] = &huma.Response{
			Description: http.StatusText(status),
			Content:     map[string]*huma.MediaType{"application/json": {Schema: reg.Schema(reflect.TypeOf(v), true, "")}},
		}
	}
	return out
}
