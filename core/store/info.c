/*
 * provauth_store_info_get and provauth_manager_store_info: what and where a
 * store is. The built-in backends describe their own stores; any other (a
 * host's, whatever its name) is described by its name alone.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "manager.h"
#include "store/private.h"

void provauth_store_info_free(provauth_store_info *info)
{
	if (!info)
		return;
	free(info->backend);
	free(info->location);
	free(info->key_file);
	free(info);
}

int provauth_store_info_get(provauth_store_info **out, provauth_store *st)
{
	provauth_store_info *info;
	int rc;

	if (!out || !st)
		return pa_error_set(PROVAUTH_EINVAL, "store_info: an output and a store are required");
	*out = NULL;
	if (!(info = calloc(1, sizeof(*info))) || !(info->backend = pa_strdup(st->name ? st->name : "unnamed"))) {
		free(info);
		return pa_error_oom();
	}
	info->version = PROVAUTH_STORE_INFO_VERSION;
	/* Each backend recognises its own stores: a host store may carry any name. */
	if ((rc = pa_sql_describe(st, info)) == 1)
		rc = pa_pg_describe(st, info);
	if (rc < 0) {
		provauth_store_info_free(info);
		return rc;
	}
	*out = info;
	return 0;
}

int provauth_manager_store_info(provauth_store_info **out, provauth_manager *m)
{
	if (!out || !m)
		return pa_error_set(PROVAUTH_EINVAL, "store_info: an output and a manager are required");
	return provauth_store_info_get(out, pa_manager_store(m));
}
