/*
 * Credentials as one list of {kind, name, value, expires_at} (issue 14,
 * target 2): whatever a provider keeps, one entry per (kind, name), in the
 * order first set. Single-valued kinds ("password", "jwt", "refresh_token",
 * "access_token") have the name ""; "cookie" is named by the cookie,
 * "api_key" by the key's kind. Every value is a secret, wiped when freed.
 * The well-known kinds are checked for a name where they need one; other
 * kinds are the providers' business.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* Kinds that hold one value at most: they take no name. */
static int is_single_valued(const char *kind)
{
	return strcmp(kind, PROVAUTH_CRED_PASSWORD) == 0 || strcmp(kind, PROVAUTH_CRED_JWT) == 0 ||
	       strcmp(kind, PROVAUTH_CRED_REFRESH_TOKEN) == 0 || strcmp(kind, PROVAUTH_CRED_ACCESS_TOKEN) == 0;
}

/* Kinds that need a name to tell their values apart. */
static int is_named(const char *kind)
{
	return strcmp(kind, PROVAUTH_CRED_COOKIE) == 0 || strcmp(kind, PROVAUTH_CRED_API_KEY) == 0;
}

int pa_credential_check(const char *kind, const char *name)
{
	if (!kind || !*kind)
		return PROVAUTH_EINVAL;
	if (!name)
		name = "";
	if ((is_single_valued(kind) && *name) || (is_named(kind) && !*name))
		return PROVAUTH_EINVAL;
	return 0;
}

static const provauth_credential *find(const provauth_account *a, const char *kind, const char *name)
{
	size_t i;

	if (!a || !kind)
		return NULL;
	if (!name)
		name = "";
	for (i = 0; i < a->credential_count; i++)
		if (strcmp(a->credentials[i].kind, kind) == 0 && strcmp(a->credentials[i].name, name) == 0)
			return &a->credentials[i];
	return NULL;
}

void pa_credential_free(provauth_credential *c)
{
	/* The account owns these strings; the public type reads them as const. */
	free((char *)c->kind);
	free((char *)c->name);
	pa_secret_free((char *)c->value);
	memset(c, 0, sizeof(*c));
}

int pa_credential_copy(provauth_credential *dst, const provauth_credential *src)
{
	memset(dst, 0, sizeof(*dst));
	if (!(dst->kind = strdup(src->kind ? src->kind : "")) || !(dst->name = strdup(src->name ? src->name : "")) ||
	    !(dst->value = strdup(src->value ? src->value : ""))) {
		pa_credential_free(dst);
		return pa_error_oom();
	}
	dst->expires_at = src->expires_at;
	return 0;
}

int pa_account_append_credential(provauth_account *a, char *kind, char *name, char *value, int64_t expires_at)
{
	provauth_credential *grown;

	if (!(grown = realloc(a->credentials, (a->credential_count + 1) * sizeof(*grown))))
		return pa_error_oom();
	a->credentials = grown;
	grown[a->credential_count].kind = kind;
	grown[a->credential_count].name = name;
	grown[a->credential_count].value = value;
	grown[a->credential_count].expires_at = expires_at;
	a->credential_count++;
	return 0;
}

const char *provauth_account_credential(const provauth_account *a, const char *kind, const char *name)
{
	const provauth_credential *c = find(a, kind, name);

	return c ? c->value : NULL;
}

int64_t provauth_account_credential_expires(const provauth_account *a, const char *kind, const char *name)
{
	const provauth_credential *c = find(a, kind, name);

	return c ? c->expires_at : 0;
}

int provauth_account_set_credential(provauth_account *a, const char *kind, const char *name,
                                    const char *value, int64_t expires_at)
{
	provauth_credential *c;
	char *k, *n, *v;
	size_t i;

	if (!a || !kind || !*kind)
		return pa_error_set(PROVAUTH_EINVAL, "account: credential kind is required");
	if (!name)
		name = "";
	if (is_single_valued(kind) && *name)
		return pa_error_set(PROVAUTH_EINVAL, "account %s: a %s credential has no name", a->id, kind);
	if (is_named(kind) && !*name)
		return pa_error_set(PROVAUTH_EINVAL, "account %s: a %s credential needs a name", a->id, kind);
	if ((c = (provauth_credential *)find(a, kind, name))) {
		if (!value) {
			i = (size_t)(c - a->credentials);
			pa_credential_free(c);
			memmove(c, c + 1, (a->credential_count - i - 1) * sizeof(*c));
			a->credential_count--;
			return 0;
		}
		/* Copied before the old value is freed: value may point into it. */
		if (!(v = strdup(value)))
			return pa_error_oom();
		pa_secret_free((char *)c->value);
		c->value = v;
		c->expires_at = expires_at;
		return 0;
	}
	if (!value)
		return 0;
	k = strdup(kind);
	n = strdup(name);
	v = strdup(value);
	if (!k || !n || !v || pa_account_append_credential(a, k, n, v, expires_at) < 0) {
		free(k);
		free(n);
		pa_secret_free(v);
		return pa_error_oom();
	}
	return 0;
}

size_t provauth_account_credential_count(const provauth_account *a)
{
	return a ? a->credential_count : 0;
}

int provauth_account_credential_at(provauth_credential *out, const provauth_account *a, size_t i)
{
	if (!out || !a)
		return pa_error_set(PROVAUTH_EINVAL, "account: no credential to read");
	if (i >= a->credential_count)
		return pa_error_set(PROVAUTH_ENOTFOUND, "account %s: no credential %zu", a->id ? a->id : "", i);
	*out = a->credentials[i];
	return 0;
}
