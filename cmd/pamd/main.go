// Command pamd is the PIM/PAM API server (`pamd serve`) and its operator CLI
// (`pamd token create`, `pamd audit verify`).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/engine"
)

// version is set at release with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newRoot(os.Stdout, os.Stderr).Execute(); err != nil {
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "pamd",
		Short:         "pamd is a privileged identity and access management API server",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServe(stderr), newToken(stdout), newAudit(stdout), newRoles(stdout))
	root.AddCommand(newPIMCommands(stdout, stderr)...)
	root.AddCommand(newMFACommands(stdout, stderr)...)
	root.AddCommand(newVaultCommands(stdout, stderr)...)
	root.AddCommand(newRotate(stdout))
	root.AddCommand(newSessionCommands(stdout, stderr)...)
	root.AddCommand(newSSHKeysCommand(stdout))
	return root
}

func dbFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "db", envOr("PAMD_DB", daemon.DefaultDBPath),
		"SQLite database file, or postgres://user:password@host:port/database URL shared by several replicas (env PAMD_DB)")
}

// dbTuning parses --db-retry and --db-max-conns. A retry of 0 means one
// attempt (the daemon's 0 would mean its default).
func dbTuning(retry, conns string) (time.Duration, int, error) {
	r, err := time.ParseDuration(retry)
	if err != nil || r < 0 {
		return 0, 0, fmt.Errorf("--db-retry (PAMD_DB_RETRY) %q: use a duration such as 30s or 2m, or 0 to try once", retry)
	}
	if r == 0 {
		r = -1
	}
	n, err := strconv.Atoi(conns)
	if err != nil || n < 1 || n > 1000 {
		return 0, 0, fmt.Errorf("--db-max-conns (PAMD_DB_MAX_CONNS) %q: use a whole number from 1 to 1000", conns)
	}
	return r, n, nil
}

// workerInterval parses --worker-interval: a positive duration of at most
// an hour (longer would leave expiries and rotations waiting).
func workerInterval(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 10*time.Millisecond || d > time.Hour {
		return 0, fmt.Errorf("--worker-interval (PAMD_WORKER_INTERVAL) %q: use a duration from 10ms to 1h, such as 5s", v)
	}
	return d, nil
}

// openStore opens the database an operator command names, SQLite or
// PostgreSQL (trying a PostgreSQL server once: an operator is waiting).
func openStore(ctx context.Context, db string) (store.Store, error) {
	return engine.Open(ctx, db, engine.Options{RetryFor: -1})
}

// dbExists refuses a SQLite file that is not there, rather than creating an
// empty database for a command that only reads; a PostgreSQL URL is checked
// by connecting.
func dbExists(db string) error {
	if engine.IsPostgres(db) {
		return nil
	}
	if _, err := os.Stat(db); err != nil {
		return fmt.Errorf("database %s: %w", db, err)
	}
	return nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use text or json", format)
}

