/*
 * Named leases for hosts (provauth_lease_acquire/release): one owner at a
 * time per name, renewal by the owner, release by a stranger ignored,
 * names that could meet an account's recovery lease refused; on the
 * memory store and on a sqlite file shared by two managers (as two
 * processes would share it).
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "internal.h"
#include "../support/pa_test.h"

static char tmpdir[] = "/tmp/pa-lease-XXXXXX";

static int suite_init(void)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
	return pa_test_rmtree(tmpdir);
}

static provauth_manager *manager_on(provauth_store *store, const char *yaml)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;

	CU_ASSERT_FATAL(provauth_settings_parse(&s, yaml, strlen(yaml), "t.yaml") == 0);
	opts.store = store;
	opts.skip_plugins = 1;
	opts.log = pa_test_log_capture;
	CU_ASSERT_FATAL(provauth_manager_new(&m, s, &opts) == 0);
	provauth_settings_free(s);
	return m;
}

/* The rules every store must keep, seen by two managers sharing it. */
static void check_rules(provauth_manager *a, provauth_manager *b)
{
	CU_ASSERT_EQUAL(provauth_lease_acquire(a, "keeper:acc1", "daemon-a", 60000), 0);
	/* The owner renews. */
	CU_ASSERT_EQUAL(provauth_lease_acquire(a, "keeper:acc1", "daemon-a", 60000), 0);
	CU_ASSERT_EQUAL(provauth_lease_acquire(b, "keeper:acc1", "daemon-b", 60000), PROVAUTH_EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "keeper:acc1"));
	/* Another name is another lease. */
	CU_ASSERT_EQUAL(provauth_lease_acquire(b, "keeper:acc2", "daemon-b", 60000), 0);
	/* A stranger's release does nothing. */
	CU_ASSERT_EQUAL(provauth_lease_release(b, "keeper:acc1", "daemon-b"), 0);
	CU_ASSERT_EQUAL(provauth_lease_acquire(b, "keeper:acc1", "daemon-b", 60000), PROVAUTH_EBUSY);
	CU_ASSERT_EQUAL(provauth_lease_release(a, "keeper:acc1", "daemon-a"), 0);
	CU_ASSERT_EQUAL(provauth_lease_acquire(b, "keeper:acc1", "daemon-b", 60000), 0);
	CU_ASSERT_EQUAL(provauth_lease_acquire(a, "keeper:acc1", "daemon-a", 60000), PROVAUTH_EBUSY);
	CU_ASSERT_EQUAL(provauth_lease_release(b, "keeper:acc1", "daemon-b"), 0);
	CU_ASSERT_EQUAL(provauth_lease_release(b, "keeper:acc2", "daemon-b"), 0);
}

static void test_memory(void)
{
	provauth_store *store = NULL;
	provauth_manager *a, *b;

	CU_ASSERT_FATAL(provauth_store_memory_new(&store) == 0);
	a = manager_on(store, "{}\n");
	b = manager_on(store, "{}\n");
	check_rules(a, b);
	provauth_manager_free(a);
	provauth_manager_free(b);
	provauth_store_free(store);
}

static void test_sqlite_shared(void)
{
	char yaml[512];
	provauth_manager *a, *b;

	snprintf(yaml, sizeof(yaml), "store:\n  backend: sqlite\n  path: %s/s.db\n", tmpdir);
	a = manager_on(NULL, yaml);
	b = manager_on(NULL, yaml);
	check_rules(a, b);
	provauth_manager_free(a);
	provauth_manager_free(b);
}

/* A name without a host prefix could be an account id: refused before the store is asked. */
static void test_refusals(void)
{
	provauth_store *store = NULL;
	provauth_manager *m;

	CU_ASSERT_FATAL(provauth_store_memory_new(&store) == 0);
	m = manager_on(store, "{}\n");
	CU_ASSERT_EQUAL(provauth_lease_acquire(m, "acc1", "me", 1000), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "prefix"));
	CU_ASSERT_EQUAL(provauth_lease_release(m, "acc1", "me"), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_lease_acquire(m, "", "me", 1000), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_lease_acquire(m, "k:1", "", 1000), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_lease_acquire(m, "k:1", NULL, 1000), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_lease_acquire(m, "k:1", "me", 0), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_lease_acquire(NULL, "k:1", "me", 10), PROVAUTH_EINVAL);
	/* A recovery's lease on the account is not the host's. */
	CU_ASSERT_EQUAL(provauth_lease_acquire(m, "k:acc1", "me", 1000), 0);
	CU_ASSERT_EQUAL(provauth_lease_acquire(m, "k:acc1", "other", 1000), PROVAUTH_EBUSY);
	provauth_manager_free(m);
	provauth_store_free(store);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "memory store", test_memory },
		{ "sqlite file shared by two managers", test_sqlite_shared },
		{ "refusals", test_refusals },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "lease", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
