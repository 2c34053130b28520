/*
 * Sealing an account's credentials for a row of a database store, the same
 * way in every backend that keeps them in a database (sqlite from schema 3,
 * postgres): the secrets record (record.c) sealed (seal.c) with the row's
 * identity and revision as associated data, so a blob moved to another row,
 * an older blob of the same row put back, or an email edited behind our
 * back does not open. One definition keeps a store copied between backends
 * (provauth store migrate) readable by both.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "store/private.h"
#include "store/record.h"

#define ROW_AD_LABEL "provauth account v3"

/*
 * A label, then id, provider, email ("-" when absent, "=" then the email
 * otherwise, so absent and empty differ) and the decimal revision,
 * NUL-separated. None holds a NUL, so the split is unambiguous.
 */
int pa_account_seal_ad(char **out, size_t *len, const char *id, const char *provider, const char *email,
                       uint64_t revision)
{
	if (!(*out = pa_sprintf(ROW_AD_LABEL "%c%s%c%s%c%s%s%c%llu", 0, id, 0, provider, 0, email ? "=" : "-",
	                        email ? email : "", 0, (unsigned long long)revision)))
		return pa_error_oom();
	/* pa_sprintf's length ends at the first NUL: count the parts instead. */
	*len = strlen(ROW_AD_LABEL) + 1 + strlen(id) + 1 + strlen(provider) + 1 + 1 + (email ? strlen(email) : 0) +
	       1 + (size_t)snprintf(NULL, 0, "%llu", (unsigned long long)revision);
	return 0;
}

int pa_account_seal(unsigned char **blob, size_t *blob_len, const unsigned char key[PA_SEAL_KEY_LEN],
                    const provauth_account *a, uint64_t revision, const char *where)
{
	unsigned char *plain = NULL;
	size_t plain_len = 0, ad_len = 0;
	char *ad = NULL;
	int rc;

	if ((rc = pa_record_encode(&plain, &plain_len, a)) < 0 ||
	    (rc = pa_account_seal_ad(&ad, &ad_len, a->id, a->provider, a->email, revision)) < 0 ||
	    (rc = pa_seal(blob, blob_len, key, ad, ad_len, plain, plain_len)) < 0)
		rc = pa_error_prefix(rc, "%s: account %s", where, a->id);
	pa_wipe(plain, plain_len);
	free(plain);
	free(ad);
	return rc;
}

int pa_account_unseal(provauth_account *a, const unsigned char key[PA_SEAL_KEY_LEN], const unsigned char *blob,
                      size_t blob_len, const char *where)
{
	unsigned char *plain = NULL;
	size_t plain_len = 0, ad_len = 0;
	char *ad = NULL;
	int rc;

	if ((rc = pa_account_seal_ad(&ad, &ad_len, a->id, a->provider, a->email, a->revision)) < 0)
		return rc;
	if ((rc = pa_unseal(&plain, &plain_len, key, ad, ad_len, blob, blob_len)) < 0)
		/* The key opened the store's key check: a row that does not open was changed. */
		rc = pa_error_set(PROVAUTH_ECRYPTO,
		                  "%s: account %s: its record was changed outside provauth (email, provider, "
		                  "revision or sealed secrets do not match, e.g. edited or an older copy put "
		                  "back); refusing to use it: remove the account and add it again",
		                  where, a->id);
	else if ((rc = pa_record_decode(a, plain, plain_len)) < 0)
		rc = pa_error_prefix(rc, "%s: account %s", where, a->id);
	if (plain) {
		pa_wipe(plain, plain_len);
		free(plain);
	}
	free(ad);
	return rc;
}
