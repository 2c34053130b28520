/*
 * The pixiv provider: app-API OAuth with refresh tokens. There is no
 * password login (pixiv retired it), so try_reauth is absent; a dead
 * refresh token is reported as PROVAUTH_EAUTH and the user supplies a new
 * one through import.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixiv.h"

#define PIXIV_VERSION "0.1.0"
#define PIXIV_MAX_IMPORT_LEN 8192

static const char *const setting_keys[] = {
	"token_url", "api_base_url", "client_id", "client_secret", "hash_secret", "user_agent",
	"app_os", "app_os_version", "rate_limit_wait", "retry_max", "retry_base_ms", "retry_max_ms",
	"standard_oauth", NULL
};

/* ---- settings ---- */

/* A value of ours the host's readers took but we refuse: named with its place in the file. */
#define bad_setting(h, set, ...) provauth_plugin_setting_fail((h), (set), PIXIV_ID, __VA_ARGS__)
/* Values end up in HTTP headers and form fields: printable, one line. */
#define get_text(h, set, key, def, out) provauth_plugin_setting_text((h), (set), PIXIV_ID, (key), (def), (out))

static int url_ok(const char *u)
{
	return (strncmp(u, "https://", 8) == 0 && u[8]) || (strncmp(u, "http://", 7) == 0 && u[7]);
}

static int px_init(void **state, const provauth_host *h, const provauth_setting *set)
{
	pixiv_state *st;
	const char *base;
	size_t n;
	int rc;

	*state = NULL;
	if (!(st = calloc(1, sizeof(*st))))
		return h->set_error(h, PROVAUTH_ENOMEM, "pixiv: out of memory");
	st->host = h;
	if ((rc = get_text(h, set, "token_url", PIXIV_DEFAULT_TOKEN_URL, &st->token_url)) < 0 ||
	    (rc = get_text(h, set, "api_base_url", PIXIV_DEFAULT_API_BASE_URL, &base)) < 0 ||
	    (rc = get_text(h, set, "client_id", PIXIV_DEFAULT_CLIENT_ID, &st->client_id)) < 0 ||
	    (rc = get_text(h, set, "client_secret", PIXIV_DEFAULT_CLIENT_SECRET, &st->client_secret)) < 0 ||
	    (rc = get_text(h, set, "hash_secret", PIXIV_DEFAULT_HASH_SECRET, &st->hash_secret)) < 0 ||
	    (rc = get_text(h, set, "user_agent", PIXIV_DEFAULT_USER_AGENT, &st->user_agent)) < 0 ||
	    (rc = get_text(h, set, "app_os", PIXIV_DEFAULT_APP_OS, &st->app_os)) < 0 ||
	    (rc = get_text(h, set, "app_os_version", PIXIV_DEFAULT_APP_OS_VERSION, &st->app_os_version)) < 0 ||
	    (rc = h->setting_int(h, set, "rate_limit_wait", 300, 0, 86400, &st->rate_limit_wait)) < 0 ||
	    (rc = h->setting_int(h, set, "retry_max", 3, 0, 10, &st->retry_max)) < 0 ||
	    (rc = h->setting_int(h, set, "retry_base_ms", 500, 0, 60000, &st->retry_base_ms)) < 0 ||
	    (rc = h->setting_int(h, set, "retry_max_ms", 8000, 0, 600000, &st->retry_max_ms)) < 0 ||
	    (rc = h->setting_bool(h, set, "standard_oauth", 0, &st->standard_oauth)) < 0)
		goto fail;
	if (!url_ok(st->token_url)) {
		rc = bad_setting(h, set, "token_url", "must be an http:// or https:// URL");
		goto fail;
	}
	if (!url_ok(base) || strchr(base, '?') || strchr(base, '#')) {
		rc = bad_setting(h, set, "api_base_url", "must be an http:// or https:// URL without query or fragment");
		goto fail;
	}
	if (strlen(st->hash_secret) > 200) {
		rc = bad_setting(h, set, "hash_secret", "longer than 200 bytes");
		goto fail;
	}
	if (st->retry_max_ms < st->retry_base_ms) {
		rc = bad_setting(h, set, "retry_max_ms", "%lld is less than retry_base_ms (%lld)",
		                 (long long)st->retry_max_ms, (long long)st->retry_base_ms);
		goto fail;
	}
	/* Paths are appended to the base, which therefore ends without '/'. */
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (!(st->api_base_url = provauth_plugin_strndup(h, base, n))) {
		rc = h->set_error(h, PROVAUTH_ENOMEM, "pixiv: out of memory");
		goto fail;
	}
	*state = st;
	return 0;
fail:
	free(st);
	return rc;
}

