#!/usr/bin/env bash
# The provauth demo: the life of provider sessions, told with the real
# `provauth` CLI against the fake Pixverse and pixiv servers on loopback.
#
#   tools/demo.sh [--json] [--log FILE] [--workdir DIR] BUILD_DIR
#
#   --json          show the CLI's JSON output instead of its text
#   --log FILE      the library's event log (JSON lines); default
#                   BUILD_DIR/demo-events.log, emptied at the start
#   --workdir DIR   work in DIR (an existing directory) and leave it there,
#                   secrets included (for tests); default: a temporary
#                   directory removed on exit
#
# Every claim the demo makes is checked: an unexpected exit status, output
# or server count ends it with "DEMO FAILED: ..." and exit status 1. Bash and
# coreutils run it: the fakes' /__control/ API is reached through bash's
# /dev/tcp and its JSON read with sed. Step 8 (provauthd) talks to the
# daemon with curl, as its users would, and its webhook receiver is python3's
# http.server; ./dev installs both.
set -uo pipefail

usage() { sed -n '5,13p' "$0" | sed 's/^# \{0,1\}//'; }

json=0 log='' workdir='' build=''
while [ $# -gt 0 ]; do
	case $1 in
	--json) json=1 ;;
	--log) log=${2:?--log needs a file}; shift ;;
	--workdir) workdir=${2:?--workdir needs a directory}; shift ;;
	-h|--help) usage; exit 0 ;;
	-*) echo "demo: unknown option $1" >&2; usage >&2; exit 2 ;;
	*) [ -z "$build" ] || { echo "demo: one BUILD_DIR only" >&2; exit 2; }; build=$1 ;;
	esac
	shift
done
[ -n "$build" ] || { usage >&2; exit 2; }
build=$(cd "$build" && pwd) || exit 2
prog=$build/provauth
fake_pv=$build/tests/fake/fake-pixverse
fake_px=$build/tests/fake/fake-pixiv
for f in "$prog" "$fake_pv" "$fake_px"; do
	[ -x "$f" ] || { echo "demo: $f is missing: build first (./dev build)" >&2; exit 2; }
done
: "${PROVAUTH_PLUGIN_PATH:=$build/plugins/.libs}"
# The build's plugins only: not those of a provauth installed into its prefix.
: "${PROVAUTH_NO_BUILTIN_PLUGINS:=1}"
export PROVAUTH_PLUGIN_PATH PROVAUTH_NO_BUILTIN_PLUGINS
log=${log:-$build/demo-events.log}
case $log in /*) ;; *) log=$PWD/$log ;; esac
# The fakes are on loopback; a proxy from the environment must not see the requests.
unset PROVAUTH_CONFIG http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

if [ -n "$workdir" ]; then
	work=$(cd "$workdir" && pwd) || exit 2
	keep=1
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/provauth-demo-XXXXXX") || exit 1
	keep=0
fi
pids=()
# The private PostgreSQL cluster of step 6 (tests/support/pg-cluster.sh), once started.
pg_cluster=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/support/pg-cluster.sh
pg_dir=''
cleanup() {
	exec 3>&-
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	[ -z "$pg_dir" ] || "$pg_cluster" stop "$pg_dir" >/dev/null 2>&1
	[ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
umask 077
mkdir -p "$work/secrets"
: >"$log" || { echo "demo: cannot write the event log $log" >&2; exit 1; }
: >"$work/transcript"

# ---- telling the story ----

if [ -t 1 ]; then bold=$'\e[1m' red=$'\e[31m' green=$'\e[32m' off=$'\e[0m'
else bold='' red='' green='' off=''; fi
step=0
heading() {
	step=$((step + 1))
	printf '\n%sStep %d: %s%s\n' "$bold" "$step" "$*" "$off"
	step_log_start=$(wc -l <"$log")
}
say() { printf '  %s\n' "$*"; }
fail() {
	printf '\n%sDEMO FAILED%s (step %d): %s\n' "$red" "$off" "$step" "$*" >&2
	exit 1
}
# Claims are checked, then stated.
claim() { printf '  %sok%s %s\n' "$green" "$off" "$*"; }

# pa EXPECTED_STATUS ARGS...: runs the real CLI, shows the command and what it
# printed, and fails the demo on another exit status. stdin passes through.
pa() {
	local want=$1 rc
	shift
	printf '  $ provauth'; printf ' %s' "$@"; printf '\n'
	"$prog" -c "${pa_settings:-$work/provauth.yaml}" --log-file "$log" "$@" >"$work/out" 2>"$work/err"
	rc=$?
	cat "$work/out" "$work/err" >>"$work/transcript"
	[ "${hide_out:-0}" = 1 ] || sed 's/^/    /' "$work/out"
	sed 's/^/    /' "$work/err"
	[ "$rc" -eq "$want" ] || fail "'provauth $*' exited with $rc, expected $want"
}
jflag=()
[ "$json" = 1 ] && jflag=(--json)
out_has() {
	grep -F -q -- "$1" "$work/out" || fail "the output of the last command lacks \"$1\""
}
err_has() {
	grep -F -q -- "$1" "$work/err" || fail "the error message lacks \"$1\""
}
# The library's events since the step began, by name (the log holds no secret values).
step_events() {
	local names
	names=$(tail -n "+$((step_log_start + 1))" "$log" | sed -n 's/.*"event":"\([^"]*\)".*/\1/p' |
		grep -v '^plugin_loaded$' | uniq | paste -sd ' ' -)
	say "library events: ${names:-none}"
}

