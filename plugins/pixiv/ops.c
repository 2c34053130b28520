/*
 * Named operations: authenticated GETs against the app API. Failures are
 * described for classify_error (status, body, Retry-After) rather than
 * judged here, so the manager can refresh and retry on session errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixiv.h"

#define PIXIV_MAX_URL 4096

/*
 * What a failed http_request reported: the host's own message when it
 * offers one (ABI 1.3: refused, reset, timed out after N ms, with the URL
 * minus its query), else the class of the failure. Call it before any
 * other host service.
 */
static const char *transport_text(const provauth_host *h, int rc)
{
	const char *said = PROVAUTH_HOST_HAS(h, last_error) && h->last_error ? h->last_error(h) : NULL;

	if (said && *said)
		return said;
	switch (rc) {
	case PROVAUTH_ETIMEOUT: return "timed out";
	case PROVAUTH_ETOOBIG: return "the reply is too large (http.max_reply_bytes)";
	case PROVAUTH_ENETWORK: return "network error (connection failed, refused or reset)";
	default: return "no usable reply";
	}
}

/* GET api_base_url + path_query; `path` (no query) names the call in messages. */
static int api_get(pixiv_state *st, const provauth_session *s, const char *path, const char *path_query,
                   char **out_json, provauth_failure *f)
{
	const provauth_host *h = st->host;
	const char *token = h->session_credential(s, PROVAUTH_CRED_ACCESS_TOKEN, NULL);
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	provauth_http_header hd[6];
	/* Ordinary URLs and tokens fit on the stack: two allocations less per call. */
	char url_small[512], auth_small[512];
	char *url = url_small, *auth = auth_small;
	size_t n, base_len, pq_len, token_len;
	int rc;

	if (!token || !*token) {
		h->failure_set_message(f, PROVAUTH_ESESSION, "pixiv: GET %s: the account has no access token", path);
		return PROVAUTH_ESESSION;
	}
	base_len = strlen(st->api_base_url);
	pq_len = strlen(path_query);
	token_len = strlen(token);
	n = base_len + pq_len + 1;
	if (n > PIXIV_MAX_URL) {
		h->failure_set_message(f, PROVAUTH_EINVAL, "pixiv: GET %s: the URL would be longer than %d bytes", path,
		                       PIXIV_MAX_URL);
		return PROVAUTH_EINVAL;
	}
	if (n > sizeof(url_small))
		url = malloc(n);
	if (sizeof("Bearer ") + token_len > sizeof(auth_small))
		auth = malloc(sizeof("Bearer ") + token_len);
	if (!url || !auth) {
		if (url != url_small)
			free(url);
		if (auth != auth_small)
			free(auth);
		h->failure_set_message(f, PROVAUTH_ENOMEM, "out of memory");
		return PROVAUTH_ENOMEM;
	}
	/* Put together by hand: formatting both took more than the rest of the plugin's work per call. */
	memcpy(url, st->api_base_url, base_len);
	memcpy(url + base_len, path_query, pq_len + 1);
	memcpy(auth, "Bearer ", sizeof("Bearer ") - 1);
	memcpy(auth + sizeof("Bearer ") - 1, token, token_len + 1);

	hd[0] = (provauth_http_header){ "Authorization", auth, 1 };
	hd[1] = (provauth_http_header){ "User-Agent", st->user_agent, 0 };
	hd[2] = (provauth_http_header){ "App-OS", st->app_os, 0 };
	hd[3] = (provauth_http_header){ "App-OS-Version", st->app_os_version, 0 };
	hd[4] = (provauth_http_header){ "Accept-Language", "en-us", 0 };
	hd[5] = (provauth_http_header){ "Accept", "application/json", 0 };
	req.method = "GET";
	req.url = url;
	req.headers = hd;
	req.header_count = sizeof(hd) / sizeof(hd[0]);
	req.follow_redirects = 0;
	rc = h->http_request(h, &req, &resp);
	/* The token must not stay behind on the stack or the heap. */
	provauth_plugin_wipe(auth, sizeof("Bearer ") - 1 + token_len);
	if (auth != auth_small)
		free(auth);
	if (url != url_small)
		free(url);

	if (rc < 0) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "pixiv: GET %s: %s", path, transport_text(h, rc));
		h->failure_set_transport(f, rc, msg);
		return rc;
	}
	if (resp->status < 200 || resp->status >= 300) {
		long ra = pixiv_retry_after(h->http_header(resp, "retry-after"));
		h->failure_set_http(f, resp->status, resp->body, resp->body_len, ra);
		rc = resp->status == 429 ? PROVAUTH_ERATELIMIT : PROVAUTH_EHTTP;
		h->http_response_free(resp);
		return rc;
	}
	if (!pixiv_is_json(h, resp->body, resp->body_len)) {
		h->failure_set_message(f, PROVAUTH_EPROTOCOL, "pixiv: GET %s: the reply (HTTP %ld, %zu bytes) is not JSON",
		                       path, resp->status, resp->body_len);
		h->http_response_free(resp);
		return PROVAUTH_EPROTOCOL;
	}
	/* The reply is the result: taken over, not copied (plugin.h, provauth_http_response). */
	*out_json = resp->body;
	resp->body = NULL;
	resp->body_len = 0;
	h->http_response_free(resp);
	return 0;
}

