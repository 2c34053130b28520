/*
 * provauth: keeps authenticated sessions to third-party web APIs alive for
 * servers that use pools of provider accounts.
 *
 * Conventions (the whole public API follows them):
 *  - Functions return 0 on success or a negative provauth_error code. The
 *    thread-local provauth_last_error() then says what failed and where.
 *  - Outputs come first (`**out`) and are owned by the caller, who frees them
 *    with the matching *_free function (or provauth_free for plain strings).
 *  - Callbacks take `void *payload` last.
 *  - Versioned structs start with `unsigned int version`; initialise them
 *    with their _INIT macro so that new fields get safe defaults.
 *  - Nothing is ever printed to stdout. Diagnostics go to the log callback.
 *  - Every function is safe to call from any thread unless its comment says
 *    otherwise. One provauth_manager may be shared by all threads.
 */
#ifndef PROVAUTH_H
#define PROVAUTH_H

#include <stddef.h>
#include <stdint.h>
#include <provauth/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROVAUTH_VERSION "0.1.0"

/* The library's version string, as built (may differ from the header's). */
PROVAUTH_EXTERN(const char *) provauth_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* provauth_error, the codes, is in <provauth/types.h>. */

/* Static description of an error code ("no such account", ...). Never NULL. */
PROVAUTH_EXTERN(const char *) provauth_strerror(int error);

/*
 * Message for the last failure on the calling thread ("" when none). It names
 * the file, key, account or symbol at fault and never contains a secret.
 * Valid until the next provauth call on the same thread.
 */
PROVAUTH_EXTERN(const char *) provauth_last_error(void);
PROVAUTH_EXTERN(void) provauth_error_clear(void);

/* Frees a string or buffer the library handed out (char **out parameters). */
PROVAUTH_EXTERN(void) provauth_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Process hardening                                                        */
/* ------------------------------------------------------------------------ */

/*
 * Keeps the process's memory (the store key, passwords, tokens) out of
 * core files and away from other users' debuggers: marks the process not
 * dumpable (prctl PR_SET_DUMPABLE 0: no core file, no ptrace attach but by
 * root, /proc/PID/mem and friends owned by root) and sets RLIMIT_CORE to 0.
 * Call it first thing in main, before any secret is read; it affects the
 * whole process and is kept across fork (exec of a set-uid program aside).
 * Returns 0, or PROVAUTH_EUNSUPPORTED where the system offers neither, or
 * PROVAUTH_ERROR when a step failed (the message says which).
 */
PROVAUTH_EXTERN(int) provauth_process_harden(void);

/* ------------------------------------------------------------------------ */
/* Logging                                                                  */
/* ------------------------------------------------------------------------ */

/* Levels and fields (provauth_log_field) are in <provauth/types.h>. */

/*
 * Receives every log event. `event` is a stable name such as
 * "pixverse_auto_reauth_attempt"; fields are valid only during the call.
 * May be called from any thread, concurrently; must not call back into the
 * manager that emitted the event.
 */
typedef void (*provauth_log_fn)(provauth_log_level level, const char *event,
                                const provauth_log_field *fields, size_t nfields,
                                void *payload);

/*
 * The default sink: one JSON object per line on stderr
 * ({"ts":"...","level":"info","event":"...",<fields>}). Exposed so a host's
 * own callback can fall back to it. `payload` is ignored.
 */
PROVAUTH_EXTERN(void) provauth_log_stderr_json(provauth_log_level level, const char *event,
                                               const provauth_log_field *fields, size_t nfields,
                                               void *payload);

/*
 * The same JSON lines written to `payload`, a FILE * the host opened
 * (NULL: stderr), flushed after every event. A host callback that keeps an
 * event log file calls it with its own stream.
 */
PROVAUTH_EXTERN(void) provauth_log_file_json(provauth_log_level level, const char *event,
                                             const provauth_log_field *fields, size_t nfields,
                                             void *payload);

PROVAUTH_EXTERN(const char *) provauth_log_level_name(provauth_log_level level);

/* ------------------------------------------------------------------------ */
/* Settings (YAML)                                                          */
/* ------------------------------------------------------------------------ */

typedef struct provauth_settings provauth_settings;