# ---- the fake servers and their control API ----

# ctl PORT METHOD PATH: one HTTP/1.0 request to 127.0.0.1:PORT; the body of a
# 200 reply on stdout.
ctl() {
	local port=$1 method=$2 path=$3 fd reply
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" || { echo "demo: cannot connect to port $port" >&2; return 1; }
	printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nContent-Length: 0\r\n\r\n' \
		"$method" "$path" "$port" >&"$fd"
	reply=$(timeout 10 cat <&"$fd")
	exec {fd}>&-
	case ${reply%%$'\r'*} in
	"HTTP/1."?" 200"*) printf '%s\n' "${reply#*$'\r\n\r\n'}" ;;
	*) echo "demo: $method ${path%%\?*} answered: ${reply%%$'\r'*}" >&2; return 1 ;;
	esac
}
# The value of "KEY": "string" or "KEY": number in the JSON text on stdin
# (the fakes answer small documents where each key of interest is unique).
json_str() { sed -n 's/.*"'"$1"'": *"\([^"]*\)".*/\1/p' | head -n 1; }
json_num() { sed -n 's/.*"'"$1"'": *\([0-9][0-9]*\).*/\1/p' | head -n 1; }

# start NAME PROGRAM ARGS...: a fake that runs until fd 3 (its stdin) closes.
start() {
	local name=$1
	shift
	"$@" <"$work/hold" >"$work/$name.port" 2>"$work/$name.log" &
	pids+=($!)
}
port_of() {
	local port
	for _ in $(seq 200); do
		port=$(sed -n 's/^PORT=\([0-9][0-9]*\)$/\1/p' "$work/$1.port")
		[ -n "$port" ] && { echo "$port"; return 0; }
		sleep 0.05
	done
	cat "$work/$1.log" >&2
	fail "the fake $1 server did not start"
}

# Counters: pixverse login requests, successful logins, refreshes; pixiv
# token and API requests.
pv_stats() { ctl "$pv_port" GET /__control/stats >"$work/pv.stats" || fail "no stats from fake-pixverse"; }
pv_count() { json_num "$1" <"$work/pv.stats"; }
px_stats() { ctl "$px_port" GET /__control/counters >"$work/px.stats" || fail "no counters from fake-pixiv"; }
px_count() { json_num "$1" <"$work/px.stats"; }
# expect_delta WHAT BEFORE AFTER WANT
expect_delta() {
	[ "$(($3 - $2))" -eq "$4" ] || fail "$1: the server saw $(($3 - $2)), expected $4"
}

# A secret the demo handles goes into a 0600 file: commands read it from
# there or from stdin, never from argv; the final check looks for each.
keep_secret() { printf '%s\n' "$2" >"$work/secrets/$1"; }
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

printf '%sprovauth demo%s: sessions that stay alive, against fake Pixverse and pixiv servers.\n' "$bold" "$off"
mkfifo "$work/hold" || fail "cannot create a fifo in $work"
# Six logins in a minute in all (steps 2, 3, 6, 7 and two in 8): above the
# fake's default server-wide limit of five, which step 8 would meet.
start fake-pixverse "$fake_pv" --login-limit-global 20
start fake-pixiv "$fake_px"
# The fakes stop at end of input: this writer end stays open until exit.
exec 3>"$work/hold"
pv_port=$(port_of fake-pixverse) || exit 1
px_port=$(port_of fake-pixiv) || exit 1
pv=http://127.0.0.1:$pv_port
px=http://127.0.0.1:$px_port
say "fake-pixverse on $pv (demo accounts alice@, bob@ ... example.com)"
say "fake-pixiv    on $px"

