/*
 * GET /v1/providers: what the current world loaded, and what it skipped.
 * An operator checks a hot reload here: a plugin dropped into the plugin
 * directory appears after SIGHUP, with the file it came from.
 */
#include "config.h"
#include "api.h"

static json_object *operations_json(const provauth_provider_info *info)
{
	json_object *ops = json_object_new_array();
	size_t i;

	for (i = 0; ops && info->operations && info->operations[i]; i++)
		json_object_array_add(ops, json_object_new_string(info->operations[i]));
	return ops;
}

int pad_handle_providers(pad_request *req, pad_reply *rep)
{
	provauth_manager *m = req->world->manager;
	json_object *root = json_object_new_object(), *list = json_object_new_array(),
	            *skipped = json_object_new_array();
	size_t i, n = provauth_manager_provider_count(m);

	if (!root || !list || !skipped) {
		json_object_put(root);
		json_object_put(list);
		json_object_put(skipped);
		return pad_reply_error(rep, 500, "internal", "out of memory");
	}
	for (i = 0; i < n; i++) {
		provauth_provider_info info;
		json_object *p;
		char abi[32];

		if (provauth_manager_provider_info(&info, m, i) < 0 || !(p = json_object_new_object()))
			continue;
		snprintf(abi, sizeof(abi), "%u.%u", info.abi_major, info.abi_minor);
		json_object_object_add(p, "id", json_object_new_string(info.id));
		json_object_object_add(p, "description", info.description ? json_object_new_string(info.description)
		                                                          : NULL);
		json_object_object_add(p, "file", info.file ? json_object_new_string(info.file) : NULL);
		json_object_object_add(p, "abi", json_object_new_string(abi));
		json_object_object_add(p, "operations", operations_json(&info));
		json_object_object_add(p, "can_refresh", json_object_new_boolean(info.can_refresh));
		json_object_object_add(p, "can_reauth", json_object_new_boolean(info.can_reauth));
		json_object_array_add(list, p);
	}
	n = provauth_manager_skipped_count(m);
	for (i = 0; i < n; i++) {
		provauth_plugin_skip skip;
		json_object *s;

		if (provauth_manager_skipped(&skip, m, i) < 0 || !(s = json_object_new_object()))
			continue;
		json_object_object_add(s, "file", json_object_new_string(skip.file));
		json_object_object_add(s, "reason", json_object_new_string(skip.reason));
		json_object_array_add(skipped, s);
	}
	json_object_object_add(root, "generation", json_object_new_int64((int64_t)req->world->generation));
	json_object_object_add(root, "providers", list);
	json_object_object_add(root, "skipped", skipped);
	return pad_reply_json(rep, 200, root);
}
