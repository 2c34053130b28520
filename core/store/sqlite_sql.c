/*
 * Statements, transactions and their errors for the sqlite store: messages
 * name the store and what was being done, and tell a damaged or foreign
 * file (PROVAUTH_ESTORE) from a busy or failing one (PROVAUTH_EIO).
 */
#include "config.h"
#include "store/sqlite_private.h"

int pa_sql_error(sql_store *st, int rc, const char *doing)
{
	const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return pa_error_set(PROVAUTH_ESTORE,
		                    "%s: %s (not a provauth store, or damaged; the file was left as it is)",
		                    st->where, msg);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return pa_error_set(PROVAUTH_EIO, "%s: still locked by another connection after %d ms while %s",
		                    st->where, st->busy_ms, doing);
	default:
		return pa_error_set(PROVAUTH_EIO, "%s: %s: %s", st->where, doing, msg);
	}
}

int pa_sql_prepare(sql_store *st, sqlite3_stmt **stmt, const char *sql)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL);

	if (rc != SQLITE_OK) {
		sqlite3_finalize(*stmt);
		*stmt = NULL;
		return pa_sql_error(st, rc, "preparing a query");
	}
	return 0;
}

int pa_sql_prepare_cached(sql_store *st, sqlite3_stmt **stmt, const char *sql)
{
	size_t i, free_slot = PA_SQL_CACHE_SIZE;
	int rc;

	for (i = 0; i < PA_SQL_CACHE_SIZE; i++) {
		if (st->cache[i].sql == sql && !st->cache[i].busy) {
			st->cache[i].busy = 1;
			*stmt = st->cache[i].stmt;
			return 0;
		}
		if (!st->cache[i].sql && free_slot == PA_SQL_CACHE_SIZE)
			free_slot = i;
	}
	*stmt = NULL;
	rc = sqlite3_prepare_v3(st->db, sql, -1, free_slot < PA_SQL_CACHE_SIZE ? SQLITE_PREPARE_PERSISTENT : 0, stmt,
	                        NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*stmt);
		*stmt = NULL;
		return pa_sql_error(st, rc, "preparing a query");
	}
	if (free_slot < PA_SQL_CACHE_SIZE) {
		st->cache[free_slot].sql = sql;
		st->cache[free_slot].stmt = *stmt;
		st->cache[free_slot].busy = 1;
	}
	return 0;
}

void pa_sql_release(sql_store *st, sqlite3_stmt *stmt)
{
	size_t i;

	if (!stmt)
		return;
	for (i = 0; i < PA_SQL_CACHE_SIZE; i++) {
		if (st->cache[i].stmt == stmt) {
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			st->cache[i].busy = 0;
			return;
		}
	}
	sqlite3_finalize(stmt);
}

void pa_sql_cache_clear(sql_store *st)
{
	size_t i;

	for (i = 0; i < PA_SQL_CACHE_SIZE; i++) {
		sqlite3_finalize(st->cache[i].stmt);
		st->cache[i].sql = NULL;
		st->cache[i].stmt = NULL;
		st->cache[i].busy = 0;
	}
}

int pa_sql_exec(sql_store *st, const char *sql, const char *doing)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : pa_sql_error(st, rc, doing);
}

int pa_sql_begin(sql_store *st)
{
	int rc;

	if ((rc = pa_sql_writable(st)) < 0)
		return rc;
	return pa_sql_exec(st, "BEGIN IMMEDIATE", "starting a transaction");
}

static void rollback(sql_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Ends the transaction begun by pa_sql_begin(): commits when rc is 0, else rolls back. Returns the outcome. */
int pa_sql_finish(sql_store *st, int rc)
{
	if (rc == 0)
		rc = pa_sql_exec(st, "COMMIT", "committing");
	if (rc < 0)
		rollback(st);
	return rc;
}

int pa_sql_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

int pa_sql_query_int(sql_store *st, const char *sql, int64_t *out, const char *doing)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_sql_prepare(st, &q, sql)) < 0)
		return rc;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(q, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = pa_error_set(PROVAUTH_ESTORE, "%s: %s: no answer (damaged file?)", st->where, doing);
	} else {
		rc = pa_sql_error(st, rc, doing);
	}
	sqlite3_finalize(q);
	return rc;
}
