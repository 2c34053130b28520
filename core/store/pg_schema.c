/*
 * The postgres store's schema: its version (provauth_meta.schema_version),
 * creating it on first use, migrations, and the key check (a sealed known
 * text in provauth_meta.key_check) that tells a wrong key from a damaged
 * record, as in the sqlite store.
 *
 * Nothing is changed before everything was checked: a newer schema, a
 * table of the same name that is not provauth's, or a wrong key leaves the
 * database as it was. Creation and migrations run in one transaction under
 * an advisory lock, so hosts that start together create the schema once;
 * the key check is written in the same transaction, and a host that made a
 * different key at the same time finds out there.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/pg_private.h"

/* The advisory lock creations and migrations take: "provauth" in ASCII. */
#define SCHEMA_LOCK "8102099852430570856"

/*
 * Schema migrations: migrations[i] takes the schema from version i to
 * i + 1, inside the transaction that sets provauth_meta.schema_version. A
 * new version appends one entry; the entries of released versions never
 * change. Version 1 carries the sqlite store's schema 4: the sealed record
 * bound to id, provider, email and revision, and the core's state in
 * columns of its own.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE provauth_meta (key text PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE provauth_accounts ("
	" id text PRIMARY KEY, provider text NOT NULL, email text, metadata text NOT NULL DEFAULT '{}',"
	" revision bigint NOT NULL CHECK (revision >= 1), updated_at bigint NOT NULL,"
	" access_expires_at bigint, secrets bytea NOT NULL, auth_method text, health_state text,"
	" health_reason text, health_code text, health_at bigint, health_message text,"
	" last_reauth_at bigint, refresh_refused text, refresh_refused_at bigint);"
	"CREATE INDEX provauth_accounts_provider ON provauth_accounts (provider, id);",
	/*
	 * 1 -> 2: the account pool (pg_pool.c), plain columns (nothing in it is
	 * secret) that go with their account. A reservation records the holder
	 * key of the store that made it (its advisory lock, see pg_pool.c).
	 */
	"CREATE TABLE provauth_pool ("
	" account_id text PRIMARY KEY REFERENCES provauth_accounts (id) ON DELETE CASCADE,"
	" provider text NOT NULL, status text NOT NULL DEFAULT 'active', priority integer NOT NULL DEFAULT 0,"
	" max_slots integer, effective_cap integer, cap_probe_at bigint NOT NULL DEFAULT 0,"
	" in_use integer NOT NULL DEFAULT 0, cooldown_until bigint NOT NULL DEFAULT 0, cooldown_reason text,"
	" credits_at bigint NOT NULL DEFAULT 0, last_used bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX provauth_pool_provider ON provauth_pool (provider, account_id);"
	"CREATE TABLE provauth_pool_credits ("
	" account_id text NOT NULL REFERENCES provauth_pool (account_id) ON DELETE CASCADE,"
	" kind text NOT NULL, amount bigint NOT NULL, PRIMARY KEY (account_id, kind));"
	"CREATE TABLE provauth_pool_reservations ("
	" id text PRIMARY KEY,"
	" account_id text NOT NULL REFERENCES provauth_pool (account_id) ON DELETE CASCADE,"
	" provider text NOT NULL, holder text, holder_key integer NOT NULL, credit_kind text,"
	" cost bigint NOT NULL DEFAULT 0, created_at bigint NOT NULL, job_id text, label text);"
	"CREATE INDEX provauth_pool_reservations_job ON provauth_pool_reservations (account_id, job_id);",
};

_Static_assert(PA_ARRAY_LEN(migrations) == PA_PG_SCHEMA_VERSION, "one migration per schema version");

typedef struct schema_state {
	int64_t version;          /* 0: no provauth store in this database */
	int has_accounts;
	char *key_check;          /* hex of the sealed key check, or NULL */
} schema_state;

