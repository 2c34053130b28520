/*
 * The token exchange of OAuth 2.0 (RFC 6749 section 6, a refresh grant; 4.3,
 * a password grant) and the look-alikes many APIs run: a POST of a few
 * fields, a JSON reply with access_token, refresh_token and expires_in.
 * What the grant means, and what an error reply means, stays the plugin's.
 */
#include <stdio.h>
#include <string.h>
#include <provauth/plugin_util.h>

static char *form_body(const provauth_host *h, const provauth_plugin_field *fields, size_t nfields)
{
	char **esc = h->alloc(h, 2 * nfields * sizeof(*esc));
	char *out = NULL, *p;
	size_t i, len = 1;
	int oom = !esc;

	for (i = 0; esc && i < nfields; i++) {
		esc[2 * i] = esc[2 * i + 1] = NULL;
		if (!fields[i].value)
			continue;
		if (!(esc[2 * i] = h->url_escape(h, fields[i].name)) ||
		    !(esc[2 * i + 1] = h->url_escape(h, fields[i].value))) {
			oom = 1;
			continue;
		}
		len += strlen(esc[2 * i]) + strlen(esc[2 * i + 1]) + 2;
	}
	if (!oom && (out = h->alloc(h, len))) {
		p = out;
		for (i = 0; i < nfields; i++) {
			size_t nl, vl;
			if (!esc[2 * i])
				continue;
			if (p != out)
				*p++ = '&';
			nl = strlen(esc[2 * i]);
			vl = strlen(esc[2 * i + 1]);
			memcpy(p, esc[2 * i], nl);
			p[nl] = '=';
			memcpy(p + nl + 1, esc[2 * i + 1], vl);
			p += nl + 1 + vl;
		}
		*p = '\0';
	}
	for (i = 0; esc && i < nfields; i++) {
		h->free(h, esc[2 * i]);
		h->secret_free(h, esc[2 * i + 1]);
	}
	h->free(h, esc);
	return out;
}

/* {"name":"value",...}, each piece quoted by the host's json_format. */
static char *json_body(const provauth_host *h, const provauth_plugin_field *fields, size_t nfields)
{
	char *out = provauth_plugin_strdup(h, "{"), *k, *v, *grown;
	size_t i, len = 1;

	for (i = 0; out && i < nfields; i++) {
		if (!fields[i].value)
			continue;
		k = h->json_format(h, "%s", fields[i].name);
		v = h->json_format(h, "%s", fields[i].value);
		grown = k && v ? h->alloc(h, len + strlen(k) + strlen(v) + 4) : NULL;
		if (grown)
			len = (size_t)snprintf(grown, len + strlen(k) + strlen(v) + 4, "%s%s%s:%s", out, len > 1 ? "," : "",
			                       k, v);
		h->free(h, k);
		h->secret_free(h, v);
		h->secret_free(h, out);
		out = grown;
	}
	if (out && (grown = h->alloc(h, len + 2))) {
		snprintf(grown, len + 2, "%s}", out);
		h->secret_free(h, out);
		return grown;
	}
	h->secret_free(h, out);
	return NULL;
}

char *provauth_plugin_body_make(const provauth_host *h, provauth_plugin_body kind,
                                const provauth_plugin_field *fields, size_t nfields)
{
	return kind == PROVAUTH_PLUGIN_BODY_JSON ? json_body(h, fields, nfields) : form_body(h, fields, nfields);
}

#define PA_TOKEN_MAX_HEADERS 14

int provauth_plugin_token_post(const provauth_host *h, provauth_http_response **out, const char *url,
                               provauth_plugin_body kind, const provauth_plugin_field *fields, size_t nfields,
                               const provauth_http_header *headers, size_t nheaders)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_header hd[PA_TOKEN_MAX_HEADERS + 2];
	char *body;
	size_t i, n = 0;
	int rc;

	*out = NULL;
	if (nheaders > PA_TOKEN_MAX_HEADERS)
		return h->set_error(h, PROVAUTH_EINVAL, "token request: more than %d headers", PA_TOKEN_MAX_HEADERS);
	if (!(body = provauth_plugin_body_make(h, kind, fields, nfields)))
		return h->set_error(h, PROVAUTH_ENOMEM, "out of memory");
	hd[n++] = (provauth_http_header){ "Content-Type", kind == PROVAUTH_PLUGIN_BODY_JSON ? "application/json"
	                                  : "application/x-www-form-urlencoded", 0 };
	hd[n++] = (provauth_http_header){ "Accept", "application/json", 0 };
	for (i = 0; i < nheaders; i++)
		hd[n++] = headers[i];
	req.method = "POST";
	req.url = url;
	req.headers = hd;
	req.header_count = n;
	req.body = body;  /* holds the grant's secrets: the host never logs bodies */
	req.body_len = strlen(body);
	rc = h->http_request(h, &req, out);
	h->secret_free(h, body);
	return rc;
}

