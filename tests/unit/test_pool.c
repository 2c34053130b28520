/*
 * The account pool through the manager (core/pool) on the memory store,
 * against the scripted provider's pool hooks: choosing, outcomes, waiting,
 * syncing through a dead session, reconciling, and threads never taking
 * more slots than an account has.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <provauth/pool.h>
#include <provauth/store.h>
#include "scripted_provider.h"
#include "../support/pa_test.h"

static scripted_server *srv;
static provauth_store *store;
static provauth_manager *mgr;
static _Atomic int64_t fake_now = 1800000000;

static int64_t test_clock(void *payload)
{
	(void)payload;
	return atomic_load(&fake_now);
}

static void put_account(const char *id, const char *health)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_account_new(&a, id, "scripted") == 0);
	a->email = strdup("pool@example.com");
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, srv->valid_token, 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "pw-SECRET", 0);
	a->state.auth_method = PROVAUTH_AUTH_PASSWORD;
	if (health)
		a->state.health.state = strdup(health);
	CU_ASSERT_FATAL(store->put(store, a) == 0);
	provauth_account_free(a);
}

static int setup(void)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	static const char yaml[] = "session:\n  recovery_wait_ms: 5000\n"
	                           "providers:\n  scripted:\n    auto_reauth_enabled: true\n";

	if (!(srv = scripted_server_new()))
		return 1;
	scripted_use_server(srv);
	if (provauth_store_memory_new(&store) < 0 || provauth_settings_parse(&s, yaml, strlen(yaml), "t.yaml") < 0)
		return 1;
	opts.store = store;
	opts.clock = test_clock;
	opts.log = pa_test_log_capture;
	opts.skip_plugins = 1;
	if (provauth_manager_new(&mgr, s, &opts) < 0 || provauth_manager_add_provider(mgr, &scripted_provider) < 0)
		return 1;
	provauth_settings_free(s);
	return 0;
}

static int teardown(void)
{
	provauth_manager_free(mgr);
	provauth_store_free(store);
	scripted_server_free(srv);
	mgr = NULL;
	store = NULL;
	return 0;
}

/* Each test starts from an empty store with three accounts. */
static void fresh(void)
{
	teardown();
	CU_ASSERT_FATAL(setup() == 0);
	put_account("a1", NULL);
	put_account("a2", NULL);
	put_account("a3", NULL);
}

static void set_credits(const char *id, int64_t web)
{
	provauth_pool_credit c = { (char *)"web", web };
	provauth_pool_update u;

	memset(&u, 0, sizeof(u));
	u.version = PROVAUTH_POOL_UPDATE_VERSION;
	u.account_id = id;
	u.now = atomic_load(&fake_now);
	u.set_credits = 1;
	u.credits = &c;
	u.credit_count = 1;
	CU_ASSERT_FATAL(store->pool_update(store, &u) == 0);
}

static int acquire(provauth_pool_reservation **r, const char *cost, const char *pinned)
{
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	provauth_arg args[] = { { "cost", cost } };

	req.provider = "scripted";
	req.operation = "job";
	req.args = args;
	req.nargs = 1;
	req.account_id = pinned;
	return provauth_pool_acquire(r, mgr, &req);
}

/* The pool's view of one account (freed by the caller). */
static provauth_pool_account *view(const char *id)
{
	provauth_pool_account **list = NULL, *mine = NULL;
	size_t i, n = 0;

	CU_ASSERT_FATAL(provauth_pool_list(&list, &n, NULL, NULL, mgr, "scripted") == 0);
	for (i = 0; i < n; i++) {
		if (strcmp(list[i]->account_id, id) == 0) {
			mine = list[i];
			list[i] = list[--n];
		}
	}
	provauth_pool_account_list_free(list, n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mine);
	return mine;
}

static int64_t web_credits(const provauth_pool_account *a)
{
	size_t i;

	for (i = 0; i < a->credit_count; i++)
		if (strcmp(a->credits[i].kind, "web") == 0)
			return a->credits[i].amount;
	return -1;
}

static void free_view(provauth_pool_account *a)
{
	provauth_pool_account_free(a);
}

