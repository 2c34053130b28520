/*
 * provauthd's REST API over HTTP: the real daemon (tests/daemon/harness.h)
 * against the fake Pixverse, every route and its errors, every answer
 * validated against docs/api/openapi.json; bearer tokens and scopes per
 * route class; the spec's 7.2 scenarios driven through HTTP (cookie import
 * -> auth_method unknown; reauth -> password, then a killed session
 * recovered with one login on pixverse-status; connect-google -> google,
 * then a killed session not password-reauthed and empty credits; credits
 * retried once after a reauth); and no secret in any answer or in the
 * daemon's log, as is, in either case, or base64-encoded.
 */
#include "config.h"
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include "fake_pixverse.h"
#include "harness.h"
#include "openapi_check.h"
#include "pa_test.h"
#include <provauth/provauth.h>

#define PA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define TOK_READ "api-test-read-token-0001"
#define TOK_OPERATE "api-test-operate-token-02"
#define TOK_ADMIN "api-test-admin-token-0003"
#define TOK_WRONG "api-test-nobody-token-0004"

static fake_pixverse *srv;
static pa_daemon *dmn;
static pad_openapi *doc;
static char **secrets;
static size_t nsecrets;
static char *replies;           /* every body the daemon answered, for the secret scan */
static size_t replies_len;
static unsigned long checked;   /* answers validated against the document */

static void secret(const char *s)
{
	char **p;

	if (!s || strlen(s) < 6)
		return;
	if (!(p = realloc(secrets, (nsecrets + 1) * sizeof(*secrets))))
		return;
	secrets = p;
	secrets[nsecrets++] = strdup(s);
}

static void keep_reply(const char *body)
{
	size_t n = body ? strlen(body) : 0;
	char *p;

	if (!n || !(p = realloc(replies, replies_len + n + 2)))
		return;
	replies = p;
	memcpy(replies + replies_len, body, n);
	replies_len += n;
	replies[replies_len++] = '\n';
	replies[replies_len] = '\0';
}

/*
 * One request; the answer is checked against the document (operation,
 * status, body) and kept for the secret scan. Returns the status; *out (may
 * be NULL) the parsed JSON body (NULL for none).
 */
