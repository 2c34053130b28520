/*
 * Accounts as the API shows them. Secrets go in, never come out: a
 * credential is shown by kind, name and expiry with "redacted": true, never
 * its value nor a prefix of it (a prefix of a JWT is its header, of a
 * cookie often enough to recognise it).
 */
#include "config.h"
#include <string.h>
#include "api.h"

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *health_json(const provauth_health *h)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "state", str_or_null(h->state));
	json_object_object_add(o, "reason", str_or_null(h->reason));
	json_object_object_add(o, "code", str_or_null(h->code));
	json_object_object_add(o, "at", h->at ? json_object_new_int64(h->at) : NULL);
	json_object_object_add(o, "message", str_or_null(h->message));
	return o;
}

provauth_pool_account *pad_api_pool_account(provauth_manager *m, const provauth_account *a)
{
	provauth_pool_account **list = NULL, *found = NULL;
	size_t n = 0, i;

	/* The pool lists by provider; a provider without pool hooks lists its accounts with defaults. */
	if (provauth_pool_list(&list, &n, NULL, NULL, m, a->provider) < 0) {
		provauth_error_clear();
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(list[i]->account_id, a->id) == 0) {
			found = list[i];
			list[i] = NULL;
			break;
		}
	}
	provauth_pool_account_list_free(list, n);
	return found;
}

json_object *pad_api_pool_account_json(const provauth_pool_account *p)
{
	json_object *o = json_object_new_object(), *credits = json_object_new_object();
	size_t i;

	for (i = 0; i < p->credit_count; i++)
		json_object_object_add(credits, p->credits[i].kind, json_object_new_int64(p->credits[i].amount));
	json_object_object_add(o, "account_id", json_object_new_string(p->account_id));
	json_object_object_add(o, "provider_id", json_object_new_string(p->provider ? p->provider : ""));
	json_object_object_add(o, "status", json_object_new_string(p->status ? p->status : "active"));
	json_object_object_add(o, "healthy", json_object_new_boolean(p->healthy));
	json_object_object_add(o, "priority", json_object_new_int(p->priority));
	json_object_object_add(o, "max_concurrent", json_object_new_int(p->max_slots));
	json_object_object_add(o, "effective_cap", p->effective_cap ? json_object_new_int(p->effective_cap) : NULL);
	json_object_object_add(o, "in_use", json_object_new_int(p->in_use));
	json_object_object_add(o, "credits", credits);
	json_object_object_add(o, "credits_at", p->credits_at ? json_object_new_int64(p->credits_at) : NULL);
	json_object_object_add(o, "cooldown_until", p->cooldown_until > pad_now() ?
	                       json_object_new_int64(p->cooldown_until) : NULL);
	json_object_object_add(o, "cooldown_reason", p->cooldown_until > pad_now() ?
	                       str_or_null(p->cooldown_reason) : NULL);
	json_object_object_add(o, "last_used", p->last_used ? json_object_new_int64(p->last_used) : NULL);
	return o;
}

json_object *pad_api_account_json(const provauth_account *a, const provauth_pool_account *p)
{
	json_object *o = json_object_new_object(), *creds = json_object_new_array();
	const char *code = pad_needs_human_code(a->state.health.state, a->state.health.reason,
	                                        a->state.refresh_refused != NULL, p ? p->status : NULL);
	int has_jwt = 0, has_cookies = 0, has_api_key = 0;
	int64_t jwt_expires = 0;
	size_t i, n = provauth_account_credential_count(a);

	for (i = 0; i < n; i++) {
		provauth_credential c;
		json_object *e;

		if (provauth_account_credential_at(&c, a, i) < 0)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "kind", json_object_new_string(c.kind));
		json_object_object_add(e, "name", json_object_new_string(c.name ? c.name : ""));
		json_object_object_add(e, "expires_at", c.expires_at ? json_object_new_int64(c.expires_at) : NULL);
		json_object_object_add(e, "redacted", json_object_new_boolean(1));
		json_object_array_add(creds, e);
		if (strcmp(c.kind, PROVAUTH_CRED_JWT) == 0) {
			has_jwt = 1;
			jwt_expires = c.expires_at;
		} else if (strcmp(c.kind, PROVAUTH_CRED_COOKIE) == 0) {
			has_cookies = 1;
		} else if (strcmp(c.kind, PROVAUTH_CRED_API_KEY) == 0) {
			has_api_key = 1;
		}
	}
	json_object_object_add(o, "id", json_object_new_string(a->id));
	json_object_object_add(o, "provider_id", json_object_new_string(a->provider));
	json_object_object_add(o, "email", str_or_null(a->email));
	json_object_object_add(o, "auth_method",
	                       json_object_new_string(provauth_auth_method_name(a->state.auth_method)));
	json_object_object_add(o, "health", health_json(&a->state.health));
	json_object_object_add(o, "needs_human", json_object_new_boolean(code != NULL));
	json_object_object_add(o, "needs_human_code", str_or_null(code));
	json_object_object_add(o, "needs_human_reason", str_or_null(pad_needs_human_words(code, a->state.auth_method)));
	json_object_object_add(o, "credentials", creds);
	json_object_object_add(o, "has_jwt", json_object_new_boolean(has_jwt));
	json_object_object_add(o, "jwt_expires_at", jwt_expires ? json_object_new_int64(jwt_expires) : NULL);
	json_object_object_add(o, "has_cookies", json_object_new_boolean(has_cookies));
	json_object_object_add(o, "has_api_key", json_object_new_boolean(has_api_key));
	json_object_object_add(o, "cooldown_until", p && p->cooldown_until > pad_now() ?
	                       json_object_new_int64(p->cooldown_until) : NULL);
	json_object_object_add(o, "pool", p ? pad_api_pool_account_json(p) : NULL);
	json_object_object_add(o, "updated_at", a->updated_at ? json_object_new_int64(a->updated_at) : NULL);
	json_object_object_add(o, "revision", json_object_new_int64((int64_t)a->revision));
	return o;
}

int pad_api_reply_account_change(pad_request *req, pad_reply *rep, const char *id, json_object *updated_fields)
{
	provauth_manager *m = req->world->manager;
	provauth_account *a = NULL;
	provauth_pool_account *p;
	json_object *o;
	int rc;

	if ((rc = provauth_account_get(&a, m, id)) < 0) {
		json_object_put(updated_fields);
		return pad_reply_provauth(rep, rc);
	}
	p = pad_api_pool_account(m, a);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "updated_fields", updated_fields);
	json_object_object_add(o, "account", pad_api_account_json(a, p));
	provauth_pool_account_free(p);
	provauth_account_free(a);
	return pad_reply_json(rep, 200, o);
}
