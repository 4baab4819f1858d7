package provider_test

import (
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
)

// TestMain makes plain `go test ./...` safe anywhere and, with TF_ACC set,
// starts the real pamd the acceptance tests in this package share.
func TestMain(m *testing.M) {
	acctest.TestMain(m)
}