/*
 * Loads and validates a settings file. On failure *out is NULL and the last
 * error reads "FILE:LINE:COL: KEY: what is wrong". `${NAME}` in a value
 * expands from the environment; a missing variable is an error naming it.
 */
PROVAUTH_EXTERN(int) provauth_settings_load(provauth_settings **out, const char *path);

/* Same, from memory; `name` stands for the file name in messages. */
PROVAUTH_EXTERN(int) provauth_settings_parse(provauth_settings **out, const char *text,
                                             size_t len, const char *name);

/* Settings with every default and no providers block. */
PROVAUTH_EXTERN(int) provauth_settings_default(provauth_settings **out);

PROVAUTH_EXTERN(void) provauth_settings_free(provauth_settings *settings);

/* Non-fatal findings (e.g. a literal global_password in a world-readable file). */
PROVAUTH_EXTERN(size_t) provauth_settings_warning_count(const provauth_settings *settings);
PROVAUTH_EXTERN(const char *) provauth_settings_warning(const provauth_settings *settings, size_t i);

/* The file the settings came from, or the `name` given to _parse. */
PROVAUTH_EXTERN(const char *) provauth_settings_source(const provauth_settings *settings);

/* ------------------------------------------------------------------------ */
/* Accounts                                                                 */
/* ------------------------------------------------------------------------ */

/* provauth_account and its parts are in <provauth/types.h>. */

PROVAUTH_EXTERN(const char *) provauth_auth_method_name(provauth_auth_method m);
/* "password" / "google"; anything else (including NULL) is UNKNOWN. */
PROVAUTH_EXTERN(provauth_auth_method) provauth_auth_method_parse(const char *s);

PROVAUTH_EXTERN(int) provauth_account_new(provauth_account **out, const char *id, const char *provider);
PROVAUTH_EXTERN(int) provauth_account_dup(provauth_account **out, const provauth_account *src);
PROVAUTH_EXTERN(void) provauth_account_free(provauth_account *account);
PROVAUTH_EXTERN(void) provauth_account_list_free(provauth_account **accounts, size_t count);

/* Replaces a string field: `*field` is freed and set to a copy of value (NULL clears). */
PROVAUTH_EXTERN(int) provauth_account_set(char **field, const char *value);
/* Adds or replaces a cookie; value NULL removes it. */
PROVAUTH_EXTERN(int) provauth_account_set_cookie(provauth_account *account, const char *name, const char *value);
PROVAUTH_EXTERN(const char *) provauth_account_cookie(const provauth_account *account, const char *name);
/* Adds or replaces the first API key of `kind`; value NULL removes it. */
PROVAUTH_EXTERN(int) provauth_account_set_api_key(provauth_account *account, const char *kind, const char *value);
PROVAUTH_EXTERN(const char *) provauth_account_api_key(const provauth_account *account, const char *kind);
/*
 * Credentials, whatever the provider keeps (provauth_credential in
 * <provauth/types.h>). `name` is NULL or "" for single-valued kinds.
 * provauth_account_credential: the value, or NULL when absent (borrowed,
 * valid until the account next changes).
 */
PROVAUTH_EXTERN(const char *) provauth_account_credential(const provauth_account *account, const char *kind,
                                                          const char *name);
/* Its expiry (unix seconds), 0 when it has none or is absent. */
PROVAUTH_EXTERN(int64_t) provauth_account_credential_expires(const provauth_account *account, const char *kind,
                                                             const char *name);
/*
 * Adds or replaces one credential; value NULL removes it. PROVAUTH_EINVAL for
 * a kind the account cannot hold (or a name on a single-valued kind).
 */
PROVAUTH_EXTERN(int) provauth_account_set_credential(provauth_account *account, const char *kind, const char *name,
                                                     const char *value, int64_t expires_at);
/* Iteration: count, then entry i (0 <= i < count; PROVAUTH_ENOTFOUND beyond). */
PROVAUTH_EXTERN(size_t) provauth_account_credential_count(const provauth_account *account);
PROVAUTH_EXTERN(int) provauth_account_credential_at(provauth_credential *out, const provauth_account *account,
                                                    size_t i);
/*
 * A session's credential (provauth_session.credentials): the value, or NULL
 * when absent (borrowed, valid as long as the session); its expiry, 0 when
 * it has none or is absent. `name` is NULL or "" for single-valued kinds.
 */
