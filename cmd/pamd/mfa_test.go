package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func runIn(t *testing.T, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRoot(&out, &errb)
	cmd.SetIn(stdin)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func cliCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// codeFromOutput is stdin for an interactive enroll: when the prompt reads,
// it takes the secret the command has just printed and answers its code.
type codeFromOutput struct {
	t     *testing.T
	out   *bytes.Buffer
	clock *clock.Fake
	done  bool
}

var secretLine = regexp.MustCompile(`Secret: ([A-Z2-7]+)`)

func (c *codeFromOutput) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	c.done = true
	m := secretLine.FindStringSubmatch(c.out.String())
	if m == nil {
		c.t.Errorf("prompted before the secret was printed: %q", c.out.String())
		return 0, io.EOF
	}
	return copy(p, cliCode(c.t, m[1], c.clock.Now())+"\n"), nil
}

func TestMFAEnrollAndLoginCLI(t *testing.T) {
	ctx := context.Background()
	fc := clock.NewFake(time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC))
	db := filepath.Join(t.TempDir(), "pamd.db")
	d, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", DBPath: db, Clock: fc, WorkerInterval: -1,
		BootstrapToken: "pamd_test_mfa_cli_admin_token"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	ep := []string{"--endpoint", d.URL()}
	alice, err := d.IssueToken(ctx, "user:alice", []string{"dba"}, []string{api.ServerRoleRequester})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAM_TOKEN", alice)

	// Non-interactive: print the secret as JSON, then confirm with --code.
	out, _, err := runIn(t, strings.NewReader(""), append([]string{"mfa", "enroll", "--no-confirm", "--json"}, ep...)...)
	if err != nil {
		t.Fatal(err)
	}
	var en api.TOTPEnrollment
	if err := json.Unmarshal([]byte(out), &en); err != nil || en.Secret == "" || !strings.HasPrefix(en.OTPAuthURI, "otpauth://") {
		t.Fatalf("enroll --json: %q %v", out, err)
	}
	out, _, err = runIn(t, strings.NewReader(""), append([]string{"mfa", "enroll", "--code", cliCode(t, en.Secret, fc.Now())}, ep...)...)
	if err != nil || !strings.Contains(out, "TOTP confirmed for user:alice") {
		t.Fatalf("enroll --code: %q %v", out, err)
	}

	// Step-up login prints only the token on stdout.
	fc.Advance(30 * time.Second)
	out, errOut, err := runIn(t, strings.NewReader(""), append([]string{"login", "--mfa", "--code", cliCode(t, en.Secret, fc.Now()), "--ttl", "10m"}, ep...)...)
	if err != nil {
		t.Fatalf("login: %v %s", err, errOut)
	}
	tok := strings.TrimSuffix(out, "\n")
	if !auth.WellFormed(tok) || strings.Contains(tok, "\n") {
		t.Fatalf("login stdout %q", out)
	}
	if !strings.Contains(errOut, "export PAM_TOKEN=") || strings.Contains(errOut, tok) {
		t.Fatalf("login stderr %q", errOut)
	}
	err = d.Store().View(ctx, func(tx store.Tx) error {
		rec, err := tx.TokenByHash(auth.HashToken(tok))
		if err != nil {
			return err
		}
		if rec.Subject != "user:alice" || rec.MFAAt == nil || !rec.MFAAt.Equal(fc.Now()) || rec.ExpiresAt == nil ||
			!rec.ExpiresAt.Equal(fc.Now().Add(10*time.Minute)) || len(rec.Groups) != 1 || rec.Groups[0] != "dba" {
			t.Errorf("step-up token %+v", rec)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The same code again is refused, readably.
	_, _, err = runIn(t, strings.NewReader(""), append([]string{"login", "--mfa", "--code", cliCode(t, en.Secret, fc.Now())}, ep...)...)
	if err == nil || !strings.Contains(err.Error(), api.CodeInvalidMFACode) {
		t.Fatalf("replayed code: %v", err)
	}
	if _, _, err := runIn(t, strings.NewReader(""), append([]string{"login"}, ep...)...); err == nil || !strings.Contains(err.Error(), "--mfa") {
		t.Fatalf("login without --mfa: %v", err)
	}

	// Interactive: bob enrols and answers the prompt; login prompts too.
	bob, err := d.IssueToken(ctx, "user:bob", nil, []string{api.ServerRoleRequester})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAM_TOKEN", bob)
	var bout, berr bytes.Buffer
	root := newRoot(&bout, &berr)
	root.SetIn(&codeFromOutput{t: t, out: &bout, clock: fc})
	root.SetArgs(append([]string{"mfa", "enroll"}, ep...))
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("interactive enroll: %v\n%s\n%s", err, bout.String(), berr.String())
	}
	m := secretLine.FindStringSubmatch(bout.String())
	if m == nil || !strings.Contains(bout.String(), "otpauth://totp/") || !strings.Contains(bout.String(), "TOTP confirmed for user:bob") ||
		!strings.Contains(berr.String(), "Enter the current code") {
		t.Fatalf("interactive enroll output:\n%s\nstderr:\n%s", bout.String(), berr.String())
	}
	fc.Advance(30 * time.Second)
	out, _, err = runIn(t, strings.NewReader(cliCode(t, m[1], fc.Now())+"\n"), append([]string{"login", "--mfa", "--json"}, ep...)...)
	var su api.StepUpResponse
	if err != nil || json.Unmarshal([]byte(out), &su) != nil || su.Subject != "user:bob" || su.MFAAt.IsZero() {
		t.Fatalf("login --json with prompt: %q %v", out, err)
	}

	// The operator resets bob's enrollment on the database; bob must enrol again.
	out, _, err = runIn(t, strings.NewReader(""), "mfa", "reset", "--db", db, "--subject", "user:bob")
	if err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("reset: %q %v", out, err)
	}
	if _, _, err := runIn(t, strings.NewReader(""), "mfa", "reset", "--db", db, "--subject", "user:bob"); err == nil {
		t.Fatal("second reset succeeded")
	}
	fc.Advance(30 * time.Second)
	_, _, err = runIn(t, strings.NewReader(""), append([]string{"login", "--mfa", "--code", cliCode(t, m[1], fc.Now())}, ep...)...)
	if err == nil || !strings.Contains(err.Error(), api.CodeMFANotEnrolled) {
		t.Fatalf("login after reset: %v", err)
	}
	var reset bool
	err = d.Store().View(ctx, func(tx store.Tx) error {
		evs, err := tx.ListAudit(store.AuditFilter{ActionPrefix: "mfa.removed", Limit: 10})
		for _, e := range evs {
			reset = reset || (e.Target.ID == "user:bob" && e.Actor.ID == "pamd-cli")
		}
		return err
	})
	if err != nil || !reset {
		t.Fatalf("reset not audited: %v", err)
	}

	// Alice removes her own enrollment with her step-up token.
	t.Setenv("PAM_TOKEN", alice)
	if _, _, err := runIn(t, strings.NewReader(""), append([]string{"mfa", "remove"}, ep...)...); err == nil || !strings.Contains(err.Error(), api.CodeStepUpRequired) {
		t.Fatalf("remove with a plain token: %v", err)
	}
	t.Setenv("PAM_TOKEN", tok)
	if out, _, err := runIn(t, strings.NewReader(""), append([]string{"mfa", "remove"}, ep...)...); err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("remove with the step-up token: %q %v", out, err)
	}
	if res, err := daemon.VerifyAudit(ctx, d.Store()); err != nil || !res.OK() {
		t.Fatalf("audit chain: %+v %v", res, err)
	}
}