cat >"$work/provauth.yaml" <<EOF
# provauth settings for the demo: both providers point at the fakes.
store:
  backend: sqlite
  path: $work/accounts.db
  key_file: $work/accounts.key
log:
  level: info
  format: json
providers:
  pixverse:
    base_url: $pv
    openapi_base_url: $pv
    auto_reauth_enabled: true
    # The demo re-logs in seconds after the explicit login of step 2.
    reauth_cooldown: 0
  pixiv:
    token_url: $px/auth/token
    api_base_url: $px
EOF
say "settings: $work/provauth.yaml (sqlite store and its key in the same directory)"
say "every command below runs as: provauth -c <settings> --log-file $log ..."

# ---- 1 ----
heading "import a Pixverse account from browser cookies"
say "alice@example.com logs in with her browser; we copy the _ai_token cookie."
token=$(ctl "$pv_port" POST "/__control/login_token?email=alice@example.com" | json_str token)
[ -n "$token" ] || fail "fake-pixverse gave no browser token"
keep_secret alice.jwt "$token"
anon=$(random_hex 8)
keep_secret alice.cookies "_ai_token=$token; ai_anonymous_id=$anon"
unset token
pa 0 "${jflag[@]}" accounts import-cookies --provider pixverse --from-file "$work/secrets/alice.cookies"
if [ "$json" = 1 ]; then
	alice=$(json_str id <"$work/out")
	out_has '"auth_method": "unknown"'
else
	alice=$(sed -n 's/.*account \(acct-[^ ]*\) .*/\1/p' "$work/out" | head -n 1)
	out_has "Auth method: unknown"
fi
[ -n "$alice" ] || fail "import-cookies did not name the account"
claim "account $alice created; auth method unknown (cookies say nothing about how she signs in)"
pa 0 "${jflag[@]}" status "$alice"
[ "$json" = 1 ] && out_has '"credits"' || { out_has "credits:"; out_has "ad task:"; }
claim "the imported session works: credits and the ad task are read"
step_events

# ---- 2 ----
heading "log the account in again with its password"
pv_stats
before=$(pv_count logins_ok)
keep_secret alice.pw "alice-demo-pw"
say "the password comes on standard input (never on the command line)"
pa 0 "${jflag[@]}" accounts reauth "$alice" --password-stdin <"$work/secrets/alice.pw"
out_has "password"
pv_stats
expect_delta "logins" "$before" "$(pv_count logins_ok)" 1
claim "one login; auth method is now password, so provauth may log in again by itself"
step_events

# ---- 3 ----
heading "the server ends the session (\"logged in elsewhere\")"
ctl "$pv_port" POST "/__control/kick?email=alice@example.com" >/dev/null || fail "cannot kick alice"
say "fake-pixverse now answers ErrCode 10005 to alice's token."
pv_stats
before=$(pv_count logins_ok)
pa 0 "${jflag[@]}" status "$alice"
[ "$json" = 1 ] && out_has '"credits"' || out_has "credits:"
pv_stats
expect_delta "logins after the kick" "$before" "$(pv_count logins_ok)" 1
claim "the library logged in once with the stored password and retried: the call succeeded"
step_events

# ---- 4 ----
heading "a Google-only account whose session dies"
token=$(ctl "$pv_port" POST "/__control/login_token?email=bob@example.com" | json_str token)
[ -n "$token" ] || fail "fake-pixverse gave no browser token for bob"
keep_secret bob.jwt "$token"
keep_secret bob.cookies "_ai_token=$token"
unset token
pa 0 "${jflag[@]}" accounts import-cookies --provider pixverse --from-file "$work/secrets/bob.cookies"
if [ "$json" = 1 ]; then bob=$(json_str id <"$work/out")
else bob=$(sed -n 's/.*account \(acct-[^ ]*\) .*/\1/p' "$work/out" | head -n 1); fi
[ -n "$bob" ] || fail "import-cookies did not name bob's account"
pa 0 "${jflag[@]}" accounts connect-google "$bob"
ctl "$pv_port" POST "/__control/kick?email=bob@example.com" >/dev/null || fail "cannot kick bob"
say "bob@example.com signs in with Google; the server has just ended his session."
pv_stats
before=$(pv_count login)
say "this command is expected to fail (exit status 1):"
pa 1 "${jflag[@]}" status "$bob"
err_has "$bob"
err_has "import-cookies"
pv_stats
expect_delta "login requests for a Google account" "$before" "$(pv_count login)" 0
claim "no password was tried; the message says to import fresh cookies"
step_events

