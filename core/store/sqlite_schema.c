/*
 * The sqlite store's schema: its version (PRAGMA user_version), the
 * migrations that bring an older file up to date, and the key check (a
 * sealed known plaintext in meta.key_check) that tells a wrong key from a
 * damaged row before anything is written.
 *
 * Open never writes to a file it cannot vouch for: a non-database, a
 * damaged file, a newer schema, someone else's SQLite database or a wrong
 * key all fail here before the first write.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/sqlite_private.h"

/*
 * Schema migrations: migrations[i] takes the schema from version i to i + 1,
 * inside the same transaction that sets PRAGMA user_version. A new version
 * appends a step; existing steps never change.
 */
static const char *const migrations[] = {
	/* 1: accounts with sealed secrets, cross-process leases, store metadata. */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value BLOB NOT NULL);"
	"CREATE TABLE accounts ("
	"  id TEXT PRIMARY KEY,"
	"  provider TEXT NOT NULL,"
	"  email TEXT,"
	"  metadata TEXT NOT NULL,"
	"  revision INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  access_expires_at INTEGER,"
	"  secrets BLOB NOT NULL);"
	"CREATE INDEX accounts_by_provider ON accounts (provider, id);"
	/* Leases are not tied to accounts by a foreign key: a lease may guard work on an id in any state. */
	"CREATE TABLE leases ("
	"  account_id TEXT PRIMARY KEY,"
	"  owner TEXT,"
	"  expires_at_ms INTEGER);",
	/*
	 * 2: the lease holder's process identity, so a lease whose holder died on
	 * this host is taken over at once instead of after its TTL.
	 */
	"ALTER TABLE leases ADD COLUMN holder_pid INTEGER;"
	"ALTER TABLE leases ADD COLUMN holder_boot_id TEXT;"
	"ALTER TABLE leases ADD COLUMN holder_pidns INTEGER;"
	"ALTER TABLE leases ADD COLUMN holder_start INTEGER;",
	/*
	 * 3: the sealed secrets bind email and revision too. The rows are
	 * re-sealed by reseal_rows, in the same transaction.
	 */
	"INSERT INTO meta (key, value) VALUES ('sealed_binding', 'id provider email revision');",
	/*
	 * 4: the core's own state of an account (provauth_account.state) in
	 * columns of its own instead of keys of the metadata JSON. The rows'
	 * keys are moved by pa_sql_move_state, in the same transaction.
	 */
	"ALTER TABLE accounts ADD COLUMN auth_method TEXT;"
	"ALTER TABLE accounts ADD COLUMN health_state TEXT;"
	"ALTER TABLE accounts ADD COLUMN health_reason TEXT;"
	"ALTER TABLE accounts ADD COLUMN health_code TEXT;"
	"ALTER TABLE accounts ADD COLUMN health_at INTEGER;"
	"ALTER TABLE accounts ADD COLUMN health_message TEXT;"
	"ALTER TABLE accounts ADD COLUMN last_reauth_at INTEGER;"
	"ALTER TABLE accounts ADD COLUMN refresh_refused TEXT;"
	"ALTER TABLE accounts ADD COLUMN refresh_refused_at INTEGER;",
	/*
	 * 5: the account pool (sqlite_pool.c). Pool state is not secret, so
	 * it is plain columns; it goes with its account (ON DELETE CASCADE).
	 * A reservation names its holder process as a lease does.
	 */
	"CREATE TABLE pool ("
	"  account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,"
	"  provider TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'active',"
	"  priority INTEGER NOT NULL DEFAULT 0,"
	"  max_slots INTEGER,"
	"  effective_cap INTEGER,"
	"  cap_probe_at INTEGER NOT NULL DEFAULT 0,"
	"  in_use INTEGER NOT NULL DEFAULT 0,"
	"  cooldown_until INTEGER NOT NULL DEFAULT 0,"
	"  cooldown_reason TEXT,"
	"  credits_at INTEGER NOT NULL DEFAULT 0,"
	"  last_used INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX pool_by_provider ON pool (provider, account_id);"
	"CREATE TABLE pool_credits ("
	"  account_id TEXT NOT NULL REFERENCES pool (account_id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL,"
	"  amount INTEGER NOT NULL,"
	"  PRIMARY KEY (account_id, kind));"
	"CREATE TABLE pool_reservations ("
	"  id TEXT PRIMARY KEY,"
	"  account_id TEXT NOT NULL REFERENCES pool (account_id) ON DELETE CASCADE,"
	"  provider TEXT NOT NULL,"
	"  holder TEXT,"
	"  holder_pid INTEGER,"
	"  holder_boot_id TEXT,"
	"  holder_pidns INTEGER,"
	"  holder_start INTEGER,"
	"  credit_kind TEXT,"
	"  cost INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  job_id TEXT,"
	"  label TEXT);"
	"CREATE INDEX pool_reservations_by_job ON pool_reservations (account_id, job_id);",
};

