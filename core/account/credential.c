/*
 * Credentials as one list of {kind, name, value, expires_at}: the accessors
 * every reader and writer outside the account room and the store's
 * serialisation goes through, so that the representation behind them can
 * change without touching its users (issue 14, target 2). For now they map
 * onto the account's fixed fields: "password", "jwt", "refresh_token" and
 * "access_token" are single-valued (name "" or NULL), "cookie" is keyed by
 * the cookie's name and "api_key" by the key's kind. Only the access token
 * expires. Every value is a secret.
 */
#include "config.h"
#include <string.h>
#include "internal.h"

/* The single-valued kinds' fields; NULL for kinds that are lists or unknown. */
static char **single_field(provauth_account *a, const char *kind)
{
	if (strcmp(kind, PROVAUTH_CRED_PASSWORD) == 0)
		return &a->password;
	if (strcmp(kind, PROVAUTH_CRED_JWT) == 0)
		return &a->jwt_token;
	if (strcmp(kind, PROVAUTH_CRED_REFRESH_TOKEN) == 0)
		return &a->refresh_token;
	if (strcmp(kind, PROVAUTH_CRED_ACCESS_TOKEN) == 0)
		return &a->access_token;
	return NULL;
}

const char *provauth_account_credential(const provauth_account *a, const char *kind, const char *name)
{
	char **field;

	if (!a || !kind)
		return NULL;
	/* single_field only takes the address; nothing is written through it. */
	if ((field = single_field((provauth_account *)a, kind)))
		return *field;
	if (strcmp(kind, PROVAUTH_CRED_COOKIE) == 0)
		return provauth_account_cookie(a, name);
	if (strcmp(kind, PROVAUTH_CRED_API_KEY) == 0)
		return provauth_account_api_key(a, name);
	return NULL;
}

int64_t provauth_account_credential_expires(const provauth_account *a, const char *kind, const char *name)
{
	(void)name;
	if (a && kind && strcmp(kind, PROVAUTH_CRED_ACCESS_TOKEN) == 0)
		return a->access_expires_at;
	return 0;
}

int provauth_account_set_credential(provauth_account *a, const char *kind, const char *name,
                                    const char *value, int64_t expires_at)
{
	char **field;
	int rc;

	if (!a || !kind || !*kind)
		return pa_error_set(PROVAUTH_EINVAL, "account: credential kind is required");
	if ((field = single_field(a, kind))) {
		if (name && *name)
			return pa_error_set(PROVAUTH_EINVAL, "account %s: a %s credential has no name", a->id, kind);
		if ((rc = pa_set_string(field, value)) < 0)
			return rc;
		if (field == &a->access_token)
			a->access_expires_at = value ? expires_at : 0;
		return 0;
	}
	if (strcmp(kind, PROVAUTH_CRED_COOKIE) == 0)
		return provauth_account_set_cookie(a, name, value);
	if (strcmp(kind, PROVAUTH_CRED_API_KEY) == 0)
		return provauth_account_set_api_key(a, name, value);
	return pa_error_set(PROVAUTH_EINVAL, "account %s: unknown credential kind \"%s\"", a->id, kind);
}

/* Iteration order: password, jwt, cookies, API keys, refresh token, access token. */
size_t provauth_account_credential_count(const provauth_account *a)
{
	if (!a)
		return 0;
	return (a->password != NULL) + (a->jwt_token != NULL) + a->cookie_count + a->api_key_count +
	       (a->refresh_token != NULL) + (a->access_token != NULL);
}

static int credential_out(provauth_credential *out, const char *kind, const char *name, const char *value,
                          int64_t expires_at)
{
	out->kind = kind;
	out->name = name;
	out->value = value;
	out->expires_at = expires_at;
	return 0;
}

int provauth_account_credential_at(provauth_credential *out, const provauth_account *a, size_t i)
{
	if (!out || !a)
		return pa_error_set(PROVAUTH_EINVAL, "account: no credential to read");
	if (a->password && i-- == 0)
		return credential_out(out, PROVAUTH_CRED_PASSWORD, "", a->password, 0);
	if (a->jwt_token && i-- == 0)
		return credential_out(out, PROVAUTH_CRED_JWT, "", a->jwt_token, 0);
	if (i < a->cookie_count)
		return credential_out(out, PROVAUTH_CRED_COOKIE, a->cookies[i].name, a->cookies[i].value, 0);
	i -= a->cookie_count;
	if (i < a->api_key_count)
		return credential_out(out, PROVAUTH_CRED_API_KEY, a->api_keys[i].kind, a->api_keys[i].value, 0);
	i -= a->api_key_count;
	if (a->refresh_token && i-- == 0)
		return credential_out(out, PROVAUTH_CRED_REFRESH_TOKEN, "", a->refresh_token, 0);
	if (a->access_token && i-- == 0)
		return credential_out(out, PROVAUTH_CRED_ACCESS_TOKEN, "", a->access_token, a->access_expires_at);
	return pa_error_set(PROVAUTH_ENOTFOUND, "account %s: no credential %zu", a->id ? a->id : "", i);
}