/* Reads what the database holds. Only reads. */
static int inspect(pg_store *st, PGconn *c, schema_state *out)
{
	PGresult *r = NULL;
	const char *v;
	int rc, meta, accounts;

	memset(out, 0, sizeof(*out));
	if ((rc = pa_pg_exec(st, c, &r, "SELECT to_regclass('provauth_meta') IS NOT NULL,"
	                                " to_regclass('provauth_accounts') IS NOT NULL", 0, NULL,
	                     "reading the schema")) < 0)
		return rc;
	meta = PQgetvalue(r, 0, 0)[0] == 't';
	accounts = PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	if (!meta && !accounts)
		return 0;
	if (!meta)
		return pa_error_set(PROVAUTH_ESTORE, "%s: the database has a table provauth_accounts but no "
		                    "provauth_meta: it is not a provauth store; refusing to change it", st->where);
	if ((rc = pa_pg_exec(st, c, &r, "SELECT (SELECT value FROM provauth_meta WHERE key = 'schema_version'),"
	                                " (SELECT value FROM provauth_meta WHERE key = 'key_check'),"
	                                " EXISTS (SELECT 1 FROM provauth_accounts)", 0, NULL,
	                     "reading the schema version")) < 0)
		return rc;
	v = PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0);
	out->version = v ? strtoll(v, NULL, 10) : -1;
	out->has_accounts = PQgetvalue(r, 0, 2)[0] == 't';
	if (!PQgetisnull(r, 0, 1) && !(out->key_check = pa_strdup(PQgetvalue(r, 0, 1))))
		rc = pa_error_oom();
	PQclear(r);
	if (rc < 0)
		return rc;
	if (out->version < 1)
		return pa_error_set(PROVAUTH_ESTORE, "%s: provauth_meta holds no valid schema version; refusing to "
		                    "change it", st->where);
	if (out->version > PA_PG_SCHEMA_VERSION)
		return pa_error_set(PROVAUTH_ESTORE, "%s: schema version %lld is newer than this library supports "
		                    "(%d); upgrade provauth", st->where, (long long)out->version, PA_PG_SCHEMA_VERSION);
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Opens the key check with the store's key: 0, or ECRYPTO naming the key's source. */
static int check_key(pg_store *st, const char *hex)
{
	size_t n = strlen(hex), i, plain_len = 0;
	unsigned char *blob, *plain = NULL;
	int rc = 0;

	if (n % 2 || n / 2 < PA_SEAL_OVERHEAD)
		return pa_error_set(PROVAUTH_ESTORE, "%s: the key check record is damaged", st->where);
	if (!(blob = malloc(n / 2)))
		return pa_error_oom();
	for (i = 0; i < n / 2 && rc == 0; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			rc = pa_error_set(PROVAUTH_ESTORE, "%s: the key check record is damaged", st->where);
		blob[i] = (unsigned char)(hi << 4 | lo);
	}
	if (rc == 0 && pa_unseal(&plain, &plain_len, st->key.bytes, PA_KEY_CHECK_AD, strlen(PA_KEY_CHECK_AD), blob,
	                         n / 2) < 0)
		rc = pa_error_set(PROVAUTH_ECRYPTO, "%s: %s does not open this store (wrong key?); every host "
		                  "sharing the database needs the same key file", st->where, st->key.source);
	else if (rc == 0 && (plain_len != strlen(PA_KEY_CHECK_TEXT) || memcmp(plain, PA_KEY_CHECK_TEXT, plain_len)))
		rc = pa_error_set(PROVAUTH_ESTORE, "%s: the key check record is damaged", st->where);
	if (plain) {
		pa_wipe(plain, plain_len);
		free(plain);
	}
	free(blob);
	return rc;
}