static long call(const char *method, const char *path, const char *token, const char *body, json_object **out)
{
	long status = 0;
	char *reply = NULL, err[512];

	if (out)
		*out = NULL;
	CU_ASSERT_EQUAL_FATAL(pa_daemon_request(dmn, method, path, token, body, &status, &reply, NULL), 0);
	keep_reply(reply);
	if (pad_openapi_check_response(doc, method, path, status, reply, err, sizeof(err)) != 0) {
		fprintf(stderr, "\n  %s %s -> %ld: %s\n  body: %.400s\n", method, path, status, err, reply ? reply : "");
		CU_FAIL("the answer does not conform to docs/api/openapi.json");
	}
	checked++;
	if (out && reply && *reply)
		*out = json_tokener_parse(reply);
	free(reply);
	return status;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* An integer member, -1 when missing or of another type. */
static int64_t jint(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

static const char *error_code(json_object *o)
{
	return jstr(jget(o, "error"), "code");
}

static const char *error_message(json_object *o)
{
	const char *m = jstr(jget(o, "error"), "message");
	return m ? m : "";
}

/* The import body of a browser session of `email`: its token, a session cookie, the browser's ids. */
static char *import_body(const char *email, int n, const char *password)
{
	char *tok = fake_pixverse_login_token(srv, email), *body, sid[64];
	json_object *o = json_object_new_object(), *raw = json_object_new_object(), *c = json_object_new_object();
	json_object *ids = json_object_new_object();

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	snprintf(sid, sizeof(sid), "sid-SECRET-%d-%s", n, email);
	secret(tok);
	secret(sid);
	json_object_object_add(c, "_ai_token", json_object_new_string(tok));
	json_object_object_add(c, "pv_sid", json_object_new_string(sid));
	json_object_object_add(raw, "cookies", c);
	json_object_object_add(ids, "ai_trace_id", json_object_new_string("trace-0000-1111-2222"));
	json_object_object_add(ids, "ai_anonymous_id", json_object_new_string("anon-0000-1111-2222"));
	json_object_object_add(raw, "session_ids", ids);
	json_object_object_add(o, "provider_id", json_object_new_string("pixverse"));
	json_object_object_add(o, "url", json_object_new_string("https://app.pixverse.ai/"));
	json_object_object_add(o, "raw_data", raw);
	if (password) {
		secret(password);
		json_object_object_add(o, "password", json_object_new_string(password));
	}
	body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	free(tok);
	return body;
}

/* Imports a browser session of `email` through the API; the account id (malloc()ed). */
static char *import(const char *email, int n, int *created)
{
	char *body = import_body(email, n, NULL), *id;
	json_object *r;
	long st = call("POST", "/v1/accounts/import-cookies", TOK_ADMIN, body, &r);

	free(body);
	if (st != 200)
		fprintf(stderr, "\n  import: %ld %s\n", st, error_message(r));
	CU_ASSERT_EQUAL_FATAL(st, 200);
	CU_ASSERT_PTR_NOT_NULL_FATAL(jstr(r, "account_id"));
	CU_ASSERT_STRING_EQUAL(jstr(r, "email"), email);
	if (created)
		*created = json_object_get_boolean(jget(r, "created"));
	id = strdup(jstr(r, "account_id"));
	json_object_put(r);
	return id;
}

static json_object *get_account(const char *id)
{
	char path[256];
	json_object *a;

	snprintf(path, sizeof(path), "/v1/accounts/%s", id);
	CU_ASSERT_EQUAL(call("GET", path, TOK_READ, NULL, &a), 200);
	return a;
}

/* ---- access ---- */

static void test_tokens_and_scopes(void)
{
	static const struct { const char *method, *path, *body; const char *min; } routes[] = {
		{ "GET", "/v1/accounts", NULL, "read" },
		{ "GET", "/v1/accounts/acct-none", NULL, "read" },
		{ "GET", "/v1/pool", NULL, "read" },
		{ "GET", "/metrics", NULL, "read" },
		{ "GET", "/v1/providers", NULL, "read" },
		{ "GET", "/v1/accounts/acct-none/pixverse-status", NULL, "operate" },
		{ "POST", "/v1/accounts/acct-none/reauth", "{}", "operate" },
		{ "POST", "/v1/accounts/acct-none/call/credits", "{}", "operate" },
		{ "POST", "/v1/jobs", "{\"params\":{}}", "operate" },
		{ "GET", "/v1/jobs/acct-none:1", NULL, "operate" },
		{ "POST", "/v1/accounts/import-cookies", "{}", "admin" },
		{ "DELETE", "/v1/accounts/acct-none", NULL, "admin" },
		{ "POST", "/v1/accounts/acct-none/connect-google", "{}", "admin" },
	};
	static const char *const order[] = { "read", "operate", "admin" };
	static const char *const tokens[] = { TOK_READ, TOK_OPERATE, TOK_ADMIN };
	json_object *r;
	size_t i, k;

	for (i = 0; i < PA_ARRAY_LEN(routes); i++) {
		CU_ASSERT_STRING_EQUAL(pad_openapi_scope(doc, routes[i].method, routes[i].path), routes[i].min);
		CU_ASSERT_EQUAL(call(routes[i].method, routes[i].path, NULL, routes[i].body, &r), 401);
		CU_ASSERT_STRING_EQUAL(error_code(r) ? error_code(r) : "", "unauthorized");
		json_object_put(r);
		CU_ASSERT_EQUAL(call(routes[i].method, routes[i].path, TOK_WRONG, routes[i].body, &r), 401);
		json_object_put(r);
		for (k = 0; k < 3; k++) {
			int enough = 0;
			size_t m;
			long st;
			for (m = 0; m <= k; m++)
				enough |= strcmp(order[m], routes[i].min) == 0;
			st = call(routes[i].method, routes[i].path, tokens[k], routes[i].body, &r);
			if (!enough) {
				CU_ASSERT_EQUAL(st, 403);
				CU_ASSERT_STRING_EQUAL(error_code(r) ? error_code(r) : "", "forbidden");
			} else {
				CU_ASSERT(st != 401 && st != 403);
			}
			json_object_put(r);
		}
	}
	/* The open routes need no token. */
	CU_ASSERT_EQUAL(call("GET", "/healthz", NULL, NULL, NULL), 200);
	CU_ASSERT_EQUAL(call("GET", "/readyz", NULL, NULL, NULL), 200);
}

/* ---- the spec's routes, 7.2 through HTTP ---- */

static void test_import_cookies(void)
{
	json_object *a, *r;
	char *id, *again;
	int created = 0;

	id = import("alice@example.com", 1, &created);
	CU_ASSERT_EQUAL(created, 1);
	a = get_account(id);
	/* 7.2: a cookie import says nothing of how the account signs in. */
	CU_ASSERT_STRING_EQUAL(jstr(a, "auth_method"), "unknown");
	CU_ASSERT_EQUAL(json_object_get_boolean(jget(a, "has_jwt")), 1);
	CU_ASSERT_EQUAL(json_object_get_boolean(jget(a, "has_cookies")), 1);
	json_object_put(a);
	/* The same account again: updated, not created. */
	again = import("alice@example.com", 2, &created);
	CU_ASSERT_STRING_EQUAL(again, id);
	CU_ASSERT_EQUAL(created, 0);
	free(again);

	/* Bad inputs name the field. */
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/import-cookies", TOK_ADMIN, "{\"raw_data\":{\"cookies\":{}}}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "provider_id"));
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/import-cookies", TOK_ADMIN, "{\"provider_id\":\"pixverse\"}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "raw_data"));
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/import-cookies", TOK_ADMIN,
	                     "{\"provider_id\":\"pixverse\",\"raw_data\":{\"cookies\":\"x\"}}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "raw_data.cookies"));
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/import-cookies", TOK_ADMIN,
	                     "{\"provider_id\":\"nosuch\",\"raw_data\":{\"cookies\":{}}}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "provider_id"));
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/import-cookies", TOK_ADMIN,
	                     "{\"provider_id\":\"pixverse\",\"raw_data\":{\"cookies\":{}},\"nope\":1}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "nope"));
	json_object_put(r);
	/* No token cookie: the provider's refusal, as a 400. */
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/import-cookies", TOK_ADMIN,
	                     "{\"provider_id\":\"pixverse\",\"raw_data\":{\"cookies\":{\"a\":\"b\"}}}", &r), 400);
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/import-cookies", TOK_ADMIN, "{not json", &r), 400);
	json_object_put(r);

	/* The service names no email for the session: 422 email_missing with a hint (the notes' rule). */
	{
		fake_pixverse_account na;
		char *body;

		memset(&na, 0, sizeof(na));
		na.email = "mailless-user";
		na.password = "mailless-pw-SECRET";
		secret(na.password);
		CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &na) > 0);
		body = import_body("mailless-user", 9, NULL);
		CU_ASSERT_EQUAL(call("POST", "/v1/accounts/import-cookies", TOK_ADMIN, body, &r), 422);
		CU_ASSERT_STRING_EQUAL(error_code(r) ? error_code(r) : "", "email_missing");
		CU_ASSERT_PTR_NOT_NULL(jstr(jget(r, "error"), "hint"));
		json_object_put(r);
		free(body);
	}
	free(id);
}

static void test_reauth_then_one_login(void)
{
	json_object *r, *a;
	char *id = import("alice@example.com", 3, NULL), path[256], body[128];

	secret("alice-demo-pw");
	snprintf(path, sizeof(path), "/v1/accounts/%s/reauth", id);
	CU_ASSERT_EQUAL(call("POST", path, TOK_OPERATE, "{\"password\":\"wrong-password-1\"}", &r), 502);
	secret("wrong-password-1");
	json_object_put(r);
	snprintf(body, sizeof(body), "{\"password\":\"alice-demo-pw\",\"headless\":true}");
	CU_ASSERT_EQUAL(call("POST", path, TOK_OPERATE, body, &r), 200);
	CU_ASSERT_STRING_EQUAL(jstr(jget(r, "account"), "auth_method"), "password");
	CU_ASSERT_EQUAL(json_object_get_boolean(jget(r, "success")), 1);
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", path, TOK_OPERATE, "{\"headless\":\"yes\"}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "headless"));
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/acct-nosuch/reauth", TOK_OPERATE, "{}", &r), 404);
	json_object_put(r);

	/* 7.2: the session killed, pixverse-status recovers it with one login. */
	fake_pixverse_kick(srv, "alice@example.com");
	fake_pixverse_reset_counters(srv);
	snprintf(path, sizeof(path), "/v1/accounts/%s/pixverse-status", id);
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT_STRING_EQUAL(jstr(r, "provider_id"), "pixverse");
	CU_ASSERT_STRING_EQUAL(jstr(r, "email"), "alice@example.com");
	CU_ASSERT_PTR_NOT_NULL(jget(jget(r, "credits"), "web"));
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);
	json_object_put(r);
	CU_ASSERT_EQUAL(call("GET", "/v1/accounts/acct-nosuch/pixverse-status", TOK_OPERATE, NULL, &r), 404);
	json_object_put(r);
	snprintf(path, sizeof(path), "/v1/accounts/%s/pixverse-status?force=maybe", id);
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "force"));
	json_object_put(r);

	/* 7.2: credits retried once after the reauth. */
	fake_pixverse_kick(srv, "alice@example.com");
	fake_pixverse_reset_counters(srv);
	snprintf(path, sizeof(path), "/v1/accounts/%s/call/credits", id);
	CU_ASSERT_EQUAL(call("POST", path, TOK_OPERATE, "{}", &r), 200);
	CU_ASSERT_PTR_NOT_NULL(jget(jget(r, "result"), "web"));
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_CREDITS), 2);
	json_object_put(r);
	a = get_account(id);
	CU_ASSERT_EQUAL(json_object_get_boolean(jget(a, "needs_human")), 0);
	json_object_put(a);
	free(id);
}

