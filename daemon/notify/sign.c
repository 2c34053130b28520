/*
 * What a receiver checks: the signature over timestamp and body (the
 * timestamp inside the signed text, so an old delivery replayed with a new
 * timestamp does not verify), the delivery id it deduplicates on, and the
 * body itself.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "notify.h"

int pad_webhook_sign(char out[65], const char *secret, int64_t timestamp, const char *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0, i;
	char *text;
	int n;

	out[0] = '\0';
	if (!secret || !body || len > (1u << 30))
		return PROVAUTH_ERROR;
	/* One buffer: the one-shot HMAC() is the API OpenSSL 3 keeps. */
	if (!(text = malloc(len + 32)))
		return PROVAUTH_ENOMEM;
	n = snprintf(text, 32, "%lld.", (long long)timestamp);
	memcpy(text + n, body, len);
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)text, (size_t)n + len, mac,
	          &maclen) || maclen != 32) {
		free(text);
		return PROVAUTH_ERROR;
	}
	free(text);
	for (i = 0; i < maclen; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

int pad_delivery_id(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return PROVAUTH_ERROR;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4: random */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
	         b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

char *pad_webhook_body(const char *id, const char *event, const char *account_id, const char *provider,
                       const char *reason, const char *message, int64_t at)
{
	json_object *o = json_object_new_object();
	char *out;

	if (!o)
		return NULL;
	add_str(o, "id", id);
	add_str(o, "event", event);
	add_str(o, "account_id", account_id);
	add_str(o, "provider", provider);
	add_str(o, "reason", reason);
	add_str(o, "message", message);
	json_object_object_add(o, "at", json_object_new_int64(at));
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}
