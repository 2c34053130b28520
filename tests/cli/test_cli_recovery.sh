#!/bin/sh
# What the CLI says about a lost pixiv session: a recovery another process
# had already done is one note, like a recovery of its own (not raw warning
# lines), and a dead refresh token's advice comes once, in CLI terms.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
: "${PROVAUTH_PLUGIN_PATH:?run through make check}"
need_programs "$prog" "$fake_pv" "$fake_px"
cli_setup pa-cli-recovery

rt="pixiv-refresh-5d0c9a1e77"
start_fakes --user "$rt:4343:erin:erin@example.com"
umask 077
fake_settings

PA_TEST_PIXIV_TOKEN=$rt
export PA_TEST_PIXIV_TOKEN
run 0 "accounts add" accounts add --provider pixiv --from-env PA_TEST_PIXIV_TOKEN
unset PA_TEST_PIXIV_TOKEN
erin=$(sed -n 's/.*\(acct-[0-9a-f]*\).*/\1/p' "$tmp/out" | head -n 1)
check "the account id is printed" '[ -n "$erin" ]'

# ---- another process recovers first ----
# Every access token dies at the server. Process A's API request is held for
# 3 s; meanwhile process B fails, refreshes and stores the new token. When
# A's request comes back refused, A finds B's token in the store and uses it.
ctl POST "$px/__control/expire" >/dev/null || exit 99
ctl POST "$px/__control/reset_counters" >/dev/null || exit 99
ctl POST "$px/__control/fault?endpoint=api&kind=delay&count=1&param=3000" >/dev/null || exit 99
"$prog" -c "$settings" call "$erin" user_detail >"$tmp/a.out" 2>"$tmp/a.err" &
a_pid=$!
i=0
while [ "$(ctl GET "$px/__control/counters" | json_get api)" -lt 1 ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
run 0 "process B recovers by itself" call "$erin" user_detail
has "$tmp/err" "B tells its refresh in one note" "note: the session of account $erin was lost" \
	"refreshed its token"
wait "$a_pid"
a_rc=$?
cat "$tmp/a.out" "$tmp/a.err" >>"$all"
check "process A succeeds (exit $a_rc)" '[ "$a_rc" -eq 0 ]'
check "one refresh between them" '[ "$(ctl GET "$px/__control/counters" | json_get token)" -eq 1 ]'
has "$tmp/a.err" "A tells the other process's recovery in one note" \
	"note: the session of account $erin was lost (access_token_invalid)" "another process"
lacks "$tmp/a.err" "A prints no raw session_error_detected" "pixiv_session_error_detected"
lacks "$tmp/a.err" "A prints no raw session_invalidated" "pixiv_session_invalidated"
lacks "$tmp/a.err" "A prints no warning at all" "warning:"
has "$tmp/a.out" "A prints the user" '"name": "erin"'

# ---- a dead refresh token: the advice once, in CLI terms ----
cur=$(ctl GET "$px/__control/refresh_token?user_id=4343" | json_get refresh_token) || exit 99
ctl POST "$px/__control/revoke?refresh_token=$cur" >/dev/null || exit 99
ctl POST "$px/__control/expire" >/dev/null || exit 99
run 1 "a dead refresh token fails the call" call "$erin" user_detail
has "$tmp/err" "the error says the token is dead" "invalid_grant"
has "$tmp/err" "the advice is a CLI command" "provauth accounts add --provider pixiv"
lacks "$tmp/err" "no C function is named to a CLI user" "provauth_account_import"
n=$(grep -o "provauth accounts add" "$tmp/err" | wc -l)
check "the advice is given once (given $n times)" '[ "$n" -eq 1 ]'
lacks "$tmp/err" "no second advice about password logins" "no password login"

cli_finish
