/*
 * Leases in the postgres store: who may recover an account now, across
 * every host that shares the database.
 *
 * A lease is a session advisory lock on a key derived from the account id,
 * taken on a connection of its own that stays out of the pool until the
 * lease is released. The server frees the lock when that connection ends,
 * so a holder that dies, or whose host or network goes away, frees its
 * lease at once rather than after a TTL; the TTL still bounds a holder that
 * hangs: while it holds a lease its connection carries
 * idle_session_timeout = ttl, and the server ends a session left idle that
 * long (freeing the lock).
 *
 * Waiting: a waiter asks for the same lock, shared, on a connection of its
 * own and sleeps until the server grants it (the holder released it or
 * died: every shared request is granted at once), or a notification on
 * PA_PG_CHANNEL names the account (a put, a remove, a release) and the
 * grant does not follow within PA_PG_NOTIFIED_GRACE_MS, or its time runs
 * out. A listener thread, started with the store's first lease request,
 * holds one connection that LISTENs for the store and wakes the waiters a
 * notification names. A granted lock is given back at once: the waiter
 * re-reads the account and asks for the lease through lease_acquire like
 * everyone else.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "store/pg_private.h"

struct pg_lease {
	char *id;
	char *owner;
	PGconn *conn;             /* holds the advisory lock */
	pg_lease *next;
};

struct pg_waiter {
	const char *id;
	int fd;                   /* an eventfd the listener writes to */
	pg_waiter *next;
};

/* 64 bits of FNV-1a over a label and the id: distinct accounts practically never share a key. */
int64_t pa_pg_lease_key(const char *id)
{
	static const char label[] = "provauth lease";
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < sizeof(label); i++)   /* the label's NUL too: it separates the id */
		h = (h ^ (unsigned char)label[i]) * 1099511628211ULL;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return (int64_t)h;
}

/* ---- connections for leases ---- */

static int lease_conn_get(pg_store *st, PGconn **out)
{
	pthread_mutex_lock(&st->lock);
	while (st->nlease_idle > 0) {
		PGconn *c = st->lease_idle[--st->nlease_idle];

		if (pa_pg_idle_alive(c)) {
			pthread_mutex_unlock(&st->lock);
			*out = c;
			return 0;
		}
		PQfinish(c);
	}
	pthread_mutex_unlock(&st->lock);
	return pa_pg_connect(st, out);
}

