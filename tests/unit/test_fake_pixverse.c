/*
 * Tests of the fake Pixverse server, through a plain libcurl client so that
 * nothing of the provauth core is involved.
 */
#include "config.h"

#include <curl/curl.h>
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_pixverse.h"
#include "../support/pa_test.h"

#define THIRTY_DAYS (30L * 86400)

/* ---- the HTTP client ---- */

typedef struct buf {
	char *data;
	size_t len;
	size_t cap;
} buf;

typedef struct http_result {
	CURLcode rc;
	long status;
	buf body;
	buf headers;
	double seconds;
} http_result;

typedef struct req_opts {
	const char *token;       /* token header */
	const char *cookie;      /* Cookie header value */
	const char *api_key;     /* API-KEY header */
	const char *trace;       /* ai-trace-id; NULL: DEFAULT_TRACE */
	const char *anon;        /* ai-anonymous-id; NULL: DEFAULT_ANON */
	int bare;                /* no x-platform / ai-trace-id / ai-anonymous-id */
	int follow;              /* follow redirects, at most 5 */
} req_opts;

#define DEFAULT_TRACE "trace-0000-4000-8000-000000000001"
#define DEFAULT_ANON "7f0c1d6e-0000-4000-8000-000000000001"

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	buf *b = ud;
	size_t need = b->len + size * n + 1;

	/* Grow geometrically: the 10 MiB fault body arrives in 16 KiB pieces,
	 * and under valgrind every realloc copies, so growing by the piece
	 * made that test quadratic and slower than its 20 s transfer limit. */
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *d;

		while (cap < need)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, size * n);
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

static void http_free(http_result *r)
{
	free(r->body.data);
	free(r->headers.data);
	memset(r, 0, sizeof(*r));
}

static void do_http_url(http_result *r, const char *url, const char *method,
	const char *body, const req_opts *o)
{
	static const req_opts none;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char line[4096];

	memset(r, 0, sizeof(*r));
	if (!o)
		o = &none;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		h = curl_slist_append(h, "Content-Type: application/json");
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	if (!o->bare) {
		h = curl_slist_append(h, "x-platform: Web");
		snprintf(line, sizeof(line), "ai-anonymous-id: %s", o->anon ? o->anon : DEFAULT_ANON);
		h = curl_slist_append(h, line);
		/* One client: the same ids on every request, as the service wants (it ties sessions to them). */
		snprintf(line, sizeof(line), "ai-trace-id: %s", o->trace ? o->trace : DEFAULT_TRACE);
		h = curl_slist_append(h, line);
	}
	if (o->token) {
		snprintf(line, sizeof(line), "token: %s", o->token);
		h = curl_slist_append(h, line);
	}
	if (o->api_key) {
		snprintf(line, sizeof(line), "API-KEY: %s", o->api_key);
		h = curl_slist_append(h, line);
	}
	if (o->cookie)
		curl_easy_setopt(c, CURLOPT_COOKIE, o->cookie);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (o->follow) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	}
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void do_http(http_result *r, fake_pixverse *srv, const char *method,
	const char *path, const char *body, const req_opts *o)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", fake_pixverse_url(srv), path);
	do_http_url(r, url, method, body, o);
}

/* The last value of a response header, malloc'd, or NULL. */
static char *resp_header(const http_result *r, const char *name)
{
	const char *p = r->headers.data, *found = NULL;
	size_t n = strlen(name);

	while (p && *p) {
		if (!strncasecmp(p, name, n) && p[n] == ':')
			found = p + n + 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!found)
		return NULL;
	while (*found == ' ')
		found++;
	return strndup(found, strcspn(found, "\r\n"));
}

static json_object *body_json(const http_result *r)
{
	return r->body.data ? json_tokener_parse(r->body.data) : NULL;
}

static int errcode_of(json_object *env)
{
	json_object *v;

	if (!env || !json_object_object_get_ex(env, "ErrCode", &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int(v);
}

static const char *errmsg_of(json_object *env)
{
	json_object *v;

	if (!env || !json_object_object_get_ex(env, "ErrMsg", &v))
		return "";
	return json_object_get_string(v);
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static long long get_int(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_int) ? (long long)json_object_get_int64(v) : -999;
}

/* One API call answering HTTP 200 with an envelope: its ErrCode (-1 when
 * the transport or the envelope is wrong). *env is set when wanted. */
static int call(fake_pixverse *srv, const char *method, const char *path,
	const char *body, const req_opts *o, json_object **env, char **msg)
{
	http_result r;
	json_object *j;
	int code = -1;

	do_http(&r, srv, method, path, body, o);
	j = (r.rc == CURLE_OK && r.status == 200) ? body_json(&r) : NULL;
	if (j)
		code = errcode_of(j);
	if (msg)
		*msg = strdup(errmsg_of(j));
	if (env)
		*env = j;
	else
		json_object_put(j);
	http_free(&r);
	return code;
}

static int credits_with(fake_pixverse *srv, const char *token)
{
	req_opts o = { .token = token };

	return call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL);
}

static char *login_body(const char *user, const char *pass, int capital)
{
	json_object *b = json_object_new_object();
	char *s;

	json_object_object_add(b, capital ? "Username" : "username", json_object_new_string(user));
	json_object_object_add(b, capital ? "Password" : "password", json_object_new_string(pass));
	s = strdup(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
	json_object_put(b);
	return s;
}

/* The token of a successful login, or NULL with *code set to the ErrCode. */
static char *login(fake_pixverse *srv, const char *user, const char *pass, int *code,
	char **msg)
{
	char *body = login_body(user, pass, 0), *token = NULL;
	json_object *env, *t;
	int c = call(srv, "POST", "/creative_platform/login", body, NULL, &env, msg);

	if (c == 0 && (t = get(get(get(env, "Resp"), "Result"), "Token")))
		token = strdup(json_object_get_string(t));
	if (code)
		*code = c;
	json_object_put(env);
	free(body);
	return token;
}

/* Independent of the fake's own decoder: OpenSSL's plain base64. */
static json_object *jwt_payload(const char *token)
{
	const char *a = strchr(token, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	size_t n, i, pad;
	char *std;
	unsigned char *out;
	int len;
	json_object *obj;

	if (!b)
		return NULL;
	n = (size_t)(b - a - 1);
	pad = (4 - n % 4) % 4;
	std = calloc(n + pad + 1, 1);
	out = calloc(n + pad + 1, 1);
	for (i = 0; i < n; i++)
		std[i] = a[1 + i] == '-' ? '+' : a[1 + i] == '_' ? '/' : a[1 + i];
	memset(std + n, '=', pad);
	len = EVP_DecodeBlock(out, (unsigned char *)std, (int)(n + pad));
	obj = len > 0 ? json_tokener_parse((char *)out) : NULL;
	free(std);
	free(out);
	return obj;
}

/* ---- fixtures ---- */

static const fake_pixverse_account alice = {
	.email = "alice@example.com", .password = "alice-pw-123", .nickname = "Alice A.",
	.credit_daily = 50, .credit_monthly = 1000, .credit_package = 7,
	.api_key = "key-alice-1", .openapi_credits = 420,
	.ad_reward = 30, .ad_progress = 1, .ad_total = 3, .ad_completed = 1,
};
static const fake_pixverse_account bob = {
	.email = "bob@example.com", .google_only = 1,
};
static const fake_pixverse_account carol = {
	.email = "carol@example.com", .password = "carol-pw-456", .username = "carol_c",
};

static fake_pixverse *start_with(const fake_pixverse_options *o)
{
	char err[256] = "";
	fake_pixverse *srv = fake_pixverse_start(o, err, sizeof(err));

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &alice) > 0);
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &bob) > 0);
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &carol) > 0);
	return srv;
}

