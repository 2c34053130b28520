/* Sealing (AES-256-GCM) and the sealed account record: round trips and hostile input. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include <openssl/rand.h>
#include "internal.h"
#include "store/record.h"
#include "store/seal.h"
#include "../support/pa_test.h"

static unsigned char key[PA_SEAL_KEY_LEN];
static const char ad[] = "acct-1\0pixverse";
#define AD_LEN (sizeof(ad) - 1)

static int init_key(void)
{
	return RAND_bytes(key, sizeof(key)) == 1 ? 0 : -1;
}

static uint32_t rnd(void)
{
	uint32_t v = 0;
	RAND_bytes((unsigned char *)&v, sizeof(v));
	return v;
}

/* ---- seal ---- */

static void test_seal_round_trip(void)
{
	const char *secret = "refresh-token-very-secret-0123456789";
	unsigned char *blob, *blob2, *plain;
	size_t len, len2, plain_len;

	CU_ASSERT_EQUAL_FATAL(pa_seal(&blob, &len, key, ad, AD_LEN, secret, strlen(secret)), 0);
	CU_ASSERT_EQUAL(len, strlen(secret) + PA_SEAL_OVERHEAD);
	CU_ASSERT_EQUAL(blob[0], PA_SEAL_VERSION);
	CU_ASSERT_PTR_NULL(memmem(blob, len, secret, strlen(secret)));
	CU_ASSERT_EQUAL_FATAL(pa_unseal(&plain, &plain_len, key, ad, AD_LEN, blob, len), 0);
	CU_ASSERT_EQUAL(plain_len, strlen(secret));
	CU_ASSERT_STRING_EQUAL((char *)plain, secret);
	free(plain);

	/* A fresh nonce per seal: the same plaintext never gives the same blob. */
	CU_ASSERT_EQUAL_FATAL(pa_seal(&blob2, &len2, key, ad, AD_LEN, secret, strlen(secret)), 0);
	CU_ASSERT_EQUAL(len2, len);
	CU_ASSERT(memcmp(blob, blob2, len) != 0);
	free(blob);
	free(blob2);
}

static void test_seal_empty(void)
{
	unsigned char *blob, *plain;
	size_t len, plain_len;

	CU_ASSERT_EQUAL_FATAL(pa_seal(&blob, &len, key, NULL, 0, "", 0), 0);
	CU_ASSERT_EQUAL(len, PA_SEAL_OVERHEAD);
	CU_ASSERT_EQUAL(pa_unseal(&plain, &plain_len, key, NULL, 0, blob, len), 0);
	CU_ASSERT_EQUAL(plain_len, 0);
	free(plain);
	/* Even an empty plaintext is bound to its associated data. */
	CU_ASSERT_EQUAL(pa_unseal(&plain, &plain_len, key, ad, AD_LEN, blob, len), PROVAUTH_ECRYPTO);
	CU_ASSERT_PTR_NULL(plain);
	free(blob);
}

static void test_seal_wrong_ad_or_key(void)
{
	static const char other_ad[] = "acct-2\0pixverse";
	static const char swapped_ad[] = "acct-1\0pixiv";
	unsigned char other_key[PA_SEAL_KEY_LEN];
	unsigned char *blob, *plain = (unsigned char *)"x";
	size_t len, plain_len = 7;

	CU_ASSERT_EQUAL_FATAL(pa_seal(&blob, &len, key, ad, AD_LEN, "secret", 6), 0);
	CU_ASSERT_EQUAL(pa_unseal(&plain, &plain_len, key, other_ad, sizeof(other_ad) - 1, blob, len),
	                PROVAUTH_ECRYPTO);
	CU_ASSERT_PTR_NULL(plain);
	CU_ASSERT_EQUAL(plain_len, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "does not authenticate"));
	CU_ASSERT_EQUAL(pa_unseal(&plain, &plain_len, key, swapped_ad, sizeof(swapped_ad) - 1, blob, len),
	                PROVAUTH_ECRYPTO);
	CU_ASSERT_EQUAL(pa_unseal(&plain, &plain_len, key, ad, AD_LEN - 1, blob, len), PROVAUTH_ECRYPTO);
	memcpy(other_key, key, sizeof(key));
	other_key[31] ^= 1;
	CU_ASSERT_EQUAL(pa_unseal(&plain, &plain_len, other_key, ad, AD_LEN, blob, len), PROVAUTH_ECRYPTO);
	CU_ASSERT_PTR_NULL(plain);
	free(blob);
}

