package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
	"github.com/accessplane/terraform-provider-pam/internal/ids"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/session"
)

func TestSessionsCLIEndToEnd(t *testing.T) {
	ctx := context.Background()
	const adminToken = "pamd_test_sessions_cli_admin_token"
	t.Setenv(keys.EnvMasterKey, "")
	d, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "pamd.db"), BootstrapToken: adminToken, WorkerInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	ss := d.Sessions()
	now := time.Now().UTC().Truncate(time.Second)
	mk := func(principal string, at time.Time) api.Session {
		s := api.Session{ID: ids.New(api.PrefixSession, at), State: api.SessionActive, VaultAccountID: "acct_1",
			Principal: api.Actor{Type: "user", ID: principal}, SessionPolicyID: "sesp_1", Protocol: "ssh",
			PolicySnapshot: session.NormalizePolicy(api.SessionPolicyInput{Name: "p"}), StartedAt: at, ExpiresAt: at.Add(time.Hour), UpdatedAt: at}
		if err := ss.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s1 := mk("alice", now.Add(-time.Minute))
	s2 := mk("bob", now)
	ep := []string{"--endpoint", d.URL()}
	t.Setenv("PAM_TOKEN", adminToken)

	out, _, err := run(t, append([]string{"sessions", "list", "--json"}, ep...)...)
	if err != nil {
		t.Fatal(err)
	}
	var listed []api.Session
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 2 || listed[0].ID != s1.ID {
		t.Fatalf("list --json: %v %s", err, out)
	}
	out, _, err = run(t, append([]string{"sessions", "list"}, ep...)...)
	if err != nil || !strings.Contains(out, "PRINCIPAL") || !strings.Contains(out, "user:alice") || !strings.Contains(out, s2.ID) {
		t.Fatalf("list table: %v %s", err, out)
	}

	if _, _, err := run(t, append([]string{"sessions", "terminate", s1.ID}, ep...)...); err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Fatalf("terminate without reason: %v", err)
	}
	out, _, err = run(t, append([]string{"sessions", "terminate", s1.ID, "--reason", "incident 42"}, ep...)...)
	if err != nil || !strings.Contains(out, s1.ID+" terminated") {
		t.Fatalf("terminate: %v %s", err, out)
	}
	out, _, err = run(t, append([]string{"sessions", "list", "--active", "--json"}, ep...)...)
	if err != nil {
		t.Fatal(err)
	}
	listed = nil
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || listed[0].ID != s2.ID {
		t.Fatalf("list --active: %v %s", err, out)
	}
	if _, _, err := run(t, append([]string{"sessions", "terminate", s1.ID, "--reason", "again"}, ep...)...); err == nil {
		t.Fatal("terminating an ended session succeeded")
	}

	// A recording: play --speed 0 prints exactly the recorded output.
	var buf bytes.Buffer
	w, err := session.NewAsciicastWriter(&buf, session.AsciicastHeader{Width: 80, Height: 24}, now)
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{"$ ", "ls\r\n", "a.txt  b.txt\r\n", "$ \x1b[1mexit\x1b[0m\r\n"}
	for i, o := range outputs {
		if err := w.Event(now.Add(time.Duration(i)*time.Hour), session.EventOutput, o); err != nil {
			t.Fatal(err)
		}
		if err := w.Event(now.Add(time.Duration(i)*time.Hour), session.EventInput, "typed-not-shown"); err != nil {
			t.Fatal(err)
		}
	}
	body := buf.Bytes()
	recID := ids.New(api.PrefixSessionRecording, now)
	sealed, err := ss.Keyring.SealString(body, session.RecordingAAD(recID))
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.PutRecording(ctx, api.SessionRecording{ID: recID, SessionID: s2.ID, State: api.RecordingAvailable, Format: api.RecordingFormatAsciicastV2,
		Bytes: int64(len(body)), SHA256: session.SHA256Hex(body), DurationSeconds: 3 * 3600, CreatedAt: now, UpdatedAt: now}, sealed); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, _, err = run(t, append([]string{"recordings", "play", recID, "--speed", "0"}, ep...)...)
	if err != nil {
		t.Fatal(err)
	}
	if out != strings.Join(outputs, "") {
		t.Fatalf("play output %q, want %q", out, strings.Join(outputs, ""))
	}
	if time.Since(start) > 30*time.Second {
		t.Fatal("--speed 0 waited")
	}

	// Authorisation: a requester can neither replay nor terminate.
	alice, err := d.IssueToken(ctx, "user:alice", nil, []string{api.ServerRoleRequester})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAM_TOKEN", alice)
	if _, _, err := run(t, append([]string{"recordings", "play", recID, "--speed", "0"}, ep...)...); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("requester play: %v", err)
	}
	if _, _, err := run(t, append([]string{"sessions", "terminate", s2.ID, "--reason", "x"}, ep...)...); err == nil {
		t.Fatal("requester terminate succeeded")
	}
	out, _, err = run(t, append([]string{"sessions", "list", "--json"}, ep...)...)
	listed = nil
	if err != nil || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 1 || listed[0].ID != s1.ID {
		t.Fatalf("requester sees own sessions only: %v %s", err, out)
	}
	if _, _, err := run(t, append([]string{"recordings", "play", "rec_nope", "--speed", "0"}, ep...)...); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown recording: %v", err)
	}
	if _, _, err := run(t, append([]string{"recordings", "play", recID, "--speed", "-1"}, ep...)...); err == nil {
		t.Fatal("negative speed accepted")
	}
}
