package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
)

// newVaultCommands returns the vault commands: checkout, checkin, accounts
// (API-backed) and keys (operator, on the store directly).
func newVaultCommands(stdout, stderr io.Writer) []*cobra.Command {
	return []*cobra.Command{newCheckout(stdout, stderr), newCheckin(stdout), newAccounts(stdout), newKeys(stdout)}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// resolveAccount accepts an account id (acct_...) or a name, unique across
// safes (or within --safe).
func resolveAccount(ctx context.Context, c *client.Client, v, safe string) (*api.VaultAccount, error) {
	if strings.HasPrefix(v, api.PrefixVaultAccount+"_") {
		return c.GetVaultAccount(ctx, v)
	}
	safeID := safe
	if safe != "" && !strings.HasPrefix(safe, api.PrefixSafe+"_") {
		s, err := c.FindSafeByName(ctx, safe)
		if err != nil {
			return nil, fmt.Errorf("safe %q: %w", safe, err)
		}
		safeID = s.ID
	}
	page, err := c.ListVaultAccounts(ctx, api.VaultAccountListParams{Name: v, SafeID: safeID})
	if err != nil {
		return nil, err
	}
	switch len(page.Items) {
	case 0:
		return nil, fmt.Errorf("no vault account named %q", v)
	case 1:
		return &page.Items[0], nil
	}
	return nil, fmt.Errorf("%d vault accounts are named %q; name the safe with --safe or use the account id", len(page.Items), v)
}

type checkoutOutput struct {
	Checkout *api.Checkout       `json:"checkout"`
	Secret   *api.CheckoutSecret `json:"secret,omitempty"`
}

func newCheckout(stdout, _ io.Writer) *cobra.Command {
	var r remote
	var duration time.Duration
	var reason, safe string
	var show bool
	cmd := &cobra.Command{
		Use:   "checkout ACCOUNT_ID_OR_NAME",
		Short: "Check out a vault account for a limited time",
		Long: `Check out a vault account and print the checkout id and expiry.

The secret is printed only with --show when stdout is a terminal, or with
--json (for programs); otherwise read it later with --show or the API
(GET /v1/checkouts/{id}/secret). Token from PAM_TOKEN.`,
		Example: `  pamd checkout pg-payments-admin --duration 30m --reason "fix replication" --show
  pamd checkout acct_01JB... --json | jq -r .secret.secret`,
		Args: cobra.ExactArgs(1),
	}
	cmd.RunE = remoteRun(&r, nil, func(ctx context.Context, c *client.Client, args []string) error {
		a, err := resolveAccount(ctx, c, args[0], safe)
		if err != nil {
			return err
		}
		co, err := c.CreateCheckout(ctx, a.ID, api.CheckoutRequest{DurationSeconds: int64(duration / time.Second), Justification: reason})
		if err != nil {
			return err
		}
		if r.json {
			out := checkoutOutput{Checkout: co}
			if a.CheckoutPolicy.AllowRetrieve {
				if out.Secret, err = c.GetCheckoutSecret(ctx, co.ID); err != nil {
					return err
				}
			}
			return printJSON(stdout, out)
		}
		if _, err := fmt.Fprintf(stdout, "checked out %s (%s) as %s until %s\n", a.Name, a.ID, co.ID, co.ExpiresAt.Format(time.RFC3339)); err != nil {
			return err
		}
		switch {
		case show && isTerminal(stdout):
			s, err := c.GetCheckoutSecret(ctx, co.ID)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "username: %s\n%s: %s\n", s.Username, s.SecretType, s.Secret)
			return err
		case show:
			_, err = fmt.Fprintln(stdout, "not printing the secret: stdout is not a terminal (use --json to capture it in a program)")
			return err
		default:
			_, err = fmt.Fprintf(stdout, "secret not shown: rerun with --show on a terminal, use --json, or GET %s/%s/%s; check in with `pamd checkin %s`\n",
				api.PathCheckouts, co.ID, api.SegmentSecret, co.ID)
			return err
		}
	})
	r.bind(cmd)
	cmd.Flags().DurationVar(&duration, "duration", 0, "how long, e.g. 1h (default: the account's default_duration_seconds)")
	cmd.Flags().StringVar(&reason, "reason", "", "justification (required when the account's policy says so)")
	cmd.Flags().StringVar(&safe, "safe", "", "safe id or name, to disambiguate an account name")
	cmd.Flags().BoolVar(&show, "show", false, "print the secret (only to a terminal)")
	return cmd
}

