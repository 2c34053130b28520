/*
 * The listener: libmicrohttpd with its own thread pool, on TCP, TLS or a
 * Unix socket. Each request holds a reference to the world it started in
 * (a reload never pulls settings or plugins from under it), goes through
 * limits, the router and the bearer check, and gets a reply that is JSON
 * whenever it is an error: never a page of text or a stack.
 *
 * MHD's own percent-decoding is turned off (unescape_raw): the router
 * decodes each capture by itself, so an escaped '/' stays inside its
 * segment and is refused there, and query values are decoded on demand.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "daemon.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result pad_mhd_result;
#else
typedef int pad_mhd_result;
#endif

#define MAX_DECODED 16
/* Bytes of an over-long body read and dropped before answering 413 mid-upload. */
#define DISCARD_MAX ((size_t)16 << 20)

typedef struct rate_slot {
	char name[128];
	pad_bucket bucket;
} rate_slot;

/* Client addresses whose wrong tokens are counted at once; past that the quietest is forgotten. */
#define FAIL_SLOTS 256

typedef struct fail_slot {
	char addr[INET6_ADDRSTRLEN];
	pad_bucket bucket;
} fail_slot;

struct pad_server {
	struct MHD_Daemon *mhd;
	pad_daemon *d;
	char url[512];
	char *unix_path;
	char *cert, *key;           /* PEM text, kept for MHD's lifetime */
	atomic_long in_flight;
	pthread_mutex_t rate_lock;  /* rates and fails */
	rate_slot rates[PAD_MAX_TOKENS];
	size_t nrates;
	fail_slot fails[FAIL_SLOTS];
	size_t nfails;
};

typedef struct conn {
	pad_server *s;
	pad_world *world;
	struct MHD_Connection *mc;
	char *body;
	size_t len, cap;
	int too_large;
	int responded;
	size_t discarded;           /* body bytes dropped after max_body */
	double start;
	char id[17];
	char captures[PAD_CAPTURE_BUF];
	char *decoded[MAX_DECODED];
	size_t ndecoded;
	char *path;                 /* the decoded path handlers see */
} conn;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void request_id(char out[17])
{
	static atomic_ulong fallback;
	unsigned char b[8];
	int i;

	if (RAND_bytes(b, sizeof(b)) != 1) {
		unsigned long v = atomic_fetch_add(&fallback, 1) ^ (unsigned long)time(NULL);
		memcpy(b, &v, sizeof(b) < sizeof(v) ? sizeof(b) : sizeof(v));
	}
	for (i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---- what handlers may ask of a request ---- */

const char *pad_request_query(const pad_request *req, const char *name)
{
	conn *c = req->conn;
	const char *raw;
	char *dst;
	size_t len;
	long n;

	if (!c || !c->mc || !(raw = MHD_lookup_connection_value(c->mc, MHD_GET_ARGUMENT_KIND, name)))
		return NULL;
	if (c->ndecoded >= MAX_DECODED)
		return NULL;
	len = strlen(raw);
	if (!(dst = malloc(len + 1)))
		return NULL;
	/* MHD has turned '+' into ' ' already. A value that decodes to a NUL would be cut short:
	 * refused as absent. */
	if ((n = pad_percent_decode(dst, len + 1, raw, len)) < 0 || strlen(dst) != (size_t)n) {
		free(dst);
		return NULL;
	}
	c->decoded[c->ndecoded++] = dst;
	return dst;
}

const char *pad_request_header(const pad_request *req, const char *name)
{
	conn *c = req->conn;

	return c && c->mc ? MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, name) : NULL;
}

/* ---- wrong tokens, per client address ---- */

/*
 * Who is guessing, as text: an IPv4 address; for IPv6 its /64, which one
 * host is given whole (counting single addresses would let it try 2^64
 * times as often); every Unix-socket client is "unix" (the socket's mode
 * is its access control).
 */
static void client_address(const conn *c, char out[INET6_ADDRSTRLEN])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, INET6_ADDRSTRLEN, "unix");
	if (sa && sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, INET6_ADDRSTRLEN);
	} else if (sa && sa->sa_family == AF_INET6) {
		struct in6_addr a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a)) {
			inet_ntop(AF_INET, &a.s6_addr[12], out, INET6_ADDRSTRLEN);
		} else {
			memset(&a.s6_addr[8], 0, 8);
			inet_ntop(AF_INET6, &a, out, INET6_ADDRSTRLEN);
		}
	}
}

