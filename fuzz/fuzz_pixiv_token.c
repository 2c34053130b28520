/*
 * The pixiv token reply parser (plugins/pixiv/token.c) and the refresh
 * grant around it (refresh.c), over the stub HTTP service.
 *
 * Input: the token endpoint's reply body.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"
#include "pixiv_common.h"

static int visible(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static void check_token(const pixiv_token *t)
{
	const char *p;

	PA_FUZZ_CHECK(visible(t->access_token) && strlen(t->access_token) <= 8192);
	PA_FUZZ_CHECK(t->expires_in > 0 && t->expires_in <= INT64_C(315360000));
	PA_FUZZ_CHECK(!t->refresh_token || visible(t->refresh_token));
	if (t->user_id) {
		PA_FUZZ_CHECK(*t->user_id && strlen(t->user_id) <= 20);
		for (p = t->user_id; *p; p++)
			PA_FUZZ_CHECK(*p >= '0' && *p <= '9');
	}
}

static void check_cleared(const pixiv_token *t)
{
	PA_FUZZ_CHECK(!t->access_token && !t->refresh_token && !t->user_id && !t->user_name && !t->account &&
	              !t->mail_address && t->expires_in == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 400, 401, 403, 429, 500, 503 };
	const provauth_host *h = pa_fuzz_host();
	pixiv_state st;
	pixiv_token t;
	size_t i;
	int rc;

	pa_fuzz_pixiv_state(&st, h);
	provauth_error_clear();
	rc = pixiv_token_parse(h, &t, "fuzz-who", (const char *)data, size);
	if (rc == 0) {
		check_token(&t);
	} else {
		PA_FUZZ_CHECK(rc == PROVAUTH_EPROTOCOL || rc == PROVAUTH_ENOMEM);
		PA_FUZZ_CHECK(strstr(provauth_last_error(), "fuzz-who") != NULL);
		check_cleared(&t);
	}
	pixiv_token_clear(&t);

	/* The same body as the endpoint's answer, with each status the grant tells apart. */
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		int standard = (int)(i & 1);
		pa_fuzz_reply(statuses[i], "Retry-After: 7", (const char *)data, size);
		pa_fuzz_log_reset();
		provauth_error_clear();
		st.standard_oauth = standard;
		rc = pixiv_refresh_grant(&st, &t, "account fuzz", PA_FUZZ_PIXIV_REFRESH, standard ? NULL : "dev-tok");
		PA_FUZZ_CHECK(pa_fuzz_requests() == 1);
		if (rc == 0) {
			PA_FUZZ_CHECK(statuses[i] == 200);
			check_token(&t);
		} else {
			PA_FUZZ_CHECK(pa_fuzz_known_code(rc));
			check_cleared(&t);
			pa_fuzz_no_secret(PA_FUZZ_PIXIV_REFRESH, NULL, data, size);
			pa_fuzz_no_secret(PIXIV_DEFAULT_CLIENT_SECRET, NULL, data, size);
			pa_fuzz_no_secret(PIXIV_DEFAULT_HASH_SECRET, NULL, data, size);
		}
		pixiv_token_clear(&t);
	}
	return 0;
}
