package gateway

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/session"
)

// Input modes of a session channel, decided by its shell, exec or subsystem
// request.
const (
	modeRaw  = 1 // bytes pass through (exec, subsystem, unfiltered shell)
	modeLine = 2 // interactive input held line by line for the filter
)

type chanProxy struct {
	l    *liveSession
	ch   ssh.Channel // client side
	up   ssh.Channel // upstream side
	pty  bool
	mode chan int // receives the mode once
	set  sync.Once
	done chan struct{}
	// gate opens once the client's shell/exec/subsystem request is answered:
	// the target's exit-status and close must not overtake that answer.
	gate     chan struct{}
	gateOnce sync.Once
}

func (p *chanProxy) openGate() { p.gateOnce.Do(func() { close(p.gate) }) }

func (p *chanProxy) setMode(m int) {
	p.set.Do(func() { p.mode <- m })
}

// proxySession brokers one session channel.
func (l *liveSession) proxySession(ctx context.Context, nch ssh.NewChannel) {
	up, upReqs, err := l.upstream.OpenChannel("session", nil)
	if err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, "pamd: the target refused a session: "+err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		_ = up.Close()
		return
	}
	l.proxyChannel(ctx, ch, reqs, up, upReqs)
}

// proxyChannel brokers one accepted session channel to its upstream twin.
func (l *liveSession) proxyChannel(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request, up ssh.Channel, upReqs <-chan *ssh.Request) {
	l.mu.Lock()
	l.chans[ch] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.chans, ch)
		l.mu.Unlock()
	}()
	p := &chanProxy{l: l, ch: ch, up: up, mode: make(chan int, 1), done: make(chan struct{}), gate: make(chan struct{})}

	var copies sync.WaitGroup
	copies.Add(2)
	go func() { defer copies.Done(); p.copyOut(ch, up) }()
	go func() { defer copies.Done(); p.copyOut(ch.Stderr(), up.Stderr()) }()
	upDone := make(chan struct{})
	go func() {
		<-p.gate
		for r := range upReqs { // exit-status, exit-signal, eow@openssh.com
			ok, _ := ch.SendRequest(r.Type, r.WantReply, r.Payload)
			if r.WantReply {
				_ = r.Reply(ok, nil)
			}
		}
		copies.Wait()
		_ = ch.CloseWrite()
		_ = ch.Close()
		close(upDone)
	}()
	inDone := make(chan struct{})
	go func() { defer close(inDone); p.pumpInput() }()

	for req := range reqs {
		p.handle(ctx, req)
		if req.Type == "shell" || req.Type == "exec" || req.Type == "subsystem" {
			p.openGate()
		}
	}
	p.openGate()
	close(p.done)
	_ = up.Close()
	<-upDone
	<-inDone
}

// copyOut copies target output to the user, recording it.
func (p *chanProxy) copyOut(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.l.activity()
			if p.l.rec != nil {
				p.l.rec.Output(buf[:n])
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

type ptyRequest struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string
}

type windowChange struct {
	Cols, Rows    uint32
	Width, Height uint32
}

func (p *chanProxy) forward(req *ssh.Request) bool {
	ok, err := p.up.SendRequest(req.Type, req.WantReply, req.Payload)
	if err != nil {
		ok = false
	}
	if req.WantReply {
		_ = req.Reply(ok, nil)
	}
	return ok
}

func (p *chanProxy) handle(ctx context.Context, req *ssh.Request) {
	l, pol := p.l, &p.l.grant.Policy
	switch req.Type {
	case "pty-req":
		var pr ptyRequest
		if err := ssh.Unmarshal(req.Payload, &pr); err == nil && l.rec != nil {
			l.rec.SetTerminal(pr.Term, int(pr.Cols), int(pr.Rows))
		}
		if p.forward(req) {
			p.pty = true
		}
	case "window-change":
		var wc windowChange
		if err := ssh.Unmarshal(req.Payload, &wc); err == nil && l.rec != nil {
			l.rec.Resize(int(wc.Cols), int(wc.Rows))
		}
		p.forward(req)
	case "env", "signal":
		p.forward(req)
	case "shell":
		if p.forward(req) {
			if pol.filtering() {
				p.setMode(modeLine)
			} else {
				p.setMode(modeRaw)
			}
		}
	case "exec":
		var e struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &e); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		l.activity()
		if l.rec != nil {
			l.rec.Input(e.Command)
		}
		if msg := fileTransferRefusal(pol, e.Command); msg != "" {
			_ = req.Reply(true, nil)
			l.g.auditDenied(ctx, "session.file_transfer_denied", l.actor(), l.id, "session", l.id, "file_transfer_disabled", msg)
			_, _ = p.ch.Stderr().Write([]byte(msg + "\r\n"))
			sendExit(p.ch, 126)
			_ = p.ch.Close()
			_ = p.up.Close()
			return
		}
		d := pol.Match(e.Command)
		if d.Action == api.CommandActionDeny || d.Action == api.CommandActionTerminateSession {
			_ = req.Reply(true, nil)
			msg := l.filterHit(ctx, e.Command, d)
			_, _ = p.ch.Stderr().Write([]byte(msg + "\r\n"))
			sendExit(p.ch, 126)
			_ = p.ch.Close()
			_ = p.up.Close()
			if d.Action == api.CommandActionTerminateSession {
				l.end(api.SessionEndPolicyViolation, "")
			}
			return
		}
		if d.Action == api.CommandActionAlert {
			l.filterHit(ctx, e.Command, d)
		}
		if p.forward(req) {
			p.setMode(modeRaw)
		}
	case "subsystem":
		if !pol.Upload && !pol.Download {
			msg := "pamd: file transfer is disabled by policy " + policyName(pol)
			l.g.auditDenied(ctx, "session.file_transfer_denied", l.actor(), l.id, "session", l.id, "file_transfer_disabled", msg)
			_, _ = p.ch.Stderr().Write([]byte(msg + "\r\n"))
			_ = req.Reply(false, nil)
			return
		}
		if p.forward(req) {
			p.setMode(modeRaw)
		}
	default: // x11-req, auth-agent-req@openssh.com and the unknown
		if req.WantReply {
			_ = req.Reply(false, nil)
		}
	}
}