static fake_pixverse *start(void)
{
	return start_with(NULL);
}

/* ---- login and sessions ---- */

static void test_login_success(void)
{
	fake_pixverse *srv = start();
	char *body = login_body("alice@example.com", "alice-pw-123", 0);
	http_result r;
	json_object *env, *result, *payload;
	const char *token;
	char *cookie, *expect, cookie_hdr[4096];
	time_t now = time(NULL);
	req_opts o = { 0 };

	CU_ASSERT(fake_pixverse_port(srv) > 0);
	do_http(&r, srv, "POST", "/creative_platform/login", body, NULL);
	CU_ASSERT_EQUAL(r.rc, CURLE_OK);
	CU_ASSERT_EQUAL(r.status, 200);
	env = body_json(&r);
	CU_ASSERT_EQUAL(errcode_of(env), 0);
	result = get(get(env, "Resp"), "Result");
	CU_ASSERT_PTR_NOT_NULL_FATAL(get(result, "Token"));
	token = json_object_get_string(get(result, "Token"));
	CU_ASSERT_EQUAL(get_int(result, "AccountId"), 1001);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(result, "Username")), "alice");
	CU_ASSERT_EQUAL(get_int(result, "DeleteAt"), 0);

	cookie = resp_header(&r, "Set-Cookie");
	expect = malloc(strlen(token) + 64);
	sprintf(expect, "_ai_token=%s; Path=/; HttpOnly", token);
	CU_ASSERT_PTR_NOT_NULL(cookie);
	if (cookie)
		CU_ASSERT_STRING_EQUAL(cookie, expect);

	payload = jwt_payload(token);
	CU_ASSERT_PTR_NOT_NULL_FATAL(payload);
	CU_ASSERT_EQUAL(get_int(payload, "AccountId"), 1001);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(payload, "Username")), "alice");
	CU_ASSERT(get_int(payload, "ExpireTime") >= now + THIRTY_DAYS - 5);
	CU_ASSERT(get_int(payload, "ExpireTime") <= now + THIRTY_DAYS + 5);

	/* The token works from the token header and from the cookie. */
	CU_ASSERT_EQUAL(credits_with(srv, token), 0);
	snprintf(cookie_hdr, sizeof(cookie_hdr), "other=1; _ai_token=%s", token);
	o.cookie = cookie_hdr;
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o,
		NULL, NULL), 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);

	json_object_put(payload);
	json_object_put(env);
	free(cookie);
	free(expect);
	free(body);
	http_free(&r);

	/* Capitalized keys and the username (not the email) also log in. */
	body = login_body("carol_c", "carol-pw-456", 1);
	CU_ASSERT_EQUAL(call(srv, "POST", "/creative_platform/login", body, NULL, NULL, NULL), 0);
	free(body);
	fake_pixverse_stop(srv);
}

static void test_second_login_supersedes_first(void)
{
	fake_pixverse *srv = start();
	char *t1 = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	char *t2 = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	char *msg = NULL;
	req_opts o;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
	/* Same second, same payload: the tokens must still differ. */
	CU_ASSERT_STRING_NOT_EQUAL(t1, t2);
	memset(&o, 0, sizeof(o));
	o.token = t1;
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/getUserInfo", NULL, &o, NULL, &msg), 10005);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "logged in elsewhere"));
	CU_ASSERT_EQUAL(credits_with(srv, t2), 0);

	/* A kick ends the live session too. */
	CU_ASSERT_EQUAL(fake_pixverse_kick(srv, "alice@example.com"), 0);
	CU_ASSERT_EQUAL(credits_with(srv, t2), 10005);
	CU_ASSERT_EQUAL(fake_pixverse_kick(srv, "nobody@example.com"), -1);
	free(msg);
	free(t1);
	free(t2);
	fake_pixverse_stop(srv);
}

/* Like the service: a session answers only the client ids it was made with. */
static void test_session_ids(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL), *b;
	req_opts o;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	/* Logged in with the defaults: those work, any other pair answers 10005. */
	memset(&o, 0, sizeof(o));
	o.token = t;
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL), 0);
	o.trace = "trace-other-4000-8000-000000000002";
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL), 10005);
	o.trace = NULL;
	o.anon = "anon-other-4000-8000-000000000002";
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL), 10005);
	CU_ASSERT_EQUAL(call(srv, "POST", "/auth/refresh", "{}", &o, NULL, NULL), 10005);
	o.anon = NULL;
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL), 0);
	CU_ASSERT_EQUAL(fake_pixverse_id_mismatches(srv, "alice@example.com"), 3);

	/* A browser session whose ids are unknown takes those of its first request. */
	b = fake_pixverse_login_token(srv, "bob@example.com");
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	o.token = b;
	o.anon = "anon-browser-4000-8000-000000000003";
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/getUserInfo", NULL, &o, NULL, NULL), 0);
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL), 0);
	o.anon = NULL;
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL), 10005);
	free(b);
	/* ... or those it is given. */
	b = fake_pixverse_login_token_ids(srv, "bob@example.com", "trace-given-4000-8000-000000000004",
	                                  "anon-given-4000-8000-000000000004");
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	o.token = b;
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL), 10005);
	o.trace = "trace-given-4000-8000-000000000004";
	o.anon = "anon-given-4000-8000-000000000004";
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL), 0);
	free(b);
	free(t);
	fake_pixverse_stop(srv);
}

static void test_expired_token(void)
{
	fake_pixverse_options opts = { .token_ttl = 100 };
	fake_pixverse *srv = start_with(&opts);
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL), *t2, *msg = NULL;
	json_object *payload = jwt_payload(t);
	req_opts o = { 0 };

	CU_ASSERT(get_int(payload, "ExpireTime") <= time(NULL) + 101);
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	fake_pixverse_set_clock_offset(srv, 99);
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	fake_pixverse_set_clock_offset(srv, 200);
	o.token = t;
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, &msg), 10002);
	CU_ASSERT_STRING_EQUAL(msg, "token expired");
	fake_pixverse_set_clock_offset(srv, 0);
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);

	/* Expiry by control: the tokens issued so far, not later ones. */
	CU_ASSERT_EQUAL(fake_pixverse_expire(srv, "alice@example.com"), 0);
	CU_ASSERT_EQUAL(credits_with(srv, t), 10002);
	t2 = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	CU_ASSERT_EQUAL(credits_with(srv, t2), 0);
	json_object_put(payload);
	free(msg);
	free(t);
	free(t2);
	fake_pixverse_stop(srv);
}

