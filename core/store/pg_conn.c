/*
 * The postgres store's connections: making them with the store's
 * timeouts, the pool every operation borrows one from, and turning libpq's
 * failures into provauth errors that name the server and never a password.
 */
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store/pg_private.h"

/*
 * Copies the first line of a server or libpq message, printable ASCII only
 * and bounded: the text goes into provauth's one-line messages.
 */
static void first_line(char *out, size_t size, const char *msg)
{
	size_t n = 0;

	for (; msg && *msg && *msg != '\n' && n + 1 < size; msg++)
		out[n++] = (*msg >= 0x20 && *msg < 0x7f) ? *msg : '?';
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '.'))
		n--;
	out[n] = '\0';
	if (!n)
		snprintf(out, size, "no reason given");
}

int pa_pg_broken(PGconn *c)
{
	return !c || PQstatus(c) == CONNECTION_BAD;
}

int pa_pg_fail(pg_store *st, PGconn *c, const PGresult *res, const char *doing)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char why[200];

	if (pa_pg_broken(c)) {
		first_line(why, sizeof(why), c ? PQerrorMessage(c) : NULL);
		return pa_error_set(PROVAUTH_EIO, "%s: lost the connection to the server while %s (%s); nothing "
		                    "was written unless the server had committed it", st->where, doing, why);
	}
	first_line(why, sizeof(why), primary ? primary : res ? PQresultErrorMessage(res) : PQerrorMessage(c));
	if (state && !strcmp(state, "57014"))
		return pa_error_set(PROVAUTH_ETIMEOUT, "%s: %s took longer than store.statement_timeout_ms (%d ms)",
		                    st->where, doing, st->statement_timeout_ms);
	if (state && !strcmp(state, "42P01"))
		return pa_error_set(PROVAUTH_ESTORE, "%s: %s: provauth's tables are missing (%s); run "
		                    "'provauth store init'", st->where, doing, why);
	return pa_error_set(PROVAUTH_EIO, "%s: %s failed: %s%s%s%s", st->where, doing, why, state ? " (SQLSTATE " : "",
	                    state ? state : "", state ? ")" : "");
}

int pa_pg_exec(pg_store *st, PGconn *c, PGresult **res, const char *sql, int n, const char *const *params,
               const char *doing)
{
	/* Without parameters, PQexec: it takes several statements (the migrations). */
	PGresult *r = n ? PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
	ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	int rc;

	*res = NULL;
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		*res = r;
		return 0;
	}
	rc = pa_pg_fail(st, c, r, doing);
	PQclear(r);
	return rc;
}

int pa_pg_query_binary(pg_store *st, PGconn *c, PGresult **res, const char *sql, int n,
                       const char *const *params, const char *doing)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 1);
	int rc;

	*res = NULL;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK) {
		*res = r;
		return 0;
	}
	rc = pa_pg_fail(st, c, r, doing);
	PQclear(r);
	return rc;
}

int pa_pg_command(pg_store *st, PGconn *c, const char *sql, const char *doing)
{
	PGresult *r = NULL;
	int rc = pa_pg_exec(st, c, &r, sql, 0, NULL, doing);

	PQclear(r);
	return rc;
}

/* The server's notices ("relation already exists, skipping") are not for the host's terminal. */
static void ignore_notice(void *payload, const char *message)
{
	PA_UNUSED(payload);
	PA_UNUSED(message);
}

int pa_pg_connect(pg_store *st, PGconn **out)
{
	/*
	 * Order matters: entries before the expanded dbname (the user's
	 * connection string) are defaults it may override; entries after it
	 * are the store's settings, which win. Keepalives find a peer that
	 * vanished without closing (a host gone, a network cut) in about 25 s.
	 */
	char timeout[16], statement[64];
	const char *keys[] = { "keepalives_idle", "keepalives_interval", "keepalives_count",
		               "fallback_application_name", "dbname", "connect_timeout", NULL };
	const char *values[] = { "10", "5", "3", "provauth", st->conninfo, timeout, NULL };
	PGconn *c;
	char why[200];
	int rc;

	*out = NULL;
	/* libpq counts whole seconds, and treats 1 as 2. */
	snprintf(timeout, sizeof(timeout), "%d", (st->connect_timeout_ms + 999) / 1000 < 2
	                                                ? 2 : (st->connect_timeout_ms + 999) / 1000);
	if (!(c = PQconnectdbParams(keys, values, 1)))
		return pa_error_oom();
	PQsetNoticeProcessor(c, ignore_notice, NULL);
	if (PQstatus(c) != CONNECTION_OK) {
		first_line(why, sizeof(why), PQerrorMessage(c));
		PQfinish(c);
		return pa_error_set(PROVAUTH_EIO, "%s: cannot connect: %s", st->where, why);
	}
	snprintf(statement, sizeof(statement), "SET statement_timeout = %d", st->statement_timeout_ms);
	if ((rc = pa_pg_command(st, c, statement, "setting the statement timeout")) < 0) {
		PQfinish(c);
		return rc;
	}
	*out = c;
	return 0;
}

