/*
 * The provauth command-line tool: shared declarations. The tool uses only
 * the public API (<provauth/provauth.h>), like any other program would.
 */
#ifndef PA_CLI_H
#define PA_CLI_H

#include <stdio.h>
#include <provauth/provauth.h>
#include <provauth/pool.h>

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_ERROR = 1,   /* the command ran and failed, or found problems */
	CLI_EXIT_USAGE = 2,   /* unknown command or option, bad arguments */
	/* A generation job followed to its end (generate --wait) that did not give a result. */
	CLI_EXIT_JOB_FAILED = 3,    /* the provider reports the job failed */
	CLI_EXIT_JOB_MODERATED = 4, /* moderation refused the job's content */
	CLI_EXIT_JOB_TIMEOUT = 5    /* still running when --timeout ran out */
};

typedef struct cli_ctx {
	const char *config_path;    /* -c; NULL: $PROVAUTH_CONFIG, XDG file, defaults */
	int json;                   /* --json */
	int verbose;                /* -v: every log event at info and above on stderr */
	FILE *log_file;             /* --log-file, opened by main: every log event, as JSON lines */
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
extern const cli_command cli_cmd_accounts;
/* accounts set-api-key's run (cmd_api_key.c); its entry is in accounts' table. */
int cli_run_set_api_key(cli_ctx *ctx, const cli_command *self, int argc, char **argv);
extern const cli_command cli_cmd_status;
extern const cli_command cli_cmd_call;
extern const cli_command cli_cmd_session;
extern const cli_command cli_cmd_store;
extern const cli_command cli_cmd_generate;
extern const cli_command cli_cmd_jobs;
extern const cli_command cli_cmd_pool;

/* ---- standard output and error (cli_output.c) ---- */

/*
 * Puts both streams behind a filter that escapes terminal control
 * characters (text from servers must not drive the terminal), and holds
 * closed descriptors 0-2 on /dev/null. Returns -1, having said so, when
 * standard output is closed.
 */
int cli_output_init(void);
/*
 * Flushes and closes standard output; when anything could not be written,
 * says so on stderr and turns a successful exit status `r` into
 * CLI_EXIT_ERROR. Returns the exit status.
 */
int cli_output_finish(int r);

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

/* An option of one command: "--provider ID" (also "--provider=ID") or a flag. */
typedef struct cli_option {
	const char *name;           /* "--provider"; NULL ends a table */
	const char *metavar;        /* "ID"; NULL for a flag */
	const char **value;         /* where the value goes (options with a metavar) */
	int *flag;                  /* set to 1 when given (flags) */
} cli_option;

#define CLI_MAX_ARGS 64

typedef struct cli_spec {
	const cli_option *options;  /* may be NULL */
	size_t min_args, max_args;  /* positional arguments (max at most CLI_MAX_ARGS) */
} cli_spec;

/*
 * Parses a command's arguments: --json, -v/--verbose, -h/--help, the
 * spec's options, and positional arguments into args[] (CLI_MAX_ARGS
 * entries). "--" ends the options. Values of options and arguments are
 * never echoed in error messages: a misplaced secret must not reach a
 * terminal or a log. Returns -1 to go on, else the exit status to return.
 */
int cli_parse(cli_ctx *ctx, const char *path, const cli_command *cmd, const cli_spec *spec,
              int argc, char **argv, char **args, size_t *nargs);

/*
 * Announces a network wait: "provauth: <what>" appears on stderr if stderr
 * is a terminal and cli_progress_done() has not been called within a moment
 * (500 ms; PROVAUTH_PROGRESS_DELAY_MS overrides). One at a time.
 */
void cli_progress(const char *fmt, ...) PROVAUTH_PRINTF(1, 2);
/* Ends the wait; after it returns the line can no longer appear. */
void cli_progress_done(void);

/*
 * Reports the library's failure ("provauth: <provauth_last_error()>") and
 * returns CLI_EXIT_ERROR.
 */
int cli_fail(int rc);

/* "2024-05-01 12:00:00 UTC", or "-" for 0. */
void cli_format_time(char *buf, size_t size, int64_t t);

/* ---- settings and manager (cli_env.c) ---- */

/* Log events of level warn and above the manager emitted, as text lines. */
typedef struct cli_events {
	char **lines;
	size_t count;
	/*
	 * A session the library lost and then recovered during the command:
	 * the account, why it was lost, how it came back (NULL: it did not),
	 * and which lines tell that story (1 per line, parallel to `lines`).
	 */
	char lost_account[128];
	char lost_reason[64];
	const char *recovered_how;
	unsigned char *recovery_line;
	/*
	 * Parallel to `lines`: the error a failed refresh or login reported
	 * (NULL: none). A command that fails with an error retelling it does
	 * not print the line, so advice in it is given once.
	 */
	char **step_error;
} cli_events;

/* Which store a command's manager opens. */
typedef enum cli_store_mode {
	CLI_STORE_NONE,             /* an empty in-memory store: the command touches no account */
	CLI_STORE_CREATE,           /* the settings' store, created when missing: commands that add accounts */
	CLI_STORE_EXISTING,         /* the settings' store only if it exists: no store, no such account */
	CLI_STORE_EXISTING_OR_EMPTY /* the same, but no store reads as an empty one (env->no_store says so) */
} cli_store_mode;

typedef struct cli_env {
	int verbose;                /* set before cli_env_manager: print events as they come */
	int trial_plugins;          /* set before cli_env_manager: try each plugin in a child first */
	FILE *log_file;             /* set by cli_env_settings from the context; not owned */
	provauth_settings *settings;
	char *settings_source;      /* the file, or NULL for built-in defaults */
	provauth_manager *manager;
	provauth_store *scratch_store; /* in-memory store for commands that touch no account */
	char *no_store;             /* CLI_STORE_EXISTING_OR_EMPTY found none: "no store at PATH" */
	cli_events events;
} cli_env;

/*
 * Picks the settings file (-c, $PROVAUTH_CONFIG, the XDG file) and loads it.
 * Returns 0 or the library's error (message in provauth_last_error()).
 */
int cli_env_settings(cli_env *env, const cli_ctx *ctx);
/*
 * Creates the manager over env->settings; warnings are collected in
 * env->events. With --log-file, every event the settings' log.level lets
 * through is also appended to that file as one JSON object per line
 * (secrets are fingerprints there too). Only commands that add accounts
 * create the store (the sqlite file and its key): looking at plugins,
 * settings or accounts never does. With CLI_STORE_EXISTING a missing store
 * fails with PROVAUTH_ENOTFOUND.
 */
int cli_env_manager(cli_env *env, cli_store_mode mode);
/*
 * Both steps for a command that works on accounts; on failure reports it,
 * frees what it made and returns CLI_EXIT_ERROR, else 0.
 */
int cli_env_open(cli_env *env, const cli_ctx *ctx, cli_store_mode mode);
/*
 * After a command that succeeded: prints the collected events on stderr
 * ("warning: ...") and forgets them. A lost session that the library
 * recovered is told in one "note: ..." line instead of its warnings.
 */
void cli_env_flush_events(cli_env *env);
/* Flushes the events that led to a failure, then reports it like cli_fail. */
int cli_env_fail(cli_env *env, int rc);
/* Ends a command: prints the events still collected, frees env, returns r. */
int cli_env_close(cli_env *env, int r);
/* Frees env; it may be freed again. */
void cli_env_free(cli_env *env);

/* ---- secrets from stdin, a file or the environment (cli_input.c) ---- */

/*
 * Reads a secret (a password, cookies, a token) from the file `file` if
 * set, else from the environment variable `env_var` if set, else from
 * standard input. At most 1 MiB; one trailing newline is dropped; empty
 * input is an error. From a terminal, it prompts with `prompt` on stderr
 * and reads without echo one line, or up to Ctrl-D when `multi_line`. On
 * failure prints the reason and returns CLI_EXIT_ERROR; else 0 and *out,
 * to be released with cli_secret_free.
 */
int cli_secret_read(char **out, const char *what, const char *file, const char *env_var,
                    const char *prompt, int multi_line);
/* Wipes and frees a secret (NULL is fine). */
void cli_secret_free(char *secret);

/* ---- stores named on the command line (cli_store_spec.c) ---- */

typedef struct cli_store_spec {
	int is_postgres;            /* 1: a libpq URI or key=value string; 0: a sqlite file */
	char *target;               /* the conninfo, or the sqlite file's path */
	const char *shown;          /* for messages: target (a password was refused, so it holds none) */
} cli_store_spec;

/*
 * Reads SPEC given to `option` of `command`: "postgresql://...",
 * "postgres://...", "key=value ..." (postgres), "sqlite:PATH" or a path. A
 * spec holding a password is a usage error that does not repeat it.
 * Returns -1 to go on, else the exit status to return (already reported).
 */
int cli_store_spec_parse(cli_store_spec *out, const char *command, const char *option, const char *spec);
/*
 * Opens the store `spec` names, sealing with `key_file` (NULL: the store's
 * default: PROVAUTH_STORE_KEY, then for sqlite "<path>.key"). With
 * `must_exist` nothing is created. Returns 0, or CLI_EXIT_ERROR reported.
 */
int cli_store_spec_open(provauth_store **out, const cli_store_spec *spec, const char *key_file,
                        int must_exist);
void cli_store_spec_free(cli_store_spec *spec);

typedef struct cli_json cli_json;

/* ---- what commands show about accounts (cli_account.c) ---- */

/* metadata.session_health, as the session manager records it. */
typedef struct cli_health {
	int present;                /* 0: never recorded */
	char state[32];             /* "ok" | "invalid" */
	char reason[64];
	char code[32];
	char message[640];
	int64_t at;
} cli_health;

void cli_account_health(cli_health *out, const provauth_account *account);
/* A top-level metadata member as text (strings as they are, numbers printed), or NULL. Caller frees. */
char *cli_account_metadata(const provauth_account *account, const char *key);
/* "ok", "invalid (refresh_failed, 10005)" or "-". */
void cli_health_summary(char *buf, size_t size, const cli_health *h);
/* Adds "session_health": {...} or null to a JSON object being written. */
void cli_health_json(cli_json *w, const cli_health *h);

/* The loaded provider `id`; 0, or -1 when it is not loaded. */
int cli_provider_info(provauth_provider_info *out, const provauth_manager *m, const char *id);

/*
 * After a failed command on an account: tells the user on stderr what to
 * do when the failure means the account needs their action (new cookies, a
 * password, a new refresh token). Nothing for other failures.
 */
void cli_account_hint(provauth_manager *m, const char *id, int rc);

/* ---- generation jobs, shared by `jobs` and `generate --wait` (cmd_jobs.c) ---- */

/* A job as the CLI names it: "ACCOUNT_ID/JOB_ID" (the provider's job id may hold ':'). */
typedef struct cli_job {
	char *handle;               /* "ACCOUNT_ID/JOB_ID", owned */
	const char *account_id;     /* into `split`, owned with it */
	const char *job_id;
	char *split;
	char state[16];             /* "queued" ... "unknown"; "" before the provider was asked */
	char *url;                  /* the result once done; NULL none */
	long long code;             /* the provider's own status number; -1 none */
} cli_job;

/*
 * Reads a handle "ACCOUNT_ID/JOB_ID" into *out (free with cli_job_clear).
 * -1 when it is not one (nothing to free); the caller names the argument.
 */
int cli_job_parse(cli_job *out, const char *handle);
void cli_job_clear(cli_job *job);
/*
 * Asks the provider about jobs[0..n), all of one account, in one "jobs"
 * call (the provider batches them); fills each state, url and code. A job
 * the answer leaves out is "unknown". 0, or the call's error (message set).
 */
int cli_jobs_query(provauth_manager *m, const char *account_id, cli_job *jobs, size_t n);
/*
 * Whether `state` is final: 1 and the outcome to release the job's
 * reservation with (provauth_pool_outcome_for_job); else 0.
 */
int cli_job_finished(const char *state, provauth_pool_outcome *outcome);

/* ---- JSON output (json_writer.c) ---- */

struct cli_json {
	FILE *out;
	int depth;
	int has_items[16];          /* per open container: 1 once it holds an item */
};

void cli_json_init(cli_json *w, FILE *out);
/* `key` is the member name inside an object, NULL inside an array or at the top. */
void cli_json_object_begin(cli_json *w, const char *key);
void cli_json_object_end(cli_json *w);
void cli_json_array_begin(cli_json *w, const char *key);
void cli_json_array_end(cli_json *w);
void cli_json_string(cli_json *w, const char *key, const char *value); /* NULL: null */
void cli_json_bool(cli_json *w, const char *key, int value);
void cli_json_int(cli_json *w, const char *key, long long value);
/* A value that is already JSON text (a number, a literal, a serialized scalar). */
void cli_json_raw(cli_json *w, const char *key, const char *json);
/* Ends the document with a newline. */
void cli_json_finish(cli_json *w);

#endif
