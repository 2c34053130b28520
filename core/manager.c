/*
 * The manager's lifetime: settings, logging, HTTP, store, plugins and the
 * session table, tied together, and the accessors through which the
 * account and session rooms reach them (see manager.h for the direction of
 * dependencies).
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "manager.h"
#include "session/session.h"

struct provauth_manager {
	provauth_settings *settings;           /* a reference */
	pa_logger logger;
	pa_http *http;
	pa_host_ctx host_ctx;
	provauth_host host;
	provauth_store *store;
	int own_store;
	pa_plugin_set plugins;
	pa_provider_state *provider_state;     /* plugins.count entries */
	size_t provider_state_cap;
	pa_session_table *sessions;
	char owner[64];                        /* this manager's lease owner id */
	pa_pool_waker *pool_waker;             /* wakes this process's pool waiters on a release */
};

/* ---- what the account and session rooms may ask (manager.h) ---- */

int64_t pa_manager_now(const provauth_manager *m)
{
	return pa_host_now(&m->host_ctx);
}

provauth_store *pa_manager_store(const provauth_manager *m)
{
	return m->store;
}

pa_plugin *pa_manager_plugin(const provauth_manager *m, const char *id)
{
	return pa_plugins_find(&m->plugins, id);
}

const pa_logger *pa_manager_logger(const provauth_manager *m)
{
	return &m->logger;
}

const pa_session_settings *pa_manager_session_settings(const provauth_manager *m)
{
	return pa_settings_session(m->settings);
}

pa_pool_waker *pa_manager_pool_waker(const provauth_manager *m)
{
	return m->pool_waker;
}

const pa_pool_settings *pa_manager_pool_settings(const provauth_manager *m)
{
	return pa_settings_pool(m->settings);
}

const char *pa_manager_owner(const provauth_manager *m)
{
	return m->owner;
}

pa_session_table *pa_manager_sessions(const provauth_manager *m)
{
	return m->sessions;
}

void pa_manager_forget_session(provauth_manager *m, const char *account_id)
{
	pa_sessions_evict(m->sessions, account_id);
}

/* ---- lifetime ---- */

/* Grows provider_state to cover every loaded plugin. */
static int sync_provider_state(provauth_manager *m)

{
	pa_provider_state *grown;
	size_t i;

	if (m->plugins.count <= m->provider_state_cap)
		return 0;
	if (!(grown = realloc(m->provider_state, m->plugins.count * sizeof(*grown))))
		return pa_error_oom();
	for (i = m->provider_state_cap; i < m->plugins.count; i++)
		atomic_init(&grown[i].login_cooldown_until, 0);
	m->provider_state = grown;
	m->provider_state_cap = m->plugins.count;
	return 0;
}

pa_provider_state *pa_manager_provider_state(provauth_manager *m, const pa_plugin *p)
{
	size_t i;

	for (i = 0; i < m->plugins.count && i < m->provider_state_cap; i++)
		if (m->plugins.plugins[i] == p)
			return &m->provider_state[i];
	return NULL;
}

static int open_store(provauth_manager *m, int must_exist)
{
	const pa_store_settings *st = pa_settings_store(m->settings);
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	struct stat sb;

	m->own_store = 1;
	if (pa_streq(st->backend, "memory"))
		return provauth_store_memory_new(&m->store);
	if (pa_streq(st->backend, "postgres")) {
		provauth_postgres_options po = PROVAUTH_POSTGRES_OPTIONS_INIT;

		po.key_file = st->key_file;
		po.pool_size = (int)st->pool_size;
		po.connect_timeout_ms = (int)st->connect_timeout_ms;
		po.statement_timeout_ms = (int)st->statement_timeout_ms;
		po.no_create = must_exist;
		return provauth_store_postgres_open(&m->store, st->url, &po);
	}
	/* Any other problem (a directory in the way, no permission) is the store's to report. */
	if (must_exist && stat(st->path, &sb) != 0 && errno == ENOENT)
		return pa_error_set(PROVAUTH_ENOTFOUND, "no store at %s", st->path);
	so.key_file = st->key_file;
	so.busy_timeout_ms = (int)st->busy_timeout_ms;
	return provauth_store_sqlite_open(&m->store, st->path, &so);
}

