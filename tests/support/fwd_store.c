/*
 * A store that forwards every call, pool members included, to another,
 * with the test's hooks around each (pa_test.h, "forwarding store").
 */
#include "config.h"
#include <stdlib.h>
#include "pa_test.h"

typedef struct fwd_store {
	provauth_store base;
	provauth_store *inner;
	pa_fwd_hooks hooks;
} fwd_store;

static long before(fwd_store *s, pa_fwd_op op)
{
	return s->hooks.before ? s->hooks.before(op, s->hooks.payload) : 0;
}

static int after(fwd_store *s, pa_fwd_op op, int rc, long token)
{
	return s->hooks.after ? s->hooks.after(op, rc, token, s->hooks.payload) : rc;
}

static int fwd_get(provauth_store *st, provauth_account **out, const char *id)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_GET);
	return after(s, PA_FWD_GET, s->inner->get(s->inner, out, id), t);
}

static int fwd_find_email(provauth_store *st, provauth_account **out, const char *provider, const char *email)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_FIND_EMAIL);
	return after(s, PA_FWD_FIND_EMAIL, s->inner->find_email(s->inner, out, provider, email), t);
}

static int fwd_list(provauth_store *st, provauth_account ***out, size_t *count, const char *provider)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_LIST);
	return after(s, PA_FWD_LIST, s->inner->list(s->inner, out, count, provider), t);
}

static int fwd_put(provauth_store *st, provauth_account *a)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_PUT);
	return after(s, PA_FWD_PUT, s->inner->put(s->inner, a), t);
}

static int fwd_put_many(provauth_store *st, provauth_account *const *accounts, size_t n)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_PUT_MANY);
	return after(s, PA_FWD_PUT_MANY, s->inner->put_many(s->inner, accounts, n), t);
}

static int fwd_list_checked(provauth_store *st, provauth_account ***out, size_t *count, char ***damaged,
                            size_t *ndamaged, const char *provider)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_LIST_CHECKED);
	return after(s, PA_FWD_LIST_CHECKED, s->inner->list_checked(s->inner, out, count, damaged, ndamaged, provider),
	             t);
}

static int fwd_lease_wait(provauth_store *st, const char *id, int64_t timeout_ms)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_LEASE_WAIT);
	return after(s, PA_FWD_LEASE_WAIT, s->inner->lease_wait(s->inner, id, timeout_ms), t);
}

static int fwd_put_verbatim(provauth_store *st, provauth_account *const *accounts, size_t n)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_PUT_VERBATIM);
	return after(s, PA_FWD_PUT_VERBATIM, s->inner->put_verbatim(s->inner, accounts, n), t);
}

static int fwd_remove(provauth_store *st, const char *id, uint64_t rev)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_REMOVE);
	return after(s, PA_FWD_REMOVE, s->inner->remove(s->inner, id, rev), t);
}

static int fwd_lease_acquire(provauth_store *st, const char *id, const char *owner, int64_t ttl)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_LEASE_ACQUIRE);
	return after(s, PA_FWD_LEASE_ACQUIRE, s->inner->lease_acquire(s->inner, id, owner, ttl), t);
}

static int fwd_lease_release(provauth_store *st, const char *id, const char *owner)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_LEASE_RELEASE);
	return after(s, PA_FWD_LEASE_RELEASE, s->inner->lease_release(s->inner, id, owner), t);
}

static int fwd_pool_reserve(provauth_store *st, provauth_pool_reservation **out, const provauth_pool_query *q)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_POOL_RESERVE);
	return after(s, PA_FWD_POOL_RESERVE, s->inner->pool_reserve(s->inner, out, q), t);
}

static int fwd_pool_attach(provauth_store *st, const char *reservation_id, const char *job_id)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_POOL_ATTACH);
	return after(s, PA_FWD_POOL_ATTACH, s->inner->pool_attach(s->inner, reservation_id, job_id), t);
}

static int fwd_pool_release(provauth_store *st, const provauth_pool_release_args *a)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_POOL_RELEASE);
	return after(s, PA_FWD_POOL_RELEASE, s->inner->pool_release(s->inner, a), t);
}

static int fwd_pool_update(provauth_store *st, const provauth_pool_update *u)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_POOL_UPDATE);
	return after(s, PA_FWD_POOL_UPDATE, s->inner->pool_update(s->inner, u), t);
}

static int fwd_pool_list(provauth_store *st, provauth_pool_account ***out, size_t *count,
                         provauth_pool_reservation ***reservations, size_t *reservation_count, const char *provider,
                         const char *account_id)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_POOL_LIST);
	return after(s, PA_FWD_POOL_LIST,
	             s->inner->pool_list(s->inner, out, count, reservations, reservation_count, provider, account_id),
	             t);
}

static int fwd_pool_reclaim(provauth_store *st, provauth_pool_reclaim_counts *out, const char *provider, int64_t now,
                            int64_t ttl)
{
	fwd_store *s = (fwd_store *)st;
	long t = before(s, PA_FWD_POOL_RECLAIM);
	return after(s, PA_FWD_POOL_RECLAIM, s->inner->pool_reclaim(s->inner, out, provider, now, ttl), t);
}

static void fwd_free(provauth_store *st)
{
	fwd_store *s = (fwd_store *)st;

	s->inner->free(s->inner);
	free(s);
}

int pa_fwd_store_new(provauth_store **out, provauth_store *inner, const pa_fwd_hooks *hooks)
{
	return pa_fwd_store_new_version(out, inner, hooks, PROVAUTH_STORE_VERSION);
}

int pa_fwd_store_new_version(provauth_store **out, provauth_store *inner, const pa_fwd_hooks *hooks,
                             unsigned int version)
{
	fwd_store *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s) {
		inner->free(inner);
		return -1;
	}
	s->base.version = version;
	s->base.name = inner->name;
	s->base.get = fwd_get;
	s->base.list = fwd_list;
	s->base.put = fwd_put;
	s->base.remove = fwd_remove;
	s->base.lease_acquire = fwd_lease_acquire;
	s->base.lease_release = fwd_lease_release;
	s->base.free = fwd_free;
	/* What a host store written against version 1 looks like: no put_many. */
	s->base.put_many = version >= 2 && inner->version >= 2 ? fwd_put_many : NULL;
	s->base.list_checked = version >= 3 && inner->version >= 3 && inner->list_checked ? fwd_list_checked : NULL;
	s->base.lease_wait = version >= 4 && inner->version >= 4 && inner->lease_wait ? fwd_lease_wait : NULL;
	s->base.put_verbatim = version >= 4 && inner->version >= 4 && inner->put_verbatim ? fwd_put_verbatim : NULL;
	/* All or none, as the contract wants them. */
	if (version >= 5 && inner->version >= 5 && inner->pool_reserve) {
		s->base.pool_reserve = fwd_pool_reserve;
		s->base.pool_attach = fwd_pool_attach;
		s->base.pool_release = fwd_pool_release;
		s->base.pool_update = fwd_pool_update;
		s->base.pool_list = fwd_pool_list;
		s->base.pool_reclaim = fwd_pool_reclaim;
	}
	s->base.find_email = version >= 6 && inner->version >= 6 && inner->find_email ? fwd_find_email : NULL;
	s->inner = inner;
	if (hooks)
		s->hooks = *hooks;
	*out = &s->base;
	return 0;
}
