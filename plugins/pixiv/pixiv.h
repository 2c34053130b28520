/*
 * The pixiv plugin's internal interfaces. Each .c file owns one concern;
 * this header is what they share. Only <provauth/plugin.h> and libc are
 * used: every service comes through the provauth_host table.
 */
#ifndef PIXIV_H
#define PIXIV_H

#include <stddef.h>
#include <stdint.h>
#include <provauth/plugin.h>
#include <provauth/plugin_util.h>

#define PIXIV_ID "pixiv"

#define PIXIV_DEFAULT_TOKEN_URL "https://oauth.secure.pixiv.net/auth/token"
#define PIXIV_DEFAULT_API_BASE_URL "https://app-api.pixiv.net"
/* The public values of the official iOS app, as every public client uses them. */
#define PIXIV_DEFAULT_CLIENT_ID "MOBrBDS8blbauoSck0ZfDbtuzpyT"
#define PIXIV_DEFAULT_CLIENT_SECRET "lsACyCD94FhDUtGTXi3QzcFE2uU1hqtDaKeqrdwj"
#define PIXIV_DEFAULT_HASH_SECRET "28c1fdd170a5204386cb1313c7077b34f83e4aaf4aa829ce78c231e05b0bae2c"
#define PIXIV_DEFAULT_USER_AGENT "PixivIOSApp/7.13.3 (iOS 14.6; iPhone13,2)"
#define PIXIV_DEFAULT_APP_OS "ios"
#define PIXIV_DEFAULT_APP_OS_VERSION "14.6"

/* What the user runs to replace a dead refresh token; quoted in messages. */
/* Said once, in the terms of the command line most users have. */
#define PIXIV_NEW_TOKEN_HINT \
	"supply a new refresh token (provauth accounts add --provider pixiv)"

/* Settings, read once by init; strings point into the host's settings. */
typedef struct pixiv_state {
	const provauth_host *host;
	const char *token_url;
	const char *api_base_url;
	const char *client_id;
	const char *client_secret;   /* secret */
	const char *hash_secret;     /* secret */
	const char *user_agent;
	const char *app_os;
	const char *app_os_version;
	int64_t rate_limit_wait;     /* seconds */
	int64_t retry_max;           /* extra attempts after the first */
	int64_t retry_base_ms;
	int64_t retry_max_ms;
	int standard_oauth;          /* 1: plain RFC 6749 refresh, no pixiv fields or headers */
} pixiv_state;

/* ---- headers.c: the token endpoint's X-Client-Time / X-Client-Hash ---- */

#define PIXIV_TIME_LEN 32
#define PIXIV_HASH_LEN 33

/* RFC 3339 UTC time with an explicit offset: "2026-11-21T23:04:28+00:00". */
int pixiv_format_client_time(char out[PIXIV_TIME_LEN], int64_t unix_seconds);
/* Lowercase hex MD5 of client_time followed by hash_secret, via the host's digest. */
int pixiv_client_hash(const provauth_host *h, char out[PIXIV_HASH_LEN], const char *client_time,
                      const char *hash_secret);

/* ---- token.c: token request bodies, replies and refusals ---- */

/*
 * A parsed successful token reply. Strings come from host->alloc; NULL
 * when absent. pixiv_token_clear frees them through `host`.
 */
typedef struct pixiv_token {
	char *access_token;          /* secret */
	char *refresh_token;         /* secret; NULL: the server kept the old one */
	int64_t expires_in;          /* seconds, > 0 */
	char *user_id;               /* decimal digits */
	char *user_name;
	char *account;
	char *mail_address;
	const provauth_host *host;   /* set by pixiv_token_parse / pixiv_refresh_grant */
} pixiv_token;

void pixiv_token_clear(pixiv_token *t);

/*
 * The form body of a refresh: RFC 6749 fields, plus pixiv's when
 * !standard_oauth (get_secure_url, include_policy, device_token if given).
 * Returns a string from host->alloc (it holds secrets: free it with
 * host->secret_free), or NULL when memory ran out.
 */
char *pixiv_token_form(const pixiv_state *st, const char *refresh_token, const char *device_token);

/*
 * Parses a 2xx reply. Fields may be at the top level or under "response";
 * `user` is optional. Returns 0, or PROVAUTH_EPROTOCOL with host->set_error
 * naming `who` and the field at fault (never quoting a value).
 */
int pixiv_token_parse(const provauth_host *h, pixiv_token *out, const char *who, const char *body,
                      size_t len);

