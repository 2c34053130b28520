/*
 * provauth: command-line access to the library. Global options come before
 * the command; each command (cmd_*.c) parses its own.
 */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <provauth/plugin.h>
#include "cli.h"

static const cli_command *const commands[] = {
	&cli_cmd_plugins,
	&cli_cmd_config,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))
#define MAX_SUBCOMMANDS 16

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("provauth: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	fputs("provauth: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (command)
		fprintf(stderr, "\nTry 'provauth %s --help'.\n", command);
	else
		fputs("\nTry 'provauth --help'.\n", stderr);
	return CLI_EXIT_USAGE;
}

/* Leaf commands with their full names ("config check"), for the summaries. */
static void list_commands(FILE *out, const char *prefix, const cli_command *cmd)
{
	char name[64];
	const cli_command *sub;

	snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? " " : "", cmd->name);
	if (!cmd->subcommands) {
		fprintf(out, "  %-16s %s\n", name, cmd->summary);
		return;
	}
	for (sub = cmd->subcommands; sub->name; sub++)
		list_commands(out, name, sub);
}

static void usage(FILE *out)
{
	size_t i;

	fputs("Usage: provauth [-c FILE] [--json] COMMAND [ARGS...]\n"
	      "\n"
	      "Keeps authenticated sessions to third-party web APIs alive.\n"
	      "\n"
	      "Commands:\n", out);
	for (i = 0; i < NCOMMANDS; i++)
		list_commands(out, "", commands[i]);
	fputs("\n"
	      "Options:\n"
	      "  -c, --config FILE  settings file; default: $PROVAUTH_CONFIG, else\n"
	      "                     $XDG_CONFIG_HOME/provauth/provauth.yaml if it exists,\n"
	      "                     else built-in defaults\n"
	      "      --json         print a JSON document instead of tables\n"
	      "  -h, --help         show this help and exit\n"
	      "      --version      show the version and exit\n"
	      "\n"
	      "Run 'provauth COMMAND --help' for a command's own help.\n", out);
}

void cli_command_help(FILE *out, const char *path, const cli_command *cmd)
{
	const cli_command *sub;

	if (cmd->subcommands) {
		fprintf(out, "Usage: provauth [-c FILE] [--json] %s COMMAND\n\n%s\n\nCommands:\n",
		        path, cmd->summary);
		for (sub = cmd->subcommands; sub->name; sub++)
			fprintf(out, "  %-16s %s\n", sub->name, sub->summary);
		return;
	}
	fprintf(out, "Usage: provauth [-c FILE] [--json] %s%s%s\n\n%s\n", path,
	        cmd->usage && cmd->usage[0] ? " " : "", cmd->usage ? cmd->usage : "", cmd->summary);
	if (cmd->help)
		fprintf(out, "\n%s", cmd->help);
	fputs("\nOptions:\n"
	      "      --json   print a JSON document instead of tables\n"
	      "  -h, --help   show this help and exit\n", out);
}

int cli_parse_plain(cli_ctx *ctx, const char *path, const cli_command *cmd, int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cli_command_help(stdout, path, cmd);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0)
			ctx->json = 1;
		else if (argv[i][0] == '-')
			return cli_usage_error(path, "unknown option '%s' for '%s'", argv[i], path);
		else
			return cli_usage_error(path, "unexpected argument '%s' for '%s'", argv[i], path);
	}
	return -1;
}

/* Finds the (sub)command named by argv[0...] and runs it. */
static int dispatch(cli_ctx *ctx, const char *prefix, const cli_command *const *table, size_t n,
                    int argc, char **argv)
{
	char path[128];
	const cli_command *cmd = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(table[i]->name, argv[0]) == 0)
			cmd = table[i];
	if (!cmd) {
		if (prefix[0])
			return cli_usage_error(prefix, "unknown command '%s %s'", prefix, argv[0]);
		return cli_usage_error(NULL, "unknown command '%s'", argv[0]);
	}
	snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? " " : "", cmd->name);
	if (cmd->subcommands) {
		const cli_command *subs[MAX_SUBCOMMANDS];
		size_t nsubs = 0;
		if (argc < 2)
			return cli_usage_error(path, "'%s' needs a command", path);
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			cli_command_help(stdout, path, cmd);
			return CLI_EXIT_OK;
		}
		for (nsubs = 0; nsubs < MAX_SUBCOMMANDS && cmd->subcommands[nsubs].name; nsubs++)
			subs[nsubs] = &cmd->subcommands[nsubs];
		return dispatch(ctx, path, subs, nsubs, argc - 1, argv + 1);
	}
	return cmd->run(ctx, cmd, argc - 1, argv + 1);
}

static int option_value(int argc, char **argv, int *i, const char *name, const char **out)
{
	size_t len = strlen(name);
	const char *arg = argv[*i];

	if (strncmp(arg, name, len) == 0 && arg[len] == '=') {
		*out = arg + len + 1;
		return 1;
	}
	if (strcmp(arg, name) != 0)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*out = argv[++*i];
	return 1;
}

int main(int argc, char **argv)
{
	cli_ctx ctx = { NULL, 0 };
	int i, r;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("provauth %s (plugin ABI %d.%d)\n", provauth_version(),
			       PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MINOR);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--json") == 0) {
			ctx.json = 1;
			continue;
		}
		if ((r = option_value(argc, argv, &i, "-c", &ctx.config_path)) == 0)
			r = option_value(argc, argv, &i, "--config", &ctx.config_path);
		if (r < 0)
			return cli_usage_error(NULL, "option '%s' needs a file name", a);
		if (r == 0)
			return cli_usage_error(NULL, "unknown option '%s'", a);
	}
	if (i >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	return dispatch(&ctx, "", commands, NCOMMANDS, argc - i, argv + i);
}
