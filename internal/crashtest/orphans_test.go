package crashtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// TestAccCrashOrphanRepair exercises removeOrphans on orphans made on
// purpose, one of each kind, since in TestAccCrashSafety the known bug that
// leaves them only strikes in some runs: a mistake in the repair would
// otherwise show up as a rare CI failure exactly when the bug strikes.
func TestAccCrashOrphanRepair(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("set TF_ACC=1 to run the crash tests (they drive OpenTofu)")
	}
	if os.Getenv(envStrict) == "1" {
		t.Skipf("%s=1: orphans fail the crash test instead of being removed", envStrict)
	}
	ctx := context.Background()
	p := newPamd(t, acctest.PamdBinary(t), t.TempDir())
	p.start(t)
	c := mustClient(t, p, 4)
	prefix := "orphan-" + randomHex(4)
	wd := acctest.NewWorkdir(t, acctest.EnvEndpoint+"="+p.url(), acctest.EnvToken+"="+p.token)
	wd.SetConfig(t, crashConfig(prefix, 1)) // 12 roles, 4 safes, 10 eligibilities
	wd.MustRun(t, 5*time.Minute, "apply", "-auto-approve", "-no-color")
	if n := removeOrphans(ctx, t, wd, c, prefix+"-tf-"); n != 0 {
		t.Fatalf("%d orphans right after a clean apply", n)
	}

	// Objects with the configuration's names that state does not hold, as
	// a create whose outcome was lost leaves them: a role and a safe the
	// next round's configuration would create, an eligibility and a vault
	// account hanging off an orphan role and safe (so the order matters),
	// and an eligibility of a role in state.
	var roleID, safeID, policyID, stateRoleID string
	for _, r := range wd.State(t) {
		switch r.Address {
		case "pam_activation_policy.p[0]":
			policyID = r.ID
		case "pam_role.r[0]":
			stateRoleID = r.ID
		}
	}
	role, err := c.CreateRole(ctx, api.RoleInput{Name: prefix + "-tf-role-13"})
	if err != nil {
		t.Fatal(err)
	}
	roleID = role.ID
	safe, err := c.CreateSafe(ctx, api.SafeInput{Name: prefix + "-tf-safe-9"})
	if err != nil {
		t.Fatal(err)
	}
	safeID = safe.ID
	for _, in := range []api.EligibleRoleAssignmentInput{
		{PrincipalType: "user", PrincipalID: prefix + "-tf-user-13", RoleID: roleID, Scope: "/", ActivationPolicyID: policyID},
		{PrincipalType: "user", PrincipalID: prefix + "-tf-user-14", RoleID: stateRoleID, Scope: "/", ActivationPolicyID: policyID},
	} {
		if _, err := c.CreateEligibleRoleAssignment(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateVaultAccount(ctx, api.VaultAccountInput{SafeID: safeID, Name: "acct-9", Platform: "generic", Username: "ci", SecretType: "token"}); err != nil {
		t.Fatal(err)
	}

	if n := removeOrphans(ctx, t, wd, c, prefix+"-tf-"); n != 5 {
		t.Fatalf("removeOrphans found %d orphans, want 5", n)
	}
	if n := removeOrphans(ctx, t, wd, c, prefix+"-tf-"); n != 0 {
		t.Fatalf("%d orphans left after the repair", n)
	}
	// The next round's configuration (14 roles) now applies cleanly.
	wd.SetConfig(t, crashConfig(prefix, 2))
	wd.MustRun(t, 5*time.Minute, "apply", "-auto-approve", "-no-color")
	if out, err := wd.Run(t, 5*time.Minute, "plan", "-detailed-exitcode", "-no-color"); err != nil {
		t.Fatalf("plan after the repair is not empty (or failed): %v\n%s", err, out)
	}
}