static void test_seal_tampered(void)
{
	unsigned char *blob, *plain;
	size_t len, plain_len, i;
	int bit, failures = 0;

	CU_ASSERT_EQUAL_FATAL(pa_seal(&blob, &len, key, ad, AD_LEN, "secret value", 12), 0);
	/* Every single-bit flip anywhere (version, nonce, ciphertext, tag) must be refused. */
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			blob[i] ^= (unsigned char)(1u << bit);
			if (pa_unseal(&plain, &plain_len, key, ad, AD_LEN, blob, len) == PROVAUTH_ECRYPTO && !plain)
				failures++;
			else
				free(plain);
			blob[i] ^= (unsigned char)(1u << bit);
		}
	}
	CU_ASSERT_EQUAL(failures, (int)(len * 8));
	/* The tag's last byte specifically. */
	blob[len - 1] ^= 0x80;
	CU_ASSERT_EQUAL(pa_unseal(&plain, &plain_len, key, ad, AD_LEN, blob, len), PROVAUTH_ECRYPTO);
	blob[len - 1] ^= 0x80;
	CU_ASSERT_EQUAL(pa_unseal(&plain, &plain_len, key, ad, AD_LEN, blob, len), 0);
	free(plain);
	free(blob);
}

static void test_seal_truncated(void)
{
	unsigned char *blob, *plain;
	size_t len, plain_len, n;
	int refused = 0;

	CU_ASSERT_EQUAL_FATAL(pa_seal(&blob, &len, key, ad, AD_LEN, "secret value", 12), 0);
	for (n = 0; n < len; n++) {
		/* A copy of exactly n bytes, so ASan catches any read past the end. */
		unsigned char *cut = malloc(n ? n : 1);
		memcpy(cut, blob, n);
		if (pa_unseal(&plain, &plain_len, key, ad, AD_LEN, cut, n) == PROVAUTH_ECRYPTO && !plain)
			refused++;
		else
			free(plain);
		free(cut);
	}
	CU_ASSERT_EQUAL(refused, (int)len);
	CU_ASSERT_EQUAL(pa_unseal(&plain, &plain_len, key, ad, AD_LEN, NULL, 0), PROVAUTH_ECRYPTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "truncated"));
	free(blob);
}

static void test_seal_garbage(void)
{
	unsigned char *plain;
	size_t plain_len;
	int i, opened = 0;

	for (i = 0; i < 4000; i++) {
		size_t n = rnd() % 160;
		unsigned char *buf = malloc(n ? n : 1);
		RAND_bytes(buf, (int)(n ? n : 1));
		/* Half the buffers carry the right version byte so they reach GCM. */
		if (n && i % 2)
			buf[0] = PA_SEAL_VERSION;
		if (pa_unseal(&plain, &plain_len, key, ad, AD_LEN, buf, n) == 0) {
			opened++;
			free(plain);
		}
		free(buf);
	}
	CU_ASSERT_EQUAL(opened, 0);
}

/* ---- record ---- */

static provauth_account *full_account(void)
{
	provauth_account *a;

	if (provauth_account_new(&a, "acct-1", "pixverse") < 0)
		return NULL;
	provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "pw-secret", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "jwt.secret.token", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, "", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "access \xc3\xa9 token", 0);
	provauth_account_set_cookie(a, "_session", "cookie-secret");
	provauth_account_set_cookie(a, "empty", "");
	provauth_account_set_api_key(a, "openapi", "sk-secret");
	provauth_account_set_api_key(a, "other", "sk-2");
	return a;
}

/* A target whose secret fields are set, so decode visibly replaces (or keeps) them. */
static provauth_account *target_account(void)
{
	provauth_account *t;

	if (provauth_account_new(&t, "acct-1", "pixverse") < 0)
		return NULL;
	provauth_account_set_credential(t, PROVAUTH_CRED_PASSWORD, NULL, "sentinel", 0);
	provauth_account_set_cookie(t, "old", "cookie");
	return t;
}

