/*
 * The core's own state of an account (provauth_account_state): clearing,
 * copying and comparing it, and the bridge from the metadata keys it was
 * kept in before store schema 4 (auth_method, session_health,
 * last_reauth_at, refresh_refused). The bridge is used twice: by the sqlite
 * migration to schema 4, which moves each row's keys into columns, and by
 * provauth_account_set_metadata, so a caller or a plugin that still sets one
 * of these keys sets the typed field instead (the key never reaches the
 * provider's metadata again).
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* The metadata keys that were the core's before schema 4, in the order they are looked for. */
static const char *const state_keys[] = { "auth_method", "session_health", "last_reauth_at", "refresh_refused" };

void pa_account_state_clear(provauth_account_state *s)
{
	if (!s)
		return;
	free(s->health.state);
	free(s->health.reason);
	free(s->health.code);
	free(s->health.message);
	free(s->refresh_refused);
	memset(s, 0, sizeof(*s));
}

static int copy_string(char **dst, const char *src)
{
	return src && !(*dst = strdup(src)) ? -1 : 0;
}

int pa_account_state_copy(provauth_account_state *dst, const provauth_account_state *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->auth_method = src->auth_method;
	dst->health.at = src->health.at;
	dst->last_reauth_at = src->last_reauth_at;
	dst->refresh_refused_at = src->refresh_refused_at;
	if (copy_string(&dst->health.state, src->health.state) < 0 ||
	    copy_string(&dst->health.reason, src->health.reason) < 0 ||
	    copy_string(&dst->health.code, src->health.code) < 0 ||
	    copy_string(&dst->health.message, src->health.message) < 0 ||
	    copy_string(&dst->refresh_refused, src->refresh_refused) < 0) {
		pa_account_state_clear(dst);
		return pa_error_oom();
	}
	return 0;
}

int pa_account_state_equal(const provauth_account_state *a, const provauth_account_state *b)
{
	return a->auth_method == b->auth_method && pa_streq(a->health.state, b->health.state) &&
	       pa_streq(a->health.reason, b->health.reason) && pa_streq(a->health.code, b->health.code) &&
	       a->health.at == b->health.at && pa_streq(a->health.message, b->health.message) &&
	       a->last_reauth_at == b->last_reauth_at && pa_streq(a->refresh_refused, b->refresh_refused) &&
	       a->refresh_refused_at == b->refresh_refused_at;
}

int pa_health_set(provauth_health *h, const char *state, const char *reason, const char *code, int64_t at,
                  const char *message)
{
	provauth_health n = { NULL, NULL, NULL, at, NULL };

	if (copy_string(&n.state, state) < 0 || copy_string(&n.reason, reason) < 0 ||
	    copy_string(&n.code, code && *code ? code : NULL) < 0 || copy_string(&n.message, message) < 0) {
		free(n.state);
		free(n.reason);
		free(n.code);
		free(n.message);
		return pa_error_oom();
	}
	free(h->state);
	free(h->reason);
	free(h->code);
	free(h->message);
	*h = n;
	return 0;
}

/* A JSON integer only, as the core always read its timestamps: anything else reads as 0. */
static int64_t json_timestamp(const provauth_json *v)
{
	int64_t n = 0;

	if (v && pa_json_type(v) == PROVAUTH_JSON_INT)
		(void)pa_json_int(v, &n);
	return n;
}

/*
 * Sets the typed field that metadata key `key` stood for from its JSON value
 * v (NULL: the key removed or JSON null), reading v the way the core read
 * the key before: auth_method a string, session_health an object whose
 * members are read as text, timestamps JSON integers.
 */
static int state_set_from_json(provauth_account_state *s, const char *key, const provauth_json *v)
{
	const char *state;

	if (strcmp(key, "auth_method") == 0) {
		s->auth_method = provauth_auth_method_parse(pa_json_string(v));
		return 0;
	}
	if (strcmp(key, "last_reauth_at") == 0) {
		s->last_reauth_at = json_timestamp(v);
		return 0;
	}
	if (strcmp(key, "refresh_refused") == 0) {
		const char *token = pa_json_string(pa_json_get(v, "token"));

		free(s->refresh_refused);
		s->refresh_refused = NULL;
		s->refresh_refused_at = 0;
		if (token && !(s->refresh_refused = strdup(token)))
			return pa_error_oom();
		s->refresh_refused_at = token ? json_timestamp(pa_json_get(v, "at")) : 0;
		return 0;
	}
	/* session_health: a record that is no object is no record, as the CLI always showed it. */
	if (!v || pa_json_type(v) != PROVAUTH_JSON_OBJECT)
		return pa_health_set(&s->health, NULL, NULL, NULL, 0, NULL);
	state = pa_json_text(pa_json_get(v, "state"));
	return pa_health_set(&s->health, state ? state : "unknown",
	                     pa_json_text(pa_json_get(v, "reason")), pa_json_text(pa_json_get(v, "code")),
	                     json_timestamp(pa_json_get(v, "at")), pa_json_text(pa_json_get(v, "message")));
}

int pa_account_state_key(const char *key)
{
	size_t i;

	for (i = 0; key && i < PA_ARRAY_LEN(state_keys); i++)
		if (strcmp(key, state_keys[i]) == 0)
			return 1;
	return 0;
}

int pa_account_state_set_key(provauth_account *a, const char *key, const provauth_json *v)
{
	return state_set_from_json(&a->state, key, v);
}

int pa_account_state_from_metadata(provauth_account *a, int *moved)
{
	provauth_json *o;
	char *text;
	size_t i;
	int rc = 0;

	*moved = 0;
	for (i = 0; i < PA_ARRAY_LEN(state_keys) && !strstr(pa_account_metadata(a), state_keys[i]); i++)
		;
	if (i == PA_ARRAY_LEN(state_keys))
		return 0;
	/* Metadata the core could never read held no state it used: it is kept exactly as it is. */
	o = pa_json_parse_loose(pa_account_metadata(a));
	if (!o || pa_json_type(o) != PROVAUTH_JSON_OBJECT) {
		pa_json_free(o);
		return 0;
	}
	for (i = 0; i < PA_ARRAY_LEN(state_keys) && rc == 0; i++) {
		const provauth_json *v = pa_json_get(o, state_keys[i]);

		if (!v)
			continue;
		if ((rc = state_set_from_json(&a->state, state_keys[i], v)) == 0)
			rc = pa_json_remove(o, state_keys[i]);
		*moved = 1;
	}
	text = rc == 0 && *moved ? pa_json_serialize(o) : NULL;
	pa_json_free(o);
	if (rc == 0 && *moved && !text)
		rc = pa_error_oom();
	if (text) {
		free(a->metadata);
		a->metadata = text;
	}
	return rc;
}
