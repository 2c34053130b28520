/*
 * Runs daemon/api's handlers in the test's process (see api_inproc.h).
 * The reply and query functions http/ provides in the daemon are given
 * here as test doubles that follow daemon.h's contract (the error shape,
 * the library code to status table), so the handlers can be tested before
 * and apart from the HTTP layer.
 */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon.h"
#include "api_inproc.h"
#include "pa_test.h"

static pad_world world;
static char tmpdir[] = "/tmp/pad-api-XXXXXX";
static const char *query;       /* the current request's query, without '?' */
static char query_buf[512];

/* ---- the doubles of http/'s functions ---- */

int pad_reply_json(pad_reply *rep, int status, json_object *obj)
{
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);

	free(rep->body);
	rep->status = status;
	rep->content_type = "application/json";
	rep->body = strdup(text);
	rep->len = rep->body ? strlen(rep->body) : 0;
	json_object_put(obj);
	return rep->body ? 0 : PROVAUTH_ENOMEM;
}

int pad_reply_error(pad_reply *rep, int status, const char *code, const char *fmt, ...)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(e, "request_id", json_object_new_string("0123456789abcdef"));
	json_object_object_add(o, "error", e);
	return pad_reply_json(rep, status, o);
}

int pad_reply_provauth(pad_reply *rep, int rc)
{
	static const struct { int rc, status; const char *code; } map[] = {
		{ PROVAUTH_ENOTFOUND, 404, "not_found" }, { PROVAUTH_EINVAL, 400, "invalid" },
		{ PROVAUTH_ECONFLICT, 409, "conflict" }, { PROVAUTH_EBUSY, 409, "busy" },
		{ PROVAUTH_ETIMEOUT, 504, "timeout" }, { PROVAUTH_ENETWORK, 502, "provider_unreachable" },
		{ PROVAUTH_EHTTP, 502, "provider_unreachable" }, { PROVAUTH_EPROTOCOL, 502, "provider_unreachable" },
		{ PROVAUTH_ESESSION, 502, "session_lost" }, { PROVAUTH_EAUTH, 502, "login_failed" },
		{ PROVAUTH_ERATELIMIT, 429, "rate_limited" }, { PROVAUTH_ECOOLDOWN, 429, "cooldown" },
		{ PROVAUTH_EUNSUPPORTED, 400, "unsupported" }, { PROVAUTH_EBANNED, 403, "banned" },
		{ PROVAUTH_ECONCURRENCY, 503, "busy" }, { PROVAUTH_ENOACCOUNT, 503, "no_account" },
		{ PROVAUTH_ECREDITS, 402, "no_credits" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].rc == rc)
			return pad_reply_error(rep, map[i].status, map[i].code, "%s", provauth_last_error());
	return pad_reply_error(rep, 500, "internal", "%s", provauth_last_error());
}