PROVAUTH_EXTERN(const char *) provauth_session_credential(const provauth_session *session, const char *kind,
                                                          const char *name);
PROVAUTH_EXTERN(int64_t) provauth_session_credential_expires(const provauth_session *session, const char *kind,
                                                             const char *name);
/* account->state.auth_method (UNKNOWN for NULL). */
PROVAUTH_EXTERN(provauth_auth_method) provauth_account_auth_method(const provauth_account *account);
/*
 * Sets top-level key `key` of the metadata object to the JSON value given as
 * text (e.g. "\"user\"", "{\"a\":1}"); json NULL removes the key.
 * The keys the core kept its state in before store schema 4 (auth_method,
 * session_health, last_reauth_at, refresh_refused) set the typed field of
 * account->state instead, read as the core always read them; they never
 * reach the metadata.
 */
PROVAUTH_EXTERN(int) provauth_account_set_metadata(provauth_account *account, const char *key, const char *json);
/* New random account id ("acct-" + 16 hex digits). */
PROVAUTH_EXTERN(int) provauth_account_new_id(char **out);

/* ------------------------------------------------------------------------ */
/* Sessions and failures                                                    */
/* ------------------------------------------------------------------------ */

/* provauth_session and provauth_failure are in <provauth/types.h>. */

PROVAUTH_EXTERN(int) provauth_failure_set_message(provauth_failure *f, int code, const char *fmt, ...)
	PROVAUTH_PRINTF(3, 4);
PROVAUTH_EXTERN(int) provauth_failure_set_http(provauth_failure *f, long status, const char *body,
                                               size_t body_len, long retry_after);
PROVAUTH_EXTERN(int) provauth_failure_set_transport(provauth_failure *f, int code, const char *message);
PROVAUTH_EXTERN(void) provauth_failure_clear(provauth_failure *f);

/* ------------------------------------------------------------------------ */
/* Manager                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct provauth_manager provauth_manager;
typedef struct provauth_store provauth_store; /* see <provauth/store.h> */

/* Returns unix time in seconds; lets tests and hosts drive time. */
typedef int64_t (*provauth_clock_fn)(void *payload);

typedef struct provauth_manager_options {
	unsigned int version;
	provauth_log_fn log;          /* NULL: provauth_log_stderr_json */
	void *log_payload;
	provauth_store *store;        /* NULL: open the store the settings name. Not owned. */
	provauth_clock_fn clock;      /* NULL: time(NULL) */
	void *clock_payload;
	int skip_plugins;             /* 1: load no plugins (providers registered by hand) */
	/*
	 * Version 2. 1: never create the store the settings name: when its
	 * sqlite file does not exist, fail with PROVAUTH_ENOTFOUND ("no store at
	 * PATH") and create nothing, neither the file nor its key. For programs
	 * that only look at accounts.
	 */
	int store_must_exist;
	/*
	 * Version 3. 1: try each plugin file in a child process first (fork,
	 * load, entry point, init) and load it here only when that child came
	 * back: a plugin that crashes (or hangs for 10 s) is skipped with
	 * "FILE crashed in init (signal N)" or the like, and the others load.
	 * Costs a fork per plugin; for programs that list or check plugins.
	 */
	int trial_plugins;
} provauth_manager_options;

#define PROVAUTH_MANAGER_OPTIONS_VERSION 3
#define PROVAUTH_MANAGER_OPTIONS_INIT { PROVAUTH_MANAGER_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, 0, 0 }

/*
 * Creates a manager: loads the plugins (settings' plugin_dir list, then
 * PROVAUTH_PLUGIN_PATH, then the compiled-in directory), initialises each
 * provider with its settings block and opens the store. A plugin that fails
 * to load is skipped with a logged error; see provauth_manager_plugin_report.
 * `settings` is copied; the caller may free it afterwards. `opts` may be NULL.
 */
PROVAUTH_EXTERN(int) provauth_manager_new(provauth_manager **out, const provauth_settings *settings,
                                          const provauth_manager_options *opts);

/* Finalises and closes the plugins. No call may be in flight. */
PROVAUTH_EXTERN(void) provauth_manager_free(provauth_manager *manager);

/* Emits a log event through the manager's callback (with redaction). */
PROVAUTH_EXTERN(void) provauth_manager_log(provauth_manager *manager, provauth_log_level level,
                                           const char *event, const provauth_log_field *fields,
                                           size_t nfields);

