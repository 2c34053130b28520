/*
 * Internal interfaces between the core's modules. Nothing here is exported
 * from libprovauth.so (hidden visibility); unit tests link the convenience
 * library libprovauth_core.la to reach them.
 */
#ifndef PA_INTERNAL_H
#define PA_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <provauth/provauth.h>
#include <provauth/plugin.h>
#include <provauth/store.h>

#define PA_UNUSED(x) ((void)(x))
#define PA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- error.c: the thread-local last error ---- */

#define PA_ERROR_MAX 1024   /* bytes of a message, NUL included */

/* Sets the calling thread's message (printf-style) and returns `code`. */
int pa_error_set(int code, const char *fmt, ...) PROVAUTH_PRINTF(2, 3);
int pa_error_setv(int code, const char *fmt, va_list ap) PROVAUTH_PRINTF(2, 0);
/* "out of memory" as PROVAUTH_ENOMEM. */
int pa_error_oom(void);
/* Prepends "prefix: " to the current message, keeping the code; returns code. */
int pa_error_prefix(int code, const char *fmt, ...) PROVAUTH_PRINTF(2, 3);
/*
 * The thread's message kept aside while other work (a health record, a
 * lease release, a store write) may replace it, and put back afterwards:
 * the caller must see the error that matters, not a side effect's. The
 * message has no code of its own, so the caller says which code goes with
 * it; pa_error_restore returns that code.
 */
typedef struct pa_error_saved {
	int code;
	char msg[PA_ERROR_MAX];
} pa_error_saved;
void pa_error_save(pa_error_saved *saved, int code);
int pa_error_restore(const pa_error_saved *saved);

/* ---- util.c ---- */

char *pa_strdup(const char *s);                 /* NULL-safe; NULL on OOM (no error set) */
char *pa_strndup(const char *s, size_t n);
char *pa_sprintf(const char *fmt, ...) PROVAUTH_PRINTF(1, 2);
/* Overwrites a secret before freeing it; NULL-safe. */
void pa_secret_free(char *s);
void pa_wipe(void *p, size_t n);
/* Replaces *dst with a copy of src (NULL clears); PROVAUTH_ENOMEM on failure. */
int pa_set_string(char **dst, const char *src);
int pa_streq(const char *a, const char *b);     /* NULL-safe, NULL == NULL */
/* Monotonic milliseconds, for timeouts and waits (never the test clock). */
int64_t pa_monotonic_ms(void);
/*
 * Whether another local user could change a file or directory provauth
 * trusts (a plugin, the store, its key, their directories), like OpenSSH:
 * only root and the caller may own it and nobody else may write it, except
 * a sticky directory, where others may add names but not rename or remove
 * the owner's. One rule for the loader and the store; each names the
 * object in its own words.
 */
struct stat;
enum { PA_TRUSTED = 0, PA_UNTRUSTED_OWNER, PA_UNTRUSTED_MODE };
int pa_stat_trust(const struct stat *st);

/* ---- redact.c: quoting server text without the secrets it may echo ---- */

#define PA_SECRET_PIECE 8   /* normalised characters of a secret that must not appear */
/*
 * Secrets shorter than this (normalised) are not matched: they would match
 * ordinary words, and are guessed sooner than hidden.
 */
#define PA_SECRET_MIN 6
#define PA_EXCERPT_MAX 160  /* characters of server text quoted at most */
#define PA_HEALTH_MESSAGE_MAX 512 /* bytes of session_health.message stored at most */
#define PA_TEXT_WITHHELD "(server text withheld: it repeats a credential)"

/*
 * libpq's reason for refusing a connection string, fit to show: libpq
 * quotes the part it could not read, which may be a password (a bad
 * percent-encoding in the URI's user info), so quoted text is dropped
 * unless libpq is naming an option or a URI parameter.
 */
void pa_conninfo_reason(char *out, size_t size, const char *why);

/* Writes the lowercase ASCII letters and digits of s[0, len) to out (len bytes suffice); returns their count. */
size_t pa_text_normalise(char *out, const char *s, size_t len);
/*
 * 1 when text[0, len), normalised, holds a PA_SECRET_PIECE-long piece of
 * any normalised secret (all of one shorter than that, if at least
 * PA_SECRET_MIN long); NULL entries are skipped. Out of memory: 1.
 */
int pa_text_repeats_secret(const char *text, size_t len, const char *const *secrets, size_t nsecrets);
/*
 * A quotable excerpt of server text into out (NUL-terminated): at most
 * PA_EXCERPT_MAX characters, bytes other than printable ASCII as '?', "..."
 * when cut; or PA_TEXT_WITHHELD when the text repeats a secret. Returns 1
 * when withheld, 0 otherwise.
 */
int pa_text_excerpt(char *out, size_t size, const char *text, size_t len, const char *const *secrets,
                    size_t nsecrets);