const char *pad_request_query(const pad_request *req, const char *name)
{
	const char *p = query;
	size_t n = strlen(name);

	(void)req;
	while (p && *p) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			size_t len = (size_t)(end - p - n - 1);
			snprintf(query_buf, sizeof(query_buf), "%.*s", (int)len, p + n + 1);
			return query_buf;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* The handlers' own events go where the library's do: the capture the secret scan reads. */
void pad_log(pad_daemon *d, provauth_log_level level, const char *event, const provauth_log_field *f, size_t n)
{
	(void)d;
	pa_test_log_capture(level, event, f, n, NULL);
}

int64_t pad_now(void)
{
	return (int64_t)time(NULL);
}

/* ops/ handlers: not this room's; the table names them. */
int pad_handle_healthz(pad_request *req, pad_reply *rep)
{
	(void)req;
	return pad_reply_json(rep, 200, json_tokener_parse("{\"status\":\"ok\"}"));
}
int pad_handle_readyz(pad_request *req, pad_reply *rep)
{
	return pad_handle_healthz(req, rep);
}
int pad_handle_metrics(pad_request *req, pad_reply *rep)
{
	(void)req;
	rep->status = 200;
	return 0;
}
int pad_handle_login(pad_request *req, pad_reply *rep)
{
	return pad_handle_metrics(req, rep);
}
int pad_handle_status_page(pad_request *req, pad_reply *rep)
{
	return pad_handle_metrics(req, rep);
}

/* ---- routing, as http/router.c does by daemon.h's contract ---- */

static const pad_route *match(const char *method, const char *path, char caps[PAD_MAX_PARAMS][256], size_t *ncaps)
{
	size_t r;

	for (r = 0; r < pad_route_count; r++) {
		const char *t = pad_routes[r].pattern, *p = path;
		size_t n = 0;
		int ok = 1;

		if (strcmp(pad_routes[r].method, method) != 0)
			continue;
		while (*t && *p && ok) {
			if (*t == '{') {
				size_t len = strcspn(p, "/");
				if (!len || n == PAD_MAX_PARAMS || len >= 256)
					ok = 0;
				else {
					snprintf(caps[n++], 256, "%.*s", (int)len, p);
					p += len;
					t = strchr(t, '}') + 1;
				}
			} else if (*t++ != *p++) {
				ok = 0;
			}
		}
		if (ok && !*t && !*p) {
			*ncaps = n;
			return &pad_routes[r];
		}
	}
	return NULL;
}

const char *pad_inproc_route_scope(const char *method, const char *path)
{
	static const char *const names[] = { "none", "read", "operate", "admin" };
	char caps[PAD_MAX_PARAMS][256];
	size_t n;
	const pad_route *r = match(method, path, caps, &n);

	return r ? names[r->scope] : NULL;
}

long pad_inproc_request(const char *method, const char *path, const char *body, char **reply)
{
	char p[1024], caps[PAD_MAX_PARAMS][256];
	const pad_route *route;
	pad_request req;
	pad_reply rep;
	size_t n = 0, i;
	char *q;

	snprintf(p, sizeof(p), "%s", path);
	if ((q = strchr(p, '?'))) {
		*q = '\0';
		query = q + 1;
	} else {
		query = NULL;
	}
	memset(&req, 0, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	if (!(route = match(method, p, caps, &n))) {
		*reply = strdup("");
		return 404;
	}
	req.method = method;
	req.path = p;
	for (i = 0; i < n; i++)
		req.params[i] = caps[i];
	req.nparams = n;
	req.body = body ? body : "";
	req.body_len = strlen(req.body);
	if (body && *body) {
		req.json = json_tokener_parse(body);
		if (!req.json || !json_object_is_type(req.json, json_type_object)) {
			json_object_put(req.json);
			pad_reply_error(&rep, 400, "bad_json", "the body is not a JSON object");
			*reply = rep.body;
			return rep.status;
		}
	}
	req.world = &world;
	snprintf(req.id, sizeof(req.id), "0123456789abcdef");
	if (route->handler(&req, &rep) < 0 && !rep.status)
		pad_reply_error(&rep, 500, "internal", "handler failed");
	json_object_put(req.json);
	*reply = rep.body ? rep.body : strdup("");
	return rep.status;
}

/* ---- the world ---- */

int pad_inproc_start(const char *yaml)
{
	provauth_manager_options mo = PROVAUTH_MANAGER_OPTIONS_INIT;
	const char *b = getenv("PA_BUILDDIR");
	char *text;
	size_t len;
	FILE *f;

	if (!mkdtemp(tmpdir) || !(f = open_memstream(&text, &len)))
		return -1;
	if (!getenv("PROVAUTH_PLUGIN_PATH") && b)
		fprintf(f, "plugin_dir: %s/plugins/.libs\n", b);
	fprintf(f, "store:\n  backend: sqlite\n  path: %s/accounts.db\n%s", tmpdir, yaml);
	fclose(f);
	if (provauth_settings_parse(&world.settings, text, len, "inproc.yaml") < 0) {
		fprintf(stderr, "inproc: settings: %s\n", provauth_last_error());
		free(text);
		return -1;
	}
	free(text);
	mo.log = pa_test_log_capture;
	if (provauth_manager_new(&world.manager, world.settings, &mo) < 0) {
		fprintf(stderr, "inproc: manager: %s\n", provauth_last_error());
		return -1;
	}
	return 0;
}

void pad_inproc_stop(void)
{
	provauth_manager_free(world.manager);
	provauth_settings_free(world.settings);
	pa_test_rmtree(tmpdir);
}

provauth_manager *pad_inproc_manager(void)
{
	return world.manager;
}

const char *pad_inproc_log(void)
{
	return pa_test_log_text();
}
