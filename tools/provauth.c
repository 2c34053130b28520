/*
 * provauth: command-line access to the library. Global options come before
 * the command; each command (cmd_*.c) parses its own.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <provauth/plugin.h>
#include "cli.h"

static const cli_command *const commands[] = {
	&cli_cmd_accounts,
	&cli_cmd_status,
	&cli_cmd_call,
	&cli_cmd_session,
	&cli_cmd_store,
	&cli_cmd_generate,
	&cli_cmd_jobs,
	&cli_cmd_pool,
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

int cli_fail(int rc)
{
	const char *msg = provauth_last_error();

	cli_error("%s", msg && *msg ? msg : provauth_strerror(rc));
	return CLI_EXIT_ERROR;
}

void cli_format_time(char *buf, size_t size, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "-");
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
		fprintf(out, "  %-24s %s\n", name, cmd->summary);
		return;
	}
	for (sub = cmd->subcommands; sub->name; sub++)
		list_commands(out, name, sub);
}

static void usage(FILE *out)
{
	size_t i;

	fputs("Usage: provauth [-c FILE] [--json] [-v] [--log-file FILE] COMMAND [ARGS...]\n"
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
	      "  -v, --verbose      print the library's log events (info and above) on stderr\n"
	      "      --log-file FILE\n"
	      "                     append every log event the settings' log.level lets\n"
	      "                     through to FILE, one JSON object per line (created\n"
	      "                     0600; secrets appear only as fingerprints \"fp:...\")\n"
	      "  -h, --help         show this help and exit\n"
	      "      --version      show the version and exit\n"
	      "\n"
	      "Secrets (passwords, cookies, tokens) are read only from standard input, a\n"
	      "file or an environment variable, never from the command line, and are\n"
	      "never printed.\n"
	      "\n"
	      "Exit status:\n"
	      "  0  success\n"
	      "  1  the command failed (the reason follows \"provauth: \" on stderr)\n"
	      "  2  usage error: unknown command or option, missing or extra arguments\n"
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
		fprintf(out, "\nRun 'provauth %s COMMAND --help' for a command's own help.\n", path);
		return;
	}
	fprintf(out, "Usage: provauth [-c FILE] [--json] %s%s%s\n\n%s\n", path,
	        cmd->usage && cmd->usage[0] ? " " : "", cmd->usage ? cmd->usage : "", cmd->summary);
	if (cmd->help)
		fprintf(out, "\n%s", cmd->help);
	fputs("\nCommon options:\n"
	      "      --json      print a JSON document instead of text\n"
	      "  -v, --verbose   print the library's log events on stderr\n"
	      "  -h, --help      show this help and exit\n"
	      "\nExit status: 0 success, 1 failure, 2 usage error.\n", out);
}

/*
 * The name part of "--name=value", or of "-xVALUE" (as in mysql -pPASSWORD):
 * the value may be a secret typed in the wrong place.
 */
static void option_name(char *buf, size_t size, const char *arg)
{
	size_t n = strcspn(arg, "=");

	if (arg[0] == '-' && arg[1] != '-' && n > 2)
		n = 2;

	if (n >= size)
		n = size - 1;
	memcpy(buf, arg, n);
	buf[n] = '\0';
}

/* Options people may try for secrets; they exist nowhere, on purpose. */
static int looks_like_secret_option(const char *name)
{
	static const char *const words[] = { "password", "passwd", "token", "cookie", "secret", "jwt" };
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(name, words[i]))
			return 1;
	return 0;
}

static int unknown_option(const char *path, const char *arg)
{
	char name[64];

	option_name(name, sizeof(name), arg);
	if (looks_like_secret_option(name))
		return cli_usage_error(path, "'%s' has no option '%s': secrets are never taken from the "
		                       "command line, where ps and the shell history would show them; "
		                       "give them on standard input, in a file or in an environment variable",
		                       path, name);
	return cli_usage_error(path, "unknown option '%s' for '%s'", name, path);
}