/*
 * The notes: pixverse-status reads credits live and keeps the ad-watch task
 * for 5 minutes unless force (here daemon.ad_task_max_age: 6 s), in the
 * store (shared by a fleet, kept over a reload) and in memory.
 */
static void test_status_keeps_ad_task(void)
{
	fake_pixverse_account e;
	json_object *r, *t;
	char *id, path[256], forced[300];

	memset(&e, 0, sizeof(e));
	e.email = "erin@example.com";
	e.password = "erin-pw-SECRET";
	e.ad_reward = 25;
	e.ad_total = 3;
	secret(e.password);
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &e) > 0);
	id = import("erin@example.com", 20, NULL);

	snprintf(path, sizeof(path), "/v1/accounts/%s/pixverse-status", id);
	snprintf(forced, sizeof(forced), "%s?force=true", path);
	fake_pixverse_reset_counters(srv);
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT(json_object_object_get_ex(r, "ad_watch_task", &t) && jint(t, "reward") == 25);
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_CREDITS), 1);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TASK_LIST), 1);

	/* Within max_age the task is the kept one: a task list that would fail is not even asked. */
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_TASK_LIST, 500069, 1), 0);
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT(json_object_object_get_ex(r, "ad_watch_task", &t) && jint(t, "reward") == 25);
	CU_ASSERT_PTR_NOT_NULL(jget(jget(r, "credits"), "web"));
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_CREDITS), 2);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TASK_LIST), 1);

	/* force reads it: the failure leaves it out of the answer (best effort) and the kept copy alone. */
	CU_ASSERT_EQUAL(call("GET", forced, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT_FALSE(json_object_object_get_ex(r, "ad_watch_task", NULL));
	CU_ASSERT_PTR_NOT_NULL(jget(jget(r, "credits"), "web"));
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TASK_LIST), 2);
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT(json_object_object_get_ex(r, "ad_watch_task", &t) && jint(t, "reward") == 25);
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TASK_LIST), 2);
	/* force that reads it: kept anew, from now. */
	CU_ASSERT_EQUAL(call("GET", forced, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT(json_object_object_get_ex(r, "ad_watch_task", &t) && jint(t, "reward") == 25);
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TASK_LIST), 3);

	/*
	 * The copy is in the store, not only in this daemon's memory: after a
	 * reload (a new world, its memory empty) it is still served, and the
	 * task list is not asked.
	 */
	{
		char *log;
		int i;

		CU_ASSERT_EQUAL(pa_daemon_signal(dmn, SIGHUP), 0);
		for (i = 0; i < 200; i++) {
			log = pa_daemon_log_text(dmn);
			if (log && strstr(log, "\"event\":\"reloaded\"")) {
				free(log);
				break;
			}
			free(log);
			usleep(50 * 1000);
		}
		CU_ASSERT(i < 200);
	}
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT(json_object_object_get_ex(r, "ad_watch_task", &t) && jint(t, "reward") == 25);
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TASK_LIST), 3);

	/* Older than max_age: read again. */
	sleep(7);
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT(json_object_object_get_ex(r, "ad_watch_task", &t) && jint(t, "reward") == 25);
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_TASK_LIST), 4);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_CREDITS), 7);
	free(id);
}

