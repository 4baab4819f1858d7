package gateway

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// checkJustification trims j and reports whether it is long enough.
func checkJustification(j string) (string, bool) {
	j = strings.TrimSpace(j)
	n := utf8.RuneCountInString(j)
	return j, n >= api.MinSessionJustificationLength && n <= api.MaxSessionJustificationLength
}

// justificationHelp tells the user both ways to give a justification.
func justificationHelp(p *Policy) string {
	return fmt.Sprintf("pamd: policy %s requires a justification of %d to %d characters before connecting. "+
		"Either log in with keyboard-interactive authentication and answer the \"Justification:\" question after your token, "+
		"or send it in the environment variable %s, e.g. ssh -o SetEnv=%s=\"INC-1234 restart web\" ... "+
		"(or export it and use -o SendEnv=%s)", policyName(p), api.MinSessionJustificationLength, api.MaxSessionJustificationLength,
		api.SessionJustificationEnv, api.SessionJustificationEnv, api.SessionJustificationEnv)
}

// preChannel is the first session channel of a connection whose
// justification comes in an env request: it is accepted before the upstream
// connection exists, and its requests up to shell/exec/subsystem are
// answered here and replayed (without reply) to the proxy.
type preChannel struct {
	ch   ssh.Channel
	reqs chan *ssh.Request
}

// awaitJustification accepts the first session channel and reads its
// requests until shell, exec or subsystem, picking PAM_JUSTIFICATION out of
// the env requests. ok is false (and the channel told why, and closed) when
// the justification is missing or too short; pc is nil when the client left.
func (l *liveSession) awaitJustification(chans <-chan ssh.NewChannel) (pc *preChannel, ok bool) {
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.Prohibited, justificationHelp(&l.grant.Policy))
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		var buffered []*ssh.Request
		var start *ssh.Request
		for req := range creqs {
			switch req.Type {
			case "env":
				var kv struct{ Name, Value string }
				if ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == api.SessionJustificationEnv {
					l.grant.Justification = kv.Value
				} else {
					buffered = append(buffered, &ssh.Request{Type: req.Type, Payload: req.Payload})
				}
				_ = req.Reply(true, nil)
			case "pty-req", "window-change":
				buffered = append(buffered, &ssh.Request{Type: req.Type, Payload: req.Payload})
				_ = req.Reply(true, nil)
			case "shell", "exec", "subsystem":
				start = req
			default:
				_ = req.Reply(false, nil)
			}
			if start != nil {
				break
			}
		}
		if start == nil { // the client closed the channel
			_ = ch.Close()
			continue
		}
		j, valid := checkJustification(l.grant.Justification)
		if !valid {
			msg := justificationHelp(&l.grant.Policy)
			l.g.auditDenied(context.Background(), "session.denied", l.actor(), "", "vault_account", l.grant.Account.ID, "justification_required", msg)
			_ = start.Reply(true, nil)
			_, _ = ch.Stderr().Write([]byte(msg + "\r\n"))
			sendExit(ch, 1)
			_ = ch.Close()
			go ssh.DiscardRequests(creqs)
			return &preChannel{ch: ch}, false
		}
		l.grant.Justification = j
		pc := &preChannel{ch: ch, reqs: make(chan *ssh.Request, len(buffered)+1)}
		go func() {
			defer close(pc.reqs)
			for _, r := range buffered {
				pc.reqs <- r
			}
			pc.reqs <- start
			for r := range creqs {
				pc.reqs <- r
			}
		}()
		return pc, true
	}
	return nil, false
}

// proxyFirst brokers the pre-accepted channel once upstream is connected.
func (l *liveSession) proxyFirst(ctx context.Context, pc *preChannel) {
	up, upReqs, err := l.upstream.OpenChannel("session", nil)
	if err != nil {
		_, _ = pc.ch.Stderr().Write([]byte("pamd: the target refused a session: " + err.Error() + "\r\n"))
		sendExit(pc.ch, 1)
		_ = pc.ch.Close()
		go func() {
			for r := range pc.reqs {
				_ = r.Reply(false, nil)
			}
		}()
		return
	}
	l.proxyChannel(ctx, pc.ch, pc.reqs, up, upReqs)
}

// fail tells the pre-accepted channel why the session cannot start.
func (pc *preChannel) fail(msg string) {
	if pc == nil {
		return
	}
	_, _ = pc.ch.Stderr().Write([]byte(msg + "\r\n"))
	sendExit(pc.ch, 1)
	_ = pc.ch.Close()
	if pc.reqs != nil {
		go func() {
			for r := range pc.reqs {
				_ = r.Reply(false, nil)
			}
		}()
	}
}
