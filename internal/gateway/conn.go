package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/pim"
	"github.com/accessplane/terraform-provider-pam/internal/session"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

// handleConn runs one client connection from handshake to the end of its
// session.
func (g *Gateway) handleConn(nc net.Conn) {
	ctx := context.Background()
	clientIP, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	var grant *Grant
	cfg := g.base // per-connection callbacks capture grant
	var decide func(c ssh.ConnMetadata, gr *Grant, err error) (*ssh.Permissions, error)
	check := func(c ssh.ConnMetadata, token string) (*ssh.Permissions, error) {
		gr, err := g.authorize(ctx, c.User(), token, clientIP)
		return decide(c, gr, err)
	}
	decide = func(c ssh.ConnMetadata, gr *Grant, err error) (*ssh.Permissions, error) {
		if err == nil && gr != nil {
			grant = gr
			return &ssh.Permissions{}, nil
		}
		var d *denial
		if !errors.As(err, &d) {
			g.cfg.Logger.Error("ssh gateway: authorisation failed", "user", c.User(), "error", err.Error())
			d = &denial{reason: "internal_error", msg: "pamd: internal error while checking access; see the pamd log"}
		}
		actor := api.AuditActor{Type: "ssh_user", ID: c.User()}
		if gr != nil {
			actor = actorOf(gr.Principal)
		}
		_, ref, _ := ParseUser(c.User())
		g.auditDenied(ctx, "session.denied", actor, "", "vault_account", ref, d.reason, d.msg)
		return nil, &ssh.BannerError{Err: err, Message: d.msg + "\r\n"}
	}
	cfg.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) { return check(c, string(pw)) }
	cfg.PublicKeyCallback = func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		gr, err := g.authorizeKey(ctx, c.User(), clientIP, key)
		return decide(c, gr, err)
	}
	cfg.KeyboardInteractiveCallback = func(c ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
		answers, err := client(c.User(), "pamd gateway", []string{"pamd token: "}, []bool{false})
		if err != nil {
			return nil, err
		}
		if len(answers) != 1 {
			return nil, errors.New("pamd: expected one answer")
		}
		perms, err := check(c, answers[0])
		if err != nil || grant == nil || !grant.Policy.Snapshot.RequireJustification {
			return perms, err
		}
		gr := grant
		grant = nil
		answers, err = client(c.User(), "", []string{"Justification: "}, []bool{true})
		if err != nil {
			return nil, err
		}
		j := ""
		if len(answers) == 1 {
			j = answers[0]
		}
		j, ok := checkJustification(j)
		if !ok {
			msg := justificationHelp(&gr.Policy)
			g.auditDenied(ctx, "session.denied", actorOf(gr.Principal), "", "vault_account", gr.Account.ID, "justification_required", msg)
			return nil, &ssh.BannerError{Err: errors.New("justification required"), Message: msg + "\r\n"}
		}
		gr.Justification = j
		grant = gr
		return perms, nil
	}
	_ = nc.SetDeadline(time.Now().Add(g.cfg.HandshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(nc, &cfg)
	if err != nil {
		_ = nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	if grant == nil { // cannot happen: every auth path sets it
		_ = sc.Close()
		return
	}
	l := &liveSession{g: g, grant: grant, conn: sc, chans: map[ssh.Channel]struct{}{}, finished: make(chan struct{})}
	l.run(ctx, chans, reqs)
}

// refuse keeps an authenticated connection open just long enough to tell the
// user why it is refused: every session channel gets msg on stderr and exit
// status 1. The connection closes when the client leaves or after
// RefuseGrace.
func (g *Gateway) refuse(sc *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request, msg string) {
	go ssh.DiscardRequests(reqs)
	t := time.AfterFunc(g.cfg.RefuseGrace, func() { _ = sc.Close() })
	defer t.Stop()
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		_ = sc.Close()
	} else {
		g.refusing[sc] = struct{}{}
		g.mu.Unlock()
	}
	defer func() {
		g.mu.Lock()
		delete(g.refusing, sc)
		g.mu.Unlock()
	}()
	line := []byte(msg + "\r\n")
	var wg sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.Prohibited, msg)
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range creqs {
				switch req.Type {
				case "shell", "exec", "subsystem":
					_ = req.Reply(true, nil)
					_, _ = ch.Stderr().Write(line)
					sendExit(ch, 1)
					_ = ch.Close()
				default:
					if req.WantReply {
						_ = req.Reply(req.Type == "pty-req" || req.Type == "env", nil)
					}
				}
			}
		}()
	}
	_ = sc.Close()
	wg.Wait()
}

