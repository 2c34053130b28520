/*
 * provauth_update: the credentials a provider asks the host to store. Plugins
 * never write accounts themselves; the manager applies an update to a fresh
 * copy and stores it version-checked, so racing writers cannot lose data.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define PA_UPDATE_FIELDS 5

typedef struct pa_kv {
	char *key;
	char *value;  /* NULL: remove */
} pa_kv;

struct provauth_update {
	int field_set[PA_UPDATE_FIELDS];
	char *field[PA_UPDATE_FIELDS];
	int expiry_set;
	int64_t expiry;
	int clear_cookies;
	pa_kv *cookies;
	size_t cookie_count;
	pa_kv *meta;
	size_t meta_count;
	int auth_method_set;
	provauth_auth_method auth_method;  /* for state.auth_method */
};

int pa_update_new(provauth_update **out)
{
	if (!(*out = calloc(1, sizeof(**out))))
		return pa_error_oom();
	return 0;
}

static void kv_free(pa_kv *kv, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		free(kv[i].key);
		pa_secret_free(kv[i].value);
	}
	free(kv);
}

void pa_update_free(provauth_update *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < PA_UPDATE_FIELDS; i++)
		pa_secret_free(u->field[i]);
	kv_free(u->cookies, u->cookie_count);
	kv_free(u->meta, u->meta_count);
	free(u);
}

int pa_update_is_empty(const provauth_update *u)
{
	size_t i;

	for (i = 0; i < PA_UPDATE_FIELDS; i++)
		if (u->field_set[i])
			return 0;
	return !u->expiry_set && !u->clear_cookies && !u->cookie_count && !u->meta_count && !u->auth_method_set;
}

int pa_update_set(provauth_update *u, provauth_field field, const char *value)
{
	int rc;

	if (!u || (unsigned)field >= PA_UPDATE_FIELDS)
		return pa_error_set(PROVAUTH_EINVAL, "update: unknown field %d", (int)field);
	if ((rc = pa_set_string(&u->field[field], value)) < 0)
		return rc;
	u->field_set[field] = 1;
	return 0;
}

const char *pa_update_get(const provauth_update *u, provauth_field field)
{
	if (!u || (unsigned)field >= PA_UPDATE_FIELDS || !u->field_set[field])
		return NULL;
	return u->field[field];
}

int pa_update_set_access_expiry(provauth_update *u, int64_t t)
{
	if (!u)
		return PROVAUTH_EINVAL;
	u->expiry_set = 1;
	u->expiry = t;
	return 0;
}

/* Later settings of the same key win, as they would if applied in order. */
static int kv_put(pa_kv **list, size_t *n, const char *key, const char *value)
{
	pa_kv *grown;
	char *k, *v = NULL;
	size_t i;

	if (!key || !*key)
		return pa_error_set(PROVAUTH_EINVAL, "update: empty name");
	for (i = 0; i < *n; i++)
		if (strcmp((*list)[i].key, key) == 0)
			return pa_set_string(&(*list)[i].value, value);
	if (!(k = strdup(key)) || (value && !(v = strdup(value))) ||
	    !(grown = realloc(*list, (*n + 1) * sizeof(**list)))) {
		free(k);
		free(v);
		return pa_error_oom();
	}
	*list = grown;
	grown[*n].key = k;
	grown[*n].value = v;
	(*n)++;
	return 0;
}

int pa_update_set_cookie(provauth_update *u, const char *name, const char *value)
{
	if (!u)
		return PROVAUTH_EINVAL;
	return kv_put(&u->cookies, &u->cookie_count, name, value);
}

int pa_update_clear_cookies(provauth_update *u)
{
	if (!u)
		return PROVAUTH_EINVAL;
	u->clear_cookies = 1;
	kv_free(u->cookies, u->cookie_count);
	u->cookies = NULL;
	u->cookie_count = 0;
	return 0;
}

int pa_update_set_metadata(provauth_update *u, const char *key, const char *json)
{
	provauth_json *v;

	if (!u)
		return PROVAUTH_EINVAL;
	/* Reject bad JSON now, where the plugin can still see the error. */
	if (json) {
		if (!(v = pa_json_parse(json, strlen(json))) && strcmp(json, "null") != 0)
			return pa_error_set(PROVAUTH_EINVAL, "update: metadata.%s is not JSON", key ? key : "");
		pa_json_free(v);
	}
	return kv_put(&u->meta, &u->meta_count, key, json);
}

