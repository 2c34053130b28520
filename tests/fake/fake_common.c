/*
 * The shared fake server: MHD wiring, routing, counters, fault injection and
 * the common control endpoints. JSON helpers are in fake_json.c, base64url
 * and JWTs in fake_jwt.c.
 */
#include "config.h"
#include "fake_common.h"
#include "fake_idle.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result fake_mhd_result;
#else
typedef int fake_mhd_result;
#endif

#define FAKE_MAX_FAULTS 16
#define FAKE_MAX_BODY (1024 * 1024)
#define FAKE_HUGE_DEFAULT (10L * 1024 * 1024)
#define CONTROL_PREFIX "/__control/"

typedef struct fault_slot {
	fake_fault fault;
	unsigned remaining;
} fault_slot;

typedef struct route_state {
	unsigned long count;
	fault_slot queue[FAKE_MAX_FAULTS];
	size_t qlen;
} route_state;

struct fake_server {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;
	fake_server_options opts;
	route_state *routes;
	unsigned long total;
	long clock_offset;
	unsigned short port;
	char url[64];
	/* Lets delayed answers end early when the server stops (atomic). */
	int stopping;
	fake_idle idle;
};

typedef struct conn_ctx {
	char *body;
	size_t len;
	size_t cap;
	int too_large;
} conn_ctx;

static const char *const fault_names[FAKE_FAULT_KIND_COUNT] = {
	[FAKE_FAULT_NONE] = "none",
	[FAKE_FAULT_HTTP_STATUS] = "status",
	[FAKE_FAULT_RATE_LIMIT] = "rate_limit",
	[FAKE_FAULT_DELAY] = "delay",
	[FAKE_FAULT_TRUNCATED] = "truncated",
	[FAKE_FAULT_NON_JSON] = "non_json",
	[FAKE_FAULT_HUGE_BODY] = "huge",
	[FAKE_FAULT_RESET] = "reset",
	[FAKE_FAULT_REDIRECT_LOOP] = "redirect_loop",
	[FAKE_FAULT_APP_ERROR] = "app_error",
	[FAKE_FAULT_NO_PAYLOAD] = "no_payload",
	[FAKE_FAULT_HUGE_HEADER] = "huge_header",
};

const char *fake_fault_kind_name(fake_fault_kind kind)
{
	if ((int)kind < 0 || kind >= FAKE_FAULT_KIND_COUNT)
		return "unknown";
	return fault_names[kind];
}

int fake_fault_kind_parse(fake_fault_kind *out, const char *name)
{
	int i;

	if (!name)
		return -1;
	if (!strcmp(name, "errcode")) {
		*out = FAKE_FAULT_APP_ERROR;
		return 0;
	}
	if (!strcmp(name, "no_resp")) {
		*out = FAKE_FAULT_NO_PAYLOAD;
		return 0;
	}
	for (i = 1; i < FAKE_FAULT_KIND_COUNT; i++) {
		if (!strcmp(name, fault_names[i])) {
			*out = (fake_fault_kind)i;
			return 0;
		}
	}
	return -1;
}

/* ---- requests and responses ---- */

