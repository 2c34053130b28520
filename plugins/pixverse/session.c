/*
 * build_session (spec 3.3): which JWT to use, the OpenAPI key, and the
 * account's stable client ids (ids.c).
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

void pv_session_data_free(void *state, void *provider_data)
{
	(void)state;
	free(provider_data);
}

/*
 * The session's JWT: the account's (0), or the cookie's when that one is
 * fresher (1: the session holds it and the update stores it).
 */
static int choose_jwt(const pv_state *st, const provauth_account *a, provauth_session *s, provauth_update *u)
{
	const provauth_host *h = st->host;
	const char *account_jwt = h->account_credential(a, PROVAUTH_CRED_JWT, NULL);
	const char *cookie_jwt;
	int64_t now = h->now(h), acc_exp = 0, cookie_exp = 0;
	int acc_ok, cookie_ok, rc;

	if (!pv_jwt_needs_refresh(h, account_jwt, now, st->jwt_refresh_threshold))
		return 0;
	cookie_jwt = h->account_credential(a, PROVAUTH_CRED_COOKIE, PV_TOKEN_COOKIE);
	if (!cookie_jwt || !*cookie_jwt || (account_jwt && strcmp(cookie_jwt, account_jwt) == 0))
		return 0;
	acc_ok = account_jwt && *account_jwt && pv_jwt_expiry(h, account_jwt, &acc_exp) == 0;
	cookie_ok = pv_jwt_expiry(h, cookie_jwt, &cookie_exp) == 0;
	/*
	 * Fresher: it expires later than the account's. With no usable account
	 * token, a cookie whose expiry cannot be read is still better than none.
	 */
	if (cookie_ok ? (acc_ok && cookie_exp <= acc_exp) : (account_jwt && *account_jwt))
		return 0;
	if (cookie_ok && cookie_exp <= now)
		return 0; /* expired too: swapping one dead token for another helps nobody */
	/* The session uses it now and the update stores it, alike: the expiry is the JWT's own business. */
	if ((rc = h->update_set_credential(u, PROVAUTH_CRED_JWT, NULL, cookie_jwt, 0)) < 0 ||
	    (rc = h->session_set_credential(s, PROVAUTH_CRED_JWT, NULL, cookie_jwt, 0)) < 0)
		return rc;
	{
		const provauth_log_field f[] = {
			{ "account_id", PROVAUTH_FIELD_STRING, a->id, 0 },
			{ "account_token_usable", PROVAUTH_FIELD_BOOL, NULL, acc_ok },
			{ "cookie_expires_at", PROVAUTH_FIELD_INT, NULL, cookie_exp },
		};
		h->log(h, PROVAUTH_LOG_INFO, "pixverse_jwt_from_cookies", f, sizeof(f) / sizeof(f[0]));
	}
	return 1;
}

int pv_build_session(void *state, const provauth_account *a, provauth_session *s, provauth_update *u)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	pv_session_data *data;
	int rc;

	int from_cookies;

	if ((from_cookies = choose_jwt(st, a, s, u)) < 0)
		return from_cookies;
	/* The OpenAPI key: the host copied the account's api_key "openapi" into the session. */
	if (!(data = calloc(1, sizeof(*data))))
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
	data->jwt_source = from_cookies ? "cookies"
	                   : h->session_credential(s, PROVAUTH_CRED_JWT, NULL) ? "account" : "none";
	if ((rc = pv_ids_for(st, a, &data->ids)) < 0) {
		free(data);
		return rc;
	}
	/* Generated now: stored, so every later session and process uses the same ones. */
	if (rc == 1 && (rc = pv_ids_store(st, u, &data->ids)) < 0) {
		free(data);
		return rc;
	}
	s->provider_data = data;
	return 0;
}