static void test_missing_and_garbled_tokens(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	char *msg = NULL, *forged, *other;
	unsigned char key[32] = { 1 };
	req_opts o = { 0 };
	size_t mid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, &msg), 10003);
	CU_ASSERT_STRING_EQUAL(msg, "user is not login");
	CU_ASSERT_EQUAL(credits_with(srv, ""), 10003);
	CU_ASSERT_EQUAL(credits_with(srv, "garbage"), 10003);
	CU_ASSERT_EQUAL(credits_with(srv, "a.b.c"), 10003);
	CU_ASSERT_EQUAL(credits_with(srv, "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"), 10003);
	o.cookie = "_ai_token=";
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL), 10003);

	/* A flipped character in the middle of the signature. */
	forged = strdup(t);
	mid = strlen(forged) - 20;
	forged[mid] = forged[mid] == 'A' ? 'B' : 'A';
	free(msg);
	msg = NULL;
	o.cookie = NULL;
	o.token = forged;
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, &msg), 10001);
	CU_ASSERT_STRING_EQUAL(msg, "Token is invalid");

	/* Well-formed, signed with another key. */
	other = fake_jwt_sign(key, sizeof(key), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"1\"}",
		"{\"AccountId\":1001,\"ExpireTime\":9999999999,\"Username\":\"alice\"}");
	CU_ASSERT_EQUAL(credits_with(srv, other), 10001);
	/* The original still works: nothing above changed state. */
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	free(msg);
	free(other);
	free(forged);
	free(t);
	fake_pixverse_stop(srv);
}

static void test_login_failures(void)
{
	fake_pixverse *srv = start();
	char *msg = NULL, *t;
	int code = 0;

	CU_ASSERT_PTR_NULL(login(srv, "bob@example.com", "anything", &code, &msg));
	CU_ASSERT_EQUAL(code, 500202);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "sign in via OAuth"));
	free(msg);

	CU_ASSERT_PTR_NULL(login(srv, "nobody@example.com", "x", &code, &msg));
	CU_ASSERT_EQUAL(code, 500200);
	CU_ASSERT_STRING_EQUAL(msg, "User does not exist.");
	free(msg);

	CU_ASSERT_PTR_NULL(login(srv, "alice@example.com", "wrong", &code, &msg));
	CU_ASSERT_EQUAL(code, 500201);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "password is incorrect"));
	free(msg);

	CU_ASSERT_EQUAL(call(srv, "POST", "/creative_platform/login", "{not json", NULL,
		NULL, NULL), 400001);
	CU_ASSERT_EQUAL(call(srv, "POST", "/creative_platform/login", "{\"password\":\"x\"}",
		NULL, NULL, NULL), 400001);

	/* Blocked: at login and for a live token. */
	t = login(srv, "carol@example.com", "carol-pw-456", NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(fake_pixverse_set_blocked(srv, "carol@example.com", 1), 0);
	{
		req_opts o = { .token = t };

		CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/getUserInfo", NULL, &o,
			NULL, &msg), 10001);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, "account is blocked"));
		free(msg);
	}
	CU_ASSERT_PTR_NULL(login(srv, "carol@example.com", "carol-pw-456", &code, &msg));
	CU_ASSERT_EQUAL(code, 10001);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "account is blocked"));
	free(msg);
	CU_ASSERT_EQUAL(fake_pixverse_set_blocked(srv, "carol@example.com", 0), 0);
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);
	free(t);
	fake_pixverse_stop(srv);
}

static void test_login_rate_limit(void)
{
	fake_pixverse_options opts = { .login_limit = 3, .login_limit_global = 5,
		.login_window = 60 };
	fake_pixverse *srv = start_with(&opts);
	char *t, *msg = NULL;
	int i, code = 0;

	for (i = 0; i < 3; i++) {
		t = login(srv, "alice@example.com", "alice-pw-123", &code, NULL);
		CU_ASSERT_EQUAL(code, 0);
		free(t);
	}
	CU_ASSERT_PTR_NULL(login(srv, "alice@example.com", "alice-pw-123", &code, &msg));
	CU_ASSERT_EQUAL(code, 500213);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Too many login attempts"));
	free(msg);

	/* Per account: carol may still log in, until the server-wide limit. */
	for (i = 0; i < 2; i++) {
		t = login(srv, "carol@example.com", "carol-pw-456", &code, NULL);
		CU_ASSERT_EQUAL(code, 0);
		free(t);
	}
	CU_ASSERT_PTR_NULL(login(srv, "carol@example.com", "carol-pw-456", &code, NULL));
	CU_ASSERT_EQUAL(code, 500213);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_LOGIN), 7);

	/* The window follows the server clock. */
	fake_pixverse_set_clock_offset(srv, 61);
	t = login(srv, "alice@example.com", "alice-pw-123", &code, NULL);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_PTR_NOT_NULL(t);
	free(t);
	fake_pixverse_stop(srv);
}

/* ---- data endpoints ---- */

static void test_response_shapes(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	req_opts o = { .token = t };
	json_object *env, *r, *task, *ad = NULL, *other = NULL;
	size_t i, n;
	time_t now = time(NULL);

	CU_ASSERT_EQUAL_FATAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, &env, NULL), 0);
	r = get(env, "Resp");
	CU_ASSERT_EQUAL(get_int(r, "credit_daily"), 50);
	CU_ASSERT_EQUAL(get_int(r, "credit_monthly"), 1000);
	CU_ASSERT_EQUAL(get_int(r, "credit_package"), 7);
	json_object_put(env);

	CU_ASSERT_EQUAL(fake_pixverse_set_credits(srv, "alice@example.com", 1, 2, 3), 0);
	CU_ASSERT_EQUAL_FATAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, &env, NULL), 0);
	CU_ASSERT_EQUAL(get_int(get(env, "Resp"), "credit_package"), 3);
	json_object_put(env);

	CU_ASSERT_EQUAL_FATAL(call(srv, "GET", "/creative_platform/getUserInfo", NULL, &o, &env, NULL), 0);
	r = get(env, "Resp");
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(r, "Mail")), "alice@example.com");
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(r, "Username")), "alice");
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(r, "Nickname")), "Alice A.");
	CU_ASSERT_EQUAL(get_int(r, "AccId"), 1001);
	json_object_put(env);

	CU_ASSERT_EQUAL_FATAL(call(srv, "GET", "/creative_platform/task/list", NULL, &o, &env, NULL), 0);
	r = get(env, "Resp");
	CU_ASSERT_FATAL(r && json_object_is_type(r, json_type_array));
	n = json_object_array_length(r);
	CU_ASSERT_EQUAL(n, 2);
	for (i = 0; i < n; i++) {
		task = json_object_array_get_idx(r, i);
		if (get_int(task, "task_type") == 1 && get_int(task, "sub_type") == 11)
			ad = task;
		else
			other = task;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(ad);
	CU_ASSERT_PTR_NOT_NULL(other);
	CU_ASSERT_EQUAL(get_int(ad, "reward"), 30);
	CU_ASSERT_EQUAL(get_int(ad, "progress"), 1);
	CU_ASSERT_EQUAL(get_int(ad, "total_counts"), 3);
	CU_ASSERT_EQUAL(get_int(ad, "completed_counts"), 1);
	CU_ASSERT(get_int(ad, "expired_time") > now);
	CU_ASSERT(get_int(ad, "expired_time") <= now + 86400 + 5);
	json_object_put(env);
	free(t);
	fake_pixverse_stop(srv);
}

