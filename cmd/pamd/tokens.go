package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
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
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (ids, subjects, roles, expiry; never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var toks []auth.Token
			if err := withStore(cmd.Context(), db, func(st store.Store) error {
				return st.View(cmd.Context(), func(tx store.Tx) (err error) { toks, err = tx.ListTokens(); return err })
			}); err != nil {
				return err
			}
			if asJSON {
				type row struct {
					ID          string     `json:"id"`
					Subject     string     `json:"subject"`
					Groups      []string   `json:"groups"`
					ServerRoles []string   `json:"server_roles"`
					CreatedAt   time.Time  `json:"created_at"`
					ExpiresAt   *time.Time `json:"expires_at,omitempty"`
				}
				rows := make([]row, 0, len(toks))
				for _, t := range toks {
					rows = append(rows, row{t.ID, t.Subject, t.Groups, t.ServerRoles, t.CreatedAt, t.ExpiresAt})
				}
				return printJSON(stdout, rows)
			}
			out := [][]string{{"ID", "SUBJECT", "GROUPS", "ROLES", "CREATED", "EXPIRES"}}
			for _, t := range toks {
				exp := "never"
				if t.ExpiresAt != nil {
					exp = t.ExpiresAt.UTC().Format(time.RFC3339)
				}
				out = append(out, []string{t.ID, t.Subject, orDash(strings.Join(t.Groups, ",")), orDash(strings.Join(t.ServerRoles, ",")),
					t.CreatedAt.UTC().Format(time.RFC3339), exp})
			}
			return table(stdout, out)
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func newTokenRevoke(stdout io.Writer) *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke a token at once (audited)",
		Long: `Delete a token by id (see pamd token list): pamd refuses it with 401 from the
next request on, SSH keys registered with it stop working, and token.revoked
is appended to the audit chain.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := withStore(cmd.Context(), db, func(st store.Store) error {
				return daemon.RevokeToken(cmd.Context(), st, clock.Real{}, args[0], api.AuditActor{Type: "system", ID: "pamd-cli"})
			}); err != nil {
				return err
			}
			_, err := fmt.Fprintf(stdout, "revoked %s\n", args[0])
			return err
		},
	}
	dbFlag(cmd, &db)
	return cmd
}
