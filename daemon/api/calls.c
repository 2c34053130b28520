/*
 * POST /v1/accounts/{id}/call/{operation}: a provider's named operation
 * through the session manager (recovery included), as `provauth call` runs
 * it. The operation's JSON comes back as {"result": ...}.
 */
#include "config.h"
#include <string.h>
#include "api.h"

#define MAX_CALL_ARGS 32

/* The loaded provider's operations include `op`: 1; 0 when not; -1 when the provider is not loaded. */
static int has_operation(provauth_manager *m, const char *provider, const char *op)
{
	provauth_provider_info info;
	size_t i, k, n = provauth_manager_provider_count(m);

	for (i = 0; i < n; i++) {
		if (provauth_manager_provider_info(&info, m, i) < 0 || !info.id || strcmp(info.id, provider) != 0)
			continue;
		for (k = 0; info.operations && info.operations[k]; k++)
			if (strcmp(info.operations[k], op) == 0)
				return 1;
		return 0;
	}
	return -1;
}

int pad_api_call(pad_request *req, pad_reply *rep)
{
	static const char *const keys[] = { "args", NULL };
	provauth_manager *m = req->world->manager;
	const char *op = req->params[1];
	provauth_arg args[MAX_CALL_ARGS];
	provauth_account *a = NULL;
	json_object *jargs = NULL, *result, *o;
	char *out = NULL;
	size_t n = 0;
	int rc;

	if (pad_api_body_keys(req, rep, keys, 1))
		return 0;
	if (req->json && json_object_object_get_ex(req->json, "args", &jargs) && jargs) {
		if (!json_object_is_type(jargs, json_type_object))
			return pad_reply_error(rep, 400, "invalid", "field 'args' must be an object of name: string");
		json_object_object_foreach(jargs, key, val) {
			/* Numbers and booleans as the command line would write them; nothing nested. */
			if (!val || json_object_is_type(val, json_type_object) || json_object_is_type(val, json_type_array))
				return pad_reply_error(rep, 400, "invalid", "field 'args.%.64s' must be a string, number "
				                       "or boolean", key);
			if (n == MAX_CALL_ARGS)
				return pad_reply_error(rep, 400, "invalid", "field 'args': at most %d arguments",
				                       MAX_CALL_ARGS);
			args[n].key = key;
			args[n].value = json_object_get_string(val);
			n++;
		}
	}
	if ((rc = provauth_account_get(&a, m, req->params[0])) < 0)
		return pad_reply_provauth(rep, rc);
	if (has_operation(m, a->provider, op) != 1) {
		rc = pad_reply_error(rep, 404, "not_found", "account %s: provider %s has no operation '%.64s'", a->id,
		                     a->provider, op);
		provauth_account_free(a);
		return rc;
	}
	rc = provauth_call(&out, m, a->id, op, args, n);
	provauth_account_free(a);
	if (rc < 0)
		return pad_reply_provauth(rep, rc);
	/* The provider's answer is JSON by contract; "null" parses to NULL, shown as null. */
	result = json_tokener_parse(out);
	provauth_free(out);
	o = json_object_new_object();
	json_object_object_add(o, "result", result);
	return pad_reply_json(rep, 200, o);
}
