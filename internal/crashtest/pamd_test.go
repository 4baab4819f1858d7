package crashtest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/acctest"
)

// pamdProc is pamd running as a child process on a fixed address and
// SQLite file, so it can be SIGKILLed and started again on the same file, as
// an init system would after a crash.
type pamdProc struct {
	*acctest.PamdProcess
	db, token string
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func newPamd(t *testing.T, bin, dir string) *pamdProc {
	t.Helper()
	db, token := filepath.Join(dir, "pamd.db"), "pamd_crash_"+randomHex(24)
	return &pamdProc{
		PamdProcess: acctest.NewPamdProcess(t, bin, filepath.Join(dir, "pamd.log"),
			// One token drives the apply, the writers and the checks at
			// well over the default per-token limit; this test is about
			// durability, and the limiter has its own tests.
			[]string{"--db", db, "--log-level", "debug", "--rate-limit", "0"}, "PAMD_BOOTSTRAP_TOKEN="+token),
		db: db, token: token,
	}
}

// verifyAudit runs `pamd audit verify` on the database while no pamd runs,
// so it checks exactly what the crash left on disk.
func (p *pamdProc) verifyAudit(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, p.Bin, "audit", "verify", "--db", p.db).CombinedOutput() //nolint:gosec // the pamd this test built
	if err != nil {
		t.Fatalf("pamd audit verify after start %d: %v\n%s", p.Starts, err, out)
	}
	return string(out)
}

func (p *pamdProc) String() string { return fmt.Sprintf("pamd at %s (db %s)", p.Listen, p.db) }
