/*
 * The refresh grant's wire format: the form body we send, the reply we
 * accept, and the refusals we recognise. Pure functions over host services,
 * so the unit tests drive them without a network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "pixiv.h"

/* Ten years: anything longer is a broken reply, and now + it must not overflow. */
#define PIXIV_MAX_EXPIRES_IN INT64_C(315360000)
#define PIXIV_MAX_TOKEN_LEN 8192

char *pixiv_token_form(const pixiv_state *st, const char *refresh_token, const char *device_token)
{
	const int pixiv = !st->standard_oauth;
	const provauth_plugin_field fields[] = {
		{ "client_id", st->client_id },
		{ "client_secret", st->client_secret },
		{ "grant_type", "refresh_token" },
		{ "refresh_token", refresh_token },
		/* pixiv's own fields; NULL leaves a field out */
		{ "get_secure_url", pixiv ? "1" : NULL },
		{ "include_policy", pixiv ? "true" : NULL },
		{ "device_token", pixiv && device_token && *device_token ? device_token : NULL },
	};

	return provauth_plugin_body_make(st->host, PROVAUTH_PLUGIN_BODY_FORM, fields, PIXIV_ARRAY_LEN(fields));
}

void pixiv_token_clear(pixiv_token *t)
{
	const provauth_host *h;

	if (!t || !(h = t->host))
		return; /* nothing was parsed into it */
	h->secret_free(h, t->access_token);
	h->secret_free(h, t->refresh_token);
	h->free(h, t->user_id);
	h->free(h, t->user_name);
	h->free(h, t->account);
	h->free(h, t->mail_address);
	memset(t, 0, sizeof(*t));
}

/* Tokens go into headers and form bodies: visible ASCII only, bounded. */
static int token_text_ok(const char *s)
{
	size_t n;

	for (n = 0; s[n]; n++)
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || n >= PIXIV_MAX_TOKEN_LEN)
			return 0;
	return n > 0;
}

/* A reply member at the top level or, as pixiv also sends it, under "response". */
static const provauth_json *member(const provauth_host *h, const provauth_json *doc, const char *name)
{
	char path[64];
	const provauth_json *v = h->json_get(doc, name);

	if (v && h->json_type(v) != PROVAUTH_JSON_NULL)
		return v;
	snprintf(path, sizeof(path), "response.%s", name);
	v = h->json_get(doc, path);
	return v && h->json_type(v) != PROVAUTH_JSON_NULL ? v : NULL;
}

static int dup_string(const provauth_host *h, const provauth_json *v, char **out)
{
	const char *s = h->json_string(v);

	if (!s || !*s)
		return 0;
	if (!(*out = provauth_plugin_strdup(h, s)))
		return PROVAUTH_ENOMEM;
	return 0;
}

static int parse_user(const provauth_host *h, const provauth_json *user, pixiv_token *out)
{
	const provauth_json *id;
	int64_t n;
	char num[24];
	int rc;

	/* The user block only labels the account: a wrong shape is ignored, not fatal. */
	if (!user || h->json_type(user) != PROVAUTH_JSON_OBJECT)
		return 0;
	id = h->json_get(user, "id");
	if (h->json_type(id) == PROVAUTH_JSON_STRING) {
		if (pixiv_is_user_id(h->json_string(id)) && !(out->user_id = provauth_plugin_strdup(h, h->json_string(id))))
			return PROVAUTH_ENOMEM;
	} else if ((h->json_type(id) == PROVAUTH_JSON_INT || h->json_type(id) == PROVAUTH_JSON_DOUBLE) &&
	           h->json_int(id, &n) == 0 && n >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)n);
		if (!(out->user_id = provauth_plugin_strdup(h, num)))
			return PROVAUTH_ENOMEM;
	}
	if ((rc = dup_string(h, h->json_get(user, "name"), &out->user_name)) < 0 ||
	    (rc = dup_string(h, h->json_get(user, "account"), &out->account)) < 0 ||
	    (rc = dup_string(h, h->json_get(user, "mail_address"), &out->mail_address)) < 0)
		return rc;
	return 0;
}

/* EPROTOCOL naming what is wrong; a reply we cannot read changes nothing stored. */
static int bad_reply(const provauth_host *h, const char *who, const char *what)
{
	return h->set_error(h, PROVAUTH_EPROTOCOL,
	                    "pixiv: %s: the token reply was not understood: %s; nothing was stored", who, what);
}

