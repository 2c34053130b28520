/*
 * provauthd's HTTP layer (daemon/http/).
 *
 *   units    the router (captures, decoding, 404/405/Allow, bad ids), bearer
 *            parsing, the token bucket, reply JSON
 *   server   the real server code in this process, over a route table of
 *            this test's own (api/'s table is not linked): 401/403/404/405/
 *            400/413/429/500 over HTTP, every error JSON with the request id,
 *            draining, a slow request finishing while the server stops, the
 *            Unix socket's mode, TLS with a certificate made here
 *   binary   the real provauthd through the harness: api/'s routes (401, 403,
 *            400, 413, 405, 404, 429, the sign-in cookie, metrics), SIGTERM
 *            drains a request in flight and exits 0, a Unix socket with its
 *            mode, TLS, no token in its log
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon.h"
#include "harness.h"
#include "pa_test.h"

#define TOKEN_READ "read-token-0123456789abcdef"
#define TOKEN_OPERATE "operate-token-0123456789abcdef"
#define TOKEN_ADMIN "admin-token-0123456789abcdef"

/* ------------------------------------------------------------------------ */
/* What the server needs of the other rooms, this test's own                 */
/* ------------------------------------------------------------------------ */

static int handle_ok(pad_request *req, pad_reply *rep)
{
	json_object *o = json_object_new_object();
	size_t i;

	json_object_object_add(o, "path", json_object_new_string(req->path));
	json_object_object_add(o, "token", json_object_new_string(req->token ? req->token->name : ""));
	for (i = 0; i < req->nparams; i++) {
		char k[8];
		snprintf(k, sizeof(k), "p%zu", i);
		json_object_object_add(o, k, json_object_new_string(req->params[i]));
	}
	if (req->json)
		json_object_object_add(o, "body", json_object_get(req->json));
	if (pad_request_query(req, "q"))
		json_object_object_add(o, "q", json_object_new_string(pad_request_query(req, "q")));
	return pad_reply_json(rep, 200, o);
}

static int handle_slow(pad_request *req, pad_reply *rep)
{
	struct timespec t = { 1, 500 * 1000 * 1000 };

	nanosleep(&t, NULL);
	return handle_ok(req, rep);
}

static int handle_fail(pad_request *req, pad_reply *rep)
{
	(void)req;
	(void)rep;
	return PROVAUTH_EIO;
}

/* Echoes a form body as it came. */
static int handle_form(pad_request *req, pad_reply *rep)
{
	if (req->json)
		return pad_reply_error(rep, 500, "parsed", "a form was parsed as JSON");
	return pad_reply_text(rep, 200, "text/plain", req->body, req->body_len);
}

/* ops/login.c's cookie reader, reduced to what this test sends: provauthd_token=TOKEN. */
int pad_cookie_bearer(const char *cookie_header, char *out, size_t size)
{
	const char *p = strstr(cookie_header, "provauthd_token=");
	size_t n;

	if (!p)
		return -1;
	p += 16;
	n = strcspn(p, "; ");
	if (n == 0 || n >= size)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return (int)n;
}

const pad_route pad_routes[] = {
	{ "GET", "/healthz", PAD_SCOPE_NONE, handle_ok, "healthz" },
	{ "GET", "/t/read", PAD_SCOPE_READ, handle_ok, "t_read" },
	{ "POST", "/t/admin", PAD_SCOPE_ADMIN, handle_ok, "t_admin" },
	{ "GET", "/t/items/{id}", PAD_SCOPE_READ, handle_ok, "t_item_get" },
	{ "DELETE", "/t/items/{id}", PAD_SCOPE_ADMIN, handle_ok, "t_item_delete" },
	{ "POST", "/t/items/{id}/call/{operation}", PAD_SCOPE_OPERATE, handle_ok, "t_call" },
	{ "GET", "/t/slow", PAD_SCOPE_READ, handle_slow, "t_slow" },
	{ "GET", "/t/fail", PAD_SCOPE_READ, handle_fail, "t_fail" },
	{ "POST", "/t/form", PAD_SCOPE_NONE, handle_form, "t_form" },
};
const size_t pad_route_count = PAD_ARRAY_LEN(pad_routes);

/* Metrics are ops/'s: no-ops here. Worlds are world.c's: a fixed one here. */
void pad_metric_add(const char *family, const char *labels, int64_t delta)
{
	(void)family;
	(void)labels;
	(void)delta;
}

void pad_metric_observe_ms(const char *family, const char *labels, double ms)
{
	(void)family;
	(void)labels;
	(void)ms;
}

pad_world *pad_world_get(pad_daemon *d)
{
	pad_world *w;

	pthread_mutex_lock(&d->world_lock);
	w = d->world;
	if (w)
		atomic_fetch_add(&w->refs, 1);
	pthread_mutex_unlock(&d->world_lock);
	return w;
}

void pad_world_put(pad_world *w)
{
	if (w)
		atomic_fetch_sub(&w->refs, 1);
}

void pad_log(pad_daemon *d, provauth_log_level level, const char *event, const provauth_log_field *f, size_t n)
{
	pthread_mutex_lock(&d->log_lock);
	provauth_log_file_json(level, event, f, n, d->log);
	fflush(d->log);
	pthread_mutex_unlock(&d->log_lock);
}

/* ------------------------------------------------------------------------ */
/* units                                                                     */
/* ------------------------------------------------------------------------ */

static int match(const char *method, const char *path, pad_request *req, char *allow, const pad_route **r)
{
	static char buf[PAD_CAPTURE_BUF];

	memset(req, 0, sizeof(*req));
	req->method = method;
	req->path = path;
	return pad_route_match_in(pad_routes, pad_route_count, r, req, buf, sizeof(buf), allow, 64);
}

