#!/bin/sh
# `provauth store init | check | migrate`, against the fake servers: init
# creates the settings' store once and says where; check counts the accounts
# and names a damaged record (exit 1); migrate copies sqlite -> sqlite ->
# sqlite keeping every account, revision, write time and secret (the copy
# still logs in at the fakes), refuses a destination that already holds an
# id without writing anything, refuses a password on the command line
# without repeating it; the --json shapes; and, when a PostgreSQL server can
# be started (tests/support/pg-cluster.sh), sqlite -> postgres -> sqlite.
set -u
: "${PROVAUTH_PLUGIN_PATH:?run through make check}"
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
need_programs "$prog" "$fake_pv" "$fake_px"
cli_setup pa-cli-store

carol_rt="pixiv-refresh-carol-5d1c9e"
start_fakes --user "$carol_rt:4242:carol:carol@example.com"
umask 077
fake_settings
secrets="$carol_rt"

# rows DB: every account's id, provider, email, revision and write time, as stored
rows() {
	python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for row in db.execute("select id, provider, email, revision, updated_at from accounts order by id"):
    print(row)' "$1"
}
# settings_for DB KEY: a settings file like $settings whose store is DB sealed with KEY
settings_for() {
	sed -e "s|^  path: .*|  path: $1|" -e "s|^  key_file: .*|  key_file: $2|" "$tmp/provauth.yaml" \
		>"$tmp/$(basename "$1").yaml"
	echo "$tmp/$(basename "$1").yaml"
}

# ---- init ----
run 1 "check before any store" store check
has "$tmp/err" "check names the missing store" "provauth: " "no store at $tmp/accounts.db"
check "check created nothing" '[ ! -e "$tmp/accounts.db" ] && [ ! -e "$tmp/accounts.key" ]'
run 0 "init" --json store init
check_json_style "init --json in the common style"
check_json "init says it created the store, and where" '
assert d["created"] is True and d["where"] == sys.argv[2] and d["settings"] == sys.argv[3], d
assert d["backend"] == "sqlite" and d["key_file"] == sys.argv[4] and d["schema_version"] == 5, d' \
	"$tmp/accounts.db" "$tmp/provauth.yaml" "$tmp/accounts.key"
check "init made the file and its key" '[ -s "$tmp/accounts.db" ] && [ -s "$tmp/accounts.key" ]'
cp "$tmp/accounts.key" "$tmp/key.first"
run 0 "init again" store init
has "$tmp/out" "a second init changes nothing and says so" "already exists"
check "the key is the same" 'cmp -s "$tmp/accounts.key" "$tmp/key.first"'
run 0 "check an empty store" --json store check
check_json_style "check --json in the common style"
check_json "an empty store: 0 accounts, ok" '
assert d == {"store": d["store"], "backend": "sqlite", "where": sys.argv[2], "schema_version": 5,
             "ok": True, "accounts": 0, "damaged": []}, d' "$tmp/accounts.db"

# ---- accounts: alice (pixverse, written twice) and carol (pixiv) ----
cookies_of() {
	tok=$(ctl POST "$pv/__control/login_token?email=$1" | json_get token) || exit 99
	[ -n "$tok" ] || { echo "no token from the fake"; exit 99; }
	printf '_ai_token=%s\n' "$tok" >"$tmp/$2"
	secrets="$secrets $tok"
}
cookies_of alice@example.com alice1.cookies
run 0 "import alice" --json accounts import-cookies --provider pixverse <"$tmp/alice1.cookies"
alice=$(json_get id <"$tmp/out")
cookies_of alice@example.com alice2.cookies
run 0 "re-import alice (revision 2)" accounts import-cookies --provider pixverse --account "$alice" \
	--from-file "$tmp/alice2.cookies"
printf '%s\n' "$carol_rt" >"$tmp/carol.rt"
run 0 "import carol" --json accounts import pixiv --kind refresh_token --from-file "$tmp/carol.rt"
carol=$(json_get id <"$tmp/out")
rows "$tmp/accounts.db" >"$tmp/rows.a"
alice_rev=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("select revision from accounts where id = ?", (sys.argv[2],)).fetchone()[0])' \
	"$tmp/accounts.db" "$alice") || exit 99
check "alice's revision is above 1, so keeping it means something" '[ "$alice_rev" -ge 2 ]'
run 0 "list the original" --json accounts list
cp "$tmp/out" "$tmp/list.a"
run 0 "check" store check
has "$tmp/out" "check counts the accounts" "accounts: 2"
has "$tmp/out" "check finds nothing damaged" "0 damaged records"