/* 1 when msg repeats a secret of account a (NULL: none) or `extra`, as pa_text_repeats_secret. */
int pa_message_repeats_account_secret(const char *msg, const provauth_account *a, const char *extra);
/*
 * A plugin's message may quote its server, which may echo what it was sent:
 * when the thread's last error (code < 0) repeats a secret of account a or
 * `extra`, it is replaced by a fixed one. Returns code.
 */
int pa_error_scrub(int code, const provauth_account *a, const char *extra);

/* ---- log.c ---- */

typedef struct pa_logger {
	provauth_log_fn fn;
	void *payload;
	provauth_log_level min_level;
} pa_logger;

/*
 * Emits an event: drops it below min_level, replaces every SECRET field's
 * str with its fingerprint, then calls fn. NULL logger or fn: nothing.
 */
void pa_log(const pa_logger *lg, provauth_log_level level, const char *event,
            const provauth_log_field *fields, size_t nfields);
/* "fp:" + 8 hex digits of HMAC-SHA256(per-process random key, secret). */
void pa_fingerprint(const char *secret, char out[12]);

#define PA_F_STR(k, v)    { (k), PROVAUTH_FIELD_STRING, (v), 0 }
#define PA_F_INT(k, v)    { (k), PROVAUTH_FIELD_INT, NULL, (int64_t)(v) }
#define PA_F_BOOL(k, v)   { (k), PROVAUTH_FIELD_BOOL, NULL, (v) ? 1 : 0 }
#define PA_F_SECRET(k, v) { (k), PROVAUTH_FIELD_SECRET, (v), 0 }

/* Text sink used when log.format is "text": "LEVEL event key=value ..." on stderr. */
void pa_log_stderr_text(provauth_log_level level, const char *event,
                        const provauth_log_field *fields, size_t nfields, void *payload);

/* ---- encoding.c: the host's encoding, digest and randomness services ---- */

int pa_random_bytes(unsigned char *buf, size_t len);
int pa_uuid4(char out[37]);
int pa_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);
int pa_digest_hex(const char *alg, const void *data, size_t len, char *out, size_t out_size);
char *pa_url_escape(const char *s);

/* ---- json.c: the host's JSON services over json-c ---- */

provauth_json *pa_json_parse(const char *text, size_t len);
provauth_json *pa_json_new_object(void);
provauth_json *pa_json_new_array(void);
void pa_json_free(provauth_json *v);
provauth_json_type pa_json_type(const provauth_json *v);
const provauth_json *pa_json_get(const provauth_json *v, const char *path);
const char *pa_json_string(const provauth_json *v);
int pa_json_int(const provauth_json *v, int64_t *out);
int pa_json_bool(const provauth_json *v, int *out);
size_t pa_json_array_len(const provauth_json *v);
const provauth_json *pa_json_array_at(const provauth_json *v, size_t i);
int pa_json_set(provauth_json *obj, const char *key, provauth_json *val);
int pa_json_append(provauth_json *arr, provauth_json *val);
provauth_json *pa_json_from_string(const char *s);
provauth_json *pa_json_from_int(int64_t n);
provauth_json *pa_json_from_bool(int b);
char *pa_json_serialize(const provauth_json *v);
/* json-c's lenient reading, kept for stored metadata only (see json.c); NULL text: NULL. */
provauth_json *pa_json_parse_loose(const char *text);
/* Removes obj's member `key` if present; PROVAUTH_EINVAL when obj is not an object. */
int pa_json_remove(provauth_json *obj, const char *key);
/* A string's text, or any other value's JSON text (NULL for NULL); valid while v lives. */
const char *pa_json_text(const provauth_json *v);
/*
 * Calls fn for each member of object v, in order, until fn returns non-zero
 * (which is returned); 0 when v is no object.
 */
int pa_json_each_member(const provauth_json *v, int (*fn)(const char *key, const provauth_json *value,
                                                           void *payload), void *payload);

/* ---- json_check.c ---- */

/*
 * 1 when text[0, len) is exactly one strict RFC 8259 JSON value (blanks
 * around it allowed, UTF-8 checked, nesting at most 64), 0 otherwise.
 * Allocates nothing; NULL is not JSON.
 */
int pa_json_valid(const char *text, size_t len);

/* ---- core/http: one libcurl service per manager ---- */

#include "http/http.h"

/* ---- core/settings: the settings file's typed sections and provider blocks ---- */

#include "settings/settings.h"

/* ---- account.c (besides the public provauth_account_* functions) ---- */

/* state.c: the core's own state of an account (provauth_account_state). */
void pa_account_state_clear(provauth_account_state *s);
/* dst (uninitialised) gets a copy of src; on failure dst is left empty. */
int pa_account_state_copy(provauth_account_state *dst, const provauth_account_state *src);
int pa_account_state_equal(const provauth_account_state *a, const provauth_account_state *b);
/* Replaces *h with copies of the arguments (code "" counts as none); all NULL clears it. */
int pa_health_set(provauth_health *h, const char *state, const char *reason, const char *code, int64_t at,
                  const char *message);