static void lease_conn_put(pg_store *st, PGconn *c)
{
	pthread_mutex_lock(&st->lock);
	if (!pa_pg_broken(c) && PQtransactionStatus(c) == PQTRANS_IDLE && st->nlease_idle < st->pool_size) {
		st->lease_idle[st->nlease_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&st->lock);
	PQfinish(c);
}

static int start_listener(pg_store *st);

void pa_pg_lease_adopt(pg_store *st, PGconn *c)
{
	pthread_mutex_lock(&st->lock);
	st->open--;   /* no longer the pool's */
	pthread_cond_signal(&st->freed);
	pthread_mutex_unlock(&st->lock);
	lease_conn_put(st, c);
}

/* ---- acquire and release ---- */

static void lease_free(pg_lease *l)
{
	PQfinish(l->conn);   /* frees the lock, if it still held one */
	free(l->id);
	free(l->owner);
	free(l);
}

/*
 * Whether this store already holds the lease on id: 0 for the same owner
 * (it keeps it, for its first ttl), PROVAUTH_EBUSY for another, 1 when it
 * does not. A lease whose connection the server ended (the ttl passed:
 * idle_session_timeout) is no longer held, and is forgotten here.
 */
static int held_here(pg_store *st, const char *id, const char *owner)
{
	pg_lease **p, *gone = NULL;
	int rc = 1;

	pthread_mutex_lock(&st->lock);
	for (p = &st->leases; *p; p = &(*p)->next) {
		if (strcmp((*p)->id, id) != 0)
			continue;
		if (!pa_pg_idle_alive((*p)->conn)) {
			gone = *p;
			*p = gone->next;
		} else {
			rc = strcmp((*p)->owner, owner)
			             ? pa_error_set(PROVAUTH_EBUSY, "%s: account %s: lease held by %s", st->where, id,
			                            (*p)->owner)
			             : 0;
		}
		break;
	}
	pthread_mutex_unlock(&st->lock);
	if (gone)
		lease_free(gone);
	return rc;
}

int pa_pg_lease_acquire(provauth_store *s, const char *id, const char *owner, int64_t ttl_ms)
{
	pg_store *st = (pg_store *)s;
	char key[24], ttl[24];
	const char *params[] = { key, ttl };
	pg_lease *l;
	PGconn *c = NULL;
	PGresult *r = NULL;
	int rc;

	if ((rc = pa_store_check_lease(st->where, id, owner, ttl_ms)) < 0)
		return rc;
	if ((rc = held_here(st, id, owner)) <= 0)
		return rc;
	/*
	 * A recovery is starting here: whoever does not get the lease waits
	 * next, so the listener connects now, in its thread, while this one
	 * asks for the lease.
	 */
	if ((rc = start_listener(st)) < 0)
		return rc;
	snprintf(key, sizeof(key), "%" PRId64, pa_pg_lease_key(id));
	snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_ms > INT32_MAX ? (int64_t)INT32_MAX : ttl_ms);
	if ((rc = lease_conn_get(st, &c)) < 0)
		return pa_error_prefix(rc, "account %s: lease", id);
	if ((rc = pa_pg_exec(st, c, &r, "SELECT CASE WHEN pg_try_advisory_lock($1::bigint)"
	                                " THEN set_config('idle_session_timeout', $2, false) END", 2, params,
	                     "taking a lease")) < 0) {
		lease_conn_put(st, c);
		return rc;
	}
	if (PQgetisnull(r, 0, 0)) {
		PQclear(r);
		lease_conn_put(st, c);
		return pa_error_set(PROVAUTH_EBUSY, "%s: account %s: lease held by another process", st->where, id);
	}
	PQclear(r);
	if (!(l = calloc(1, sizeof(*l))) || !(l->id = pa_strdup(id)) || !(l->owner = pa_strdup(owner))) {
		if (l) {
			free(l->id);
			free(l);
		}
		PQfinish(c);   /* frees the lock */
		return pa_error_oom();
	}
	l->conn = c;
	pthread_mutex_lock(&st->lock);
	l->next = st->leases;
	st->leases = l;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

int pa_pg_lease_release(provauth_store *s, const char *id, const char *owner)
{
	pg_store *st = (pg_store *)s;
	pg_lease **p, *l = NULL;
	char key[24];
	const char *params[] = { key, id };
	PGresult *r = NULL;
	int rc;

	if ((rc = pa_store_check_lease(st->where, id, owner, PA_STORE_NO_TTL)) < 0)
		return rc;
	pthread_mutex_lock(&st->lock);
	for (p = &st->leases; *p; p = &(*p)->next)
		if (!strcmp((*p)->id, id) && !strcmp((*p)->owner, owner)) {
			l = *p;
			*p = l->next;
			break;
		}
	pthread_mutex_unlock(&st->lock);
	if (!l)
		return 0;
	snprintf(key, sizeof(key), "%" PRId64, pa_pg_lease_key(id));
	rc = pa_pg_exec(st, l->conn, &r, "SELECT pg_advisory_unlock($1::bigint),"
	                " set_config('idle_session_timeout', '0', false), pg_notify('" PA_PG_CHANNEL "', $2)",
	                2, params, "releasing a lease");
	PQclear(r);
	if (rc < 0) {
		/*
		 * The lock lives only as long as its connection: closing it frees
		 * the lease for certain, so the release has done its job. Waiters
		 * are blocked on the lock itself and see it go.
		 */
		PQfinish(l->conn);
		l->conn = NULL;
	}
	lease_conn_put(st, l->conn);
	free(l->id);
	free(l->owner);
	free(l);
	return 0;
}

/* ---- the listener ---- */

static void wake(pg_store *st, const char *id)
{
	static const uint64_t one = 1;
	pg_waiter *w;

	pthread_mutex_lock(&st->lock);
	for (w = st->waiters; w; w = w->next)
		if (!id || !strcmp(w->id, id))
			if (write(w->fd, &one, sizeof(one)) < 0) {
				/* The counter is full: the waiter is being woken anyway. */
			}
	pthread_mutex_unlock(&st->lock);
}

/* Sleeps ms, or less when the store is being freed: returns 1 then. */
static int stopped_within(pg_store *st, int ms)
{
	struct pollfd p = { st->listener_stop[0], POLLIN, 0 };

	return poll(&p, 1, ms) > 0;
}

static void *listener_main(void *arg)
{
	pg_store *st = arg;
	PGconn *c = NULL;
	int backoff = 100, listened = 0;

	for (;;) {
		struct pollfd p[2];
		PGnotify *n;

		if (!c) {
			if (pa_pg_connect(st, &c) == 0 &&
			    pa_pg_command(st, c, "LISTEN " PA_PG_CHANNEL, "listening for changes") == 0) {
				backoff = 100;
				/* Whatever was said while nobody listened is lost: every waiter looks again. */
				if (listened)
					wake(st, NULL);
				listened = 1;
			} else {
				PQfinish(c);
				c = NULL;
				if (stopped_within(st, backoff))
					break;
				backoff = backoff < 1600 ? backoff * 2 : 2000;
				continue;
			}
		}
		p[0] = (struct pollfd){ PQsocket(c), POLLIN, 0 };
		p[1] = (struct pollfd){ st->listener_stop[0], POLLIN, 0 };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!p[0].revents)
			continue;
		if (!PQconsumeInput(c) || pa_pg_broken(c)) {
			PQfinish(c);
			c = NULL;
			wake(st, NULL);
			continue;
		}
		while ((n = PQnotifies(c)) != NULL) {
			wake(st, n->extra);
			PQfreemem(n);
		}
	}
	PQfinish(c);
	return NULL;
}