# ---- migrate sqlite -> sqlite -> sqlite ----
run 0 "migrate to b" --json store migrate --to "sqlite:$tmp/b.db" --key-file "$tmp/b.key"
check_json_style "migrate --json in the common style"
check_json "migrate reports 2 accounts copied and verified" '
assert d["accounts"] == 2 and d["verified"] is True and d["to"] == sys.argv[2], d' "$tmp/b.db"
run 0 "migrate b to c" store migrate --from "$tmp/b.db" --to "$tmp/c.db" --key-file "$tmp/b.key"
has "$tmp/out" "migrate's text names both stores and the count" "Copied 2 accounts from $tmp/b.db to $tmp/c.db"
rows "$tmp/b.db" >"$tmp/rows.b"
rows "$tmp/c.db" >"$tmp/rows.c"
check "b holds every account with its revision and write time" 'cmp -s "$tmp/rows.a" "$tmp/rows.b"'
check "c holds every account with its revision and write time" 'cmp -s "$tmp/rows.a" "$tmp/rows.c"'
settings=$(settings_for "$tmp/c.db" "$tmp/b.key")
run 0 "list the copy's copy" --json accounts list
check "the copy lists exactly as the original" 'cmp -s "$tmp/out" "$tmp/list.a"'
run 0 "alice's session from c: her cookies came through" status "$alice"
run 0 "carol's call from c: her refresh token came through" call "$carol" user_detail
for s in $secrets; do
	lacks "$tmp/c.db" "no secret in clear in the copy" "$s"
done

# ---- --from-key-file: a source sealed under another key than the destination ----
run 0 "migrate b (its key) to k (a new key)" store migrate --from "$tmp/b.db" --from-key-file "$tmp/b.key" \
	--to "$tmp/k.db" --key-file "$tmp/k.key"
check "k's key is a new one" '! cmp -s "$tmp/b.key" "$tmp/k.key"'
run 0 "k opens with its own key" --json store check --store "$tmp/k.db" --key-file "$tmp/k.key"
check_json "k holds both accounts" 'assert d["ok"] and d["accounts"] == 2, d'
run 1 "k does not open with b's key" store check --store "$tmp/k.db" --key-file "$tmp/b.key"
run 2 "--from-key-file without --from" store migrate --to "$tmp/l.db" --from-key-file "$tmp/b.key"

# ---- a damaged record ----
cp "$tmp/c.db" "$tmp/d.db"
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("update accounts set secrets = zeroblob(length(secrets)) where id = ?", (sys.argv[2],))
db.commit()' "$tmp/d.db" "$carol" || exit 99
settings=$(settings_for "$tmp/d.db" "$tmp/b.key")
run 1 "check finds the damaged record" store check
has "$tmp/out" "the damaged record is named" "damaged: $carol: "
has "$tmp/out" "and counted" "1 damaged record"
lacks "$tmp/out" "the readable account is not called damaged" "damaged: $alice"
run 1 "check --json" --json store check
check_json "check --json names it" '
assert d["ok"] is False and d["accounts"] == 2, d
assert [x["id"] for x in d["damaged"]] == [sys.argv[2]] and d["damaged"][0]["error"], d' "$carol"
run 1 "a store with a damaged record is not migrated" store migrate --to "$tmp/e.db" --key-file "$tmp/b.key"
has "$tmp/err" "the refusal names the record" "provauth: " "$carol" "nothing was copied"
run 1 "check --store names it too" store check --store "sqlite:$tmp/d.db" --key-file "$tmp/b.key"
has "$tmp/out" "the damaged record is named by --store" "damaged: $carol: "

# ---- a destination already holding an id ----
settings=$(settings_for "$tmp/f.db" "$tmp/b.key")
cp "$tmp/c.db" "$tmp/f.db"
run 0 "remove the first account from f" accounts remove "$(head -n 1 "$tmp/rows.a" | sed "s/^('\([^']*\)'.*/\1/")"
rows "$tmp/f.db" >"$tmp/rows.f"
settings="$tmp/provauth.yaml"
run 1 "migrate into f, which holds one of the ids" store migrate --to "$tmp/f.db" --key-file "$tmp/b.key"
taken=$(head -n 1 "$tmp/rows.f" | sed "s/^('\([^']*\)'.*/\1/")
has "$tmp/err" "the refusal names the id already there" "provauth: " "already holds account $taken" \
	"nothing was copied"
rows "$tmp/f.db" >"$tmp/rows.f2"
check "f is unchanged" 'cmp -s "$tmp/rows.f" "$tmp/rows.f2"'

# ---- a password on the command line ----
pw="Sekr3t-pw-9f8e"
for dest in "postgresql://provauth:$pw@127.0.0.1:1/provauth" "host=127.0.0.1 port=1 password=$pw" \
	"postgres://provauth@127.0.0.1:1/provauth?password=$pw"; do
	run 2 "a password in --to is refused" store migrate --to "$dest"
	has "$tmp/err" "the refusal says where the password goes" "PGPASSWORD" ".pgpass"
	lacks "$tmp/err" "the refusal does not repeat it" "$pw"
