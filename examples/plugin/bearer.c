/*
 * bearer: a minimal out-of-tree provauth provider, as an example of the
 * plugin ABI. It fits any HTTP API that
 *  - trades a long-lived refresh token (an "API key") for a short-lived
 *    bearer token:  POST {base_url}/token  {"refresh_token": "..."}
 *                   -> {"access_token": "...", "expires_in": N, "email": "..."}
 *  - answers GET {base_url}/whoami with "Authorization: Bearer <token>",
 *    and a rejected token with 401.
 *
 * It includes nothing from provauth but <provauth/plugin.h> and links
 * nothing but libc: HTTP, JSON, logging and errors all come from the host
 * table. Settings block:  providers: { bearer: { base_url: https://... } }
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <provauth/plugin.h>

#define BEARER_ID "bearer"

typedef struct bearer_state {
	const provauth_host *host;
	const char *base_url;  /* points into the settings: valid until fini */
} bearer_state;

static const char *const setting_keys[] = { "base_url", NULL };

static int bearer_init(void **state, const provauth_host *h, const provauth_setting *set)
{
	bearer_state *st;
	const char *url;
	int rc;

	*state = NULL;
	if ((rc = h->setting_string(h, set, "base_url", NULL, &url)) < 0)
		return rc;
	if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)) {
		/* ABI 1.3 hosts say where in the settings file the value is. */
		if (PROVAUTH_HOST_HAS(h, setting_error))
			return h->setting_error(h, set, "base_url", "required, an http:// or https:// URL");
		return h->set_error(h, PROVAUTH_ECONFIG,
		                    "providers.bearer.base_url: required, an http:// or https:// URL");
	}
	if (!(st = calloc(1, sizeof(*st))))
		return h->set_error(h, PROVAUTH_ENOMEM, "bearer: out of memory");
	st->host = h;
	st->base_url = url;
	*state = st;
	return 0;
}

static void bearer_fini(void *state)
{
	free(state);
}

/* Joins base_url and path without doubling the '/'. Free with free(). */
static char *make_url(const bearer_state *st, const char *path)
{
	size_t n = strlen(st->base_url);
	char *url;

	while (n > 0 && st->base_url[n - 1] == '/')
		n--;
	if ((url = malloc(n + strlen(path) + 1)))
		sprintf(url, "%.*s%s", (int)n, st->base_url, path);
	return url;
}

/* Overwrites a secret before freeing it, so it does not linger in the heap. */
static void secret_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

/* ---- token exchange: used by refresh and by import ---- */

static int token_exchange(bearer_state *st, const char *refresh_token, const char *who, provauth_update *u,
                          int want_email)
{
	const provauth_host *h = st->host;
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_header hd[] = { { "Content-Type", "application/json", 0 } };
	provauth_http_response *resp = NULL;
	provauth_json *body = h->json_new_object(), *reply = NULL;
	const char *token, *email;
	char *url = make_url(st, "/token"), *text = NULL;
	int64_t expires_in = 0;
	int rc;

	if (!body || !url || h->json_set(body, "refresh_token", h->json_from_string(refresh_token)) < 0 ||
	    !(text = h->json_serialize(body))) {
		rc = h->set_error(h, PROVAUTH_ENOMEM, "bearer: out of memory");
		goto out;
	}
	req.method = "POST";
	req.url = url;
	req.headers = hd;
	req.header_count = 1;
	req.body = text;  /* holds the refresh token: the host never logs bodies */
	req.body_len = strlen(text);
	if ((rc = h->http_request(h, &req, &resp)) < 0)
		goto out;  /* the host's message already names the URL and the cause */
	if (resp->status == 400 || resp->status == 401) {
		rc = h->set_error(h, PROVAUTH_EAUTH, "bearer: %s: the refresh token was refused (HTTP %ld); "
		                  "add the account again with a new one", who, resp->status);
		goto out;
	}
	if (resp->status != 200) {
		rc = h->set_error(h, PROVAUTH_EHTTP, "bearer: %s: POST /token answered HTTP %ld", who, resp->status);
		goto out;
	}
	reply = h->json_parse(resp->body, resp->body_len);
	token = h->json_string(h->json_get(reply, "access_token"));
	email = h->json_string(h->json_get(reply, "email"));
	if (!token || !*token || h->json_int(h->json_get(reply, "expires_in"), &expires_in) < 0 ||
	    (want_email && (!email || !*email))) {
		rc = h->set_error(h, PROVAUTH_EPROTOCOL, "bearer: %s: POST /token: reply lacks access_token, "
		                  "expires_in or email", who);
		goto out;
	}
	if ((rc = h->update_set(u, PROVAUTH_F_ACCESS_TOKEN, token)) < 0 ||
	    (rc = h->update_set_access_expiry(u, h->now(h) + expires_in)) < 0 ||
	    (want_email && (rc = h->update_set(u, PROVAUTH_F_EMAIL, email)) < 0))
		goto out;
	rc = 0;
out:
	h->json_free(reply);
	h->json_free(body);
	h->http_response_free(resp);
	secret_free(text);
	free(url);
	return rc;
}