static void test_ranking(void)
{
	provauth_pool_reservation *r = NULL;
	provauth_pool_settings ps = PROVAUTH_POOL_SETTINGS_INIT;

	fresh();
	/* Never used and no credits known: by id. */
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "0", NULL), 0);
	CU_ASSERT_STRING_EQUAL(r->account_id, "a1");
	provauth_pool_release(mgr, r->id, PROVAUTH_POOL_DONE);
	provauth_pool_reservation_free(r);
	/* a1 was used last: the others first, a2 by id. */
	atomic_fetch_add(&fake_now, 1);
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "0", NULL), 0);
	CU_ASSERT_STRING_EQUAL(r->account_id, "a2");
	provauth_pool_release(mgr, r->id, PROVAUTH_POOL_DONE);
	provauth_pool_reservation_free(r);
	/* Fewest credits first (drain low accounts), whatever the use. */
	set_credits("a1", 500);
	set_credits("a2", 90);
	set_credits("a3", 300);
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "50", NULL), 0);
	CU_ASSERT_STRING_EQUAL(r->account_id, "a2");
	provauth_pool_release(mgr, r->id, PROVAUTH_POOL_UNUSED);
	provauth_pool_reservation_free(r);
	/* Too few credits for the cost: skipped. */
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "100", NULL), 0);
	CU_ASSERT_STRING_EQUAL(r->account_id, "a3");
	provauth_pool_release(mgr, r->id, PROVAUTH_POOL_UNUSED);
	provauth_pool_reservation_free(r);
	/* Priority beats credits. */
	ps.set_priority = 1;
	ps.priority = 5;
	CU_ASSERT_EQUAL(provauth_pool_configure(mgr, "a1", &ps), 0);
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "50", NULL), 0);
	CU_ASSERT_STRING_EQUAL(r->account_id, "a1");
	provauth_pool_release(mgr, r->id, PROVAUTH_POOL_UNUSED);
	provauth_pool_reservation_free(r);
}

static void test_bad_parameter_reserves_nothing(void)
{
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	provauth_arg args[] = { { "bad", "1" } };
	provauth_pool_reservation *r = NULL;
	provauth_pool_account *a;

	fresh();
	req.provider = "scripted";
	req.operation = "job";
	req.args = args;
	req.nargs = 1;
	CU_ASSERT_EQUAL(provauth_pool_acquire(&r, mgr, &req), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "bad"));
	req.operation = "nosuchjob";
	CU_ASSERT_EQUAL(provauth_pool_acquire(&r, mgr, &req), PROVAUTH_ENOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "nosuchjob"));
	req.provider = "nosuchprovider";
	CU_ASSERT_EQUAL(provauth_pool_acquire(&r, mgr, &req), PROVAUTH_ENOTFOUND);
	a = view("a1");
	CU_ASSERT_EQUAL(a->in_use, 0);
	free_view(a);
}

static void test_slots_and_explanation(void)
{
	provauth_pool_reservation *r[7] = { NULL };
	provauth_pool_account *a;
	int i;

	fresh();
	/* Two slots each (the provider's default): six jobs, then none. */
	for (i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(acquire(&r[i], "0", NULL), 0);
	CU_ASSERT_EQUAL(acquire(&r[6], "0", NULL), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "3 with every slot busy"));
	a = view("a2");
	CU_ASSERT_EQUAL(a->in_use, 2);
	CU_ASSERT_EQUAL(a->max_slots, 2);
	free_view(a);
	/* A pinned account: slots count, ENOTFOUND for a stranger. */
	CU_ASSERT_EQUAL(acquire(&r[6], "0", "a1"), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "a1"));
	CU_ASSERT_EQUAL(acquire(&r[6], "0", "zz"), PROVAUTH_ENOTFOUND);
	for (i = 0; i < 6; i++) {
		CU_ASSERT_EQUAL(provauth_pool_release(mgr, r[i]->id, PROVAUTH_POOL_DONE), 0);
		/* A second release changes nothing. */
		CU_ASSERT_EQUAL(provauth_pool_release(mgr, r[i]->id, PROVAUTH_POOL_DONE), PROVAUTH_ENOTFOUND);
		provauth_pool_reservation_free(r[i]);
	}
	a = view("a2");
	CU_ASSERT_EQUAL(a->in_use, 0);
	free_view(a);
}

static void test_unhealthy_and_pinned_credits(void)
{
	provauth_pool_reservation *r = NULL;

	fresh();
	put_account("a0", "invalid");
	set_credits("a1", 5);
	set_credits("a2", 5);
	set_credits("a3", 5);
	/* Nobody has 10 credits; a0 (no credits known) needs a new login. */
	CU_ASSERT_EQUAL(acquire(&r, "10", NULL), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "3 without enough credits"));
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "1 whose session needs a new login"));
	/* Pinned: credits are not checked (the notes' rule for the user's own choice). */
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "10", "a2"), 0);
	CU_ASSERT_STRING_EQUAL(r->account_id, "a2");
	provauth_pool_release(mgr, r->id, PROVAUTH_POOL_UNUSED);
	provauth_pool_reservation_free(r);
	CU_ASSERT_EQUAL(acquire(&r, "0", "a0"), PROVAUTH_ENOACCOUNT);
}

