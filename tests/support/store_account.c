#include "config.h"
#include <string.h>
#include "pa_test.h"

const char *const pa_test_store_secrets[PA_TEST_STORE_SECRETS] = {
	"pw-Secret-4711", "eyJ.jwt-Secret.sig", "refresh-Secret-0815", "access-Secret-1234",
	"cookie-Secret-abcd", "sk-apikey-Secret-9",
};

provauth_account *pa_test_store_account(const char *id, const char *provider)
{
	provauth_account *a;

	if (provauth_account_new(&a, id, provider) < 0)
		return NULL;
	provauth_account_set(&a->email, "user@example.com");
	provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, pa_test_store_secrets[0], 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, pa_test_store_secrets[1], 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, pa_test_store_secrets[2], 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, pa_test_store_secrets[3], 1893456000);
	provauth_account_set_cookie(a, "_session", pa_test_store_secrets[4]);
	provauth_account_set_cookie(a, "lang", "en");
	provauth_account_set_api_key(a, "openapi", pa_test_store_secrets[5]);
	provauth_account_set_metadata(a, "auth_method", "\"password\"");
	provauth_account_set_metadata(a, "session_health", "{\"state\":\"ok\",\"n\":3}");
	return a;
}

int pa_test_error_has(const char *what)
{
	return strstr(provauth_last_error(), what) != NULL;
}

int pa_test_error_has_no_secret(void)
{
	size_t i;

	for (i = 0; i < PA_TEST_STORE_SECRETS; i++)
		if (pa_test_error_has(pa_test_store_secrets[i]))
			return 0;
	return 1;
}