static int bearer_refresh(void *state, const provauth_account *a, provauth_update *u)
{
	bearer_state *st = state;
	char who[160];

	if (!a->refresh_token)
		return st->host->set_error(st->host, PROVAUTH_EAUTH, "bearer: account %s has no refresh token", a->id);
	snprintf(who, sizeof(who), "account %s", a->id);
	return token_exchange(st, a->refresh_token, who, u, 0);
}

static int bearer_import(void *state, const char *kind, const char *input, const provauth_account *existing,
                         provauth_update *u)
{
	bearer_state *st = state;
	const provauth_host *h = st->host;
	char *token;
	size_t n;
	int rc;

	(void)existing;
	if (!kind || strcmp(kind, "refresh_token") != 0)
		return h->set_error(h, PROVAUTH_EUNSUPPORTED, "bearer: import: unsupported kind (use refresh_token)");
	/* A pasted token often ends with a newline. */
	n = input ? strcspn(input, "\r\n") : 0;
	if (n == 0)
		return h->set_error(h, PROVAUTH_EINVAL, "bearer: import: the refresh token is empty");
	if (!(token = strndup(input, n)))
		return h->set_error(h, PROVAUTH_ENOMEM, "bearer: out of memory");
	/* The exchange proves the token works and tells whose it is. */
	if ((rc = token_exchange(st, token, "import", u, 1)) == 0)
		rc = h->update_set(u, PROVAUTH_F_REFRESH_TOKEN, token);
	secret_free(token);
	return rc;
}

/* ---- sessions ---- */

static int bearer_build_session(void *state, const provauth_account *a, provauth_session *s, provauth_update *u)
{
	bearer_state *st = state;

	(void)s;
	(void)u;
	/* The host prefilled s->access_token and refreshes it before it expires. */
	if (!a->access_token && !a->refresh_token)
		return st->host->set_error(st->host, PROVAUTH_EAUTH, "bearer: account %s has no token", a->id);
	return 0;
}

/* ---- the one operation ---- */

static int whoami(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                  char **out_json, provauth_failure *f)
{
	bearer_state *st = state;
	const provauth_host *h = st->host;
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	provauth_http_header hd[2];
	provauth_json *doc;
	char *url, *auth;
	const char *ra;
	int rc;

	(void)args;
	(void)nargs;
	if (!s->access_token) {
		h->failure_set_message(f, PROVAUTH_ESESSION, "bearer: whoami: no access token");
		return PROVAUTH_ESESSION;
	}
	url = make_url(st, "/whoami");
	auth = malloc(strlen(s->access_token) + sizeof("Bearer "));
	if (!url || !auth) {
		free(url);
		free(auth);
		h->failure_set_message(f, PROVAUTH_ENOMEM, "bearer: out of memory");
		return PROVAUTH_ENOMEM;
	}
	sprintf(auth, "Bearer %s", s->access_token);
	hd[0] = (provauth_http_header){ "Authorization", auth, 1 };
	hd[1] = (provauth_http_header){ "Accept", "application/json", 0 };
	req.url = url;
	req.headers = hd;
	req.header_count = 2;
	rc = h->http_request(h, &req, &resp);
	secret_free(auth);
	free(url);
	if (rc < 0) {
		/* ABI 1.3 hosts tell what happened: refused, closed mid-reply, timed out after N ms. */
		char msg[1200];
		snprintf(msg, sizeof(msg), "bearer: GET /whoami: %s",
		         PROVAUTH_HOST_HAS(h, last_error) ? h->last_error(h) : "no usable reply");
		h->failure_set_transport(f, rc, msg);
		return rc;
	}
	if (resp->status != 200) {
		/* classify_error decides what the status means. */
		ra = h->http_header(resp, "retry-after");
		h->failure_set_http(f, resp->status, resp->body, resp->body_len, ra ? strtol(ra, NULL, 10) : -1);
		rc = PROVAUTH_EHTTP;
	} else if (!(doc = h->json_parse(resp->body, resp->body_len))) {
		h->failure_set_message(f, PROVAUTH_EPROTOCOL, "bearer: GET /whoami: reply is not JSON");
		rc = PROVAUTH_EPROTOCOL;
	} else {
		*out_json = h->json_serialize(doc);
		h->json_free(doc);
		rc = 0;
		if (!*out_json) {
			h->failure_set_message(f, PROVAUTH_ENOMEM, "bearer: out of memory");
			rc = PROVAUTH_ENOMEM;
		}
	}
	h->http_response_free(resp);
	return rc;
}

