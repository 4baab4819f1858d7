// Package sshtest runs an in-process SSH target for gateway tests: a real
// golang.org/x/crypto/ssh server that accepts one user with a password only
// pamd knows, and runs a tiny fake shell (echo, whoami, cat, exit) for exec
// requests and interactive sessions. It records every command it ran, so that
// tests can check what reached the target and what the gateway held back.
package sshtest

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Server is a running fake SSH target.
type Server struct {
	User, Password string
	// HostKey is the target's public host key (ed25519, fresh per Start),
	// for tests that pin it on the vault account.
	HostKey ssh.PublicKey

	ln  net.Listener
	cfg *ssh.ServerConfig
	wg  sync.WaitGroup

	mu       sync.Mutex
	logins   int // password attempts, right or wrong
	commands []string
	ptys     []string
	resizes  []string
	conns    map[*ssh.ServerConn]struct{}
	closed   bool
}

// Start listens on 127.0.0.1:0 and serves until Close.
func Start(user, password string) (*Server, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	s := &Server{User: user, Password: password, HostKey: signer.PublicKey(), conns: map[*ssh.ServerConn]struct{}{}}
	s.cfg = &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			s.mu.Lock()
			s.logins++
			s.mu.Unlock()
			if c.User() == s.User && string(pw) == s.Password {
				return nil, nil
			}
			return nil, errors.New("sshtest: wrong user or password")
		},
	}
	s.cfg.AddHostKey(signer)
	var lc net.ListenConfig
	s.ln, err = lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is host:port of the target.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host and Port split Addr.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.Addr()); return h }

// Port of the target.
func (s *Server) Port() int {
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// Commands returns every command line the target executed (exec requests and
// interactive lines), in order.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// PasswordAttempts is how many times a client sent a password: 0 proves
// that a refused gateway never handed this target the vaulted secret.
func (s *Server) PasswordAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Resizes returns the window sizes ("COLSxROWS") of every pty-req and
// window-change the target received.
func (s *Server) Resizes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(append([]string(nil), s.ptys...), s.resizes...)
}

// Close stops the server and every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(nc)
		}()
	}
}

func (s *Server) serve(nc net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.cfg)
	if err != nil {
		_ = nc.Close()
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = sc.Close()
		return
	}
	s.conns[sc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
		_ = sc.Close()
	}()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.UnknownChannelType, "sshtest: only sessions")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.session(ch, creqs)
		}()
	}
	wg.Wait()
}

type ptyReq struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string
}

type winch struct {
	Cols, Rows    uint32
	Width, Height uint32
}

func (s *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer func() { _ = ch.Close() }()
	pty := false
	for req := range reqs {
		switch req.Type {
		case "pty-req":
			var p ptyReq
			if err := ssh.Unmarshal(req.Payload, &p); err == nil {
				s.mu.Lock()
				s.ptys = append(s.ptys, fmt.Sprintf("%dx%d", p.Cols, p.Rows))
				s.mu.Unlock()
			}
			pty = true
			_ = req.Reply(true, nil)
		case "window-change":
			var w winch
			if err := ssh.Unmarshal(req.Payload, &w); err == nil {
				s.mu.Lock()
				s.resizes = append(s.resizes, fmt.Sprintf("%dx%d", w.Cols, w.Rows))
				s.mu.Unlock()
			}
		case "env":
			_ = req.Reply(true, nil)
		case "exec":
			var e struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &e); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			go func() {
				code := s.run(e.Command, ch, ch.Stderr(), ch, false)
				exit(ch, code)
			}()
		case "shell":
			_ = req.Reply(true, nil)
			go func() {
				s.shell(ch, pty)
				exit(ch, 0)
			}()
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
}

func exit(ch ssh.Channel, code int) {
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)})) //nolint:gosec // small exit codes
	_ = ch.CloseWrite()
	_ = ch.Close()
}

// run executes one fake command; stdin is used by cat.
func (s *Server) run(cmd string, out, errw io.Writer, stdin io.Reader, pty bool) int {
	s.mu.Lock()
	s.commands = append(s.commands, cmd)
	s.mu.Unlock()
	nl := "\n"
	if pty {
		nl = "\r\n"
	}
	fields := strings.Fields(cmd)
	if len(fields) == 0 {
		return 0
	}
	switch fields[0] {
	case "echo":
		_, _ = io.WriteString(out, strings.Join(fields[1:], " ")+nl)
	case "whoami":
		_, _ = io.WriteString(out, s.User+nl)
	case "cat":
		if stdin != nil && !pty {
			_, _ = io.Copy(out, stdin)
		}
	case "true", "exit":
	case "false":
		return 1
	default:
		_, _ = io.WriteString(errw, "sh: "+fields[0]+": ran"+nl)
	}
	return 0
}

// shell is a line-oriented fake shell with a "$ " prompt; with a pty it
// echoes what it reads, like a terminal in cooked mode.
func (s *Server) shell(ch ssh.Channel, pty bool) {
	r := bufio.NewReader(ch)
	nl := "\n"
	if pty {
		nl = "\r\n"
	}
	var line []byte
	_, _ = io.WriteString(ch, "$ ")
	for {
		b, err := r.ReadByte()
		if err != nil {
			return
		}
		switch {
		case b == '\r' || b == '\n':
			if pty {
				_, _ = io.WriteString(ch, "\r\n")
			}
			cmd := strings.TrimSpace(string(line))
			line = line[:0]
			if cmd == "exit" {
				s.mu.Lock()
				s.commands = append(s.commands, cmd)
				s.mu.Unlock()
				return
			}
			if cmd != "" {
				s.run(cmd, ch, ch, nil, pty)
			}
			_, _ = io.WriteString(ch, "$ ")
		case b == 0x03:
			line = line[:0]
			_, _ = io.WriteString(ch, "^C"+nl+"$ ")
		case b == 0x04 && len(line) == 0:
			return
		default:
			line = append(line, b)
			if pty {
				_, _ = ch.Write([]byte{b})
			}
		}
	}
}
