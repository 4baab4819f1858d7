package catalog

import (
	"context"
	"crypto/rand"
	"errors"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/rotation/connector"
)

// fakeTarget is a connector whose target holds one password.
type fakeTarget struct {
	current string
	rotates int
}

func (f *fakeTarget) Rotate(_ context.Context, _ api.VaultAccount, _, next string) error {
	f.rotates++
	f.current = next
	return nil
}

func (f *fakeTarget) Verify(_ context.Context, _ api.VaultAccount, secret string) error {
	if secret != f.current {
		return errMismatch
	}
	return nil
}

var errMismatch = errors.New("password mismatch")

// TestRotationRecoversPendingSecret: the target accepted a new password but
// the attempt died before recording it; the next attempt finds the sealed
// pending secret working and stores it instead of rotating again.
func TestRotationRecoversPendingSecret(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	kr, err := keys.New(master)
	if err != nil {
		t.Fatal(err)
	}
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	svc := &Service{Store: st, Clock: fc}
	v := &Vault{Store: st, Clock: fc, Keyring: kr}
	admin := Caller{Principal: auth.Principal{Subject: "user:root", ServerRoles: []string{api.ServerRoleAdmin}}}
	safe, err := v.CreateSafe(ctx, admin, api.SafeInput{Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := v.CreateAccount(ctx, admin, api.VaultAccountInput{Name: "a", SafeID: safe.ID, Platform: api.PlatformGeneric,
		Username: "u", SecretType: api.SecretTypePassword, Secret: "Initial-1", CheckoutPolicy: api.CheckoutPolicy{AllowRetrieve: true}})
	if err != nil {
		t.Fatal(err)
	}
	target := &fakeTarget{current: "Initial-1"}
	r := NewRotation(svc, kr, connector.Connectors{api.PlatformGeneric: target}, nil)
	op, err := r.RequestAccountOperation(ctx, admin, acct.ID, api.OperationKindRotate, nil)
	if err != nil {
		t.Fatal(err)
	}
	// First attempt: claimed, new secret sealed, target changed, then "crash".
	claimed, ok, err := r.claim(ctx)
	if err != nil || !ok || claimed.ID != op.ID {
		t.Fatalf("claim: %+v %v %v", claimed, ok, err)
	}
	if err := r.savePending(ctx, &claimed, "Pending-Secret-1"); err != nil {
		t.Fatal(err)
	}
	target.current = "Pending-Secret-1"

	// Before the lease expires nothing happens; after, the pending secret is adopted.
	if n, err := r.RunDue(ctx); err != nil || n != 0 {
		t.Fatalf("run during the lease: %d %v", n, err)
	}
	fc.Advance(DefaultRotationLease + time.Second)
	if _, err := r.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := r.GetOperation(ctx, op.ID)
	if err != nil || got.State != api.OperationSucceeded || got.Result.SecretVersion != 2 {
		t.Fatalf("operation = %+v, %v", got, err)
	}
	if target.rotates != 0 {
		t.Fatalf("rotated again %d time(s) instead of adopting the pending secret", target.rotates)
	}
	secret, ver, err := v.CurrentSecret(ctx, acct.ID)
	if err != nil || string(secret) != "Pending-Secret-1" || ver != 2 {
		t.Fatalf("stored secret v%d %v", ver, err)
	}
}
