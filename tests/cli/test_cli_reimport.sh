#!/bin/sh
# Importing into a named account (--account) and the generic `accounts
# import`, against the fake Pixverse and pixiv servers: a re-import keeps the
# account id and the identity the service sees (Pixverse's ai-trace-id and
# ai-anonymous-id, pixiv's device_token), credentials of another email are refused naming both
# emails with the store unchanged, `accounts import` takes a pixiv refresh
# token and refuses an unknown kind clearly, and no secret is ever printed.
set -u
: "${PROVAUTH_PLUGIN_PATH:?run through make check}"
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
need_programs "$prog" "$fake_pv" "$fake_px"
cli_setup pa-cli-reimport

# ---- the fake servers ----
carol_rt="pixiv-refresh-carol-4b7e1d"
erin_rt="pixiv-refresh-erin-90a3c2"
start_fakes --user "$carol_rt:4242:carol:carol@example.com" --user "$erin_rt:4343:erin:erin@example.com"
umask 077
fake_settings

# The store's rows, secrets sealed as they are on disk: any write changes them.
snapshot() {
	python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for row in db.execute("select id, provider, email, metadata, revision, updated_at, hex(secrets) from accounts order by id"):
    print(row)' "$tmp/accounts.db"
}
anon_seen() { ctl GET "$pv/__control/stats" | json_get last_anonymous_id "$1"; }
cookies_of() {
	tok=$(ctl POST "$pv/__control/login_token?email=$1" | json_get token) || exit 99
	[ -n "$tok" ] || { echo "no token from the fake"; exit 99; }
	printf '_ai_token=%s\n' "$tok" >"$tmp/$2"
	secrets="$secrets $tok"
}
secrets="$carol_rt $erin_rt"

# ---- pixverse: re-import keeps the id and the anonymous id ----
cookies_of alice@example.com alice1.cookies
run 0 "import alice's cookies" --json accounts import-cookies --provider pixverse <"$tmp/alice1.cookies"
alice=$(json_get id <"$tmp/out")
run 0 "status builds alice's session" status "$alice"
session_anon=$(anon_seen credits)
[ -n "$session_anon" ] || not_ok "the fake saw no anonymous id on credits"
cookies_of alice@example.com alice2.cookies
run 0 "re-import alice's cookies into her account" --json accounts import-cookies --provider pixverse \
	--account "$alice" --from-file "$tmp/alice2.cookies"
check_json "the re-import names the same account" 'assert d["id"] == sys.argv[2] and d["email"] == "alice@example.com", d' "$alice"
if [ "$(anon_seen user_info)" = "$session_anon" ]; then ok "the re-import showed Pixverse the session's anonymous id"
else not_ok "re-import sent anonymous id '$(anon_seen user_info)', the session uses '$session_anon'"; fi
run 0 "text output of a re-import" accounts import-cookies --provider pixverse --account "$alice" \
	--from-file "$tmp/alice2.cookies"
has "$tmp/out" "the text names the account and email" "Imported cookies into account $alice" "alice@example.com"
cookies_of alice@example.com alice3.cookies
run 0 "import without --account" accounts import-cookies --provider pixverse <"$tmp/alice3.cookies"
has "$tmp/out" "without --account the email finds the same account" "$alice"
new_anon=$(anon_seen user_info)
if [ -n "$new_anon" ] && [ "$new_anon" != "$session_anon" ]; then ok "without --account Pixverse sees another device"
else not_ok "an import without --account reused the account's anonymous id"; fi
run 0 "status after the imports" status "$alice"
# Pixverse ties the imported session to the ids it first saw: the account keeps those from now on.
if [ "$(anon_seen credits)" = "$new_anon" ]; then ok "the account's sessions use the ids their import was made with"
else not_ok "the session's anonymous id is not the one its import used"; fi

# ---- another email is refused, nothing changes ----
cookies_of dave@example.com dave.cookies
snapshot >"$tmp/before"
run 1 "dave's cookies into alice's account are refused" accounts import-cookies --provider pixverse \
	--account "$alice" --from-file "$tmp/dave.cookies"
has "$tmp/err" "the refusal names the account and both emails" "provauth: " "$alice" "dave@example.com" \
	"alice@example.com"
has "$tmp/err" "the refusal says nothing was stored" "nothing was stored"
snapshot >"$tmp/after"
if cmp -s "$tmp/before" "$tmp/after"; then ok "the store is unchanged"; else not_ok "the store changed"; fi
run 0 "list" --json accounts list
check_json "still one account, alice's" 'assert [a["email"] for a in d] == ["alice@example.com"], d'

