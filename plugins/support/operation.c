/* An operation's request over a bearer token, and what its failures mean for a plain REST API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <provauth/plugin_util.h>

/* Describes a request that failed (rc < 0) or whose reply is no 200 JSON in *f; returns its code, or 0. */
static int describe(const provauth_host *h, int rc, const provauth_http_response *resp, const char *who,
                    const char *path, provauth_failure *f)
{
	char msg[1200];
	const char *ra;

	if (rc < 0) {
		/* the host's words: refused, closed mid-reply, timed out after N ms */
		snprintf(msg, sizeof(msg), "%s: GET %s: %s", who, path, h->last_error(h));
		h->failure_set_transport(f, rc, msg);
		return rc;
	}
	if (resp->status != 200) {
		ra = h->http_header(resp, "retry-after");
		h->failure_set_http(f, resp->status, resp->body, resp->body_len, ra ? strtol(ra, NULL, 10) : -1);
		return PROVAUTH_EHTTP;
	}
	if (!h->json_valid(resp->body, resp->body_len)) {
		h->failure_set_message(f, PROVAUTH_EPROTOCOL, "%s: GET %s: reply is not JSON", who, path);
		return PROVAUTH_EPROTOCOL;
	}
	return 0;
}

int provauth_plugin_bearer_get(const provauth_host *h, char **out_json, const char *who, const char *base_url,
                               const char *path, const char *token, provauth_failure *f)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_header hd[2] = { { "Authorization", NULL, 1 }, { "Accept", "application/json", 0 } };
	provauth_http_response *resp = NULL;
	size_t n = token ? strlen(token) + sizeof("Bearer ") : 0;
	char *auth = NULL, *url = NULL;
	int rc;

	*out_json = NULL;
	if (!n) {
		h->failure_set_message(f, PROVAUTH_ESESSION, "%s: GET %s: no access token", who, path);
		return PROVAUTH_ESESSION;
	}
	if (!(auth = h->alloc(h, n)) || !(url = provauth_plugin_url_join(h, base_url, path))) {
		h->free(h, auth);
		h->failure_set_message(f, PROVAUTH_ENOMEM, "%s: out of memory", who);
		return PROVAUTH_ENOMEM;
	}
	snprintf(auth, n, "Bearer %s", token);
	hd[0].value = auth;
	req.url = url;
	req.headers = hd;
	req.header_count = 2;
	rc = h->http_request(h, &req, &resp);
	h->secret_free(h, auth);
	h->free(h, url);
	if ((rc = describe(h, rc, resp, who, path, f)) == 0) {
		*out_json = resp->body;  /* taken over: it comes from host->alloc */
		resp->body = NULL;
		resp->body_len = 0;
	}
	if (resp)
		h->http_response_free(resp);
	return rc;
}

static int outcome(provauth_outcome *out, int session, int result, const char *reason)
{
	out->is_session_error = session;
	out->should_invalidate_cache = session;
	out->should_attempt_reauth = session;  /* for a bearer token, "reauth" is a refresh */
	out->result = result;
	snprintf(out->error_reason, sizeof(out->error_reason), "%s", reason);
	return 0;
}

int provauth_plugin_classify_http(const provauth_failure *f, provauth_outcome *out)
{
	if (f->kind != PROVAUTH_FAILURE_HTTP)
		return outcome(out, 0, f->code < 0 ? f->code : PROVAUTH_ERROR, "non_session_error");
	snprintf(out->error_code, sizeof(out->error_code), "%ld", f->http_status);
	if (f->http_status == 401)
		return outcome(out, 1, PROVAUTH_ESESSION, "token_rejected");
	if (f->http_status == 403)  /* the token is fine but lacks the right: a new one would not help */
		return outcome(out, 0, PROVAUTH_EPROVIDER, "forbidden");
	if (f->http_status == 429) {
		out->retry_after = f->retry_after >= 0 ? f->retry_after : 60;
		return outcome(out, 0, PROVAUTH_ERATELIMIT, "rate_limited");
	}
	return outcome(out, 0, PROVAUTH_EHTTP, "http_error");
}
