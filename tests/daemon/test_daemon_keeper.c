/*
 * The keeper, in process, against the scripted provider and a memory store:
 * its schedule (due times, jitter bounds, time_scale, retry delay); an
 * OAuth token expiring with no traffic renewed before expiry, once; an idle
 * account with pool hooks probed (a credit sync) within max_idle under a
 * fast clock; and two keepers ("daemons": two managers, one store, two
 * lease owners) keeping 60 accounts through three refresh cycles with every
 * account refreshed once per cycle. The daemon's other rooms are stood in
 * for below (world, log, metrics, clock, notifier).
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "daemon.h"
#include "keeper/keeper.h"
#include "../unit/scripted_provider.h"
#include "../support/pa_test.h"
#include "../support/pg_server.h"

/* ---- stand-ins for the daemon's other rooms ---- */

#define DAEMONS 2
static pad_daemon dmn[DAEMONS];
static pad_world world[DAEMONS];
/* Starts at the real time: the memory store stamps updated_at with it. */
static _Atomic int64_t fake_now;
static int64_t t0;
static atomic_int runs_ok, runs_failed, notices;
static pthread_mutex_t notice_mu = PTHREAD_MUTEX_INITIALIZER;
static char notice_last[256];

pad_world *pad_world_get(pad_daemon *d)
{
	pad_world *w = &world[d - dmn];

	atomic_fetch_add(&w->refs, 1);
	return w;
}

void pad_world_put(pad_world *w)
{
	atomic_fetch_sub(&w->refs, 1);
}

void pad_log(pad_daemon *d, provauth_log_level level, const char *event, const provauth_log_field *f, size_t n)
{
	(void)d;
	(void)level;
	(void)event;
	(void)f;
	(void)n;
}

void pad_metric_add(const char *family, const char *labels, int64_t delta)
{
	if (strcmp(family, "provauthd_keeper_runs_total") != 0)
		return;
	if (strstr(labels, "result=ok"))
		atomic_fetch_add(&runs_ok, (int)delta);
	else
		atomic_fetch_add(&runs_failed, (int)delta);
}

void pad_metric_set(const char *family, const char *labels, int64_t value)
{
	(void)family;
	(void)labels;
	(void)value;
}

int64_t pad_now(void)
{
	return atomic_load(&fake_now);
}

int pad_notify_account(pad_notifier *n, const char *event, const char *account_id, const char *provider,
                       const char *reason, const char *message)
{
	(void)n;
	(void)provider;
	(void)message;
	pthread_mutex_lock(&notice_mu);
	snprintf(notice_last, sizeof(notice_last), "%s %s %s", event, account_id, reason ? reason : "-");
	pthread_mutex_unlock(&notice_mu);
	atomic_fetch_add(&notices, 1);
	return 0;
}

static int notice_is(const char *want)
{
	int same;

	pthread_mutex_lock(&notice_mu);
	same = strcmp(notice_last, want) == 0;
	pthread_mutex_unlock(&notice_mu);
	return same;
}

static void quiet(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n, void *p)
{
	(void)level;
	(void)event;
	(void)f;
	(void)n;
	(void)p;
}

static int64_t test_clock(void *payload)
{
	(void)payload;
	return atomic_load(&fake_now);
}

/* ---- the schedule alone ---- */

static pad_keeper_config defaults(void)
{
	pad_keeper_config c;

	memset(&c, 0, sizeof(c));
	c.enabled = 1;
	c.max_idle = 86400;
	c.refresh_ahead = 600;
	c.credit_sync = 3600;
	c.jitter_percent = 10;
	c.concurrency = 4;
	c.rate_per_provider = 5;
	c.lease_ttl_ms = 60000;
	c.time_scale = 1;
	c.scan_interval_ms = 5000;
	return c;
}

