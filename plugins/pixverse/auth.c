/*
 * Getting credentials: password login, cookie refresh and cookie import.
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

/* A token we will put in a header: non-empty, header-safe, of sane size. */
static int token_ok(const char *t)
{
	return t && *t && strlen(t) <= 16384 && pv_cookie_value_ok(t) && !strchr(t, ' ');
}

static int oom(const provauth_host *h)
{
	return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
}

/* ------------------------------------------------------------------------ */
/* Password login                                                           */
/* ------------------------------------------------------------------------ */

static char *login_body(const provauth_host *h, const char *email, const char *password)
{
	provauth_json *o = h->json_new_object();
	char *text = NULL;

	if (o && h->json_set(o, "username", h->json_from_string(email)) == 0 &&
	    h->json_set(o, "password", h->json_from_string(password)) == 0)
		text = h->json_serialize(o);
	if (o)
		h->json_free(o);
	return text;
}

/* The login was refused: say why, and what it means for the account. */
static int login_refused(const pv_state *st, const provauth_account *a, const pv_reply *r, const char *password,
                         provauth_update *u)
{
	const provauth_host *h = st->host;
	const char *secrets[] = { password };
	char msg[PV_SAFE_TEXT_MAX + 64];
	int rc;

	pv_safe_text(h, msg, sizeof(msg), r->err_msg, secrets, 1);
	if (pv_strcasestr(r->err_msg, "oauth")) {
		/* A Google account: no password will ever work, so stop holding one. */
		if ((rc = h->update_set_metadata(u, "auth_method", "\"google\"")) < 0 ||
		    (rc = h->update_set(u, PROVAUTH_F_PASSWORD, NULL)) < 0)
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
	if (r->err_code == PV_ERR_TOO_MANY_LOGINS || pv_strcasestr(r->err_msg, "too many login"))
		return h->set_error(h, PROVAUTH_ECOOLDOWN, "pixverse: account %s: login refused: too many login attempts "
		                    "(ErrCode %lld); logins pause for the login cooldown",
		                    a->id, (long long)r->err_code);
	if (r->err_code == PV_ERR_TOKEN_INVALID && pv_strcasestr(r->err_msg, "account is blocked"))
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
	pv_request req;
	pv_reply r;
	char anon[40], *url = NULL, *body = NULL, *cookie_token = NULL;
	const char *token;
	int rc, fresh_anon;

	if (!a->email || !*a->email)
		return h->set_error(h, PROVAUTH_EAUTH, "pixverse: account %s has no email to log in with", a->id);
	if (!password || !*password)
		return h->set_error(h, PROVAUTH_EAUTH, "pixverse: account %s: no password to log in with", a->id);
	if ((rc = pv_anonymous_id(st, a->metadata, anon, sizeof(anon))) < 0)
		return rc;
	fresh_anon = rc == 1;
	if (!(url = pv_url(st->base_url, PV_LOGIN_PATH)) || !(body = login_body(h, a->email, password))) {
		free(url);
		return oom(h);
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.endpoint = PV_LOGIN_PATH;
	req.anonymous_id = anon;
	req.body = body;
	req.body_len = strlen(body);
	rc = pv_send(st, &req, &r);
	pv_secret_free(body);
	free(url);
	if (rc < 0)
		return h->set_error(h, rc, "pixverse: account %s: login: %s", a->id, r.transport);

	if (r.http->status == 429)
		rc = h->set_error(h, PROVAUTH_ERATELIMIT, "pixverse: account %s: login rate limited (HTTP 429); retry after %lds",
		                  a->id, r.retry_after >= 0 ? r.retry_after : (long)PV_DEFAULT_RETRY_AFTER);
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
	         (rc = h->update_set(u, PROVAUTH_F_JWT_TOKEN, token)) == 0 && !cookie_token)
		/* The cookie and the account must agree, or build_session would pick the stale one later. */
		rc = h->update_set_cookie(u, PV_TOKEN_COOKIE, token);
	if (rc == 0 && fresh_anon) {
		char quoted[64];
		snprintf(quoted, sizeof(quoted), "\"%s\"", anon);
		rc = h->update_set_metadata(u, "anonymous_id", quoted);
	}
	pv_secret_free(cookie_token);
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
				return pv_strdup(v);
		}
	}
	if ((v = h->http_header(r->http, "token")) && token_ok(v))
		return pv_strdup(v);
	if (r->json && ((v = h->json_string(h->json_get(r->json, "Resp.Result.Token"))) ||
	                (v = h->json_string(h->json_get(r->json, "Resp.Token")))) && token_ok(v))
		return pv_strdup(v);
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
		if (pv_strcasestr(r->err_msg, "account is blocked"))
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
	const char *jwt = a->jwt_token && *a->jwt_token ? a->jwt_token
	                  : pv_cookie_find(a->cookies, a->cookie_count, PV_TOKEN_COOKIE);
	pv_request req;
	pv_reply r;
	char anon[40], *url, *cookie_token = NULL, *token = NULL;
	int rc;

	if ((!jwt || !*jwt) && a->cookie_count == 0)
		return h->set_error(h, PROVAUTH_EAUTH, "pixverse: account %s has neither a token nor cookies to refresh",
		                    a->id);
	if ((rc = pv_anonymous_id(st, a->metadata, anon, sizeof(anon))) < 0)
		return rc;
	if (!(url = pv_url(st->base_url, PV_REFRESH_PATH)))
		return oom(h);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.endpoint = PV_REFRESH_PATH;
	req.jwt = jwt;
	req.cookies = a->cookies;
	req.cookie_count = a->cookie_count;
	req.anonymous_id = anon;
	req.body = "{}";
	req.body_len = 2;
	rc = pv_send(st, &req, &r);
	free(url);
	if (rc < 0)
		return h->set_error(h, rc, "pixverse: account %s: refresh: %s", a->id, r.transport);

	if (r.http->status == 429)
		rc = h->set_error(h, PROVAUTH_ERATELIMIT, "pixverse: account %s: refresh rate limited (HTTP 429); retry after %lds",
		                  a->id, r.retry_after >= 0 ? r.retry_after : (long)PV_DEFAULT_RETRY_AFTER);
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
	else if ((rc = h->update_set(u, PROVAUTH_F_JWT_TOKEN, token)) == 0)
		rc = h->update_set_cookie(u, PV_TOKEN_COOKIE, token);
	if (token != cookie_token)
		pv_secret_free(token);
	pv_secret_free(cookie_token);
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
			return pv_strdup(v);
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
	pv_safe_text(h, out, size, text, secrets, jar->count + 1);
	free(secrets);
}

