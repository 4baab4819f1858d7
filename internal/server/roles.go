package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

type listRolesInput struct {
	api.RoleListParams
}

const roleItemPath = api.PathRoles + "/{id}"

func (s *Server) registerRoles() {
	tags := []string{"roles"}
	register(s, huma.Operation{
		OperationID: "create-role", Method: http.MethodPost, Path: api.PathRoles, DefaultStatus: http.StatusCreated,
		Summary: "Create a role", Tags: tags,
		Description: "Requires server role admin or security. Names are unique: a clash answers 409 already_exists with existing_id.",
	}, func(ctx context.Context, in *createInput[api.RoleInput]) (*objectOutput[api.Role], error) {
		c, err := caller(ctx, http.MethodPost, api.PathRoles)
		if err != nil {
			return nil, err
		}
		r, err := s.catalog.CreateRole(ctx, c, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(r, r.Version, api.PathRoles+"/"+r.ID), nil
	})

	register(s, huma.Operation{
		OperationID: "list-roles", Method: http.MethodGet, Path: api.PathRoles, Summary: "List roles", Tags: tags,
		Description: "Ordered by id (creation order). Follow next_page_token until it is absent.",
	}, func(ctx context.Context, in *listRolesInput) (*listOutput[api.Role], error) {
		c, err := caller(ctx, http.MethodGet, api.PathRoles)
		if err != nil {
			return nil, err
		}
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		filter := "name=" + in.Name
		after := ""
		if in.PageToken != "" {
			if after, err = s.pages.decode(in.PageToken, "roles", filter); err != nil {
				return nil, invalidPageToken()
			}
		}
		// One extra row tells whether another page exists.
		items, err := s.catalog.ListRoles(ctx, c, store.RoleFilter{Name: in.Name, AfterID: after, Limit: size + 1})
		if err != nil {
			return nil, err
		}
		page := api.Page[api.Role]{Items: items}
		if len(items) > size {
			page.Items = items[:size]
			page.NextPageToken = s.pages.encode("roles", filter, page.Items[size-1].ID)
		}
		return &listOutput[api.Role]{Body: page}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-role", Method: http.MethodGet, Path: roleItemPath, Summary: "Read a role", Tags: tags,
	}, func(ctx context.Context, in *idInput) (*objectOutput[api.Role], error) {
		c, err := caller(ctx, http.MethodGet, api.PathRoles+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		r, err := s.catalog.GetRole(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return objectOut(r, r.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "replace-role", Method: http.MethodPut, Path: roleItemPath, Summary: "Replace a role", Tags: tags,
		Description: "Full replace of the writable fields. Send If-Match with the version you read; a stale one answers 412 etag_mismatch with current_version.",
	}, func(ctx context.Context, in *replaceInput[api.RoleInput]) (*objectOutput[api.Role], error) {
		c, err := caller(ctx, http.MethodPut, api.PathRoles+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		r, err := s.catalog.ReplaceRole(ctx, c, in.ID, v, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(r, r.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "delete-role", Method: http.MethodDelete, Path: roleItemPath, DefaultStatus: http.StatusNoContent,
		Summary: "Delete a role", Tags: tags,
	}, func(ctx context.Context, in *deleteInput) (*struct{}, error) {
		c, err := caller(ctx, http.MethodDelete, api.PathRoles+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		if err := s.catalog.DeleteRole(ctx, c, in.ID, v); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})
}