static void test_jitter_bounds(void)
{
	double r;

	CU_ASSERT_EQUAL(pad_jitter(1000, 10, 0.0), 900);
	CU_ASSERT_EQUAL(pad_jitter(1000, 10, 0.999999), 1100);
	CU_ASSERT_EQUAL(pad_jitter(1000, 0, 0.7), 1000);
	for (r = 0; r < 1; r += 0.01) {
		int64_t j = pad_jitter(86400, 10, r);
		CU_ASSERT(j >= 77760 && j <= 95040);
	}
	/* Stable per account and salt, different across accounts, in [0, 1). */
	CU_ASSERT(pad_keep_rnd("a1", 5) == pad_keep_rnd("a1", 5));
	CU_ASSERT(pad_keep_rnd("a1", 5) != pad_keep_rnd("a2", 5));
	CU_ASSERT(pad_keep_rnd("a1", 5) != pad_keep_rnd("a1", 6));
	CU_ASSERT(pad_keep_rnd("a1", 5) >= 0 && pad_keep_rnd("a1", 5) < 1);
}

static void test_time_scale(void)
{
	pad_keeper_config c = defaults();

	CU_ASSERT_EQUAL(pad_keep_scaled(&c, 86400), 86400);
	c.time_scale = 3600;
	CU_ASSERT_EQUAL(pad_keep_scaled(&c, 86400), 24);
	CU_ASSERT_EQUAL(pad_keep_scaled(&c, 60), 1);
}

static void test_plan_oauth_refresh_ahead(void)
{
	pad_keeper_config c = defaults();
	pad_keep_facts f;
	pad_keep_plan p;

	memset(&f, 0, sizeof(f));
	f.id = "a1";
	f.refreshable = 1;
	f.expires_at = 10000;
	f.updated_at = 5000;
	pad_keep_plan_for(&p, &c, &f, 6000);
	CU_ASSERT_EQUAL(p.kind, PAD_KEEP_REFRESH);
	CU_ASSERT_EQUAL(p.due, 10000 - 600);
	CU_ASSERT_EQUAL(p.within, 600);
}

static void test_plan_idle(void)
{
	pad_keeper_config c = defaults();
	pad_keep_facts f;
	pad_keep_plan p;

	memset(&f, 0, sizeof(f));
	f.id = "p1";
	f.updated_at = 1000;
	/* Never kept: its clock starts at its last write. */
	pad_keep_plan_for(&p, &c, &f, 2000);
	CU_ASSERT_EQUAL(p.kind, PAD_KEEP_IDLE);
	CU_ASSERT(p.due >= 1000 + 77760 && p.due <= 1000 + 95040);
	CU_ASSERT_EQUAL(p.within, 0);
	/* Kept later: from then. */
	f.rec.kept_at = 50000;
	pad_keep_plan_for(&p, &c, &f, 2000);
	CU_ASSERT(p.due >= 50000 + 77760 && p.due <= 50000 + 95040);
	/* A refreshable account's idle keep is a forced refresh. */
	f.refreshable = 1;
	pad_keep_plan_for(&p, &c, &f, 2000);
	CU_ASSERT_EQUAL(p.kind, PAD_KEEP_IDLE);
	CU_ASSERT_EQUAL(p.within, -1);
	/* The fast clock of the tests: a day in 24 s, +-10 %. */
	c.time_scale = 3600;
	f.refreshable = 0;
	pad_keep_plan_for(&p, &c, &f, 2000);
	CU_ASSERT(p.due >= 50000 + 21 && p.due <= 50000 + 27);
}

