/*
 * provauth_account_keep against the scripted provider: the keeper's view of
 * an account nobody uses. Renewal inside the window only (or always when
 * forced), once for many callers, refusals on record, and nothing sent for
 * a provider that cannot refresh.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "manager.h"
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

static provauth_manager *manager_for(const provauth_provider *p)
{
	static const char yaml[] = "session:\n  recovery_wait_ms: 5000\n  lease_ttl_ms: 5000\n"
	                           "providers:\n  scripted:\n    refresh_ahead: 300\n";
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;

	CU_ASSERT_FATAL(provauth_settings_parse(&s, yaml, strlen(yaml), "test.yaml") == 0);
	opts.store = store;
	opts.clock = test_clock;
	opts.log = pa_test_log_capture;
	opts.skip_plugins = 1;
	CU_ASSERT_FATAL(provauth_manager_new(&m, s, &opts) == 0);
	provauth_settings_free(s);
	CU_ASSERT_FATAL(provauth_manager_add_provider(m, p) == 0);
	return m;
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

static int setup(void)
{
	srv = scripted_server_new();
	scripted_use_server(srv);
	pa_test_log_reset();
	atomic_store(&fake_now, 1800000000);
	if (provauth_store_memory_new(&store) < 0)
		return -1;
	return srv ? 0 : -1;
}

static int teardown(void)
{
	provauth_manager_free(mgr);
	mgr = NULL;
	provauth_store_free(store);
	store = NULL;
	scripted_server_free(srv);
	srv = NULL;
	return 0;
}

#define FRESH(prov) do { teardown(); setup(); mgr = manager_for(prov); } while (0)

static void test_within_window_refreshes_once(void)
{
	provauth_account *a = NULL;
	int refreshed = -1;

	FRESH(&scripted_provider_refreshing);
	put_oauth_account("a1", 500);
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "a1", 600), 0);
	CU_ASSERT_EQUAL(refreshed, 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT_FATAL(store->get(store, &a, "a1") == 0);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, REFRESH_TOKEN), "refresh-SECRET-next");
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(a, ACCESS_TOKEN), atomic_load(&fake_now) + 3600);
	provauth_account_free(a);
	/* The renewed token is an hour away from expiry: kept again, nothing to do. */
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "a1", 600), 0);
	CU_ASSERT_EQUAL(refreshed, 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	/* Never an operation: keeping does not use the account. */
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 0);
}

static void test_outside_window_does_nothing(void)
{
	int refreshed = -1;

	FRESH(&scripted_provider_refreshing);
	put_oauth_account("a1", 3000);
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "a1", 600), 0);
	CU_ASSERT_EQUAL(refreshed, 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 0);
	/* The clock moves into the window: now it is renewed. */
	atomic_fetch_add(&fake_now, 2500);
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "a1", 600), 0);
	CU_ASSERT_EQUAL(refreshed, 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
}

/*
 * Another process holds the account's recovery lease (it is renewing it):
 * keeping does not wait for it (recovery_wait_ms is 5 s here), sends
 * nothing and says nothing was refreshed; once the lease is free it renews.
 */
static void test_another_process_renewing_is_not_waited_for(void)
{
	int refreshed = -1;
	int64_t t0;

	FRESH(&scripted_provider_refreshing);
	put_oauth_account("a1", 500);
	CU_ASSERT_FATAL(store->lease_acquire(store, "a1", "another-process", 60000) == 0);
	t0 = pa_monotonic_ms();
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "a1", 600), 0);
	CU_ASSERT(pa_monotonic_ms() - t0 < 2500);
	CU_ASSERT_EQUAL(refreshed, 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 0);
	CU_ASSERT_FATAL(store->lease_release(store, "a1", "another-process") == 0);
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "a1", 600), 0);
	CU_ASSERT_EQUAL(refreshed, 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
}

static void test_negative_within_forces(void)
{
	int refreshed = -1;

	FRESH(&scripted_provider_refreshing);
	put_oauth_account("a1", 3000);
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "a1", -1), 0);
	CU_ASSERT_EQUAL(refreshed, 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "a1", -1), 0);
	CU_ASSERT_EQUAL(refreshed, 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 2);
}

#define KEEPERS 8
static pthread_barrier_t keep_barrier;
static atomic_int keep_ok, keep_refreshed;

static void *keeper_thread(void *arg)
{
	int refreshed = 0;

	(void)arg;
	pthread_barrier_wait(&keep_barrier);
	if (provauth_account_keep(&refreshed, mgr, "a1", 600) == 0)
		atomic_fetch_add(&keep_ok, 1);
	atomic_fetch_add(&keep_refreshed, refreshed);
	return NULL;
}

