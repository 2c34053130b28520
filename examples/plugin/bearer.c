/*
 * bearer: a minimal out-of-tree provauth provider. It fits any HTTP API that trades a refresh token for a
 * short-lived bearer token (POST {base_url}/token {"refresh_token"} -> {"access_token", "expires_in", "email"})
 * and answers GET {base_url}/whoami with it (401: rejected). It uses <provauth/plugin.h> and the static helper
 * library <provauth/plugin_util.h> (pkg-config provauth-plugin); HTTP, JSON, memory and errors: the host table.
 * Settings block:  providers: { bearer: { base_url: https://... } }
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <provauth/plugin_util.h>

typedef struct bearer_state {
	const provauth_host *host;
	const char *base_url;  /* points into the settings: valid until fini */
} bearer_state;

static const char *const setting_keys[] = { "base_url", NULL };

static int bearer_init(void **state, const provauth_host *h, const provauth_setting *set)
{
	bearer_state *st;
	const char *url = NULL;
	int rc;

	*state = NULL;
	if ((rc = h->setting_string(h, set, "base_url", NULL, &url)) < 0)
		return rc;
	if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
		return provauth_plugin_setting_fail(h, set, "bearer", "base_url", "required, an http:// or https:// URL");
	if (!(st = calloc(1, sizeof(*st))))
		return h->set_error(h, PROVAUTH_ENOMEM, "bearer: out of memory");
	st->host = h;
	st->base_url = url;
	*state = st;
	return 0;
}

static void bearer_fini(void *state) { free(state); }

/* The refresh token for an access token (and, for import, whose it is). */
static int token_exchange(bearer_state *st, const char *refresh_token, const char *who, provauth_update *u,
                          int want_email)
{
	const provauth_host *h = st->host;
	const provauth_plugin_field fields[] = { { "refresh_token", refresh_token } };
	provauth_plugin_token tok;
	provauth_json *reply = NULL;
	const char *email;
	int rc;

	rc = provauth_plugin_token_exchange(h, &tok, &reply, who, st->base_url, "/token", PROVAUTH_PLUGIN_BODY_JSON,
	                                    fields, 1);
	if (rc < 0)
		return rc;
	email = h->json_string(h->json_get(reply, "email"));
	if (tok.expires_in <= 0 || (want_email && (!email || !*email)))
		rc = h->set_error(h, PROVAUTH_EPROTOCOL, "%s: POST /token: reply lacks expires_in or email", who);
	else if ((rc = h->update_set_credential(u, PROVAUTH_CRED_ACCESS_TOKEN, NULL, tok.access_token,
	                                        h->now(h) + tok.expires_in)) == 0 && want_email)
		rc = h->update_set_email(u, email);
	h->json_free(reply);
	provauth_plugin_token_clear(h, &tok);
	return rc;
}

static int bearer_refresh(void *state, const provauth_account *a, provauth_update *u)
{
	bearer_state *st = state;
	const char *token = st->host->account_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL);
	char who[160];

	if (!token)
		return st->host->set_error(st->host, PROVAUTH_EAUTH, "bearer: account %s has no refresh token", a->id);
	snprintf(who, sizeof(who), "bearer: account %s", a->id);
	return token_exchange(st, token, who, u, 0);
}

/* The host checked the kind against import_kinds. A pasted token often ends with a newline. */
static int bearer_import(void *state, const char *kind, const char *input, const provauth_account *existing,
                         provauth_update *u)
{
	bearer_state *st = state;
	const provauth_host *h = st->host;
	size_t n = input ? strcspn(input, "\r\n") : 0;
	char *token;
	int rc;

	(void)kind, (void)existing;
	if (n == 0)
		return h->set_error(h, PROVAUTH_EINVAL, "bearer: import: the refresh token is empty");
	if (!(token = provauth_plugin_strndup(h, input, n)))
		return h->set_error(h, PROVAUTH_ENOMEM, "bearer: out of memory");
	/* The exchange proves the token works and tells whose it is. */
	if ((rc = token_exchange(st, token, "bearer: import", u, 1)) == 0)
		rc = h->update_set_credential(u, PROVAUTH_CRED_REFRESH_TOKEN, NULL, token, 0);
	h->secret_free(h, token);
	return rc;
}

/* The session holds the account's access token; the host refreshes it before it expires. */
static int bearer_build_session(void *state, const provauth_account *a, provauth_session *s, provauth_update *u)
{
	const provauth_host *h = ((bearer_state *)state)->host;

	(void)s, (void)u;
	return h->account_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL) ||
	       h->account_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL)
	       ? 0 : h->set_error(h, PROVAUTH_EAUTH, "bearer: account %s has no token", a->id);
}

/* GET /whoami: its JSON reply is the result. */
static int whoami(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                  char **out_json, provauth_failure *f)
{
	bearer_state *st = state;
	const char *token = st->host->session_credential(s, PROVAUTH_CRED_ACCESS_TOKEN, NULL);

	(void)args, (void)nargs;
	return provauth_plugin_bearer_get(st->host, out_json, "bearer", st->base_url, "/whoami", token, f);
}

static const provauth_operation operations[] = { { "whoami", "who the token is for (GET /whoami)", whoami } };

static int bearer_classify_error(void *state, const provauth_failure *f, provauth_outcome *out)
{
	(void)state;
	return provauth_plugin_classify_http(f, out);  /* 401: refresh; 403, 429 and others: no */
}

static const provauth_import_kind import_kinds[] = {
	{ "refresh_token", "a refresh token for the service's token endpoint" }, { NULL, NULL },
};

static const provauth_provider bearer_provider = {
	.abi_major = PROVAUTH_PLUGIN_ABI_MAJOR, .abi_minor = PROVAUTH_PLUGIN_ABI_MINOR, .struct_size = sizeof(provauth_provider),
	.id = "bearer", .description = "generic bearer-token API (example plugin)", .version = "2.0",
	.setting_keys = setting_keys, .init = bearer_init, .fini = bearer_fini,
	.build_session = bearer_build_session, .classify_error = bearer_classify_error, .refresh = bearer_refresh,
	.operations = operations, .operation_count = 1, .import = bearer_import, .import_kinds = import_kinds,
};

PROVAUTH_PLUGIN_EXPORT int provauth_plugin_init(const provauth_provider **out, const provauth_host *host);

int provauth_plugin_init(const provauth_provider **out, const provauth_host *host)
{
	(void)host;
	*out = &bearer_provider;
	return 0;
}