int pixiv_token_parse(const provauth_host *h, pixiv_token *out, const char *who, const char *body, size_t len)
{
	provauth_json *doc;
	const provauth_json *v;
	const char *s;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->host = h;
	if (!body || !(doc = h->json_parse(body, len)))
		return bad_reply(h, who, "it is not JSON");
	if (h->json_type(doc) != PROVAUTH_JSON_OBJECT) {
		rc = bad_reply(h, who, "it is not a JSON object");
		goto out;
	}

	if (!(v = member(h, doc, "access_token"))) {
		rc = bad_reply(h, who, "it has no access_token");
		goto out;
	}
	if (!(s = h->json_string(v)) || !token_text_ok(s)) {
		rc = bad_reply(h, who, "access_token is not a non-empty string of visible ASCII");
		goto out;
	}
	if (!(out->access_token = provauth_plugin_strdup(h, s))) {
		rc = h->set_error(h, PROVAUTH_ENOMEM, "out of memory");
		goto out;
	}

	v = member(h, doc, "expires_in");
	if (!v || h->json_type(v) == PROVAUTH_JSON_BOOL || h->json_int(v, &out->expires_in) < 0 ||
	    out->expires_in <= 0 || out->expires_in > PIXIV_MAX_EXPIRES_IN) {
		rc = bad_reply(h, who, v ? "expires_in is not a positive number of seconds" : "it has no expires_in");
		goto out;
	}

	if ((v = member(h, doc, "token_type")) &&
	    (!(s = h->json_string(v)) || strcasecmp(s, "bearer") != 0)) {
		rc = bad_reply(h, who, "token_type is not \"bearer\"");
		goto out;
	}

	/* Absent: the server keeps the old refresh token (RFC 6749 section 6). */
	if ((v = member(h, doc, "refresh_token"))) {
		if (!(s = h->json_string(v)) || !token_text_ok(s)) {
			rc = bad_reply(h, who, "refresh_token is not a non-empty string of visible ASCII");
			goto out;
		}
		if (!(out->refresh_token = provauth_plugin_strdup(h, s))) {
			rc = h->set_error(h, PROVAUTH_ENOMEM, "out of memory");
			goto out;
		}
	}

	if ((rc = parse_user(h, member(h, doc, "user"), out)) < 0)
		rc = h->set_error(h, rc, "out of memory");
out:
	h->json_free(doc);
	if (rc < 0)
		pixiv_token_clear(out);
	return rc;
}

/*
 * Copies an OAuth error name if it is one: letters, digits, '_', '-', '.'
 * only, and short enough to fit. Anything else is left out whole, never
 * filtered: dropping the odd character could join the pieces of a secret
 * the server split with it ("secr\u00e9et") back into the secret.
 */
static void copy_code(char *dst, size_t size, const char *src)
{
	size_t n;

	if (!size)
		return;
	dst[0] = '\0';
	if (!src)
		return;
	for (n = 0; src[n]; n++)
		if (!((src[n] >= 'a' && src[n] <= 'z') || (src[n] >= 'A' && src[n] <= 'Z') ||
		      (src[n] >= '0' && src[n] <= '9') || src[n] == '_' || src[n] == '-' || src[n] == '.'))
			return;
	if (n + 1 > size)
		return;
	memcpy(dst, src, n + 1);
}

pixiv_token_error pixiv_token_error_parse(const provauth_host *h, long status, const char *body,
                                          size_t len, char *code, size_t code_size)
{
	provauth_json *doc = body ? h->json_parse(body, len) : NULL;
	const char *err, *sys, *msg;
	pixiv_token_error kind = PIXIV_TERR_UNKNOWN;

	if (code_size)
		code[0] = '\0';
	err = h->json_string(h->json_get(doc, "error"));
	sys = h->json_string(h->json_get(doc, "errors.system.message"));
	msg = h->json_string(h->json_get(doc, "error.message"));
	copy_code(code, code_size, err);

	if (err && strcmp(err, "invalid_grant") == 0)
		kind = PIXIV_TERR_INVALID_GRANT;
	else if (err && (strcmp(err, "invalid_client") == 0 || strcmp(err, "unauthorized_client") == 0))
		kind = PIXIV_TERR_INVALID_CLIENT;
	else if (err && strcmp(err, "access_denied") == 0)
		kind = PIXIV_TERR_ACCESS_DENIED;
	else if (err && strcmp(err, "invalid_request") == 0)
		kind = PIXIV_TERR_INVALID_REQUEST;
	/* pixiv often leaves out the top-level "error": the system message says it. */
	else if (sys && provauth_plugin_contains_ci(sys, "invalid refresh token"))
		kind = PIXIV_TERR_INVALID_GRANT;
	else if (sys && provauth_plugin_contains_ci(sys, "access_denied"))
		kind = PIXIV_TERR_ACCESS_DENIED;
	else if (sys && provauth_plugin_contains_ci(sys, "invalid_client"))
		kind = PIXIV_TERR_INVALID_CLIENT;
	else if ((msg && provauth_plugin_contains_ci(msg, "rate limit")) || status == 429)
		kind = PIXIV_TERR_RATE_LIMIT;
	else if (code_size && code[0])
		kind = PIXIV_TERR_OTHER;

	if (code_size && !code[0]) {
		if (kind == PIXIV_TERR_INVALID_GRANT)
			copy_code(code, code_size, "invalid_grant");
		else if (kind == PIXIV_TERR_ACCESS_DENIED)
			copy_code(code, code_size, "access_denied");
		else if (kind == PIXIV_TERR_INVALID_CLIENT)
			copy_code(code, code_size, "invalid_client");
	}
	h->json_free(doc);
	return kind;
}

void pixiv_token_error_text(const provauth_host *h, const char *body, size_t len, char *out, size_t size)
{
	provauth_json *doc = body ? h->json_parse(body, len) : NULL;
	const char *text, *p;
	size_t n;

	if (!size)
		return;
	out[0] = '\0';
	text = h->json_string(h->json_get(doc, "error_description"));
	if (!text)
		text = h->json_string(h->json_get(doc, "errors.system.message"));
	/* All or nothing, as for the code: a filtered text could join a split secret back. */
	for (p = text, n = 0; p && *p; p++, n++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '"' || *p == '\\')
			break;
	if (text && !*p && n > 0 && n < size)
		memcpy(out, text, n + 1);
	h->json_free(doc);
}
