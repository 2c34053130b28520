#!/bin/sh
# The provauth tool against fixture plugins: `plugins` (table and --json),
# `config check`, settings file selection, usage errors and --version.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
: "${PA_FIXTURE_DIR:?run through make check}"
need_programs "$prog"
cli_setup pa-cli
# Only the fixture plugins, and each run names its settings file (or none).
unset PROVAUTH_PLUGIN_PATH
# shellcheck disable=SC2034 # run reads it
settings=''

# skipped FILE DESCRIPTION PLUGIN-PATH FIXED-STRING...: the table lists the
# plugin on one line and its reason, holding every string, on the next
skipped() {
	file=$1 desc=$2 path=$3
	shift 3
	reason=$(grep -F -x -A1 -- "  $path" "$file" | sed -n 2p)
	found=1
	[ -n "$reason" ] || found=0
	for s in "$@"; do
		case $reason in *"$s"*) ;; *) found=0 ;; esac
	done
	if [ $found = 1 ]; then ok "$desc"; else not_ok "$desc: $path not followed by a reason with: $*"; fi
}

plugins="$tmp/plugins"
mkdir -m 0755 "$plugins" || exit 99
for f in good no_entry major_mismatch newer_minor init_fails entry_fails; do
	cp "$PA_FIXTURE_DIR/$f.so" "$plugins/" && chmod 0644 "$plugins/$f.so" || exit 99
