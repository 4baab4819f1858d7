package daemon

import (
	"errors"
	"fmt"
	"os"

	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/store/engine"
)

// MasterKeyPath is where the master key file of a database lives unless
// configured otherwise: $PAMD_MASTER_KEY_FILE, else "<db>.key" for a SQLite
// file. A PostgreSQL database has no default ("" is returned): its replicas
// must all use the same key, so it has to be configured.
func MasterKeyPath(configured, db string) string {
	if configured != "" {
		return configured
	}
	if v := os.Getenv(keys.EnvMasterKeyFile); v != "" {
		return v
	}
	if engine.IsPostgres(db) {
		return ""
	}
	return db + ".key"
}

// errSharedKeyRequired explains why a PostgreSQL pamd will not start
// without a configured master key.
var errSharedKeyRequired = errors.New("master key: with a PostgreSQL database, configure the master key shared by every replica " +
	"with --master-key-file (env " + keys.EnvMasterKeyFile + ") or " + keys.EnvMasterKey + "; " +
	"generating one per replica would leave each unable to open the others' secrets")

// loadKeyring loads (or creates on first start) the master keyring.
func loadKeyring(cfg Config) (*keys.Keyring, error) {
	path := MasterKeyPath(cfg.MasterKeyFile, cfg.DB)
	if path == "" && os.Getenv(keys.EnvMasterKey) == "" {
		return nil, errSharedKeyRequired
	}
	kr, err := keys.LoadOrCreate(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	// Keys retired by `pamd keys rotate` (and a rotation's pending key) still open.
	if path == "" { // key from the environment, no key file beside it
		return kr, nil
	}
	if err := kr.LoadRetired(path); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return kr, nil
}
