package daemon

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
)

// loadTLS builds the server's TLS configuration from cfg, or returns nil when
// TLS is not configured. Errors name the file at fault and never include its
// contents (the key file holds a private key).
func loadTLS(cfg Config) (*tls.Config, error) {
	certFile, keyFile := cfg.TLSCertFile, cfg.TLSKeyFile
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil //nolint:nilnil // plain HTTP is the absence of a TLS config, not an error
	case certFile == "":
		return nil, errors.New("tls: a key file was given without a certificate file; set both --tls-cert and --tls-key (PAMD_TLS_CERT, PAMD_TLS_KEY)")
	case keyFile == "":
		return nil, errors.New("tls: a certificate file was given without a key file; set both --tls-cert and --tls-key (PAMD_TLS_CERT, PAMD_TLS_KEY)")
	}
	certPEM, err := os.ReadFile(certFile) //nolint:gosec // path chosen by the operator
	if err != nil {
		return nil, fmt.Errorf("tls: reading the certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile) //nolint:gosec // path chosen by the operator
	if err != nil {
		return nil, fmt.Errorf("tls: reading the key file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls's messages describe the PEM blocks, not their bytes.
		return nil, fmt.Errorf("tls: certificate %s and key %s do not form a usable pair: %w", certFile, keyFile, err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}, nil
}