/* ---- providers and plugins ---- */

typedef struct provauth_provider_info {
	const char *id;
	const char *description;
	const char *file;          /* the .so it came from; NULL if registered by hand */
	unsigned int abi_major, abi_minor;
	const char *const *operations; /* NULL-terminated names */
	int can_refresh, can_reauth;
} provauth_provider_info;

/*
 * Registers an in-process provider (a host that links its provider
 * statically; see <provauth/plugin.h> for provauth_provider): the same
 * checks and init as a plugin loaded from a file. `p` must stay valid
 * until the manager is freed.
 */
PROVAUTH_EXTERN(int) provauth_manager_add_provider(provauth_manager *m, const provauth_provider *p);

PROVAUTH_EXTERN(size_t) provauth_manager_provider_count(const provauth_manager *m);
PROVAUTH_EXTERN(int) provauth_manager_provider_info(provauth_provider_info *out, const provauth_manager *m, size_t i);

/*
 * The import kinds `provider` declared: *out points at its table, which
 * ends with { NULL, NULL } and is owned by the manager (valid until it is
 * freed, like provauth_provider_info's strings). A provider without import
 * gets an empty table. *out is NULL when the provider has import but did
 * not declare its kinds (a plugin older than ABI 1.3): it is then asked
 * with any kind. PROVAUTH_ENOTFOUND when no such provider is loaded.
 */
PROVAUTH_EXTERN(int) provauth_provider_import_kinds(const provauth_import_kind **out, const provauth_manager *m,
                                                    const char *provider);

/* Files that were skipped at load, with the reason ("ABI 2.0, host supports 1.x"). */
typedef struct provauth_plugin_skip {
	const char *file;
	const char *reason;
} provauth_plugin_skip;

PROVAUTH_EXTERN(size_t) provauth_manager_skipped_count(const provauth_manager *m);
PROVAUTH_EXTERN(int) provauth_manager_skipped(provauth_plugin_skip *out, const provauth_manager *m, size_t i);

/* ---- running operations ---- */

/*
 * The caller's operation. Return 0 on success. On failure return a negative
 * code and describe the failure in *failure (an HTTP status and body, a
 * message, or a transport error) so the provider can classify it.
 */
typedef int (*provauth_operation_fn)(const provauth_session *session, provauth_failure *failure,
                                     void *payload);

/*
 * Builds (or reuses) the account's session, runs `operation`, and on a
 * session error recovers at most once (newer stored credentials, then the
 * provider's refresh, then password reauth where the account's auth method,
 * the settings and the cooldowns allow) and retries once.
 * Returns the operation's 0, or the original failure's code when recovery
 * failed or was skipped (then the account's session_health says why) --
 * except when a network or service fault stopped the recovery
 * (ENETWORK, ETIMEOUT, EHTTP, ERATELIMIT, EPROTOCOL, ETOOBIG): then that
 * code, so the caller retries later, and session_health is left alone;
 * likewise EIO when the store could not save the credentials the recovery
 * obtained (they are never used unsaved), and ECONFIG when the provider
 * found its settings wrong (e.g. a refused OAuth client secret): the
 * message names the settings keys, and the account's health and stored
 * credentials stay as they were, whatever started the recovery.
 * An expired OAuth access token whose refresh fails returns the refresh's
 * code. See docs/RELIABILITY.md, "Fault matrix", for every fault's code.
 * `op_name` names the call in logs. Thread-safe; blocks while waiting for
 * another thread's recovery of the same account (bounded by settings).
 */
PROVAUTH_EXTERN(int) provauth_run_with_session(provauth_manager *manager, const char *account_id,
                                               const char *op_name, provauth_operation_fn operation,
                                               void *payload);

typedef struct provauth_run_options {
	unsigned int version;
	/*
	 * 1 (the default): a session error is recovered once and the operation
	 * retried once, as provauth_run_with_session does. 0: the session error
	 * is classified, the cached session invalidated and the account's
	 * session_health recorded (events session_error_detected,
	 * session_invalidated, auto_reauth_skipped with reason
	 * "retry_disabled"), but nothing is recovered or retried: the call
	 * returns the session error's code (PROVAUTH_ESESSION, or the
	 * provider's, e.g. PROVAUTH_EBANNED). For callers with their own retry.
	 */
	int retry_on_session_error;
} provauth_run_options;

