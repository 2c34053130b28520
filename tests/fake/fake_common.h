/*
 * fake_common: the pieces every fake provider server shares.
 *
 * A fake is a real HTTP server (libmicrohttpd, one thread per connection)
 * bound to 127.0.0.1 that routes requests to a provider's handlers, counts
 * them per route, and injects faults per route so that client code can be
 * tested against failures that real providers produce. It is deliberately
 * independent of libprovauth: sharing code with the code under test would let
 * both share the same bugs.
 *
 * Locking: one recursive mutex guards the server and the provider state.
 * Route handlers, the observe hook and the control hook run with it held;
 * provider C APIs take it with fake_server_lock()/fake_server_unlock().
 */
#ifndef FAKE_COMMON_H
#define FAKE_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <json-c/json.h>

struct MHD_Connection;

typedef struct fake_server fake_server;

/*
 * Faults, injected per route for the next `count` requests (a FIFO per
 * route, so "two 503s, then one 10005" can be queued). Unless noted, the
 * request is answered without running the handler, as a gateway or load
 * balancer in front of the real service would.
 */
typedef enum fake_fault_kind {
	FAKE_FAULT_NONE = 0,
	FAKE_FAULT_HTTP_STATUS,  /* param: HTTP status (default 503), small HTML body */
	FAKE_FAULT_RATE_LIMIT,   /* 429; param >= 0: Retry-After seconds, < 0: no header */
	FAKE_FAULT_DELAY,        /* param ms of waiting, then the handler answers normally */
	FAKE_FAULT_TRUNCATED,    /* the handler runs; its body is cut in half */
	FAKE_FAULT_NON_JSON,     /* HTTP 200 with an HTML page */
	FAKE_FAULT_HUGE_BODY,    /* HTTP 200, param bytes (default 10 MiB) of valid JSON */
	FAKE_FAULT_RESET,        /* the handler runs; half its body is sent, then the
	                          * connection drops short of Content-Length */
	FAKE_FAULT_REDIRECT_LOOP,/* 302 to the same path, forever (see below) */
	FAKE_FAULT_APP_ERROR,    /* provider-level error; param: provider error code */
	FAKE_FAULT_NO_PAYLOAD,   /* the handler runs; the reply lacks its payload member */
	FAKE_FAULT_HUGE_HEADER,  /* HTTP 200 with one header line of param bytes (default 200 KiB) */
	FAKE_FAULT_KIND_COUNT
} fake_fault_kind;

typedef struct fake_fault {
	fake_fault_kind kind;
	long param;
} fake_fault;

/* Names used by the control endpoint: "status", "rate_limit", "delay",
 * "truncated", "non_json", "huge", "reset", "redirect_loop", "app_error"
 * (alias "errcode"), "no_payload" (alias "no_resp"). */
const char *fake_fault_kind_name(fake_fault_kind kind);
int fake_fault_kind_parse(fake_fault_kind *out, const char *name);

/*
 * A redirect loop's Location carries this query parameter; requests that
 * carry it are redirected again without consuming a fault, so a client that
 * follows redirects loops until its own limit stops it.
 */
#define FAKE_LOOP_PARAM "__fake_loop"

typedef struct fake_request {
	struct MHD_Connection *conn;
	const char *method;
	const char *path;        /* without the query string */
	const char *body;        /* NUL-terminated; "" when none */
	size_t body_len;
	int route;               /* index in the route table, -1 for control */
	fake_fault fault;        /* APP_ERROR / NO_PAYLOAD for the handler to honour */
} fake_request;

/* Case-insensitive request header, cookie and query argument lookups. */
const char *fake_request_header(const fake_request *req, const char *name);
const char *fake_request_cookie(const fake_request *req, const char *name);
const char *fake_request_arg(const fake_request *req, const char *name);
/* A decimal query argument: 0 with *out set, 1 when absent (*out kept),
 * -1 when it is not an integer. */
int fake_request_arg_long(long *out, const fake_request *req, const char *name);
/* Whether the peer is a loopback address. */
int fake_request_from_loopback(const fake_request *req);

#define FAKE_MAX_HEADERS 8

typedef struct fake_response {
	unsigned status;
	char *body;              /* malloc'd, owned by the response */
	size_t body_len;
	const char *content_type;
	size_t nheaders;
	char *header_name[FAKE_MAX_HEADERS];
	char *header_value[FAKE_MAX_HEADERS];
	int log_code;            /* provider error code for the request log */
	int has_log_code;
} fake_response;

/* Serialize obj (reference consumed) as the body. */
void fake_response_json(fake_response *resp, unsigned status, json_object *obj);
void fake_response_text(fake_response *resp, unsigned status,
	const char *content_type, const char *text);