/*
 * An idle connection has nothing to read unless the server said goodbye:
 * a shutdown, a restart or an idle session timeout sends an error, then
 * closes the socket (the two may arrive apart). Anything to read therefore
 * ends the connection, before anyone writes through it, who could not tell
 * afterwards whether the write had been committed. Rarely the server says
 * something else unasked (a changed setting); the cost is one reconnect.
 */
int pa_pg_idle_alive(PGconn *c)
{
	struct pollfd p = { PQsocket(c), POLLIN, 0 };

	if (p.fd < 0 || pa_pg_broken(c))
		return 0;
	return poll(&p, 1, 0) == 0;
}

int pa_pg_pool_get(pg_store *st, PGconn **out, int *reused)
{
	struct timespec until;
	int rc;

	*out = NULL;
	*reused = 0;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += st->connect_timeout_ms / 1000;
	until.tv_nsec += (long)(st->connect_timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->lock);
	while (st->nidle == 0 && st->open >= st->pool_size) {
		if (pthread_cond_timedwait(&st->freed, &st->lock, &until) == ETIMEDOUT && st->nidle == 0 &&
		    st->open >= st->pool_size) {
			pthread_mutex_unlock(&st->lock);
			return pa_error_set(PROVAUTH_ETIMEOUT, "%s: all %d connections of the pool stayed in use "
			                    "for store.connect_timeout_ms (%d ms); raise store.pool_size",
			                    st->where, st->pool_size, st->connect_timeout_ms);
		}
	}
	while (st->nidle > 0) {
		PGconn *c = st->idle[--st->nidle];

		if (pa_pg_idle_alive(c)) {
			*out = c;
			*reused = 1;
			pthread_mutex_unlock(&st->lock);
			return 0;
		}
		st->open--;
		PQfinish(c);
	}
	st->open++;
	pthread_mutex_unlock(&st->lock);
	/* Connecting takes a round trip or more: never under the lock. */
	if ((rc = pa_pg_connect(st, out)) < 0) {
		pthread_mutex_lock(&st->lock);
		st->open--;
		pthread_cond_signal(&st->freed);
		pthread_mutex_unlock(&st->lock);
	}
	return rc;
}

void pa_pg_pool_put(pg_store *st, PGconn *c)
{
	PGconn **stale = NULL;
	int nstale = 0, i;

	if (!c)
		return;
	pthread_mutex_lock(&st->lock);
	if (!pa_pg_broken(c) && PQtransactionStatus(c) == PQTRANS_IDLE) {
		st->idle[st->nidle++] = c;
		pthread_cond_signal(&st->freed);
		pthread_mutex_unlock(&st->lock);
		return;
	}
	st->open--;
	if (pa_pg_broken(c) && st->nidle > 0) {
		/* A lost connection usually means a restarted server or a cut network: the idle ones are gone too. */
		stale = malloc((size_t)st->nidle * sizeof(*stale));
		if (stale) {
			memcpy(stale, st->idle, (size_t)st->nidle * sizeof(*stale));
			nstale = st->nidle;
			st->open -= st->nidle;
			st->nidle = 0;
		}
	}
	pthread_cond_broadcast(&st->freed);
	pthread_mutex_unlock(&st->lock);
	PQfinish(c);
	for (i = 0; i < nstale; i++)
		PQfinish(stale[i]);
	free(stale);
}

void pa_pg_pool_close(pg_store *st)
{
	int i;

	for (i = 0; i < st->nidle; i++)
		PQfinish(st->idle[i]);
	st->open -= st->nidle;
	st->nidle = 0;
}
