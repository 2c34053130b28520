# The test scripts' one set of helpers (sourced; POSIX sh, and bash for
# tests/install): TAP-like ok/not ok lines counted in $failures, assertions on
# files, provauth runs whose output is kept for the secret check, and the fake
# servers as background programs. Scripts source it as
#   . "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
# which works in-tree and in VPATH/distcheck builds alike, call cli_setup when
# they need a temp dir, and end with cli_finish.
: "${PA_BUILDDIR:?run through make check}"

prog="$PA_BUILDDIR/provauth"
# shellcheck disable=SC2034 # for the sourcing scripts
fake_pv="$PA_BUILDDIR/tests/fake/fake-pixverse"
fake_px="$PA_BUILDDIR/tests/fake/fake-pixiv"
failures=0
tmp='' pids='' settings='' all=''

# need_programs FILE...: a test cannot run without them (exit 99: hard error)
need_programs() {
	for f in "$@"; do
		[ -x "$f" ] || { echo "missing $f"; exit 99; }
	done
}

# cli_setup TMP_PREFIX: $tmp (removed on exit, with any fake server still
# running), a HOME, settings and data directory of its own, no proxy, no
# PROVAUTH_CONFIG or PROVAUTH_STORE_KEY; $all collects what provauth printed,
# for the secret check.
cli_setup() {
	tmp=$(mktemp -d "/tmp/$1-XXXXXX") || exit 99
	trap cli_cleanup EXIT
	trap 'exit 99' INT TERM HUP
	unset PROVAUTH_CONFIG PROVAUTH_STORE_KEY http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
	XDG_CONFIG_HOME="$tmp/xdg"
	XDG_DATA_HOME="$tmp/xdg-data"
	HOME="$tmp/home"
	export XDG_CONFIG_HOME XDG_DATA_HOME HOME
	all="$tmp/all.log"
	: >"$all"
	# run's settings file; a script that passes -c itself empties it
	settings="$tmp/provauth.yaml"
}
cli_cleanup() {
	exec 3>&-
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
cli_finish() {
	echo "$failures failure(s)"
	[ "$failures" -eq 0 ]
}

ok() { echo "ok - $1"; }
# not_ok DESCRIPTION: a failed check, shown with the last command's output
not_ok() {
	echo "not ok - $1"
	failures=$((failures + 1))
	[ -n "$tmp" ] || return 0
	for f in "$tmp/out" "$tmp/err"; do
		if [ -s "$f" ]; then echo "--- $f"; tail -n 50 "$f"; fi
	done
}
# check DESCRIPTION SHELL-CODE: ok when the code (eval'ed) succeeds
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
# has FILE DESCRIPTION FIXED-STRING...: one line of FILE holds every string
has() {
	file=$1 desc=$2
	shift 2
	found=1
	lines=$(cat "$file")
	for s in "$@"; do
		lines=$(printf '%s\n' "$lines" | grep -F -- "$s") || { found=0; break; }
	done
	if [ $found = 1 ]; then ok "$desc"; else not_ok "$desc: no line of $file with: $*"; fi
}
# lacks FILE DESCRIPTION FIXED-STRING
lacks() {
	if grep -F -q -- "$3" "$1"; then not_ok "$2"; else ok "$2"; fi
}

# run EXPECTED_STATUS DESCRIPTION ARGS...: provauth with $settings (if set),
# output in $tmp/out and $tmp/err and appended to $all; stdin passes through
run() {
	want=$1 desc=$2
	shift 2
	if [ -n "$settings" ]; then
		"$prog" -c "$settings" "$@" >"$tmp/out" 2>"$tmp/err"
	else
		"$prog" "$@" >"$tmp/out" 2>"$tmp/err"
	fi
	got=$?
	cat "$tmp/out" "$tmp/err" >>"$all"
	if [ "$got" -eq "$want" ]; then ok "$desc (exit $got)"; else not_ok "$desc: exit $got, expected $want"; fi
}
# check_json DESCRIPTION PYTHON-CODE [ARG...]: the code gets the JSON document
# of $tmp/out as `d`, and the ARGs as sys.argv[2:]
check_json() {
	desc=$1 code=$2
	shift 2
	if python3 -c "import json, sys
d = json.load(open(sys.argv[1]))
$code" "$tmp/out" "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
# check_json_style DESCRIPTION: $tmp/out is one JSON document laid out the
# way every --json output of the tool is: two-space indents, one member or
# element a line, "key": value, empty containers as [] and {}, UTF-8 as is.
check_json_style() {
	if python3 -c 'import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
want = json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
if text != want:
    sys.exit("not in the common style; expected:\n" + want[:600])' "$tmp/out" >"$tmp/style.err" 2>&1
	then ok "$1"; else cat "$tmp/style.err"; not_ok "$1"; fi
}
# json_get KEY...: walks the JSON document on stdin
json_get() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1:]:
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$@"
}

# ---- fake servers ----
# ctl METHOD URL: a control request to a fake server; prints the reply body
ctl() {
	python3 -c 'import sys, urllib.request
op = urllib.request.build_opener(urllib.request.ProxyHandler({}))
req = urllib.request.Request(sys.argv[2], method=sys.argv[1], data=b"" if sys.argv[1] == "POST" else None)
sys.stdout.write(op.open(req, timeout=10).read().decode())' "$@"
}
# start NAME PROGRAM ARGS...: a fake server reading $tmp/hold, so that it
# stops at end of input; hold_fakes then keeps that open until the script
# exits, and wait_port NAME sets $port.
start() {
	name=$1
	shift
	[ -p "$tmp/hold" ] || mkfifo "$tmp/hold" || exit 99
	"$@" <"$tmp/hold" >"$tmp/$name.port" 2>"$tmp/$name.log" &
	pids="$pids $!"
}
# Opening the fifo's writer end waits for the servers to open its reader end.
hold_fakes() { exec 3>"$tmp/hold"; }
# port_in FILE: the port of a fake server's "PORT=N" line
port_in() { sed -n 's/^PORT=\([0-9][0-9]*\)$/\1/p' "$1"; }
wait_port() {
	i=0
	while [ $i -lt 200 ]; do
		port=$(port_in "$tmp/$1.port")
		[ -n "$port" ] && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "$1 did not print its port"
	cat "$tmp/$1.log"
	exit 99
}
# start_fakes [FAKE-PIXIV-ARG...]: fake-pixverse and fake-pixiv running until
# the script exits, at $pv and $px
start_fakes() {
	start pixverse "$fake_pv"
	start pixiv "$fake_px" "$@"
	hold_fakes
	wait_port pixverse
	pv="http://127.0.0.1:$port"
	wait_port pixiv
	px="http://127.0.0.1:$port"
}
# fake_settings [PIXVERSE-SETTING...]: $tmp/provauth.yaml, a sqlite store in
# $tmp and both providers at the fakes; each argument ("key: value") is one
# more pixverse setting
fake_settings() {
	cat >"$tmp/provauth.yaml" <<EOF
store:
  backend: sqlite
  path: $tmp/accounts.db
  key_file: $tmp/accounts.key
providers:
  pixiv:
    token_url: $px/auth/token
    api_base_url: $px
  pixverse:
    base_url: $pv
    openapi_base_url: $pv
EOF
	for s in "$@"; do printf '    %s\n' "$s"; done >>"$tmp/provauth.yaml"
}
