/*
 * <provauth/plugin.h>: the provider plugin contract. The only header a
 * provider plugin needs: it includes <provauth/types.h> (the types host and
 * plugins share) and nothing else of provauth, and declares no host-side
 * function (those, provauth_manager_add_provider among them, are in
 * <provauth/provauth.h>). Everything a plugin may use from the host comes
 * through the provauth_host table it is handed, so a plugin built out of
 * tree links nothing of provauth at run time; the optional helper library
 * <provauth/plugin_util.h> is static and built on this table alone.
 *
 * ABI rules
 *  - A plugin is a shared object exporting one symbol, provauth_plugin_init.
 *  - provauth_provider starts with abi_major, abi_minor and struct_size; those
 *    three fields never move.
 *  - The host refuses a plugin whose major differs from PROVAUTH_PLUGIN_ABI_MAJOR
 *    or whose minor is newer than the host's. An older minor is accepted: the
 *    host reads only the fields that fit within struct_size, and treats the
 *    rest as absent (NULL / 0).
 *  - A minor bump only appends fields to provauth_provider or provauth_host;
 *    anything else is a major bump.
 *  - provauth_host also starts with abi_major, abi_minor and size, so a plugin
 *    can check which services its host has (PROVAUTH_HOST_HAS).
 *
 * History
 *  1.0  vtable, init/fini, setting_keys
 *  1.1  named operations (operations, operation_count), import
 *  1.2  host->json_valid
 *  1.3  host->last_error, host->setting_error, provider->import_kinds
 *  1.4  host->text_excerpt, provider->sign_ins
 *  2.0  the host's allocator: host->alloc, free, secret_free; whatever a
 *       plugin hands the host comes from host->alloc and whatever the host
 *       hands a plugin goes back through host->free (1.x mixed malloc and
 *       free across the boundary); plugin.h no longer includes provauth.h.
 *       The JSON services no longer build trees (json_new_object,
 *       json_new_array, json_set, json_append, json_from_string, _int,
 *       _bool are gone): host->json_format writes JSON text from a format,
 *       and each reading service's semantics is written down here.
 *       provauth_provider keeps 1.4's layout (its member groups still say
 *       which 1.x minor added them); every 2.0 host has every service
 *       below. A 1.x plugin is refused: "plugin ABI 1.x is no longer
 *       supported; rebuild against provauth plugin ABI 2.0".
 *       Added within 2.0: the account's typed state
 *       (provauth_account.state, at the end of the host-allocated struct:
 *       auth method, session health, last reauth, refused refresh token;
 *       metadata keys before store schema 4) and, appended at the end
 *       of the host table, host->update_set_auth_method.
 *       Refined before release: host->account_credential,
 *       account_credential_expires, account_credential_count and
 *       account_credential_at read an account's credentials by kind and
 *       name, or one by one; provauth_session.credentials (a copy of the
 *       account's plus what build_session set) with, appended to the host
 *       table, host->session_credential, session_credential_expires and
 *       session_set_credential (the host copies). The Pixverse-shaped session
 *       fields are gone (jwt_token, cookies, cookie_count, openapi_key,
 *       jwt_source, access_token, access_expires_at): they are session
 *       credentials now, and no plugin memory is stored into a session.
 *       Updates likewise: host->update_set_email, update_set_credential
 *       (kind, name, value, expiry) and update_clear_credentials (kind)
 *       replace update_set (and provauth_field), update_set_access_expiry,
 *       update_set_cookie and update_clear_cookies, in their place.
 *  2.1  provider->pool: what an account pool must know of an account
 *       (provauth_pool_hooks: a job's cost, the account's credits and
 *       limits, the state of its jobs).
 *       Added within 2.1: PROVAUTH_ENOEMAIL, which import may return (a
 *       host that predates it reports it as an unknown error code).
 *
 * Threading
 *  Every provider function except init and fini may be called from several
 *  threads at once, for different accounts and for the same account. The
 *  manager guarantees that refresh and try_reauth run at most once at a time
 *  per account (single-flight) but other calls may overlap them. Host services
 *  are all thread-safe.
 *
 * Ownership (2.0)
 *  Accounts, sessions, failures and updates passed to a plugin belong to the
 *  host and are valid only during the call. Whatever a plugin hands the host
 *  to keep (an operation's *out_json) comes from host->alloc; the host frees
 *  it with its own free. A plugin stores nothing into a provauth_session
 *  but provider_data: session_set_credential copies.
 *  The update_* and failure_* services copy their arguments: the plugin
 *  keeps (and frees) what it passed. Values handed out by host services are
 *  freed with the host function named next to them, host->free by default.
 *  The plugin's own state (what init makes, provider_data) is its own
 *  business: any allocator, freed by fini / session_data_free.
 */
