package acctest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/provider"
)

// ProviderName is the local name tests use in configurations ("pam_role" ...).
const ProviderName = "pam"

// ProtoV6ProviderFactories serves the provider in-process to the CLI.
var ProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	ProviderName: providerserver.NewProtocol6WithError(provider.New("acctest")()),
}

// Env variables the provider reads; the harness sets them to the test pamd,
// so test configurations need no provider block.
const (
	EnvEndpoint = "PAM_ENDPOINT"
	EnvToken    = "PAM_TOKEN"
	// EnvPamdLog names a file that receives pamd's debug log during the run.
	EnvPamdLog = "PAM_ACC_PAMD_LOG"
)

// TestMain runs a package's tests. With TF_ACC set it finds the CLI and
// starts one pamd shared by the package's acceptance tests; without TF_ACC it
// only neutralises the environment so that plain `go test ./...` is safe.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	cli := prepareCLIEnv()
	if os.Getenv("TF_ACC") == "" {
		return m.Run()
	}
	if cli == "" {
		fmt.Fprintln(os.Stderr, "acctest: TF_ACC is set but no OpenTofu or Terraform CLI was found; run `make tools` or set TF_ACC_TERRAFORM_PATH")
		return 1
	}
	info, err := CLI()
	if err != nil {
		fmt.Fprintln(os.Stderr, "acctest:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "acctest: driving %s\n", info)

	stop, err := startPamd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "acctest: starting pamd:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

func startPamd() (func(), error) {
	dir, err := os.MkdirTemp("", "pamd-acctest-")
	if err != nil {
		return nil, err
	}
	// pamd always logs at debug level to a file, so that leak tests can
	// search what an operator's debug log would hold; PAM_ACC_PAMD_LOG names
	// the file (kept after the run), else it lives in the temp dir.
	pamdLogPath = filepath.Join(dir, "pamd.log")
	if p := os.Getenv(EnvPamdLog); p != "" {
		pamdLogPath = p
	}
	logFile, err := os.Create(pamdLogPath) //nolint:gosec // path chosen by the person running the tests
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	token := "pamd_acc_" + randomHex(24)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := daemon.Start(ctx, daemon.Config{
		Listen:         "127.0.0.1:0",
		DBPath:         filepath.Join(dir, "pamd.db"),
		BootstrapToken: token,
		BootstrapOut:   io.Discard,
		Logger:         logger,
		Clock:          serverClock,
		Version:        "acctest",
	})
	if err != nil {
		return nil, err
	}
	_ = os.Setenv(EnvEndpoint, d.URL())
	_ = os.Setenv(EnvToken, token)
	server = d
	return func() {
		_ = d.Close()
		_ = logFile.Close()
		_ = os.RemoveAll(dir)
	}, nil
}

// server is the pamd the package's acceptance tests share; serverClock is its
// clock, which AdvanceClock moves forward.
var (
	server      *daemon.Daemon
	serverClock = &clock.Offset{}
	pamdLogPath string
)

// PamdLog returns the test pamd's debug log so far.
func PamdLog(t *testing.T) string {
	t.Helper()
	PreCheck(t)
	b, err := os.ReadFile(pamdLogPath) //nolint:gosec // the log file this harness created
	if err != nil {
		t.Fatalf("acctest: reading the pamd log: %v", err)
	}
	return string(b)
}

// AdvanceClock moves the test pamd's clock forward by d and runs one pass of
// its background worker, so expiry and timeouts happen without waiting.
// Parallel tests share the server and its clock: only tests that do not call
// t.Parallel may use it (Go runs them before any parallel test resumes).
func AdvanceClock(t *testing.T, d time.Duration) {
	t.Helper()
	PreCheck(t)
	serverClock.Advance(d)
	// Later tests expect real time again (windows they compute from
	// time.Now), so the jump lasts only as long as this test.
	t.Cleanup(func() { serverClock.Advance(-d) })
	RunWorker(t)
}

// RunWorker runs one pass of the test pamd's background worker.
func RunWorker(t *testing.T) {
	t.Helper()
	PreCheck(t)
	if _, err := server.RunWorkerOnce(context.Background()); err != nil {
		t.Fatalf("acctest: running the pamd worker: %v", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// PreCheck fails fast when the harness did not start pamd.
func PreCheck(t *testing.T) {
	t.Helper()
	if server == nil || os.Getenv(EnvEndpoint) == "" || os.Getenv(EnvToken) == "" {
		t.Fatal("acctest: pamd is not running; call acctest.TestMain from the package's TestMain")
	}
}

// Client returns an admin API client for the test pamd.
func Client(t *testing.T) *client.Client {
	t.Helper()
	PreCheck(t)
	c, err := client.New(client.Config{
		Endpoint:  os.Getenv(EnvEndpoint),
		Token:     os.Getenv(EnvToken),
		UserAgent: "terraform-provider-pam-acctest",
	})
	if err != nil {
		t.Fatalf("acctest: building client: %v", err)
	}
	return c
}

// Token issues a token on the test pamd with the given subject, groups and
// server roles, for tests that act as someone other than the admin.
func Token(t *testing.T, subject string, groups, roles []string) string {
	t.Helper()
	PreCheck(t)
	tok, err := server.IssueToken(context.Background(), subject, groups, roles)
	if err != nil {
		t.Fatalf("acctest: issuing token: %v", err)
	}
	return tok
}

// RandomName returns a name unique to this run, for objects whose names are
// unique on the server.
func RandomName(prefix string) string {
	return prefix + "-" + randomHex(5)
}