const char *fake_request_header(const fake_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *fake_request_cookie(const fake_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

const char *fake_request_arg(const fake_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int fake_request_arg_long(long *out, const fake_request *req, const char *name)
{
	const char *s = fake_request_arg(req, name);
	char *end;
	long v;

	if (!s)
		return 1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || !*s || *end)
		return -1;
	*out = v;
	return 0;
}

int fake_request_from_loopback(const fake_request *req)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(req->conn,
		MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa;

	if (!info || !(sa = info->client_addr))
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return 0;
}

static void response_set_body(fake_response *resp, const char *text, size_t len)
{
	free(resp->body);
	resp->body = malloc(len + 1);
	resp->body_len = resp->body ? len : 0;
	if (resp->body) {
		memcpy(resp->body, text, len);
		resp->body[len] = '\0';
	}
}

void fake_response_json(fake_response *resp, unsigned status, json_object *obj)
{
	size_t len;
	const char *text = fake_json_text(obj, &len);

	resp->status = status;
	resp->content_type = "application/json; charset=utf-8";
	response_set_body(resp, text ? text : "null", text ? len : 4);
	json_object_put(obj);
}

void fake_response_text(fake_response *resp, unsigned status,
	const char *content_type, const char *text)
{
	resp->status = status;
	resp->content_type = content_type;
	response_set_body(resp, text, strlen(text));
}

int fake_response_header(fake_response *resp, const char *name, const char *value)
{
	char *n, *v;

	if (resp->nheaders >= FAKE_MAX_HEADERS)
		return -1;
	n = strdup(name);
	v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -1;
	}
	resp->header_name[resp->nheaders] = n;
	resp->header_value[resp->nheaders] = v;
	resp->nheaders++;
	return 0;
}

static void response_free(fake_response *resp)
{
	size_t i;

	free(resp->body);
	for (i = 0; i < resp->nheaders; i++) {
		free(resp->header_name[i]);
		free(resp->header_value[i]);
	}
}

void fake_control_ok(fake_response *resp, json_object *extra)
{
	json_object *obj = extra ? extra : json_object_new_object();

	json_object_object_add(obj, "ok", json_object_new_boolean(1));
	fake_response_json(resp, 200, obj);
}

void fake_control_error(fake_response *resp, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	json_object *obj = json_object_new_object();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(obj, "ok", json_object_new_boolean(0));
	json_object_object_add(obj, "error", json_object_new_string(msg));
	fake_response_json(resp, 400, obj);
}

/* ---- server state ---- */

void fake_server_lock(fake_server *srv)
{
	pthread_mutex_lock(&srv->lock);
}

void fake_server_unlock(fake_server *srv)
{
	pthread_mutex_unlock(&srv->lock);
}

unsigned short fake_server_port(const fake_server *srv)
{
	return srv->port;
}

const char *fake_server_url(const fake_server *srv)
{
	return srv->url;
}

time_t fake_server_now(fake_server *srv)
{
	time_t now;

	fake_server_lock(srv);
	now = time(NULL) + srv->clock_offset;
	fake_server_unlock(srv);
	return now;
}

void fake_server_set_clock_offset(fake_server *srv, long seconds)
{
	fake_server_lock(srv);
	srv->clock_offset = seconds;
	fake_server_unlock(srv);
}

long fake_server_clock_offset(fake_server *srv)
{
	long off;

	fake_server_lock(srv);
	off = srv->clock_offset;
	fake_server_unlock(srv);
	return off;
}

int fake_server_route_index(const fake_server *srv, const char *name)
{
	size_t i;

	if (!name)
		return -1;
	for (i = 0; i < srv->opts.nroutes; i++)
		if (!strcmp(srv->opts.routes[i].name, name))
			return (int)i;
	return -1;
}

int fake_server_inject_fault(fake_server *srv, int route, fake_fault_kind kind,
	unsigned count, long param)
{
	route_state *rs;
	int rc = -1;

	if (route < 0 || (size_t)route >= srv->opts.nroutes ||
	    kind <= FAKE_FAULT_NONE || kind >= FAKE_FAULT_KIND_COUNT)
		return -1;
	fake_server_lock(srv);
	rs = &srv->routes[route];
	if (rs->qlen < FAKE_MAX_FAULTS) {
		rs->queue[rs->qlen].fault.kind = kind;
		rs->queue[rs->qlen].fault.param = param;
		rs->queue[rs->qlen].remaining = count ? count : 1;
		rs->qlen++;
		rc = 0;
	}
	fake_server_unlock(srv);
	return rc;
}

void fake_server_clear_faults(fake_server *srv)
{
	size_t i;

	fake_server_lock(srv);
	for (i = 0; i < srv->opts.nroutes; i++)
		srv->routes[i].qlen = 0;
	fake_server_unlock(srv);
}

int fake_server_wait_idle(fake_server *srv, long timeout_ms)
{
	return fake_idle_wait(srv->daemon, &srv->idle, timeout_ms);
}

unsigned long fake_server_counter(fake_server *srv, int route)
{
	unsigned long n = 0;

	fake_server_lock(srv);
	if (route < 0)
		n = srv->total;
	else if ((size_t)route < srv->opts.nroutes)
		n = srv->routes[route].count;
	fake_server_unlock(srv);
	return n;
}

void fake_server_reset_counters(fake_server *srv)
{
	size_t i;

	fake_server_lock(srv);
	srv->total = 0;
	for (i = 0; i < srv->opts.nroutes; i++)
		srv->routes[i].count = 0;
	if (srv->opts.reset)
		srv->opts.reset(srv->opts.ctx);
	fake_server_unlock(srv);
}

/* Called with the lock held. */
static fake_fault take_fault(fake_server *srv, int route)
{
	route_state *rs = &srv->routes[route];
	fake_fault f = { FAKE_FAULT_NONE, 0 };

	if (rs->qlen == 0)
		return f;
	f = rs->queue[0].fault;
	if (--rs->queue[0].remaining == 0) {
		memmove(&rs->queue[0], &rs->queue[1], (rs->qlen - 1) * sizeof(rs->queue[0]));
		rs->qlen--;
	}
	return f;
}

/* ---- common control endpoints ---- */

/* Called with the lock held; the lock is recursive. */
static void control(fake_server *srv, fake_request *req, fake_response *resp)
{
	const char *what = req->path + strlen(CONTROL_PREFIX);
	int is_get = !strcmp(req->method, "GET");

	if (!strcmp(what, "stats") && is_get) {
		json_object *stats = json_object_new_object();
		json_object *reqs = json_object_new_object();
		size_t i;

		for (i = 0; i < srv->opts.nroutes; i++)
			json_object_object_add(reqs, srv->opts.routes[i].name,
				json_object_new_int64((int64_t)srv->routes[i].count));
		json_object_object_add(reqs, "total", json_object_new_int64((int64_t)srv->total));
		json_object_object_add(stats, "requests", reqs);
		json_object_object_add(stats, "clock_offset",
			json_object_new_int64(srv->clock_offset));
		if (srv->opts.stats)
			srv->opts.stats(srv->opts.ctx, stats);
		fake_control_ok(resp, stats);
		return;
	}
	if (is_get) {
		fake_control_error(resp, "control endpoint %s: use POST", what);
		return;
	}
	if (!strcmp(what, "reset")) {
		fake_server_reset_counters(srv);
		fake_control_ok(resp, NULL);
	} else if (!strcmp(what, "clear_faults")) {
		fake_server_clear_faults(srv);
		fake_control_ok(resp, NULL);
	} else if (!strcmp(what, "clock")) {
		long off;

		if (fake_request_arg_long(&off, req, "offset") != 0) {
			fake_control_error(resp, "clock: 'offset' must be an integer number of seconds");
			return;
		}
		srv->clock_offset = off;
		fake_control_ok(resp, NULL);
	} else if (!strcmp(what, "fault")) {
		const char *ep = fake_request_arg(req, "endpoint");
		const char *kind_name = fake_request_arg(req, "kind");
		int route = fake_server_route_index(srv, ep);
		fake_fault_kind kind;
		long count = 1, param = 0;

		if (route < 0) {
			fake_control_error(resp, "fault: unknown endpoint '%s'", ep ? ep : "");
			return;
		}
		if (fake_fault_kind_parse(&kind, kind_name) < 0) {
			fake_control_error(resp, "fault: unknown kind '%s'", kind_name ? kind_name : "");
			return;
		}
		if (fake_request_arg_long(&count, req, "count") < 0 || count < 1 ||
		    count > 1000000 || fake_request_arg_long(&param, req, "param") < 0) {
			fake_control_error(resp, "fault: 'count' and 'param' must be integers (count >= 1)");
			return;
		}
		if (fake_server_inject_fault(srv, route, kind, (unsigned)count, param) < 0) {
			fake_control_error(resp, "fault: queue for endpoint '%s' is full", ep);
			return;
		}
		fake_control_ok(resp, NULL);
	} else if (srv->opts.control) {
		srv->opts.control(srv->opts.ctx, req, resp);
		if (!resp->status)
			fake_control_error(resp, "unknown control endpoint '%s'", what);
	} else {
		fake_control_error(resp, "unknown control endpoint '%s'", what);
	}
}

/* ---- answering ---- */

typedef struct partial_body {
	char *body;
	size_t limit;
} partial_body;

static ssize_t partial_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	partial_body *pb = cls;
	size_t n;

	if (pos >= pb->limit)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = pb->limit - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(buf, pb->body + pos, n);
	return (ssize_t)n;
}