#ifndef PROVAUTH_PLUGIN_H
#define PROVAUTH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <provauth/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROVAUTH_PLUGIN_ABI_MAJOR 2
#define PROVAUTH_PLUGIN_ABI_MINOR 1

/* Name of the one symbol a plugin exports. */
#define PROVAUTH_PLUGIN_ENTRY "provauth_plugin_init"

/* ------------------------------------------------------------------------ */
/* Types shared by host and plugin                                          */
/* ------------------------------------------------------------------------ */

/* provauth_setting (a provider's providers.<id> block) is in <provauth/types.h>. */

/* Parsed JSON value. Opaque; see the json_* host services. */
typedef struct provauth_json provauth_json;

/* Credentials a provider wants stored. Opaque; see the update_* services. */
typedef struct provauth_update provauth_update;

typedef enum provauth_json_type {
	PROVAUTH_JSON_NULL = 0,
	PROVAUTH_JSON_BOOL,
	PROVAUTH_JSON_INT,
	PROVAUTH_JSON_DOUBLE,
	PROVAUTH_JSON_STRING,
	PROVAUTH_JSON_OBJECT,
	PROVAUTH_JSON_ARRAY
} provauth_json_type;

typedef struct provauth_http_header {
	const char *name;
	const char *value;
	int secret;                /* 1: never shown in logs or errors */
} provauth_http_header;

typedef struct provauth_http_request {
	unsigned int version;      /* PROVAUTH_HTTP_REQUEST_VERSION */
	const char *method;        /* "GET", "POST", ... */
	const char *url;           /* query string included; not secret */
	const provauth_http_header *headers;
	size_t header_count;
	const char *body;          /* may hold secrets: never logged */
	size_t body_len;
	int follow_redirects;      /* 0: a 3xx is returned as is */
	long timeout_ms;           /* 0: the http.timeout setting */
} provauth_http_request;

#define PROVAUTH_HTTP_REQUEST_VERSION 1
#define PROVAUTH_HTTP_REQUEST_INIT { PROVAUTH_HTTP_REQUEST_VERSION, "GET", NULL, NULL, 0, NULL, 0, 0, 0 }

/*
 * Names are lowercased. Freed by host->http_response_free. The body comes
 * from host->alloc: a plugin may take it over (to hand it back as an
 * operation's result, say) by setting body to NULL and body_len to 0
 * before http_response_free, and then owns it: it gives it to the host or
 * frees it with host->free.
 */
typedef struct provauth_http_response {
	long status;
	char *body;                /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
	struct { char *name; char *value; } *headers;
	size_t header_count;
} provauth_http_response;

/*
 * How a failure relates to the session. classify_error fills it; the host
 * zeroes it first (all flags 0, result = failure->code, retry_after = -1).
 */
typedef struct provauth_outcome {
	int is_session_error;        /* the credentials are no longer accepted */
	int should_invalidate_cache; /* drop the cached session */
	int should_attempt_reauth;   /* recovery (refresh / password reauth) may fix it */
	char error_code[32];         /* provider's code as text, e.g. "10005"; "" if none */
	char error_reason[48];       /* e.g. "logged_elsewhere", "api_error", "non_session_error" */
	int result;                  /* provauth_error to return when not recovered */
	long retry_after;            /* seconds, for PROVAUTH_ERATELIMIT; -1 if none */
	int start_login_cooldown;    /* 1: stop all password logins for this provider for a while */
} provauth_outcome;

/* Arguments of a named operation ("key=value" on the command line). */
typedef provauth_arg provauth_op_arg;

/* ------------------------------------------------------------------------ */
/* Host services                                                            */
/* ------------------------------------------------------------------------ */

typedef struct provauth_host provauth_host;

