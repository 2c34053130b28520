/*
 * The "postgres" store: accounts in a PostgreSQL database that many hosts
 * share. Opening and closing it, and its provauth_store table; the rest is
 * in pg_conn.c (connections), pg_schema.c, pg_rows.c and pg_lease.c.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/pg_private.h"

/*
 * "store postgres USER@HOST:PORT/DBNAME" from the connection string, with
 * libpq's environment defaults for what it leaves out. Never the password.
 */
static int describe(char **where, const char *conninfo)
{
	const char *user = NULL, *host = NULL, *hostaddr = NULL, *port = NULL, *dbname = NULL;
	PQconninfoOption *opts, *o;
	char *why = NULL, cut[160];

	if (!(opts = PQconninfoParse(conninfo, &why))) {
		pa_conninfo_reason(cut, sizeof(cut), why);
		PQfreemem(why);
		return pa_error_set(PROVAUTH_EINVAL, "store postgres: the connection string or URI does not parse (%s)",
		                    cut);
	}
	for (o = opts; o->keyword; o++) {
		const char *v = o->val && *o->val ? o->val : NULL;

		if (!strcmp(o->keyword, "user"))
			user = v;
		else if (!strcmp(o->keyword, "host"))
			host = v;
		else if (!strcmp(o->keyword, "hostaddr"))
			hostaddr = v;
		else if (!strcmp(o->keyword, "port"))
			port = v;
		else if (!strcmp(o->keyword, "dbname"))
			dbname = v;
	}
	if (!user)
		user = getenv("PGUSER");
	if (!host && !hostaddr)
		host = getenv("PGHOST");
	if (!port)
		port = getenv("PGPORT");
	if (!dbname)
		dbname = getenv("PGDATABASE");
	*where = pa_sprintf("store postgres %s%s%s:%s/%s", user ? user : "", user ? "@" : "",
	                    host ? host : hostaddr ? hostaddr : "localhost", port ? port : "5432",
	                    dbname ? dbname : user ? user : "(default database)");
	PQconninfoFree(opts);
	return *where ? 0 : pa_error_oom();
}

