package server

import (
	"context"
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

type policyOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     api.ActivationPolicy
}

type createPolicyInput struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the create safe to retry: a retry returns the first result."`
	Body           api.ActivationPolicyInput
}

type policyIDInput struct {
	ID string `path:"id" doc:"Activation policy id (actp_...)."`
}

type replacePolicyInput struct {
	ID      string `path:"id" doc:"Activation policy id (actp_...)."`
	IfMatch string `header:"If-Match" doc:"Version the change is based on, as returned in ETag; 412 if stale."`
	Body    api.ActivationPolicyInput
}

type deletePolicyInput struct {
	ID      string `path:"id" doc:"Activation policy id (actp_...)."`
	IfMatch string `header:"If-Match" doc:"Optional version precondition."`
}

type listPoliciesInput struct {
	api.ActivationPolicyListParams
}

type policyListOutput struct {
	Body api.Page[api.ActivationPolicy]
}

const policyItemPath = api.PathActivationPolicies + "/{id}"

func policyOut(p api.ActivationPolicy, withLocation bool) *policyOutput {
	out := &policyOutput{ETag: api.FormatETag(p.Version), Body: p}
	if withLocation {
		out.Location = api.PathActivationPolicies + "/" + p.ID
	}
	return out
}

func (s *Server) registerActivationPolicies() {
	tags := []string{"activation_policies"}
	register(s, huma.Operation{
		OperationID: "create-activation-policy", Method: http.MethodPost, Path: api.PathActivationPolicies, DefaultStatus: http.StatusCreated,
		Summary: "Create an activation policy", Tags: tags,
		Description: "Requires server role admin or security. Names are unique (409 already_exists with existing_id). " +
			"The response holds the normalised policy: every default that a zero value stands for is filled in.",
	}, func(ctx context.Context, in *createPolicyInput) (*policyOutput, error) {
		c, err := caller(ctx, http.MethodPost, api.PathActivationPolicies)
		if err != nil {
			return nil, err
		}
		p, err := s.catalog.CreateActivationPolicy(ctx, c, in.Body)
		if err != nil {
			return nil, err
		}
		return policyOut(p, true), nil
	})

	register(s, huma.Operation{
		OperationID: "list-activation-policies", Method: http.MethodGet, Path: api.PathActivationPolicies, Summary: "List activation policies", Tags: tags,
		Description: "Any valid token. Ordered by id; follow next_page_token until it is absent.",
	}, func(ctx context.Context, in *listPoliciesInput) (*policyListOutput, error) {
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
		return &policyListOutput{Body: paginate(s, items, size, "activation_policies", filter, func(p api.ActivationPolicy) string { return p.ID })}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-activation-policy", Method: http.MethodGet, Path: policyItemPath, Summary: "Read an activation policy", Tags: tags,
	}, func(ctx context.Context, in *policyIDInput) (*policyOutput, error) {
		p, err := s.catalog.GetActivationPolicy(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return policyOut(p, false), nil
	})

	register(s, huma.Operation{
		OperationID: "replace-activation-policy", Method: http.MethodPut, Path: policyItemPath, Summary: "Replace an activation policy", Tags: tags,
		Description: "Requires admin or security. Applies to future elevations; in-flight ones keep their policy_snapshot.",
	}, func(ctx context.Context, in *replacePolicyInput) (*policyOutput, error) {
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
		return policyOut(p, false), nil
	})

	register(s, huma.Operation{
		OperationID: "delete-activation-policy", Method: http.MethodDelete, Path: policyItemPath, DefaultStatus: http.StatusNoContent,
		Summary: "Delete an activation policy", Tags: tags,
		Description: "Requires admin or security. 409 in_use while eligible role assignments reference the policy.",
	}, func(ctx context.Context, in *deletePolicyInput) (*struct{}, error) {
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
