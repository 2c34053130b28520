/*
 * The pool's data as stores hand it out (provauth_pool_reservation,
 * provauth_pool_account): building and freeing them, and the argument
 * checks every backend's pool members share, with the same messages.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "store/private.h"

void provauth_pool_reservation_free(provauth_pool_reservation *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->account_id);
	free(r->provider);
	free(r->credit_kind);
	free(r->job_id);
	free(r->label);
	free(r);
}

void provauth_pool_reservation_list_free(provauth_pool_reservation **r, size_t count)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < count; i++)
		provauth_pool_reservation_free(r[i]);
	free(r);
}

void provauth_pool_account_free(provauth_pool_account *a)
{
	size_t i;

	if (!a)
		return;
	free(a->account_id);
	free(a->provider);
	free(a->email);
	free(a->status);
	free(a->cooldown_reason);
	for (i = 0; i < a->credit_count; i++)
		free(a->credits[i].kind);
	free(a->credits);
	free(a);
}

void provauth_pool_account_list_free(provauth_pool_account **accounts, size_t count)
{
	size_t i;

	if (!accounts)
		return;
	for (i = 0; i < count; i++)
		provauth_pool_account_free(accounts[i]);
	free(accounts);
}

int pa_pool_reservation_new(provauth_pool_reservation **out, const char *id, const char *account_id,
                            const char *provider, const char *credit_kind, int64_t cost, int64_t created_at,
                            const char *job_id, const char *label)
{
	provauth_pool_reservation *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return pa_error_oom();
	r->version = PROVAUTH_POOL_RESERVATION_VERSION;
	r->cost = cost;
	r->created_at = created_at;
	if (!(r->id = pa_strdup(id)) || !(r->account_id = pa_strdup(account_id)) ||
	    !(r->provider = pa_strdup(provider)) || (credit_kind && !(r->credit_kind = pa_strdup(credit_kind))) ||
	    (job_id && !(r->job_id = pa_strdup(job_id))) || (label && !(r->label = pa_strdup(label)))) {
		provauth_pool_reservation_free(r);
		return pa_error_oom();
	}
	*out = r;
	return 0;
}

int pa_pool_account_new(provauth_pool_account **out, const char *account_id, const char *provider,
                        const char *email, const char *status, const char *cooldown_reason)
{
	provauth_pool_account *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a)
		return pa_error_oom();
	a->version = PROVAUTH_POOL_ACCOUNT_VERSION;
	a->healthy = 1;
	if (!(a->account_id = pa_strdup(account_id)) || !(a->provider = pa_strdup(provider)) ||
	    (email && !(a->email = pa_strdup(email))) || !(a->status = pa_strdup(status ? status : "active")) ||
	    (cooldown_reason && !(a->cooldown_reason = pa_strdup(cooldown_reason)))) {
		provauth_pool_account_free(a);
		return pa_error_oom();
	}
	*out = a;
	return 0;
}

int pa_pool_account_add_credit(provauth_pool_account *a, const char *kind, int64_t amount)
{
	provauth_pool_credit *grown;

	if (!(grown = realloc(a->credits, (a->credit_count + 1) * sizeof(*grown))))
		return pa_error_oom();
	a->credits = grown;
	if (!(grown[a->credit_count].kind = pa_strdup(kind)))
		return pa_error_oom();
	grown[a->credit_count++].amount = amount;
	return 0;
}

int pa_pool_list_append(void ***list, size_t *n, size_t *cap, void *item)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		void **grown = realloc(*list, ncap * sizeof(*grown));
		if (!grown)
			return pa_error_oom();
		*list = grown;
		*cap = ncap;
	}
	(*list)[(*n)++] = item;
	return 0;
}

static int known_status(const char *s)
{
	return strcmp(s, "active") == 0 || strcmp(s, "exhausted") == 0 || strcmp(s, "disabled") == 0 ||
	       strcmp(s, "banned") == 0;
}

int pa_pool_check_query(const char *where, provauth_pool_reservation **out, const provauth_pool_query *q)
{
	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_reserve needs somewhere to put the reservation", where);
	*out = NULL;
	if (!q || q->version < 1 || q->version > PROVAUTH_POOL_QUERY_VERSION)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_reserve: no query, or one of an unknown version", where);
	if (!q->reservation_id || !*q->reservation_id)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_reserve: a reservation id is required", where);
	if (!q->provider || !*q->provider)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_reserve: a provider is required", where);
	if (q->cost < 0 || q->default_slots < 1)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_reserve: cost below 0 or default slots below 1", where);
	return 0;
}

int pa_pool_check_release(const char *where, const provauth_pool_release_args *a)
{
	if (!a || a->version < 1 || a->version > PROVAUTH_POOL_RELEASE_ARGS_VERSION)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_release: no arguments, or of an unknown version", where);
	if ((!a->reservation_id || !*a->reservation_id) &&
	    (!a->account_id || !*a->account_id || !a->job_id || !*a->job_id))
		return pa_error_set(PROVAUTH_EINVAL,
		                    "%s: pool_release: a reservation id, or an account id and a job id, is required",
		                    where);
	if (a->status && !known_status(a->status))
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_release: unknown status '%.20s'", where, a->status);
	return 0;
}

int pa_pool_check_update(const char *where, const provauth_pool_update *u)
{
	size_t i;

	if (!u || u->version < 1 || u->version > PROVAUTH_POOL_UPDATE_VERSION)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_update: no update, or one of an unknown version", where);
	if (!u->account_id || !*u->account_id)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_update: an account id is required", where);
	if (u->status && !known_status(u->status))
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_update: unknown status '%.20s'", where, u->status);
	if (u->set_max_slots && u->max_slots < 1)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_update: max slots below 1", where);
	if (u->set_credits && u->credit_count && !u->credits)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool_update: credits counted but not given", where);
	for (i = 0; u->set_credits && i < u->credit_count; i++)
		if (!u->credits[i].kind || !*u->credits[i].kind)
			return pa_error_set(PROVAUTH_EINVAL, "%s: pool_update: a credit without a kind", where);
	return 0;
}
