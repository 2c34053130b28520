/*
 * Worlds: one load of the settings file (settings, manager with its
 * plugins and store, the daemon: block). Requests and keeper tasks hold a
 * reference to the world they started in, so a reload never pulls a
 * manager or a plugin out from under a call: SIGHUP swaps the current
 * pointer, and the old world, its plugins included, is freed by whoever
 * drops its last reference. A .so dropped into the plugin directory is
 * served by the next world; one removed is unloaded with the old world once
 * nothing uses it.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "daemon.h"

/* The library's log events: a JSON line, a metric, maybe a webhook. */
static void on_library_event(provauth_log_level level, const char *event, const provauth_log_field *f,
                             size_t n, void *payload)
{
	pad_daemon *d = payload;

	pad_log(d, level, event, f, n);
	pad_metrics_from_event(event, f, n);
	pad_notify_from_event(d, event, f, n);
}

static void world_free(pad_world *w)
{
	pad_ad_tasks_free(w->ad_tasks);
	provauth_manager_free(w->manager);
	provauth_settings_free(w->settings);
	pad_config_free(w->config);
	free(w);
}

/*
 * A reload opens the store again: the memory store would come back empty,
 * every account gone without a word. Refused at start, naming the key.
 */
int pad_check_store(const provauth_settings *s)
{
	const provauth_setting *store = provauth_settings_block(s, "store");
	const char *backend = NULL;
	int rc;

	if ((rc = provauth_setting_get_string(&backend, store, "backend", "sqlite")) < 0)
		return rc;
	if (strcmp(backend, "memory") == 0)
		return provauth_setting_fail(store, "backend", "provauthd needs a store that outlives a reload "
		                             "and a restart: sqlite or postgres, not memory");
	return 0;
}

int pad_world_load(pad_world **out, pad_daemon *d)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	pad_world *w;
	int rc;

	*out = NULL;
	if (!(w = calloc(1, sizeof(*w))))
		return PROVAUTH_ENOMEM;
	atomic_init(&w->refs, 1);
	opts.log = on_library_event;
	opts.log_payload = d;
	if ((rc = provauth_settings_load(&w->settings, d->settings_path)) < 0 ||
	    (rc = pad_check_store(w->settings)) < 0 ||
	    (rc = pad_config_load(&w->config, w->settings)) < 0 ||
	    (rc = provauth_manager_new(&w->manager, w->settings, &opts)) < 0 ||
	    (!(w->ad_tasks = pad_ad_tasks_new()) && (rc = PROVAUTH_ENOMEM))) {
		world_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

pad_world *pad_world_get(pad_daemon *d)
{
	pad_world *w;

	pthread_mutex_lock(&d->world_lock);
	w = d->world;
	if (w)
		atomic_fetch_add(&w->refs, 1);
	pthread_mutex_unlock(&d->world_lock);
	return w;
}

void pad_world_put(pad_world *w)
{
	if (w && atomic_fetch_sub(&w->refs, 1) == 1)
		world_free(w);
}

static int str_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/*
 * Listening (listen, TLS, threads, and the connection limit and timeout
 * MHD is started with) is fixed for the process: a reload that changes it
 * is refused as a whole, so the old world goes on serving and the log says
 * to restart, rather than logging "reloaded" over a value not applied.
 */
static const char *fixed_change(const pad_config *a, const pad_config *b)
{
	if (strcmp(a->listen, b->listen) != 0)
		return "daemon.listen";
	if (str_differ(a->tls_certificate, b->tls_certificate))
		return "daemon.tls_certificate";
	if (str_differ(a->tls_key, b->tls_key))
		return "daemon.tls_key";
	if (a->threads != b->threads)
		return "daemon.threads";
	if (a->socket_mode != b->socket_mode)
		return "daemon.socket_mode";
	if (a->max_connections != b->max_connections)
		return "daemon.max_connections";
	if (a->connection_timeout != b->connection_timeout)
		return "daemon.connection_timeout";
	return NULL;
}

int pad_reload(pad_daemon *d)
{
	pad_world *next, *old;
	const char *fixed;
	int rc;

	if ((rc = pad_world_load(&next, d)) < 0) {
		const provauth_log_field f[] = { PAD_F_STR("error", provauth_last_error()), PAD_F_INT("code", rc) };
		pad_log(d, PROVAUTH_LOG_ERROR, "reload_failed", f, PAD_ARRAY_LEN(f));
		pad_metric_add("provauthd_reloads_total", "result=failed", 1);
		return rc;
	}
	old = pad_world_get(d);
	if (old && (fixed = fixed_change(old->config, next->config))) {
		const provauth_log_field f[] = { PAD_F_STR("key", fixed),
		                                 PAD_F_STR("error", "changed; restart provauthd to apply it") };
		pad_log(d, PROVAUTH_LOG_ERROR, "reload_failed", f, PAD_ARRAY_LEN(f));
		pad_metric_add("provauthd_reloads_total", "result=failed", 1);
		pad_world_put(old);
		pad_world_put(next);
		return PROVAUTH_ECONFIG;
	}
	pad_world_put(old);
	pthread_mutex_lock(&d->world_lock);
	old = d->world;
	next->generation = ++d->generations;
	d->world = next;
	pthread_mutex_unlock(&d->world_lock);
	{
		const provauth_log_field f[] = { PAD_F_INT("generation", next->generation),
		                                 PAD_F_INT("providers", provauth_manager_provider_count(next->manager)) };
		pad_log(d, PROVAUTH_LOG_INFO, "reloaded", f, PAD_ARRAY_LEN(f));
	}
	pad_metric_add("provauthd_reloads_total", "result=ok", 1);
	pad_metric_set("provauthd_world_generation", "", (int64_t)next->generation);
	pad_world_put(old); /* the daemon's own reference; requests may hold theirs a while */
	return 0;
}