static int start_listener(pg_store *st)
{
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	if (!st->listener_started) {
		if (pipe2(st->listener_stop, O_CLOEXEC) != 0)
			rc = pa_error_set(PROVAUTH_ERROR, "%s: cannot make a pipe: %s", st->where, strerror(errno));
		else if (pthread_create(&st->listener, NULL, listener_main, st) != 0) {
			close(st->listener_stop[0]);
			close(st->listener_stop[1]);
			rc = pa_error_set(PROVAUTH_ERROR, "%s: cannot start the listener thread", st->where);
		} else {
			st->listener_started = 1;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---- waiting ---- */

/*
 * How long a waiter that heard the account change goes on waiting for its
 * lock request to be granted before it cancels the request. The holder
 * releases its lease right after storing, which grants the request within
 * a round trip; a cancel costs a new connection (a process on the
 * server), which eight waiting hosts at once feel.
 */
#define PA_PG_NOTIFIED_GRACE_MS 20

/*
 * Reads the outcome of the pending lock request (cancelled first when
 * `cancel`), and gives the lock back if the server granted it.
 */
static void end_lock_request(pg_store *st, PGconn *c, const char *key, int cancel)
{
	const char *params[] = { key };
	PGcancel *handle;
	PGresult *r;
	char why[256];
	int granted = 0;

	if (cancel && (handle = PQgetCancel(c)) != NULL) {
		PQcancel(handle, why, sizeof(why));
		PQfreeCancel(handle);
	}
	while ((r = PQgetResult(c)) != NULL) {
		granted |= PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
	}
	if (granted && pa_pg_exec(st, c, &r, "SELECT pg_advisory_unlock_shared($1::bigint)", 1, params,
	                          "giving back a lease") == 0)
		PQclear(r);
}

/*
 * The lock is asked for shared: shared requests do not conflict with each
 * other, so when the holder lets go (or dies) the server grants every
 * waiter at once instead of handing an exclusive lock down a queue.
 */
int pa_pg_lease_wait(provauth_store *s, const char *id, int64_t timeout_ms)
{
	pg_store *st = (pg_store *)s;
	pg_waiter me = { id, -1, NULL }, **p;
	int64_t now = pa_monotonic_ms(), deadline = now + timeout_ms;
	char key[24];
	const char *params[] = { key };
	PGconn *c = NULL;
	int rc, woken = 0, answered = 0;

	if ((rc = pa_store_check_id(st->where, id)) < 0)
		return rc;
	if (timeout_ms <= 0)
		return PROVAUTH_EBUSY;
	if ((rc = start_listener(st)) < 0)
		return rc;
	if ((me.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return pa_error_set(PROVAUTH_ERROR, "%s: cannot make an eventfd: %s", st->where, strerror(errno));
	pthread_mutex_lock(&st->lock);
	me.next = st->waiters;
	st->waiters = &me;
	pthread_mutex_unlock(&st->lock);
	snprintf(key, sizeof(key), "%" PRId64, pa_pg_lease_key(id));
	if ((rc = lease_conn_get(st, &c)) < 0)
		goto out;
	if (!PQsendQueryParams(c, "SELECT pg_advisory_lock_shared($1::bigint)", 1, NULL, params, NULL, NULL, 0)) {
		rc = pa_pg_fail(st, c, NULL, "waiting for a lease");
		goto out;
	}
	while (!answered) {
		struct pollfd fds[2] = { { PQsocket(c), POLLIN, 0 }, { me.fd, POLLIN, 0 } };
		int64_t left = deadline - pa_monotonic_ms();

		if (left <= 0)
			break;
		if (poll(fds, woken ? 1 : 2, left > INT32_MAX ? INT32_MAX : (int)left) < 0 && errno != EINTR)
			break;
		if (!woken && fds[1].revents) {
			/* The account changed: wait a little longer for the release that follows a put. */
			woken = 1;
			now = pa_monotonic_ms();
			if (deadline > now + PA_PG_NOTIFIED_GRACE_MS)
				deadline = now + PA_PG_NOTIFIED_GRACE_MS;
		}
		if (fds[0].revents && (!PQconsumeInput(c) || !PQisBusy(c)))
			answered = 1;   /* granted, refused, or the connection is gone: the holder may be too */
	}
	if (!pa_pg_broken(c))
		end_lock_request(st, c, key, !answered);
	rc = woken || answered ? 0
	                       : pa_error_set(PROVAUTH_EBUSY, "%s: account %s: lease still held after %lld ms",
	                                      st->where, id, (long long)timeout_ms);
out:
	if (c)
		lease_conn_put(st, c);
	pthread_mutex_lock(&st->lock);
	for (p = &st->waiters; *p; p = &(*p)->next)
		if (*p == &me) {
			*p = me.next;
			break;
		}
	pthread_mutex_unlock(&st->lock);
	close(me.fd);
	return rc;
}

void pa_pg_lease_close(pg_store *st)
{
	pg_lease *l, *next;
	int i;

	if (st->listener_started) {
		if (write(st->listener_stop[1], "x", 1) < 0) {
			/* A pipe nobody reads cannot be full after one byte. */
		}
		pthread_join(st->listener, NULL);
		close(st->listener_stop[0]);
		close(st->listener_stop[1]);
		st->listener_started = 0;
	}
	/* Closing a holder's connection frees its lock on the server. */
	for (l = st->leases; l; l = next) {
		next = l->next;
		lease_free(l);
	}
	st->leases = NULL;
	for (i = 0; i < st->nlease_idle; i++)
		PQfinish(st->lease_idle[i]);
	st->nlease_idle = 0;
}
