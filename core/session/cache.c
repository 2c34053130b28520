/*
 * The session cache: a sharded table of account entries, each holding the
 * account's cached, reference-counted session and its recovery state. The
 * concurrency model (lock-free lookups, per-entry mutex, reference counts,
 * single flight) is described in session.h.
 */
#include "config.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "session.h"

#define PA_SHARDS 64

typedef struct pa_shard {
	pthread_mutex_t add;          /* serialises insertions; readers never take it */
	_Atomic(pa_entry *) head;     /* published with release; an entry's next never changes */
} pa_shard;

struct pa_session_table {
	pa_shard shards[PA_SHARDS];
};

/* ------------------------------------------------------------------------ */
/* Table                                                                    */
/* ------------------------------------------------------------------------ */

int pa_sessions_new(pa_session_table **out)
{
	pa_session_table *t = calloc(1, sizeof(*t));
	size_t i;

	if (!t)
		return pa_error_oom();
	for (i = 0; i < PA_SHARDS; i++) {
		pthread_mutex_init(&t->shards[i].add, NULL);
		atomic_init(&t->shards[i].head, NULL);
	}
	*out = t;
	return 0;
}

void pa_sessions_free(pa_session_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < PA_SHARDS; i++) {
		pa_entry *e = atomic_load(&t->shards[i].head), *next;
		for (; e; e = next) {
			next = e->next;
			/* A manager is freed with no call running: no recovery, only the table's reference. */
			assert(!e->recovering);
			assert(!e->cached || atomic_load(&e->cached->refs) == 1);
			pa_cached_release(e->cached);
			provauth_account_free(e->failed_on);
			provauth_account_free(e->refresh_dead);
			free(e->last_msg);
			pthread_mutex_destroy(&e->mu);
			pthread_cond_destroy(&e->cv);
			free(e->id);
			free(e);
		}
		pthread_mutex_destroy(&t->shards[i].add);
	}
	free(t);
}

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static pa_entry *shard_find(pa_shard *sh, const char *id)
{
	pa_entry *e;
	for (e = atomic_load_explicit(&sh->head, memory_order_acquire); e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

/* Entries live as long as the manager: an account id costs one small struct. */
pa_entry *pa_entry_get(pa_session_table *t, const char *id)
{
	pa_shard *sh = &t->shards[hash_id(id) % PA_SHARDS];
	pa_entry *e;

	if ((e = shard_find(sh, id)))
		return e;
	pthread_mutex_lock(&sh->add);
	if (!(e = shard_find(sh, id)) && (e = calloc(1, sizeof(*e)))) {
		if (!(e->id = strdup(id))) {
			free(e);
			e = NULL;
		} else {
			pthread_mutex_init(&e->mu, NULL);
			pthread_cond_init(&e->cv, NULL);
			/* Fully built before it is published: readers hold no lock. */
			e->next = atomic_load_explicit(&sh->head, memory_order_relaxed);
			atomic_store_explicit(&sh->head, e, memory_order_release);
		}
	}
	pthread_mutex_unlock(&sh->add);
	if (!e)
		pa_error_oom();
	return e;
}

/* ------------------------------------------------------------------------ */
/* Cached sessions                                                          */
/* ------------------------------------------------------------------------ */

/* What the plugin keeps for the session; the credentials are the host's own. */
static void provider_data_free(pa_cached *c)
{
	if (c->s.provider_data && c->plugin && c->plugin->vt.session_data_free)
		c->plugin->vt.session_data_free(c->plugin->state, c->s.provider_data);
}

void pa_cached_free(pa_cached *c)
{
	if (!c)
		return;
	provider_data_free(c);
	provauth_account_free(c->creds);
	if (c->account != c->built_from)
		provauth_account_free(c->account);
	provauth_account_free(c->built_from);
	free(c);
}

/* The kinds a session is built from; API keys and expiries do not make a session stale. */
static int same_kind(const provauth_account *a, const provauth_account *b, const char *kind)
{
	return pa_streq(provauth_account_credential(a, kind, NULL), provauth_account_credential(b, kind, NULL));
}

static size_t cookie_count(const provauth_account *a, const provauth_account *b, int *differs)
{
	provauth_credential c;
	size_t i, n = provauth_account_credential_count(a), cookies = 0;

	for (i = 0; i < n; i++) {
		if (provauth_account_credential_at(&c, a, i) < 0 || strcmp(c.kind, PROVAUTH_CRED_COOKIE) != 0)
			continue;
		cookies++;
		if (b && !pa_streq(provauth_account_credential(b, PROVAUTH_CRED_COOKIE, c.name), c.value))
			*differs = 1;
	}
	return cookies;
}

int pa_session_same_credentials(const provauth_account *a, const provauth_account *b)
{
	int differs = 0;

	if (!a || !b)
		return 0;
	if (!same_kind(a, b, PROVAUTH_CRED_JWT) || !same_kind(a, b, PROVAUTH_CRED_ACCESS_TOKEN) ||
	    !same_kind(a, b, PROVAUTH_CRED_REFRESH_TOKEN) || !same_kind(a, b, PROVAUTH_CRED_PASSWORD))
		return 0;
	return cookie_count(a, b, &differs) == cookie_count(b, NULL, &differs) && !differs;
}

int pa_session_acquire(provauth_manager *m, pa_entry *e, pa_cached **out)
{
	return pa_session_acquire_newer(m, e, out, 0);
}

int pa_session_acquire_newer(provauth_manager *m, pa_entry *e, pa_cached **out, uint64_t stale_upto)
{
	pa_cached *c;
	int rc;

	pthread_mutex_lock(&e->mu);
	/* Revision 0 is never stored: stale_upto 0 takes any cached session. */
	if ((c = e->cached) && c->account->revision > stale_upto)
		atomic_fetch_add(&c->refs, 1);
	else
		c = NULL;
	pthread_mutex_unlock(&e->mu);
	if (c) {
		*out = c;
		return 0;
	}
	if ((rc = pa_session_build(m, e->id, &c)) < 0)
		return rc;
	pthread_mutex_lock(&e->mu);
	if (e->cached && e->cached->account->revision >= c->account->revision) {
		/* Another thread built one at least as new meanwhile: share it. */
		pa_cached_free(c);
		c = e->cached;
	} else {
		pa_cached_release(e->cached);
		e->cached = c;
	}
	/* The table's reference keeps a cached session alive until it is evicted. */
	assert(atomic_load(&c->refs) > 0);
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&e->mu);
	*out = c;
	return 0;
}

void pa_entry_evict(pa_entry *e, const pa_cached *c)
{
	pa_cached *old = NULL;

	pthread_mutex_lock(&e->mu);
	if (e->cached && (!c || e->cached == c)) {
		old = e->cached;
		e->cached = NULL;
	}
	pthread_mutex_unlock(&e->mu);
	pa_cached_release(old);
}

void pa_sessions_evict(pa_session_table *t, const char *account_id)
{
	pa_shard *sh;
	pa_entry *e;

	if (!t || !account_id)
		return;
	sh = &t->shards[hash_id(account_id) % PA_SHARDS];
	if ((e = shard_find(sh, account_id)))
		pa_entry_evict(e, NULL);
}