struct provauth_host {
	unsigned int abi_major;
	unsigned int abi_minor;
	size_t size;               /* sizeof(provauth_host) in the host */
	void *host_data;           /* the host's; plugins must not touch it */

	/* -- memory: the host's allocator (2.0) -- */

	/*
	 * `n` bytes, uninitialised (n == 0 is taken as 1); NULL when out of
	 * memory, with no error set. Everything a plugin hands the host to own
	 * comes from here: strings it puts into a session, an operation's
	 * result. Give it back with host->free or host->secret_free.
	 */
	void *(*alloc)(const provauth_host *h, size_t n);
	/*
	 * Frees what host->alloc, or any host service ("free with host->free"
	 * below), handed out. NULL is allowed.
	 */
	void (*free)(const provauth_host *h, void *p);
	/*
	 * Overwrites a NUL-terminated string that held a secret with zeros, in
	 * a way the compiler cannot drop, then frees it as host->free. For
	 * passwords, tokens, cookie values and request bodies that carried
	 * them. NULL is allowed.
	 */
	void (*secret_free)(const provauth_host *h, char *s);

	/* -- errors and logging -- */

	/* Sets the thread's last-error message ("pixverse: ..."); returns `code`. */
	int (*set_error)(const provauth_host *h, int code, const char *fmt, ...) PROVAUTH_PRINTF(3, 4);
	/* Logs through the manager's callback; SECRET fields are redacted first. */
	void (*log)(const provauth_host *h, provauth_log_level level, const char *event,
	            const provauth_log_field *fields, size_t nfields);

	/* -- settings: each reports a wrong type/range as "FILE:LINE:COL: KEY: ..." -- */

	/* *out points into the settings (valid until fini) or is `def`. */
	int (*setting_string)(const provauth_host *h, const provauth_setting *s, const char *key,
	                      const char *def, const char **out);
	int (*setting_int)(const provauth_host *h, const provauth_setting *s, const char *key,
	                   int64_t def, int64_t min, int64_t max, int64_t *out);
	int (*setting_bool)(const provauth_host *h, const provauth_setting *s, const char *key,
	                    int def, int *out);

	/* -- clock and randomness -- */

	int64_t (*now)(const provauth_host *h);             /* unix seconds (test-controllable) */
	int (*random_bytes)(const provauth_host *h, unsigned char *buf, size_t len); /* CSPRNG */
	/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" into out[37]. */
	int (*uuid4)(const provauth_host *h, char out[37]);

	/* -- encodings and digests -- */

	/* Base64url (or standard base64) decode, padding optional. Free *out with host->free. */
	int (*base64_decode)(const provauth_host *h, const char *in, size_t len,
	                     unsigned char **out, size_t *out_len);
	/* Lowercase hex digest ("md5", "sha256") of data into out (2*size+1 bytes). */
	int (*digest_hex)(const provauth_host *h, const char *alg, const void *data, size_t len,
	                  char *out, size_t out_size);
	/* Percent-encodes for URLs and form bodies. Free with host->free; NULL on OOM or NULL s. */
	char *(*url_escape)(const provauth_host *h, const char *s);

	/* -- HTTP: libcurl with connection reuse, TLS verification always on -- */

	/*
	 * Performs the request. Returns 0 when a complete reply arrived, whatever
	 * its status; PROVAUTH_ENETWORK / ETIMEOUT / ETOOBIG otherwise, with a
	 * message free of the request's secrets.
	 */
	int (*http_request)(const provauth_host *h, const provauth_http_request *req,
	                    provauth_http_response **out);
	void (*http_response_free)(provauth_http_response *resp);
	/* First header with that (case-insensitive) name, or NULL. */
	const char *(*http_header)(const provauth_http_response *resp, const char *name);

	/*
	 * -- JSON --
	 * Reading: parse a reply into a tree of values, look members up, read
	 * scalars. Writing: json_format builds JSON text from a format, and
	 * json_serialize writes a parsed value back out. Values are opaque and
	 * read-only; a value got from another (json_get, json_array_at) is
	 * borrowed and lives as long as the tree json_parse returned.
	 */

