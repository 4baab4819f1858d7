// Package daemon wires pamd together: it opens the store, installs the
// bootstrap token, builds the HTTP server and owns the listener. Tests and the
// pamd CLI start the whole server through Start.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/gateway"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/provision"
	"github.com/accessplane/terraform-provider-pam/internal/ratelimit"
	"github.com/accessplane/terraform-provider-pam/internal/rotation/connector"
	"github.com/accessplane/terraform-provider-pam/internal/server"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/engine"
	"github.com/accessplane/terraform-provider-pam/internal/store/idemstore"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

// Defaults of Config.
const (
	DefaultListen = "127.0.0.1:8443"
	DefaultDBPath = "pamd.db"
	// BootstrapSubject owns the bootstrap admin token.
	BootstrapSubject = "service_account:bootstrap"
	shutdownTimeout  = 10 * time.Second
)

// Config configures a Daemon.
type Config struct {
	// Listen is host:port; "127.0.0.1:0" picks a free port. Default DefaultListen
	// (loopback: exposing pamd is a deliberate act).
	Listen string
	// DB is the database: a SQLite file path, or a postgres:// (or
	// postgresql://) URL of a PostgreSQL database shared by several
	// replicas. Migrations are applied on start. "" means DBPath.
	DB string
	// DBPath is the SQLite file, created with migrations on first start
	// (DefaultDBPath when DB and DBPath are both empty). Kept for callers
	// that predate DB.
	DBPath string
	// DBRetryFor bounds how long Start waits for an unreachable PostgreSQL
	// server, retrying with backoff (0 = 30s; negative = try once).
	DBRetryFor time.Duration
	// DBMaxConns caps this replica's PostgreSQL connection pool (0 = 10).
	DBMaxConns int
	// MasterKeyFile is the master key file; "" means $PAMD_MASTER_KEY_FILE,
	// else DBPath + ".key" for SQLite. Generated (mode 0600) on first start.
	// With PostgreSQL there is no default: every replica must be given the
	// same key (this file or $PAMD_MASTER_KEY), or Start fails.
	MasterKeyFile string
	// Keyring protects secrets at rest (MFA secrets); nil loads it with
	// keys.LoadOrCreate from MasterKeyFile (PAMD_MASTER_KEY wins when set).
	Keyring *keys.Keyring
	// BootstrapToken is the admin token installed on a fresh store; if empty a
	// random one is generated and printed once to BootstrapOut.
	BootstrapToken string
	// BootstrapOut receives a generated bootstrap token (nil = os.Stderr).
	BootstrapOut io.Writer
	Logger       *slog.Logger // nil = discard
	Clock        clock.Clock  // nil = clock.Real{}
	Version      string
	// WorkerInterval is how often the background worker applies time-driven
	// elevation transitions (expiry, approval timeouts, scheduled starts).
	// 0 means DefaultWorkerInterval; negative disables the loop, leaving
	// RunWorkerOnce to the caller (tests with a fake clock).
	WorkerInterval time.Duration
	// WorkerBatch is how many due elevations one worker transaction claims
	// (0 = catalog.DefaultWorkerBatch).
	WorkerBatch int
	// Provisioner makes elevations take effect outside pamd; nil means
	// catalog.WebhookProvisioner (roles without webhooks grant at once).
	Provisioner catalog.Provisioner
	// ProvisionPolicy is the webhook retry policy; nil means
	// provision.DefaultPolicy(). Tests set small backoffs and no jitter.
	ProvisionPolicy *provision.Policy
	// WebhookClient sends webhook deliveries; nil means
	// provision.NewHTTPClient(provision.DefaultTimeout).
	WebhookClient *http.Client
	// Rotator is asked to rotate vault secrets when a checkout with
	// rotate_on_checkin ends; nil means vault.NoopRotator.
	Rotator vault.Rotator
	// Connectors are the rotation engine's connectors by platform; nil means
	// connector.DefaultConnectors() (generic, postgresql).
	Connectors connector.Connectors
	// Terminator cuts live sessions on POST /v1/sessions/{id}/terminate; nil
	// means none until the SSH gateway installs itself with
	// Sessions().SetTerminator (catalog.NoopTerminator ends them in the store).
	Terminator catalog.Terminator
	// SSHListen, when set, starts the privileged-session SSH gateway on that
	// host:port ("127.0.0.1:0" picks a free port); it then terminates live
	// sessions for the API (overriding Terminator).
	SSHListen string
	// HostKeyFile is the gateway's SSH host key; "" means DBPath +
	// ".ssh_host_key" (SQLite only: with PostgreSQL it must be set, and be
	// the same file on every replica). Generated (ed25519, mode 0600) on
	// first start.
	HostKeyFile string
	// SSHRequireHostKeys makes the gateway refuse vault accounts without
	// host_keys (gateway.Config.RequireHostKeys); off, it logs in to them
	// with a warning.
	SSHRequireHostKeys bool
	// TLSCertFile and TLSKeyFile, when both set, make pamd serve HTTPS (TLS
	// 1.2 or later) with that PEM certificate chain and private key; URL
	// then starts with https://. Setting only one is an error.
	TLSCertFile string
	TLSKeyFile  string
	// RateLimit is the sustained requests per second allowed per token (per
	// client address for unauthenticated requests); 0 disables limiting
	// (the zero Config, as in tests). `pamd serve` defaults to
	// DefaultRateLimit. Excess requests get 429 with Retry-After.
	RateLimit float64
	// RateBurst is how many requests a token may send at once; 0 means
	// DefaultRateBurst when RateLimit is set.
	RateBurst int
}

