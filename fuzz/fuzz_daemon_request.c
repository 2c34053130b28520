/*
 * provauthd's request handling without sockets: the bytes are a request
 * ("METHOD\nPATH\nAUTHORIZATION\nBODY") put through what http/ does with
 * every request before a handler runs: the router (captures decoded and
 * checked), the bearer header and the token lookup, the body parser, and an
 * error reply carrying client text. Invariants: only the documented
 * answers, captures never empty, over long or holding '/' or NUL, a token
 * accepted only in its exact form, bodies accepted only as JSON objects,
 * and every error reply valid JSON that says what it was given.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "daemon.h"
#include "fuzz.h"

#define FUZZ_TOKEN "fuzz-token-0123456789abcdef"

static int handler(pad_request *req, pad_reply *rep)
{
	(void)req;
	(void)rep;
	return 0;
}

/* The shapes of api/'s table: literal segments and captures, several methods on one path. */
const pad_route pad_routes[] = {
	{ "GET", "/healthz", PAD_SCOPE_NONE, handler, "healthz" },
	{ "GET", "/v1/accounts", PAD_SCOPE_READ, handler, "accounts_list" },
	{ "GET", "/v1/accounts/{id}", PAD_SCOPE_READ, handler, "accounts_get" },
	{ "DELETE", "/v1/accounts/{id}", PAD_SCOPE_ADMIN, handler, "accounts_delete" },
	{ "POST", "/v1/accounts/import-cookies", PAD_SCOPE_ADMIN, handler, "import_cookies" },
	{ "POST", "/v1/accounts/{id}/reauth", PAD_SCOPE_OPERATE, handler, "reauth" },
	{ "GET", "/v1/accounts/{id}/pixverse-status", PAD_SCOPE_OPERATE, handler, "pixverse_status" },
	{ "POST", "/v1/accounts/{id}/call/{operation}", PAD_SCOPE_OPERATE, handler, "call" },
	{ "GET", "/v1/jobs/{id}", PAD_SCOPE_READ, handler, "jobs_get" },
};
const size_t pad_route_count = sizeof(pad_routes) / sizeof(pad_routes[0]);

static const pad_config *fuzz_config(void)
{
	static pad_config c;
	static char name[] = "fuzz";
	unsigned int n = 0;

	if (c.ntokens == 0) {
		EVP_Digest(FUZZ_TOKEN, strlen(FUZZ_TOKEN), c.tokens[0].sha256, &n, EVP_sha256(), NULL);
		c.tokens[0].name = name;
		c.tokens[0].scope = PAD_SCOPE_OPERATE;
		c.ntokens = 1;
	}
	return &c;
}

/* The next '\n'-ended field of the input, NUL-terminated in a copy. */
static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(len + 1);

	if (!s)
		pa_fuzz_fail("out of memory");
	memcpy(s, *p, len);
	s[len] = '\0';
	*p += len + (nl ? 1 : 0);
	return s;
}

static int segments_with_captures(const char *pattern)
{
	int n = 0;

	for (; *pattern; pattern++)
		n += *pattern == '{';
	return n;
}

static void check_route(const char *method, const char *path)
{
	static char buf[PAD_CAPTURE_BUF];
	const pad_route *r = NULL;
	pad_request req;
	char allow[64];
	size_t i;
	int rc;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	rc = pad_route_match_in(pad_routes, pad_route_count, &r, &req, buf, sizeof(buf), allow, sizeof(allow));
	PA_FUZZ_CHECK(rc == 0 || rc == 400 || rc == 404 || rc == 405 || rc == 414);
	PA_FUZZ_CHECK((rc == 0) == (r != NULL));
	if (rc == 405)
		PA_FUZZ_CHECK(allow[0] != '\0');
	if (rc != 0)
		return;
	PA_FUZZ_CHECK(strcmp(r->method, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0));
	PA_FUZZ_CHECK((int)req.nparams == segments_with_captures(r->pattern));
	for (i = 0; i < req.nparams; i++) {
		size_t len = strlen(req.params[i]);
		PA_FUZZ_CHECK(len > 0 && len <= PAD_MAX_CAPTURE);
		PA_FUZZ_CHECK(strchr(req.params[i], '/') == NULL);
	}
	/* A path with no '%' is its own decoding: the captures are its segments. */
	if (!strchr(path, '%'))
		for (i = 0; i < req.nparams; i++)
			PA_FUZZ_CHECK(strstr(path, req.params[i]) != NULL);
}

static void check_bearer(const char *header)
{
	const char *tok;
	size_t len, i;
	const pad_token *t;

	if (pad_bearer_parse(header, &tok, &len) < 0)
		return;
	PA_FUZZ_CHECK(len > 0 && tok >= header && tok + len == header + strlen(header));
	for (i = 0; i < len; i++)
		PA_FUZZ_CHECK(tok[i] != ' ' && tok[i] != '\r' && tok[i] != '\n' && tok[i] != '"');
	t = pad_config_find_token(fuzz_config(), tok, len);
	PA_FUZZ_CHECK(!t || (len == strlen(FUZZ_TOKEN) && memcmp(tok, FUZZ_TOKEN, len) == 0));
}

static void check_body(const char *body, size_t len)
{
	json_object *o = NULL;
	int rc = pad_body_parse(&o, body, len);

	PA_FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc < 0)
		PA_FUZZ_CHECK(o == NULL);
	else if (len == 0)
		PA_FUZZ_CHECK(o == NULL);
	else
		PA_FUZZ_CHECK(o && json_object_is_type(o, json_type_object));
	json_object_put(o);
}

/* An error reply quoting client text is still one JSON object saying exactly that text. */
static void check_reply(const char *text)
{
	pad_reply rep;
	json_object *o, *e, *m;

	memset(&rep, 0, sizeof(rep));
	PA_FUZZ_CHECK(pad_reply_error(&rep, 404, "not_found", "%s", text) == 0);
	PA_FUZZ_CHECK(rep.body && rep.len == strlen(rep.body));
	o = json_tokener_parse(rep.body);
	PA_FUZZ_CHECK(o && json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "message", &m));
	/* vsnprintf cuts at 1023 bytes, possibly inside a UTF-8 sequence json-c then keeps as is. */
	if (strlen(text) < 1000)
		PA_FUZZ_CHECK(strcmp(json_object_get_string(m), text) == 0);
	json_object_put(o);
	pad_reply_clear(&rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *method = field(&p, end), *path = field(&p, end), *auth = field(&p, end);
	size_t body_len = (size_t)(end - p);
	/* An exact-size copy, so that ASan sees any read past the end. */
	char *body = malloc(body_len + 1);

	if (!body)
		pa_fuzz_fail("out of memory");
	memcpy(body, p, body_len);
	body[body_len] = '\0';
	check_route(method, path);
	check_bearer(auth);
	check_body(body, body_len);
	check_reply(path);
	free(body);
	free(auth);
	free(path);
	free(method);
	return 0;
}