	/*
	 * The tree of text[0, len) when it is exactly one JSON value as RFC 8259
	 * defines it (what json_valid accepts: blanks around it, well-formed
	 * UTF-8, no comments or other extensions, containers nested at most 64
	 * deep), and no string holds \u0000 (a C string would stop there).
	 * NULL otherwise, or out of memory. Free with json_free.
	 */
	provauth_json *(*json_parse)(const char *text, size_t len);
	void (*json_free)(provauth_json *v);                         /* NULL allowed */
	provauth_json_type (*json_type)(const provauth_json *v);     /* NULL is PROVAUTH_JSON_NULL */
	/*
	 * Member by dotted path of object keys ("Resp.Result.Token"); NULL when
	 * v is NULL or not an object, a key is missing or the path has an empty
	 * key ("a..b", "a."). Keys are at most 255 bytes. Borrowed.
	 */
	const provauth_json *(*json_get)(const provauth_json *v, const char *path);
	/* The string's text (NUL-terminated, borrowed), or NULL unless v is a string. */
	const char *(*json_string)(const provauth_json *v);
	/*
	 * *out = v as a 64-bit integer, returning 0, for: an integer (one
	 * beyond the int64 range reads as INT64_MIN or INT64_MAX); a number
	 * with no fraction within +-9e18 (3.0, 1e3); a non-empty string that is
	 * all a decimal integer, sign allowed, that fits int64 ("42", "-7").
	 * PROVAUTH_EINVAL, *out untouched, for anything else.
	 */
	int (*json_int)(const provauth_json *v, int64_t *out);
	/* *out = 1 or 0 for true or false, returning 0; PROVAUTH_EINVAL, *out untouched, otherwise. */
	int (*json_bool)(const provauth_json *v, int *out);
	size_t (*json_array_len)(const provauth_json *v);            /* 0 unless an array */
	/* Element i, borrowed; NULL unless v is an array longer than i. */
	const provauth_json *(*json_array_at)(const provauth_json *v, size_t i);
	/*
	 * v as compact JSON text (no blanks; strings escape '"', '\\' and control
	 * characters, \u00XX where there is no short form, and leave '/' and
	 * other bytes as they are); "null" for NULL. From host->alloc, free
	 * with host->free; NULL when out of memory.
	 */
	char *(*json_serialize)(const provauth_json *v);
	/*
	 * Compact JSON text made of `fmt`: the format's characters are copied
	 * as they are (the plugin writes the braces, brackets, commas and
	 * quoted keys) and each conversion inserts one value:
	 *   %s  a const char *, as a JSON string escaped as json_serialize
	 *       escapes strings; NULL gives null
	 *   %i  an int64_t, as a decimal integer
	 *   %b  an int, as true (non-zero) or false
	 *   %j  a const char * of JSON text (from json_serialize or json_format,
	 *       say), inserted as it is; NULL gives null
	 *   %%  a '%'
	 * e.g. json_format(h, "{\"email\":%s,\"credits\":%i}", email, n). The
	 * result must be one JSON value as json_parse accepts it: otherwise
	 * (a wrong conversion, unbalanced braces, %j of something not JSON)
	 * NULL with PROVAUTH_EINVAL as the last error. From host->alloc, free
	 * with host->free (host->secret_free when it holds a secret); NULL
	 * when out of memory.
	 */
	char *(*json_format)(const provauth_host *h, const char *fmt, ...);

	/* -- credential updates (what build_session/refresh/try_reauth want stored) -- */

	int (*update_set_email)(provauth_update *u, const char *email); /* NULL clears */
	/*
	 * Stores (value) or removes (NULL) one of the account's credentials:
	 * `kind` a PROVAUTH_CRED_* or the provider's own, `name` a cookie's
	 * name, an API key's kind, NULL for single-valued kinds; `expires_at`
	 * unix seconds, 0 for none or unknown (a token set without its expiry
	 * loses the old one: pass it on if it still holds). Later settings of
	 * the same kind and name win. PROVAUTH_EINVAL for an empty kind, a name
	 * on a single-valued kind, none on a cookie or API key. Copies.
	 */
	int (*update_set_credential)(provauth_update *u, const char *kind, const char *name, const char *value,
	                             int64_t expires_at);
	/*
	 * Drops every stored credential of `kind` (e.g. all cookies) before the
	 * update's own credentials apply; those of that kind set earlier in
	 * this update go too, those set after it stay.
	 */
	int (*update_clear_credentials)(provauth_update *u, const char *kind);
	/*
	 * metadata[key] = JSON text (e.g. "{\"user_id\":\"12\"}"); NULL removes
	 * the key. The keys the core kept its state in before store schema 4
	 * (auth_method, session_health, last_reauth_at, refresh_refused) are
	 * mapped onto the account's typed state, read as they always were; a
	 * plugin sets the auth method with update_set_auth_method instead.
	 */
	int (*update_set_metadata)(provauth_update *u, const char *key, const char *json);

