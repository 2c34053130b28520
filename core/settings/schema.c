/*
 * provauth's settings: the typed sections of settings/settings.h (store,
 * http, log, session, plugin_dir) read from the YAML tree, with messages
 * naming the file and the key; the settings object's life and accessors.
 * The providers.<id> blocks are providers.c's; the file and who may change
 * it are file.c's.
 */
#include "config.h"
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>
#include "settings/settings_private.h"

static const char *const top_keys[] = {
	"plugin_dir", "store", "log", "http", "session", "pool", "providers", "daemon", NULL
};
static const char *const store_keys[] = {
	"backend", "path", "key_file", "busy_timeout_ms", "url", "pool_size", "connect_timeout_ms",
	"statement_timeout_ms", NULL
};
static const char *const log_keys[] = { "level", "format", NULL };
static const char *const http_keys[] = {
	"ca_file", "connect_timeout_ms", "timeout_ms", "max_reply_bytes", NULL
};
static const char *const session_keys[] = { "recovery_wait_ms", "lease_ttl_ms", NULL };
static const char *const pool_keys[] = {
	"default_slots", "concurrency_cooldown", "session_cooldown", "cap_probe_interval", "reservation_ttl", NULL
};

int pa_settings_add_warning(provauth_settings *s, char *msg)
{
	char **grown;

	if (!msg)
		return pa_error_oom();
	if (!(grown = realloc(s->warnings, (s->warning_count + 1) * sizeof(*grown)))) {
		free(msg);
		return pa_error_oom();
	}
	s->warnings = grown;
	s->warnings[s->warning_count++] = msg;
	return 0;
}

static int load_plugin_dirs(provauth_settings *s)
{
	const provauth_setting *v = pa_map_value(s->root, "plugin_dir");
	const provauth_setting *const *items = &v;
	size_t count = 1, i;

	if (!(s->plugin_dirs = calloc(1, sizeof(char *))))
		return pa_error_oom();
	if (!v)
		return 0;
	if (v->kind == NODE_SEQ) {
		items = (const provauth_setting *const *)v->items;
		count = v->count;
	} else if (v->kind != NODE_SCALAR) {
		return node_fail(v, "expected a directory or a list of directories, got %s", pa_node_kind_name(v));
	}
	free(s->plugin_dirs);
	if (!(s->plugin_dirs = calloc(count + 1, sizeof(char *))))
		return pa_error_oom();
	for (i = 0; i < count; i++) {
		const provauth_setting *it = items[i];
		char buf[PA_SETTINGS_MSG_MAX / 2];

		if (it->kind != NODE_SCALAR)
			return node_fail(it, "expected a directory, got %s", pa_node_kind_name(it));
		if (it->plain && !it->from_env && (pa_looks_number(it->value) || pa_looks_bool(it->value) >= 0))
			return node_fail(it, "expected a directory, got %s, which YAML does not read as "
			                 "text; write it in quotes if it is a directory name",
			                 pa_node_shown(buf, sizeof(buf), it, 0));
		if (!it->value[0])
			return node_fail(it, "a directory name must not be empty");
		if (!(s->plugin_dirs[i] = strdup(it->value)))
			return pa_error_oom();
		s->plugin_dir_count++;
	}
	return 0;
}

/* $XDG_DATA_HOME/provauth/accounts.db, with the XDG fallbacks. */
static int default_store_path(char **out)
{
	const char *xdg = pa_settings_getenv("XDG_DATA_HOME"), *home = pa_settings_getenv("HOME");
	struct passwd pw, *found = NULL;
	char buf[4096];
	size_t n;

	*out = NULL;
	/* The XDG spec says to ignore a relative XDG_DATA_HOME. */
	if (xdg && xdg[0] == '/') {
		for (n = strlen(xdg); n > 1 && xdg[n - 1] == '/'; n--)
			;
		*out = pa_sprintf("%.*s/provauth/accounts.db", (int)n, xdg);
		return *out ? 0 : pa_error_oom();
	}
	if (!home || home[0] != '/') {
		if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) != 0 || !found ||
		    !found->pw_dir || found->pw_dir[0] != '/')
			return 0;
		home = found->pw_dir;
	}
	for (n = strlen(home); n > 1 && home[n - 1] == '/'; n--)
		;
	*out = pa_sprintf("%.*s/.local/share/provauth/accounts.db", (int)n, home);
	return *out ? 0 : pa_error_oom();
}

