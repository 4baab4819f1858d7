package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
)

// remote holds the flags of commands that talk to a running pamd through its
// API (as opposed to the operator commands that open the store directly).
type remote struct {
	endpoint string
	token    string
	json     bool
}

// bind registers the connection flags; the token is read from PAM_TOKEN only,
// never from a flag, so that it stays out of shell history and process lists.
func (r *remote) bind(cmd *cobra.Command) {
	r.bindEndpoint(cmd)
	cmd.Flags().BoolVar(&r.json, "json", false, "print JSON instead of a table")
}

func (r *remote) bindEndpoint(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.endpoint, "endpoint", envOr("PAM_ENDPOINT", "http://"+daemon.DefaultListen), "pamd base URL (env PAM_ENDPOINT)")
}

// viaAPI decides, for commands that work either on the database or through
// the API, which one the operator meant: an explicit flag wins, then
// PAM_ENDPOINT in the environment; both flags at once is an error.
func (r *remote) viaAPI(cmd *cobra.Command) (bool, error) {
	endpoint, db := cmd.Flags().Changed("endpoint"), cmd.Flags().Changed("db")
	switch {
	case endpoint && db:
		return false, errors.New("give --db (work on the database) or --endpoint (call the API), not both")
	case endpoint:
		return true, nil
	case db:
		return false, nil
	}
	return os.Getenv("PAM_ENDPOINT") != "", nil
}

func (r *remote) client() (*client.Client, error) {
	r.token = os.Getenv("PAM_TOKEN")
	if r.token == "" {
		return nil, errors.New("no token: set PAM_TOKEN to a pamd token (see `pamd token create`)")
	}
	cfg := client.Config{Endpoint: r.endpoint, Token: r.token, UserAgent: "pamd-cli/" + version}
	// A pamd serving TLS with a private CA: PAM_CA_CERT_FILE names the CA's
	// PEM certificate (added to the system roots).
	if f := os.Getenv("PAM_CA_CERT_FILE"); f != "" {
		pem, err := os.ReadFile(f) //nolint:gosec // path chosen by the operator
		if err != nil {
			return nil, fmt.Errorf("PAM_CA_CERT_FILE: %w", err)
		}
		cfg.CACertPEM = string(pem)
	}
	return client.New(cfg)
}

// table writes rows aligned in columns, the first row being the header.
func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range rows {
		for i, cell := range row {
			if i > 0 {
				if _, err := fmt.Fprint(tw, "\t"); err != nil {
					return err
				}
			}
			if _, err := fmt.Fprint(tw, cell); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintln(tw); err != nil {
			return err
		}
	}
	return tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func formatInt(v int64) string { return fmt.Sprintf("%d", v) }