static void pg_free(provauth_store *s)
{
	pg_store *st = (pg_store *)s;

	if (!st)
		return;
	pa_pg_pool_holder_close(st);
	pa_pg_lease_close(st);
	pa_pg_pool_close(st);
	pa_store_key_clear(&st->key);
	free(st->idle);
	free(st->lease_idle);
	if (st->conninfo) {
		pa_wipe(st->conninfo, strlen(st->conninfo));
		free(st->conninfo);
	}
	free(st->where);
	pthread_cond_destroy(&st->freed);
	pthread_mutex_destroy(&st->holder_lock);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static int check_options(const provauth_postgres_options *o)
{
	if (!o)
		return 0;
	if (o->version < 1)
		return pa_error_set(PROVAUTH_EINVAL, "store postgres: options version %u is invalid (initialise "
		                    "with PROVAUTH_POSTGRES_OPTIONS_INIT)", o->version);
	if (o->pool_size < 0 || o->pool_size > 1024)
		return pa_error_set(PROVAUTH_EINVAL, "store postgres: pool_size must be 1 to 1024 (0: 4), got %d",
		                    o->pool_size);
	if (o->connect_timeout_ms < 0 || o->statement_timeout_ms < 0)
		return pa_error_set(PROVAUTH_EINVAL, "store postgres: timeouts must not be negative");
	return 0;
}

/* The key, from the options or PROVAUTH_STORE_KEY: no file is implied, unlike the sqlite store's. */
static int resolve_key(pg_store *st, const provauth_postgres_options *o)
{
	const char *env = secure_getenv("PROVAUTH_STORE_KEY");

	if ((!o || (!o->key && (!o->key_file || !*o->key_file))) && (!env || !*env))
		return pa_error_set(PROVAUTH_ECRYPTO, "%s: no key: set store.key_file (the same 32-byte file on "
		                    "every host that shares the database) or PROVAUTH_STORE_KEY", st->where);
	return pa_store_key_resolve(&st->key, st->where, NULL, o ? o->key : NULL, o ? o->key_file : NULL);
}

int pa_pg_describe(provauth_store *s, provauth_store_info *info)
{
	static const char prefix[] = "store postgres ";
	pg_store *st = (pg_store *)s;
	const char *where;

	/* Only a store this file made is a pg_store, whatever a host store calls itself. */
	if (s->free != pg_free)
		return 1;
	where = st->where;
	if (!strncmp(where, prefix, strlen(prefix)))
		where += strlen(prefix);
	info->schema_version = PA_PG_SCHEMA_VERSION;   /* an open store has been brought to it */
	if (!(info->location = pa_strdup(where)) || (st->key.file && !(info->key_file = pa_strdup(st->key.file))))
		return pa_error_oom();
	return 0;
}

int provauth_store_postgres_open(provauth_store **out, const char *conninfo, const provauth_postgres_options *opts)
{
	pthread_condattr_t attr;
	pg_store *st;
	PGconn *c = NULL;
	int rc, reused;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "store postgres: no output given");
	*out = NULL;
	if (!conninfo)
		return pa_error_set(PROVAUTH_EINVAL, "store postgres: a connection string or URI is required");
	if ((rc = check_options(opts)) < 0)
		return rc;
	if (!PQisthreadsafe())
		return pa_error_set(PROVAUTH_ESTORE, "store postgres: libpq was built without thread support");
	if (!(st = calloc(1, sizeof(*st))))
		return pa_error_oom();
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->holder_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&st->freed, &attr);
	pthread_condattr_destroy(&attr);
	st->pool_size = opts && opts->pool_size ? opts->pool_size : 4;
	st->connect_timeout_ms = opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 5000;
	st->statement_timeout_ms = opts && opts->statement_timeout_ms ? opts->statement_timeout_ms : 30000;
	if ((rc = describe(&st->where, conninfo)) < 0)
		goto fail;
	if (!(st->conninfo = pa_strdup(conninfo)) || !(st->idle = calloc((size_t)st->pool_size, sizeof(*st->idle))) ||
	    !(st->lease_idle = calloc((size_t)st->pool_size, sizeof(*st->lease_idle)))) {
		rc = pa_error_oom();
		goto fail;
	}
	if ((rc = resolve_key(st, opts)) < 0 || (rc = pa_pg_pool_get(st, &c, &reused)) < 0)
		goto fail;
	rc = pa_pg_prepare_schema(st, c, opts && opts->no_create);
	if (rc < 0) {
		pa_pg_pool_put(st, c);
		goto fail;
	}
	/*
	 * The connection stays open for the first lease: a storm on a dead
	 * session is when every host asks for one at once, and making a
	 * connection (authentication included) costs more than the rest of
	 * the lease. The pool makes its own on first use.
	 */
	pa_pg_lease_adopt(st, c);
	st->base.version = PROVAUTH_STORE_VERSION;
	st->base.name = "postgres";
	st->base.get = pa_pg_get;
	st->base.find_email = pa_pg_find_email;
	st->base.list = pa_pg_list;
	st->base.put = pa_pg_put;
	st->base.remove = pa_pg_remove;
	st->base.lease_acquire = pa_pg_lease_acquire;
	st->base.lease_release = pa_pg_lease_release;
	st->base.free = pg_free;
	st->base.put_many = pa_pg_put_many;
	st->base.list_checked = pa_pg_list_checked;
	st->base.lease_wait = pa_pg_lease_wait;
	st->base.put_verbatim = pa_pg_put_verbatim;
	st->base.pool_reserve = pa_pg_pool_reserve;
	st->base.pool_attach = pa_pg_pool_attach;
	st->base.pool_release = pa_pg_pool_release;
	st->base.pool_update = pa_pg_pool_update;
	st->base.pool_list = pa_pg_pool_list;
	st->base.pool_reclaim = pa_pg_pool_reclaim;
	*out = &st->base;
	return 0;
fail:
	pg_free(&st->base);
	return rc;
}
