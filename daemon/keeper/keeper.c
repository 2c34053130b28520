/*
 * The keeper: refreshes OAuth tokens ahead of expiry with no traffic,
 * touches every account at least once per max_idle (a forced refresh, or a
 * probe: a credit sync or a status call), and syncs credits on a cadence.
 *
 * One scheduler thread reads the account list every scan_interval_ms,
 * plans each account (schedule.c) and hands the due ones to a pool of
 * keeper.concurrency workers, at most rate_per_provider starts a second per
 * provider. A worker takes the store lease "keeper:ID", reads the account
 * again and re-plans it (another daemon may have just kept it: with the
 * lease this is what makes "kept once" hold across daemons), does the work
 * through the library, and writes what it did to the store (record.h).
 * Accounts in a cooldown, banned, disabled or with a dead refresh token are
 * left alone: they need a human, and the notifier has told one.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "keeper.h"

#define PAD_RATE_PROVIDERS 32

static atomic_int keeper_seq;

typedef struct pad_task {
	struct pad_task *next;
	pad_world *world;           /* a reference, dropped when the task ends */
	char *id;
	char *provider;
	pad_keep_kind kind;
} pad_task;

#define PAD_INFLIGHT_BUCKETS 4096

typedef struct pad_inflight {
	struct pad_inflight *next;
	char *id;
} pad_inflight;

typedef struct pad_rate {
	char provider[64];
	int64_t second;
	int64_t starts;
} pad_rate;

/* What the keeper learnt of a provider in the world it serves (reset by a reload). */
typedef struct pad_provider_facts {
	char provider[64];
	int no_pool;                /* pool_sync said EUNSUPPORTED */
} pad_provider_facts;

struct pad_keeper {
	pad_daemon *d;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* work queued, or stopping */
	pthread_cond_t scan_cv;     /* wakes the scheduler to stop */
	int stopping;
	pad_task *queue, *queue_tail;
	/* Queued or running: never twice. Hashed: a scan asks once per due account, and
	 * with thousands due a list made each scan quadratic, under k->mu. */
	pad_inflight *inflight[PAD_INFLIGHT_BUCKETS];
	pthread_t scheduler;
	pthread_t *workers;
	size_t nworkers;
	pad_rate rates[PAD_RATE_PROVIDERS];
	pad_provider_facts facts[PAD_RATE_PROVIDERS];
	uint64_t facts_generation;
	atomic_llong lag;
	char owner[160];
};

/* ---- small sets under k->mu ---- */

static size_t inflight_bucket(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % PAD_INFLIGHT_BUCKETS;
}

static int inflight_has(pad_keeper *k, const char *id)
{
	pad_inflight *f;

	for (f = k->inflight[inflight_bucket(id)]; f; f = f->next)
		if (strcmp(f->id, id) == 0)
			return 1;
	return 0;
}

static void inflight_drop(pad_keeper *k, const char *id)
{
	pad_inflight **pp, *f;

	for (pp = &k->inflight[inflight_bucket(id)]; (f = *pp); pp = &f->next)
		if (strcmp(f->id, id) == 0) {
			*pp = f->next;
			free(f->id);
			free(f);
			return;
		}
}

static pad_provider_facts *facts_of(pad_keeper *k, const char *provider)
{
	size_t i;

	for (i = 0; i < PAD_RATE_PROVIDERS; i++) {
		if (strcmp(k->facts[i].provider, provider) == 0)
			return &k->facts[i];
		if (!k->facts[i].provider[0]) {
			snprintf(k->facts[i].provider, sizeof(k->facts[i].provider), "%s", provider);
			return &k->facts[i];
		}
	}
	return NULL;
}

