/*
 * The store's secrets record (core/store/record.c): decoding arbitrary bytes,
 * and decode -> encode -> decode being exact for whatever decodes.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "store/record.h"
#include "fuzz.h"

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The same credentials in the same order: what was stored reads back exactly. */
static void check_same(const provauth_account *a, const provauth_account *b)
{
	size_t i;

	PA_FUZZ_CHECK(a->credential_count == b->credential_count);
	for (i = 0; i < a->credential_count; i++)
		PA_FUZZ_CHECK(same(a->credentials[i].kind, b->credentials[i].kind) &&
		              same(a->credentials[i].name, b->credentials[i].name) &&
		              same(a->credentials[i].value, b->credentials[i].value) &&
		              a->credentials[i].expires_at == b->credentials[i].expires_at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	provauth_account *a = NULL, *b = NULL;
	unsigned char *enc = NULL;
	size_t enc_len = 0;
	int rc;

	if (provauth_account_new(&a, "acct-fuzz", "pixverse") < 0 || provauth_account_new(&b, "acct-fuzz", "pixverse") < 0)
		pa_fuzz_fail("out of memory");
	/* A failed decode leaves the account as it was. */
	if (provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "kept", 0) < 0)
		pa_fuzz_fail("out of memory");
	provauth_error_clear();
	rc = pa_record_decode(a, data, size);
	if (rc < 0) {
		PA_FUZZ_CHECK(rc == PROVAUTH_ESTORE || rc == PROVAUTH_ENOMEM);
		PA_FUZZ_CHECK(strncmp(provauth_last_error(), "secrets record: ", 16) == 0);
		PA_FUZZ_CHECK(a->credential_count == 1 &&
		              same(provauth_account_credential(a, PROVAUTH_CRED_PASSWORD, NULL), "kept"));
		goto out;
	}
	PA_FUZZ_CHECK(pa_record_encode(&enc, &enc_len, a) == 0);
	PA_FUZZ_CHECK(enc_len >= 1 && enc[0] == PA_RECORD_VERSION);
	/*
	 * Entries are re-encoded in the account's order, so only sizes and
	 * contents (not bytes) must match; a version 1 record is rewritten as
	 * version 2, whose size differs.
	 */
	PA_FUZZ_CHECK(data[0] != PA_RECORD_VERSION || enc_len == size);
	PA_FUZZ_CHECK(pa_record_decode(b, enc, enc_len) == 0);
	check_same(a, b);
out:
	if (enc) {
		pa_wipe(enc, enc_len);
		free(enc);
	}
	provauth_account_free(a);
	provauth_account_free(b);
	return 0;
}
