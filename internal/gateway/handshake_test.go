package gateway_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/gateway"
)

// TestHandshakeDeadline: a client that connects and then says nothing (or
// stalls mid-handshake) is disconnected once HandshakeTimeout passes, so
// idle half-open connections cannot pile up on the gateway.
func TestHandshakeDeadline(t *testing.T) {
	e := newEnv(t, opts{})
	cfg := e.cfg
	cfg.HandshakeTimeout = 300 * time.Millisecond
	gw, err := gateway.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })

	for _, c := range []struct {
		name string
		send string
	}{
		{"silent", ""},
		{"version line only", "SSH-2.0-stalled\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d net.Dialer
			nc, err := d.DialContext(context.Background(), "tcp", gw.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if c.send != "" {
				if _, err := io.WriteString(nc, c.send); err != nil {
					t.Fatal(err)
				}
			}
			// The bound is far above the timeout: this checks that the
			// gateway hangs up at all, not how fast.
			_ = nc.SetReadDeadline(time.Now().Add(15 * time.Second))
			_, err = io.Copy(io.Discard, nc)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the gateway kept a stalled handshake open for 15 s; HandshakeTimeout is 300 ms")
			}
		})
	}
}