static void test_plan_credit_sync_and_retry_delay(void)
{
	pad_keeper_config c = defaults();
	pad_keep_facts f;
	pad_keep_plan p;

	memset(&f, 0, sizeof(f));
	f.id = "p1";
	f.pooled = 1;
	f.rec.kept_at = 100000;
	f.rec.synced_at = 100000;
	pad_keep_plan_for(&p, &c, &f, 100000);
	CU_ASSERT_EQUAL(p.kind, PAD_KEEP_SYNC);
	CU_ASSERT(p.due >= 100000 + 3240 && p.due <= 100000 + 3960);
	/* Failed a moment ago: not before the retry delay, whatever is owed. */
	f.rec.synced_at = 1;
	f.rec.failed_at = 100000;
	pad_keep_plan_for(&p, &c, &f, 100000);
	CU_ASSERT_EQUAL(p.due, 100000 + pad_keep_retry_after(&c, &f));
	CU_ASSERT(pad_keep_retry_after(&c, &f) >= 1 && pad_keep_retry_after(&c, &f) <= 300);
}

/* ---- the keeper running ---- */

static scripted_server *srv;
static provauth_store *store;

static void world_up_on(int i, provauth_store *st, const provauth_provider *prov, const pad_keeper_config *kc)
{
	static const char yaml[] = "session:\n  recovery_wait_ms: 5000\n  lease_ttl_ms: 5000\n"
	                           "providers:\n  scripted:\n    refresh_ahead: 60\n";
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;

	opts.store = st;
	opts.clock = test_clock;
	opts.log = quiet;
	opts.skip_plugins = 1;
	memset(&world[i], 0, sizeof(world[i]));
	atomic_init(&world[i].refs, 1);
	world[i].generation = 1;
	CU_ASSERT_FATAL(provauth_settings_parse(&s, yaml, strlen(yaml), "test.yaml") == 0);
	CU_ASSERT_FATAL(provauth_manager_new(&world[i].manager, s, &opts) == 0);
	provauth_settings_free(s);
	CU_ASSERT_FATAL(provauth_manager_add_provider(world[i].manager, prov) == 0);
	CU_ASSERT_FATAL((world[i].config = calloc(1, sizeof(*world[i].config))) != NULL);
	world[i].config->keeper = *kc;
	memset(&dmn[i], 0, sizeof(dmn[i]));
	pthread_mutex_init(&dmn[i].log_lock, NULL);
	/* Only ever handed to the stand-in pad_notify_account above. */
	dmn[i].notifier = (pad_notifier *)&notice_mu;
}

static void world_up(int i, const provauth_provider *prov, const pad_keeper_config *kc)
{
	world_up_on(i, store, prov, kc);
}

static void world_down(int i)
{
	provauth_manager_free(world[i].manager);
	free(world[i].config);
	memset(&world[i], 0, sizeof(world[i]));
}

static void setup_server(void)
{
	srv = scripted_server_new();
	scripted_use_server(srv);
	t0 = (int64_t)time(NULL);
	atomic_store(&fake_now, t0);
	atomic_store(&runs_ok, 0);
	atomic_store(&runs_failed, 0);
	atomic_store(&notices, 0);
	notice_last[0] = '\0';
	CU_ASSERT_FATAL(provauth_store_memory_new(&store) == 0);
}

static void teardown_server(void)
{
	provauth_store_free(store);
	store = NULL;
	scripted_server_free(srv);
	srv = NULL;
}

static void put_oauth_account(const char *id, int64_t expires_in)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_account_new(&a, id, "scripted") == 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, "refresh-SECRET-0", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, srv->valid_token,
	                                atomic_load(&fake_now) + expires_in);
	CU_ASSERT_FATAL(store->put(store, a) == 0);
	provauth_account_free(a);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int wait_refreshes(int want, int ms)
{
	int i;

	for (i = 0; i < ms / 10 && atomic_load(&srv->refreshes) < want; i++)
		sleep_ms(10);
	return atomic_load(&srv->refreshes);
}

