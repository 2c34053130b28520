/*
 * jobs: 1,000 Pixverse generation jobs through the account pool (sqlite
 * store in a temporary directory) against the in-process fake Pixverse with
 * short job durations. 8 worker threads take jobs from a counter (acquire
 * with a wait, generate, attach) and one poller asks each account about all
 * its jobs in one "jobs" call per tick and releases those that ended, as a
 * server's job processor and poller do.
 *
 * The fake cannot run more than its slots at once, each job for
 * queue + process ms, so its ceiling is accounts x slots / job duration;
 * the pool should keep the slots busy: jobs per second >= 0.9 of it.
 * Reports jobs/s, the ceiling, their ratio, the job latency p50/p99 (from
 * the acquire's return to the release: the job's time on a slot, whose
 * floor is the job duration), the wait for a slot p50/p99 and the fake's
 * 500044 count (the pool should never
 * submit beyond a slot). Exits 1 when a job did not end done.
 *
 * PA_BENCH_JOBS (1000), PA_BENCH_JOBS_ACCOUNTS (4), PA_BENCH_JOBS_SLOTS (2),
 * PA_BENCH_JOBS_QUEUE_MS (5), PA_BENCH_JOBS_PROCESS_MS (50),
 * PA_BENCH_JOBS_POLL_MS (2): the poller's tick; PA_BENCH_JOBS_STORE
 * (sqlite; memory to see the store's share). The sqlite file goes in
 * $TMPDIR (else /tmp).
 */
#include "config.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <provauth/provauth.h>
#include <provauth/pool.h>
#include "bench_util.h"
#include "../tests/fake/fake_pixverse.h"

#define WORKERS 8
#define MAX_ACCOUNTS 64

typedef struct job {
	char job_id[64];
	char *rsv_id;
	int acct;                   /* index in ids[] */
	uint64_t t0_ns;             /* the acquire starts */
	uint64_t held_ns;           /* the acquire returned: the job holds a slot */
	double wait_ms;             /* waiting for a slot */
	double ms;                  /* holding it: submit to release */
	int done;                   /* 1 done, -1 anything else */
} job;

static provauth_manager *mgr;
static char *ids[MAX_ACCOUNTS];
static long n_accounts, n_jobs;
static job *jobs;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int *in_flight;          /* submitted, not yet ended: job indexes */
static size_t n_in_flight;
static _Atomic long next_job;
static _Atomic long ended;
static _Atomic long failures;

static int account_index(const char *id)
{
	long i;

	for (i = 0; i < n_accounts; i++)
		if (strcmp(ids[i], id) == 0)
			return (int)i;
	return -1;
}

static void job_ends(job *j, int ok)
{
	j->ms = (double)(bench_now_ns() - (j->held_ns ? j->held_ns : j->t0_ns)) / 1e6;
	j->done = ok ? 1 : -1;
	if (!ok)
		atomic_fetch_add(&failures, 1);
	atomic_fetch_add(&ended, 1);
}