/* 1 when `key` is a metadata key the core kept its state in before store schema 4. */
int pa_account_state_key(const char *key);
/* Sets the typed field metadata key `key` stood for from its JSON value (NULL: cleared). */
int pa_account_state_set_key(provauth_account *a, const char *key, const provauth_json *v);
/*
 * Moves the pre-schema-4 state keys out of a's metadata into a->state;
 * *moved says whether anything was there. Metadata that does not read as
 * an object is left as it is.
 */
int pa_account_state_from_metadata(provauth_account *a, int *moved);
/* JSON object text for metadata with defaults applied ("{}" for NULL). */
const char *pa_account_metadata(const provauth_account *a);

/* rmw.c: the one read-modify-write-retry loop over a store's account. */

/* What a change function returns to stop without writing (pa_account_rmw then returns 0). */
#define PA_RMW_UNCHANGED 1
typedef enum pa_rmw_stage { PA_RMW_READ, PA_RMW_CHANGE, PA_RMW_WRITE } pa_rmw_stage;
typedef struct pa_account_rmw_op {
	provauth_store *store;
	const char *id;              /* read with store->get unless `read` is set */
	/* Reads the account to change (NULL: store->get of `id`); its errors are returned as they are. */
	int (*read)(provauth_account **out, void *payload);
	/* Changes `a` in place: 0 (write it), PA_RMW_UNCHANGED, or an error; called again after a lost race. */
	int (*change)(provauth_account *a, void *payload);
	void *payload;
	int keep;                    /* hand back the account written (or left unchanged) in `kept` */
	provauth_account *kept;      /* out: when keep and 0 is returned; the caller frees it */
	pa_rmw_stage stage;          /* out: where an error came from */
	int attempts;                /* out: reads made */
} pa_account_rmw_op;
/*
 * Reads, changes and writes (version-checked) until a write is not refused
 * with PROVAUTH_ECONFLICT, at most a bounded number of times; returns 0,
 * the first error of a read, change or write, or PROVAUTH_ECONFLICT (with
 * the store's message) when every write lost the race. Sets no message of
 * its own: each caller says what it was doing.
 */
int pa_account_rmw(pa_account_rmw_op *op);

/* refresh_refused.c: state.refresh_refused, the mark of a refresh token refused for good. */
/* The mark for this token, its digest (malloc()ed; NULL when out of memory or no token). */
char *pa_refresh_refused_mark(const char *refresh_token);
/* 1 when the account's stored mark names its current refresh token. */
int pa_refresh_refused(const provauth_account *a);
/* Frees what one credential of an account owns (its value wiped) and clears it. */
void pa_credential_free(provauth_credential *c);
/* Deep copy into *dst (cleared first); on failure *dst owns nothing. */
int pa_credential_copy(provauth_credential *dst, const provauth_credential *src);
/* 0 when an account can hold a credential of `kind` named `name` (NULL: ""), else PROVAUTH_EINVAL; no message. */
int pa_credential_check(const char *kind, const char *name);
/* Appends a credential, taking the strings (malloc()ed) on success only; no lookup. */
int pa_account_append_credential(provauth_account *a, char *kind, char *name, char *value, int64_t expires_at);
/* 1 when every credential field (not revision/updated_at) is equal. */
int pa_account_same_credentials(const provauth_account *a, const provauth_account *b);

/* ---- update.c: struct provauth_update ---- */

int pa_update_new(provauth_update **out);
void pa_update_free(provauth_update *u);
int pa_update_is_empty(const provauth_update *u);
/*
 * The most cookies, and bytes of them ("name=value; " each), an account
 * keeps: every call sends them all in one Cookie header.
 */
#define PA_COOKIES_MAX_COUNT 256
#define PA_COOKIES_MAX_BYTES (64 * 1024)
/*
 * Applies the update to `a` in place. The cookie jar stays within the
 * bounds above: the oldest cookies the update did not set go first.
 */
int pa_update_apply(const provauth_update *u, provauth_account *a);
int pa_update_set_email(provauth_update *u, const char *email);
/* One credential to store (value) or remove (NULL); later settings of the same kind and name win. */
int pa_update_set_credential(provauth_update *u, const char *kind, const char *name, const char *value,
                             int64_t expires_at);