static void test_token_expiring_without_traffic_is_refreshed_once(void)
{
	pad_keeper_config c = defaults();
	pad_keeper *k = NULL;
	provauth_account *a = NULL;

	c.refresh_ahead = 600;
	c.scan_interval_ms = 20;
	setup_server();
	world_up(0, &scripted_provider_refreshing, &c);
	put_oauth_account("a1", 1000);
	CU_ASSERT_FATAL(pad_keeper_start(&k, &dmn[0]) == 0);
	/* 1000 s left, outside the 600 s window: nothing yet. */
	sleep_ms(200);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 0);
	/* 500 s left: renewed, with no call of anyone's. */
	atomic_fetch_add(&fake_now, 500);
	CU_ASSERT_EQUAL(wait_refreshes(1, 3000), 1);
	/* Many scans later, still once: the new token has an hour. */
	sleep_ms(300);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 0);
	CU_ASSERT(atomic_load(&runs_ok) >= 1);
	CU_ASSERT_EQUAL(atomic_load(&runs_failed), 0);
	pad_keeper_stop(k);
	CU_ASSERT_FATAL(provauth_account_get(&a, world[0].manager, "a1") == 0);
	CU_ASSERT(provauth_account_credential_expires(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL) >
	          atomic_load(&fake_now) + 3000);
	/* A refresh writes no keeper record: the refresh's own write is the sign of life. */
	CU_ASSERT(!a->metadata || strstr(a->metadata, "kept_at") == NULL);
	provauth_account_free(a);
	CU_ASSERT_EQUAL(atomic_load(&world[0].refs), 1);
	world_down(0);
	teardown_server();
}

static void test_idle_account_probed_within_max_idle(void)
{
	pad_keeper_config c = defaults();
	pad_keeper *k = NULL;
	provauth_account *a = NULL;
	int i;

	c.time_scale = 3600; /* max_idle 86400 s: 24 s of this clock, +-10 % */
	c.credit_sync = 604800; /* a week: 168 s here, so the idle probe comes first */
	c.scan_interval_ms = 20;
	setup_server();
	srv->pool_credits = 10;
	world_up(0, &scripted_provider, &c);
	CU_ASSERT_FATAL(provauth_account_new(&a, "p1", "scripted") == 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, srv->valid_token, 0);
	provauth_account_set_cookie(a, "_ai_token", srv->valid_token);
	CU_ASSERT_FATAL(provauth_account_put(world[0].manager, a) == 0);
	provauth_account_free(a);
	CU_ASSERT_FATAL(pad_keeper_start(&k, &dmn[0]) == 0);
	sleep_ms(150);
	CU_ASSERT_EQUAL(atomic_load(&srv->pool_status_calls), 0);
	/* The clock walks a second at a time: the probe comes once 21..27 s have passed, not before. */
	for (i = 0; i < 20; i++) {
		atomic_fetch_add(&fake_now, 1);
		sleep_ms(30);
	}
	CU_ASSERT_EQUAL(atomic_load(&srv->pool_status_calls), 0);
	for (i = 0; i < 8 && atomic_load(&srv->pool_status_calls) == 0; i++) {
		atomic_fetch_add(&fake_now, 1);
		sleep_ms(150);
	}
	CU_ASSERT_EQUAL(atomic_load(&srv->pool_status_calls), 1);
	CU_ASSERT(atomic_load(&fake_now) - t0 <= 28);
	/* Kept: the next probe is a max_idle away again. */
	sleep_ms(200);
	CU_ASSERT_EQUAL(atomic_load(&srv->pool_status_calls), 1);
	pad_keeper_stop(k);
	world_down(0);
	teardown_server();
}

static void put_pooled_account(const char *id, const char *record)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_account_new(&a, id, "scripted") == 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, srv->valid_token, 0);
	provauth_account_set_cookie(a, "_ai_token", srv->valid_token);
	if (record)
		CU_ASSERT_FATAL(provauth_account_set_metadata(a, "provauthd", record) == 0);
	CU_ASSERT_FATAL(provauth_account_put(world[0].manager, a) == 0);
	provauth_account_free(a);
}