/* 1 when another start for `provider` fits in this second. */
static int rate_take(pad_keeper *k, const char *provider, int64_t limit)
{
	struct timespec ts;
	pad_rate *r = NULL;
	size_t i;

	if (limit <= 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (i = 0; i < PAD_RATE_PROVIDERS && !r; i++)
		if (strcmp(k->rates[i].provider, provider) == 0 || !k->rates[i].provider[0])
			r = &k->rates[i];
	if (!r)
		return 1;
	if (!r->provider[0])
		snprintf(r->provider, sizeof(r->provider), "%s", provider);
	if (r->second != ts.tv_sec) {
		r->second = ts.tv_sec;
		r->starts = 0;
	}
	if (r->starts >= limit)
		return 0;
	r->starts++;
	return 1;
}

/* Waits on k->cv (held) for ms, or until woken. */
static void wait_ms(pad_keeper *k, int64_t ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += ms * 1000000L;
	while (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&k->cv, &k->mu, &until);
}

/* ---- what the keeper knows of an account ---- */

static int provider_can_refresh(provauth_manager *m, const char *provider)
{
	provauth_provider_info info;
	size_t i, n = provauth_manager_provider_count(m);

	for (i = 0; i < n; i++)
		if (provauth_manager_provider_info(&info, m, i) == 0 && info.id && strcmp(info.id, provider) == 0)
			return info.can_refresh;
	return 0;
}

/* "status" or "user_info", whichever the provider has; NULL: neither. */
static const char *probe_operation(provauth_manager *m, const char *provider)
{
	static const char *const wanted[] = { "status", "user_info" };
	provauth_provider_info info;
	size_t i, j, w, n = provauth_manager_provider_count(m);

	for (i = 0; i < n; i++) {
		if (provauth_manager_provider_info(&info, m, i) < 0 || !info.id || strcmp(info.id, provider) != 0)
			continue;
		for (w = 0; w < PAD_ARRAY_LEN(wanted); w++)
			for (j = 0; info.operations && info.operations[j]; j++)
				if (strcmp(info.operations[j], wanted[w]) == 0)
					return wanted[w];
	}
	return NULL;
}

static void facts_for(pad_keeper *k, pad_keep_facts *f, provauth_manager *m, const provauth_account *a)
{
	pad_provider_facts *pf;
	const char *rt = provauth_account_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL);

	memset(f, 0, sizeof(*f));
	f->id = a->id;
	f->expires_at = provauth_account_credential_expires(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL);
	f->refreshable = rt && *rt && provider_can_refresh(m, a->provider);
	pthread_mutex_lock(&k->mu);
	pf = facts_of(k, a->provider);
	f->pooled = !pf || !pf->no_pool;
	pthread_mutex_unlock(&k->mu);
	f->updated_at = a->updated_at;
	pad_record_of(&f->rec, a);
}

/* Needs a human, not the keeper: a dead refresh token, or invalid health. */
static int needs_human(const provauth_account *a)
{
	return a->state.refresh_refused || (a->state.health.state && strcmp(a->state.health.state, "invalid") == 0);
}

/* The pool's view says leave it alone: banned, disabled, or in a cooldown. */
static int pool_says_skip(const provauth_pool_account *p, int64_t now)
{
	return p && (strcmp(p->status, "banned") == 0 || strcmp(p->status, "disabled") == 0 || p->cooldown_until > now);
}

static const provauth_pool_account *pool_find(provauth_pool_account **pool, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(pool[i]->account_id, id) == 0)
			return pool[i];
	return NULL;
}

static int pool_cmp(const void *a, const void *b)
{
	return strcmp((*(provauth_pool_account *const *)a)->account_id, (*(provauth_pool_account *const *)b)->account_id);
}