static void test_router(void)
{
	pad_request req;
	const pad_route *r;
	char allow[64], path[3000], id[300];

	CU_ASSERT_EQUAL(match("GET", "/t/read", &req, allow, &r), 0);
	CU_ASSERT_PTR_EQUAL(r, &pad_routes[1]);
	CU_ASSERT_EQUAL(req.nparams, 0);
	CU_ASSERT_EQUAL(match("POST", "/t/items/a%40b.c/call/credits", &req, allow, &r), 0);
	CU_ASSERT_STRING_EQUAL(r->name, "t_call");
	CU_ASSERT_EQUAL(req.nparams, 2);
	CU_ASSERT_STRING_EQUAL(req.params[0], "a@b.c");
	CU_ASSERT_STRING_EQUAL(req.params[1], "credits");
	CU_ASSERT_EQUAL(match("DELETE", "/t/items/x", &req, allow, &r), 0);
	CU_ASSERT_STRING_EQUAL(r->name, "t_item_delete");
	CU_ASSERT_STRING_EQUAL(req.params[0], "x");
	/* Unknown paths, trailing slashes, empty captures, extra segments. */
	CU_ASSERT_EQUAL(match("GET", "/t/nope", &req, allow, &r), 404);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(match("GET", "/t/read/", &req, allow, &r), 404);
	CU_ASSERT_EQUAL(match("GET", "/t/items/", &req, allow, &r), 404);
	CU_ASSERT_EQUAL(match("GET", "/t/items/a/b", &req, allow, &r), 404);
	CU_ASSERT_EQUAL(match("GET", "", &req, allow, &r), 404);
	CU_ASSERT_EQUAL(match("GET", "t/read", &req, allow, &r), 404);
	/* Wrong method: 405 and every method the path has. */
	CU_ASSERT_EQUAL(match("PUT", "/t/items/x", &req, allow, &r), 405);
	CU_ASSERT_STRING_EQUAL(allow, "GET, DELETE");
	CU_ASSERT_EQUAL(match("GET", "/t/admin", &req, allow, &r), 405);
	CU_ASSERT_STRING_EQUAL(allow, "POST");
	/* HEAD takes the GET route. */
	CU_ASSERT_EQUAL(match("HEAD", "/t/items/x", &req, allow, &r), 0);
	CU_ASSERT_STRING_EQUAL(r->name, "t_item_get");
	CU_ASSERT_EQUAL(match("HEAD", "/t/admin", &req, allow, &r), 405);
	/* Bad ids: an escaped '/', NUL, a bad escape, too long. */
	CU_ASSERT_EQUAL(match("GET", "/t/items/a%2Fb", &req, allow, &r), 400);
	CU_ASSERT_EQUAL(match("GET", "/t/items/a%2fb", &req, allow, &r), 400);
	CU_ASSERT_EQUAL(match("GET", "/t/items/a%00b", &req, allow, &r), 400);
	CU_ASSERT_EQUAL(match("GET", "/t/items/a%zzb", &req, allow, &r), 400);
	CU_ASSERT_EQUAL(match("GET", "/t/items/a%4", &req, allow, &r), 400);
	memset(id, 'x', PAD_MAX_CAPTURE);
	id[PAD_MAX_CAPTURE] = '\0';
	snprintf(path, sizeof(path), "/t/items/%s", id);
	CU_ASSERT_EQUAL(match("GET", path, &req, allow, &r), 0);
	CU_ASSERT_EQUAL(strlen(req.params[0]), PAD_MAX_CAPTURE);
	snprintf(path, sizeof(path), "/t/items/%sy", id);
	CU_ASSERT_EQUAL(match("GET", path, &req, allow, &r), 400);
	/* 67 escapes decode to 67 bytes: fine though the raw segment is 201 bytes. */
	{
		size_t used = (size_t)snprintf(path, sizeof(path), "/t/items/");
		for (int i = 0; i < 67; i++)
			used += (size_t)snprintf(path + used, sizeof(path) - used, "%%41");
	}
	CU_ASSERT_EQUAL(match("GET", path, &req, allow, &r), 0);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	CU_ASSERT_EQUAL(match("GET", path, &req, allow, &r), 414);
}

static void test_percent_decode(void)
{
	char out[32];

	CU_ASSERT_EQUAL(pad_percent_decode(out, sizeof(out), "a%20b+c", 7), 5);
	CU_ASSERT_STRING_EQUAL(out, "a b+c");
	CU_ASSERT_EQUAL(pad_percent_decode(out, sizeof(out), "%e2%82%AC", 9), 3);
	CU_ASSERT_STRING_EQUAL(out, "\xe2\x82\xac");
	CU_ASSERT_EQUAL(pad_percent_decode(out, sizeof(out), "%", 1), -1);
	CU_ASSERT_EQUAL(pad_percent_decode(out, sizeof(out), "%g0", 3), -1);
	CU_ASSERT_EQUAL(pad_percent_decode(out, 3, "abcd", 4), -1);
}

static int bearer(const char *h, const char *want)
{
	const char *t;
	size_t len;

	if (pad_bearer_parse(h, &t, &len) < 0)
		return want == NULL;
	return want && len == strlen(want) && memcmp(t, want, len) == 0;
}

static void test_bearer(void)
{
	CU_ASSERT(bearer("Bearer abc", "abc"));
	CU_ASSERT(bearer("bearer abc", "abc"));
	CU_ASSERT(bearer("BEARER a-b.c_d~e+f/g==", "a-b.c_d~e+f/g=="));
	CU_ASSERT(bearer(NULL, NULL));
	CU_ASSERT(bearer("", NULL));
	CU_ASSERT(bearer("Bearer", NULL));
	CU_ASSERT(bearer("Bearer ", NULL));
	CU_ASSERT(bearer("Bearer  abc", NULL));
	CU_ASSERT(bearer("Bearer abc ", NULL));
	CU_ASSERT(bearer("Bearer a bc", NULL));
	CU_ASSERT(bearer("Bearer ==", NULL));
	CU_ASSERT(bearer("Bearer a=b", NULL));
	CU_ASSERT(bearer("Bearer a\"b", NULL));
	CU_ASSERT(bearer("Basic abc", NULL));
	CU_ASSERT(bearer("Bearerabc", NULL));
	CU_ASSERT(bearer("Bearer\tabc", NULL));
}

static void test_bucket(void)
{
	pad_bucket b = { 0, 0 };

	/* rate 2/s, burst 3: three at once, then one each half second. */
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 100.0), 0);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 100.0), 0);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 100.0), 0);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 100.0), 1);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 100.25), 1);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 100.5), 0);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 100.5), 1);
	/* A long pause refills to the burst, no more. */
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 1000.0), 0);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 1000.0), 0);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 1000.0), 0);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 2, 3, 1000.0), 1);
	/* A slow rate says how long to wait in whole seconds, rounded up. */
	memset(&b, 0, sizeof(b));
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 0.25, 1, 50.0), 0);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 0.25, 1, 50.0), 4);
	CU_ASSERT_EQUAL(pad_bucket_take(&b, 0.25, 1, 51.0), 3);
	/* rate 0: no limit. */
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL_FATAL(pad_bucket_take(&b, 0, 1, 10.0), 0);
}

/* error.code of a reply body, malloc()ed, or NULL when the body is not our error JSON. */
static char *error_code(const char *body, char **request_id)
{
	json_object *o = json_tokener_parse(body), *e, *c, *m, *id;
	char *code = NULL;

	if (request_id)
		*request_id = NULL;
	if (o && json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "code", &c) &&
	    json_object_object_get_ex(e, "message", &m) && json_object_is_type(m, json_type_string))
		code = strdup(json_object_get_string(c));
	if (code && request_id && json_object_object_get_ex(e, "request_id", &id))
		*request_id = strdup(json_object_get_string(id));
	json_object_put(o);
	return code;
}