/* A sync that finds the account blocked tells a human once; the keeper then leaves it alone. */
static void test_banned_by_sync_notified_then_left_alone(void)
{
	pad_keeper_config c = defaults();
	pad_keeper *k = NULL;
	int i;

	c.time_scale = 3600; /* credit_sync 3600 s: 1 s here */
	c.scan_interval_ms = 20;
	setup_server();
	srv->pool_credits = 10;
	srv->pool_blocked = 1;
	world_up(0, &scripted_provider, &c);
	put_pooled_account("p1", NULL);
	CU_ASSERT_FATAL(pad_keeper_start(&k, &dmn[0]) == 0);
	for (i = 0; i < 30 && atomic_load(&notices) == 0; i++) {
		atomic_fetch_add(&fake_now, 1);
		sleep_ms(50);
	}
	CU_ASSERT_EQUAL(atomic_load(&srv->pool_status_calls), 1);
	CU_ASSERT(notice_is("account.needs_human p1 banned"));
	/* Days of this clock later: never probed again, never told again. */
	for (i = 0; i < 10; i++) {
		atomic_fetch_add(&fake_now, 30);
		sleep_ms(40);
	}
	CU_ASSERT_EQUAL(atomic_load(&srv->pool_status_calls), 1);
	CU_ASSERT_EQUAL(atomic_load(&notices), 1);
	pad_keeper_stop(k);
	world_down(0);
	teardown_server();
}

/* Told it needed a human, and healthy again (re-imported): the keeper says it recovered. */
static void test_reimported_account_recovered(void)
{
	pad_keeper_config c = defaults();
	pad_keeper *k = NULL;
	int i;

	c.scan_interval_ms = 20;
	setup_server();
	srv->pool_credits = 10;
	world_up(0, &scripted_provider, &c);
	put_pooled_account("p1", "{\"notified\":\"needs_human\",\"notified_reason\":\"session_lost\"}");
	put_pooled_account("p2", NULL);
	CU_ASSERT_FATAL(pad_keeper_start(&k, &dmn[0]) == 0);
	for (i = 0; i < 100 && atomic_load(&notices) == 0; i++)
		sleep_ms(20);
	CU_ASSERT(notice_is("account.recovered p1 -"));
	pad_keeper_stop(k);
	world_down(0);
	teardown_server();
}

/*
 * Two keepers, each with its own manager (its own session table: no
 * in-process single flight between them) and `stores[i]`, keep `fleet`
 * OAuth accounts through three refresh cycles. Every token is renewed once
 * per cycle, however many keepers find it due: a keeper that comes second
 * takes the recovery lease after the first, reads the stored account again
 * under it and adopts the new token (provauth_account_keep's single flight
 * across processes), so it runs without a token request.
 */
static void fleet_cycles(provauth_store *stores[DAEMONS], int fleet)
{
	pad_keeper_config c = defaults();
	pad_keeper *k[DAEMONS];
	provauth_account *a = NULL;
	char id[32];
	int i, cycle;

	c.refresh_ahead = 600;
	c.scan_interval_ms = 10;
	c.concurrency = 4;
	c.rate_per_provider = 0;
	c.jitter_percent = 0;
	/*
	 * Refreshes only: the scripted server accepts one token at a time, so
	 * probes of many accounts would fail on each other's tokens.
	 */
	c.max_idle = c.credit_sync = 10 * 365 * 86400;
	for (i = 0; i < DAEMONS; i++)
		world_up_on(i, stores[i], &scripted_provider_refreshing, &c);
	for (i = 0; i < fleet; i++) {
		snprintf(id, sizeof(id), "acct-%03d", i);
		CU_ASSERT_FATAL(provauth_account_new(&a, id, "scripted") == 0);
		provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, "refresh-SECRET-0", 0);
		provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, srv->valid_token,
		                                atomic_load(&fake_now) + 1000);
		CU_ASSERT_FATAL(provauth_account_put(world[0].manager, a) == 0);
		provauth_account_free(a);
		a = NULL;
	}
	for (i = 0; i < DAEMONS; i++)
		CU_ASSERT_FATAL(pad_keeper_start(&k[i], &dmn[i]) == 0);
	/* Each cycle: every token enters its window at once; each is renewed by one keeper, once. */
	for (cycle = 1; cycle <= 3; cycle++) {
		atomic_fetch_add(&fake_now, cycle == 1 ? 500 : 3600 - 500);
		CU_ASSERT_EQUAL(wait_refreshes(fleet * cycle, 20000), fleet * cycle);
		sleep_ms(300);
		CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), fleet * cycle);
		CU_ASSERT(atomic_load(&runs_ok) >= fleet * cycle);
	}
	for (i = 0; i < DAEMONS; i++)
		pad_keeper_stop(k[i]);
	CU_ASSERT_EQUAL(atomic_load(&runs_failed), 0);
	for (i = 0; i < DAEMONS; i++)
		world_down(i);
}

