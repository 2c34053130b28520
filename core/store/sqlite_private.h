/*
 * What the files of the "sqlite" store share (sqlite*.c), private to them:
 *
 *   sqlite.c         open and close, the provauth_store table
 *   sqlite_files.c   the database file, its -wal/-shm, the open lock
 *   sqlite_schema.c  schema version, migrations, the key check
 *   sqlite_rows.c    sealed rows: get, list, put, put_many, remove
 *   sqlite_lease.c   cross-process leases
 *   sqlite_pool.c    the account pool (store version 5)
 *   sqlite_sql.c     statements, transactions and their errors
 *   sqlite_sync.c    durable commits: one fdatasync shared by concurrent writers
 *
 * Concurrency: one connection per store, opened SQLITE_OPEN_NOMUTEX and
 * guarded by the store's mutex for a whole operation, because an operation
 * is several statements (BEGIN IMMEDIATE ... COMMIT) and sqlite3_changes()
 * and sqlite3_errmsg() are per connection. Opening runs before the store is
 * shared, without the mutex.
 */
#ifndef PA_STORE_SQLITE_PRIVATE_H
#define PA_STORE_SQLITE_PRIVATE_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sqlite3.h>
#include "internal.h"
#include "store/private.h"

/*
 * Schema versions (sqlite_schema.c's migrations): the current one, the one
 * from which rows bind email and revision, and the one from which the
 * account's state has columns of its own.
 */
#define PA_SQL_SCHEMA_VERSION 5
#define PA_SQL_SCHEMA_FULL_BINDING 3
#define PA_SQL_SCHEMA_STATE_COLUMNS 4

/* The columns every schema has (the migrations read rows through them). */
#define PA_SQL_ACCOUNT_COLUMNS "id, provider, email, metadata, revision, updated_at, access_expires_at, secrets"
#define PA_SQL_ACCOUNT_COLUMN_COUNT 8
/* Schema 4's columns for provauth_account.state, in pa_sql_bind_state's order. */
#define PA_SQL_STATE_COLUMNS \
	"auth_method, health_state, health_reason, health_code, health_at, health_message, last_reauth_at," \
	" refresh_refused, refresh_refused_at"

#define PA_SQL_CACHE_SIZE 32

typedef struct sql_store {
	provauth_store base;
	pthread_mutex_t lock;
	pthread_t holder;     /* who holds lock, when held: for the debug asserts */
	int held;
	sqlite3 *db;
	char *path;
	char *where;          /* "store <path>" for messages */
	int busy_ms;
	int64_t schema;       /* the file's schema version: it says how rows are bound */
	pa_store_key key;
	/* Group commit (sqlite_sync.c): commits numbered under `lock`, synced under sync_mu. */
	int committed;            /* the operation under way committed: set by sqlite's commit hook */
	int64_t changes_at_lock;  /* sqlite3_total_changes64 when it began: a commit that changed no row needs no sync */
	_Atomic uint64_t written; /* commits numbered so far */
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	uint64_t synced;          /* commits known to be on disk */
	int syncing;              /* a leader is in fdatasync */
	int sync_errno;           /* a failed sync: writes refused from then on */
	uint64_t syncs;           /* fdatasyncs done (the tests read it) */
	int wal_fd;               /* the -wal, opened at the first sync; -1 before */
	char *wal_path;
	/* Statements kept prepared between calls (pa_sql_prepare_cached), keyed by their text's address. */
	struct { const char *sql; sqlite3_stmt *stmt; int busy; } cache[PA_SQL_CACHE_SIZE];
} sql_store;

/* The store's mutex, held for a whole operation. */
static inline void pa_sql_lock(sql_store *st)
{
	pthread_mutex_lock(&st->lock);
	st->holder = pthread_self();
	st->held = 1;
	st->changes_at_lock = sqlite3_total_changes64(st->db);
}

/* ---- sqlite_sync.c: durable commits, one fdatasync shared by the writers of the moment ---- */

/* Once the store is open: commits stop syncing on their own, pa_sql_unlock syncs them. */
int pa_sql_sync_start(sql_store *st);
void pa_sql_sync_stop(sql_store *st);
/*
 * Ends an operation: gives the mutex back, then, when the operation
 * committed anything, waits until that is on disk. Returns rc, or when rc
 * is 0 the sync's error (the write may then be lost: the store refuses
 * writes from then on).
 */
int pa_sql_unlock(sql_store *st, int rc);
/* The same without the wait: for leases, which a crash of the host ends anyway. */
int pa_sql_unlock_volatile(sql_store *st, int rc);
/* 0, or EIO when an earlier sync failed (checked before a write begins). */
int pa_sql_writable(sql_store *st);

/* For helpers that share the connection's state (sqlite3_changes) with their caller. */
#define PA_SQL_ASSERT_HELD(st) assert((st)->held && pthread_equal((st)->holder, pthread_self()))

/* ---- sqlite_sql.c: statements and transactions ---- */

/* PROVAUTH_ESTORE (not a store, damaged), EIO (busy, other), naming what was being done. */
int pa_sql_error(sql_store *st, int rc, const char *doing);
int pa_sql_prepare(sql_store *st, sqlite3_stmt **stmt, const char *sql);
/*
 * The same, kept prepared for the next call when `sql` is a string of
 * static storage (its address is the key): the pool's statements run on
 * every reservation, and preparing them is a good part of its cost. Give
 * the statement back with pa_sql_release, never sqlite3_finalize. Lock held.
 */