static void test_reply(void)
{
	pad_reply rep;
	json_object *o, *e = NULL, *m = NULL;
	char *code;

	memset(&rep, 0, sizeof(rep));
	CU_ASSERT_EQUAL(pad_reply_error(&rep, 400, "bad_json", "quote \" newline \n tag </script> %d", 7), 0);
	CU_ASSERT_EQUAL(rep.status, 400);
	CU_ASSERT_STRING_EQUAL(rep.content_type, "application/json");
	CU_ASSERT_EQUAL(rep.len, strlen(rep.body));
	o = json_tokener_parse(rep.body);
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_FATAL(json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "message", &m));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(m), "quote \" newline \n tag </script> 7");
	json_object_put(o);
	/* A second reply replaces the first. */
	CU_ASSERT_EQUAL(pad_reply_json(&rep, 201, json_object_new_int(5)), 0);
	CU_ASSERT_EQUAL(rep.status, 201);
	CU_ASSERT_STRING_EQUAL(rep.body, "5");
	CU_ASSERT_EQUAL(pad_reply_header(&rep, "X-A", "1"), 0);
	CU_ASSERT(pad_reply_header(&rep, "X-B", "1\r\nSet-Cookie: x") < 0);
	CU_ASSERT(pad_reply_header(&rep, "X-C:", "1") < 0);
	for (int i = 1; i < PAD_REPLY_MAX_HEADERS; i++)
		CU_ASSERT_EQUAL(pad_reply_header(&rep, "X-N", "v"), 0);
	CU_ASSERT(pad_reply_header(&rep, "X-Over", "v") < 0);
	pad_reply_clear(&rep);
	CU_ASSERT_PTR_NULL(rep.body);
	CU_ASSERT_EQUAL(rep.nheaders, 0);

	{
		static const struct {
			int rc, status;
			const char *code;
		} cases[] = {
			{ PROVAUTH_ENOTFOUND, 404, "not_found" },   { PROVAUTH_EINVAL, 400, "invalid" },
			{ PROVAUTH_ECONFLICT, 409, "conflict" },    { PROVAUTH_EBUSY, 409, "busy" },
			{ PROVAUTH_ETIMEOUT, 504, "timeout" },      { PROVAUTH_ENETWORK, 502, "provider_unreachable" },
			{ PROVAUTH_ESESSION, 502, "session_lost" }, { PROVAUTH_EAUTH, 502, "login_failed" },
			{ PROVAUTH_ECOOLDOWN, 429, "cooldown" },    { PROVAUTH_EBANNED, 403, "banned" },
			{ PROVAUTH_ECREDITS, 402, "no_credits" },   { PROVAUTH_ENOACCOUNT, 503, "no_account" },
			{ PROVAUTH_ENOEMAIL, 422, "email_missing" }, { PROVAUTH_EIO, 500, "internal" },
		};
		for (size_t i = 0; i < PAD_ARRAY_LEN(cases); i++) {
			CU_ASSERT_EQUAL(pad_reply_provauth(&rep, cases[i].rc), 0);
			CU_ASSERT_EQUAL(rep.status, cases[i].status);
			code = error_code(rep.body, NULL);
			CU_ASSERT(code && strcmp(code, cases[i].code) == 0);
			free(code);
			pad_reply_clear(&rep);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* server: the real server code in this process                              */
/* ------------------------------------------------------------------------ */

static char tmpdir[128];
static char logpath[256];

typedef struct inproc {
	pad_daemon d;
	pad_world w;
	provauth_settings *settings;
	pa_daemon *client;
} inproc;

static char *hash_hex(const char *token, char out[65])
{
	unsigned char dg[32];
	unsigned int n;

	EVP_Digest(token, strlen(token), dg, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", dg[i]);
	return out;
}

/* A server on `listen` with the three tokens and the daemon: lines `extra`. NULL on failure. */
static inproc *inproc_start(const char *listen, const char *extra, const char *cainfo)
{
	char yaml[4096], h1[65], h2[65], h3[65];
	inproc *p = calloc(1, sizeof(*p));
	pad_config *cfg = NULL;

	if (!p)
		return NULL;
	snprintf(yaml, sizeof(yaml),
	         "daemon:\n  listen: \"%s\"\n  tokens:\n"
	         "    - { name: reader, sha256: %s, scope: read }\n"
	         "    - { name: operator, sha256: %s, scope: operate }\n"
	         "    - { name: admin, sha256: %s, scope: admin }\n%s",
	         listen, hash_hex(TOKEN_READ, h1), hash_hex(TOKEN_OPERATE, h2), hash_hex(TOKEN_ADMIN, h3),
	         extra ? extra : "");
	if (provauth_settings_parse(&p->settings, yaml, strlen(yaml), "inproc.yaml") != 0 ||
	    pad_config_load(&cfg, p->settings) != 0) {
		fprintf(stderr, "settings: %s\n", provauth_last_error());
		provauth_settings_free(p->settings);
		free(p);
		return NULL;
	}
	p->w.config = cfg;
	p->w.generation = 1;
	atomic_init(&p->w.refs, 1);
	pthread_mutex_init(&p->d.world_lock, NULL);
	pthread_mutex_init(&p->d.log_lock, NULL);
	p->d.world = &p->w;
	p->d.log = fopen(logpath, "a");
	if (!p->d.log || pad_server_start(&p->d.server, &p->d) != 0) {
		if (p->d.log)
			fclose(p->d.log);
		pad_config_free(cfg);
		provauth_settings_free(p->settings);
		free(p);
		return NULL;
	}
	p->client = pa_daemon_client(pad_server_url(p->d.server), cainfo);
	return p;
}

static void inproc_stop(inproc *p)
{
	if (!p)
		return;
	pad_server_stop(p->d.server, 10);
	/* Every request let go of its world. */
	CU_ASSERT_EQUAL(atomic_load(&p->w.refs), 1);
	pa_daemon_client_free(p->client);
	fclose(p->d.log);
	pad_config_free(p->w.config);
	provauth_settings_free(p->settings);
	free(p);
}

/*
 * One request; checks what every reply must have (X-Request-Id,
 * Cache-Control: no-store, and for errors our JSON with that id). Returns
 * the status; *code gets error.code (malloc()ed) when code is not NULL.
 */
static long call(pa_daemon *c, const char *method, const char *path, const char *token, const char *body,
                 char **code, char **headers_out)
{
	char *reply = NULL, *headers = NULL, *rid, *cc, *ec, *eid;
	long status = 0;

	if (code)
		*code = NULL;
	CU_ASSERT_EQUAL_FATAL(pa_daemon_request(c, method, path, token, body, &status, &reply, &headers), 0);
	rid = pa_daemon_header(headers, "X-Request-Id");
	cc = pa_daemon_header(headers, "Cache-Control");
	CU_ASSERT(rid && strlen(rid) == 16);
	CU_ASSERT(cc && strcmp(cc, "no-store") == 0);
	if (status >= 400) {
		char *ct = pa_daemon_header(headers, "Content-Type");
		ec = error_code(reply, &eid);
		CU_ASSERT(ct && strcmp(ct, "application/json") == 0);
		CU_ASSERT_PTR_NOT_NULL(ec);
		CU_ASSERT(eid && rid && strcmp(eid, rid) == 0);
		if (!ec)
			fprintf(stderr, "\n  not an error JSON (%ld): %s\n", status, reply);
		if (code)
			*code = ec;
		else
			free(ec);
		free(eid);
		free(ct);
	}
	if (headers_out)
		*headers_out = headers;
	else
		free(headers);
	free(rid);
	free(cc);
	free(reply);
	return status;
}

static int expect(pa_daemon *c, const char *method, const char *path, const char *token, const char *body,
                  long want_status, const char *want_code)
{
	char *code = NULL;
	long st = call(c, method, path, token, body, &code, NULL);
	int ok = st == want_status && (!want_code || (code && strcmp(code, want_code) == 0));

	if (!ok)
		fprintf(stderr, "\n  %s %s: %ld %s, expected %ld %s\n", method, path, st, code ? code : "-", want_status,
		        want_code ? want_code : "-");
	free(code);
	return ok;
}

static void test_auth_and_errors(void)
{
	inproc *p = inproc_start("127.0.0.1:0", "  rate: 0\n  max_body: 1024\n", NULL);
	char *headers = NULL, *v, big[3000];
	long st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(strncmp(pad_server_url(p->d.server), "http://127.0.0.1:", 17) == 0);
	CU_ASSERT(strcmp(pad_server_url(p->d.server), "http://127.0.0.1:0") != 0);
	CU_ASSERT(expect(p->client, "GET", "/healthz", NULL, NULL, 200, NULL));
	{
		long s2 = 0;
		char *r = NULL;
		CU_ASSERT_EQUAL(pa_daemon_request(p->client, "HEAD", "/healthz", NULL, NULL, &s2, &r, NULL), 0);
		CU_ASSERT_EQUAL(s2, 200);
		CU_ASSERT(r && r[0] == '\0');
		free(r);
	}
	/* No token, wrong token, malformed header: 401 with WWW-Authenticate. */
	st = call(p->client, "GET", "/t/read", NULL, NULL, NULL, &headers);
	CU_ASSERT_EQUAL(st, 401);
	v = pa_daemon_header(headers, "WWW-Authenticate");
	CU_ASSERT(v && strncmp(v, "Bearer", 6) == 0);
	free(v);
	free(headers);
	CU_ASSERT(expect(p->client, "GET", "/t/read", "wrong-token-0123456789abcdef", NULL, 401, "unauthorized"));
	CU_ASSERT(expect(p->client, "GET", "/t/read", TOKEN_READ "x", NULL, 401, "unauthorized"));
	{
		const char *bad[] = { "Authorization: Basic cmVhZGVyOng=", NULL };
		long s2 = 0;
		char *r = NULL;
		CU_ASSERT_EQUAL(pa_daemon_request_raw(p->client, "GET", "/t/read", NULL, NULL, 0, bad, &s2, &r, NULL), 0);
		CU_ASSERT_EQUAL(s2, 401);
		free(r);
	}
	/* Scopes: lower is refused, equal or higher passes. */
	CU_ASSERT(expect(p->client, "GET", "/t/read", TOKEN_READ, NULL, 200, NULL));
	CU_ASSERT(expect(p->client, "GET", "/t/read", TOKEN_ADMIN, NULL, 200, NULL));
	CU_ASSERT(expect(p->client, "POST", "/t/admin", TOKEN_READ, "{}", 403, "forbidden"));
	CU_ASSERT(expect(p->client, "POST", "/t/admin", TOKEN_OPERATE, "{}", 403, "forbidden"));
	CU_ASSERT(expect(p->client, "POST", "/t/admin", TOKEN_ADMIN, "{\"a\":1}", 200, NULL));
	CU_ASSERT(expect(p->client, "POST", "/t/items/x/call/credits", TOKEN_READ, NULL, 403, "forbidden"));
	CU_ASSERT(expect(p->client, "POST", "/t/items/x/call/credits", TOKEN_OPERATE, NULL, 200, NULL));
	/* Routes and methods. */
	CU_ASSERT(expect(p->client, "GET", "/nope", TOKEN_ADMIN, NULL, 404, "not_found"));
	CU_ASSERT(expect(p->client, "GET", "/t/read/", TOKEN_ADMIN, NULL, 404, "not_found"));
	st = call(p->client, "PUT", "/t/items/x", TOKEN_ADMIN, NULL, NULL, &headers);
	CU_ASSERT_EQUAL(st, 405);
	v = pa_daemon_header(headers, "Allow");
	CU_ASSERT(v && strcmp(v, "GET, DELETE") == 0);
	free(v);
	free(headers);
	CU_ASSERT(expect(p->client, "GET", "/t/items/a%2Fb", TOKEN_READ, NULL, 400, "bad_id"));
	CU_ASSERT(expect(p->client, "GET", "/t/items/a%00b", TOKEN_READ, NULL, 400, "bad_id"));
	/* Bodies: not JSON, not an object, trailing bytes, a NUL inside, too large. */
	CU_ASSERT(expect(p->client, "POST", "/t/admin", TOKEN_ADMIN, "{bad", 400, "bad_json"));
	CU_ASSERT(expect(p->client, "POST", "/t/admin", TOKEN_ADMIN, "[1,2]", 400, "bad_json"));
	CU_ASSERT(expect(p->client, "POST", "/t/admin", TOKEN_ADMIN, "{} x", 400, "bad_json"));
	CU_ASSERT(expect(p->client, "POST", "/t/admin", TOKEN_ADMIN, "\"s\"", 400, "bad_json"));
	CU_ASSERT(expect(p->client, "POST", "/t/admin", TOKEN_ADMIN, "{}\n", 200, NULL));
	{
		long s2 = 0;
		char *r = NULL;
		CU_ASSERT_EQUAL(pa_daemon_request_raw(p->client, "POST", "/t/admin", TOKEN_ADMIN, "{}\0{}", 5, NULL, &s2,
		                                      &r, NULL), 0);
		CU_ASSERT_EQUAL(s2, 400);
		free(r);
	}
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT(expect(p->client, "POST", "/t/admin", TOKEN_ADMIN, big, 413, "too_large"));
	{
		/* 4 MiB against max_body 1024: read, dropped, answered 413. */
		size_t n = 4u << 20;
		char *huge = malloc(n + 1);
		long s2 = 0;
		char *r = NULL;
		CU_ASSERT_FATAL(huge != NULL);
		memset(huge, ' ', n);
		huge[0] = '{';
		huge[n - 1] = '}';
		huge[n] = '\0';
		pa_daemon_request(p->client, "POST", "/t/admin", TOKEN_ADMIN, huge, &s2, &r, NULL);
		CU_ASSERT_EQUAL(s2, 413);
		CU_ASSERT(r && strstr(r, "too_large") != NULL);
		free(r);
		free(huge);
	}
	{
		/* 40 MiB: past what the server reads and drops, it answers early and closes. */
		size_t n = 40u << 20;
		char *huge = malloc(n + 1);
		long s2 = 0;
		char *r = NULL;
		CU_ASSERT_FATAL(huge != NULL);
		memset(huge, ' ', n);
		huge[n] = '\0';
		pa_daemon_request(p->client, "POST", "/t/admin", TOKEN_ADMIN, huge, &s2, &r, NULL);
		CU_ASSERT(s2 == 413 || s2 == 0);
		free(r);
		free(huge);
	}
	CU_ASSERT(expect(p->client, "GET", "/healthz", NULL, NULL, 200, NULL));
	big[1000] = '}';
	big[1001] = '\0';
	CU_ASSERT(expect(p->client, "POST", "/t/admin", TOKEN_ADMIN, big, 200, NULL));
	/* A handler failing without a status: 500 internal, JSON. */
	CU_ASSERT(expect(p->client, "GET", "/t/fail", TOKEN_READ, NULL, 500, "internal"));
	inproc_stop(p);
}

static void test_captures_and_query(void)
{
	inproc *p = inproc_start("127.0.0.1:0", NULL, NULL);
	char *reply = NULL;
	long st = 0;
	json_object *o, *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(pa_daemon_request(p->client, "POST", "/t/items/u%40x.com/call/get%20credits?q=a%2Bb+c%26",
	                                  TOKEN_OPERATE, "{\"k\":\"v\"}", &st, &reply, NULL), 0);
	CU_ASSERT_EQUAL(st, 200);
	o = json_tokener_parse(reply);
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT(json_object_object_get_ex(o, "path", &v) &&
	          strcmp(json_object_get_string(v), "/t/items/u@x.com/call/get credits") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "p0", &v) && strcmp(json_object_get_string(v), "u@x.com") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "p1", &v) && strcmp(json_object_get_string(v), "get credits") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "q", &v) && strcmp(json_object_get_string(v), "a+b c&") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "token", &v) && strcmp(json_object_get_string(v), "operator") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "body", &v) && json_object_is_type(v, json_type_object));
	json_object_put(o);
	free(reply);
	inproc_stop(p);
}

