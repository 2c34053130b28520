/*
 * The sealed blob path of the sqlite store (core/store/seal.c then
 * core/store/record.c) with a fixed key: anything but an intact blob of ours is
 * refused with PROVAUTH_ECRYPTO, and an opened blob is a record.
 *
 * Input: byte 0 picks the associated data (the row a blob belongs to:
 * even = the row the seeds were sealed for), the rest is the blob.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "store/record.h"
#include "store/seal.h"
#include "fuzz.h"

static const unsigned char pa_fuzz_seal_key[PA_SEAL_KEY_LEN] = PA_FUZZ_SEAL_KEY;
static const char pa_fuzz_seal_ad[] = PA_FUZZ_SEAL_AD;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *pt = NULL, *resealed = NULL, *again = NULL;
	size_t pt_len = 0, resealed_len = 0, again_len = 0;
	provauth_account *a = NULL;
	const char *ad;
	int rc;

	if (size < 1)
		return 0;
	ad = data[0] & 1 ? "accounts:other" : pa_fuzz_seal_ad;
	provauth_error_clear();
	rc = pa_unseal(&pt, &pt_len, pa_fuzz_seal_key, ad, strlen(ad), data + 1, size - 1);
	if (rc < 0) {
		PA_FUZZ_CHECK(rc == PROVAUTH_ECRYPTO || rc == PROVAUTH_ENOMEM);
		PA_FUZZ_CHECK(pt == NULL && pt_len == 0);
		return 0;
	}
	PA_FUZZ_CHECK(pt && pt_len == size - 1 - PA_SEAL_OVERHEAD && pt[pt_len] == '\0');
	/* Sealing the plaintext again opens to the same bytes. */
	PA_FUZZ_CHECK(pa_seal(&resealed, &resealed_len, pa_fuzz_seal_key, ad, strlen(ad), pt, pt_len) == 0);
	PA_FUZZ_CHECK(pa_unseal(&again, &again_len, pa_fuzz_seal_key, ad, strlen(ad), resealed, resealed_len) == 0);
	PA_FUZZ_CHECK(again_len == pt_len && memcmp(again, pt, pt_len) == 0);
	if (provauth_account_new(&a, "acct-fuzz", "pixverse") < 0)
		pa_fuzz_fail("out of memory");
	rc = pa_record_decode(a, pt, pt_len);
	PA_FUZZ_CHECK(rc == 0 || rc == PROVAUTH_ESTORE);
	provauth_account_free(a);
	pa_wipe(pt, pt_len);
	free(pt);
	free(resealed);
	pa_wipe(again, again_len);
	free(again);
	return 0;
}
