package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

// newRotate is `pamd rotate ACCOUNT`: queue a rotation (or with --verify a
// verification) of a vault account and, with --wait, poll the operation until
// it finishes. It never prints a secret.
func newRotate(stdout io.Writer) *cobra.Command {
	var r remote
	var safe string
	var verify bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "rotate ACCOUNT",
		Short: "Rotate (or --verify) a vault account's secret now",
		Long: `Queues a rotation of the account's secret on its target system (by id
acct_... or by name, with --safe when names repeat) and prints the operation.
With --wait the command polls until the operation succeeds or fails (exit
status 1 on failure). The new secret is never printed: check the account out
to read it.`,
		Args: cobra.ExactArgs(1),
	}
	cmd.RunE = remoteRun(&r, func() time.Duration { return callTimeout + wait }, func(ctx context.Context, c *client.Client, args []string) error {
		a, err := resolveAccount(ctx, c, args[0], safe)
		if err != nil {
			return err
		}
		var op *api.Operation
		if verify {
			op, err = c.VerifyVaultAccount(ctx, a.ID)
		} else {
			op, err = c.RotateVaultAccount(ctx, a.ID)
		}
		if err != nil {
			return err
		}
		if wait > 0 {
			deadline := time.Now().Add(wait)
			for op.State == api.OperationQueued || op.State == api.OperationRunning {
				if time.Now().After(deadline) {
					return fmt.Errorf("operation %s still %s after %s", op.ID, op.State, wait)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(api.DefaultOperationRetryAfterSec) * time.Second):
				}
				if op, err = c.GetOperation(ctx, op.ID); err != nil {
					return err
				}
			}
		}
		if r.json {
			if err := printJSON(stdout, op); err != nil {
				return err
			}
		} else {
			line := fmt.Sprintf("%s %s %s %s", op.ID, op.Kind, a.ID, op.State)
			if op.Result != nil && op.Result.SecretVersion > 0 {
				line += fmt.Sprintf(" secret_version=%d", op.Result.SecretVersion)
			}
			if op.Error != nil {
				line += ": " + op.Error.Detail
			}
			if _, err := fmt.Fprintln(stdout, line); err != nil {
				return err
			}
		}
		if op.State == api.OperationFailed {
			return fmt.Errorf("%s failed", op.Kind)
		}
		return nil
	})
	r.bind(cmd)
	cmd.Flags().StringVar(&safe, "safe", "", "safe name or id, when the account name is not unique")
	cmd.Flags().BoolVar(&verify, "verify", false, "verify the stored secret against the target instead of rotating")
	cmd.Flags().DurationVar(&wait, "wait", 0, "poll the operation until it finishes, at most this long (e.g. 2m)")
	return cmd
}