	/* -- failures (same as the public provauth_failure_* functions) -- */

	int (*failure_set_message)(provauth_failure *f, int code, const char *fmt, ...) PROVAUTH_PRINTF(3, 4);
	int (*failure_set_http)(provauth_failure *f, long status, const char *body, size_t len,
	                        long retry_after);
	int (*failure_set_transport)(provauth_failure *f, int code, const char *message);

	/* ---- 1.2 ---- */

	/*
	 * 1 when text[0, len) is exactly one JSON value (strict RFC 8259: blanks
	 * around it allowed, well-formed UTF-8, no comments or other
	 * extensions, containers nested at most 64 deep), 0 otherwise, NULL
	 * included. Builds nothing and allocates nothing: for a plugin that only
	 * needs to know a reply is JSON before handing it on as text.
	 */
	int (*json_valid)(const char *text, size_t len);

	/* ---- 1.3 ---- */

	/*
	 * The calling thread's last-error message (what provauth_last_error
	 * returns), or "". Valid until the thread's next call into the host.
	 * After a failed http_request it says what happened, secret-free, in
	 * the form "http: METHOD URL: what (libcurl's words)": the URL without
	 * its query string, fragment or user:password@, e.g. "connection
	 * refused", "connection reset", "timed out after N ms", "cannot resolve
	 * host". It may be passed straight to set_error or failure_set_*
	 * as an argument.
	 */
	const char *(*last_error)(const provauth_host *h);

	/*
	 * For a value of the provider's own settings block that the host's
	 * readers accepted but the plugin finds wrong (a URL that must be
	 * http(s), a limit below another): sets PROVAUTH_ECONFIG with the
	 * prefix the setting_* readers use, "FILE:LINE:COL: providers.<id>.KEY: "
	 * (the position of KEY's value), or "FILE: providers.<id>.KEY: " when KEY
	 * is not in the file (the plugin judged its default), followed by the
	 * formatted text. Returns PROVAUTH_ECONFIG. Never quote a value whose key
	 * may hold a secret.
	 */
	int (*setting_error)(const provauth_host *h, const provauth_setting *s, const char *key,
	                     const char *fmt, ...) PROVAUTH_PRINTF(4, 5);

	/* ---- 1.4 ---- */

	/*
	 * Server text (an error message, an OAuth "error" value) made fit to
	 * quote in a message, a log field or anything stored: into out (size
	 * bytes, always NUL-terminated when size > 0) goes at most 160
	 * characters of text[0, len), bytes other than printable ASCII as '?'
	 * and "..." when cut; but when the text repeats any of the request's
	 * `secrets` (the password, tokens, every cookie value it sent; NULL
	 * entries are skipped) a fixed note goes there instead. Text and
	 * secrets are compared case-insensitively on their ASCII letters and
	 * digits alone, so "A-B-C" repeats "abc"; any 8 such characters of a
	 * secret (all of one shorter than 8 but at least 6 long) in the text
	 * count. Returns 1 when the text was withheld, 0 when quoted,
	 * PROVAUTH_EINVAL without a buffer. Prefer codes and fixed descriptions
	 * to quoting a server at all.
	 */
	int (*text_excerpt)(const provauth_host *h, char *out, size_t size, const char *text, size_t len,
	                    const char *const *secrets, size_t nsecrets);

