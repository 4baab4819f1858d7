package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

type listSafesInput struct {
	api.SafeListParams
}

const safeItemPath = api.PathSafes + "/{id}"

// registerVault registers safes, vault accounts and checkouts.
func (s *Server) registerVault(kr *keys.Keyring, rot vault.Rotator) {
	v := &catalog.Vault{Store: s.store, Clock: s.clock, Keyring: kr, Rotator: rot, Logger: s.log}
	s.registerSafes(v)
	s.registerAccounts(v)
	s.registerCheckouts(v)
}

func (s *Server) registerSafes(v *catalog.Vault) {
	tags := []string{"safes"}
	register(s, huma.Operation{
		OperationID: "create-safe", Method: http.MethodPost, Path: api.PathSafes, DefaultStatus: http.StatusCreated,
		Summary: "Create a safe", Tags: tags,
		Description: "Requires server role admin or security. Names are unique (409 already_exists with existing_id).",
	}, func(ctx context.Context, in *createInput[api.SafeInput]) (*objectOutput[api.Safe], error) {
		c, err := caller(ctx, http.MethodPost, api.PathSafes)
		if err != nil {
			return nil, err
		}
		out, err := v.CreateSafe(ctx, c, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(out, out.Version, api.PathSafes+"/"+out.ID), nil
	})

	register(s, huma.Operation{
		OperationID: "list-safes", Method: http.MethodGet, Path: api.PathSafes, Summary: "List safes", Tags: tags,
	}, func(ctx context.Context, in *listSafesInput) (*listOutput[api.Safe], error) {
		c, err := caller(ctx, http.MethodGet, api.PathSafes)
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
			if after, err = s.pages.decode(in.PageToken, "safes", filter); err != nil {
				return nil, invalidPageToken()
			}
		}
		items, err := v.ListSafes(ctx, c, store.SafeFilter{Name: in.Name, AfterID: after, Limit: size + 1})
		if err != nil {
			return nil, err
		}
		page := api.Page[api.Safe]{Items: items}
		if len(items) > size {
			page.Items = items[:size]
			page.NextPageToken = s.pages.encode("safes", filter, page.Items[size-1].ID)
		}
		return &listOutput[api.Safe]{Body: page}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-safe", Method: http.MethodGet, Path: safeItemPath, Summary: "Read a safe", Tags: tags,
	}, func(ctx context.Context, in *idInput) (*objectOutput[api.Safe], error) {
		c, err := caller(ctx, http.MethodGet, api.PathSafes+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		out, err := v.GetSafe(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return objectOut(out, out.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "replace-safe", Method: http.MethodPut, Path: safeItemPath, Summary: "Replace a safe", Tags: tags,
		Description: "Full replace of the writable fields, members included. The name is immutable (422 immutable_field).",
	}, func(ctx context.Context, in *replaceInput[api.SafeInput]) (*objectOutput[api.Safe], error) {
		c, err := caller(ctx, http.MethodPut, api.PathSafes+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		ver, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		out, err := v.ReplaceSafe(ctx, c, in.ID, ver, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(out, out.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "delete-safe", Method: http.MethodDelete, Path: safeItemPath, DefaultStatus: http.StatusNoContent,
		Summary: "Delete a safe", Tags: tags, Description: "409 in_use while the safe holds accounts.",
	}, func(ctx context.Context, in *deleteInput) (*struct{}, error) {
		c, err := caller(ctx, http.MethodDelete, api.PathSafes+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		ver, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		if err := v.DeleteSafe(ctx, c, in.ID, ver); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})
}
