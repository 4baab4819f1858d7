// Package benchd starts the pamd the benchmarks measure: the real daemon, in
// this process, on loopback, with a fresh SQLite file in dir and a random
// admin token. Every benchmark starts pamd here, so a setting that must be
// off while measuring (such as per-token rate limiting) is one line below.
package benchd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"path/filepath"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/client"
	"github.com/accessplane/terraform-provider-pam/internal/daemon"
)

// Config is the daemon configuration every benchmark uses for a store at dbPath.
func Config(dbPath, token string) daemon.Config {
	return daemon.Config{
		Listen:         "127.0.0.1:0",
		DBPath:         dbPath,
		BootstrapToken: token,
		BootstrapOut:   io.Discard,
		Version:        "bench",
		// The default worker period: the benchmark measures pamd as it runs.
		WorkerInterval: daemon.DefaultWorkerInterval,
		// Per-token rate limiting, once pamd has it, must be disabled here
		// (RateLimit: 0 or its equivalent): the load generator measures
		// capacity, not the limiter.
	}
}

// Pamd is a running benchmark pamd.
type Pamd struct {
	*daemon.Daemon
	// Token is the bootstrap admin token.
	Token  string
	DBPath string
}

// Start starts pamd on a fresh store in dir.
func Start(ctx context.Context, dir string) (*Pamd, error) {
	tok := Token()
	db := filepath.Join(dir, "pamd.db")
	d, err := daemon.Start(ctx, Config(db, tok))
	if err != nil {
		return nil, err
	}
	return &Pamd{Daemon: d, Token: tok, DBPath: db}, nil
}

// Client is an API client for base (pamd or a proxy in front of it) with
// token; retries are off so that a failure is seen, not hidden.
func Client(base, token string) (*client.Client, error) {
	return client.New(client.Config{Endpoint: base, Token: token, UserAgent: "pam-bench", MaxRetries: -1, RequestTimeout: time.Minute})
}

// Token returns a fresh random admin token.
func Token() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "pamd_bench_" + hex.EncodeToString(b)
}