static void test_credits_charged_and_refunded(void)
{
	provauth_pool_reservation *r = NULL;
	provauth_pool_account *a;

	fresh();
	set_credits("a1", 100);
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "40", "a1"), 0);
	a = view("a1");
	CU_ASSERT_EQUAL(web_credits(a), 60);
	free_view(a);
	CU_ASSERT_EQUAL(provauth_pool_release(mgr, r->id, PROVAUTH_POOL_MODERATED), 0);
	provauth_pool_reservation_free(r);
	a = view("a1");
	CU_ASSERT_EQUAL(web_credits(a), 100);
	free_view(a);
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "40", "a1"), 0);
	CU_ASSERT_EQUAL(provauth_pool_release(mgr, r->id, PROVAUTH_POOL_DONE), 0);
	provauth_pool_reservation_free(r);
	a = view("a1");
	CU_ASSERT_EQUAL(web_credits(a), 60);
	free_view(a);
}

static void test_outcomes(void)
{
	provauth_pool_reservation *r = NULL, *r2 = NULL;
	provauth_pool_account *a;

	fresh();
	/* Concurrency: refused with two in use: a cooldown and a cap of 1. */
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "0", "a1"), 0);
	CU_ASSERT_EQUAL_FATAL(acquire(&r2, "0", "a1"), 0);
	CU_ASSERT_EQUAL(provauth_pool_release(mgr, r2->id, PROVAUTH_POOL_CONCURRENCY), 0);
	provauth_pool_reservation_free(r2);
	a = view("a1");
	CU_ASSERT_EQUAL(a->effective_cap, 1);
	CU_ASSERT_EQUAL(a->cooldown_until, atomic_load(&fake_now) + 6);
	CU_ASSERT_STRING_EQUAL(a->cooldown_reason, "concurrency");
	free_view(a);
	CU_ASSERT_EQUAL(acquire(&r2, "0", "a1"), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "cooling down"));
	/* After the cooldown the learnt cap holds: one job at once. */
	atomic_fetch_add(&fake_now, 7);
	CU_ASSERT_EQUAL(acquire(&r2, "0", "a1"), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "every slot busy"));
	/* The probe, 150 s later, allows the second slot again. */
	atomic_fetch_add(&fake_now, 150);
	CU_ASSERT_EQUAL_FATAL(acquire(&r2, "0", "a1"), 0);
	a = view("a1");
	CU_ASSERT_EQUAL(a->effective_cap, 0);
	free_view(a);
	provauth_pool_release(mgr, r2->id, PROVAUTH_POOL_DONE);
	provauth_pool_reservation_free(r2);
	/* Session lost: five minutes away. */
	CU_ASSERT_EQUAL(provauth_pool_release(mgr, r->id, PROVAUTH_POOL_SESSION_LOST), 0);
	provauth_pool_reservation_free(r);
	a = view("a1");
	CU_ASSERT_EQUAL(a->cooldown_until, atomic_load(&fake_now) + 300);
	CU_ASSERT_STRING_EQUAL(a->cooldown_reason, "session_lost");
	free_view(a);
	/* No credits: exhausted until a sync finds some. */
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "0", "a2"), 0);
	CU_ASSERT_EQUAL(provauth_pool_release(mgr, r->id, PROVAUTH_POOL_NO_CREDITS), 0);
	provauth_pool_reservation_free(r);
	a = view("a2");
	CU_ASSERT_STRING_EQUAL(a->status, "exhausted");
	free_view(a);
	CU_ASSERT_EQUAL(acquire(&r, "0", "a2"), PROVAUTH_ENOACCOUNT);
	srv->pool_credits = 0;
	CU_ASSERT_EQUAL(provauth_pool_sync(mgr, "a2"), 0);
	a = view("a2");
	CU_ASSERT_STRING_EQUAL(a->status, "active"); /* "gold" 7: any kind with credits lifts it */
	free_view(a);
	/* Banned: never again, and a sync that says blocked bans too. */
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "0", "a3"), 0);
	CU_ASSERT_EQUAL(provauth_pool_release(mgr, r->id, PROVAUTH_POOL_BANNED), 0);
	provauth_pool_reservation_free(r);
	a = view("a3");
	CU_ASSERT_STRING_EQUAL(a->status, "banned");
	free_view(a);
	srv->pool_blocked = 1;
	CU_ASSERT_EQUAL(provauth_pool_sync(mgr, "a2"), 0);
	srv->pool_blocked = 0;
	a = view("a2");
	CU_ASSERT_STRING_EQUAL(a->status, "banned");
	free_view(a);
}