static void test_two_keepers_one_store_no_double_refresh(void)
{
	provauth_store *stores[DAEMONS];
	int i;

	setup_server();
	for (i = 0; i < DAEMONS; i++)
		stores[i] = store;
	fleet_cycles(stores, 60);
	teardown_server();
}

/* The same on PostgreSQL: two connections, the store's leases between them, 100 accounts. */
static void test_two_keepers_postgres_100_accounts(void)
{
	provauth_postgres_options po = PROVAUTH_POSTGRES_OPTIONS_INIT;
	provauth_store *stores[DAEMONS] = { NULL, NULL };
	char dir[] = "/tmp/pa-keeper-pg-XXXXXX", key[128], *url;
	int i;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(key, sizeof(key), "%s/accounts.key", dir);
	po.key_file = key;
	CU_ASSERT_FATAL((url = pa_pg_fresh_database()) != NULL);
	setup_server();
	for (i = 0; i < DAEMONS; i++)
		CU_ASSERT_FATAL(provauth_store_postgres_open(&stores[i], url, &po) == 0);
	fleet_cycles(stores, 100);
	for (i = 0; i < DAEMONS; i++)
		provauth_store_free(stores[i]);
	teardown_server();
	free(url);
	pa_test_rmtree(dir);
}

int main(int argc, char **argv)
{
	static const pa_test schedule[] = {
		{ "jitter bounds", test_jitter_bounds },
		{ "time_scale", test_time_scale },
		{ "plan: OAuth refresh ahead", test_plan_oauth_refresh_ahead },
		{ "plan: idle", test_plan_idle },
		{ "plan: credit sync, retry delay", test_plan_credit_sync_and_retry_delay },
		PA_TEST_END
	};
	static const pa_test running[] = {
		{ "token expiring without traffic: refreshed once", test_token_expiring_without_traffic_is_refreshed_once },
		{ "idle account probed within max_idle", test_idle_account_probed_within_max_idle },
		{ "banned by a sync: told once, then left alone", test_banned_by_sync_notified_then_left_alone },
		{ "re-imported: recovered", test_reimported_account_recovered },
		{ "two keepers, one store: no account refreshed twice", test_two_keepers_one_store_no_double_refresh },
		PA_TEST_END
	};
	static const pa_test postgres[] = {
		{ "two keepers on PostgreSQL, 100 accounts, 3 cycles", test_two_keepers_postgres_100_accounts },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "keeper schedule", NULL, NULL, schedule },
		{ "keeper running", NULL, NULL, running },
		{ "keeper on postgres", NULL, NULL, postgres },
		PA_TEST_SUITE_END
	};
	int rc = pa_pg_start();

	/* 77: no PostgreSQL here (said on stderr; only ever outside CI, which has it). */
	if (rc != 0)
		return rc == 77 ? 77 : 1;
	return pa_test_run(argc, argv, suites);
}