static void *worker(void *arg)
{
	static const provauth_arg prompt = { "prompt", "a bench at the seaside" };
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	provauth_pool_reservation *r;
	json_object *res, *v;
	char *out;
	long i;
	job *j;
	int rc;

	(void)arg;
	req.provider = "pixverse";
	req.operation = "generate";
	req.args = &prompt;
	req.nargs = 1;
	req.wait_ms = 30000;
	while ((i = atomic_fetch_add(&next_job, 1)) < n_jobs) {
		j = &jobs[i];
		j->t0_ns = bench_now_ns();
		r = NULL;
		out = NULL;
		if (provauth_pool_acquire(&r, mgr, &req) < 0) {
			fprintf(stderr, "bench: acquire: %s\n", provauth_last_error());
			job_ends(j, 0);
			continue;
		}
		j->held_ns = bench_now_ns();
		j->wait_ms = (double)(j->held_ns - j->t0_ns) / 1e6;
		if ((rc = provauth_call(&out, mgr, r->account_id, "generate", &prompt, 1)) < 0) {
			fprintf(stderr, "bench: generate: %s\n", provauth_last_error());
			provauth_pool_release(mgr, r->id, provauth_pool_outcome_for(rc));
			provauth_pool_reservation_free(r);
			job_ends(j, 0);
			continue;
		}
		res = json_tokener_parse(out);
		provauth_free(out);
		if (!res || !json_object_object_get_ex(res, "job_id", &v) ||
		    provauth_pool_attach_job(mgr, r->id, json_object_get_string(v)) < 0)
			bench_die("attach");
		snprintf(j->job_id, sizeof(j->job_id), "%s", json_object_get_string(v));
		json_object_put(res);
		j->acct = account_index(r->account_id);
		j->rsv_id = r->id;
		r->id = NULL;
		provauth_pool_reservation_free(r);
		pthread_mutex_lock(&mu);
		in_flight[n_in_flight++] = (int)i;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* One "jobs" call per account with all its jobs in flight; the ended ones are released. */
static void poll_once(provauth_arg *args, int *idx)
{
	json_object *res, *list, *e, *v;
	size_t n, k, w;
	char *out;
	long a;
	int outcome;

	for (a = 0; a < n_accounts; a++) {
		pthread_mutex_lock(&mu);
		for (n = 0, k = 0; k < n_in_flight; k++)
			if (jobs[in_flight[k]].acct == a) {
				idx[n] = in_flight[k];
				args[n].key = "id";
				args[n].value = jobs[in_flight[k]].job_id;
				n++;
			}
		pthread_mutex_unlock(&mu);
		if (n == 0)
			continue;
		out = NULL;
		if (provauth_call(&out, mgr, ids[a], "jobs", args, n) < 0) {
			fprintf(stderr, "bench: jobs: %s\n", provauth_last_error());
			continue;
		}
		res = json_tokener_parse(out);
		provauth_free(out);
		if (!res || !json_object_object_get_ex(res, "jobs", &list) || json_object_array_length(list) != n)
			bench_die("jobs reply");
		for (k = 0; k < n; k++) {
			e = json_object_array_get_idx(list, k);
			if (!json_object_object_get_ex(e, "state", &v) ||
			    (outcome = provauth_pool_outcome_for_job(json_object_get_string(v))) < 0)
				continue;
			if (provauth_pool_release(mgr, jobs[idx[k]].rsv_id, (provauth_pool_outcome)outcome) < 0)
				bench_die("release");
			pthread_mutex_lock(&mu);
			for (w = 0; w < n_in_flight; w++)
				if (in_flight[w] == idx[k]) {
					in_flight[w] = in_flight[--n_in_flight];
					break;
				}
			pthread_mutex_unlock(&mu);
			job_ends(&jobs[idx[k]], outcome == PROVAUTH_POOL_DONE);
		}
		json_object_put(res);
	}
}

static void *poller(void *arg)
{
	long tick_us = *(const long *)arg * 1000;
	provauth_arg *args = calloc((size_t)n_jobs, sizeof(*args));
	int *idx = calloc((size_t)n_jobs, sizeof(*idx));

	if (!args || !idx)
		bench_die("memory");
	uint64_t start;
	long spent_us;

	while (atomic_load(&ended) < n_jobs) {
		/* A tick every poll_ms, from start to start: a slow round is not followed by a full sleep. */
		start = bench_now_ns();
		poll_once(args, idx);
		spent_us = (long)((bench_now_ns() - start) / 1000);
		if (spent_us < tick_us)
			usleep((useconds_t)(tick_us - spent_us));
	}
	free(args);
	free(idx);
	return NULL;
}

static const char *store_kind = "sqlite";

static provauth_manager *manager(fake_pixverse *srv, const char *dir)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[2048], store[1024];


	if (strcmp(store_kind, "memory") == 0)
		snprintf(store, sizeof(store), "store:\n  backend: memory\n");
	else
		snprintf(store, sizeof(store),
		         "store:\n  backend: sqlite\n  path: %s/accounts.db\n  key_file: %s/accounts.key\n"
		         "  busy_timeout_ms: 10000\n",
		         dir, dir);
	snprintf(yaml, sizeof(yaml), "%sproviders:\n  pixverse:\n    base_url: %s\n    openapi_base_url: %s\n", store,
	         fake_pixverse_url(srv), fake_pixverse_url(srv));
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "bench-jobs.yaml") < 0)
		bench_die("settings");
	opts.log = bench_log_quiet;
	if (provauth_manager_new(&m, s, &opts) < 0)
		bench_die("manager");
	provauth_settings_free(s);
	return m;
}

/* A fake account with `slots` slots, imported by its browser cookies, synced into the pool. */
static char *add_account(fake_pixverse *srv, long n, long slots)
{
	fake_pixverse_account a;
	char email[64], input[4096], *tok, *id = NULL;

	snprintf(email, sizeof(email), "jobs%ld@example.com", n);
	memset(&a, 0, sizeof(a));
	a.email = email;
	a.password = "bench-jobs-pw";
	a.credit_monthly = 100000000;
	a.plan_type = 1;
	a.gen_simultaneously = (int)slots;
	if (fake_pixverse_add_account(srv, &a) < 0 || !(tok = fake_pixverse_login_token(srv, email)))
		bench_die("fake account");
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s", tok);
	free(tok);
	if (provauth_account_import(&id, mgr, "pixverse", "cookies", input) < 0 || provauth_pool_sync(mgr, id) < 0)
		bench_die("account");
	return id;
}

