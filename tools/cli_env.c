/* What commands share: choosing and loading the settings, creating the manager. */
#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <provauth/store.h>
#include "cli.h"

static char *xstrdup(const char *s)
{
	char *c = strdup(s);

	if (!c) {
		cli_error("out of memory");
		exit(CLI_EXIT_ERROR);
	}
	return c;
}

/* $XDG_CONFIG_HOME/provauth/provauth.yaml (XDG default: ~/.config), if it exists. */
static char *xdg_settings_file(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *path = NULL;
	int n;

	/* The XDG spec says to ignore a relative XDG_CONFIG_HOME. */
	if (xdg && xdg[0] == '/')
		n = asprintf(&path, "%s/provauth/provauth.yaml", xdg);
	else if (home && home[0] == '/')
		n = asprintf(&path, "%s/.config/provauth/provauth.yaml", home);
	else
		return NULL;
	if (n < 0)
		return NULL;
	if (access(path, F_OK) != 0) {
		free(path);
		return NULL;
	}
	return path;
}

int cli_env_settings(cli_env *env, const cli_ctx *ctx)
{
	const char *envpath = getenv("PROVAUTH_CONFIG");

	env->log_file = ctx->log_file;
	if (ctx->config_path)
		env->settings_source = xstrdup(ctx->config_path);
	else if (envpath && envpath[0])
		env->settings_source = xstrdup(envpath);
	else
		env->settings_source = xdg_settings_file();
	if (env->settings_source)
		return provauth_settings_load(&env->settings, env->settings_source);
	return provauth_settings_default(&env->settings);
}

static const char *field(const provauth_log_field *fields, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(fields[i].key, key) == 0 && fields[i].type != PROVAUTH_FIELD_INT &&
		    fields[i].type != PROVAUTH_FIELD_BOOL && fields[i].str)
			return fields[i].str;
	return "?";
}

/* The event as one text line: "event key=value ...", or a sentence for the loader's warnings. */
static char *format_event(const char *event, const provauth_log_field *fields, size_t nfields)
{
	char *line = NULL;
	size_t len = 0, i;
	FILE *f;

	if (!(f = open_memstream(&line, &len)))
		return NULL;
	if (strcmp(event, "plugin_dir_missing") == 0) {
		fprintf(f, "plugin directory %s (from %s) does not exist", field(fields, nfields, "dir"),
		        field(fields, nfields, "source"));
		nfields = 0;
	} else if (strcmp(event, "plugin_dir_unreadable") == 0) {
		fprintf(f, "plugin directory %s (from %s) cannot be read: %s",
		        field(fields, nfields, "dir"), field(fields, nfields, "source"),
		        field(fields, nfields, "error"));
		nfields = 0;
	} else {
		fputs(event, f);
	}
	/* SECRET fields arrive here already replaced by fingerprints. */
	for (i = 0; i < nfields; i++) {
		const provauth_log_field *fl = &fields[i];
		if (fl->type == PROVAUTH_FIELD_INT)
			fprintf(f, " %s=%lld", fl->key, (long long)fl->num);
		else if (fl->type == PROVAUTH_FIELD_BOOL)
			fprintf(f, " %s=%s", fl->key, fl->num ? "true" : "false");
		else
			fprintf(f, " %s=%s", fl->key, fl->str ? fl->str : "null");
	}
	if (fclose(f) != 0 || !line) {
		free(line);
		return NULL;
	}
	return line;
}

/* The library may log from any thread; the list is shared. */
static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;

static int bool_field(const provauth_log_field *fields, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(fields[i].key, key) == 0 && fields[i].type == PROVAUTH_FIELD_BOOL)
			return fields[i].num != 0;
	return -1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Follows the provider events ("<provider>_session_invalidated", ...) of one
 * lost session. Returns 1 when the event is part of that story. Called with
 * events_lock held.
 */
