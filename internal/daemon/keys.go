package daemon

import (
	"fmt"
	"os"

	"github.com/accessplane/terraform-provider-pam/internal/keys"
)

// MasterKeyPath is where the master key file of a database lives unless
// configured otherwise: $PAMD_MASTER_KEY_FILE, else "<db>.key".
func MasterKeyPath(configured, dbPath string) string {
	if configured != "" {
		return configured
	}
	if v := os.Getenv(keys.EnvMasterKeyFile); v != "" {
		return v
	}
	return dbPath + ".key"
}

// loadKeyring loads (or creates on first start) the master keyring.
func loadKeyring(cfg Config) (*keys.Keyring, error) {
	path := MasterKeyPath(cfg.MasterKeyFile, cfg.DBPath)
	kr, err := keys.LoadOrCreate(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	// Keys retired by `pamd keys rotate` (and a rotation's pending key) still open.
	if err := kr.LoadRetired(path); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return kr, nil
}
