/*
 * The Pixverse provider: its description, settings and lifecycle. Every URL
 * is a setting, so tests (and a relocated service) point the plugin
 * anywhere without rebuilding it.
 */
#include <stdarg.h>
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
	if (!st)
		return;
	free(st->base_url);
	free(st->web_origin);
	free(st->openapi_base_url);
	free(st->user_agent);
	free(st);
}

static int text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

static int bad_setting(const provauth_host *h, const provauth_setting *s, const char *key, const char *fmt, ...)
	PROVAUTH_PRINTF(4, 5);

/* A value the host's readers took but this plugin refuses: named with its place in the file when the host can. */
static int bad_setting(const provauth_host *h, const provauth_setting *s, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (PROVAUTH_HOST_HAS(h, setting_error) && h->setting_error)
		return h->setting_error(h, s, key, "%s", msg);
	return h->set_error(h, PROVAUTH_ECONFIG, "providers.pixverse.%s: %s", key, msg);
}

/* An http(s) URL without trailing '/', copied into *out. */
static int url_setting(const provauth_host *h, const provauth_setting *s, const char *key, const char *def,
                       char **out)
{
	const char *v = NULL;
	size_t n, scheme;
	int rc;

	if ((rc = h->setting_string(h, s, key, def, &v)) < 0)
		return rc;
	if (!v || (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) || !text_ok(v) || strchr(v, ' ') ||
	    strchr(v, '?') || strchr(v, '#'))
		return bad_setting(h, s, key, "expected an http:// or https:// URL without query or fragment");
	scheme = v[4] == 's' ? 8 : 7;
	n = strlen(v);
	while (n > scheme && v[n - 1] == '/')
		n--;
	if (n <= scheme || v[scheme] == '/')
		return bad_setting(h, s, key, "the URL has no host");
	if (!(*out = strndup(v, n)))
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
	return 0;
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
	if ((rc = url_setting(h, settings, "base_url", PV_DEFAULT_BASE_URL, &st->base_url)) < 0 ||
	    (rc = url_setting(h, settings, "web_origin", PV_DEFAULT_WEB_ORIGIN, &st->web_origin)) < 0 ||
	    (rc = url_setting(h, settings, "openapi_base_url", PV_DEFAULT_OPENAPI_BASE_URL, &st->openapi_base_url)) < 0 ||
	    (rc = h->setting_int(h, settings, "jwt_refresh_threshold", PV_DEFAULT_JWT_THRESHOLD, 0, PV_MAX_JWT_THRESHOLD,
	                         &st->jwt_refresh_threshold)) < 0 ||
	    (rc = h->setting_string(h, settings, "user_agent", PV_DEFAULT_USER_AGENT, &ua)) < 0)
		goto fail;
	if (!ua || !*ua || !text_ok(ua)) {
		rc = bad_setting(h, settings, "user_agent", "must be non-empty text on one line");
		goto fail;
	}
	if (!(st->user_agent = strdup(ua))) {
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
	{ NULL, NULL },
};

static const provauth_provider provider = {
	PROVAUTH_PLUGIN_ABI_MAJOR,
	PROVAUTH_PLUGIN_ABI_MINOR,
	sizeof(provauth_provider),
	PV_ID,
	"Pixverse web API: JWT + cookie sessions, password login, cookie refresh and import",
	"1.0.0",
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
