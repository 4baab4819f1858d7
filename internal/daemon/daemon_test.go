package daemon_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/tlstest"
)

const adminToken = "test-bootstrap-admin-token"

func startTLS(t *testing.T, cfg daemon.Config) *daemon.Daemon {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.DBPath = filepath.Join(t.TempDir(), "pamd.db")
	cfg.BootstrapToken = adminToken
	cfg.WorkerInterval = -1
	d, err := daemon.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return d
}

func get(c *http.Client, url, token string) (int, string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

func clientWith(pool *x509.CertPool, minVersion, maxVersion uint16) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: minVersion, MaxVersion: maxVersion}} //nolint:gosec // the test probes old versions on purpose
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestServeTLS starts pamd with a CA-signed certificate and talks to it as
// clients that trust the CA, that do not, that speak plain HTTP, and that
// offer only TLS 1.1.
func TestServeTLS(t *testing.T) {
	files := tlstest.New(t)
	d := startTLS(t, daemon.Config{TLSCertFile: files.CertFile, TLSKeyFile: files.KeyFile})
	if !strings.HasPrefix(d.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL() = %q, want https://127.0.0.1:PORT", d.URL())
	}

	// Trusting the CA: health and an authenticated read work.
	trusting := clientWith(files.Pool(t), tls.VersionTLS12, 0)
	if st, body, err := get(trusting, d.URL()+api.PathHealth, ""); err != nil || st != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("health over TLS: %d %q %v", st, body, err)
	}
	if st, body, err := get(trusting, d.URL()+api.PathRoles, adminToken); err != nil || st != 200 {
		t.Fatalf("roles over TLS: %d %q %v", st, body, err)
	}

	// Not trusting it (system roots only): a certificate error, no response.
	_, _, err := get(clientWith(nil, tls.VersionTLS12, 0), d.URL()+api.PathHealth, "")
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	if !errors.As(err, &unknown) && !errors.As(err, &verify) {
		t.Errorf("client without the CA: err = %v, want a certificate verification error", err)
	}

	// Plain HTTP to the TLS port gets no API data, and the bearer token sent
	// in clear is not accepted (Go answers 400 before any handler runs).
	plainURL := "http://" + strings.TrimPrefix(d.URL(), "https://")
	st, body, err := get(&http.Client{Timeout: 10 * time.Second}, plainURL+api.PathRoles, adminToken)
	if err == nil && (st < 400 || strings.Contains(body, `"items"`) || strings.Contains(body, `"status":"ok"`)) {
		t.Errorf("plain HTTP to the TLS port: %d %q", st, body)
	}
	t.Logf("plain HTTP to the TLS port: status %d, body %q, err %v", st, strings.TrimSpace(body), err)

	// TLS 1.1 and older are refused at the handshake.
	if _, _, err := get(clientWith(files.Pool(t), tls.VersionTLS10, tls.VersionTLS11), d.URL()+api.PathHealth, ""); err == nil {
		t.Error("a TLS 1.1 client was served; want at least TLS 1.2")
	}
}

func TestTLSConfigErrors(t *testing.T) {
	files := tlstest.New(t)
	other := tlstest.New(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, cert, key, want string
	}{
		{"only cert", files.CertFile, "", "without a key file"},
		{"only key", "", files.KeyFile, "without a certificate file"},
		{"unreadable cert", missing, files.KeyFile, "reading the certificate file"},
		{"unreadable key", files.CertFile, missing, "reading the key file"},
		{"not PEM", garbage, files.KeyFile, "do not form a usable pair"},
		{"key of another cert", files.CertFile, other.KeyFile, "do not form a usable pair"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "pamd.db")
			d, err := daemon.Start(context.Background(), daemon.Config{Listen: "127.0.0.1:0", DBPath: db,
				BootstrapToken: adminToken, TLSCertFile: c.cert, TLSKeyFile: c.key})
			if err == nil {
				_ = d.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			keyPEM, _ := os.ReadFile(files.KeyFile)
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), strings.TrimSpace(string(keyPEM))) {
				t.Errorf("error shows key material: %q", err)
			}
			// Checked before the store is opened: no database file is left.
			if _, serr := os.Stat(db); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("a bad TLS configuration still created %s (%v)", db, serr)
			}
		})
	}
}

// TestSlowHeadersAreCut: a client that opens a request and never finishes
// its headers (slowloris) is disconnected after the server's
// ReadHeaderTimeout (10 s), so such clients cannot hold connections open.
// It waits those 10 s, idle, in parallel with the other tests.
func TestSlowHeadersAreCut(t *testing.T) {
	t.Parallel()
	d := startTLS(t, daemon.Config{})
	var dialer net.Dialer
	nc, err := dialer.DialContext(context.Background(), "tcp", strings.TrimPrefix(d.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := io.WriteString(nc, "GET /v1/health HTTP/1.1\r\nHost: pamd\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	// Far above the timeout: this checks that pamd hangs up at all.
	_ = nc.SetReadDeadline(time.Now().Add(45 * time.Second))
	b, err := io.ReadAll(nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("pamd kept a connection with unfinished headers open for 45 s")
	}
	if strings.Contains(string(b), `"status":"ok"`) {
		t.Errorf("an unfinished request was answered: %q", b)
	}
}