	/*
	 * -- an account's credentials (2.0, added before 2.0 was released) --
	 * What provauth_account_credential and _credential_expires answer:
	 * the value of one credential (PROVAUTH_CRED_* kind; `name` a cookie's
	 * name, an API key's kind, NULL for single-valued kinds), borrowed from
	 * the account, or NULL; its expiry, 0 when none. Plugins read accounts
	 * through these rather than the struct's fields, whose shape is going
	 * to change.
	 */
	const char *(*account_credential)(const provauth_account *a, const char *kind, const char *name);
	int64_t (*account_credential_expires)(const provauth_account *a, const char *kind, const char *name);
	/* Iteration, as provauth_account_credential_count and _at: the strings are borrowed. */
	size_t (*account_credential_count)(const provauth_account *a);
	int (*account_credential_at)(provauth_credential *out, const provauth_account *a, size_t i);

	/* ---- 2.0, account state (store schema 4) ---- */

	/*
	 * How the account signs in, as the plugin learnt it (a login refused
	 * because the account uses Google): stored in the account's typed
	 * state.auth_method, not its metadata. PROVAUTH_EINVAL for a value
	 * outside provauth_auth_method. A host from before it lacks it: check
	 * PROVAUTH_HOST_HAS(h, update_set_auth_method).
	 */
	int (*update_set_auth_method)(provauth_update *u, provauth_auth_method method);

	/* ---- 2.0, session credentials (added before 2.0 was released) ---- */

	/*
	 * What provauth_session_credential and _credential_expires answer: one
	 * of session->credentials by kind and name (borrowed, valid as long as
	 * the session), or NULL; its expiry, 0 when none.
	 */
	const char *(*session_credential)(const provauth_session *s, const char *kind, const char *name);
	int64_t (*session_credential_expires)(const provauth_session *s, const char *kind, const char *name);
	/*
	 * For build_session: adds or replaces (value NULL: removes) one of the
	 * session's credentials, e.g. a fresher JWT than the account's. The host
	 * copies the strings; the plugin keeps what it passed. Only for the
	 * session the host handed to build_session (PROVAUTH_EINVAL otherwise).
	 * It changes this session only: what should be stored goes into the
	 * update as well.
	 */
	int (*session_set_credential)(provauth_session *s, const char *kind, const char *name, const char *value,
	                              int64_t expires_at);
};

/* True when the host provides `member` (it is newer or as new as the plugin). */
#define PROVAUTH_HOST_HAS(h, member) \
	((h)->size >= offsetof(provauth_host, member) + sizeof((h)->member))

/* ------------------------------------------------------------------------ */
/* The provider description a plugin returns                                */
/* ------------------------------------------------------------------------ */

/*
 * A named operation callers run with provauth_call. Runs inside
 * run_with_session: on failure describe it in *failure and return its code.
 * On success set *out_json to a JSON text from host->alloc (the host frees
 * it; a taken-over http body qualifies).
 */
typedef struct provauth_operation {
	const char *name;
	const char *summary;
	int (*run)(void *state, const provauth_session *session, const provauth_op_arg *args,
	           size_t nargs, char **out_json, provauth_failure *failure);
} provauth_operation;

/*
 * ---- 2.1: the account pool (<provauth/pool.h>) ----
 * A provider whose accounts do work with limits (credits, jobs at once)
 * lets the pool choose among them through these hooks. Every member may be
 * NULL / 0 except as noted; struct_size is sizeof(provauth_pool_hooks) as
 * the plugin was built (members are only ever appended).
 */
#define PROVAUTH_CREDIT_KIND_MAX 32

