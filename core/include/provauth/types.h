/*
 * <provauth/types.h>: the types the library's users and its provider
 * plugins share: error codes, log fields, accounts, sessions, failures.
 * Both <provauth/provauth.h> (the host's API) and <provauth/plugin.h> (the
 * plugin contract) include it, so a plugin sees these types without seeing
 * one function of the host's API. Declares no function.
 */
#ifndef PROVAUTH_TYPES_H
#define PROVAUTH_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
# define PROVAUTH_EXTERN(type) __attribute__((visibility("default"))) type
# define PROVAUTH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
# define PROVAUTH_EXTERN(type) type
# define PROVAUTH_PRINTF(a, b)
#endif

/* ---- errors: every function returns 0 or one of these ---- */

typedef enum provauth_error {
	PROVAUTH_OK           = 0,
	PROVAUTH_ERROR        = -1,  /* unclassified failure */
	PROVAUTH_EINVAL       = -2,  /* bad argument or input */
	PROVAUTH_ENOMEM       = -3,  /* out of memory */
	PROVAUTH_ENOTFOUND    = -4,  /* no such account, provider, operation or file */
	PROVAUTH_ECONFIG      = -5,  /* settings file is wrong; message names file:line:col and key */
	PROVAUTH_EPLUGIN      = -6,  /* a plugin could not be loaded or misbehaved */
	PROVAUTH_EIO          = -7,  /* file or store I/O failed */
	PROVAUTH_ECONFLICT    = -8,  /* store: the account changed since it was read */
	PROVAUTH_ECRYPTO      = -9,  /* store: wrong key or sealed data corrupt */
	PROVAUTH_ENETWORK     = -10, /* connection refused, failed, reset or TLS error */
	PROVAUTH_ETIMEOUT     = -11, /* network or wait timeout */
	PROVAUTH_EHTTP        = -12, /* unexpected HTTP status (5xx, an unfollowed redirect, ...) */
	PROVAUTH_EPROTOCOL    = -13, /* reply not understood (not JSON, fields missing) */
	PROVAUTH_ETOOBIG      = -14, /* reply larger than http.max_reply_bytes */
	PROVAUTH_ESESSION     = -15, /* session invalid and could not be recovered */
	PROVAUTH_EAUTH        = -16, /* credentials rejected (bad password, dead refresh token) */
	PROVAUTH_ERATELIMIT   = -17, /* provider asked us to slow down; see retry_after */
	PROVAUTH_ECOOLDOWN    = -18, /* recovery skipped: a cooldown is in force */
	PROVAUTH_EBUSY        = -19, /* another recovery is in flight and did not finish in time */
	PROVAUTH_EUNSUPPORTED = -20, /* provider (or host store) lacks this capability */
	PROVAUTH_EPROVIDER    = -21, /* provider reported an API error that is not about the session */
	PROVAUTH_EBANNED      = -22, /* account blocked by the provider; never reauthenticated */
	PROVAUTH_ESTORE       = -23, /* store unusable: newer schema, corrupt file */
	/*
	 * Refusals of work (a generation job) that say nothing about the session:
	 * an account pool releases the account with the matching outcome
	 * (provauth_pool_outcome_for).
	 */
	PROVAUTH_ECONCURRENCY = -24, /* the account runs as many jobs as the provider allows */
	PROVAUTH_ECREDITS     = -25, /* not enough credits on the account for the job */
	PROVAUTH_EMODERATED   = -26, /* the output was refused by moderation; retrying may pass */
	PROVAUTH_EREJECTED    = -27, /* the input (prompt, image) was refused by moderation: do not retry */
	PROVAUTH_EOVERLOAD    = -28, /* the provider is under high load; retry later */
	PROVAUTH_ENOACCOUNT   = -29, /* the pool has no account that can take the job now */
	PROVAUTH_ENOEMAIL     = -30, /* imported credentials work, but nothing says whose they are (no email) */
	PROVAUTH_ERROR_MIN_   = -30
} provauth_error;