#define PROVAUTH_RUN_OPTIONS_VERSION 1
#define PROVAUTH_RUN_OPTIONS_INIT { PROVAUTH_RUN_OPTIONS_VERSION, 1 }

/* provauth_run_with_session with options (`opts` NULL: the defaults). */
PROVAUTH_EXTERN(int) provauth_run_with_session_ext(provauth_manager *manager, const char *account_id,
                                                   const char *op_name, provauth_operation_fn operation,
                                                   void *payload, const provauth_run_options *opts);

/*
 * Runs the provider's named operation (e.g. "credits") for the account
 * through provauth_run_with_session. On success *out_json is a JSON text the
 * caller frees with provauth_free.
 */
PROVAUTH_EXTERN(int) provauth_call(char **out_json, provauth_manager *manager, const char *account_id,
                                   const char *operation, const provauth_arg *args, size_t nargs);

/* ---- accounts through the manager's store ---- */

PROVAUTH_EXTERN(int) provauth_account_get(provauth_account **out, provauth_manager *m, const char *id);
/*
 * provider NULL lists every account. Free with provauth_account_list_free.
 * One account whose stored record cannot be used fails the whole listing;
 * provauth_account_list_checked lists the others.
 */
PROVAUTH_EXTERN(int) provauth_account_list(provauth_account ***out, size_t *count, provauth_manager *m,
                                           const char *provider);
/*
 * Like provauth_account_list, but an account whose stored record cannot be
 * used (changed outside provauth: email, revision or sealed secrets edited,
 * an older copy put back; or damaged) is left out and its id put in
 * *damaged (ordered by id; *damaged_count of them, free with
 * provauth_damaged_list_free). provauth_account_get on such an id fails
 * with a message that says what is wrong. With a host store older than
 * version 3, this is provauth_account_list with no damaged ids.
 */
PROVAUTH_EXTERN(int) provauth_account_list_checked(provauth_account ***out, size_t *count, char ***damaged,
                                                   size_t *damaged_count, provauth_manager *m,
                                                   const char *provider);
/* Frees the ids from provauth_account_list_checked. NULL is allowed. */
PROVAUTH_EXTERN(void) provauth_damaged_list_free(char **ids, size_t count);
/*
 * Stores the account: inserts when account->revision is 0, else replaces
 * only if the stored revision still equals account->revision
 * (PROVAUTH_ECONFLICT otherwise). On success account->revision is updated.
 * Evicts the account's cached session.
 */
PROVAUTH_EXTERN(int) provauth_account_put(provauth_manager *m, provauth_account *account);
/*
 * Stores n accounts in one durable transaction: all of them or none, also
 * across a crash. Each follows provauth_account_put's revision rules and is
 * checked as put checks it; an id may appear only once (PROVAUTH_EINVAL).
 * On success every account's revision and updated_at are set and every
 * written account's cached session is evicted. On any failure nothing is
 * written, no account is changed, and the message names the first account
 * at fault. n == 0 succeeds at once. A host store of version 1 has no batch
 * write: n > 1 then fails with PROVAUTH_EUNSUPPORTED and writes nothing (a
 * loop of provauth_account_put would leave a partial batch behind on
 * failure; a caller who accepts that can loop itself and knows what was
 * written).
 */
PROVAUTH_EXTERN(int) provauth_account_put_many(provauth_manager *m, provauth_account *const *accounts, size_t n);
PROVAUTH_EXTERN(int) provauth_account_remove(provauth_manager *m, const char *id);

/*
 * Explicit password login (the /accounts/{id}/reauth endpoint): password
 * from the argument, else the account's, else the provider's
 * global_password. On success stores the new credentials, the password and
 * auth_method = password. Ignores cooldowns set by automatic recovery but
 * respects the provider-wide login cooldown.
 */
PROVAUTH_EXTERN(int) provauth_account_reauth(provauth_manager *m, const char *id, const char *password);

