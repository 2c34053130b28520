/*
 * hotpath: the cost provauth_run_with_session adds around an operation when
 * the account's session is cached and valid, which is what a server pays on
 * every request. The provider is in-process and does nothing, the store is
 * in memory, so only the manager's own work is measured. Baselines from the
 * same run: calling the no-op operation directly, and one uncontended
 * pthread mutex lock/unlock pair.
 *
 * With a PostgreSQL server (PA_PG_URL, which ./dev bench sets), the same
 * single-thread calls also run on a second manager whose store is postgres:
 * a cached, valid session must not touch the database, so the target is
 * within 1.1x of the memory store. The single-thread calls run from
 * functions of their own per store (calls_on_memory_store,
 * calls_on_postgres_store), so that callgrind counts their instructions
 * apart: 2 x ROUNDS x PA_BENCH_HOTPATH_ITERS calls each.
 */
#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <provauth/provauth.h>
#include <provauth/plugin.h>
#include <provauth/store.h>
#include "bench_pg.h"
#include "bench_util.h"

#define ROUNDS 5

static int p_refresh(void *state, const provauth_account *a, provauth_update *u)
{
	(void)state; (void)a; (void)u;
	return PROVAUTH_EUNSUPPORTED;
}

/* An OAuth-style provider: the hot path also checks the token's expiry. */
static const provauth_provider oauth_provider = {
	PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MINOR, sizeof(provauth_provider),
	"benchoauth", "no-op OAuth-style provider for the hot-path benchmark", "1",
	NULL, bench_noop_init, bench_noop_fini, bench_noop_build, NULL, bench_noop_classify, p_refresh, NULL,
	{ NULL, NULL, NULL, NULL }, NULL, 0, NULL, NULL, 0, NULL
};

static int noop(const provauth_session *s, provauth_failure *f, void *payload)
{
	(void)f;
	/* Touch the session so the call cannot be reduced to nothing. */
	*(size_t *)payload += s->account_id[0] != 0;
	return 0;
}

/* Through a volatile pointer, as the manager calls it: no inlining. */
static int (*volatile noop_ptr)(const provauth_session *, provauth_failure *, void *) = noop;

static provauth_manager *mgr, *mgr_postgres;
static volatile size_t sink_out;
static long iters;

typedef struct worker {
	provauth_manager *m;
	const char *id;
	pthread_barrier_t *start;
	uint64_t elapsed_ns;
	size_t sink;
	int failures;
} worker;

static __attribute__((noinline)) void call_loop(worker *w)
{
	uint64_t t0;
	long i;

	if (w->start)
		pthread_barrier_wait(w->start);
	t0 = bench_now_ns();
	for (i = 0; i < iters; i++)
		if (provauth_run_with_session(w->m, w->id, "noop", noop, &w->sink) != 0)
			w->failures++;
	w->elapsed_ns = bench_now_ns() - t0;
}

/*
 * Thread bodies, so that callgrind_annotate shows apart, inclusive, the
 * single-thread calls on each store (the same runs on both: one no-op, one
 * OAuth account) and the memory store's two-thread runs.
 */
static __attribute__((noinline)) void *calls_on_memory_store(void *arg)
{
	call_loop(arg);
	return NULL;
}

static __attribute__((noinline)) void *calls_on_memory_store_two_threads(void *arg)
{
	call_loop(arg);
	return NULL;
}

static __attribute__((noinline)) void *calls_on_postgres_store(void *arg)
{
	call_loop(arg);
	return NULL;
}

/* ns per call and per thread, `n` threads at once on ids[0..n-1] of manager m. */
static double measure_threads(provauth_manager *m, const char *const *ids, int n)
{
	void *(*body)(void *) = m == mgr_postgres ? calls_on_postgres_store
	                        : n == 2        ? calls_on_memory_store_two_threads
	                                        : calls_on_memory_store;
	pthread_barrier_t start;
	pthread_t th[2];
	worker w[2];
	uint64_t slowest = 0;
	int i;

	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (i = 0; i < n; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].m = m;
		w[i].id = ids[i];
		w[i].start = &start;
		if (pthread_create(&th[i], NULL, body, &w[i]) != 0) {
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(1);
		}
	}
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (w[i].failures) {
			fprintf(stderr, "bench: %d calls failed\n", w[i].failures);
			exit(1);
		}
		if (w[i].elapsed_ns > slowest)
			slowest = w[i].elapsed_ns;
	}
	pthread_barrier_destroy(&start);
	return (double)slowest / (double)iters;
}

static double measure_direct(void)
{
	provauth_session s;
	provauth_failure f;
	size_t sink = 0;
	uint64_t t0;
	long i;

	memset(&s, 0, sizeof(s));
	memset(&f, 0, sizeof(f));
	s.account_id = "a";
	t0 = bench_now_ns();
	for (i = 0; i < iters; i++)
		noop_ptr(&s, &f, &sink);
	sink_out = sink;
	return (double)(bench_now_ns() - t0) / (double)iters;
}

static double measure_mutex(void)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	uint64_t t0;
	long i;

	t0 = bench_now_ns();
	for (i = 0; i < iters; i++) {
		pthread_mutex_lock(&mu);
		__asm__ volatile("" ::: "memory");
		pthread_mutex_unlock(&mu);
	}
	return (double)(bench_now_ns() - t0) / (double)iters;
}

