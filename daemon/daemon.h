/*
 * provauthd: the service that fleets and programs in other languages talk
 * to. It links libprovauth (public API only, like any outside program) and
 * serves it over HTTP with libmicrohttpd.
 *
 * Rooms and arrows
 *
 *     provauthd.c (main: options, signals, reload, drain)
 *        |  world.c: settings + manager + config, reference-counted, swapped on SIGHUP
 *        v
 *     http/ (listener, router, bearer auth, limits, JSON errors) --> api/ (route handlers)
 *        |                                                            |
 *        +--> ops/ (metrics, health, status page) <------------------+
 *     keeper/ (refresh ahead, idle probes, credit sync; store leases)
 *     notify/ (webhooks: HMAC, retries, dead letter)  <-- keeper/, log events
 *
 * Every room sees the others only through this header. Nothing here prints
 * to stdout; logs are JSON lines on stderr (or log.file) through pad_log.
 */
#ifndef PAD_DAEMON_H
#define PAD_DAEMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdatomic.h>
#include <pthread.h>
#include <json-c/json.h>
#include <provauth/provauth.h>
#include <provauth/pool.h>

#define PAD_MAX_TOKENS 256
#define PAD_MAX_PARAMS 4

/* ------------------------------------------------------------------------ */
/* The daemon: block (config/config.c)                                      */
/* ------------------------------------------------------------------------ */

/* Ordered: a token of a scope may do everything the lower scopes may. */
typedef enum pad_scope {
	PAD_SCOPE_NONE = 0,     /* routes anyone may call: /healthz, /readyz */
	PAD_SCOPE_READ = 1,     /* look: GET routes, /metrics, the status page */
	PAD_SCOPE_OPERATE = 2,  /* use accounts: calls, jobs, pixverse-status, reauth */
	PAD_SCOPE_ADMIN = 3     /* change the set: import, delete, connect-google, pool settings */
} pad_scope;

const char *pad_scope_name(pad_scope s);

typedef struct pad_token {
	char *name;                 /* for logs and metrics; never the token */
	unsigned char sha256[32];   /* the settings hold the hash, never the token */
	pad_scope scope;
} pad_token;

typedef struct pad_keeper_config {
	int enabled;                /* default 1 */
	int64_t max_idle;           /* s; every account refreshed or probed at least this often; 86400 */
	int64_t refresh_ahead;      /* s; OAuth tokens renewed this long before expiry; 600 */
	int64_t credit_sync;        /* s; credits synced this often (providers with pool hooks); 3600 */
	int64_t jitter_percent;     /* spread of every interval, +-; 10 */
	int64_t concurrency;        /* accounts kept at once; 4 */
	int64_t rate_per_provider;  /* keeper requests per second per provider; 5 */
	int64_t lease_ttl_ms;       /* the store lease "keeper:ID" held while keeping; 60000 */
	int64_t time_scale;         /* tests only: 1 s of the keeper's clock per 1/time_scale s; 1 */
	int64_t scan_interval_ms;   /* how often the account list is read again; 5000 */
} pad_keeper_config;

typedef struct pad_webhook_config {
	char *url;                  /* NULL: no webhook */
	char *secret;               /* HMAC-SHA256 key; secret; required with url */
	int64_t timeout_ms;         /* per delivery; 10000 */
	int64_t retries;            /* after the first try; 5 */
	int64_t backoff_ms;         /* first retry delay, doubled each time; 1000 */
	int64_t max_backoff_ms;     /* 300000 */
	char *dead_letter;          /* JSON-lines file of deliveries that gave up; NULL: state dir */
} pad_webhook_config;