# ---- 5 ----
heading "a pixiv account from a refresh token; its access token expires"
keep_secret pixiv.token "pixiv-demo-$(random_hex 16)"
rt=$(cat "$work/secrets/pixiv.token")
ctl "$px_port" POST "/__control/user?refresh_token=$rt&user_id=4242&name=carol&mail=carol@example.com" \
	>/dev/null || fail "cannot add the pixiv user"
unset rt
px_stats
tok0=$(px_count token)
pa 0 "${jflag[@]}" accounts add --provider pixiv --from-file "$work/secrets/pixiv.token"
if [ "$json" = 1 ]; then carol=$(json_str id <"$work/out")
else carol=$(sed -n 's/.*account \(acct-[^ ]*\) .*/\1/p' "$work/out" | head -n 1); fi
[ -n "$carol" ] || fail "accounts add did not name the pixiv account"
px_stats
expect_delta "token requests to add the account" "$tok0" "$(px_count token)" 1
ctl "$px_port" POST /__control/expire >/dev/null || fail "cannot expire pixiv's access tokens"
say "fake-pixiv now rejects every access token it issued."
tok1=$(px_count token)
# The operation's JSON is read here and told in a sentence (shown as is with --json).
hide_out=$((1 - json)) pa 0 --json call "$carol" user_detail
user=$(json_str name <"$work/out")
uid=$(json_num id <"$work/out")
[ "$user" = carol ] && [ "$uid" = 4242 ] || fail "user_detail did not return carol (4242)"
say "user_detail answered: user $user, id $uid"
px_stats
expect_delta "token requests after the expiry" "$tok1" "$(px_count token)" 1
claim "one refresh, then the call succeeded"
last=$(ctl "$px_port" GET "/__control/last?endpoint=api&what=header:Authorization" | json_str value)
keep_secret pixiv.access "${last#Bearer }"
unset last
step_events

# ---- 6 ----
heading "two processes share one account through PostgreSQL"
pg_logins=0 pg_refreshes=0 pg_ran=0
mkdir -p "$work/pg" || fail "cannot create $work/pg"
pg_dir=$work/pg   # stopped on exit, even after a start that failed half-way
if [ ! -x "$pg_cluster" ]; then
	say "skipped: $pg_cluster is missing, so no PostgreSQL server can be started"
elif ! (unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGSERVICEFILE PGPASSWORD PGPASSFILE
	"$pg_cluster" start "$work/pg" $$) >"$work/pg.env" 2>"$work/pg.err"; then
	say "skipped: no PostgreSQL server could be started ($(tail -n 1 "$work/pg.err"))"