/* ---- logging ---- */

/*
 * A block of the settings file, opaque: a provider's providers.<id> (see
 * <provauth/plugin.h>) or a host's own (provauth_settings_block).
 */
typedef struct provauth_setting provauth_setting;

typedef enum provauth_log_level {
	PROVAUTH_LOG_DEBUG = 0,
	PROVAUTH_LOG_INFO  = 1,
	PROVAUTH_LOG_WARN  = 2,
	PROVAUTH_LOG_ERROR = 3
} provauth_log_level;

typedef enum provauth_field_type {
	PROVAUTH_FIELD_STRING = 0,
	PROVAUTH_FIELD_INT    = 1,
	PROVAUTH_FIELD_BOOL   = 2,
	/*
	 * A secret. Whoever emits the field puts the secret in `str`; before
	 * any callback sees it, the library replaces `str` with a fingerprint
	 * ("fp:1a2b3c4d": an HMAC under a per-process random key, so equal
	 * secrets match within one process and cannot be guessed offline).
	 */
	PROVAUTH_FIELD_SECRET = 3
} provauth_field_type;

typedef struct provauth_log_field {
	const char *key;
	provauth_field_type type;
	const char *str;  /* STRING, SECRET */
	int64_t num;      /* INT, BOOL (0/1) */
} provauth_log_field;

/* ---- accounts ---- */

typedef enum provauth_auth_method {
	PROVAUTH_AUTH_UNKNOWN  = 0, /* legacy / cookie-only: conservative, no password reauth */
	PROVAUTH_AUTH_PASSWORD = 1, /* password or global_password: reauth allowed */
	PROVAUTH_AUTH_GOOGLE   = 2  /* OAuth login at the provider: never password reauth */
} provauth_auth_method;

typedef struct provauth_cookie {
	char *name;
	char *value;      /* secret */
} provauth_cookie;

/*
 * One credential of an account: `kind` says what it is (the well-known
 * kinds below; providers may define others), `name` tells apart several of
 * one kind (a cookie's name, an API key's kind; "" for single-valued kinds
 * such as a password), `value` is always a secret (sealed at rest, never
 * logged) and `expires_at` is unix seconds, 0 when it does not expire or is
 * unknown. Read one with provauth_account_credential_at: the strings are
 * borrowed from the account and valid until it next changes. In an
 * account's `credentials` the strings are the account's own (malloc()ed);
 * change them through provauth_account_set_credential.
 */
typedef struct provauth_credential {
	const char *kind;
	const char *name;
	const char *value;        /* secret */
	int64_t expires_at;       /* unix seconds; 0 = never / unknown */
} provauth_credential;

#define PROVAUTH_CRED_PASSWORD      "password"
#define PROVAUTH_CRED_JWT           "jwt"
#define PROVAUTH_CRED_COOKIE        "cookie"         /* name: the cookie's name */
#define PROVAUTH_CRED_API_KEY       "api_key"        /* name: the key's kind, e.g. "openapi" */
#define PROVAUTH_CRED_REFRESH_TOKEN "refresh_token"
#define PROVAUTH_CRED_ACCESS_TOKEN  "access_token"   /* expires_at: the token's expiry */

/*
 * The last verdict the manager recorded on an account's session (what
 * `provauth session` shows). Strings malloc()ed, NULL when absent; state
 * NULL means no record.
 */
typedef struct provauth_health {
	char *state;              /* "invalid", or "ok" once a recovery worked */
	char *reason;             /* why, e.g. "recovery_failed", "refresh_refused" */
	char *code;               /* the provider's error code, when it gave one */
	int64_t at;               /* unix seconds of the record */
	char *message;            /* one line, bounded, never a credential */
} provauth_health;

/*
 * The core's own state of an account, kept in typed fields beside (not
 * inside) the provider's metadata. Not secret: the sqlite store keeps it in
 * plain columns. Before store schema 4 these were metadata keys (auth_method,
 * session_health, last_reauth_at, refresh_refused).
 */
