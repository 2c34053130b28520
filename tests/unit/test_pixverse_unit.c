/*
 * The Pixverse plugin's parts that need no server (JWT, cookies,
 * build_session, classify, requests, login/refresh/import) against the real host table:
 * expiry arithmetic, every import format and its malformed cousins, the JWT
 * choice of spec 3.3, every row of the error table of spec 3.4 as a message
 * and as a reply, and the headers and envelope handling over a stub HTTP
 * service.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"
#include "session/session.h"
#include "pixverse.h"
#include "../support/pa_test.h"

#define NOW 1800000000LL
#define SECRET_VALUE "SECRETVAL-9f8e7d"

static provauth_host host;
static pa_host_ctx host_ctx;
static pa_logger logger;
static int64_t clock_now = NOW;
static pv_state state;
static char *log_text;
static size_t log_len;

static int64_t test_clock(void *payload)
{
	(void)payload;
	return clock_now;
}

static void capture(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                    void *payload)
{
	char line[1024];
	size_t o, i;

	(void)level;
	(void)payload;
	o = (size_t)snprintf(line, sizeof(line), "%s", event);
	for (i = 0; i < n && o < sizeof(line); i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%s", f[i].key, f[i].str ? f[i].str : "");
	if (o >= sizeof(line))
		o = sizeof(line) - 1;
	log_text = realloc(log_text, log_len + o + 2);
	memcpy(log_text + log_len, line, o);
	log_len += o;
	log_text[log_len++] = '\n';
	log_text[log_len] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static char *b64url(const char *in)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(in), i, o = 0;
	char *out = malloc(n * 4 / 3 + 4);
	const unsigned char *p = (const unsigned char *)in;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = tbl[p[i] >> 2];
		out[o++] = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = tbl[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[o++] = tbl[p[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = tbl[p[i] >> 2];
		out[o++] = tbl[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		out[o++] = tbl[p[i] >> 2];
		out[o++] = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = tbl[(p[i + 1] & 15) << 2];
	}
	out[o] = '\0';
	return out;
}

/* A JWT whose payload is `payload_json` (the signature is never checked here). */
static char *jwt_with(const char *payload_json)
{
	char *p = b64url(payload_json), *t = malloc(strlen(p) + 64);
	sprintf(t, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.%s.c2lnbmF0dXJl", p);
	free(p);
	return t;
}

/* A Pixverse-style JWT expiring at `exp`; `tag` makes equal expiries differ. */
static char *pv_jwt(long long exp, const char *tag)
{
	char payload[160];
	snprintf(payload, sizeof(payload), "{\"AccountId\":42,\"ExpireTime\":%lld,\"Username\":\"%s\"}", exp, tag);
	return jwt_with(payload);
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int setup(void)
{
	logger.fn = capture;
	logger.min_level = PROVAUTH_LOG_DEBUG;
	host_ctx.logger = &logger;
	host_ctx.clock = test_clock;
	pa_host_init(&host, &host_ctx);
	state.host = &host;
	state.jwt_refresh_threshold = 43200;
	return 0;
}

static int teardown(void)
{
	free(log_text);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* JWT                                                                      */
/* ------------------------------------------------------------------------ */

static void expect_expiry(const char *payload, long long want)
{
	char *t = jwt_with(payload);
	int64_t exp = 0;

	CU_ASSERT_EQUAL(pv_jwt_expiry(&host, t, &exp), 0);
	CU_ASSERT_EQUAL(exp, want);
	free(t);
}

static void test_jwt_expiry_claims(void)
{
	expect_expiry("{\"exp\":1800003600}", 1800003600LL);
	expect_expiry("{\"exp\":\"1800003601\"}", 1800003601LL);
	expect_expiry("{\"AccountId\":1,\"ExpireTime\":1800007200,\"Username\":\"u\"}", 1800007200LL);
	expect_expiry("{\"ExpireTime\":\"1800007201\"}", 1800007201LL);
	/* exp wins when both are there */
	expect_expiry("{\"exp\":1800000100,\"ExpireTime\":1800000200}", 1800000100LL);
	/* an integral float, and milliseconds */
	expect_expiry("{\"exp\":1800000300.0}", 1800000300LL);
	expect_expiry("{\"ExpireTime\":1800000400000}", 1800000400LL);
	/* an unusable exp falls back to ExpireTime */
	expect_expiry("{\"exp\":\"soon\",\"ExpireTime\":1800000500}", 1800000500LL);
}

static void test_jwt_needs_refresh(void)
{
	char *fresh = pv_jwt(NOW + 20 * 86400, "a"), *near = pv_jwt(NOW + 43200 - 1, "b");
	char *edge = pv_jwt(NOW + 43200 + 1, "c"), *past = pv_jwt(NOW - 5, "d");
	char *exp_claim = jwt_with("{\"exp\":1800864000}");

	/* The spec's Python treated every token with exp as expired; a valid one must not be. */
	CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, exp_claim, NOW, 43200), 0);
	CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, fresh, NOW, 43200), 0);
	CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, near, NOW, 43200), 1);
	CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, edge, NOW, 43200), 0);
	CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, past, NOW, 0), 1);
	CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, fresh, NOW + 20 * 86400, 0), 1);
	/* no overflow near the end of time */
	CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, fresh, INT64_MAX - 10, 43200), 1);
	free(fresh);
	free(near);
	free(edge);
	free(past);
	free(exp_claim);
}

static void test_jwt_undecodable(void)
{
	static const char *const payloads[] = {
		"{\"AccountId\":1,\"Username\":\"u\"}", /* neither claim */
		"{\"exp\":null}",
		"{\"exp\":\"12abc\"}",
		"{not json",
		"[1800003600]",
		"1800003600",
		"",
	};
	static const char *const tokens[] = {
		"", "nodots", "a.!!!!.c", "a..c", "a.b", ".", "eyJ.eyJ.x", "a.\xff\xfe.c",
	};
	char *huge;
	size_t i;
	int64_t exp;

	for (i = 0; i < PA_ARRAY_LEN(payloads); i++) {
		char *t = jwt_with(payloads[i]);
		CU_ASSERT_EQUAL(pv_jwt_expiry(&host, t, &exp), PROVAUTH_EINVAL);
		CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, t, NOW, 43200), 1);
		free(t);
	}
	for (i = 0; i < PA_ARRAY_LEN(tokens); i++) {
		CU_ASSERT_EQUAL(pv_jwt_expiry(&host, tokens[i], &exp), PROVAUTH_EINVAL);
		CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, tokens[i], NOW, 43200), 1);
	}
	CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, NULL, NOW, 43200), 1);
	/* A megabyte "token" is refused before decoding. */
	huge = malloc(1 << 20);
	memset(huge, 'A', (1 << 20) - 1);
	huge[10] = '.';
	huge[(1 << 20) - 1] = '\0';
	CU_ASSERT_EQUAL(pv_jwt_needs_refresh(&host, huge, NOW, 43200), 1);
	CU_ASSERT_PTR_NULL(pv_jwt_payload(&host, huge));
	free(huge);
}

/* ------------------------------------------------------------------------ */
/* Cookies                                                                  */
/* ------------------------------------------------------------------------ */

static const char *cookie(const pv_cookie_jar *jar, const char *name)
{
	return pv_cookie_find(jar->items, jar->count, name);
}

static void test_cookies_header(void)
{
	pv_cookie_jar jar;

	CU_ASSERT_EQUAL_FATAL(pv_cookies_parse(&jar, &host, "Cookie: a=1; _ai_token=tok.en.x; b=c=d"), 0);
	CU_ASSERT_EQUAL(jar.count, 3);
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "a"), "1");
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "_ai_token"), "tok.en.x");
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "b"), "c=d");
	pv_cookies_free(&jar);

	CU_ASSERT_EQUAL_FATAL(pv_cookies_parse(&jar, &host, "  cookie:x = 1 ;; y=two words ; z= ;\n"), 0);
	CU_ASSERT_EQUAL(jar.count, 3);
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "x"), "1");
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "y"), "two words");
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "z"), "");
	pv_cookies_free(&jar);

	/* later duplicates win */
	CU_ASSERT_EQUAL_FATAL(pv_cookies_parse(&jar, &host, "a=1; a=2"), 0);
	CU_ASSERT_EQUAL(jar.count, 1);
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "a"), "2");
	pv_cookies_free(&jar);
}

