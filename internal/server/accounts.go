package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

type accountOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     api.VaultAccount
}

type createAccountInput struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the create safe to retry: a retry returns the first result (which never holds the secret)."`
	Body           api.VaultAccountInput
}

type accountIDInput struct {
	ID string `path:"id" doc:"Vault account id (acct_...)."`
}

type replaceAccountInput struct {
	ID      string `path:"id" doc:"Vault account id (acct_...)."`
	IfMatch string `header:"If-Match" doc:"Version the change is based on, as returned in ETag; 412 if stale."`
	Body    api.VaultAccountInput
}

type deleteAccountInput struct {
	ID      string `path:"id" doc:"Vault account id (acct_...)."`
	IfMatch string `header:"If-Match" doc:"Optional version precondition."`
}

type listAccountsInput struct {
	api.VaultAccountListParams
}

type accountListOutput struct {
	Body api.Page[api.VaultAccount]
}

type secretVersionsOutput struct {
	Body api.Page[api.SecretVersion]
}

const accountItemPath = api.PathVaultAccounts + "/{id}"

func accountOut(a api.VaultAccount, withLocation bool) *accountOutput {
	a.Secret = "" // write-only, whatever happened before
	out := &accountOutput{ETag: api.FormatETag(a.Version), Body: a}
	if withLocation {
		out.Location = api.PathVaultAccounts + "/" + a.ID
	}
	return out
}

func (s *Server) registerAccounts(v *catalog.Vault) {
	tags := []string{"vault_accounts"}
	register(s, huma.Operation{
		OperationID: "create-vault-account", Method: http.MethodPost, Path: api.PathVaultAccounts, DefaultStatus: http.StatusCreated,
		Summary: "Create a vault account", Tags: tags,
		Description: "Requires admin, security or the manage permission on the safe. secret is write-only: stored sealed as secret_version 1 and never returned. " +
			"An unknown safe_id or a platform/secret_type mismatch answers 400 with a violation pointer.",
	}, func(ctx context.Context, in *createAccountInput) (*accountOutput, error) {
		c, err := caller(ctx, http.MethodPost, api.PathVaultAccounts)
		if err != nil {
			return nil, err
		}
		out, err := v.CreateAccount(ctx, c, in.Body)
		if err != nil {
			return nil, err
		}
		return accountOut(out, true), nil
	})

	register(s, huma.Operation{
		OperationID: "list-vault-accounts", Method: http.MethodGet, Path: api.PathVaultAccounts, Summary: "List vault accounts", Tags: tags,
	}, func(ctx context.Context, in *listAccountsInput) (*accountListOutput, error) {
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
		return &accountListOutput{Body: page}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-vault-account", Method: http.MethodGet, Path: accountItemPath, Summary: "Read a vault account (never its secret)", Tags: tags,
	}, func(ctx context.Context, in *accountIDInput) (*accountOutput, error) {
		c, err := caller(ctx, http.MethodGet, api.PathVaultAccounts+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		out, err := v.GetAccount(ctx, c, in.ID)
		if err != nil {
			return nil, err
		}
		return accountOut(out, false), nil
	})

	register(s, huma.Operation{
		OperationID: "replace-vault-account", Method: http.MethodPut, Path: accountItemPath, Summary: "Replace a vault account", Tags: tags,
		Description: "Full replace. safe_id and platform are immutable (422 immutable_field). A secret in the body creates a new secret_version; " +
			"without one the current secret is kept.",
	}, func(ctx context.Context, in *replaceAccountInput) (*accountOutput, error) {
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
		return accountOut(out, false), nil
	})

	register(s, huma.Operation{
		OperationID: "delete-vault-account", Method: http.MethodDelete, Path: accountItemPath, DefaultStatus: http.StatusNoContent,
		Summary: "Delete a vault account", Tags: tags, Description: "409 account_checked_out while a checkout is active.",
	}, func(ctx context.Context, in *deleteAccountInput) (*struct{}, error) {
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
	}, func(ctx context.Context, in *accountIDInput) (*secretVersionsOutput, error) {
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