int pa_update_set_auth_method(provauth_update *u, provauth_auth_method method)
{
	if (!u)
		return PROVAUTH_EINVAL;
	if (method != PROVAUTH_AUTH_UNKNOWN && method != PROVAUTH_AUTH_PASSWORD && method != PROVAUTH_AUTH_GOOGLE)
		return pa_error_set(PROVAUTH_EINVAL, "update: unknown auth method %d", (int)method);
	u->auth_method_set = 1;
	u->auth_method = method;
	return 0;
}

static size_t cookie_cost(const provauth_credential *c)
{
	return strlen(c->name) + strlen(c->value) + 3;  /* "=" and "; " */
}

/* The account's cookies in the order they were first set: the j-th of them, if any. */
static int nth_cookie(provauth_credential *out, const provauth_account *a, size_t j)
{
	size_t i, n = provauth_account_credential_count(a);

	for (i = 0; i < n; i++)
		if (provauth_account_credential_at(out, a, i) == 0 && strcmp(out->kind, PROVAUTH_CRED_COOKIE) == 0 &&
		    j-- == 0)
			return 1;
	return 0;
}

static int set_by(const provauth_update *u, const char *name)
{
	size_t i;

	for (i = 0; i < u->cookie_count; i++)
		if (strcmp(u->cookies[i].key, name) == 0)
			return 1;
	return 0;
}

/*
 * A server may set new cookie names on every login; without a bound the
 * jar, and the Cookie header sent with every call, grows without end.
 * Cookies are kept in the order they were first set, so the front holds
 * the oldest: those this update did not set go first, then (should one
 * update alone be too much) the oldest of its own.
 */
static int bound_cookies(const provauth_update *u, provauth_account *a)
{
	provauth_credential c;
	size_t bytes = 0, count = 0, i;
	int pass, rc;

	for (count = 0; nth_cookie(&c, a, count); count++)
		bytes += cookie_cost(&c);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; (count > PA_COOKIES_MAX_COUNT || bytes > PA_COOKIES_MAX_BYTES) && nth_cookie(&c, a, i);) {
			if (pass == 0 && set_by(u, c.name)) {
				i++;
				continue;
			}
			bytes -= cookie_cost(&c);
			if ((rc = provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, c.name, NULL, 0)) < 0)
				return rc;
			count--;
		}
	return 0;
}

/* The credential each secret provauth_field names; NULL for the email. */
static const char *field_kind(size_t field)
{
	switch (field) {
	case PROVAUTH_F_PASSWORD:      return PROVAUTH_CRED_PASSWORD;
	case PROVAUTH_F_JWT_TOKEN:     return PROVAUTH_CRED_JWT;
	case PROVAUTH_F_REFRESH_TOKEN: return PROVAUTH_CRED_REFRESH_TOKEN;
	case PROVAUTH_F_ACCESS_TOKEN:  return PROVAUTH_CRED_ACCESS_TOKEN;
	default:                       return NULL;
	}
}

int pa_update_apply(const provauth_update *u, provauth_account *a)
{
	const char *kind, *token;
	provauth_credential c;
	int64_t expires;
	size_t i;
	int rc;

	for (i = 0; i < PA_UPDATE_FIELDS; i++) {
		if (!u->field_set[i])
			continue;
		if (!(kind = field_kind(i))) {
			if ((rc = pa_set_string(&a->email, u->field[i])) < 0)
				return rc;
			continue;
		}
		/* A new access token keeps the stored expiry unless the update brings one. */
		expires = provauth_account_credential_expires(a, kind, NULL);
		if (u->expiry_set)
			expires = u->expiry;
		if ((rc = provauth_account_set_credential(a, kind, NULL, u->field[i], expires)) < 0)
			return rc;
	}
	if (u->expiry_set && !u->field_set[PROVAUTH_F_ACCESS_TOKEN] &&
	    (token = provauth_account_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL)) &&
	    (rc = provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, token, u->expiry)) < 0)
		return rc;
	if (u->clear_cookies)
		while (nth_cookie(&c, a, 0))
			if ((rc = provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, c.name, NULL, 0)) < 0)
				return rc;
	for (i = 0; i < u->cookie_count; i++)
		if ((rc = provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, u->cookies[i].key, u->cookies[i].value,
		                                          0)) < 0)
			return rc;
	if (u->cookie_count && (rc = bound_cookies(u, a)) < 0)
		return rc;
	/*
	 * A plugin that still sets a pre-schema-4 state key (auth_method, ...)
	 * through update_set_metadata sets the typed field: set_metadata maps it.
	 */
	for (i = 0; i < u->meta_count; i++)
		if ((rc = provauth_account_set_metadata(a, u->meta[i].key, u->meta[i].value)) < 0)
			return rc;
	/* The typed setter is the newer word of the two. */
	if (u->auth_method_set)
		a->state.auth_method = u->auth_method;
	return 0;
}
