/*
 * provauth_account: allocation, copying and field helpers. Its credentials
 * are read and written in credential.c; the cookie and API key helpers here
 * are the older names for two of their kinds.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

int provauth_account_new(provauth_account **out, const char *id, const char *provider)
{
	provauth_account *a;

	*out = NULL;
	if (!id || !*id || !provider || !*provider)
		return pa_error_set(PROVAUTH_EINVAL, "account: id and provider are required");
	if (!(a = calloc(1, sizeof(*a))) || !(a->id = strdup(id)) ||
	    !(a->provider = strdup(provider)) || !(a->metadata = strdup("{}"))) {
		provauth_account_free(a);
		return pa_error_oom();
	}
	*out = a;
	return 0;
}

void provauth_account_free(provauth_account *a)
{
	size_t i;

	if (!a)
		return;
	free(a->id);
	free(a->provider);
	free(a->email);
	free(a->metadata);
	for (i = 0; i < a->credential_count; i++)
		pa_credential_free(&a->credentials[i]);
	free(a->credentials);
	pa_account_state_clear(&a->state);
	free(a);
}

void provauth_account_list_free(provauth_account **accounts, size_t count)
{
	size_t i;

	if (!accounts)
		return;
	for (i = 0; i < count; i++)
		provauth_account_free(accounts[i]);
	free(accounts);
}

void provauth_damaged_list_free(char **ids, size_t count)
{
	size_t i;

	if (!ids)
		return;
	for (i = 0; i < count; i++)
		free(ids[i]);
	free(ids);
}

int provauth_account_set(char **field, const char *value)
{
	if (!field)
		return pa_error_set(PROVAUTH_EINVAL, "account: no field given");
	return pa_set_string(field, value);
}

int provauth_account_dup(provauth_account **out, const provauth_account *src)
{
	provauth_account *a;
	size_t i;

	*out = NULL;
	if (!src)
		return pa_error_set(PROVAUTH_EINVAL, "account: nothing to copy");
	if (!(a = calloc(1, sizeof(*a))))
		return pa_error_oom();
	if ((src->id && !(a->id = strdup(src->id))) ||
	    (src->provider && !(a->provider = strdup(src->provider))) ||
	    (src->email && !(a->email = strdup(src->email))) ||
	    !(a->metadata = strdup(src->metadata ? src->metadata : "{}")))
		goto oom;
	/* The count is set first: free() copes with the NULL entries a failure leaves. */
	if (src->credential_count) {
		if (!(a->credentials = calloc(src->credential_count, sizeof(*a->credentials))))
			goto oom;
		a->credential_count = src->credential_count;
		for (i = 0; i < src->credential_count; i++)
			if (pa_credential_copy(&a->credentials[i], &src->credentials[i]) < 0)
				goto oom;
	}
	a->revision = src->revision;
	a->updated_at = src->updated_at;
	if (pa_account_state_copy(&a->state, &src->state) < 0)
		goto oom;
	*out = a;
	return 0;
oom:
	provauth_account_free(a);
	return pa_error_oom();
}

const char *provauth_account_cookie(const provauth_account *a, const char *name)
{
	return name ? provauth_account_credential(a, PROVAUTH_CRED_COOKIE, name) : NULL;
}

int provauth_account_set_cookie(provauth_account *a, const char *name, const char *value)
{
	if (!a || !name || !*name)
		return pa_error_set(PROVAUTH_EINVAL, "account: cookie name is required");
	return provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, name, value, 0);
}

const char *provauth_account_api_key(const provauth_account *a, const char *kind)
{
	return kind ? provauth_account_credential(a, PROVAUTH_CRED_API_KEY, kind) : NULL;
}

int provauth_account_set_api_key(provauth_account *a, const char *kind, const char *value)
{
	if (!a || !kind || !*kind)
		return pa_error_set(PROVAUTH_EINVAL, "account: API key kind is required");
	return provauth_account_set_credential(a, PROVAUTH_CRED_API_KEY, kind, value, 0);
}

