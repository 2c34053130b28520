/*
 * Signing in to the status page. A browser cannot send a bearer header on
 * navigation, so POST /login takes a pasted token (form-encoded) and, when
 * it is one of the settings' tokens with at least the READ scope, keeps it
 * in a cookie: HttpOnly (page scripts never read it), SameSite=Strict (no
 * other site's page can make the browser send it), Path=/, Secure under
 * TLS. The token is never logged nor echoed: a wrong one gets the form
 * again, empty. http/ reads the same cookie (pad_cookie_bearer) as the
 * bearer of GET requests only.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"

#define PAD_TOKEN_MAX 1024

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into out (plus as space when `form`); its length, or -1. */
static int decode(char *out, size_t size, const char *s, size_t n, int form)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int h = i + 2 < n ? hex_value(s[i + 1]) : -1;
			int l = i + 2 < n ? hex_value(s[i + 2]) : -1;

			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		} else if (c == '+' && form) {
			c = ' ';
		}
		if (o + 1 >= size || c == 0)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (int)o;
}

int pad_cookie_bearer(const char *cookie_header, char *out, size_t size)
{
	size_t nl = strlen(PAD_OPS_COOKIE);
	const char *p = cookie_header;

	while (p && *p) {
		const char *end;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) > nl && !strncmp(p, PAD_OPS_COOKIE, nl) && p[nl] == '=') {
			int n = decode(out, size, p + nl + 1, (size_t)(end - p) - nl - 1, 0);

			return n > 0 ? n : -1;
		}
		p = end;
	}
	return -1;
}

static const pad_token *find_token(const pad_request *req, const char *bearer, size_t len)
{
	const pad_token *t;

	if (!req->world || !req->world->config)
		return NULL;
	t = pad_config_find_token(req->world->config, bearer, len);
	return t && t->scope >= PAD_SCOPE_READ ? t : NULL;
}

const pad_token *pad_ops_page_token(const pad_request *req)
{
	char buf[PAD_TOKEN_MAX];
	const char *h;
	const pad_token *t = NULL;
	int n;

	if (req->token)
		return req->token->scope >= PAD_SCOPE_READ ? req->token : NULL;
	if ((h = pad_request_header(req, "Authorization")) && !strncasecmp(h, "Bearer ", 7))
		t = find_token(req, h + 7, strlen(h + 7));
	else if ((h = pad_request_header(req, "Cookie")) && (n = pad_cookie_bearer(h, buf, sizeof(buf))) > 0)
		t = find_token(req, buf, (size_t)n);
	memset(buf, 0, sizeof(buf));
	return t;
}

/* The token field of a form-encoded body, decoded into out; its length or -1. */
static int form_token(const char *body, char *out, size_t size)
{
	const char *p = body;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > 6 && !strncmp(p, "token=", 6))
			return decode(out, size, p + 6, len - 6, 1);
		p = end ? end + 1 : NULL;
	}
	return -1;
}

static int cookie_safe(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '~';
}

int pad_handle_login(pad_request *req, pad_reply *rep)
{
	char token[PAD_TOKEN_MAX], cookie[PAD_TOKEN_MAX * 3 + 128];
	json_object *j = NULL;
	size_t o, i;
	int n = -1, rc, tls, wait;

	/* The sign-in form is a way to try tokens too: wrong ones count as the API's do. */
	if ((wait = pad_auth_blocked(req)) > 0) {
		char v[32];
		snprintf(v, sizeof(v), "%d", wait);
		rc = pad_ops_login_form(req, rep, 429, "Too many wrong tokens from this address. Try again in a "
		                                       "minute.");
		if (rc == 0)
			rc = pad_reply_header(rep, "Retry-After", v);
		return rc;
	}
	if (req->json && json_object_object_get_ex(req->json, "token", &j) && json_object_is_type(j, json_type_string))
		n = decode(token, sizeof(token), json_object_get_string(j), (size_t)json_object_get_string_len(j), 0);
	else if (req->body)
		n = form_token(req->body, token, sizeof(token));
	if (n <= 0 || !find_token(req, token, (size_t)n)) {
		memset(token, 0, sizeof(token));
		if (n > 0)
			pad_auth_failed(req);
		return pad_ops_login_form(req, rep, 401, "That token is not one this daemon knows (or it may only "
		                                         "operate without reading). Paste a token with the read scope.");
	}
	tls = req->world->config->tls_certificate != NULL;
	o = (size_t)snprintf(cookie, sizeof(cookie), "%s=", PAD_OPS_COOKIE);
	for (i = 0; i < (size_t)n; i++) {
		if (cookie_safe((unsigned char)token[i]))
			cookie[o++] = token[i];
		else
			o += (size_t)snprintf(cookie + o, sizeof(cookie) - o, "%%%02X", (unsigned char)token[i]);
	}
	snprintf(cookie + o, sizeof(cookie) - o, "; Path=/; HttpOnly; SameSite=Strict%s", tls ? "; Secure" : "");
	memset(token, 0, sizeof(token));
	rc = pad_reply_text(rep, 303, "text/plain; charset=utf-8", "Signed in.\n", 11);
	if (rc == 0)
		rc = pad_reply_header(rep, "Set-Cookie", cookie);
	if (rc == 0)
		rc = pad_reply_header(rep, "Location", "/");
	memset(cookie, 0, sizeof(cookie));
	return rc;
}
