/*
 * The manager: settings, logging, the host table and the loaded providers.
 * (Sessions, the store and recovery are added on top of this.)
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct provauth_manager {
	provauth_settings *settings;    /* a reference: plugins keep pointers into it */
	pa_logger logger;
	pa_host_ctx host_ctx;
	provauth_host host;
	pa_plugin_set plugins;
};

int provauth_manager_new(provauth_manager **out, const provauth_settings *settings,
                         const provauth_manager_options *opts)
{
	static const provauth_manager_options defaults = PROVAUTH_MANAGER_OPTIONS_INIT;
	const pa_log_settings *ls;
	provauth_manager *m;
	int rc;

	if (!out || !settings)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_manager_new: out and settings are required");
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (opts->version != PROVAUTH_MANAGER_OPTIONS_VERSION)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_manager_new: options version %u, expected %u",
		                    opts->version, PROVAUTH_MANAGER_OPTIONS_VERSION);
	if (!(m = calloc(1, sizeof(*m))))
		return pa_error_oom();

	m->settings = pa_settings_ref(settings);
	ls = pa_settings_log(m->settings);
	if (opts->log) {
		m->logger.fn = opts->log;
		m->logger.payload = opts->log_payload;
	} else {
		m->logger.fn = ls->format_text ? pa_log_stderr_text : provauth_log_stderr_json;
	}
	m->logger.min_level = ls->level;

	m->host_ctx.logger = &m->logger;
	m->host_ctx.clock = opts->clock;
	m->host_ctx.clock_payload = opts->clock_payload;
	pa_host_init(&m->host, &m->host_ctx);

	if (!opts->skip_plugins &&
	    (rc = pa_plugins_load(&m->plugins, m->settings, &m->host, &m->logger)) < 0) {
		provauth_manager_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void provauth_manager_free(provauth_manager *m)
{
	if (!m)
		return;
	pa_plugins_unload(&m->plugins);
	provauth_settings_free(m->settings);
	free(m);
}

void provauth_manager_log(provauth_manager *m, provauth_log_level level, const char *event,
                          const provauth_log_field *fields, size_t nfields)
{
	if (m)
		pa_log(&m->logger, level, event, fields, nfields);
}

size_t provauth_manager_provider_count(const provauth_manager *m)
{
	return m ? m->plugins.count : 0;
}

int provauth_manager_provider_info(provauth_provider_info *out, const provauth_manager *m, size_t i)
{
	const pa_plugin *pl;

	if (!out || !m)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_manager_provider_info: out and manager are required");
	if (i >= m->plugins.count)
		return pa_error_set(PROVAUTH_ENOTFOUND, "no provider #%zu (%zu loaded)", i, m->plugins.count);
	pl = m->plugins.plugins[i];
	memset(out, 0, sizeof(*out));
	out->id = pl->vt.id;
	out->description = pl->vt.description;
	out->file = pl->file;
	out->abi_major = pl->vt.abi_major;
	out->abi_minor = pl->vt.abi_minor;
	out->operations = pl->op_names;
	out->can_refresh = pl->vt.refresh != NULL;
	out->can_reauth = pl->vt.try_reauth != NULL;
	return 0;
}

size_t provauth_manager_skipped_count(const provauth_manager *m)
{
	return m ? m->plugins.skipped_count : 0;
}

int provauth_manager_skipped(provauth_plugin_skip *out, const provauth_manager *m, size_t i)
{
	if (!out || !m)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_manager_skipped: out and manager are required");
	if (i >= m->plugins.skipped_count)
		return pa_error_set(PROVAUTH_ENOTFOUND, "no skipped plugin #%zu (%zu skipped)", i,
		                    m->plugins.skipped_count);
	out->file = m->plugins.skipped[i].file;
	out->reason = m->plugins.skipped[i].reason;
	return 0;
}
