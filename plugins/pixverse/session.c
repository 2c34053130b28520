/*
 * build_session (spec 3.3): which JWT to use, the OpenAPI key, and the
 * account's stable ai-anonymous-id.
 *
 * The JWT lives twice, in the account record and in the _ai_token cookie;
 * a cookie import or the browser may have left the cookie newer. When the
 * account's token is missing or within the refresh threshold of expiry and
 * the cookie's expires later, the cookie's wins and is stored back so every
 * process agrees on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

/* What an anonymous id may look like: a uuid, or anything short and header-safe. */
static int anonymous_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0, i;

	if (n < 8 || n >= sizeof(((pv_session_data *)0)->anonymous_id))
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
			return 0;
	}
	return 1;
}

int pv_anonymous_id(const pv_state *st, const char *metadata_json, char *out, size_t out_size)
{
	const provauth_host *h = st->host;
	provauth_json *meta = NULL;
	const char *id;
	char fresh[37];
	int rc;

	if (metadata_json && *metadata_json)
		meta = h->json_parse(metadata_json, strlen(metadata_json));
	id = meta ? h->json_string(h->json_get(meta, "anonymous_id")) : NULL;
	if (anonymous_id_ok(id) && strlen(id) < out_size) {
		snprintf(out, out_size, "%s", id);
		h->json_free(meta);
		return 0;
	}
	if (meta)
		h->json_free(meta);
	if ((rc = h->uuid4(h, fresh)) < 0)
		return rc;
	snprintf(out, out_size, "%s", fresh);
	return 1;
}

void pv_session_data_free(void *state, void *provider_data)
{
	(void)state;
	free(provider_data);
}

/* The session's JWT: the account's, or the cookie's when that one is fresher. */
static int choose_jwt(const pv_state *st, const provauth_account *a, provauth_session *s, provauth_update *u)
{
	const provauth_host *h = st->host;
	const char *cookie_jwt;
	int64_t now = h->now(h), acc_exp = 0, cookie_exp = 0;
	int acc_ok, cookie_ok, rc;
	char *copy;

	if (!pv_jwt_needs_refresh(h, a->jwt_token, now, st->jwt_refresh_threshold))
		return 0;
	cookie_jwt = pv_cookie_find(a->cookies, a->cookie_count, PV_TOKEN_COOKIE);
	if (!cookie_jwt || !*cookie_jwt || (a->jwt_token && strcmp(cookie_jwt, a->jwt_token) == 0))
		return 0;
	acc_ok = a->jwt_token && *a->jwt_token && pv_jwt_expiry(h, a->jwt_token, &acc_exp) == 0;
	cookie_ok = pv_jwt_expiry(h, cookie_jwt, &cookie_exp) == 0;
	/*
	 * Fresher: it expires later than the account's. With no usable account
	 * token, a cookie whose expiry cannot be read is still better than none.
	 */
	if (cookie_ok ? (acc_ok && cookie_exp <= acc_exp) : (a->jwt_token && *a->jwt_token))
		return 0;
	if (cookie_ok && cookie_exp <= now)
		return 0; /* expired too: swapping one dead token for another helps nobody */
	if (!(copy = pv_strdup(cookie_jwt)))
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
	if ((rc = h->update_set(u, PROVAUTH_F_JWT_TOKEN, cookie_jwt)) < 0) {
		pv_secret_free(copy);
		return rc;
	}
	s->jwt_token = copy;
	s->jwt_source = "cookies";
	{
		const provauth_log_field f[] = {
			{ "account_id", PROVAUTH_FIELD_STRING, a->id, 0 },
			{ "account_token_usable", PROVAUTH_FIELD_BOOL, NULL, acc_ok },
			{ "cookie_expires_at", PROVAUTH_FIELD_INT, NULL, cookie_exp },
		};
		h->log(h, PROVAUTH_LOG_INFO, "pixverse_jwt_from_cookies", f, sizeof(f) / sizeof(f[0]));
	}
	return 0;
}

int pv_build_session(void *state, const provauth_account *a, provauth_session *s, provauth_update *u)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	pv_session_data *data;
	char quoted[64];
	int rc;

	if ((rc = choose_jwt(st, a, s, u)) < 0)
		return rc;
	/* openapi_key: the host prefilled the first api_keys entry of kind "openapi". */
	if (!(data = calloc(1, sizeof(*data))))
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
	if ((rc = pv_anonymous_id(st, a->metadata, data->anonymous_id, sizeof(data->anonymous_id))) < 0) {
		free(data);
		return rc;
	}
	if (rc == 1) {
		snprintf(quoted, sizeof(quoted), "\"%s\"", data->anonymous_id);
		if ((rc = h->update_set_metadata(u, "anonymous_id", quoted)) < 0) {
			free(data);
			return rc;
		}
	}
	s->provider_data = data;
	return 0;
}