/* The address's slot, or NULL (create: a new one, replacing the fullest bucket when all are taken). Locked. */
static fail_slot *fail_slot_of(pad_server *s, const char *addr, int create, double rate, double burst,
                               double now)
{
	size_t i, best = 0;
	double best_level = -1;

	for (i = 0; i < s->nfails; i++)
		if (strcmp(s->fails[i].addr, addr) == 0)
			return &s->fails[i];
	if (!create)
		return NULL;
	if (s->nfails < FAIL_SLOTS) {
		best = s->nfails++;
	} else {
		/* The address with the most failures left to spend has shown the least: it goes. */
		for (i = 0; i < FAIL_SLOTS; i++) {
			pad_bucket b = s->fails[i].bucket;
			double level;
			(void)pad_bucket_take(&b, rate, burst, now);
			level = b.level;
			if (level > best_level) {
				best_level = level;
				best = i;
			}
		}
	}
	memset(&s->fails[best], 0, sizeof(s->fails[best]));
	snprintf(s->fails[best].addr, sizeof(s->fails[best].addr), "%s", addr);
	return &s->fails[best];
}

int pad_auth_blocked(const pad_request *req)
{
	const conn *c = req->conn;
	char addr[INET6_ADDRSTRLEN];
	int64_t per_minute, wait = 0;
	fail_slot *f;

	if (!c || !c->mc || (per_minute = req->world->config->auth_failures_per_minute) <= 0)
		return 0;
	client_address(c, addr);
	pthread_mutex_lock(&c->s->rate_lock);
	if ((f = fail_slot_of(c->s, addr, 0, 0, 0, 0)))
		wait = pad_bucket_wait(&f->bucket, (double)per_minute / 60.0, (double)per_minute, now_s());
	pthread_mutex_unlock(&c->s->rate_lock);
	return (int)wait;
}

void pad_auth_failed(const pad_request *req)
{
	const conn *c = req->conn;
	char addr[INET6_ADDRSTRLEN];
	int64_t per_minute;
	double rate, now = now_s();
	fail_slot *f;

	if (!c || !c->mc || (per_minute = req->world->config->auth_failures_per_minute) <= 0)
		return;
	rate = (double)per_minute / 60.0;
	client_address(c, addr);
	pthread_mutex_lock(&c->s->rate_lock);
	if ((f = fail_slot_of(c->s, addr, 1, rate, (double)per_minute, now)))
		(void)pad_bucket_take(&f->bucket, rate, (double)per_minute, now);
	pthread_mutex_unlock(&c->s->rate_lock);
	pad_metric_add("provauthd_auth_failures_total", "", 1);
}

/* ---- the pipeline ---- */

/* Adds the request id to an error body the handler or we built. */
static void stamp_error(pad_reply *rep, const char *id)
{
	json_object *root, *err;

	if (rep->status < 400 || !rep->content_type || strcmp(rep->content_type, "application/json") != 0 ||
	    !rep->body)
		return;
	if (!(root = json_tokener_parse(rep->body)))
		return;
	if (json_object_object_get_ex(root, "error", &err) && json_object_is_type(err, json_type_object) &&
	    !json_object_object_get_ex(err, "request_id", NULL)) {
		json_object_object_add(err, "request_id", json_object_new_string(id));
		pad_reply_json(rep, rep->status, root);
		return;
	}
	json_object_put(root);
}

static int rate_check(pad_server *s, const pad_config *cfg, const pad_token *t)
{
	size_t i;
	int64_t wait;

	if (cfg->rate <= 0)
		return 0;
	pthread_mutex_lock(&s->rate_lock);
	for (i = 0; i < s->nrates && strcmp(s->rates[i].name, t->name) != 0; i++)
		;
	if (i == s->nrates) {
		if (s->nrates == PAD_MAX_TOKENS) {
			/* More names than slots after many reloads: start over, briefly generous. */
			s->nrates = 0;
			i = 0;
		}
		memset(&s->rates[i], 0, sizeof(s->rates[i]));
		snprintf(s->rates[i].name, sizeof(s->rates[i].name), "%s", t->name);
		s->nrates++;
	}
	wait = pad_bucket_take(&s->rates[i].bucket, (double)cfg->rate, (double)cfg->burst, now_s());
	pthread_mutex_unlock(&s->rate_lock);
	return (int)wait;
}

/* 429 with `code`, saying why and for how long, and Retry-After in whole seconds. */
static void reply_wait(pad_reply *rep, int wait, const char *code, const char *why)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", wait);
	pad_reply_error(rep, 429, code, "%s; retry in %d s", why, wait);
	pad_reply_header(rep, "Retry-After", v);
}