/* The sealed key check in hex (malloc()ed). */
static int seal_key_check(pg_store *st, char **hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char *blob = NULL;
	size_t len = 0, i;
	int rc;

	if ((rc = pa_seal(&blob, &len, st->key.bytes, PA_KEY_CHECK_AD, strlen(PA_KEY_CHECK_AD), PA_KEY_CHECK_TEXT,
	                  strlen(PA_KEY_CHECK_TEXT))) < 0)
		return pa_error_prefix(rc, "%s: sealing the key check", st->where);
	if (!(*hex = malloc(2 * len + 1))) {
		free(blob);
		return pa_error_oom();
	}
	for (i = 0; i < len; i++) {
		(*hex)[2 * i] = digits[blob[i] >> 4];
		(*hex)[2 * i + 1] = digits[blob[i] & 15];
	}
	(*hex)[2 * len] = '\0';
	free(blob);
	return 0;
}

/*
 * Inside the transaction, under the schema lock: the schema as it is now
 * (another host may have just created or migrated it), the missing
 * migrations, and the key check, which must open with our key.
 */
static int migrate_locked(pg_store *st, PGconn *c)
{
	schema_state now;
	char *hex = NULL, version[24];
	const char *params[2];
	PGresult *r = NULL;
	int64_t v;
	int rc;

	if ((rc = inspect(st, c, &now)) < 0)
		goto out;
	for (v = now.version; v < PA_PG_SCHEMA_VERSION; v++)
		if ((rc = pa_pg_command(st, c, migrations[v], "migrating the schema")) < 0)
			goto out;
	snprintf(version, sizeof(version), "%d", PA_PG_SCHEMA_VERSION);
	params[0] = version;
	if ((rc = pa_pg_exec(st, c, &r, "INSERT INTO provauth_meta (key, value) VALUES ('schema_version', $1)"
	                                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", 1, params,
	                     "setting the schema version")) < 0)
		goto out;
	PQclear(r);
	r = NULL;
	if (now.key_check) {
		rc = check_key(st, now.key_check);
		goto out;
	}
	if ((rc = seal_key_check(st, &hex)) < 0)
		goto out;
	params[0] = hex;
	rc = pa_pg_exec(st, c, &r, "INSERT INTO provauth_meta (key, value) VALUES ('key_check', $1)", 1, params,
	                "writing the key check");
out:
	PQclear(r);
	free(hex);
	free(now.key_check);
	return rc;
}

int pa_pg_prepare_schema(pg_store *st, PGconn *c, int no_create)
{
	schema_state seen;
	int rc;

	if ((rc = inspect(st, c, &seen)) < 0)
		goto out;
	if (seen.version == 0 && no_create) {
		rc = pa_error_set(PROVAUTH_ENOTFOUND, "%s: the database holds no provauth store yet (create it "
		                  "with 'provauth store init')", st->where);
		goto out;
	}
	/* A new key is made only for a store with nothing sealed in it: any other needs its old key. */
	if ((rc = pa_store_key_load(&st->key, st->where, !seen.key_check && !seen.has_accounts)) < 0 ||
	    (seen.key_check && (rc = check_key(st, seen.key_check)) < 0))
		goto out;
	if (seen.version == PA_PG_SCHEMA_VERSION && seen.key_check)
		goto out;
	/*
	 * The lock is taken before the transaction begins: a transaction
	 * begun earlier would keep answering from the catalog cache it
	 * started with, and not see the tables another host created while we
	 * waited for the lock.
	 */
	if ((rc = pa_pg_command(st, c, "SELECT pg_advisory_lock(" SCHEMA_LOCK ")", "locking the schema")) < 0)
		goto out;
	if ((rc = pa_pg_command(st, c, "BEGIN", "starting the schema transaction")) == 0) {
		if ((rc = migrate_locked(st, c)) < 0) {
			PGresult *r = PQexec(c, "ROLLBACK");
			PQclear(r);
		} else {
			rc = pa_pg_command(st, c, "COMMIT", "committing the schema");
		}
	}
	/* A lost connection has freed the lock already; the error that matters is rc's. */
	if (!pa_pg_broken(c)) {
		PGresult *r = PQexec(c, "SELECT pg_advisory_unlock(" SCHEMA_LOCK ")");
		PQclear(r);
	}
out:
	free(seen.key_check);
	return rc;
}
