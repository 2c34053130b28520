#!/bin/sh
# The account commands against the fake Pixverse and pixiv servers: import,
# list, status, reauth, recovery after a kicked session (one login, no more),
# a Google account that cannot be recovered, a pixiv refresh token, call,
# session, --json, usage errors, and that no secret ever reaches the output.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
: "${PROVAUTH_PLUGIN_PATH:?run through make check}"
need_programs "$prog" "$fake_pv" "$fake_px"
cli_setup pa-cli-acct

# ---- the fake servers ----
pixiv_rt="pixiv-refresh-9c1e5b7d2a"
alice_pw="alice-demo-pw"
wrong_pw="not-alices-password-5e2f"
start_fakes --user "$pixiv_rt:4242:carol:carol@example.com"
umask 077
fake_settings "auto_reauth_enabled: true" "reauth_cooldown: 0"

logins() { ctl GET "$pv/__control/stats" | json_get logins_ok; }

# ---- commands that only look create no store ----
# Settings without key_file: the key would be the default accounts.db.key.
grep -v key_file "$tmp/provauth.yaml" >"$tmp/nokey.yaml" || exit 99
no_store_left() {
	check "$1: no store or key file was created" \
		'[ ! -e "$tmp/accounts.db" ] && [ ! -e "$tmp/accounts.db.key" ] && [ ! -e "$tmp/accounts.key" ]'
}
for f in provauth.yaml nokey.yaml; do
	settings=$tmp/$f
	run 0 "no store yet ($f): accounts list" accounts list
	has "$tmp/out" "the empty list says why" "No accounts (no store at $tmp/accounts.db)."
	run 0 "accounts list --provider with no store" accounts list --provider pixiv
	has "$tmp/out" "... per provider too" "No pixiv accounts (no store at $tmp/accounts.db)."
	run 0 "accounts list --json with no store" --json accounts list
	check_json "... is an empty list" 'assert d == [], d'
	check_json_style "accounts list --json (empty): the common JSON style"
	no_store_left "accounts list"
	for c in session status "call user_detail" "accounts remove" "accounts connect-google"; do
		# shellcheck disable=SC2086 # $c is a command and its arguments
		run 1 "$c with no store fails" $c acct-0123456789abcdef
		has "$tmp/err" "$c says there is no store" "provauth: no store at $tmp/accounts.db"
	done
	run 1 "accounts reauth with no store fails" accounts reauth acct-0123456789abcdef --password-from-file "$tmp/provauth.yaml"
	has "$tmp/err" "... saying there is no store" "no store at $tmp/accounts.db"
	run 0 "plugins with no store" plugins
	run 0 "config check with no store" config check
	no_store_left "session, status, call, remove, connect-google, reauth, plugins, config check"
done
settings=$tmp/provauth.yaml
# Without a settings file the store is the XDG default: not created either.
settings=
run 0 "accounts list with the default store" accounts list
has "$tmp/out" "the default store is named" "No accounts (no store at $XDG_DATA_HOME/provauth/accounts.db)."
check "no data directory was created" '[ ! -e "$XDG_DATA_HOME" ]'
settings=$tmp/provauth.yaml

# ---- import cookies (a Cookie header on stdin) ----
alice_jwt=$(ctl POST "$pv/__control/login_token?email=alice@example.com" | json_get token) || exit 99
[ -n "$alice_jwt" ] || { echo "no token from the fake"; exit 99; }
# Input goes through files: a function in a pipeline would run in a subshell.
printf '_ai_token=%s; other=cookie-value-7f3a\n' "$alice_jwt" >"$tmp/alice.cookies"
run 0 "import-cookies from stdin" accounts import-cookies --provider pixverse <"$tmp/alice.cookies"
has "$tmp/out" "import names the account and email" "acct-" "alice@example.com"
run 0 "accounts list --json" --json accounts list
check_json "list --json has alice, auth_method unknown, no health yet" '
assert len(d) == 1, d
a = d[0]
assert a["id"].startswith("acct-") and a["provider"] == "pixverse", a
assert a["email"] == "alice@example.com" and a["auth_method"] == "unknown", a
assert a["session_health"] is None and a["updated_at"] > 0, a'
check_json_style "accounts list --json: the common JSON style"
alice=$(json_get 0 id <"$tmp/out")
run 0 "accounts list" accounts list
has "$tmp/out" "table header" "ID" "PROVIDER" "EMAIL" "AUTH_METHOD" "HEALTH" "UPDATED"
has "$tmp/out" "table row: unknown auth method, no health" "$alice" "pixverse" "alice@example.com" "unknown" " - "