int fake_response_header(fake_response *resp, const char *name, const char *value);

typedef void (*fake_handler_fn)(void *ctx, const fake_request *req,
	fake_response *resp);

typedef struct fake_route {
	const char *name;        /* counter and fault name, e.g. "login" */
	const char *method;      /* "GET", "POST" */
	const char *path;        /* ending in '*': every path with that prefix */
} fake_route;

typedef struct fake_server_options {
	unsigned short port;             /* 0: any free port */
	const fake_route *routes;
	size_t nroutes;
	/* Per route (parallel to routes), the largest request body; larger ones
	 * answer HTTP 413. NULL, or 0 for a route: 1 MiB. */
	const size_t *route_max_body;
	/* Runs for every routed request, before faults. */
	fake_handler_fn observe;
	/* Answers a routed request. */
	fake_handler_fn handle;
	/* Answers /__control/<x> requests the common layer does not know;
	 * NULL disables them. */
	fake_handler_fn control;
	/* Adds provider fields to the /__control/stats object (a json_object *). */
	void (*stats)(void *ctx, json_object *stats);
	/* Resets provider counters along with the route counters. */
	void (*reset)(void *ctx);
	int no_control_http;             /* disable every /__control/ endpoint */
	void *ctx;
	FILE *log;                       /* one line per request, NULL: silent */
} fake_server_options;

/* 0, or -1 with a message in err. */
int fake_server_start(fake_server **out, const fake_server_options *opts,
	char *err, size_t errlen);
void fake_server_stop(fake_server *srv);

unsigned short fake_server_port(const fake_server *srv);
/* "http://127.0.0.1:PORT", owned by the server. */
const char *fake_server_url(const fake_server *srv);

void fake_server_lock(fake_server *srv);
void fake_server_unlock(fake_server *srv);

/* The server clock: time(NULL) plus the offset. */
time_t fake_server_now(fake_server *srv);
void fake_server_set_clock_offset(fake_server *srv, long seconds);
long fake_server_clock_offset(fake_server *srv);

int fake_server_route_index(const fake_server *srv, const char *name);
/* 0, or -1 for a bad route, kind or a full queue. count 0 is taken as 1. */
int fake_server_inject_fault(fake_server *srv, int route, fake_fault_kind kind,
	unsigned count, long param);
void fake_server_clear_faults(fake_server *srv);
/*
 * 0 once no connection is open or waiting to be accepted (so every request
 * a killed client left behind has been carried out), -1 after timeout_ms.
 */
int fake_server_wait_idle(fake_server *srv, long timeout_ms);
/* Requests seen by a route, or by every path (route -1: total). */
unsigned long fake_server_counter(fake_server *srv, int route);
void fake_server_reset_counters(fake_server *srv);

/* Base64url without padding; NULL on allocation failure. */
char *fake_b64url_encode(const void *data, size_t len);
/* Accepts padded or unpadded input; 0, or -1 when it is not base64url. */
int fake_b64url_decode(unsigned char **out, size_t *outlen, const char *in, size_t inlen);

enum {
	FAKE_JWT_OK = 0,
	FAKE_JWT_MALFORMED = -1,     /* not three base64url JSON parts */
	FAKE_JWT_BAD_SIGNATURE = -2
};

/* HS256 JWT from two JSON texts; malloc'd, NULL on failure. */
char *fake_jwt_sign(const unsigned char *key, size_t keylen,
	const char *header_json, const char *payload_json);
/* Decodes and checks the signature; on FAKE_JWT_OK and BAD_SIGNATURE the
 * parsed header and payload objects are returned (caller puts them). */
int fake_jwt_decode(json_object **header, json_object **payload,
	const unsigned char *key, size_t keylen, const char *token);

/* Control endpoint answers: {"ok":true, ...extra} or 400 {"ok":false,"error":msg}. */
void fake_control_ok(fake_response *resp, json_object *extra);
void fake_control_error(fake_response *resp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Strict parse of exactly len bytes (trailing whitespace allowed); NULL
 * when it is not one JSON value. */
json_object *fake_json_parse(const char *text, size_t len);
/* Compact serialization without escaped slashes; owned by obj. */
const char *fake_json_text(json_object *obj, size_t *len);
/* JSON helpers that tolerate missing members and wrong types. */
const char *fake_json_str(json_object *obj, const char *key);
int fake_json_int64(long long *out, json_object *obj, const char *key);

/*
 * For the fake server programs: SIGTERM and SIGINT wake fake_main_wait,
 * SIGPIPE is ignored. Call before starting the server. 0, or -1 with errno.
 */
int fake_main_catch_signals(void);
/* Returns on SIGTERM or SIGINT, or at end of standard input when watch_stdin. */
void fake_main_wait(int watch_stdin);

#endif
