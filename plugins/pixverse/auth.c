/*
 * Getting credentials: password login, cookie refresh, cookie import and
 * Google sign-in (an ID token exchanged for a session).
 *
 * Every successful Pixverse login replaces the account's previous session
 * (the 10005 that other clients then see), so nothing here logs in on its
 * own initiative: the host decides when, at most once per account at a
 * time. Passwords travel only in the login body, which is wiped after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

#define PV_LOGIN_PATH "/creative_platform/login"
#define PV_REFRESH_PATH "/auth/refresh"
#define PV_USER_INFO_PATH "/creative_platform/getUserInfo"
#define PV_GOOGLE_LOGIN_PATH "/creative_platform/oauth2/google/auto_login"

/* A token we will put in a header: non-empty, header-safe, of sane size. */
static int token_ok(const char *t)
{
	return t && *t && strlen(t) <= 16384 && pv_cookie_value_ok(t) && !strchr(t, ' ');
}

static int oom(const provauth_host *h)
{
	return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
}

/*
 * POSTs `body` (JSON holding a secret: a password, an ID token; wiped and
 * freed here, whatever happens) to `path` with the new session's ids.
 * Returns pv_send's result; PROVAUTH_ENOMEM when body is NULL or the URL
 * cannot be made, with r->transport saying so, as pv_send's failures do.
 */