static void test_cookies_json_object(void)
{
	pv_cookie_jar jar;

	CU_ASSERT_EQUAL_FATAL(pv_cookies_parse(&jar, &host, " {\"_ai_token\": \"t.o.k\", \"n\": 5, \"e\\u0073c\": \"x\"}"),
	                      0);
	CU_ASSERT_EQUAL(jar.count, 3);
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "_ai_token"), "t.o.k");
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "n"), "5");
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "esc"), "x");
	pv_cookies_free(&jar);
}

static void test_cookies_browser_export(void)
{
	pv_cookie_jar jar;
	const char *in =
		"[{\"domain\":\".pixverse.ai\",\"name\":\"_ai_token\",\"value\":\"t.o.k\",\"path\":\"/\",\"httpOnly\":true,"
		"\"expirationDate\":1800000000.5,\"sameSite\":\"lax\"},"
		"{\"domain\":\"app.pixverse.ai\",\"name\":\"lang\",\"value\":\"en\",\"hostOnly\":true},"
		"{\"domain\":\"app.pixverse.ai\",\"name\":\"lang\",\"value\":\"fr\"}]";

	CU_ASSERT_EQUAL_FATAL(pv_cookies_parse(&jar, &host, in), 0);
	CU_ASSERT_EQUAL(jar.count, 2);
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "_ai_token"), "t.o.k");
	CU_ASSERT_STRING_EQUAL(cookie(&jar, "lang"), "fr");
	pv_cookies_free(&jar);
}

/* Parses `in`, expects PROVAUTH_EINVAL with `want` in the message and no secret value in it. */
static void expect_bad(const char *in, const char *want)
{
	pv_cookie_jar jar = { NULL, (provauth_cookie *)1, 99 };
	const char *msg;
	int rc;

	provauth_error_clear();
	rc = pv_cookies_parse(&jar, &host, in);
	msg = provauth_last_error();
	CU_ASSERT_EQUAL(rc, PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(jar.items);
	CU_ASSERT_EQUAL(jar.count, 0);
	if (!strstr(msg, want))
		fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", msg, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
	CU_ASSERT_PTR_NULL(strstr(msg, SECRET_VALUE));
	CU_ASSERT_PTR_NULL(strstr(msg, "SECRETVAL"));
	CU_ASSERT(printable(msg));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "pixverse: cookies"));
}

static void test_cookies_malformed(void)
{
	expect_bad("{\"_ai_token\": \"" SECRET_VALUE, "not valid JSON");
	expect_bad("[{\"name\": \"a\", \"value\": \"" SECRET_VALUE "\"}", "not valid JSON");
	expect_bad("[\"" SECRET_VALUE "\", 2]", "array element 0 is a string, not an object");
	expect_bad("[{\"name\":\"a\",\"value\":\"1\"}, 7]", "array element 1 is a number, not an object");
	expect_bad("[{\"value\":\"" SECRET_VALUE "\"}]", "array element 0 has no string \"name\"");
	expect_bad("[{\"name\":\"sid\",\"value\":null}]", "array element 0 ('sid') has no string \"value\"");
	expect_bad("[{\"name\":\"\",\"value\":\"" SECRET_VALUE "\"}]", "empty name");
	expect_bad("{\"\": \"" SECRET_VALUE "\"}", "empty name");
	expect_bad("=" SECRET_VALUE, "cookie #1 has an empty name");
	expect_bad("a=1; " SECRET_VALUE, "cookie #2 has no '='");
	expect_bad("bad name=" SECRET_VALUE, "name 'bad name'");
	expect_bad("{\"a\": {\"x\": \"" SECRET_VALUE "\"}}", "member 1 ('a') is an object, not a string");
	expect_bad("{\"a\": true}", "is a boolean, not a string");
	expect_bad("{\"a\": \"x\\r\\nInjected: " SECRET_VALUE "\"}", "characters a Cookie header cannot carry");
	expect_bad("{\"a\\u0001b\": \"" SECRET_VALUE "\"}", "name 'a\\x01b'");
	expect_bad("a=\x01" SECRET_VALUE, "cannot carry");
	expect_bad("a=caf\xc3\xa9" SECRET_VALUE, "cannot carry");
	expect_bad("[]", "the JSON array is empty");
	expect_bad("{}", "the JSON object is empty");
	expect_bad("\"" SECRET_VALUE "\"", "has no '='");
	expect_bad("   \n\t ", "input is empty");
	expect_bad("", "input is empty");
	expect_bad("Cookie:   ", "holds no cookie");
	expect_bad(";;;", "holds no cookie");
	expect_bad(NULL, "no input");
}

static void test_cookies_limits(void)
{
	size_t big = PV_COOKIES_MAX_INPUT + 10, i, o = 0;
	char *in = malloc(big + 1);

	/* Too many bytes: refused before any parsing. */
	memset(in, 'x', big);
	memcpy(in, "a=", 2);
	in[big] = '\0';
	expect_bad(in, "the limit is");
	/* Too many cookies. */
	for (i = 0; i < PV_COOKIES_MAX_COUNT + 1; i++)
		o += (size_t)sprintf(in + o, "c%zu=v; ", i);
	expect_bad(in, "more than");
	/* Nesting deeper than the JSON parser allows. */
	memset(in, '[', 5000);
	in[5000] = '\0';
	expect_bad(in, "not valid JSON");
	free(in);
}

static void test_cookies_binary_garbage(void)
{
	unsigned int seed = 12345;
	char buf[2048];
	int round, failures = 0;

	for (round = 0; round < 200; round++) {
		pv_cookie_jar jar;
		size_t i, n = 1 + (size_t)(rand_r(&seed) % (sizeof(buf) - 1));
		int rc;

		for (i = 0; i < n; i++) {
			buf[i] = (char)(rand_r(&seed) & 0xff);
			if (!buf[i])
				buf[i] = '\x80';
		}
		buf[n] = '\0';
		/* Shapes that get past the first character too. */
		if (round % 3 == 1)
			buf[0] = '{';
		else if (round % 3 == 2)
			buf[0] = '[';
		rc = pv_cookies_parse(&jar, &host, buf);
		if (rc == 0) {
			/* Anything accepted must be fit for a Cookie header. */
			for (i = 0; i < jar.count; i++)
				if (!pv_cookie_name_ok(jar.items[i].name) || !pv_cookie_value_ok(jar.items[i].value))
					failures++;
			pv_cookies_free(&jar);
		} else {
			CU_ASSERT_EQUAL(rc, PROVAUTH_EINVAL);
			CU_ASSERT(printable(provauth_last_error()));
		}
	}
	CU_ASSERT_EQUAL(failures, 0);
}

/* ------------------------------------------------------------------------ */
/* build_session                                                            */
/* ------------------------------------------------------------------------ */

typedef struct built {
	pa_cached c;           /* the host's session (c.s) and the credentials it holds */
	provauth_update *u;
	int rc;
} built;

/* What the host does: prefill from the account, then call the plugin. */
static void build(built *b, const provauth_account *a)
{
	memset(b, 0, sizeof(*b));
	CU_ASSERT_FATAL(pa_update_new(&b->u) == 0);
	b->c.s.account_id = a->id;
	b->c.s.provider = a->provider;
	b->c.s.email = a->email;
	/* The session lends the account's credentials until the build sets one. */
	CU_ASSERT_FATAL(pa_session_lend_credentials(&b->c, a) == 0);
	b->c.s.auth_method = provauth_account_auth_method(a);
	b->c.s.metadata = pa_account_metadata(a);
	b->rc = pv_build_session(&state, a, &b->c.s, b->u);
}

static void built_free(built *b, const provauth_account *a)
{
	(void)a;
	if (b->c.s.provider_data)
		pv_session_data_free(&state, b->c.s.provider_data);
	provauth_account_free(b->c.creds);
	pa_update_free(b->u);
}

/* The JWT the session authenticates with. */
static const char *session_jwt(const built *b)
{
	return provauth_session_credential(&b->c.s, PROVAUTH_CRED_JWT, NULL);
}

/* Where Pixverse took it from (its session data). */
static const char *jwt_source(const built *b)
{
	const pv_session_data *d = b->c.s.provider_data;

	return d && d->jwt_source ? d->jwt_source : "(no session data)";
}

static provauth_account *account_with(const char *jwt, const char *cookie_jwt)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_account_new(&a, "acct-1", "pixverse") == 0);
	provauth_account_set(&a->email, "user@example.com");
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, jwt, 0);
	if (cookie_jwt)
		provauth_account_set_cookie(a, "_ai_token", cookie_jwt);
	provauth_account_set_cookie(a, "other", "1");
	return a;
}

