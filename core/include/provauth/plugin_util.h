/*
 * <provauth/plugin_util.h>: a small static library for plugin writers,
 * libprovauth_plugin.a (pkg-config --libs provauth-plugin). What every
 * provider plugin writes otherwise: copies through the host's allocator,
 * the checks on setting values and on server text quoted in messages, URL
 * joining, and an OAuth-style token exchange.
 *
 * Everything here is built on the provauth_host table alone (so a plugin
 * using it still links nothing of provauth's at run time) and is compiled
 * -fPIC, to be linked into the plugin's shared object. None of it is part
 * of the plugin ABI: the library is linked in, so a plugin keeps working
 * with the version it was built with whatever the host's.
 *
 * Conventions are the ABI's: 0 or a negative provauth_error after
 * host->set_error (or host->setting_error); strings handed out come from
 * host->alloc, and those marked secret go back through host->secret_free.
 */
#ifndef PROVAUTH_PLUGIN_UTIL_H
#define PROVAUTH_PLUGIN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <provauth/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- memory ---- */

/* Copies of s (s[0, n)) from host->alloc; NULL for a NULL s or out of memory. */
char *provauth_plugin_strdup(const provauth_host *h, const char *s);
char *provauth_plugin_strndup(const provauth_host *h, const char *s, size_t n);
/*
 * Overwrites n bytes in a way the compiler keeps: for buffers on the stack
 * that held a secret (host->secret_free is for heap strings).
 */
void provauth_plugin_wipe(void *p, size_t n);

/* ---- text ---- */

/* 1 when s is one line of text: no control characters (below 0x20, 0x7f). */
int provauth_plugin_text_ok(const char *s);
/* 1 when `needle` occurs in `hay`, ignoring ASCII case; an empty needle occurs. NULL-safe (0). */
int provauth_plugin_contains_ci(const char *hay, const char *needle);
/*
 * Server text (an error message) made fit to quote, by host->text_excerpt:
 * into out goes at most 160 printable characters of it, or a fixed note
 * when it repeats any of the request's `secrets`. "" for NULL or empty
 * text. A host without text_excerpt (a table cut short) gets `fallback`
 * instead of the text: a plugin never checks server text itself.
 */
void provauth_plugin_quote(const provauth_host *h, char *out, size_t size, const char *text,
                           const char *const *secrets, size_t nsecrets, const char *fallback);

/* ---- settings ---- */

/*
 * A value of the plugin's settings block that the host's readers took but
 * the plugin refuses: PROVAUTH_ECONFIG through host->setting_error (the
 * message starts with the value's place in the file), or, on a host table
 * without it, host->set_error with "providers.<provider>.<key>: ".
 */
int provauth_plugin_setting_fail(const provauth_host *h, const provauth_setting *s, const char *provider,
                                 const char *key, const char *fmt, ...) PROVAUTH_PRINTF(5, 6);
/*
 * A string setting that must be one line of non-empty text (it goes into
 * headers and request bodies): "must not be empty", "must be one line of
 * printable text". *out points into the settings, valid until fini.
 */
int provauth_plugin_setting_text(const provauth_host *h, const provauth_setting *s, const char *provider,
                                 const char *key, const char *def, const char **out);
/*
 * A base URL setting: http:// or https://, one line, no space, query or
 * fragment ("expected an http:// or https:// URL without query or
 * fragment"), with a host ("the URL has no host"). *out is a copy from
 * host->alloc without trailing '/', ready for provauth_plugin_url_join.
 */
int provauth_plugin_setting_url(const provauth_host *h, const provauth_setting *s, const char *provider,
                                const char *key, const char *def, char **out);

/* ---- URLs ---- */

/* base + path, with exactly the '/' the path lacks; from host->alloc, NULL on OOM. */
char *provauth_plugin_url_join(const provauth_host *h, const char *base, const char *path);

/* ---- token exchange (OAuth 2.0 grants and look-alikes) ---- */

/* How a token endpoint wants its request body. */
typedef enum provauth_plugin_body {
	PROVAUTH_PLUGIN_BODY_FORM = 0,   /* application/x-www-form-urlencoded, RFC 6749 */
	PROVAUTH_PLUGIN_BODY_JSON = 1    /* a JSON object of strings */
} provauth_plugin_body;

/* One field of a request body; a NULL value leaves the field out. */
typedef struct provauth_plugin_field {
	const char *name;
	const char *value;
} provauth_plugin_field;