// Defaults of `pamd serve` for Config.RateLimit and RateBurst; README
// ("Rate limits") explains the figures.
const (
	DefaultRateLimit = 500
	DefaultRateBurst = 1000
)

// DefaultWorkerInterval is the worker's default period.
const DefaultWorkerInterval = 5 * time.Second

// Daemon is a running pamd.
type Daemon struct {
	cfg    Config
	store  store.Store
	http   *http.Server
	ln     net.Listener
	url    string
	done   chan error
	pim    *catalog.Service
	hooks  *provision.Worker
	vault  *catalog.Vault
	rot    *catalog.Rotation
	sess   *catalog.Sessions
	gw     *gateway.Gateway
	stop   context.CancelFunc
	worker chan struct{}
	// tls is nil for plain HTTP.
	tls *tls.Config
	// limiter rations requests per token (nil = no limit); authFailures,
	// audited credential refusals per address (nil = server's default).
	limiter      ratelimit.Limiter
	authFailures ratelimit.Limiter
	// elect is the store's leader election (PostgreSQL); nil means this
	// replica always leads (SQLite: one process per database).
	elect  elector
	leader atomic.Bool
}

// elector is implemented by stores that several replicas share.
type elector interface {
	// Campaign takes or confirms the lead; true while this replica has it.
	Campaign(ctx context.Context) (bool, error)
	// Resign gives the lead up so that another replica takes it at once.
	Resign()
}

// rateConfig checks cfg's per-token rate limit; nil when it is disabled.
func rateConfig(cfg Config) (*ratelimit.Config, error) {
	if cfg.RateLimit < 0 || cfg.RateBurst < 0 {
		return nil, errors.New("rate limit and burst must not be negative (0 disables the limit)")
	}
	if cfg.RateLimit == 0 {
		return nil, nil //nolint:nilnil // no limit is the disabled state
	}
	burst := cfg.RateBurst
	if burst == 0 {
		burst = DefaultRateBurst
	}
	rc, err := ratelimit.Normalize(ratelimit.Config{Rate: cfg.RateLimit, Burst: burst, Now: cfg.Clock.Now})
	if err != nil {
		return nil, err
	}
	return &rc, nil
}

