// Package connector changes and checks secrets on target systems for the
// rotation engine: generic (pamd only) and postgresql (ALTER ROLE over pgx).
// It is apart from package rotation so that the provider, which uses
// rotation's pure validation at plan time, does not link a database driver.
package connector

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// Connector changes and checks an account's secret on its target system.
// Errors never contain a secret.
type Connector interface {
	// Rotate changes the secret on the target from current to next. It
	// returns only once next works (or the change failed).
	Rotate(ctx context.Context, account api.VaultAccount, current, next string) error
	// Verify checks that secret is the account's working secret.
	Verify(ctx context.Context, account api.VaultAccount, secret string) error
}

// Connectors maps a platform to its connector.
type Connectors map[string]Connector

// DefaultConnectors returns the built-in connectors: generic and postgresql.
func DefaultConnectors() Connectors {
	return Connectors{
		api.PlatformGeneric:    Generic{},
		api.PlatformPostgreSQL: &PostgreSQL{},
	}
}

// ErrNoConnector: no connector handles the account's platform.
var ErrNoConnector = errors.New("no rotation connector for this platform")

// For returns the connector of a platform.
func (c Connectors) For(platform string) (Connector, error) {
	if k, ok := c[platform]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNoConnector, platform)
}

// Generic changes nothing outside pamd: the new secret is only stored (for
// targets that read their secret from pamd). Verify always succeeds.
type Generic struct{}

// Rotate implements Connector.
func (Generic) Rotate(context.Context, api.VaultAccount, string, string) error { return nil }

// Verify implements Connector.
func (Generic) Verify(context.Context, api.VaultAccount, string) error { return nil }

// PostgreSQL rotates the password of a PostgreSQL login role: it logs in as
// the account itself with the current password, runs ALTER ROLE with the
// new password (sent as a SCRAM-SHA-256 verifier, so the plaintext reaches
// neither the wire nor the server's statement log), then logs in with the new
// password. The account's address and port (default 5432) locate the
// server; username is the role.
type PostgreSQL struct {
	// Database to connect to; "" means "postgres".
	Database string
	// SSLMode is a libpq sslmode; "" means "prefer".
	SSLMode string
	// ConnectTimeout bounds each login; 0 means 10s.
	ConnectTimeout time.Duration
}

func (p *PostgreSQL) connect(ctx context.Context, a api.VaultAccount, secret string) (*pgx.Conn, error) {
	if a.Address == "" || a.Username == "" {
		return nil, errors.New("postgresql account needs address and username")
	}
	port := a.Port
	if port == 0 {
		port = 5432
	}
	db := p.Database
	if db == "" {
		db = "postgres"
	}
	mode := p.SSLMode
	if mode == "" {
		mode = "prefer"
	}
	timeout := p.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	dsn := strings.Join([]string{
		"host=" + quoteConnValue(a.Address), "port=" + strconv.Itoa(port), "user=" + quoteConnValue(a.Username),
		"password=" + quoteConnValue(secret), "dbname=" + quoteConnValue(db), "sslmode=" + quoteConnValue(mode),
	}, " ")
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, scrub(fmt.Errorf("postgresql connection settings: %w", err), secret)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, scrub(fmt.Errorf("postgresql login as %q: %w", a.Username, err), secret)
	}
	return conn, nil
}

// Verify implements Connector: logs in with secret and runs SELECT 1.
func (p *PostgreSQL) Verify(ctx context.Context, a api.VaultAccount, secret string) error {
	conn, err := p.connect(ctx, a, secret)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return scrub(fmt.Errorf("postgresql verify: %w", err), secret)
	}
	return nil
}

// Rotate implements Connector.
func (p *PostgreSQL) Rotate(ctx context.Context, a api.VaultAccount, current, next string) error {
	if next == "" || strings.ContainsRune(next, 0) {
		return errors.New("new password is empty or contains a NUL byte")
	}
	conn, err := p.connect(ctx, a, current)
	if err != nil {
		return scrub(fmt.Errorf("logging in with the current password failed (the stored secret may be out of sync): %w", err), next)
	}
	stmt, err := AlterRolePasswordSQL(a.Username, next)
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return err
	}
	_, err = conn.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
	_ = conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return scrub(fmt.Errorf("postgresql ALTER ROLE %s: %w", pgx.Identifier{a.Username}.Sanitize(), err), current, next)
	}
	if err := p.Verify(ctx, a, next); err != nil {
		return scrub(fmt.Errorf("password changed but logging in with the new one failed: %w", err), current, next)
	}
	return nil
}

// AlterRolePasswordSQL builds `ALTER ROLE "role" PASSWORD '<verifier>'`.
// ALTER ROLE takes no bind parameters, so the role is quoted with pgx's
// identifier quoting and the password is sent as a SCRAM-SHA-256 verifier
// (when it is printable ASCII, which SASLprep leaves unchanged) or else as
// an escaped string literal.
func AlterRolePasswordSQL(role, password string) (string, error) {
	if role == "" {
		return "", errors.New("empty role name")
	}
	if strings.ContainsRune(role, 0) || strings.ContainsRune(password, 0) {
		return "", errors.New("role or password contains a NUL byte")
	}
	lit := password
	if isPrintableASCII(password) {
		v, err := ScramSHA256Verifier(password)
		if err != nil {
			return "", err
		}
		lit = v
	}
	return "ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " PASSWORD " + QuoteLiteral(lit), nil
}

// QuoteLiteral quotes s as a PostgreSQL string literal, as quote_literal()
// does: single quotes doubled, and with backslashes doubled under an E”
// literal so that the result is correct whatever standard_conforming_strings says.
func QuoteLiteral(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		q = "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

// ScramSHA256Verifier computes the SCRAM-SHA-256 verifier PostgreSQL stores
// for a password (RFC 5802/7677, 4096 iterations, 16-byte random salt).
func ScramSHA256Verifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("pbkdf2: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	serverKey := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(serverKey)), nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// quoteConnValue quotes a libpq keyword/value connection string value.
func quoteConnValue(v string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", `\'`) + "'"
}

// scrub returns err's message with every secret replaced, as a new error
// that does not wrap err (so that no caller can reach a message holding a
// secret through errors.Unwrap).
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return errors.New(msg)
}