static void partial_free(void *cls)
{
	partial_body *pb = cls;

	free(pb->body);
	free(pb);
}

static const char huge_prefix[] = "{\"padding\":\"";
static const char huge_suffix[] = "\"}";

static ssize_t huge_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	uint64_t size = *(uint64_t *)cls;
	uint64_t pre = sizeof(huge_prefix) - 1, suf = sizeof(huge_suffix) - 1;
	size_t i;

	if (pos >= size)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > size - pos)
		max = (size_t)(size - pos);
	for (i = 0; i < max; i++) {
		uint64_t at = pos + i;

		if (at < pre)
			buf[i] = huge_prefix[at];
		else if (at >= size - suf)
			buf[i] = huge_suffix[at - (size - suf)];
		else
			buf[i] = 'x';
	}
	return (ssize_t)max;
}

static fake_mhd_result send_response(struct MHD_Connection *conn,
	fake_response *resp, fake_fault_kind fault, uint64_t huge_size)
{
	struct MHD_Response *r = NULL;
	fake_mhd_result ret;
	size_t i;

	if (fault == FAKE_FAULT_HUGE_BODY) {
		uint64_t *size = malloc(sizeof(*size));

		if (size) {
			*size = huge_size;
			r = MHD_create_response_from_callback(huge_size, 64 * 1024,
				huge_reader, size, free);
			if (!r)
				free(size);
		}
	} else if (fault == FAKE_FAULT_RESET) {
		partial_body *pb = malloc(sizeof(*pb));

		if (pb) {
			pb->body = resp->body;
			pb->limit = resp->body_len / 2;
			/* Promise more than will ever come. */
			r = MHD_create_response_from_callback(resp->body_len + 4096, 1024,
				partial_reader, pb, partial_free);
			if (r)
				resp->body = NULL;
			else
				free(pb);
		}
	} else {
		r = MHD_create_response_from_buffer(resp->body_len,
			resp->body ? resp->body : (char *)"", MHD_RESPMEM_MUST_COPY);
	}
	if (!r)
		return MHD_NO;
	if (resp->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	for (i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->header_name[i], resp->header_value[i]);
	ret = MHD_queue_response(conn, resp->status ? resp->status : 500, r);
	MHD_destroy_response(r);
	return ret;
}

static void sleep_ms(fake_server *srv, long ms)
{
	struct timespec slice = { 0, 10 * 1000 * 1000 };

	while (ms > 0 && !__atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE)) {
		if (ms < 10)
			slice.tv_nsec = ms * 1000 * 1000;
		nanosleep(&slice, NULL);
		ms -= 10;
	}
}

