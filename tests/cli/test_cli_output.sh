#!/bin/sh
# What the tool writes and where: text from a server cannot drive the
# terminal (control characters escaped), output that could not be written
# is a failure (exit 1 with a message), --log-file refuses a symlink and
# another user's file, and the tool runs without core dumps.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
: "${PROVAUTH_PLUGIN_PATH:?run through make check}"
need_programs "$prog" "$fake_pv" "$fake_px"
cli_setup pa-cli-out

esc=$(printf '\033')
bel=$(printf '\007')
# A pixiv user whose name clears the screen and retitles the terminal.
rt="pixiv-refresh-out-5d1f"
start_fakes --user "$rt:4343:eve${esc}[2J${esc}]0;owned${bel}:eve@example.com"
umask 077
fake_settings

# ---- control characters from a server ----
PA_TEST_RT=$rt
export PA_TEST_RT
run 0 "accounts add with a hostile user name" accounts add --provider pixiv --from-env PA_TEST_RT
unset PA_TEST_RT
has "$tmp/out" "the name is shown, escaped" 'eve\x1b[2J\x1b]0;owned\x07'
check "no escape character reaches the terminal" '! grep -q "$esc" "$tmp/out" "$tmp/err"'
check "no bell either" '! grep -q "$bel" "$tmp/out" "$tmp/err"'
run 0 "accounts list" accounts list
check "the list holds no escape character" '! grep -q "$esc" "$tmp/out" "$tmp/err"'
eve=$("$prog" -c "$settings" --json accounts list | json_get 0 id)
run 0 "call user_detail --json" --json call "$eve" user_detail
check_json "--json keeps the name exact (JSON escapes it)" 'assert d["user"]["name"] == "eve\x1b[2J\x1b]0;owned\x07", d'
check "--json holds no raw escape character" '! grep -q "$esc" "$tmp/out"'

# ---- output that could not be written ----
run_raw() {
	want=$1 desc=$2
	shift 2
	"$@" 2>"$tmp/err"
	got=$?
	cat "$tmp/err" >>"$all"
	if [ "$got" -eq "$want" ]; then ok "$desc (exit $got)"; else not_ok "$desc: exit $got, expected $want"; fi
}
if [ -w /dev/full ]; then
	run_raw 1 "--version to /dev/full fails" sh -c '"$0" --version >/dev/full' "$prog"
	has "$tmp/err" "... saying why" "provauth: cannot write standard output: No space left on device"
	run_raw 1 "accounts list to /dev/full fails" sh -c '"$0" -c "$1" accounts list >/dev/full' "$prog" "$settings"
	has "$tmp/err" "... saying why" "cannot write standard output"
else
	echo "# /dev/full is not writable here: its cases are left out"
fi
run_raw 1 "a closed standard output fails" sh -c '"$0" --version >&-' "$prog"
has "$tmp/err" "... before doing anything" "provauth: standard output is closed"
run_raw 1 "plugins with a closed standard output fails" sh -c '"$0" -c "$1" plugins >&-' "$prog" "$settings"

# ---- --log-file ----
mkdir -m 1777 "$tmp/shared" || exit 99
: >"$tmp/victim"
ln -s "$tmp/victim" "$tmp/shared/provauth.log" || exit 99
run 1 "--log-file refuses a symlink" --log-file "$tmp/shared/provauth.log" accounts list
has "$tmp/err" "... naming it" "cannot open the log file $tmp/shared/provauth.log: it is a symbolic link"
check "the symlink's target is untouched" '[ ! -s "$tmp/victim" ]'
run 1 "--log-file refuses a device" --log-file /dev/null accounts list
has "$tmp/err" "... saying it is no regular file" "not a regular file"
run 0 "--log-file writes a file of one's own" --log-file "$tmp/own.log" accounts list
check "... created 0600" '[ "$(stat -c %a "$tmp/own.log")" = 600 ]'
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	: >"$tmp/shared/theirs.log"
	chown nobody "$tmp/shared/theirs.log" || exit 99
	run 1 "--log-file refuses another user's file" --log-file "$tmp/shared/theirs.log" accounts list
	has "$tmp/err" "... naming the owner" "it belongs to uid $(id -u nobody), not to the caller"
else
	echo "# not root (or no user nobody): another user's log file cannot be made here"
fi

# ---- no core dumps ----
# The limit is read from /proc while the tool waits on standard input.
mkfifo "$tmp/stdin" || exit 99
exec 4<>"$tmp/stdin"
# Not inheriting fd 4: the tool must see the end of its input once the script closes it.
"$prog" -c "$settings" accounts add --provider pixiv <"$tmp/stdin" >/dev/null 2>&1 4>&- &
waiter=$!
pids="$pids $waiter"
core=''
i=0
while [ $i -lt 100 ]; do
	core=$(sed -n 's/^Max core file size  *\([0-9a-z]*\)  *\([0-9a-z]*\).*/\1 \2/p' "/proc/$waiter/limits" 2>/dev/null)
	[ "$core" = "0 0" ] && break
	sleep 0.05
	i=$((i + 1))
done
exec 4>&-
wait "$waiter" 2>/dev/null
if [ "$core" = "0 0" ]; then ok "the tool dumps no core (RLIMIT_CORE 0)"; else not_ok "core file size limit is '$core'"; fi

lacks "$all" "no refresh token in any output" "$rt"
cli_finish