static void test_connect_google_never_reauths(void)
{
	json_object *r, *a;
	char *id = import("dave@example.com", 4, NULL), path[256], status_path[256], body[2048], *tok;

	snprintf(path, sizeof(path), "/v1/accounts/%s/connect-google", id);
	CU_ASSERT_EQUAL(call("POST", path, TOK_ADMIN, "{}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "id_token"));
	json_object_put(r);
	/* A token Pixverse refuses: nothing changes. */
	CU_ASSERT_EQUAL(call("POST", path, TOK_ADMIN, "{\"id_token\":\"google-id-token-SECRET\"}", &r), 502);
	secret("google-id-token-SECRET");
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "fresh ID token"));
	json_object_put(r);
	a = get_account(id);
	CU_ASSERT_STRING_EQUAL(jstr(a, "auth_method") ? jstr(a, "auth_method") : "", "unknown");
	json_object_put(a);
	/*
	 * Another account's token: refused for dave, whose account stays as it
	 * was. The sign-in it made replaced bob's session at Pixverse, so the new
	 * session is kept, in bob's account (the message says which).
	 */
	tok = fake_pixverse_google_id_token(srv, "bob@example.com", 600);
	secret(tok);
	snprintf(body, sizeof(body), "{\"id_token\":\"%s\"}", tok);
	CU_ASSERT_EQUAL(call("POST", path, TOK_ADMIN, body, &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "bob@example.com"));
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "were stored in account acct-"));
	json_object_put(r);
	free(tok);
	a = get_account(id);
	CU_ASSERT_STRING_EQUAL(jstr(a, "auth_method") ? jstr(a, "auth_method") : "", "unknown");
	json_object_put(a);
	/* Dave's own: exchanged for a session (no password login), and the account now signs in with Google. */
	fake_pixverse_reset_counters(srv);
	tok = fake_pixverse_google_id_token(srv, "dave@example.com", 600);
	secret(tok);
	snprintf(body, sizeof(body), "{\"id_token\":\"%s\"}", tok);
	CU_ASSERT_EQUAL(call("POST", path, TOK_ADMIN, body, &r), 200);
	CU_ASSERT_STRING_EQUAL(jstr(jget(r, "account"), "auth_method"), "google");
	json_object_put(r);
	free(tok);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_GOOGLE_LOGIN), 1);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 0);
	snprintf(status_path, sizeof(status_path), "/v1/accounts/%s/pixverse-status", id);
	CU_ASSERT_EQUAL(call("GET", status_path, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT_PTR_NOT_NULL(jget(jget(r, "credits"), "web"));
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_LOGIN), 0);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_REFRESH), 0);
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/acct-nosuch/connect-google", TOK_ADMIN, "{\"id_token\":\"x\"}", &r),
	                404);
	json_object_put(r);

	/* 7.2: the session killed, no password login; pixverse-status answers with empty credits. */
	fake_pixverse_kick(srv, "dave@example.com");
	fake_pixverse_reset_counters(srv);
	snprintf(path, sizeof(path), "/v1/accounts/%s/pixverse-status", id);
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT_EQUAL(json_object_object_length(jget(r, "credits")), 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 0);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_LOGIN), 0);
	json_object_put(r);
	/* And the account says a person must act, in words. */
	a = get_account(id);
	CU_ASSERT_EQUAL(json_object_get_boolean(jget(a, "needs_human")), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(jstr(a, "needs_human_reason") ? jstr(a, "needs_human_reason") : "", "Google"));
	CU_ASSERT_STRING_EQUAL(jstr(jget(a, "health"), "state"), "invalid");
	CU_ASSERT_STRING_EQUAL(jstr(a, "needs_human_code") ? jstr(a, "needs_human_code") : "", "session_lost");
	json_object_put(a);
	CU_ASSERT_EQUAL(call("GET", "/v1/accounts?status=needs_human", TOK_READ, NULL, &r), 200);
	CU_ASSERT(json_object_array_length(r) >= 1);
	json_object_put(r);
	free(id);
}

/* ---- accounts, calls, jobs, pool ---- */