// sharedLimiters is implemented by stores that several replicas share
// (PostgreSQL): their limiters count every replica's requests.
type sharedLimiters interface {
	Limiter(name string, cfg ratelimit.Config) (ratelimit.Limiter, error)
	PurgeRateLimits(ctx context.Context, now time.Time) (int64, error)
}

// Names of the shared limiters (rate_limits.limiter).
const (
	limiterRequests     = "requests"
	limiterAuthFailures = "auth_failures"
)

// newLimiters builds the per-token limiter (nil when rc is) and the budget
// of audited credential refusals. On a store that replicas share both live
// in the database, so that N replicas allow one limit rather than N, and
// fail open (ratelimit.FailOpen); with SQLite (one process) the per-token
// limiter is in memory and the refusal budget is left to server.New's
// in-memory default.
func newLimiters(cfg Config, st store.Store, rc *ratelimit.Config) (requests, authFailures ratelimit.Limiter, err error) {
	shared, ok := st.(sharedLimiters)
	if !ok {
		if rc == nil {
			return nil, nil, nil
		}
		m, err := ratelimit.NewMemory(*rc)
		return m, nil, err
	}
	failOpen := func(name string, c ratelimit.Config) (ratelimit.Limiter, error) {
		l, err := shared.Limiter(name, c)
		if err != nil {
			return nil, err
		}
		return &ratelimit.FailOpen{Limiter: l, Logger: cfg.Logger.With("limiter", name), Now: cfg.Clock.Now}, nil
	}
	if rc != nil {
		if requests, err = failOpen(limiterRequests, *rc); err != nil {
			return nil, nil, err
		}
	}
	authFailures, err = failOpen(limiterAuthFailures, ratelimit.Config{
		Rate: server.DefaultAuthFailureRate, Burst: server.DefaultAuthFailureBurst, Now: cfg.Clock.Now})
	return requests, authFailures, err
}