static void log_settings_warnings(provauth_manager *m)
{
	size_t i;

	for (i = 0; i < provauth_settings_warning_count(m->settings); i++) {
		const provauth_log_field f[] = { PA_F_STR("message", provauth_settings_warning(m->settings, i)) };
		pa_log(&m->logger, PROVAUTH_LOG_WARN, "settings_warning", f, PA_ARRAY_LEN(f));
	}
}

/* Blocks in the file naming providers no plugin provides are most likely typos. */
static void warn_unused_provider_blocks(provauth_manager *m)
{
	size_t i;

	for (i = 0; i < pa_settings_provider_count(m->settings); i++) {
		const pa_provider_settings *ps = pa_settings_provider_at(m->settings, i);
		if (!pa_plugins_find(&m->plugins, ps->id)) {
			const provauth_log_field f[] = { PA_F_STR("provider", ps->id),
			                                 PA_F_STR("file", provauth_settings_source(m->settings)) };
			pa_log(&m->logger, PROVAUTH_LOG_WARN, "settings_provider_not_loaded", f, PA_ARRAY_LEN(f));
		}
	}
}

int provauth_manager_new(provauth_manager **out, const provauth_settings *settings,
                         const provauth_manager_options *opts)
{
	provauth_manager_options defaults = PROVAUTH_MANAGER_OPTIONS_INIT;
	const pa_log_settings *ls;
	const pa_http_settings *hs;
	pa_http_config hc;
	provauth_settings *own_settings = NULL;
	provauth_manager *m;
	unsigned char rnd[6];
	int rc;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "manager: no output pointer");
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (opts->version == 0 || opts->version > PROVAUTH_MANAGER_OPTIONS_VERSION)
		return pa_error_set(PROVAUTH_EINVAL, "manager: options version %u unknown (this library knows up to %u)",
		                    opts->version, PROVAUTH_MANAGER_OPTIONS_VERSION);
	if (!settings) {
		if ((rc = provauth_settings_default(&own_settings)) < 0)
			return rc;
		settings = own_settings;
	}
	if (!(m = calloc(1, sizeof(*m)))) {
		provauth_settings_free(own_settings);
		return pa_error_oom();
	}
	m->settings = own_settings ? own_settings : pa_settings_ref(settings);

	ls = pa_settings_log(m->settings);
	m->logger.fn = opts->log ? opts->log : ls->format_text ? pa_log_stderr_text : provauth_log_stderr_json;
	m->logger.payload = opts->log ? opts->log_payload : NULL;
	m->logger.min_level = ls->level;

	hs = pa_settings_http(m->settings);
	hc.ca_file = hs->ca_file;
	hc.connect_timeout_ms = (long)hs->connect_timeout_ms;
	hc.timeout_ms = (long)hs->timeout_ms;
	hc.max_reply_bytes = (size_t)hs->max_reply_bytes;
	hc.logger = &m->logger;
	if ((rc = pa_http_new(&m->http, &hc)) < 0)
		goto fail;

	m->host_ctx.logger = &m->logger;
	m->host_ctx.http = m->http;
	m->host_ctx.clock = opts->clock;
	m->host_ctx.clock_payload = opts->clock_payload;
	pa_host_init(&m->host, &m->host_ctx);

	if ((rc = pa_random_bytes(rnd, sizeof(rnd))) < 0)
		goto fail;
	snprintf(m->owner, sizeof(m->owner), "pid%ld-%02x%02x%02x%02x%02x%02x", (long)getpid(), rnd[0], rnd[1],
	         rnd[2], rnd[3], rnd[4], rnd[5]);

	if ((rc = pa_sessions_new(&m->sessions)) < 0 || (rc = pa_pool_waker_new(&m->pool_waker)) < 0)
		goto fail;
	log_settings_warnings(m);

	if (opts->store) {
		m->store = opts->store;
	} else if ((rc = open_store(m, opts->version >= 2 && opts->store_must_exist)) < 0) {
		goto fail;
	}
	/* Version 1 stores predate put_many and remain valid; see provauth_account_put_many. */
	if (opts->store && (opts->store->version < 1 || opts->store->version > PROVAUTH_STORE_VERSION)) {
		m->store = NULL;
		rc = pa_error_set(PROVAUTH_EINVAL, "manager: store version %u unknown (this library knows 1 to %u)",
		                  opts->store->version, PROVAUTH_STORE_VERSION);
		goto fail;
	}
	if (opts->store && opts->store->version >= 2 && !opts->store->put_many) {
		m->store = NULL;
		rc = pa_error_set(PROVAUTH_EINVAL, "manager: store %s declares version %u but has no put_many",
		                  opts->store->name ? opts->store->name : "(unnamed)", opts->store->version);
		goto fail;
	}
	if (opts->store && opts->store->version >= 5 && (rc = pa_pool_check_store(opts->store)) < 0) {
		m->store = NULL;
		goto fail;
	}

	if (!opts->skip_plugins) {
		m->plugins.trial = opts->version >= 3 && opts->trial_plugins;
		if ((rc = pa_plugins_load(&m->plugins, m->settings, &m->host, &m->logger)) < 0)
			goto fail;
		if ((rc = sync_provider_state(m)) < 0)
			goto fail;
		warn_unused_provider_blocks(m);
	}
	*out = m;
	return 0;
