package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

type listAccountsInput struct {
	api.VaultAccountListParams
}

type secretVersionsOutput struct {
	Body api.Page[api.SecretVersion]
}

const accountItemPath = api.PathVaultAccounts + "/{id}"

func (s *Server) registerAccounts(v *catalog.Vault) {
	tags := []string{"vault_accounts"}
	register(s, huma.Operation{
		OperationID: "create-vault-account", Method: http.MethodPost, Path: api.PathVaultAccounts, DefaultStatus: http.StatusCreated,
		Summary: "Create a vault account", Tags: tags,
		Description: "Requires admin, security or the manage permission on the safe. secret is write-only: stored sealed as secret_version 1 and never returned. " +
			"An unknown safe_id or a platform/secret_type mismatch answers 400 with a violation pointer.",
	}, func(ctx context.Context, in *createInput[api.VaultAccountInput]) (*objectOutput[api.VaultAccount], error) {
		c, err := caller(ctx, http.MethodPost, api.PathVaultAccounts)
		if err != nil {
			return nil, err
		}
		out, err := v.CreateAccount(ctx, c, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(out, out.Version, api.PathVaultAccounts+"/"+out.ID), nil
	})

	register(s, huma.Operation{
		OperationID: "list-vault-accounts", Method: http.MethodGet, Path: api.PathVaultAccounts, Summary: "List vault accounts", Tags: tags,
	}, func(ctx context.Context, in *listAccountsInput) (*listOutput[api.VaultAccount], error) {
		c, err := caller(ctx, http.MethodGet, api.PathVaultAccounts)
		if err != nil {
			return nil, err
		}
		size, err := pageSize(in.PageSize)
		if err != nil {
			return nil, err
		}
		filter := "safe_id=" + in.SafeID + "&name=" + in.Name + "&platform=" + in.Platform
		after := ""
		if in.PageToken != "" {
			if after, err = s.pages.decode(in.PageToken, "vault_accounts", filter); err != nil {
				return nil, invalidPageToken()
			}
		}
		items, err := v.ListAccounts(ctx, c, store.VaultAccountFilter{SafeID: in.SafeID, Name: in.Name, Platform: in.Platform, AfterID: after, Limit: size + 1})
		if err != nil {
			return nil, err
		}
		for i := range items {
			items[i].Secret = ""
		}
		page := api.Page[api.VaultAccount]{Items: items}
		if len(items) > size {
			page.Items = items[:size]
			page.NextPageToken = s.pages.encode("vault_accounts", filter, page.Items[size-1].ID)
		}
		return &listOutput[api.VaultAccount]{Body: page}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-vault-account", Method: http.MethodGet, Path: accountItemPath, Summary: "Read a vault account (never its secret)", Tags: tags,
	}, func(ctx context.Context, in *idInput) (*objectOutput[api.VaultAccount], error) {
		c, err := caller(ctx, http.MethodGet, api.PathVaultAccounts+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		out, err := v.GetAccount(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return objectOut(out, out.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "replace-vault-account", Method: http.MethodPut, Path: accountItemPath, Summary: "Replace a vault account", Tags: tags,
		Description: "Full replace. safe_id and platform are immutable (422 immutable_field). A secret in the body creates a new secret_version; " +
			"without one the current secret is kept.",
	}, func(ctx context.Context, in *replaceInput[api.VaultAccountInput]) (*objectOutput[api.VaultAccount], error) {
		c, err := caller(ctx, http.MethodPut, api.PathVaultAccounts+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		ver, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		out, err := v.ReplaceAccount(ctx, c, in.ID, ver, in.Body)
		if err != nil {
			return nil, err
		}
		return objectOut(out, out.Version, ""), nil
	})

	register(s, huma.Operation{
		OperationID: "delete-vault-account", Method: http.MethodDelete, Path: accountItemPath, DefaultStatus: http.StatusNoContent,
		Summary: "Delete a vault account", Tags: tags, Description: "409 account_checked_out while a checkout is active.",
	}, func(ctx context.Context, in *deleteInput) (*struct{}, error) {
		c, err := caller(ctx, http.MethodDelete, api.PathVaultAccounts+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		ver, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		if err := v.DeleteAccount(ctx, c, in.ID, ver); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-secret-versions", Method: http.MethodGet, Path: accountItemPath + "/" + api.SegmentSecretVersions,
		Summary: "List secret version metadata", Tags: tags, Description: "Metadata only, newest first; never a secret.",
	}, func(ctx context.Context, in *idInput) (*secretVersionsOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathVaultAccounts+"/"+in.ID+"/"+api.SegmentSecretVersions)
		if err != nil {
			return nil, err
		}
		items, err := v.ListSecretVersions(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return &secretVersionsOutput{Body: api.Page[api.SecretVersion]{Items: items}}, nil
	})
}
