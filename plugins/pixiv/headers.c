/*
 * pixiv's token endpoint checks two headers: X-Client-Time, an RFC 3339 time
 * with an explicit offset, and X-Client-Hash, the MD5 of that exact text
 * followed by the app's hash secret. A unix timestamp, or a time without an
 * offset, is refused with access_denied, so the format is fixed here.
 */
#include <string.h>
#include <time.h>
#include "pixiv.h"

/* 9999-12-31T23:59:59: beyond it %Y would print five digits. */
#define PIXIV_TIME_MAX INT64_C(253402300799)

int pixiv_format_client_time(char out[PIXIV_TIME_LEN], int64_t unix_seconds)
{
	time_t t;
	struct tm tm;

	out[0] = '\0';
	if (unix_seconds < 0 || unix_seconds > PIXIV_TIME_MAX)
		return PROVAUTH_EINVAL;
	t = (time_t)unix_seconds;
	if (!gmtime_r(&t, &tm))
		return PROVAUTH_EINVAL;
	if (strftime(out, PIXIV_TIME_LEN, "%Y-%m-%dT%H:%M:%S+00:00", &tm) == 0)
		return PROVAUTH_EINVAL;
	return 0;
}

int pixiv_client_hash(const provauth_host *h, char out[PIXIV_HASH_LEN], const char *client_time,
                      const char *hash_secret)
{
	size_t tlen = strlen(client_time), slen = strlen(hash_secret);
	char buf[PIXIV_TIME_LEN + 256];
	int rc;

	out[0] = '\0';
	if (tlen >= PIXIV_TIME_LEN || slen > sizeof(buf) - PIXIV_TIME_LEN)
		return h->set_error(h, PROVAUTH_ECONFIG, "pixiv: providers.pixiv.hash_secret is longer than %zu bytes",
		                    sizeof(buf) - PIXIV_TIME_LEN);
	memcpy(buf, client_time, tlen);
	memcpy(buf + tlen, hash_secret, slen);
	rc = h->digest_hex(h, "md5", buf, tlen + slen, out, PIXIV_HASH_LEN);
	provauth_plugin_wipe(buf, sizeof(buf)); /* it held the hash secret */
	return rc;
}
