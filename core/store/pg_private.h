/*
 * What the files of the "postgres" store share (pg*.c), private to them:
 *
 *   postgres.c   open and close, the provauth_store table
 *   pg_conn.c    connections: the pool, connecting, errors naming the server
 *   pg_schema.c  schema version, migrations, the key check
 *   pg_rows.c    sealed rows: get, list, put, put_many, put_verbatim, remove
 *   pg_lease.c   leases (advisory locks) and waiting for them (LISTEN/NOTIFY)
 *   pg_pool.c    the account pool (store version 5)
 *
 * Concurrency: libpq connections are not shared between threads; each
 * operation takes a connection from the pool for its whole length (a
 * transaction spans several statements) and gives it back. The store's
 * mutex guards only the pool's lists, the held leases and the waiters,
 * never a round trip to the server.
 *
 * Leases are session advisory locks: a lock lives as long as the
 * connection that took it, so each held lease keeps a connection of its
 * own, outside the pool, until it is released. When the holder dies (or
 * its connection is cut) the server frees the lock at once.
 */
#ifndef PA_STORE_PG_PRIVATE_H
#define PA_STORE_PG_PRIVATE_H

#include <pthread.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "internal.h"
#include "store/private.h"

/* The schema this library writes (provauth_meta.schema_version): 2 added the account pool. */
#define PA_PG_SCHEMA_VERSION 2

/* The channel puts, removes and lease releases notify, with the account id as payload. */
#define PA_PG_CHANNEL "provauth_accounts"

/* The channel pool releases and reclaims notify, with the provider as payload. */
#define PA_PG_POOL_CHANNEL "provauth_pool"
/*
 * The first key of the two-int4 advisory lock a store holds while it may
 * hold pool reservations ("pool" in ASCII); the second is its random
 * holder key.
 */
#define PA_PG_POOL_HOLDER_CLASS "1886351212"

/* The columns of provauth_accounts, in the order pa_pg_row_account reads them. */
#define PA_PG_ACCOUNT_COLUMNS \
	"id, provider, email, metadata, revision, updated_at, access_expires_at, secrets, auth_method," \
	" health_state, health_reason, health_code, health_at, health_message, last_reauth_at," \
	" refresh_refused, refresh_refused_at"

typedef struct pg_lease pg_lease;
typedef struct pg_waiter pg_waiter;

typedef struct pg_store {
	provauth_store base;
	char *conninfo;           /* as given: may hold a password, so never shown */
	char *where;              /* "store postgres user@host:port/dbname": for messages */
	pa_store_key key;
	int pool_size;
	int connect_timeout_ms;
	int statement_timeout_ms;

	pthread_mutex_t lock;     /* the lists below */
	pthread_cond_t freed;     /* a pool connection came back */
	PGconn **idle;            /* pool connections not in use, pool_size slots */
	int nidle;
	int open;                 /* pool connections open, in use or idle */
	PGconn **lease_idle;      /* connections for leases and waits, not in use */
	int nlease_idle;
	pg_lease *leases;         /* leases this store holds */
	pg_waiter *waiters;       /* threads in lease_wait */

	/* The listener: a thread with a connection that LISTENs on PA_PG_CHANNEL. */
	pthread_t listener;
	int listener_started;
	int listener_stop[2];     /* a pipe: written once to stop the thread */

	/* The pool holder lock (pg_pool.c): taken at the first reservation, held until the store is freed. */
	pthread_mutex_t holder_lock;
	PGconn *holder_conn;
	int32_t holder_key;       /* 0 until the lock is held */
	/* When this store last ran the pool's upkeep (new rows, due probes), and for which provider. */
	int64_t upkeep_ms;
	char upkeep_provider[64];
} pg_store;

/* ---- pg_conn.c ---- */

/* Opens a connection with the store's timeouts (not from the pool). */
int pa_pg_connect(pg_store *st, PGconn **out);
/*
 * A pool connection, waiting up to the connect timeout for one to come
 * back when pool_size are in use. *reused: it was idle, so it may have died
 * since (a restarted server) without anyone knowing yet.
 */
int pa_pg_pool_get(pg_store *st, PGconn **out, int *reused);
/*
 * Gives a connection back. One that is broken, or not idle (a failed
 * transaction), is closed; a broken one also closes the idle ones, which
 * a restarted server has cut too.
 */
void pa_pg_pool_put(pg_store *st, PGconn *c);
/* Closes every pool connection (the store is being freed). */
void pa_pg_pool_close(pg_store *st);