static void test_build_prefers_fresher_cookie(void)
{
	char *old = pv_jwt(NOW + 3600, "acct"), *newer = pv_jwt(NOW + 20 * 86400, "cookie");
	provauth_account *a = account_with(old, newer);
	built b;

	build(&b, a);
	CU_ASSERT_EQUAL(b.rc, 0);
	CU_ASSERT_STRING_EQUAL(jwt_source(&b), "cookies");
	CU_ASSERT_STRING_EQUAL(session_jwt(&b), newer);
	CU_ASSERT_STRING_NOT_EQUAL(session_jwt(&b), PA_CRED(a, JWT));
	CU_ASSERT_STRING_EQUAL(pa_update_credential(b.u, PROVAUTH_CRED_JWT, NULL), newer);
	CU_ASSERT_PTR_NOT_NULL(strstr(log_text ? log_text : "", "pixverse_jwt_from_cookies"));
	CU_ASSERT_PTR_NULL(strstr(log_text ? log_text : "", newer));
	built_free(&b, a);
	provauth_account_free(a);

	/* No account token at all, or an undecodable one: the cookie's. */
	a = account_with(NULL, newer);
	build(&b, a);
	CU_ASSERT_STRING_EQUAL(jwt_source(&b), "cookies");
	CU_ASSERT_STRING_EQUAL(session_jwt(&b), newer);
	built_free(&b, a);
	provauth_account_free(a);
	a = account_with("garbage", newer);
	build(&b, a);
	CU_ASSERT_STRING_EQUAL(jwt_source(&b), "cookies");
	CU_ASSERT_STRING_EQUAL(session_jwt(&b), newer);
	built_free(&b, a);
	provauth_account_free(a);
	free(old);
	free(newer);
}

static void test_build_keeps_account_jwt(void)
{
	char *fresh = pv_jwt(NOW + 20 * 86400, "acct"), *fresher = pv_jwt(NOW + 25 * 86400, "cookie");
	char *near = pv_jwt(NOW + 3600, "acct2"), *nearer = pv_jwt(NOW + 1800, "cookie2");
	char *dead = pv_jwt(NOW - 10, "cookie3");
	provauth_account *a;
	built b;

	/* Not near expiry: the account's, even though the cookie's lasts longer. */
	a = account_with(fresh, fresher);
	build(&b, a);
	CU_ASSERT_EQUAL(b.rc, 0);
	CU_ASSERT_STRING_EQUAL(jwt_source(&b), "account");
	CU_ASSERT_STRING_EQUAL(session_jwt(&b), PA_CRED(a, JWT));
	CU_ASSERT_PTR_NULL(pa_update_credential(b.u, PROVAUTH_CRED_JWT, NULL));
	built_free(&b, a);
	provauth_account_free(a);

	/* Near expiry but the cookie's expires sooner. */
	a = account_with(near, nearer);
	build(&b, a);
	CU_ASSERT_STRING_EQUAL(jwt_source(&b), "account");
	CU_ASSERT_STRING_EQUAL(session_jwt(&b), PA_CRED(a, JWT));
	CU_ASSERT_PTR_NULL(pa_update_credential(b.u, PROVAUTH_CRED_JWT, NULL));
	built_free(&b, a);
	provauth_account_free(a);

	/* The cookie's is undecodable, or expired, or the same token. */
	a = account_with(near, "not-a-jwt");
	build(&b, a);
	CU_ASSERT_STRING_EQUAL(jwt_source(&b), "account");
	built_free(&b, a);
	provauth_account_free(a);
	a = account_with(NULL, dead);
	build(&b, a);
	CU_ASSERT_STRING_EQUAL(jwt_source(&b), "none");
	CU_ASSERT_PTR_NULL(session_jwt(&b));
	built_free(&b, a);
	provauth_account_free(a);
	a = account_with(near, near);
	build(&b, a);
	CU_ASSERT_STRING_EQUAL(jwt_source(&b), "account");
	CU_ASSERT_PTR_NULL(pa_update_credential(b.u, PROVAUTH_CRED_JWT, NULL));
	built_free(&b, a);
	provauth_account_free(a);

	free(fresh);
	free(fresher);
	free(near);
	free(nearer);
	free(dead);
}

static void test_build_openapi_key(void)
{
	char *fresh = pv_jwt(NOW + 20 * 86400, "acct");
	provauth_account *a = account_with(fresh, NULL);
	built b;

	provauth_account_set_api_key(a, "other", "not-this");
	provauth_account_set_api_key(a, "openapi", "pv-openapi-key");
	build(&b, a);
	CU_ASSERT_EQUAL(b.rc, 0);
	CU_ASSERT_STRING_EQUAL(provauth_session_credential(&b.c.s, PROVAUTH_CRED_API_KEY, "openapi"), "pv-openapi-key");
	built_free(&b, a);
	provauth_account_free(a);

	a = account_with(fresh, NULL);
	build(&b, a);
	CU_ASSERT_PTR_NULL(provauth_session_credential(&b.c.s, PROVAUTH_CRED_API_KEY, "openapi"));
	built_free(&b, a);
	provauth_account_free(a);
	free(fresh);
}

static const char *anon_of(const built *b)
{
	return ((const pv_session_data *)b->c.s.provider_data)->ids.anonymous_id;
}

static const char *trace_of(const built *b)
{
	return ((const pv_session_data *)b->c.s.provider_data)->ids.trace_id;
}

static int uuid_like(const char *s)
{
	size_t i;

	if (strlen(s) != 36 || s[14] != '4')
		return 0;
	for (i = 0; i < 36; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

static void test_build_anonymous_id(void)
{
	char *fresh = pv_jwt(NOW + 20 * 86400, "acct"), first[40], first_trace[40], stored[128];
	provauth_account *a = account_with(fresh, NULL), *other = account_with(fresh, NULL);
	built b, b2;

	build(&b, a);
	CU_ASSERT_EQUAL_FATAL(b.rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b.c.s.provider_data);
	CU_ASSERT(uuid_like(anon_of(&b)));
	CU_ASSERT(uuid_like(trace_of(&b)));
	CU_ASSERT_STRING_NOT_EQUAL(anon_of(&b), trace_of(&b));
	snprintf(first, sizeof(first), "%s", anon_of(&b));
	snprintf(first_trace, sizeof(first_trace), "%s", trace_of(&b));
	/* stored through the update, as metadata.anonymous_id and .trace_id */
	CU_ASSERT_FALSE(pa_update_is_empty(b.u));
	CU_ASSERT_EQUAL(pa_update_apply(b.u, a), 0);
	snprintf(stored, sizeof(stored), "\"anonymous_id\":\"%s\"", first);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->metadata, stored));
	snprintf(stored, sizeof(stored), "\"trace_id\":\"%s\"", first_trace);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->metadata, stored));
	CU_ASSERT_PTR_NOT_NULL(strstr(a->metadata, "\"ids_at\":"));
	built_free(&b, a);

	/* The next build reads them back and asks to store nothing. */
	build(&b, a);
	CU_ASSERT_STRING_EQUAL(anon_of(&b), first);
	CU_ASSERT_STRING_EQUAL(trace_of(&b), first_trace);
	CU_ASSERT(pa_update_is_empty(b.u));
	built_free(&b, a);

	/* A 10005 recorded after they were set drops both; one recorded before changes nothing. */
	snprintf(stored, sizeof(stored), "{\"state\":\"invalid\",\"code\":\"10005\",\"at\":%lld}",
	         (long long)NOW - 100000);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "session_health", stored), 0);
	build(&b, a);
	CU_ASSERT_STRING_EQUAL(anon_of(&b), first);
	CU_ASSERT(pa_update_is_empty(b.u));
	built_free(&b, a);
	snprintf(stored, sizeof(stored), "{\"state\":\"invalid\",\"code\":\"10005\",\"at\":%lld}",
	         (long long)NOW + 100000);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "session_health", stored), 0);
	build(&b, a);
	CU_ASSERT(uuid_like(anon_of(&b)) && strcmp(anon_of(&b), first) != 0);
	CU_ASSERT(uuid_like(trace_of(&b)) && strcmp(trace_of(&b), first_trace) != 0);
	CU_ASSERT_FALSE(pa_update_is_empty(b.u));
	built_free(&b, a);
	/* Another code (an expired token) keeps them. */
	snprintf(stored, sizeof(stored), "{\"state\":\"invalid\",\"code\":\"10002\",\"at\":%lld}",
	         (long long)NOW + 100000);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "session_health", stored), 0);
	build(&b, a);
	CU_ASSERT_STRING_EQUAL(anon_of(&b), first);
	CU_ASSERT(pa_update_is_empty(b.u));
	built_free(&b, a);

	/* Another account gets its own. */
	build(&b2, other);
	CU_ASSERT(uuid_like(anon_of(&b2)));
	CU_ASSERT_STRING_NOT_EQUAL(anon_of(&b2), first);
	built_free(&b2, other);

	/* A stored value that cannot go into a header is replaced. */
	CU_ASSERT_EQUAL(provauth_account_set_metadata(other, "anonymous_id", "\"bad\\r\\nvalue\""), 0);
	build(&b2, other);
	CU_ASSERT(uuid_like(anon_of(&b2)));
	CU_ASSERT_FALSE(pa_update_is_empty(b2.u));
	built_free(&b2, other);

	provauth_account_free(a);
	provauth_account_free(other);
	free(fresh);
}