static void test_outcome_for(void)
{
	CU_ASSERT_EQUAL(provauth_pool_outcome_for(0), PROVAUTH_POOL_DONE);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for(PROVAUTH_ECONCURRENCY), PROVAUTH_POOL_CONCURRENCY);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for(PROVAUTH_ECREDITS), PROVAUTH_POOL_NO_CREDITS);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for(PROVAUTH_ESESSION), PROVAUTH_POOL_SESSION_LOST);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for(PROVAUTH_EMODERATED), PROVAUTH_POOL_MODERATED);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for(PROVAUTH_EREJECTED), PROVAUTH_POOL_MODERATED);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for(PROVAUTH_EBANNED), PROVAUTH_POOL_BANNED);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for(PROVAUTH_EINVAL), PROVAUTH_POOL_UNUSED);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for(PROVAUTH_ENETWORK), PROVAUTH_POOL_DONE);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for_job("done"), PROVAUTH_POOL_DONE);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for_job("moderated"), PROVAUTH_POOL_MODERATED);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for_job("failed"), PROVAUTH_POOL_FAILED);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for_job("processing"), -1);
	CU_ASSERT_EQUAL(provauth_pool_outcome_for_job(NULL), -1);
	CU_ASSERT_STRING_EQUAL(provauth_pool_outcome_name(PROVAUTH_POOL_SESSION_LOST), "session_lost");
	CU_ASSERT_PTR_NULL(provauth_pool_outcome_name((provauth_pool_outcome)99));
}

static void test_sync_recovers_a_dead_session(void)
{
	provauth_pool_account *a;

	fresh();
	srv->pool_credits = 1234;
	srv->pool_max = 5;
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_pool_sync(mgr, "a1"), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	a = view("a1");
	CU_ASSERT_EQUAL(web_credits(a), 1234);
	CU_ASSERT_EQUAL(a->max_slots, 5);
	CU_ASSERT_EQUAL(a->credits_at, atomic_load(&fake_now));
	free_view(a);
	CU_ASSERT_EQUAL(provauth_pool_sync(mgr, "nosuch"), PROVAUTH_ENOTFOUND);
}

static void test_reconcile_releases_ended_jobs(void)
{
	provauth_pool_reservation *r[4] = { NULL };
	static const char *const jobs[] = { "done-1", "proc-2", "mod-3", "fail-4" };
	static const char *const on[] = { "a1", "a1", "a2", "a3" };
	provauth_pool_reconcile_report rep;
	provauth_pool_reservation **left = NULL;
	provauth_pool_account **list = NULL;
	size_t n = 0, nleft = 0;
	int i;

	fresh();
	for (i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL_FATAL(acquire(&r[i], "0", on[i]), 0);
		CU_ASSERT_EQUAL(provauth_pool_attach_job(mgr, r[i]->id, jobs[i]), 0);
	}
	CU_ASSERT_EQUAL(provauth_pool_reconcile(&rep, mgr, "scripted"), 0);
	CU_ASSERT_EQUAL(rep.released_finished, 3);
	CU_ASSERT_EQUAL(rep.reclaimed_dead, 0);
	/* One question per account. */
	CU_ASSERT_EQUAL(atomic_load(&srv->pool_job_calls), 3);
	CU_ASSERT_EQUAL(provauth_pool_list(&list, &n, &left, &nleft, mgr, "scripted"), 0);
	CU_ASSERT_EQUAL_FATAL(nleft, 1);
	CU_ASSERT_STRING_EQUAL(left[0]->job_id, "proc-2");
	provauth_pool_account_list_free(list, n);
	provauth_pool_reservation_list_free(left, nleft);
	/* Released by job: the account and the provider's job id find it. */
	CU_ASSERT_EQUAL(provauth_pool_release_job(mgr, "a1", "proc-2", PROVAUTH_POOL_DONE), 0);
	CU_ASSERT_EQUAL(provauth_pool_release_job(mgr, "a1", "proc-2", PROVAUTH_POOL_DONE), PROVAUTH_ENOTFOUND);
	for (i = 0; i < 4; i++)
		provauth_pool_reservation_free(r[i]);
}