_Static_assert(PA_ARRAY_LEN(migrations) == PA_SQL_SCHEMA_VERSION, "one migration per schema version");


/*
 * Reads the schema version and refuses files we must not touch. Only reads:
 * it runs before anything is written.
 */
int pa_sql_inspect(sql_store *st, int64_t *version)
{
	int64_t objects;
	int rc;

	if ((rc = pa_sql_query_int(st, "SELECT count(*) FROM sqlite_master", &objects, "reading the schema")) < 0 ||
	    (rc = pa_sql_query_int(st, "PRAGMA user_version", version, "reading the schema version")) < 0)
		return rc;
	if (*version > PA_SQL_SCHEMA_VERSION)
		return pa_error_set(PROVAUTH_ESTORE,
		                    "%s: schema version %lld is newer than this library supports (%d); upgrade provauth",
		                    st->where, (long long)*version, PA_SQL_SCHEMA_VERSION);
	if (*version < 0)
		return pa_error_set(PROVAUTH_ESTORE, "%s: schema version %lld is not a provauth schema version",
		                    st->where, (long long)*version);
	if (*version == 0 && objects > 0)
		return pa_error_set(PROVAUTH_ESTORE,
		                    "%s: an SQLite database that is not a provauth store (it holds %lld schema "
		                    "objects and no provauth schema version); refusing to change it",
		                    st->where, (long long)objects);
	return 0;
}

/* 1 when meta.key_check exists and opens with our key, 0 when absent; < 0 on a wrong key. */
int pa_sql_check_key(sql_store *st)
{
	sqlite3_stmt *q = NULL;
	unsigned char *plain = NULL;
	size_t plain_len = 0;
	int rc;

	if ((rc = pa_sql_prepare(st, &q, "SELECT value FROM meta WHERE key = 'key_check'")) < 0)
		return rc;
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		rc = 0;
	} else if (rc != SQLITE_ROW) {
		rc = pa_sql_error(st, rc, "reading the key check");
	} else {
		const unsigned char *blob = sqlite3_column_blob(q, 0);
		size_t len = (size_t)sqlite3_column_bytes(q, 0);

		if (!blob || len < PA_SEAL_OVERHEAD || blob[0] != PA_SEAL_VERSION)
			rc = pa_error_set(PROVAUTH_ESTORE, "%s: the key check record is damaged", st->where);
		else if (pa_unseal(&plain, &plain_len, st->key.bytes, PA_KEY_CHECK_AD, strlen(PA_KEY_CHECK_AD), blob, len) < 0)
			rc = pa_error_set(PROVAUTH_ECRYPTO, "%s: %s does not open this store (wrong key?)",
			                  st->where, st->key.source);
		else if (plain_len != strlen(PA_KEY_CHECK_TEXT) || memcmp(plain, PA_KEY_CHECK_TEXT, plain_len) != 0)
			rc = pa_error_set(PROVAUTH_ESTORE, "%s: the key check record is damaged", st->where);
		else
			rc = 1;
	}
	free(plain);
	sqlite3_finalize(q);
	return rc;
}

static int write_key_check(sql_store *st)
{
	unsigned char *blob = NULL;
	size_t len = 0;
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_seal(&blob, &len, st->key.bytes, PA_KEY_CHECK_AD, strlen(PA_KEY_CHECK_AD), PA_KEY_CHECK_TEXT,
	                  strlen(PA_KEY_CHECK_TEXT))) < 0)
		return pa_error_prefix(rc, "%s", st->where);
	if ((rc = pa_sql_prepare(st, &q, "INSERT INTO meta (key, value) VALUES ('key_check', ?1)")) == 0) {
		sqlite3_bind_blob(q, 1, blob, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "writing the key check");
	}
	sqlite3_finalize(q);
	free(blob);
	return rc;
}