static char *refresh_token(fake_pixverse *srv, const req_opts *o, int *code,
	const char *header, const char *prefix)
{
	http_result r;
	json_object *env;
	char *v, *token = NULL;

	do_http(&r, srv, "POST", "/auth/refresh", NULL, o);
	env = body_json(&r);
	*code = errcode_of(env);
	v = resp_header(&r, header);
	if (*code == 0 && v && !strncmp(v, prefix, strlen(prefix))) {
		token = strdup(v + strlen(prefix));
		if (strchr(token, ';'))
			*strchr(token, ';') = '\0';
	}
	free(v);
	json_object_put(env);
	http_free(&r);
	return token;
}

static void test_refresh(void)
{
	fake_pixverse_options opts = { .token_ttl = 1000 };
	fake_pixverse *srv = start_with(&opts);
	char *t1 = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL), *t2, *t3, *t4;
	char cookie[4096];
	req_opts o = { 0 };
	json_object *payload;
	int code = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
	snprintf(cookie, sizeof(cookie), "_ai_token=%s", t1);
	o.cookie = cookie;
	t2 = refresh_token(srv, &o, &code, "Set-Cookie", "_ai_token=");
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
	CU_ASSERT_STRING_NOT_EQUAL(t1, t2);
	/* Same session: both tokens work. */
	CU_ASSERT_EQUAL(credits_with(srv, t1), 0);
	CU_ASSERT_EQUAL(credits_with(srv, t2), 0);

	/* An expired token of the live session still refreshes. */
	fake_pixverse_set_clock_offset(srv, 5000);
	CU_ASSERT_EQUAL(credits_with(srv, t1), 10002);
	memset(&o, 0, sizeof(o));
	o.token = t1;
	t3 = refresh_token(srv, &o, &code, "Set-Cookie", "_ai_token=");
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t3);
	payload = jwt_payload(t3);
	CU_ASSERT(get_int(payload, "ExpireTime") > (long long)fake_pixverse_now(srv));
	json_object_put(payload);
	CU_ASSERT_EQUAL(credits_with(srv, t3), 0);

	/* Other deliveries. */
	fake_pixverse_set_refresh_delivery(srv, FAKE_PV_REFRESH_BEARER);
	o.token = t3;
	t4 = refresh_token(srv, &o, &code, "Authorization", "Bearer ");
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_PTR_NOT_NULL(t4);
	CU_ASSERT_EQUAL(credits_with(srv, t4), 0);
	free(t4);
	fake_pixverse_set_refresh_delivery(srv, FAKE_PV_REFRESH_TOKEN_HEADER);
	t4 = refresh_token(srv, &o, &code, "token", "");
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_PTR_NOT_NULL(t4);
	CU_ASSERT_EQUAL(credits_with(srv, t4), 0);
	free(t4);

	/* A superseded session does not refresh. */
	CU_ASSERT_EQUAL(fake_pixverse_kick(srv, "alice@example.com"), 0);
	CU_ASSERT_PTR_NULL(refresh_token(srv, &o, &code, "token", ""));
	CU_ASSERT_EQUAL(code, 10005);
	o.token = "garbage";
	CU_ASSERT_PTR_NULL(refresh_token(srv, &o, &code, "token", ""));
	CU_ASSERT_EQUAL(code, 10003);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_REFRESH), 6);
	free(t1);
	free(t2);
	free(t3);
	fake_pixverse_stop(srv);
}

static void test_openapi_credits(void)
{
	fake_pixverse *srv = start();
	fake_pixverse_options opts = { .openapi_total_credits = 1 };
	fake_pixverse *srv2;
	req_opts o = { .api_key = "key-alice-1" };
	json_object *env;
	char *msg = NULL;

	CU_ASSERT_EQUAL_FATAL(call(srv, "GET", "/openapi/v2/account/credits", NULL, &o, &env, NULL), 0);
	CU_ASSERT_EQUAL(get_int(get(env, "Resp"), "credits"), 420);
	json_object_put(env);
	o.api_key = "key-wrong";
	CU_ASSERT_EQUAL(call(srv, "GET", "/openapi/v2/account/credits", NULL, &o, NULL, &msg), 400017);
	CU_ASSERT_STRING_EQUAL(msg, "invalid api key");
	free(msg);
	o.api_key = NULL;
	CU_ASSERT_EQUAL(call(srv, "GET", "/openapi/v2/account/credits", NULL, &o, NULL, NULL), 400017);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_OPENAPI_CREDITS), 3);
	fake_pixverse_stop(srv);

	srv2 = start_with(&opts);
	o.api_key = "key-alice-1";
	CU_ASSERT_EQUAL_FATAL(call(srv2, "GET", "/openapi/v2/account/credits", NULL, &o, &env, NULL), 0);
	CU_ASSERT_EQUAL(get_int(get(env, "Resp"), "total_credits"), 420);
	CU_ASSERT_PTR_NULL(get(get(env, "Resp"), "credits"));
	json_object_put(env);
	fake_pixverse_stop(srv2);
}

/* ---- faults ---- */