// Start opens the store, installs the bootstrap token on a fresh store and
// starts serving; it returns once the listener is bound. ctx bounds startup
// only: stop the daemon with Close.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.DB == "" {
		cfg.DB = cfg.DBPath
	}
	if cfg.DB == "" {
		cfg.DB = DefaultDBPath
	}
	if !engine.IsPostgres(cfg.DB) {
		cfg.DBPath = cfg.DB
	} else if cfg.SSHListen != "" && cfg.HostKeyFile == "" {
		return nil, errors.New("ssh gateway: with a PostgreSQL database, set the SSH host key file shared by every replica " +
			"(--ssh-host-key, env PAMD_SSH_HOST_KEY), so that clients see one host key whichever replica answers")
	}
	if cfg.BootstrapOut == nil {
		cfg.BootstrapOut = os.Stderr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Provisioner == nil {
		cfg.Provisioner = catalog.WebhookProvisioner{Clock: cfg.Clock}
	}
	if cfg.BootstrapToken != "" && !auth.Plausible(cfg.BootstrapToken) {
		return nil, fmt.Errorf("bootstrap token must be %d-512 printable characters without spaces", auth.MinTokenLength)
	}

	// TLS and rate limits are checked before the store is touched, so a
	// typo in a flag leaves no half-started server behind.
	tlsCfg, err := loadTLS(cfg)
	if err != nil {
		return nil, err
	}
	rc, err := rateConfig(cfg)
	if err != nil {
		return nil, err
	}

	if cfg.Keyring == nil {
		kr, err := loadKeyring(cfg)
		if err != nil {
			return nil, err
		}
		cfg.Keyring = kr
	}

	st, err := engine.Open(ctx, cfg.DB, engine.Options{RetryFor: cfg.DBRetryFor, MaxConns: cfg.DBMaxConns, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	limiter, authFailures, err := newLimiters(cfg, st, rc)
	if err != nil {
		return nil, errors.Join(err, st.Close())
	}
	d := &Daemon{cfg: cfg, store: st, done: make(chan error, 1), tls: tlsCfg, limiter: limiter, authFailures: authFailures}
	if e, ok := st.(elector); ok {
		d.elect = e
	} else {
		d.leader.Store(true)
	}
	if err := d.start(ctx); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	return d, nil
}

func (d *Daemon) start(ctx context.Context) error {
	if err := d.bootstrap(ctx); err != nil {
		return err
	}
	if err := d.releaseAbandonedIdempotency(ctx); err != nil {
		return err
	}
	key, err := pageTokenKey(ctx, d.store)
	if err != nil {
		return err
	}
	// The services that serve requests write through idemstore, so that an
	// idempotent request's mutation marks its key applied in its own
	// transaction (a no-op for workers: their contexts hold no reservation).
	served := idemstore.Wrap(d.store)
	d.rot = catalog.NewRotation(&catalog.Service{Store: served, Clock: d.cfg.Clock}, d.cfg.Keyring, d.cfg.Connectors, d.cfg.Logger)
	if d.cfg.Rotator == nil {
		d.cfg.Rotator = d.rot
	}
	d.sess = &catalog.Sessions{Store: served, Clock: d.cfg.Clock, Keyring: d.cfg.Keyring, Logger: d.cfg.Logger}
	d.sess.SetTerminator(d.cfg.Terminator)
	if err := d.sweepSessionsAtStart(ctx); err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Store: served, Clock: d.cfg.Clock, Logger: d.cfg.Logger, Version: d.cfg.Version, PageTokenKey: key,
		Provisioner: d.cfg.Provisioner, Keyring: d.cfg.Keyring, Rotator: d.cfg.Rotator, Rotation: d.rot, Sessions: d.sess,
		RateLimiter: d.limiter, AuthFailureLimiter: d.authFailures, Instance: store.InstanceOf(d.store),
	})
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", d.cfg.Listen, err)
	}
	d.ln = ln
	d.url = "http://" + ln.Addr().String()
	if d.tls != nil {
		d.url = "https://" + ln.Addr().String()
	}
	d.http = &http.Server{
		TLSConfig:         d.tls,
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		var err error
		if d.tls != nil {
			// The certificate is in TLSConfig; ServeTLS also offers HTTP/2.
			err = d.http.ServeTLS(ln, "", "")
		} else {
			err = d.http.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		d.done <- err
	}()
	d.pim = &catalog.Service{Store: d.store, Clock: d.cfg.Clock, Provisioner: d.cfg.Provisioner, Keyring: d.cfg.Keyring}
	policy := provision.DefaultPolicy()
	if d.cfg.ProvisionPolicy != nil {
		policy = *d.cfg.ProvisionPolicy
	}
	d.hooks = &provision.Worker{Outbox: d.pim.Outbox(0), Sender: provision.NewDeliverer(d.cfg.WebhookClient, d.cfg.Clock),
		Policy: policy, Clock: d.cfg.Clock, Logger: d.cfg.Logger}
	d.vault = &catalog.Vault{Store: d.store, Clock: d.cfg.Clock, Keyring: d.cfg.Keyring, Rotator: d.cfg.Rotator, Logger: d.cfg.Logger}
	if err := d.startGateway(ctx); err != nil {
		_ = d.http.Close()
		return err
	}
	d.startWorker()
	d.cfg.Logger.Info("pamd listening", "url", d.url, "db", engine.Describe(d.cfg.DB), "version", d.cfg.Version)
	return nil
}

func (d *Daemon) startWorker() {
	interval := d.cfg.WorkerInterval
	if interval == 0 {
		interval = DefaultWorkerInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel
	d.worker = make(chan struct{})
	if interval < 0 {
		close(d.worker)
		return
	}
	go func() {
		defer close(d.worker)
		t := time.NewTicker(interval)
		defer t.Stop()
		d.Campaign(ctx) // lead from the start if no one else does
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// Only the leader runs the background work. Claims stay
				// transactional, so even two leaders at once (a lost
				// connection not yet noticed) would not run a job twice.
				if !d.Campaign(ctx) {
					continue
				}
				if _, err := d.RunWorkerOnce(ctx); err != nil && ctx.Err() == nil {
					d.cfg.Logger.Error("elevation worker pass failed", "error", err.Error())
				}
				d.purgeRateLimits(ctx)
			}
		}
	}()
}

