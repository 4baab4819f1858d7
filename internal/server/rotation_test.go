package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/rotation"
	"github.com/accessplane/terraform-provider-pam/internal/rotation/connector"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

func strp(s string) *string { return &s }
func i64p(v int64) *int64   { return &v }

var rotIdem int

func (e *vaultEnv) schedule(in api.RotationScheduleInput) api.RotationSchedule {
	e.t.Helper()
	var s api.RotationSchedule
	e.do(http.MethodPost, api.PathRotationSchedules, e.admin, in).want(e.t, 201).json(e.t, &s)
	return s
}

func (e *vaultEnv) getAccount(id string) api.VaultAccount {
	e.t.Helper()
	var a api.VaultAccount
	e.do(http.MethodGet, api.PathVaultAccounts+"/"+id, e.admin, nil).want(e.t, 200).json(e.t, &a)
	return a
}

func (e *vaultEnv) getOp(id string) api.Operation {
	e.t.Helper()
	var op api.Operation
	e.do(http.MethodGet, api.PathOperations+"/"+id, e.admin, nil).want(e.t, 200).json(e.t, &op)
	return op
}

// rotate asks for a rotation and checks the 202 conventions.
func (e *vaultEnv) rotate(accountID string) api.Operation {
	e.t.Helper()
	rotIdem++
	r := e.do(http.MethodPost, api.PathVaultAccounts+"/"+accountID+"/"+api.ActionRotate, e.admin, nil, "Idempotency-Key", fmt.Sprintf("rot-%d", rotIdem)).want(e.t, 202)
	var op api.Operation
	r.json(e.t, &op)
	if loc := r.header.Get("Location"); loc != api.PathOperations+"/"+op.ID {
		e.t.Fatalf("Location = %q", loc)
	}
	if r.header.Get("Retry-After") == "" {
		e.t.Fatal("no Retry-After on 202")
	}
	if !strings.HasPrefix(op.ID, api.PrefixOperation+"_") || op.Kind != api.OperationKindRotate || op.State != api.OperationQueued ||
		op.Target != (api.OperationTarget{Type: api.TargetTypeVaultAccount, ID: accountID}) {
		e.t.Fatalf("operation = %+v", op)
	}
	return op
}

// currentSecret reads the account's secret through a checkout (and checks in).
func (e *vaultEnv) currentSecret(accountID string) string {
	e.t.Helper()
	var co api.Checkout
	e.checkout(e.admin, accountID, api.CheckoutRequest{Justification: "rotation test"}).want(e.t, 201).json(e.t, &co)
	var sec api.CheckoutSecret
	e.do(http.MethodGet, api.PathCheckouts+"/"+co.ID+"/"+api.SegmentSecret, e.admin, nil).want(e.t, 200).json(e.t, &sec)
	e.do(http.MethodPost, api.PathCheckouts+"/"+co.ID+"/"+api.ActionCheckin, e.admin, nil).want(e.t, 200)
	return sec.Secret
}

func (e *vaultEnv) countOps(kind, accountID string) int {
	e.t.Helper()
	n := 0
	for _, ev := range e.auditEvents() {
		if ev.Action == "rotation.started" && ev.Target.ID == accountID && kind == api.OperationKindRotate {
			n++
		}
	}
	return n
}

func genericAccount(safeID, name, secret, scheduleID string) api.VaultAccountInput {
	return api.VaultAccountInput{Name: name, SafeID: safeID, Platform: api.PlatformGeneric, Username: "svc", SecretType: api.SecretTypePassword,
		Secret: secret, ManagementMode: api.ManagementAutomatic, RotationScheduleID: scheduleID,
		CheckoutPolicy: api.CheckoutPolicy{DefaultDurationSeconds: 600, MaxDurationSeconds: 3600, AllowRetrieve: true}}
}