static int nonempty_path(const provauth_setting *map, const char *key, const char **out)
{
	int rc = pa_read_string(map, key, NULL, "a file name", out);
	if (!rc && *out && !**out)
		return node_fail(pa_map_value(map, key), "a file name must not be empty");
	return rc;
}

/*
 * store.url: a libpq connection string or URI. A password written in the
 * file would sit in clear text wherever the file is copied, so it may only
 * come from ${VAR} (or PGPASSWORD, a passfile or a service file, which libpq
 * reads itself).
 */
static int load_store_url(provauth_settings *s, const provauth_setting *sec)
{
	const provauth_setting *node = pa_map_value(sec, "url");
	PQconninfoOption *opts, *o;
	char *why = NULL, reason[160];
	const char *url;
	int rc, has_password = 0;

	if ((rc = pa_read_string(sec, "url", NULL, "a PostgreSQL connection string or URI", &url)) || !url)
		return rc;
	if (!(opts = PQconninfoParse(url, &why))) {
		pa_conninfo_reason(reason, sizeof(reason), why);
		PQfreemem(why);
		return node_fail(node, "not a PostgreSQL connection string or URI: %s", reason);
	}
	for (o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && o->val[0])
			has_password = 1;
	PQconninfoFree(opts);
	if (has_password && !node->from_env)
		return node_fail(node, "holds a password in clear text; write it as ${VAR} (an environment "
		                 "variable), or leave it out and let libpq read it from PGPASSWORD, "
		                 "~/.pgpass or a service file");
	return (s->store.url = strdup(url)) ? 0 : pa_error_oom();
}

static int load_store(provauth_settings *s)
{
	static const char *const backends[] = { "sqlite", "memory", "postgres", NULL };
	const provauth_setting *sec;
	const char *path, *key_file;
	size_t backend;
	int rc;

	if ((rc = pa_read_section(s->root, "store", store_keys, &sec)) ||
	    (rc = pa_read_choice(sec, "backend", backends, 0, &backend)) ||
	    (rc = nonempty_path(sec, "path", &path)) ||
	    (rc = nonempty_path(sec, "key_file", &key_file)) ||
	    (rc = pa_read_int(sec, "busy_timeout_ms", 5000, 0, 600000, MILLIS, &s->store.busy_timeout_ms)) ||
	    (rc = pa_read_int(sec, "pool_size", 4, 1, 64, "an integer number of connections", &s->store.pool_size)) ||
	    (rc = pa_read_int(sec, "connect_timeout_ms", 5000, 1, 600000, MILLIS, &s->store.connect_timeout_ms)) ||
	    (rc = pa_read_int(sec, "statement_timeout_ms", 30000, 1, 3600000, MILLIS, &s->store.statement_timeout_ms)) ||
	    (rc = load_store_url(s, sec)))
		return rc;
	if (!(s->store.backend = strdup(backends[backend])))
		return pa_error_oom();
	if (backend == 2 && !s->store.url)
		return pa_error_set(PROVAUTH_ECONFIG, "%s: store.url: the postgres backend needs the "
		                    "database's connection string or URI", s->source);
	if (path)
		s->store.path = strdup(path);
	else if ((rc = default_store_path(&s->store.path)))
		return rc;
	if (!s->store.path) {
		if (backend == 0)
			return pa_error_set(PROVAUTH_ECONFIG, "%s: store.path: no default location for "
			                    "the store (neither XDG_DATA_HOME nor HOME is set); set "
			                    "store.path", s->source);
		return 0;
	}
	/* Unset stays NULL: the store then tries PROVAUTH_STORE_KEY before "<path>.key". */
	if (key_file && !(s->store.key_file = strdup(key_file)))
		return pa_error_oom();
	return 0;
}