static int is_form(conn *c)
{
	const char *ct = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

	return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 &&
	       (ct[33] == '\0' || ct[33] == ';' || ct[33] == ' ');
}

static void dispatch(conn *c, pad_request *req, pad_reply *rep, const pad_route **route)
{
	pad_daemon *d = c->s->d;
	const pad_config *cfg;
	char allow[64];
	int m, rc;

	if (!c->world) {
		pad_reply_error(rep, 503, "unavailable", "the daemon is not serving");
		return;
	}
	cfg = c->world->config;
	if (atomic_load(&d->draining) && strcmp(req->path, "/healthz") != 0) {
		pad_reply_error(rep, 503, "draining", "the daemon is shutting down; try another instance");
		return;
	}
	m = pad_route_match_in(pad_routes, pad_route_count, route, req, c->captures, sizeof(c->captures), allow,
	                       sizeof(allow));
	switch (m) {
	case 0:
		break;
	case 405:
		pad_reply_error(rep, 405, "method_not_allowed", "%s is not allowed here", req->method);
		pad_reply_header(rep, "Allow", allow);
		return;
	case 400:
		pad_reply_error(rep, 400, "bad_id", "an id in the path is empty, badly encoded, longer than %d "
		                "bytes, or holds '/' or NUL", PAD_MAX_CAPTURE);
		return;
	case 414:
		pad_reply_error(rep, 414, "too_long", "the path is longer than %d bytes", PAD_MAX_PATH);
		return;
	default:
		pad_reply_error(rep, 404, "not_found", "no such route");
		return;
	}
	/* Handlers see the path decoded, as daemon.h says; it matched, so its escapes are all captures'. */
	{
		size_t len = strlen(req->path);
		if ((c->path = malloc(len + 1)) && pad_percent_decode(c->path, len + 1, req->path, len) >= 0)
			req->path = c->path;
	}
	if (c->too_large) {
		pad_reply_error(rep, 413, "too_large", "the request body is over %lld bytes", (long long)cfg->max_body);
		return;
	}
	if ((*route)->scope > PAD_SCOPE_NONE) {
		const char *h = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		const char *cookie = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
		char from_cookie[1024];
		const char *tok;
		size_t len;
		int wait, n, presented = 0;

		/* An address that presented too many wrong tokens waits, whatever it presents now. */
		if ((wait = pad_auth_blocked(req)) > 0) {
			reply_wait(rep, wait, "auth_rate_limited", "too many wrong tokens from this address");
			return;
		}
		if (h) {
			presented = 1;
			if (pad_bearer_parse(h, &tok, &len) == 0)
				req->token = pad_config_find_token(cfg, tok, len);
		} else if (cookie && strcmp(req->method, "GET") == 0 &&
		           (n = pad_cookie_bearer(cookie, from_cookie, sizeof(from_cookie))) > 0) {
			/* The status page's sign-in cookie (ops/login.c): read-only use, GET alone. */
			presented = 1;
			req->token = pad_config_find_token(cfg, from_cookie, (size_t)n);
		}
		OPENSSL_cleanse(from_cookie, sizeof(from_cookie));
		if (!req->token && presented)
			pad_auth_failed(req);
		if (!req->token) {
			pad_reply_error(rep, 401, "unauthorized", h ? "unknown or malformed bearer token"
			                                            : "this route needs a bearer token");
			pad_reply_header(rep, "WWW-Authenticate", "Bearer realm=\"provauthd\"");
			return;
		}
		if (req->token->scope < (*route)->scope) {
			pad_reply_error(rep, 403, "forbidden", "this route needs the %s scope; the token has %s",
			                pad_scope_name((*route)->scope), pad_scope_name(req->token->scope));
			return;
		}
		if ((wait = rate_check(c->s, cfg, req->token)) > 0) {
			reply_wait(rep, wait, "rate_limited", "too many requests for this token");
			return;
		}
	}
	/* Open routes may take a form (ops/'s sign-in form posts one); they get the body as it came. */
	if (!((*route)->scope == PAD_SCOPE_NONE && is_form(c)) &&
	    pad_body_parse(&req->json, req->body, req->body_len) < 0) {
		pad_reply_error(rep, 400, "bad_json", "the body must be a JSON object");
		return;
	}
	rc = (*route)->handler(req, rep);
	if ((rc < 0 && rep->status == 0) || rep->status < 100 || rep->status > 599) {
		pad_reply_clear(rep);
		pad_reply_error(rep, 500, "internal", "the request failed inside the daemon");
	}
}

