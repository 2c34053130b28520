/*
 * An account's credentials read and written by kind and name
 * (core/account/credential.c): what each kind maps to, removal, expiry,
 * iteration, and the kinds and names it refuses.
 */
#include "config.h"
#include <string.h>
#include <CUnit/Basic.h>
#include "internal.h"
#include "../support/pa_test.h"

static provauth_account *account(void)
{
	provauth_account *a = NULL;

	CU_ASSERT_EQUAL_FATAL(provauth_account_new(&a, "acct-1", "pixverse"), 0);
	return a;
}

static void test_single_valued(void)
{
	static const char *const kinds[] = { PROVAUTH_CRED_PASSWORD, PROVAUTH_CRED_JWT,
	                                     PROVAUTH_CRED_REFRESH_TOKEN, PROVAUTH_CRED_ACCESS_TOKEN };
	provauth_account *a = account();
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		CU_ASSERT_PTR_NULL(provauth_account_credential(a, kinds[i], NULL));
		CU_ASSERT_EQUAL(provauth_account_set_credential(a, kinds[i], NULL, "v1", 0), 0);
		CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, kinds[i], NULL), "v1");
		CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, kinds[i], ""), "v1");
		CU_ASSERT_EQUAL(provauth_account_set_credential(a, kinds[i], "", "v2", 0), 0);
		CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, kinds[i], NULL), "v2");
	}
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, PASSWORD), "v2");
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), "v2");
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, REFRESH_TOKEN), "v2");
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, ACCESS_TOKEN), "v2");
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, NULL, 0), 0);
	CU_ASSERT_PTR_NULL(PA_CRED(a, JWT));
	CU_ASSERT_PTR_NULL(PA_CRED(a, JWT));
	/* a name on a single-valued kind is a mistake, not a second password */
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, "x", "v3", 0), PROVAUTH_EINVAL);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, PASSWORD), "v2");
	provauth_account_free(a);
}

static void test_named(void)
{
	provauth_account *a = account();

	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token", "c1", 0), 0);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, "other", "c2", 0), 0);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_API_KEY, "openapi", "k1", 0), 0);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_COOKIE), 2);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "other"), "c2");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token"), "c1");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_API_KEY, "openapi"), "k1");
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "missing"));
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, NULL));
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token", NULL, 0), 0);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_COOKIE), 1);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, NULL, "c3", 0), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_API_KEY, "", "k2", 0), PROVAUTH_EINVAL);
	provauth_account_free(a);
}

static void test_expiry(void)
{
	provauth_account *a = account();

	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at", 1700000000), 0);
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(a, ACCESS_TOKEN), 1700000000);
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(a, ACCESS_TOKEN), 1700000000);
	/* any credential may carry an expiry; replacing the value replaces it */
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "j", 5), 0);
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(a, JWT), 5);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "j2", 0), 0);
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(a, JWT), 0);
	/* removing the token forgets its expiry */
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(a, ACCESS_TOKEN), 0);
	provauth_account_free(a);
}

static void test_iteration(void)
{
	provauth_account *a = account();
	provauth_credential c;
	size_t i, cookies = 0;

	CU_ASSERT_EQUAL(provauth_account_credential_count(a), 0);
	CU_ASSERT_EQUAL(provauth_account_credential_at(&c, a, 0), PROVAUTH_ENOTFOUND);
	provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "pw", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, "a", "1", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, "b", "2", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_API_KEY, "openapi", "k", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at", 42);
	CU_ASSERT_EQUAL_FATAL(provauth_account_credential_count(a), 5);
	for (i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL_FATAL(provauth_account_credential_at(&c, a, i), 0);
		CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, c.kind, c.name), c.value);
		CU_ASSERT_EQUAL(c.expires_at, provauth_account_credential_expires(a, c.kind, c.name));
		cookies += strcmp(c.kind, PROVAUTH_CRED_COOKIE) == 0;
	}
	CU_ASSERT_EQUAL(cookies, 2);
	CU_ASSERT_EQUAL(provauth_account_credential_at(&c, a, 5), PROVAUTH_ENOTFOUND);
	provauth_account_free(a);
}

/* Kinds are the providers' to define: one the core does not know is kept like any other. */
static void test_provider_kind(void)
{
	provauth_account *a = account();

	CU_ASSERT_EQUAL(provauth_account_set_credential(a, "totp_seed", NULL, "s", 0), 0);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, "device_key", "phone", "d", 0), 0);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, "totp_seed", NULL), "s");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, "device_key", "phone"), "d");
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, "device_key", NULL));
	CU_ASSERT_EQUAL(provauth_account_credential_count(a), 2);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, "", NULL, "s", 0), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, NULL, NULL, "s", 0), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, NULL, NULL));
	CU_ASSERT_EQUAL(provauth_account_credential_count(a), 2);
	provauth_account_free(a);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "single-valued kinds", test_single_valued },
		{ "cookies and API keys by name", test_named },
		{ "expiry", test_expiry },
		{ "iteration", test_iteration },
		{ "kinds a provider defines", test_provider_kind },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "credential", NULL, NULL, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