typedef struct pad_config {
	/* listen: "127.0.0.1:8750" (default), "[::1]:8750", "0.0.0.0:8750", or "unix:/path" */
	char *listen;
	char *unix_path;            /* set when listen is unix:... */
	char *host;                 /* TCP: numeric address */
	int port;                   /* TCP: 0 = any free port (tests read it from the ready file) */
	int64_t socket_mode;        /* unix: the socket file's mode; 0660 (written "0660": quoted octal) */
	char *tls_certificate;      /* PEM file; with tls_key: HTTPS */
	char *tls_key;              /* PEM file; secret (checked like the settings file) */
	pad_token tokens[PAD_MAX_TOKENS];
	size_t ntokens;
	int64_t max_body;           /* bytes of a request body; 1048576 */
	int64_t max_connections;    /* 256 */
	int64_t rate;               /* requests per second per token; 50 (0: no limit) */
	int64_t burst;              /* 100 */
	int64_t auth_failures_per_minute; /* wrong tokens a client address may present; 10 (0: no limit) */
	int64_t connection_timeout; /* s idle before a connection is closed; 30 */
	int64_t threads;            /* request threads; 16: a handler blocks while the provider answers,
	                               so this is how many provider calls run at once */
	int64_t drain_timeout;      /* s SIGTERM waits for requests in flight; 30 */
	char *state_dir;            /* webhook dead letters, ready file default; NULL: none */
	char *ready_file;           /* written with {"pid","url"} once serving; NULL: none */
	int64_t ad_task_max_age;    /* s pixverse-status serves a stored ad-watch task; 300 (0: read it each time) */
	pad_keeper_config keeper;
	pad_webhook_config webhook;
} pad_config;

/* Reads settings' daemon: block; messages name FILE:LINE:COL: daemon.key. */
int pad_config_load(pad_config **out, const provauth_settings *settings);
void pad_config_free(pad_config *c);
/* The token whose SHA-256 is that of `bearer` (compared in constant time), or NULL. */
const pad_token *pad_config_find_token(const pad_config *c, const char *bearer, size_t len);

/* ------------------------------------------------------------------------ */
/* The world: what a request or a keeper task runs against (world.c)       */
/* ------------------------------------------------------------------------ */

/*
 * Settings, manager and config of one load. A request takes a reference for
 * its lifetime; SIGHUP builds a new world and swaps it in, and the old one
 * (with its plugins) is freed when its last request or task lets go: the
 * hot reload that never fails a request.
 */
/* The ad-watch tasks pixverse-status served lately (api/ad_task_cache.c), in front of the store. */
typedef struct pad_ad_tasks pad_ad_tasks;
pad_ad_tasks *pad_ad_tasks_new(void);          /* NULL when out of memory */
void pad_ad_tasks_free(pad_ad_tasks *t);

typedef struct pad_world {
	atomic_int refs;
	uint64_t generation;        /* 1, 2, ... */
	provauth_settings *settings;
	provauth_manager *manager;
	pad_config *config;
	pad_ad_tasks *ad_tasks;
} pad_world;

typedef struct pad_daemon pad_daemon;

pad_world *pad_world_get(pad_daemon *d);     /* a new reference to the current world */
void pad_world_put(pad_world *w);            /* drops one; the last frees the world */

/* ------------------------------------------------------------------------ */
/* Logs (log.c): JSON lines, redacted by the library's rules                */
/* ------------------------------------------------------------------------ */

void pad_log(pad_daemon *d, provauth_log_level level, const char *event, const provauth_log_field *f,
             size_t n);
#define PAD_F_STR(k, v) { (k), PROVAUTH_FIELD_STRING, (v), 0 }
#define PAD_F_INT(k, v) { (k), PROVAUTH_FIELD_INT, NULL, (int64_t)(v) }
#define PAD_F_BOOL(k, v) { (k), PROVAUTH_FIELD_BOOL, NULL, (int64_t)((v) != 0) }
#define PAD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Requests and replies (http/)                                             */
/* ------------------------------------------------------------------------ */