/* ------------------------------------------------------------------------ */
/* classify_error                                                           */
/* ------------------------------------------------------------------------ */

/* As the host does before calling classify_error. */
static void outcome_start(provauth_outcome *o, const provauth_failure *f)
{
	memset(o, 0, sizeof(*o));
	o->result = f->code;
	o->retry_after = -1;
	snprintf(o->error_reason, sizeof(o->error_reason), "non_session_error");
}

static void classify_message(const char *msg, int code, provauth_outcome *o)
{
	provauth_failure f = { PROVAUTH_FAILURE_NONE, 0, 0, NULL, NULL, 0, -1 };

	CU_ASSERT_FATAL(provauth_failure_set_message(&f, code, "%s", msg) == 0);
	outcome_start(o, &f);
	CU_ASSERT_EQUAL(pv_classify_error(&state, &f, o), 0);
	provauth_failure_clear(&f);
}

static void classify_body(long status, const char *body, long retry_after, provauth_outcome *o)
{
	provauth_failure f = { PROVAUTH_FAILURE_NONE, PROVAUTH_ERROR, 0, NULL, NULL, 0, -1 };

	CU_ASSERT_FATAL(provauth_failure_set_http(&f, status, body, body ? strlen(body) : 0, retry_after) == 0);
	outcome_start(o, &f);
	CU_ASSERT_EQUAL(pv_classify_error(&state, &f, o), 0);
	provauth_failure_clear(&f);
}

typedef struct row {
	long long code;          /* 0: message-only row */
	const char *message;     /* as the SDK / service words it */
	const char *reason;
	int session;
	int result;              /* when not a session error */
	int cooldown;
} row;

static const row table[] = {
	{ 10005, "Your account has been logged in elsewhere", "logged_elsewhere", 1, PROVAUTH_ESESSION, 0 },
	{ 10003, "user is not login", "user_not_login", 1, PROVAUTH_ESESSION, 0 },
	{ 0, "Session expired, please sign in again", "session_expired", 1, PROVAUTH_ESESSION, 0 },
	{ 10001, "Token is invalid", "token_invalid", 1, PROVAUTH_ESESSION, 0 },
	{ 10002, "token expired", "token_expired", 1, PROVAUTH_ESESSION, 0 },
	{ 500213, "Too many login attempts, please try again later.", "too_many_logins", 0, PROVAUTH_ECOOLDOWN, 1 },
	{ 500043, "All credits have been used up", "credits_exhausted", 0, PROVAUTH_ECREDITS, 0 },
	{ 500090, "Insufficient balance", "insufficient_balance", 0, PROVAUTH_ECREDITS, 0 },
	{ 500044, "The number of concurrent generations has reached the limit", "concurrency_limit", 0,
	  PROVAUTH_ECONCURRENCY, 0 },
	{ 500054, "The output may contain inappropriate content", "content_output_rejected", 0, PROVAUTH_EMODERATED, 0 },
	{ 500063, "The prompt contains sensitive content", "content_prompt_rejected", 0, PROVAUTH_EREJECTED, 0 },
	{ 500069, "The system is under high load, please try again later", "high_load", 0, PROVAUTH_EOVERLOAD, 0 },
};

static void check_row(const row *r, const provauth_outcome *o, const char *how)
{
	char code[32];

	snprintf(code, sizeof(code), "%lld", r->code);
	if (strcmp(o->error_reason, r->reason) != 0)
		fprintf(stderr, "\n  %s %lld: reason %s, want %s\n", how, r->code, o->error_reason, r->reason);
	CU_ASSERT_STRING_EQUAL(o->error_reason, r->reason);
	CU_ASSERT_EQUAL(o->is_session_error, r->session);
	CU_ASSERT_EQUAL(o->should_invalidate_cache, r->session);
	CU_ASSERT_EQUAL(o->should_attempt_reauth, r->session);
	CU_ASSERT_EQUAL(o->result, r->session ? PROVAUTH_ESESSION : r->result);
	CU_ASSERT_EQUAL(o->start_login_cooldown, r->cooldown);
	if (r->code)
		CU_ASSERT_STRING_EQUAL(o->error_code, code);
}

static void test_classify_table(void)
{
	provauth_outcome o;
	char text[256], body[512];
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(table); i++) {
		const row *r = &table[i];

		/* As the service's words, in any case. */
		classify_message(r->message, PROVAUTH_ERROR, &o);
		check_row(r, &o, "message");
		snprintf(text, sizeof(text), "PIXVERSE SAYS: %s", r->message);
		for (char *p = text; *p; p++)
			*p = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
		classify_message(text, PROVAUTH_ERROR, &o);
		check_row(r, &o, "upper-case message");
		if (!r->code)
			continue;
		/* As a message that only carries the code. */
		snprintf(text, sizeof(text), "API error (ErrCode=%lld)", r->code);
		classify_message(text, PROVAUTH_ERROR, &o);
		check_row(r, &o, "code in message");
		/* As a reply, ErrCode a number and a string. */
		snprintf(body, sizeof(body), "{\"ErrCode\":%lld,\"ErrMsg\":\"%s\",\"Resp\":{}}", r->code, r->message);
		classify_body(200, body, -1, &o);
		check_row(r, &o, "body");
		snprintf(body, sizeof(body), "{\"ErrCode\":\"%lld\",\"ErrMsg\":\"whatever\"}", r->code);
		classify_body(200, body, -1, &o);
		check_row(r, &o, "body with a string code");
	}
}

static void test_classify_banned(void)
{
	provauth_outcome o;

	classify_body(200, "{\"ErrCode\":10001,\"ErrMsg\":\"Token is invalid: the account is blocked\",\"Resp\":{}}", -1,
	              &o);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
	CU_ASSERT_EQUAL(o.should_attempt_reauth, 0);
	CU_ASSERT_EQUAL(o.should_invalidate_cache, 0);
	CU_ASSERT_EQUAL(o.result, PROVAUTH_EBANNED);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "account_banned");
	CU_ASSERT_STRING_EQUAL(o.error_code, "10001");

	classify_message("Pixverse: ACCOUNT IS BLOCKED (10001)", PROVAUTH_ERROR, &o);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
	CU_ASSERT_EQUAL(o.should_attempt_reauth, 0);
	CU_ASSERT_EQUAL(o.result, PROVAUTH_EBANNED);

	/* The same code without the words is an ordinary invalid token. */
	classify_body(200, "{\"ErrCode\":10001,\"ErrMsg\":\"Token is invalid\"}", -1, &o);
	CU_ASSERT_EQUAL(o.is_session_error, 1);
	CU_ASSERT_EQUAL(o.should_attempt_reauth, 1);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "token_invalid");
}

static void test_classify_rate_limit(void)
{
	provauth_outcome o;

	classify_body(429, "Too Many Requests", 17, &o);
	CU_ASSERT_EQUAL(o.result, PROVAUTH_ERATELIMIT);
	CU_ASSERT_EQUAL(o.retry_after, 17);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
	CU_ASSERT_EQUAL(o.should_attempt_reauth, 0);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "rate_limited");

	classify_body(429, NULL, -1, &o);
	CU_ASSERT_EQUAL(o.result, PROVAUTH_ERATELIMIT);
	CU_ASSERT_EQUAL(o.retry_after, PV_DEFAULT_RETRY_AFTER);

	/* Even a 429 whose body carries a session code is about pace, not the session. */
	classify_body(429, "{\"ErrCode\":10005}", 5, &o);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
	CU_ASSERT_EQUAL(o.retry_after, 5);
}