typedef struct provauth_pool_hooks {
	size_t struct_size;
	/* The kind of credits jobs spend when estimate_cost does not say ("web"). */
	const char *default_credit_kind;
	/* Jobs at once an account may run before status has told (e.g. 2). 0: the pool's default. */
	int default_max_concurrent;
	/*
	 * What the job `operation` with `args` (as provauth_call gets them)
	 * will cost: the credit kind into kind (NUL-terminated, shorter than
	 * PROVAUTH_CREDIT_KIND_MAX; "" with *cost 0 for a free job) and the
	 * amount into *cost. Validates the parameters as the operation would,
	 * without I/O: PROVAUTH_EINVAL after host->set_error naming the
	 * parameter ("pixverse: duration 12: model v5 allows 1 to 10 s");
	 * PROVAUTH_ENOTFOUND for an operation that is no job.
	 */
	int (*estimate_cost)(void *state, const char *operation, const provauth_op_arg *args, size_t nargs,
	                     char kind[PROVAUTH_CREDIT_KIND_MAX], int64_t *cost);
	/*
	 * Runs like an operation, inside run_with_session: the account's
	 * credits and limits, as JSON text from host->alloc:
	 *   {"credits":{"web":120,"openapi":0},"max_concurrent":2,"blocked":false}
	 * (max_concurrent 0 or absent: unknown; blocked true: the provider
	 * blocked the account).
	 */
	int (*status)(void *state, const provauth_session *session, char **out_json, provauth_failure *failure);
	/*
	 * Runs like an operation: the state of the account's jobs ids[0..n) (as
	 * the provider's generate returned them), in as few requests as the
	 * service allows, as JSON text from host->alloc:
	 *   {"jobs":[{"id":"123","state":"processing","url":null,"code":5}, ...]}
	 * one entry per id, in order; state one of "queued", "processing",
	 * "done" (url the result), "moderated", "failed", "unknown" (not found);
	 * code the provider's own status number when it has one.
	 */
	int (*job_status)(void *state, const provauth_session *session, const char *const *ids, size_t n,
	                  char **out_json, provauth_failure *failure);
} provauth_pool_hooks;

/* True when the plugin's hooks have `member`. */
#define PROVAUTH_POOL_HOOKS_HAS(h, member) \
	((h)->struct_size >= offsetof(provauth_pool_hooks, member) + sizeof((h)->member))

/* Typedef'd as provauth_provider in <provauth/types.h>. */
struct provauth_provider {
	/* ---- never move ---- */
	unsigned int abi_major;      /* PROVAUTH_PLUGIN_ABI_MAJOR */
	unsigned int abi_minor;      /* PROVAUTH_PLUGIN_ABI_MINOR */
	size_t struct_size;          /* sizeof(provauth_provider) as the plugin was built */

	/* ---- 1.0 ---- */
	const char *id;              /* [a-z0-9_-]+, unique among loaded plugins */
	const char *description;
	const char *version;

	/*
	 * Keys the provider accepts in its settings block beyond the common ones
	 * (auto_reauth_enabled, global_password, reauth_cooldown, login_cooldown,
	 * refresh_ahead). NULL-terminated; the host rejects any other key.
	 */
	const char *const *setting_keys;

	/*
	 * Called once, before any other function, from one thread. Reads and
	 * validates its settings through host->setting_*; on a bad value returns
	 * PROVAUTH_ECONFIG after host->set_error. `*state` is handed back to every
	 * other function. The host pointer stays valid until fini.
	 */
	int (*init)(void **state, const provauth_host *host, const provauth_setting *settings);
	/* Called once when the manager is freed, after every other call ended. */
	void (*fini)(void *state);

	/*
	 * Builds the session for `account`. The host prefills every field from
	 * the account (pointers into its own copy, valid for the session's
	 * life; session->credentials a copy of the account's); a plugin changes
	 * the session's credentials only through host->session_set_credential,
	 * which copies, and keeps its own data in provider_data. Credentials the
	 * build changed (e.g. a fresher JWT taken from the cookies) go into
	 * `update` as well; the host persists them, version-checked. Required.
	 */
	int (*build_session)(void *state, const provauth_account *account, provauth_session *session,
	                     provauth_update *update);
	/* Frees session->provider_data (optional; NULL if the provider keeps none). */
	void (*session_data_free)(void *state, void *provider_data);

	/* Classifies a failed operation. Required. */
	int (*classify_error)(void *state, const provauth_failure *failure, provauth_outcome *out);

	/*
	 * Renews credentials without a password (cookie refresh, OAuth refresh
	 * token). Optional. On success returns 0 with the new credentials in
	 * `update`. Returns PROVAUTH_EAUTH when the credential is dead for good
	 * (the host then never retries it), other codes for passing failures.
	 * Updates made before a failure (e.g. metadata) are stored too.
	 */
	int (*refresh)(void *state, const provauth_account *account, provauth_update *update);

	/*
	 * Password login. Optional. `password` is the one the host chose
	 * (explicit, the account's, or global_password). On success: 0 with new
	 * credentials in `update`; the host sets auth_method = password.
	 * PROVAUTH_EAUTH: a permanent refusal (wrong password, no such user);
	 * the reason goes in the last error. PROVAUTH_ECOOLDOWN: the service
	 * said "too many logins"; the host starts the provider-wide login
	 * cooldown. Updates made before a failure (e.g. auth_method = google
	 * for an OAuth-only account) are stored too.
	 */
	int (*try_reauth)(void *state, const provauth_account *account, const char *password,
	                  provauth_update *update);