int pa_sql_prepare_cached(sql_store *st, sqlite3_stmt **stmt, const char *sql);
/* Resets a cached statement for its next use, or finalizes one that is not. NULL allowed. */
void pa_sql_release(sql_store *st, sqlite3_stmt *stmt);
/* Finalizes every cached statement, before the connection closes. */
void pa_sql_cache_clear(sql_store *st);
int pa_sql_exec(sql_store *st, const char *sql, const char *doing);
/* BEGIN IMMEDIATE: writers wait for each other here, within the busy timeout. */
int pa_sql_begin(sql_store *st);
/* Ends the transaction begun by pa_sql_begin: commits when rc is 0, else rolls back. Returns the outcome. */
int pa_sql_finish(sql_store *st, int rc);
/* Binds text, or NULL for a NULL string. */
int pa_sql_bind_text(sqlite3_stmt *s, int i, const char *v);
/* The single integer a query answers. */
int pa_sql_query_int(sql_store *st, const char *sql, int64_t *out, const char *doing);

/* ---- sqlite_rows.c ---- */

/* Seals a's secrets for the row it will have once written: revision a->revision + 1. */
int pa_sql_seal_secrets(sql_store *st, unsigned char **blob, size_t *blob_len, const provauth_account *a);
/*
 * Builds an account from a row of PA_SQL_ACCOUNT_COLUMNS (then, when the row
 * has them, PA_SQL_STATE_COLUMNS), its secrets opened.
 */
/* A row's columns, its secrets still sealed: read under the mutex, opened after it. */
typedef struct pa_sql_row {
	provauth_account *account; /* all but the secrets */
	unsigned char *blob;       /* the sealed secrets */
	size_t blob_len;
	int64_t expiry;            /* the access_expires_at column */
	int64_t schema;            /* the binding the row was sealed with */
} pa_sql_row;
/* Copies the current row of a PA_SQL_ACCOUNT_COLUMNS (+ state) query. Lock held. */
int pa_sql_row_read(sql_store *st, pa_sql_row *row, sqlite3_stmt *s);
/* Unseals it into *out (the row then empty); on failure the row stays for pa_sql_row_clear. No lock needed. */
int pa_sql_row_open(const sql_store *st, provauth_account **out, pa_sql_row *row);
void pa_sql_row_clear(pa_sql_row *row);
/* Both steps at once, for the migrations (which hold the store alone). */
int pa_sql_row_account(sql_store *st, provauth_account **out, sqlite3_stmt *s);
int pa_sql_get(provauth_store *s, provauth_account **out, const char *id);
int pa_sql_find_email(provauth_store *s, provauth_account **out, const char *provider, const char *email);
int pa_sql_list(provauth_store *s, provauth_account ***out, size_t *count, const char *provider);
int pa_sql_list_checked(provauth_store *s, provauth_account ***out, size_t *count, char ***damaged,
                        size_t *damaged_count, const char *provider);
int pa_sql_put(provauth_store *s, provauth_account *account);
int pa_sql_put_many(provauth_store *s, provauth_account *const *accounts, size_t n);
int pa_sql_remove(provauth_store *s, const char *id, uint64_t expected_revision);
int pa_sql_put_verbatim(provauth_store *s, provauth_account *const *accounts, size_t n);

/* ---- sqlite_state.c ---- */

/* Binds the PA_SQL_STATE_COLUMNS values of s to parameters first .. first + 8. */
void pa_sql_bind_state(sqlite3_stmt *q, int first, const provauth_account_state *s);
/* Reads PA_SQL_STATE_COLUMNS from result columns first .. first + 8 into s (empty). */
int pa_sql_read_state(sqlite3_stmt *q, int first, provauth_account_state *s);
/* Inside the migration to schema 4: each row's state from its metadata into the columns. */
int pa_sql_move_state(sql_store *st);

/* ---- sqlite_lease.c ---- */

int pa_sql_lease_acquire(provauth_store *s, const char *id, const char *owner, int64_t ttl_ms);
int pa_sql_lease_release(provauth_store *s, const char *id, const char *owner);

/* ---- sqlite_pool.c ---- */

int pa_sql_pool_reserve(provauth_store *s, provauth_pool_reservation **out, const provauth_pool_query *q);
int pa_sql_pool_attach(provauth_store *s, const char *reservation_id, const char *job_id);
int pa_sql_pool_release(provauth_store *s, const provauth_pool_release_args *a);
int pa_sql_pool_update(provauth_store *s, const provauth_pool_update *u);
int pa_sql_pool_list(provauth_store *s, provauth_pool_account ***out, size_t *count,
                     provauth_pool_reservation ***reservations, size_t *reservation_count, const char *provider,
                     const char *account_id);
int pa_sql_pool_reclaim(provauth_store *s, provauth_pool_reclaim_counts *out, const char *provider, int64_t now,
                        int64_t ttl);

/* ---- sqlite_schema.c ---- */

/* Reads the schema version and refuses files we must not touch. Only reads. */
int pa_sql_inspect(sql_store *st, int64_t *version);
/* 1 when meta.key_check exists and opens with our key, 0 when absent; < 0 on a wrong key. */
int pa_sql_check_key(sql_store *st);
/* Without a key check: the key must open a sealed row, if there is one. Only reads. */
int pa_sql_check_key_on_row(sql_store *st);
/* Brings the schema to PA_SQL_SCHEMA_VERSION in one transaction. */
int pa_sql_migrate(sql_store *st);

/* ---- sqlite_files.c ---- */

/* Creates the file 0600 when absent (*created), or judges the one there. */
int pa_sql_ensure_file(const sql_store *st, int *created);
/* The -wal and -shm files, when present: same rules as the file. */
int pa_sql_check_side_files(const sql_store *st);
/* After a failed open of a file this process created. */
void pa_sql_remove_created(const sql_store *st);
/* flock(2) on the store's directory for the open; *fd_out to close when done. */
int pa_sql_lock_for_open(const sql_store *st, int *fd_out);

#endif /* PA_STORE_SQLITE_PRIVATE_H */