static void test_classify_other(void)
{
	provauth_outcome o;
	provauth_failure f = { PROVAUTH_FAILURE_NONE, 0, 0, NULL, NULL, 0, -1 };

	/* any other JSON: api_error */
	classify_body(200, "{\"ErrCode\":123456,\"ErrMsg\":\"odd\"}", -1, &o);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "api_error");
	CU_ASSERT_STRING_EQUAL(o.error_code, "123456");
	CU_ASSERT_EQUAL(o.result, PROVAUTH_EPROVIDER);
	/* a gateway page */
	classify_body(503, "<html>Service Unavailable 10005</html>", -1, &o);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "http_error");
	CU_ASSERT_STRING_EQUAL(o.error_code, "503");
	CU_ASSERT_EQUAL(o.result, PROVAUTH_EHTTP);
	/* a 200 reply without an error code */
	classify_body(200, "{\"ErrCode\":0,\"Resp\":{}}", -1, &o);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
	classify_body(200, "", -1, &o);
	CU_ASSERT_EQUAL(o.is_session_error, 0);

	/* any other message: non_session_error with the failure's own code */
	classify_message("pixverse: /creative_platform/user/credits: reply is not JSON", PROVAUTH_EPROTOCOL, &o);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
	CU_ASSERT_EQUAL(o.should_attempt_reauth, 0);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "non_session_error");
	CU_ASSERT_EQUAL(o.result, PROVAUTH_EPROTOCOL);
	/* a code inside a longer number is not that code */
	classify_message("request 5100031 failed; job 100050", PROVAUTH_ERROR, &o);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "non_session_error");

	/* transport failures keep their code */
	CU_ASSERT_FATAL(provauth_failure_set_transport(&f, PROVAUTH_ETIMEOUT, "user is not login") == 0);
	outcome_start(&o, &f);
	CU_ASSERT_EQUAL(pv_classify_error(&state, &f, &o), 0);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
	CU_ASSERT_EQUAL(o.result, PROVAUTH_ETIMEOUT);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "non_session_error");
	provauth_failure_clear(&f);
	CU_ASSERT_FATAL(provauth_failure_set_transport(&f, PROVAUTH_ETOOBIG, NULL) == 0);
	outcome_start(&o, &f);
	CU_ASSERT_EQUAL(pv_classify_error(&state, &f, &o), 0);
	CU_ASSERT_EQUAL(o.result, PROVAUTH_ETOOBIG);
	provauth_failure_clear(&f);
}

static void test_classify_garbage_bodies(void)
{
	static const char *const bodies[] = {
		"{\"ErrCode\":", "{\"ErrCode\":null}", "{\"ErrCode\":1e400}", "[10005]", "\"10005\"",
		"{\"ErrCode\":{\"x\":10005}}", "{\"ErrCode\":\"10005abc\"}", "\xff\xfe\x00",
	};
	provauth_outcome o;
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(bodies); i++) {
		classify_body(200, bodies[i], -1, &o);
		CU_ASSERT_EQUAL(o.is_session_error, 0);
		CU_ASSERT_EQUAL(o.should_attempt_reauth, 0);
	}
}

/* ------------------------------------------------------------------------ */
/* client: request headers and the reply envelope, over a stub HTTP service */
/* ------------------------------------------------------------------------ */

typedef struct stub_http {
	/* the last request */
	char method[8], url[256], body[512];
	size_t nheaders;
	struct { char name[64]; char value[1024]; int secret; } headers[16];
	int requests;
	/* the reply to give */
	int fail_code;
	long status;
	const char *reply_body;
	const char *reply_headers[8][2];
} stub_http;

static stub_http stub;
static provauth_host stub_host;
static pv_state stub_state;

static int stub_request(const provauth_host *h, const provauth_http_request *req, provauth_http_response **out)
{
	pa_http_field fields[8];
	size_t i, n = 0;

	(void)h;
	*out = NULL;
	stub.requests++;
	snprintf(stub.method, sizeof(stub.method), "%s", req->method);
	snprintf(stub.url, sizeof(stub.url), "%s", req->url);
	snprintf(stub.body, sizeof(stub.body), "%.*s", (int)req->body_len, req->body ? req->body : "");
	stub.nheaders = req->header_count;
	for (i = 0; i < req->header_count && i < 16; i++) {
		snprintf(stub.headers[i].name, sizeof(stub.headers[i].name), "%s", req->headers[i].name);
		snprintf(stub.headers[i].value, sizeof(stub.headers[i].value), "%s", req->headers[i].value);
		stub.headers[i].secret = req->headers[i].secret;
	}
	if (stub.fail_code)
		return pa_error_set(stub.fail_code, "stub: transport failure");
	while (n < 8 && stub.reply_headers[n][0]) {
		fields[n].name = stub.reply_headers[n][0];
		fields[n].nlen = strlen(fields[n].name);
		fields[n].value = stub.reply_headers[n][1];
		fields[n].vlen = strlen(fields[n].value);
		n++;
	}
	return pa_http_response_new(out, stub.status, fields, n, stub.reply_body ? stub.reply_body : "",
	                            stub.reply_body ? strlen(stub.reply_body) : 0);
}

static const char *sent(const char *name, int *secret)
{
	size_t i;

	for (i = 0; i < stub.nheaders; i++)
		if (strcasecmp(stub.headers[i].name, name) == 0) {
			if (secret)
				*secret = stub.headers[i].secret;
			return stub.headers[i].value;
		}
	return NULL;
}

static void stub_reply(long status, const char *body)
{
	memset(&stub, 0, sizeof(stub));
	stub.status = status;
	stub.reply_body = body;
}

static void stub_init(void)
{
	stub_host = host;
	stub_host.http_request = stub_request;
	stub_state = state;
	stub_state.host = &stub_host;
	stub_state.base_url = "http://api.test";
	stub_state.web_origin = "https://app.test";
	stub_state.openapi_base_url = "http://openapi.test";
	stub_state.user_agent = "TestAgent/1.0";
}

static void test_client_web_headers(void)
{
	provauth_cookie jar[] = { { "a", "1" }, { "bad", "x\r\nInjected: 1" }, { "b", "two" } };
	const pv_client_ids ids = { "5d0c9a7e-1b2f-4c3d-8e9f-0a1b2c3d4e5f", "11111111-2222-4333-8444-555555555555" };
	pv_request req;
	pv_reply r;
	int secret = -1;

	stub_init();
	stub_reply(200, "{\"ErrCode\":0,\"ErrMsg\":\"ok\",\"Resp\":{\"n\":1}}");
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = "http://api.test/creative_platform/user/credits";
	req.endpoint = "/creative_platform/user/credits";
	req.jwt = "jwt.token.value";
	req.cookies = jar;
	req.cookie_count = 3;
	req.ids = &ids;
	CU_ASSERT_EQUAL_FATAL(pv_send(&stub_state, &req, &r), 0);
	CU_ASSERT(pv_reply_ok(&r));
	CU_ASSERT_PTR_NOT_NULL(r.resp);
	CU_ASSERT_EQUAL(r.err_code, 0);
	pv_reply_free(&stub_state, &r);

	CU_ASSERT_STRING_EQUAL(stub.method, "GET");
	CU_ASSERT_STRING_EQUAL(stub.url, req.url);
	CU_ASSERT_STRING_EQUAL(sent("token", &secret), "jwt.token.value");
	CU_ASSERT_EQUAL(secret, 1);
	CU_ASSERT_STRING_EQUAL(sent("ai-anonymous-id", NULL), ids.anonymous_id);
	CU_ASSERT_STRING_EQUAL(sent("ai-trace-id", NULL), ids.trace_id);
	CU_ASSERT_STRING_EQUAL(sent("x-platform", NULL), "Web");
	CU_ASSERT_STRING_EQUAL(sent("Origin", NULL), "https://app.test");
	CU_ASSERT_STRING_EQUAL(sent("Referer", NULL), "https://app.test/");
	CU_ASSERT_STRING_EQUAL(sent("Content-Type", NULL), "application/json");
	CU_ASSERT_STRING_EQUAL(sent("User-Agent", NULL), "TestAgent/1.0");
	/* The jar lacks _ai_token: it is added; the cookie that cannot go in a header is left out. */
	CU_ASSERT_STRING_EQUAL(sent("Cookie", &secret), "a=1; b=two; _ai_token=jwt.token.value");
	CU_ASSERT_EQUAL(secret, 1);
	CU_ASSERT_PTR_NULL(sent("API-KEY", NULL));

	/* The jar has _ai_token: not added twice; the same trace id on every request (the session is tied to it). */
	jar[1].name = "_ai_token";
	jar[1].value = "cookie.jwt.value";
	CU_ASSERT_EQUAL_FATAL(pv_send(&stub_state, &req, &r), 0);
	pv_reply_free(&stub_state, &r);
	CU_ASSERT_STRING_EQUAL(sent("Cookie", NULL), "a=1; _ai_token=cookie.jwt.value; b=two");
	CU_ASSERT_STRING_EQUAL(sent("ai-trace-id", NULL), ids.trace_id);

	/* No account's ids: fresh ones for this request. No token, no cookies: neither header. */
	req.ids = NULL;
	req.jwt = NULL;
	req.cookie_count = 0;
	CU_ASSERT_EQUAL_FATAL(pv_send(&stub_state, &req, &r), 0);
	pv_reply_free(&stub_state, &r);
	CU_ASSERT_EQUAL(strlen(sent("ai-anonymous-id", NULL)), 36);
	CU_ASSERT_EQUAL(strlen(sent("ai-trace-id", NULL)), 36);
	CU_ASSERT_STRING_NOT_EQUAL(sent("ai-trace-id", NULL), ids.trace_id);
	CU_ASSERT_PTR_NULL(sent("token", NULL));
	CU_ASSERT_PTR_NULL(sent("Cookie", NULL));
}

