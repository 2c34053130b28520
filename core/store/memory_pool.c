/*
 * The memory store's account pool (store.h, version 5): the rows and
 * reservations live beside the accounts under the store's one mutex, so a
 * reservation is a single critical section. Holders are threads of this
 * process, which outlive none of their reservations' meaning: nothing is
 * ever reclaimed as dead, only as expired.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "store/memory_private.h"

#define WHERE PA_MEM_WHERE

static void row_clear(mem_pool_row *r)
{
	size_t i;

	free(r->account_id);
	free(r->status);
	free(r->cooldown_reason);
	for (i = 0; i < r->credit_count; i++)
		free(r->credits[i].kind);
	free(r->credits);
	memset(r, 0, sizeof(*r));
}

static mem_pool_row *find_row(mem_store *m, const char *account_id)
{
	size_t i;

	for (i = 0; i < m->pool_count; i++)
		if (strcmp(m->pool[i].account_id, account_id) == 0)
			return &m->pool[i];
	return NULL;
}

/* The account's row, made with the defaults when the pool never touched it. NULL: out of memory. */
static mem_pool_row *row_for(mem_store *m, const char *account_id)
{
	mem_pool_row *r = find_row(m, account_id);

	if (r)
		return r;
	if (m->pool_count == m->pool_cap) {
		size_t ncap = m->pool_cap ? m->pool_cap * 2 : 8;
		mem_pool_row *grown = realloc(m->pool, ncap * sizeof(*grown));
		if (!grown)
			return NULL;
		m->pool = grown;
		m->pool_cap = ncap;
	}
	r = &m->pool[m->pool_count];
	memset(r, 0, sizeof(*r));
	if (!(r->account_id = strdup(account_id)) || !(r->status = strdup("active"))) {
		row_clear(r);
		return NULL;
	}
	m->pool_count++;
	return r;
}

static provauth_pool_credit *credit_of(mem_pool_row *r, const char *kind)
{
	size_t i;

	for (i = 0; r && kind && i < r->credit_count; i++)
		if (strcmp(r->credits[i].kind, kind) == 0)
			return &r->credits[i];
	return NULL;
}

static int64_t credits_amount(mem_pool_row *r, const char *kind)
{
	provauth_pool_credit *c = credit_of(r, kind);

	return c ? c->amount : 0;
}

static int healthy(const provauth_account *a)
{
	return !a->state.health.state || strcmp(a->state.health.state, "invalid") != 0;
}

static int row_cap(const mem_pool_row *r, int default_slots)
{
	if (r && r->effective_cap > 0)
		return r->effective_cap;
	return r && r->max_slots > 0 ? r->max_slots : default_slots;
}

/* Step 1 of pool_reserve: a due probe raises a learnt cap by one. */
static void probe_caps(mem_store *m, const provauth_pool_query *q)
{
	size_t i, pos;

	for (i = 0; i < m->pool_count; i++) {
		mem_pool_row *r = &m->pool[i];
		int max;
		if (r->effective_cap <= 0 || r->cap_probe_at > q->now || !pa_mem_find(m, r->account_id, &pos) ||
		    strcmp(m->accounts[pos]->provider, q->provider) != 0)
			continue;
		max = r->max_slots > 0 ? r->max_slots : q->default_slots;
		if (++r->effective_cap >= max) {
			r->effective_cap = 0;
			r->cap_probe_at = 0;
		} else {
			r->cap_probe_at = q->now + q->probe_interval;
		}
	}
}

static int eligible(const provauth_pool_query *q, const provauth_account *a, mem_pool_row *r, int pinned)
{
	if (strcmp(a->provider, q->provider) != 0 || !healthy(a))
		return 0;
	if (r && strcmp(r->status, "active") != 0)
		return 0;
	if (r && r->cooldown_until > q->now)
		return 0;
	if ((r ? r->in_use : 0) >= row_cap(r, q->default_slots))
		return 0;
	if (!pinned && q->credit_kind && *q->credit_kind && r && r->credits_at &&
	    credits_amount(r, q->credit_kind) < q->cost)
		return 0;
	return 1;
}

