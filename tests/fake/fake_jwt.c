/*
 * Base64url and HS256 JWTs for the fakes, written independently of the
 * provauth core so that a bug there cannot hide here.
 */
#include "config.h"
#include "fake_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *fake_b64url_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = malloc(len / 3 * 4 + 5), *p = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*p++ = b64url_alphabet[v >> 18 & 63];
		*p++ = b64url_alphabet[v >> 12 & 63];
		*p++ = b64url_alphabet[v >> 6 & 63];
		*p++ = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*p++ = b64url_alphabet[v >> 18 & 63];
		*p++ = b64url_alphabet[v >> 12 & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*p++ = b64url_alphabet[v >> 18 & 63];
		*p++ = b64url_alphabet[v >> 12 & 63];
		*p++ = b64url_alphabet[v >> 6 & 63];
	}
	*p = '\0';
	return out;
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int fake_b64url_decode(unsigned char **out, size_t *outlen, const char *in, size_t inlen)
{
	unsigned char *buf;
	size_t i, n = 0;
	uint32_t acc = 0;
	int bits = 0;

	*out = NULL;
	*outlen = 0;
	while (inlen > 0 && in[inlen - 1] == '=')
		inlen--;
	if (inlen % 4 == 1)
		return -1;
	buf = malloc(inlen / 4 * 3 + 4);
	if (!buf)
		return -1;
	for (i = 0; i < inlen; i++) {
		int v = b64url_value(in[i]);

		if (v < 0) {
			free(buf);
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

static int hs256(unsigned char mac[32], const unsigned char *key, size_t keylen,
	const char *data, size_t len)
{
	unsigned int maclen = 0;

	if (keylen > INT32_MAX ||
	    !HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, len,
		  mac, &maclen) || maclen != 32)
		return -1;
	return 0;
}

char *fake_jwt_sign(const unsigned char *key, size_t keylen,
	const char *header_json, const char *payload_json)
{
	char *h = fake_b64url_encode(header_json, strlen(header_json));
	char *p = fake_b64url_encode(payload_json, strlen(payload_json));
	char *input = NULL, *sig = NULL, *token = NULL;
	unsigned char mac[32];
	size_t len;

	if (!h || !p)
		goto out;
	len = strlen(h) + 1 + strlen(p);
	input = malloc(len + 1);
	if (!input)
		goto out;
	snprintf(input, len + 1, "%s.%s", h, p);
	if (hs256(mac, key, keylen, input, len) < 0)
		goto out;
	sig = fake_b64url_encode(mac, sizeof(mac));
	if (!sig)
		goto out;
	token = malloc(len + 1 + strlen(sig) + 1);
	if (token)
		sprintf(token, "%s.%s", input, sig);
out:
	free(h);
	free(p);
	free(input);
	free(sig);
	return token;
}

static json_object *decode_part(const char *part, size_t len)
{
	unsigned char *raw;
	size_t rawlen;
	json_object *obj;

	if (len == 0 || fake_b64url_decode(&raw, &rawlen, part, len) < 0)
		return NULL;
	obj = strlen((char *)raw) == rawlen ? fake_json_parse((char *)raw, rawlen) : NULL;
	free(raw);
	if (obj && !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		obj = NULL;
	}
	return obj;
}

int fake_jwt_decode(json_object **header, json_object **payload,
	const unsigned char *key, size_t keylen, const char *token)
{
	const char *dot1, *dot2;
	unsigned char mac[32], *sig = NULL;
	size_t siglen = 0;
	int rc = FAKE_JWT_OK;

	*header = *payload = NULL;
	if (!token || !(dot1 = strchr(token, '.')) || !(dot2 = strchr(dot1 + 1, '.')) ||
	    strchr(dot2 + 1, '.'))
		return FAKE_JWT_MALFORMED;
	*header = decode_part(token, (size_t)(dot1 - token));
	*payload = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (!*header || !*payload) {
		json_object_put(*header);
		json_object_put(*payload);
		*header = *payload = NULL;
		return FAKE_JWT_MALFORMED;
	}
	if (hs256(mac, key, keylen, token, (size_t)(dot2 - token)) < 0 ||
	    fake_b64url_decode(&sig, &siglen, dot2 + 1, strlen(dot2 + 1)) < 0 ||
	    siglen != sizeof(mac) || CRYPTO_memcmp(sig, mac, sizeof(mac)) != 0)
		rc = FAKE_JWT_BAD_SIGNATURE;
	free(sig);
	return rc;
}