done
printf 'not an ELF file\n' >"$plugins/bad.so"
chmod 0644 "$plugins/bad.so"
secret="s3cret-never-shown"
# The host's plugin ABI, e.g. "1.1", from "provauth X.Y.Z (plugin ABI 1.1)".
abi=$("$prog" --version | sed -n 's/.*plugin ABI \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
set -- $abi
[ $# -eq 2 ] || { echo "cannot read the plugin ABI from provauth --version"; exit 99; }
abi_major=$1 abi_minor=$2
supported="this host supports $abi_major.0 to $abi_major.$abi_minor"
{
	echo "plugin_dir:"
	echo "  - $plugins"
	echo "providers:"
	echo "  fixture:"
	echo "    greeting: hi"
	echo "    global_password: $secret"
} >"$tmp/provauth.yaml"

# ---- plugins, as a table ----
run 0 "plugins lists providers" -c "$tmp/provauth.yaml" plugins
has "$tmp/out" "good fixture listed with ABI, capabilities, operations and file" \
	"fixture" "$abi_major.$abi_minor" "yes" "no" "greet, count_args" "$plugins/good.so"
has "$tmp/out" "settings file named" "settings: $tmp/provauth.yaml"
has "$tmp/out" "the table has an IMPORTS column" "OPERATIONS" "IMPORTS" "FILE"
has "$tmp/out" "the fixture's import kinds in its row" "fixture" "greet, count_args" "token, cookies" "good.so"
has "$tmp/out" "each import kind described under the table" "fixture" "token" "any text, stored as the session token"
skipped "$tmp/out" "no_entry skipped with its reason" "$plugins/no_entry.so" "no entry point provauth_plugin_init in $plugins/no_entry.so"
skipped "$tmp/out" "major_mismatch skipped with both versions" "$plugins/major_mismatch.so" "ABI $((abi_major + 1)).0," "$supported"
skipped "$tmp/out" "newer_minor skipped with both versions" "$plugins/newer_minor.so" "ABI $abi_major.$((abi_minor + 1))" "$supported"
skipped "$tmp/out" "init_fails skipped with the plugin's error" "$plugins/init_fails.so" "fixture: greeting is required"
skipped "$tmp/out" "entry_fails skipped with the plugin's error" "$plugins/entry_fails.so" "entry_fails: this build is disabled"
skipped "$tmp/out" "bad.so skipped with the ldd hint" "$plugins/bad.so" "check its dependencies with ldd"
has "$tmp/out" "skipped count shown" "Skipped (6)"
lacks "$tmp/out" "secret not in plugins output" "$secret"
lacks "$tmp/err" "secret not in plugins diagnostics" "$secret"

# ---- plugins --json ----
run 0 "plugins --json" -c "$tmp/provauth.yaml" --json plugins
if python3 - "$tmp/out" "$plugins" "$abi_major.$abi_minor" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
d = sys.argv[2]
p = {x["id"]: x for x in doc["providers"]}
assert list(p) == ["fixture"], p
f = p["fixture"]
assert f["file"] == d + "/good.so", f
assert f["abi"] == sys.argv[3] and f["operations"] == ["greet", "count_args"], f
assert f["can_refresh"] is True and f["can_reauth"] is False, f
sk = {x["file"]: x["reason"] for x in doc["skipped"]}
names = ["bad", "entry_fails", "init_fails", "major_mismatch", "newer_minor", "no_entry"]
assert sorted(sk) == sorted(d + "/" + n + ".so" for n in names), sk
assert "ABI %d.0," % (int(sys.argv[3].split(".")[0]) + 1) in sk[d + "/major_mismatch.so"]
assert "greeting is required" in sk[d + "/init_fails.so"]
assert isinstance(doc["warnings"], list)
PY
then ok "--json output has the providers and skipped files"; else not_ok "--json document"; fi
if python3 -c 'import json, sys
f = json.load(open(sys.argv[1]))["providers"][0]
assert f["import_kinds"] == [{"name": "token", "summary": "any text, stored as the session token"},
                             {"name": "cookies", "summary": "any text as well"}], f' "$tmp/out"
then ok "--json lists the import kinds with their summaries"; else not_ok "--json import_kinds"; fi
check_json_style "plugins --json: the common JSON style"
run 0 "--json after the command" -c "$tmp/provauth.yaml" plugins --json
if python3 -m json.tool "$tmp/out" >/dev/null; then ok "json.tool accepts it"; else not_ok "json.tool"; fi
lacks "$tmp/out" "secret not in JSON output" "$secret"

# ---- config check ----
run 1 "config check fails when plugins are refused" -c "$tmp/provauth.yaml" config check
has "$tmp/out" "config check names the refused plugin" "error:" "$plugins/no_entry.so"
has "$tmp/out" "config check counts errors" "6 errors"
lacks "$tmp/out" "secret not in config check output" "$secret"

clean="$tmp/clean"
mkdir -m 0755 "$clean" || exit 99
cp "$PA_FIXTURE_DIR/good.so" "$clean/" && chmod 0644 "$clean/good.so" || exit 99
printf 'plugin_dir:\n  - %s\n  - %s/missing\n' "$clean" "$tmp" >"$tmp/clean.yaml"
run 0 "config check passes with only good plugins" -c "$tmp/clean.yaml" config check
has "$tmp/out" "config check lists providers" "providers: fixture"
has "$tmp/out" "missing plugin directory is a warning" "warning:" "plugin directory $tmp/missing" "does not exist"
run 0 "config check --json" -c "$tmp/clean.yaml" config check --json
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is True and d["providers"]==["fixture"], d' "$tmp/out"
then ok "config check --json document"; else not_ok "config check --json document"; fi
check_json_style "config check --json: the common JSON style"

printf 'plugin_dir: [\n' >"$tmp/broken.yaml"
run 1 "config check reports unparsable settings" -c "$tmp/broken.yaml" config check
has "$tmp/out" "the parse error names the file" "error:" "broken.yaml"

# ---- plugins that crash ----
# Tried in a child process first: the crash names the file and the step, and
# the other plugins still load. crash_entry aborts (signal 6) in its entry
# point; crash_init writes through NULL in init (a sanitizer build turns that
# signal into an exit status, so only the step is checked there).
crashing="$tmp/crashing"
mkdir -m 0755 "$crashing" || exit 99
for f in good crash_init crash_entry; do
	cp "$PA_FIXTURE_DIR/$f.so" "$crashing/" && chmod 0644 "$crashing/$f.so" || exit 99
done
printf 'plugin_dir:\n  - %s\nproviders:\n  fixture:\n    greeting: hi\n' "$crashing" >"$tmp/crashing.yaml"
run 0 "plugins survives plugins that crash" -c "$tmp/crashing.yaml" plugins
has "$tmp/out" "the good plugin is still listed" "fixture" "$crashing/good.so"
skipped "$tmp/out" "a crash in init names the file and the step" "$crashing/crash_init.so" \
	"$crashing/crash_init.so crashed in init ("
skipped "$tmp/out" "a crash in the entry point names the file, step and signal" "$crashing/crash_entry.so" \
	"$crashing/crash_entry.so crashed in its entry point (signal 6)"
run 0 "plugins --json survives them too" -c "$tmp/crashing.yaml" --json plugins
check_json "--json lists the good one and both crashes as skipped" '
assert [p["id"] for p in d["providers"]] == ["fixture"], d
sk = {x["file"]: x["reason"] for x in d["skipped"]}
assert "crashed in init" in sk[sys.argv[2] + "/crash_init.so"], sk
assert "crashed in its entry point (signal 6)" in sk[sys.argv[2] + "/crash_entry.so"], sk' "$crashing"
run 1 "config check survives them and fails" -c "$tmp/crashing.yaml" config check
has "$tmp/out" "config check names the crash in init" "error:" "$crashing/crash_init.so crashed in init ("
has "$tmp/out" "config check names the crash in the entry point" "error:" "$crashing/crash_entry.so crashed in its entry point"
has "$tmp/out" "config check still lists the good provider" "providers: fixture"
printf 'log:\n  level: debug\n' >>"$tmp/crashing.yaml"
run 0 "with log.level debug" -c "$tmp/crashing.yaml" --log-file "$tmp/crashing.log" plugins
has "$tmp/crashing.log" "each call into a plugin is logged first, naming the file" \
	'"plugin_calling"' "$crashing/good.so" '"init"'
has "$tmp/crashing.log" "... the entry point too" '"plugin_calling"' "$crashing/good.so" '"entry point"'

# ---- settings other users can change ----
mkdir -m 0777 "$tmp/open" || exit 99
chmod 0777 "$tmp/open" || exit 99
cp "$tmp/clean.yaml" "$tmp/open/provauth.yaml" || exit 99
run 0 "config check warns about a settings file in a world-writable directory" -c "$tmp/open/provauth.yaml" config check
has "$tmp/out" "... naming the file and why" "warning:" "$tmp/open/provauth.yaml" "other users can change" \
	"$tmp/open is writable by every user"
run 0 "every command warns too (plugins)" -c "$tmp/open/provauth.yaml" plugins
has "$tmp/err" "... on stderr" "warning:" "other users can change"
run 0 "accounts list warns too" -c "$tmp/open/provauth.yaml" accounts list
has "$tmp/err" "... on stderr" "warning:" "other users can change"
printf 'providers:\n  fixture:\n    global_password: %s\n' "$secret" >>"$tmp/open/provauth.yaml"
run 1 "with a literal password it is refused" -c "$tmp/open/provauth.yaml" config check
has "$tmp/out" "... naming the key" "error:" "providers.fixture.global_password" "other users can change"
lacks "$tmp/out" "... without the secret" "$secret"
run 1 "... by every command" -c "$tmp/open/provauth.yaml" accounts list
has "$tmp/err" "... naming the key" "providers.fixture.global_password"

# ---- choosing the settings file ----
PROVAUTH_CONFIG="$tmp/clean.yaml"
export PROVAUTH_CONFIG
run 0 "PROVAUTH_CONFIG is used without -c" plugins
unset PROVAUTH_CONFIG
has "$tmp/out" "PROVAUTH_CONFIG file named" "settings: $tmp/clean.yaml"
mkdir -p "$XDG_CONFIG_HOME/provauth" || exit 99
cp "$tmp/clean.yaml" "$XDG_CONFIG_HOME/provauth/provauth.yaml" || exit 99
run 0 "XDG settings file is used without -c" plugins
has "$tmp/out" "XDG file named" "settings: $XDG_CONFIG_HOME/provauth/provauth.yaml"
rm -r "$tmp/xdg"
run 0 "built-in defaults without any file" plugins
has "$tmp/out" "defaults named" "settings: built-in defaults"
run 1 "a missing -c file is a runtime error" -c "$tmp/nope.yaml" plugins
has "$tmp/err" "error message prefixed and naming the file" "provauth: " "nope.yaml"

# ---- usage ----
run 2 "unknown command" frobnicate
has "$tmp/err" "unknown command named" "unknown command 'frobnicate'"
has "$tmp/err" "usage hint" "provauth --help"
run 2 "unknown option" --frobnicate plugins
has "$tmp/err" "unknown option named" "unknown option '--frobnicate'"
run 2 "unknown command option" plugins --frobnicate
run 2 "unknown subcommand" config frobnicate
run 2 "no command"
run 2 "-c without a file" -c
run 0 "--help" --help
has "$tmp/out" "help lists plugins" "plugins"
has "$tmp/out" "help lists config check" "config check"
run 0 "plugins --help" plugins --help
has "$tmp/out" "command usage" "Usage: provauth" "plugins"
run 0 "config --help" config --help
has "$tmp/out" "group help lists check" "check"
run 0 "--version" --version
if grep -E -q '^provauth [0-9]+\.[0-9]+\.[0-9]+' "$tmp/out"; then ok "version printed"; else not_ok "version printed"; fi

cli_finish