func TestRotationScheduleCRUD(t *testing.T) {
	e := startVault(t, false)
	in := api.RotationScheduleInput{Name: "db-weekly", Cron: strp("0 2 * * SUN"), TimeZone: "Europe/Berlin", WindowSeconds: 7200, JitterSeconds: 300,
		PasswordPolicy: api.RotationPasswordPolicy{Length: 24, RequireDigits: true, RequireSymbols: true, Symbols: strp("!#%")}, Labels: map[string]string{"env": "prod"}}
	r := e.do(http.MethodPost, api.PathRotationSchedules, e.admin, in).want(t, 201)
	var s api.RotationSchedule
	r.json(t, &s)
	if !strings.HasPrefix(s.ID, "rot_") || s.Version != 1 || r.header.Get("ETag") != `"1"` || r.header.Get("Location") != api.PathRotationSchedules+"/"+s.ID {
		t.Fatalf("created %+v headers %v", s, r.header)
	}
	if s.Retry.MaxAttempts != api.DefaultRotationRetryAttempts || *s.PasswordPolicy.Symbols != "!#%" || s.Status.NextRunAt == nil {
		t.Fatalf("not normalised: %+v", s)
	}
	// pimT0 is Thursday 2025-05-01 09:00Z; Sunday 02:00 in Berlin (CEST) is 00:00Z.
	if want := time.Date(2025, 5, 4, 0, 0, 0, 0, time.UTC); !s.Status.NextRunAt.Equal(want) {
		t.Fatalf("next_run_at = %s, want %s", s.Status.NextRunAt, want)
	}

	// Bad input: precise pointers, nothing written.
	bad := func(mut func(*api.RotationScheduleInput), pointer, code string) {
		t.Helper()
		b := in
		b.Name = "bad"
		mut(&b)
		p := e.do(http.MethodPost, api.PathRotationSchedules, e.admin, b).problem(t, 400, api.CodeValidationFailed)
		if len(p.Violations) == 0 || p.Violations[0].Pointer != pointer || p.Violations[0].Code != code {
			t.Fatalf("violations = %+v, want %s %s", p.Violations, pointer, code)
		}
	}
	bad(func(b *api.RotationScheduleInput) { b.Cron = strp("0 2 * *") }, "/cron", rotation.CodeInvalidCron)
	bad(func(b *api.RotationScheduleInput) { b.Cron = strp("0 0 30 2 *") }, "/cron", rotation.CodeNeverFires)
	bad(func(b *api.RotationScheduleInput) { b.IntervalSeconds = i64p(3600) }, "/cron", rotation.CodeConflict)
	bad(func(b *api.RotationScheduleInput) { b.PasswordPolicy.Symbols = strp("") }, "/password_policy/symbols", rotation.CodeUnsatisfiable)
	bad(func(b *api.RotationScheduleInput) { b.TimeZone = "Nowhere/Land" }, "/time_zone", rotation.CodeInvalidZone)
	var page api.Page[api.RotationSchedule]
	e.do(http.MethodGet, api.PathRotationSchedules, e.admin, nil).want(t, 200).json(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("list = %+v", page.Items)
	}
	p := e.do(http.MethodPost, api.PathRotationSchedules, e.admin, in).problem(t, 409, api.CodeAlreadyExists)
	if p.ExistingID != s.ID {
		t.Fatalf("existing_id = %q", p.ExistingID)
	}
	// Writers only.
	reader := e.token("user:bob")
	e.do(http.MethodPost, api.PathRotationSchedules, reader, api.RotationScheduleInput{Name: "x", Cron: strp("@daily")}).problem(t, 403, api.CodeForbidden)

	// Preview: the next Sundays at 02:00 Berlin, across the end of summer time.
	var pv api.RotationPreview
	e.do(http.MethodGet, api.PathRotationSchedules+"/"+s.ID+"/preview?count=3", reader, nil).want(t, 200).json(t, &pv)
	want := []time.Time{time.Date(2025, 5, 4, 0, 0, 0, 0, time.UTC), time.Date(2025, 5, 11, 0, 0, 0, 0, time.UTC), time.Date(2025, 5, 18, 0, 0, 0, 0, time.UTC)}
	if len(pv.Next) != 3 || !pv.Next[0].Equal(want[0]) || !pv.Next[2].Equal(want[2]) {
		t.Fatalf("preview = %v, want %v", pv.Next, want)
	}
	e.do(http.MethodGet, api.PathRotationSchedules+"/"+s.ID+"/preview?count=101", reader, nil).problem(t, 400, api.CodeValidationFailed)

	// Replace with If-Match, stale If-Match is 412.
	upd := in
	upd.IntervalSeconds, upd.Cron, upd.TimeZone = i64p(86400), nil, ""
	var s2 api.RotationSchedule
	e.do(http.MethodPut, api.PathRotationSchedules+"/"+s.ID, e.admin, upd, "If-Match", `"1"`).want(t, 200).json(t, &s2)
	if s2.Version != 2 || s2.Cron != nil || *s2.IntervalSeconds != 86400 || s2.TimeZone != "UTC" {
		t.Fatalf("replaced = %+v", s2)
	}
	e.do(http.MethodPut, api.PathRotationSchedules+"/"+s.ID, e.admin, upd, "If-Match", `"1"`).problem(t, 412, api.CodeEtagMismatch)

	// Delete is refused while an account references the schedule.
	sf := e.safe("s")
	a := e.account(genericAccount(sf.ID, "svc", "initial-secret-1", s.ID))
	p = e.do(http.MethodDelete, api.PathRotationSchedules+"/"+s.ID, e.admin, nil).problem(t, 409, api.CodeInUse)
	if !strings.Contains(p.Detail, a.ID) {
		t.Fatalf("in_use detail = %q", p.Detail)
	}
	e.do(http.MethodGet, api.PathRotationSchedules+"/"+s.ID, e.admin, nil).want(t, 200).json(t, &s2)
	if s2.Status.AccountCount != 1 {
		t.Fatalf("account_count = %d", s2.Status.AccountCount)
	}
	e.do(http.MethodDelete, api.PathVaultAccounts+"/"+a.ID, e.admin, nil).want(t, 204)
	e.do(http.MethodDelete, api.PathRotationSchedules+"/"+s.ID, e.admin, nil).want(t, 204)
	e.do(http.MethodGet, api.PathRotationSchedules+"/"+s.ID, e.admin, nil).problem(t, 404, api.CodeNotFound)
	e.verifyAudit()
}