static void px_fini(void *state)
{
	pixiv_state *st = state;

	if (!st)
		return;
	st->host->free(st->host, (char *)st->api_base_url);
	free(st);
}

/* ---- sessions ---- */

/* A credential of `kind` that is present and not empty. */
static int has_credential(const provauth_host *h, const provauth_account *a, const char *kind)
{
	const char *v = h->account_credential(a, kind, NULL);

	return v && *v;
}

static int px_build_session(void *state, const provauth_account *a, provauth_session *s, provauth_update *u)
{
	pixiv_state *st = state;

	(void)u;
	/* The session holds the account's access token; the manager refreshes when it is missing or expiring. */
	if (!has_credential(st->host, a, PROVAUTH_CRED_ACCESS_TOKEN) &&
	    !has_credential(st->host, a, PROVAUTH_CRED_REFRESH_TOKEN))
		return st->host->set_error(st->host, PROVAUTH_EAUTH,
		                           "pixiv: account %s has neither an access token nor a refresh token; %s", a->id,
		                           PIXIV_NEW_TOKEN_HINT);
	/*
	 * The user id, parsed out of the metadata once per session rather than on
	 * every user_detail call (see bench/RESULTS.md, e2e). NULL (absent, or no
	 * memory) only makes the operation parse the metadata itself.
	 */
	s->provider_data = pixiv_metadata_string(st->host, a->metadata, "user_id");
	return 0;
}

static void px_session_data_free(void *state, void *provider_data)
{
	const pixiv_state *st = state;

	/* pixiv_metadata_string's, from host->alloc */
	st->host->free(st->host, provider_data);
}

/* Stores a metadata string (JSON-quoted); absent values leave the old ones. */
static int set_meta(const provauth_host *h, provauth_update *u, const char *key, const char *value)
{
	char *json;
	int rc;

	if (!value)
		return 0;
	if (!(json = pixiv_json_quote(h, value)))
		return h->set_error(h, PROVAUTH_ENOMEM, "pixiv: out of memory");
	rc = h->update_set_metadata(u, key, json);
	h->free(h, json);
	return rc;
}

/* What a successful grant changes on the account. `issued_at` is before the request: expiry errs early. */
static int apply_token(const provauth_host *h, provauth_update *u, const pixiv_token *t, int64_t issued_at)
{
	int rc;

	if ((rc = h->update_set_credential(u, PROVAUTH_CRED_ACCESS_TOKEN, NULL, t->access_token,
	                                   issued_at + t->expires_in)) < 0)
		return rc;
	/* No refresh_token in the reply means the old one stays valid: keep it. */
	if (t->refresh_token &&
	    (rc = h->update_set_credential(u, PROVAUTH_CRED_REFRESH_TOKEN, NULL, t->refresh_token, 0)) < 0)
		return rc;
	if ((rc = set_meta(h, u, "user_id", t->user_id)) < 0 ||
	    (rc = set_meta(h, u, "user_name", t->user_name)) < 0 ||
	    (rc = set_meta(h, u, "account", t->account)) < 0)
		return rc;
	return 0;
}

static int px_refresh(void *state, const provauth_account *a, provauth_update *u)
{
	pixiv_state *st = state;
	const provauth_host *h = st->host;
	pixiv_token tok;
	char who[160], *device;
	int64_t issued_at = h->now(h);
	int rc;

	snprintf(who, sizeof(who), "account %s", a->id);
	device = pixiv_metadata_string(h, a->metadata, "device_token");
	rc = pixiv_refresh_grant(st, &tok, who, h->account_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL),
	                         device);
	h->secret_free(h, device);
	if (rc < 0)
		return rc;
	rc = apply_token(h, u, &tok, issued_at);
	pixiv_token_clear(&tok);
	if (rc < 0)
		return h->set_error(h, rc, "pixiv: %s: could not record the new tokens", who);
	return 0;
}

/* ---- import ---- */

