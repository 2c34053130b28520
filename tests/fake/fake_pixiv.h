/*
 * A fake pixiv (token endpoint + app API) on 127.0.0.1 for the tests and
 * demos. It checks what real pixiv checks (client id/secret, the
 * X-Client-Time format and X-Client-Hash, refresh and access tokens) and
 * can misbehave on demand (rate limits, 5xx, delays, broken replies).
 *
 * It links json-c, OpenSSL and libmicrohttpd, never the provauth core, so it
 * judges the plugin from the outside. Every function is thread-safe.
 */
#ifndef FAKE_PIXIV_H
#define FAKE_PIXIV_H

#include <stdint.h>

typedef struct fake_pixiv fake_pixiv;

typedef enum fake_pixiv_endpoint {
	FAKE_PIXIV_TOKEN = 0,  /* POST /auth/token */
	FAKE_PIXIV_API,        /* every GET under /v1/ and /v2/, /v1/user/detail included */
	FAKE_PIXIV_ENDPOINTS
} fake_pixiv_endpoint;

typedef enum fake_pixiv_fault {
	FAKE_PIXIV_FAULT_NONE = 0,
	FAKE_PIXIV_FAULT_STATUS,        /* param: the HTTP status (500, 502, 503, ...) */
	FAKE_PIXIV_FAULT_DELAY,         /* param: milliseconds; then the normal reply */
	FAKE_PIXIV_FAULT_TRUNCATED,     /* 200 with JSON cut short */
	FAKE_PIXIV_FAULT_NOT_JSON,      /* 200 with an HTML page */
	FAKE_PIXIV_FAULT_HUGE,          /* 200 with param bytes of body */
	FAKE_PIXIV_FAULT_RESET,         /* announces a body, sends part of it, drops the connection */
	FAKE_PIXIV_FAULT_REDIRECT_LOOP, /* 302 to itself */
	FAKE_PIXIV_FAULT_HUGE_HEADER    /* 200 with one header line of param bytes (default 200 KiB) */
} fake_pixiv_fault;

/* Starts on 127.0.0.1 with an OS-chosen port. Defaults: pixiv's public client
 * values, expires_in 3600, no rotation, pixiv (not RFC 6749) mode. */
int fake_pixiv_start(fake_pixiv **out);
void fake_pixiv_stop(fake_pixiv *f);
/* 0 once no connection is open or waiting to be accepted, -1 after timeout_ms. */
int fake_pixiv_wait_idle(fake_pixiv *f, long timeout_ms);
unsigned short fake_pixiv_port(const fake_pixiv *f);
/* "http://127.0.0.1:PORT" (no trailing slash); valid until stop. */
const char *fake_pixiv_base_url(const fake_pixiv *f);

/*
 * Serve /__control/... (the standalone binary turns this on).
 * /__control/config?echo_error=1 makes a refused refresh token come back
 * as a 400 whose OAuth "error" is its first 32 characters split by dots,
 * as a hostile server's would.
 */
void fake_pixiv_enable_control(fake_pixiv *f, int on);

/* ---- configuration ---- */

/* NULL leaves a value unchanged. */
void fake_pixiv_set_client(fake_pixiv *f, const char *client_id, const char *client_secret,
                           const char *hash_secret);
/* The HTTP status of invalid_client (a wrong client id or secret): RFC 6749 servers
 * answer 400 or 401. 0: the mode's default (401 in RFC 6749 mode, 400 in pixiv's). */
void fake_pixiv_set_client_error_status(fake_pixiv *f, long status);
/* The token endpoint answers 400 invalid_request ("Missing required parameter: NAME")
 * when the form lacks NAME; NULL: nothing extra is required. */
void fake_pixiv_set_required_param(fake_pixiv *f, const char *name);
void fake_pixiv_set_expires_in(fake_pixiv *f, int64_t seconds);
/* rotate: a new refresh token with every grant; revoke_old: the used one dies. */
void fake_pixiv_set_rotation(fake_pixiv *f, int rotate, int revoke_old);
/* RFC 6749 mode: no pixiv headers checked, no user / response in replies,
 * RFC 6749/6750 error bodies, 401 for bad bearer tokens. */
void fake_pixiv_set_standard(fake_pixiv *f, int standard, int send_refresh_token);

/* A user and a valid refresh token for them. mail may be NULL. */
int fake_pixiv_add_user(fake_pixiv *f, const char *refresh_token, const char *user_id, const char *name,
                        const char *mail);
void fake_pixiv_revoke(fake_pixiv *f, const char *refresh_token);
/* The newest valid refresh token of the user (malloc()ed), or NULL. */
char *fake_pixiv_current_refresh_token(fake_pixiv *f, const char *user_id);

/* Server time = real time + offset (expiry of access tokens). */
void fake_pixiv_set_clock_offset(fake_pixiv *f, int64_t seconds);
void fake_pixiv_expire_access_tokens(fake_pixiv *f);

/* ---- misbehaviour ---- */

/* The next `count` requests to the endpoint get the fault (-1: all, 0: clears). */
void fake_pixiv_set_fault(fake_pixiv *f, fake_pixiv_endpoint ep, fake_pixiv_fault kind, long param, int count);
/* The next `count` requests get {"error":{"message":"Rate Limit",...}} with
 * `status`, and Retry-After when retry_after >= 0. */
void fake_pixiv_set_rate_limit(fake_pixiv *f, fake_pixiv_endpoint ep, long status, long retry_after, int count);

/*
 * Holds the next `count` token requests (-1: all, 0: none) once they are
 * counted and before anything is checked, granted or rotated: a test can
 * then act (kill the client, cut its link) while the client is inside its
 * token exchange and the server has done nothing yet.
 */
void fake_pixiv_hold_token(fake_pixiv *f, int count);
/* 0 once a token request is held, with its client's TCP port on 127.0.0.1; -1 after timeout_ms. */
int fake_pixiv_wait_held(fake_pixiv *f, long timeout_ms, unsigned short *client_port);
/*
 * Lets every held request go: process != 0 answers them as usual (grant,
 * rotation); 0 answers 503 without touching any token, as a gateway does
 * with a request whose client went away before the token service saw it.
 */
void fake_pixiv_release_held(fake_pixiv *f, int process);

/* ---- observation ---- */

long fake_pixiv_count(fake_pixiv *f, fake_pixiv_endpoint ep);
void fake_pixiv_reset_counts(fake_pixiv *f);
/*
 * What the endpoint's latest request carried (malloc()ed; NULL if absent):
 * "form:KEY", "header:NAME" (case-insensitive) or "query:KEY".
 */
char *fake_pixiv_last(fake_pixiv *f, fake_pixiv_endpoint ep, const char *what);

#endif /* FAKE_PIXIV_H */
