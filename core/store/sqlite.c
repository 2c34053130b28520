/*
 * The "sqlite" store: one SQLite file shared by every process of a host.
 * This file opens and closes it and fills the provauth_store table; the
 * other sqlite*.c files hold the rest (see sqlite_private.h).
 *
 * Between processes, WAL mode and BEGIN IMMEDIATE serialise writers; the
 * busy timeout makes them wait.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "store/sqlite_private.h"

#define DEFAULT_BUSY_MS 5000

static void sql_free(provauth_store *s)
{
	sql_store *st = (sql_store *)s;

	if (!st)
		return;
	pa_sql_cache_clear(st);
	/* close_v2 so a leftover statement cannot keep the file open forever. */
	sqlite3_close_v2(st->db);
	pa_sql_sync_stop(st);
	pa_store_key_clear(&st->key);
	free(st->path);
	free(st->where);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->sync_mu);
	pthread_cond_destroy(&st->sync_cv);
	free(st);
}

/*
 * Even with openers serialized, a process closing its last connection runs a
 * checkpoint under an exclusive lock, and SQLite answers the journal-mode
 * pragma with SQLITE_BUSY at once, without its busy handler. Retry within the
 * busy timeout.
 */
static int step_busy_retry(sql_store *st, sqlite3_stmt *q)
{
	int64_t deadline = pa_monotonic_ms() + st->busy_ms;
	struct timespec pause = { 0, 2 * 1000000L };
	int rc;

	while (((rc = sqlite3_step(q)) & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		if (pa_monotonic_ms() >= deadline)
			break;
		sqlite3_reset(q);
		nanosleep(&pause, NULL);
	}
	return rc;
}

static int set_pragmas(sql_store *st)
{
	sqlite3_stmt *q = NULL;
	const char *mode;
	int rc;

	if ((rc = pa_sql_prepare(st, &q, "PRAGMA journal_mode = WAL")) < 0)
		return rc;
	rc = step_busy_retry(st, q);
	mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
	if (rc != SQLITE_ROW)
		rc = pa_sql_error(st, rc, "switching to WAL journal mode");
	else if (!mode || strcmp(mode, "wal") != 0)
		rc = pa_error_set(PROVAUTH_EIO, "%s: the file system does not support WAL journal mode (got %s)",
		                  st->where, mode ? mode : "nothing");
	else
		rc = 0;
	sqlite3_finalize(q);
	if (rc < 0)
		return rc;
	/*
	 * FULL in WAL mode syncs the log at every commit: what opening writes
	 * (schema, migrations) survives a crash. Once open, commits are synced
	 * by pa_sql_unlock instead, shared between threads (sqlite_sync.c).
	 */
	if ((rc = pa_sql_exec(st, "PRAGMA synchronous = FULL", "setting synchronous mode")) < 0 ||
	    (rc = pa_sql_exec(st, "PRAGMA foreign_keys = ON", "enabling foreign keys")) < 0)
		return rc;
	return 0;
}

static int open_db_locked(sql_store *st);

static int open_db(sql_store *st, const provauth_sqlite_options *opts)
{
	int rc, lock_fd, created = 0;

	/* Key material that needs no file is checked first: a bad variable leaves the disk alone. */
	if ((rc = pa_store_key_resolve(&st->key, st->where, st->path, opts ? opts->key : NULL,
	                               opts ? opts->key_file : NULL)) < 0 ||
	    (rc = pa_store_make_parent_dirs(st->where, st->path)) < 0 ||
	    /* Before anything is created in them: a directory another user controls is theirs. */
	    (rc = pa_store_check_dirs(st->where, st->path)) < 0 ||
	    (rc = pa_sql_lock_for_open(st, &lock_fd)) < 0)
		return rc;
	if ((rc = pa_sql_ensure_file(st, &created)) == 0 && (rc = pa_sql_check_side_files(st)) == 0)
		rc = open_db_locked(st);
	if (rc < 0 && created) {
		sqlite3_close_v2(st->db);
		st->db = NULL;
		pa_sql_remove_created(st);
	}
	close(lock_fd);
	return rc;
}

static int open_db_locked(sql_store *st)
{
	int64_t version, has_check = 0, accounts = 0;
	int rc;

	rc = sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return pa_sql_error(st, rc, "opening");
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, st->busy_ms);
	/*
	 * Closing the last connection checkpoints a live -wal into the database
	 * and deletes it: a refused store would not be left as it was. Only a
	 * store that passed every check may checkpoint.
	 */
	if ((rc = sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL)) != SQLITE_OK)
		return pa_sql_error(st, rc, "opening");
	if (sqlite3_db_readonly(st->db, "main") == 1)
		return pa_error_set(PROVAUTH_EIO, "%s: the file is not writable", st->where);
	if ((rc = pa_sql_inspect(st, &version)) < 0)
		return rc;
	st->schema = version;
	if (version >= 1 &&
	    ((rc = pa_sql_query_int(st, "SELECT count(*) FROM meta WHERE key = 'key_check'", &has_check,
	                            "reading the key check")) < 0 ||
	     (rc = pa_sql_query_int(st, "SELECT count(*) FROM accounts", &accounts, "counting accounts")) < 0))
		return rc;
	/* A new key is made only for a store with nothing sealed in it: any other needs its old key. */
	if ((rc = pa_store_key_load(&st->key, st->where, !has_check && !accounts)) < 0 ||
	    (has_check && (rc = pa_sql_check_key(st)) < 0) ||
	    (!has_check && accounts && (rc = pa_sql_check_key_on_row(st)) < 0))
		return rc;
	if ((rc = set_pragmas(st)) < 0)
		return rc;
	/* An up-to-date store is not write-locked at every open. */
	if ((version < PA_SQL_SCHEMA_VERSION || !has_check) && (rc = pa_sql_migrate(st)) < 0)
		return rc;
	if ((rc = pa_sql_sync_start(st)) < 0)
		return rc;
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	return 0;
}