static int track_recovery(cli_events *ev, const char *event, const provauth_log_field *fields,
                          size_t nfields)
{
	const char *account = field(fields, nfields, "account_id");
	int success = bool_field(fields, nfields, "success");

	if (ends_with(event, "_session_invalidated") && !ev->lost_account[0]) {
		snprintf(ev->lost_account, sizeof(ev->lost_account), "%s", account);
		snprintf(ev->lost_reason, sizeof(ev->lost_reason), "%s", field(fields, nfields, "reason"));
		return 1;
	}
	if (ends_with(event, "_session_error_detected"))
		return !ev->lost_account[0] || strcmp(ev->lost_account, account) == 0;
	if (!ev->lost_account[0] || strcmp(ev->lost_account, account) != 0)
		return 0;
	if (ends_with(event, "_refresh_completed") && success == 0)
		return 1;
	/* The manager says which step brought the session back, whoever did the work. */
	if (ends_with(event, "_session_recovered")) {
		const char *step = field(fields, nfields, "step");
		ev->recovered_how = strcmp(step, "stored_credentials") == 0
		                        ? "found it already recovered by another process (the stored credentials were newer)"
		                    : strcmp(step, "refresh") == 0 ? "refreshed its token"
		                    : strcmp(step, "cookie_refresh") == 0 ? "refreshed its session cookies"
		                    : strcmp(step, "password_login") == 0 ? "logged it in again with its password"
		                    : "recovered it";
	}
	return 0;
}

static void collect(cli_events *ev, provauth_log_level level, const char *event,
                    const provauth_log_field *fields, size_t nfields)
{
	char *line, **grown, *step_error = NULL;
	unsigned char *flags;
	int recovery;

	pthread_mutex_lock(&events_lock);
	recovery = track_recovery(ev, event, fields, nfields);
	pthread_mutex_unlock(&events_lock);
	/* Skipped plugins are reported from the manager's list, with their reasons. */
	if (level < PROVAUTH_LOG_WARN || strcmp(event, "plugin_skipped") == 0)
		return;
	if (!(line = format_event(event, fields, nfields)))
		return;
	if ((ends_with(event, "_refresh_completed") || ends_with(event, "_auto_reauth_completed")) &&
	    bool_field(fields, nfields, "success") == 0 && strcmp(field(fields, nfields, "error"), "?") != 0)
		step_error = strdup(field(fields, nfields, "error"));
	pthread_mutex_lock(&events_lock);
	if (!(grown = realloc(ev->step_error, (ev->count + 1) * sizeof(*grown)))) {
		pthread_mutex_unlock(&events_lock);
		free(step_error);
		free(line);
		return;
	}
	ev->step_error = grown;
	ev->step_error[ev->count] = step_error;
	if (!(grown = realloc(ev->lines, (ev->count + 1) * sizeof(*grown)))) {
		pthread_mutex_unlock(&events_lock);
		free(step_error);
		free(line);
		return;
	}
	ev->lines = grown;
	if (!(flags = realloc(ev->recovery_line, ev->count + 1))) {
		pthread_mutex_unlock(&events_lock);
		free(step_error);
		free(line);
		return;
	}
	ev->recovery_line = flags;
	ev->recovery_line[ev->count] = (unsigned char)recovery;
	ev->lines[ev->count++] = line;
	pthread_mutex_unlock(&events_lock);
}

/* -v: every event the settings' log.level lets through, as it happens. */
static void print_event(provauth_log_level level, const char *event, const provauth_log_field *fields,
                        size_t nfields)
{
	char *line;

	if (level < PROVAUTH_LOG_INFO || !(line = format_event(event, fields, nfields)))
		return;
	fprintf(stderr, "provauth: %s: %s\n", provauth_log_level_name(level), line);
	free(line);
}