/*
 * Inside the migration to schema 3: every row sealed with the old binding is
 * sealed again with the full one. A row that does not open is left as it is:
 * it was damaged already, and stays refused (and named) like any other.
 */
static int reseal_rows(sql_store *st)
{
	sqlite3_stmt *q = NULL, *upd = NULL;
	int rc;

	if ((rc = pa_sql_prepare(st, &q, "SELECT " PA_SQL_ACCOUNT_COLUMNS " FROM accounts ORDER BY id")) < 0 ||
	    (rc = pa_sql_prepare(st, &upd, "UPDATE accounts SET secrets = ?1 WHERE id = ?2")) < 0)
		goto out;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		provauth_account *a = NULL;
		unsigned char *blob = NULL;
		size_t blob_len = 0;

		st->schema = PA_SQL_SCHEMA_FULL_BINDING - 1;
		rc = pa_sql_row_account(st, &a, q);
		st->schema = PA_SQL_SCHEMA_FULL_BINDING;
		if (rc == PROVAUTH_ECRYPTO || rc == PROVAUTH_ESTORE)
			continue;
		if (rc < 0)
			goto out;
		/* seal_secrets binds revision + 1, the revision a put would write; this row keeps its own. */
		a->revision--;
		rc = pa_sql_seal_secrets(st, &blob, &blob_len, a);
		provauth_account_free(a);
		if (rc < 0)
			goto out;
		pa_sql_bind_text(upd, 2, (const char *)sqlite3_column_text(q, 0));
		sqlite3_bind_blob(upd, 1, blob, (int)blob_len, SQLITE_TRANSIENT);
		rc = sqlite3_step(upd);
		sqlite3_reset(upd);
		sqlite3_clear_bindings(upd);
		pa_wipe(blob, blob_len);
		free(blob);
		if (rc != SQLITE_DONE) {
			rc = pa_sql_error(st, rc, "re-sealing accounts");
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "re-sealing accounts");
out:
	sqlite3_finalize(q);
	sqlite3_finalize(upd);
	return rc;
}

/* Brings the schema to PA_SQL_SCHEMA_VERSION in one transaction; re-checks what another process may have done. */
int pa_sql_migrate(sql_store *st)
{
	int64_t version;
	char sql[64];
	int rc, have_check = 0;

	if ((rc = pa_sql_begin(st)) < 0)
		return rc;
	if ((rc = pa_sql_inspect(st, &version)) < 0)
		goto out;
	if (version >= 1 && (rc = have_check = pa_sql_check_key(st)) < 0)
		goto out;
	for (; version < PA_SQL_SCHEMA_VERSION; version++) {
		if ((rc = pa_sql_exec(st, migrations[version], "migrating the schema")) < 0)
			goto out;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)version + 1);
		if ((rc = pa_sql_exec(st, sql, "migrating the schema")) < 0)
			goto out;
		if (version + 1 == PA_SQL_SCHEMA_FULL_BINDING && (rc = reseal_rows(st)) < 0)
			goto out;
		if (version + 1 == PA_SQL_SCHEMA_STATE_COLUMNS && (rc = pa_sql_move_state(st)) < 0)
			goto out;
	}
	rc = have_check ? 0 : write_key_check(st);
out:
	rc = pa_sql_finish(st, rc);
	if (rc == 0)
		st->schema = PA_SQL_SCHEMA_VERSION;
	return rc;
}

/*
 * Without a key check, a store that holds accounts is tried on a sealed row:
 * the key that opens one is the store's key. Nothing is written here.
 */
int pa_sql_check_key_on_row(sql_store *st)
{
	sqlite3_stmt *q = NULL;
	provauth_account *a = NULL;
	int rc;

	if ((rc = pa_sql_prepare(st, &q, "SELECT " PA_SQL_ACCOUNT_COLUMNS " FROM accounts ORDER BY id LIMIT 1")) < 0)
		return rc;
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc != SQLITE_ROW)
		rc = pa_sql_error(st, rc, "reading an account");
	else if (pa_sql_row_account(st, &a, q) < 0)
		rc = pa_error_set(PROVAUTH_ECRYPTO, "%s: its key check record is missing and %s does not open "
		                  "its accounts (wrong key?)", st->where, st->key.source);
	else
		rc = 0;
	provauth_account_free(a);
	sqlite3_finalize(q);
	return rc;
}