else
	pg_ran=1
	# PA_PG_URL, PGPASSFILE (the cluster's password file: the password is never on a command line)
	. "$work/pg.env"
	unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGSERVICEFILE PGPASSWORD
	export PGPASSFILE
	# The database password joins the secrets that must appear nowhere in the output.
	db_pw=$(sed -n 's/^\([^:]*:\)\{4\}//p' "$PGPASSFILE" | head -n 1)
	[ -n "$db_pw" ] || fail "no password in $PGPASSFILE"
	keep_secret db.pw "$db_pw"
	unset db_pw
	pg_url=$("$pg_cluster" createdb "$pg_dir" demo) || fail "cannot create the demo database"
	say "a private PostgreSQL server on 127.0.0.1:$PA_PG_PORT, database demo; its password is only in"
	say "$PGPASSFILE (libpq's PGPASSFILE, like ~/.pgpass), never on a command line"
	{
		printf 'store:\n  backend: postgres\n  url: "%s"\n  key_file: %s\n' "$pg_url" "$work/accounts.key"
		sed -n '/^log:/,$p' "$work/provauth.yaml"
	} >"$work/pg.yaml" || fail "cannot write $work/pg.yaml"
	say "settings of both processes: $work/pg.yaml (store.backend: postgres, the same key file)"
	pa 0 "${jflag[@]}" store migrate --to "$pg_url" --key-file "$work/accounts.key"
	[ "$json" = 1 ] && out_has '"verified": true' || out_has "read back and verified"
	claim "the sqlite store's accounts are in PostgreSQL, revisions kept"
	ctl "$pv_port" POST "/__control/kick?email=alice@example.com" >/dev/null || fail "cannot kick alice"
	say "fake-pixverse ends alice's session again; two processes, each its own manager, call at once:"
	pv_stats
	before_ok=$(pv_count logins_ok) before_req=$(pv_count login) before_ref=$(pv_count refresh)
	for i in 1 2; do
		"$prog" -c "$work/pg.yaml" --log-file "$log" "${jflag[@]}" status "$alice" \
			>"$work/p$i.out" 2>"$work/p$i.err" &
		ppid_of[i]=$!
	done
	for i in 1 2; do
		wait "${ppid_of[i]}"
		rc=$?
		printf '  $ provauth -c pg.yaml status %s   # process %d\n' "$alice" "$i"
		sed 's/^/    /' "$work/p$i.out" "$work/p$i.err"
		cat "$work/p$i.out" "$work/p$i.err" >>"$work/transcript"
		[ "$rc" -eq 0 ] || fail "process $i exited with $rc, expected 0"
		grep -q credits "$work/p$i.out" || fail "process $i did not read the credits"
	done
	pv_stats
	pg_logins=$(($(pv_count logins_ok) - before_ok))
	pg_refreshes=$(($(pv_count refresh) - before_ref))
	expect_delta "logins for the two processes" "$before_ok" "$(pv_count logins_ok)" 1
	expect_delta "login requests for the two processes" "$before_req" "$(pv_count login)" 1
	claim "both calls succeeded with one login: the process that took the lease logged in and stored"
	say "   the session; the other used the stored one (waking when the lease was released, if it was waiting)"
	step_events
fi

# ---- 7 ----
heading "a generation job through the account pool, its session killed on the way"
# Jobs of a few seconds: queued half a second, then processing.
ctl "$pv_port" POST "/__control/jobs?queue_ms=500&process_ms=4000&early_cdn_ms=500" >/dev/null ||
	fail "cannot set the fake's job durations"
say "the pool picks a Pixverse account that can take the job: bob's session is invalid since"
say "step 4, so alice's; the job is submitted and followed until it ends (--wait)"
# Alice's live session is in the store that logged her in last: PostgreSQL after step 6.
gen_settings=$work/provauth.yaml
[ "$pg_ran" = 1 ] && gen_settings=$work/pg.yaml
pv_stats
before_ok=$(pv_count logins_ok)
printf '  $ provauth'; printf ' %s' "${jflag[@]}"
printf ' generate --provider pixverse --prompt "a lighthouse at dusk" --duration 2 --wait\n'
"$prog" -c "$gen_settings" --log-file "$log" "${jflag[@]}" generate --provider pixverse \
	--prompt "a lighthouse at dusk" --duration 2 --wait >"$work/out" 2>"$work/err" &
gen_pid=$!
# Once the job is in flight at the fake, alice's session is ended under it.
for _ in $(seq 200); do
	submitted=$(ctl "$pv_port" POST "/__control/job_stats?email=alice@example.com" | json_num submitted)
	[ "${submitted:-0}" -ge 1 ] && break
	sleep 0.05
done
[ "${submitted:-0}" -ge 1 ] || fail "the job never reached fake-pixverse"
ctl "$pv_port" POST "/__control/kick?email=alice@example.com" >/dev/null || fail "cannot kick alice"
say "(the job is in flight: fake-pixverse now answers ErrCode 10005 to alice's token)"
wait "$gen_pid"
rc=$?
cat "$work/out" "$work/err" >>"$work/transcript"
sed 's/^/    /' "$work/out" "$work/err"
[ "$rc" -eq 0 ] || fail "'provauth generate --wait' exited with $rc, expected 0"
if [ "$json" = 1 ]; then
	gen_url=$(json_str url <"$work/out")
	gen_handle=$(json_str handle <"$work/out")
else
	gen_url=$(sed -n 's/^result: *//p' "$work/out")
	gen_handle=$(sed -n 's/^job: *//p' "$work/out")