static void test_record_round_trip(void)
{
	provauth_account *a = full_account(), *t = target_account();
	unsigned char *buf;
	size_t len;

	CU_ASSERT_FATAL(a && t);
	CU_ASSERT_EQUAL_FATAL(pa_record_encode(&buf, &len, a), 0);
	CU_ASSERT_EQUAL(buf[0], PA_RECORD_VERSION);
	CU_ASSERT_EQUAL_FATAL(pa_record_decode(t, buf, len), 0);
	CU_ASSERT(pa_account_same_credentials(a, t));
	CU_ASSERT_STRING_EQUAL(PA_CRED(t, REFRESH_TOKEN), "");
	CU_ASSERT_EQUAL(pa_test_count(t, PROVAUTH_CRED_COOKIE), 2);
	CU_ASSERT_STRING_EQUAL(pa_test_nth(t, PROVAUTH_CRED_COOKIE, 0)->name, "_session");
	CU_ASSERT_STRING_EQUAL(pa_test_nth(t, PROVAUTH_CRED_API_KEY, 1)->name, "other");
	CU_ASSERT_PTR_NULL(provauth_account_credential(t, PROVAUTH_CRED_COOKIE, "old"));
	free(buf);
	provauth_account_free(a);
	provauth_account_free(t);
}

static void test_record_no_secrets(void)
{
	provauth_account *a, *t = target_account();
	unsigned char *buf;
	size_t len;

	CU_ASSERT_EQUAL_FATAL(provauth_account_new(&a, "acct-1", "pixverse"), 0);
	CU_ASSERT_EQUAL_FATAL(pa_record_encode(&buf, &len, a), 0);
	CU_ASSERT_EQUAL(len, 1);
	CU_ASSERT_EQUAL_FATAL(pa_record_decode(t, buf, len), 0);
	CU_ASSERT_PTR_NULL(PA_CRED(t, PASSWORD));
	CU_ASSERT_PTR_NULL(PA_CRED(t, REFRESH_TOKEN));
	CU_ASSERT_EQUAL(pa_test_count(t, PROVAUTH_CRED_COOKIE), 0);
	CU_ASSERT_EQUAL(pa_test_count(t, PROVAUTH_CRED_API_KEY), 0);
	free(buf);
	provauth_account_free(a);
	provauth_account_free(t);
}

/* A failed decode must leave the target exactly as it was. */
static int target_untouched(const provauth_account *t)
{
	return PA_CRED(t, PASSWORD) && strcmp(PA_CRED(t, PASSWORD), "sentinel") == 0 &&
	       pa_test_count(t, PROVAUTH_CRED_COOKIE) == 1 &&
	       pa_streq(provauth_account_credential(t, PROVAUTH_CRED_COOKIE, "old"), "cookie") && !PA_CRED(t, JWT) &&
	       pa_test_count(t, PROVAUTH_CRED_API_KEY) == 0;
}

static void expect_refused(const unsigned char *bytes, size_t len, const char *why)
{
	provauth_account *t = target_account();
	unsigned char *copy = malloc(len ? len : 1);

	if (len)
		memcpy(copy, bytes, len);
	CU_ASSERT_EQUAL(pa_record_decode(t, copy, len), PROVAUTH_ESTORE);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), why));
	CU_ASSERT(target_untouched(t));
	free(copy);
	provauth_account_free(t);
}

static void test_record_rejects_malformed(void)
{
	static const unsigned char version3[] = { 3 };
	static const unsigned char unknown_tag[] = { 1, 9, 0, 0, 0, 0 };
	static const unsigned char nul_inside[] = { 1, 1, 0, 0, 0, 3, 'a', 0, 'b' };
	static const unsigned char repeated[] = { 1, 1, 0, 0, 0, 1, 'a', 1, 0, 0, 0, 1, 'b' };
	static const unsigned char huge[] = { 1, 2, 0xff, 0xff, 0xff, 0xff, 'x' };
	static const unsigned char short_len[] = { 1, 3, 0, 0 };
	static const unsigned char cookie_no_value[] = { 1, 5, 0, 0, 0, 1, 'n' };

	expect_refused(NULL, 0, "empty");
	expect_refused(version3, sizeof(version3), "unknown format version 3");
	expect_refused(unknown_tag, sizeof(unknown_tag), "unknown field tag");
	expect_refused(nul_inside, sizeof(nul_inside), "NUL byte");
	expect_refused(repeated, sizeof(repeated), "repeated field");
	expect_refused(huge, sizeof(huge), "truncated value");
	expect_refused(short_len, sizeof(short_len), "truncated length");
	expect_refused(cookie_no_value, sizeof(cookie_no_value), "truncated length");
}

/* Version 2 entries: u32 lengths of kind, name and value, then an 8-byte expiry. */
#define V2_STR(n) 0, 0, 0, n
#define V2_NO_EXPIRY 0, 0, 0, 0, 0, 0, 0, 0

