/*
 * Blocks of the settings file that a host program reads itself: provauthd
 * keeps its own settings in the `daemon:` block of the same file, so an
 * operator has one file, checked once for its owner and mode, and every
 * message about it has the library's "FILE:LINE:COL: daemon.key: ..." form.
 * These are the typed readers the providers' blocks use, made public.
 */
#include "config.h"
#include <stdarg.h>
#include "settings/yaml_tree.h"
#include "settings/settings_private.h"

const provauth_setting *provauth_settings_block(const provauth_settings *s, const char *key)
{
	if (!s || !key || !s->root)
		return NULL;
	return pa_map_value(s->root, key);
}

int provauth_setting_get_string(const char **out, const provauth_setting *map, const char *key,
                                const char *def)
{
	if (!out || !key)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_setting_get_string: key or out is NULL");
	return pa_read_string(map, key, def, "a string", out);
}

int provauth_setting_get_int(int64_t *out, const provauth_setting *map, const char *key, int64_t def,
                             int64_t min, int64_t max)
{
	if (!out || !key)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_setting_get_int: key or out is NULL");
	return pa_read_int(map, key, def, min, max, "an integer", out);
}

int provauth_setting_get_bool(int *out, const provauth_setting *map, const char *key, int def)
{
	if (!out || !key)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_setting_get_bool: key or out is NULL");
	return pa_read_bool(map, key, def, out);
}

int provauth_setting_get_map(const provauth_setting **out, const provauth_setting *map, const char *key,
                             const char *const *allowed)
{
	const provauth_setting *v;

	if (!out || !key)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_setting_get_map: key or out is NULL");
	*out = NULL;
	if (!map)
		return 0;
	if (allowed)
		return pa_read_section(map, key, allowed, out);
	if (!(v = pa_map_value(map, key)))
		return 0;
	if (v->kind != NODE_MAP)
		return node_fail(v, "expected a mapping of settings (indented 'key: value' lines), got %s",
		                 pa_node_kind_name(v));
	*out = v;
	return 0;
}

int provauth_setting_get_list(const provauth_setting *const **items, size_t *count,
                              const provauth_setting *map, const char *key)
{
	const provauth_setting *v;

	if (!items || !count || !key)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_setting_get_list: key, items or count is NULL");
	*items = NULL;
	*count = 0;
	if (!map || !(v = pa_map_value(map, key)))
		return 0;
	if (v->kind != NODE_SEQ)
		return node_fail(v, "expected a list (lines starting with '- '), got %s", pa_node_kind_name(v));
	*items = (const provauth_setting *const *)v->items;
	*count = v->count;
	return 0;
}

int provauth_setting_is_map(const provauth_setting *node)
{
	return node && node->kind == NODE_MAP;
}

int provauth_setting_check_keys(const provauth_setting *map, const char *const *allowed)
{
	if (!map)
		return 0;
	if (map->kind != NODE_MAP)
		return node_fail(map, "expected a mapping of settings (indented 'key: value' lines), got %s",
		                 pa_node_kind_name(map));
	return pa_check_known_keys(map, allowed, NULL);
}

int provauth_setting_fail(const provauth_setting *map, const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = pa_setting_errorv(map, key, fmt, ap);
	va_end(ap);
	return rc;
}

const char *provauth_setting_path(const provauth_setting *node)
{
	return node ? node->path : NULL;
}