func sendExit(ch ssh.Channel, code uint32) {
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
	_ = ch.CloseWrite()
}

// liveSession is one authenticated connection brokered to its target.
type liveSession struct {
	g        *Gateway
	grant    *Grant
	conn     *ssh.ServerConn
	upstream *ssh.Client
	id       string
	rec      *Recorder
	recMeta  api.SessionRecording
	sess     api.Session
	started  time.Time

	mu           sync.Mutex
	chans        map[ssh.Channel]struct{}
	lastActivity time.Time
	lastTouched  time.Time
	hits         int

	once     sync.Once
	finished chan struct{} // closed once the end is stored
	reason   string
	endedBy  *api.Actor
	chWG     sync.WaitGroup
}

func (l *liveSession) actor() api.AuditActor { return actorOf(l.grant.Principal) }

// run is the life of a session: reserve, record, dial, proxy, finish.
func (l *liveSession) run(ctx context.Context, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	g, gr := l.g, l.grant
	now := g.timeNow()
	l.id, l.started, l.lastActivity, l.lastTouched = ids.New(api.PrefixSession, now), g.cfg.Clock.Now(), g.cfg.Clock.Now(), g.cfg.Clock.Now()
	pol := &gr.Policy

	var first *preChannel
	if pol.Snapshot.RequireJustification && gr.Justification == "" {
		// Password authentication: the justification comes in an env
		// request of the first session channel, before shell or exec.
		pc, ok := l.awaitJustification(chans)
		if !ok {
			msg := justificationHelp(pol)
			if pc != nil {
				time.AfterFunc(closeGrace, func() { _ = l.conn.Close() })
				go ssh.DiscardRequests(reqs)
				for nch := range chans {
					_ = nch.Reject(ssh.Prohibited, msg)
				}
			}
			_ = l.conn.Close()
			return
		}
		first = pc
	}

	overLimit := func() {
		msg := fmt.Sprintf("pamd: %s already has %d session(s), the most policy %s allows; close one first",
			gr.Principal.Subject, pol.MaxConcurrent, policyName(pol))
		g.auditDenied(ctx, "session.denied", l.actor(), "", "vault_account", gr.Account.ID, "concurrent_limit", msg)
		first.fail(msg)
		g.refuse(l.conn, chans, reqs, msg)
	}
	// This process's count first; the store's, over every replica, when
	// the session is stored (catalog.ErrSessionLimit).
	if !g.reserve(l) {
		overLimit()
		return
	}
	defer g.release(l)

	a := gr.Principal.Actor()
	l.sess = api.Session{
		ID: l.id, State: api.SessionPending, VaultAccountID: gr.Account.ID, Principal: a, CheckoutID: gr.CheckoutID,
		ElevationID: gr.ElevationID, Justification: gr.Justification,
		SessionPolicyID: pol.ID, PolicySnapshot: pol.Snapshot, PolicyVersion: pol.Version, Protocol: api.SessionProtocolSSH,
		ClientIP: gr.ClientIP, StartedAt: now, LastActivityAt: &now, CommandFilterHits: []api.CommandFilterHit{}, UpdatedAt: now,
	}
	if pol.MaxDuration > 0 {
		l.sess.ExpiresAt = now.Add(pol.MaxDuration)
	}
	if err := g.cfg.Sessions.CreateSession(ctx, l.sess); errors.Is(err, catalog.ErrSessionLimit) {
		g.release(l) // now: refuse holds the connection until the client leaves
		overLimit()
		return
	} else if err != nil {
		g.cfg.Logger.Error("ssh gateway: cannot store session", "error", err.Error())
		msg := "pamd: the session cannot be stored; try again later"
		g.auditDenied(ctx, "session.denied", l.actor(), l.id, "vault_account", gr.Account.ID, "store_error", msg)
		first.fail(msg)
		g.refuse(l.conn, chans, reqs, msg)
		return
	}
	fail := func(reason, action, msg string, facts ...api.AuditChange) {
		g.auditDenied(ctx, action, l.actor(), l.id, "session", l.id, reason, msg, facts...)
		l.reason = reason
		l.once.Do(func() {})
		if l.rec != nil {
			l.rec.Marker(msg)
			if err := l.storeRecording(ctx); err != nil {
				g.cfg.Logger.Error("ssh gateway: cannot store recording", "session", l.id, "error", err.Error())
			}
		}
		l.persistEnd(ctx)
		g.release(l)
		first.fail(msg)
		g.refuse(l.conn, chans, reqs, msg)
	}

	if pol.Recording {
		if err := l.startRecording(ctx); err != nil {
			g.cfg.Logger.Error("ssh gateway: recording unavailable", "session", l.id, "error", err.Error())
			if pol.RecordingStrict {
				fail(api.SessionEndRecordingUnavailable, "session.recording_unavailable",
					"pamd: the session cannot be recorded and policy "+policyName(pol)+" requires recording; try again later")
				return
			}
			g.auditDenied(ctx, "session.recording_unavailable", l.actor(), l.id, "session", l.id, "best_effort", "continuing without a recording")
		}
	}

	up, err := l.dial(ctx)
	if r, ok := asHostKeyRefusal(err); ok {
		g.cfg.Logger.Warn("ssh gateway: target host key refused", "session", l.id, "account", gr.Account.ID, "reason", r.reason,
			"presented", r.presented, "expected", r.expected)
		fail(r.reason, "session."+r.reason, r.msg, r.auditChanges()...)
		return
	}
	if err != nil {
		g.cfg.Logger.Warn("ssh gateway: upstream unreachable", "session", l.id, "account", gr.Account.ID, "error", err.Error())
		fail(api.SessionEndUpstreamError, "session.upstream_error", fmt.Sprintf("pamd: cannot connect to %s (%s): %v",
			gr.Account.Name, hostPort(gr.Account), upstreamCause(err)))
		return
	}
	l.upstream = up
	l.sess.State = api.SessionActive
	if err := g.cfg.Sessions.UpdateSession(ctx, l.sess); err != nil {
		g.cfg.Logger.Error("ssh gateway: cannot update session", "session", l.id, "error", err.Error())
	}
	g.auditFact(ctx, "session.started", l.actor(), l.id, startFacts{
		VaultAccountID: gr.Account.ID, SessionPolicyID: pol.ID, PolicyName: policyName(pol), CheckoutID: gr.CheckoutID,
		ElevationID: gr.ElevationID, Justification: gr.Justification, ClientIP: gr.ClientIP, Recording: l.rec != nil,
	})
	if l.rec != nil {
		l.rec.Marker("session " + l.id + " started by " + gr.Principal.Subject + " on " + gr.Account.ID)
	}
	go func() { // the target went away: end the session
		_ = up.Wait()
		l.end(api.SessionEndUpstreamError, "pamd: the connection to the target was lost")
	}()
	go l.globalRequests(ctx, reqs)
	if first != nil {
		l.chWG.Add(1)
		go func() {
			defer l.chWG.Done()
			l.proxyFirst(ctx, first)
		}()
	}
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			l.chWG.Add(1)
			go func() {
				defer l.chWG.Done()
				l.proxySession(ctx, nch)
			}()
		case "direct-tcpip":
			if !pol.PortForwarding {
				msg := "pamd: port forwarding is disabled by policy " + policyName(pol)
				g.auditDenied(ctx, "session.port_forward_denied", l.actor(), l.id, "session", l.id, "port_forwarding_disabled", msg)
				_ = nch.Reject(ssh.Prohibited, msg)
				continue
			}
			l.chWG.Add(1)
			go func() {
				defer l.chWG.Done()
				l.proxyDirect(nch)
			}()
		default:
			_ = nch.Reject(ssh.UnknownChannelType, "pamd: channel type "+nch.ChannelType()+" is not supported")
		}
	}
	l.end(api.SessionEndClientClosed, "")
	waitTimeout(&l.chWG, 5*time.Second)
	l.finish(ctx)
}