func TestRotateGenericAccountOperation(t *testing.T) {
	e := startVault(t, false)
	pol := api.RotationPasswordPolicy{Length: 20, RequireLowercase: true, RequireUppercase: true, RequireDigits: true, RequireSymbols: true, Symbols: strp("#%+")}
	s := e.schedule(api.RotationScheduleInput{Name: "daily", Cron: strp("@daily"), PasswordPolicy: pol})
	sf := e.safe("s")
	const initial = "initial-secret-1"
	a := e.account(genericAccount(sf.ID, "svc", initial, s.ID))
	if a.SecretVersion != 1 {
		t.Fatalf("secret_version = %d", a.SecretVersion)
	}

	// Rotate requires an Idempotency-Key.
	e.do(http.MethodPost, api.PathVaultAccounts+"/"+a.ID+"/rotate", e.admin, nil).problem(t, 400, api.CodeIdempotencyKeyMissing)
	// Stale If-Match.
	e.do(http.MethodPost, api.PathVaultAccounts+"/"+a.ID+"/rotate", e.admin, nil, "Idempotency-Key", "k-stale", "If-Match", `"9"`).problem(t, 412, api.CodeEtagMismatch)
	// Someone without manage permission on the safe.
	e.do(http.MethodPost, api.PathVaultAccounts+"/"+a.ID+"/rotate", e.token("user:eve"), nil, "Idempotency-Key", "k-eve").problem(t, 403, api.CodeForbidden)

	op := e.rotate(a.ID)
	// A second request while the first is queued returns the same operation.
	if again := e.rotate(a.ID); again.ID != op.ID {
		t.Fatalf("second rotate queued %s besides %s", again.ID, op.ID)
	}
	if got := e.getOp(op.ID); got.State != api.OperationQueued {
		t.Fatalf("before the worker: %+v", got)
	}
	e.runWorker()
	got := e.getOp(op.ID)
	if got.State != api.OperationSucceeded || got.Result == nil || got.Result.SecretVersion != 2 || got.StartedAt == nil || got.FinishedAt == nil || got.Error != nil {
		t.Fatalf("after the worker: %+v", got)
	}
	acc := e.getAccount(a.ID)
	if acc.SecretVersion != a.SecretVersion+1 {
		t.Fatalf("secret_version %d -> %d, want +1", a.SecretVersion, acc.SecretVersion)
	}
	if acc.Version != a.Version {
		t.Fatalf("configuration version moved %d -> %d on rotation", a.Version, acc.Version)
	}
	if acc.Status.LastRotationResult != api.RotationResultSucceeded || acc.Status.LastRotationAt == nil || acc.Status.NextRotationAt == nil {
		t.Fatalf("status = %+v", acc.Status)
	}
	secret := e.currentSecret(a.ID)
	if secret == initial {
		t.Fatal("the secret did not change")
	}
	if err := rotation.CheckPassword(pol, secret); err != nil {
		t.Fatalf("new secret violates the schedule's policy: %v", err)
	}
	// Running the worker again does nothing more.
	e.runWorker()
	if acc2 := e.getAccount(a.ID); acc2.SecretVersion != acc.SecretVersion {
		t.Fatalf("a second pass rotated again: %d", acc2.SecretVersion)
	}

	// Verify.
	rotIdem++
	var vop api.Operation
	e.do(http.MethodPost, api.PathVaultAccounts+"/"+a.ID+"/verify", e.admin, nil).want(t, 202).json(t, &vop)
	e.runWorker()
	if got := e.getOp(vop.ID); got.State != api.OperationSucceeded || got.Kind != api.OperationKindVerify {
		t.Fatalf("verify: %+v", got)
	}
	if acc := e.getAccount(a.ID); acc.Status.LastVerificationResult != api.RotationResultSucceeded {
		t.Fatalf("verification status = %+v", acc.Status)
	}

	actions := map[string]int{}
	for _, ev := range e.auditEvents() {
		if ev.Target.ID == a.ID {
			actions[ev.Action]++
		}
	}
	if actions["rotation.started"] != 1 || actions[api.AuditRotationSucceeded] != 1 || actions[api.AuditVerificationSucceeded] != 1 {
		t.Fatalf("audit actions on the account: %v", actions)
	}
	e.assertNoSecret([]string{secret, initial})
	e.do(http.MethodGet, api.PathOperations+"/op_nope", e.admin, nil).problem(t, 404, api.CodeNotFound)
	e.verifyAudit()
}