/*
 * Asks the service which account the cookies belong to, as the device
 * `anon` (the existing account's, so a re-import is no new device).
 */
static int email_from_service(const pv_state *st, const pv_cookie_jar *jar, const char *token, const char *anon,
                              char **out)
{
	const provauth_host *h = st->host;
	pv_request req;
	pv_reply r;
	char *url, msg[PV_SAFE_TEXT_MAX + 8];
	const char *mail;
	int rc;

	*out = NULL;
	if (!(url = pv_url(st->base_url, PV_USER_INFO_PATH)))
		return oom(h);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.endpoint = PV_USER_INFO_PATH;
	req.jwt = token;
	req.cookies = jar->items;
	req.cookie_count = jar->count;
	req.anonymous_id = anon;
	rc = pv_send(st, &req, &r);
	free(url);
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
		rc = h->set_error(h, PROVAUTH_EPROTOCOL, "pixverse: cookies: %s: reply has no email address (Resp.Mail)",
		                  PV_USER_INFO_PATH);
	} else if (!(*out = pv_strdup(mail))) {
		rc = oom(h);
	}
	pv_reply_free(st, &r);
	return rc;
}

int pv_import(void *state, const char *kind, const char *input, const provauth_account *existing,
              provauth_update *u)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	pv_cookie_jar jar = { NULL, 0 };
	provauth_json *payload = NULL;
	const char *token;
	char *email = NULL, anon[40];
	size_t i;
	int rc, fresh_anon = 0;

	if (!kind || strcmp(kind, "cookies") != 0)
		return h->set_error(h, PROVAUTH_EUNSUPPORTED, "pixverse: cannot import '%s' credentials (only 'cookies')",
		                    kind ? kind : "(none)");
	if ((rc = pv_cookies_parse(&jar, h, input)) < 0)
		return rc;
	token = pv_cookie_find(jar.items, jar.count, PV_TOKEN_COOKIE);
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
	if (!(email = email_from_payload(h, payload))) {
		if ((rc = pv_anonymous_id(st, existing ? existing->metadata : NULL, anon, sizeof(anon))) < 0)
			goto out;
		fresh_anon = rc == 1;
		if ((rc = email_from_service(st, &jar, token, anon, &email)) < 0)
			goto out;
	}
	/*
	 * The service has now seen this id with the account's cookies: the
	 * named account keeps it. Without `existing` the host may yet match an
	 * account that has its own id, which must win, so nothing is recorded.
	 */
	if (fresh_anon && existing) {
		char quoted[64];
		snprintf(quoted, sizeof(quoted), "\"%s\"", anon);
		if ((rc = h->update_set_metadata(u, "anonymous_id", quoted)) < 0)
			goto out;
	}
	if ((rc = h->update_clear_cookies(u)) < 0 || (rc = h->update_set(u, PROVAUTH_F_EMAIL, email)) < 0 ||
	    (rc = h->update_set(u, PROVAUTH_F_JWT_TOKEN, token)) < 0)
		goto out;
	for (i = 0; i < jar.count; i++)
		if ((rc = h->update_set_cookie(u, jar.items[i].name, jar.items[i].value)) < 0)
			goto out;
	{
		const provauth_log_field f[] = { { "cookie_count", PROVAUTH_FIELD_INT, NULL, (int64_t)jar.count } };
		h->log(h, PROVAUTH_LOG_INFO, "pixverse_cookies_imported", f, 1);
	}
out:
	if (payload)
		h->json_free(payload);
	free(email);
	pv_cookies_free(&jar);
	return rc;
}