func newServe(stderr io.Writer) *cobra.Command {
	var listen, db, level, format, sshListen, hostKey, keyFile, tlsCert, tlsKey string
	var dbRetry, dbConns, workerEvery string
	var rateLimit float64
	var rateBurst int
	var requireHostKeys bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API server",
		Long: `Run the API server. On a fresh database it installs an admin token: the one in
PAMD_BOOTSTRAP_TOKEN, or a generated one printed once on stderr.

With --tls-cert and --tls-key pamd serves HTTPS (TLS 1.2 or later). Each
token may send --rate-limit requests per second on average and --rate-burst
at once; more get 429 with Retry-After (0 disables the limit). With a
PostgreSQL --db the limit is counted in the database and shared by every
replica; with SQLite, in memory.`,
		Example: `  pamd serve --tls-cert /etc/pamd/tls.crt --tls-key /etc/pamd/tls.key
  pamd serve --rate-limit 0   # no per-token rate limit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(stderr, level, format)
			if err != nil {
				return err
			}
			if err := floatFromEnv(cmd, "rate-limit", "PAMD_RATE_LIMIT", &rateLimit); err != nil {
				return err
			}
			if err := intFromEnv(cmd, "rate-burst", "PAMD_RATE_BURST", &rateBurst); err != nil {
				return err
			}
			if err := boolFromEnv(cmd, "ssh-require-host-keys", "PAMD_SSH_REQUIRE_HOST_KEYS", &requireHostKeys); err != nil {
				return err
			}
			retry, conns, err := dbTuning(dbRetry, dbConns)
			if err != nil {
				return err
			}
			every, err := workerInterval(workerEvery)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			d, err := daemon.Start(ctx, daemon.Config{
				Listen: listen, DB: db, DBRetryFor: retry, DBMaxConns: conns, MasterKeyFile: keyFile,
				BootstrapToken: os.Getenv("PAMD_BOOTSTRAP_TOKEN"),
				BootstrapOut:   stderr, Logger: log, Version: version,
				SSHListen: sshListenAddr(sshListen), HostKeyFile: hostKey, SSHRequireHostKeys: requireHostKeys,
				TLSCertFile: tlsCert, TLSKeyFile: tlsKey, RateLimit: rateLimit, RateBurst: rateBurst,
				WorkerInterval: every,
			})
			if err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				log.Info("shutting down")
			case err := <-d.Done():
				log.Error("server stopped", "error", err)
			}
			return d.Close()
		},
	}
	cmd.Flags().StringVar(&listen, "listen", envOr("PAMD_LISTEN", daemon.DefaultListen), "host:port to listen on (env PAMD_LISTEN)")
	dbFlag(cmd, &db)
	cmd.Flags().StringVar(&dbRetry, "db-retry", envOr("PAMD_DB_RETRY", "30s"),
		"PostgreSQL: how long to keep retrying an unreachable server at start, with backoff; 0 tries once (env PAMD_DB_RETRY)")
	cmd.Flags().StringVar(&dbConns, "db-max-conns", envOr("PAMD_DB_MAX_CONNS", "10"),
		"PostgreSQL: connection pool size of this replica, plus one while it leads (env PAMD_DB_MAX_CONNS)")
	cmd.Flags().StringVar(&workerEvery, "worker-interval", envOr("PAMD_WORKER_INTERVAL", daemon.DefaultWorkerInterval.String()),
		"how often the background worker (expiry, timeouts, rotations) runs and, with PostgreSQL, how soon a replica takes the lead from a dead one (env PAMD_WORKER_INTERVAL)")
	cmd.Flags().StringVar(&keyFile, "master-key-file", "",
		"master key file, generated on first start (default $"+keys.EnvMasterKeyFile+", else <db>.key; required with PostgreSQL unless $"+keys.EnvMasterKey+" is set)")
	cmd.Flags().StringVar(&level, "log-level", envOr("PAMD_LOG_LEVEL", "info"), "debug, info, warn or error (env PAMD_LOG_LEVEL)")
	cmd.Flags().StringVar(&format, "log-format", envOr("PAMD_LOG_FORMAT", "text"), "text or json (env PAMD_LOG_FORMAT)")
	cmd.Flags().StringVar(&sshListen, "ssh-listen", os.Getenv("PAMD_SSH_LISTEN"),
		"start the privileged-session SSH gateway on host:port; a bare port or :port binds 127.0.0.1 (env PAMD_SSH_LISTEN)")
	cmd.Flags().StringVar(&hostKey, "ssh-host-key", os.Getenv("PAMD_SSH_HOST_KEY"),
		"SSH gateway host key file, generated on first start (default <db>.ssh_host_key; env PAMD_SSH_HOST_KEY)")
	cmd.Flags().BoolVar(&requireHostKeys, "ssh-require-host-keys", false,
		"SSH gateway: refuse vault accounts without host_keys, whose target cannot be authenticated; "+
			"without it they are reached with a warning in the log (env PAMD_SSH_REQUIRE_HOST_KEYS)")
	cmd.Flags().StringVar(&tlsCert, "tls-cert", os.Getenv("PAMD_TLS_CERT"),
		"PEM certificate (chain) file: serve HTTPS; needs --tls-key (env PAMD_TLS_CERT)")
	cmd.Flags().StringVar(&tlsKey, "tls-key", os.Getenv("PAMD_TLS_KEY"),
		"PEM private key file of --tls-cert (env PAMD_TLS_KEY)")
	cmd.Flags().Float64Var(&rateLimit, "rate-limit", daemon.DefaultRateLimit,
		"sustained requests per second per token (per client address without a valid token); 0 disables (env PAMD_RATE_LIMIT)")
	cmd.Flags().IntVar(&rateBurst, "rate-burst", daemon.DefaultRateBurst,
		"requests a token may send at once before --rate-limit applies (env PAMD_RATE_BURST)")
	return cmd
}

// floatFromEnv sets *p from env when the flag was not given on the command
// line: flags win over the environment.
func floatFromEnv(cmd *cobra.Command, flag, env string, p *float64) error {
	v := os.Getenv(env)
	if v == "" || cmd.Flags().Changed(flag) {
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%s=%q: want a number of requests per second, 0 or more", env, v)
	}
	*p = f
	return nil
}

func intFromEnv(cmd *cobra.Command, flag, env string, p *int) error {
	v := os.Getenv(env)
	if v == "" || cmd.Flags().Changed(flag) {
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return fmt.Errorf("%s=%q: want a whole number, 0 or more", env, v)
	}
	*p = n
	return nil
}

// boolFromEnv sets *p from env when the flag was not given on the command
// line: flags win over the environment.
func boolFromEnv(cmd *cobra.Command, flag, env string, p *bool) error {
	v := os.Getenv(env)
	if v == "" || cmd.Flags().Changed(flag) {
		return nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("%s=%q: want true or false", env, v)
	}
	*p = b
	return nil
}

// sshListenAddr binds loopback unless a host is named: "2222" and ":2222"
// mean 127.0.0.1:2222 (exposing the gateway is a deliberate act).
func sshListenAddr(v string) string {
	if v == "" {
		return ""
	}
	if !strings.Contains(v, ":") {
		return "127.0.0.1:" + v
	}
	if strings.HasPrefix(v, ":") {
		return "127.0.0.1" + v
	}
	return v
}

func newToken(stdout io.Writer) *cobra.Command {
	token := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	var db, subject string
	var groups, roles []string
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Issue a token and print it once",
		Long: `Issue a token directly in the database and print it once on stdout; only its
hash is stored. Server roles: ` + strings.Join(api.ServerRoles, ", ") + `.`,
		Example: `  pamd token create --subject service_account:terraform --role admin
  pamd token create --subject user:alice --group dba --role requester --ttl 8h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd.Context(), db)
			if err != nil {
				return err
			}
			tok, _, err := daemon.CreateToken(cmd.Context(), st, clock.Real{}, daemon.TokenRequest{
				Subject: subject, Groups: groups, ServerRoles: roles, TTL: ttl,
				IssuedBy: api.AuditActor{Type: "system", ID: "pamd-cli"},
			})
			if cerr := st.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(stdout, tok)
			return err
		},
	}
	dbFlag(create, &db)
	create.Flags().StringVar(&subject, "subject", "", "who the token acts as: user:NAME, group:NAME or service_account:NAME")
	create.Flags().StringArrayVar(&groups, "group", nil, "group membership (repeatable)")
	create.Flags().StringArrayVar(&roles, "role", nil, "server role (repeatable): "+strings.Join(api.ServerRoles, ", "))
	create.Flags().DurationVar(&ttl, "ttl", 0, "lifetime, e.g. 8h; 0 means no expiry")
	_ = create.MarkFlagRequired("subject")
	token.AddCommand(create, newTokenList(stdout), newTokenRevoke(stdout))
	return token
}

// errVerifyFailed makes the command exit non-zero after printing the report.
var errVerifyFailed = errors.New("audit chain verification failed")

func newAudit(stdout io.Writer) *cobra.Command {
	a := &cobra.Command{Use: "audit", Short: "Inspect the audit log"}
	var db string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit hash chain and report the first broken event",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := dbExists(db); err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer func() { _ = st.Close() }()
			res, err := daemon.VerifyAudit(cmd.Context(), st)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintln(stdout, res.String()); err != nil {
				return err
			}
			if !res.OK() {
				return errVerifyFailed
			}
			return nil
		},
	}
	dbFlag(verify, &db)
	a.AddCommand(verify)
	return a
}