/* < 0 when a ranks before b (store.h, pool_reserve step 3). */
static int rank(const provauth_pool_query *q, const provauth_account *a, mem_pool_row *ra,
                const provauth_account *b, mem_pool_row *rb)
{
	int pa = ra ? ra->priority : 0, pb = rb ? rb->priority : 0;
	int64_t ca, cb, la = ra ? ra->last_used : 0, lb = rb ? rb->last_used : 0;

	if (pa != pb)
		return pa > pb ? -1 : 1;
	if (q->credit_kind && *q->credit_kind) {
		ca = credits_amount(ra, q->credit_kind);
		cb = credits_amount(rb, q->credit_kind);
		if (ca != cb)
			return (ca < cb) == !q->most_credits_first ? -1 : 1;
	}
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a->id, b->id);
}

static int reservation_add(mem_store *m, provauth_pool_reservation *r)
{
	return pa_pool_list_append((void ***)&m->reservations, &m->reservation_count, &m->reservation_cap, r);
}

static int mem_pool_reserve(provauth_store *s, provauth_pool_reservation **out, const provauth_pool_query *q)
{
	mem_store *m = (mem_store *)s;
	provauth_pool_reservation *mine = NULL, *copy = NULL;
	const provauth_account *best = NULL;
	mem_pool_row *row;
	size_t i, pos;
	int rc;

	if ((rc = pa_pool_check_query(WHERE, out, q)) < 0)
		return rc;
	pthread_mutex_lock(&m->lock);
	probe_caps(m, q);
	if (q->account_id) {
		if (!pa_mem_find(m, q->account_id, &pos) || strcmp(m->accounts[pos]->provider, q->provider) != 0) {
			rc = pa_error_set(PROVAUTH_ENOTFOUND, WHERE ": no %s account %s", q->provider, q->account_id);
			goto out;
		}
		if (eligible(q, m->accounts[pos], find_row(m, q->account_id), 1))
			best = m->accounts[pos];
	} else {
		mem_pool_row *best_row = NULL;
		for (i = 0; i < m->count; i++) {
			const provauth_account *a = m->accounts[i];
			mem_pool_row *r = find_row(m, a->id);
			if (!eligible(q, a, r, 0))
				continue;
			if (!best || rank(q, a, r, best, best_row) < 0) {
				best = a;
				best_row = r;
			}
		}
	}
	if (!best) {
		rc = PROVAUTH_ENOACCOUNT;
		pa_error_set(rc, WHERE ": no %s account can take the job now", q->provider);
		goto out;
	}
	if (!(row = row_for(m, best->id))) {
		rc = pa_error_oom();
		goto out;
	}
	if ((rc = pa_pool_reservation_new(&mine, q->reservation_id, best->id, q->provider,
	                                  q->credit_kind && *q->credit_kind ? q->credit_kind : NULL, q->cost, q->now,
	                                  NULL, q->label)) < 0 ||
	    (rc = pa_pool_reservation_new(&copy, mine->id, mine->account_id, mine->provider, mine->credit_kind,
	                                  mine->cost, mine->created_at, NULL, mine->label)) < 0 ||
	    (rc = reservation_add(m, mine)) < 0)
		goto out;
	mine = NULL;
	row->in_use++;
	row->last_used = q->now;
	if (row->credits_at && copy->credit_kind) {
		provauth_pool_credit *c = credit_of(row, copy->credit_kind);
		if (c)
			c->amount = c->amount > copy->cost ? c->amount - copy->cost : 0;
	}
	*out = copy;
	copy = NULL;
out:
	pthread_mutex_unlock(&m->lock);
	provauth_pool_reservation_free(mine);
	provauth_pool_reservation_free(copy);
	return rc;
}

