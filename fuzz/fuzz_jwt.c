/*
 * Pixverse JWT payload decoding (plugins/pixverse/jwt.c).
 *
 * Input: a token. When it has no '.', the input is taken as a payload
 * instead and wrapped into a token here, which checks the decode side
 * against the host's own JSON parse of the same bytes (a round trip).
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"
#include "pixverse.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* "header.<base64url(payload)>.sig", unpadded like real tokens. */
static char *wrap(const unsigned char *p, size_t n)
{
	static const char head[] = "eyJhbGciOiJIUzI1NiJ9.";
	char *t = malloc(sizeof(head) + n * 4 / 3 + 16), *o;
	size_t i;

	if (!t)
		pa_fuzz_fail("out of memory");
	memcpy(t, head, sizeof(head) - 1);
	o = t + sizeof(head) - 1;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = b64url[p[i] >> 2];
		*o++ = b64url[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = b64url[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		*o++ = b64url[p[i + 2] & 63];
	}
	if (n - i == 1) {
		*o++ = b64url[p[i] >> 2];
		*o++ = b64url[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		*o++ = b64url[p[i] >> 2];
		*o++ = b64url[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = b64url[(p[i + 1] & 15) << 2];
	}
	strcpy(o, ".c2ln");
	return t;
}

static void check_token(const provauth_host *h, const char *token)
{
	provauth_json *payload = pv_jwt_payload(h, token);
	int64_t exp = 0;
	int rc = pv_jwt_expiry(h, token, &exp);

	if (payload) {
		PA_FUZZ_CHECK(h->json_type(payload) == PROVAUTH_JSON_OBJECT);
		h->json_free(payload);
	} else {
		PA_FUZZ_CHECK(rc == PROVAUTH_EINVAL);
	}
	PA_FUZZ_CHECK(rc == 0 || rc == PROVAUTH_EINVAL);
	if (rc < 0) {
		PA_FUZZ_CHECK(pv_jwt_needs_refresh(h, token, 0, 0) == 1);
		return;
	}
	/* An expiry is stale at its own instant and fresh one second before (threshold 0). */
	if (exp > INT64_MIN + 1 && exp < INT64_MAX) {
		PA_FUZZ_CHECK(pv_jwt_needs_refresh(h, token, exp, 0) == 1);
		PA_FUZZ_CHECK(pv_jwt_needs_refresh(h, token, exp - 1, 0) == 0);
	}
	/* No threshold or clock may overflow into "fresh". */
	PA_FUZZ_CHECK(pv_jwt_needs_refresh(h, token, INT64_MAX, INT64_MAX) == 1);
	(void)pv_jwt_needs_refresh(h, token, INT64_MIN, INT64_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const provauth_host *h = pa_fuzz_host();
	char *text = pa_fuzz_cstr(data, size);

	if (!strchr(text, '.') && size > 0) {
		char *token = wrap(data, size);
		provauth_json *direct = h->json_parse((const char *)data, size);
		provauth_json *decoded = pv_jwt_payload(h, token);

		/* The token decodes to exactly what the bytes parse to, when that is an object. */
		if (direct && h->json_type(direct) == PROVAUTH_JSON_OBJECT && size <= 12000) {
			char *a = h->json_serialize(direct), *b;
			PA_FUZZ_CHECK(decoded != NULL);
			b = h->json_serialize(decoded);
			PA_FUZZ_CHECK(a && b && strcmp(a, b) == 0);
			free(a);
			free(b);
		} else if (!direct || h->json_type(direct) != PROVAUTH_JSON_OBJECT) {
			PA_FUZZ_CHECK(decoded == NULL);
		}
		if (direct)
			h->json_free(direct);
		if (decoded)
			h->json_free(decoded);
		check_token(h, token);
		free(token);
	}
	check_token(h, text);
	free(text);
	return 0;
}