static int load_log(provauth_settings *s)
{
	static const char *const levels[] = { "debug", "info", "warn", "error", NULL };
	static const char *const formats[] = { "json", "text", NULL };
	const provauth_setting *sec;
	size_t level, format;
	int rc;

	if ((rc = pa_read_section(s->root, "log", log_keys, &sec)) ||
	    (rc = pa_read_choice(sec, "level", levels, 1, &level)) ||
	    (rc = pa_read_choice(sec, "format", formats, 0, &format)))
		return rc;
	s->log.level = (provauth_log_level)((int)PROVAUTH_LOG_DEBUG + (int)level);
	s->log.format_text = format == 1;
	return 0;
}

static int load_http(provauth_settings *s)
{
	const provauth_setting *sec;
	const char *ca;
	int rc;

	if ((rc = pa_read_section(s->root, "http", http_keys, &sec)) ||
	    (rc = pa_read_string(sec, "ca_file", NULL, "a file name", &ca)) ||
	    (rc = pa_read_int(sec, "connect_timeout_ms", 10000, 1, 600000, MILLIS,
	                      &s->http.connect_timeout_ms)) ||
	    (rc = pa_read_int(sec, "timeout_ms", 30000, 1, 3600000, MILLIS, &s->http.timeout_ms)) ||
	    (rc = pa_read_int(sec, "max_reply_bytes", 1048576, 1024, 1073741824,
	                      "an integer number of bytes", &s->http.max_reply_bytes)))
		return rc;
	/* Empty means the system CAs, so that ca_file: ${CA_FILE} may be left unset-but-empty. */
	if (ca && *ca && !(s->http.ca_file = strdup(ca)))
		return pa_error_oom();
	return 0;
}

static int load_session(provauth_settings *s)
{
	const provauth_setting *sec;
	int rc;

	if ((rc = pa_read_section(s->root, "session", session_keys, &sec)) ||
	    (rc = pa_read_int(sec, "recovery_wait_ms", 30000, 0, 3600000, MILLIS,
	                      &s->session.recovery_wait_ms)) ||
	    (rc = pa_read_int(sec, "lease_ttl_ms", 30000, 100, 3600000, MILLIS, &s->session.lease_ttl_ms)))
		return rc;
	return 0;
}

static int load_pool(provauth_settings *s)
{
	const provauth_setting *sec;
	int rc;

	if ((rc = pa_read_section(s->root, "pool", pool_keys, &sec)) ||
	    (rc = pa_read_int(sec, "default_slots", 0, 0, 1000, "an integer number of jobs",
	                      &s->pool.default_slots)) ||
	    (rc = pa_read_int(sec, "concurrency_cooldown", 6, 0, 86400, SECONDS, &s->pool.concurrency_cooldown)) ||
	    (rc = pa_read_int(sec, "session_cooldown", 300, 0, 604800, SECONDS, &s->pool.session_cooldown)) ||
	    (rc = pa_read_int(sec, "cap_probe_interval", 150, 1, 86400, SECONDS, &s->pool.cap_probe_interval)) ||
	    (rc = pa_read_int(sec, "reservation_ttl", 7200, 60, 604800, SECONDS, &s->pool.reservation_ttl)))
		return rc;
	return 0;
}

static provauth_settings *settings_new(const char *source)
{
	provauth_settings *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	atomic_init(&s->refs, 1u);
	if (!(s->source = strdup(source))) {
		free(s);
		return NULL;
	}
	return s;
}

static void settings_destroy(provauth_settings *s)
{
	size_t i;

	for (i = 0; s->plugin_dirs && s->plugin_dirs[i]; i++)
		free(s->plugin_dirs[i]);
	free(s->plugin_dirs);
	free(s->store.backend);
	free(s->store.path);
	free(s->store.key_file);
	free(s->store.url);
	free(s->http.ca_file);
	for (i = 0; i < s->provider_count; i++) {
		free(s->providers[i].id);
		pa_secret_free(s->providers[i].global_password);
	}
	free(s->providers);
	for (i = 0; i < s->warning_count; i++)
		free(s->warnings[i]);
	free(s->warnings);
	pa_node_free(s->root);
	free(s->source);
	free(s);
}

