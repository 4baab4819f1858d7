// Package replicas holds the multi-replica tests: several pamd replicas on
// one PostgreSQL database behind a round-robin proxy. The tests need
// PAM_TEST_POSTGRES_DSN (scripts/postgres.sh) and skip, saying so, without
// it. The package has no code of its own beyond the test helpers.
package replicas