type startFacts struct {
	VaultAccountID  string `json:"vault_account_id"`
	SessionPolicyID string `json:"session_policy_id"`
	PolicyName      string `json:"policy_name"`
	CheckoutID      string `json:"checkout_id,omitempty"`
	ElevationID     string `json:"elevation_id,omitempty"`
	Justification   string `json:"justification,omitempty"`
	ClientIP        string `json:"client_ip"`
	Recording       bool   `json:"recording"`
}

type endFacts struct {
	EndReason   string `json:"end_reason"`
	RecordingID string `json:"recording_id,omitempty"`
	FilterHits  int    `json:"command_filter_hits"`
}

func policyName(p *Policy) string {
	if p.Name == "" {
		return DefaultPolicyName
	}
	return p.Name
}

func hostPort(a api.VaultAccount) string {
	port := a.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(a.Address, strconv.Itoa(port))
}

// upstreamCause hides nothing secret (the error never holds the password)
// but drops the noisy "ssh: handshake failed" wrapping.
func upstreamCause(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err.Error()
	}
	return err.Error()
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// dial logs in upstream with the vaulted password, once the target's host
// key passed checkHostKey.
func (l *liveSession) dial(ctx context.Context) (*ssh.Client, error) {
	a := l.grant.Account
	secret, _, err := l.g.cfg.Secrets.CurrentSecret(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("open the vaulted secret: %w", err)
	}
	var method ssh.AuthMethod
	if a.SecretType == api.SecretTypeSSHKey {
		signer, err := ssh.ParsePrivateKey(secret)
		if err != nil {
			return nil, errors.New("the vaulted ssh key cannot be parsed")
		}
		method = ssh.PublicKeys(signer)
	} else {
		pw := string(secret)
		method = ssh.Password(pw)
	}
	pins := pinnedKeys(a)
	var presented ssh.PublicKey
	cc := &ssh.ClientConfig{
		User: a.Username, Auth: []ssh.AuthMethod{method}, Timeout: l.g.cfg.DialTimeout,
		HostKeyAlgorithms: hostKeyAlgorithms(pins),
		// Runs during key exchange, before authentication: a refused
		// target never receives the vaulted secret.
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			presented = key
			return l.checkHostKey(pins, key)
		},
	}
	d := net.Dialer{Timeout: l.g.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", hostPort(a))
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(l.g.cfg.DialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(nc, hostPort(a), cc)
	l.recordHostKey(ctx, presented, err)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func (l *liveSession) startRecording(ctx context.Context) error {
	if l.g.cfg.Keyring == nil {
		return errors.New("no keyring to seal recordings")
	}
	now := l.g.timeNow()
	l.recMeta = api.SessionRecording{ID: ids.New(api.PrefixSessionRecording, now), SessionID: l.id, State: api.RecordingRecording,
		Format: api.RecordingFormatAsciicastV2, CreatedAt: now, UpdatedAt: now}
	if days := l.grant.Policy.Snapshot.Recording.RetainDays; days > 0 {
		until := now.AddDate(0, 0, days)
		l.recMeta.RetainUntil = &until
	}
	if err := l.g.cfg.Sessions.CreateRecording(ctx, l.recMeta); err != nil {
		return err
	}
	l.rec = NewRecorder(l.g.cfg.Clock, "pamd session "+l.id+" "+l.grant.Principal.Subject+"@"+l.grant.Account.Name, l.g.cfg.MaxRecordingBytes)
	l.sess.RecordingID = l.recMeta.ID
	return nil
}

func (l *liveSession) globalRequests(ctx context.Context, reqs <-chan *ssh.Request) {
	for req := range reqs {
		// tcpip-forward (remote forwarding) is never brokered; keepalives
		// get the standard "no".
		if req.Type == "tcpip-forward" {
			l.g.auditDenied(ctx, "session.port_forward_denied", l.actor(), l.id, "session", l.id, "remote_forwarding", "remote port forwarding is not supported")
		}
		if req.WantReply {
			_ = req.Reply(false, nil)
		}
	}
}

// end ends the session once: the user reads msg on every open channel, then
// the client and upstream connections close. The first reason wins.
func (l *liveSession) end(reason, msg string) {
	l.once.Do(func() {
		l.reason = reason
		if msg != "" {
			l.notify(msg)
			if l.rec != nil {
				l.rec.Marker(msg)
			}
		}
		if l.upstream != nil {
			_ = l.upstream.Close() // the channels close, after their output
		}
		// A moment for the client to read the last output before the
		// connection goes (closing with unread data can reset it).
		time.AfterFunc(closeGrace, func() { _ = l.conn.Close() })
	})
}

// closeGrace is how long an ended session's connection stays open.
const closeGrace = 200 * time.Millisecond

// notify writes msg to the stderr of every open channel, bounded in time.
func (l *liveSession) notify(msg string) {
	l.mu.Lock()
	chs := make([]ssh.Channel, 0, len(l.chans))
	for ch := range l.chans {
		chs = append(chs, ch)
	}
	l.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, ch := range chs {
			_, _ = ch.Stderr().Write([]byte("\r\n" + msg + "\r\n"))
		}
	}()
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// check applies the time limits at now; true when it ended the session.
func (l *liveSession) check(now time.Time) bool {
	pol := &l.grant.Policy
	l.mu.Lock()
	last, touched := l.lastActivity, l.lastTouched
	l.mu.Unlock()
	if reason, msg, ok := l.endedInStore(); ok {
		l.end(reason, msg)
		return true
	}
	switch {
	case l.authorizationEnded(now):
		l.end(api.SessionEndAuthorizationEnded, "pamd: session ended: the checkout "+l.grant.CheckoutID+" that authorised it has ended (policy "+policyName(pol)+")")
		return true
	case l.elevationEnded(now):
		l.end(api.SessionEndAuthorizationEnded, "pamd: session ended: the elevation "+l.grant.ElevationID+" that authorised it has ended (policy "+policyName(pol)+")")
		return true
	case pol.MaxDuration > 0 && !now.Before(l.started.Add(pol.MaxDuration)):
		l.end(api.SessionEndExpired, fmt.Sprintf("pamd: session ended: the maximum duration of %s set by policy %s is reached", pol.MaxDuration, policyName(pol)))
		return true
	case pol.IdleTimeout > 0 && !now.Before(last.Add(pol.IdleTimeout)):
		l.end(api.SessionEndIdleTimeout, fmt.Sprintf("pamd: session ended: idle for %s (policy %s)", pol.IdleTimeout, policyName(pol)))
		return true
	}
	if last.After(touched) && now.Sub(touched) >= touchEvery {
		l.mu.Lock()
		l.lastTouched = now
		l.mu.Unlock()
		if err := l.g.cfg.Sessions.TouchSession(context.Background(), l.id, last.UTC().Truncate(time.Second)); err != nil {
			l.g.cfg.Logger.Warn("ssh gateway: cannot record activity", "session", l.id, "error", err.Error())
		}
	}
	return false
}

// authorizationEnded reports whether the policy cuts sessions when their
// authorisation ends and the checkout held when the session started has
// ended (checked in, revoked, expired).
func (l *liveSession) authorizationEnded(now time.Time) bool {
	if !l.grant.Policy.Snapshot.TerminateOnAuthorizationEnd || l.grant.CheckoutID == "" {
		return false
	}
	var co api.Checkout
	err := l.g.cfg.Store.View(context.Background(), func(tx store.Tx) (err error) { co, err = tx.GetCheckout(l.grant.CheckoutID); return err })
	if errors.Is(err, store.ErrNotFound) {
		return true
	} else if err != nil {
		l.g.cfg.Logger.Warn("ssh gateway: cannot read checkout", "session", l.id, "error", err.Error())
		return false
	}
	return vault.Ended(co, now)
}

// endedInStore reports whether the stored session was ended, or asked to
// end, by someone other than this gateway: an administrator's terminate
// request served by another replica (which cannot reach this gateway, so it
// ends the session in the store), or the sweep of a replica that took this
// one for dead (gateway_lost). The store is what the API and
// pam_sessions show, so the live session follows it within a tick: nobody
// stays connected to a target while pamd reports the session over.
func (l *liveSession) endedInStore() (reason, msg string, ok bool) {
	var s api.Session
	err := l.g.cfg.Store.View(context.Background(), func(tx store.Tx) (err error) { s, err = tx.GetSession(l.id); return err })
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			l.g.cfg.Logger.Warn("ssh gateway: cannot read the session", "session", l.id, "error", err.Error())
		}
		return "", "", false
	}
	switch {
	case s.State == api.SessionTerminating,
		s.State == api.SessionTerminated && s.EndReason == api.SessionEndTerminatedByAdmin:
		return api.SessionEndTerminatedByAdmin, "pamd: session terminated by an administrator", true
	case s.State == api.SessionTerminated:
		return s.EndReason, "pamd: session ended (" + s.EndReason + ") by another pamd replica", true
	}
	return "", "", false
}

