#!/bin/sh
# The status page of provauthd as a person sees it: the fake Pixverse, two
# accounts (alice signs in with a password and has her credits synced; bob
# signs in with Google, and his session is killed and then used, so he needs
# a human), provauthd serving them, and Debian's headless Chromium driven
# over WebDriver (tests/daemon/browser.py) that signs in with a token and
# reads the table. A screenshot is kept in $PA_ARTEFACT_DIR (default: the
# build's tests/artefacts/). Without chromium and chromedriver the test is
# skipped, except under CI=1, where it fails.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
: "${PROVAUTH_PLUGIN_PATH:?run through make check}"
daemon="$PA_BUILDDIR/daemon/provauthd"
need_programs "$prog" "$fake_pv" "$daemon"

chromium=$(command -v chromium || true)
driver=$(command -v chromedriver || true)
if [ -z "$chromium" ] || [ -z "$driver" ]; then
	if [ -n "${CI:-}" ]; then
		echo "not ok - chromium and chromium-driver are needed (./dev deps installs them)"
		exit 1
	fi
	echo "skipping: no chromium or chromedriver (apt-get install chromium chromium-driver)"
	exit 77
fi
cli_setup pa-status-page
artefacts=${PA_ARTEFACT_DIR:-$PA_BUILDDIR/tests/artefacts}
mkdir -p "$artefacts" || exit 99

start pixverse "$fake_pv"
hold_fakes
wait_port pixverse
pv="http://127.0.0.1:$port"

reader_token="pa-status-reader-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
reader_hash=$(printf '%s\n' "$reader_token" | "$daemon" --hash-token) || exit 99
umask 077
cat >"$settings" <<EOF
store:
  backend: sqlite
  path: $tmp/accounts.db
  key_file: $tmp/accounts.key
providers:
  pixverse:
    base_url: $pv
    openapi_base_url: $pv
    auto_reauth_enabled: true
    reauth_cooldown: 0
daemon:
  listen: 127.0.0.1:0
  ready_file: $tmp/ready.json
  tokens:
    - name: status-page
      sha256: $reader_hash
      scope: read
  keeper:
    enabled: false
EOF

# ---- alice: a password account with her credits known ----
ctl POST "$pv/__control/login_token?email=alice@example.com" | json_get token >"$tmp/alice.jwt" || exit 99
printf '_ai_token=%s\n' "$(cat "$tmp/alice.jwt")" >"$tmp/alice.cookies"
run 0 "import alice" --json accounts import-cookies --provider pixverse --from-file "$tmp/alice.cookies"
alice=$(json_get id <"$tmp/out")
printf 'alice-demo-pw\n' >"$tmp/alice.pw"
run 0 "alice signs in with her password" accounts reauth "$alice" --password-stdin <"$tmp/alice.pw"
run 0 "alice's credits are synced" pool --provider pixverse --sync

# ---- bob: signs in with Google; his session is killed, then used ----
ctl POST "$pv/__control/login_token?email=bob@example.com" | json_get token >"$tmp/bob.jwt" || exit 99
printf '_ai_token=%s\n' "$(cat "$tmp/bob.jwt")" >"$tmp/bob.cookies"
run 0 "import bob" --json accounts import-cookies --provider pixverse --from-file "$tmp/bob.cookies"
bob=$(json_get id <"$tmp/out")
run 0 "bob signs in with Google" accounts connect-google "$bob"
ctl POST "$pv/__control/kick?email=bob@example.com" >/dev/null || exit 99
run 1 "bob's lost session fails his next call" status "$bob"

# ---- provauthd ----
"$daemon" --config "$settings" >"$tmp/daemon.out" 2>"$tmp/daemon.log" &
daemon_pid=$!
pids="$pids $daemon_pid"
i=0
while [ ! -s "$tmp/ready.json" ] && [ $i -lt 200 ] && kill -0 "$daemon_pid" 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
done
if [ ! -s "$tmp/ready.json" ]; then
	echo "not ok - provauthd did not become ready"
	tail -n 20 "$tmp/daemon.log"
	exit 1
fi
url=$(json_get url <"$tmp/ready.json")
ok "provauthd serves at $url"

# ---- what a person sees ----
shot="$artefacts/status_page.png"
rm -f "$shot"
if python3 "$PA_SRCDIR/tests/daemon/browser.py" --url "$url" --token "$reader_token" --screenshot "$shot" \
	--chromium "$chromium" --chromedriver "$driver" --log "$tmp/chromedriver.log" \
	--expect "alice@example.com" --expect "bob@example.com" --expect "pixverse" \
	--expect "The session was lost and this account signs in with Google: connect it with Google again or import its cookies again." \
	--expect-re 'alice@example\.com\s+ok\s+none\s+[0-9]+ / [0-9]+\s+[a-z_]+ [0-9]+' \
	--expect-re 'bob@example\.com\s+invalid' \
	--absent "$reader_token" --absent "$(cat "$tmp/alice.jwt")" --absent "alice-demo-pw" \
	--absent "$alice" --absent "$bob" >"$tmp/browser.out" 2>&1
then
	cat "$tmp/browser.out"
	ok "the browser's checks"
else
	cat "$tmp/browser.out"
	tail -n 20 "$tmp/chromedriver.log"
	not_ok "the browser's checks"
fi
check "the screenshot is kept in $artefacts" '[ -s "$shot" ]'

# ---- nothing secret in the daemon's log ----
for f in alice.jwt bob.jwt alice.pw; do
	lacks "$tmp/daemon.log" "the daemon's log lacks $f" "$(cat "$tmp/$f")"
done
lacks "$tmp/daemon.log" "the daemon's log lacks the page's token" "$reader_token"
kill -TERM "$daemon_pid" 2>/dev/null
wait "$daemon_pid" 2>/dev/null
cli_finish
