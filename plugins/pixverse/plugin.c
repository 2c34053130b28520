/*
 * The Pixverse provider: its description, settings and lifecycle. Every URL
 * is a setting, so tests (and a relocated service) point the plugin
 * anywhere without rebuilding it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

#define PV_DEFAULT_BASE_URL "https://app-api.pixverse.ai"
#define PV_DEFAULT_WEB_ORIGIN "https://app.pixverse.ai"
#define PV_DEFAULT_OPENAPI_BASE_URL "https://app-api.pixverse.ai"
/* What the web app's own requests look like; replies can differ for unknown clients. */
#define PV_DEFAULT_USER_AGENT \
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
	"Chrome/124.0.0.0 Safari/537.36"
/* Tokens last about 30 days; renewing half a day ahead avoids mid-operation expiry. */
#define PV_DEFAULT_JWT_THRESHOLD 43200
#define PV_MAX_JWT_THRESHOLD (30 * 86400)

static const char *const setting_keys[] = {
	"base_url", "web_origin", "openapi_base_url", "user_agent", "jwt_refresh_threshold", NULL
};

static void state_free(pv_state *st)
{
	const provauth_host *h;

	if (!st)
		return;
	h = st->host;
	h->free(h, st->base_url);
	h->free(h, st->web_origin);
	h->free(h, st->openapi_base_url);
	h->free(h, st->user_agent);
	free(st);
}

static int pv_init(void **state, const provauth_host *h, const provauth_setting *settings)
{
	pv_state *st;
	const char *ua = NULL;
	int rc;

	*state = NULL;
	if (!(st = calloc(1, sizeof(*st))))
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
	st->host = h;
	if ((rc = provauth_plugin_setting_url(h, settings, PV_ID, "base_url", PV_DEFAULT_BASE_URL, &st->base_url)) < 0 ||
	    (rc = provauth_plugin_setting_url(h, settings, PV_ID, "web_origin", PV_DEFAULT_WEB_ORIGIN,
	                                      &st->web_origin)) < 0 ||
	    (rc = provauth_plugin_setting_url(h, settings, PV_ID, "openapi_base_url", PV_DEFAULT_OPENAPI_BASE_URL,
	                                      &st->openapi_base_url)) < 0 ||
	    (rc = h->setting_int(h, settings, "jwt_refresh_threshold", PV_DEFAULT_JWT_THRESHOLD, 0, PV_MAX_JWT_THRESHOLD,
	                         &st->jwt_refresh_threshold)) < 0 ||
	    (rc = h->setting_string(h, settings, "user_agent", PV_DEFAULT_USER_AGENT, &ua)) < 0)
		goto fail;
	if (!ua || !*ua || !provauth_plugin_text_ok(ua)) {
		rc = provauth_plugin_setting_fail(h, settings, PV_ID, "user_agent", "must be non-empty text on one line");
		goto fail;
	}
	if (!(st->user_agent = provauth_plugin_strdup(h, ua))) {
		rc = h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
		goto fail;
	}
	*state = st;
	return 0;
fail:
	state_free(st);
	return rc;
}

static void pv_fini(void *state)
{
	state_free(state);
}

static const provauth_import_kind import_kinds[] = {
	{ "cookies", "browser cookies with _ai_token: a Cookie header, a JSON object, a browser export, or the "
	             "extension's {cookies, jwt_token, session_ids}" },
	{ "google_id_token", "a Google ID token from Google Sign-In for app.pixverse.ai, exchanged for a session; the "
	                     "account then signs in with Google" },
	{ NULL, NULL },
};

static const provauth_provider provider = {
	PROVAUTH_PLUGIN_ABI_MAJOR,
	PROVAUTH_PLUGIN_ABI_MINOR,
	sizeof(provauth_provider),
	PV_ID,
	"Pixverse web API: JWT + cookie sessions, password login, cookie refresh and import; generation jobs",
	"1.1.0",
	setting_keys,
	pv_init,
	pv_fini,
	pv_build_session,
	pv_session_data_free,
	pv_classify_error,
	pv_refresh,
	pv_try_reauth,
	{ NULL, NULL, NULL, NULL },
	pv_operations,
	PV_OPERATION_COUNT,
	pv_import,
	import_kinds,
	/* Accounts sign in with a password or with Google (then only cookies keep them alive). */
	PROVAUTH_SIGNIN_PASSWORD | PROVAUTH_SIGNIN_GOOGLE,
	/* Accounts run generation jobs with credits and a limit of jobs at once: the pool chooses among them. */
	&pv_pool_hooks,
};

int pv_plugin_init(const provauth_provider **out, const provauth_host *host)
{
	if (!out || !host)
		return PROVAUTH_EINVAL;
	if (host->abi_major != PROVAUTH_PLUGIN_ABI_MAJOR || !PROVAUTH_HOST_HAS(host, failure_set_transport))
		return host->abi_major == PROVAUTH_PLUGIN_ABI_MAJOR && PROVAUTH_HOST_HAS(host, set_error)
		       ? host->set_error(host, PROVAUTH_EPLUGIN, "pixverse: the host's service table is older than ABI 1.1")
		       : PROVAUTH_EPLUGIN;
	*out = &provider;
	return 0;
}