const char *pa_account_metadata(const provauth_account *a)
{
	return a && a->metadata && *a->metadata ? a->metadata : "{}";
}

const char *provauth_auth_method_name(provauth_auth_method m)
{
	switch (m) {
	case PROVAUTH_AUTH_PASSWORD: return "password";
	case PROVAUTH_AUTH_GOOGLE:   return "google";
	default:                     return "unknown";
	}
}

provauth_auth_method provauth_auth_method_parse(const char *s)
{
	if (s && strcmp(s, "password") == 0)
		return PROVAUTH_AUTH_PASSWORD;
	if (s && strcmp(s, "google") == 0)
		return PROVAUTH_AUTH_GOOGLE;
	return PROVAUTH_AUTH_UNKNOWN;
}

provauth_auth_method provauth_account_auth_method(const provauth_account *a)
{
	return a ? a->state.auth_method : PROVAUTH_AUTH_UNKNOWN;
}

int provauth_account_set_metadata(provauth_account *a, const char *key, const char *json)
{
	provauth_json *o, *v = NULL;
	char *text;
	int rc;

	if (!a || !key || !*key)
		return pa_error_set(PROVAUTH_EINVAL, "account: metadata key is required");
	o = pa_json_parse_loose(pa_account_metadata(a));
	if (!o || pa_json_type(o) != PROVAUTH_JSON_OBJECT) {
		/* Unreadable metadata is replaced rather than kept half-edited. */
		pa_json_free(o);
		if (!(o = pa_json_new_object()))
			return pa_error_oom();
	}
	if (json) {
		/*
		 * The strict parser: the loose one would take "1 2" as 1 and
		 * silently drop what follows. JSON null parses as NULL, hence the
		 * special case.
		 */
		v = pa_json_parse(json, strlen(json));
		if (!v && strcmp(json, "null") != 0) {
			pa_json_free(o);
			return pa_error_set(PROVAUTH_EINVAL, "account %s: metadata.%s: value is not JSON", a->id, key);
		}
		if (pa_account_state_key(key)) {
			/* The core's own state lives in typed fields since store schema 4: the key sets the field. */
			rc = pa_account_state_set_key(a, key, v);
			pa_json_free(v);
			pa_json_free(o);
			return rc;
		}
		rc = pa_json_set(o, key, v);
	} else if (pa_account_state_key(key)) {
		pa_json_free(o);
		return pa_account_state_set_key(a, key, NULL);
	} else {
		rc = pa_json_remove(o, key);
	}
	text = rc == 0 ? pa_json_serialize(o) : NULL;
	pa_json_free(o);
	if (!text)
		return pa_error_oom();
	free(a->metadata);
	a->metadata = text;
	return 0;
}

int provauth_account_new_id(char **out)
{
	unsigned char b[8];
	int rc;

	*out = NULL;
	if ((rc = pa_random_bytes(b, sizeof(b))) < 0)
		return rc;
	if (!(*out = pa_sprintf("acct-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
	                        b[5], b[6], b[7])))
		return pa_error_oom();
	return 0;
}

/*
 * The same credentials with the same expiries, whatever their order (a
 * cookie jar is a set); what a store round trip must give back.
 */
static int credentials_equal(const provauth_account *a, const provauth_account *b)
{
	const provauth_credential *c;
	size_t i;

	if (a->credential_count != b->credential_count)
		return 0;
	for (i = 0; i < a->credential_count; i++) {
		c = &a->credentials[i];
		if (!pa_streq(provauth_account_credential(b, c->kind, c->name), c->value) ||
		    provauth_account_credential_expires(b, c->kind, c->name) != c->expires_at)
			return 0;
	}
	return 1;
}

int pa_account_same_credentials(const provauth_account *a, const provauth_account *b)
{
	return pa_streq(a->id, b->id) && pa_streq(a->provider, b->provider) &&
	       pa_streq(a->email, b->email) && credentials_equal(a, b) &&
	       pa_streq(pa_account_metadata(a), pa_account_metadata(b)) && pa_account_state_equal(&a->state, &b->state);
}