/*
 * The daemon: block is provauthd's, read by it through provauth_settings_block;
 * the library only makes sure it is a mapping, so a program that ignores it
 * still refuses a file whose block could not be what its author meant.
 */
static int check_daemon_block(const provauth_settings *s)
{
	const provauth_setting *v = pa_map_value(s->root, "daemon");

	if (v && v->kind != NODE_MAP)
		return node_fail(v, "expected a mapping of settings (indented 'key: value' lines), got %s",
		                 pa_node_kind_name(v));
	return 0;
}

int pa_settings_build(provauth_settings **out, const char *text, size_t len, const char *name,
                      int mode_known, mode_t mode, const char *unsafe)
{
	provauth_settings *s = settings_new(name);
	int rc;

	*out = NULL;
	if (!s)
		return pa_error_oom();
	if ((text && (rc = pa_yaml_tree_parse(&s->root, text, len, s->source))) ||
	    (rc = pa_check_known_keys(s->root, top_keys, NULL)) ||
	    (rc = load_plugin_dirs(s)) ||
	    (rc = load_store(s)) ||
	    (rc = load_log(s)) ||
	    (rc = load_http(s)) ||
	    (rc = load_session(s)) ||
	    (rc = load_pool(s)) ||
	    (rc = check_daemon_block(s)) ||
	    (rc = pa_settings_load_providers(s, mode_known, mode)) ||
	    (rc = pa_settings_check_place(s, unsafe))) {
		settings_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

int provauth_settings_parse(provauth_settings **out, const char *text, size_t len, const char *name)
{
	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_settings_parse: out is NULL");
	*out = NULL;
	if (!text && len)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_settings_parse: text is NULL");
	return pa_settings_build(out, text ? text : "", len, name ? name : "(settings)", 0, 0, NULL);
}

int provauth_settings_default(provauth_settings **out)
{
	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_settings_default: out is NULL");
	return pa_settings_build(out, NULL, 0, "(defaults)", 0, 0, NULL);
}

void provauth_settings_free(provauth_settings *settings)
{
	if (settings && atomic_fetch_sub_explicit(&settings->refs, 1u, memory_order_acq_rel) == 1u)
		settings_destroy(settings);
}

provauth_settings *pa_settings_ref(const provauth_settings *s)
{
	provauth_settings *m = (provauth_settings *)s;

	if (m)
		atomic_fetch_add_explicit(&m->refs, 1u, memory_order_relaxed);
	return m;
}

size_t provauth_settings_warning_count(const provauth_settings *settings)
{
	return settings ? settings->warning_count : 0;
}

const char *provauth_settings_warning(const provauth_settings *settings, size_t i)
{
	return settings && i < settings->warning_count ? settings->warnings[i] : NULL;
}

const char *provauth_settings_source(const provauth_settings *settings)
{
	return settings ? settings->source : NULL;
}

/* ------------------------------------------------------------------------ */
/* Internal accessors                                                       */
/* ------------------------------------------------------------------------ */

const char *const *pa_settings_plugin_dirs(const provauth_settings *s, size_t *count)
{
	if (count)
		*count = s ? s->plugin_dir_count : 0;
	return s ? (const char *const *)s->plugin_dirs : NULL;
}

const pa_store_settings *pa_settings_store(const provauth_settings *s)
{
	return s ? &s->store : NULL;
}

const pa_log_settings *pa_settings_log(const provauth_settings *s)
{
	return s ? &s->log : NULL;
}

const pa_pool_settings *pa_settings_pool(const provauth_settings *s)
{
	return s ? &s->pool : NULL;
}

const pa_http_settings *pa_settings_http(const provauth_settings *s)
{
	return s ? &s->http : NULL;
}

const pa_session_settings *pa_settings_session(const provauth_settings *s)
{
	return s ? &s->session : NULL;
}