func TestSchedulerRunsDueAccountOnce(t *testing.T) {
	e := startVault(t, false)
	s := e.schedule(api.RotationScheduleInput{Name: "hourly", IntervalSeconds: i64p(3600), WindowSeconds: 600})
	sf := e.safe("s")
	a := e.account(genericAccount(sf.ID, "svc", "initial-secret-1", s.ID))
	manual := genericAccount(sf.ID, "manual", "initial-secret-2", s.ID)
	manual.ManagementMode = api.ManagementManual
	m := e.account(manual)

	e.runWorker()
	acc := e.getAccount(a.ID)
	if acc.Status.NextRotationAt == nil || !acc.Status.NextRotationAt.Equal(a.CreatedAt.Add(time.Hour)) {
		t.Fatalf("next_rotation_at = %v, want %s", acc.Status.NextRotationAt, a.CreatedAt.Add(time.Hour))
	}
	if acc.SecretVersion != 1 {
		t.Fatal("rotated before due")
	}
	// Due: several passes rotate exactly once.
	e.clock.Advance(time.Hour + time.Second)
	for range 3 {
		e.runWorker()
	}
	acc = e.getAccount(a.ID)
	if acc.SecretVersion != 2 || e.countOps(api.OperationKindRotate, a.ID) != 1 {
		t.Fatalf("after one due period: secret_version %d, %d rotations", acc.SecretVersion, e.countOps(api.OperationKindRotate, a.ID))
	}
	if want := e.clock.Now().UTC().Truncate(time.Second).Add(time.Hour); acc.Status.NextRotationAt == nil || !acc.Status.NextRotationAt.Equal(want) {
		t.Fatalf("next_rotation_at = %v, want %s", acc.Status.NextRotationAt, want)
	}
	// Manually managed accounts are never rotated by the scheduler.
	if mm := e.getAccount(m.ID); mm.SecretVersion != 1 {
		t.Fatalf("manual account rotated: %d", mm.SecretVersion)
	}
	// The next period rotates once more.
	e.clock.Advance(time.Hour + time.Second)
	e.runWorker()
	e.runWorker()
	if acc = e.getAccount(a.ID); acc.SecretVersion != 3 {
		t.Fatalf("second period: secret_version %d", acc.SecretVersion)
	}
	// Missing the window (pamd down for 2h): the run is skipped, not made up.
	e.clock.Advance(3 * time.Hour)
	e.runWorker()
	if acc = e.getAccount(a.ID); acc.SecretVersion != 3 {
		t.Fatalf("a run outside its window rotated: %d", acc.SecretVersion)
	}
	skipped := 0
	for _, ev := range e.auditEvents() {
		if ev.Action == "rotation.skipped" && ev.Target.ID == a.ID {
			skipped++
		}
	}
	if skipped != 1 {
		t.Fatalf("rotation.skipped events = %d", skipped)
	}

	// Schedule run: every automatic account of the schedule, as one operation.
	var run api.Operation
	r := e.do(http.MethodPost, api.PathRotationSchedules+"/"+s.ID+"/run", e.admin, nil).want(t, 202)
	r.json(t, &run)
	if run.Kind != api.OperationKindRotationScheduleRun || run.Progress == nil || run.Progress.Total != 1 {
		t.Fatalf("run = %+v", run)
	}
	e.runWorker()
	run = e.getOp(run.ID)
	if run.State != api.OperationSucceeded || run.Progress.Succeeded != 1 {
		t.Fatalf("run after worker = %+v", run)
	}
	if acc = e.getAccount(a.ID); acc.SecretVersion != 4 {
		t.Fatalf("schedule run: secret_version %d", acc.SecretVersion)
	}
	e.verifyAudit()
}