static void test_accounts_list_get_delete(void)
{
	json_object *r, *a;
	char *id = import("bob@example.com", 5, NULL), path[256];
	size_t i, n, creds = 0;

	CU_ASSERT_EQUAL(call("GET", "/v1/accounts?provider_id=pixverse", TOK_READ, NULL, &r), 200);
	n = json_object_array_length(r);
	CU_ASSERT(n >= 1);
	json_object_put(r);
	CU_ASSERT_EQUAL(call("GET", "/v1/accounts?provider_id=nosuch", TOK_READ, NULL, &r), 200);
	CU_ASSERT_EQUAL(json_object_array_length(r), 0);
	json_object_put(r);
	CU_ASSERT_EQUAL(call("GET", "/v1/accounts?status=bogus", TOK_READ, NULL, &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "status"));
	json_object_put(r);
	a = get_account(id);
	/* Credentials shown redacted: kind and name, never a value. */
	for (i = 0; i < json_object_array_length(jget(a, "credentials")); i++) {
		json_object *c = json_object_array_get_idx(jget(a, "credentials"), i);
		CU_ASSERT_PTR_NULL(jget(c, "value"));
		CU_ASSERT_EQUAL(json_object_get_boolean(jget(c, "redacted")), 1);
		creds++;
	}
	CU_ASSERT(creds >= 2);
	json_object_put(a);
	snprintf(path, sizeof(path), "/v1/accounts/%s", id);
	CU_ASSERT_EQUAL(call("DELETE", path, TOK_ADMIN, NULL, NULL), 204);
	CU_ASSERT_EQUAL(call("GET", path, TOK_READ, NULL, &r), 404);
	CU_ASSERT_STRING_EQUAL(error_code(r) ? error_code(r) : "", "not_found");
	json_object_put(r);
	CU_ASSERT_EQUAL(call("DELETE", path, TOK_ADMIN, NULL, &r), 404);
	json_object_put(r);
	free(id);
}

static void test_call(void)
{
	json_object *r;
	char *id = import("alice@example.com", 6, NULL), path[256];

	snprintf(path, sizeof(path), "/v1/accounts/%s/call/user_info", id);
	CU_ASSERT_EQUAL(call("POST", path, TOK_OPERATE, NULL, &r), 200);
	CU_ASSERT_PTR_NOT_NULL(jget(r, "result"));
	json_object_put(r);
	snprintf(path, sizeof(path), "/v1/accounts/%s/call/nosuch_op", id);
	CU_ASSERT_EQUAL(call("POST", path, TOK_OPERATE, "{}", &r), 404);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "nosuch_op"));
	json_object_put(r);
	snprintf(path, sizeof(path), "/v1/accounts/%s/call/credits", id);
	CU_ASSERT_EQUAL(call("POST", path, TOK_OPERATE, "{\"args\":[1]}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "args"));
	json_object_put(r);
	/* The provider refuses an argument its operation does not take: a 400 through pad_reply_provauth. */
	CU_ASSERT_EQUAL(call("POST", path, TOK_OPERATE, "{\"args\":{\"bogus\":\"1\"}}", &r), 400);
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/acct-nosuch/call/credits", TOK_OPERATE, "{}", &r), 404);
	json_object_put(r);
	free(id);
}

/* The rule of tools/cmd_generate.c: a refusal that is the account's sends the job once to another. */
static void test_job_retried_on_another_account(void)
{
	fake_pixverse_account c;
	json_object *r, *pool, *accts;
	char *carol, *alice, body[512];
	const char *first;
	size_t i, cooling = 0;

	memset(&c, 0, sizeof(c));
	c.email = "carol@example.com";
	c.password = "carol-pw-SECRET";
	secret(c.password);
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &c) > 0);
	carol = import("carol@example.com", 10, NULL);
	alice = import("alice@example.com", 11, NULL);
	fake_pixverse_reset_counters(srv);
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_T2V, 500044, 1), 0);
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE,
	                     "{\"provider_id\":\"pixverse\",\"params\":{\"type\":\"t2v\",\"prompt\":\"a dog\"}}", &r),
	                202);
	first = jstr(r, "account_id");
	CU_ASSERT_PTR_NOT_NULL(first);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_T2V), 2);
	json_object_put(r);
	/* The refused account cools down; the job went to the other one. */
	CU_ASSERT_EQUAL(call("GET", "/v1/pool?provider_id=pixverse", TOK_READ, NULL, &pool), 200);
	accts = jget(pool, "accounts");
	for (i = 0; i < json_object_array_length(accts); i++) {
		const char *why = jstr(json_object_array_get_idx(accts, i), "cooldown_reason");
		cooling += why && strcmp(why, "concurrency") == 0;
	}
	CU_ASSERT_EQUAL(cooling, 1);
	json_object_put(pool);

	/* Pinned: no other account; the refusal is the answer (503) after one try. */
	fake_pixverse_reset_counters(srv);
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_T2V, 500044, 1), 0);
	snprintf(body, sizeof(body), "{\"account_id\":\"%s\",\"params\":{\"type\":\"t2v\",\"prompt\":\"a dog\"}}",
	         carol);
	{
		long st = call("POST", "/v1/jobs", TOK_OPERATE, body, &r);
		/* carol may be the one cooling down: then the pool refuses her before any submit. */
		CU_ASSERT(st == 503);
		json_object_put(r);
	}
	CU_ASSERT(fake_pixverse_counter(srv, FAKE_PV_EP_T2V) <= 1);
	fake_pixverse_clear_faults(srv);
	free(carol);
	free(alice);
}