/* pool_find over a list sorted by pool_cmp: a scan looks up every account. */
static const provauth_pool_account *pool_search(provauth_pool_account **pool, size_t n, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(pool[mid]->account_id, id);

		if (c == 0)
			return pool[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- the work ---- */

static int record_kept(pad_record *r, const provauth_account *a, void *arg)
{
	const int64_t *v = arg; /* { now, kind, ok } */

	(void)a;
	if (v[2]) {
		r->kept_at = v[0];
		if (v[1] == PAD_KEEP_SYNC)
			r->synced_at = v[0];
		r->failed_at = 0;
	} else {
		r->failed_at = v[0];
	}
	return 1;
}

/* After a sync: tell a human if the account is now banned or out of credits. */
static void notice_pool_state(pad_keeper *k, provauth_manager *m, const char *id, const char *provider)
{
	provauth_pool_account **pool = NULL;
	const provauth_pool_account *p;
	size_t n = 0, i;
	int64_t credits = 0;

	if (!k->d->notifier || provauth_pool_list(&pool, &n, NULL, NULL, m, provider) < 0)
		return;
	if ((p = pool_find(pool, n, id))) {
		for (i = 0; i < p->credit_count; i++)
			credits += p->credits[i].amount > 0 ? p->credits[i].amount : 0;
		if (strcmp(p->status, "banned") == 0)
			pad_notify_account(k->d->notifier, "account.needs_human", id, provider, "banned",
			                   "the provider reports the account blocked");
		else if (strcmp(p->status, "exhausted") == 0 || (p->credit_count > 0 && credits == 0))
			pad_notify_account(k->d->notifier, "account.needs_human", id, provider, "credits_exhausted",
			                   "the account has no credits left");
	}
	provauth_pool_account_list_free(pool, n);
}

static int probe(pad_keeper *k, provauth_manager *m, const pad_task *t, pad_keep_kind *did)
{
	pad_provider_facts *pf;
	const char *op;
	char *out = NULL;
	int rc, no_pool;

	pthread_mutex_lock(&k->mu);
	pf = facts_of(k, t->provider);
	no_pool = pf && pf->no_pool;
	pthread_mutex_unlock(&k->mu);
	if (!no_pool) {
		rc = provauth_pool_sync(m, t->id);
		if (rc != PROVAUTH_EUNSUPPORTED) {
			*did = PAD_KEEP_SYNC;
			if (rc == 0)
				notice_pool_state(k, m, t->id, t->provider);
			return rc;
		}
		pthread_mutex_lock(&k->mu);
		if ((pf = facts_of(k, t->provider)))
			pf->no_pool = 1;
		pthread_mutex_unlock(&k->mu);
	}
	*did = PAD_KEEP_IDLE;
	if (!(op = probe_operation(m, t->provider)))
		return provauth_account_keep(NULL, m, t->id, -1); /* nothing to ask: the session is built */
	rc = provauth_call(&out, m, t->id, op, NULL, 0);
	provauth_free(out);
	return rc;
}

static void kept(pad_keeper *k, const char *id, pad_keep_kind did, int rc, int refreshed)
{
	const provauth_log_field lf[] = { PAD_F_STR("account_id", id), PAD_F_STR("kind", pad_keep_kind_name(did)),
	                                  PAD_F_STR("result", rc == 0 ? "ok" : "failed"),
	                                  PAD_F_STR("code", rc == 0 ? "" : provauth_strerror(rc)),
	                                  PAD_F_BOOL("refreshed", refreshed) };
	char labels[64];

	pad_log(k->d, rc == 0 ? PROVAUTH_LOG_INFO : PROVAUTH_LOG_WARN, "keeper_kept", lf, PAD_ARRAY_LEN(lf));
	snprintf(labels, sizeof(labels), "kind=%s,result=%s", pad_keep_kind_name(did), rc == 0 ? "ok" : "failed");
	pad_metric_add("provauthd_keeper_runs_total", labels, 1);
}

static void refresh_now(pad_keeper *k, pad_task *t)
{
	provauth_manager *m = t->world->manager;
	int64_t v[3];
	int rc, refreshed = 0;

	rc = provauth_account_keep(&refreshed, m, t->id, t->world->config->keeper.refresh_ahead);
	kept(k, t->id, PAD_KEEP_REFRESH, rc, refreshed);
	if (rc < 0) {
		/* Only a failure is written: it holds the retry back (pad_keep_retry_after). */
		v[0] = pad_now();
		v[1] = PAD_KEEP_REFRESH;
		v[2] = 0;
		pad_record_update(m, t->id, record_kept, v, NULL);
	}
}

static void run_task(pad_keeper *k, pad_task *t)
{
	provauth_manager *m = t->world->manager;
	const pad_keeper_config *c = &t->world->config->keeper;
	provauth_account *a = NULL;
	pad_keep_facts f;
	pad_keep_plan plan;
	pad_keep_kind did = t->kind;
	char lease[512];
	int64_t v[3];
	int rc, leased, refreshed = 0;

	/*
	 * A token about to expire needs neither the keeper's lease nor its
	 * record: provauth_account_keep is single-flight across processes (the
	 * recovery lease, and the stored account read again under it, so a
	 * daemon that comes second adopts the token the first one stored), and
	 * the refresh's own write is the sign of life the idle rule reads.
	 * That is 2 store commits saved of 4 on every refresh, which is most of
	 * what a refresh costs beyond its HTTP request.
	 */
	if (t->kind == PAD_KEEP_REFRESH) {
		refresh_now(k, t);
		return;
	}
	snprintf(lease, sizeof(lease), "keeper:%s", t->id);
	rc = provauth_lease_acquire(m, lease, k->owner, c->lease_ttl_ms);
	if (rc == PROVAUTH_EBUSY)
		return; /* another daemon keeps it now */
	/* A store without leases serves one process: nobody to share with. */
	leased = rc == 0;
	if (rc < 0 && rc != PROVAUTH_EUNSUPPORTED)
		goto out;
	/* Re-read under the lease: another daemon may have kept it a moment ago. */
	if ((rc = provauth_account_get(&a, m, t->id)) < 0)
		goto out;
	facts_for(k, &f, m, a);
	pad_keep_plan_for(&plan, c, &f, pad_now());
	if (plan.kind == PAD_KEEP_NONE || plan.due > pad_now() || needs_human(a)) {
		rc = 0;
		goto out;
	}
	did = plan.kind;
	if (plan.kind == PAD_KEEP_REFRESH || (plan.kind == PAD_KEEP_IDLE && f.refreshable)) {
		rc = provauth_account_keep(&refreshed, m, t->id, plan.kind == PAD_KEEP_REFRESH ? c->refresh_ahead : -1);
		did = PAD_KEEP_REFRESH;
	} else {
		rc = probe(k, m, t, &did);
	}
	kept(k, t->id, did, rc, refreshed);
	v[0] = pad_now();
	v[1] = did;
	v[2] = rc == 0;
	/* Written before the lease goes: the next holder sees it kept. */
	pad_record_update(m, t->id, record_kept, v, NULL);
out:
	provauth_account_free(a);
	if (leased)
		provauth_lease_release(m, lease, k->owner);
}

static void *worker(void *arg)
{
	pad_keeper *k = arg;
	pad_task *t;
	int stopping;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->queue && !k->stopping)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stopping)
			break;
		t = k->queue;
		k->queue = t->next;
		if (!k->queue)
			k->queue_tail = NULL;
		/* At most rate_per_provider starts a second (real seconds: the provider's limit, not ours). */
		while (!k->stopping && !rate_take(k, t->provider, t->world->config->keeper.rate_per_provider))
			wait_ms(k, 20);
		stopping = k->stopping;
		pthread_mutex_unlock(&k->mu);
		if (!stopping)
			run_task(k, t);
		pthread_mutex_lock(&k->mu);
		inflight_drop(k, t->id);
		pad_world_put(t->world);
		free(t->id);
		free(t->provider);
		free(t);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* ---- the scheduler ---- */

/* Queues `a` (under k->mu); 0 when queued, 1 when it already is (or no memory). */
static int queue_task(pad_keeper *k, pad_world *w, const provauth_account *a, pad_keep_kind kind)
{
	pad_inflight *fl;
	pad_task *t;

	if (inflight_has(k, a->id))
		return 1;
	if (!(t = calloc(1, sizeof(*t))) || !(fl = calloc(1, sizeof(*fl)))) {
		free(t);
		return 1;
	}
	t->id = strdup(a->id);
	t->provider = strdup(a->provider);
	fl->id = strdup(a->id);
	if (!t->id || !t->provider || !fl->id) {
		free(t->id);
		free(t->provider);
		free(fl->id);
		free(t);
		free(fl);
		return 1;
	}
	atomic_fetch_add(&w->refs, 1); /* the task's own reference */
	t->world = w;
	t->kind = kind;
	fl->next = k->inflight[inflight_bucket(fl->id)];
	k->inflight[inflight_bucket(fl->id)] = fl;
	if (k->queue_tail)
		k->queue_tail->next = t;
	else
		k->queue = t;
	k->queue_tail = t;
	pthread_cond_signal(&k->cv);
	return 0;
}

static void scan(pad_keeper *k)
{
	pad_world *w = pad_world_get(k->d);
	provauth_account **list = NULL;
	provauth_pool_account **pool = NULL;
	char **damaged = NULL;
	size_t n = 0, ndamaged = 0, npool = 0, i;
	int64_t now = pad_now(), lag = 0;
	pad_keep_facts f;
	pad_keep_plan plan;
	pad_record rec;

	if (!w)
		return;
	pthread_mutex_lock(&k->mu);
	if (w->generation != k->facts_generation) {
		/* A reload may have brought other plugins: learn their hooks again. */
		memset(k->facts, 0, sizeof(k->facts));
		k->facts_generation = w->generation;
	}
	pthread_mutex_unlock(&k->mu);
	if (provauth_account_list_checked(&list, &n, &damaged, &ndamaged, w->manager, NULL) < 0) {
		const provauth_log_field lf[] = { PAD_F_STR("error", provauth_last_error()) };
		pad_log(k->d, PROVAUTH_LOG_WARN, "keeper_scan_failed", lf, PAD_ARRAY_LEN(lf));
		pad_world_put(w);
		return;
	}
	/* A store without a pool has no cooldowns or statuses to respect. */
	if (provauth_pool_list(&pool, &npool, NULL, NULL, w->manager, NULL) < 0) {
		pool = NULL;
		npool = 0;
	}
	/* Sorted once, searched per account: a linear search each made the scan quadratic. */
	if (npool > 1)
		qsort(pool, npool, sizeof(*pool), pool_cmp);
	pad_metric_set("provauthd_keeper_accounts", "", (int64_t)n);
	for (i = 0; i < n; i++) {
		const provauth_pool_account *p = pool_search(pool, npool, list[i]->id);

		if (needs_human(list[i]) || pool_says_skip(p, now))
			continue;
		facts_for(k, &f, w->manager, list[i]);
		/* Told a human it needed one, and now fine again (re-imported): say so. */
		pad_record_of(&rec, list[i]);
		if (k->d->notifier && strcmp(rec.notified, "needs_human") == 0 &&
		    !(p && strcmp(p->status, "exhausted") == 0))
			pad_notify_account(k->d->notifier, "account.recovered", list[i]->id, list[i]->provider, NULL,
			                   "the account works again");
		pad_keep_plan_for(&plan, &w->config->keeper, &f, now);
		if (plan.kind == PAD_KEEP_NONE || plan.due > now)
			continue;
		if (now - plan.due > lag)
			lag = now - plan.due;
		pthread_mutex_lock(&k->mu);
		if (!k->stopping)
			queue_task(k, w, list[i], plan.kind);
		pthread_mutex_unlock(&k->mu);
	}
	atomic_store(&k->lag, lag);
	pad_metric_set("provauthd_keeper_lag_seconds", "", lag);
	provauth_pool_account_list_free(pool, npool);
	provauth_account_list_free(list, n);
	provauth_damaged_list_free(damaged, ndamaged);
	pad_world_put(w);
}

static void *scheduler(void *arg)
{
	pad_keeper *k = arg;
	struct timespec until;
	int64_t ms;
	pad_world *w;

	pthread_mutex_lock(&k->mu);
	while (!k->stopping) {
		pthread_mutex_unlock(&k->mu);
		scan(k);
		w = pad_world_get(k->d);
		ms = w && w->config->keeper.scan_interval_ms > 0 ? w->config->keeper.scan_interval_ms : 5000;
		pad_world_put(w);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += ms / 1000;
		until.tv_nsec += (ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&k->mu);
		if (!k->stopping)
			pthread_cond_timedwait(&k->scan_cv, &k->mu, &until);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static void keeper_free(pad_keeper *k)
{
	pad_task *t;
	size_t i;

	while ((t = k->queue)) {
		k->queue = t->next;
		pad_world_put(t->world);
		free(t->id);
		free(t->provider);
		free(t);
	}
	for (i = 0; i < PAD_INFLIGHT_BUCKETS; i++)
		while (k->inflight[i])
			inflight_drop(k, k->inflight[i]->id);
	pthread_cond_destroy(&k->cv);
	pthread_cond_destroy(&k->scan_cv);
	pthread_mutex_destroy(&k->mu);
	free(k->workers);
	free(k);
}

int pad_keeper_start(pad_keeper **out, pad_daemon *d)
{
	pthread_condattr_t ca;
	pad_world *w = pad_world_get(d);
	char host[64] = "localhost";
	pad_keeper *k;
	size_t i;

	*out = NULL;
	if (!w)
		return PROVAUTH_EINVAL;
	if (!(k = calloc(1, sizeof(*k)))) {
		pad_world_put(w);
		return PROVAUTH_ENOMEM;
	}
	k->d = d;
	k->nworkers = w->config->keeper.concurrency > 0 ? (size_t)w->config->keeper.concurrency : 1;
	pad_world_put(w);
	gethostname(host, sizeof(host) - 1);
	/* The keeper's sequence number too: two keepers in one process (tests) are two owners. */
	snprintf(k->owner, sizeof(k->owner), "provauthd:%s:%ld:%d", host, (long)getpid(),
	         atomic_fetch_add(&keeper_seq, 1) + 1);
	pthread_mutex_init(&k->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cv, &ca);
	pthread_cond_init(&k->scan_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (!(k->workers = calloc(k->nworkers, sizeof(*k->workers)))) {
		keeper_free(k);
		return PROVAUTH_ENOMEM;
	}
	for (i = 0; i < k->nworkers; i++)
		if (pthread_create(&k->workers[i], NULL, worker, k) != 0)
			break;
	if (i < k->nworkers || pthread_create(&k->scheduler, NULL, scheduler, k) != 0) {
		pthread_mutex_lock(&k->mu);
		k->stopping = 1;
		pthread_cond_broadcast(&k->cv);
		pthread_mutex_unlock(&k->mu);
		while (i-- > 0)
			pthread_join(k->workers[i], NULL);
		keeper_free(k);
		return PROVAUTH_ENOMEM;
	}
	*out = k;
	return 0;
}

void pad_keeper_stop(pad_keeper *k)
{
	size_t i;

	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stopping = 1;
	pthread_cond_broadcast(&k->cv);
	pthread_cond_broadcast(&k->scan_cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->scheduler, NULL);
	/* Workers finish the task in hand (each bounded by the library's timeouts); the queue is dropped. */
	for (i = 0; i < k->nworkers; i++)
		pthread_join(k->workers[i], NULL);
	keeper_free(k);
}

int64_t pad_keeper_lag(pad_keeper *k)
{
	return k ? (int64_t)atomic_load(&k->lag) : 0;
}
