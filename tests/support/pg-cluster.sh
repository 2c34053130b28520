#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests: initdb into a temporary
# directory, a free port on 127.0.0.1 (TCP only, like a remote host), SCRAM
# password authentication for the superuser "provauth", and a database
# "provauth". Nothing of the machine's own PostgreSQL (its clusters, its
# service files, the caller's ~/.pgpass) is used.
#
#   pg-cluster.sh start DIR [OWNER_PID]   start a new cluster; DIR (the caller's,
#                                         existing) keeps its state. Prints, as
#                                         shell assignments: PA_PG_URL=...,
#                                         PGPASSFILE=DIR/pgpass, PA_PG_PORT=...
#                                         When OWNER_PID is given, a watcher stops
#                                         the cluster as soon as that process is gone.
#   pg-cluster.sh stop DIR                stop it and remove its files (idempotent)
#   pg-cluster.sh restart DIR             stop then start, same port: clients see
#                                         their connections dropped
#   pg-cluster.sh pause DIR               stop the server, keep the data
#   pg-cluster.sh resume DIR              start it again on the same port
#   pg-cluster.sh createdb DIR NAME       a new empty database NAME owned by
#                                         provauth; prints its URL
#
# Users of the script unset every PG* variable but PGPASSFILE (PGHOST,
# PGSERVICE, PGPASSWORD ... would point libpq elsewhere) and set PGPASSFILE
# to DIR/pgpass, the only place the password is written: it is never printed.
#
# No PostgreSQL installed: the reason on stderr and exit 77 (automake's
# skip), unless CI is set (non-empty): then exit 1, since CI must test
# against a real server (./dev deps installs Debian's postgresql).
#
# As root, the server runs as "postgres" (or "nobody" without it), since
# initdb and postgres refuse root; the cluster's files then live in a
# directory of their own that user owns (mktemp -d under ${TMPDIR:-/tmp}),
# because the caller's DIR is usually 0700 root. DIR/cluster-dir records it.
set -euo pipefail

die() { printf 'pg-cluster: %s\n' "$*" >&2; exit 1; }

usage() { die "usage: pg-cluster.sh start DIR [OWNER_PID] | stop|restart|pause|resume DIR | createdb DIR NAME"; }

# The libpq environment of the caller would send our clients elsewhere.
unset_pg_environment() {
	local v
	for v in $(compgen -e); do
		case $v in PG*) unset "$v" ;; esac
	done
}

# Sets bindir to the newest installed server's programs, or exits 77/1.
find_server() {
	local d best=
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] || continue
		if [ -z "$best" ] || [ "$(basename "$(dirname "$d")")" -gt "$(basename "$(dirname "$best")")" ] 2>/dev/null; then
			best=$d
		fi
	done
	if [ -z "$best" ] && command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 &&
	   command -v postgres >/dev/null 2>&1; then
		best=$(dirname "$(command -v initdb)")
	fi
	if [ -n "$best" ]; then
		bindir=$best
		return 0
	fi
	if [ -n "${CI:-}" ]; then
		printf 'pg-cluster: no PostgreSQL server (initdb, pg_ctl, postgres) installed: %s\n' \
			"CI must test against a real PostgreSQL server: ./dev deps installs postgresql" >&2
		exit 1
	fi
	printf 'pg-cluster: no PostgreSQL server (initdb, pg_ctl, postgres) installed: skipped (./dev deps installs postgresql)\n' >&2
	exit 77
}

# Sets run_user: empty when the caller runs the server itself.
choose_user() {
	run_user=
	[ "$(id -u)" = 0 ] || return 0
	if id postgres >/dev/null 2>&1; then run_user=postgres; else run_user=nobody; fi
}

# as_owner COMMAND...: COMMAND as the user the server runs as.
as_owner() {
	if [ -z "$run_user" ]; then
		"$@"
	elif command -v setpriv >/dev/null 2>&1; then
		setpriv --reuid="$run_user" --regid="$(id -g "$run_user")" --clear-groups -- "$@"
	else
		runuser -u "$run_user" -- "$@"
	fi
}

# Reads DIR's state into cluster, data, port, run_user and bindir.
load_state() {
	state=$1
	[ -f "$state/cluster-dir" ] || return 1
	cluster=$(cat "$state/cluster-dir")
	data=$cluster/data
	port=$(cat "$state/port" 2>/dev/null || true)
	run_user=$(cat "$state/run-user" 2>/dev/null || true)
	bindir=$(cat "$state/bindir" 2>/dev/null || true)
}