static pad_mhd_result respond(conn *c, const char *url, const char *method)
{
	pad_server *s = c->s;
	pad_request req;
	pad_reply rep;
	const pad_route *route = NULL;
	struct MHD_Response *resp;
	pad_mhd_result ret;
	char labels[160];
	double ms;
	size_t i;

	memset(&req, 0, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	req.method = method;
	req.path = url;
	req.body = c->body ? c->body : "";
	req.body_len = c->len;
	req.world = c->world;
	req.daemon = s->d;
	req.conn = c;
	memcpy(req.id, c->id, sizeof(req.id));
	dispatch(c, &req, &rep, &route);
	json_object_put(req.json);
	req.json = NULL;
	if (!rep.body && rep.status >= 400)
		pad_reply_error(&rep, rep.status, "error", "the request failed");
	stamp_error(&rep, c->id);

	resp = MHD_create_response_from_buffer(rep.len, rep.body ? rep.body : (char *)"", MHD_RESPMEM_MUST_COPY);
	if (!resp) {
		pad_reply_clear(&rep);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        rep.content_type ? rep.content_type : "application/json");
	MHD_add_response_header(resp, "X-Request-Id", c->id);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	for (i = 0; i < rep.nheaders; i++)
		MHD_add_response_header(resp, rep.header_name[i], rep.header_value[i]);
	ret = MHD_queue_response(c->mc, (unsigned)rep.status, resp);
	MHD_destroy_response(resp);

	ms = (now_s() - c->start) * 1000.0;
	snprintf(labels, sizeof(labels), "route=%s,code=%d", route ? route->name : "unmatched", rep.status);
	pad_metric_add("provauthd_http_requests_total", labels, 1);
	snprintf(labels, sizeof(labels), "route=%s", route ? route->name : "unmatched");
	pad_metric_observe_ms("provauthd_http_request_duration_ms", labels, ms);
	{
		/* The method is echoed only when it is one of ours: it is client text. */
		const provauth_log_field f[] = {
			PAD_F_STR("request_id", c->id),
			PAD_F_STR("method", route ? route->method : "other"),
			PAD_F_STR("route", route ? route->name : "unmatched"),
			PAD_F_INT("status", rep.status),
			PAD_F_INT("ms", (int64_t)ms),
			PAD_F_STR("token", req.token ? req.token->name : ""),
		};
		pad_log(s->d, rep.status >= 500 ? PROVAUTH_LOG_WARN : PROVAUTH_LOG_INFO, "http_request", f,
		        PAD_ARRAY_LEN(f));
	}
	pad_reply_clear(&rep);
	return ret;
}

static pad_mhd_result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	pad_server *s = cls;
	conn *c = *ctx;

	(void)version;
	if (!c) {
		if (!(c = calloc(1, sizeof(*c))))
			return MHD_NO;
		c->s = s;
		c->mc = mc;
		c->start = now_s();
		c->world = pad_world_get(s->d);
		request_id(c->id);
		atomic_fetch_add(&s->in_flight, 1);
		*ctx = c;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		int64_t max = c->world ? c->world->config->max_body : 0;

		*upload_size = 0;
		if (c->responded)
			return MHD_YES;
		if (c->too_large || (int64_t)(c->len + n) > max) {
			/*
			 * Read on and drop, so the client gets its 413 rather than a reset
			 * mid-upload; but not forever: past DISCARD_MAX, answer now and let
			 * MHD close the connection.
			 */
			c->too_large = 1;
			free(c->body);
			c->body = NULL;
			c->len = c->cap = 0;
			c->discarded += n;
			if (c->discarded > DISCARD_MAX) {
				c->responded = 1;
				return respond(c, url, method);
			}
			return MHD_YES;
		}
		if (c->len + n + 1 > c->cap) {
			size_t cap = c->cap ? c->cap : 4096;
			char *b;
			while (cap < c->len + n + 1)
				cap *= 2;
			if (!(b = realloc(c->body, cap)))
				return MHD_NO;
			c->body = b;
			c->cap = cap;
		}
		memcpy(c->body + c->len, upload, n);
		c->len += n;
		c->body[c->len] = '\0';
		return MHD_YES;
	}
	if (c->responded)
		return MHD_YES;
	c->responded = 1;
	return respond(c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **ctx, enum MHD_RequestTerminationCode why)
{
	pad_server *s = cls;
	conn *c = *ctx;
	size_t i;

	(void)mc;
	(void)why;
	if (!c)
		return;
	*ctx = NULL;
	for (i = 0; i < c->ndecoded; i++)
		free(c->decoded[i]);
	free(c->body);
	free(c->path);
	pad_world_put(c->world);
	free(c);
	atomic_fetch_sub(&s->in_flight, 1);
}

/* Leaves the URI as it came: see the comment at the top. */
static size_t unescape_raw(void *cls, struct MHD_Connection *mc, char *uri)
{
	(void)cls;
	(void)mc;
	return strlen(uri);
}

/* ---- starting and stopping ---- */

static void wipe_free(char *secret)
{
	if (secret)
		OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
}

static int start_error(pad_daemon *d, const char *what, const char *detail)
{
	const provauth_log_field f[] = { PAD_F_STR("what", what), PAD_F_STR("error", detail) };

	pad_log(d, PROVAUTH_LOG_ERROR, "listen_failed", f, PAD_ARRAY_LEN(f));
	fprintf(stderr, "provauthd: %s: %s\n", what, detail);
	return PROVAUTH_ECONFIG;
}

/*
 * A PEM file read under the library's rules for keys (provauth_trusted_file_read:
 * owner and modes of the file and every directory above it; the key readable by
 * its owner alone). NULL after start_error names the file and what is wrong.
 */
static char *read_pem(pad_daemon *d, const char *path, unsigned flags, const char *what)
{
	char *text = NULL, *copy;
	size_t len = 0;
	int rc;

	if ((rc = provauth_trusted_file_read(&text, &len, path, flags, 1 << 20)) < 0) {
		start_error(d, path, provauth_last_error());
		return NULL;
	}
	if (!strstr(text, "-----BEGIN ") || !(copy = malloc(len + 1))) {
		OPENSSL_cleanse(text, len);
		provauth_free(text);
		start_error(d, path, what);
		return NULL;
	}
	memcpy(copy, text, len + 1);
	OPENSSL_cleanse(text, len);
	provauth_free(text);
	return copy;
}

/*
 * The Unix socket, made with its final mode (umask at bind time, so it is
 * never more open than asked, even for an instant). A path that exists is
 * replaced only if it is a socket nobody answers on.
 */
static int unix_listen(pad_daemon *d, const pad_config *cfg)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(cfg->unix_path) >= sizeof(sa.sun_path))
		return start_error(d, cfg->unix_path, "the path is too long for a Unix socket");
	memcpy(sa.sun_path, cfg->unix_path, strlen(cfg->unix_path));
	if (lstat(cfg->unix_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return start_error(d, cfg->unix_path, "exists and is not a socket; refusing to replace it");
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
			rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
			close(fd);
			if (rc == 0)
				return start_error(d, cfg->unix_path, "another process is listening on this socket");
		}
		if (unlink(cfg->unix_path) != 0)
			return start_error(d, cfg->unix_path, strerror(errno));
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return start_error(d, cfg->unix_path, strerror(errno));
	old = umask((mode_t)(~cfg->socket_mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || chmod(cfg->unix_path, (mode_t)cfg->socket_mode) != 0 || listen(fd, 128) != 0) {
		int e = errno;
		close(fd);
		return start_error(d, cfg->unix_path, strerror(e));
	}
	return fd;
}

int pad_server_start(pad_server **out, pad_daemon *d)
{
	struct MHD_OptionItem opts[16];
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC;
	pad_world *w = pad_world_get(d);
	const pad_config *cfg;
	pad_server *s;
	size_t n = 0;
	int fd = -1, rc = 0;

	*out = NULL;
	if (!w)
		return PROVAUTH_EINVAL;
	cfg = w->config;
	if (!(s = calloc(1, sizeof(*s)))) {
		pad_world_put(w);
		return PROVAUTH_ENOMEM;
	}
	s->d = d;
	atomic_init(&s->in_flight, 0);
	pthread_mutex_init(&s->rate_lock, NULL);
	memset(&ss, 0, sizeof(ss));

	if (cfg->tls_certificate || cfg->tls_key) {
		if (!cfg->tls_certificate || !cfg->tls_key) {
			rc = start_error(d, "daemon.tls_certificate", "TLS needs both tls_certificate and tls_key");
			goto fail;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			rc = start_error(d, "daemon.tls_certificate", "this libmicrohttpd was built without TLS");
			goto fail;
		}
		if (!(s->cert = read_pem(d, cfg->tls_certificate, 0, "no PEM certificate in this file")) ||
		    !(s->key = read_pem(d, cfg->tls_key, PROVAUTH_TRUST_SECRET, "no PEM key in this file"))) {
			rc = PROVAUTH_ECONFIG;
			goto fail;
		}
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, s->key };
	}
	if (cfg->unix_path) {
		if ((fd = unix_listen(d, cfg)) < 0) {
			rc = fd;
			goto fail;
		}
		if (!(s->unix_path = strdup(cfg->unix_path))) {
			close(fd);
			rc = PROVAUTH_ENOMEM;
			goto fail;
		}
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, fd, NULL };
	} else {
		struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET, cfg->host, &v4->sin_addr) == 1) {
			v4->sin_family = AF_INET;
			v4->sin_port = htons((uint16_t)cfg->port);
		} else if (inet_pton(AF_INET6, cfg->host, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons((uint16_t)cfg->port);
			flags |= MHD_USE_IPv6;
		} else {
			rc = start_error(d, "daemon.listen", "the address must be numeric (127.0.0.1, ::1, 0.0.0.0)");
			goto fail;
		}
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	}
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->connection_timeout, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_raw, NULL };
	/* MHD splits the connection limit among its threads and refuses more threads than connections. */
	if (cfg->threads > 1 && cfg->max_connections > 1)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
		                                     (intptr_t)(cfg->threads < cfg->max_connections ? cfg->threads
		                                                                                 : cfg->max_connections),
		                                     NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

	s->mhd = MHD_start_daemon(flags, (uint16_t)(cfg->unix_path ? 0 : cfg->port), NULL, NULL, on_request, s,
	                          MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!s->mhd) {
		if (fd >= 0)
			close(fd);
		rc = start_error(d, cfg->listen, "cannot listen there (in use, or no such address)");
		goto fail;
	}
	if (cfg->unix_path) {
		snprintf(s->url, sizeof(s->url), "unix:%s", cfg->unix_path);
	} else {
		struct sockaddr_storage bound;
		socklen_t blen = sizeof(bound);
		int port = cfg->port;
		const char *scheme = s->cert ? "https" : "http";
		info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_LISTEN_FD);
		if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
			port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
			                                         : ((struct sockaddr_in *)&bound)->sin_port);
		if (strchr(cfg->host, ':'))
			snprintf(s->url, sizeof(s->url), "%s://[%s]:%d", scheme, cfg->host, port);
		else
			snprintf(s->url, sizeof(s->url), "%s://%s:%d", scheme, cfg->host, port);
	}
	pad_world_put(w);
	*out = s;
	return 0;