/* The status page's cookie stands for a bearer token on GET alone; open routes take forms. */
static void test_cookie_and_form(void)
{
	inproc *p = inproc_start("127.0.0.1:0", NULL, NULL);
	const char *read_cookie[] = { "Cookie: a=b; provauthd_token=" TOKEN_READ, NULL };
	const char *admin_cookie[] = { "Cookie: provauthd_token=" TOKEN_ADMIN, NULL };
	const char *wrong_cookie[] = { "Cookie: provauthd_token=nope-0123456789abcdef", NULL };
	const char *form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
	const char *form_admin[] = { "Content-Type: application/x-www-form-urlencoded",
	                             "Authorization: Bearer " TOKEN_ADMIN, NULL };
	char *r = NULL;
	long st = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(pa_daemon_request_raw(p->client, "GET", "/t/read", NULL, NULL, 0, read_cookie, &st, &r, NULL), 0);
	CU_ASSERT_EQUAL(st, 200);
	CU_ASSERT(r && strstr(r, "\"token\":\"reader\"") != NULL);
	free(r);
	CU_ASSERT_EQUAL(pa_daemon_request_raw(p->client, "GET", "/t/read", NULL, NULL, 0, wrong_cookie, &st, &r, NULL), 0);
	CU_ASSERT_EQUAL(st, 401);
	free(r);
	/* Not for other methods, even with an admin token in the cookie. */
	CU_ASSERT_EQUAL(pa_daemon_request_raw(p->client, "POST", "/t/admin", NULL, "{}", 2, admin_cookie, &st, &r,
	                                      NULL), 0);
	CU_ASSERT_EQUAL(st, 401);
	free(r);
	/* An Authorization header, even a wrong one, wins over the cookie. */
	CU_ASSERT_EQUAL(pa_daemon_request_raw(p->client, "GET", "/t/read", "wrong-token-0123456789abcdef", NULL, 0,
	                                      read_cookie, &st, &r, NULL), 0);
	CU_ASSERT_EQUAL(st, 401);
	free(r);
	/* A form reaches an open route as it came; a route behind a token still wants JSON. */
	CU_ASSERT_EQUAL(pa_daemon_request_raw(p->client, "POST", "/t/form", NULL, "token=a%2Bb&x=1", 15, form, &st, &r,
	                                      NULL), 0);
	CU_ASSERT_EQUAL(st, 200);
	CU_ASSERT(r && strcmp(r, "token=a%2Bb&x=1") == 0);
	free(r);
	CU_ASSERT_EQUAL(pa_daemon_request_raw(p->client, "POST", "/t/admin", NULL, "x=1", 3, form_admin, &st, &r, NULL),
	                0);
	CU_ASSERT_EQUAL(st, 400);
	free(r);
	CU_ASSERT(expect(p->client, "POST", "/t/form", NULL, "not json", 400, "bad_json"));
	inproc_stop(p);
}