fi
case $gen_url in "$pv/media/web/ori/"*) ;; *) fail "the job's result is not a real output URL: '$gen_url'" ;; esac
case $gen_handle in "$alice/"*) ;; *) fail "the job did not run on alice's account: '$gen_handle'" ;; esac
pv_stats
gen_logins=$(($(pv_count logins_ok) - before_ok))
expect_delta "logins while the job ran" "$before_ok" "$(pv_count logins_ok)" 1
claim "job $gen_handle done: one login mended the killed session and the job went on"
say "   result: $gen_url"
pa_settings=$gen_settings pa 0 "${jflag[@]}" pool --provider pixverse
[ "$json" = 1 ] && out_has '"reservations": []' || out_has "$alice"
claim "the finished job gave its slot back to the pool"
step_events

# ---- 8 ----
heading "provauthd: the same over HTTP, and a webhook for the account that needs a human"
d_logins=0 d_refreshes=0
daemon=$build/daemon/provauthd
[ -x "$daemon" ] || fail "$daemon is missing: build first"
command -v curl >/dev/null 2>&1 || fail "curl is missing (./dev deps installs it)"
mkdir -p "$work/daemon" || fail "cannot create $work/daemon"
# A bearer token (the settings hold only its hash) and the webhook's secret.
keep_secret daemon.token "$(random_hex 32)"
keep_secret webhook.secret "$(random_hex 24)"
# curl reads the header from a file: the token is never on a command line.
printf 'Authorization: Bearer %s\n' "$(cat "$work/secrets/daemon.token")" >"$work/daemon/auth.header"
hash=$("$daemon" --hash-token <"$work/secrets/daemon.token") || fail "provauthd --hash-token failed"
# The receiver: prints each event it gets, after checking its signature.
start receiver python3 -c '
import hashlib, hmac, http.server, sys
secret = open(sys.argv[1], "rb").read().strip()
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ts = self.headers.get("X-Provauth-Timestamp", "")
        got = self.headers.get("X-Provauth-Signature", "")
        want = "v1=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        good = hmac.compare_digest(want, got)
        print(("signature ok: " if good else "BAD SIGNATURE: ") + body.decode(), flush=True)
        self.send_response(204 if good else 401)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
print("PORT=%d" % server.server_address[1], flush=True)
server.serve_forever()
' "$work/secrets/webhook.secret"
rx_port=$(port_of receiver) || exit 1
{
	sed -n '1,/^providers:/{/^providers:/!p}' "$work/provauth.yaml" |
		sed "s|$work/accounts.db|$work/daemon/accounts.db|"
	sed -n '/^providers:/,$p' "$work/provauth.yaml"
	cat <<EOF
daemon:
  listen: 127.0.0.1:0
  ready_file: $work/daemon/ready.json
  state_dir: $work/daemon
  tokens:
    - name: demo
      sha256: $hash
      scope: admin
  keeper:
    # The demo counts logins: no keeping behind its back.
    enabled: false
  webhook:
    url: http://127.0.0.1:$rx_port/hooks/provauth
    secret: \${DEMO_WEBHOOK_SECRET}
    backoff_ms: 100
EOF
} >"$work/daemon/provauthd.yaml" || fail "cannot write the daemon's settings"
say "provauthd settings: $work/daemon/provauthd.yaml (its own sqlite store, one admin token by"
say "its hash, the webhook to a receiver on 127.0.0.1:$rx_port that checks each signature)"
printf '  $ provauthd --config %s &\n' "$work/daemon/provauthd.yaml"
daemon_log=$work/daemon/provauthd.log
DEMO_WEBHOOK_SECRET=$(cat "$work/secrets/webhook.secret") \
	"$daemon" --config "$work/daemon/provauthd.yaml" 2>"$daemon_log" &
daemon_pid=$!
pids+=("$daemon_pid")
for _ in $(seq 200); do [ -s "$work/daemon/ready.json" ] && break; sleep 0.05; done
url=$(json_str url <"$work/daemon/ready.json")
[ -n "$url" ] || { tail -5 "$daemon_log" >&2; fail "provauthd did not get ready"; }
say "serving on $url"