# ---- --account errors, before anything is read ----
run 1 "an unknown account" accounts import-cookies --provider pixverse --account acct-nosuch </dev/null
has "$tmp/err" "the unknown account is named" "provauth: " "acct-nosuch"
run 1 "an account of another provider" accounts add --provider pixiv --account "$alice" </dev/null
has "$tmp/err" "the provider mismatch is named" "provauth: " "$alice" "pixverse" "pixiv"
run 2 "--account without a value" accounts add --provider pixiv --account

# ---- pixiv: accounts import --kind refresh_token, then add --account ----
printf '%s\n' "$carol_rt" >"$tmp/carol.rt"
run 0 "accounts import pixiv --kind refresh_token" --json accounts import pixiv --kind refresh_token \
	--from-file "$tmp/carol.rt"
check_json "the generic import names carol's account" '
assert d["id"].startswith("acct-") and d["provider"] == "pixiv", d
assert d["email"] == "carol@example.com" and d["user_id"] == "4242", d'
check_json_style "accounts import --json: the common JSON style"
carol=$(json_get id <"$tmp/out")
# A device token as a user's metadata would hold it (metadata is not sealed).
python3 -c 'import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(m,) = db.execute("select metadata from accounts where id = ?", (sys.argv[2],)).fetchone()
m = json.loads(m); m["device_token"] = "dev-cli-31"
db.execute("update accounts set metadata = ? where id = ?", (json.dumps(m), sys.argv[2])); db.commit()' \
	"$tmp/accounts.db" "$carol" || exit 99
PA_TEST_RT=$carol_rt
export PA_TEST_RT
run 0 "accounts add --account from the environment" accounts add --provider pixiv --account "$carol" \
	--from-env PA_TEST_RT
unset PA_TEST_RT
has "$tmp/out" "add --account names the same account" "Stored the refresh token in account $carol" \
	"carol@example.com"
dev=$(ctl GET "$px/__control/last?endpoint=token&what=form:device_token" | json_get value)
if [ "$dev" = "dev-cli-31" ]; then ok "the exchange sent the account's device token"
else not_ok "the exchange sent device token '$dev'"; fi
run 0 "accounts import --account, text" accounts import pixiv --kind refresh_token --account "$carol" \
	<"$tmp/carol.rt"
has "$tmp/out" "the generic import's text" "Imported the credentials into account $carol" "carol@example.com"
run 0 "accounts add without --account" accounts add --provider pixiv <"$tmp/carol.rt"
has "$tmp/out" "the email finds carol's account" "$carol"
dev=$(ctl GET "$px/__control/last?endpoint=token&what=form:device_token" | json_get value 2>/dev/null)
if [ -z "$dev" ] || [ "$dev" = None ]; then ok "without --account no device token is sent"
else not_ok "an import without --account sent device token '$dev'"; fi

printf '%s\n' "$erin_rt" >"$tmp/erin.rt"
snapshot >"$tmp/before"
run 1 "erin's token into carol's account is refused" accounts import pixiv --kind refresh_token \
	--account "$carol" --from-file "$tmp/erin.rt"
has "$tmp/err" "the refusal names the account and both emails" "$carol" "erin@example.com" "carol@example.com"
snapshot >"$tmp/after"
if cmp -s "$tmp/before" "$tmp/after"; then ok "the store is unchanged"; else not_ok "the store changed"; fi

# ---- accounts import: usage and unknown kinds ----
run 1 "an unknown kind" accounts import pixiv --kind password <"$tmp/carol.rt"
has "$tmp/err" "the unknown kind is named, with the one pixiv takes" "provauth: " "password" "refresh_token"
run 1 "pixverse refuses refresh tokens" accounts import pixverse --kind refresh_token <"$tmp/carol.rt"
has "$tmp/err" "the refusal names the kind" "provauth: " "refresh_token" "cookies"

# ---- declared import kinds: a wrong one is refused before any secret is read ----
run 1 "a wrong kind, with a file that does not exist" accounts import pixiv --kind password \
	--from-file "$tmp/no-such-file"
has "$tmp/err" "the error is about the kind, with the kinds pixiv takes" \
	"provauth: pixiv does not import kind 'password' (it imports: refresh_token)"