static void test_expired_reservation_reclaimed(void)
{
	provauth_pool_reconcile_report rep;
	provauth_pool_reservation *r = NULL;
	provauth_pool_account *a;

	fresh();
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "0", "a1"), 0);
	atomic_fetch_add(&fake_now, 7201);
	CU_ASSERT_EQUAL(provauth_pool_reconcile(&rep, mgr, NULL), 0);
	CU_ASSERT_EQUAL(rep.reclaimed_expired, 1);
	CU_ASSERT_EQUAL(rep.counters_fixed, 1);
	a = view("a1");
	CU_ASSERT_EQUAL(a->in_use, 0);
	free_view(a);
	CU_ASSERT_EQUAL(provauth_pool_release(mgr, r->id, PROVAUTH_POOL_DONE), PROVAUTH_ENOTFOUND);
	provauth_pool_reservation_free(r);
}

typedef struct waiter {
	provauth_pool_reservation *r;
	int rc;
	int64_t waited_ms;
} waiter;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *wait_for_slot(void *arg)
{
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	waiter *w = arg;
	int64_t t0 = now_ms();

	req.provider = "scripted";
	req.account_id = "a1";
	req.wait_ms = 5000;
	w->rc = provauth_pool_acquire(&w->r, mgr, &req);
	w->waited_ms = now_ms() - t0;
	return NULL;
}

static void test_waiter_woken_by_release(void)
{
	provauth_pool_reservation *r1 = NULL, *r2 = NULL;
	struct timespec pause = { 0, 300000000L };
	waiter w = { NULL, 1, 0 };
	pthread_t t;

	fresh();
	CU_ASSERT_EQUAL_FATAL(acquire(&r1, "0", "a1"), 0);
	CU_ASSERT_EQUAL_FATAL(acquire(&r2, "0", "a1"), 0);
	CU_ASSERT_FATAL(pthread_create(&t, NULL, wait_for_slot, &w) == 0);
	nanosleep(&pause, NULL);
	CU_ASSERT_EQUAL(provauth_pool_release(mgr, r1->id, PROVAUTH_POOL_DONE), 0);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(w.rc, 0);
	/* It waited for the release, not for its 5 s. */
	CU_ASSERT(w.waited_ms >= 250 && w.waited_ms < 2500);
	provauth_pool_release(mgr, r2->id, PROVAUTH_POOL_DONE);
	if (w.r)
		provauth_pool_release(mgr, w.r->id, PROVAUTH_POOL_DONE);
	provauth_pool_reservation_free(r1);
	provauth_pool_reservation_free(r2);
	provauth_pool_reservation_free(w.r);
}

#define STORM_THREADS 8
#define STORM_ROUNDS 60

static atomic_int held[3], worst, failures;

static void *storm(void *arg)
{
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	int i;

	(void)arg;
	req.provider = "scripted";
	req.wait_ms = 10000;
	for (i = 0; i < STORM_ROUNDS; i++) {
		provauth_pool_reservation *r = NULL;
		int k, now;
		if (provauth_pool_acquire(&r, mgr, &req) < 0) {
			atomic_fetch_add(&failures, 1);
			continue;
		}
		k = r->account_id[1] - '1';
		now = atomic_fetch_add(&held[k], 1) + 1;
		if (now > atomic_load(&worst))
			atomic_store(&worst, now);
		sched_yield();
		atomic_fetch_sub(&held[k], 1);
		if (provauth_pool_release(mgr, r->id, PROVAUTH_POOL_DONE) < 0)
			atomic_fetch_add(&failures, 1);
		provauth_pool_reservation_free(r);
	}
	return NULL;
}

static void test_threads_never_exceed_slots(void)
{
	pthread_t t[STORM_THREADS];
	provauth_pool_account **list = NULL;
	size_t n = 0, i;

	fresh();
	for (i = 0; i < STORM_THREADS; i++)
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, storm, NULL) == 0);
	for (i = 0; i < STORM_THREADS; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&failures), 0);
	CU_ASSERT(atomic_load(&worst) <= 2);
	CU_ASSERT(atomic_load(&worst) >= 1);
	CU_ASSERT_EQUAL(provauth_pool_list(&list, &n, NULL, NULL, mgr, "scripted"), 0);
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL(list[i]->in_use, 0);
	provauth_pool_account_list_free(list, n);
}

