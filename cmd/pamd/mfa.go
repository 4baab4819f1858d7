package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/audit"
	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// MFA commands: TOTP enrollment and removal through the API (PAM_TOKEN), the
// step-up login, and the operator's reset on the database.

// newMFACommands returns `pamd mfa` and `pamd login`.
func newMFACommands(stdout, stderr io.Writer) []*cobra.Command {
	m := &cobra.Command{Use: "mfa", Short: "Enroll in TOTP MFA, remove it, or reset a user's enrollment (operator)"}
	m.AddCommand(newMFAEnroll(stdout, stderr), newMFARemove(stdout), newMFAReset(stdout))
	return []*cobra.Command{m, newLogin(stdout, stderr)}
}

// promptCode asks for a code on stderr and reads one line from in.
func promptCode(in io.Reader, stderr io.Writer, prompt string) (string, error) {
	if _, err := fmt.Fprint(stderr, prompt); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		return "", errors.New("no code entered (pass --code for non-interactive use)")
	}
	code := strings.TrimSpace(line)
	if code == "" {
		return "", errors.New("no code entered")
	}
	return code, nil
}

// enrollResult is the --json output of `pamd mfa enroll`.
type enrollResult struct {
	*api.TOTPEnrollment `json:",omitempty"`
	Status              *api.TOTPStatus `json:"status,omitempty"`
}

func newMFAEnroll(stdout, stderr io.Writer) *cobra.Command {
	var r remote
	var code string
	var noConfirm bool
	cmd := &cobra.Command{
		Use:   "enroll",
		Short: "Enroll the PAM_TOKEN's subject in TOTP and confirm it with a first code",
		Long: `Enroll the subject of PAM_TOKEN in TOTP MFA. pamd generates a secret and shows it
once: add the otpauth:// URI to an authenticator app (as a QR code or link), or
type the secret in by hand, then enter the app's current code to confirm.

Non-interactive use is two steps: --no-confirm prints the secret (use --json to
parse it) and stops; a later --code CODE confirms that pending enrollment
without generating a new secret.`,
		Example: `  pamd mfa enroll
  pamd mfa enroll --no-confirm --json > enrollment.json   # then, with the app set up:
  pamd mfa enroll --code 123456`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if code != "" && noConfirm {
				return errors.New("--code confirms a pending enrollment and --no-confirm skips confirmation: pass one of them")
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			if code != "" {
				return explain(confirmEnrollment(cmd.Context(), c, stdout, r.json, nil, code))
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			en, err := c.EnrollTOTP(ctx)
			cancel()
			if err != nil {
				return explain(err)
			}
			if r.json && noConfirm {
				return printJSON(stdout, enrollResult{TOTPEnrollment: en})
			}
			w := stdout
			if r.json {
				// stdout is reserved for the JSON document.
				w = stderr
			}
			if _, err := fmt.Fprintf(w, "TOTP enrollment for %s (shown once; add it to your authenticator app now)\n\n  URI:    %s\n  Secret: %s\n  (%s, %d digits, %d-second period)\n\n",
				en.Subject, en.OTPAuthURI, en.Secret, en.Algorithm, en.Digits, en.PeriodSeconds); err != nil {
				return err
			}
			if noConfirm {
				_, err := fmt.Fprintln(w, "Not confirmed yet: run `pamd mfa enroll --code CODE` with the app's current code.")
				return err
			}
			got, err := promptCode(cmd.InOrStdin(), stderr, "Enter the current code from your app to confirm: ")
			if err != nil {
				return fmt.Errorf("%w; the enrollment stays pending: confirm it with `pamd mfa enroll --code CODE`", err)
			}
			return explain(confirmEnrollment(cmd.Context(), c, stdout, r.json, en, got))
		},
	}
	r.bind(cmd)
	cmd.Flags().StringVar(&code, "code", "", "confirm the pending enrollment with this code (non-interactive)")
	cmd.Flags().BoolVar(&noConfirm, "no-confirm", false, "print the new secret and stop; confirm later with --code")
	return cmd
}

func confirmEnrollment(ctx context.Context, c *client.Client, stdout io.Writer, asJSON bool, en *api.TOTPEnrollment, code string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	st, err := c.ConfirmTOTP(ctx, code)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, enrollResult{TOTPEnrollment: en, Status: st})
	}
	_, err = fmt.Fprintf(stdout, "TOTP confirmed for %s. Step up with: pamd login --mfa\n", st.Subject)
	return err
}

