// Package gateway is pamd's privileged-session SSH gateway. Users connect
// with their pamd token (password or keyboard-interactive) as
// USER+ACCOUNT@gateway; the gateway checks the token's subject may use the
// vault account (checkout permission on its safe), applies the account's
// session policy (or DefaultPolicy), checks the target's SSH host key
// against the account's host_keys (pinning.go), logs in upstream with the
// vaulted password (the user never sees it), proxies exec and shell sessions through
// the policy's command filter, records the session as asciicast v2 sealed
// with the keyring, and keeps the session in the store, where
// POST /v1/sessions/{id}/terminate reaches it through TerminateSession.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/store"
)

// Defaults of Config.
const (
	DefaultTickInterval     = time.Second
	DefaultDialTimeout      = 10 * time.Second
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultRefuseGrace      = 10 * time.Second
	// touchEvery bounds how often last_activity_at is written to the store.
	touchEvery = 30 * time.Second
)

// SecretSource opens an account's current secret; *catalog.Vault is one.
type SecretSource interface {
	CurrentSecret(ctx context.Context, accountID string) ([]byte, int64, error)
}

// SessionStore persists sessions, their filter hits and their recordings.
type SessionStore interface {
	CreateSession(ctx context.Context, s api.Session) error
	// UpdateSession writes the session's state, last activity, end and
	// recording id.
	UpdateSession(ctx context.Context, s api.Session) error
	// TouchSession records the last activity alone.
	TouchSession(ctx context.Context, id string, at time.Time) error
	AppendFilterHit(ctx context.Context, sessionID string, hit api.CommandFilterHit) error
	// CreateRecording stores a recording's metadata in state recording: the
	// recorder is usable only if this succeeds.
	CreateRecording(ctx context.Context, r api.SessionRecording) error
	// PutRecording stores the sealed body and the final metadata.
	PutRecording(ctx context.Context, r api.SessionRecording, sealed string) error
}

// Config configures a Gateway.
type Config struct {
	// Listen is host:port ("127.0.0.1:0" picks a free port).
	Listen  string
	HostKey ssh.Signer
	Store   store.Store
	Keyring *keys.Keyring
	// Secrets opens vaulted passwords.
	Secrets SecretSource
	// Sessions persists sessions and recordings; nil means StoreSessions{Store}.
	Sessions SessionStore
	Clock    clock.Clock  // nil = clock.Real{}
	Logger   *slog.Logger // nil = discard
	// TickInterval is the watchdog period (duration and idle limits, activity
	// persistence); 0 = DefaultTickInterval, negative disables the loop and
	// leaves Tick to the caller (tests with a fake clock).
	TickInterval     time.Duration
	DialTimeout      time.Duration // 0 = DefaultDialTimeout
	HandshakeTimeout time.Duration // 0 = DefaultHandshakeTimeout
	// RefuseGrace is how long a refused connection stays open for the user to
	// read why (0 = DefaultRefuseGrace).
	RefuseGrace       time.Duration
	MaxRecordingBytes int // 0 = DefaultMaxRecordingBytes
	// RequireHostKeys refuses sessions to accounts without host_keys (their
	// target cannot be authenticated). Off, such sessions proceed with a
	// warning in the log, so that existing setups keep working.
	RequireHostKeys bool
}

// ErrNoSuchSession is returned by TerminateSession for a session that is not
// live on this gateway.
var ErrNoSuchSession = errors.New("gateway: no such live session")

// Gateway is a running SSH gateway.
type Gateway struct {
	cfg  Config
	ln   net.Listener
	base ssh.ServerConfig

	mu          sync.Mutex
	live        map[string]*liveSession
	byPrincipal map[string]int
	refusing    map[*ssh.ServerConn]struct{}
	closed      bool

	conns sync.WaitGroup
	stop  chan struct{}
	ticks sync.WaitGroup
}