static void test_no_secret_in_pool_output(void)
{
	provauth_pool_reservation *r = NULL;

	fresh();
	pa_test_log_reset();
	CU_ASSERT_EQUAL_FATAL(acquire(&r, "0", NULL), 0);
	provauth_pool_release(mgr, r->id, PROVAUTH_POOL_DONE);
	provauth_pool_reservation_free(r);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_pool_sync(mgr, "a1"), 0);
	CU_ASSERT(pa_test_log_count("pool_acquired", NULL) == 1);
	CU_ASSERT(pa_test_log_count("pool_released", NULL) == 1);
	CU_ASSERT_PTR_NULL(strstr(pa_test_log_text(), "SECRET"));
	CU_ASSERT_PTR_NULL(strstr(provauth_last_error(), "SECRET"));
}

/* A provider without pool hooks (pixiv's kind) still takes part: the pool's own default slots, no costs. */
static void test_provider_without_hooks(void)
{
	static const char yaml[] = "pool:\n  default_slots: 1\n";
	provauth_provider p = scripted_provider;
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	provauth_pool_reservation *r1 = NULL, *r2 = NULL;
	provauth_arg args[] = { { "cost", "5" } };
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;

	fresh();
	CU_ASSERT_FATAL(provauth_settings_parse(&s, yaml, strlen(yaml), "t.yaml") == 0);
	opts.skip_plugins = 1;
	opts.log = pa_test_log_capture;
	opts.store = store;
	opts.clock = test_clock;
	CU_ASSERT_FATAL(provauth_manager_new(&m, s, &opts) == 0);
	provauth_settings_free(s);
	p.pool = NULL;
	CU_ASSERT_FATAL(provauth_manager_add_provider(m, &p) == 0);
	req.provider = "scripted";
	req.operation = "job";
	req.args = args;
	req.nargs = 1;
	CU_ASSERT_EQUAL_FATAL(provauth_pool_acquire(&r1, m, &req), 0);
	CU_ASSERT_EQUAL(r1->cost, 0);
	CU_ASSERT_PTR_NULL(r1->credit_kind);
	req.account_id = r1->account_id;
	CU_ASSERT_EQUAL(provauth_pool_acquire(&r2, m, &req), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_EQUAL(provauth_pool_sync(m, "a1"), PROVAUTH_EUNSUPPORTED);
	CU_ASSERT_EQUAL(provauth_pool_release(m, r1->id, PROVAUTH_POOL_DONE), 0);
	provauth_pool_reservation_free(r1);
	provauth_manager_free(m);
}

static void test_short_hooks_refused(void)
{
	static provauth_pool_hooks short_hooks = { sizeof(size_t), "web", 2, NULL, NULL, NULL };
	provauth_provider p = scripted_provider;
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_manager *m = NULL;

	opts.skip_plugins = 1;
	opts.log = pa_test_log_capture;
	opts.store = store; /* never the default store in the user's home */
	CU_ASSERT_FATAL(provauth_manager_new(&m, NULL, &opts) == 0);
	p.pool = &short_hooks;
	CU_ASSERT_EQUAL(provauth_manager_add_provider(m, &p), PROVAUTH_EPLUGIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "pool hooks"));
	provauth_manager_free(m);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "ranking: priority, credits, least recently used, id", test_ranking },
		{ "a bad parameter reserves nothing", test_bad_parameter_reserves_nothing },
		{ "slots, and why no account", test_slots_and_explanation },
		{ "unhealthy excluded; pinned skips credits", test_unhealthy_and_pinned_credits },
		{ "credits charged and refunded", test_credits_charged_and_refunded },
		{ "outcomes: cooldowns, cap, exhausted, banned", test_outcomes },
		{ "outcome for a code or a job's end", test_outcome_for },
		{ "sync recovers a dead session", test_sync_recovers_a_dead_session },
		{ "reconcile releases ended jobs, one question per account", test_reconcile_releases_ended_jobs },
		{ "expired reservation reclaimed", test_expired_reservation_reclaimed },
		{ "a waiter is woken by a release", test_waiter_woken_by_release },
		{ "8 threads never exceed an account's slots", test_threads_never_exceed_slots },
		{ "no secret in the pool's logs and errors", test_no_secret_in_pool_output },
		{ "pool hooks shorter than ABI 2.1 refused", test_short_hooks_refused },
		{ "a provider without pool hooks takes part", test_provider_without_hooks },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "pool", setup, teardown, tests },
		PA_TEST_SUITE_END
	};
	int rc = pa_test_run(argc, argv, suites);

	pa_test_log_reset();
	return rc;
}