static void fault_answer(fake_server *srv, const fake_request *req,
	fake_fault f, fake_response *resp, uint64_t *huge_size)
{
	char buf[512];

	switch (f.kind) {
	case FAKE_FAULT_HTTP_STATUS: {
		unsigned status = f.param >= 100 && f.param <= 599 ? (unsigned)f.param : 503;

		snprintf(buf, sizeof(buf),
			"<html><head><title>%u</title></head><body><h1>%u</h1>"
			"<p>upstream error</p></body></html>\n", status, status);
		fake_response_text(resp, status, "text/html", buf);
		break;
	}
	case FAKE_FAULT_RATE_LIMIT:
		fake_response_text(resp, 429, "text/plain", "Too Many Requests\n");
		if (f.param >= 0) {
			snprintf(buf, sizeof(buf), "%ld", f.param);
			fake_response_header(resp, "Retry-After", buf);
		}
		break;
	case FAKE_FAULT_NON_JSON:
		fake_response_text(resp, 200, "text/html",
			"<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
			"<body>Checking your browser before accessing the site.</body></html>\n");
		break;
	case FAKE_FAULT_HUGE_BODY:
		*huge_size = f.param > 0 ? (uint64_t)f.param : (uint64_t)FAKE_HUGE_DEFAULT;
		if (*huge_size < sizeof(huge_prefix) + sizeof(huge_suffix))
			*huge_size = sizeof(huge_prefix) + sizeof(huge_suffix);
		resp->status = 200;
		resp->content_type = "application/json; charset=utf-8";
		break;
	case FAKE_FAULT_HUGE_HEADER: {
		size_t n = (size_t)(f.param > 0 ? f.param : 200 * 1024);
		char *v = malloc(n + 1);

		fake_response_text(resp, 200, "application/json", "{}");
		if (v) {
			memset(v, 'h', n);
			v[n] = '\0';
			fake_response_header(resp, "X-Huge", v);
			free(v);
		}
		break;
	}
	case FAKE_FAULT_REDIRECT_LOOP:
		snprintf(buf, sizeof(buf), "%s%s?%s=1", srv->url, req->path, FAKE_LOOP_PARAM);
		fake_response_text(resp, 302, "text/plain", "Found\n");
		fake_response_header(resp, "Location", buf);
		break;
	default:
		break;
	}
}