static void test_fault_status_and_rate_limit(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL), *v;
	req_opts o = { .token = t };
	http_result r;

	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, FAKE_FAULT_HTTP_STATUS, 2, 502), 0);
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, FAKE_FAULT_RATE_LIMIT, 1, 7), 0);
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, FAKE_FAULT_RATE_LIMIT, 1, -1), 0);
	do_http(&r, srv, "GET", "/creative_platform/user/credits", NULL, &o);
	CU_ASSERT_EQUAL(r.status, 502);
	http_free(&r);
	/* Faults are per endpoint: user info is untouched. */
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/getUserInfo", NULL, &o, NULL, NULL), 0);
	do_http(&r, srv, "GET", "/creative_platform/user/credits", NULL, &o);
	CU_ASSERT_EQUAL(r.status, 502);
	http_free(&r);
	do_http(&r, srv, "GET", "/creative_platform/user/credits", NULL, &o);
	CU_ASSERT_EQUAL(r.status, 429);
	v = resp_header(&r, "Retry-After");
	CU_ASSERT_PTR_NOT_NULL(v);
	if (v)
		CU_ASSERT_STRING_EQUAL(v, "7");
	free(v);
	http_free(&r);
	do_http(&r, srv, "GET", "/creative_platform/user/credits", NULL, &o);
	CU_ASSERT_EQUAL(r.status, 429);
	v = resp_header(&r, "Retry-After");
	CU_ASSERT_PTR_NULL(v);
	free(v);
	http_free(&r);
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);

	/* Bad injections are refused. */
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, (fake_pv_endpoint)42, FAKE_FAULT_DELAY, 1, 1), -1);
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_LOGIN, FAKE_FAULT_NONE, 1, 1), -1);
	free(t);
	fake_pixverse_stop(srv);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_fault_delay(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	double t0, took;

	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, FAKE_FAULT_DELAY, 1, 300), 0);
	t0 = now_s();
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	took = now_s() - t0;
	CU_ASSERT(took >= 0.29);
	t0 = now_s();
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	CU_ASSERT(now_s() - t0 < 0.25);
	free(t);
	fake_pixverse_stop(srv);
}

static void test_fault_bodies(void)
{
	fake_pixverse *srv = start();
	char *t1 = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL), *ct;
	char *body = login_body("alice@example.com", "alice-pw-123", 0);
	req_opts o = { .token = t1 };
	http_result r;
	json_object *env;

	/* Truncated: not JSON any more, yet the login happened. */
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_LOGIN, FAKE_FAULT_TRUNCATED, 1, 0), 0);
	do_http(&r, srv, "POST", "/creative_platform/login", body, NULL);
	CU_ASSERT_EQUAL(r.rc, CURLE_OK);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(r.body.len > 10);
	CU_ASSERT(r.body.data && r.body.data[0] == '{');
	env = body_json(&r);
	CU_ASSERT_PTR_NULL(env);
	json_object_put(env);
	http_free(&r);
	CU_ASSERT_EQUAL(credits_with(srv, t1), 10005);

	/* Non-JSON: an HTML page with HTTP 200. */
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_USER_INFO, FAKE_FAULT_NON_JSON, 1, 0), 0);
	do_http(&r, srv, "GET", "/creative_platform/getUserInfo", NULL, &o);
	CU_ASSERT_EQUAL(r.status, 200);
	ct = resp_header(&r, "Content-Type");
	CU_ASSERT(ct && !strncmp(ct, "text/html", 9));
	free(ct);
	env = body_json(&r);
	CU_ASSERT_PTR_NULL(env);
	json_object_put(env);
	http_free(&r);

	/* No Resp: a success envelope without its payload. */
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_LOGIN, FAKE_FAULT_NO_PAYLOAD, 1, 0), 0);
	do_http(&r, srv, "POST", "/creative_platform/login", body, NULL);
	env = body_json(&r);
	CU_ASSERT_EQUAL(errcode_of(env), 0);
	CU_ASSERT_PTR_NOT_NULL(get(env, "ErrMsg"));
	CU_ASSERT_PTR_NULL(get(env, "Resp"));
	json_object_put(env);
	http_free(&r);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 3);
	free(body);
	free(t1);
	fake_pixverse_stop(srv);
}

static void test_fault_huge_body(void)
{
	fake_pixverse *srv = start();
	req_opts o = { .api_key = "key-alice-1" };
	http_result r;
	json_object *env;

	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_OPENAPI_CREDITS,
		FAKE_FAULT_HUGE_BODY, 1, 10L * 1024 * 1024), 0);
	do_http(&r, srv, "GET", "/openapi/v2/account/credits", NULL, &o);
	CU_ASSERT_EQUAL(r.rc, CURLE_OK);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(r.body.len, 10u * 1024 * 1024);
	CU_ASSERT(r.body.data && !strncmp(r.body.data, "{\"padding\":\"xxx", 15));
	env = body_json(&r);
	CU_ASSERT_PTR_NOT_NULL(env);
	json_object_put(env);
	http_free(&r);
	fake_pixverse_stop(srv);
}

static void test_fault_reset_mid_body(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	req_opts o = { .token = t };
	http_result r;

	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_TASK_LIST, FAKE_FAULT_RESET, 1, 0), 0);
	do_http(&r, srv, "GET", "/creative_platform/task/list", NULL, &o);
	CU_ASSERT_NOT_EQUAL(r.rc, CURLE_OK);
	CU_ASSERT(r.rc == CURLE_PARTIAL_FILE || r.rc == CURLE_RECV_ERROR ||
		  r.rc == CURLE_GOT_NOTHING);
	CU_ASSERT(r.body.len > 0);
	http_free(&r);
	/* The server survives it. */
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/task/list", NULL, &o, NULL, NULL), 0);
	free(t);
	fake_pixverse_stop(srv);
}

static void test_fault_redirect_loop(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL), *loc;
	req_opts o = { .token = t };
	http_result r;

	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, FAKE_FAULT_REDIRECT_LOOP, 2, 0), 0);
	do_http(&r, srv, "GET", "/creative_platform/user/credits", NULL, &o);
	CU_ASSERT_EQUAL(r.status, 302);
	loc = resp_header(&r, "Location");
	CU_ASSERT(loc && strstr(loc, "/creative_platform/user/credits"));
	free(loc);
	http_free(&r);

	o.follow = 1;
	do_http(&r, srv, "GET", "/creative_platform/user/credits", NULL, &o);
	CU_ASSERT_EQUAL(r.rc, CURLE_TOO_MANY_REDIRECTS);
	http_free(&r);
	o.follow = 0;
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, NULL), 0);
	free(t);
	fake_pixverse_stop(srv);
}

static void test_forced_errcode(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL), *msg = NULL;
	req_opts o = { .token = t };
	int code = 0;

	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_CREDITS, 10005, 2), 0);
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_CREDITS, 500043, 1), 0);
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, NULL, &msg), 10005);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "logged in elsewhere"));
	free(msg);
	CU_ASSERT_EQUAL(credits_with(srv, t), 10005);
	CU_ASSERT_EQUAL(credits_with(srv, t), 500043);
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);

	/* A forced error on login issues no token and keeps the session. */
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_LOGIN, 500069, 1), 0);
	CU_ASSERT_PTR_NULL(login(srv, "alice@example.com", "alice-pw-123", &code, NULL));
	CU_ASSERT_EQUAL(code, 500069);
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);

	/* Clearing drops queued faults. */
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_CREDITS, 500069, 5), 0);
	fake_pixverse_clear_faults(srv);
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	free(t);
	fake_pixverse_stop(srv);
}

/* ---- counters, headers, threads ---- */