fail:
	pad_world_put(w);
	if (s->unix_path)
		unlink(s->unix_path);
	free(s->unix_path);
	free(s->cert);
	wipe_free(s->key);
	pthread_mutex_destroy(&s->rate_lock);
	free(s);
	return rc < 0 ? rc : PROVAUTH_ECONFIG;
}

const char *pad_server_url(const pad_server *s)
{
	return s ? s->url : "";
}

int64_t pad_server_in_flight(const pad_server *s)
{
	return s ? (int64_t)atomic_load(&((pad_server *)s)->in_flight) : 0;
}

void pad_server_stop(pad_server *s, int64_t timeout_s)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	double end = now_s() + (double)timeout_s;
	MHD_socket fd;

	if (!s)
		return;
	/*
	 * No new connections from here; requests already read go on to their
	 * reply. The listening socket stops listening now (a client is refused
	 * at once instead of waiting in the backlog) but is closed only after
	 * MHD has stopped: its thread may still be taking it out of its epoll
	 * set, and the number must not be reused under it.
	 */
	fd = MHD_quiesce_daemon(s->mhd);
	if (fd != MHD_INVALID_SOCKET)
		shutdown(fd, SHUT_RDWR);
	if (s->unix_path)
		unlink(s->unix_path);
	while (atomic_load(&s->in_flight) > 0 && now_s() < end)
		nanosleep(&pause, NULL);
	if (atomic_load(&s->in_flight) > 0) {
		const provauth_log_field f[] = { PAD_F_INT("in_flight", atomic_load(&s->in_flight)) };
		pad_log(s->d, PROVAUTH_LOG_WARN, "drain_timeout", f, PAD_ARRAY_LEN(f));
	}
	MHD_stop_daemon(s->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	free(s->unix_path);
	free(s->cert);
	wipe_free(s->key);
	pthread_mutex_destroy(&s->rate_lock);
	free(s);
}