static void test_record_v2_rejects_malformed(void)
{
	static const unsigned char no_kind[] = { 2, V2_STR(0), V2_STR(0), V2_STR(1), 's', V2_NO_EXPIRY };
	static const unsigned char named_single[] = { 2, V2_STR(3), 'j', 'w', 't', V2_STR(1), 'x', V2_STR(1), 's',
	                                              V2_NO_EXPIRY };
	static const unsigned char repeated[] = { 2, V2_STR(3), 'j', 'w', 't', V2_STR(0), V2_STR(1), 'a', V2_NO_EXPIRY,
	                                          V2_STR(3), 'j', 'w', 't', V2_STR(0), V2_STR(1), 'b', V2_NO_EXPIRY };
	static const unsigned char short_expiry[] = { 2, V2_STR(3), 'j', 'w', 't', V2_STR(0), V2_STR(1), 'a', 0, 0 };
	static const unsigned char nul_in_kind[] = { 2, V2_STR(2), 'j', 0, V2_STR(0), V2_STR(0), V2_NO_EXPIRY };

	expect_refused(no_kind, sizeof(no_kind), "a credential without a kind at byte 1");
	expect_refused(named_single, sizeof(named_single), "a name on a single-valued credential");
	expect_refused(repeated, sizeof(repeated), "repeated field");
	expect_refused(short_expiry, sizeof(short_expiry), "truncated expiry");
	expect_refused(nul_in_kind, sizeof(nul_in_kind), "NUL byte");
}

/*
 * A record written before version 2 (fixed tags) decodes to the same
 * credentials. It has no expiries: the sqlite store takes the access
 * token's from its row (test_store's "version 1 rows").
 */
static void test_record_reads_version1(void)
{
	static const unsigned char v1[] = {
		1,
		1, V2_STR(2), 'p', 'w',                       /* password */
		2, V2_STR(3), 'j', '.', 't',                  /* jwt */
		3, V2_STR(2), 'r', 't',                       /* refresh token */
		4, V2_STR(2), 'a', 't',                       /* access token */
		5, V2_STR(3), 's', 'i', 'd', V2_STR(1), 'c',  /* cookie sid=c */
		5, V2_STR(1), 'e', V2_STR(0),                 /* cookie e= */
		6, V2_STR(7), 'o', 'p', 'e', 'n', 'a', 'p', 'i', V2_STR(1), 'k'  /* API key openapi */
	};
	provauth_account *t = target_account(), *again = target_account();
	unsigned char *buf;
	size_t len;

	CU_ASSERT_FATAL(t && again);
	CU_ASSERT_EQUAL_FATAL(pa_record_decode(t, v1, sizeof(v1)), 0);
	CU_ASSERT_STRING_EQUAL(PA_CRED(t, PASSWORD), "pw");
	CU_ASSERT_STRING_EQUAL(PA_CRED(t, JWT), "j.t");
	CU_ASSERT_STRING_EQUAL(PA_CRED(t, REFRESH_TOKEN), "rt");
	CU_ASSERT_STRING_EQUAL(PA_CRED(t, ACCESS_TOKEN), "at");
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(t, ACCESS_TOKEN), 0);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(t, PROVAUTH_CRED_COOKIE, "sid"), "c");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(t, PROVAUTH_CRED_COOKIE, "e"), "");
	CU_ASSERT_PTR_NULL(provauth_account_credential(t, PROVAUTH_CRED_COOKIE, "old"));
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(t, PROVAUTH_CRED_API_KEY, "openapi"), "k");
	CU_ASSERT_EQUAL(provauth_account_credential_count(t), 7);
	/* Written again it is version 2, expiry included, and reads back the same. */
	CU_ASSERT_EQUAL_FATAL(pa_record_encode(&buf, &len, t), 0);
	CU_ASSERT_EQUAL(buf[0], PA_RECORD_VERSION);
	CU_ASSERT_EQUAL_FATAL(pa_record_decode(again, buf, len), 0);
	CU_ASSERT(pa_account_same_credentials(t, again));
	free(buf);
	provauth_account_free(t);
	provauth_account_free(again);
}

/* Version 2 carries each expiry itself, and kinds the core does not know. */
static void test_record_v2_expiry(void)
{
	provauth_account *a = full_account(), *t = target_account();
	unsigned char *buf;
	size_t len;

	CU_ASSERT_FATAL(a && t);
	CU_ASSERT_EQUAL_FATAL(provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at", 4102444800), 0);
	/* A provider's own kind is kept too. */
	CU_ASSERT_EQUAL_FATAL(provauth_account_set_credential(a, "device_key", "phone", "dk", 7), 0);
	CU_ASSERT_EQUAL_FATAL(pa_record_encode(&buf, &len, a), 0);
	CU_ASSERT_EQUAL_FATAL(pa_record_decode(t, buf, len), 0);
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(t, ACCESS_TOKEN), 4102444800);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(t, "device_key", "phone"), "dk");
	CU_ASSERT_EQUAL(provauth_account_credential_expires(t, "device_key", "phone"), 7);
	CU_ASSERT(pa_account_same_credentials(a, t));
	free(buf);
	provauth_account_free(a);
	provauth_account_free(t);
}