int main(void)
{
	long slots, queue_ms, process_ms, poll_ms, i;
	char dir[512], err[256], path[600];
	pthread_t th[WORKERS], poll_th;
	fake_pixverse_options o;
	fake_pv_job_stats st;
	fake_pixverse *srv;
	double *ms, *wait, secs, per_s, ceiling, lat[4];
	uint64_t t0;

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "bench: PROVAUTH_PLUGIN_PATH must name the built plugins (./dev bench sets it)\n");
		return 2;
	}
	n_jobs = bench_env_long("PA_BENCH_JOBS", 1000);
	n_accounts = bench_env_long("PA_BENCH_JOBS_ACCOUNTS", 4);
	slots = bench_env_long("PA_BENCH_JOBS_SLOTS", 2);
	queue_ms = bench_env_long("PA_BENCH_JOBS_QUEUE_MS", 5);
	process_ms = bench_env_long("PA_BENCH_JOBS_PROCESS_MS", 50);
	poll_ms = bench_env_long("PA_BENCH_JOBS_POLL_MS", 2);
	if (getenv("PA_BENCH_JOBS_STORE"))
		store_kind = strcmp(getenv("PA_BENCH_JOBS_STORE"), "memory") == 0 ? "memory" : "sqlite";
	if (n_jobs < 1 || n_accounts < 1 || n_accounts > MAX_ACCOUNTS || slots < 1 || queue_ms < 1 ||
	    process_ms < 1 || poll_ms < 1) {
		fprintf(stderr, "bench: bad PA_BENCH_JOBS* setting\n");
		return 2;
	}
	/* TMPDIR=/dev/shm takes fsync out of the store's share. */
	snprintf(dir, sizeof(dir), "%s/provauth-bench-jobs-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		bench_die("mkdtemp");
	memset(&o, 0, sizeof(o));
	o.login_limit = FAKE_PV_UNLIMITED;
	o.login_limit_global = FAKE_PV_UNLIMITED;
	o.job_queue_ms = queue_ms;
	o.job_process_ms = process_ms;
	o.early_cdn_ms = 1;
	if (!(srv = fake_pixverse_start(&o, err, sizeof(err)))) {
		fprintf(stderr, "bench: fake pixverse: %s\n", err);
		return 1;
	}
	mgr = manager(srv, dir);
	for (i = 0; i < n_accounts; i++)
		ids[i] = add_account(srv, i, slots);
	if (!(jobs = calloc((size_t)n_jobs, sizeof(*jobs))) || !(in_flight = calloc((size_t)n_jobs, sizeof(int))) ||
	    !(ms = calloc((size_t)n_jobs, sizeof(double))) || !(wait = calloc((size_t)n_jobs, sizeof(double))))
		bench_die("memory");
	fake_pixverse_reset_counters(srv);

	t0 = bench_now_ns();
	for (i = 0; i < WORKERS; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0)
			bench_die("pthread_create");
	if (pthread_create(&poll_th, NULL, poller, &poll_ms) != 0)
		bench_die("pthread_create");
	for (i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	pthread_join(poll_th, NULL);
	secs = (double)(bench_now_ns() - t0) / 1e9;

	if (fake_pixverse_job_stats(srv, NULL, &st) < 0)
		bench_die("job stats");
	for (i = 0; i < n_jobs; i++) {
		ms[i] = jobs[i].ms;
		wait[i] = jobs[i].wait_ms;
	}
	lat[0] = bench_quantile(ms, (size_t)n_jobs, 0.50);
	lat[1] = bench_quantile(ms, (size_t)n_jobs, 0.99);
	lat[2] = bench_quantile(wait, (size_t)n_jobs, 0.50);
	lat[3] = bench_quantile(wait, (size_t)n_jobs, 0.99);
	per_s = (double)n_jobs / secs;
	ceiling = (double)(n_accounts * slots) * 1000.0 / (double)(queue_ms + process_ms);
	printf("jobs jobs=%ld threads=%d accounts=%ld slots=%ld job_ms=%ld poll_ms=%ld jobs_per_s=%.1f "
	       "ceiling_per_s=%.1f ratio=%.3f p50_ms=%.1f p99_ms=%.1f wait_p50_ms=%.1f wait_p99_ms=%.1f failed=%ld "
	       "concurrency_refused_500044=%lu max_in_flight=%lu store=%s target_ratio=0.9\n",
	       n_jobs, WORKERS, n_accounts, slots, queue_ms + process_ms, poll_ms, per_s, ceiling, per_s / ceiling,
	       lat[0], lat[1], lat[2], lat[3],
	       atomic_load(&failures), st.concurrency_refused, st.max_in_flight, store_kind);

	for (i = 0; i < n_jobs; i++)
		provauth_free(jobs[i].rsv_id);
	for (i = 0; i < n_accounts; i++)
		provauth_free(ids[i]);
	provauth_manager_free(mgr);
	fake_pixverse_stop(srv);
	free(jobs);
	free(in_flight);
	free(ms);
	free(wait);
	snprintf(path, sizeof(path), "%s/accounts.db", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/accounts.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/accounts.db-shm", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/accounts.key", dir);
	unlink(path);
	rmdir(dir);
	return atomic_load(&failures) == 0 && st.done == (unsigned long)n_jobs ? 0 : 1;
}