func TestRotationFailureRecordedAndRetried(t *testing.T) {
	e := startVault(t, false)
	s := e.schedule(api.RotationScheduleInput{Name: "weekly", Cron: strp("@weekly"), Retry: api.RotationRetry{MaxAttempts: 2, BackoffSeconds: 60}})
	sf := e.safe("s")
	// Nothing listens on port 1: the connector fails at once.
	in := api.VaultAccountInput{Name: "pg", SafeID: sf.ID, Platform: api.PlatformPostgreSQL, Address: "127.0.0.1", Port: 1, Username: "app",
		SecretType: api.SecretTypePassword, Secret: "current-pw-1", ManagementMode: api.ManagementAutomatic, RotationScheduleID: s.ID,
		CheckoutPolicy: api.CheckoutPolicy{AllowRetrieve: true}}
	a := e.account(in)
	op := e.rotate(a.ID)
	e.runWorker()
	got := e.getOp(op.ID)
	if got.State != api.OperationQueued || got.Error == nil || got.Error.Code != api.CodeRotationFailed {
		t.Fatalf("after the first attempt: %+v", got)
	}
	acc := e.getAccount(a.ID)
	if acc.Status.LastRotationResult != api.RotationResultFailed || !strings.Contains(acc.Status.Note, "attempt 1 of 2") || acc.SecretVersion != 1 {
		t.Fatalf("status after a failure = %+v (secret_version %d)", acc.Status, acc.SecretVersion)
	}
	// Not yet due for the retry.
	e.clock.Advance(30 * time.Second)
	e.runWorker()
	if got := e.getOp(op.ID); got.State != api.OperationQueued {
		t.Fatalf("retried before the backoff: %+v", got)
	}
	e.clock.Advance(31 * time.Second)
	e.runWorker()
	got = e.getOp(op.ID)
	if got.State != api.OperationFailed || got.FinishedAt == nil || got.Error == nil {
		t.Fatalf("after the last attempt: %+v", got)
	}
	failed := 0
	for _, ev := range e.auditEvents() {
		if ev.Action == api.AuditRotationFailed && ev.Target.ID == a.ID {
			if ev.Outcome != api.OutcomeFailure {
				t.Fatalf("failure event outcome %q", ev.Outcome)
			}
			failed++
		}
	}
	if failed != 2 {
		t.Fatalf("rotation.failed events = %d, want 2", failed)
	}
	if acc := e.getAccount(a.ID); acc.SecretVersion != 1 {
		t.Fatalf("secret changed after failures: %d", acc.SecretVersion)
	}
	e.assertNoSecret([]string{"current-pw-1"})
	e.verifyAudit()
}

