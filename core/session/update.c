/*
 * provauth_update: the credentials a provider asks the host to store. Plugins
 * never write accounts themselves; the manager applies an update to a fresh
 * copy and stores it version-checked, so racing writers cannot lose data.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* One credential to set (value) or remove (NULL), as provauth_account_set_credential takes it. */
typedef struct pa_change {
	char *kind;
	char *name;    /* "" for single-valued kinds */
	char *value;   /* secret; NULL: remove */
	int64_t expires_at;
} pa_change;

typedef struct pa_kv {
	char *key;
	char *value;  /* NULL: remove */
} pa_kv;

struct provauth_update {
	int email_set;
	char *email;
	char **cleared;          /* kinds whose stored credentials go before the changes apply */
	size_t cleared_count;
	pa_change *changes;      /* in the order first set; one per (kind, name) */
	size_t change_count;
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

static void change_free(pa_change *c)
{
	free(c->kind);
	free(c->name);
	pa_secret_free(c->value);
}

void pa_update_free(provauth_update *u)
{
	size_t i;

	if (!u)
		return;
	free(u->email);
	for (i = 0; i < u->cleared_count; i++)
		free(u->cleared[i]);
	free(u->cleared);
	for (i = 0; i < u->change_count; i++)
		change_free(&u->changes[i]);
	free(u->changes);
	kv_free(u->meta, u->meta_count);
	free(u);
}

int pa_update_is_empty(const provauth_update *u)
{
	return !u->email_set && !u->cleared_count && !u->change_count && !u->meta_count && !u->auth_method_set;
}

int pa_update_set_email(provauth_update *u, const char *email)
{
	int rc;

	if (!u)
		return PROVAUTH_EINVAL;
	if ((rc = pa_set_string(&u->email, email)) < 0)
		return rc;
	u->email_set = 1;
	return 0;
}

const char *pa_update_email(const provauth_update *u)
{
	return u && u->email_set ? u->email : NULL;
}

static pa_change *find_change(const provauth_update *u, const char *kind, const char *name)
{
	size_t i;

	for (i = 0; i < u->change_count; i++)
		if (strcmp(u->changes[i].kind, kind) == 0 && strcmp(u->changes[i].name, name) == 0)
			return &u->changes[i];
	return NULL;
}

/*
 * Later settings of the same credential win, as they would if applied in
 * order. The kind and name are checked now, where the plugin can still see
 * the error, against the rules the account applies.
 */
int pa_update_set_credential(provauth_update *u, const char *kind, const char *name, const char *value,
                             int64_t expires_at)
{
	pa_change *c, *grown;
	char *k, *n = NULL, *v = NULL;
	int rc;

	if (!u)
		return PROVAUTH_EINVAL;
	if (!kind || !*kind)
		return pa_error_set(PROVAUTH_EINVAL, "update: credential kind is required");
	if (!name)
		name = "";
	if ((rc = pa_credential_check(kind, name)) < 0)
		return pa_error_set(rc, "update: a %s credential %s", kind, *name ? "has no name" : "needs a name");
	if ((c = find_change(u, kind, name))) {
		if ((rc = pa_set_string(&c->value, value)) < 0)
			return rc;
		c->expires_at = expires_at;
		return 0;
	}
	if (!(k = strdup(kind)) || !(n = strdup(name)) || (value && !(v = strdup(value))) ||
	    !(grown = realloc(u->changes, (u->change_count + 1) * sizeof(*u->changes)))) {
		free(k);
		free(n);
		pa_secret_free(v);
		return pa_error_oom();
	}
	u->changes = grown;
	grown[u->change_count] = (pa_change){ k, n, v, expires_at };
	u->change_count++;
	return 0;
}

const char *pa_update_credential(const provauth_update *u, const char *kind, const char *name)
{
	const pa_change *c;

	if (!u || !kind)
		return NULL;
	c = find_change(u, kind, name ? name : "");
	return c ? c->value : NULL;
}

/* What the update already holds of `kind` goes too: only what is set after the clear counts. */
int pa_update_clear_credentials(provauth_update *u, const char *kind)
{
	char **grown, *k;
	size_t i, j;

	if (!u)
		return PROVAUTH_EINVAL;
	if (!kind || !*kind)
		return pa_error_set(PROVAUTH_EINVAL, "update: credential kind is required");
	for (i = j = 0; i < u->change_count; i++) {
		if (strcmp(u->changes[i].kind, kind) == 0)
			change_free(&u->changes[i]);
		else
			u->changes[j++] = u->changes[i];
	}
	u->change_count = j;
	for (i = 0; i < u->cleared_count; i++)
		if (strcmp(u->cleared[i], kind) == 0)
			return 0;
	if (!(k = strdup(kind)) || !(grown = realloc(u->cleared, (u->cleared_count + 1) * sizeof(*u->cleared)))) {
		free(k);
		return pa_error_oom();
	}
	u->cleared = grown;
	grown[u->cleared_count++] = k;
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
	return find_change(u, PROVAUTH_CRED_COOKIE, name) != NULL;
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

/* Removes every credential of `kind` the account holds. */
static int clear_kind(provauth_account *a, const char *kind)
{
	provauth_credential c;
	size_t i;
	int rc;

	for (i = 0; provauth_account_credential_at(&c, a, i) == 0;)
		if (strcmp(c.kind, kind) != 0)
			i++;
		else if ((rc = provauth_account_set_credential(a, c.kind, c.name, NULL, 0)) < 0)
			return rc;
	return 0;
}

int pa_update_apply(const provauth_update *u, provauth_account *a)
{
	int cookies = 0, rc;
	size_t i;

	if (u->email_set && (rc = pa_set_string(&a->email, u->email)) < 0)
		return rc;
	for (i = 0; i < u->cleared_count; i++)
		if ((rc = clear_kind(a, u->cleared[i])) < 0)
			return rc;
	for (i = 0; i < u->change_count; i++) {
		const pa_change *c = &u->changes[i];

		if ((rc = provauth_account_set_credential(a, c->kind, c->name, c->value, c->expires_at)) < 0)
			return rc;
		cookies |= strcmp(c->kind, PROVAUTH_CRED_COOKIE) == 0;
	}
	if (cookies && (rc = bound_cookies(u, a)) < 0)
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