int cli_parse(cli_ctx *ctx, const char *path, const cli_command *cmd, const cli_spec *spec,
              int argc, char **argv, char **args, size_t *nargs)
{
	const cli_option *o;
	int i, only_args = 0;

	*nargs = 0;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		size_t len;

		if (only_args || a[0] != '-' || a[1] == '\0') {
			if (*nargs >= spec->max_args)
				return cli_usage_error(path, "too many arguments for '%s' (see its usage)", path);
			args[(*nargs)++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_args = 1;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli_command_help(stdout, path, cmd);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--json") == 0) {
			ctx->json = 1;
			continue;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			ctx->verbose = 1;
			continue;
		}
		len = strcspn(a, "=");
		for (o = spec->options; o && o->name; o++)
			if (strlen(o->name) == len && strncmp(a, o->name, len) == 0)
				break;
		if (!o || !o->name)
			return unknown_option(path, a);
		if (!o->metavar) {
			if (a[len] == '=')
				return cli_usage_error(path, "option '%s' takes no value", o->name);
			*o->flag = 1;
			continue;
		}
		if (*o->value)
			return cli_usage_error(path, "option '%s' given twice", o->name);
		if (a[len] == '=') {
			*o->value = a + len + 1;
		} else {
			if (i + 1 >= argc)
				return cli_usage_error(path, "option '%s' needs a value (%s)", o->name, o->metavar);
			*o->value = argv[++i];
		}
		if (!**o->value)
			return cli_usage_error(path, "option '%s' needs a non-empty %s", o->name, o->metavar);
	}
	if (*nargs < spec->min_args)
		return cli_usage_error(path, "'%s' needs more arguments: %s %s", path, path,
		                       cmd->usage ? cmd->usage : "");
	return -1;
}

int cli_parse_plain(cli_ctx *ctx, const char *path, const cli_command *cmd, int argc, char **argv)
{
	static const cli_spec none = { NULL, 0, 0 };
	char *args[1];
	size_t nargs;

	return cli_parse(ctx, path, cmd, &none, argc, argv, args, &nargs);
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

/*
 * Appends to FILE, created 0600: events name accounts and emails. The file
 * is opened without following a symlink and must be a regular file of the
 * caller's: in a shared directory another user could otherwise plant a link
 * (or a file of theirs) there and receive the events, or have us append to
 * a file of our own they chose. NULL after reporting why not.
 */
static FILE *open_log_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
	struct stat st;
	FILE *f;

	if (fd < 0) {
		cli_error("cannot open the log file %s: %s", path,
		          errno == ELOOP ? "it is a symbolic link, which is refused" : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		if (fstat(fd, &st) != 0)
			cli_error("cannot use the log file %s: %s", path, strerror(errno));
		else if (!S_ISREG(st.st_mode))
			cli_error("cannot use the log file %s: not a regular file", path);
		else
			cli_error("cannot use the log file %s: it belongs to uid %lu, not to the caller (uid %lu)",
			          path, (unsigned long)st.st_uid, (unsigned long)geteuid());
		close(fd);
		return NULL;
	}
	/* O_NONBLOCK served the open (a FIFO must not hang it); writes block as usual. */
	if (fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) != 0 || !(f = fdopen(fd, "a"))) {
		cli_error("cannot open the log file %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	return f;
}

static int run(int argc, char **argv)
{
	cli_ctx ctx = { NULL, 0, 0, NULL };
	const char *log_path = NULL;
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
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			ctx.verbose = 1;
			continue;
		}
		if ((r = option_value(argc, argv, &i, "-c", &ctx.config_path)) == 0 &&
		    (r = option_value(argc, argv, &i, "--config", &ctx.config_path)) == 0)
			r = option_value(argc, argv, &i, "--log-file", &log_path);
		if (r < 0)
			return cli_usage_error(NULL, "option '%s' needs a file name", a);
		if (r == 0) {
			char name[64];
			option_name(name, sizeof(name), a);
			return cli_usage_error(NULL, "unknown option '%s'", name);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (log_path && !(ctx.log_file = open_log_file(log_path)))
		return CLI_EXIT_ERROR;
	r = dispatch(&ctx, "", commands, NCOMMANDS, argc - i, argv + i);
	if (ctx.log_file) {
		/* An event that could not be written leaves the stream's error flag; fclose may not fail then. */
		int bad, err;

		errno = 0;
		bad = fflush(ctx.log_file) != 0 || ferror(ctx.log_file);
		err = errno;
		if (fclose(ctx.log_file) != 0 && !bad)
			bad = 1, err = errno;
		if (bad) {
			cli_error("cannot write the log file %s: %s", log_path, strerror(err ? err : EIO));
			if (r == CLI_EXIT_OK)
				r = CLI_EXIT_ERROR;
		}
	}
	return r;
}

int main(int argc, char **argv)
{
	int r;

	/*
	 * First of all, before any secret is in memory: no core file and no
	 * ptrace by other users of the store key, passwords and tokens.
	 */
	if (provauth_process_harden() < 0)
		cli_error("warning: %s", provauth_last_error());
	if (cli_output_init() < 0)
		return CLI_EXIT_ERROR;
	r = run(argc, argv);
	return cli_output_finish(r);
}