// purgeRateLimits deletes the shared limiters' rows that are full buckets
// again (the same as no row): the table keeps only keys active in the last
// Burst/Rate seconds. Run by the leader after each worker pass; a failure is
// only logged, as the next pass retries.
func (d *Daemon) purgeRateLimits(ctx context.Context) {
	shared, ok := d.store.(sharedLimiters)
	if !ok {
		return
	}
	if n, err := shared.PurgeRateLimits(ctx, d.cfg.Clock.Now()); err != nil && ctx.Err() == nil {
		d.cfg.Logger.Warn("rate limits: purge of idle keys failed", "error", err.Error())
	} else if n > 0 {
		d.cfg.Logger.Debug("rate limits: idle keys purged", "rows", n)
	}
}

// Campaign takes or confirms the lead of the background worker and reports
// whether this replica has it. With SQLite it always has. With PostgreSQL
// the lead is a session advisory lock: when the leader dies or loses its
// connection, another replica takes over at its next worker tick. The loop
// calls it every WorkerInterval; tests with WorkerInterval < 0 call it
// themselves.
func (d *Daemon) Campaign(ctx context.Context) bool {
	if d.elect == nil {
		return true
	}
	lead, err := d.elect.Campaign(ctx)
	if err != nil && ctx.Err() == nil {
		d.cfg.Logger.Warn("leader election: cannot reach the database", "error", err.Error())
	}
	if was := d.leader.Swap(lead); was != lead {
		if lead {
			d.cfg.Logger.Info("leader election: this replica now runs the background worker", "url", d.url)
		} else {
			d.cfg.Logger.Warn("leader election: this replica lost the lead; another replica runs the background worker", "url", d.url)
		}
	}
	return lead
}

// IsLeader reports whether this replica ran the background worker at its
// last Campaign (always true with SQLite).
func (d *Daemon) IsLeader() bool { return d.leader.Load() }

// RunWorkerOnce runs one pass of the background worker now, at the
// configured clock's time: every elevation whose next deadline has passed is
// moved on (expired, approval timed out, scheduled start activated), with its
// audit events; then every provisioning webhook delivery due is attempted
// once (and its outcome applied to the elevation). It returns how many
// elevations changed plus how many deliveries were attempted. Tests pair it
// with a clock.Fake and WorkerInterval < 0 for deterministic runs. Sessions
// left by dead pamd processes are ended first (SweepSessions, counted too).
func (d *Daemon) RunWorkerOnce(ctx context.Context) (int, error) {
	if err := d.purgeExpiredStepUpTokens(ctx); err != nil {
		return 0, err
	}
	swept := d.sweepSessions(ctx)
	n, err := d.pim.RunDue(ctx, d.cfg.WorkerBatch)
	n += swept
	if err != nil {
		return n, err
	}
	// Vault: checkouts past their expiry are checked in automatically.
	m, err := d.vault.RunDue(ctx, d.cfg.WorkerBatch)
	n += m
	if err != nil {
		return n, err
	}
	// Rotation: queue due rotations and verifications, run due operations.
	m, err = d.rot.RunDue(ctx)
	n += m
	if err != nil {
		return n, err
	}
	res, err := d.hooks.RunOnce(ctx, d.cfg.Clock.Now())
	return n + res.Delivered + res.Retried + res.Failed, err
}