typedef struct pad_request {
	const char *method;             /* "GET", "POST", "DELETE", ... */
	const char *path;               /* decoded, without the query */
	const char *params[PAD_MAX_PARAMS]; /* the route's {captures}, in order, percent-decoded */
	size_t nparams;
	const char *body;               /* NUL-terminated; "" when none */
	size_t body_len;
	json_object *json;              /* the body parsed as a JSON object, NULL when empty (http/ refuses
	                                   a non-empty body that is not a JSON object with 400 bad_json) */
	const pad_token *token;         /* who called; NULL on open routes */
	pad_world *world;               /* a reference held for the request */
	pad_daemon *daemon;
	char id[17];                    /* request id, hex; in logs and the X-Request-Id header */
	void *conn;                     /* http/'s own */
} pad_request;

/* A query argument ("force" of ?force=true), or NULL. */
const char *pad_request_query(const pad_request *req, const char *name);
/* A request header, or NULL. */
const char *pad_request_header(const pad_request *req, const char *name);
/*
 * Wrong tokens, counted per client address (its IP; every Unix-socket
 * client is one): at most daemon.auth_failures_per_minute, a burst of that
 * many refilled evenly. pad_auth_blocked says how many whole seconds the
 * request's address must wait before a token of its is checked again (0:
 * none); pad_auth_failed counts one. A request that presents no token is
 * not a failure: a browser opening the status page has none yet.
 */
int pad_auth_blocked(const pad_request *req);
void pad_auth_failed(const pad_request *req);

#define PAD_REPLY_MAX_HEADERS 8

typedef struct pad_reply {
	int status;                     /* 0 until set */
	char *body;                     /* owned */
	size_t len;
	const char *content_type;       /* static string */
	char *header_name[PAD_REPLY_MAX_HEADERS];
	char *header_value[PAD_REPLY_MAX_HEADERS];
	size_t nheaders;
} pad_reply;

/* Serialises `obj` (and drops the caller's reference to it). */
int pad_reply_json(pad_reply *rep, int status, json_object *obj);
/*
 * {"error": {"code": CODE, "message": MESSAGE, "request_id": ...}} with
 * `status`. CODE is a stable word ("bad_json", "not_found", "unauthorized",
 * "forbidden", "too_large", "rate_limited", "method_not_allowed", ...).
 */