/* Every stored credential of `kind` goes before the update's own apply (those set earlier go too). */
int pa_update_clear_credentials(provauth_update *u, const char *kind);
int pa_update_set_metadata(provauth_update *u, const char *key, const char *json);
/* state.auth_method for the account the update is applied to. */
int pa_update_set_auth_method(provauth_update *u, provauth_auth_method method);
/* The value the update sets for a credential (NULL if it sets none or removes it). */
const char *pa_update_credential(const provauth_update *u, const char *kind, const char *name);
/* The email the update sets (NULL if it sets none). */
const char *pa_update_email(const provauth_update *u);
/* host->session_set_credential: only for sessions the host built (core/session/credential.c). */
int pa_session_set_credential(provauth_session *s, const char *kind, const char *name, const char *value,
                              int64_t expires_at);

/* ---- plugin_loader.c ---- */

typedef struct pa_plugin {
	char *file;                     /* absolute path, NULL for providers added by hand */
	void *dl;                       /* dlopen handle or NULL */
	int fd;                         /* the checked file dl was loaded from, or -1 */
	provauth_provider vt;           /* the plugin's description, zero-filled past struct_size */
	void *state;                    /* from init */
	const pa_provider_settings *settings; /* NULL when the file has no block */
	provauth_setting *empty_settings; /* the block init got when settings is NULL; owned */
	const char **op_names;          /* NULL-terminated, for provauth_provider_info */
	int initialised;
} pa_plugin;

typedef struct pa_plugin_skip {
	char *file;
	char *reason;
} pa_plugin_skip;

typedef struct pa_plugin_set {
	pa_plugin **plugins;
	size_t count;
	pa_plugin_skip *skipped;
	size_t skipped_count;
	int trial;                  /* try each file in a child process before loading it here */
} pa_plugin_set;

/* ---- plugin_trial.c: a plugin tried in a child process ---- */

/* Seconds a trial child may take before it counts as hung. */
#define PA_PLUGIN_TRIAL_SECONDS 10
/*
 * Runs load(arg) in a child process. Returns 0 when the child came back
 * (whatever load returned: the real load reports its refusals again), or
 * PROVAUTH_EPLUGIN with "FILE crashed in init (signal N)" (or in its entry
 * point, or while being loaded; or "did not finish ...") when it did not.
 */
int pa_plugin_trial(const char *file, int (*load)(void *arg), void *arg);
/*
 * Said before the loader calls into a plugin (`call`: "entry point",
 * "init"): logged at debug level, so that a crash's last line names the
 * file, and marked for the parent when this is a trial child.
 */
void pa_plugin_calling(const pa_logger *lg, const char *file, const char *call);

/*
 * Scans the directories (settings' plugin_dir list, PROVAUTH_PLUGIN_PATH via
 * secure_getenv, then PROVAUTH_PLUGINDIR unless PROVAUTH_NO_BUILTIN_PLUGINS
 * is set), opens every *.so, checks it and initialises it with its settings
 * block. Failures are recorded in set->skipped ("reason" names the symbol,
 * the versions, ...) and logged; loading goes on. Returns 0 unless memory ran
 * out.
 */
int pa_plugins_load(pa_plugin_set *set, const provauth_settings *s, const provauth_host *host,
                    const pa_logger *lg);
/* The same with `builtin_dir` (NULL: none) in place of PROVAUTH_PLUGINDIR; for tests. */
int pa_plugins_load_from(pa_plugin_set *set, const provauth_settings *s, const provauth_host *host,
                         const pa_logger *lg, const char *builtin_dir);
/*
 * Adds an in-process provider (no dlopen): same checks and init as a plugin.
 * Returns the check's or init's error.
 */
int pa_plugins_add(pa_plugin_set *set, const provauth_provider *p, const char *file,
                   const provauth_settings *s, const provauth_host *host, const pa_logger *lg);
pa_plugin *pa_plugins_find(const pa_plugin_set *set, const char *id);
/* fini + dlclose every plugin, free everything. */
void pa_plugins_unload(pa_plugin_set *set);

/*
 * Test-only: called with a plugin file's path once its checks passed and
 * before it is loaded, so a test can swap the file in between as an
 * attacker would; NULL otherwise.
 */
extern void (*pa_plugin_checked_hook)(const char *path);

/* 1 for a provider id or import kind name: [a-z0-9_-]{1,32}. */
int pa_valid_name(const char *s);

/* contract.c: validates a provider description against this host's ABI; message names `file`. */
int pa_provider_check(const provauth_provider *p, const char *file);
/* The name messages use for a plugin: its file, or "in-process provider" for NULL. */
const char *pa_plugin_display_name(const char *file);

/* ---- host.c: the provauth_host table ---- */

typedef struct pa_host_ctx {
	const pa_logger *logger;
	pa_http *http;
	provauth_clock_fn clock;
	void *clock_payload;
} pa_host_ctx;

/* Fills every service of `h`; host_data = ctx (which must outlive h). */
void pa_host_init(provauth_host *h, pa_host_ctx *ctx);
int64_t pa_host_now(const pa_host_ctx *ctx);

#endif /* PA_INTERNAL_H */