// TestRotatePostgreSQLAccount rotates a real PostgreSQL role through the API.
func TestRotatePostgreSQLAccount(t *testing.T) {
	dsn := os.Getenv("PAM_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PAM_TEST_POSTGRES_DSN not set: no PostgreSQL server for the rotation test (start one with scripts/postgres.sh start)")
	}
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect as superuser: %v", err)
	}
	defer func() { _ = admin.Close(ctx) }()
	role := fmt.Sprintf("pam_api_%d", time.Now().UnixNano())
	const initial = "Initial-pw-123"
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD "+connector.QuoteLiteral(initial)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
	})

	e := startVault(t, false)
	s := e.schedule(api.RotationScheduleInput{Name: "pg", Cron: strp("@monthly")})
	sf := e.safe("s")
	a := e.account(api.VaultAccountInput{Name: "pg", SafeID: sf.ID, Platform: api.PlatformPostgreSQL, Address: cfg.Host, Port: int(cfg.Port), Username: role,
		SecretType: api.SecretTypePassword, Secret: initial, ManagementMode: api.ManagementAutomatic, RotationScheduleID: s.ID,
		CheckoutPolicy: api.CheckoutPolicy{AllowRetrieve: true}})
	op := e.rotate(a.ID)
	e.runWorker()
	if got := e.getOp(op.ID); got.State != api.OperationSucceeded {
		t.Fatalf("rotation: %+v", got)
	}
	acc := e.getAccount(a.ID)
	if acc.SecretVersion != a.SecretVersion+1 {
		t.Fatalf("secret_version %d -> %d, want +1", a.SecretVersion, acc.SecretVersion)
	}
	secret := e.currentSecret(a.ID)
	conn := &connector.PostgreSQL{SSLMode: "prefer"}
	if err := conn.Verify(ctx, acc, initial); err == nil {
		t.Fatal("the old password still logs in")
	}
	if err := conn.Verify(ctx, acc, secret); err != nil {
		t.Fatalf("the new password does not log in: %v", err)
	}
	// Verification through the API agrees; after an out-of-band change it fails.
	var vop api.Operation
	e.do(http.MethodPost, api.PathVaultAccounts+"/"+a.ID+"/verify", e.admin, nil).want(t, 202).json(t, &vop)
	e.runWorker()
	if got := e.getOp(vop.ID); got.State != api.OperationSucceeded {
		t.Fatalf("verify: %+v", got)
	}
	if _, err := admin.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" PASSWORD 'changed-behind-our-back'"); err != nil {
		t.Fatal(err)
	}
	e.do(http.MethodPost, api.PathVaultAccounts+"/"+a.ID+"/verify", e.admin, nil).want(t, 202).json(t, &vop)
	e.runWorker()
	if got := e.getOp(vop.ID); got.State != api.OperationFailed || got.Error == nil || got.Error.Code != api.CodeVerificationFailed {
		t.Fatalf("verify after mismatch: %+v", got)
	}
	if acc := e.getAccount(a.ID); acc.Status.LastVerificationResult != api.RotationResultFailed {
		t.Fatalf("status = %+v", acc.Status)
	}
	e.assertNoSecret([]string{secret, initial})
	var n int
	err = e.d.Store().View(ctx, func(tx store.Tx) error {
		vs, err := tx.ListSecretVersions(a.ID)
		n = len(vs)
		return err
	})
	if err != nil || n != 2 {
		t.Fatalf("secret versions = %d (%v)", n, err)
	}
}

