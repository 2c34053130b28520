#!/bin/bash
# The installed tree works for outside users: examples/embed and
# examples/plugin build with their own Makefiles from nothing but what
# `make install` put down (headers, libprovauth, provauth.pc), the
# installed provauth tool loads the example plugin and runs it against a
# loopback server, and the embedding example runs a job pool against the
# fake Pixverse server through a session lost mid-run.
#
# make check:        installs the build into a DESTDIR under a temp dir.
# make installcheck: PA_INSTALLED=1, uses the real installation
#                    (make distcheck runs this one).
set -u
: "${PA_SRCDIR:?run through make check}" "${PA_BUILDDIR:?run through make check}"
: "${PA_BINDIR:?}" "${PA_LIBDIR:?}" "${PA_INCLUDEDIR:?}" "${PA_PLUGINDIR:?}" "${PA_MANDIR:?}" "${PA_PKGDATADIR:?}"

# shellcheck source=tests/cli/cli_helpers.sh
. "$PA_SRCDIR/tests/cli/cli_helpers.sh"
cli_setup pa-install
unset PROVAUTH_PLUGIN_PATH PROVAUTH_STORE_KEY MAKEFLAGS MFLAGS MAKELEVEL
export XDG_DATA_HOME="$tmp/home/.local/share"
die() { not_ok "$1"; exit 1; }

# ---- the installed tree ----
if [ "${PA_INSTALLED:-}" = 1 ]; then
	# The real installation: its built-in plugin directory is the point.
	unset PROVAUTH_NO_BUILTIN_PLUGINS
	root=
	export PKG_CONFIG_PATH="$PA_LIBDIR/pkgconfig"
else
	root=$tmp/dest
	${PA_MAKE:-make} -C "$PA_BUILDDIR" install DESTDIR="$root" >"$tmp/out" 2>"$tmp/err" ||
		die "make install DESTDIR=..."
	ok "make install DESTDIR=..."
	# Relocate the .pc as a packager's sysroot would, for provauth alone.
	mkdir -p "$tmp/pc"
	for pc in provauth provauth-plugin; do
		sed "s|^prefix=|prefix=$root|" "$root$PA_LIBDIR/pkgconfig/$pc.pc" >"$tmp/pc/$pc.pc"
	done
	export PKG_CONFIG_PATH="$tmp/pc"
fi
bin=$root$PA_BINDIR/provauth
export LD_LIBRARY_PATH="$root$PA_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for f in "$bin" "$root$PA_LIBDIR/libprovauth.so" "$root$PA_INCLUDEDIR/provauth/plugin.h" \
	"$root$PA_INCLUDEDIR/provauth/types.h" "$root$PA_INCLUDEDIR/provauth/plugin_util.h" \
	"$root$PA_LIBDIR/libprovauth_plugin.a" \
	"$root$PA_PLUGINDIR/pixverse.so" "$root$PA_MANDIR/man1/provauth.1" \
	"$root$PA_PKGDATADIR/provauth.yaml.sample"; do
	check "installed: ${f#"$root"}" '[ -f "$f" ]'
done
check "pkg-config finds the plugin directory" \
	'[ "$(pkg-config --variable=plugindir provauth)" = "$root$PA_PLUGINDIR" ]'

# ---- build the examples as an outside user would: copy, make ----
build_flags=(CC="${PA_CC:-cc}" CFLAGS="${PA_CFLAGS:-} -Wall -Wextra -Werror" LDFLAGS="${PA_LDFLAGS:-}")
cp -r "$PA_SRCDIR/examples/plugin" "$PA_SRCDIR/examples/embed" "$tmp/" && chmod -R u+w "$tmp/plugin" "$tmp/embed"
make -C "$tmp/plugin" "${build_flags[@]}" >"$tmp/out" 2>"$tmp/err" || die "examples/plugin builds"
ok "examples/plugin builds with its own Makefile"
check "... linking the helper library through pkg-config provauth-plugin" \
	'pkg-config --libs provauth-plugin | grep -q -- -lprovauth_plugin && grep -q "provauth-plugin" "$tmp/plugin/Makefile"'
check "... and nothing of libprovauth" '! ldd "$tmp/plugin/bearer.so" | grep -q libprovauth'
check "the plugin exports only provauth_plugin_init" \
	'[ "$(nm -D --defined-only "$tmp/plugin/bearer.so" | awk "\$2 == \"T\" {print \$3}")" = provauth_plugin_init ]'
make -C "$tmp/embed" "${build_flags[@]}" >"$tmp/out" 2>"$tmp/err" || die "examples/embed builds"
ok "examples/embed builds with its own Makefile"
# The README's embedding snippet compiles as it stands.
sed -n '/^## Embedding/,/^## /p' "$PA_SRCDIR/README.md" | sed -n '/^```c$/,/^```$/p' | sed '1d;$d' >"$tmp/snippet.c"
check "the README's embedding snippet compiles" \
	'[ -s "$tmp/snippet.c" ] && ${PA_CC:-cc} ${PA_CFLAGS:-} -Wall -Wextra -Werror $(pkg-config --cflags provauth) -c -o "$tmp/snippet.o" "$tmp/snippet.c" 2>"$tmp/err"'