/*
 * The body made of `fields`, in order: "a=1&b=2" with names and values
 * percent-encoded, or {"a":"1","b":"2"}. It holds secrets: free it with
 * host->secret_free. NULL when memory ran out.
 */
char *provauth_plugin_body_make(const provauth_host *h, provauth_plugin_body kind,
                                const provauth_plugin_field *fields, size_t nfields);

/*
 * POSTs `fields` to url as `kind` with the matching Content-Type and
 * Accept: application/json, plus `headers` (the caller's, e.g. a client
 * hash). Returns what host->http_request returns: 0 with *out, whatever its
 * status, or the transport's code and message. The body is wiped after.
 */
int provauth_plugin_token_post(const provauth_host *h, provauth_http_response **out, const char *url,
                               provauth_plugin_body kind, const provauth_plugin_field *fields, size_t nfields,
                               const provauth_http_header *headers, size_t nheaders);

/* What a token reply grants. Strings from host->alloc; clear with provauth_plugin_token_clear. */
typedef struct provauth_plugin_token {
	char *access_token;          /* secret */
	char *refresh_token;         /* secret; NULL: the reply keeps the old one */
	int64_t expires_in;          /* seconds; 0 when the reply does not say */
} provauth_plugin_token;

/*
 * Reads access_token (required, a non-empty string), refresh_token (a
 * string, optional) and expires_in (an integer or integral string,
 * optional, must be positive when present) from a JSON reply body.
 * PROVAUTH_EPROTOCOL, naming the field (never a value) after `who`, when
 * the reply is not a JSON object or a field is wrong.
 */
int provauth_plugin_token_parse(const provauth_host *h, provauth_plugin_token *out, const char *who,
                                const char *body, size_t len);
void provauth_plugin_token_clear(const provauth_host *h, provauth_plugin_token *t);

/*
 * The whole exchange: provauth_plugin_token_post to url + path (path NULL:
 * url alone), then
 *  - HTTP 400 or 401 (RFC 6749's invalid_grant and invalid_client):
 *    PROVAUTH_EAUTH, "WHO: the token endpoint refused the grant (HTTP N)";
 *  - any other status but 200: PROVAUTH_EHTTP, "WHO: the token endpoint
 *    answered HTTP N";
 *  - 200: provauth_plugin_token_parse. When `reply` is not NULL it then
 *    receives the parsed reply, for the service's own fields (an email, a
 *    user id); free it with host->json_free.
 * A plugin that must tell more refusals apart (a rate limit, a refused
 * client) posts and parses itself with the two functions above.
 */
int provauth_plugin_token_exchange(const provauth_host *h, provauth_plugin_token *out, provauth_json **reply,
                                   const char *who, const char *url, const char *path, provauth_plugin_body kind,
                                   const provauth_plugin_field *fields, size_t nfields);

/* ---- operations over a bearer token ---- */

/*
 * An operation's GET of base_url + path with "Authorization: Bearer
 * <token>" (secret) and Accept: application/json. On success returns 0
 * with *out_json the reply's body (a 200 whose body is JSON), from
 * host->alloc: an operation hands it to the host as its result. Otherwise
 * describes the failure in *f for the provider's classify_error and
 * returns its code: the transport's (with the host's words, "WHO: GET
 * PATH: connection refused"), PROVAUTH_EHTTP with the status, body and
 * Retry-After of any other status, PROVAUTH_EPROTOCOL for a body that is
 * not JSON, PROVAUTH_ESESSION without a token.
 */
int provauth_plugin_bearer_get(const provauth_host *h, char **out_json, const char *who, const char *base_url,
                               const char *path, const char *token, provauth_failure *f);

/*
 * classify_error for a plain bearer-token REST API: HTTP 401 is a session
 * error a refresh may fix ("token_rejected"); 403 PROVAUTH_EPROVIDER
 * ("forbidden"); 429 PROVAUTH_ERATELIMIT ("rate_limited", Retry-After or
 * 60 s); any other status PROVAUTH_EHTTP ("http_error"); a failure
 * without a reply keeps its code ("non_session_error").
 */
int provauth_plugin_classify_http(const provauth_failure *f, provauth_outcome *out);

#ifdef __cplusplus
}
#endif
#endif /* PROVAUTH_PLUGIN_UTIL_H */
