/*
 * The plugin contract, checked before a provider is taken in: the ABI
 * version and struct size it declares, its id, the entry points it must
 * have and the import kinds it names. The loader (loader.c) calls
 * pa_provider_check for every plugin file and every in-process provider;
 * what is refused is recorded with a reason naming the file.
 */
#include "config.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

/* The longest provider id or import kind name ([a-z0-9_-]{1,32}). */
#define PA_PROVIDER_ID_MAX 32

/* Everything before the 1.1 fields: the smallest description we accept. */
#define PA_PROVIDER_SIZE_1_0 \
	(offsetof(provauth_provider, reserved_1_0) + sizeof(((provauth_provider *)0)->reserved_1_0))

const char *pa_plugin_display_name(const char *file)
{
	return file ? file : "in-process provider";
}

int pa_valid_name(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++) {
		char c = id[n];
		if (n >= PA_PROVIDER_ID_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

/*
 * A kind the host refuses or lists by name must be one a user can type and
 * tell from the others; the table is read up to its { NULL, NULL } end, so a
 * plugin must end it (as it must end setting_keys).
 */
static int check_import_kinds(const provauth_provider *p, const char *name)
{
	const provauth_import_kind *k = p->import_kinds;
	size_t i, j;

	for (i = 0; k[i].name; i++) {
		if (!pa_valid_name(k[i].name))
			return pa_error_set(PROVAUTH_EPLUGIN,
			                    "%s: provider '%s' import kind #%zu '%.40s' is not a valid name "
			                    "(must match [a-z0-9_-]{1,%d})",
			                    name, p->id, i, k[i].name, PA_PROVIDER_ID_MAX);
		for (j = 0; j < i; j++)
			if (strcmp(k[j].name, k[i].name) == 0)
				return pa_error_set(PROVAUTH_EPLUGIN,
				                    "%s: provider '%s' declares import kind '%s' twice (#%zu and #%zu)",
				                    name, p->id, k[i].name, j, i);
	}
	if (i && !p->import)
		return pa_error_set(PROVAUTH_EPLUGIN,
		                    "%s: provider '%s' declares import kinds (%s...) but no import function",
		                    name, p->id, k[0].name);
	if (!i && p->import)
		return pa_error_set(PROVAUTH_EPLUGIN,
		                    "%s: provider '%s' has an import function but declares an empty import_kinds "
		                    "table (leave it NULL to accept every kind)", name, p->id);
	return 0;
}

/*
 * Only the three leading fields may be read before struct_size is known to
 * cover the rest; later fields are read through PROVAUTH_PROVIDER_HAS.
 */
int pa_provider_check(const provauth_provider *p, const char *file)
{
	const char *name = pa_plugin_display_name(file);
	size_t i;

	if (!p)
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: no provider description", name);
	/*
	 * ABI 2.0 changed who allocates what a plugin hands the host: a 1.x
	 * plugin would free host memory with its own free and fill sessions
	 * with its own malloc. Say so, instead of the bare version numbers.
	 */
	if (p->abi_major == 1)
		return pa_error_set(PROVAUTH_EPLUGIN,
		                    "%s: plugin ABI 1.x is no longer supported; rebuild against provauth plugin ABI %u.%u",
		                    name, PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MINOR);
	if (p->abi_major != PROVAUTH_PLUGIN_ABI_MAJOR || p->abi_minor > PROVAUTH_PLUGIN_ABI_MINOR)
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: ABI %u.%u, this host supports %u.0 to %u.%u",
		                    name, p->abi_major, p->abi_minor, PROVAUTH_PLUGIN_ABI_MAJOR,
		                    PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MINOR);
	if (p->struct_size < PA_PROVIDER_SIZE_1_0)
		return pa_error_set(PROVAUTH_EPLUGIN,
		                    "%s: struct_size %zu is smaller than the ABI %u.0 layout (%zu bytes)",
		                    name, p->struct_size, PROVAUTH_PLUGIN_ABI_MAJOR,
		                    (size_t)PA_PROVIDER_SIZE_1_0);
	if (!p->id)
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: provider has no id", name);
	if (!pa_valid_name(p->id))
		return pa_error_set(PROVAUTH_EPLUGIN,
		                    "%s: invalid provider id '%.40s' (must match [a-z0-9_-]{1,%d})",
		                    name, p->id, PA_PROVIDER_ID_MAX);
	if (!p->build_session)
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: provider '%s' lacks required member build_session",
		                    name, p->id);
	if (!p->classify_error)
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: provider '%s' lacks required member classify_error",
		                    name, p->id);
	if (PROVAUTH_PROVIDER_HAS(p, operation_count) && p->operation_count) {
		if (!p->operations)
			return pa_error_set(PROVAUTH_EPLUGIN,
			                    "%s: provider '%s' declares %zu operations but no table",
			                    name, p->id, p->operation_count);
		for (i = 0; i < p->operation_count; i++) {
			const provauth_operation *op = &p->operations[i];
			if (!op->name || !op->name[0] || !op->run)
				return pa_error_set(PROVAUTH_EPLUGIN,
				                    "%s: provider '%s' operation #%zu lacks a name or a run function",
				                    name, p->id, i);
		}
	}
	if (PROVAUTH_PROVIDER_HAS(p, pool) && p->pool &&
	    p->pool->struct_size < offsetof(provauth_pool_hooks, estimate_cost))
		return pa_error_set(PROVAUTH_EPLUGIN,
		                    "%s: provider '%s' has pool hooks of %zu bytes, fewer than ABI %u.1's first members",
		                    name, p->id, p->pool->struct_size, PROVAUTH_PLUGIN_ABI_MAJOR);
	if (PROVAUTH_PROVIDER_HAS(p, import_kinds) && p->import_kinds)
		return check_import_kinds(p, name);
	return 0;
}