// purgeExpiredStepUpTokens deletes the step-up tokens that have expired:
// one is minted at every MFA step-up, so without this the token table would
// grow with every elevation that needed MFA. Housekeeping, not audited: the
// step-up and its expiry time were audited when it was minted, and an
// expired token authenticates nothing.
func (d *Daemon) purgeExpiredStepUpTokens(ctx context.Context) error {
	var n int64
	err := d.store.Update(ctx, func(tx store.Tx) (err error) {
		n, err = tx.PurgeExpiredStepUpTokens(d.cfg.Clock.Now())
		return err
	})
	if err != nil {
		return fmt.Errorf("purge expired step-up tokens: %w", err)
	}
	if n > 0 {
		d.cfg.Logger.Debug("expired step-up tokens purged", "tokens", n)
	}
	return nil
}

// sweepSessions ends the sessions whose pamd process is gone
// (catalog.Sessions.SweepSessions): on PostgreSQL the leader thereby ends a
// dead replica's sessions. A failure is only logged: it must not hold up
// elevation expiry and the rest of the pass, and the next pass retries.
func (d *Daemon) sweepSessions(ctx context.Context) int {
	n, err := d.sess.SweepSessions(ctx, store.InstanceOf(d.store))
	if err != nil && ctx.Err() == nil {
		d.cfg.Logger.Error("sessions: sweep of sessions left by a dead pamd failed; the next worker pass retries", "error", err.Error())
	}
	return n
}

// sweepSessionsAtStart ends, before anything is served, the sessions a
// previous pamd left when it died: with SQLite one process owns the file, so
// every session not yet terminated is such a leftover (those written before
// sessions had owners included), and GET /v1/sessions must not list them as
// live. With replicas (PostgreSQL) the leader's worker sweeps instead, as
// only it should; a failure here fails the start like any store error.
func (d *Daemon) sweepSessionsAtStart(ctx context.Context) error {
	if d.elect != nil {
		return nil
	}
	if _, err := d.sess.SweepSessions(ctx, store.InstanceOf(d.store)); err != nil {
		return fmt.Errorf("end the sessions of a previous pamd: %w", err)
	}
	return nil
}

// releaseAbandonedIdempotency frees the Idempotency-Key reservations that a
// previous pamd left when it died between reserving a key and committing
// the write: nothing was written, and without this the client's retries
// would be refused as "in progress" until the reservation lapsed. Only a
// store that one process owns (SQLite) can tell that every such reservation
// is abandoned. The idempotency middleware would take each over on its first
// retry anyway (its owner, a previous instance, is not alive); this only
// tidies up at start. With replicas a live one may hold a reservation: the
// middleware asks the store's Instance whether its owner is alive. Reservations
// whose write committed are marked applied in the same transaction and stay,
// to be answered from the object.
func (d *Daemon) releaseAbandonedIdempotency(ctx context.Context) error {
	if d.elect != nil {
		return nil
	}
	var n int64
	err := d.store.Update(ctx, func(tx store.Tx) (err error) { n, err = tx.ReleaseAbandonedIdempotency(); return err })
	if err != nil {
		return fmt.Errorf("release abandoned idempotency reservations: %w", err)
	}
	if n > 0 {
		d.cfg.Logger.Info("released idempotency reservations abandoned by a previous pamd", "count", n)
	}
	return nil
}

// bootstrap installs the first admin token on a store that has none.
func (d *Daemon) bootstrap(ctx context.Context) error {
	var n int
	if err := d.store.View(ctx, func(tx store.Tx) (err error) { n, err = tx.CountTokens(); return err }); err != nil {
		return err
	}
	if n > 0 {
		if d.cfg.BootstrapToken != "" {
			var known bool
			err := d.store.View(ctx, func(tx store.Tx) error {
				_, err := tx.TokenByHash(auth.HashToken(d.cfg.BootstrapToken))
				known = err == nil
				if errors.Is(err, store.ErrNotFound) {
					return nil
				}
				return err
			})
			if err != nil {
				return err
			}
			if !known {
				d.cfg.Logger.Warn("bootstrap token ignored: the store already has tokens; use `pamd token create`")
			}
		}
		return nil
	}
	tok, rec, err := CreateToken(ctx, d.store, d.cfg.Clock, TokenRequest{
		Subject: BootstrapSubject, ServerRoles: []string{api.ServerRoleAdmin}, Token: d.cfg.BootstrapToken,
		IssuedBy: api.AuditActor{Type: "system", ID: "pamd"},
	})
	if err != nil {
		return fmt.Errorf("install bootstrap token: %w", err)
	}
	d.cfg.Logger.Info("bootstrap admin token installed", "token_id", rec.ID, "subject", rec.Subject)
	if d.cfg.BootstrapToken == "" {
		// Printed once: only its hash is stored.
		if _, err := fmt.Fprintf(d.cfg.BootstrapOut, "pamd bootstrap admin token (shown once, store it now): %s\n", tok); err != nil {
			return fmt.Errorf("print bootstrap token: %w", err)
		}
	}
	return nil
}