static void test_client_openapi_headers(void)
{
	pv_request req;
	pv_reply r;
	int secret = 0;

	stub_init();
	stub_reply(200, "{\"ErrCode\":0,\"Resp\":{\"credits\":5}}");
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = "http://openapi.test/openapi/v2/account/credits";
	req.endpoint = "/openapi/v2/account/credits";
	req.api_key = "openapi-key";
	req.jwt = "must-not-be-sent";
	CU_ASSERT_EQUAL_FATAL(pv_send(&stub_state, &req, &r), 0);
	pv_reply_free(&stub_state, &r);
	CU_ASSERT_STRING_EQUAL(sent("API-KEY", &secret), "openapi-key");
	CU_ASSERT_EQUAL(secret, 1);
	CU_ASSERT_PTR_NOT_NULL(sent("Ai-trace-id", NULL));
	CU_ASSERT_PTR_NULL(sent("token", NULL));
	CU_ASSERT_PTR_NULL(sent("Cookie", NULL));
	CU_ASSERT_PTR_NULL(sent("x-platform", NULL));
}

/* Sends one request answered with (status, body, Retry-After) and turns the reply into a failure. */
static int reply_failure(long status, const char *body, const char *retry_after, provauth_failure *f)
{
	pv_request req;
	pv_reply r;
	int rc;

	stub_init();
	stub_reply(status, body);
	if (retry_after) {
		stub.reply_headers[0][0] = "retry-after";
		stub.reply_headers[0][1] = retry_after;
	}
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = "http://api.test/x";
	req.endpoint = "/x";
	CU_ASSERT_EQUAL_FATAL(pv_send(&stub_state, &req, &r), 0);
	provauth_failure_clear(f);
	f->code = PROVAUTH_ERROR;
	rc = pv_reply_to_failure(&stub_state, &r, "/x", 1, f);
	pv_reply_free(&stub_state, &r);
	return rc;
}

static void test_client_envelope(void)
{
	provauth_failure f = { PROVAUTH_FAILURE_NONE, 0, 0, NULL, NULL, 0, -1 };

	CU_ASSERT_EQUAL(reply_failure(200, "{\"ErrCode\":0,\"Resp\":{}}", NULL, &f), 0);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_NONE);

	CU_ASSERT_EQUAL(reply_failure(200, "{\"ErrCode\":10005,\"ErrMsg\":\"elsewhere\",\"Resp\":{}}", NULL, &f),
	                PROVAUTH_EPROVIDER);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_HTTP);
	CU_ASSERT_EQUAL(f.http_status, 200);
	CU_ASSERT(f.body && strstr(f.body, "10005"));

	CU_ASSERT_EQUAL(reply_failure(200, "<html>maintenance</html>", NULL, &f), PROVAUTH_EPROTOCOL);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_MESSAGE);
	CU_ASSERT_STRING_EQUAL(f.message, "pixverse: /x: reply is not JSON");
	CU_ASSERT_EQUAL(reply_failure(200, "{\"ErrCode\":0,\"Resp\":{\"a\":", NULL, &f), PROVAUTH_EPROTOCOL);
	CU_ASSERT_STRING_EQUAL(f.message, "pixverse: /x: reply is not JSON");
	CU_ASSERT_EQUAL(reply_failure(200, "[1,2]", NULL, &f), PROVAUTH_EPROTOCOL);
	CU_ASSERT_EQUAL(reply_failure(200, "{\"ErrCode\":0}", NULL, &f), PROVAUTH_EPROTOCOL);
	CU_ASSERT_STRING_EQUAL(f.message, "pixverse: /x: reply has no Resp");
	CU_ASSERT_EQUAL(reply_failure(200, "{\"ErrCode\":0,\"Resp\":null}", NULL, &f), PROVAUTH_EPROTOCOL);
	CU_ASSERT_STRING_EQUAL(f.message, "pixverse: /x: reply has no Resp");

	CU_ASSERT_EQUAL(reply_failure(429, "slow down", "30", &f), PROVAUTH_ERATELIMIT);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_HTTP);
	CU_ASSERT_EQUAL(f.retry_after, 30);
	CU_ASSERT_EQUAL(reply_failure(429, "", "Wed, 21 Oct 2026 07:28:00 GMT", &f), PROVAUTH_ERATELIMIT);
	CU_ASSERT_EQUAL(f.retry_after, -1);
	CU_ASSERT_EQUAL(reply_failure(502, "<html>bad gateway</html>", NULL, &f), PROVAUTH_EHTTP);
	CU_ASSERT_EQUAL(f.http_status, 502);
	provauth_failure_clear(&f);
}

static void test_client_transport(void)
{
	pv_request req;
	pv_reply r;

	stub_init();
	stub_reply(200, NULL);
	stub.fail_code = PROVAUTH_ETIMEOUT;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = "http://api.test/creative_platform/login";
	req.endpoint = "/creative_platform/login";
	req.body = "{\"password\":\"" SECRET_VALUE "\"}";
	req.body_len = strlen(req.body);
	CU_ASSERT_EQUAL(pv_send(&stub_state, &req, &r), PROVAUTH_ETIMEOUT);
	CU_ASSERT_PTR_NULL(r.http);
	/* The host's own words (ABI 1.3 last_error), kept for the caller too. */
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "POST /creative_platform/login: stub: transport failure"));
	CU_ASSERT_STRING_EQUAL(r.transport, "stub: transport failure");
	CU_ASSERT_PTR_NULL(strstr(provauth_last_error(), SECRET_VALUE));
	CU_ASSERT_STRING_EQUAL(stub.body, req.body);

	/* A host without last_error: the class of the failure. */
	stub_host.size = offsetof(provauth_host, last_error);
	CU_ASSERT_EQUAL(pv_send(&stub_state, &req, &r), PROVAUTH_ETIMEOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "POST /creative_platform/login: timed out"));
	CU_ASSERT_STRING_EQUAL(r.transport, "timed out");
	stub_host.size = sizeof(stub_host);
}

static void test_client_set_cookie(void)
{
	static const struct { const char *in; const char *name, *value; int removes; } ok[] = {
		{ "_ai_token=abc.def; Path=/; HttpOnly", "_ai_token", "abc.def", 0 },
		{ " sid = v=1 ;Max-Age=3600", "sid", "v=1", 0 },
		{ "sid=x; Max-Age=0", "sid", "x", 1 },
		{ "sid=x; max-age=-1", "sid", "x", 1 },
		{ "sid=; Path=/", "sid", "", 1 },
		{ "sid=x; Max-Age=abc", "sid", "x", 0 },
	};
	static const char *const bad[] = { "novalue", "=v", "a b=c", "a=b\r\nX: y", "a=caf\xc3\xa9", "" };
	provauth_update *u = NULL;
	provauth_account *a = NULL;
	pv_reply r;
	char *name, *value, *token = NULL;
	size_t i;
	int removes;

	for (i = 0; i < PA_ARRAY_LEN(ok); i++) {
		CU_ASSERT_EQUAL_FATAL(pv_set_cookie_parse(&host, ok[i].in, &name, &value, &removes), 0);
		CU_ASSERT_STRING_EQUAL(name, ok[i].name);
		CU_ASSERT_STRING_EQUAL(value, ok[i].value);
		CU_ASSERT_EQUAL(removes, ok[i].removes);
		free(name);
		free(value);
	}
	for (i = 0; i < PA_ARRAY_LEN(bad); i++) {
		CU_ASSERT_EQUAL(pv_set_cookie_parse(&host, bad[i], &name, &value, &removes), -1);
		CU_ASSERT_PTR_NULL(name);
		CU_ASSERT_PTR_NULL(value);
	}

	/* Every Set-Cookie of a reply goes into the update; the token comes back. */
	stub_init();
	memset(&r, 0, sizeof(r));
	stub_reply(200, "{}");
	stub.reply_headers[0][0] = "set-cookie";
	stub.reply_headers[0][1] = "_ai_token=new.jwt.tok; Path=/; HttpOnly";
	stub.reply_headers[1][0] = "content-type";
	stub.reply_headers[1][1] = "application/json";
	stub.reply_headers[2][0] = "set-cookie";
	stub.reply_headers[2][1] = "old=gone; Max-Age=0";
	stub.reply_headers[3][0] = "set-cookie";
	stub.reply_headers[3][1] = "lang=de";
	{
		pv_request req;
		memset(&req, 0, sizeof(req));
		req.method = "POST";
		req.url = "http://api.test/auth/refresh";
		req.endpoint = "/auth/refresh";
		CU_ASSERT_EQUAL_FATAL(pv_send(&stub_state, &req, &r), 0);
	}
	CU_ASSERT_FATAL(pa_update_new(&u) == 0);
	CU_ASSERT_EQUAL(pv_reply_cookies(&stub_state, &r, u, &token), 0);
	CU_ASSERT_STRING_EQUAL(token, "new.jwt.tok");
	CU_ASSERT_FATAL(provauth_account_new(&a, "acct-c", "pixverse") == 0);
	provauth_account_set_cookie(a, "old", "1");
	provauth_account_set_cookie(a, "keep", "2");
	CU_ASSERT_EQUAL(pa_update_apply(u, a), 0);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token"), "new.jwt.tok");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "lang"), "de");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "keep"), "2");
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "old"));
	provauth_account_free(a);
	pa_update_free(u);
	free(token);
	pv_reply_free(&stub_state, &r);
}

