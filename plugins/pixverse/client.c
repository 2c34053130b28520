/*
 * Talking to the web API: the headers the web app sends (so replies match
 * what a browser gets), and the {ErrCode, ErrMsg, Resp} envelope every
 * reply comes in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "pixverse.h"

const char *pv_transport_text(int code)
{
	switch (code) {
	case PROVAUTH_ETIMEOUT: return "timed out";
	case PROVAUTH_ETOOBIG: return "reply larger than the http.max_reply_bytes limit";
	case PROVAUTH_ENETWORK: return "connection failed";
	case PROVAUTH_ENOMEM: return "out of memory";
	default: return "request failed";
	}
}

void pv_transport_detail(const provauth_host *h, int code, char *out, size_t size)
{
	const char *said = PROVAUTH_HOST_HAS(h, last_error) && h->last_error ? h->last_error(h) : NULL;

	snprintf(out, size, "%s", said && *said ? said : pv_transport_text(code));
}

/* "a=1; b=2" from the jar, plus _ai_token=<jwt> when the jar lacks it. Secret. */
static char *cookie_header(const provauth_host *h, const pv_request *req)
{
	size_t i, len = 1;
	char *out, *p;
	int add_token = req->jwt && *req->jwt && !pv_cookie_find(req->cookies, req->cookie_count, PV_TOKEN_COOKIE) &&
	                pv_cookie_value_ok(req->jwt);

	for (i = 0; i < req->cookie_count; i++)
		len += strlen(req->cookies[i].name) + strlen(req->cookies[i].value) + 3;
	if (add_token)
		len += sizeof(PV_TOKEN_COOKIE) + strlen(req->jwt) + 3;
	if (len == 1 || !(out = h->alloc(h, len)))
		return NULL;
	p = out;
	*p = '\0';
	for (i = 0; i < req->cookie_count; i++) {
		const provauth_cookie *c = &req->cookies[i];
		/* A stored cookie that cannot go into a header is left out rather than break the request. */
		if (!pv_cookie_name_ok(c->name) || !pv_cookie_value_ok(c->value))
			continue;
		p += snprintf(p, len - (size_t)(p - out), "%s%s=%s", p == out ? "" : "; ", c->name, c->value);
	}
	if (add_token)
		p += snprintf(p, len - (size_t)(p - out), "%s%s=%s", p == out ? "" : "; ", PV_TOKEN_COOKIE, req->jwt);
	if (p == out) {
		h->free(h, out);
		return NULL;
	}
	return out;
}

static long parse_retry_after(const char *v)
{
	long n = 0;

	if (!v)
		return -1;
	while (*v == ' ')
		v++;
	if (*v < '0' || *v > '9')
		return -1; /* an HTTP date: the caller's default is close enough */
	for (; *v >= '0' && *v <= '9'; v++) {
		if (n > 86400L * 7)
			return 86400L * 7;
		n = n * 10 + (*v - '0');
	}
	return n;
}