func newCheckin(stdout io.Writer) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "checkin CHECKOUT_ID",
		Short: "Check a vault account back in (ends your checkout)",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = remoteRun(&r, nil, func(ctx context.Context, c *client.Client, args []string) error {
		co, err := c.CheckinCheckout(ctx, args[0], "")
		if err != nil {
			return err
		}
		if r.json {
			return printJSON(stdout, co)
		}
		_, err = fmt.Fprintf(stdout, "%s %s\n", co.ID, co.State)
		return err
	})
	r.bind(cmd)
	return cmd
}

func newAccounts(stdout io.Writer) *cobra.Command {
	accounts := &cobra.Command{Use: "accounts", Short: "Vault accounts"}
	var r remote
	var safe string
	list := &cobra.Command{Use: "list", Short: "List vault accounts (never secrets)", Args: cobra.NoArgs}
	list.RunE = remoteRun(&r, nil, func(ctx context.Context, c *client.Client, _ []string) error {
		safeID := safe
		if safe != "" && !strings.HasPrefix(safe, api.PrefixSafe+"_") {
			s, err := c.FindSafeByName(ctx, safe)
			if err != nil {
				return fmt.Errorf("safe %q: %w", safe, err)
			}
			safeID = s.ID
		}
		var items []api.VaultAccount
		p := api.VaultAccountListParams{SafeID: safeID}
		for {
			page, err := c.ListVaultAccounts(ctx, p)
			if err != nil {
				return err
			}
			items = append(items, page.Items...)
			if page.NextPageToken == "" {
				break
			}
			p.PageToken = page.NextPageToken
		}
		if r.json {
			return printJSON(stdout, items)
		}
		rows := [][]string{{"ID", "NAME", "SAFE", "PLATFORM", "USERNAME", "ADDRESS", "SECRET_VERSION", "CHECKED_OUT_BY", "UNTIL"}}
		for _, a := range items {
			by, until := "-", "-"
			if a.Status.CheckedOutBy != nil {
				by = a.Status.CheckedOutBy.Type + ":" + a.Status.CheckedOutBy.ID
			}
			if a.Status.CheckoutExpiresAt != nil {
				until = a.Status.CheckoutExpiresAt.Format(time.RFC3339)
			}
			rows = append(rows, []string{a.ID, a.Name, a.SafeID, a.Platform, a.Username, a.Address, formatInt(a.SecretVersion), by, until})
		}
		return table(stdout, rows)
	})
	r.bind(list)
	list.Flags().StringVar(&safe, "safe", "", "only accounts of this safe (id or name)")
	accounts.AddCommand(list)
	return accounts
}

func newKeys(stdout io.Writer) *cobra.Command {
	k := &cobra.Command{Use: "keys", Short: "Manage the master key that protects secrets at rest"}
	var db, keyFile string
	var prune bool
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Generate a new master key and re-wrap every data key with it",
		Long: `Generate a new master key and re-wrap the data key of every sealed value
(vault secret versions, MFA secrets) with it, in one transaction audited as
keys.rotated. Ciphertexts are unchanged and no plaintext is produced.

The old key is kept in <key file>.old, so values sealed by a pamd still
running with the old key keep opening; --prune-old removes it once no stored
value uses it. Restart pamd afterwards so that new secrets use the new key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := dbExists(db); err != nil {
				return err
			}
			path := daemon.MasterKeyPath(keyFile, db)
			if path == "" {
				return fmt.Errorf("with a PostgreSQL database, name the master key file shared by the replicas: --key-file or $%s", keys.EnvMasterKeyFile)
			}
			st, err := openStore(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer func() { _ = st.Close() }()
			var n int
			res, err := keys.RotateFile(path, prune, func(next *keys.Keyring) error {
				old := ""
				if ids := next.KeyIDs(); len(ids) > 1 {
					old = strings.Join(ids[1:], ",")
				}
				var err error
				n, err = catalog.RewrapAll(cmd.Context(), st, clock.Real{}, api.AuditActor{Type: "system", ID: "pamd-cli"}, old, next)
				return err
			}, func(ids []string) (bool, error) {
				return catalog.SealedKeysInUse(cmd.Context(), st, ids)
			})
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("master key rotated: %s -> %s, %d sealed value(s) re-wrapped", res.OldKeyID, res.NewKeyID, n)
			switch {
			case res.Pruned:
				msg += "; retired keys removed"
			case prune:
				msg += "; retired keys kept: some values still use them"
			default:
				msg += "; old key kept in " + path + keys.RetiredSuffix
			}
			_, err = fmt.Fprintln(stdout, msg)
			return err
		},
	}
	dbFlag(rotate, &db)
	rotate.Flags().StringVar(&keyFile, "key-file", "", "master key file (default $"+keys.EnvMasterKeyFile+", else <db>.key)")
	rotate.Flags().BoolVar(&prune, "prune-old", false, "remove the retired keys once no stored value uses them")
	k.AddCommand(rotate)
	return k
}