/* ------------------------------------------------------------------------ */
/* login, refresh and import over the stub                                  */
/* ------------------------------------------------------------------------ */

static provauth_account *login_account(void)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_account_new(&a, "acct-l", "pixverse") == 0);
	provauth_account_set(&a->email, "user@example.com");
	provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, SECRET_VALUE, 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "old.jwt.tok", 0);
	provauth_account_set_cookie(a, "_ai_token", "old.jwt.tok");
	return a;
}

/* Runs try_reauth (or refresh) against the stubbed reply; returns its code, the update applied to a copy. */
static int run_auth(int refresh, provauth_account *a, provauth_account **after)
{
	provauth_update *u = NULL;
	int rc;

	CU_ASSERT_FATAL(pa_update_new(&u) == 0);
	provauth_error_clear();
	rc = refresh ? pv_refresh(&stub_state, a, u) : pv_try_reauth(&stub_state, a, SECRET_VALUE, u);
	CU_ASSERT_FATAL(provauth_account_dup(after, a) == 0);
	CU_ASSERT(pa_update_apply(u, *after) == 0);
	pa_update_free(u);
	/* Whatever happened, no credential is quoted. */
	CU_ASSERT_PTR_NULL(strstr(provauth_last_error(), SECRET_VALUE));
	CU_ASSERT_PTR_NULL(strstr(provauth_last_error(), "old.jwt.tok"));
	return rc;
}

static void test_login(void)
{
	provauth_account *a = login_account(), *b = NULL;

	/* Success: token from Resp.Result.Token, the cookie follows it; the body carries the credentials. */
	stub_init();
	stub_reply(200, "{\"ErrCode\":0,\"Resp\":{\"Result\":{\"AccountId\":1,\"Token\":\"new.jwt.tok\"}}}");
	stub.reply_headers[0][0] = "set-cookie";
	stub.reply_headers[0][1] = "lang=en; Path=/";
	CU_ASSERT_EQUAL(run_auth(0, a, &b), 0);
	CU_ASSERT_STRING_EQUAL(stub.method, "POST");
	CU_ASSERT_STRING_EQUAL(stub.url, "http://api.test/creative_platform/login");
	CU_ASSERT_PTR_NOT_NULL(strstr(stub.body, "\"username\":\"user@example.com\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(stub.body, "\"password\":\"" SECRET_VALUE "\""));
	CU_ASSERT_PTR_NULL(sent("token", NULL));
	CU_ASSERT_STRING_EQUAL(PA_CRED(b, JWT), "new.jwt.tok");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(b, PROVAUTH_CRED_COOKIE, "_ai_token"), "new.jwt.tok");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(b, PROVAUTH_CRED_COOKIE, "lang"), "en");
	CU_ASSERT_PTR_NOT_NULL(strstr(b->metadata, "anonymous_id"));
	provauth_account_free(b);

	/* A Google account: marked, password dropped, the message says what to do. */
	stub_reply(200, "{\"ErrCode\":500202,\"ErrMsg\":\"This account was created with Google, please sign in via OAuth.\"}");
	CU_ASSERT_EQUAL(run_auth(0, a, &b), PROVAUTH_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "signs in with Google"));
	CU_ASSERT_EQUAL(provauth_account_auth_method(b), PROVAUTH_AUTH_GOOGLE);
	CU_ASSERT_PTR_NULL(PA_CRED(b, PASSWORD));
	CU_ASSERT_STRING_EQUAL(PA_CRED(b, JWT), "old.jwt.tok");
	provauth_account_free(b);

	/* Refusals: each with its code, nothing stored. */
	{
		static const struct { const char *body; int rc; const char *want; } cases[] = {
			{ "{\"ErrCode\":500213,\"ErrMsg\":\"Too many login attempts\"}", PROVAUTH_ECOOLDOWN, "too many login" },
			{ "{\"ErrCode\":500200,\"ErrMsg\":\"User does not exist.\"}", PROVAUTH_EAUTH, "no user with this email" },
			{ "{\"ErrCode\":500201,\"ErrMsg\":\"The password is incorrect.\"}", PROVAUTH_EAUTH,
			  "login refused (ErrCode 500201: The password is incorrect.)" },
			{ "{\"ErrCode\":10001,\"ErrMsg\":\"the account is blocked\"}", PROVAUTH_EBANNED, "blocked" },
			{ "{\"ErrCode\":500069,\"ErrMsg\":\"high load\"}", PROVAUTH_EPROVIDER, "high load" },
			/* A server echoing the password does not make us print it. */
			{ "{\"ErrCode\":500201,\"ErrMsg\":\"bad password " SECRET_VALUE "\"}", PROVAUTH_EAUTH, "withheld" },
			/* ... nor a server that cut its message inside the password. */
			{ "{\"ErrCode\":500201,\"ErrMsg\":\"bad password SECRETVAL-9\"}", PROVAUTH_EAUTH, "withheld" },
			{ "{\"ErrCode\":500201,\"ErrMsg\":\"bad password VAL-9f8e7d!\"}", PROVAUTH_EAUTH, "withheld" },
			{ "{\"ErrCode\":0,\"Resp\":{\"Result\":{}}}", PROVAUTH_EPROTOCOL, "no usable Resp.Result.Token" },
			{ "{\"ErrCode\":0,\"Resp\":{\"Result\":{\"Token\":\"a\\r\\nb\"}}}", PROVAUTH_EPROTOCOL, "Token" },
			{ "<html>", PROVAUTH_EPROTOCOL, "not JSON" },
		};
		size_t i;

		for (i = 0; i < PA_ARRAY_LEN(cases); i++) {
			stub_reply(200, cases[i].body);
			CU_ASSERT_EQUAL(run_auth(0, a, &b), cases[i].rc);
			CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), cases[i].want));
			CU_ASSERT_STRING_EQUAL(PA_CRED(b, JWT), "old.jwt.tok");
			CU_ASSERT_STRING_EQUAL(PA_CRED(b, PASSWORD), SECRET_VALUE);
			provauth_account_free(b);
		}
		stub_reply(429, "");
		CU_ASSERT_EQUAL(run_auth(0, a, &b), PROVAUTH_ERATELIMIT);
		provauth_account_free(b);
		stub_reply(200, "");
		stub.fail_code = PROVAUTH_ENETWORK;
		CU_ASSERT_EQUAL(run_auth(0, a, &b), PROVAUTH_ENETWORK);
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "login: stub: transport failure"));
		provauth_account_free(b);
		/* An older host: the plugin's own words. */
		stub_host.size = offsetof(provauth_host, last_error);
		CU_ASSERT_EQUAL(run_auth(0, a, &b), PROVAUTH_ENETWORK);
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "login: connection failed"));
		stub_host.size = sizeof(stub_host);
		provauth_account_free(b);
	}
	provauth_account_free(a);
}

