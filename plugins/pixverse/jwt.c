/*
 * The web JWT: only its payload matters here (the signature is the
 * service's to check). Pixverse payloads are {AccountId, ExpireTime,
 * Username}; standard tokens carry `exp`. Either is accepted.
 */
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

/* Longer "tokens" are not ours: refuse them before decoding anything. */
#define PV_JWT_MAX 16384
/* An expiry this large is in milliseconds, not seconds (year 5138 in seconds). */
#define PV_MS_THRESHOLD 100000000000LL

provauth_json *pv_jwt_payload(const provauth_host *h, const char *token)
{
	const char *p, *end;
	unsigned char *raw = NULL;
	size_t raw_len = 0, len;
	provauth_json *json;

	if (!token || (len = strlen(token)) == 0 || len > PV_JWT_MAX)
		return NULL;
	if (!(p = strchr(token, '.')))
		return NULL;
	p++;
	end = strchr(p, '.');
	if (!end)
		end = token + len;
	if (end == p)
		return NULL;
	if (h->base64_decode(h, p, (size_t)(end - p), &raw, &raw_len) < 0 || !raw)
		return NULL;
	json = h->json_parse((const char *)raw, raw_len);
	h->free(h, raw);
	if (json && h->json_type(json) != PROVAUTH_JSON_OBJECT) {
		h->json_free(json);
		json = NULL;
	}
	return json;
}

static int claim_time(const provauth_host *h, const provauth_json *payload, const char *key, int64_t *out)
{
	const provauth_json *v = h->json_get(payload, key);
	int64_t t;

	if (!v || h->json_int(v, &t) < 0)
		return -1;
	if (t >= PV_MS_THRESHOLD)
		t /= 1000;
	*out = t;
	return 0;
}

int pv_jwt_expiry(const provauth_host *h, const char *token, int64_t *out)
{
	provauth_json *payload = pv_jwt_payload(h, token);
	int rc = PROVAUTH_EINVAL;

	if (!payload)
		return PROVAUTH_EINVAL;
	if (claim_time(h, payload, "exp", out) == 0 || claim_time(h, payload, "ExpireTime", out) == 0)
		rc = 0;
	h->json_free(payload);
	return rc;
}

int pv_jwt_needs_refresh(const provauth_host *h, const char *token, int64_t now, int64_t threshold)
{
	int64_t exp;

	if (!token || !*token || pv_jwt_expiry(h, token, &exp) < 0)
		return 1;
	if (threshold < 0)
		threshold = 0;
	/* exp <= now + threshold, without overflowing near INT64_MAX */
	if (now > INT64_MAX - threshold)
		return 1;
	return exp <= now + threshold;
}