// elevationEnded reports whether the policy cuts sessions when their
// authorisation ends and the elevation that authorised the session is no
// longer active (deactivated, revoked, expired).
func (l *liveSession) elevationEnded(now time.Time) bool {
	if !l.grant.Policy.Snapshot.TerminateOnAuthorizationEnd || l.grant.ElevationID == "" {
		return false
	}
	var e api.Elevation
	err := l.g.cfg.Store.View(context.Background(), func(tx store.Tx) (err error) { e, err = tx.GetElevation(l.grant.ElevationID); return err })
	if errors.Is(err, store.ErrNotFound) {
		return true
	} else if err != nil {
		l.g.cfg.Logger.Warn("ssh gateway: cannot read elevation", "session", l.id, "error", err.Error())
		return false
	}
	return pim.StateAt(e, now) != api.StateActive
}

// activity marks traffic in either direction.
func (l *liveSession) activity() {
	now := l.g.cfg.Clock.Now()
	l.mu.Lock()
	if now.After(l.lastActivity) {
		l.lastActivity = now
	}
	l.mu.Unlock()
}

func (l *liveSession) snapshot() api.Session {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sess
	la := l.lastActivity.UTC().Truncate(time.Second)
	s.LastActivityAt = &la
	s.UpdatedAt = l.g.timeNow()
	return s
}

