// Package migrations holds pamd's schema migrations (goose SQL files). One set
// serves both engines: the SQL sticks to what SQLite and PostgreSQL both
// accept (TEXT, BIGINT, composite keys, partial indexes, ON CONFLICT), so
// store/sqlite and store/postgres apply the same files. The directory stays
// under store/sqlite, where it started, so that migrations added on other
// branches land here without a move.
package migrations

import "embed"

// FS holds the *.sql migrations, numbered 00001 upwards.
//
//go:embed *.sql
var FS embed.FS
