/* `provauth plugins`: which providers loaded, from where, and what was refused. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* "greet, count_args", or "-" for none. Caller frees. */
static char *join_operations(const char *const *ops)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (i = 0; ops && ops[i]; i++)
		fprintf(f, "%s%s", i ? ", " : "", ops[i]);
	if (i == 0)
		fputc('-', f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * "cookies, refresh_token"; "-" for a provider that imports nothing; "any"
 * for one that did not declare its kinds (it judges each kind itself).
 * Caller frees.
 */
static char *join_kinds(const provauth_manager *m, const char *id)
{
	const provauth_import_kind *k = NULL;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;

	if (provauth_provider_import_kinds(&k, m, id) < 0)
		return NULL;
	if (!(f = open_memstream(&buf, &len)))
		return NULL;
	for (i = 0; k && k[i].name; i++)
		fprintf(f, "%s%s", i ? ", " : "", k[i].name);
	if (!k)
		fputs("any", f);
	else if (i == 0)
		fputc('-', f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The file heads the table entry already; "FILE: why" reads as "why" under it. */
static const char *strip_file(const char *reason, const char *file)
{
	size_t n = strlen(file);

	if (strncmp(reason, file, n) == 0 && reason[n] == ':' && reason[n + 1] == ' ')
		return reason + n + 2;
	return reason;
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* Each declared kind with its summary, under the table: the summaries do not fit in it. */
static void print_kinds(const provauth_manager *m, size_t n, size_t w_id)
{
	const provauth_import_kind *k;
	provauth_provider_info info;
	size_t i, j, w_kind = 0, shown = 0;

	for (i = 0; i < n; i++) {
		if (provauth_manager_provider_info(&info, m, i) < 0 ||
		    provauth_provider_import_kinds(&k, m, info.id) < 0)
			continue;
		for (j = 0; k && k[j].name; j++)
			w_kind = max_size(w_kind, strlen(k[j].name));
	}
	for (i = 0; i < n; i++) {
		if (provauth_manager_provider_info(&info, m, i) < 0 ||
		    provauth_provider_import_kinds(&k, m, info.id) < 0)
			continue;
		for (j = 0; k && k[j].name; j++) {
			if (!shown++)
				printf("\nImport kinds (provauth accounts import PROVIDER --kind KIND):\n");
			printf("  %-*s  %-*s  %s\n", (int)w_id, info.id, (int)w_kind, k[j].name,
			       k[j].summary ? k[j].summary : "");
		}
	}
}

static void print_table(const cli_env *env)
{
	const provauth_manager *m = env->manager;
	size_t n = provauth_manager_provider_count(m), ns = provauth_manager_skipped_count(m);
	size_t w_id = strlen("PROVIDER"), w_ops = strlen("OPERATIONS"), w_kinds = strlen("IMPORTS"), i;
	char **ops = calloc(n ? n : 1, sizeof(*ops)), **kinds = calloc(n ? n : 1, sizeof(*kinds));

	printf("settings: %s\n\n", env->settings_source ? env->settings_source : "built-in defaults");
	if (n == 0) {
		printf("No providers loaded.\n");
	} else {
		provauth_provider_info info;
		for (i = 0; i < n; i++) {
			if (provauth_manager_provider_info(&info, m, i) < 0)
				continue;
			w_id = max_size(w_id, strlen(info.id));
			if (ops && (ops[i] = join_operations(info.operations)))
				w_ops = max_size(w_ops, strlen(ops[i]));
			if (kinds && (kinds[i] = join_kinds(m, info.id)))
				w_kinds = max_size(w_kinds, strlen(kinds[i]));
		}
		printf("%-*s  %-4s  %-7s  %-6s  %-*s  %-*s  %s\n", (int)w_id, "PROVIDER", "ABI", "REFRESH",
		       "REAUTH", (int)w_ops, "OPERATIONS", (int)w_kinds, "IMPORTS", "FILE");
		for (i = 0; i < n; i++) {
			char abi[24];
			if (provauth_manager_provider_info(&info, m, i) < 0)
				continue;
			snprintf(abi, sizeof(abi), "%u.%u", info.abi_major, info.abi_minor);
			printf("%-*s  %-4s  %-7s  %-6s  %-*s  %-*s  %s\n", (int)w_id, info.id, abi,
			       info.can_refresh ? "yes" : "no", info.can_reauth ? "yes" : "no",
			       (int)w_ops, ops && ops[i] ? ops[i] : "?",
			       (int)w_kinds, kinds && kinds[i] ? kinds[i] : "?",
			       info.file ? info.file : "(built in)");
		}
		print_kinds(m, n, w_id);
	}
	if (ns) {
		provauth_plugin_skip sk;
		printf("\nSkipped (%zu):\n", ns);
		for (i = 0; i < ns; i++) {
			if (provauth_manager_skipped(&sk, m, i) < 0)
				continue;
			printf("  %s\n      %s\n", sk.file, strip_file(sk.reason, sk.file));
		}
	}
	for (i = 0; i < env->events.count; i++)
		fprintf(stderr, "warning: %s\n", env->events.lines[i]);
	for (i = 0; i < n; i++) {
		if (ops)
			free(ops[i]);
		if (kinds)
			free(kinds[i]);
	}
	free(ops);
	free(kinds);
}

static void print_json(const cli_env *env)
{
	const provauth_manager *m = env->manager;
	size_t n = provauth_manager_provider_count(m), ns = provauth_manager_skipped_count(m), i, j;
	cli_json w;

	cli_json_init(&w, stdout);
	cli_json_object_begin(&w, NULL);
	cli_json_string(&w, "settings", env->settings_source);
	cli_json_array_begin(&w, "providers");
	for (i = 0; i < n; i++) {
		provauth_provider_info info;
		const provauth_import_kind *kinds = NULL;
		char abi[24];
		if (provauth_manager_provider_info(&info, m, i) < 0)
			continue;
		snprintf(abi, sizeof(abi), "%u.%u", info.abi_major, info.abi_minor);
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "id", info.id);
		cli_json_string(&w, "description", info.description);
		cli_json_string(&w, "file", info.file);
		cli_json_string(&w, "abi", abi);
		cli_json_array_begin(&w, "operations");
		for (j = 0; info.operations && info.operations[j]; j++)
			cli_json_string(&w, NULL, info.operations[j]);
		cli_json_array_end(&w);
		cli_json_bool(&w, "can_refresh", info.can_refresh);
		cli_json_bool(&w, "can_reauth", info.can_reauth);
		/* null: not declared, the provider judges each kind itself */
		if (provauth_provider_import_kinds(&kinds, m, info.id) < 0 || !kinds) {
			cli_json_raw(&w, "import_kinds", "null");
		} else {
			cli_json_array_begin(&w, "import_kinds");
			for (j = 0; kinds[j].name; j++) {
				cli_json_object_begin(&w, NULL);
				cli_json_string(&w, "name", kinds[j].name);
				cli_json_string(&w, "summary", kinds[j].summary);
				cli_json_object_end(&w);
			}
			cli_json_array_end(&w);
		}
		cli_json_object_end(&w);
	}
	cli_json_array_end(&w);
	cli_json_array_begin(&w, "skipped");
	for (i = 0; i < ns; i++) {
		provauth_plugin_skip sk;
		if (provauth_manager_skipped(&sk, m, i) < 0)
			continue;
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "file", sk.file);
		cli_json_string(&w, "reason", sk.reason);
		cli_json_object_end(&w);
	}
	cli_json_array_end(&w);
	cli_json_array_begin(&w, "warnings");
	for (i = 0; i < env->events.count; i++)
		cli_json_string(&w, NULL, env->events.lines[i]);
	cli_json_array_end(&w);
	cli_json_object_end(&w);
	cli_json_finish(&w);
}

static int run_plugins(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	cli_env env;
	int r;

	if ((r = cli_parse_plain(ctx, "plugins", self, argc, argv)) >= 0)
		return r;
	memset(&env, 0, sizeof(env));
	/* A plugin that crashes must not take the listing down with it: name it and go on. */
	env.trial_plugins = 1;
	if (cli_env_settings(&env, ctx) < 0 || cli_env_manager(&env, CLI_STORE_NONE) < 0) {
		cli_error("%s", provauth_last_error());
		cli_env_free(&env);
		return CLI_EXIT_ERROR;
	}
	if (ctx->json)
		print_json(&env);
	else
		print_table(&env);
	cli_env_free(&env);
	return CLI_EXIT_OK;
}

const cli_command cli_cmd_plugins = {
	.name = "plugins",
	.summary = "list loaded providers and the plugin files that were skipped",
	.usage = "[--json]",
	.help = "Plugins are searched in the settings' plugin_dir list, then in\n"
	        "$PROVAUTH_PLUGIN_PATH (colon-separated), then in the installed plugin\n"
	        "directory. A skipped file is listed with the reason it was refused.\n"
	        "IMPORTS names the kinds of credentials 'accounts import' takes for each\n"
	        "provider (\"any\": a plugin that does not declare them; \"-\": none), and\n"
	        "each declared kind is listed with what it is below the table.\n",
	.run = run_plugins,
};