static void add_account(provauth_store *st, const char *id, const char *provider)
{
	provauth_account *a = NULL;

	/* The access token is valid for a day: the expiry check passes without a refresh. */
	if (provauth_account_new(&a, id, provider) < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "jwt", 0) < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at", (int64_t)time(NULL) + 86400) < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, "rt", 0) < 0)
		bench_die("creating an account");
	if (st->put(st, a) < 0)
		bench_die("storing an account");
	provauth_account_free(a);
}

/* A manager on store st with the two no-op providers and the three accounts, each session built and cached. */
static provauth_manager *cached_manager(provauth_store *st)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	size_t sink = 0;

	if (provauth_settings_default(&s) < 0)
		bench_die("settings");
	opts.store = st;
	opts.log = bench_log_quiet;
	opts.skip_plugins = 1;
	if (provauth_manager_new(&m, s, &opts) < 0 || provauth_manager_add_provider(m, &bench_noop_provider) < 0 ||
	    provauth_manager_add_provider(m, &oauth_provider) < 0)
		bench_die("manager");
	provauth_settings_free(s);
	add_account(st, "acct-a", "benchnoop");
	add_account(st, "acct-b", "benchnoop");
	add_account(st, "acct-o", "benchoauth");
	/* The first call builds and caches each session; only cached calls are measured. */
	if (provauth_run_with_session(m, "acct-a", "noop", noop, &sink) != 0 ||
	    provauth_run_with_session(m, "acct-b", "noop", noop, &sink) != 0 ||
	    provauth_run_with_session(m, "acct-o", "noop", noop, &sink) != 0)
		bench_die("first call");
	return m;
}

int main(void)
{
	provauth_store *st = NULL, *st_postgres = NULL;
	static const char *const same[2] = { "acct-a", "acct-a" }, *const diff[2] = { "acct-a", "acct-b" };
	static const char *const oauth[1] = { "acct-o" };
	double t1[ROUNDS], t2s[ROUNDS], t2d[ROUNDS], to[ROUNDS], direct[ROUNDS], mutex[ROUNDS];
	double p1[ROUNDS], po[ROUNDS];
	double t1m, t2sm, t2dm, tom, dm, mm, p1m = 0, pom = 0;
	const char *pg_url;
	char pg_figures[256] = "";
	int r;

	iters = bench_env_long("PA_BENCH_HOTPATH_ITERS", 1000000);
	if (provauth_store_memory_new(&st) < 0)
		bench_die("setup");
	mgr = cached_manager(st);
	if ((pg_url = bench_pg_server("hotpath"))) {
		char *conninfo = bench_pg_fresh_database(pg_url, "provauth_bench_hotpath");

		st_postgres = bench_pg_store_open(conninfo, 0);
		mgr_postgres = cached_manager(st_postgres);
		free(conninfo);
	}

	for (r = 0; r < ROUNDS; r++) {
		direct[r] = measure_direct();
		mutex[r] = measure_mutex();
		t1[r] = measure_threads(mgr, same, 1);
		t2s[r] = measure_threads(mgr, same, 2);
		t2d[r] = measure_threads(mgr, diff, 2);
		to[r] = measure_threads(mgr, oauth, 1);
		/* Interleaved with the memory store's runs, so a change in load touches both. */
		if (mgr_postgres) {
			p1[r] = measure_threads(mgr_postgres, same, 1);
			po[r] = measure_threads(mgr_postgres, oauth, 1);
		}
	}
	fprintf(stderr, "hotpath: %d rounds of %ld calls; best single-thread %.1f ns\n", ROUNDS, iters,
	        bench_min(t1, ROUNDS));
	t1m = bench_median(t1, ROUNDS);
	t2sm = bench_median(t2s, ROUNDS);
	t2dm = bench_median(t2d, ROUNDS);
	tom = bench_median(to, ROUNDS);
	dm = bench_median(direct, ROUNDS);
	mm = bench_median(mutex, ROUNDS);
	if (mgr_postgres) {
		p1m = bench_median(p1, ROUNDS);
		pom = bench_median(po, ROUNDS);
		snprintf(pg_figures, sizeof(pg_figures),
		         "ns_1thread_postgres=%.1f ns_1thread_oauth_postgres=%.1f x_postgres_vs_memory=%.3f "
		         "x_postgres_vs_memory_oauth=%.3f target_x_postgres=1.1 ",
		         p1m, pom, p1m / t1m, pom / tom);
	}
	printf("hotpath ns_1thread=%.1f ns_2threads_same_account=%.1f ns_2threads_two_accounts=%.1f "
	       "ns_1thread_oauth=%.1f direct_ns=%.2f mutex_pair_ns=%.2f overhead_ns=%.1f x_mutex_pair=%.1f target_ns=1000 "
	       "%s(median of %d rounds x %ld calls)\n",
	       t1m, t2sm, t2dm, tom, dm, mm, t1m - dm, (t1m - dm) / mm, pg_figures, ROUNDS, iters);
	provauth_manager_free(mgr);
	provauth_manager_free(mgr_postgres);
	provauth_store_free(st);
	provauth_store_free(st_postgres);
	return t1m < 1000 ? 0 : 1;
}