static void test_jobs_and_pool(void)
{
	json_object *r, *j;
	char *id = import("alice@example.com", 7, NULL), body[512], path[512];
	const char *jid;

	/* Pinned to the account: the pool checks its slots, not credits it never synced. */
	snprintf(body, sizeof(body), "{\"account_id\":\"%s\",\"params\":{\"type\":\"t2v\",\"prompt\":\"a cat\","
	         "\"model\":\"v5\",\"quality\":\"360p\",\"duration\":5}}", id);
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE, body, &r), 202);
	jid = jstr(r, "id");
	CU_ASSERT_PTR_NOT_NULL_FATAL(jid);
	CU_ASSERT_STRING_EQUAL(jstr(r, "account_id"), id);
	snprintf(path, sizeof(path), "/v1/jobs/%s", jid);
	json_object_put(r);
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &j), 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "account_id"), id);
	json_object_put(j);
	/* Once the job ended, the GET gives its slot back, once. */
	fake_pixverse_advance_job_clock(srv, 3600 * 1000L);
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &j), 200);
	CU_ASSERT_STRING_EQUAL(jstr(j, "state"), "done");
	CU_ASSERT_EQUAL(json_object_get_boolean(jget(j, "released")), 1);
	json_object_put(j);
	CU_ASSERT_EQUAL(call("GET", path, TOK_OPERATE, NULL, &j), 200);
	CU_ASSERT_EQUAL(json_object_get_boolean(jget(j, "released")), 0);
	json_object_put(j);
	CU_ASSERT_EQUAL(call("GET", "/v1/pool?provider_id=pixverse", TOK_READ, NULL, &r), 200);
	CU_ASSERT(json_object_array_length(jget(r, "accounts")) >= 1);
	json_object_put(r);

	CU_ASSERT_EQUAL(call("GET", "/v1/jobs/no-colon", TOK_OPERATE, NULL, &r), 400);
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE, "{\"params\":{}}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "provider_id"));
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE, "{\"provider_id\":\"pixverse\"}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "params"));
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE,
	                     "{\"provider_id\":\"pixverse\",\"params\":{\"type\":\"t2v\"},\"wait_ms\":-1}", &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "wait_ms"));
	json_object_put(r);
	/* Unpinned: the pool picks an account of the provider. */
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE,
	                     "{\"provider_id\":\"pixverse\",\"params\":{\"type\":\"t2v\",\"prompt\":\"x\"}}", &r), 202);
	json_object_put(r);
	/* Pinned to an account that is not there; a parameter the provider refuses before any account is used. */
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE,
	                     "{\"account_id\":\"acct-nosuch\",\"params\":{\"type\":\"t2v\",\"prompt\":\"x\"}}", &r),
	                404);
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE,
	                     "{\"provider_id\":\"pixverse\",\"params\":{\"type\":\"nosuch\",\"prompt\":\"x\"}}", &r),
	                400);
	json_object_put(r);
	free(id);
}

/* provauthd-images-* directories in the daemon's TMPDIR (it inherits ours). */
static int image_dirs(void)
{
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	DIR *d = opendir(tmp);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strncmp(e->d_name, "provauthd-images-", 17) == 0;
	closedir(d);
	return n;
}

/* Sets the OpenAPI key of stored account `id` through the library, on the daemon's own store. */
static void set_api_key(const char *id, const char *key)
{
	provauth_manager_options mo = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	provauth_account *a = NULL;

	mo.skip_plugins = 1;
	CU_ASSERT_FATAL(provauth_settings_load(&s, pa_daemon_settings_path(dmn)) == 0);
	CU_ASSERT_FATAL(provauth_manager_new(&m, s, &mo) == 0);
	if (provauth_account_get(&a, m, id) != 0) {
		provauth_account **l = NULL;
		size_t n = 0, i;
		fprintf(stderr, "\n  set_api_key: %s (%s)\n", provauth_last_error(), pa_daemon_settings_path(dmn));
		provauth_account_list(&l, &n, m, NULL);
		for (i = 0; i < n; i++)
			fprintf(stderr, "  have %s %s\n", l[i]->id, l[i]->email);
		provauth_account_list_free(l, n);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_FATAL(provauth_account_set_api_key(a, "openapi", key) == 0);
	CU_ASSERT_FATAL(provauth_account_put(m, a) == 0);
	provauth_account_free(a);
	provauth_manager_free(m);
	provauth_settings_free(s);
}

/* Images sent with the job: uploaded through the account reserved, then named in the job; files gone after. */
static void test_job_with_images(void)
{
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H',
	                                     'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4,
	                                     0x89 };
	fake_pixverse_account f;
	json_object *r;
	char data[128], body[1024], *id;
	unsigned long uploads;
	int dirs = image_dirs();

	memset(&f, 0, sizeof(f));
	f.email = "frank@example.com";
	f.password = "frank-pw-SECRET";
	f.api_key = "pv-openapi-SECRET-frank-9";
	f.credit_daily = 1000;
	secret(f.password);
	secret(f.api_key);
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &f) > 0);
	id = import("frank@example.com", 30, NULL);
	set_api_key(id, f.api_key);
	EVP_EncodeBlock((unsigned char *)data, png, (int)sizeof(png));
	fake_pixverse_reset_counters(srv);
	uploads = fake_pixverse_uploads(srv);
	snprintf(body, sizeof(body), "{\"account_id\":\"%s\",\"params\":{\"type\":\"i2v\",\"prompt\":\"the cat "
	         "walks\",\"model\":\"v5\",\"quality\":\"360p\",\"duration\":5},\"images\":[{\"name\":\"cat.png\","
	         "\"data\":\"%s\"}]}", id, data);
	if (call("POST", "/v1/jobs", TOK_OPERATE, body, &r) != 202) {
		fprintf(stderr, "\n  POST /v1/jobs with an image: %s\n", error_message(r));
		CU_FAIL("POST /v1/jobs with an image did not answer 202");
	}
	CU_ASSERT_STRING_EQUAL(jstr(r, "account_id") ? jstr(r, "account_id") : "", id);
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_uploads(srv), uploads + 1);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_UPLOAD), 1);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_I2V), 1);
	CU_ASSERT_EQUAL(image_dirs(), dirs);

	/* Refused before anything is reserved or uploaded, naming the field. */
	snprintf(body, sizeof(body), "{\"account_id\":\"%s\",\"params\":{\"type\":\"i2v\",\"prompt\":\"x\"},"
	         "\"images\":{\"name\":\"cat.png\"}}", id);
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE, body, &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "'images'"));
	json_object_put(r);
	snprintf(body, sizeof(body), "{\"account_id\":\"%s\",\"params\":{\"type\":\"i2v\",\"prompt\":\"x\"},"
	         "\"images\":[{\"name\":\"../cat.png\",\"data\":\"%s\"}]}", id, data);
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE, body, &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "images[0].name"));
	json_object_put(r);
	snprintf(body, sizeof(body), "{\"account_id\":\"%s\",\"params\":{\"type\":\"i2v\",\"prompt\":\"x\"},"
	         "\"images\":[{\"name\":\"cat.png\",\"data\":\"%s\"},{\"name\":\"b.png\",\"data\":\"a=bc\"}]}",
	         id, data);
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE, body, &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "images[1].data"));
	json_object_put(r);
	snprintf(body, sizeof(body), "{\"account_id\":\"%s\",\"params\":{\"type\":\"i2v\",\"prompt\":\"x\","
	         "\"image_url\":\"u\"},\"images\":[{\"name\":\"cat.png\",\"data\":\"%s\"}]}", id, data);
	CU_ASSERT_EQUAL(call("POST", "/v1/jobs", TOK_OPERATE, body, &r), 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(error_message(r), "not both"));
	json_object_put(r);
	/* Not an image by its bytes: the provider refuses the upload, nothing is submitted, the slot goes back. */
	snprintf(body, sizeof(body), "{\"account_id\":\"%s\",\"params\":{\"type\":\"i2v\",\"prompt\":\"x\","
	         "\"model\":\"v5\",\"quality\":\"360p\",\"duration\":5},\"images\":[{\"name\":\"cat.png\","
	         "\"data\":\"bm90IGFuIGltYWdl\"}]}", id);
	CU_ASSERT(call("POST", "/v1/jobs", TOK_OPERATE, body, &r) >= 400);
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_UPLOAD), 2);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_I2V), 1);
	CU_ASSERT_EQUAL(image_dirs(), dirs);
	free(id);
}

