/*
 * Taking an account for a job: the job's cost from the provider, one
 * reservation transaction in the store, and, when no account can take it,
 * either a wait (woken by releases) or a message that says why not.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "pool/pool.h"

/* A waiter asks the store again at least this often: releases in other processes wake nobody here. */
#define PA_POOL_RECHECK_MS 250

static int job_cost(provauth_manager *m, const provauth_pool_hooks *hooks, const provauth_pool_request *req,
                    char kind[PROVAUTH_CREDIT_KIND_MAX], int64_t *cost)
{
	pa_plugin *p = pa_manager_plugin(m, req->provider);
	int rc;

	kind[0] = '\0';
	*cost = 0;
	if (!req->operation || !hooks || !PROVAUTH_POOL_HOOKS_HAS(hooks, estimate_cost) || !hooks->estimate_cost)
		return 0;
	rc = hooks->estimate_cost(p->state, req->operation, (const provauth_op_arg *)req->args, req->nargs, kind,
	                          cost);
	if (rc < 0)
		return rc == PROVAUTH_ENOTFOUND
		               ? pa_error_set(rc, "pool: provider %s has no job called '%s'", req->provider,
		                              req->operation)
		               : rc;
	if (!memchr(kind, '\0', PROVAUTH_CREDIT_KIND_MAX) || *cost < 0)
		return pa_error_set(PROVAUTH_EPLUGIN, "pool: provider %s estimated a cost it cannot have (a bug in its "
		                    "plugin)", req->provider);
	if (!kind[0] && *cost > 0 && PROVAUTH_POOL_HOOKS_HAS(hooks, default_credit_kind) && hooks->default_credit_kind)
		snprintf(kind, PROVAUTH_CREDIT_KIND_MAX, "%s", hooks->default_credit_kind);
	return 0;
}

static int64_t credit_of(const provauth_pool_account *a, const char *kind)
{
	size_t i;

	for (i = 0; kind && i < a->credit_count; i++)
		if (strcmp(a->credits[i].kind, kind) == 0)
			return a->credits[i].amount;
	return 0;
}

/* Appends ", N what" to buf when n > 0. */
static void count_reason(char *buf, size_t size, size_t n, const char *what)
{
	size_t len = strlen(buf);

	if (n && len < size)
		snprintf(buf + len, size - len, "%s%zu %s", len ? ", " : "", n, what);
}