# ---- status ----
run 0 "status" status "$alice"
has "$tmp/out" "status shows the credits" "credits:" "web 1250" "daily 50" "monthly 1000" "package 200"
has "$tmp/out" "status shows the ad task" "ad task:" "0/3" "reward 30"
run 0 "status --json" status "$alice" --json
check_json "status --json is the operation's JSON" '
assert d["provider_id"] == "pixverse" and d["email"] == "alice@example.com", d
assert d["credits"]["web"] == 1250 and d["credits"]["daily"] == 50, d
assert d["credits"]["openapi"] == 0, d  # no OpenAPI key: 0, never missing
assert d["ad_watch_task"]["total_counts"] == 3 and d["ad_watch_task"]["reward"] == 30, d
assert "ad_task" not in d, d'
if python3 -m json.tool "$tmp/out" >/dev/null; then ok "json.tool accepts status --json"; else not_ok "json.tool status"; fi
check_json_style "status --json: the common JSON style"

# ---- reauth ----
printf '%s\n' "$wrong_pw" >"$tmp/wrong"
run 1 "reauth with a wrong password fails" accounts reauth "$alice" --password-from-file "$tmp/wrong"
has "$tmp/err" "the failure is reported with the prefix" "provauth: "
printf '%s\n' "$alice_pw" >"$tmp/pw"
run 0 "reauth with the password from a file" accounts reauth "$alice" --password-from-file "$tmp/pw"
has "$tmp/out" "reauth says the auth method is now password" "$alice" "password"
run 0 "reauth --json with the stored password" --json accounts reauth "$alice"
check_json "reauth --json names the account" 'assert d["id"] == sys.argv[2], d' "$alice"
check_json_style "reauth --json: the common JSON style"
run 0 "list after reauth" --json accounts list --provider pixverse
check_json "auth_method password, session healthy" '
assert d[0]["auth_method"] == "password", d
assert d[0]["session_health"]["state"] == "ok", d'

# ---- a kicked session recovers with exactly one login ----
before=$(logins)
ctl POST "$pv/__control/kick?email=alice@example.com" >/dev/null || exit 99
run 0 "status after a kick recovers" status "$alice"
has "$tmp/out" "recovered status shows the credits" "credits:" "web 1250"
has "$tmp/err" "the recovery is told in one note" "note: the session of account $alice was lost" \
	"logged_elsewhere" "logged it in again with its password"
lacks "$tmp/err" "no raw warning for a recovered session" "warning: pixverse_session_invalidated"
after=$(logins)
if [ "$after" -eq $((before + 1)) ]; then ok "exactly one login to recover ($before -> $after)"
else not_ok "logins went from $before to $after, expected one more"; fi
run 0 "status again needs no login" status "$alice"
if [ "$(logins)" -eq "$after" ]; then ok "no further login"; else not_ok "a login happened without a kick"; fi

# ---- the progress line: on a terminal, once a network wait lasts a moment ----
# ttyrun DELAY_MS ARGS...: provauth on a pseudo-terminal (script(1)); stdout
# and stderr both land in $tmp/out. ARGS must not need quoting.
cat >"$tmp/on-tty" <<EOF
#!/bin/sh
exec "$prog" -c "$tmp/provauth.yaml" "\$@"
EOF
chmod +x "$tmp/on-tty"
ttyrun() {
	delay=$1
	shift
	script -qec "env PROVAUTH_PROGRESS_DELAY_MS=$delay '$tmp/on-tty' $*" /dev/null </dev/null >"$tmp/out" 2>&1
	cat "$tmp/out" >>"$all"
}
ctl POST "$pv/__control/fault?endpoint=credits&kind=delay&count=1&param=1500" >/dev/null || exit 99
ttyrun 200 status "$alice"
has "$tmp/out" "a slow server gets a progress line on a terminal" "provauth: contacting pixverse..."
has "$tmp/out" "and the command still succeeds" "credits:" "web 1250"
# A generous delay: a loaded CI machine must not make the fast call look slow.
ttyrun 3000 status "$alice"
lacks "$tmp/out" "a fast server gets no progress line" "contacting pixverse"
has "$tmp/out" "the fast status is shown" "credits:" "web 1250"
ctl POST "$pv/__control/fault?endpoint=credits&kind=delay&count=1&param=1500" >/dev/null || exit 99
PROVAUTH_PROGRESS_DELAY_MS=200 run 0 "a slow status with stderr not a terminal" status "$alice"
lacks "$tmp/err" "no progress line when stderr is not a terminal" "contacting"