// fileTransferRefusal is the message refusing an scp or rsync exec the
// policy does not allow ("" when allowed): scp -t uploads, scp -f downloads,
// rsync --server --sender downloads and rsync --server otherwise uploads.
func fileTransferRefusal(pol *Policy, command string) string {
	f := strings.Fields(command)
	if len(f) == 0 {
		return ""
	}
	up, down := false, false
	switch f[0] {
	case "scp":
		up, down = slices.Contains(f, "-t"), slices.Contains(f, "-f")
	case "rsync":
		if slices.Contains(f, "--server") {
			down = slices.Contains(f, "--sender")
			up = !down
		}
	}
	switch {
	case up && !pol.Upload:
		return "pamd: file upload is disabled by policy " + policyName(pol)
	case down && !pol.Download:
		return "pamd: file download is disabled by policy " + policyName(pol)
	}
	return ""
}

// filterHit records a command that matched a non-allow rule (or the default
// deny): in the session, the recording and the audit log. It returns the
// message for the user.
func (l *liveSession) filterHit(ctx context.Context, command string, d Decision) string {
	pol := &l.grant.Policy
	cmd := command
	if len(cmd) > api.MaxFilterHitCommandLength {
		cmd = cmd[:api.MaxFilterHitCommandLength]
	}
	hit := api.CommandFilterHit{At: l.g.timeNow(), Command: cmd, RuleIndex: d.RuleIndex, Action: d.Action}
	l.mu.Lock()
	l.hits++
	l.sess.CommandFilterHits = append(l.sess.CommandFilterHits, hit)
	l.mu.Unlock()
	if err := l.g.cfg.Sessions.AppendFilterHit(ctx, l.id, hit); err != nil {
		l.g.cfg.Logger.Error("ssh gateway: cannot store filter hit", "session", l.id, "error", err.Error())
	}
	rule := "default action"
	if d.RuleIndex >= 0 {
		rule = fmt.Sprintf("rule %d", d.RuleIndex+1)
	}
	desc := d.Description
	if desc == "" {
		desc = d.Action
	}
	var msg, action string
	switch d.Action {
	case api.CommandActionDeny:
		msg, action = fmt.Sprintf("pamd: command denied by policy %s %s: %s", policyName(pol), rule, desc), "session.command_blocked"
	case api.CommandActionTerminateSession:
		msg, action = fmt.Sprintf("pamd: command not allowed, session terminated by policy %s %s: %s", policyName(pol), rule, desc), "session.command_terminated"
	default:
		msg, action = fmt.Sprintf("pamd: command alerted by policy %s %s: %s", policyName(pol), rule, desc), "session.command_alerted"
	}
	if l.rec != nil {
		l.rec.Marker(fmt.Sprintf("%s %s: %s", d.Action, rule, session.NormalizeCommand(cmd)))
	}
	l.g.auditFact(ctx, action, l.actor(), l.id, hitFacts{Command: cmd, RuleIndex: d.RuleIndex, Action: d.Action,
		Description: d.Description, SessionPolicyID: pol.ID, VaultAccountID: l.grant.Account.ID})
	return msg
}

type hitFacts struct {
	Command         string `json:"command"`
	RuleIndex       int    `json:"rule_index"`
	Action          string `json:"action"`
	Description     string `json:"description,omitempty"`
	SessionPolicyID string `json:"session_policy_id"`
	VaultAccountID  string `json:"vault_account_id"`
}