// TestRotateOnCheckinThroughEngine: the vault's Rotator seam is the engine.
func TestRotateOnCheckinThroughEngine(t *testing.T) {
	e := startVault(t, false)
	sf := e.safe("s")
	in := genericAccount(sf.ID, "svc", "initial-secret-1", "")
	in.CheckoutPolicy.RotateOnCheckin = true
	a := e.account(in)
	seen := e.currentSecret(a.ID) // checks out, reads, checks in
	if seen != "initial-secret-1" {
		t.Fatalf("secret = %q", seen)
	}
	if acc := e.getAccount(a.ID); acc.Status.LastRotationResult != api.RotationResultPending || acc.SecretVersion != 1 {
		t.Fatalf("after check-in: %+v", acc.Status)
	}
	e.runWorker()
	acc := e.getAccount(a.ID)
	if acc.SecretVersion != 2 || acc.Status.LastRotationResult != api.RotationResultSucceeded {
		t.Fatalf("after the worker: secret_version %d, status %+v", acc.SecretVersion, acc.Status)
	}
	// Without a schedule the default password policy applies.
	var co api.Checkout
	e.checkout(e.admin, a.ID, api.CheckoutRequest{}).want(t, 201).json(t, &co)
	var sec api.CheckoutSecret
	e.do(http.MethodGet, api.PathCheckouts+"/"+co.ID+"/"+api.SegmentSecret, e.admin, nil).want(t, 200).json(t, &sec)
	if err := rotation.CheckPassword(api.RotationPasswordPolicy{}, sec.Secret); err != nil || sec.Secret == seen {
		t.Fatalf("rotated secret: %v", err)
	}
}

func TestSchedulerVerifiesOnInterval(t *testing.T) {
	e := startVault(t, false)
	s := e.schedule(api.RotationScheduleInput{Name: "verify", Cron: strp("@yearly"), VerificationIntervalSeconds: 600})
	sf := e.safe("s")
	a := e.account(genericAccount(sf.ID, "svc", "initial-secret-1", s.ID))
	e.runWorker()
	if acc := e.getAccount(a.ID); acc.Status.LastVerificationAt != nil {
		t.Fatalf("verified before due: %+v", acc.Status)
	}
	e.clock.Advance(601 * time.Second)
	e.runWorker()
	acc := e.getAccount(a.ID)
	if acc.Status.LastVerificationResult != api.RotationResultSucceeded || acc.Status.LastVerificationAt == nil || acc.SecretVersion != 1 {
		t.Fatalf("after the interval: %+v", acc.Status)
	}
	first := *acc.Status.LastVerificationAt
	e.runWorker() // not due again yet
	if acc := e.getAccount(a.ID); !acc.Status.LastVerificationAt.Equal(first) {
		t.Fatal("verified twice in one interval")
	}
	e.clock.Advance(601 * time.Second)
	e.runWorker()
	if acc := e.getAccount(a.ID); !acc.Status.LastVerificationAt.After(first) {
		t.Fatal("no second verification after another interval")
	}
	n := 0
	for _, ev := range e.auditEvents() {
		if ev.Action == api.AuditVerificationSucceeded && ev.Target.ID == a.ID {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("verification.succeeded events = %d, want 2", n)
	}
}