// URL is the base URL of the server, "http://127.0.0.1:PORT" ("https://"
// with TLS).
func (d *Daemon) URL() string { return d.url }

// Store exposes the store, for tests that inspect what the API wrote.
func (d *Daemon) Store() store.Store { return d.store }

// startGateway starts the SSH gateway when SSHListen is set. With a negative
// WorkerInterval (tests with a fake clock) its watchdog is left to
// Gateway().Tick too.
func (d *Daemon) startGateway(ctx context.Context) error {
	if d.cfg.SSHListen == "" {
		return nil
	}
	path := d.cfg.HostKeyFile
	if path == "" {
		path = d.cfg.DBPath + ".ssh_host_key"
	}
	hk, err := gateway.LoadOrCreateHostKey(path)
	if err != nil {
		return err
	}
	tick := time.Duration(0)
	if d.cfg.WorkerInterval < 0 {
		tick = -1
	}
	gw, err := gateway.Start(ctx, gateway.Config{Listen: d.cfg.SSHListen, HostKey: hk, Store: d.store, Keyring: d.cfg.Keyring,
		Secrets: d.vault, Sessions: gateway.StoreSessions{Store: d.store}, Clock: d.cfg.Clock, Logger: d.cfg.Logger, TickInterval: tick,
		RequireHostKeys: d.cfg.SSHRequireHostKeys})
	if err != nil {
		return err
	}
	d.gw = gw
	d.sess.SetTerminator(gw)
	return nil
}

// SSHAddr is the SSH gateway's address ("" when it is not running).
func (d *Daemon) SSHAddr() string {
	if d.gw == nil {
		return ""
	}
	return d.gw.Addr()
}

// Gateway is the running SSH gateway (nil without SSHListen).
func (d *Daemon) Gateway() *gateway.Gateway { return d.gw }

// Sessions is the session service the API serves: the SSH gateway's
// session store (gateway.SessionStore) and the place it installs itself as
// the Terminator.
func (d *Daemon) Sessions() *catalog.Sessions { return d.sess }

// Done reports the serve loop's end (nil after a clean Close).
func (d *Daemon) Done() <-chan error { return d.done }

// IssueToken creates a non-expiring token for subject; used by tests.
func (d *Daemon) IssueToken(ctx context.Context, subject string, groups, serverRoles []string) (string, error) {
	tok, _, err := CreateToken(ctx, d.store, d.cfg.Clock, TokenRequest{
		Subject: subject, Groups: groups, ServerRoles: serverRoles, IssuedBy: api.AuditActor{Type: "system", ID: "pamd"},
	})
	return tok, err
}

// Close stops accepting requests, waits up to 10s for those in flight, and
// closes the store.
func (d *Daemon) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if d.stop != nil {
		d.stop()
		<-d.worker
	}
	if d.elect != nil { // hand the lead over now rather than at a timeout
		d.elect.Resign()
		d.leader.Store(false)
	}
	var gwErr error
	if d.gw != nil { // live sessions end (and are stored) before the store closes
		gwErr = d.gw.Close()
	}
	err := d.http.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, d.http.Close())
	}
	return errors.Join(gwErr, err, d.store.Close())
}