/*
 * The failure of `res` (NULL: the connection's) while `doing`, as a provauth
 * error naming the store's server: PROVAUTH_EIO for a lost connection and
 * most server errors, ETIMEOUT for a statement timeout, ESTORE for a
 * database without provauth's tables. Only the server's primary message is
 * kept: its detail lines can quote row values.
 */
int pa_pg_fail(pg_store *st, PGconn *c, const PGresult *res, const char *doing);
/*
 * Whether an idle connection is still usable: the server's goodbye (a
 * shutdown, a restart, an idle session timeout) arrives as something to
 * read on a connection that asked nothing. Cheap: no round trip.
 */
int pa_pg_idle_alive(PGconn *c);
/* 1 when the connection is gone (so the operation may be retried on a new one). */
int pa_pg_broken(PGconn *c);
/* Runs a statement with text parameters; 0 with *res on PGRES_COMMAND_OK/TUPLES_OK, else pa_pg_fail. */
int pa_pg_exec(pg_store *st, PGconn *c, PGresult **res, const char *sql, int n, const char *const *params,
               const char *doing);
/*
 * A query whose rows come back in binary format: bigints as 8 bytes in
 * network order, bytea as its bytes, text as it is (libpq adds a NUL to
 * every value either way). Rows of accounts are read so: no text to parse
 * or hex to unescape.
 */
int pa_pg_query_binary(pg_store *st, PGconn *c, PGresult **res, const char *sql, int n,
                       const char *const *params, const char *doing);
/* Runs a command whose result is not needed. */
int pa_pg_command(pg_store *st, PGconn *c, const char *sql, const char *doing);

/*
 * An operation on a pool connection (pg_rows.c): *committing is set by op
 * once the server may have committed; until then a lost connection that
 * came from the pool is replaced and op runs again, once. An op that
 * fails inside a transaction is rolled back by pa_pg_run.
 */
typedef int (*pa_pg_op)(pg_store *st, PGconn *c, void *arg, int *committing);
int pa_pg_run(pg_store *st, pa_pg_op op, void *arg);

/* ---- pg_schema.c ---- */

/* Reads the schema and the key check, loads the key, creates or migrates. */
int pa_pg_prepare_schema(pg_store *st, PGconn *c, int no_create);

/* ---- pg_rows.c ---- */

int pa_pg_get(provauth_store *s, provauth_account **out, const char *id);
int pa_pg_find_email(provauth_store *s, provauth_account **out, const char *provider, const char *email);
int pa_pg_list(provauth_store *s, provauth_account ***out, size_t *count, const char *provider);
int pa_pg_list_checked(provauth_store *s, provauth_account ***out, size_t *count, char ***damaged,
                       size_t *damaged_count, const char *provider);
int pa_pg_put(provauth_store *s, provauth_account *account);
int pa_pg_put_many(provauth_store *s, provauth_account *const *accounts, size_t n);
int pa_pg_put_verbatim(provauth_store *s, provauth_account *const *accounts, size_t n);
int pa_pg_remove(provauth_store *s, const char *id, uint64_t expected_revision);

/* ---- pg_pool.c ---- */

int pa_pg_pool_reserve(provauth_store *s, provauth_pool_reservation **out, const provauth_pool_query *q);
int pa_pg_pool_attach(provauth_store *s, const char *reservation_id, const char *job_id);
int pa_pg_pool_release(provauth_store *s, const provauth_pool_release_args *a);
int pa_pg_pool_update(provauth_store *s, const provauth_pool_update *u);
int pa_pg_pool_list(provauth_store *s, provauth_pool_account ***out, size_t *count,
                    provauth_pool_reservation ***reservations, size_t *reservation_count, const char *provider,
                    const char *account_id);
int pa_pg_pool_reclaim(provauth_store *s, provauth_pool_reclaim_counts *out, const char *provider, int64_t now,
                       int64_t ttl);
/* Ends the holder lock's connection (the store is being freed). */
void pa_pg_pool_holder_close(pg_store *st);

/* ---- pg_lease.c ---- */

int pa_pg_lease_acquire(provauth_store *s, const char *id, const char *owner, int64_t ttl_ms);
int pa_pg_lease_release(provauth_store *s, const char *id, const char *owner);
int pa_pg_lease_wait(provauth_store *s, const char *id, int64_t timeout_ms);
/* Takes a pool connection (counted as open) as an idle lease connection. */
void pa_pg_lease_adopt(pg_store *st, PGconn *c);
/* Stops the listener and closes every lease connection (the store is being freed). */
void pa_pg_lease_close(pg_store *st);
/* The advisory lock key of an account: 64 bits of a hash of its id. */
int64_t pa_pg_lease_key(const char *id);

#endif /* PA_STORE_PG_PRIVATE_H */