static int fault_is_early(fake_fault_kind k)
{
	return k == FAKE_FAULT_HTTP_STATUS || k == FAKE_FAULT_RATE_LIMIT ||
		k == FAKE_FAULT_NON_JSON || k == FAKE_FAULT_HUGE_BODY ||
		k == FAKE_FAULT_REDIRECT_LOOP || k == FAKE_FAULT_HUGE_HEADER;
}

static int find_route(const fake_server *srv, const char *path)
{
	size_t i;

	for (i = 0; i < srv->opts.nroutes; i++) {
		const char *rp = srv->opts.routes[i].path;
		size_t n = strlen(rp);

		if (n && rp[n - 1] == '*' ? !strncmp(rp, path, n - 1) : !strcmp(rp, path))
			return (int)i;
	}
	return -1;
}

static void not_found(fake_response *resp, unsigned status, const char *msg)
{
	json_object *obj = json_object_new_object();

	json_object_object_add(obj, "error", json_object_new_string(msg));
	fake_response_json(resp, status, obj);
}

static fake_mhd_result serve(fake_server *srv, struct MHD_Connection *conn,
	const char *url, const char *method, conn_ctx *cc)
{
	fake_request req;
	fake_response resp;
	fake_fault f = { FAKE_FAULT_NONE, 0 };
	uint64_t huge_size = 0;
	fake_mhd_result ret;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.conn = conn;
	req.method = method;
	req.path = url;
	req.body = cc->body ? cc->body : "";
	req.body_len = cc->len;
	req.route = -1;

	fake_server_lock(srv);
	/* Control requests stay out of the counters: tests read them. */
	if (!strncmp(url, CONTROL_PREFIX, strlen(CONTROL_PREFIX))) {
		if (srv->opts.no_control_http || !fake_request_from_loopback(&req))
			not_found(&resp, 404, "no such endpoint");
		else if (cc->too_large)
			not_found(&resp, 413, "request body too large");
		else
			control(srv, &req, &resp);
	} else if (srv->total++, cc->too_large) {
		not_found(&resp, 413, "request body too large");
	} else if ((req.route = find_route(srv, url)) < 0) {
		not_found(&resp, 404, "no such endpoint");
	} else {
		srv->routes[req.route].count++;
		if (fake_request_arg(&req, FAKE_LOOP_PARAM)) {
			f.kind = FAKE_FAULT_REDIRECT_LOOP;
			fault_answer(srv, &req, f, &resp, &huge_size);
		} else if (strcmp(method, srv->opts.routes[req.route].method)) {
			not_found(&resp, 405, "method not allowed");
		} else {
			if (srv->opts.observe)
				srv->opts.observe(srv->opts.ctx, &req, &resp);
			f = take_fault(srv, req.route);
			if (fault_is_early(f.kind)) {
				fault_answer(srv, &req, f, &resp, &huge_size);
			} else {
				if (f.kind == FAKE_FAULT_DELAY) {
					fake_server_unlock(srv);
					sleep_ms(srv, f.param);
					fake_server_lock(srv);
				}
				req.fault = f;
				srv->opts.handle(srv->opts.ctx, &req, &resp);
				if (f.kind == FAKE_FAULT_TRUNCATED)
					resp.body_len /= 2;
			}
		}
	}
	fake_server_unlock(srv);

	if (srv->opts.log) {
		char code[32] = "";

		if (resp.has_log_code)
			snprintf(code, sizeof(code), " code=%d", resp.log_code);
		fprintf(srv->opts.log, "fake: %s %s -> %u%s%s%s\n", method, url,
			resp.status, code, f.kind ? " fault=" : "",
			f.kind ? fake_fault_kind_name(f.kind) : "");
		fflush(srv->opts.log);
	}
	ret = send_response(conn, &resp, f.kind, huge_size);
	response_free(&resp);
	return ret;
}