fail:
	provauth_manager_free(m);
	return rc;
}

void provauth_manager_free(provauth_manager *m)
{
	if (!m)
		return;
	pa_sessions_free(m->sessions);
	pa_pool_waker_free(m->pool_waker);
	pa_plugins_unload(&m->plugins);
	if (m->own_store)
		provauth_store_free(m->store);
	pa_http_free(m->http);
	free(m->provider_state);
	provauth_settings_free(m->settings);
	free(m);
}

int provauth_manager_add_provider(provauth_manager *m, const provauth_provider *p)
{
	int rc;

	if (!m || !p)
		return pa_error_set(PROVAUTH_EINVAL, "add_provider: manager and provider are required");
	if ((rc = pa_plugins_add(&m->plugins, p, NULL, m->settings, &m->host, &m->logger)) < 0)
		return rc;
	return sync_provider_state(m);
}

void provauth_manager_log(provauth_manager *m, provauth_log_level level, const char *event,
                          const provauth_log_field *fields, size_t nfields)
{
	if (m && event)
		pa_log(&m->logger, level, event, fields, nfields);
}

size_t provauth_manager_provider_count(const provauth_manager *m)
{
	return m ? m->plugins.count : 0;
}

int provauth_manager_provider_info(provauth_provider_info *out, const provauth_manager *m, size_t i)
{
	const pa_plugin *p;

	if (!out || !m || i >= m->plugins.count)
		return pa_error_set(PROVAUTH_ENOTFOUND, "provider index %zu out of range", i);
	p = m->plugins.plugins[i];
	memset(out, 0, sizeof(*out));
	out->id = p->vt.id;
	out->description = p->vt.description;
	out->file = p->file;
	out->abi_major = p->vt.abi_major;
	out->abi_minor = p->vt.abi_minor;
	out->operations = (const char *const *)p->op_names;
	out->can_refresh = p->vt.refresh != NULL;
	out->can_reauth = p->vt.try_reauth != NULL;
	return 0;
}

int provauth_provider_import_kinds(const provauth_import_kind **out, const provauth_manager *m, const char *provider)
{
	static const provauth_import_kind none[] = { { NULL, NULL } };
	const pa_plugin *p;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_provider_import_kinds: out is required");
	*out = NULL;
	if (!m || !provider)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_provider_import_kinds: manager and provider are required");
	if (!(p = pa_plugins_find(&m->plugins, provider)))
		return pa_error_set(PROVAUTH_ENOTFOUND, "provider '%.64s' is not loaded (see 'provauth plugins')",
		                    provider);
	*out = p->vt.import ? p->vt.import_kinds : none;
	return 0;
}

size_t provauth_manager_skipped_count(const provauth_manager *m)
{
	return m ? m->plugins.skipped_count : 0;
}

int provauth_manager_skipped(provauth_plugin_skip *out, const provauth_manager *m, size_t i)
{
	if (!out || !m || i >= m->plugins.skipped_count)
		return pa_error_set(PROVAUTH_ENOTFOUND, "skipped plugin index %zu out of range", i);
	out->file = m->plugins.skipped[i].file;
	out->reason = m->plugins.skipped[i].reason;
	return 0;
}
