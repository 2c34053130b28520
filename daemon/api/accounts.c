/*
 * GET /v1/accounts, GET and DELETE /v1/accounts/{id}: what the store holds,
 * with health, cooldowns and the pool's view; credentials redacted.
 */
#include "config.h"
#include <string.h>
#include "api.h"

/* The ?status= filter: the pool's statuses, and the two words of session health. */
static int status_matches(const char *want, const provauth_account *a, const provauth_pool_account *p)
{
	const char *health = a->state.health.state;

	if (!want)
		return 1;
	if (strcmp(want, "invalid") == 0)
		return health && strcmp(health, "invalid") == 0;
	if (strcmp(want, "needs_human") == 0) {
		json_object *o = pad_api_account_json(a, p), *v;
		int yes = json_object_object_get_ex(o, "needs_human", &v) && json_object_get_boolean(v);
		json_object_put(o);
		return yes;
	}
	return p && p->status && strcmp(p->status, want) == 0;
}

static const char *const statuses[] = { "active", "exhausted", "disabled", "banned", "invalid", "needs_human",
	                                    NULL };

int pad_api_accounts_list(pad_request *req, pad_reply *rep)
{
	provauth_manager *m = req->world->manager;
	const char *provider = pad_request_query(req, "provider_id");
	const char *status = pad_request_query(req, "status");
	provauth_account **list = NULL;
	provauth_pool_account **pool = NULL;
	size_t n = 0, np = 0, i, k;
	json_object *arr;
	int rc;

	if (provider && !*provider)
		provider = NULL;
	if (status && *status) {
		for (i = 0; statuses[i]; i++)
			if (strcmp(status, statuses[i]) == 0)
				break;
		if (!statuses[i])
			return pad_reply_error(rep, 400, "invalid", "query argument 'status' must be one of active, "
			                       "exhausted, disabled, banned, invalid, needs_human");
	} else {
		status = NULL;
	}
	if ((rc = provauth_account_list(&list, &n, m, provider)) < 0)
		return pad_reply_provauth(rep, rc);
	if (provauth_pool_list(&pool, &np, NULL, NULL, m, provider) < 0) {
		/* The pool's view is extra: the accounts are still worth showing without it. */
		provauth_error_clear();
		pool = NULL;
		np = 0;
	}
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		const provauth_pool_account *p = NULL;

		for (k = 0; k < np; k++)
			if (strcmp(pool[k]->account_id, list[i]->id) == 0)
				p = pool[k];
		if (status_matches(status, list[i], p))
			json_object_array_add(arr, pad_api_account_json(list[i], p));
	}
	provauth_pool_account_list_free(pool, np);
	provauth_account_list_free(list, n);
	return pad_reply_json(rep, 200, arr);
}

int pad_api_accounts_get(pad_request *req, pad_reply *rep)
{
	provauth_manager *m = req->world->manager;
	provauth_account *a = NULL;
	provauth_pool_account *p;
	json_object *o;
	int rc;

	if ((rc = provauth_account_get(&a, m, req->params[0])) < 0)
		return pad_reply_provauth(rep, rc);
	p = pad_api_pool_account(m, a);
	o = pad_api_account_json(a, p);
	provauth_pool_account_free(p);
	provauth_account_free(a);
	return pad_reply_json(rep, 200, o);
}

int pad_api_accounts_delete(pad_request *req, pad_reply *rep)
{
	int rc;

	if ((rc = provauth_account_remove(req->world->manager, req->params[0])) < 0)
		return pad_reply_provauth(rep, rc);
	rep->status = 204;
	rep->content_type = "application/json";
	return 0;
}
