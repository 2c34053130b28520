# Shared by the CLI test scripts (sourced; POSIX sh): a temp dir cleaned up on
# exit, TAP-like ok/not ok lines, provauth runs whose output is kept for the
# secret check, and the fake servers as background programs.
# The sourcing script sets $tmp_prefix first; it gets $tmp, $prog, $all and
# $failures, and ends with cli_finish.
: "${PA_BUILDDIR:?run through make check}" "${PROVAUTH_PLUGIN_PATH:?run through make check}"

prog="$PA_BUILDDIR/provauth"
fake_pv="$PA_BUILDDIR/tests/fake/fake-pixverse"
fake_px="$PA_BUILDDIR/tests/fake/fake-pixiv"
for f in "$prog" "$fake_pv" "$fake_px"; do
	[ -x "$f" ] || { echo "missing $f"; exit 99; }
done
tmp=$(mktemp -d "/tmp/${tmp_prefix:-pa-cli}-XXXXXX") || exit 99
pids=""
cleanup() {
	exec 3>&-
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM HUP
unset PROVAUTH_CONFIG http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
XDG_CONFIG_HOME="$tmp/xdg"
HOME="$tmp/home"
export XDG_CONFIG_HOME HOME
failures=0
all="$tmp/all.log"   # every stdout and stderr of provauth, for the secret check
: >"$all"

ok() { echo "ok - $1"; }
not_ok() {
	echo "not ok - $1"
	failures=$((failures + 1))
	for f in "$tmp/out" "$tmp/err"; do
		if [ -s "$f" ]; then echo "--- $f"; cat "$f"; fi
	done
}
# run EXPECTED_STATUS DESCRIPTION ARGS... (stdin passes through)
run() {
	want=$1 desc=$2
	shift 2
	"$prog" -c "$tmp/provauth.yaml" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	cat "$tmp/out" "$tmp/err" >>"$all"
	if [ "$got" -eq "$want" ]; then ok "$desc (exit $got)"; else not_ok "$desc: exit $got, expected $want"; fi
}
# has FILE DESCRIPTION FIXED-STRING...: one line of FILE holds every string
has() {
	file=$1 desc=$2
	shift 2
	found=1
	lines=$(cat "$file")
	for s in "$@"; do
		lines=$(printf '%s\n' "$lines" | grep -F -- "$s") || { found=0; break; }
	done
	if [ $found = 1 ]; then ok "$desc"; else not_ok "$desc: no line with: $*"; fi
}
lacks() {
	if grep -F -q -- "$3" "$1"; then not_ok "$2"; else ok "$2"; fi
}
# check DESCRIPTION PYTHON-CODE [ARG...]: the code gets the JSON document of
# $tmp/out as `d`, and the ARGs as sys.argv[2:]
check() {
	desc=$1 code=$2
	shift 2
	if python3 -c "import json, sys
d = json.load(open(sys.argv[1]))
$code" "$tmp/out" "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
# ctl METHOD URL: a control request to a fake server; prints the reply body
ctl() {
	python3 -c 'import sys, urllib.request
op = urllib.request.build_opener(urllib.request.ProxyHandler({}))
req = urllib.request.Request(sys.argv[2], method=sys.argv[1], data=b"" if sys.argv[1] == "POST" else None)
sys.stdout.write(op.open(req, timeout=10).read().decode())' "$@"
}
# json_get KEY...: walks the JSON document on stdin
json_get() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1:]:
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$@"
}
# start NAME PROGRAM ARGS...: runs a fake server until fd 3 closes (see
# cli_hold); wait_port NAME then sets $port
start() {
	name=$1
	shift
	"$@" <"$tmp/hold" >"$tmp/$name.port" 2>"$tmp/$name.log" &
	pids="$pids $!"
}
cli_hold_fifo() { mkfifo "$tmp/hold" || exit 99; }
wait_port() {
	i=0
	while [ $i -lt 200 ]; do
		port=$(sed -n 's/^PORT=\([0-9][0-9]*\)$/\1/p' "$tmp/$1.port")
		[ -n "$port" ] && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "$1 did not print its port"
	cat "$tmp/$1.log"
	exit 99
}
cli_finish() {
	echo "$failures failure(s)"
	[ "$failures" -eq 0 ]
}
