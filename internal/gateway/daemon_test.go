package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/gateway/sshtest"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/session"
)

type daemonEnv struct {
	d      *daemon.Daemon
	target *sshtest.Server
	acct   api.VaultAccount
	alice  string // token of user:alice, member of group ops (checkout on the safe)
}

// startDaemon runs pamd with the SSH gateway (cfg adds settings) and an
// unpinned unix_ssh account web-root on a test target, in safe prod.
func startDaemon(t *testing.T, adminToken string, cfg daemon.Config) daemonEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	master := make([]byte, keys.KeySize)
	_, _ = rand.Read(master)
	kr, err := keys.New(master)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "pamd.db")
	cfg.Listen, cfg.DBPath, cfg.Keyring, cfg.BootstrapToken = "127.0.0.1:0", db, kr, adminToken
	cfg.SSHListen, cfg.WorkerInterval, cfg.Clock = "127.0.0.1:0", -1, clock.Real{}
	d, err := daemon.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if fi, err := os.Stat(db + ".ssh_host_key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key file: %v", err)
	}
	target, err := sshtest.Start("root", targetPassword)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Close() })
	v := &catalog.Vault{Store: d.Store(), Clock: clock.Real{}, Keyring: kr}
	safe, err := v.CreateSafe(ctx, admin, api.SafeInput{Name: "prod",
		Members: []api.SafeMember{{PrincipalType: "group", PrincipalID: "ops", Permissions: []string{api.SafePermissionCheckout}}}})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := v.CreateAccount(ctx, admin, api.VaultAccountInput{Name: "web-root", SafeID: safe.ID, Platform: api.PlatformUnixSSH,
		Address: target.Host(), Port: target.Port(), Username: "root", SecretType: api.SecretTypePassword, Secret: targetPassword,
		ManagementMode: api.ManagementManual})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := d.IssueToken(ctx, "user:alice", []string{"ops"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return daemonEnv{d: d, target: target, acct: acct, alice: alice}
}

// TestDaemonRequireHostKeys: SSHRequireHostKeys (pamd serve
// --ssh-require-host-keys) reaches the gateway: an unpinned account is refused.
func TestDaemonRequireHostKeys(t *testing.T) {
	e := startDaemon(t, "bootstrap-admin-token-for-tests", daemon.Config{SSHRequireHostKeys: true})
	cc := &ssh.ClientConfig{User: "alice+prod/web-root", HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 3 * time.Second, //nolint:gosec // test
		Auth: []ssh.AuthMethod{ssh.Password(e.alice)}}
	c, err := ssh.Dial("tcp", e.d.SSHAddr(), cc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_, stderr, err := run(t, c, "echo hi", &received{})
	if err == nil || !strings.Contains(stderr, "has no pinned host_keys and this gateway requires them") || e.target.PasswordAttempts() != 0 {
		t.Fatalf("unpinned account under --ssh-require-host-keys: %q %v", stderr, err)
	}
}

// TestDaemonGatewayTerminateViaAPI runs pamd with --ssh-listen and cuts a
// live session with POST /v1/sessions/{id}/terminate, then downloads the
// recording through the API.
func TestDaemonGatewayTerminateViaAPI(t *testing.T) {
	ctx := context.Background()
	const adminToken = "bootstrap-admin-token-for-tests"
	e := startDaemon(t, adminToken, daemon.Config{})
	d, acct, alice := e.d, e.acct, e.alice

	// Keyboard-interactive with the token works as well as password.
	cc := &ssh.ClientConfig{User: "alice+prod/web-root", HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 3 * time.Second, //nolint:gosec // test
		Auth: []ssh.AuthMethod{ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			return []string{alice}, nil
		})}}
	c, err := ssh.Dial("tcp", d.SSHAddr(), cc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	seen := &received{}
	if out, _, err := run(t, c, "echo via-daemon", seen); err != nil || out != "via-daemon\n" {
		t.Fatalf("exec: %q %v", out, err)
	}
	_, _, out := shell(t, c, seen)
	ids := d.Gateway().LiveSessions()
	if len(ids) != 1 {
		t.Fatalf("live: %v", ids)
	}

	call := func(method, path string, body any) (*http.Response, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, d.URL()+path, rd)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := call(http.MethodPost, api.PathSessions+"/"+ids[0]+"/"+api.ActionTerminate, api.SessionTerminateRequest{Reason: "incident 7"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("terminate: %d %s", resp.StatusCode, body)
	}
	var s api.Session
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if s.State != api.SessionTerminated || s.EndReason != api.SessionEndTerminatedByAdmin || s.EndedBy == nil || s.VaultAccountID != acct.ID {
		t.Fatalf("terminated session: %+v", s)
	}
	out.waitFor(t, "pamd: session terminated by an administrator: incident 7")
	waitClosed(t, c, "the API terminate did not cut the connection")

	resp, body = call(http.MethodGet, api.PathSessionRecordings+"/"+s.RecordingID+"/"+api.SegmentDownload, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d %s", resp.StatusCode, body)
	}
	_, events, err := session.ParseAsciicast(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if indexOf(events, "i", "echo via-daemon") < 0 || indexOf(events, "o", "via-daemon") < 0 || strings.Contains(string(body), targetPassword) {
		t.Fatalf("downloaded recording: %s", body)
	}
}
