package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// newSSHKeysCommand returns `pamd ssh-keys add|list|remove`, API-backed
// (PAM_TOKEN): keys are registered for the token in PAM_TOKEN and work at
// the SSH gateway while that token is valid.
func newSSHKeysCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "ssh-keys", Short: "Register SSH public keys for the SSH gateway"}
	cmd.AddCommand(newSSHKeysAdd(stdout), newSSHKeysList(stdout), newSSHKeysRemove(stdout))
	return cmd
}

func newSSHKeysAdd(stdout io.Writer) *cobra.Command {
	var r remote
	var name string
	cmd := &cobra.Command{
		Use:   "add FILE",
		Short: "Register a public key (FILE is the .pub file, authorized_keys format; - for stdin)",
		Long: `Register a public key for the token in PAM_TOKEN. The gateway then accepts
the key for your subject (ssh -i KEY alice+ACCOUNT@gateway) and runs the
session with that token's principal while the token is valid. Never pass a
private key: pamd refuses it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var b []byte
			var err error
			if args[0] == "-" {
				b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), api.MaxSSHPublicKeyLength+1))
			} else {
				b, err = os.ReadFile(args[0])
			}
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			k, err := c.CreateSSHKey(cmd.Context(), api.SSHKeyInput{Name: name, PublicKey: string(b)})
			if err != nil {
				return err
			}
			if r.json {
				return printJSON(stdout, k)
			}
			_, err = fmt.Fprintf(stdout, "registered %s %s (%s) for %s\n", k.ID, k.Fingerprint, k.Name, k.Subject)
			return err
		},
	}
	r.bind(cmd)
	cmd.Flags().StringVar(&name, "name", "", "label of the key (default: the key's comment)")
	return cmd
}

func newSSHKeysList(stdout io.Writer) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your registered keys (admin and security see all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			all := []api.SSHKey{}
			p := api.SSHKeyListParams{}
			for {
				page, err := c.ListSSHKeys(cmd.Context(), p)
				if err != nil {
					return err
				}
				all = append(all, page.Items...)
				if page.NextPageToken == "" {
					break
				}
				p.PageToken = page.NextPageToken
			}
			if r.json {
				return printJSON(stdout, all)
			}
			if len(all) == 0 {
				_, err := fmt.Fprintln(stdout, "no ssh keys")
				return err
			}
			rows := [][]string{{"ID", "NAME", "SUBJECT", "FINGERPRINT", "TOKEN", "CREATED"}}
			for _, k := range all {
				rows = append(rows, []string{k.ID, k.Name, k.Subject, k.Fingerprint, k.TokenID, k.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")})
			}
			return table(stdout, rows)
		},
	}
	r.bind(cmd)
	return cmd
}

func newSSHKeysRemove(stdout io.Writer) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a registered key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.DeleteSSHKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			if r.json {
				return printJSON(stdout, map[string]string{"id": args[0], "status": "removed"})
			}
			_, err = fmt.Fprintf(stdout, "removed %s\n", args[0])
			return err
		},
	}
	r.bind(cmd)
	return cmd
}