static void on_event(provauth_log_level level, const char *event, const provauth_log_field *fields,
                     size_t nfields, void *payload)
{
	cli_env *env = payload;

	/* SECRET fields arrive here already replaced by fingerprints. */
	if (env->log_file)
		provauth_log_file_json(level, event, fields, nfields, env->log_file);
	if (env->verbose)
		print_event(level, event, fields, nfields);
	else
		collect(&env->events, level, event, fields, nfields);
}

static void forget_events(cli_events *ev);

int cli_env_manager(cli_env *env, cli_store_mode mode)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	int rc;

	if (mode == CLI_STORE_NONE) {
		if ((rc = provauth_store_memory_new(&env->scratch_store)) < 0)
			return rc;
		opts.store = env->scratch_store;
	}
	opts.store_must_exist = mode == CLI_STORE_EXISTING || mode == CLI_STORE_EXISTING_OR_EMPTY;
	opts.trial_plugins = env->trial_plugins;
	opts.log = on_event;
	opts.log_payload = env;
	rc = provauth_manager_new(&env->manager, env->settings, &opts);
	if (rc == PROVAUTH_ENOTFOUND && mode == CLI_STORE_EXISTING_OR_EMPTY) {
		if (!(env->no_store = strdup(provauth_last_error())))
			return rc;
		/* The same manager over an empty store; its warnings come again. */
		pthread_mutex_lock(&events_lock);
		forget_events(&env->events);
		pthread_mutex_unlock(&events_lock);
		rc = cli_env_manager(env, CLI_STORE_NONE);
	}
	return rc;
}

int cli_env_open(cli_env *env, const cli_ctx *ctx, cli_store_mode mode)
{
	int rc;

	memset(env, 0, sizeof(*env));
	env->verbose = ctx->verbose;
	if ((rc = cli_env_settings(env, ctx)) < 0 || (rc = cli_env_manager(env, mode)) < 0) {
		rc = cli_env_fail(env, rc);
		cli_env_free(env);
		return rc;
	}
	return 0;
}

static void forget_events(cli_events *ev)
{
	size_t i;

	for (i = 0; i < ev->count; i++) {
		free(ev->lines[i]);
		free(ev->step_error[i]);
	}
	free(ev->lines);
	free(ev->step_error);
	free(ev->recovery_line);
	memset(ev, 0, sizeof(*ev));
}

/*
 * Every collected warning as it came; with `condense`, a recovered session
 * in one note. `error` (the message a failed command ends with, or NULL):
 * a failed step's line whose error it retells is left out.
 */
static void flush_events(cli_env *env, int condense, const char *error)
{
	cli_events *ev = &env->events;
	size_t i;

	pthread_mutex_lock(&events_lock);
	condense = condense && ev->recovered_how;
	if (condense)
		fprintf(stderr, "note: the session of account %s was lost (%s); provauth %s and "
		        "retried.\n", ev->lost_account, ev->lost_reason, ev->recovered_how);
	for (i = 0; i < ev->count; i++) {
		if (condense && ev->recovery_line[i])
			continue;
		if (error && ev->step_error[i] && *ev->step_error[i] && strstr(error, ev->step_error[i]))
			continue;
		fprintf(stderr, "warning: %s\n", ev->lines[i]);
	}
	forget_events(ev);
	pthread_mutex_unlock(&events_lock);
}

int cli_env_fail(cli_env *env, int rc)
{
	/* Printing the events calls nothing in the library, so the last error survives. */
	flush_events(env, 0, provauth_last_error());
	return cli_fail(rc);
}

void cli_env_flush_events(cli_env *env)
{
	flush_events(env, 1, NULL);
}

int cli_env_close(cli_env *env, int r)
{
	cli_env_flush_events(env);
	cli_env_free(env);
	return r;
}

void cli_env_free(cli_env *env)
{
	provauth_manager_free(env->manager);
	provauth_store_free(env->scratch_store);
	provauth_settings_free(env->settings);
	free(env->settings_source);
	free(env->no_store);
	forget_events(&env->events);
	memset(env, 0, sizeof(*env));
}