static void test_eight_threads_one_refresh(void)
{
	pthread_t t[KEEPERS];
	int i;

	FRESH(&scripted_provider_refreshing);
	put_oauth_account("a1", 100);
	/* The refresh is slow enough for every thread to arrive while it runs, or just after. */
	srv->login_delay_ms = 50;
	atomic_store(&keep_ok, 0);
	atomic_store(&keep_refreshed, 0);
	pthread_barrier_init(&keep_barrier, NULL, KEEPERS);
	for (i = 0; i < KEEPERS; i++)
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, keeper_thread, NULL) == 0);
	for (i = 0; i < KEEPERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&keep_barrier);
	CU_ASSERT_EQUAL(atomic_load(&keep_ok), KEEPERS);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT_EQUAL(atomic_load(&keep_refreshed), 1);
}

static void test_refused_refresh_recorded(void)
{
	provauth_account *a = NULL;
	int refreshed = -1;

	FRESH(&scripted_provider_refreshing);
	put_oauth_account("a1", 100);
	srv->refresh_result = PROVAUTH_EAUTH;
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "a1", 600), PROVAUTH_EAUTH);
	CU_ASSERT_EQUAL(refreshed, 0);
	CU_ASSERT_FATAL(store->get(store, &a, "a1") == 0);
	CU_ASSERT(pa_streq(a->state.health.state, "invalid"));
	CU_ASSERT(pa_streq(a->state.health.reason, "refresh_rejected"));
	provauth_account_free(a);
	CU_ASSERT_EQUAL(pa_test_log_count("scripted_session_health_changed", "refresh_rejected"), 1);
	/* The refused token is not sent again. */
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "a1", -1), PROVAUTH_EAUTH);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT(pa_test_error_has_no_secret());
	CU_ASSERT_FALSE(pa_test_log_contains("SECRET"));
}

static void test_network_failure_is_returned_not_recorded(void)
{
	provauth_account *a = NULL;

	FRESH(&scripted_provider_refreshing);
	put_oauth_account("a1", 100);
	srv->refresh_result = PROVAUTH_ENETWORK;
	CU_ASSERT_EQUAL(provauth_account_keep(NULL, mgr, "a1", 600), PROVAUTH_ENETWORK);
	CU_ASSERT_FATAL(store->get(store, &a, "a1") == 0);
	CU_ASSERT_FALSE(pa_streq(a->state.health.state, "invalid"));
	provauth_account_free(a);
}

static void test_provider_without_refresh_only_builds(void)
{
	provauth_account *a = NULL;
	int refreshed = -1;

	FRESH(&scripted_provider);
	CU_ASSERT_FATAL(provauth_account_new(&a, "p1", "scripted") == 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, srv->valid_token, 0);
	provauth_account_set_cookie(a, "_ai_token", srv->valid_token);
	CU_ASSERT_FATAL(store->put(store, a) == 0);
	provauth_account_free(a);
	CU_ASSERT_EQUAL(provauth_account_keep(&refreshed, mgr, "p1", -1), 0);
	CU_ASSERT_EQUAL(refreshed, 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->builds), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 0);
}

static void test_bad_arguments(void)
{
	FRESH(&scripted_provider_refreshing);
	CU_ASSERT_EQUAL(provauth_account_keep(NULL, NULL, "a1", 0), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_account_keep(NULL, mgr, "", 0), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_account_keep(NULL, mgr, "nobody", 0), PROVAUTH_ENOTFOUND);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "within the window: refreshed once", test_within_window_refreshes_once },
		{ "outside the window: nothing", test_outside_window_does_nothing },
		{ "within < 0 forces", test_negative_within_forces },
		{ "another process renewing it is not waited for", test_another_process_renewing_is_not_waited_for },
		{ "8 threads keeping one account: 1 refresh", test_eight_threads_one_refresh },
		{ "a refused refresh is recorded", test_refused_refresh_recorded },
		{ "a network failure is returned, not recorded", test_network_failure_is_returned_not_recorded },
		{ "a provider without refresh only builds", test_provider_without_refresh_only_builds },
		{ "bad arguments", test_bad_arguments },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "account_keep", setup, teardown, tests },
		PA_TEST_SUITE_END
	};
	int rc;

	rc = pa_test_run(argc, argv, suites);
	pa_test_log_reset();
	return rc;
}