/* ---- secrets ---- */

static char *base64(const char *s, int url)
{
	size_t n = strlen(s), i;
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (!out)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	for (i = 0; url && out[i]; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
		else if (out[i] == '=')
			out[i] = '\0';
	}
	/* The encoding's last group depends on what follows: look for the stable part only. */
	if (strlen(out) > 8)
		out[strlen(out) - 4] = '\0';
	return out;
}

static int has_any_form(const char *text, const char *s)
{
	char *forms[5];
	size_t i, n = strlen(s);
	int found = 0;

	if (!text)
		return 0;
	forms[0] = strdup(s);
	forms[1] = strdup(s);
	forms[2] = strdup(s);
	for (i = 0; i < n; i++) {
		forms[1][i] = (char)toupper((unsigned char)s[i]);
		forms[2][i] = (char)tolower((unsigned char)s[i]);
	}
	forms[3] = base64(s, 0);
	forms[4] = base64(s, 1);
	for (i = 0; i < 5; i++) {
		if (forms[i] && strstr(text, forms[i]))
			found = 1;
		free(forms[i]);
	}
	return found;
}

/* A manager on the daemon's store (sqlite lets a second one open it beside the daemon), without plugins. */
static provauth_manager *side_open(void)
{
	provauth_manager_options mo = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *st = NULL;
	provauth_manager *m = NULL;

	mo.log = pa_test_log_capture;
	mo.skip_plugins = 1;
	mo.store_must_exist = 1;
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&st, pa_daemon_settings_path(dmn)), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_manager_new(&m, st, &mo), 0);
	provauth_settings_free(st);
	return m;
}

static void side_close(provauth_manager *m)
{
	provauth_manager_free(m);
}

/* Every credential the store holds now (the JWTs and cookies logins gave the daemon) joins the list. */
static void remember_stored_secrets(void)
{
	provauth_account **list = NULL;
	provauth_manager *m = side_open();
	size_t n = 0, i, k;

	CU_ASSERT_EQUAL_FATAL(provauth_account_list(&list, &n, m, NULL), 0);
	for (i = 0; i < n; i++) {
		for (k = 0; k < provauth_account_credential_count(list[i]); k++) {
			provauth_credential c;
			if (provauth_account_credential_at(&c, list[i], k) == 0)
				secret(c.value);
		}
	}
	provauth_account_list_free(list, n);
	side_close(m);
}