static void test_counters_and_headers(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	req_opts full = { .token = t }, bare = { .token = t, .bare = 1 };
	req_opts same = { .token = t, .trace = "fixed-trace" };
	http_result r;

	fake_pixverse_reset_counters(srv);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TOTAL), 0);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_LOGIN), 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 0);

	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &full, NULL, NULL), 0);
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &full, NULL, NULL), 0);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_PLATFORM), 0);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_TRACE_ID), 0);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_REUSED_TRACE_ID), 1);

	/* Missing headers are recorded; other ids than the session's answer 10005. */
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/getUserInfo", NULL, &bare, NULL, NULL), 10005);
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/task/list", NULL, &same, NULL, NULL), 10005);
	CU_ASSERT_EQUAL(call(srv, "GET", "/creative_platform/task/list", NULL, &same, NULL, NULL), 10005);
	do_http(&r, srv, "GET", "/no/such/path", NULL, NULL);
	CU_ASSERT_EQUAL(r.status, 404);
	http_free(&r);
	do_http(&r, srv, "GET", "/creative_platform/login", NULL, NULL);
	CU_ASSERT_EQUAL(r.status, 405);
	http_free(&r);
	{
		char *big = malloc(2 * 1024 * 1024 + 1);

		memset(big, ' ', 2 * 1024 * 1024);
		big[2 * 1024 * 1024] = '\0';
		do_http(&r, srv, "POST", "/creative_platform/login", big, NULL);
		CU_ASSERT_EQUAL(r.status, 413);
		http_free(&r);
		free(big);
	}

	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_PLATFORM), 1);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_TRACE_ID), 1);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_ANONYMOUS_ID), 1);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_REUSED_TRACE_ID), 2);
	CU_ASSERT_EQUAL(fake_pixverse_id_mismatches(srv, "alice@example.com"), 3);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_CREDITS), 2);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_USER_INFO), 1);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TASK_LIST), 2);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_LOGIN), 1);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_REFRESH), 0);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TOTAL), 8);

	fake_pixverse_reset_counters(srv);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_CREDITS), 0);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_PLATFORM), 0);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TOTAL), 0);
	CU_ASSERT_EQUAL(fake_pixverse_endpoint_parse("user_info"), FAKE_PV_EP_USER_INFO);
	CU_ASSERT_EQUAL(fake_pixverse_endpoint_parse("total"), FAKE_PV_EP_TOTAL);
	CU_ASSERT_EQUAL(fake_pixverse_endpoint_parse("bogus"), -2);
	free(t);
	fake_pixverse_stop(srv);
}

typedef struct worker {
	fake_pixverse *srv;
	const char *token;
	int failures;
} worker;

static void *hammer(void *arg)
{
	worker *w = arg;
	int i;

	for (i = 0; i < 20; i++)
		if (credits_with(w->srv, w->token) != 0)
			w->failures++;
	return NULL;
}

static void test_concurrent_clients(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	pthread_t th[4];
	worker w[4];
	int i;

	fake_pixverse_reset_counters(srv);
	/* The delay holds one connection while the others proceed. */
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, FAKE_FAULT_DELAY, 1, 200), 0);
	for (i = 0; i < 4; i++) {
		w[i].srv = srv;
		w[i].token = t;
		w[i].failures = 0;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(w[i].failures, 0);
	}
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_CREDITS), 80);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_TRACE_ID), 0);
	free(t);
	fake_pixverse_stop(srv);
}

/* ---- the control endpoints ---- */

static json_object *control(fake_pixverse *srv, const char *method, const char *what,
	const char *body, long *status)
{
	http_result r;
	json_object *j;
	req_opts o = { .bare = 1 };
	char path[512];

	snprintf(path, sizeof(path), "/__control/%s", what);
	do_http(&r, srv, method, path, body, &o);
	*status = r.status;
	j = body_json(&r);
	http_free(&r);
	return j;
}

static int control_ok(fake_pixverse *srv, const char *what)
{
	long status = 0;
	json_object *j = control(srv, "POST", what, NULL, &status);
	json_object *ok = get(j, "ok");
	int rc = status == 200 && ok && json_object_get_boolean(ok);

	json_object_put(j);
	return rc;
}

/* A raw loopback connection to the server, or -1. */
static int raw_connect(fake_pixverse *srv)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)fake_pixverse_port(srv));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * A client that sends a login and dies before the answer (as a SIGKILLed
 * one does) still gets the login carried out, later: wait_idle returns
 * only once it has landed, and not while a connection is still open.
 */
static void test_wait_idle(void)
{
	fake_pixverse *srv = start();
	fake_server *fs = fake_pixverse_server(srv);
	char *body = login_body("carol@example.com", "carol-pw-456", 0), req[1024];
	unsigned long before = fake_pixverse_logins_ok(srv);
	int fd, n;

	CU_ASSERT_EQUAL(fake_server_wait_idle(fs, 1000), 0);
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_LOGIN, FAKE_FAULT_DELAY, 1, 300), 0);
	n = snprintf(req, sizeof(req),
	             "POST /creative_platform/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	             strlen(body), body);
	CU_ASSERT_FATAL((fd = raw_connect(srv)) >= 0);
	CU_ASSERT_FATAL(write(fd, req, (size_t)n) == n);
	close(fd);
	/* The delayed login has not landed yet, and the server is not idle. */
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), before);
	CU_ASSERT_EQUAL(fake_server_wait_idle(fs, 50), -1);
	CU_ASSERT_EQUAL(fake_server_wait_idle(fs, 10000), 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), before + 1);

	/* An open connection that has sent nothing keeps it busy, too. */
	CU_ASSERT_FATAL((fd = raw_connect(srv)) >= 0);
	CU_ASSERT_EQUAL(fake_server_wait_idle(fs, 100), -1);
	close(fd);
	CU_ASSERT_EQUAL(fake_server_wait_idle(fs, 10000), 0);
	free(body);
	fake_pixverse_stop(srv);
}