static void test_rate_limit(void)
{
	inproc *p = inproc_start("127.0.0.1:0", "  rate: 1\n  burst: 3\n", NULL);
	char *headers = NULL, *v;
	int ok = 0, limited = 0;
	long st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 0; i < 6; i++) {
		st = call(p->client, "GET", "/t/read", TOKEN_READ, NULL, NULL, i == 5 ? &headers : NULL);
		ok += st == 200;
		limited += st == 429;
	}
	/* Three at once from the burst, maybe one more refilled while the others ran. */
	CU_ASSERT(ok >= 3 && ok <= 4);
	CU_ASSERT_EQUAL(ok + limited, 6);
	CU_ASSERT_EQUAL(st, 429);
	v = pa_daemon_header(headers, "Retry-After");
	CU_ASSERT(v && strtol(v, NULL, 10) >= 1);
	free(v);
	free(headers);
	/* Buckets are per token: another token still passes; open routes are not limited. */
	CU_ASSERT(expect(p->client, "GET", "/t/read", TOKEN_ADMIN, NULL, 200, NULL));
	for (int i = 0; i < 5; i++)
		CU_ASSERT(expect(p->client, "GET", "/healthz", NULL, NULL, 200, NULL));
	CU_ASSERT(expect(p->client, "GET", "/t/read", TOKEN_READ, NULL, 429, "rate_limited"));
	inproc_stop(p);
}

/*
 * Wrong tokens are counted per client address: past auth_failures_per_minute
 * of them, 429 auth_rate_limited with Retry-After for any token from there,
 * a right one included. A request with no token is not a failure (a
 * browser opening the page has none yet); 0 turns the limit off.
 */
static void test_auth_failure_limit(void)
{
	inproc *p = inproc_start("127.0.0.1:0", "  rate: 0\n  auth_failures_per_minute: 3\n", NULL);
	char *headers = NULL, *v;
	long st;
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (i = 0; i < 6; i++)
		CU_ASSERT(expect(p->client, "GET", "/t/read", NULL, NULL, 401, "unauthorized"));
	for (i = 0; i < 3; i++)
		CU_ASSERT(expect(p->client, "GET", "/t/read", "wrong-token-0123456789abcdef", NULL, 401, "unauthorized"));
	st = call(p->client, "GET", "/t/read", "wrong-token-0123456789abcdef", NULL, NULL, &headers);
	CU_ASSERT_EQUAL(st, 429);
	v = pa_daemon_header(headers, "Retry-After");
	CU_ASSERT(v && strtol(v, NULL, 10) >= 1 && strtol(v, NULL, 10) <= 20);
	free(v);
	free(headers);
	CU_ASSERT(expect(p->client, "GET", "/t/read", TOKEN_READ, NULL, 429, "auth_rate_limited"));
	CU_ASSERT(expect(p->client, "GET", "/healthz", NULL, NULL, 200, NULL));
	inproc_stop(p);

	p = inproc_start("127.0.0.1:0", "  rate: 0\n  auth_failures_per_minute: 0\n", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (i = 0; i < 20; i++)
		CU_ASSERT(expect(p->client, "GET", "/t/read", "wrong-token-0123456789abcdef", NULL, 401, "unauthorized"));
	CU_ASSERT(expect(p->client, "GET", "/t/read", TOKEN_READ, NULL, 200, NULL));
	inproc_stop(p);
}

typedef struct slow_call {
	pa_daemon *client;
	const char *path;
	long status;
	atomic_int done;
} slow_call;

static void *slow_thread(void *arg)
{
	slow_call *sc = arg;
	char *reply = NULL;

	pa_daemon_request(sc->client, "GET", sc->path, TOKEN_READ, NULL, &sc->status, &reply, NULL);
	atomic_store(&sc->done, 1);
	free(reply);
	return NULL;
}

/* max_connections: a connection over the limit waits unserved until one of the others goes. */
static void test_connection_limit(void)
{
	inproc *p = inproc_start("127.0.0.1:0", "  max_connections: 2\n  threads: 1\n", NULL);
	struct timespec t = { 0, 500 * 1000 * 1000 };
	struct sockaddr_in sa;
	int fds[2], port, i;
	slow_call sc;
	pthread_t th;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	port = (int)strtol(strrchr(pad_server_url(p->d.server), ':') + 1, NULL, 10);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 2; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		CU_ASSERT_FATAL(fds[i] >= 0 && connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) == 0);
	}
	sc.client = p->client;
	sc.status = -1;
	sc.path = "/healthz";
	atomic_init(&sc.done, 0);
	nanosleep(&t, NULL);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, slow_thread, &sc) == 0);
	nanosleep(&t, NULL);
	CU_ASSERT_EQUAL(atomic_load(&sc.done), 0);
	close(fds[0]);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(sc.status, 200);
	close(fds[1]);
	inproc_stop(p);
}

static void test_drain(void)
{
	inproc *p = inproc_start("127.0.0.1:0", NULL, NULL);
	struct timespec t = { 0, 300 * 1000 * 1000 };
	slow_call sc;
	pthread_t th;
	pa_daemon *late;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* draining: new requests get 503 draining, /healthz still answers. */
	atomic_store(&p->d.draining, 1);
	CU_ASSERT(expect(p->client, "GET", "/t/read", TOKEN_READ, NULL, 503, "draining"));
	CU_ASSERT(expect(p->client, "GET", "/healthz", NULL, NULL, 200, NULL));
	atomic_store(&p->d.draining, 0);
	/* A slow request in flight when the server stops still gets its answer. */
	sc.client = p->client;
	sc.status = 0;
	sc.path = "/t/slow";
	atomic_init(&sc.done, 0);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, slow_thread, &sc) == 0);
	nanosleep(&t, NULL);
	CU_ASSERT_EQUAL(pad_server_in_flight(p->d.server), 1);
	late = pa_daemon_client(pad_server_url(p->d.server), NULL);
	inproc_stop(p);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(sc.status, 200);
	/* And the port no longer takes connections. */
	{
		long st = -1;
		char *r = NULL;
		CU_ASSERT(pa_daemon_request(late, "GET", "/healthz", NULL, NULL, &st, &r, NULL) < 0);
		CU_ASSERT_EQUAL(st, 0);
		free(r);
	}
	pa_daemon_client_free(late);
}

