/*
 * Writes seeds for the record and sealed targets with the real encoder and
 * sealer: fuzz/make_seeds DIR creates DIR/record/ and DIR/sealed/. The
 * output is committed under fuzz/corpus; rerun it when the format changes.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "internal.h"
#include "store/record.h"
#include "store/seal.h"
#include "fuzz.h"

static int write_file(const char *dir, const char *sub, const char *name, const unsigned char *prefix,
                      size_t prefix_len, const unsigned char *buf, size_t len)
{
	char path[4096];
	FILE *fp;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if (!(fp = fopen(path, "wb")))
		return -1;
	ok = fwrite(prefix, 1, prefix_len, fp) == prefix_len && fwrite(buf, 1, len, fp) == len;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

static int seed(const char *dir, const char *name, const provauth_account *a)
{
	static const unsigned char key[PA_SEAL_KEY_LEN] = PA_FUZZ_SEAL_KEY;
	static const unsigned char row = 0;
	unsigned char *rec, *blob;
	size_t rec_len, blob_len;
	int rc;

	if (pa_record_encode(&rec, &rec_len, a) < 0)
		return -1;
	rc = pa_seal(&blob, &blob_len, key, PA_FUZZ_SEAL_AD, strlen(PA_FUZZ_SEAL_AD), rec, rec_len);
	if (rc == 0) {
		rc = write_file(dir, "record", name, NULL, 0, rec, rec_len) < 0 ||
		     write_file(dir, "sealed", name, &row, 1, blob, blob_len) < 0 ? -1 : 0;
		free(blob);
	}
	free(rec);
	return rc;
}

int main(int argc, char **argv)
{
	provauth_account *a;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	if (provauth_account_new(&a, "acct-fuzz", "pixverse") < 0)
		return 1;
	rc |= seed(argv[1], "empty", a);
	rc |= provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "hunter2-not-real", 0);
	rc |= provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL,
	                                      "eyJhbGciOiJIUzI1NiJ9.eyJFeHBpcmVUaW1lIjoxODAwMDAwMDAwfQ.c2ln", 0);
	rc |= seed(argv[1], "password-jwt", a);
	rc |= provauth_account_set_cookie(a, "_ai_token", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln");
	rc |= provauth_account_set_cookie(a, "sid", "s%3Aabc.def");
	rc |= provauth_account_set_cookie(a, "empty", "");
	rc |= provauth_account_set_api_key(a, "openapi", "sk-0123456789abcdef");
	rc |= seed(argv[1], "cookies-keys", a);
	rc |= provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, "rt-AbCdEf0123456789", 0);
	rc |= provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at-0123456789AbCdEf", 0);
	rc |= seed(argv[1], "all-fields", a);
	/* Version 2 carries the access token's expiry. */
	rc |= provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at-0123456789AbCdEf", 1800000000);
	rc |= seed(argv[1], "access-expiry", a);
	provauth_account_free(a);
	if (rc)
		fprintf(stderr, "make_seeds: failed\n");
	return rc ? 1 : 0;
}