func newMFARemove(stdout io.Writer) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Remove the PAM_TOKEN subject's TOTP enrollment",
		Long: `Remove your own TOTP enrollment. A confirmed enrollment can only be removed with
a step-up token (PAM_TOKEN from pamd login --mfa, at most 15 minutes old).`,
		Args: cobra.NoArgs,
		RunE: remoteRun(&r, nil, func(ctx context.Context, c *client.Client, _ []string) error {
			if err := c.DeleteTOTP(ctx); err != nil {
				return err
			}
			_, err := fmt.Fprintln(stdout, "TOTP enrollment removed.")
			return err
		}),
	}
	r.bind(cmd)
	return cmd
}

func newMFAReset(stdout io.Writer) *cobra.Command {
	var db, subject string
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Delete a subject's TOTP enrollment on the database (operator; audited)",
		Long: `Delete a subject's TOTP enrollment directly in the database, for a user who lost
their authenticator. The removal is audited as mfa.removed by system:pamd-cli.
The user enrolls again with pamd mfa enroll.`,
		Example: `  pamd mfa reset --db /var/lib/pamd/pamd.db --subject user:alice`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd.Context(), db)
			if err != nil {
				return err
			}
			err = resetTOTP(cmd.Context(), st, subject)
			if cerr := st.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "TOTP enrollment of %s removed.\n", subject)
			return err
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().StringVar(&subject, "subject", "", "whose enrollment to delete, e.g. user:alice")
	_ = cmd.MarkFlagRequired("subject")
	return cmd
}

func resetTOTP(ctx context.Context, st store.Store, subject string) error {
	type facts struct {
		Subject   string `json:"subject"`
		Confirmed bool   `json:"confirmed"`
		Reset     bool   `json:"operator_reset"`
	}
	now := clock.Real{}.Now().Truncate(time.Second)
	return st.Update(ctx, func(tx store.Tx) error {
		en, err := tx.GetTOTPEnrollment(subject)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s has no TOTP enrollment", subject)
		}
		if err != nil {
			return err
		}
		if err := tx.DeleteTOTPEnrollment(subject); err != nil {
			return err
		}
		ev, err := audit.NewMutation(audit.Mutation{Now: now, Actor: api.AuditActor{Type: "system", ID: "pamd-cli"},
			Action: "mfa.removed", TargetType: "mfa_totp", TargetID: subject,
			Before: facts{Subject: subject, Confirmed: en.ConfirmedAt != nil, Reset: true}})
		if err != nil {
			return err
		}
		ev.ResourceVersion = nil
		return tx.AppendAudit(ev)
	})
}

func newLogin(stdout, stderr io.Writer) *cobra.Command {
	var r remote
	var withMFA bool
	var code string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "login --mfa",
		Short: "Exchange PAM_TOKEN and a TOTP code for a short-lived token with MFA",
		Long: `Step-up login: send PAM_TOKEN and the current code of your authenticator app; pamd
answers with a new token for the same subject, groups and roles that carries the
MFA time, needed by activation policies with require_mfa. The token is printed on
stdout only (nothing else is), so it can be captured:

  export PAM_TOKEN="$(pamd login --mfa)"

It lives --ttl (default 15m, at most 1h) and never past PAM_TOKEN's own expiry.`,
		Example: `  export PAM_TOKEN="$(pamd login --mfa)"
  export PAM_TOKEN="$(pamd login --mfa --code 123456 --ttl 30m)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !withMFA {
				return errors.New("pamd login only does step-up logins: pass --mfa (base tokens come from `pamd token create`)")
			}
			if ttl < time.Minute || ttl > time.Duration(api.MaxStepUpTTLSeconds)*time.Second || ttl%time.Second != 0 {
				return fmt.Errorf("--ttl must be whole seconds between 1m and %s", time.Duration(api.MaxStepUpTTLSeconds)*time.Second)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			if code == "" {
				if code, err = promptCode(cmd.InOrStdin(), stderr, "TOTP code: "); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			res, err := c.StepUp(ctx, code, ttl)
			if err != nil {
				return explain(err)
			}
			if r.json {
				return printJSON(stdout, res)
			}
			if _, err := fmt.Fprintln(stdout, res.Token); err != nil {
				return err
			}
			_, err = fmt.Fprintf(stderr, "# MFA token for %s (%s) valid until %s; use it with: export PAM_TOKEN=\"$(pamd login --mfa)\"\n",
				res.Subject, res.TokenID, res.ExpiresAt.UTC().Format(time.RFC3339))
			return err
		},
	}
	r.bind(cmd)
	cmd.Flags().BoolVar(&withMFA, "mfa", false, "step up with a TOTP code (required)")
	cmd.Flags().StringVar(&code, "code", "", "the current TOTP code (prompted for when omitted)")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Duration(api.DefaultStepUpTTLSeconds)*time.Second, "lifetime of the new token (at most 1h)")
	return cmd
}
