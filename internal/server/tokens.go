package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
)

type listTokensInput struct {
	api.TokenListParams
}

type tokenListOutput struct {
	Body api.Page[api.Token]
}

type tokenIDInput struct {
	ID string `path:"id" doc:"Token id (tok_...)."`
}

func (s *Server) registerTokens() {
	tags := []string{"tokens"}
	register(s, huma.Operation{
		OperationID: "list-tokens", Method: http.MethodGet, Path: api.PathTokens, Summary: "List tokens", Tags: tags,
		Description: "Admin sees every token; any other caller the tokens of its own subject. Ids, subjects, roles and times: " +
			"never a token or its hash. Ordered by id.",
	}, func(ctx context.Context, in *listTokensInput) (*tokenListOutput, error) {
		page, err := listOwn(ctx, s, api.PathTokens, "tokens", in.PageToken, in.PageSize,
			func(c catalog.Caller, after string, limit int) ([]api.Token, error) {
				return s.catalog.ListTokens(ctx, c, after, limit)
			}, func(t api.Token) string { return t.ID })
		return &tokenListOutput{Body: page}, err
	})

	register(s, huma.Operation{
		OperationID: "revoke-token", Method: http.MethodDelete, Path: api.PathTokens + "/{id}", DefaultStatus: http.StatusNoContent,
		Summary: "Revoke a token", Tags: tags,
		Description: "Admin revokes any token, any other caller only tokens of its own subject (403, audited, for any other id, " +
			"existing or not). The step-up tokens minted from it are revoked too. Each takes effect at its next request (401). " +
			"Audited (token.revoked, one event per token).",
	}, func(ctx context.Context, in *tokenIDInput) (*struct{}, error) {
		c, err := caller(ctx, http.MethodDelete, api.PathTokens+"/"+in.ID)
		if err != nil {
			return nil, err
		}
		if _, err := s.catalog.RevokeToken(ctx, c, in.ID); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})
}
