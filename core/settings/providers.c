/*
 * The providers.<id> blocks: each provider's common keys (cooldowns,
 * auto_reauth_enabled, ...) typed here, and the rest of its block left to
 * its plugin, which reads it through the host's setting services backed by
 * pa_setting_*.
 */
#include "config.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "settings/settings_private.h"

const char *const pa_common_provider_keys[] = {
	"auto_reauth_enabled",
	"global_password",
	"reauth_cooldown",
	"login_cooldown",
	"refresh_ahead",
	"cookie_refresh",
	NULL
};

static int valid_provider_id(const char *id)
{
	size_t n = strlen(id), i;

	if (!n || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || isdigit((unsigned char)id[i]) ||
		      id[i] == '_' || id[i] == '-'))
			return 0;
	return 1;
}

static int load_provider(provauth_settings *s, const pa_entry *e, int mode_known, mode_t mode)
{
	pa_provider_settings *ps = &s->providers[s->provider_count];
	provauth_setting *block = e->value;
	const char *pw;
	int rc;

	if (!valid_provider_id(e->key))
		return pa_settings_fail_at(s->source, e->line, e->col, block->path,
		                           "invalid provider id (use 1 to 64 lowercase letters, digits, "
		                           "'_' or '-')");
	/* A null block means "this provider, with defaults": make it an empty map. */
	if (block->kind == NODE_NULL)
		block->kind = NODE_MAP;
	if (block->kind != NODE_MAP)
		return node_fail(block, "expected a mapping of provider settings, got %s",
		                 pa_node_kind_name(block));
	memset(ps, 0, sizeof(*ps));
	if (!(ps->id = strdup(e->key)))
		return pa_error_oom();
	ps->node = block;
	s->provider_count++;
	if ((rc = pa_read_bool(block, "auto_reauth_enabled", 0, &ps->auto_reauth_enabled)) ||
	    (rc = pa_read_string(block, "global_password", NULL, "a string", &pw)) ||
	    (rc = pa_read_int(block, "reauth_cooldown", 300, 0, 86400, SECONDS, &ps->reauth_cooldown)) ||
	    (rc = pa_read_int(block, "login_cooldown", 600, 0, 86400, SECONDS, &ps->login_cooldown)) ||
	    (rc = pa_read_int(block, "refresh_ahead", 300, 0, 86400, SECONDS, &ps->refresh_ahead)) ||
	    (rc = pa_read_bool(block, "cookie_refresh", 1, &ps->cookie_refresh)))
		return rc;
	if (pw && *pw && !(ps->global_password = strdup(pw)))
		return pa_error_oom();
	if (ps->global_password && pa_map_value(block, "global_password")->literal && mode_known &&
	    (mode & (S_IRGRP | S_IROTH)))
		return pa_settings_add_warning(s, pa_sprintf(
			"%s: providers.%s.global_password is written in a file that group or others "
			"can read (mode %04o); run 'chmod 600 %s' or take it from the environment "
			"with ${VAR}", s->source, ps->id, (unsigned)(mode & 07777), s->source));
	return 0;
}

int pa_settings_load_providers(provauth_settings *s, int mode_known, mode_t mode)
{
	const provauth_setting *v = pa_map_value(s->root, "providers");
	size_t i;
	int rc;

	if (!v)
		return 0;
	if (v->kind != NODE_MAP)
		return node_fail(v, "expected a mapping of provider ids to their settings, got %s",
		                 pa_node_kind_name(v));
	if (!(s->providers = calloc(v->count ? v->count : 1, sizeof(*s->providers))))
		return pa_error_oom();
	for (i = 0; i < v->count; i++)
		if ((rc = load_provider(s, &v->entries[i], mode_known, mode)))
			return rc;
	return 0;
}

const pa_provider_settings *pa_settings_provider(const provauth_settings *s, const char *id)
{
	size_t i;

	for (i = 0; s && id && i < s->provider_count; i++)
		if (strcmp(s->providers[i].id, id) == 0)
			return &s->providers[i];
	return NULL;
}

size_t pa_settings_provider_count(const provauth_settings *s)
{
	return s ? s->provider_count : 0;
}

const pa_provider_settings *pa_settings_provider_at(const provauth_settings *s, size_t i)
{
	return s && i < s->provider_count ? &s->providers[i] : NULL;
}

provauth_setting *pa_settings_empty_node_new(const provauth_settings *s, const char *id)
{
	provauth_setting *n;
	char *path;

	if (!s || !id)
		return NULL;
	if (!(path = pa_node_child_path("providers", id)))
		return NULL;
	n = pa_node_new(NODE_MAP, s->source, path, 1, 1);
	free(path);
	return n;
}

void pa_settings_empty_node_free(provauth_setting *node)
{
	pa_node_free(node);
}

int pa_setting_string(const provauth_setting *s, const char *key, const char *def, const char **out)
{
	if (!out || !key)
		return pa_error_set(PROVAUTH_EINVAL, "pa_setting_string: key or out is NULL");
	return pa_read_string(s, key, def, "a string", out);
}

int pa_setting_int(const provauth_setting *s, const char *key, int64_t def, int64_t min,
                   int64_t max, int64_t *out)
{
	if (!out || !key)
		return pa_error_set(PROVAUTH_EINVAL, "pa_setting_int: key or out is NULL");
	return pa_read_int(s, key, def, min, max, "an integer", out);
}

int pa_setting_bool(const provauth_setting *s, const char *key, int def, int *out)
{
	if (!out || !key)
		return pa_error_set(PROVAUTH_EINVAL, "pa_setting_bool: key or out is NULL");
	return pa_read_bool(s, key, def, out);
}

int pa_setting_errorv(const provauth_setting *s, const char *key, const char *fmt, va_list ap)
{
	const pa_entry *e;
	char *path;
	int rc;

	if (!s || !key || !fmt)
		return pa_error_set(PROVAUTH_ECONFIG, "a provider setting is invalid (no key given)");
	e = pa_map_entry(s, key);
	/* A key in the file: where its value is, as the typed readers report it. */
	if (e)
		return pa_settings_fail_atv(e->value->file, e->value->line, e->value->col, e->value->path, fmt, ap);
	/* Not in the file, so the plugin judged its own default: no position to give. */
	if (!(path = pa_node_child_path(s->path, key)))
		return pa_error_oom();
	rc = pa_settings_fail_atv(s->file, 0, 0, path, fmt, ap);
	free(path);
	return rc;
}

int pa_setting_check_keys(const provauth_setting *s, const char *const *allowed,
                          const char *const *allowed_more)
{
	return pa_check_known_keys(s, allowed, allowed_more);
}