typedef enum pixiv_token_error {
	PIXIV_TERR_UNKNOWN = 0,      /* no recognisable error */
	PIXIV_TERR_INVALID_GRANT,    /* the refresh token is dead */
	PIXIV_TERR_ACCESS_DENIED,    /* X-Client-Time / X-Client-Hash refused */
	PIXIV_TERR_INVALID_CLIENT,   /* client_id / client_secret refused */
	PIXIV_TERR_INVALID_REQUEST,  /* the request itself was malformed (a parameter missing or wrong) */
	PIXIV_TERR_RATE_LIMIT,
	PIXIV_TERR_OTHER             /* some other named OAuth error */
} pixiv_token_error;

/*
 * Recognises the error in a token endpoint reply (pixiv's
 * {"has_error":true,"errors":{"system":{...}},"error":...} or RFC 6749's
 * {"error":...,"error_description":...}). `code` receives the OAuth error
 * name when there is one ("" otherwise), printable ASCII only.
 */
pixiv_token_error pixiv_token_error_parse(const provauth_host *h, long status, const char *body,
                                          size_t len, char *code, size_t code_size);
/*
 * The server's own words about the error (RFC 6749's error_description, or
 * pixiv's errors.system.message) into `out`, when they are one short line
 * of plain printable ASCII; "" otherwise. The caller still checks that they
 * do not repeat a credential.
 */
void pixiv_token_error_text(const provauth_host *h, const char *body, size_t len, char *out, size_t size);

/* ---- plugin.c: the provider table ---- */

/*
 * What provauth_plugin_init returns (entry.c): the provider description.
 * Apart from the exported entry, so that a program linking both plugins'
 * libraries (the fuzz targets) has no two provauth_plugin_init.
 */
int pixiv_plugin_init(const provauth_provider **out, const provauth_host *host);

/* ---- classify.c ---- */

int pixiv_classify_error(void *state, const provauth_failure *failure, provauth_outcome *out);

/* ---- refresh.c: the refresh grant over HTTP, with bounded retries ---- */

/*
 * Exchanges `refresh_token` for a new access token. `who` names the account
 * in messages ("account acct-1", "import"). On success fills *out (the
 * caller clears it). Failures: PROVAUTH_EAUTH (dead refresh token),
 * PROVAUTH_ECONFIG (client credentials refused), PROVAUTH_EPROTOCOL (time or
 * hash refused, reply not understood), PROVAUTH_ERATELIMIT, and after
 * retries PROVAUTH_ENETWORK / ETIMEOUT / EHTTP.
 */
int pixiv_refresh_grant(pixiv_state *st, pixiv_token *out, const char *who, const char *refresh_token,
                        const char *device_token);

/* Delay before retry number `attempt` (0-based): capped exponential, jittered to [d/2, d]. */
int64_t pixiv_backoff_ms(const pixiv_state *st, unsigned int attempt, uint32_t random);

/* Seconds from a Retry-After header holding delta-seconds; -1 for absent or anything else. */
long pixiv_retry_after(const char *value);

/* ---- ops.c: named operations ---- */

#define PIXIV_OPERATION_COUNT 2
extern const provauth_operation pixiv_operations[PIXIV_OPERATION_COUNT];

/* ---- util.c ---- */

/* A top-level string member of a metadata JSON text, from host->alloc; NULL if absent. */
char *pixiv_metadata_string(const provauth_host *h, const char *metadata, const char *key);
/*
 * 1 when text[0, len) is one JSON document: the host's allocation-free
 * check when it has one (ABI 1.2), a full parse on an older host.
 */
int pixiv_is_json(const provauth_host *h, const char *text, size_t len);
/* JSON text of a string (for update_set_metadata), from host->alloc; NULL on OOM. */
char *pixiv_json_quote(const provauth_host *h, const char *s);
/*
 * Server text fit to quote (provauth_plugin_quote): bounded, printable, and
 * withheld when it repeats any of `secrets` in any case or spacing (a
 * server may echo what it was sent, whole, cut or re-spelt). A host table
 * without text_excerpt: then nothing of the text is quoted.
 */
#define PIXIV_QUOTE_MAX 200
#define PIXIV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define pixiv_quote(h, out, size, text, secrets, nsecrets) \
	provauth_plugin_quote((h), (out), (size), (text), (secrets), (nsecrets), "server text not shown")
/* 1 when s is 1..20 decimal digits. */
int pixiv_is_user_id(const char *s);

#endif /* PIXIV_H */