/* ENOACCOUNT with the reasons, counted from what the store holds now. */
static int explain_none(provauth_manager *m, provauth_store *s, const provauth_pool_query *q)
{
	provauth_pool_account **list = NULL;
	size_t i, n = 0, unhealthy = 0, status = 0, cooling = 0, busy = 0, poor = 0;
	char why[400] = "";
	int rc;

	if ((rc = s->pool_list(s, &list, &n, NULL, NULL, q->provider, q->account_id)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		const provauth_pool_account *a = list[i];
		int cap = a->effective_cap > 0 ? a->effective_cap : a->max_slots > 0 ? a->max_slots : q->default_slots;
		if (!a->healthy)
			unhealthy++;
		else if (strcmp(a->status, "active") != 0)
			status++;
		else if (a->cooldown_until > q->now)
			cooling++;
		else if (a->in_use >= cap)
			busy++;
		else if (!q->account_id && q->credit_kind && a->credits_at && credit_of(a, q->credit_kind) < q->cost)
			poor++;
	}
	count_reason(why, sizeof(why), busy, "with every slot busy");
	count_reason(why, sizeof(why), cooling, "cooling down");
	count_reason(why, sizeof(why), poor, "without enough credits");
	count_reason(why, sizeof(why), status, "exhausted, disabled or banned");
	count_reason(why, sizeof(why), unhealthy, "whose session needs a new login");
	provauth_pool_account_list_free(list, n);
	(void)m;
	if (q->account_id)
		return pa_error_set(PROVAUTH_ENOACCOUNT, "pool: account %s cannot take the job now (%s)", q->account_id,
		                    why[0] ? why : "unknown reason");
	if (!n)
		return pa_error_set(PROVAUTH_ENOACCOUNT, "pool: no %s account in the store", q->provider);
	return pa_error_set(PROVAUTH_ENOACCOUNT, "pool: none of the %zu %s accounts can take a job costing %lld %s now "
	                    "(%s)", n, q->provider, (long long)q->cost, q->credit_kind ? q->credit_kind : "credits",
	                    why[0] ? why : "they changed meanwhile");
}

static int new_reservation_id(char out[24])
{
	unsigned char b[8];
	int rc;

	if ((rc = pa_random_bytes(b, sizeof(b))) < 0)
		return rc;
	snprintf(out, 24, "rsv-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
	return 0;
}

static void log_acquired(provauth_manager *m, const provauth_pool_reservation *r)
{
	const provauth_log_field f[] = {
		PA_F_STR("reservation", r->id),
		PA_F_STR("account_id", r->account_id),
		PA_F_STR("provider", r->provider),
		PA_F_INT("cost", r->cost),
		PA_F_STR("credit_kind", r->credit_kind ? r->credit_kind : ""),
	};
	pa_log(pa_manager_logger(m), PROVAUTH_LOG_INFO, "pool_acquired", f, PA_ARRAY_LEN(f));
}

int provauth_pool_acquire(provauth_pool_reservation **out, provauth_manager *m, const provauth_pool_request *req)
{
	const provauth_pool_hooks *hooks;
	provauth_pool_query q;
	provauth_store *s;
	pa_plugin *p;
	char kind[PROVAUTH_CREDIT_KIND_MAX], id[24];
	int64_t cost, deadline = 0;
	int rc, reclaimed = 0;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "pool: acquire needs somewhere to put the reservation");
	*out = NULL;
	if (!req || req->version < 1 || req->version > PROVAUTH_POOL_REQUEST_VERSION)
		return pa_error_set(PROVAUTH_EINVAL, "pool: acquire needs a request of a known version");
	if ((rc = pa_pool_store(&s, m)) < 0 || (rc = pa_pool_provider(&p, &hooks, m, req->provider)) < 0 ||
	    (rc = job_cost(m, hooks, req, kind, &cost)) < 0 || (rc = new_reservation_id(id)) < 0)
		return rc;
	memset(&q, 0, sizeof(q));
	q.version = PROVAUTH_POOL_QUERY_VERSION;
	q.reservation_id = id;
	q.provider = req->provider;
	q.account_id = req->account_id;
	q.credit_kind = kind[0] ? kind : NULL;
	q.cost = cost;
	q.most_credits_first = req->most_credits_first;
	q.default_slots = pa_pool_default_slots(m, hooks);
	q.probe_interval = pa_manager_pool_settings(m)->cap_probe_interval;
	q.holder = pa_manager_owner(m);
	q.label = req->label;
	if (req->wait_ms > 0)
		deadline = pa_monotonic_ms() + req->wait_ms;
	for (;;) {
		uint64_t seen = pa_pool_waker_generation(pa_manager_pool_waker(m));
		int64_t left;
		q.now = pa_manager_now(m);
		rc = s->pool_reserve(s, out, &q);
		if (rc != PROVAUTH_ENOACCOUNT)
			break;
		/* Slots held by processes that died are found only by looking: once per acquire. */
		if (!reclaimed) {
			provauth_pool_reclaim_counts counts;
			reclaimed = 1;
			if (s->pool_reclaim(s, &counts, req->provider, q.now,
			                    pa_manager_pool_settings(m)->reservation_ttl) == 0 &&
			    counts.dead + counts.expired + counts.counters_fixed > 0)
				continue;
		}
		left = deadline - pa_monotonic_ms();
		if (!deadline || left <= 0)
			break;
		pa_pool_waker_wait(pa_manager_pool_waker(m), seen, left < PA_POOL_RECHECK_MS ? left : PA_POOL_RECHECK_MS);
	}
	if (rc == PROVAUTH_ENOACCOUNT)
		return explain_none(m, s, &q);
	if (rc < 0)
		return rc;
	log_acquired(m, *out);
	return 0;
}