	void *reserved_1_0[4];       /* keep zero */

	/* ---- 1.1 ---- */
	const provauth_operation *operations;
	size_t operation_count;

	/*
	 * Turns credentials a user supplies into account fields. Optional.
	 * `kind` names the input ("cookies": a Cookie: header, a JSON object or
	 * a browser export; "refresh_token": an OAuth refresh token); `input` is
	 * the text (a secret: never log or quote it). `existing` is the stored
	 * account when the caller named it (provauth_account_import_ext with an
	 * account_id): reuse what identifies the client to the service (a device
	 * token, an anonymous id) so a re-import is no new device. Else NULL,
	 * and the host matches by email afterwards; it refuses the result if the
	 * email is not `existing`'s. The host calls import once per request
	 * (it may exchange a token). Fill `update` with the credentials and
	 * the email (update_set_email: the host finds the account to update by
	 * provider and email); may make network calls (e.g. to learn the
	 * email). Returns PROVAUTH_EINVAL with a message naming what is wrong
	 * with the input (never quoting it), PROVAUTH_EUNSUPPORTED for an
	 * unknown kind, PROVAUTH_ENOEMAIL when the service accepts the
	 * credentials but does not say whose they are (added within 2.1).
	 */
	int (*import)(void *state, const char *kind, const char *input, const provauth_account *existing,
	              provauth_update *update);

	/* ---- 1.3 ---- */

	/*
	 * The kinds `import` accepts, each with a one-line summary for users
	 * ("a Cookie: header, a JSON object or a browser export"), ending with
	 * { NULL, NULL }. Names match [a-z0-9_-]{1,32} and are unique; a
	 * provider that declares kinds must have `import`, and one with
	 * `import` declares at least one (the loader refuses the plugin
	 * otherwise). The host refuses any other kind with
	 * PROVAUTH_EUNSUPPORTED before import is called, and tells callers the
	 * kinds (provauth_provider_import_kinds) so they can check one before
	 * reading a secret; `provauth plugins` lists them. NULL: not declared;
	 * every kind is passed to import. Keep refusing unknown kinds in import
	 * too: a host built before this member ignores it.
	 */
	const provauth_import_kind *import_kinds;

	/* ---- 1.4 ---- */

	/*
	 * How the service lets an account sign in, as PROVAUTH_SIGNIN_* bits.
	 * The host refuses to record an auth method the service does not
	 * offer: provauth_account_set_auth_method (the CLI's connect-google)
	 * answers PROVAUTH_EUNSUPPORTED, naming the provider, and stores
	 * nothing. 0 (and every plugin built before 1.4): not declared; every
	 * method is accepted, as before.
	 */
	unsigned int sign_ins;

	/* ---- 2.1 ---- */

	/* What the account pool needs (see provauth_pool_hooks); NULL: the provider's accounts are not pooled. */
	const provauth_pool_hooks *pool;
};

/* provauth_provider.sign_ins bits. */
#define PROVAUTH_SIGNIN_PASSWORD 0x1u  /* email (or user name) and password */
#define PROVAUTH_SIGNIN_GOOGLE   0x2u  /* "Sign in with Google" */
#define PROVAUTH_SIGNIN_TOKEN    0x4u  /* only a token the user brings (an OAuth refresh token) */

/* True when the plugin's struct has `member` (struct_size covers it). */
#define PROVAUTH_PROVIDER_HAS(p, member) \
	((p)->struct_size >= offsetof(provauth_provider, member) + sizeof((p)->member))

/*
 * The entry point. Returns 0 and the provider description (static storage,
 * valid until the plugin is closed) or a negative code after
 * host->set_error. Must not do I/O; init does the real work.
 */
typedef int (*provauth_plugin_init_fn)(const provauth_provider **out, const provauth_host *host);

#if defined(__GNUC__) && __GNUC__ >= 4
# define PROVAUTH_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
# define PROVAUTH_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
}
#endif
#endif /* PROVAUTH_PLUGIN_H */