int pad_reply_error(pad_reply *rep, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * A library failure as an HTTP error: status and code from `rc`
 * (ENOTFOUND 404 not_found, EINVAL 400 invalid, ECONFLICT 409, EBUSY 409
 * busy, ETIMEOUT 504, ENETWORK/EHTTP/EPROTOCOL 502 provider_unreachable,
 * ESESSION 502 session_lost, EAUTH 502 login_failed, ERATELIMIT 429,
 * ECOOLDOWN 429 cooldown, EUNSUPPORTED 400 unsupported, EBANNED 403 banned,
 * ECONCURRENCY/ENOACCOUNT 503, ECREDITS 402 no_credits, ENOEMAIL 422
 * email_missing, others 500
 * internal) and the message provauth_last_error() holds (never a secret:
 * the library's messages carry none).
 */
int pad_reply_provauth(pad_reply *rep, int rc);
int pad_reply_text(pad_reply *rep, int status, const char *content_type, const char *text, size_t len);
int pad_reply_header(pad_reply *rep, const char *name, const char *value);
void pad_reply_clear(pad_reply *rep);

/* ------------------------------------------------------------------------ */
/* Routes (api/routes.c holds the table; http/router.c matches it)          */
/* ------------------------------------------------------------------------ */

typedef int (*pad_handler)(pad_request *req, pad_reply *rep);

typedef struct pad_route {
	const char *method;
	const char *pattern;            /* "/v1/accounts/{id}/call/{operation}" */
	pad_scope scope;                /* at least this scope; NONE: open */
	pad_handler handler;
	const char *name;               /* the metrics label, e.g. "accounts_get" */
} pad_route;

extern const pad_route pad_routes[];
extern const size_t pad_route_count;

/*
 * Finds the route for method and path: 0 and *out (params filled in req),
 * 404 when no pattern matches, 405 when one matches with another method
 * (*allow then lists the methods, "GET, DELETE").
 */
int pad_route_match(const pad_route **out, pad_request *req, char *allow, size_t allow_size);

/* ---- http/'s own helpers (http/router.c, auth.c, ratelimit.c), for its tests and fuzzer ---- */

#define PAD_MAX_PATH 2048           /* longer paths: 414 too_long */
#define PAD_MAX_CAPTURE 200         /* bytes of a decoded {capture}; longer: 400 bad_id */
#define PAD_CAPTURE_BUF (PAD_MAX_PARAMS * (PAD_MAX_CAPTURE + 1))

/*
 * pad_route_match over any table: 0, 404, 405 (allow filled), 400 (a
 * capture that is badly encoded, empty, too long, or decodes to '/' or
 * NUL) or 414 (path over PAD_MAX_PATH). `path` is the raw path (not yet
 * percent-decoded; the server keeps it raw so that %2F stays inside one
 * segment); captures are decoded into `buf` and req->params point there.
 * pad_route_match itself uses pad_routes and a per-thread buffer.
 */
int pad_route_match_in(const pad_route *routes, size_t n, const pad_route **out, pad_request *req,
                       char *buf, size_t buf_size, char *allow, size_t allow_size);
/* Percent-decodes src[0..len) into dst (dst_size >= len + 1); '+' stays '+'. -1 on a bad escape. */
long pad_percent_decode(char *dst, size_t dst_size, const char *src, size_t len);
/*
 * An Authorization header's bearer token: "Bearer" (any case), one space,
 * then RFC 6750 token characters (A-Z a-z 0-9 - . _ ~ + /, then '='s).
 * 0 with *token and *len pointing into `header`, or -1.
 */
int pad_bearer_parse(const char *header, const char **token, size_t *len);

/*
 * A request body as http/ accepts it: empty (0, *out NULL), or one JSON
 * object and nothing after it but whitespace (0, *out owned by the caller).
 * -1 for anything else, a NUL inside included.
 */
int pad_body_parse(json_object **out, const char *body, size_t len);

/* A token bucket: `rate` per second refilled, at most `burst`. */
typedef struct pad_bucket {
	double level;
	double last;                /* seconds, monotonic; 0: new (starts full) */
} pad_bucket;
/* 0 when a request may go now (one taken), else the whole seconds to wait (>= 1). rate 0: no limit. */
int64_t pad_bucket_take(pad_bucket *b, double rate, double burst, double now);
/* The same question without taking one: 0 when one is there now, else the whole seconds to wait. */
int64_t pad_bucket_wait(const pad_bucket *b, double rate, double burst, double now);

/* ------------------------------------------------------------------------ */
/* Operations: metrics (ops/metrics.c), health, the status page             */
/* ------------------------------------------------------------------------ */

/*
 * Counters and gauges, process-wide, lock-free on the hot path. A name is
 * one of the fixed families ops/metrics.c registers; labels are
 * "k=v,k2=v2" with values from fixed sets (route names, provider ids,
 * reasons), never an account id or a secret.
 */
void pad_metric_add(const char *family, const char *labels, int64_t delta);
void pad_metric_set(const char *family, const char *labels, int64_t value);
void pad_metric_observe_ms(const char *family, const char *labels, double ms);
/* The library's log events (via the manager's log callback) as metrics. */
void pad_metrics_from_event(const char *event, const provauth_log_field *f, size_t n);

int pad_handle_healthz(pad_request *req, pad_reply *rep);
int pad_handle_readyz(pad_request *req, pad_reply *rep);
int pad_handle_metrics(pad_request *req, pad_reply *rep);
int pad_handle_status_page(pad_request *req, pad_reply *rep);

/* ---- ops/ additions (ops/login.c) ---- */
/*
 * POST /login (scope NONE; body form-encoded "token=...", or JSON
 * {"token": ...}): a READ-or-higher token sets the status page's cookie
 * (HttpOnly, SameSite=Strict, Path=/) and redirects to / (303); a wrong one
 * gets the sign-in form again with 401. http/ must let this route's
 * form-encoded body through (it is not JSON).
 */
int pad_handle_login(pad_request *req, pad_reply *rep);
/*
 * The status page's sign-in cookie in a Cookie header, percent-decoded into
 * `out`: the token's length, or -1 when there is none. http/ takes it as
 * the bearer of GET requests that carry no Authorization header (never of
 * other methods: SameSite=Strict already stops other sites, this keeps the
 * cookie read-only on principle).
 */
int pad_cookie_bearer(const char *cookie_header, char *out, size_t size);

/* ------------------------------------------------------------------------ */
/* Why an account needs a person (needs_human.c)                            */
/* ------------------------------------------------------------------------ */

/*
 * "session_lost", "refresh_token_dead", "banned", "credits_exhausted", or
 * NULL when nothing needs one: from the account's health record, its
 * refused-refresh mark and its pool status (NULL when not in a pool).
 */
const char *pad_needs_human_code(const char *health_state, const char *health_reason, int refresh_refused,
                                 const char *pool_status);
/* What the person should do, in words, for the account's way of signing in. */
const char *pad_needs_human_words(const char *code, provauth_auth_method method);

/* ------------------------------------------------------------------------ */
/* The keeper (keeper/) and notifications (notify/)                         */
/* ------------------------------------------------------------------------ */

typedef struct pad_keeper pad_keeper;
int pad_keeper_start(pad_keeper **out, pad_daemon *d);
/* Stops taking work, waits for what is in flight (bounded by drain_timeout). */
void pad_keeper_stop(pad_keeper *k);
/* Seconds the most overdue account is late (for metrics and /readyz). */
int64_t pad_keeper_lag(pad_keeper *k);

typedef struct pad_notifier pad_notifier;
int pad_notifier_start(pad_notifier **out, pad_daemon *d);
void pad_notifier_stop(pad_notifier *n);
/*
 * Queues a webhook about account `id`: event "account.needs_human" with
 * `reason` ("session_lost", "refresh_token_dead", "banned",
 * "credits_exhausted") or "account.recovered". Returns at once; delivery,
 * retries and the dead letter are the notifier's.
 */
int pad_notify_account(pad_notifier *n, const char *event, const char *account_id, const char *provider,
                       const char *reason, const char *message);
/*
 * The library's log events, seen by the manager's log callback (world.c):
 * "session_health_changed" may mean an account needs a human, or recovered.
 */
void pad_notify_from_event(pad_daemon *d, const char *event, const provauth_log_field *f, size_t n);

/* ------------------------------------------------------------------------ */
/* The daemon (provauthd.c)                                                 */
/* ------------------------------------------------------------------------ */

struct pad_daemon {
	char *settings_path;
	pthread_mutex_t world_lock;
	pad_world *world;               /* current; under world_lock */
	uint64_t generations;
	struct pad_server *server;      /* http/ */
	pad_keeper *keeper;
	pad_notifier *notifier;
	atomic_int draining;            /* SIGTERM: /readyz says no, new requests get 503 */
	atomic_int ready;
	FILE *log;                      /* stderr unless log.file */
	pthread_mutex_t log_lock;
	int64_t started_at;
};

/* The store the settings name outlives a reload: not the memory store (ECONFIG naming store.backend). */
int pad_check_store(const provauth_settings *s);
/* Loads a world from the settings file (settings, manager, config). */
int pad_world_load(pad_world **out, pad_daemon *d);
/* SIGHUP: loads a new world and swaps it in; the old one stays on failure. */
int pad_reload(pad_daemon *d);

/* http/server.c */
typedef struct pad_server pad_server;
int pad_server_start(pad_server **out, pad_daemon *d);
/* The URL clients use: "http://127.0.0.1:PORT", "https://...", "unix:/path". */
const char *pad_server_url(const pad_server *s);
/* Stops accepting; waits up to timeout_s for requests in flight. */
void pad_server_stop(pad_server *s, int64_t timeout_s);
int64_t pad_server_in_flight(const pad_server *s);

/* Seconds since the epoch. */
int64_t pad_now(void);

#endif /* PAD_DAEMON_H */
