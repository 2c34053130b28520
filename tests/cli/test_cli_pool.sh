#!/bin/sh
# The account pool from the command line, against the fake Pixverse with
# short job durations: generate (with --wait, as text and JSON; a bad
# parameter refused, named, with no account reserved; moderated, failed and
# timed-out jobs with their exit statuses), jobs status of several handles
# (one list request per account), pool listing and pool set; then the
# example worker (examples/worker) runs 12 jobs over 3 accounts through a
# session killed mid-run, an account allowed fewer jobs than the pool
# believes, and an account running out of credits: every job ends in a
# defined state, no account runs more jobs than it may, one login. No
# secret appears in any output.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
: "${PROVAUTH_PLUGIN_PATH:?run through make check}"
worker="$PA_BUILDDIR/examples/worker/worker"
need_programs "$prog" "$fake_pv" "$worker"
cli_setup pa-cli-pool
umask 077

cat >"$tmp/fake-accounts.json" <<'EOF'
{"accounts": [
 {"email": "ann@pool.example", "password": "ann-pool-pw-5e1", "nickname": "Ann",
  "credit_daily": 0, "credit_monthly": 1000, "credit_package": 0, "api_key": "pv-pool-ann-openapi-4f2e9"},
 {"email": "ben@pool.example", "password": "ben-pool-pw-7c2", "nickname": "Ben",
  "credit_daily": 0, "credit_monthly": 1000, "credit_package": 0},
 {"email": "cid@pool.example", "password": "cid-pool-pw-9a3", "nickname": "Cid",
  "credit_daily": 0, "credit_monthly": 1000, "credit_package": 0}
]}
EOF
# Logins are counted here, not limited: the fake's default limit is 5 a minute.
start pixverse "$fake_pv" --accounts "$tmp/fake-accounts.json" --login-limit 100 --login-limit-global 100 \
	--job-queue-ms 200 --job-process-ms 600 --early-cdn-ms 200
hold_fakes
wait_port pixverse
pv="http://127.0.0.1:$port"
px="http://127.0.0.1:1"
fake_settings "auto_reauth_enabled: true" "reauth_cooldown: 0"

stats() { ctl GET "$pv/__control/stats"; }
logins() { stats | json_get logins_ok; }
job_stat() { ctl POST "$pv/__control/job_stats?email=$1" | json_get "$2"; }

# ---- three accounts, each logged in once with its password ----
ids=''
for who in ann ben cid; do
	token=$(ctl POST "$pv/__control/login_token?email=$who@pool.example" | json_get token) || exit 99
	printf '%s' "$token" >"$tmp/$who.jwt"
	printf '_ai_token=%s' "$token" >"$tmp/$who.cookies"
	run 0 "import $who" accounts import-cookies --provider pixverse --from-file "$tmp/$who.cookies"
	id=$(sed -n 's/.*account \(acct-[0-9a-f]*\) .*/\1/p' "$tmp/out" | head -n 1)
	[ -n "$id" ] || { echo "no account id for $who"; exit 99; }
	eval "${who}_id=$id"
	ids="$ids $id"
	sed -n "s/.*\"email\": \"$who@pool.example\", \"password\": \"\([^\"]*\)\".*/\1/p" \
		"$tmp/fake-accounts.json" >"$tmp/$who.pw"
	run 0 "reauth $who with the password" accounts reauth "$id" --password-stdin <"$tmp/$who.pw"
done
# shellcheck disable=SC2154 # set by eval above
echo "# accounts: ann=$ann_id ben=$ben_id cid=$cid_id"

# ---- the pool before any job ----
run 0 "pool lists the accounts" pool --provider pixverse
has "$tmp/out" "the table has its header" "ID" "EMAIL" "STATUS" "HEALTH" "SLOTS" "COOLDOWN" "CREDITS" "LAST_USED"
for who in ann ben cid; do
	has "$tmp/out" "$who is listed, nothing in use of the default 2 slots" "$who@pool.example" "active" "0/2"
done
run 0 "pool --sync asks each account's credits" pool --provider pixverse --sync
has "$tmp/out" "each account is synced" "Synced account $ann_id."
has "$tmp/out" "credits are learnt" "ann@pool.example" "web 1000"
run 0 "pool --json" --json pool --provider pixverse
check_json "pool --json: 3 accounts, their credits, no reservation" '
a = {x["email"]: x for x in d["accounts"]}
assert sorted(a) == ["ann@pool.example", "ben@pool.example", "cid@pool.example"], a
for x in a.values():
    assert x["in_use"] == 0 and x["status"] == "active" and x["healthy"] is True, x
    assert x["credits"]["web"] == 1000, x
assert d["reservations"] == [], d["reservations"]'
check_json_style "pool --json is laid out like every --json output"

