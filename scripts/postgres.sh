#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server for the rotation connector
# tests (internal/rotation, internal/server).
#
#   eval "$(scripts/postgres.sh start)"   # installs if needed, starts, prints the export
#   scripts/postgres.sh stop              # stops it and removes its data
#   scripts/postgres.sh dsn               # prints the export line again
#
# The cluster lives in $PAM_PG_DIR (default /tmp/pamd-postgres), listens on
# 127.0.0.1:$PAM_PG_PORT (default 55432) only, and requires a password
# (scram-sha-256) on TCP, so that the tests can tell an old password from a new
# one. The superuser is "postgres" with a random password written at initdb.
# The Debian package "postgresql" is installed with apt-get when no server
# binaries are found (needs root). PostgreSQL refuses to run as root, so when
# run as root the server runs as the "postgres" user the package creates.
# Only the export line goes to stdout; everything else goes to stderr.
set -euo pipefail

DIR="${PAM_PG_DIR:-/tmp/pamd-postgres}"
PORT="${PAM_PG_PORT:-55432}"
DATA="$DIR/data"
LOG="$DIR/server.log"
PWFILE="$DIR/superuser.pw"

log() { echo "postgres.sh: $*" >&2; }

bindir() {
	local d
	d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then
		echo "$d"
		return 0
	fi
	if command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return 0
	fi
	return 1
}

install_server() {
	if bindir >/dev/null; then return 0; fi
	if [ "$(id -u)" -ne 0 ]; then
		log "no PostgreSQL server binaries and not root: cannot install the Debian package postgresql"
		return 1
	fi
	log "installing the Debian package postgresql"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y --no-install-recommends postgresql >&2
}

# as_owner runs a command as the cluster owner: postgres when we are root.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

dsn() {
	echo "export PAM_TEST_POSTGRES_DSN='postgres://postgres:$(cat "$PWFILE")@127.0.0.1:$PORT/postgres?sslmode=disable'"
}

start() {
	install_server
	local bin
	bin="$(bindir)"
	if [ -f "$DATA/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
		log "already running on 127.0.0.1:$PORT"
		dsn
		return 0
	fi
	rm -rf "$DIR"
	mkdir -p "$DIR"
	head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PWFILE"
	if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$DIR"; fi
	chmod 700 "$DIR"
	log "initdb into $DATA"
	as_owner "$bin/initdb" -D "$DATA" -U postgres --pwfile="$PWFILE" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >&2
	log "starting on 127.0.0.1:$PORT"
	as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
		-o "-k $DIR -p $PORT -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
	dsn
}

stop() {
	local bin
	if ! bin="$(bindir)"; then return 0; fi
	if [ -d "$DATA" ]; then
		as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w stop >&2 || true
	fi
	rm -rf "$DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
dsn) dsn ;;
*)
	echo "usage: $0 start|stop|dsn" >&2
	exit 2
	;;
esac
