/*
 * The provauth command-line tool: shared declarations. The tool uses only
 * the public API (<provauth/provauth.h>), like any other program would.
 */
#ifndef PA_CLI_H
#define PA_CLI_H

#include <stdio.h>
#include <provauth/provauth.h>

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_ERROR = 1,   /* the command ran and failed, or found problems */
	CLI_EXIT_USAGE = 2    /* unknown command or option, bad arguments */
};

typedef struct cli_ctx {
	const char *config_path;    /* -c; NULL: $PROVAUTH_CONFIG, XDG file, defaults */
	int json;                   /* --json */
} cli_ctx;

typedef struct cli_command cli_command;

/*
 * One (sub)command. `run` gets the arguments after the command's name and
 * returns an exit status. A group (e.g. "config") has `subcommands` instead,
 * ended by an entry whose name is NULL.
 */
struct cli_command {
	const char *name;
	const char *summary;
	const char *usage;          /* what follows the name, e.g. "[--json]" */
	const char *help;           /* longer text for --help, or NULL */
	int (*run)(cli_ctx *ctx, const cli_command *self, int argc, char **argv);
	const cli_command *subcommands;
};

/* The command tables, one per file (cmd_*.c). */
extern const cli_command cli_cmd_plugins;
extern const cli_command cli_cmd_config;

/* "provauth: <message>" on stderr. */
void cli_error(const char *fmt, ...) PROVAUTH_PRINTF(1, 2);
/* A usage error: message, then a hint on where help is; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) PROVAUTH_PRINTF(2, 3);
void cli_command_help(FILE *out, const char *path, const cli_command *cmd);

/*
 * Accepts the options every command takes (--json, -h/--help) and no
 * positional argument. Returns -1 to go on, else the exit status to return
 * (help printed, or a usage error reported).
 */
int cli_parse_plain(cli_ctx *ctx, const char *path, const cli_command *cmd, int argc, char **argv);

/* ---- settings and manager (cli_env.c) ---- */

/* Log events of level warn and above the manager emitted, as text lines. */
typedef struct cli_events {
	char **lines;
	size_t count;
} cli_events;

typedef struct cli_env {
	provauth_settings *settings;
	char *settings_source;      /* the file, or NULL for built-in defaults */
	provauth_manager *manager;
	provauth_store *scratch_store; /* in-memory store for commands that touch no account */
	cli_events events;
} cli_env;

/*
 * Picks the settings file (-c, $PROVAUTH_CONFIG, the XDG file) and loads it.
 * Returns 0 or the library's error (message in provauth_last_error()).
 */
int cli_env_settings(cli_env *env, const cli_ctx *ctx);
/*
 * Creates the manager over env->settings; warnings are collected in
 * env->events. Commands that touch no account pass use_store = 0 so that
 * looking at plugins never creates the sqlite file or its key.
 */
int cli_env_manager(cli_env *env, int use_store);
void cli_env_free(cli_env *env);

/* ---- JSON output (json_writer.c) ---- */

typedef struct cli_json {
	FILE *out;
	int depth;
	int has_items[16];          /* per open container: 1 once it holds an item */
} cli_json;

void cli_json_init(cli_json *w, FILE *out);
/* `key` is the member name inside an object, NULL inside an array or at the top. */
void cli_json_object_begin(cli_json *w, const char *key);
void cli_json_object_end(cli_json *w);
void cli_json_array_begin(cli_json *w, const char *key);
void cli_json_array_end(cli_json *w);
void cli_json_string(cli_json *w, const char *key, const char *value); /* NULL: null */
void cli_json_bool(cli_json *w, const char *key, int value);
void cli_json_int(cli_json *w, const char *key, long long value);
/* Ends the document with a newline. */
void cli_json_finish(cli_json *w);

#endif