int pa_sql_describe(provauth_store *s, provauth_store_info *info)
{
	sql_store *st = (sql_store *)s;

	/* Only a store this file made is a sql_store, whatever a host store calls itself. */
	if (s->free != sql_free)
		return 1;
	info->schema_version = st->schema;
	if (!(info->location = pa_strdup(st->path)) || (st->key.file && !(info->key_file = pa_strdup(st->key.file))))
		return pa_error_oom();
	return 0;
}

int provauth_store_sqlite_open(provauth_store **out, const char *path, const provauth_sqlite_options *opts)
{
	sql_store *st;
	int rc;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "store: no output given");
	*out = NULL;
	if (!path || !*path)
		return pa_error_set(PROVAUTH_EINVAL, "store: a database path is required");
	if (opts && opts->version < 1)
		return pa_error_set(PROVAUTH_EINVAL, "store %s: options version %u is invalid "
		                    "(initialise with PROVAUTH_SQLITE_OPTIONS_INIT)", path, opts->version);
	if (opts && opts->busy_timeout_ms < 0)
		return pa_error_set(PROVAUTH_EINVAL, "store %s: busy_timeout_ms must not be negative", path);
	if (!sqlite3_threadsafe())
		return pa_error_set(PROVAUTH_ESTORE, "store %s: libsqlite3 was built without thread support", path);
	if (!(st = calloc(1, sizeof(*st))))
		return pa_error_oom();
	st->wal_fd = -1;
	if (pthread_mutex_init(&st->lock, NULL) != 0 || pthread_mutex_init(&st->sync_mu, NULL) != 0 ||
	    pthread_cond_init(&st->sync_cv, NULL) != 0) {
		free(st);
		return pa_error_set(PROVAUTH_ERROR, "store %s: cannot create a mutex", path);
	}
	st->busy_ms = opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : DEFAULT_BUSY_MS;
	st->base.version = PROVAUTH_STORE_VERSION;
	st->base.name = "sqlite";
	st->base.get = pa_sql_get;
	st->base.find_email = pa_sql_find_email;
	st->base.list = pa_sql_list;
	st->base.put = pa_sql_put;
	st->base.remove = pa_sql_remove;
	st->base.lease_acquire = pa_sql_lease_acquire;
	st->base.lease_release = pa_sql_lease_release;
	st->base.free = sql_free;
	st->base.put_many = pa_sql_put_many;
	st->base.list_checked = pa_sql_list_checked;
	st->base.put_verbatim = pa_sql_put_verbatim;
	st->base.pool_reserve = pa_sql_pool_reserve;
	st->base.pool_attach = pa_sql_pool_attach;
	st->base.pool_release = pa_sql_pool_release;
	st->base.pool_update = pa_sql_pool_update;
	st->base.pool_list = pa_sql_pool_list;
	st->base.pool_reclaim = pa_sql_pool_reclaim;
	if (!(st->path = strdup(path)) || !(st->where = pa_sprintf("store %s", path))) {
		sql_free(&st->base);
		return pa_error_oom();
	}
	if ((rc = open_db(st, opts)) < 0) {
		sql_free(&st->base);
		return rc;
	}
	*out = &st->base;
	return 0;
}