static void test_control_http(void)
{
	fake_pixverse *srv = start();
	char *t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL), *t2;
	json_object *j;
	long status = 0;
	http_result r;
	req_opts o;
	int code = 0;

	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	j = control(srv, "GET", "stats", NULL, &status);
	CU_ASSERT_EQUAL(status, 200);
	CU_ASSERT_EQUAL(get_int(get(j, "requests"), "login"), 1);
	CU_ASSERT_EQUAL(get_int(get(j, "requests"), "credits"), 1);
	CU_ASSERT_EQUAL(get_int(get(j, "requests"), "total"), 2);
	CU_ASSERT_EQUAL(get_int(get(j, "headers"), "missing_x_platform"), 0);
	CU_ASSERT_EQUAL(get_int(j, "logins_ok"), 1);
	json_object_put(j);

	/* Faults by name, including the errcode alias. */
	CU_ASSERT(control_ok(srv, "fault?endpoint=credits&kind=status&param=503"));
	CU_ASSERT(control_ok(srv, "fault?endpoint=credits&kind=errcode&param=500069&count=1"));
	memset(&o, 0, sizeof(o));
	o.token = t;
	do_http(&r, srv, "GET", "/creative_platform/user/credits", NULL, &o);
	CU_ASSERT_EQUAL(r.status, 503);
	http_free(&r);
	CU_ASSERT_EQUAL(credits_with(srv, t), 500069);
	CU_ASSERT_FALSE(control_ok(srv, "fault?endpoint=nope&kind=status"));
	CU_ASSERT_FALSE(control_ok(srv, "fault?endpoint=credits&kind=nope"));
	CU_ASSERT_FALSE(control_ok(srv, "fault?endpoint=credits&kind=delay&count=x"));
	CU_ASSERT(control_ok(srv, "fault?endpoint=credits&kind=status&count=3"));
	CU_ASSERT(control_ok(srv, "clear_faults"));
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);

	/* Sessions. */
	CU_ASSERT(control_ok(srv, "expire?email=alice@example.com"));
	CU_ASSERT_EQUAL(credits_with(srv, t), 10002);
	j = control(srv, "POST", "login_token?email=alice@example.com", NULL, &status);
	CU_ASSERT_EQUAL(status, 200);
	CU_ASSERT_PTR_NOT_NULL_FATAL(get(j, "token"));
	t2 = strdup(json_object_get_string(get(j, "token")));
	json_object_put(j);
	CU_ASSERT_EQUAL(credits_with(srv, t2), 0);
	CU_ASSERT(control_ok(srv, "kick?email=alice@example.com"));
	CU_ASSERT_EQUAL(credits_with(srv, t2), 10005);
	CU_ASSERT_FALSE(control_ok(srv, "kick?email=nobody@example.com"));

	/* Clock. */
	free(t);
	t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	CU_ASSERT(control_ok(srv, "clock?offset=3000000"));
	CU_ASSERT_EQUAL(credits_with(srv, t), 10002);
	CU_ASSERT_EQUAL(fake_server_clock_offset(fake_pixverse_server(srv)), 3000000);
	CU_ASSERT(control_ok(srv, "clock?offset=0"));
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	CU_ASSERT_FALSE(control_ok(srv, "clock?offset=soon"));

	/* Accounts, blocking, credits. */
	j = control(srv, "POST", "account",
		"{\"email\":\"zed@example.com\",\"password\":\"zed-pw\",\"credit_daily\":9}", &status);
	CU_ASSERT_EQUAL(status, 200);
	json_object_put(j);
	j = control(srv, "POST", "account", "{\"email\":\"zed@example.com\",\"password\":\"x\"}", &status);
	CU_ASSERT_EQUAL(status, 400);
	json_object_put(j);
	free(t2);
	t2 = login(srv, "zed@example.com", "zed-pw", &code, NULL);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(control_ok(srv, "credits?email=zed@example.com&package=77"));
	o.token = t2;
	CU_ASSERT_EQUAL_FATAL(call(srv, "GET", "/creative_platform/user/credits", NULL, &o, &j, NULL), 0);
	CU_ASSERT_EQUAL(get_int(get(j, "Resp"), "credit_daily"), 9);
	CU_ASSERT_EQUAL(get_int(get(j, "Resp"), "credit_package"), 77);
	json_object_put(j);
	CU_ASSERT(control_ok(srv, "block?email=zed@example.com&on=1"));
	CU_ASSERT_EQUAL(credits_with(srv, t2), 10001);
	CU_ASSERT(control_ok(srv, "block?email=zed@example.com&on=0"));
	CU_ASSERT_EQUAL(credits_with(srv, t2), 0);

	/* Reset, wrong method, unknown endpoint. */
	CU_ASSERT(control_ok(srv, "reset"));
	j = control(srv, "GET", "stats", NULL, &status);
	CU_ASSERT_EQUAL(get_int(get(j, "requests"), "total"), 0);
	json_object_put(j);
	j = control(srv, "GET", "kick?email=zed@example.com", NULL, &status);
	CU_ASSERT_EQUAL(status, 400);
	json_object_put(j);
	CU_ASSERT_FALSE(control_ok(srv, "nonsense"));
	CU_ASSERT_EQUAL(credits_with(srv, t2), 0);
	free(t);
	free(t2);
	fake_pixverse_stop(srv);

	/* Disabled control endpoints are not there at all. */
	{
		fake_pixverse_options opts = { .no_control_http = 1 };

		srv = start_with(&opts);
		j = control(srv, "GET", "stats", NULL, &status);
		CU_ASSERT_EQUAL(status, 404);
		json_object_put(j);
		fake_pixverse_stop(srv);
	}
}

/* ---- accounts file, log, program ---- */