// pumpInput copies user input upstream once the mode is known.
func (p *chanProxy) pumpInput() {
	var mode int
	select {
	case mode = <-p.mode:
	case <-p.done:
		return
	}
	if mode == modeRaw {
		buf := make([]byte, 32<<10)
		for {
			n, err := p.ch.Read(buf)
			if n > 0 {
				p.l.activity()
				if _, werr := p.up.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = p.up.CloseWrite()
				return
			}
		}
	}
	p.lineInput()
}

// lineInput holds interactive input until Enter and lets the filter decide
// each line before any byte of it reaches the target. With a pty the gateway
// echoes what is typed (the target echoes again once the line is allowed, so
// the local echo is erased first). Cursor keys, history and completion
// (escape sequences, tab, other control characters) are dropped: the target
// must run exactly the line that was matched. Ctrl-C and Ctrl-D on an empty
// line pass through.
func (p *chanProxy) lineInput() {
	var line []byte
	var esc int // 0 none, 1 after ESC, 2 inside CSI/SS3
	prevCR := false
	buf := make([]byte, 4096)
	echo := func(s string) {
		if p.pty {
			_, _ = io.WriteString(p.ch, s)
		}
	}
	erase := func() {
		if n := utf8.RuneCount(line); n > 0 {
			echo(strings.Repeat("\b \b", n))
		}
	}
	for {
		n, err := p.ch.Read(buf)
		for _, b := range buf[:n] {
			p.l.activity()
			if esc == 1 {
				if b == '[' || b == 'O' {
					esc = 2
				} else {
					esc = 0
				}
				continue
			}
			if esc == 2 {
				if b >= 0x40 && b <= 0x7e {
					esc = 0
				}
				continue
			}
			if b == '\n' && prevCR {
				prevCR = false
				continue
			}
			prevCR = b == '\r'
			switch {
			case b == '\r' || b == '\n':
				cmd := string(line)
				if !p.submit(cmd, b, erase) {
					return
				}
				line = line[:0]
			case b == 0x7f || b == 0x08:
				if len(line) > 0 {
					_, size := utf8.DecodeLastRune(line)
					line = line[:len(line)-size]
					echo("\b \b")
				}
			case b == 0x15: // Ctrl-U
				erase()
				line = line[:0]
			case b == 0x03: // Ctrl-C
				erase()
				line = line[:0]
				if _, werr := p.up.Write([]byte{b}); werr != nil {
					return
				}
			case b == 0x04: // Ctrl-D
				if len(line) == 0 {
					if _, werr := p.up.Write([]byte{b}); werr != nil {
						return
					}
				}
			case b == 0x1b:
				esc = 1
			case b < 0x20:
				// tab and other control characters are dropped
			default:
				line = append(line, b)
				echo(string([]byte{b}))
			}
		}
		if err != nil {
			_ = p.up.CloseWrite()
			return
		}
	}
}

// submit decides one interactive line; false when the session is over.
func (p *chanProxy) submit(cmd string, term byte, erase func()) bool {
	l := p.l
	ctx := context.Background()
	if strings.TrimSpace(cmd) == "" {
		_, err := p.up.Write([]byte{term})
		return err == nil
	}
	if l.rec != nil {
		l.rec.Input(cmd)
	}
	d := l.grant.Policy.Match(cmd)
	nl := "\n"
	if p.pty {
		nl = "\r\n"
	}
	switch d.Action {
	case api.CommandActionDeny:
		msg := l.filterHit(ctx, cmd, d)
		_, _ = io.WriteString(p.ch, nl+msg+nl)
		_, err := p.up.Write([]byte{term}) // a fresh prompt
		return err == nil
	case api.CommandActionTerminateSession:
		msg := l.filterHit(ctx, cmd, d)
		_, _ = io.WriteString(p.ch, nl+msg+nl)
		l.end(api.SessionEndPolicyViolation, "")
		return false
	case api.CommandActionAlert:
		l.filterHit(ctx, cmd, d)
	}
	erase()
	_, err := p.up.Write(append([]byte(cmd), term))
	return err == nil
}

// proxyDirect brokers a direct-tcpip (ssh -L) channel through the target,
// when the policy allows port forwarding.
func (l *liveSession) proxyDirect(nch ssh.NewChannel) {
	up, upReqs, err := l.upstream.OpenChannel("direct-tcpip", nch.ExtraData())
	if err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, "pamd: the target refused the forwarding: "+err.Error())
		return
	}
	go ssh.DiscardRequests(upReqs)
	ch, reqs, err := nch.Accept()
	if err != nil {
		_ = up.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = io.Copy(up, ch); _ = up.CloseWrite() }()
	go func() { defer wg.Done(); _, _ = io.Copy(ch, up); _ = ch.CloseWrite() }()
	wg.Wait()
	_ = ch.Close()
	_ = up.Close()
}
