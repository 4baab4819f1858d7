package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
)

type sshKeyOutput struct {
	Location string `header:"Location"`
	Body     api.SSHKey
}

type createSSHKeyInput struct {
	Body api.SSHKeyInput
}

type sshKeyIDInput struct {
	ID string `path:"id" doc:"Registered key id (sshk_...)."`
}

type listSSHKeysInput struct {
	api.SSHKeyListParams
}

type sshKeyListOutput struct {
	Body api.Page[api.SSHKey]
}

func (s *Server) registerSSHKeys() {
	tags := []string{"ssh_keys"}
	register(s, huma.Operation{
		OperationID: "create-ssh-key", Method: http.MethodPost, Path: api.PathSSHKeys, DefaultStatus: http.StatusCreated,
		Summary: "Register an SSH public key", Tags: tags,
		Description: "Registers a public key (authorized_keys format) for the calling token: the SSH gateway then accepts the key " +
			"for the token's subject (USER+ACCOUNT@gateway) and runs the session with the token's principal while the token is valid. " +
			"A malformed key is 400 at /public_key; a fingerprint registered already is 409 already_exists. Audited (ssh_key.registered).",
	}, func(ctx context.Context, in *createSSHKeyInput) (*sshKeyOutput, error) {
		c, err := caller(ctx, http.MethodPost, api.PathSSHKeys)
		if err != nil {
			return nil, err
		}
		k, err := s.catalog.RegisterSSHKey(ctx, c, in.Body)
		if err != nil {
			return nil, err
		}
		return &sshKeyOutput{Location: api.PathSSHKeys + "/" + k.ID, Body: k}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-ssh-keys", Method: http.MethodGet, Path: api.PathSSHKeys, Summary: "List registered SSH keys", Tags: tags,
		Description: "The caller's own keys; admin and security see every key. Ordered by id.",
	}, func(ctx context.Context, in *listSSHKeysInput) (*sshKeyListOutput, error) {
		page, err := listOwn(ctx, s, api.PathSSHKeys, "ssh_keys", in.PageToken, in.PageSize,
			func(c catalog.Caller, after string, limit int) ([]api.SSHKey, error) {
				return s.catalog.ListSSHKeys(ctx, c, after, limit)
			}, func(k api.SSHKey) string { return k.ID })
		return &sshKeyListOutput{Body: page}, err
	})

	register(s, huma.Operation{
		OperationID: "delete-ssh-key", Method: http.MethodDelete, Path: api.PathSSHKeys + "/{id}", DefaultStatus: http.StatusNoContent,
		Summary: "Remove a registered SSH key", Tags: tags,
		Description: "Its owner, admin or security (404 for others). Audited (ssh_key.deleted).",
	}, func(ctx context.Context, in *sshKeyIDInput) (*struct{}, error) {
		c, err := caller(ctx, http.MethodDelete, api.PathSSHKeys+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		if err := s.catalog.DeleteSSHKey(ctx, c, in.ID); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})
}
