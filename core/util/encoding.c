/* Randomness, digests and text encodings the host offers plugins. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "internal.h"

int pa_random_bytes(unsigned char *buf, size_t len)
{
	if (len > 0x7fffffff || RAND_bytes(buf, (int)len) != 1)
		return pa_error_set(PROVAUTH_ERROR, "random number generator failed");
	return 0;
}

int pa_uuid4(char out[37])
{
	unsigned char b[16];
	int rc;

	if ((rc = pa_random_bytes(b, sizeof(b))) < 0)
		return rc;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '-') return 62;
	if (c == '/' || c == '_') return 63;
	return -1;
}

/* Accepts both alphabets, with or without padding: JWT segments are unpadded base64url. */
int pa_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
	unsigned char *buf;
	size_t n = 0, i;
	uint32_t acc = 0;
	int bits = 0;

	*out = NULL;
	*out_len = 0;
	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return pa_error_set(PROVAUTH_EINVAL, "base64: truncated input");
	if (!(buf = malloc(len / 4 * 3 + 3)))
		return pa_error_oom();
	for (i = 0; i < len; i++) {
		int v = b64_value((unsigned char)in[i]);
		if (v < 0) {
			free(buf);
			return pa_error_set(PROVAUTH_EINVAL, "base64: invalid character at offset %zu", i);
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
		}
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
}

int pa_digest_hex(const char *alg, const void *data, size_t len, char *out, size_t out_size)
{
	const EVP_MD *md = NULL;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0, i;

	if (alg && strcmp(alg, "md5") == 0)
		md = EVP_md5();
	else if (alg && strcmp(alg, "sha256") == 0)
		md = EVP_sha256();
	if (!md)
		return pa_error_set(PROVAUTH_EINVAL, "digest: unsupported algorithm '%s'", alg ? alg : "(null)");
	if (out_size < (size_t)EVP_MD_size(md) * 2 + 1)
		return pa_error_set(PROVAUTH_EINVAL, "digest: output buffer too small for %s", alg);
	if (EVP_Digest(data, len, digest, &dlen, md, NULL) != 1)
		return pa_error_set(PROVAUTH_ERROR, "digest: %s failed", alg);
	for (i = 0; i < dlen; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

/* NULL in, NULL out: plugins pass optional values straight through. */
char *pa_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n, i, o = 0;
	char *out;

	if (!s)
		return NULL;
	n = strlen(s);
	if (!(out = malloc(n * 3 + 1)))
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}
