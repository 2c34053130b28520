#!/bin/sh
# Servers that echo what they were sent (issue 13, point 2): a wrong
# password spelt back upper-cased with characters put in, a pixiv refresh
# token returned split by dots as the OAuth "error", and imported cookies
# quoted back by a refused getUserInfo. None of those secrets may reach
# provauth's stdout or stderr, its event log or the store's files, in any
# case and with any separators: every file is compared on its lowercase
# letters and digits alone, against every 8-character piece of each secret.
set -u
: "${PROVAUTH_PLUGIN_PATH:?run through make check}"
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
need_programs "$prog" "$fake_pv" "$fake_px"
cli_setup pa-cli-echo

# Secrets without words in them, so that no message can spell a piece by chance.
carol_rt="px-Nb4v-Gf7h-Ty2u-Io9p-Ka1s-Wd3e"
wrong_pw="Qz7x-Vb93-Kp41-Lm2w"
cookie_val="Hj8k-Rt5y-Wq3e-Zx6c"
import_val="Uy6t-Pl0k-Mn8b-Cx4z"
start_fakes --user "$carol_rt:4242:carol:carol@example.com"
umask 077
fake_settings
log="$tmp/events.log"
: >"$log"

# ---- Pixverse: a wrong password spelt back ----
alice_jwt=$(ctl POST "$pv/__control/login_token?email=alice@example.com" | json_get token) || exit 99
printf '_ai_token=%s; other=%s\n' "$alice_jwt" "$cookie_val" >"$tmp/alice.cookies"
run 0 "import alice's cookies" --log-file "$log" accounts import-cookies --provider pixverse <"$tmp/alice.cookies"
alice=$(sed -n 's/.*\(acct-[0-9a-f]*\).*/\1/p' "$tmp/out" | head -n 1)
[ -n "$alice" ] || { echo "no account id in: $(cat "$tmp/out")"; exit 99; }
ctl POST "$pv/__control/echo?on=1" >/dev/null || exit 99
printf '%s\n' "$wrong_pw" >"$tmp/wrong"
run 1 "reauth with a wrong password the server echoes" --log-file "$log" \
	accounts reauth "$alice" --password-from-file "$tmp/wrong"
has "$tmp/err" "the refusal is still reported, with its code" "login refused" "500201"
has "$tmp/err" "... and says the server's words were withheld" "withheld"
run 0 "session prints the stored health" --log-file "$log" session "$alice"
has "$tmp/out" "the stored health says it is invalid" "invalid"

# ---- Pixverse: imported cookies quoted back by getUserInfo ----
# A token without an email in it makes the plugin ask getUserInfo, which refuses it.
bad_jwt="eyJhbGciOiJIUzI1NiJ9.eyJBY2NvdW50SWQiOjF9.c2lnbmF0dXJlLW5vdC12YWxpZA"
printf '_ai_token=%s; session=%s\n' "$bad_jwt" "$import_val" >"$tmp/bad.cookies"
run 1 "import of cookies the server refuses and quotes" --log-file "$log" \
	accounts import-cookies --provider pixverse <"$tmp/bad.cookies"
has "$tmp/err" "the refusal names the ErrCode" "does not accept them" "ErrCode"
has "$tmp/err" "... and withholds the server's words" "withheld"

# ---- pixiv: the refresh token split by dots as the OAuth error ----
PA_TEST_PIXIV_TOKEN=$carol_rt
export PA_TEST_PIXIV_TOKEN
run 0 "add carol's pixiv account" --log-file "$log" accounts add --provider pixiv --from-env PA_TEST_PIXIV_TOKEN
unset PA_TEST_PIXIV_TOKEN
carol=$(sed -n 's/.*\(acct-[0-9a-f]*\).*/\1/p' "$tmp/out" | head -n 1)
[ -n "$carol" ] || { echo "no account id in: $(cat "$tmp/out")"; exit 99; }
ctl POST "$px/__control/config?echo_error=1" >/dev/null || exit 99
ctl POST "$px/__control/revoke?refresh_token=$carol_rt" >/dev/null || exit 99
ctl POST "$px/__control/expire" >/dev/null || exit 99
run 1 "a call whose refresh the server refuses with the token dotted" --log-file "$log" call "$carol" user_detail
has "$tmp/err" "the refusal gives the HTTP status" "HTTP 400"
has "$tmp/err" "... and withholds the server's words" "withheld"
run 0 "session of the pixiv account" --log-file "$log" session "$carol"

# ---- none of it anywhere, in any case or spelling ----
cat "$log" >>"$all"
for f in "$tmp/accounts.db" "$tmp/accounts.db-wal"; do
	[ -e "$f" ] && cat "$f" >>"$all"
done
check "the store's files were read" '[ -s "$tmp/accounts.db" ]'
check "the event log was written" 'grep -q "auto_reauth_completed" "$log" && grep -q "refresh_completed" "$log"'
for s in "$wrong_pw" "$cookie_val" "$import_val" "$carol_rt" "$alice_jwt"; do
	if python3 -c 'import re, sys
norm = lambda b: re.sub(rb"[^a-z0-9]", b"", b.lower())
text = norm(open(sys.argv[1], "rb").read())
secret = norm(sys.argv[2].encode())
hits = [secret[i:i + 8] for i in range(len(secret) - 7) if secret[i:i + 8] in text]
if hits:
    sys.exit("found %d piece(s) of it" % len(hits))' "$all" "$s"; then
		ok "secret ${s%"${s#????}"}... appears in no form"
	else
		not_ok "secret ${s%"${s#????}"}... appears in some form"
	fi
done

cli_finish