static int post_sign_in(const pv_state *st, const char *path, char *body, const pv_client_ids *ids, pv_reply *r)
{
	const provauth_host *h = st->host;
	pv_request req;
	char *url;
	int rc;

	if (!body || !(url = provauth_plugin_url_join(h, st->base_url, path))) {
		h->secret_free(h, body);
		snprintf(r->transport, sizeof(r->transport), "out of memory");
		return PROVAUTH_ENOMEM;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.endpoint = path;
	req.ids = ids;
	req.body = body;
	req.body_len = strlen(body);
	rc = pv_send(st, &req, r);
	h->secret_free(h, body);
	h->free(h, url);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Password login                                                           */
/* ------------------------------------------------------------------------ */

/* {"username", "password"}: holds the password, free with host->secret_free. */
static char *login_body(const provauth_host *h, const char *email, const char *password)
{
	return h->json_format(h, "{\"username\":%s,\"password\":%s}", email, password);
}

/* The login was refused: say why, and what it means for the account. */
static int login_refused(const pv_state *st, const provauth_account *a, const pv_reply *r, const char *password,
                         provauth_update *u)
{
	const provauth_host *h = st->host;
	const char *secrets[] = { password };
	char msg[PV_SAFE_TEXT_MAX + 64];
	int rc;

	PV_SAFE_TEXT(h, msg, sizeof(msg), r->err_msg, secrets, 1);
	if (provauth_plugin_contains_ci(r->err_msg, "oauth")) {
		/* A Google account: no password will ever work, so stop holding one. */
		rc = PROVAUTH_HOST_HAS(h, update_set_auth_method) && h->update_set_auth_method
		     ? h->update_set_auth_method(u, PROVAUTH_AUTH_GOOGLE)
		     : h->update_set_metadata(u, "auth_method", "\"google\"");
		if (rc < 0 ||
		    (rc = h->update_set_credential(u, PROVAUTH_CRED_PASSWORD, NULL, NULL, 0)) < 0)
			return rc;
		{
			const provauth_log_field f[] = { { "account_id", PROVAUTH_FIELD_STRING, a->id, 0 } };
			h->log(h, PROVAUTH_LOG_WARN, "pixverse_login_oauth_account", f, 1);
		}
		return h->set_error(h, PROVAUTH_EAUTH,
		                    "pixverse: account %s signs in with Google, so password login is impossible; it is now "
		                    "marked auth_method=google: import fresh cookies from a browser session instead",
		                    a->id);
	}
	if (r->err_code == PV_ERR_TOO_MANY_LOGINS || provauth_plugin_contains_ci(r->err_msg, "too many login"))
		return h->set_error(h, PROVAUTH_ECOOLDOWN, "pixverse: account %s: login refused: too many login attempts "
		                    "(ErrCode %lld); logins pause for the login cooldown",
		                    a->id, (long long)r->err_code);
	if (r->err_code == PV_ERR_TOKEN_INVALID && provauth_plugin_contains_ci(r->err_msg, "account is blocked"))
		return h->set_error(h, PROVAUTH_EBANNED, "pixverse: account %s is blocked by Pixverse (ErrCode %lld)", a->id,
		                    (long long)r->err_code);
	if (r->err_code == PV_ERR_NO_SUCH_USER)
		return h->set_error(h, PROVAUTH_EAUTH, "pixverse: account %s: login refused: Pixverse has no user with this "
		                    "email (ErrCode %lld)", a->id, (long long)r->err_code);
	if (r->err_code == PV_ERR_HIGH_LOAD)
		return h->set_error(h, PROVAUTH_EPROVIDER, "pixverse: account %s: login failed: service under high load "
		                    "(ErrCode %lld); try later", a->id, (long long)r->err_code);
	return h->set_error(h, PROVAUTH_EAUTH, "pixverse: account %s: login refused (ErrCode %lld: %s)", a->id,
	                    (long long)r->err_code, msg);
}

int pv_try_reauth(void *state, const provauth_account *a, const char *password, provauth_update *u)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	pv_reply r;
	pv_client_ids ids;
	char *cookie_token = NULL;
	const char *token;
	int rc;

	if (!a->email || !*a->email)
		return h->set_error(h, PROVAUTH_EAUTH, "pixverse: account %s has no email to log in with", a->id);
	if (!password || !*password)
		return h->set_error(h, PROVAUTH_EAUTH, "pixverse: account %s: no password to log in with", a->id);
	/*
	 * A login starts a new session, tied to the ids it is made with: fresh
	 * ones, so nothing of a session that ended (a 10005 most of all) is
	 * carried into the new one. They are stored with its token.
	 */
	if ((rc = pv_ids_fresh(st, &ids)) < 0)
		return rc;
	if ((rc = post_sign_in(st, PV_LOGIN_PATH, login_body(h, a->email, password), &ids, &r)) < 0)
		return h->set_error(h, rc, "pixverse: account %s: login: %s", a->id, r.transport);

	if (r.http->status == 429)
		rc = h->set_error(h, PROVAUTH_ERATELIMIT,
		                  "pixverse: account %s: login rate limited (HTTP 429); retry after %lds", a->id,
		                  r.retry_after >= 0 ? r.retry_after : (long)PV_DEFAULT_RETRY_AFTER);
	else if (r.has_err_code && r.err_code != 0)
		rc = login_refused(st, a, &r, password, u);
	else if (r.http->status != 200)
		rc = h->set_error(h, PROVAUTH_EHTTP, "pixverse: account %s: login: HTTP %ld", a->id, r.http->status);
	else if (!r.json)
		rc = h->set_error(h, PROVAUTH_EPROTOCOL, "pixverse: account %s: login reply is not JSON", a->id);
	else if (!token_ok(token = h->json_string(h->json_get(r.json, "Resp.Result.Token"))))
		rc = h->set_error(h, PROVAUTH_EPROTOCOL, "pixverse: account %s: login reply has no usable Resp.Result.Token",
		                  a->id);
	else if ((rc = pv_reply_cookies(st, &r, u, &cookie_token)) == 0 &&
	         (rc = h->update_set_credential(u, PROVAUTH_CRED_JWT, NULL, token, 0)) == 0 && !cookie_token)
		/* The cookie and the account must agree, or build_session would pick the stale one later. */
		rc = h->update_set_credential(u, PROVAUTH_CRED_COOKIE, PV_TOKEN_COOKIE, token, 0);
	if (rc == 0)
		rc = pv_ids_store(st, u, &ids);
	h->secret_free(h, cookie_token);
	pv_reply_free(st, &r);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Cookie refresh                                                           */
/* ------------------------------------------------------------------------ */

/* The new JWT: _ai_token cookie, else Authorization: Bearer, else a token header, else the body. */
static char *refreshed_token(const pv_state *st, const pv_reply *r, char *cookie_token)
{
	const provauth_host *h = st->host;
	const char *v;

	/* Set-Cookie values may hold spaces and be of any size: the cookie must pass as a token like the rest. */
	if (cookie_token && token_ok(cookie_token))
		return cookie_token;
	if ((v = h->http_header(r->http, "authorization"))) {
		while (*v == ' ')
			v++;
		if (strncmp(v, "Bearer ", 7) == 0 || strncmp(v, "bearer ", 7) == 0) {
			for (v += 7; *v == ' '; v++)
				;
			if (token_ok(v))
				return provauth_plugin_strdup(h, v);
		}
	}
	if ((v = h->http_header(r->http, "token")) && token_ok(v))
		return provauth_plugin_strdup(h, v);
	if (r->json && ((v = h->json_string(h->json_get(r->json, "Resp.Result.Token"))) ||
	                (v = h->json_string(h->json_get(r->json, "Resp.Token")))) && token_ok(v))
		return provauth_plugin_strdup(h, v);
	return NULL;
}

static int refresh_refused(const pv_state *st, const provauth_account *a, const pv_reply *r)
{
	const provauth_host *h = st->host;
	long long code = (long long)r->err_code;

	switch (r->err_code) {
	case PV_ERR_LOGGED_ELSEWHERE:
		/* The session was replaced, not revoked: a password login can still win it back. */
		return h->set_error(h, PROVAUTH_ESESSION, "pixverse: account %s: refresh refused: the session was replaced "
		                    "by a login elsewhere (ErrCode %lld)", a->id, code);
	case PV_ERR_TOKEN_INVALID:
		if (provauth_plugin_contains_ci(r->err_msg, "account is blocked"))
			return h->set_error(h, PROVAUTH_EBANNED, "pixverse: account %s is blocked by Pixverse (ErrCode %lld)",
			                    a->id, code);
		/* fall through */
	case PV_ERR_TOKEN_EXPIRED:
	case PV_ERR_NOT_LOGIN:
		return h->set_error(h, PROVAUTH_EAUTH, "pixverse: account %s: refresh refused: Pixverse no longer accepts "
		                    "these cookies (ErrCode %lld)", a->id, code);
	default:
		return h->set_error(h, PROVAUTH_EPROVIDER, "pixverse: account %s: refresh refused (ErrCode %lld)", a->id,
		                    code);
	}
}

int pv_refresh(void *state, const provauth_account *a, provauth_update *u)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	const char *account_jwt = h->account_credential(a, PROVAUTH_CRED_JWT, NULL);
	const char *jwt = account_jwt && *account_jwt ? account_jwt
	                  : h->account_credential(a, PROVAUTH_CRED_COOKIE, PV_TOKEN_COOKIE);
	provauth_cookie *cookies;
	size_t cookie_count;
	pv_request req;
	pv_reply r;
	pv_client_ids ids;
	char *url, *cookie_token = NULL, *token = NULL;
	int rc, new_ids;

	if ((rc = pv_account_cookies(h, a, &cookies, &cookie_count)) < 0)
		return rc;
	if ((!jwt || !*jwt) && cookie_count == 0)
		return h->set_error(h, PROVAUTH_EAUTH, "pixverse: account %s has neither a token nor cookies to refresh",
		                    a->id);
	/* A refresh renews the token of the same session: with the same ids. */
	if ((new_ids = pv_ids_for(st, a, &ids)) < 0) {
		free(cookies);
		return new_ids;
	}
	if (!(url = provauth_plugin_url_join(h, st->base_url, PV_REFRESH_PATH))) {
		free(cookies);
		return oom(h);
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.endpoint = PV_REFRESH_PATH;
	req.jwt = jwt;
	req.cookies = cookies;
	req.cookie_count = cookie_count;
	req.ids = &ids;
	req.body = "{}";
	req.body_len = 2;
	rc = pv_send(st, &req, &r);
	h->free(h, url);
	free(cookies);
	if (rc < 0)
		return h->set_error(h, rc, "pixverse: account %s: refresh: %s", a->id, r.transport);

	if (r.http->status == 429)
		rc = h->set_error(h, PROVAUTH_ERATELIMIT,
		                  "pixverse: account %s: refresh rate limited (HTTP 429); retry after %lds", a->id,
		                  r.retry_after >= 0 ? r.retry_after : (long)PV_DEFAULT_RETRY_AFTER);
	else if (r.has_err_code && r.err_code != 0)
		rc = refresh_refused(st, a, &r);
	else if (r.http->status != 200)
		rc = h->set_error(h, PROVAUTH_EHTTP, "pixverse: account %s: refresh: HTTP %ld", a->id, r.http->status);
	/* A cut or garbled body may have carried an ErrCode: a token beside it is not trusted. */
	else if (!r.json)
		rc = h->set_error(h, PROVAUTH_EPROTOCOL, "pixverse: account %s: refresh reply is not JSON", a->id);
	else if ((rc = pv_reply_cookies(st, &r, u, &cookie_token)) < 0)
		;
	else if (!(token = refreshed_token(st, &r, cookie_token)))
		rc = h->set_error(h, PROVAUTH_EPROTOCOL, "pixverse: account %s: refresh reply carried no new token", a->id);
	else if (jwt && strcmp(token, jwt) == 0)
		/*
		 * The same token back renews nothing: the operation that failed with
		 * it would fail again. Not permanent, so the ladder goes on to a login.
		 */
		rc = h->set_error(h, PROVAUTH_ESESSION, "pixverse: account %s: refresh returned the token that just failed",
		                  a->id);
	else if ((rc = h->update_set_credential(u, PROVAUTH_CRED_JWT, NULL, token, 0)) == 0 &&
	         (rc = h->update_set_credential(u, PROVAUTH_CRED_COOKIE, PV_TOKEN_COOKIE, token, 0)) == 0 && new_ids)
		rc = pv_ids_store(st, u, &ids);
	if (token != cookie_token)
		h->secret_free(h, token);
	h->secret_free(h, cookie_token);
	pv_reply_free(st, &r);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Cookie import                                                            */
/* ------------------------------------------------------------------------ */

/* Looks like an email address: something@something.something, printable, no spaces. */
static int email_like(const char *s)
{
	const char *at, *p;

	if (!s || strlen(s) > 254 || !(at = strchr(s, '@')) || at == s || strchr(at + 1, '@'))
		return 0;
	if (!strchr(at + 1, '.'))
		return 0;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

static char *email_from_payload(const provauth_host *h, const provauth_json *payload)
{
	static const char *const keys[] = { "Mail", "Email", "email", "mail", "Username", "username" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = h->json_string(h->json_get(payload, keys[i]));
		if (email_like(v))
			return provauth_plugin_strdup(h, v);
	}
	return NULL;
}

/*
 * The service's words about cookies it was sent: every cookie value is a
 * secret, whichever of them it treats as the credential.
 */
static void quote_reply(const provauth_host *h, char *out, size_t size, const char *text, const pv_cookie_jar *jar,
                        const char *token)
{
	const char **secrets = calloc(jar->count + 1, sizeof(*secrets));
	size_t i;

	if (!secrets) {
		snprintf(out, size, "(server text not shown: out of memory)");
		return;
	}
	secrets[0] = token;
	for (i = 0; i < jar->count; i++)
		secrets[i + 1] = jar->items[i].value;
	PV_SAFE_TEXT(h, out, size, text, secrets, jar->count + 1);
	free(secrets);
}

/*
 * Asks the service which account the cookies belong to, with the ids the
 * account will use from now on (the first request of the imported session).
 */
static int email_from_service(const pv_state *st, const pv_cookie_jar *jar, const char *token,
                              const pv_client_ids *ids, char **out)
{
	const provauth_host *h = st->host;
	pv_request req;
	pv_reply r;
	char *url, msg[PV_SAFE_TEXT_MAX + 8];
	const char *mail;
	int rc;

	*out = NULL;
	if (!(url = provauth_plugin_url_join(h, st->base_url, PV_USER_INFO_PATH)))
		return oom(h);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.endpoint = PV_USER_INFO_PATH;
	req.jwt = token;
	req.cookies = jar->items;
	req.cookie_count = jar->count;
	req.ids = ids;
	rc = pv_send(st, &req, &r);
	h->free(h, url);
	if (rc < 0)
		return h->set_error(h, rc, "pixverse: cookies: asking Pixverse whose cookies these are: %s",
		                    r.transport);
	if (r.has_err_code && r.err_code != 0) {
		provauth_outcome o;
		memset(&o, 0, sizeof(o));
		pv_classify_http(h, r.http->status, r.http->body, r.http->body_len, r.retry_after, &o);
		quote_reply(h, msg, sizeof(msg), r.err_msg, jar, token);
		rc = h->set_error(h, o.is_session_error ? PROVAUTH_EAUTH : o.result < 0 ? o.result : PROVAUTH_EPROVIDER,
		                  "pixverse: cookies: Pixverse does not accept them (%s, ErrCode %lld: %s); export them again "
		                  "from a logged-in browser",
		                  o.error_reason, (long long)r.err_code, msg);
	} else if (r.http->status != 200) {
		rc = h->set_error(h, r.http->status == 429 ? PROVAUTH_ERATELIMIT : PROVAUTH_EHTTP,
		                  "pixverse: cookies: %s: HTTP %ld", PV_USER_INFO_PATH, r.http->status);
	} else if (!r.json || !r.resp) {
		rc = h->set_error(h, PROVAUTH_EPROTOCOL, "pixverse: cookies: %s: reply is not JSON or has no Resp",
		                  PV_USER_INFO_PATH);
	} else if (!email_like(mail = h->json_string(h->json_get(r.resp, "Mail")))) {
		rc = h->set_error(h, PROVAUTH_ENOEMAIL, "pixverse: cookies: %s: reply has no email address (Resp.Mail)",
		                  PV_USER_INFO_PATH);
	} else if (!(*out = provauth_plugin_strdup(h, mail))) {
		rc = oom(h);
	}
	pv_reply_free(st, &r);
	return rc;
}

/* One id of the extension's session_ids: absent (0), usable (1, copied), or refused (negative). */
static int session_id(const provauth_host *h, const provauth_json *ids, const char *key, char *out, size_t size)
{
	const provauth_json *v = h->json_get(ids, key);
	const char *s = h->json_string(v);

	if (!v || h->json_type(v) == PROVAUTH_JSON_NULL || (s && !*s))
		return 0;
	if (!pv_id_ok(s))
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: session_ids.%s is not a usable id (8 to %d "
		                    "letters, digits or '-')", key, PV_ID_MAX - 1);
	snprintf(out, size, "%s", s);
	return 1;
}

/*
 * The browser extension's shape (what pixsim7's import route takes as
 * raw_data): {"cookies": {...} or [...], "jwt_token"?: "...",
 * "session_ids"?: {"ai_trace_id", "ai_anonymous_id"}}. Returns 1 when the
 * input is that shape, with *cookies_text (malloc()ed) the cookies in one
 * of the other shapes, *jwt a copy of jwt_token or NULL, and the browser's
 * ids in *ids (*has_ids: 1 for each given, the rest left empty); 0 for any
 * other input; negative for a wrong field (named, never quoted).
 */
static int raw_data_parse(const provauth_host *h, const char *input, char **cookies_text, char **jwt,
                          pv_client_ids *ids, int *has_ids)
{
	provauth_json *o;
	const provauth_json *c, *sids, *jv;
	int rc = 1, t, a;

	*cookies_text = *jwt = NULL;
	*has_ids = 0;
	if (!input || strlen(input) > PV_COOKIES_MAX_INPUT || !(o = h->json_parse(input, strlen(input))))
		return 0;
	c = h->json_get(o, "cookies");
	if (h->json_type(o) != PROVAUTH_JSON_OBJECT ||
	    (h->json_type(c) != PROVAUTH_JSON_OBJECT && h->json_type(c) != PROVAUTH_JSON_ARRAY)) {
		/* A cookie named "cookies" (a string) is the plain {name: value} shape. */
		h->json_free(o);
		return 0;
	}
	sids = h->json_get(o, "session_ids");
	jv = h->json_get(o, "jwt_token");
	if (sids && h->json_type(sids) != PROVAUTH_JSON_NULL && h->json_type(sids) != PROVAUTH_JSON_OBJECT) {
		rc = h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: session_ids is not an object");
	} else if (jv && h->json_type(jv) != PROVAUTH_JSON_NULL && (!h->json_string(jv) || !token_ok(h->json_string(jv)))) {
		rc = h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: jwt_token is not a usable token");
	} else if ((t = session_id(h, sids, "ai_trace_id", ids->trace_id, sizeof(ids->trace_id))) < 0) {
		rc = t;
	} else if ((a = session_id(h, sids, "ai_anonymous_id", ids->anonymous_id, sizeof(ids->anonymous_id))) < 0) {
		rc = a;
	} else {
		*has_ids = t || a;
		if (!(*cookies_text = h->json_serialize(c)) ||
		    (h->json_string(jv) && !(*jwt = provauth_plugin_strdup(h, h->json_string(jv))))) {
			h->secret_free(h, *cookies_text);
			*cookies_text = NULL;
			rc = oom(h);
		}
	}
	h->json_free(o);
	return rc;
}

/*
 * The ids the imported session is tied to: the browser's when the import
 * carries them (the rest generated), else the named account's (unless a
 * 10005 dropped them), else fresh ones. Stored with the import either way:
 * the service binds the session to whatever it sees first.
 */
static int import_ids(const pv_state *st, const provauth_account *existing, const pv_client_ids *given, int has_given,
                      pv_client_ids *out)
{
	pv_client_ids fresh;
	int rc;

	if (has_given) {
		*out = *given;
		if (!out->trace_id[0] || !out->anonymous_id[0]) {
			if ((rc = pv_ids_fresh(st, &fresh)) < 0)
				return rc;
			if (!out->trace_id[0])
				memcpy(out->trace_id, fresh.trace_id, sizeof(out->trace_id));
			if (!out->anonymous_id[0])
				memcpy(out->anonymous_id, fresh.anonymous_id, sizeof(out->anonymous_id));
		}
		return 0;
	}
	if (existing)
		return (rc = pv_ids_for(st, existing, out)) < 0 ? rc : 0;
	return pv_ids_fresh(st, out);
}

/* ------------------------------------------------------------------------ */
/* Google sign-in                                                           */
/* ------------------------------------------------------------------------ */

static int google_refused(const pv_state *st, const pv_reply *r, const char *id_token)
{
	const provauth_host *h = st->host;
	const char *secrets[] = { id_token };
	char msg[PV_SAFE_TEXT_MAX + 64];

	PV_SAFE_TEXT(h, msg, sizeof(msg), r->err_msg, secrets, 1);
	if (r->err_code == PV_ERR_TOKEN_INVALID && provauth_plugin_contains_ci(r->err_msg, "account is blocked"))
		return h->set_error(h, PROVAUTH_EBANNED, "pixverse: google_id_token: the account is blocked by Pixverse "
		                    "(ErrCode %lld)", (long long)r->err_code);
	if (r->err_code == PV_ERR_NO_SUCH_USER)
		return h->set_error(h, PROVAUTH_EAUTH, "pixverse: google_id_token: Pixverse has no user with this Google "
		                    "account's email (ErrCode %lld)", (long long)r->err_code);
	if (r->err_code == PV_ERR_TOO_MANY_LOGINS)
		return h->set_error(h, PROVAUTH_ECOOLDOWN, "pixverse: google_id_token: sign-in refused: too many login "
		                    "attempts (ErrCode %lld)", (long long)r->err_code);
	if (r->err_code == PV_ERR_HIGH_LOAD)
		return h->set_error(h, PROVAUTH_EPROVIDER, "pixverse: google_id_token: service under high load (ErrCode "
		                    "%lld); try later", (long long)r->err_code);
	return h->set_error(h, PROVAUTH_EAUTH, "pixverse: google_id_token: sign-in refused (ErrCode %lld: %s); get a "
	                    "fresh ID token from Google Sign-In", (long long)r->err_code, msg);
}

/*
 * A Google ID token (what Google Sign-In hands app.pixverse.ai) exchanged
 * for a Pixverse session: like a password login, a new session on fresh
 * ids, and the account from now on one that signs in with Google. The ID
 * token is a secret: it goes in the request body only, never in a message.
 */
static int import_google(const pv_state *st, const char *id_token, provauth_update *u)
{
	const provauth_host *h = st->host;
	pv_cookie_jar none = { NULL, NULL, 0 };
	provauth_json *payload = NULL;
	pv_reply r;
	pv_client_ids ids;
	char *cookie_token = NULL, *email = NULL;
	const char *token;
	int rc;

	if (!token_ok(id_token))
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: google_id_token: not a usable token (empty, too long, "
		                    "or with spaces or control characters)");
	if ((rc = pv_ids_fresh(st, &ids)) < 0)
		return rc;
	rc = post_sign_in(st, PV_GOOGLE_LOGIN_PATH, h->json_format(h, "{\"id_token\":%s}", id_token), &ids, &r);
	if (rc < 0)
		return h->set_error(h, rc, "pixverse: google_id_token: %s", r.transport);

	if (r.http->status == 429)
		rc = h->set_error(h, PROVAUTH_ERATELIMIT, "pixverse: google_id_token: rate limited (HTTP 429); retry after "
		                  "%lds", r.retry_after >= 0 ? r.retry_after : (long)PV_DEFAULT_RETRY_AFTER);
	else if (r.has_err_code && r.err_code != 0)
		rc = google_refused(st, &r, id_token);
	else if (r.http->status != 200)
		rc = h->set_error(h, PROVAUTH_EHTTP, "pixverse: google_id_token: HTTP %ld", r.http->status);
	else if (!r.json)
		rc = h->set_error(h, PROVAUTH_EPROTOCOL, "pixverse: google_id_token: the reply is not JSON");
	else if (!token_ok(token = h->json_string(h->json_get(r.json, "Resp.Result.Token"))))
		rc = h->set_error(h, PROVAUTH_EPROTOCOL, "pixverse: google_id_token: the reply has no usable "
		                  "Resp.Result.Token");
	/* The session's cookies replace the old session's, whose token they would otherwise outlive. */
	else if ((rc = h->update_clear_credentials(u, PROVAUTH_CRED_COOKIE)) == 0 &&
	         (rc = pv_reply_cookies(st, &r, u, &cookie_token)) == 0 &&
	         (rc = h->update_set_credential(u, PROVAUTH_CRED_JWT, NULL, token, 0)) == 0 &&
	         (rc = h->update_set_credential(u, PROVAUTH_CRED_COOKIE, PV_TOKEN_COOKIE, token, 0)) == 0) {
		/* Whose session this is: the token's claims, else the service (the host checks it against a named account). */
		if (!((payload = pv_jwt_payload(h, token)) && (email = email_from_payload(h, payload))))
			rc = email_from_service(st, &none, token, &ids, &email);
		if (rc == 0 && (rc = h->update_set_email(u, email)) == 0 && (rc = pv_ids_store(st, u, &ids)) == 0)
			rc = PROVAUTH_HOST_HAS(h, update_set_auth_method) && h->update_set_auth_method
			     ? h->update_set_auth_method(u, PROVAUTH_AUTH_GOOGLE)
			     : h->update_set_metadata(u, "auth_method", "\"google\"");
		if (rc == 0)
			h->log(h, PROVAUTH_LOG_INFO, "pixverse_google_signed_in", NULL, 0);
	}
	if (payload)
		h->json_free(payload);
	h->free(h, email);
	h->secret_free(h, cookie_token);
	pv_reply_free(st, &r);
	return rc;
}

int pv_import(void *state, const char *kind, const char *input, const provauth_account *existing,
              provauth_update *u)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	pv_cookie_jar jar = { NULL, NULL, 0 };
	provauth_json *payload = NULL;
	pv_client_ids given, ids;
	const char *token;
	char *email = NULL, *cookies_text = NULL, *raw_jwt = NULL;
	size_t i;
	int rc, has_given = 0;

	if (kind && strcmp(kind, "google_id_token") == 0)
		return import_google(st, input, u);
	if (!kind || strcmp(kind, "cookies") != 0)
		return h->set_error(h, PROVAUTH_EUNSUPPORTED, "pixverse: cannot import '%s' credentials (only 'cookies' "
		                    "and 'google_id_token')", kind ? kind : "(none)");
	memset(&given, 0, sizeof(given));
	if ((rc = raw_data_parse(h, input, &cookies_text, &raw_jwt, &given, &has_given)) < 0)
		return rc;
	if ((rc = pv_cookies_parse(&jar, h, cookies_text ? cookies_text : input)) < 0)
		goto out;
	token = raw_jwt ? raw_jwt : pv_cookie_find(jar.items, jar.count, PV_TOKEN_COOKIE);
	if (!token || !*token) {
		rc = h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: no " PV_TOKEN_COOKIE " cookie (export the cookies "
		                  "of a logged-in app.pixverse.ai tab)");
		goto out;
	}
	if (!(payload = pv_jwt_payload(h, token))) {
		rc = h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: the " PV_TOKEN_COOKIE " cookie is not a readable "
		                  "JWT (its payload does not decode to a JSON object)");
		goto out;
	}
	if ((rc = import_ids(st, existing, &given, has_given, &ids)) < 0)
		goto out;
	if (!(email = email_from_payload(h, payload)) && (rc = email_from_service(st, &jar, token, &ids, &email)) < 0)
		goto out;
	if ((rc = pv_ids_store(st, u, &ids)) < 0)
		goto out;
	if ((rc = h->update_clear_credentials(u, PROVAUTH_CRED_COOKIE)) < 0 ||
	    (rc = h->update_set_email(u, email)) < 0 ||
	    (rc = h->update_set_credential(u, PROVAUTH_CRED_JWT, NULL, token, 0)) < 0)
		goto out;
	for (i = 0; i < jar.count; i++)
		if (strcmp(jar.items[i].name, PV_TOKEN_COOKIE) != 0 &&
		    (rc = h->update_set_credential(u, PROVAUTH_CRED_COOKIE, jar.items[i].name, jar.items[i].value, 0)) <
		        0)
			goto out;
	/* The cookie and the account must agree, or build_session would pick the other one later. */
	if ((rc = h->update_set_credential(u, PROVAUTH_CRED_COOKIE, PV_TOKEN_COOKIE, token, 0)) < 0)
		goto out;
	{
		const provauth_log_field f[] = { { "cookie_count", PROVAUTH_FIELD_INT, NULL, (int64_t)jar.count },
		                                 { "session_ids_given", PROVAUTH_FIELD_BOOL, NULL, has_given } };
		h->log(h, PROVAUTH_LOG_INFO, "pixverse_cookies_imported", f, 2);
	}
out:
	if (payload)
		h->json_free(payload);
	h->free(h, email);
	h->secret_free(h, cookies_text);
	h->secret_free(h, raw_jwt);
	pv_cookies_free(&jar);
	return rc;
}