// Start listens and serves in the background until Close.
func Start(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.HostKey == nil || cfg.Store == nil || cfg.Secrets == nil {
		return nil, errors.New("gateway: HostKey, Store and Secrets are required")
	}
	if cfg.Sessions == nil {
		cfg.Sessions = StoreSessions{Store: cfg.Store}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TickInterval == 0 {
		cfg.TickInterval = DefaultTickInterval
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.RefuseGrace == 0 {
		cfg.RefuseGrace = DefaultRefuseGrace
	}
	g := &Gateway{cfg: cfg, live: map[string]*liveSession{}, byPrincipal: map[string]int{},
		refusing: map[*ssh.ServerConn]struct{}{}, stop: make(chan struct{})}
	g.base = ssh.ServerConfig{ServerVersion: "SSH-2.0-pamd", MaxAuthTries: 3}
	g.base.AddHostKey(cfg.HostKey)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("ssh gateway: listen on %s: %w", cfg.Listen, err)
	}
	g.ln = ln
	g.conns.Add(1)
	go g.accept()
	if cfg.TickInterval > 0 {
		g.ticks.Add(1)
		go g.tickLoop()
	}
	cfg.Logger.Info("ssh gateway listening", "addr", ln.Addr().String())
	return g, nil
}

// Addr is the listening address.
func (g *Gateway) Addr() string { return g.ln.Addr().String() }

func (g *Gateway) accept() {
	defer g.conns.Done()
	for {
		nc, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.conns.Add(1)
		go func() {
			defer g.conns.Done()
			g.handleConn(nc)
		}()
	}
}

func (g *Gateway) tickLoop() {
	defer g.ticks.Done()
	t := time.NewTicker(g.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.Tick()
		}
	}
}

// Tick applies the time limits at the clock's now: sessions past their
// maximum duration end as expired, sessions without traffic for the idle
// timeout end as idle_timeout; it also persists last activity. It returns how
// many sessions it ended.
func (g *Gateway) Tick() int {
	now := g.cfg.Clock.Now()
	g.mu.Lock()
	ls := make([]*liveSession, 0, len(g.live))
	for _, l := range g.live {
		ls = append(ls, l)
	}
	g.mu.Unlock()
	n := 0
	for _, l := range ls {
		if l.check(now) {
			n++
		}
	}
	return n
}

// TerminateSession cuts a live session: the user is told why, the
// connection closes, the session ends as terminated_by_admin. It returns
// ErrNoSuchSession when the session is not live here.
func (g *Gateway) TerminateSession(ctx context.Context, id, reason string) error {
	g.mu.Lock()
	l := g.live[id]
	g.mu.Unlock()
	if l == nil {
		return ErrNoSuchSession
	}
	msg := "pamd: session terminated by an administrator"
	if reason != "" {
		msg += ": " + reason
	}
	l.end(api.SessionEndTerminatedByAdmin, msg)
	// Wait (briefly) for the end to be stored, so that the API answers with
	// the terminated session.
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-l.finished:
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// LiveSessions returns the ids of the sessions in progress.
func (g *Gateway) LiveSessions() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.live))
	for id := range g.live {
		out = append(out, id)
	}
	return out
}

// Close stops accepting, ends every live session (reason terminated_by_admin
// is not right for a shutdown: they end as client_closed with a message) and
// waits for their records to be written.
func (g *Gateway) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	ls := make([]*liveSession, 0, len(g.live))
	for _, l := range g.live {
		ls = append(ls, l)
	}
	for sc := range g.refusing {
		_ = sc.Close()
	}
	g.mu.Unlock()
	close(g.stop)
	err := g.ln.Close()
	for _, l := range ls {
		l.end(api.SessionEndClientClosed, "pamd: the gateway is shutting down")
	}
	g.ticks.Wait()
	g.conns.Wait()
	return err
}

// reserve counts a session against its principal's concurrency limit.
func (g *Gateway) reserve(l *liveSession) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	sub := l.grant.Principal.Subject
	if limit := l.grant.Policy.MaxConcurrent; limit > 0 && g.byPrincipal[sub] >= limit {
		return false
	}
	g.byPrincipal[sub]++
	g.live[l.id] = l
	return true
}

func (g *Gateway) release(l *liveSession) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.live[l.id]; !ok {
		return
	}
	delete(g.live, l.id)
	sub := l.grant.Principal.Subject
	if g.byPrincipal[sub]--; g.byPrincipal[sub] <= 0 {
		delete(g.byPrincipal, sub)
	}
}