done
run 2 "a password in --from is refused" store migrate --from "postgresql://u:$pw@127.0.0.1:1/db" \
	--to "$tmp/g.db"
lacks "$tmp/err" "the --from refusal does not repeat it" "$pw"
check "nothing was created for a refused command" '[ ! -e "$tmp/g.db" ]'
run 1 "a database nobody listens for" store migrate --to "postgresql://provauth@127.0.0.1:1/provauth" \
	--key-file "$tmp/b.key"
has "$tmp/err" "the failure names the server" "provauth: " "127.0.0.1:1"
run 2 "migrate needs --to" store migrate
run 2 "--key-file alone does not go with check" store check --key-file "$tmp/b.key"

# ---- postgres: sqlite -> postgres -> sqlite ----
pg="$PA_SRCDIR/tests/support/pg-cluster.sh"
pg_rc=0
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGSERVICEFILE PGPASSWORD PGPASSFILE
if [ -x "$pg" ]; then
	mkdir "$tmp/pg" || exit 99
	"$pg" start "$tmp/pg" $$ >"$tmp/pg.env" 2>"$tmp/pg.err" || pg_rc=$?
else
	echo "$pg is not in this tree" >"$tmp/pg.err"
	pg_rc=77
fi
if [ "$pg_rc" -eq 77 ] && [ -z "${CI:-}" ]; then
	echo "# the postgres part did not run (allowed outside CI only): $(tail -n 1 "$tmp/pg.err")"
elif [ "$pg_rc" -ne 0 ]; then
	not_ok "a PostgreSQL cluster could not be started (exit $pg_rc): $(tail -n 3 "$tmp/pg.err")"
else
	trap '"$pg" stop "$tmp/pg" >/dev/null 2>&1; cli_cleanup' EXIT
	. "$tmp/pg.env"
	export PGPASSFILE
	db_url=$("$pg" createdb "$tmp/pg" migrate) || exit 99
	printf 'store:\n  backend: postgres\n  url: "%s"\n  key_file: %s\n' "$db_url" "$tmp/accounts.key" >"$tmp/pg.yaml"
	settings="$tmp/pg.yaml"
	run 1 "check a database without provauth's tables" store check
	has "$tmp/err" "check says the database holds no store, and creates none" "provauth: " "no provauth store"
	run 0 "init the postgres store" --json store init
	check_json "init created it and names the database" '
assert d["created"] is True and d["backend"] == "postgres" and d["schema_version"] == 2, d
assert d["where"].startswith("provauth@127.0.0.1:") and d["where"].endswith("/migrate"), d'
	run 0 "init the postgres store again" store init
	has "$tmp/out" "a second init leaves it" "already exists"
	run 0 "check the empty postgres store" store check
	has "$tmp/out" "it holds no account" "accounts: 0"
	settings="$tmp/provauth.yaml"
	run 0 "migrate sqlite -> postgres" --json store migrate --to "$db_url" --key-file "$tmp/accounts.key"
	check_json "2 accounts copied into postgres" 'assert d["accounts"] == 2 and d["verified"] is True, d'
	run 0 "check the postgres store" --json store check --store "$db_url" --key-file "$tmp/accounts.key"
	check_json "postgres holds the 2 accounts, none damaged" 'assert d["ok"] and d["accounts"] == 2, d'
	run 1 "a second migrate into postgres is refused" store migrate --to "$db_url" --key-file "$tmp/accounts.key"
	has "$tmp/err" "naming an id" "already holds account" "nothing was copied"
	run 0 "migrate postgres -> sqlite" store migrate --from "$db_url" --to "$tmp/h.db" \
		--key-file "$tmp/accounts.key"
	rows "$tmp/h.db" >"$tmp/rows.h"
	check "the round trip through postgres keeps every account, revision and write time" \
		'cmp -s "$tmp/rows.a" "$tmp/rows.h"'
	settings=$(settings_for "$tmp/h.db" "$tmp/accounts.key")
	run 0 "list after the postgres round trip" --json accounts list
	check "it lists exactly as the original" 'cmp -s "$tmp/out" "$tmp/list.a"'
	run 0 "alice's session after the postgres round trip" status "$alice"
	dbpw=$(sed -n 's/^[^:]*:[^:]*:[^:]*:[^:]*:\(.*\)$/\1/p' "$PGPASSFILE" | head -n 1)
	[ -n "$dbpw" ] && secrets="$secrets $dbpw"
	"$pg" stop "$tmp/pg" >/dev/null 2>&1
fi

for s in $secrets; do
	lacks "$all" "no secret (or database password) in any output" "$s"
done
cli_finish