/* The refresh token a user pasted, without surrounding blanks; never quoted in messages. */
static int import_token(const provauth_host *h, const char *input, char **out)
{
	const char *b = input, *e;
	const char *p;

	*out = NULL;
	while (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n')
		b++;
	e = b + strlen(b);
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	if (e == b)
		return h->set_error(h, PROVAUTH_EINVAL, "pixiv: import: the refresh token is empty");
	if (e - b > PIXIV_MAX_IMPORT_LEN)
		return h->set_error(h, PROVAUTH_EINVAL, "pixiv: import: the refresh token is longer than %d bytes",
		                    PIXIV_MAX_IMPORT_LEN);
	for (p = b; p < e; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return h->set_error(h, PROVAUTH_EINVAL,
			                    "pixiv: import: the refresh token contains a space, a control or a non-ASCII "
			                    "character at offset %ld (paste only the token)", (long)(p - input));
	if (!(*out = h->alloc(h, (size_t)(e - b) + 1)))
		return h->set_error(h, PROVAUTH_ENOMEM, "pixiv: out of memory");
	memcpy(*out, b, (size_t)(e - b));
	(*out)[e - b] = '\0';
	return 0;
}

static int px_import(void *state, const char *kind, const char *input, const provauth_account *existing,
                     provauth_update *u)
{
	pixiv_state *st = state;
	const provauth_host *h = st->host;
	pixiv_token tok;
	char *token = NULL, *device = NULL, *email = NULL;
	int64_t issued_at;
	int rc;

	if (!kind || strcmp(kind, "refresh_token") != 0)
		return h->set_error(h, PROVAUTH_EUNSUPPORTED,
		                    "pixiv: import: unsupported kind '%.40s' (pixiv imports kind \"refresh_token\")",
		                    kind ? kind : "(none)");
	if (!input)
		return h->set_error(h, PROVAUTH_EINVAL, "pixiv: import: no refresh token given");
	if ((rc = import_token(h, input, &token)) < 0)
		return rc;
	if (existing)
		device = pixiv_metadata_string(h, existing->metadata, "device_token");
	issued_at = h->now(h);
	/* Exchanging it proves it works and tells us whose it is. */
	rc = pixiv_refresh_grant(st, &tok, "import", token, device);
	h->secret_free(h, device);
	if (rc < 0) {
		h->secret_free(h, token);
		return rc;
	}
	/*
	 * The store finds the account to update by email. Standard OAuth
	 * servers send no user, so all their imports share one placeholder
	 * (documented: one account per store for such servers).
	 */
	if (tok.mail_address) {
		email = strdup(tok.mail_address);
	} else if (tok.user_id) {
		size_t email_len = strlen(tok.user_id) + sizeof("pixiv:");
		if ((email = malloc(email_len)))
			snprintf(email, email_len, "pixiv:%s", tok.user_id);
	} else {
		email = strdup("oauth-account");
	}
	if (!email) {
		rc = h->set_error(h, PROVAUTH_ENOMEM, "pixiv: out of memory");
	} else if ((rc = apply_token(h, u, &tok, issued_at)) == 0 && !tok.refresh_token) {
		rc = h->update_set_credential(u, PROVAUTH_CRED_REFRESH_TOKEN, NULL, token, 0);
	}
	if (rc == 0)
		rc = h->update_set_email(u, email);
	if (rc < 0 && email)
		rc = h->set_error(h, rc, "pixiv: import: could not record the new tokens");
	free(email);
	pixiv_token_clear(&tok);
	h->secret_free(h, token);
	return rc;
}

/* ---- the provider ---- */

static const provauth_import_kind import_kinds[] = {
	{ "refresh_token", "an OAuth refresh token from a pixiv app login (exchanged once to check it)" },
	{ NULL, NULL },
};

static const provauth_provider pixiv_provider = {
	.abi_major = PROVAUTH_PLUGIN_ABI_MAJOR,
	.abi_minor = PROVAUTH_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(provauth_provider),
	.id = PIXIV_ID,
	.description = "pixiv app API (OAuth refresh tokens)",
	.version = PIXIV_VERSION,
	.setting_keys = setting_keys,
	.init = px_init,
	.fini = px_fini,
	.build_session = px_build_session,
	.session_data_free = px_session_data_free,
	.classify_error = pixiv_classify_error,
	.refresh = px_refresh,
	/* pixiv retired password logins: the manager reports that plainly. */
	.try_reauth = NULL,
	.operations = pixiv_operations,
	.operation_count = PIXIV_OPERATION_COUNT,
	.import = px_import,
	.import_kinds = import_kinds,
	/* A refresh token from an app login is the only way in: no password, no Google. */
	.sign_ins = PROVAUTH_SIGNIN_TOKEN,
};

int pixiv_plugin_init(const provauth_provider **out, const provauth_host *host)
{
	(void)host;
	*out = &pixiv_provider;
	return 0;
}