static void test_refresh(void)
{
	provauth_account *a = login_account(), *b = NULL;
	int secret = 0;

	stub_init();
	/* Bearer delivery; the request carried the token and the cookies. */
	stub_reply(200, "{\"ErrCode\":0,\"ErrMsg\":\"success\"}");
	stub.reply_headers[0][0] = "authorization";
	stub.reply_headers[0][1] = "Bearer fresh.jwt.tok";
	CU_ASSERT_EQUAL(run_auth(1, a, &b), 0);
	CU_ASSERT_STRING_EQUAL(stub.url, "http://api.test/auth/refresh");
	CU_ASSERT_STRING_EQUAL(sent("token", &secret), "old.jwt.tok");
	CU_ASSERT_EQUAL(secret, 1);
	CU_ASSERT_STRING_EQUAL(sent("Cookie", NULL), "_ai_token=old.jwt.tok");
	CU_ASSERT_STRING_EQUAL(PA_CRED(b, JWT), "fresh.jwt.tok");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(b, PROVAUTH_CRED_COOKIE, "_ai_token"), "fresh.jwt.tok");
	provauth_account_free(b);

	/* The cookie wins over the headers. */
	stub_reply(200, "{\"ErrCode\":0}");
	stub.reply_headers[0][0] = "token";
	stub.reply_headers[0][1] = "header.jwt.tok";
	stub.reply_headers[1][0] = "set-cookie";
	stub.reply_headers[1][1] = "_ai_token=cookie.jwt.tok; HttpOnly";
	CU_ASSERT_EQUAL(run_auth(1, a, &b), 0);
	CU_ASSERT_STRING_EQUAL(PA_CRED(b, JWT), "cookie.jwt.tok");
	provauth_account_free(b);

	/* The same token back renews nothing: a passing failure, so the ladder goes on. */
	stub_reply(200, "{\"ErrCode\":0}");
	stub.reply_headers[0][0] = "token";
	stub.reply_headers[0][1] = "old.jwt.tok";
	CU_ASSERT_EQUAL(run_auth(1, a, &b), PROVAUTH_ESESSION);
	provauth_account_free(b);

	{
		static const struct { const char *body; int rc; } cases[] = {
			{ "{\"ErrCode\":10005,\"ErrMsg\":\"logged in elsewhere\"}", PROVAUTH_ESESSION },
			{ "{\"ErrCode\":10003,\"ErrMsg\":\"user is not login\"}", PROVAUTH_EAUTH },
			{ "{\"ErrCode\":10002,\"ErrMsg\":\"token expired\"}", PROVAUTH_EAUTH },
			{ "{\"ErrCode\":10001,\"ErrMsg\":\"Token is invalid\"}", PROVAUTH_EAUTH },
			{ "{\"ErrCode\":10001,\"ErrMsg\":\"account is blocked\"}", PROVAUTH_EBANNED },
			{ "{\"ErrCode\":500069,\"ErrMsg\":\"high load\"}", PROVAUTH_EPROVIDER },
			{ "{\"ErrCode\":0}", PROVAUTH_EPROTOCOL },
		};
		size_t i;

		for (i = 0; i < PA_ARRAY_LEN(cases); i++) {
			stub_reply(200, cases[i].body);
			CU_ASSERT_EQUAL(run_auth(1, a, &b), cases[i].rc);
			CU_ASSERT_STRING_EQUAL(PA_CRED(b, JWT), "old.jwt.tok");
			provauth_account_free(b);
		}
	}
	/* Nothing to refresh with. */
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, NULL, 0);
	provauth_account_set_cookie(a, "_ai_token", NULL);
	stub_reply(200, "{}");
	CU_ASSERT_EQUAL(run_auth(1, a, &b), PROVAUTH_EAUTH);
	CU_ASSERT_EQUAL(stub.requests, 0);
	provauth_account_free(b);
	provauth_account_free(a);
}

static void test_import_offline(void)
{
	provauth_update *u = NULL;
	provauth_account *a = NULL;
	char *tok = jwt_with("{\"AccountId\":7,\"ExpireTime\":1900000000,\"Username\":\"Someone@Example.com\"}");
	char input[1024];

	/* The email in the token's payload: no request needed. */
	stub_init();
	stub_reply(500, "");
	snprintf(input, sizeof(input), "[{\"name\":\"_ai_token\",\"value\":\"%s\"},{\"name\":\"sid\",\"value\":\"x\"}]", tok);
	CU_ASSERT_FATAL(pa_update_new(&u) == 0);
	CU_ASSERT_EQUAL(pv_import(&stub_state, "cookies", input, NULL, u), 0);
	CU_ASSERT_EQUAL(stub.requests, 0);
	CU_ASSERT_STRING_EQUAL(pa_update_email(u), "Someone@Example.com");
	CU_ASSERT_STRING_EQUAL(pa_update_credential(u, PROVAUTH_CRED_JWT, NULL), tok);
	CU_ASSERT_FATAL(provauth_account_new(&a, "acct-i", "pixverse") == 0);
	provauth_account_set_cookie(a, "stale", "1");
	CU_ASSERT_EQUAL(pa_update_apply(u, a), 0);
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "stale"));
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "sid"), "x");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token"), tok);
	provauth_account_free(a);
	pa_update_free(u);

	/* Otherwise getUserInfo says. */
	free(tok);
	tok = jwt_with("{\"AccountId\":7,\"ExpireTime\":1900000000,\"Username\":\"someone\"}");
	snprintf(input, sizeof(input), "_ai_token=%s", tok);
	stub_reply(200, "{\"ErrCode\":0,\"Resp\":{\"Mail\":\"someone@example.com\",\"Username\":\"someone\"}}");
	CU_ASSERT_FATAL(pa_update_new(&u) == 0);
	CU_ASSERT_EQUAL(pv_import(&stub_state, "cookies", input, NULL, u), 0);
	CU_ASSERT_EQUAL(stub.requests, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(stub.url, "/creative_platform/getUserInfo"));
	CU_ASSERT_STRING_EQUAL(sent("token", NULL), tok);
	CU_ASSERT_STRING_EQUAL(pa_update_email(u), "someone@example.com");
	pa_update_free(u);
	stub_reply(200, "{\"ErrCode\":0,\"Resp\":{\"Mail\":\"not an email\"}}");
	CU_ASSERT_FATAL(pa_update_new(&u) == 0);
	CU_ASSERT_EQUAL(pv_import(&stub_state, "cookies", input, NULL, u), PROVAUTH_ENOEMAIL);
	CU_ASSERT(pa_update_is_empty(u));
	pa_update_free(u);
	CU_ASSERT_FATAL(pa_update_new(&u) == 0);
	CU_ASSERT_EQUAL(pv_import(&stub_state, "refresh_token", input, NULL, u), PROVAUTH_EUNSUPPORTED);
	pa_update_free(u);
	free(tok);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "jwt: expiry from exp and ExpireTime", test_jwt_expiry_claims },
		{ "jwt: needs refresh (threshold arithmetic)", test_jwt_needs_refresh },
		{ "jwt: undecodable tokens need refresh", test_jwt_undecodable },
		{ "cookies: Cookie header", test_cookies_header },
		{ "cookies: JSON object", test_cookies_json_object },
		{ "cookies: browser export array", test_cookies_browser_export },
		{ "cookies: malformed input, clear messages without values", test_cookies_malformed },
		{ "cookies: size and count limits", test_cookies_limits },
		{ "cookies: binary garbage", test_cookies_binary_garbage },
		{ "build_session: fresher cookie JWT wins", test_build_prefers_fresher_cookie },
		{ "build_session: account JWT kept", test_build_keeps_account_jwt },
		{ "build_session: openapi key", test_build_openapi_key },
		{ "build_session: client ids generated once, stable, dropped after a 10005", test_build_anonymous_id },
		{ "classify: every row, as message and as reply", test_classify_table },
		{ "classify: banned vs invalid token", test_classify_banned },
		{ "classify: HTTP 429 with and without Retry-After", test_classify_rate_limit },
		{ "classify: other replies, messages and transport", test_classify_other },
		{ "classify: garbage bodies", test_classify_garbage_bodies },
		{ "client: web request headers", test_client_web_headers },
		{ "client: OpenAPI request headers", test_client_openapi_headers },
		{ "client: reply envelope to failure", test_client_envelope },
		{ "client: transport failure", test_client_transport },
		{ "client: Set-Cookie", test_client_set_cookie },
		{ "auth: password login", test_login },
		{ "auth: cookie refresh", test_refresh },
		{ "auth: import without the network", test_import_offline },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "pixverse plugin (pure parts)", setup, teardown, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
