/* The pixiv state both pixiv targets run with: the plugin's defaults, no retries (no sleeping). */
#ifndef PA_FUZZ_PIXIV_COMMON_H
#define PA_FUZZ_PIXIV_COMMON_H

#include <string.h>
#include "pixiv.h"

#define PA_FUZZ_PIXIV_REFRESH "FzRefresh-secret-8812"

static inline void pa_fuzz_pixiv_state(pixiv_state *st, const provauth_host *h)
{
	memset(st, 0, sizeof(*st));
	st->host = h;
	st->token_url = "https://oauth.pixiv.invalid/auth/token";
	st->api_base_url = "https://app-api.pixiv.invalid";
	st->client_id = PIXIV_DEFAULT_CLIENT_ID;
	st->client_secret = PIXIV_DEFAULT_CLIENT_SECRET;
	st->hash_secret = PIXIV_DEFAULT_HASH_SECRET;
	st->user_agent = PIXIV_DEFAULT_USER_AGENT;
	st->app_os = PIXIV_DEFAULT_APP_OS;
	st->app_os_version = PIXIV_DEFAULT_APP_OS_VERSION;
	st->rate_limit_wait = 60;
	st->retry_max = 0;
	st->retry_base_ms = 1;
	st->retry_max_ms = 1;
}

#endif