static size_t find_reservation(mem_store *m, const char *id, const char *account_id, const char *job_id)
{
	size_t i;

	for (i = 0; i < m->reservation_count; i++) {
		provauth_pool_reservation *r = m->reservations[i];
		if (id ? strcmp(r->id, id) == 0
		       : strcmp(r->account_id, account_id) == 0 && r->job_id && strcmp(r->job_id, job_id) == 0)
			return i;
	}
	return (size_t)-1;
}

static void reservation_drop(mem_store *m, size_t i)
{
	provauth_pool_reservation_free(m->reservations[i]);
	m->reservations[i] = m->reservations[--m->reservation_count];
}

static int mem_pool_attach(provauth_store *s, const char *reservation_id, const char *job_id)
{
	mem_store *m = (mem_store *)s;
	size_t i;
	char *copy;
	int rc = 0;

	if (!reservation_id || !*reservation_id || !job_id || !*job_id)
		return pa_error_set(PROVAUTH_EINVAL, WHERE ": pool_attach needs a reservation id and a job id");
	if (!(copy = strdup(job_id)))
		return pa_error_oom();
	pthread_mutex_lock(&m->lock);
	if ((i = find_reservation(m, reservation_id, NULL, NULL)) == (size_t)-1) {
		rc = pa_error_set(PROVAUTH_ENOTFOUND, WHERE ": no reservation %s", reservation_id);
	} else {
		free(m->reservations[i]->job_id);
		m->reservations[i]->job_id = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	free(copy);
	return rc;
}

static int set_string(char **field, const char *value)
{
	char *copy = NULL;

	if (value && !(copy = strdup(value)))
		return pa_error_oom();
	free(*field);
	*field = copy;
	return 0;
}

static int mem_pool_release(provauth_store *s, const provauth_pool_release_args *a)
{
	mem_store *m = (mem_store *)s;
	provauth_pool_reservation *r;
	mem_pool_row *row;
	size_t i;
	int rc;

	if ((rc = pa_pool_check_release(WHERE, a)) < 0)
		return rc;
	pthread_mutex_lock(&m->lock);
	if ((i = find_reservation(m, a->reservation_id && *a->reservation_id ? a->reservation_id : NULL,
	                            a->account_id, a->job_id)) == (size_t)-1) {
		rc = a->reservation_id
		        ? pa_error_set(PROVAUTH_ENOTFOUND, WHERE ": no reservation %s", a->reservation_id)
		        : pa_error_set(PROVAUTH_ENOTFOUND, WHERE ": no reservation for job %s of account %s",
		                       a->job_id, a->account_id);
		goto out;
	}
	r = m->reservations[i];
	if (!(row = row_for(m, r->account_id))) {
		rc = pa_error_oom();
		goto out;
	}
	if (a->lower_cap) {
		row->effective_cap = row->in_use - 1 > 1 ? row->in_use - 1 : 1;
		row->cap_probe_at = a->cap_probe_at;
	}
	if (row->in_use > 0)
		row->in_use--;
	if (a->refund && r->credit_kind && row->credits_at) {
		provauth_pool_credit *c = credit_of(row, r->credit_kind);
		if (c)
			c->amount += r->cost;
	}
	if (a->cooldown_until > 0 && a->cooldown_until > row->cooldown_until) {
		if ((rc = set_string(&row->cooldown_reason, a->cooldown_reason)) < 0)
			goto out;
		row->cooldown_until = a->cooldown_until;
	}
	if (a->status && (rc = set_string(&row->status, a->status)) < 0)
		goto out;
	reservation_drop(m, i);
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int replace_credits(mem_pool_row *row, const provauth_pool_update *u)
{
	provauth_pool_credit *fresh = NULL;
	size_t i, n = 0;

	if (u->credit_count && !(fresh = calloc(u->credit_count, sizeof(*fresh))))
		return pa_error_oom();
	for (; n < u->credit_count; n++) {
		if (!(fresh[n].kind = strdup(u->credits[n].kind))) {
			for (i = 0; i < n; i++)
				free(fresh[i].kind);
			free(fresh);
			return pa_error_oom();
		}
		fresh[n].amount = u->credits[n].amount;
	}
	for (i = 0; i < row->credit_count; i++)
		free(row->credits[i].kind);
	free(row->credits);
	row->credits = fresh;
	row->credit_count = n;
	row->credits_at = u->now;
	return 0;
}

static int mem_pool_update(provauth_store *s, const provauth_pool_update *u)
{
	mem_store *m = (mem_store *)s;
	mem_pool_row *row;
	size_t pos;
	int rc;

	if ((rc = pa_pool_check_update(WHERE, u)) < 0)
		return rc;
	pthread_mutex_lock(&m->lock);
	if (!pa_mem_find(m, u->account_id, &pos)) {
		rc = pa_error_set(PROVAUTH_ENOTFOUND, WHERE ": no account %s", u->account_id);
		goto out;
	}
	if (!(row = row_for(m, u->account_id))) {
		rc = pa_error_oom();
		goto out;
	}
	if (u->set_credits && (rc = replace_credits(row, u)) < 0)
		goto out;
	if (u->status && (rc = set_string(&row->status, u->status)) < 0)
		goto out;
	if (u->set_max_slots) {
		row->max_slots = u->max_slots;
		if (row->effective_cap >= u->max_slots) {
			row->effective_cap = 0;
			row->cap_probe_at = 0;
		}
	}
	if (u->set_priority)
		row->priority = u->priority;
	if (u->clear_cooldown) {
		row->cooldown_until = 0;
		free(row->cooldown_reason);
		row->cooldown_reason = NULL;
	}
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int describe(provauth_pool_account **out, const provauth_account *a, mem_pool_row *r)
{
	size_t i;
	int rc;

	if ((rc = pa_pool_account_new(out, a->id, a->provider, a->email, r ? r->status : NULL,
	                              r ? r->cooldown_reason : NULL)) < 0)
		return rc;
	(*out)->healthy = healthy(a);
	if (r) {
		(*out)->priority = r->priority;
		(*out)->max_slots = r->max_slots;
		(*out)->effective_cap = r->effective_cap;
		(*out)->in_use = r->in_use;
		(*out)->cap_probe_at = r->cap_probe_at;
		(*out)->cooldown_until = r->cooldown_until;
		(*out)->credits_at = r->credits_at;
		(*out)->last_used = r->last_used;
		for (i = 0; i < r->credit_count; i++)
			if ((rc = pa_pool_account_add_credit(*out, r->credits[i].kind, r->credits[i].amount)) < 0)
				return rc;
	}
	return 0;
}

static int cmp_reservation(const void *a, const void *b)
{
	return strcmp((*(provauth_pool_reservation *const *)a)->id, (*(provauth_pool_reservation *const *)b)->id);
}

static int list_reservations(mem_store *m, provauth_pool_reservation ***out, size_t *count, const char *provider,
                             const char *account_id)
{
	size_t i, cap = 0;
	int rc;

	for (i = 0; i < m->reservation_count; i++) {
		provauth_pool_reservation *r = m->reservations[i], *copy;
		if ((provider && strcmp(r->provider, provider) != 0) ||
		    (account_id && strcmp(r->account_id, account_id) != 0))
			continue;
		if ((rc = pa_pool_reservation_new(&copy, r->id, r->account_id, r->provider, r->credit_kind, r->cost,
		                                  r->created_at, r->job_id, r->label)) < 0)
			return rc;
		if ((rc = pa_pool_list_append((void ***)out, count, &cap, copy)) < 0) {
			provauth_pool_reservation_free(copy);
			return rc;
		}
	}
	if (*count)
		qsort(*out, *count, sizeof(**out), cmp_reservation);
	return 0;
}

static int mem_pool_list(provauth_store *s, provauth_pool_account ***out, size_t *count,
                         provauth_pool_reservation ***reservations, size_t *reservation_count,
                         const char *provider, const char *account_id)
{
	mem_store *m = (mem_store *)s;
	provauth_pool_account **list = NULL;
	provauth_pool_reservation **rlist = NULL;
	size_t i, n = 0, cap = 0, rn = 0;
	int rc = 0;

	if ((out && !count) || (reservations && !reservation_count))
		return pa_error_set(PROVAUTH_EINVAL, WHERE ": pool_list needs a count for each list it fills");
	pthread_mutex_lock(&m->lock);
	for (i = 0; out && i < m->count; i++) {
		const provauth_account *a = m->accounts[i];
		provauth_pool_account *pa = NULL;
		if ((provider && strcmp(a->provider, provider) != 0) || (account_id && strcmp(a->id, account_id) != 0))
			continue;
		if ((rc = describe(&pa, a, find_row(m, a->id))) < 0) {
			provauth_pool_account_free(pa);   /* made, then a credit failed */
			break;
		}
		if ((rc = pa_pool_list_append((void ***)&list, &n, &cap, pa)) < 0) {
			provauth_pool_account_free(pa);
			break;
		}
	}
	if (rc == 0 && reservations)
		rc = list_reservations(m, &rlist, &rn, provider, account_id);
	pthread_mutex_unlock(&m->lock);
	if (rc < 0) {
		provauth_pool_account_list_free(list, n);
		provauth_pool_reservation_list_free(rlist, rn);
		return rc;
	}
	if (out) {
		*out = list;
		*count = n;
	}
	if (reservations) {
		*reservations = rlist;
		*reservation_count = rn;
	}
	return 0;
}

static int mem_pool_reclaim(provauth_store *s, provauth_pool_reclaim_counts *out, const char *provider,
                            int64_t now, int64_t ttl)
{
	mem_store *m = (mem_store *)s;
	provauth_pool_reclaim_counts counts = { 0, 0, 0 };
	size_t i, j;

	pthread_mutex_lock(&m->lock);
	for (i = m->reservation_count; i-- > 0;) {
		provauth_pool_reservation *r = m->reservations[i];
		if ((!provider || strcmp(r->provider, provider) == 0) && ttl > 0 && r->created_at + ttl <= now) {
			reservation_drop(m, i);
			counts.expired++;
		}
	}
	for (i = 0; i < m->pool_count; i++) {
		mem_pool_row *row = &m->pool[i];
		size_t pos;
		int held = 0;
		if (!pa_mem_find(m, row->account_id, &pos) ||
		    (provider && strcmp(m->accounts[pos]->provider, provider) != 0))
			continue;
		for (j = 0; j < m->reservation_count; j++)
			held += strcmp(m->reservations[j]->account_id, row->account_id) == 0;
		if (row->in_use != held) {
			row->in_use = held;
			counts.counters_fixed++;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (out)
		*out = counts;
	return 0;
}

void pa_mem_pool_forget(mem_store *m, const char *account_id)
{
	mem_pool_row *row = find_row(m, account_id);
	size_t i;

	if (row) {
		row_clear(row);
		*row = m->pool[--m->pool_count];
	}
	for (i = m->reservation_count; i-- > 0;)
		if (strcmp(m->reservations[i]->account_id, account_id) == 0)
			reservation_drop(m, i);
}

void pa_mem_pool_free(mem_store *m)
{
	size_t i;

	for (i = 0; i < m->pool_count; i++)
		row_clear(&m->pool[i]);
	free(m->pool);
	provauth_pool_reservation_list_free(m->reservations, m->reservation_count);
}

void pa_mem_pool_install(mem_store *m)
{
	m->base.pool_reserve = mem_pool_reserve;
	m->base.pool_attach = mem_pool_attach;
	m->base.pool_release = mem_pool_release;
	m->base.pool_update = mem_pool_update;
	m->base.pool_list = mem_pool_list;
	m->base.pool_reclaim = mem_pool_reclaim;
}