if [ -n "$root" ]; then
	# DESTDIR tree: the plugin goes where pkg-config says; the tool's
	# compiled-in directory does not exist yet, so name it.
	plugins=$root$PA_PLUGINDIR
	make -C "$tmp/plugin" install >"$tmp/out" 2>"$tmp/err" || die "make install of the plugin"
	export PROVAUTH_PLUGIN_PATH=$plugins
else
	# Real prefix: leave it as `make uninstall` expects; the builtin
	# plugins come from the compiled-in directory.
	plugins=$tmp/plugins
	make -C "$tmp/plugin" install PLUGINDIR="$plugins" >"$tmp/out" 2>"$tmp/err" || die "make install of the plugin"
	export PROVAUTH_PLUGIN_PATH=$plugins
fi
check "the plugin is installed" '[ -f "$plugins/bearer.so" ]'

# ---- the example plugin needs its settings block, as the README says ----
printf 'store:\n  backend: memory\n' >"$tmp/no-bearer.yaml"
"$bin" -c "$tmp/no-bearer.yaml" plugins >"$tmp/out" 2>"$tmp/err"
check "without providers.bearer the plugin is skipped with its own settings key" \
	'grep -qF "providers.bearer.base_url: required" "$tmp/out" "$tmp/err"'
check "... never a placeholder for the provider" '! grep -qF "<provider>" "$tmp/out" "$tmp/err"'
"$bin" -c "$tmp/no-bearer.yaml" config check >"$tmp/out" 2>"$tmp/err"
rc=$?
check "... and config check fails, naming the key" '[ $rc = 1 ] && grep -qF "providers.bearer.base_url" "$tmp/out"'
# The block in the README's "Writing a plugin" section, as printed there.
sed -n '/^## Writing a plugin/,/^## [^W]/p' "$PA_SRCDIR/README.md" | sed -n '/^    providers:$/,/^$/p' |
	sed 's/^    //' >"$tmp/readme-bearer.yaml"
check "the README shows a providers.bearer block" 'grep -q "^    base_url: https://" "$tmp/readme-bearer.yaml"'
"$bin" -c "$tmp/readme-bearer.yaml" config check >"$tmp/out" 2>"$tmp/err"
rc=$?
check "with the README's block, config check passes" '[ $rc = 0 ] && grep -q "bearer" "$tmp/out"'

# ---- loopback servers ----
# http PORT METHOD PATH: the reply body of a control request (bash /dev/tcp, no curl needed)
http() {
	local reply
	exec 5<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n' "$2" "$3" >&5
	reply=$(cat <&5)
	exec 5<&-
	printf '%s\n' "${reply#*$'\r\n\r\n'}"
}
# stat PORT KEY: a number from /__control/stats
stat() { http "$1" GET /__control/stats | grep -o "\"$2\": *[0-9]*" | grep -o '[0-9]*$'; }

start bearer "$PA_BUILDDIR/tests/fake/fake-bearer" --user "ann@example.com=rt-ann-9f2c41d7"
start pixverse "$fake_pv"
hold_fakes
wait_port bearer
port_bearer=$port
wait_port pixverse
port_pixverse=$port

pv=http://127.0.0.1:$port_pixverse
umask 077
cat >"$tmp/provauth.yaml" <<EOF
store:
  backend: sqlite
  path: $tmp/accounts.db
providers:
  bearer:
    base_url: http://127.0.0.1:$port_bearer
  pixverse:
    auto_reauth_enabled: true
    reauth_cooldown: 0
    base_url: $pv
    web_origin: $pv
    openapi_base_url: $pv
EOF
pa() { "$bin" -c "$tmp/provauth.yaml" "$@" >"$tmp/out" 2>"$tmp/err"; }

# ---- the installed tool loads the example plugin ----
check "provauth plugins lists bearer from the plugin directory" \
	'pa plugins && grep -q "^bearer" "$tmp/out" && grep -qF "$plugins/bearer.so" "$tmp/out"'
check "... next to the installed providers" 'grep -q "^pixverse" "$tmp/out" && grep -q "^pixiv" "$tmp/out"'
check "config check accepts providers.bearer" 'pa config check'

export RT=rt-ann-9f2c41d7
check "accounts add --provider bearer (import through the plugin)" \
	'pa --json accounts add --provider bearer --from-env RT && grep -q "ann@example.com" "$tmp/out"'
