package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// withStore opens the database for an operator command and closes it after.
func withStore(ctx context.Context, db string, fn func(store.Store) error) error {
	st, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	err = fn(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

func newTokenList(stdout io.Writer) *cobra.Command {
	var db string
	var r remote
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (ids, subjects, roles, expiry; never the tokens)",
		Long: `List tokens: ids, subjects, groups, server roles, times, and for step-up tokens
the token they were minted from (PARENT). Never a token or its hash.

With --db, or without --endpoint and PAM_ENDPOINT, it reads the database. With
--endpoint (or PAM_ENDPOINT) it calls GET /v1/tokens as the holder of
PAM_TOKEN: an admin sees every token, anyone else their own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			useAPI, err := r.viaAPI(cmd)
			if err != nil {
				return err
			}
			var toks []api.Token
			if useAPI {
				toks, err = r.listTokens(cmd.Context())
			} else {
				err = withStore(cmd.Context(), db, func(st store.Store) error {
					return st.View(cmd.Context(), func(tx store.Tx) error {
						recs, err := tx.ListTokens()
						for _, t := range recs {
							toks = append(toks, catalog.TokenView(t))
						}
						return err
					})
				})
			}
			if err != nil {
				return err
			}
			if r.json {
				if toks == nil {
					toks = []api.Token{}
				}
				return printJSON(stdout, toks)
			}
			out := [][]string{{"ID", "SUBJECT", "GROUPS", "ROLES", "CREATED", "EXPIRES", "PARENT"}}
			for _, t := range toks {
				exp := "never"
				if t.ExpiresAt != nil {
					exp = t.ExpiresAt.UTC().Format(time.RFC3339)
				}
				out = append(out, []string{t.ID, t.Subject, orDash(strings.Join(t.Groups, ",")), orDash(strings.Join(t.ServerRoles, ",")),
					t.CreatedAt.UTC().Format(time.RFC3339), exp, orDash(t.ParentID)})
			}
			return table(stdout, out)
		},
	}
	dbFlag(cmd, &db)
	r.bind(cmd)
	return cmd
}

// listTokens reads every page of GET /v1/tokens.
func (r *remote) listTokens(ctx context.Context) ([]api.Token, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	var out []api.Token
	p := api.TokenListParams{PageSize: api.MaxPageSize}
	for {
		page, err := c.ListTokens(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.NextPageToken == "" {
			return out, nil
		}
		p.PageToken = page.NextPageToken
	}
}

// cliActor is who operator commands on the database act as in the audit log.
var cliActor = api.AuditActor{Type: "system", ID: "pamd-cli"}

func newTokenRevoke(stdout io.Writer) *cobra.Command {
	var db string
	var r remote
	cmd := &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke a token at once (audited)",
		Long: `Revoke a token by id (see pamd token list), and every step-up token minted
from it: pamd refuses them with 401 from the next request on, SSH keys
registered with them stop working, and token.revoked is appended to the audit
chain for each.

With --db, or without --endpoint and PAM_ENDPOINT, the command opens the
database on the server's host. With --endpoint (or PAM_ENDPOINT) it calls
DELETE /v1/tokens/{id} on that pamd as the holder of PAM_TOKEN: an admin
revokes any token, anyone else only tokens of their own subject.
PAM_CA_CERT_FILE names the CA certificate of a pamd serving TLS.`,
		Example: `  pamd token revoke tok_01J...                                  # on the server, via the database
  PAM_TOKEN=... pamd token revoke --endpoint https://pamd:8443 tok_01J...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var revoked []string
			useAPI, err := r.viaAPI(cmd)
			if err != nil {
				return err
			}
			if useAPI {
				c, err := r.client()
				if err != nil {
					return err
				}
				if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
					return err
				}
				revoked = []string{args[0]}
			} else if err := withStore(cmd.Context(), db, func(st store.Store) (err error) {
				revoked, err = daemon.RevokeToken(cmd.Context(), st, clock.Real{}, args[0], cliActor)
				return err
			}); err != nil {
				return err
			}
			for _, id := range revoked {
				if _, err := fmt.Fprintf(stdout, "revoked %s\n", id); err != nil {
					return err
				}
			}
			return nil
		},
	}
	dbFlag(cmd, &db)
	r.bindEndpoint(cmd)
	return cmd
}
