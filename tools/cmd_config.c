/* `provauth config ...`: commands about the settings file. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* A growing list of messages; entries are owned copies. */
typedef struct msg_list {
	char **items;
	size_t count;
} msg_list;

static void msg_add(msg_list *l, const char *s)
{
	char **grown = realloc(l->items, (l->count + 1) * sizeof(*grown));
	char *copy = strdup(s);

	if (!grown || !copy) {
		cli_error("out of memory");
		exit(CLI_EXIT_ERROR);
	}
	l->items = grown;
	l->items[l->count++] = copy;
}

static void msg_free(msg_list *l)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
}

static void report_text(const cli_env *env, const msg_list *errors, const msg_list *warnings)
{
	size_t i, n = env->manager ? provauth_manager_provider_count(env->manager) : 0;

	printf("settings: %s\n", env->settings_source ? env->settings_source : "built-in defaults");
	for (i = 0; i < errors->count; i++)
		printf("error: %s\n", errors->items[i]);
	for (i = 0; i < warnings->count; i++)
		printf("warning: %s\n", warnings->items[i]);
	if (env->manager) {
		printf("providers:");
		for (i = 0; i < n; i++) {
			provauth_provider_info info;
			if (provauth_manager_provider_info(&info, env->manager, i) == 0)
				printf("%s %s", i ? "," : "", info.id);
		}
		printf("%s\n", n ? "" : " none");
	}
	printf("%zu error%s, %zu warning%s\n", errors->count, errors->count == 1 ? "" : "s",
	       warnings->count, warnings->count == 1 ? "" : "s");
}

static void report_json(const cli_env *env, const msg_list *errors, const msg_list *warnings)
{
	size_t i, n = env->manager ? provauth_manager_provider_count(env->manager) : 0;
	cli_json w;

	cli_json_init(&w, stdout);
	cli_json_object_begin(&w, NULL);
	cli_json_string(&w, "settings", env->settings_source);
	cli_json_bool(&w, "ok", errors->count == 0);
	cli_json_array_begin(&w, "errors");
	for (i = 0; i < errors->count; i++)
		cli_json_string(&w, NULL, errors->items[i]);
	cli_json_array_end(&w);
	cli_json_array_begin(&w, "warnings");
	for (i = 0; i < warnings->count; i++)
		cli_json_string(&w, NULL, warnings->items[i]);
	cli_json_array_end(&w);
	cli_json_array_begin(&w, "providers");
	for (i = 0; i < n; i++) {
		provauth_provider_info info;
		if (provauth_manager_provider_info(&info, env->manager, i) == 0)
			cli_json_string(&w, NULL, info.id);
	}
	cli_json_array_end(&w);
	cli_json_object_end(&w);
	cli_json_finish(&w);
}

/*
 * Problems are the command's output, not its failure: they go to stdout and
 * only change the exit status. A plugin that was refused counts as an error,
 * since the service would run without that provider.
 */
static int run_check(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	msg_list errors = { NULL, 0 }, warnings = { NULL, 0 };
	cli_env env;
	size_t i;
	int r;

	if ((r = cli_parse_plain(ctx, "config check", self, argc, argv)) >= 0)
		return r;
	memset(&env, 0, sizeof(env));
	/* A plugin that crashes must not take the listing down with it: name it and go on. */
	env.trial_plugins = 1;
	if (cli_env_settings(&env, ctx) < 0) {
		msg_add(&errors, provauth_last_error());
	} else {
		for (i = 0; i < provauth_settings_warning_count(env.settings); i++)
			msg_add(&warnings, provauth_settings_warning(env.settings, i));
		if (cli_env_manager(&env, CLI_STORE_NONE) < 0) {
			msg_add(&errors, provauth_last_error());
		} else {
			for (i = 0; i < provauth_manager_skipped_count(env.manager); i++) {
				provauth_plugin_skip sk;
				if (provauth_manager_skipped(&sk, env.manager, i) == 0)
					msg_add(&errors, sk.reason);
			}
		}
		for (i = 0; i < env.events.count; i++)
			msg_add(&warnings, env.events.lines[i]);
	}
	if (ctx->json)
		report_json(&env, &errors, &warnings);
	else
		report_text(&env, &errors, &warnings);
	r = errors.count ? CLI_EXIT_ERROR : CLI_EXIT_OK;
	msg_free(&errors);
	msg_free(&warnings);
	cli_env_free(&env);
	return r;
}

static const cli_command config_commands[] = {
	{
		.name = "check",
		.summary = "load the settings and the plugins, and report every problem",
		.usage = "[--json]",
		.help = "Exits 0 when there is no error (warnings are printed but allowed),\n"
		        "1 when the settings do not load or a plugin was refused.\n",
		.run = run_check,
	},
	{ .name = NULL },
};

const cli_command cli_cmd_config = {
	.name = "config",
	.summary = "commands about the settings file",
	.subcommands = config_commands,
};