print_log_tail() {
	[ -f "$cluster/log" ] || return 0
	printf 'pg-cluster: the server log (%s) ends with:\n' "$cluster/log" >&2
	tail -n 25 "$cluster/log" >&2
}

# Starts the server on $port; returns 2 when the port is taken, 1 on any other failure.
server_start() {
	local mark
	mark=0
	[ ! -f "$cluster/log" ] || mark=$(wc -l <"$cluster/log")
	if as_owner "$bindir/pg_ctl" -D "$data" -l "$cluster/log" -w -t 30 start >/dev/null 2>&1; then
		return 0
	fi
	if tail -n +"$((mark + 1))" "$cluster/log" 2>/dev/null | grep -q 'could not bind\|Address already in use'; then
		return 2
	fi
	return 1
}

# A random port in the dynamic range nobody listens on (the server's bind is the real test).
random_port() {
	local p
	while :; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
}

# The watcher: polls OWNER_PID and stops the cluster (immediate) when it is gone.
# A pid can be reused, so the owner is its pid and its start time together.
start_watcher() {
	local owner=$1 started
	started=$(awk '{ print $22 }' "/proc/$owner/stat" 2>/dev/null) || die "no process $owner to watch"
	setsid bash -c '
		owner=$1 started=$2 script=$3 state=$4 cluster=$5
		while [ "$(awk "{ print \$22 }" "/proc/$owner/stat" 2>/dev/null)" = "$started" ]; do
			[ -d "$cluster" ] || exit 0
			sleep 0.2
		done
		exec "$script" reap "$state" "$cluster"
	' watcher "$owner" "$started" "$script" "$state" "$cluster" </dev/null >/dev/null 2>&1 &
	echo $! >"$state/watcher.pid"
}

cmd_start() {
	local owner=${2:-} password parent try rc
	state=$1
	if [ -f "$state/cluster-dir" ]; then die "$state already has a cluster (stop it first)"; fi
	find_server
	choose_user
	parent=${TMPDIR:-/tmp}
	# A server running as another user must reach its directory.
	if [ -n "$run_user" ] && ! as_owner test -x "$parent"; then parent=/tmp; fi
	cluster=$(mktemp -d "$parent/provauth-pg-XXXXXX")
	data=$cluster/data
	[ -z "$run_user" ] || chown "$run_user:$(id -g "$run_user")" "$cluster"
	printf '%s\n' "$cluster" >"$state/cluster-dir"
	printf '%s\n' "$run_user" >"$state/run-user"
	printf '%s\n' "$bindir" >"$state/bindir"
	# Watched from now on: whatever stops this script half-way, the owner's end takes the server along.
	[ -z "$owner" ] || start_watcher "$owner"

	password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	(umask 077; printf '%s\n' "$password" >"$cluster/pwfile")
	[ -z "$run_user" ] || chown "$run_user" "$cluster/pwfile"
	if ! as_owner "$bindir/initdb" -D "$data" -U provauth --pwfile="$cluster/pwfile" --auth=scram-sha-256 \
		--no-sync --encoding=UTF8 --no-locale --no-instructions >"$cluster/initdb.log" 2>&1; then
		tail -n 25 "$cluster/initdb.log" >&2
		cmd_stop "$state" >/dev/null 2>&1 || true
		die "initdb failed"
	fi
	rm -f "$cluster/pwfile"
	# Tests want speed, not durability across a machine crash; TCP only, on loopback.
	as_owner tee -a "$data/postgresql.conf" >/dev/null <<-EOF
		listen_addresses = '127.0.0.1'
		unix_socket_directories = ''
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_connections = 200
		shared_buffers = 16MB
		logging_collector = off
	EOF
	rc=2
	for try in 1 2 3 4 5 6 7 8; do
		port=$(random_port)
		printf 'port = %s\n' "$port" | as_owner tee -a "$data/postgresql.conf" >/dev/null
		rc=0
		server_start || rc=$?
		[ $rc = 2 ] || break
	done
	[ $rc = 0 ] || { print_log_tail; cmd_stop "$state" >/dev/null 2>&1 || true; die "the server did not start (try $try)"; }
	printf '%s\n' "$port" >"$state/port"
	(umask 077; printf '127.0.0.1:%s:*:provauth:%s\n' "$port" "$password" >"$state/pgpass")
	export PGPASSFILE=$state/pgpass
	"$bindir/createdb" -h 127.0.0.1 -p "$port" -U provauth -w provauth >"$cluster/createdb.log" 2>&1 ||
		{ cat "$cluster/createdb.log" >&2; print_log_tail; cmd_stop "$state" >/dev/null 2>&1 || true; die "createdb provauth failed"; }
	printf "PA_PG_URL='postgresql://provauth@127.0.0.1:%s/provauth'\n" "$port"
	printf "PGPASSFILE='%s'\n" "$state/pgpass"
	printf "PA_PG_PORT=%s\n" "$port"
}

