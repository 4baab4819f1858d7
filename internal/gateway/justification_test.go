package gateway_test

import (
	"bytes"
	"errors"

	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

func justifiedPolicy() *api.SessionPolicyInput {
	return &api.SessionPolicyInput{Name: "justified", RequireJustification: true}
}

// runEnv runs cmd in a new session after sending env vars.
func runEnv(t *testing.T, c *ssh.Client, env map[string]string, cmd string) (stdout, stderr string, err error) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		return "", "", err
	}
	defer func() { _ = s.Close() }()
	for k, v := range env {
		if err := s.Setenv(k, v); err != nil {
			return "", "", err
		}
	}
	var o, eb bytes.Buffer
	s.Stdout, s.Stderr = &o, &eb
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("command %q hung", cmd)
	}
	return o.String(), eb.String(), err
}

func (e *env) dialKI(user string, answers func(q []string) []string, seen *received) (*ssh.Client, error) {
	cc := &ssh.ClientConfig{
		User: user, HostKeyCallback: ssh.FixedHostKey(e.hostPK), Timeout: 3 * time.Second,
		Auth: []ssh.AuthMethod{ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			return answers(qs), nil
		})},
		BannerCallback: func(m string) error { _, _ = seen.Write([]byte(m)); return nil },
	}
	return ssh.Dial("tcp", e.gw.Addr(), cc)
}

func TestJustificationMissingWithPassword(t *testing.T) {
	e := newEnv(t, opts{policy: justifiedPolicy()})
	for _, env := range []map[string]string{nil, {api.SessionJustificationEnv: "too short"}} {
		c, err := e.dial(e.user(), e.alice, &received{})
		if err != nil {
			t.Fatal(err)
		}
		_, stderr, err := runEnv(t, c, env, "echo should-not-run")
		_ = c.Close()
		var exit *ssh.ExitError
		if err == nil || !errors.As(err, &exit) || exit.ExitStatus() != 1 {
			t.Fatalf("err %v", err)
		}
		for _, want := range []string{"policy justified requires a justification of 10", "keyboard-interactive", "Justification:", "PAM_JUSTIFICATION"} {
			if !strings.Contains(stderr, want) {
				t.Fatalf("stderr %q lacks %q", stderr, want)
			}
		}
	}
	if cmds := e.target.Commands(); len(cmds) != 0 {
		t.Fatalf("the target saw %v", cmds)
	}
	if len(e.sessions()) != 0 {
		t.Fatalf("sessions %+v", e.sessions())
	}
	d := e.audits("session.denied")
	if len(d) != 2 || !strings.Contains(auditText(d[0]), "justification_required") {
		t.Fatalf("denied audit: %+v", d)
	}
}

func TestJustificationViaEnvWithPassword(t *testing.T) {
	e := newEnv(t, opts{policy: justifiedPolicy()})
	c, err := e.dial(e.user(), e.alice, &received{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	out, _, err := runEnv(t, c, map[string]string{api.SessionJustificationEnv: "  INC-42 restart the web tier ", "LANG": "C"}, "echo justified")
	if err != nil || out != "justified\n" {
		t.Fatalf("exec: %q %v", out, err)
	}
	id := e.waitLive(1)[0]
	_ = c.Close()
	s := e.waitEnded(id)
	if s.Justification != "INC-42 restart the web tier" {
		t.Fatalf("session justification %q", s.Justification)
	}
	st := e.audits("session.started")
	if len(st) != 1 || !strings.Contains(auditText(st[0]), "INC-42 restart the web tier") {
		t.Fatalf("started audit: %+v", st)
	}
}

func TestJustificationViaKeyboardInteractive(t *testing.T) {
	e := newEnv(t, opts{policy: justifiedPolicy()})
	var asked [][]string
	answer := func(reason string) func([]string) []string {
		return func(qs []string) []string {
			asked = append(asked, qs)
			if len(qs) == 1 && qs[0] == "Justification: " {
				return []string{reason}
			}
			return []string{e.alice}
		}
	}
	seen := &received{}
	if c, err := e.dialKI(e.user(), answer("short"), seen); err == nil {
		_ = c.Close()
		t.Fatal("a short justification was accepted")
	}
	if !strings.Contains(seen.String(), "requires a justification of 10") {
		t.Fatalf("banner %q", seen.String())
	}
	asked = nil
	c, err := e.dialKI(e.user(), answer("CHG-7 rotate the TLS certs"), &received{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if len(asked) != 2 || asked[0][0] != "pamd token: " || asked[1][0] != "Justification: " {
		t.Fatalf("questions %q", asked)
	}
	out, _, err := run(t, c, "echo ki", &received{})
	if err != nil || out != "ki\n" {
		t.Fatalf("exec: %q %v", out, err)
	}
	id := e.waitLive(1)[0]
	_ = c.Close()
	if s := e.waitEnded(id); s.Justification != "CHG-7 rotate the TLS certs" {
		t.Fatalf("session justification %q", s.Justification)
	}
	if cmds := e.target.Commands(); len(cmds) != 1 {
		t.Fatalf("target commands %v", cmds)
	}
}