# ---- a Google account cannot be recovered by a password login ----
dave_jwt=$(ctl POST "$pv/__control/login_token?email=dave@example.com" | json_get token) || exit 99
printf '[{"name": "_ai_token", "value": "%s", "domain": ".pixverse.ai"}]' "$dave_jwt" >"$tmp/dave.json"
run 0 "import-cookies from a browser export file" --json accounts import-cookies --provider pixverse \
	--from-file "$tmp/dave.json"
check_json "import --json names dave's account" '
assert d["id"].startswith("acct-") and d["email"] == "dave@example.com", d
assert d["auth_method"] == "unknown", d'
check_json_style "import-cookies --json: the common JSON style"
dave=$(json_get id <"$tmp/out")
run 0 "connect-google" accounts connect-google "$dave"
has "$tmp/out" "connect-google says what it means" "$dave" "Google"
run 0 "connect-google --json" --json accounts connect-google "$dave"
check_json "connect-google --json" 'assert d["id"] == sys.argv[2] and d["auth_method"] == "google", d' "$dave"
check_json_style "connect-google --json: the common JSON style"
run 0 "status of the Google account works before the kick" status "$dave"
before=$(logins)
ctl POST "$pv/__control/kick?email=dave@example.com" >/dev/null || exit 99
run 1 "status of a kicked Google account fails" status "$dave"
has "$tmp/err" "the error names the account" "provauth: " "$dave"
has "$tmp/err" "the user is told to import fresh cookies" "import-cookies --provider pixverse"
has "$tmp/err" "the hint says why" "Google"
if [ "$(logins)" -eq "$before" ]; then ok "no password login for a Google account"
else not_ok "a Google account was logged in with a password"; fi
run 0 "list after the failure" --json accounts list
check_json "dave's health is recorded invalid" '
a = [x for x in d if x["email"] == "dave@example.com"][0]
assert a["auth_method"] == "google" and a["session_health"]["state"] == "invalid", a'
run 0 "list shows the invalid session" accounts list
has "$tmp/out" "table row with health" "$dave" "google" "invalid"

# ---- pixiv: a refresh token from the environment ----
PA_TEST_PIXIV_TOKEN=$pixiv_rt
export PA_TEST_PIXIV_TOKEN
run 0 "accounts add from an environment variable" accounts add --provider pixiv --from-env PA_TEST_PIXIV_TOKEN
unset PA_TEST_PIXIV_TOKEN
has "$tmp/out" "add names the account and email" "acct-" "carol@example.com"
has "$tmp/out" "add names the user" "carol" "4242"
run 0 "list --provider pixiv" --json accounts list --provider pixiv
check_json "only the pixiv account" 'assert [a["email"] for a in d] == ["carol@example.com"], d'
carol=$(json_get 0 id <"$tmp/out")

# ---- an account edited outside provauth: named, the others still listed ----
set_email() {
	python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("update accounts set email = ? where id = ?", (sys.argv[3], sys.argv[2]))
db.commit()' "$tmp/accounts.db" "$1" "$2"
}
set_email "$alice" mallory@example.com || exit 99
run 1 "accounts list with an account whose email was edited in the database" accounts list
has "$tmp/out" "the other accounts are still listed" "$carol" "carol@example.com"
check "the edited account is not listed as usable" '! grep -q "$alice" "$tmp/out"'
has "$tmp/err" "the edited account is named on stderr" "provauth: account $alice cannot be used" \
	"changed outside provauth"
run 1 "accounts list --json with it" --json accounts list
check_json "--json lists it marked damaged, with the reason" '
bad = [a for a in d if a.get("damaged")]
assert len(bad) == 1 and "changed outside provauth" in bad[0]["error"], d
assert "carol@example.com" in [a["email"] for a in d if not a.get("damaged")], d'
run 1 "status of the edited account fails" status "$alice"
has "$tmp/err" "... naming it" "account $alice" "changed outside provauth"
set_email "$alice" alice@example.com || exit 99
run 0 "with its email put back, the account is usable again" accounts list
has "$tmp/out" "... and listed" "$alice" "alice@example.com"
ctl POST "$px/__control/expire" >/dev/null || exit 99
run 0 "call user_detail" call "$carol" user_detail
has "$tmp/err" "a refreshed access token is told in one note" "note: the session of account $carol" \
	"refreshed its token"