/* The spec's Pixverse routes on an account of a provider without password login or a status operation. */
static void test_unsupported_provider(void)
{
	provauth_manager *m = side_open();
	provauth_account *a = NULL;
	json_object *r;
	int rc;

	CU_ASSERT_EQUAL_FATAL(provauth_account_new(&a, "acct-other-1", "otherprov"), 0);
	CU_ASSERT_EQUAL(provauth_account_set(&a->email, "other@example.com"), 0);
	rc = provauth_account_put(m, a);
	if (rc != 0)
		fprintf(stderr, "\n  put: %s\n", provauth_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	provauth_account_free(a);
	side_close(m);
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/acct-other-1/reauth", TOK_OPERATE, "{}", &r), 400);
	CU_ASSERT_STRING_EQUAL(error_code(r) ? error_code(r) : "", "unsupported");
	json_object_put(r);
	CU_ASSERT_EQUAL(call("POST", "/v1/accounts/acct-other-1/connect-google", TOK_ADMIN, "{\"id_token\":\"t\"}", &r),
	                400);
	CU_ASSERT_STRING_EQUAL(error_code(r) ? error_code(r) : "", "unsupported");
	json_object_put(r);
	CU_ASSERT_EQUAL(call("GET", "/v1/accounts/acct-other-1/pixverse-status", TOK_OPERATE, NULL, &r), 400);
	CU_ASSERT_STRING_EQUAL(error_code(r) ? error_code(r) : "", "unsupported");
	json_object_put(r);
	/* Still listed and shown, with no credentials. */
	r = get_account("acct-other-1");
	CU_ASSERT_EQUAL(json_object_array_length(jget(r, "credentials")), 0);
	json_object_put(r);
	CU_ASSERT_EQUAL(call("DELETE", "/v1/accounts/acct-other-1", TOK_ADMIN, NULL, NULL), 204);
}

static void test_no_secret_anywhere(void)
{
	char *log = pa_daemon_log_text(dmn);
	static const char *const tokens[] = { TOK_READ, TOK_OPERATE, TOK_ADMIN, TOK_WRONG };
	size_t i;

	/* The scan itself finds each form (or its passing proves nothing). */
	{
		char *b = base64("eyJhbGciOiJIUzI1NiJ9.secret-sample", 0), text[256];
		CU_ASSERT_FATAL(b != NULL);
		snprintf(text, sizeof(text), "{\"x\":\"%s==\"}", b);
		CU_ASSERT_EQUAL(has_any_form(text, "eyJhbGciOiJIUzI1NiJ9.secret-sample"), 1);
		CU_ASSERT_EQUAL(has_any_form("a EYJHBGCIOIJIUZI1NIJ9.SECRET-SAMPLE b",
		                             "eyJhbGciOiJIUzI1NiJ9.secret-sample"), 1);
		CU_ASSERT_EQUAL(has_any_form("nothing here", "eyJhbGciOiJIUzI1NiJ9.secret-sample"), 0);
		free(b);
	}
	remember_stored_secrets();
	for (i = 0; i < PA_ARRAY_LEN(tokens); i++)
		secret(tokens[i]);
	CU_ASSERT(nsecrets > 10);
	CU_ASSERT(replies_len > 1000);
	CU_ASSERT_PTR_NOT_NULL(log);
	for (i = 0; i < nsecrets; i++) {
		int in_reply = has_any_form(replies, secrets[i]), in_log = has_any_form(log, secrets[i]);
		if (in_reply || in_log)
			fprintf(stderr, "\n  secret #%zu (%zu chars) in %s\n", i, strlen(secrets[i]),
			        in_reply ? "an answer" : "the daemon's log");
		CU_ASSERT_EQUAL(in_reply, 0);
		CU_ASSERT_EQUAL(in_log, 0);
	}
	free(log);
	/* And every answer above was checked against the document. */
	CU_ASSERT(checked > 40);
}

/* ---- set-up ---- */

static int suite_init(void)
{
	static const pa_daemon_token tokens[] = {
		{ "reader", TOK_READ, "read" },
		{ "operator", TOK_OPERATE, "operate" },
		{ "admin", TOK_ADMIN, "admin" },
	};
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	char yaml[2048], path[4096];
	const char *src = getenv("PA_SRCDIR");

	snprintf(path, sizeof(path), "%s/docs/api/openapi.json", src ? src : ".");
	if (!(doc = pad_openapi_load(path)) || !(srv = pa_daemon_start_fake_pixverse()))
		return -1;
	o.tokens = tokens;
	o.ntokens = PA_ARRAY_LEN(tokens);
	/* The route matrix presents a wrong token to every route: more than the limit's default allows an
	 * address (test_daemon_http checks that limit). */
	o.daemon_yaml = "  rate: 0\n  auth_failures_per_minute: 0\n  ad_task_max_age: 6\n";
	o.yaml = pa_daemon_pixverse_yaml(yaml, sizeof(yaml), srv);
	return pa_daemon_start(&dmn, &o) == 0 ? 0 : -1;
}

static int suite_clean(void)
{
	size_t i;

	if (dmn)
		pa_daemon_stop(dmn, 0);
	if (srv)
		fake_pixverse_stop(srv);
	pad_openapi_free(doc);
	for (i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	free(replies);
	return 0;
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "no token, wrong token, wrong scope per route class", test_tokens_and_scopes },
		{ "import-cookies: created, updated, auth_method unknown, bad input", test_import_cookies },
		{ "reauth: password; a killed session, one login; credits retried once", test_reauth_then_one_login },
		{ "connect-google: never password-reauthed, empty credits", test_connect_google_never_reauths },
		{ "pixverse-status keeps the ad task for max_age, force reads it", test_status_keeps_ad_task },
		{ "accounts: list, get (redacted), delete", test_accounts_list_get_delete },
		{ "call: operations, unknown, bad args", test_call },
		{ "reauth, connect-google, pixverse-status: 400 for another provider", test_unsupported_provider },
		{ "jobs and the pool", test_jobs_and_pool },
		{ "jobs: a refusal that is the account's, tried once on another", test_job_retried_on_another_account },
		{ "jobs: images sent with the job, uploaded through the account", test_job_with_images },
		{ "no secret in any answer or the log", test_no_secret_anywhere },
		PA_TEST_END,
	};
	static const pa_test_suite suites[] = {
		{ "daemon_api", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END,
	};
	return pa_test_run(argc, argv, suites);
}