# ---- a bad parameter: refused, named, nothing reserved ----
run 1 "a duration the model does not allow" generate --provider pixverse --prompt "a cat" --duration 99
has "$tmp/err" "the error names the parameter" "duration"
run 0 "pool after the refusal" --json pool --provider pixverse
check_json "no account was reserved for the refused job" '
assert all(x["in_use"] == 0 for x in d["accounts"]), d["accounts"]
assert d["reservations"] == []
assert all(x["last_used"] == 0 for x in d["accounts"]), "an account was chosen"'
run 2 "an unknown --type is a usage error" generate --provider pixverse --prompt "a cat" --type t2x
has "$tmp/err" "the usage error names --type and the types" "--type given is not one of t2v, i2v"
lacks "$tmp/err" "the value given is not repeated" "t2x"
run 2 "a --priority that is no number" pool set acct-0000000000000000 --priority high
has "$tmp/err" "the usage error names --priority" "--priority given is not an integer"
run 2 "generate without --prompt" generate --provider pixverse
run 2 "--timeout without --wait" generate --provider pixverse --prompt x --timeout 5

# ---- generate --wait: text ----
run 0 "generate --wait" generate --provider pixverse --prompt "a red fox in snow" --duration 1 --wait
has "$tmp/out" "the handle is printed" "job:      acct-"
has "$tmp/out" "the job is done" "state:    done after"
has "$tmp/out" "the result URL is a real output" "result:   $pv/media/web/ori/"
has "$tmp/out" "the cost is told" "cost:     4 web credits"
handle=$(sed -n 's/^job: *//p' "$tmp/out")
acct=${handle%%/*}
check "the handle is ACCOUNT_ID/JOB_ID of a pool account" 'case " $ids " in *" $acct "*) true ;; *) false ;; esac'
run 0 "pool after the job" --json pool --provider pixverse
check_json "the finished job gave its slot back" '
assert all(x["in_use"] == 0 for x in d["accounts"]), d["accounts"]
assert d["reservations"] == []'

# ---- generate --wait --json ----
run 0 "generate --wait --json" --json generate --provider pixverse --prompt "a blue heron" --duration 1 --wait
check_json "the JSON names the job and its result" '
assert d["handle"] == d["account_id"] + "/" + d["job_id"], d
assert d["state"] == "done", d
assert "/web/ori/" in d["url"], d
assert d["cost"] == 4 and d["credit_kind"] == "web", d
assert d["reservation_id"].startswith("rsv-"), d'
check_json_style "generate --json is laid out like every --json output"

# ---- an image job: uploaded with the account's OpenAPI key, then image-to-video ----
printf '\211PNG\r\n\032\n\000\000\000\rIHDR\000\000\000\001\000\000\000\001\010\002\000\000\000' >"$tmp/cat.png"
run 1 "an image job on an account without an OpenAPI key" generate --provider pixverse --type i2v \
	--prompt "the cat moves" --image "$tmp/cat.png" --account "$ben_id" --duration 1
has "$tmp/err" "the error says what is missing" "upload needs an openapi API key"
run 2 "set-api-key without --kind" accounts set-api-key "$ann_id" --from-file "$tmp/cat.png"
printf '%s\n' 'pv-pool-ann-openapi-4f2e9' >"$tmp/ann.key"
run 0 "set-api-key stores ann's OpenAPI key" accounts set-api-key "$ann_id" --kind openapi --from-file "$tmp/ann.key"
has "$tmp/out" "the key is stored, not shown" "Stored the openapi API key of account $ann_id."
uploads_before=$(stats | json_get uploads)
run 0 "generate --image --wait" generate --provider pixverse --type i2v --prompt "the cat moves" \
	--image "$tmp/cat.png" --account "$ann_id" --duration 1 --wait
has "$tmp/out" "the image job is done" "state:    done after"
has "$tmp/out" "the image job has its result" "result:   $pv/media/web/ori/"
check "the image went up once" '[ "$(stats | json_get uploads)" -eq $((uploads_before + 1)) ]'
run 0 "pool after the image jobs" --json pool --provider pixverse
check_json "the refused and the finished image jobs gave their slots back" '
assert all(x["in_use"] == 0 for x in d["accounts"]), d["accounts"]
assert d["reservations"] == []'

# ---- outcomes and their exit statuses ----
run 4 "a moderated job exits 4" generate --provider pixverse --prompt "please moderate-me" --duration 1 --wait
has "$tmp/err" "moderation is told" "moderation refused"
lacks "$tmp/out" "a moderated job shows no result URL" "result:"
run 3 "a failed job exits 3" generate --provider pixverse --prompt "fail-me now" --duration 1 --wait
has "$tmp/err" "the failure is told" "failed at the provider"
ctl POST "$pv/__control/jobs?process_ms=20000" >/dev/null || exit 99
run 5 "a job still running at --timeout exits 5" generate --provider pixverse --prompt "a slow one" \
	--duration 1 --wait --timeout 2
has "$tmp/err" "the timeout says how to follow the job" "provauth jobs status acct-"
slow=$(sed -n 's/^job: *//p' "$tmp/out")
run 0 "pool with the slow job running" --json pool --provider pixverse
check_json "the running job keeps its slot" '
r = d["reservations"]
assert len(r) == 1 and r[0]["account_id"] + "/" + r[0]["job_id"] == sys.argv[2], r
assert sum(x["in_use"] for x in d["accounts"]) == 1' "$slow"
ctl POST "$pv/__control/jobs?process_ms=600" >/dev/null || exit 99

# ---- jobs status of several handles ----
handles=''
for p in "an owl" "a lynx" "a wolf"; do
	run 0 "generate '$p' without --wait" generate --provider pixverse --prompt "$p" --duration 1
	handles="$handles $(sed -n 's/^job: *//p' "$tmp/out")"
done
sleep 2
before=$(stats | json_get requests video_list)
# shellcheck disable=SC2086 # the handles are words
run 0 "jobs status of four handles" jobs status $handles "$slow"
for h in $handles; do
	has "$tmp/out" "job $h is done, with its URL" "$h" "done" "$pv/media/web/ori/"
done
has "$tmp/out" "the slow job is still processing" "$slow" "processing"
accounts_asked=$(for h in $handles $slow; do echo "${h%%/*}"; done | sort -u | wc -l)
after=$(stats | json_get requests video_list)
check "one list request per account ($accounts_asked accounts, $((after - before)) requests)" \
	'[ $((after - before)) -eq "$accounts_asked" ]'
# shellcheck disable=SC2086
run 0 "jobs status --json" --json jobs status $handles
check_json "jobs status --json: each job done, with its URL" '
assert len(d) == 3, d
for j in d:
    assert j["state"] == "done" and "/web/ori/" in j["url"], j
    assert j["handle"] == j["account_id"] + "/" + j["job_id"], j'
run 2 "a malformed handle is a usage error" jobs status not-a-handle
has "$tmp/err" "the usage error names the argument" "argument 1"
run 0 "jobs delete the slow job" jobs delete "$slow"
has "$tmp/out" "the slow job is deleted" "$slow" "deleted"
run 0 "pool after the delete" --json pool --provider pixverse
check_json "every slot is free again" '
assert all(x["in_use"] == 0 for x in d["accounts"]), d["accounts"]
assert d["reservations"] == [], d["reservations"]'

# ---- pool set ----
run 0 "pool set --priority" --json pool set "$ben_id" --priority 5
check_json "ben has priority 5" 'assert d["id"] == sys.argv[2] and d["priority"] == 5, d' "$ben_id"
run 0 "a job goes to the account of highest priority" generate --provider pixverse --prompt "a hare" --duration 1
has "$tmp/out" "ben took it" "job:      $ben_id/"
run 0 "pool set --disable" pool set "$cid_id" --disable
has "$tmp/out" "cid is disabled" "Account $cid_id: status disabled"
run 1 "a job pinned to a disabled account" generate --provider pixverse --prompt "a mole" --account "$cid_id"
has "$tmp/err" "the refusal names the account" "$cid_id"
run 0 "pool set --enable --priority 0" pool set "$cid_id" --enable
has "$tmp/out" "cid is active again" "Account $cid_id: status active"
run 0 "pool set ben back to priority 0" pool set "$ben_id" --priority 0
run 2 "pool set without a change" pool set "$ben_id"
run 2 "pool set --disable --enable" pool set "$ben_id" --disable --enable
run 1 "pool set of an unknown account" pool set acct-0000000000000000 --priority 1
has "$tmp/err" "the error names the account" "acct-0000000000000000"
# The hare's job was never followed: once it ends, reconcile gives its slot back.
sleep 2
run 0 "pool --reconcile" pool --provider pixverse --reconcile
has "$tmp/out" "reconcile released the hare's finished job" "Reconciled:" "1 finished job released"
has "$tmp/out" "nothing is held after the reconcile" "$ben_id" "0/2"

# ---- the worker: 12 jobs, 3 accounts, a kill, a low cap, an empty account ----
# ben may run one job at once, but the pool was never told: its second job is
# refused (500044) and the pool learns a lower cap. cid has 2 credits left,
# less than a job's 4, which the pool does not know: its first job is
# refused for credits (500090) and cid is exhausted. ann's session is killed
# mid-run: one login, and the jobs go on.
# Counters from here on are the worker's: the peak of jobs in flight starts again.
ctl POST "$pv/__control/reset" >/dev/null || exit 99
ctl POST "$pv/__control/plan?email=ben@pool.example&gen_simultaneously=1" >/dev/null || exit 99
ctl POST "$pv/__control/credits?email=cid@pool.example&daily=2&monthly=0&package=0" >/dev/null || exit 99
ctl POST "$pv/__control/jobs?queue_ms=300&process_ms=1500" >/dev/null || exit 99
{
	for i in 1 2 3 4 5 6 7 8 9; do echo "worker job $i: a lighthouse at dusk"; done
	echo "worker job 10: please moderate-me"
	echo "worker job 11: fail-me"
	echo "worker job 12: something forbidden"
} >"$tmp/queue"
logins_before=$(logins)
"$worker" -c "$settings" -q "$tmp/queue" -t 6 -w 60000 -d 1 -i 300 >"$tmp/worker.out" 2>"$tmp/worker.err" &
wpid=$!
i=0
while [ "$(job_stat ann@pool.example in_flight)" -lt 1 ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
ctl POST "$pv/__control/kick?email=ann@pool.example" >/dev/null || exit 99
wait "$wpid"
wrc=$?
cat "$tmp/worker.out" "$tmp/worker.err" >>"$all"
sed 's/^/# /' "$tmp/worker.err"
cp "$tmp/worker.out" "$tmp/out"
cp "$tmp/worker.err" "$tmp/err"
check "the worker exits 0 (exit $wrc)" '[ "$wrc" -eq 0 ]'
n=$(grep -c '^job [0-9]* \(done\|moderated\|failed\|rejected\|no_account\|timeout\)' "$tmp/worker.out")
check "all 12 jobs ended in a defined state ($n)" '[ "$n" -eq 12 ]'
for k in 1 2 3 4 5 6 7 8 9 10 11 12; do
	c=$(grep -c "^job $k " "$tmp/worker.out")
	[ "$c" -eq 1 ] || not_ok "job $k ended $c times"
done
has "$tmp/worker.err" "the summary adds up: 9 done, 1 moderated, 1 failed, 1 rejected" \
	"worker: 12 jobs: 9 done, 1 moderated, 1 failed, 1 rejected, 0 no_account, 0 timeout"
has "$tmp/worker.out" "the moderated prompt ended moderated" "job 10 moderated"
has "$tmp/worker.out" "the failing prompt ended failed" "job 11 failed"
has "$tmp/worker.out" "the forbidden prompt was rejected" "job 12 rejected"
n=$(grep -c "^job [0-9]* done .*url=$pv/media/web/ori/" "$tmp/worker.out")
check "every done job has a real result URL ($n)" '[ "$n" -eq 9 ]'
check "one login for the killed session ($(($(logins) - logins_before)))" \
	'[ $(($(logins) - logins_before)) -eq 1 ]'
has "$tmp/worker.err" "the library's login is counted by the worker" "logins by the library: 1"
requeued_conc=$(sed -n 's/.* \([0-9]*\) concurrency.*/\1/p' "$tmp/worker.err")
requeued_cred=$(sed -n 's/.* \([0-9]*\) credits.*/\1/p' "$tmp/worker.err")
check "a concurrency refusal was re-queued (${requeued_conc:-none})" '[ "${requeued_conc:-0}" -ge 1 ]'
check "a credits refusal was re-queued (${requeued_cred:-none})" '[ "${requeued_cred:-0}" -ge 1 ]'
check "ben was refused for concurrency by the fake" '[ "$(job_stat ben@pool.example concurrency_refused)" -ge 1 ]'
check "ben never ran more than 1 job at once" '[ "$(job_stat ben@pool.example max_in_flight)" -le 1 ]'
check "ann never ran more than 2 jobs at once" '[ "$(job_stat ann@pool.example max_in_flight)" -le 2 ]'
check "cid never ran more than 2 jobs at once" '[ "$(job_stat cid@pool.example max_in_flight)" -le 2 ]'
check "cid was refused for credits by the fake" '[ "$(job_stat cid@pool.example credits_refused)" -ge 1 ]'
run 0 "pool after the worker" --json pool --provider pixverse
check_json "after the worker: no slot held, ben capped, cid exhausted" '
a = {x["email"]: x for x in d["accounts"]}
assert all(x["in_use"] == 0 for x in a.values()), a
assert d["reservations"] == [], d["reservations"]
assert a["ben@pool.example"]["effective_cap"] == 1, a["ben@pool.example"]
assert a["cid@pool.example"]["status"] == "exhausted", a["cid@pool.example"]'

# ---- no secret anywhere ----
lacks "$all" "ann's OpenAPI key never appears" "pv-pool-ann-openapi-4f2e9"
for who in ann ben cid; do
	lacks "$all" "$who's password never appears" "$(cat "$tmp/$who.pw")"
	jwt=$(cat "$tmp/$who.jwt")
	lacks "$all" "$who's JWT never appears" "$jwt"
	lacks "$all" "$who's JWT signature never appears" "${jwt##*.}"
done

cli_finish