typedef struct provauth_account_state {
	provauth_auth_method auth_method; /* how the account signs in; UNKNOWN: no password reauth */
	provauth_health health;           /* the last session health record */
	int64_t last_reauth_at;           /* unix seconds of the last password login; 0 = never */
	/*
	 * The refresh token the provider refused for good, named by a digest
	 * ("sha256:" + 16 hex digits, never the token), and when; NULL when none.
	 */
	char *refresh_refused;
	int64_t refresh_refused_at;
} provauth_account_state;

/*
 * One provider account: a plain snapshot. All strings are malloc()ed and
 * NUL-terminated; NULL means absent. Free with provauth_account_free.
 * Every credential value is a secret: sealed at rest by the sqlite store and
 * never logged.
 */
typedef struct provauth_account {
	char *id;                 /* stable identifier, unique in the store */
	char *provider;           /* provider id, e.g. "pixverse" */
	char *email;
	char *metadata;           /* JSON object text: the provider's own data */
	provauth_credential *credentials; /* in the order first set; one per (kind, name) */
	size_t credential_count;
	uint64_t revision;        /* store version; bumped by every successful put */
	int64_t updated_at;       /* unix seconds of the last put */
	provauth_account_state state; /* the core's own state; copied by stores like the rest */
} provauth_account;

/* ---- sessions and failures ---- */

/*
 * What an operation authenticates with, built by the provider from the
 * account. Owned by the manager; valid only during the operation callback.
 */
typedef struct provauth_session {
	const char *account_id;
	const char *provider;
	const char *email;
	provauth_auth_method auth_method;
	/*
	 * The credentials the operation uses: a copy of the account's plus what
	 * build_session set or removed (host->session_set_credential). The
	 * host's own strings, every value a secret; read one with
	 * provauth_session_credential.
	 */
	const provauth_credential *credentials;
	size_t credential_count;
	const char *metadata;           /* the account's metadata JSON text */
	void *provider_data;            /* provider's own, opaque */
} provauth_session;

typedef enum provauth_failure_kind {
	PROVAUTH_FAILURE_NONE      = 0,
	PROVAUTH_FAILURE_MESSAGE   = 1, /* an error message (the SDK-exception case) */
	PROVAUTH_FAILURE_HTTP      = 2, /* an HTTP reply: status and body */
	PROVAUTH_FAILURE_TRANSPORT = 3  /* no usable reply: connect, reset, timeout, too big */
} provauth_failure_kind;

/*
 * How an operation failed, for the provider's classify_error. The manager
 * zeroes it before each attempt and frees its strings afterwards. Fill it with
 * the provauth_failure_* setters; never put secrets in `message`.
 */
typedef struct provauth_failure {
	provauth_failure_kind kind;
	int code;             /* provauth_error to return if not recovered */
	long http_status;     /* 0 when none */
	char *message;        /* malloc()ed (a plugin: host->alloc / host->free) or NULL */
	char *body;           /* malloc()ed likewise: the reply body, NUL-terminated, or NULL */
	size_t body_len;
	long retry_after;     /* seconds from Retry-After, or -1 */
} provauth_failure;

/* ---- providers ---- */

/* A provider: a plugin's description of itself (see <provauth/plugin.h>). */
typedef struct provauth_provider provauth_provider;

/* One argument of a named operation ("key=value" on the command line). */
typedef struct provauth_arg {
	const char *key;
	const char *value;
} provauth_arg;

/* One kind of credentials a provider imports (provauth_account_import's `kind`). */
typedef struct provauth_import_kind {
	const char *name;          /* "cookies", "refresh_token" */
	const char *summary;       /* one line for users; may be NULL */
} provauth_import_kind;

#ifdef __cplusplus
}
#endif
#endif /* PROVAUTH_TYPES_H */