// persistEnd writes the end of the session.
func (l *liveSession) persistEnd(ctx context.Context) {
	s := l.snapshot()
	now := l.g.timeNow()
	s.State, s.EndedAt, s.EndReason, s.EndedBy = api.SessionTerminated, &now, l.reason, l.endedBy
	if err := l.g.cfg.Sessions.UpdateSession(ctx, s); err != nil {
		l.g.cfg.Logger.Error("ssh gateway: cannot store the end of a session", "session", l.id, "error", err.Error())
	}
	l.sess = s
}

// finish seals and stores the recording, ends the session in the store and
// audits the end.
func (l *liveSession) finish(ctx context.Context) {
	if l.rec != nil {
		l.rec.Marker("session ended: " + l.reason)
		if err := l.storeRecording(ctx); err != nil {
			l.g.cfg.Logger.Error("ssh gateway: cannot store recording", "session", l.id, "error", err.Error())
			l.g.auditDenied(ctx, "session.recording_unavailable", l.actor(), l.id, "session", l.id, "store_failed", err.Error())
		}
	}
	l.mu.Lock()
	hits := l.hits
	l.mu.Unlock()
	l.g.auditFact(ctx, "session.ended", l.actor(), l.id, endFacts{EndReason: l.reason, RecordingID: l.sess.RecordingID, FilterHits: hits})
	l.persistEnd(ctx) // last: a terminated session has its recording and audit
	close(l.finished)
}

func (l *liveSession) storeRecording(ctx context.Context) error {
	body := l.rec.Bytes()
	sealed, err := l.g.cfg.Keyring.SealString(body, session.RecordingAAD(l.recMeta.ID))
	if err != nil {
		return err
	}
	now := l.g.timeNow()
	m := l.recMeta
	m.State, m.Bytes, m.SHA256, m.UpdatedAt = api.RecordingAvailable, int64(len(body)), Sum(body), now
	m.DurationSeconds = int64(l.rec.Duration() / time.Second)
	if err := l.g.cfg.Sessions.PutRecording(ctx, m, sealed); err != nil {
		return err
	}
	l.recMeta = m
	return nil
}