has "$tmp/err" "each kind pixiv takes is described" "refresh_token" "OAuth refresh token"
lacks "$tmp/err" "the file was never opened" "no-such-file"
run 1 "a wrong kind, stdin closed" accounts import pixverse --kind refresh_token <&-
has "$tmp/err" "the error names pixverse's kind" "pixverse does not import kind 'refresh_token'" "cookies"
run 1 "a wrong kind, from an unset variable" accounts import-cookies --provider pixiv --from-env PA_TEST_UNSET
has "$tmp/err" "import-cookies into pixiv is refused for its kind" "pixiv does not import kind 'cookies'"
lacks "$tmp/err" "the variable was never looked at" "PA_TEST_UNSET"
# stdin is a file shared with the shell: what provauth reads, cat does not get.
{ run 1 "a wrong kind leaves stdin alone" accounts import pixiv --kind cookies; left=$(cat); } <"$tmp/carol.rt"
if [ "$left" = "$carol_rt" ]; then ok "the token on stdin was not read"; else not_ok "stdin was read"; fi
{ run 0 "the right kind reads stdin" accounts import pixiv --kind refresh_token; left=$(cat); } <"$tmp/carol.rt"
if [ -z "$left" ]; then ok "the token on stdin was read"; else not_ok "stdin was not read"; fi
run 1 "what stands for a kind is not echoed unless it is a name" accounts import pixiv \
	--kind 'Tok3n.SECRET-kind-9' </dev/null
has "$tmp/err" "the refusal lists the kinds" "pixiv: the kind given is not a kind name" "refresh_token"
lacks "$all" "the misplaced secret is not echoed" "Tok3n.SECRET-kind-9"
run 0 "plugins lists the import kinds" plugins
has "$tmp/out" "pixiv's kind in the table" "pixiv" "refresh_token" "pixiv.so"
has "$tmp/out" "pixverse's kind in the table" "pixverse" "cookies" "pixverse.so"
has "$tmp/out" "pixverse's kind described" "pixverse" "cookies" "Cookie header"
run 0 "plugins --json" --json plugins
check_json "import_kinds in the JSON" '
p = {x["id"]: x for x in d["providers"]}
assert [k["name"] for k in p["pixiv"]["import_kinds"]] == ["refresh_token"], p
assert [k["name"] for k in p["pixverse"]["import_kinds"]] == ["cookies", "google_id_token"], p
assert all(k["summary"] for x in p.values() for k in x["import_kinds"]), p'

run 1 "an unknown provider" accounts import nosuch --kind cookies </dev/null
has "$tmp/err" "the provider is named" "nosuch"
run 2 "import without --kind" accounts import pixiv
has "$tmp/err" "the missing option is named" "--kind"
run 2 "import without a provider" accounts import --kind refresh_token
run 2 "import with two providers" accounts import pixiv pixverse --kind refresh_token
run 2 "import with two sources" accounts import pixiv --kind refresh_token --from-file a --from-env B
run 2 "a secret on the command line is refused" accounts import pixiv --kind refresh_token \
	--token=s3cret-on-argv-9
lacks "$all" "the argv secret is not echoed" "s3cret-on-argv-9"
run 0 "accounts import --help" accounts import --help
has "$tmp/out" "--help shows the usage" "Usage: provauth" "accounts import PROVIDER --kind KIND"
for c in import-cookies add; do
	run 0 "accounts $c --help" accounts $c --help
	has "$tmp/out" "accounts $c --help shows --account" "--account ID"
done
run 0 "provauth --help" --help
has "$tmp/out" "--help lists accounts import" "accounts import "

# ---- a Google ID token, exchanged for a session into alice's account ----
idtoken_of() {
	tok=$(ctl POST "$pv/__control/google_id_token?email=$1" | json_get id_token) || exit 99
	[ -n "$tok" ] || { echo "no Google ID token from the fake"; exit 99; }
	printf '%s\n' "$tok" >"$tmp/$2"
	secrets="$secrets $tok"
}
idtoken_of dave@example.com dave.idtoken
run 1 "dave's Google ID token into alice's account is refused" accounts import pixverse --kind google_id_token \
	--account "$alice" --from-file "$tmp/dave.idtoken"
has "$tmp/err" "the refusal names both emails" "provauth: " "$alice" "dave@example.com" "alice@example.com"
idtoken_of alice@example.com alice.idtoken
run 0 "alice's Google ID token into her account" --json accounts import pixverse --kind google_id_token \
	--account "$alice" --from-file "$tmp/alice.idtoken"
check_json "the same account, now a Google one" 'assert d["id"] == sys.argv[2] and d["email"] == "alice@example.com", d' "$alice"
run 0 "alice's account after the Google sign-in" --json session "$alice"
check_json "auth_method google" 'assert d["auth_method"] == "google", d'
run 0 "status on the exchanged session" status "$alice"

# ---- no secret in anything provauth printed ----
for s in $secrets; do
	lacks "$all" "secret ${s%"${s#????????}"}... never printed" "$s"
done
cli_finish
