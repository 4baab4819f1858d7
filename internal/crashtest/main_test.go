package crashtest_test

import (
	"testing"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
)

// TestMain finds the CLI (and neutralises the environment) as the
// acceptance tests do; the crash test runs its own pamd processes.
func TestMain(m *testing.M) {
	acctest.TestMain(m)
}