has "$tmp/out" "call prints the user, indented" '  "user": {'
has "$tmp/out" "call prints the user's name" '"name": "carol"'
run 0 "call user_detail --json" --json call "$carol" user_detail
check_json "call --json is the operation's JSON" '
assert str(d["user"]["id"]) == "4242", d'
check_json_style "call --json: the common JSON style"
run 0 "call with arguments" call "$carol" get path=/v1/illust/detail illust_id=77
check_json "the arguments reach the provider" 'assert d["query"]["illust_id"] == "77", d'
run 1 "an unknown operation fails" call "$carol" frobnicate
has "$tmp/err" "the unknown operation is named" "provauth: " "frobnicate"
run 1 "status of a provider without a status operation" status "$carol"
has "$tmp/err" "no status operation, and what to run instead" "no status operation" "provauth call $carol"
access=$(ctl GET "$px/__control/last?endpoint=api&what=header:Authorization" | json_get value)
access=${access#Bearer }

# ---- session, redacted ----
run 0 "session of a pixverse account" session "$alice"
has "$tmp/out" "session: provider" "provider:" "pixverse"
has "$tmp/out" "session: auth method" "auth_method:" "password"
has "$tmp/out" "session: jwt present" "jwt:" "present"
has "$tmp/out" "session: cookie names" "cookies:" "_ai_token" "other"
has "$tmp/out" "session: password stored" "password:" "stored"
has "$tmp/out" "session: health" "session health:" "ok"
run 0 "session --json" --json session "$alice"
check_json "session --json has names and flags only" '
assert d["has_jwt"] is True and d["has_password"] is True, d
assert sorted(d["cookies"]) == ["_ai_token", "other"], d
assert d["has_refresh_token"] is False and d["session_health"]["state"] == "ok", d'
check_json_style "session --json: the common JSON style"
run 0 "session of a pixiv account" session "$carol"
has "$tmp/out" "session: access token and its expiry" "access token:" "present, expires" "UTC"
has "$tmp/out" "session: refresh token present" "refresh token:" "present"
# ---- connect-google: only where the service has a Google sign-in (spec 5.3) ----
run 0 "pixiv account before connect-google" --json session "$carol"
cp "$tmp/out" "$tmp/carol-before"
run 1 "connect-google refused for a pixiv account" accounts connect-google "$carol"
has "$tmp/err" "the refusal names the provider and says why" "provauth: " "$carol" "pixiv" "no Google sign-in"
run 0 "pixiv account after the refusal" --json session "$carol"
if cmp -s "$tmp/carol-before" "$tmp/out"; then ok "connect-google stored nothing for the pixiv account"
else not_ok "connect-google changed the pixiv account"; diff "$tmp/carol-before" "$tmp/out"; fi
check_json "its auth method is still unknown" 'assert d["auth_method"] == "unknown", d'
run 0 "session of the Google account" session "$dave"
has "$tmp/out" "session: invalid health with the reason" "session health:" "invalid"

# ---- -v prints the library's events ----
run 0 "status -v" -v status "$alice"
has "$tmp/err" "verbose events on stderr" "provauth: info: plugin_loaded"

# ---- --log-file keeps every event as a JSON line ----
run 0 "status --log-file" --log-file "$tmp/events.log" status "$alice"
has "$tmp/events.log" "the log file holds the plugin events" '"event":"plugin_loaded"' '"level":"info"'
if grep -v -q '^{"ts":"[^"]*","level":"[a-z]*","event":"[a-z_]*".*}$' "$tmp/events.log"; then
	not_ok "every log file line is a JSON object"
else ok "every log file line is a JSON object"; fi
lines=$(wc -l <"$tmp/events.log")
run 0 "a second command appends" --log-file "$tmp/events.log" accounts list
if [ "$(wc -l <"$tmp/events.log")" -gt "$lines" ]; then ok "the log file is appended to"
else not_ok "the log file did not grow"; fi
mode=$(stat -c %a "$tmp/events.log")
if [ "$mode" = 600 ]; then ok "the log file is created 0600"; else not_ok "log file mode $mode"; fi
cat "$tmp/events.log" >>"$all"
run 1 "an unwritable log file" --log-file "$tmp/nodir/events.log" accounts list
has "$tmp/err" "the log file is named" "provauth: cannot open the log file $tmp/nodir/events.log"
run 2 "--log-file without a value" --log-file

# ---- secrets are never taken from argv ----
run 2 "--password VALUE is refused" accounts reauth "$alice" --password s3cret-on-argv-1
has "$tmp/err" "the refusal explains why" "never taken from the command line"
run 2 "--password=VALUE is refused" accounts reauth "$alice" --password=s3cret-on-argv-2
run 2 "--token=VALUE is refused" accounts add --provider pixiv --token=s3cret-on-argv-3
run 2 "a stray argument is refused" accounts reauth "$alice" s3cret-on-argv-4
run 2 "-pVALUE is refused" accounts reauth "$alice" -ps3cret-on-argv-5
run 2 "a global -pVALUE is refused" -ps3cret-on-argv-6 status "$alice"
for s in s3cret-on-argv-1 s3cret-on-argv-2 s3cret-on-argv-3 s3cret-on-argv-4 s3cret-on-argv-5 \
	s3cret-on-argv-6; do
	lacks "$all" "argv secret $s is not echoed" "$s"
done

# ---- runtime errors ----
run 1 "status of an unknown account" status acct-doesnotexist
has "$tmp/err" "the unknown account is named" "provauth: " "acct-doesnotexist"
printf '_ai_token=not-a-jwt-secret-8d1c\n' >"$tmp/bad.cookies"
run 1 "cookies without a JWT are refused" accounts import-cookies --provider pixverse <"$tmp/bad.cookies"
has "$tmp/err" "the import error is reported" "provauth: "
lacks "$all" "the bad cookie's value is not echoed" "not-a-jwt-secret-8d1c"
run 1 "empty input is refused" accounts import-cookies --provider pixverse </dev/null
has "$tmp/err" "empty input named" "no cookies in standard input"
run 1 "a missing input file" accounts import-cookies --provider pixverse --from-file "$tmp/nope"
has "$tmp/err" "the missing file is named" "$tmp/nope"
run 1 "an unset environment variable" accounts add --provider pixiv --from-env PA_TEST_UNSET_VAR
has "$tmp/err" "the variable is named" "PA_TEST_UNSET_VAR"
run 1 "an unknown provider" accounts import-cookies --provider nosuch </dev/null
has "$tmp/err" "the provider is named" "nosuch"

# ---- usage errors ----
run 2 "reauth without an id" accounts reauth
run 2 "reauth with two password sources" accounts reauth "$alice" --password-stdin --password-from-file "$tmp/pw"
run 2 "import-cookies without --provider" accounts import-cookies
run 2 "import-cookies with two sources" accounts import-cookies --provider pixverse --from-file a --from-env B
run 2 "--from-file without a value" accounts import-cookies --provider pixverse --from-file
run 2 "status without an id" status
run 2 "status with two ids" status "$alice" "$dave"
run 2 "call without an operation" call "$alice"
run 2 "call with a bad argument" call "$alice" credits novalue
run 2 "unknown accounts command" accounts frobnicate
run 2 "unknown option" session "$alice" --frobnicate
run 2 "a flag with a value" accounts reauth "$alice" --password-stdin=yes
for c in "accounts list" "accounts import-cookies" "accounts add" "accounts reauth" \
	"accounts connect-google" "accounts remove" status call session; do
	# shellcheck disable=SC2086
	run 0 "$c --help" $c --help
	has "$tmp/out" "$c --help shows its usage" "Usage: provauth" "$c"
done
run 0 "provauth --help" --help
has "$tmp/out" "--help documents exit status 2" "2  usage error"
has "$tmp/out" "--help lists accounts import-cookies" "accounts import-cookies"

# ---- remove ----
run 0 "remove --json" --json accounts remove "$dave"
check_json "remove --json" 'assert d == {"id": sys.argv[2], "removed": True}, d' "$dave"
check_json_style "remove --json: the common JSON style"
run 1 "removing it again fails" accounts remove "$dave"
has "$tmp/err" "the missing account is named" "provauth: " "$dave"
run 0 "list after remove" --json accounts list
check_json "dave is gone" 'assert sorted(a["email"] for a in d) == ["alice@example.com", "carol@example.com"], d'

# ---- no secret in anything provauth printed ----
jwt_sig() { printf '%s' "$1" | sed 's/.*\.//'; }
for s in "$alice_pw" "$wrong_pw" "$alice_jwt" "$(jwt_sig "$alice_jwt")" "$dave_jwt" \
	"$(jwt_sig "$dave_jwt")" "$pixiv_rt" "cookie-value-7f3a"; do
	lacks "$all" "secret ${s%"${s#????}"}... never printed" "$s"
done
if [ -n "$access" ]; then lacks "$all" "pixiv access token never printed" "$access"
else not_ok "could not read the pixiv access token from the fake"; fi

cli_finish