void provauth_plugin_token_clear(const provauth_host *h, provauth_plugin_token *t)
{
	if (!t)
		return;
	h->secret_free(h, t->access_token);
	h->secret_free(h, t->refresh_token);
	memset(t, 0, sizeof(*t));
}

int provauth_plugin_token_parse(const provauth_host *h, provauth_plugin_token *out, const char *who,
                                const char *body, size_t len)
{
	provauth_json *doc;
	const provauth_json *v;
	const char *s, *bad = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	doc = body ? h->json_parse(body, len) : NULL;
	if (!doc || h->json_type(doc) != PROVAUTH_JSON_OBJECT) {
		h->json_free(doc);
		return h->set_error(h, PROVAUTH_EPROTOCOL, "%s: the token reply is not a JSON object", who);
	}
	s = h->json_string(h->json_get(doc, "access_token"));
	if (!s || !*s)
		bad = "access_token";
	else if (!(out->access_token = provauth_plugin_strdup(h, s)))
		rc = PROVAUTH_ENOMEM;
	if (!bad && !rc && (v = h->json_get(doc, "refresh_token")) && h->json_type(v) != PROVAUTH_JSON_NULL) {
		if (!(s = h->json_string(v)) || !*s)
			bad = "refresh_token";
		else if (!(out->refresh_token = provauth_plugin_strdup(h, s)))
			rc = PROVAUTH_ENOMEM;
	}
	if (!bad && !rc && (v = h->json_get(doc, "expires_in")) && h->json_type(v) != PROVAUTH_JSON_NULL &&
	    (h->json_int(v, &out->expires_in) < 0 || out->expires_in <= 0))
		bad = "expires_in";
	h->json_free(doc);
	if (bad || rc) {
		provauth_plugin_token_clear(h, out);
		if (rc)
			return h->set_error(h, rc, "%s: out of memory", who);
		return h->set_error(h, PROVAUTH_EPROTOCOL, "%s: the token reply's %s is missing or wrong", who, bad);
	}
	return 0;
}

int provauth_plugin_token_exchange(const provauth_host *h, provauth_plugin_token *out, provauth_json **reply,
                                   const char *who, const char *url, const char *path, provauth_plugin_body kind,
                                   const provauth_plugin_field *fields, size_t nfields)
{
	provauth_http_response *resp = NULL;
	char *joined = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (reply)
		*reply = NULL;
	if (path && !(joined = provauth_plugin_url_join(h, url, path)))
		return h->set_error(h, PROVAUTH_ENOMEM, "%s: out of memory", who);
	rc = provauth_plugin_token_post(h, &resp, joined ? joined : url, kind, fields, nfields, NULL, 0);
	h->free(h, joined);
	if (rc < 0)
		return rc;  /* the host's message names the URL and the cause */
	if (resp->status == 400 || resp->status == 401)
		rc = h->set_error(h, PROVAUTH_EAUTH, "%s: the token endpoint refused the grant (HTTP %ld)", who,
		                  resp->status);
	else if (resp->status != 200)
		rc = h->set_error(h, PROVAUTH_EHTTP, "%s: the token endpoint answered HTTP %ld", who, resp->status);
	else if ((rc = provauth_plugin_token_parse(h, out, who, resp->body, resp->body_len)) == 0 && reply &&
	         !(*reply = h->json_parse(resp->body, resp->body_len))) {
		provauth_plugin_token_clear(h, out);
		rc = h->set_error(h, PROVAUTH_ENOMEM, "%s: out of memory", who);
	}
	h->http_response_free(resp);
	return rc;
}