/*
 * Creates or updates an account from user-supplied credentials through the
 * provider's import (the /accounts/import-cookies endpoint: kind "cookies";
 * Pixiv: kind "refresh_token"). The account with the same provider and email
 * is updated, else a new one is created; a new account's auth_method is
 * "unknown" unless the provider set it. *out_id (optional) receives the
 * account id; free it with provauth_free. `input` is treated as a secret.
 * A kind the provider did not declare (provauth_provider_import_kinds) is
 * refused with PROVAUTH_EUNSUPPORTED, naming the provider, the kind and the
 * kinds it takes, before the provider is asked anything. Credentials that
 * work but do not say whose they are (no email learnt) are refused with
 * PROVAUTH_ENOEMAIL, and nothing is stored.
 */
PROVAUTH_EXTERN(int) provauth_account_import(char **out_id, provauth_manager *m, const char *provider,
                                             const char *kind, const char *input);

typedef struct provauth_import_options {
	unsigned int version;
	/*
	 * NULL: the account is found by the email the import learns (as
	 * provauth_account_import). Else the id of an account of this provider
	 * to import into: the provider sees it as `existing`, so it keeps what
	 * identifies the client to the service (pixiv's device_token,
	 * Pixverse's anonymous id) instead of appearing as a new device.
	 */
	const char *account_id;
	/* ---- version 2 ---- */
	/*
	 * Out, when not NULL: the account as it was just before this import
	 * changed it (the caller frees it with provauth_account_free), or NULL
	 * when the import created it. Lets a caller say what the import
	 * changed without listing the provider's accounts first.
	 */
	provauth_account **previous;
} provauth_import_options;

#define PROVAUTH_IMPORT_OPTIONS_VERSION 2
#define PROVAUTH_IMPORT_OPTIONS_INIT { PROVAUTH_IMPORT_OPTIONS_VERSION, NULL, NULL }

/*
 * provauth_account_import with options (`opts` may be NULL: the same as
 * provauth_account_import). With opts->account_id:
 *  - the account must exist (PROVAUTH_ENOTFOUND) and belong to `provider`
 *    (PROVAUTH_EINVAL), checked before the provider is asked anything;
 *  - when the credentials turn out to be another account's (the import
 *    learns an email other than the stored one, compared case-insensitively;
 *    or the account has no email and another account has that one), the
 *    named account is left untouched and PROVAUTH_EINVAL names the account
 *    id and both emails. Nothing is stored as long as the user still holds
 *    what they imported (cookies; a refresh token the server handed back
 *    unchanged): the message tells them to import it without an account id.
 *    But an import may be a token exchange that replaced the refresh token
 *    at the server (which may have revoked the one given); throwing the new
 *    one away would lose the login. So when the import returns a refresh
 *    token other than `input`, or a session token (JWT) `input` does not
 *    hold (a sign-in that replaced that account's session at the server:
 *    a Google ID token), it is stored the way provauth_account_import
 *    would (the account with the learnt email, else a new one), and the
 *    message, still PROVAUTH_EINVAL, names that account.
 * The provider's import runs once per call; a concurrent change to the
 * account is resolved by applying the same result to a fresh read.
 */
PROVAUTH_EXTERN(int) provauth_account_import_ext(char **out_id, provauth_manager *m, const char *provider,
                                                 const char *kind, const char *input,
                                                 const provauth_import_options *opts);

/* Stores state.auth_method of account `id` (the /connect-google endpoint uses GOOGLE). */
PROVAUTH_EXTERN(int) provauth_account_set_auth_method(provauth_manager *m, const char *id,
                                                      provauth_auth_method method);


/* ---- blocks of the settings file a host reads itself ---- */

/*
 * A host program may keep its own settings in the same file under a
 * top-level block the library knows of but does not read: `daemon:`
 * (provauthd's). The library checks that it is a mapping; the host reads it
 * with these, which give the library's "FILE:LINE:COL: daemon.key: ..."
 * messages (PROVAUTH_ECONFIG). Nodes point into `settings`, which must
 * outlive them. ${NAME} values come from the environment and are never
 * shown in messages.
 */
PROVAUTH_EXTERN(const provauth_setting *) provauth_settings_block(const provauth_settings *settings,
                                                                  const char *key);
/* Each sets *out to `def` when `key` is absent or null; `map` NULL is an empty block. */
PROVAUTH_EXTERN(int) provauth_setting_get_string(const char **out, const provauth_setting *map, const char *key,
                                                 const char *def);
