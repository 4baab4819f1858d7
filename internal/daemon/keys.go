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
	kr, err := keys.LoadOrCreate(MasterKeyPath(cfg.MasterKeyFile, cfg.DBPath))
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return kr, nil
}