static const provauth_operation operations[] = {
	{ "whoami", "who the token belongs to (GET /whoami)", whoami },
};

/* ---- what a failure means ---- */

static void outcome(provauth_outcome *out, int session, int result, const char *reason)
{
	out->is_session_error = session;
	out->should_invalidate_cache = session;
	/* For this provider "reauth" is the refresh-token exchange. */
	out->should_attempt_reauth = session;
	out->result = result;
	snprintf(out->error_reason, sizeof(out->error_reason), "%s", reason);
}

static int bearer_classify_error(void *state, const provauth_failure *f, provauth_outcome *out)
{
	(void)state;
	if (f->kind != PROVAUTH_FAILURE_HTTP) {
		outcome(out, 0, f->code < 0 ? f->code : PROVAUTH_ERROR, "non_session_error");
		return 0;
	}
	snprintf(out->error_code, sizeof(out->error_code), "%ld", f->http_status);
	if (f->http_status == 401) {
		outcome(out, 1, PROVAUTH_ESESSION, "token_rejected");
	} else if (f->http_status == 403) {
		/* The token is fine but lacks the right: a new one would not help. */
		outcome(out, 0, PROVAUTH_EPROVIDER, "forbidden");
	} else if (f->http_status == 429) {
		outcome(out, 0, PROVAUTH_ERATELIMIT, "rate_limited");
		out->retry_after = f->retry_after >= 0 ? f->retry_after : 60;
	} else {
		outcome(out, 0, PROVAUTH_EHTTP, "http_error");
	}
	return 0;
}

/* ---- the provider ---- */

/*
 * What `provauth plugins` lists and the host checks before anyone types a
 * secret. bearer_import still checks the kind: a host built before 1.3
 * grew this list passes every kind on.
 */
static const provauth_import_kind import_kinds[] = {
	{ "refresh_token", "a refresh token for the service's token endpoint" },
	{ NULL, NULL },
};

static const provauth_provider bearer_provider = {
	.abi_major = PROVAUTH_PLUGIN_ABI_MAJOR,
	.abi_minor = PROVAUTH_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(provauth_provider),
	.id = BEARER_ID,
	.description = "generic bearer-token API (example plugin)",
	.version = "1.0",
	.setting_keys = setting_keys,
	.init = bearer_init,
	.fini = bearer_fini,
	.build_session = bearer_build_session,
	.classify_error = bearer_classify_error,
	.refresh = bearer_refresh,
	.operations = operations,
	.operation_count = sizeof(operations) / sizeof(operations[0]),
	.import = bearer_import,
	.import_kinds = import_kinds,
};

PROVAUTH_PLUGIN_EXPORT int provauth_plugin_init(const provauth_provider **out, const provauth_host *host);

int provauth_plugin_init(const provauth_provider **out, const provauth_host *host)
{
	/* A host of an older minor may lack services this plugin calls. */
	if (!PROVAUTH_HOST_HAS(host, failure_set_transport))
		return host->set_error(host, PROVAUTH_EPLUGIN, "bearer: the host lacks failure_set_transport");
	*out = &bearer_provider;
	return 0;
}