static int arg_error(const provauth_host *h, provauth_failure *f, const char *op, const char *what,
                     const char *key)
{
	h->failure_set_message(f, PROVAUTH_EINVAL, "pixiv: %s: %s%s%s%s", op, what, key ? " '" : "",
	                       key ? key : "", key ? "'" : "");
	return PROVAUTH_EINVAL;
}

static int op_user_detail(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                          char **out_json, provauth_failure *f)
{
	pixiv_state *st = state;
	const provauth_host *h = st->host;
	const char *given = NULL;
	char *own = NULL, pq[96];
	size_t i;
	int rc;

	for (i = 0; i < nargs; i++) {
		if (args[i].key && strcmp(args[i].key, "user_id") == 0)
			given = args[i].value;
		else
			return arg_error(h, f, "user_detail", "unknown argument (only user_id=N)", args[i].key);
	}
	if (!given)
		given = s->provider_data; /* the account's own id, cached by build_session */
	if (!given)
		given = own = pixiv_metadata_string(h, s->metadata, "user_id");
	if (!given) {
		return arg_error(h, f, "user_detail",
		                 "no user_id given and the account's metadata has none (it is learnt at the first refresh)",
		                 NULL);
	}
	if (!pixiv_is_user_id(given)) {
		h->free(h, own);
		return arg_error(h, f, "user_detail", "user_id must be a decimal number", NULL);
	}
	{
		/* given is 1..20 digits (checked above), so this fits pq. */
		static const char head[] = "/v1/user/detail?user_id=", tail[] = "&filter=for_ios";
		size_t glen = strlen(given);

		memcpy(pq, head, sizeof(head) - 1);
		memcpy(pq + sizeof(head) - 1, given, glen);
		memcpy(pq + sizeof(head) - 1 + glen, tail, sizeof(tail));
	}
	h->free(h, own);
	rc = api_get(st, s, "/v1/user/detail", pq, out_json, f);
	return rc;
}

/* Path characters we pass through unescaped; anything else is refused rather than guessed at. */
static int path_ok(const char *p)
{
	if (!p || p[0] != '/' || p[1] == '/' || strstr(p, ".."))
		return 0;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '/' || *p == '_' || *p == '-' || *p == '.' || *p == '~'))
			return 0;
	return 1;
}

static int op_get(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                  char **out_json, provauth_failure *f)
{
	pixiv_state *st = state;
	const provauth_host *h = st->host;
	const char *path = NULL;
	char *pq = NULL;
	size_t i, len = 0, cap;
	int rc;

	for (i = 0; i < nargs; i++) {
		if (!args[i].key || !*args[i].key)
			return arg_error(h, f, "get", "an argument has no name", NULL);
		if (!args[i].value)
			return arg_error(h, f, "get", "no value for argument", args[i].key);
		if (strcmp(args[i].key, "path") == 0) {
			if (path)
				return arg_error(h, f, "get", "path given twice", NULL);
			path = args[i].value;
		}
	}
	if (!path)
		return arg_error(h, f, "get", "path=/v1/... is required", NULL);
	if (!path_ok(path))
		return arg_error(h, f, "get",
		                 "path must start with one '/' and hold only letters, digits and / _ - . ~ (no query: "
		                 "pass parameters as key=value)", NULL);

	cap = strlen(path) + 1;
	if (!(pq = malloc(cap))) {
		h->failure_set_message(f, PROVAUTH_ENOMEM, "out of memory");
		return PROVAUTH_ENOMEM;
	}
	memcpy(pq, path, cap);
	len = cap - 1;
	for (i = 0; i < nargs; i++) {
		char *k, *v, *grown;
		size_t need;

		if (strcmp(args[i].key, "path") == 0)
			continue;
		k = h->url_escape(h, args[i].key);
		v = h->url_escape(h, args[i].value);
		need = len + (k ? strlen(k) : 0) + (v ? strlen(v) : 0) + 3;
		if (!k || !v || !(grown = realloc(pq, need))) {
			h->free(h, k);
			h->free(h, v);
			free(pq);
			h->failure_set_message(f, PROVAUTH_ENOMEM, "out of memory");
			return PROVAUTH_ENOMEM;
		}
		pq = grown;
		len += (size_t)snprintf(pq + len, need - len, "%c%s=%s", strchr(pq, '?') ? '&' : '?', k, v);
		h->free(h, k);
		h->free(h, v);
	}
	rc = api_get(st, s, path, pq, out_json, f);
	free(pq);
	return rc;
}

/* Sized by the initialiser: a count that disagrees with pixiv.h's declaration does not compile. */
const provauth_operation pixiv_operations[] = {
	{ "user_detail", "GET /v1/user/detail (user_id=N; default: the account's own id)", op_user_detail },
	{ "get", "GET any app-API path (path=/v1/...; other key=value pairs become query parameters)", op_get },
};
