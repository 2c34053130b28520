/*
 * pixiv's failure handling (plugins/pixiv/classify.c and the token
 * endpoint's error recognition in token.c).
 *
 * Input: byte 0 picks the HTTP status, byte 1 the Retry-After seconds
 * (255: none), the rest is the reply body.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"
#include "pixiv_common.h"

static const long statuses[16] = { 400, 400, 401, 403, 404, 429, 500, 502, 503, 200, 201, 302, 418, 0, 600, -1 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const provauth_host *h = pa_fuzz_host();
	pixiv_state st;
	provauth_failure f;
	provauth_outcome o;
	pixiv_token_error kind;
	char code[48];
	const char *body;
	size_t body_len, i;
	long status, ra;

	if (size < 2)
		return 0;
	status = statuses[data[0] % 16];
	ra = data[1] == 255 ? -1 : data[1];
	body = (const char *)data + 2;
	body_len = size - 2;
	pa_fuzz_pixiv_state(&st, h);

	memset(&f, 0, sizeof(f));
	PA_FUZZ_CHECK(provauth_failure_set_http(&f, status, body, body_len, ra) == 0);
	f.code = status == 429 ? PROVAUTH_ERATELIMIT : PROVAUTH_EHTTP;
	pa_fuzz_outcome_init(&o, &f);
	PA_FUZZ_CHECK(pixiv_classify_error(&st, &f, &o) == 0);
	pa_fuzz_check_outcome(&o);
	if (status == 429)
		PA_FUZZ_CHECK(o.result == PROVAUTH_ERATELIMIT && o.retry_after == (ra >= 0 ? ra : 60));
	/* A rate limit is never a session error: refreshing would only add load. */
	if (o.result == PROVAUTH_ERATELIMIT)
		PA_FUZZ_CHECK(!o.is_session_error);
	provauth_failure_clear(&f);

	/* The body as a transport or message failure: never a session error. */
	memset(&f, 0, sizeof(f));
	PA_FUZZ_CHECK(provauth_failure_set_transport(&f, PROVAUTH_ENETWORK, "fuzz") == 0);
	pa_fuzz_outcome_init(&o, &f);
	PA_FUZZ_CHECK(pixiv_classify_error(&st, &f, &o) == 0);
	pa_fuzz_check_outcome(&o);
	PA_FUZZ_CHECK(!o.is_session_error && o.result == PROVAUTH_ENETWORK);
	provauth_failure_clear(&f);

	kind = pixiv_token_error_parse(h, status, body, body_len, code, sizeof(code));
	PA_FUZZ_CHECK(kind >= PIXIV_TERR_UNKNOWN && kind <= PIXIV_TERR_OTHER);
	PA_FUZZ_CHECK(memchr(code, '\0', sizeof(code)) != NULL);
	for (i = 0; code[i]; i++)
		PA_FUZZ_CHECK((code[i] >= 'a' && code[i] <= 'z') || (code[i] >= 'A' && code[i] <= 'Z') ||
		              (code[i] >= '0' && code[i] <= '9') || code[i] == '_' || code[i] == '-' || code[i] == '.');
	if (kind == PIXIV_TERR_OTHER)
		PA_FUZZ_CHECK(code[0] != '\0');
	if (status == 429)
		PA_FUZZ_CHECK(kind != PIXIV_TERR_UNKNOWN && kind != PIXIV_TERR_OTHER);
	/* Without room for the code the kind is the same, minus OTHER (which needs the code). */
	{
		pixiv_token_error k2 = pixiv_token_error_parse(h, status, body, body_len, NULL, 0);
		PA_FUZZ_CHECK(k2 == kind || (kind == PIXIV_TERR_OTHER && k2 == PIXIV_TERR_UNKNOWN));
	}
	return 0;
}