static void test_unix_socket(void)
{
	char path[256], listen[300], extra[64];
	struct stat st;
	inproc *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/http.sock", tmpdir);
	snprintf(listen, sizeof(listen), "unix:%s", path);
	snprintf(extra, sizeof(extra), "  socket_mode: \"0600\"\n");
	p = inproc_start(listen, extra, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(pad_server_url(p->d.server), listen);
	CU_ASSERT_FATAL(lstat(path, &st) == 0);
	CU_ASSERT(S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT(expect(p->client, "GET", "/healthz", NULL, NULL, 200, NULL));
	CU_ASSERT(expect(p->client, "GET", "/t/read", NULL, NULL, 401, "unauthorized"));
	CU_ASSERT(expect(p->client, "GET", "/t/read", TOKEN_READ, NULL, 200, NULL));
	/* A second server on a live socket is refused; the first keeps it. */
	CU_ASSERT_PTR_NULL(inproc_start(listen, extra, NULL));
	CU_ASSERT(expect(p->client, "GET", "/healthz", NULL, NULL, 200, NULL));
	inproc_stop(p);
	CU_ASSERT(lstat(path, &st) != 0 && errno == ENOENT);
	/* A stale socket file is replaced; a file that is not a socket is not. */
	snprintf(extra, sizeof(extra), "  socket_mode: \"0660\"\n");
	p = inproc_start(listen, extra, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(lstat(path, &st) == 0 && (st.st_mode & 0777) == 0660);
	inproc_stop(p);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("precious", f);
	fclose(f);
	CU_ASSERT_PTR_NULL(inproc_start(listen, NULL, NULL));
	CU_ASSERT(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 8);
	unlink(path);
}

/* A throwaway self-signed certificate for 127.0.0.1, made with OpenSSL. */
static int make_cert(const char *cert_path, const char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext;
	FILE *f;
	int ok = 0;

	if (!key || !x)
		goto done;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, name);
	if ((ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "IP:127.0.0.1"))) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if ((ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE"))) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, key, EVP_sha256()))
		goto done;
	if (!(f = fopen(cert_path, "w")))
		goto done;
	PEM_write_X509(f, x);
	fclose(f);
	if (!(f = fopen(key_path, "w")))
		goto done;
	chmod(key_path, 0600);
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	fclose(f);
done:
	X509_free(x);
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

static void test_tls(void)
{
	char cert[256], key[256], extra[700];
	inproc *p;
	pa_daemon *plain;
	long st = 0;
	char *r = NULL;

	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	CU_ASSERT_FATAL(make_cert(cert, key) == 0);
	snprintf(extra, sizeof(extra), "  tls_certificate: %s\n  tls_key: %s\n", cert, key);
	p = inproc_start("127.0.0.1:0", extra, cert);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(strncmp(pad_server_url(p->d.server), "https://127.0.0.1:", 18) == 0);
	CU_ASSERT(expect(p->client, "GET", "/healthz", NULL, NULL, 200, NULL));
	CU_ASSERT(expect(p->client, "GET", "/t/read", TOKEN_READ, NULL, 200, NULL));
	CU_ASSERT(expect(p->client, "GET", "/t/read", NULL, NULL, 401, "unauthorized"));
	/* Without trusting the certificate, curl refuses; plain HTTP gets no answer. */
	plain = pa_daemon_client(pad_server_url(p->d.server), NULL);
	CU_ASSERT(pa_daemon_request(plain, "GET", "/healthz", NULL, NULL, &st, &r, NULL) < 0);
	free(r);
	pa_daemon_client_free(plain);
	inproc_stop(p);
	/* A key others may read: refused (the library's rules for keys), and fine again once 0600. */
	CU_ASSERT_FATAL(chmod(key, 0644) == 0);
	snprintf(extra, sizeof(extra), "  tls_certificate: %s\n  tls_key: %s\n", cert, key);
	CU_ASSERT_PTR_NULL(inproc_start("127.0.0.1:0", extra, cert));
	CU_ASSERT_FATAL(chmod(key, 0600) == 0);
	p = inproc_start("127.0.0.1:0", extra, cert);
	CU_ASSERT_PTR_NOT_NULL(p);
	inproc_stop(p);
	/* A file that holds no PEM: the server does not start. */
	snprintf(extra, sizeof(extra), "  tls_certificate: %s\n  tls_key: %s/nothing.pem\n", cert, tmpdir);
	CU_ASSERT_PTR_NULL(inproc_start("127.0.0.1:0", extra, cert));
}

static void test_log_has_no_secret(void)
{
	FILE *f = fopen(logpath, "r");
	char *text;
	long len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)len + 1);
	CU_ASSERT_FATAL(text && fread(text, 1, (size_t)len, f) == (size_t)len);
	fclose(f);
	CU_ASSERT(strstr(text, "\"event\":\"http_request\"") != NULL);
	CU_ASSERT(strstr(text, "\"token\":\"reader\"") != NULL);
	CU_ASSERT(strstr(text, "read-token") == NULL);
	CU_ASSERT(strstr(text, "admin-token") == NULL);
	CU_ASSERT(strstr(text, "operate-token") == NULL);
	CU_ASSERT(strstr(text, "wrong-token") == NULL);
	CU_ASSERT(strstr(text, "cmVhZGVyOng") == NULL);
	/* Query values are not logged either. */
	CU_ASSERT(strstr(text, "a%2Bb") == NULL && strstr(text, "a+b") == NULL);
	free(text);
}

/* ------------------------------------------------------------------------ */
/* binary: the real provauthd through the harness                            */
/* ------------------------------------------------------------------------ */

static const pa_daemon_token tokens[] = {
	{ "reader", TOKEN_READ, "read" },
	{ "admin", TOKEN_ADMIN, "admin" },
};

static void test_binary_routes(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	pa_daemon *h;

	o.tokens = tokens;
	o.ntokens = PAD_ARRAY_LEN(tokens);
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	CU_ASSERT(strncmp(pa_daemon_url(h), "http://127.0.0.1:", 17) == 0);
	CU_ASSERT(expect((pa_daemon *)h, "GET", "/healthz", NULL, NULL, 200, NULL));
	CU_ASSERT(expect(h, "GET", "/readyz", NULL, NULL, 200, NULL));
	CU_ASSERT(expect(h, "GET", "/no/such/route", TOKEN_ADMIN, NULL, 404, "not_found"));
	CU_ASSERT(expect(h, "POST", "/healthz", NULL, "{}", 405, "method_not_allowed"));
	CU_ASSERT(expect(h, "GET", "/%zz", NULL, NULL, 404, "not_found"));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
}

static void test_binary_unix_socket(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	char sock[512];
	struct stat st;
	pa_daemon *h;

	o.tokens = tokens;
	o.ntokens = PAD_ARRAY_LEN(tokens);
	o.listen = "unix";
	o.daemon_yaml = "  socket_mode: \"0600\"\n";
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	CU_ASSERT_FATAL(strncmp(pa_daemon_url(h), "unix:/", 6) == 0);
	snprintf(sock, sizeof(sock), "%s", pa_daemon_url(h) + 5);
	CU_ASSERT(lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	CU_ASSERT(expect(h, "GET", "/healthz", NULL, NULL, 200, NULL));
	CU_ASSERT(expect(h, "GET", "/nothing", TOKEN_READ, NULL, 404, "not_found"));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
	CU_ASSERT(lstat(sock, &st) != 0);
}

static void test_binary_tls(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	char cert[256], key[256];
	pa_daemon *h;

	snprintf(cert, sizeof(cert), "%s/bin-cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/bin-key.pem", tmpdir);
	CU_ASSERT_FATAL(make_cert(cert, key) == 0);
	o.tokens = tokens;
	o.ntokens = PAD_ARRAY_LEN(tokens);
	o.tls_certificate = cert;
	o.tls_key = key;
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	CU_ASSERT(strncmp(pa_daemon_url(h), "https://127.0.0.1:", 18) == 0);
	CU_ASSERT(expect(h, "GET", "/healthz", NULL, NULL, 200, NULL));
	CU_ASSERT(expect(h, "GET", "/nothing", TOKEN_READ, NULL, 404, "not_found"));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
}

/* A key file that is not PEM: provauthd does not start, and says which file. */
static void test_binary_bad_tls_file(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	char cert[256], key[256];
	pa_daemon *h = NULL;
	FILE *f;

	snprintf(cert, sizeof(cert), "%s/bin-cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/not-a-key.pem", tmpdir);
	CU_ASSERT_FATAL((f = fopen(key, "w")) != NULL);
	fputs("not a key\n", f);
	fclose(f);
	chmod(key, 0600);
	o.tls_certificate = cert;
	o.tls_key = key;
	o.start_timeout = 10;
	CU_ASSERT(pa_daemon_start(&h, &o) < 0);
	CU_ASSERT_PTR_NULL(h);
}

/* The harness's fake helper: provauthd takes the providers: block pointing at the fake. */
static void test_binary_with_fake(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	fake_pixverse *srv = pa_daemon_start_fake_pixverse();
	char yaml[1024];
	pa_daemon *h;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	o.tokens = tokens;
	o.ntokens = PAD_ARRAY_LEN(tokens);
	o.yaml = pa_daemon_pixverse_yaml(yaml, sizeof(yaml), srv);
	CU_ASSERT(strstr(yaml, fake_pixverse_url(srv)) != NULL);
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	CU_ASSERT(expect(h, "GET", "/healthz", NULL, NULL, 200, NULL));
	CU_ASSERT(pa_daemon_log_contains(h, "\"provider\":\"pixverse\""));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
	fake_pixverse_stop(srv);
}

/* provauthd with api/'s routes: the HTTP layer's answers on the real table, metrics, the cookie. */
static void test_binary_real_routes(void)
{
	static const pa_daemon_token three[] = {
		{ "reader", TOKEN_READ, "read" },
		{ "operator", TOKEN_OPERATE, "operate" },
		{ "admin", TOKEN_ADMIN, "admin" },
	};
	const char *cookie[] = { "Cookie: provauthd_token=" TOKEN_READ, NULL };
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	char *headers = NULL, *reply = NULL, *v, big[2100];
	int limited = 0, i;
	pa_daemon *h;
	long st;

	o.tokens = three;
	o.ntokens = PAD_ARRAY_LEN(three);
	o.daemon_yaml = "  max_body: 1024\n  rate: 2\n  burst: 40\n";
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	st = call(h, "GET", "/v1/accounts", NULL, NULL, NULL, &headers);
	CU_ASSERT_EQUAL(st, 401);
	v = pa_daemon_header(headers, "WWW-Authenticate");
	CU_ASSERT(v && strncmp(v, "Bearer", 6) == 0);
	free(v);
	free(headers);
	CU_ASSERT(expect(h, "GET", "/v1/accounts", "wrong-token-0123456789abcdef", NULL, 401, "unauthorized"));
	CU_ASSERT(expect(h, "GET", "/v1/accounts", TOKEN_READ, NULL, 200, NULL));
	CU_ASSERT(expect(h, "DELETE", "/v1/accounts/someone", TOKEN_READ, NULL, 403, "forbidden"));
	CU_ASSERT(expect(h, "DELETE", "/v1/accounts/someone", TOKEN_OPERATE, NULL, 403, "forbidden"));
	CU_ASSERT(expect(h, "POST", "/v1/accounts/import-cookies", TOKEN_OPERATE, "{}", 403, "forbidden"));
	CU_ASSERT(expect(h, "POST", "/v1/accounts/import-cookies", TOKEN_ADMIN, "{bad", 400, "bad_json"));
	CU_ASSERT(expect(h, "POST", "/v1/accounts/import-cookies", TOKEN_ADMIN, "[]", 400, "bad_json"));
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT(expect(h, "POST", "/v1/accounts/import-cookies", TOKEN_ADMIN, big, 413, "too_large"));
	st = call(h, "PUT", "/v1/accounts", TOKEN_ADMIN, "{}", NULL, &headers);
	CU_ASSERT_EQUAL(st, 405);
	v = pa_daemon_header(headers, "Allow");
	CU_ASSERT(v && strcmp(v, "GET") == 0);
	free(v);
	free(headers);
	CU_ASSERT(expect(h, "GET", "/v1/accounts/a%2Fb", TOKEN_READ, NULL, 400, "bad_id"));
	CU_ASSERT(expect(h, "GET", "/v1/nothing", TOKEN_READ, NULL, 404, "not_found"));
	CU_ASSERT(expect(h, "GET", "/v1/accounts/", TOKEN_READ, NULL, 404, "not_found"));
	/* The status page's cookie, read by ops/, is a bearer for GET. */
	CU_ASSERT_EQUAL(pa_daemon_request_raw(h, "GET", "/v1/accounts", NULL, NULL, 0, cookie, &st, &reply, NULL), 0);
	CU_ASSERT_EQUAL(st, 200);
	free(reply);
	/* What this layer counted, as ops/ shows it. */
	CU_ASSERT_EQUAL(pa_daemon_request(h, "GET", "/metrics", TOKEN_READ, NULL, &st, &reply, NULL), 0);
	CU_ASSERT_EQUAL(st, 200);
	CU_ASSERT(reply && strstr(reply, "provauthd_http_requests_total") != NULL);
	CU_ASSERT(reply && strstr(reply, "accounts_list") != NULL);
	free(reply);
	/* 2 a second after a burst of 40: a quick run of requests meets 429 with Retry-After. */
	for (i = 0; i < 60 && !limited; i++) {
		st = call(h, "GET", "/v1/accounts", TOKEN_OPERATE, NULL, NULL, &headers);
		if (st == 429) {
			limited = 1;
			v = pa_daemon_header(headers, "Retry-After");
			CU_ASSERT(v && strtol(v, NULL, 10) >= 1);
			free(v);
		} else {
			CU_ASSERT_EQUAL(st, 200);
		}
		free(headers);
	}
	CU_ASSERT(limited);
	CU_ASSERT(expect(h, "GET", "/v1/accounts", TOKEN_OPERATE, NULL, 429, "rate_limited"));
	CU_ASSERT(expect(h, "GET", "/healthz", NULL, NULL, 200, NULL));
	CU_ASSERT(!pa_daemon_log_contains(h, TOKEN_READ));
	CU_ASSERT(!pa_daemon_log_contains(h, TOKEN_OPERATE));
	CU_ASSERT(!pa_daemon_log_contains(h, TOKEN_ADMIN));
	CU_ASSERT(!pa_daemon_log_contains(h, "wrong-token"));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
}

/* The sign-in form counts wrong tokens with the API's, and answers the blocked address with the form. */
static void test_binary_login_failures(void)
{
	static const pa_daemon_token one[] = { { "reader", TOKEN_READ, "read" } };
	const char *form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	char *reply = NULL, *headers = NULL, *v;
	pa_daemon *h;
	long st = 0;

	o.tokens = one;
	o.ntokens = PAD_ARRAY_LEN(one);
	o.daemon_yaml = "  auth_failures_per_minute: 2\n";
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	CU_ASSERT_EQUAL(pa_daemon_request_raw(h, "POST", "/login", NULL, "token=wrong-guess-0123456789", 28, form, &st,
	                                      &reply, NULL), 0);
	CU_ASSERT_EQUAL(st, 401);
	free(reply);
	CU_ASSERT(expect(h, "GET", "/v1/accounts", "wrong-token-0123456789abcdef", NULL, 401, "unauthorized"));
	/* Two wrong tokens, one each way: the form now answers 429, still a form, with Retry-After. */
	CU_ASSERT_EQUAL(pa_daemon_request_raw(h, "POST", "/login", NULL, "token=" TOKEN_READ, 6 + strlen(TOKEN_READ),
	                                      form, &st, &reply, &headers), 0);
	CU_ASSERT_EQUAL(st, 429);
	CU_ASSERT(reply && strstr(reply, "<form") != NULL);
	v = pa_daemon_header(headers, "Retry-After");
	CU_ASSERT(v && strtol(v, NULL, 10) >= 1);
	free(v);
	free(headers);
	free(reply);
	CU_ASSERT(expect(h, "GET", "/v1/accounts", TOKEN_READ, NULL, 429, "auth_rate_limited"));
	CU_ASSERT_EQUAL(pa_daemon_request(h, "GET", "/healthz", NULL, NULL, &st, &reply, NULL), 0);
	CU_ASSERT_EQUAL(st, 200);
	free(reply);
	CU_ASSERT(!pa_daemon_log_contains(h, "wrong-guess"));
	CU_ASSERT(!pa_daemon_log_contains(h, TOKEN_READ));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
}

/* SIGHUP: the tokens of the new settings apply to the next request; the listener stays. */
static void test_binary_reload_tokens(void)
{
	static const pa_daemon_token before[] = { { "reader", TOKEN_READ, "read" } };
	static const pa_daemon_token after[] = { { "admin", TOKEN_ADMIN, "admin" } };
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	struct timespec t = { 0, 50 * 1000 * 1000 };
	pa_daemon *h;
	int i;

	o.tokens = before;
	o.ntokens = 1;
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	CU_ASSERT(expect(h, "GET", "/v1/accounts", TOKEN_READ, NULL, 200, NULL));
	CU_ASSERT(expect(h, "GET", "/v1/accounts", TOKEN_ADMIN, NULL, 401, "unauthorized"));
	o.tokens = after;
	CU_ASSERT_FATAL(pa_daemon_rewrite_settings(h, &o) == 0);
	CU_ASSERT(pa_daemon_signal(h, SIGHUP) == 0);
	for (i = 0; i < 200 && !pa_daemon_log_contains(h, "\"event\":\"reloaded\""); i++)
		nanosleep(&t, NULL);
	CU_ASSERT(pa_daemon_log_contains(h, "\"event\":\"reloaded\""));
	CU_ASSERT(expect(h, "GET", "/v1/accounts", TOKEN_ADMIN, NULL, 200, NULL));
	CU_ASSERT(expect(h, "GET", "/v1/accounts", TOKEN_READ, NULL, 401, "unauthorized"));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
}

/* A request whose body is still coming when SIGTERM arrives: it is answered, new ones are refused. */
static void test_binary_drain(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	struct timespec t = { 0, 300 * 1000 * 1000 };
	struct sockaddr_in sa;
	pa_daemon *h;
	char buf[4096];
	const char *url;
	ssize_t n, got = 0;
	int fd, port;

	o.tokens = tokens;
	o.ntokens = PAD_ARRAY_LEN(tokens);
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	url = pa_daemon_url(h);
	port = (int)strtol(strrchr(url, ':') + 1, NULL, 10);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	snprintf(buf, sizeof(buf), "POST /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
	         "Content-Type: application/json\r\nContent-Length: 4\r\n\r\n{}",
	         TOKEN_ADMIN);
	CU_ASSERT(write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf));
	nanosleep(&t, NULL);
	CU_ASSERT(pa_daemon_signal(h, SIGTERM) == 0);
	nanosleep(&t, NULL);
	/* Draining: the listening socket is closed. */
	{
		long st = -1;
		char *r = NULL;
		CU_ASSERT(pa_daemon_request(h, "GET", "/healthz", NULL, NULL, &st, &r, NULL) < 0);
		free(r);
	}
	CU_ASSERT(pa_daemon_alive(h));
	CU_ASSERT(write(fd, "  ", 2) == 2);
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got > 0 ? got : 0] = '\0';
	close(fd);
	CU_ASSERT(strncmp(buf, "HTTP/1.1 405", 12) == 0);
	CU_ASSERT(strstr(buf, "\"method_not_allowed\"") != NULL);
	CU_ASSERT(pa_daemon_log_contains(h, "\"event\":\"draining\""));
	CU_ASSERT(!pa_daemon_log_contains(h, TOKEN_ADMIN));
	CU_ASSERT(!pa_daemon_log_contains(h, TOKEN_READ));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
}

static int suite_init(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pa-http-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/server.log", tmpdir);
	return 0;
}

static int suite_clean(void)
{
	return pa_test_rmtree(tmpdir) == 0 ? 0 : -1;
}

static const pa_test unit_tests[] = {
	{ "router: captures, 404, 405 and Allow, bad ids", test_router },
	{ "percent decoding", test_percent_decode },
	{ "bearer header parsing", test_bearer },
	{ "token bucket arithmetic", test_bucket },
	{ "reply JSON, headers, library errors", test_reply },
	PA_TEST_END,
};

static const pa_test server_tests[] = {
	{ "401, 403, 404, 405, 400, 413, 500: all JSON with the request id", test_auth_and_errors },
	{ "captures and query values decoded", test_captures_and_query },
	{ "the sign-in cookie on GET; forms on open routes", test_cookie_and_form },
	{ "429 rate_limited with Retry-After, per token", test_rate_limit },
	{ "429 auth_rate_limited after wrong tokens, per address", test_auth_failure_limit },
	{ "max_connections: one over the limit waits for a free slot", test_connection_limit },
	{ "draining: 503; stop waits for a slow request", test_drain },
	{ "Unix socket: mode, refusals, removed on stop", test_unix_socket },
	{ "TLS with a throwaway certificate", test_tls },
	{ "the access log holds no token or query value", test_log_has_no_secret },
	PA_TEST_END,
};

static const pa_test binary_tests[] = {
	{ "provauthd: open routes, 404, 405", test_binary_routes },
	{ "provauthd: api/'s routes: 401, 403, 400, 413, 405, 404, 429, cookie, metrics", test_binary_real_routes },
	{ "provauthd: the sign-in form counts wrong tokens with the API", test_binary_login_failures },
	{ "provauthd: SIGTERM answers the request in flight, exits 0", test_binary_drain },
	{ "provauthd: Unix socket with its mode, removed on exit", test_binary_unix_socket },
	{ "provauthd: TLS with a throwaway certificate", test_binary_tls },
	{ "provauthd: a bad TLS key file stops the start", test_binary_bad_tls_file },
	{ "provauthd: SIGHUP swaps the tokens for the next request", test_binary_reload_tokens },
	{ "provauthd with the fake Pixverse's providers block", test_binary_with_fake },
	PA_TEST_END,
};

static const pa_test_suite suites[] = {
	{ "daemon_http_units", NULL, NULL, unit_tests },
	{ "daemon_http_server", suite_init, suite_clean, server_tests },
	{ "daemon_http_binary", suite_init, suite_clean, binary_tests },
	PA_TEST_SUITE_END,
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return pa_test_run(argc, argv, suites);
}