bearer_id=$(grep -o '"id": *"[^"]*"' "$tmp/out" | sed 's/.*"\([^"]*\)"$/\1/')
check "call whoami answers the token's owner" 'pa call "$bearer_id" whoami && grep -q "ann@example.com" "$tmp/out"'
check "one token exchange so far (import)" '[ "$(stat "$port_bearer" tokens_issued)" = 1 ]'

http "$port_bearer" POST "/__control/revoke?email=ann@example.com" >/dev/null
check "a revoked token is refreshed and the call retried" \
	'pa -v call "$bearer_id" whoami && grep -q "ann@example.com" "$tmp/out"'
check "... with exactly one more exchange" '[ "$(stat "$port_bearer" tokens_issued)" = 2 ]'

http "$port_bearer" POST "/__control/fault?endpoint=whoami&kind=status&param=403" >/dev/null
check "403 fails the call" '! pa call "$bearer_id" whoami'
check "... without a token exchange (not a session error)" '[ "$(stat "$port_bearer" tokens_issued)" = 2 ]'
http "$port_bearer" POST "/__control/fault?endpoint=whoami&kind=rate_limit&param=7" >/dev/null
check "429 fails the call as a rate limit" '! pa call "$bearer_id" whoami && grep -qi "slow down\|rate" "$tmp/err"'
check "no output or log shows a token" \
	'pa -v call "$bearer_id" whoami; ! grep -qE "rt-ann-9f2c41d7|at-[0-9]+-[0-9]+" "$tmp"/out "$tmp"/err'

# ---- the embedding example: a job pool through a session lost mid-run ----
# seed EMAIL PASSWORD: an account from cookies, then logged in with its
# password (auth_method password: recovery may log it in again). Prints the id.
seed() {
	local tok id
	tok=$(http "$port_pixverse" POST "/__control/login_token?email=$1" | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
	printf '_ai_token=%s\n' "$tok" >"$tmp/cookies"
	pa --json accounts import-cookies --provider pixverse --from-file "$tmp/cookies" || return 1
	id=$(grep -o '"id": *"[^"]*"' "$tmp/out" | sed 's/.*"\([^"]*\)"$/\1/')
	PW=$2 pa accounts reauth "$id" --password-from-env PW || return 1
	echo "$id"
}
alice=$(seed alice@example.com alice-demo-pw) || die "seed alice"
dave=$(seed dave@example.com dave-demo-pw) || die "seed dave"
ok "seed: alice and dave imported and logged in"
http "$port_pixverse" POST /__control/reset >/dev/null

# Jobs come through a FIFO so that a session can be killed between two batches.
mkfifo "$tmp/jobs"
trap '' PIPE  # if embed-jobs dies, writing a job fails instead of killing this script
timeout 120 "$tmp/embed/embed-jobs" -c "$tmp/provauth.yaml" -w 4 -u "$pv" <"$tmp/jobs" >"$tmp/jobs.out" 2>"$tmp/jobs.err" &
embed=$!
pids="$pids $embed"
exec 6>"$tmp/jobs"
# wait_jobs N: until N job lines were printed (30 s at most)
wait_jobs() {
	local i
	for i in $(seq 300); do
		[ "$(grep -c '^job ' "$tmp/jobs.out")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
for i in $(seq 4); do printf '%s\n%s\n' "$alice" "$dave" >&6; done
check "first batch done" 'wait_jobs 8'
# alice logs in elsewhere: her stored session is dead from now on.
http "$port_pixverse" POST "/__control/kick?email=alice@example.com" >/dev/null
for i in $(seq 8); do printf '%s\n%s\n' "$alice" "$dave" >&6; done
exec 6>&-
wait "$embed"
rc=$?
cp "$tmp/jobs.out" "$tmp/out"
cp "$tmp/jobs.err" "$tmp/err"
check "embed-jobs exits 0" '[ $rc = 0 ]'
check "all 24 jobs succeeded" \
	'[ "$(grep -c "^job [0-9]* $alice ok$" "$tmp/out")" = 12 ] && [ "$(grep -c "^job [0-9]* $dave ok$" "$tmp/out")" = 12 ]'
check "the server saw exactly one login" '[ "$(stat "$port_pixverse" logins_ok)" = 1 ]'
check "the example's log callback got the recovery events" \
	'grep -q "^embed-jobs: info pixverse_auto_reauth_completed account_id=$alice success=1" "$tmp/err"'
check "... and counted them" 'grep -q "^embed-jobs: 24 jobs, 0 failed, [1-9][0-9]* log events received$" "$tmp/err"'
check "... and printed no token or password" '! grep -qE "eyJ|demo-pw" "$tmp/err" "$tmp/out"'

echo nosuch-account >"$tmp/jobs1"
timeout 60 "$tmp/embed/embed-jobs" -c "$tmp/provauth.yaml" -u "$pv" <"$tmp/jobs1" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "a failed job makes embed-jobs exit 1" '[ $rc = 1 ] && grep -q "^job 1 nosuch-account failed: " "$tmp/out"'

cli_finish