# api METHOD PATH [BODY-FILE]: curl with the token's header file; the reply in
# $work/out, its status in $http_status.
api() {
	local method=$1 path=$2 body=${3:-}
	local args=(-sS -o "$work/out" -w '%{http_code}' -H @"$work/daemon/auth.header" -X "$method")
	[ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data-binary @"$body")
	printf '  $ curl -H @auth.header -X %s %s%s%s\n' "$method" "$url" "$path" "${body:+ -d @$(basename "$body")}"
	http_status=$(curl "${args[@]}" "$url$path" 2>"$work/err")
	cat "$work/out" "$work/err" >>"$work/transcript"
	sed 's/^/    /' "$work/out"; echo
	sed 's/^/    /' "$work/err"
}
# import_body EMAIL PASSWORD-OR-EMPTY > FILE: the import-cookies request of notes C.
import_body() {
	local token
	token=$(ctl "$pv_port" POST "/__control/login_token?email=$1" | json_str token)
	[ -n "$token" ] || fail "fake-pixverse gave no browser token for $1"
	keep_secret "${1%@*}.http.jwt" "$token"
	printf '{"provider_id": "pixverse", "url": "%s", "raw_data": {"cookies": {"_ai_token": "%s"}}%s}\n' \
		"$pv" "$token" "${2:+, \"password\": \"$2\"}"
}

import_body dave@example.com dave-demo-pw >"$work/daemon/dave.json"
keep_secret dave.pw dave-demo-pw
api POST /v1/accounts/import-cookies "$work/daemon/dave.json"
[ "$http_status" = 200 ] || [ "$http_status" = 201 ] || fail "import-cookies answered $http_status"
dave=$(json_str account_id <"$work/out")
[ -n "$dave" ] || fail "import-cookies did not name the account"
claim "dave@example.com imported over HTTP as $dave, with his password"
say "as in step 2, a reauth with the stored password makes it an account provauth may log in again:"
printf '{}\n' >"$work/daemon/empty.json"
pv_stats
before_ok=$(pv_count logins_ok) before_ref=$(pv_count refresh)
api POST "/v1/accounts/$dave/reauth" "$work/daemon/empty.json"
[ "$http_status" = 200 ] || fail "reauth answered $http_status"
out_has '"success":true'
pv_stats
expect_delta "logins for dave's reauth" "$before_ok" "$(pv_count logins_ok)" 1
d_logins=1
claim "one login; auth method password"
ctl "$pv_port" POST "/__control/kick?email=dave@example.com" >/dev/null || fail "cannot kick dave"
say "fake-pixverse ends dave's session."
pv_stats
before_ok=$(pv_count logins_ok) before_ref=$(pv_count refresh)
api GET "/v1/accounts/$dave/pixverse-status"
[ "$http_status" = 200 ] || fail "pixverse-status answered $http_status"
out_has '"credits"'
pv_stats
expect_delta "logins for dave's status" "$before_ok" "$(pv_count logins_ok)" 1
claim "one login with the stored password, then the status: credits read"
d_logins=$((d_logins + $(pv_count logins_ok) - before_ok))
d_refreshes=$(($(pv_count refresh) - before_ref))

import_body bob@example.com '' >"$work/daemon/bob.json"
api POST /v1/accounts/import-cookies "$work/daemon/bob.json"
bob_d=$(json_str account_id <"$work/out")
[ -n "$bob_d" ] || fail "import-cookies did not name bob's account"
# What Google Sign-In would hand bob's browser; connect-google exchanges it for a session.
idtoken=$(ctl "$pv_port" POST "/__control/google_id_token?email=bob@example.com" | json_str id_token)
[ -n "$idtoken" ] || fail "no Google ID token for bob from fake-pixverse"
keep_secret bob.idtoken "$idtoken"
printf '{"id_token": "%s"}\n' "$(cat "$work/secrets/bob.idtoken")" >"$work/daemon/google.json"
api POST "/v1/accounts/$bob_d/connect-google" "$work/daemon/google.json"
[ "$http_status" = 200 ] || fail "connect-google answered $http_status"
out_has '"auth_method":"google"'
ctl "$pv_port" POST "/__control/kick?email=bob@example.com" >/dev/null || fail "cannot kick bob"
say "bob@ signs in with Google (his ID token exchanged for a session); fake-pixverse ends it."
pv_stats
before_ok=$(pv_count logins_ok) before_ref=$(pv_count refresh)
api GET "/v1/accounts/$bob_d/pixverse-status"
pv_stats
expect_delta "logins for bob (Google)" "$before_ok" "$(pv_count logins_ok)" 0
d_refreshes=$((d_refreshes + $(pv_count refresh) - before_ref))
for _ in $(seq 100); do grep -q "$bob_d" "$work/receiver.port" && break; sleep 0.05; done
say "the receiver got:"
grep -F "$bob_d" "$work/receiver.port" | sed 's/^/    /'
grep -F "$bob_d" "$work/receiver.port" | grep -q '^signature ok: .*"account.needs_human"' ||
	fail "no signed account.needs_human webhook for bob's account"