int pv_send(const pv_state *st, const pv_request *req, pv_reply *out)
{
	const provauth_host *h = st->host;
	provauth_http_request hr = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_header hdr[14];
	pv_client_ids once;
	const pv_client_ids *ids = req->ids;
	char *cookies = NULL, *referer = NULL;
	const provauth_json *ec;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->retry_after = -1;
	out->err_msg = "";
	/*
	 * The account's ids on every request, never new ones per request: the
	 * service ties the session to them and answers 10005 to others. Only a
	 * request for no account yet (an import learning whose cookies these
	 * are) goes without.
	 */
	if (!ids) {
		if ((rc = pv_ids_fresh(st, &once)) < 0) {
			snprintf(out->transport, sizeof(out->transport), "%s", pv_transport_text(rc));
			return rc;
		}
		ids = &once;
	}
	if (req->api_key) {
		hdr[n++] = (provauth_http_header){ "API-KEY", req->api_key, 1 };
		hdr[n++] = (provauth_http_header){ "Ai-trace-id", ids->trace_id, 0 };
		hdr[n++] = (provauth_http_header){ "ai-anonymous-id", ids->anonymous_id, 0 };
	} else {
		size_t referer_len = strlen(st->web_origin) + 2;
		if (!(referer = malloc(referer_len))) {
			snprintf(out->transport, sizeof(out->transport), "%s", pv_transport_text(PROVAUTH_ENOMEM));
			return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
		}
		snprintf(referer, referer_len, "%s/", st->web_origin);
		if (req->jwt && *req->jwt)
			hdr[n++] = (provauth_http_header){ "token", req->jwt, 1 };
		hdr[n++] = (provauth_http_header){ "ai-trace-id", ids->trace_id, 0 };
		hdr[n++] = (provauth_http_header){ "ai-anonymous-id", ids->anonymous_id, 0 };
		hdr[n++] = (provauth_http_header){ "x-platform", "Web", 0 };
		hdr[n++] = (provauth_http_header){ "Origin", st->web_origin, 0 };
		hdr[n++] = (provauth_http_header){ "Referer", referer, 0 };
		if ((cookies = cookie_header(h, req)))
			hdr[n++] = (provauth_http_header){ "Cookie", cookies, 1 };
		/* Generation calls only: the service then answers with the credits the job left. */
		if (req->refresh_credit)
			hdr[n++] = (provauth_http_header){ "refresh", "credit", 0 };
	}
	hdr[n++] = (provauth_http_header){ "Content-Type", req->content_type ? req->content_type : "application/json",
	                                   0 };
	hdr[n++] = (provauth_http_header){ "Accept", "application/json, text/plain, */*", 0 };
	hdr[n++] = (provauth_http_header){ "User-Agent", st->user_agent, 0 };

	hr.method = req->method;
	hr.url = req->url;
	hr.headers = hdr;
	hr.header_count = n;
	hr.body = req->body;
	hr.body_len = req->body ? req->body_len : 0;
	rc = h->http_request(h, &hr, &out->http);
	if (rc < 0)
		pv_transport_detail(h, rc, out->transport, sizeof(out->transport));
	h->secret_free(h, cookies);
	free(referer);
	if (rc < 0 || !out->http) {
		if (out->http)
			h->http_response_free(out->http);
		out->http = NULL;
		if (rc >= 0)
			snprintf(out->transport, sizeof(out->transport), "%s", pv_transport_text(rc));
		return h->set_error(h, rc < 0 ? rc : PROVAUTH_ENETWORK, "pixverse: %s %s: %s", req->method, req->endpoint,
		                    out->transport);
	}
	out->retry_after = parse_retry_after(h->http_header(out->http, "retry-after"));
	if (out->http->body && out->http->body_len)
		out->json = h->json_parse(out->http->body, out->http->body_len);
	if (out->json && h->json_type(out->json) != PROVAUTH_JSON_OBJECT) {
		h->json_free(out->json);
		out->json = NULL;
	}
	if (out->json) {
		if ((ec = h->json_get(out->json, "ErrCode")) && h->json_int(ec, &out->err_code) == 0)
			out->has_err_code = 1;
		if (h->json_string(h->json_get(out->json, "ErrMsg")))
			out->err_msg = h->json_string(h->json_get(out->json, "ErrMsg"));
		out->resp = h->json_get(out->json, "Resp");
		if (out->resp && h->json_type(out->resp) == PROVAUTH_JSON_NULL)
			out->resp = NULL;
	}
	return 0;
}

void pv_reply_free(const pv_state *st, pv_reply *r)
{
	if (!r)
		return;
	if (r->json)
		st->host->json_free(r->json);
	if (r->http)
		st->host->http_response_free(r->http);
	memset(r, 0, sizeof(*r));
}

int pv_reply_ok(const pv_reply *r)
{
	return r->http && r->http->status == 200 && r->json && (!r->has_err_code || r->err_code == 0);
}