static size_t body_limit(const fake_server *srv, const char *url)
{
	int route = find_route(srv, url);

	if (route < 0 || !srv->opts.route_max_body || !srv->opts.route_max_body[route])
		return FAKE_MAX_BODY;
	return srv->opts.route_max_body[route];
}

static fake_mhd_result on_request(void *cls, struct MHD_Connection *conn,
	const char *url, const char *method, const char *version,
	const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	fake_server *srv = cls;
	conn_ctx *cc = *con_cls;

	(void)version;
	if (!cc) {
		cc = calloc(1, sizeof(*cc));
		if (!cc)
			return MHD_NO;
		*con_cls = cc;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (cc->too_large || cc->len + n > body_limit(srv, url)) {
			cc->too_large = 1;
			return MHD_YES;
		}
		if (cc->len + n + 1 > cc->cap) {
			size_t cap = (cc->len + n + 1) * 2;
			char *p = realloc(cc->body, cap);

			if (!p)
				return MHD_NO;
			cc->body = p;
			cc->cap = cap;
		}
		memcpy(cc->body + cc->len, upload_data, n);
		cc->len += n;
		cc->body[cc->len] = '\0';
		return MHD_YES;
	}
	return serve(srv, conn, url, method, cc);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	enum MHD_RequestTerminationCode toe)
{
	conn_ctx *cc = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (cc) {
		free(cc->body);
		free(cc);
		*con_cls = NULL;
	}
}

int fake_server_start(fake_server **out, const fake_server_options *opts,
	char *err, size_t errlen)
{
	fake_server *srv;
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	pthread_mutexattr_t attr;

	*out = NULL;
	if (!opts || !opts->handle || (opts->nroutes && !opts->routes)) {
		snprintf(err, errlen, "fake server: no handler or route table");
		return -1;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv || !(srv->routes = calloc(opts->nroutes ? opts->nroutes : 1,
			sizeof(*srv->routes)))) {
		free(srv);
		snprintf(err, errlen, "fake server: out of memory");
		return -1;
	}
	srv->opts = *opts;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&srv->lock, &attr);
	pthread_mutexattr_destroy(&attr);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(opts->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv->daemon = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO,
		0, NULL, NULL, on_request, srv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_NOTIFY_CONNECTION, fake_idle_notify, &srv->idle,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
		/* Room for the huge_header fault's one long header line. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
		MHD_OPTION_END);
	if (!srv->daemon) {
		snprintf(err, errlen, "fake server: cannot listen on 127.0.0.1:%u: %s",
			(unsigned)opts->port, strerror(errno ? errno : EADDRINUSE));
		fake_server_stop(srv);
		return -1;
	}
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_LISTEN_FD);
	if (info) {
		struct sockaddr_in bound;
		socklen_t len = sizeof(bound);

		if (getsockname(info->listen_fd, (struct sockaddr *)&bound, &len) == 0)
			srv->port = ntohs(bound.sin_port);
	}
	if (!srv->port) {
		snprintf(err, errlen, "fake server: cannot read the bound port");
		fake_server_stop(srv);
		return -1;
	}
	snprintf(srv->url, sizeof(srv->url), "http://127.0.0.1:%u", (unsigned)srv->port);
	*out = srv;
	return 0;
}

void fake_server_stop(fake_server *srv)
{
	if (!srv)
		return;
	__atomic_store_n(&srv->stopping, 1, __ATOMIC_RELEASE);
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	pthread_mutex_destroy(&srv->lock);
	free(srv->routes);
	free(srv);
}