# Stops the server at once and removes its directory. Used by stop and the watcher.
reap_cluster() {
	local pid=
	[ -d "$cluster" ] || return 0
	if [ -f "$cluster/data/postmaster.pid" ]; then
		pid=$(head -n 1 "$cluster/data/postmaster.pid" 2>/dev/null || true)
		as_owner "$bindir/pg_ctl" -D "$cluster/data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
	fi
	# pg_ctl may be gone or the pid file damaged: make sure the postmaster is.
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q postgres "/proc/$pid/comm" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf --one-file-system "$cluster"
}

cmd_stop() {
	local dir=$1 w
	load_state "$dir" || return 0
	if [ -f "$state/watcher.pid" ]; then
		w=$(cat "$state/watcher.pid")
		kill "$w" 2>/dev/null || true
	fi
	reap_cluster
	rm -f "$state/cluster-dir" "$state/port" "$state/run-user" "$state/bindir" "$state/pgpass" "$state/watcher.pid"
}

# reap STATE CLUSTER: the watcher's stop, which must not depend on STATE (a
# crashed test's directory may be gone).
cmd_reap() {
	state=$1
	cluster=$2
	run_user=$(cat "$state/run-user" 2>/dev/null || true)
	bindir=$(cat "$state/bindir" 2>/dev/null || true)
	if [ -z "$bindir" ]; then find_server; fi
	if [ -z "$run_user" ] && [ "$(id -u)" = 0 ]; then choose_user; fi
	reap_cluster
	# The state's passfile holds the password of a server that is gone: no reason to keep it.
	rm -f "$state/cluster-dir" "$state/port" "$state/run-user" "$state/bindir" "$state/pgpass" "$state/watcher.pid"
}

cmd_pause() {
	load_state "$1" || die "$1: no cluster"
	as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
		{ print_log_tail; die "stopping the server failed"; }
}

cmd_resume() {
	load_state "$1" || die "$1: no cluster"
	server_start || { print_log_tail; die "the server did not start again on port $port"; }
}

cmd_restart() {
	cmd_pause "$1"
	cmd_resume "$1"
}

cmd_createdb() {
	local name=$2
	load_state "$1" || die "$1: no cluster"
	case $name in ''|*[!a-z0-9_]*) die "database name '$name': use a-z, 0-9 and _" ;; esac
	PGPASSFILE=$state/pgpass "$bindir/createdb" -h 127.0.0.1 -p "$port" -U provauth -w "$name" >&2 ||
		die "createdb $name failed"
	printf 'postgresql://provauth@127.0.0.1:%s/%s\n' "$port" "$name"
}

script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
unset_pg_environment
# DIR made absolute, then / as the working directory: the server's user may
# not enter the caller's.
if [ $# -ge 2 ]; then
	[ -d "$2" ] || die "$2: no such directory"
	dir_arg=$(cd "$2" && pwd)
	set -- "$1" "$dir_arg" "${@:3}"
fi
cd /
case ${1:-} in
	start) [ $# -ge 2 ] && [ $# -le 3 ] || usage; cmd_start "$2" "${3:-}" ;;
	stop) [ $# = 2 ] || usage; cmd_stop "$2" ;;
	restart) [ $# = 2 ] || usage; cmd_restart "$2" ;;
	pause) [ $# = 2 ] || usage; cmd_pause "$2" ;;
	resume) [ $# = 2 ] || usage; cmd_resume "$2" ;;
	createdb) [ $# = 3 ] || usage; cmd_createdb "$2" "$3" ;;
	reap) [ $# = 3 ] || usage; cmd_reap "$2" "$3" ;;
	*) usage ;;
esac