int pv_reply_to_failure(const pv_state *st, const pv_reply *r, const char *endpoint, int need_resp,
                        provauth_failure *f)
{
	const provauth_host *h = st->host;
	long status = r->http ? r->http->status : 0;
	int code;

	if (status != 200 || (r->has_err_code && r->err_code != 0)) {
		code = status == 429 ? PROVAUTH_ERATELIMIT : status != 200 ? PROVAUTH_EHTTP : PROVAUTH_EPROVIDER;
		h->failure_set_http(f, status, r->http->body, r->http->body_len, r->retry_after);
		return code;
	}
	if (!r->json) {
		h->failure_set_message(f, PROVAUTH_EPROTOCOL, "pixverse: %s: reply is not JSON", endpoint);
		return PROVAUTH_EPROTOCOL;
	}
	if (need_resp && !r->resp) {
		h->failure_set_message(f, PROVAUTH_EPROTOCOL, "pixverse: %s: reply has no Resp", endpoint);
		return PROVAUTH_EPROTOCOL;
	}
	return 0;
}

int pv_set_cookie_parse(const provauth_host *h, const char *header, char **name, char **value, int *removes)
{
	const char *eq, *semi, *ns, *ne, *vs, *ve, *attr;

	*name = *value = NULL;
	*removes = 0;
	if (!header)
		return -1;
	semi = strchr(header, ';');
	if (!semi)
		semi = header + strlen(header);
	if (!(eq = memchr(header, '=', (size_t)(semi - header))))
		return -1;
	for (ns = header; ns < eq && (*ns == ' ' || *ns == '\t'); ns++)
		;
	for (ne = eq; ne > ns && (ne[-1] == ' ' || ne[-1] == '\t'); ne--)
		;
	for (vs = eq + 1; vs < semi && (*vs == ' ' || *vs == '\t'); vs++)
		;
	for (ve = semi; ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
		;
	/* A quoted value means its contents (RFC 6265 5.2 keeps quotes, browsers send them back as is). */
	if (ne == ns || !(*name = provauth_plugin_strndup(h, ns, (size_t)(ne - ns))) ||
	    !(*value = provauth_plugin_strndup(h, vs, (size_t)(ve - vs))))
		goto bad;
	if (!pv_cookie_name_ok(*name) || !pv_cookie_value_ok(*value))
		goto bad;
	/* Max-Age <= 0 or an empty value deletes the cookie. */
	for (attr = semi; *attr; attr++) {
		if (*attr != ';')
			continue;
		while (attr[1] == ' ' || attr[1] == '\t')
			attr++;
		if (strncasecmp(attr + 1, "max-age=", 8) == 0) {
			const char *v = attr + 9;
			int positive = 0, digits = 0;
			if (*v == '-')
				*removes = 1;
			for (; *v >= '0' && *v <= '9'; v++, digits++)
				positive |= *v != '0';
			if (digits && !positive)
				*removes = 1;
		}
	}
	if (!**value)
		*removes = 1;
	return 0;
bad:
	h->free(h, *name);
	h->secret_free(h, *value);
	*name = *value = NULL;
	return -1;
}

int pv_reply_cookies(const pv_state *st, const pv_reply *r, provauth_update *update, char **token)
{
	const provauth_host *h = st->host;
	size_t i;
	int rc = 0;

	*token = NULL;
	for (i = 0; r->http && i < r->http->header_count && rc == 0; i++) {
		char *name, *value;
		int removes;

		if (strcasecmp(r->http->headers[i].name, "set-cookie") != 0)
			continue;
		if (pv_set_cookie_parse(h, r->http->headers[i].value, &name, &value, &removes) < 0)
			continue;
		if (strcmp(name, PV_TOKEN_COOKIE) == 0 && !removes) {
			h->secret_free(h, *token);
			if (!(*token = provauth_plugin_strdup(h, value)))
				rc = h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
		}
		if (rc == 0)
			rc = h->update_set_credential(update, PROVAUTH_CRED_COOKIE, name, removes ? NULL : value, 0);
		h->free(h, name);
		h->secret_free(h, value);
	}
	if (rc < 0) {
		h->secret_free(h, *token);
		*token = NULL;
	}
	return rc;
}