static void test_record_truncations(void)
{
	provauth_account *a = full_account();
	unsigned char *buf;
	size_t len, n;
	int accepted = 0;

	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL_FATAL(pa_record_encode(&buf, &len, a), 0);
	/* Prefixes ending between entries are valid (shorter) records; any other cut must be refused cleanly. */
	for (n = 0; n < len; n++) {
		provauth_account *t = target_account();
		unsigned char *cut = malloc(n ? n : 1);
		memcpy(cut, buf, n);
		if (pa_record_decode(t, cut, n) == 0)
			accepted++;
		else
			CU_ASSERT(target_untouched(t));
		free(cut);
		provauth_account_free(t);
	}
	/* Version byte alone plus one prefix per entry but the last (4 scalars + 2 cookies + 2 keys). */
	CU_ASSERT_EQUAL(accepted, 8);
	free(buf);
	provauth_account_free(a);
}

static void test_record_fuzz(void)
{
	provauth_account *a = full_account();
	unsigned char *valid, *buf;
	size_t valid_len;
	int i, ok = 0, refused = 0;

	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL_FATAL(pa_record_encode(&valid, &valid_len, a), 0);
	for (i = 0; i < 6000; i++) {
		provauth_account *t = target_account();
		size_t n;
		int rc;

		if (i % 2) {
			/* Mutations of a valid record reach deeper than pure noise. */
			n = valid_len;
			buf = malloc(n);
			memcpy(buf, valid, n);
			buf[rnd() % n] = (unsigned char)rnd();
			if (i % 3 == 0)
				buf[rnd() % n] = (unsigned char)rnd();
			if (i % 5 == 0)
				n = rnd() % n;
		} else {
			n = rnd() % 64;
			buf = malloc(n ? n : 1);
			RAND_bytes(buf, (int)(n ? n : 1));
			if (n)
				buf[0] = PA_RECORD_VERSION;
		}
		rc = pa_record_decode(t, buf, n);
		if (rc == 0)
			ok++;
		else if (rc == PROVAUTH_ESTORE && target_untouched(t))
			refused++;
		free(buf);
		provauth_account_free(t);
	}
	CU_ASSERT_EQUAL(ok + refused, 6000);
	CU_ASSERT(refused > 0);
	free(valid);
	provauth_account_free(a);
}

static void test_record_encode_refuses_nameless_cookie(void)
{
	provauth_account *a = full_account();
	unsigned char *buf = NULL;
	size_t len;
	provauth_credential *cookie;
	const char *name;

	CU_ASSERT_FATAL(a != NULL);
	/* Only the account room writes credentials; a test breaking one on purpose may too. */
	cookie = (provauth_credential *)pa_test_nth(a, PROVAUTH_CRED_COOKIE, 0);
	name = cookie->name;
	cookie->name = NULL;
	CU_ASSERT_EQUAL(pa_record_encode(&buf, &len, a), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(buf);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "acct-1"));
	cookie->name = name;
	provauth_account_free(a);
}

int main(int argc, char **argv)
{
	static const pa_test seal_tests[] = {
		{ "round trip", test_seal_round_trip },
		{ "empty plaintext", test_seal_empty },
		{ "wrong associated data or key", test_seal_wrong_ad_or_key },
		{ "tampered blob", test_seal_tampered },
		{ "truncated blob", test_seal_truncated },
		{ "random garbage", test_seal_garbage },
		PA_TEST_END
	};
	static const pa_test record_tests[] = {
		{ "round trip", test_record_round_trip },
		{ "no secrets", test_record_no_secrets },
		{ "malformed records", test_record_rejects_malformed },
		{ "malformed version 2 records", test_record_v2_rejects_malformed },
		{ "reads version 1", test_record_reads_version1 },
		{ "version 2 keeps the expiry", test_record_v2_expiry },
		{ "truncations", test_record_truncations },
		{ "fuzz", test_record_fuzz },
		{ "nameless cookie", test_record_encode_refuses_nameless_cookie },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "seal", init_key, NULL, seal_tests },
		{ "record", NULL, NULL, record_tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
