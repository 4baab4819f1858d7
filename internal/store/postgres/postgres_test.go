package postgres_test

import (
	"context"
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/postgres"
	"github.com/accessplane/terraform-provider-pam/internal/store/storetest"
	"github.com/accessplane/terraform-provider-pam/internal/testdb"
)

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	admin := testdb.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, testdb.NewPostgres(t, admin))
	})
}