static char tmpdir[64];

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void test_accounts_file(void)
{
	char err[512] = "", path[128], bad[128];
	fake_pixverse *srv = fake_pixverse_start(NULL, err, sizeof(err));
	char *t;
	int code = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	snprintf(path, sizeof(path), "%s/accounts.json", tmpdir);
	snprintf(bad, sizeof(bad), "%s/bad.json", tmpdir);
	CU_ASSERT_EQUAL_FATAL(write_file(path,
		"{\"accounts\":[{\"email\":\"f1@example.com\",\"password\":\"p1\"},"
		"{\"email\":\"g1@example.com\",\"google_only\":true}]}"), 0);
	CU_ASSERT_EQUAL(fake_pixverse_load_accounts(srv, path, err, sizeof(err)), 0);
	t = login(srv, "f1@example.com", "p1", &code, NULL);
	CU_ASSERT_EQUAL(code, 0);
	free(t);
	CU_ASSERT_PTR_NULL(login(srv, "g1@example.com", "p1", &code, NULL));
	CU_ASSERT_EQUAL(code, 500202);

	CU_ASSERT_EQUAL_FATAL(write_file(bad,
		"[{\"email\":\"h1@example.com\",\"password\":\"p\"},{\"email\":\"h2@example.com\"}]"), 0);
	CU_ASSERT_EQUAL(fake_pixverse_load_accounts(srv, bad, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, bad));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "account 1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "password"));
	CU_ASSERT_EQUAL_FATAL(write_file(bad, "[{\"email\":\"h3@example.com\",\"password\":5}]"), 0);
	CU_ASSERT_EQUAL(fake_pixverse_load_accounts(srv, bad, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "'password' must be a string"));
	CU_ASSERT_EQUAL_FATAL(write_file(bad, "{\"accounts\":"), 0);
	CU_ASSERT_EQUAL(fake_pixverse_load_accounts(srv, bad, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, bad));
	CU_ASSERT_EQUAL(fake_pixverse_load_accounts(srv, "/nonexistent/x.json", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/x.json"));
	fake_pixverse_stop(srv);
	unlink(path);
	unlink(bad);
}

static void test_log_has_no_secrets(void)
{
	char err[256], path[128], *text;
	fake_pixverse_options opts = { 0 };
	fake_pixverse *srv;
	FILE *log;
	long len;
	char *t;

	snprintf(path, sizeof(path), "%s/requests.log", tmpdir);
	log = fopen(path, "w+");
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	opts.log = log;
	srv = fake_pixverse_start(&opts, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	CU_ASSERT(fake_pixverse_add_account(srv, &alice) > 0);
	t = login(srv, "alice@example.com", "alice-pw-123", NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(credits_with(srv, t), 0);
	fake_pixverse_stop(srv);

	fseek(log, 0, SEEK_END);
	len = ftell(log);
	rewind(log);
	text = calloc((size_t)len + 1, 1);
	CU_ASSERT_EQUAL(fread(text, 1, (size_t)len, log), (size_t)len);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "POST /creative_platform/login -> 200 code=0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "GET /creative_platform/user/credits -> 200 code=0"));
	CU_ASSERT_PTR_NULL(strstr(text, "alice-pw-123"));
	CU_ASSERT_PTR_NULL(strstr(text, t));
	CU_ASSERT_PTR_NULL(strstr(text, strrchr(t, '.') + 1));
	free(text);
	free(t);
	fclose(log);
	unlink(path);
}

/* Starts the program with stdin and stdout on pipes; returns its pid. */
static pid_t spawn_program(int *to_child, FILE **from_child)
{
	const char *bd = getenv("PA_BUILDDIR");
	char prog[1024];
	int in[2], out[2];
	pid_t pid;

	snprintf(prog, sizeof(prog), "%s/tests/fake/fake-pixverse", bd ? bd : ".");
	if (pipe(in) < 0 || pipe(out) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl(prog, prog, "--token-ttl", "600", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to_child = in[1];
	*from_child = fdopen(out[0], "r");
	return pid;
}

static int wait_exit(pid_t pid, double limit)
{
	double t0 = now_s();
	int status;

	while (now_s() - t0 < limit) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void program_login(int port)
{
	char url[128], *body = login_body("alice@example.com", "alice-demo-pw", 0);
	http_result r;
	json_object *env;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/creative_platform/login", port);
	do_http_url(&r, url, "POST", body, NULL);
	CU_ASSERT_EQUAL(r.rc, CURLE_OK);
	env = body_json(&r);
	CU_ASSERT_EQUAL(errcode_of(env), 0);
	json_object_put(env);
	http_free(&r);
	free(body);
}

static void test_program(void)
{
	int to_child = -1, port = 0;
	FILE *from_child = NULL;
	char line[64] = "";
	pid_t pid = spawn_program(&to_child, &from_child);

	CU_ASSERT_FATAL(pid > 0 && from_child);
	CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof(line), from_child));
	CU_ASSERT_EQUAL(sscanf(line, "PORT=%d", &port), 1);
	if (port > 0)
		program_login(port);
	/* End of stdin stops it cleanly. */
	close(to_child);
	CU_ASSERT_EQUAL(wait_exit(pid, 10), 0);
	fclose(from_child);

	/* So does SIGTERM. */
	pid = spawn_program(&to_child, &from_child);
	CU_ASSERT_FATAL(pid > 0 && from_child);
	CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof(line), from_child));
	CU_ASSERT_EQUAL(strncmp(line, "PORT=", 5), 0);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(wait_exit(pid, 10), 0);
	close(to_child);
	fclose(from_child);
}

/* ---- JWT helpers ---- */

static void test_jwt_and_base64url(void)
{
	static const unsigned char key[] = "k";
	unsigned char *out;
	size_t len;
	char *enc, *tok;
	json_object *h, *p;

	enc = fake_b64url_encode("\xfb\xff\xfe", 3);
	CU_ASSERT_STRING_EQUAL(enc, "-__-");
	free(enc);
	CU_ASSERT_EQUAL(fake_b64url_decode(&out, &len, "-__-", 4), 0);
	CU_ASSERT_EQUAL(len, 3);
	CU_ASSERT_EQUAL(memcmp(out, "\xfb\xff\xfe", 3), 0);
	free(out);
	CU_ASSERT_EQUAL(fake_b64url_decode(&out, &len, "YQ==", 4), 0);
	CU_ASSERT_EQUAL(len, 1);
	free(out);
	CU_ASSERT_EQUAL(fake_b64url_decode(&out, &len, "a+b/", 4), -1);
	CU_ASSERT_EQUAL(fake_b64url_decode(&out, &len, "abcde", 5), -1);

	/* Expected value computed independently (Python hmac + base64). */
	tok = fake_jwt_sign(key, 1, "{\"alg\":\"HS256\"}", "{\"a\":1}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	CU_ASSERT_STRING_EQUAL(tok, "eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ."
		"OGHNXDgUnzgBVCe2z7nm7V9aIzY7ToZsw8H_3ZgS3L0");
	CU_ASSERT_EQUAL(fake_jwt_decode(&h, &p, key, 1, tok), FAKE_JWT_OK);
	CU_ASSERT_EQUAL(get_int(p, "a"), 1);
	json_object_put(h);
	json_object_put(p);
	CU_ASSERT_EQUAL(fake_jwt_decode(&h, &p, (const unsigned char *)"x", 1, tok),
		FAKE_JWT_BAD_SIGNATURE);
	json_object_put(h);
	json_object_put(p);
	CU_ASSERT_EQUAL(fake_jwt_decode(&h, &p, key, 1, "x.y"), FAKE_JWT_MALFORMED);
	CU_ASSERT_EQUAL(fake_jwt_decode(&h, &p, key, 1, "a.b.c.d"), FAKE_JWT_MALFORMED);
	free(tok);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "login success", test_login_success },
		{ "second login supersedes first", test_second_login_supersedes_first },
		{ "sessions are tied to their client ids", test_session_ids },
		{ "expired token", test_expired_token },
		{ "missing and garbled tokens", test_missing_and_garbled_tokens },
		{ "login failures", test_login_failures },
		{ "login rate limit", test_login_rate_limit },
		{ "response shapes", test_response_shapes },
		{ "refresh", test_refresh },
		{ "openapi credits", test_openapi_credits },
		{ "fault: status and rate limit", test_fault_status_and_rate_limit },
		{ "fault: delay", test_fault_delay },
		{ "fault: truncated, non-JSON, no Resp", test_fault_bodies },
		{ "fault: huge body", test_fault_huge_body },
		{ "fault: reset mid-body", test_fault_reset_mid_body },
		{ "fault: redirect loop", test_fault_redirect_loop },
		{ "forced ErrCode", test_forced_errcode },
		{ "counters and headers", test_counters_and_headers },
		{ "concurrent clients", test_concurrent_clients },
		{ "wait_idle: a dead client's login lands first", test_wait_idle },
		{ "control endpoints", test_control_http },
		{ "accounts file", test_accounts_file },
		{ "request log has no secrets", test_log_has_no_secrets },
		{ "standalone program", test_program },
		{ "jwt and base64url", test_jwt_and_base64url },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "fake_pixverse", NULL, NULL, tests },
		PA_TEST_SUITE_END
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_fake_pixverse.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rmdir(tmpdir);
		return 1;
	}
	rc = pa_test_run(argc, argv, suites);
	curl_global_cleanup();
	rmdir(tmpdir);
	return rc;
}