PROVAUTH_EXTERN(int) provauth_setting_get_int(int64_t *out, const provauth_setting *map, const char *key,
                                              int64_t def, int64_t min, int64_t max);
PROVAUTH_EXTERN(int) provauth_setting_get_bool(int *out, const provauth_setting *map, const char *key, int def);
/* A nested block (NULL when absent); with `allowed` (NULL-terminated) its keys are checked too. */
PROVAUTH_EXTERN(int) provauth_setting_get_map(const provauth_setting **out, const provauth_setting *map,
                                              const char *key, const char *const *allowed);
/* A list: *items points at *count nodes (scalars or blocks); none when absent. */
PROVAUTH_EXTERN(int) provauth_setting_get_list(const provauth_setting *const **items, size_t *count,
                                               const provauth_setting *map, const char *key);
PROVAUTH_EXTERN(int) provauth_setting_is_map(const provauth_setting *node);
/* Fails naming the first key of `map` not in `allowed` (and the closest one that is). */
PROVAUTH_EXTERN(int) provauth_setting_check_keys(const provauth_setting *map, const char *const *allowed);
/* PROVAUTH_ECONFIG "FILE:LINE:COL: path.key: <message>" for a value the host found wrong. */
PROVAUTH_EXTERN(int) provauth_setting_fail(const provauth_setting *map, const char *key, const char *fmt, ...)
	PROVAUTH_PRINTF(3, 4);
/* "daemon.tokens" and the like; for messages. */
PROVAUTH_EXTERN(const char *) provauth_setting_path(const provauth_setting *node);

/* ---- files a host trusts ---- */

#define PROVAUTH_TRUST_SECRET 1u  /* the file holds a secret: no access by group or others */

/*
 * Reads a file the way the library reads its own keys (OpenSSH's rules):
 * every directory on its real path, then the open descriptor, must be
 * owned by the caller or root and not writable by group or others (with
 * PROVAUTH_TRUST_SECRET the file must not be readable by them either); it
 * must be a regular file of at most `max` bytes. *out is NUL-terminated,
 * *len bytes long; free it with provauth_free (wipe it first if secret).
 * PROVAUTH_ECONFIG names the file and what is wrong ("chmod 600 PATH"),
 * PROVAUTH_ENOTFOUND when it does not exist. For provauthd's TLS key.
 */
PROVAUTH_EXTERN(int) provauth_trusted_file_read(char **out, size_t *len, const char *path, unsigned flags,
                                                size_t max);

/* ---- dividing work between processes and hosts ---- */

/*
 * Named leases in the manager's store, shared by every process (and, on
 * PostgreSQL, every host) that uses it: 0 when `owner` now holds lease
 * `name` for ttl_ms (taking it again renews it), PROVAUTH_EBUSY when
 * another owner holds it unexpired. A holder that died is taken over at
 * once where the store can tell (sqlite: its process is gone from this
 * host; postgres: its connection ended), else after its TTL. The names
 * share the store's lease table with the recoveries' per-account leases,
 * so a host's names must contain ':' after a prefix of its own
 * ("keeper:ID"); others are refused with PROVAUTH_EINVAL. Release by a
 * non-owner does nothing.
 */
PROVAUTH_EXTERN(int) provauth_lease_acquire(provauth_manager *m, const char *name, const char *owner,
                                            int64_t ttl_ms);
PROVAUTH_EXTERN(int) provauth_lease_release(provauth_manager *m, const char *name, const char *owner);

/*
 * Keeps account `id` alive without an operation of the caller's: an
 * account whose provider refreshes (an OAuth access token) has its access
 * token renewed when it expires within `within` seconds (always when
 * `within` < 0: a forced refresh, which also shows the provider the
 * refresh token is in use), through the same single-flight recovery,
 * lease and store rules as run_with_session; *refreshed (optional) is set
 * to 1 when a new token was obtained and stored. An account whose provider
 * does not refresh only has its session built (stored credentials
 * checked, nothing sent); probe it with an operation (provauth_pool_sync,
 * provauth_call). A refusal for good is recorded in the account's
 * session_health as run_with_session records it.
 */
PROVAUTH_EXTERN(int) provauth_account_keep(int *refreshed, provauth_manager *m, const char *id, int64_t within);

#ifdef __cplusplus
}
#endif
#endif /* PROVAUTH_H */