grep -F "$bob_d" "$work/receiver.port" | grep -q '"session_lost"' || fail "the webhook does not say session_lost"
claim "a signed webhook said bob's account needs a human (session_lost); no password was tried"
say "SIGTERM: provauthd drains (no request is in flight) and exits"
kill -TERM "$daemon_pid" 2>/dev/null
wait "$daemon_pid"
rc=$?
[ "$rc" -eq 0 ] || fail "provauthd exited with $rc after SIGTERM, expected 0"
grep -q '"event":"stopped"' "$daemon_log" || fail "provauthd did not log that it stopped"
claim "provauthd drained and exited 0"
# Its log is its own (JSON lines on stderr); the summary scans it for secrets too.
names=$(sed -n 's/.*"event":"\([^"]*\)".*/\1/p' "$daemon_log" | grep -v -e '^plugin_loaded$' -e '^http_request$' |
	uniq | paste -sd ' ' -)
say "provauthd's events (and an http_request for each request): $names"
say "provauthd's log: $daemon_log"

# ---- 9 ----
heading "summary"
pv_stats
px_stats
logins=$(pv_count logins_ok) login_reqs=$(pv_count login) refreshes=$(pv_count refresh)
tokens=$(px_count token) api=$(px_count api)
want=$((2 + pg_logins + gen_logins + d_logins))
[ "$logins" -eq "$want" ] || fail "fake-pixverse saw $logins logins, expected $want (steps 2, 3, 6, 7, 8)"
[ "$login_reqs" -eq "$want" ] || fail "fake-pixverse saw $login_reqs login requests, expected $want"
want_ref=$((3 + pg_refreshes + d_refreshes))
[ "$refreshes" -eq "$want_ref" ] ||
	fail "fake-pixverse saw $refreshes refresh requests, expected $want_ref (steps 3, 4, 6, 7, 8)"
[ "$tokens" -eq 2 ] || fail "fake-pixiv saw $tokens token requests, expected 2 (add and one refresh)"
[ "$api" -eq 2 ] || fail "fake-pixiv saw $api API requests, expected 2 (rejected, then retried)"
say "1. cookies imported for alice@ (auth method unknown); status read her credits"
say "2. reauth with her password: auth method password"
say "3. session kicked: one automatic login, the call succeeded"
say "4. bob@ (Google) lost his session: no password tried, told to import cookies"
say "5. pixiv account added from a refresh token; expired access token: one refresh"
if [ "$pg_ran" = 1 ]; then
	say "6. through PostgreSQL, two processes on alice's dead session: one login, both calls succeeded"
else
	say "6. (skipped: no PostgreSQL server)"
fi
say "7. a generation job through the pool, alice's session killed on the way: one login, job done"
say "   ($gen_url)"
say "8. provauthd: dave@ imported with curl and logged in (reauth); his session killed: one login,"
say "   status read. bob@ (Google) lost his: a signed account.needs_human webhook, no password tried"
say "fake-pixverse: $logins logins ($login_reqs login requests), $refreshes refresh requests"
say "               (refused every time: a kicked session cannot be refreshed)"
say "fake-pixiv:    $tokens token requests (1 to add the account, 1 refresh), $api API requests"
# No secret the demo handled may show in what provauth printed or logged.
n=0
for f in "$work"/secrets/*; do
	s=$(cat "$f")
	[ -n "$s" ] || fail "secret file $f is empty"
	case $f in *.cookies) continue ;; esac   # their values are the tokens checked here
	grep -F -q -- "$s" "$work/transcript" && fail "a secret ($(basename "$f")) appears in provauth's output"
	grep -F -q -- "$s" "$log" && fail "a secret ($(basename "$f")) appears in the event log"
	grep -F -q -- "$s" "$daemon_log" && fail "a secret ($(basename "$f")) appears in provauthd's log"
	n=$((n + 1))
done
claim "none of the $n secrets used (passwords, tokens) appears in the output, the event log or provauthd's"
say "event log: $log"
say "           ($(wc -l <"$log") JSON lines; a secret field would show only as an fp:... fingerprint)"
printf '\n%sDemo complete.%s\n' "$bold" "$off"
exit 0
