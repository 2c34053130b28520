/*
 * The Pixverse plugin end to end: the real plugin (.so) loaded by the real
 * manager, a real sqlite store in a temporary directory, and the fake
 * Pixverse server over loopback HTTP. Covers the spec's integration list
 * (7.2), the cross-process "logged in elsewhere" ping-pong, every row of the
 * error table as a server reply, bad input, and that no secret ever reaches
 * a log line or an error message.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "fake_pixverse.h"
#include "../support/pa_test.h"

#define CREDIT_DAILY 50
#define CREDIT_MONTHLY 1000
#define CREDIT_PACKAGE 7

static fake_pixverse *srv;
static char tmpdir[64] = "/tmp/provauth-pixverse-XXXXXX";
static int fixture_no;
static char store_dir[128];
static provauth_manager *mgr;
static char email[64], password[64];

/* ---- captured logs, error messages and every secret seen ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char *log_buf;
static size_t log_len;
static char *msgs;
static size_t msgs_len;
static char **secrets;
static size_t nsecrets;

static void append(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *grown = realloc(*buf, *len + n + 2);

	if (!grown)
		abort();
	*buf = grown;
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[(*len)++] = '\n';
	(*buf)[*len] = '\0';
}

static void capture(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                    void *payload)
{
	char line[4096];
	size_t o, i;

	(void)level;
	(void)payload;
	o = (size_t)snprintf(line, sizeof(line), "%s", event);
	for (i = 0; i < n && o < sizeof(line); i++) {
		if (f[i].type == PROVAUTH_FIELD_INT || f[i].type == PROVAUTH_FIELD_BOOL)
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%lld", f[i].key, (long long)f[i].num);
		else
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%s", f[i].key, f[i].str ? f[i].str : "");
	}
	/* Called from every thread that runs an operation. */
	pthread_mutex_lock(&log_mu);
	append(&log_buf, &log_len, line);
	pthread_mutex_unlock(&log_mu);
}

static void secret(const char *s)
{
	if (!s || strlen(s) < 6)
		return;
	secrets = realloc(secrets, (nsecrets + 1) * sizeof(*secrets));
	secrets[nsecrets++] = strdup(s);
}

/* Records the last error message (to check for secrets) and returns it. */
static const char *last_msg(void)
{
	const char *m = provauth_last_error();
	append(&msgs, &msgs_len, m);
	return m;
}

static int log_has(const char *s)
{
	return log_buf && strstr(log_buf, s) != NULL;
}

static int count_lines(const char *event, const char *with)
{
	const char *p;
	int n = 0;
	size_t el = strlen(event);

	for (p = log_buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		const char *eol = strchr(p, '\n');
		if (strncmp(p, event, el) != 0 || (p[el] != ' ' && p[el] != '\n'))
			continue;
		if (with) {
			char *line = strndup(p, eol ? (size_t)(eol - p) : strlen(p));
			int hit = strstr(line, with) != NULL;
			free(line);
			if (!hit)
				continue;
		}
		n++;
	}
	return n;
}

/* ---- fixture: one store and manager per test, one fake account ---- */

static const char *plugin_dir_line(char *buf, size_t size)
{
	const char *b = getenv("PA_BUILDDIR");
	/* make check sets PROVAUTH_PLUGIN_PATH; a direct run finds the plugin through PA_BUILDDIR. */
	if (getenv("PROVAUTH_PLUGIN_PATH") || !b)
		snprintf(buf, size, "plugin_dir: []\n");
	else
		snprintf(buf, size, "plugin_dir: %s/plugins/.libs\n", b);
	return buf;
}

/* The manager's clock: real time plus an offset a test may move. */
static int64_t clock_offset;

static int64_t test_clock(void *payload)
{
	(void)payload;
	return (int64_t)time(NULL) + clock_offset;
}

static provauth_manager *manager_open(void)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[2048], pd[512];
	size_t i;
	int found = 0;

	snprintf(yaml, sizeof(yaml),
	         "%s"
	         "store:\n  backend: sqlite\n  path: %s/accounts.db\n  busy_timeout_ms: 10000\n"
	         "log:\n  level: debug\n"
	         "http:\n  timeout_ms: 5000\n  connect_timeout_ms: 2000\n  max_reply_bytes: 1048576\n"
	         "session:\n  recovery_wait_ms: 8000\n  lease_ttl_ms: 8000\n"
	         "providers:\n  pixverse:\n    auto_reauth_enabled: true\n    reauth_cooldown: 0\n"
	         "    login_cooldown: 600\n    base_url: %s\n    openapi_base_url: %s/\n"
	         "    web_origin: https://app.pixverse.test\n    jwt_refresh_threshold: 3600\n",
	         plugin_dir_line(pd, sizeof(pd)), store_dir, fake_pixverse_url(srv), fake_pixverse_url(srv));
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "test_pixverse.yaml") != 0) {
		fprintf(stderr, "settings: %s\n", provauth_last_error());
		return NULL;
	}
	opts.log = capture;
	opts.clock = test_clock;
	if (provauth_manager_new(&m, s, &opts) != 0) {
		fprintf(stderr, "manager: %s\n", provauth_last_error());
		provauth_settings_free(s);
		return NULL;
	}
	provauth_settings_free(s);
	for (i = 0; i < provauth_manager_provider_count(m); i++) {
		provauth_provider_info info;
		if (provauth_manager_provider_info(&info, m, i) == 0 && strcmp(info.id, "pixverse") == 0)
			found = 1;
	}
	for (i = 0; !found && i < provauth_manager_skipped_count(m); i++) {
		provauth_plugin_skip sk;
		if (provauth_manager_skipped(&sk, m, i) == 0)
			fprintf(stderr, "skipped plugin %s: %s\n", sk.file, sk.reason);
	}
	if (!found) {
		fprintf(stderr, "the pixverse plugin did not load\n");
		provauth_manager_free(m);
		return NULL;
	}
	return m;
}

/* A fresh store and manager, and a fresh fake account (user<N>@example.com). */
static void fixture(int google_only)
{
	fake_pixverse_account a;

	fixture_no++;
	snprintf(store_dir, sizeof(store_dir), "%s/t%d", tmpdir, fixture_no);
	CU_ASSERT_FATAL(mkdir(store_dir, 0700) == 0);
	snprintf(email, sizeof(email), "user%d@example.com", fixture_no);
	snprintf(password, sizeof(password), "pw-%d-SECRET-a8c1", fixture_no);
	secret(password);
	memset(&a, 0, sizeof(a));
	a.email = email;
	a.password = google_only ? NULL : password;
	a.google_only = google_only;
	a.credit_daily = CREDIT_DAILY;
	a.credit_monthly = CREDIT_MONTHLY;
	a.credit_package = CREDIT_PACKAGE;
	a.ad_reward = 30;
	a.ad_progress = 1;
	a.ad_total = 3;
	a.ad_completed = 1;
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &a) > 0);
	fake_pixverse_clear_faults(srv);
	fake_pixverse_reset_counters(srv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mgr = manager_open());
}

/* Every credential the store holds for the account goes on the secrets list. */
static void remember_secrets(const char *id)
{
	provauth_credential c;
	provauth_account *a = NULL;
	size_t i;

	if (provauth_account_get(&a, mgr, id) != 0)
		return;
	secret(PA_CRED(a, JWT));
	secret(PA_CRED(a, PASSWORD));
	for (i = 0; i < provauth_account_credential_count(a); i++)
		if (provauth_account_credential_at(&c, a, i) == 0 && strcmp(c.kind, PROVAUTH_CRED_COOKIE) == 0)
			secret(c.value);
	provauth_account_free(a);
}

static void fixture_end(void)
{
	provauth_manager_free(mgr);
	mgr = NULL;
	fake_pixverse_clear_faults(srv);
}

/* Imports a browser session of the fixture's account; returns the account id. */
static char *import_browser_session(const char *extra_cookie)
{
	char *tok = fake_pixverse_login_token(srv, email), input[4096], *id = NULL;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	secret(tok);
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s; pv_sid=sid-SECRET-%d%s", tok, fixture_no,
	         extra_cookie ? extra_cookie : "");
	rc = provauth_account_import(&id, mgr, "pixverse", "cookies", input);
	if (rc != 0)
		fprintf(stderr, "\n  import: %s\n", last_msg());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(id);
	free(tok);
	remember_secrets(id);
	return id;
}

/* A new browser session of the fixture's account, imported into account `id`. */
static void reimport_browser_session(const char *id)
{
	provauth_import_options o = PROVAUTH_IMPORT_OPTIONS_INIT;
	char *tok = fake_pixverse_login_token(srv, email), input[4096], *got = NULL;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	secret(tok);
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s", tok);
	o.account_id = id;
	rc = provauth_account_import_ext(&got, mgr, "pixverse", "cookies", input, &o);
	if (rc != 0)
		fprintf(stderr, "\n  import: %s\n", last_msg());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(got, id);
	provauth_free(got);
	free(tok);
	remember_secrets(id);
}

/* The account's stored anonymous id (malloc()ed), or NULL. */
static char *stored_anonymous_id(const char *id)
{
	provauth_account *a = NULL;
	json_object *meta, *v;
	char *out = NULL;

	CU_ASSERT_FATAL(provauth_account_get(&a, mgr, id) == 0);
	if ((meta = json_tokener_parse(a->metadata)) && json_object_object_get_ex(meta, "anonymous_id", &v))
		out = strdup(json_object_get_string(v));
	json_object_put(meta);
	provauth_account_free(a);
	return out;
}

static int same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static char *password_account(void)
{
	char *id = import_browser_session(NULL);
	int rc = provauth_account_reauth(mgr, id, password);

	if (rc != 0)
		fprintf(stderr, "\n  reauth: %s\n", last_msg());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	remember_secrets(id);
	fake_pixverse_reset_counters(srv);
	return id;
}

static provauth_account *get(const char *id)
{
	provauth_account *a = NULL;
	CU_ASSERT_FATAL(provauth_account_get(&a, mgr, id) == 0);
	return a;
}

static json_object *call_json(const char *id, const char *op, int *rc)
{
	char *out = NULL;
	json_object *j = NULL;

	*rc = provauth_call(&out, mgr, id, op, NULL, 0);
	if (*rc == 0) {
		j = json_tokener_parse(out);
		CU_ASSERT_PTR_NOT_NULL(j);
	} else {
		last_msg();
	}
	provauth_free(out);
	return j;
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -999999;
}

static unsigned long count(fake_pv_endpoint ep)
{
	return fake_pixverse_counter(srv, ep);
}

/*
 * Re-importing cookies into the account shows Pixverse the same device
 * (ai-anonymous-id) as the account's sessions. An import without an account
 * is a new client: its ids are fresh, and the account keeps them, since
 * Pixverse ties the imported session to the ids it first sees.
 */
static void test_reimport_keeps_anonymous_id(void)
{
	char *id, *stored_id, *seen, *session_anon;
	json_object *j;
	int rc;

	fixture(0);
	id = import_browser_session(NULL);
	/* The import's getUserInfo already went out with the ids the account keeps. */
	seen = fake_pixverse_last_anonymous_id(srv, FAKE_PV_EP_USER_INFO);
	stored_id = stored_anonymous_id(id);
	CU_ASSERT(seen && same(stored_id, seen));
	free(seen);
	free(stored_id);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);
	session_anon = fake_pixverse_last_anonymous_id(srv, FAKE_PV_EP_CREDITS);
	stored_id = stored_anonymous_id(id);
	CU_ASSERT_FATAL(session_anon != NULL);
	CU_ASSERT(same(stored_id, session_anon));
	free(stored_id);

	reimport_browser_session(id);
	seen = fake_pixverse_last_anonymous_id(srv, FAKE_PV_EP_USER_INFO);
	CU_ASSERT(same(seen, session_anon));
	free(seen);
	stored_id = stored_anonymous_id(id);
	CU_ASSERT(same(stored_id, session_anon));
	free(stored_id);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);

	/* Without the account: another device, whose ids the account takes with the new session. */
	free(import_browser_session(NULL));
	seen = fake_pixverse_last_anonymous_id(srv, FAKE_PV_EP_USER_INFO);
	CU_ASSERT(seen && !same(seen, session_anon));
	stored_id = stored_anonymous_id(id);
	CU_ASSERT(same(stored_id, seen));
	free(stored_id);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);
	free(session_anon);
	session_anon = fake_pixverse_last_anonymous_id(srv, FAKE_PV_EP_CREDITS);
	CU_ASSERT(same(session_anon, seen));
	CU_ASSERT_EQUAL(fake_pixverse_id_mismatches(srv, email), 0);
	free(seen);
	free(session_anon);
	free(id);
	fixture_end();
}

/* ------------------------------------------------------------------------ */
/* One stable client identity per account (issue 12, point 3)               */
/* ------------------------------------------------------------------------ */

typedef struct ids_pair {
	char trace[64], anon[64];
} ids_pair;

/* The account's stored ai-trace-id / ai-anonymous-id ("" when none). */
static ids_pair stored_ids(const char *id)
{
	provauth_account *a = NULL;
	json_object *meta, *v;
	ids_pair p;

	memset(&p, 0, sizeof(p));
	CU_ASSERT_FATAL(provauth_account_get(&a, mgr, id) == 0);
	if ((meta = json_tokener_parse(a->metadata))) {
		if (json_object_object_get_ex(meta, "trace_id", &v))
			snprintf(p.trace, sizeof(p.trace), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(meta, "anonymous_id", &v))
			snprintf(p.anon, sizeof(p.anon), "%s", json_object_get_string(v));
	}
	json_object_put(meta);
	provauth_account_free(a);
	return p;
}

static void call_ok(const char *id, const char *op)
{
	json_object *j;
	int rc;

	j = call_json(id, op, &rc);
	if (rc != 0)
		fprintf(stderr, "\n  %s: %s\n", op, provauth_last_error());
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);
}

/*
 * Many calls, in this manager and a second one (another process would do
 * the same), keep the one id pair the session was made with: the fake,
 * like the service, answers 10005 to any other pair.
 */
static void test_client_ids_stable(void)
{
	provauth_manager *first;
	ids_pair before, after;
	char *seen, *id;
	int i;

	fixture(0);
	id = password_account();
	before = stored_ids(id);
	CU_ASSERT(strlen(before.trace) == 36 && strlen(before.anon) == 36);
	CU_ASSERT(strcmp(before.trace, before.anon) != 0);
	for (i = 0; i < 4; i++) {
		call_ok(id, "credits");
		call_ok(id, "status");
		call_ok(id, "user_info");
	}
	/* A second manager over the same store: same ids, from the store. */
	first = mgr;
	CU_ASSERT_PTR_NOT_NULL_FATAL(mgr = manager_open());
	call_ok(id, "credits");
	provauth_manager_free(mgr);
	mgr = first;
	CU_ASSERT_EQUAL(fake_pixverse_id_mismatches(srv, email), 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 0);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 0);
	/* Every request after the first repeated the trace id of the one before. */
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_REUSED_TRACE_ID), count(FAKE_PV_EP_TOTAL) - 1);
	seen = fake_pixverse_last_anonymous_id(srv, FAKE_PV_EP_CREDITS);
	CU_ASSERT(same(seen, before.anon));
	free(seen);
	after = stored_ids(id);
	CU_ASSERT_STRING_EQUAL(after.trace, before.trace);
	CU_ASSERT_STRING_EQUAL(after.anon, before.anon);
	remember_secrets(id);
	free(id);
	fixture_end();
}

/* The extension's raw_data with session_ids: the browser's ids are the account's. */
static void test_client_ids_from_import(void)
{
	static const char trace[] = "5d0c9a7e-1b2f-4c3d-8e9f-0a1b2c3d4e5f";
	static const char anon[] = "a1b2c3d4-e5f6-4711-8899-aabbccddeeff";
	char input[4096], *tok, *id = NULL, *seen;
	ids_pair p;
	int rc;

	fixture(1); /* Google-only: nothing but the browser's session can work */
	tok = fake_pixverse_login_token_ids(srv, email, trace, anon);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	secret(tok);
	snprintf(input, sizeof(input),
	         "{\"cookies\": {\"_ai_token\": \"%s\", \"pv_sid\": \"sid-SECRET-x\"},"
	         " \"session_ids\": {\"ai_trace_id\": \"%s\", \"ai_anonymous_id\": \"%s\"}}",
	         tok, trace, anon);
	rc = provauth_account_import(&id, mgr, "pixverse", "cookies", input);
	if (rc != 0)
		fprintf(stderr, "\n  import: %s\n", last_msg());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	remember_secrets(id);
	p = stored_ids(id);
	CU_ASSERT_STRING_EQUAL(p.trace, trace);
	CU_ASSERT_STRING_EQUAL(p.anon, anon);
	call_ok(id, "credits");
	call_ok(id, "status");
	seen = fake_pixverse_last_anonymous_id(srv, FAKE_PV_EP_CREDITS);
	CU_ASSERT(same(seen, anon));
	free(seen);
	CU_ASSERT_EQUAL(fake_pixverse_id_mismatches(srv, email), 0);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH) + count(FAKE_PV_EP_LOGIN), 0);
	provauth_free(id);
	id = NULL;

	/*
	 * The extension may send the JWT beside the cookies, and only one id:
	 * the other is made up once, and the session takes the pair it first sees.
	 */
	tok = (free(tok), fake_pixverse_login_token(srv, email));
	secret(tok);
	snprintf(input, sizeof(input),
	         "{\"cookies\": [{\"name\": \"lang\", \"value\": \"en\"}], \"jwt_token\": \"%s\","
	         " \"session_ids\": {\"ai_trace_id\": \"%s\"}}", tok, trace);
	CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "pixverse", "cookies", input), 0);
	p = stored_ids(id);
	CU_ASSERT_STRING_EQUAL(p.trace, trace);
	CU_ASSERT(strlen(p.anon) == 36 && strcmp(p.anon, anon) != 0);
	call_ok(id, "credits");
	CU_ASSERT_EQUAL(fake_pixverse_id_mismatches(srv, email), 0);
	provauth_free(id);
	id = NULL;

	/* Ids that could not go into a header are refused, named, not quoted. */
	snprintf(input, sizeof(input),
	         "{\"cookies\": {\"_ai_token\": \"%s\"}, \"session_ids\": {\"ai_anonymous_id\": \"bad id\\r\\nX\"}}",
	         tok);
	CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "pixverse", "cookies", input), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "session_ids.ai_anonymous_id"));
	CU_ASSERT_PTR_NULL(strstr(provauth_last_error(), "bad id"));
	free(tok);
	fixture_end();
}

/* After a 10005 the ids are not used again: the next session has fresh ones. */
static void test_client_ids_after_10005(void)
{
	ids_pair before, after, later;
	json_object *j;
	char *id, *seen;
	int rc;

	/* A password account: the login that recovers is made with fresh ids, and they stick. */
	fixture(0);
	id = password_account();
	before = stored_ids(id);
	fake_pixverse_kick(srv, email);
	call_ok(id, "credits");
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);
	after = stored_ids(id);
	CU_ASSERT(after.trace[0] && strcmp(after.trace, before.trace) != 0);
	CU_ASSERT(after.anon[0] && strcmp(after.anon, before.anon) != 0);
	seen = fake_pixverse_last_anonymous_id(srv, FAKE_PV_EP_LOGIN);
	CU_ASSERT(same(seen, after.anon));
	free(seen);
	call_ok(id, "credits");
	seen = fake_pixverse_last_anonymous_id(srv, FAKE_PV_EP_CREDITS);
	CU_ASSERT(same(seen, after.anon));
	free(seen);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);
	remember_secrets(id);
	free(id);
	fixture_end();

	/* An account that cannot log in: the 10005 stays, and the next session drops the ids. */
	fixture(1);
	id = import_browser_session(NULL);
	call_ok(id, "credits");
	before = stored_ids(id);
	CU_ASSERT_FATAL(before.trace[0] != '\0');
	fake_pixverse_kick(srv, email);
	clock_offset += 5;
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ESESSION);
	json_object_put(j);
	after = stored_ids(id);
	CU_ASSERT_STRING_EQUAL(after.trace, before.trace); /* dropped from the next session on */
	clock_offset += 5;
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ESESSION);
	json_object_put(j);
	after = stored_ids(id);
	CU_ASSERT(after.trace[0] && strcmp(after.trace, before.trace) != 0);
	CU_ASSERT(after.anon[0] && strcmp(after.anon, before.anon) != 0);
	/* Dropped once: the ids of that next session are kept from then on. */
	clock_offset += 5;
	j = call_json(id, "credits", &rc);
	json_object_put(j);
	later = stored_ids(id);
	CU_ASSERT_STRING_EQUAL(later.trace, after.trace);
	CU_ASSERT_STRING_EQUAL(later.anon, after.anon);
	/* A fresh browser session brings the account back, with the ids it keeps. */
	free(import_browser_session(NULL));
	call_ok(id, "credits");
	call_ok(id, "credits");
	clock_offset = 0;
	remember_secrets(id);
	free(id);
	fixture_end();
}

/* Two accounts never share an identity. */
static void test_client_ids_per_account(void)
{
	char first_email[64], store_a[128], *a, *b;
	ids_pair pa, pb;

	fixture(0);
	a = password_account();
	snprintf(first_email, sizeof(first_email), "%s", email);
	snprintf(store_a, sizeof(store_a), "%s", store_dir);
	fixture_end();
	/* A second fake account, its account in the same store. */
	fixture(0);
	provauth_manager_free(mgr);
	snprintf(store_dir, sizeof(store_dir), "%s", store_a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mgr = manager_open());
	b = password_account();
	CU_ASSERT(strcmp(a, b) != 0);
	pa = stored_ids(a);
	pb = stored_ids(b);
	CU_ASSERT(pa.trace[0] && pb.trace[0] && strcmp(pa.trace, pb.trace) != 0);
	CU_ASSERT(pa.anon[0] && pb.anon[0] && strcmp(pa.anon, pb.anon) != 0);
	call_ok(a, "credits");
	call_ok(b, "credits");
	call_ok(a, "credits");
	CU_ASSERT_EQUAL(fake_pixverse_id_mismatches(srv, first_email), 0);
	CU_ASSERT_EQUAL(fake_pixverse_id_mismatches(srv, email), 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 0);
	remember_secrets(a);
	remember_secrets(b);
	free(a);
	free(b);
	fixture_end();
}

/* ------------------------------------------------------------------------ */
/* Spec 7.2                                                                 */
/* ------------------------------------------------------------------------ */

static void test_import_unknown(void)
{
	provauth_account *a;
	json_object *j, *t;
	char *id, *id2 = NULL, *tok, input[4096];
	int rc;

	fixture(0);
	id = import_browser_session(NULL);
	a = get(id);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_UNKNOWN);
	/* Typed since store schema 4: the state says it, the provider's metadata does not. */
	CU_ASSERT_EQUAL(a->state.auth_method, PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_PTR_NULL(strstr(a->metadata, "auth_method"));
	/* The fake's JWT carries a username, not an email: the plugin asked getUserInfo. */
	CU_ASSERT_STRING_EQUAL(a->email, email);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_USER_INFO), 1);
	CU_ASSERT_PTR_NOT_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token"));
	CU_ASSERT_PTR_NOT_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "pv_sid"));
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token"));
	CU_ASSERT_PTR_NULL(PA_CRED(a, PASSWORD));
	provauth_account_free(a);

	/* Every operation works on the imported session. */
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(jint(j, "web"), CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE);
	CU_ASSERT_EQUAL(jint(j, "daily"), CREDIT_DAILY);
	CU_ASSERT_EQUAL(jint(j, "monthly"), CREDIT_MONTHLY);
	CU_ASSERT_EQUAL(jint(j, "package"), CREDIT_PACKAGE);
	CU_ASSERT_EQUAL(jint(j, "openapi"), 0);
	json_object_put(j);
	j = call_json(id, "user_info", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(json_object_object_get(j, "email")), email);
	CU_ASSERT(jint(j, "account_id") > 0);
	json_object_put(j);
	j = call_json(id, "ad_task", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(jint(j, "reward"), 30);
	CU_ASSERT_EQUAL(jint(j, "total_counts"), 3);
	CU_ASSERT_EQUAL(jint(j, "completed_counts"), 1);
	CU_ASSERT(jint(j, "expired_time") > 0);
	json_object_put(j);
	j = call_json(id, "status", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(json_object_object_get_ex(j, "credits", &t) &&
	          jint(t, "web") == CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE);
	CU_ASSERT(json_object_object_get_ex(j, "ad_watch_task", &t) && jint(t, "progress") == 1);
	json_object_put(j);
	/* Operations take no arguments, and unknown ones are named. */
	{
		const provauth_arg arg = { "verbose", "1" };
		char *out = NULL;
		CU_ASSERT_EQUAL(provauth_call(&out, mgr, id, "credits", &arg, 1), PROVAUTH_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "credits takes no arguments (got 'verbose')"));
		/* (generate became an operation in issue 16: an unknown name is another one.) */
		CU_ASSERT_EQUAL(provauth_call(&out, mgr, id, "render", NULL, 0), PROVAUTH_ENOTFOUND);
		CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "no operation 'render'"));
		CU_ASSERT_PTR_NULL(out);
	}
	/* The requests looked like the web app's. */
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_PLATFORM), 0);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_TRACE_ID), 0);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_ANONYMOUS_ID), 0);
	CU_ASSERT_EQUAL(fake_pixverse_id_mismatches(srv, email), 0);

	/* The other two formats update the same account (same email). */
	tok = fake_pixverse_login_token(srv, email);
	secret(tok);
	snprintf(input, sizeof(input), "{\"_ai_token\": \"%s\", \"lang\": \"en\"}", tok);
	CU_ASSERT_EQUAL(provauth_account_import(&id2, mgr, "pixverse", "cookies", input), 0);
	CU_ASSERT_STRING_EQUAL(id2, id);
	provauth_free(id2);
	a = get(id);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), tok);
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "pv_sid")); /* replaced, not merged */
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "lang"), "en");
	provauth_account_free(a);
	free(tok);
	tok = fake_pixverse_login_token(srv, email);
	secret(tok);
	snprintf(input, sizeof(input),
	         "[{\"domain\":\".pixverse.ai\",\"name\":\"_ai_token\",\"value\":\"%s\",\"path\":\"/\"},"
	         "{\"domain\":\"app.pixverse.ai\",\"name\":\"lang\",\"value\":\"fr\"}]",
	         tok);
	CU_ASSERT_EQUAL(provauth_account_import(&id2, mgr, "pixverse", "cookies", input), 0);
	CU_ASSERT_STRING_EQUAL(id2, id);
	provauth_free(id2);
	a = get(id);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), tok);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "lang"), "fr");
	provauth_account_free(a);
	free(tok);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 0);

	remember_secrets(id);
	free(id);
	fixture_end();
}

static void test_reauth_sets_password(void)
{
	provauth_account *a;
	json_object *j;
	char *id;
	int rc;

	fixture(0);
	id = import_browser_session(NULL);
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, id, password), 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);
	a = get(id);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_PASSWORD);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, PASSWORD), password);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token"));
	CU_ASSERT_PTR_NOT_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "pv_sid")); /* other cookies kept */
	provauth_account_free(a);
	remember_secrets(id);

	/* A later session error recovers by itself: refresh is refused (10005), the password works. */
	fake_pixverse_kick(srv, email);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(jint(j, "web"), CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE);
	json_object_put(j);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 2);
	CU_ASSERT(count_lines("pixverse_auto_reauth_attempt", "error_code=10005") >= 1);
	CU_ASSERT(count_lines("pixverse_auto_reauth_completed", "success=1") >= 1);

	remember_secrets(id);
	free(id);
	fixture_end();
}

/* What a session handed to an operation carried. */
typedef struct session_seen {
	int runs;
	provauth_auth_method auth_method;
	char jwt_source[16];
	int has_openapi_key;
} session_seen;

/*
 * Where the session's JWT came from: "none", the stored account's
 * ("account") or elsewhere ("other", e.g. a fresher _ai_token cookie).
 */
static const char *jwt_source(const provauth_session *s)
{
	const char *jwt = provauth_session_credential(s, PROVAUTH_CRED_JWT, NULL);
	provauth_account *a = NULL;
	const char *source;

	if (!jwt)
		return "none";
	source = provauth_account_get(&a, mgr, s->account_id) == 0 && PA_CRED(a, JWT) && strcmp(PA_CRED(a, JWT), jwt) == 0
	         ? "account" : "other";
	provauth_account_free(a);
	return source;
}

static int see_session(const provauth_session *s, provauth_failure *f, void *payload)
{
	session_seen *seen = payload;

	(void)f;
	seen->runs++;
	seen->auth_method = s->auth_method;
	snprintf(seen->jwt_source, sizeof(seen->jwt_source), "%s", jwt_source(s));
	seen->has_openapi_key = provauth_session_credential(s, PROVAUTH_CRED_API_KEY, "openapi") != NULL;
	return 0;
}

/* Spec 7.2: build_session fills auth_method (and jwt_source, openapi_key) for the operation. */
static void test_build_session_auth_method(void)
{
	session_seen seen;
	char *id;

	fixture(0);
	id = import_browser_session(NULL);
	memset(&seen, 0, sizeof(seen));
	seen.auth_method = (provauth_auth_method)-1;
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, id, "probe", see_session, &seen), 0);
	CU_ASSERT_EQUAL(seen.runs, 1);
	CU_ASSERT_EQUAL(seen.auth_method, PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(seen.jwt_source, "account");
	CU_ASSERT_EQUAL(seen.has_openapi_key, 0);
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, id, password), 0);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, id, "probe", see_session, &seen), 0);
	CU_ASSERT_EQUAL(seen.auth_method, PROVAUTH_AUTH_PASSWORD);
	CU_ASSERT_EQUAL(provauth_account_set_auth_method(mgr, id, PROVAUTH_AUTH_GOOGLE), 0);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, id, "probe", see_session, &seen), 0);
	CU_ASSERT_EQUAL(seen.auth_method, PROVAUTH_AUTH_GOOGLE);
	CU_ASSERT_EQUAL(seen.runs, 3);
	remember_secrets(id);
	free(id);
	fixture_end();
}

static void test_google_never_reauths(void)
{
	provauth_account *a;
	json_object *j;
	const char *msg;
	char *id;
	int rc, skipped;

	fixture(0);
	id = password_account();
	CU_ASSERT_EQUAL(provauth_account_set_auth_method(mgr, id, PROVAUTH_AUTH_GOOGLE), 0);
	a = get(id);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_GOOGLE);
	provauth_account_free(a);
	skipped = count_lines("pixverse_auto_reauth_skipped", "reason=auth_method_incompatible");

	fake_pixverse_kick(srv, email);
	j = call_json(id, "credits", &rc);
	msg = provauth_last_error();
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 0);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "google"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "import fresh cookies"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "logged_elsewhere"));
	CU_ASSERT_EQUAL(count_lines("pixverse_auto_reauth_skipped", "reason=auth_method_incompatible"), skipped + 1);
	a = get(id);
	CU_ASSERT_STRING_EQUAL(a->state.health.state ? a->state.health.state : "", "invalid");
	provauth_account_free(a);

	/* A fresh cookie import is what fixes it. */
	free(import_browser_session(NULL));
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 0);
	remember_secrets(id);
	free(id);
	fixture_end();
}

/*
 * Google sign-in: an ID token exchanged at auto_login for a session (no
 * password login, no refresh), the account from then on a Google one;
 * every refusal stores nothing and quotes no token.
 */
static void test_google_id_token(void)
{
	provauth_import_options o = PROVAUTH_IMPORT_OPTIONS_INIT;
	provauth_account *a;
	json_object *j;
	char *tok, *bad, *id = NULL, *other = NULL, *got = NULL, before[64];
	int rc;

	fixture(1);
	tok = fake_pixverse_google_id_token(srv, email, 3600);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	secret(tok);
	rc = provauth_account_import(&id, mgr, "pixverse", "google_id_token", tok);
	if (rc != 0)
		fprintf(stderr, "\n  google import: %s\n", last_msg());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_GOOGLE_LOGIN), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
	a = get(id);
	CU_ASSERT_STRING_EQUAL(a->email ? a->email : "", email);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_GOOGLE);
	CU_ASSERT_PTR_NOT_NULL(PA_CRED(a, JWT));
	snprintf(before, sizeof(before), "%.60s", PA_CRED(a, JWT) ? PA_CRED(a, JWT) : "");
	provauth_account_free(a);
	remember_secrets(id);
	/* The session works as it is: no refresh, no login. */
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 0);

	/* Again, into the named account: a new session replaces the first. */
	free(tok);
	tok = fake_pixverse_google_id_token(srv, email, 3600);
	secret(tok);
	o.account_id = id;
	CU_ASSERT_EQUAL(provauth_account_import_ext(&got, mgr, "pixverse", "google_id_token", tok, &o), 0);
	CU_ASSERT_STRING_EQUAL(got ? got : "", id);
	provauth_free(got);
	a = get(id);
	CU_ASSERT(PA_CRED(a, JWT) && strncmp(PA_CRED(a, JWT), before, strlen(before)) != 0);
	provauth_account_free(a);
	remember_secrets(id);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);

	/* Refused: expired, no such user, not a token at all. */
	bad = fake_pixverse_google_id_token(srv, email, -60);
	secret(bad);
	CU_ASSERT_EQUAL(provauth_account_import(&other, mgr, "pixverse", "google_id_token", bad), PROVAUTH_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "fresh ID token"));
	free(bad);
	bad = fake_pixverse_google_id_token(srv, "nobody-google@example.com", 3600);
	secret(bad);
	CU_ASSERT_EQUAL(provauth_account_import(&other, mgr, "pixverse", "google_id_token", bad), PROVAUTH_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "no user"));
	free(bad);
	CU_ASSERT_EQUAL(provauth_account_import(&other, mgr, "pixverse", "google_id_token", "two words"),
	                PROVAUTH_EINVAL);
	last_msg();
	CU_ASSERT_PTR_NULL(other);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_GOOGLE_LOGIN), 4);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
	free(tok);
	free(id);
	fixture_end();
}

static void test_google_only_login(void)
{
	provauth_account *a;
	const char *msg;
	char *id;

	fixture(1);
	id = import_browser_session(NULL);
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, id, "some-SECRET-guess"), PROVAUTH_EAUTH);
	secret("some-SECRET-guess");
	msg = last_msg();
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "signs in with Google"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "import fresh cookies"));
	a = get(id);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_GOOGLE);
	CU_ASSERT_PTR_NULL(PA_CRED(a, PASSWORD));
	provauth_account_free(a);
	remember_secrets(id);
	free(id);
	fixture_end();
}

static void test_credits_retry_once(void)
{
	json_object *j;
	char *id;
	int rc;

	fixture(0);
	id = password_account();
	fake_pixverse_kick(srv, email);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(jint(j, "web"), CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE);
	json_object_put(j);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_CREDITS), 2);

	/* Failing again after recovery: no second retry. */
	fake_pixverse_reset_counters(srv);
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_CREDITS, 10005, 3), 0);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_CREDITS), 2);
	CU_ASSERT(count(FAKE_PV_EP_LOGIN) + count(FAKE_PV_EP_REFRESH) == 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "after recovery"));
	fake_pixverse_clear_faults(srv);
	remember_secrets(id);
	free(id);
	fixture_end();
}

static void test_refresh_deliveries(void)
{
	static const fake_pv_refresh_delivery how[] = {
		FAKE_PV_REFRESH_COOKIE, FAKE_PV_REFRESH_BEARER, FAKE_PV_REFRESH_TOKEN_HEADER,
	};
	provauth_account *before, *after;
	json_object *j;
	char *id;
	size_t i;
	int rc;

	fixture(0);
	id = import_browser_session(NULL); /* auth_method unknown: only a refresh can help */
	for (i = 0; i < PA_ARRAY_LEN(how); i++) {
		fake_pixverse_set_refresh_delivery(srv, how[i]);
		fake_pixverse_reset_counters(srv);
		before = get(id);
		/* The token expired: the refresh renews it within the same session. */
		CU_ASSERT_EQUAL(fake_pixverse_expire(srv, email), 0);
		j = call_json(id, "credits", &rc);
		if (rc != 0)
			fprintf(stderr, "\n  delivery %zu: %s\n", i, provauth_last_error());
		CU_ASSERT_EQUAL(rc, 0);
		json_object_put(j);
		CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 1);
		CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
		after = get(id);
		CU_ASSERT_STRING_NOT_EQUAL(PA_CRED(after, JWT), PA_CRED(before, JWT));
		CU_ASSERT_STRING_EQUAL(PA_CRED(after, JWT),
		                       provauth_account_credential(after, PROVAUTH_CRED_COOKIE, "_ai_token"));
		CU_ASSERT_PTR_NOT_NULL(provauth_account_credential(after, PROVAUTH_CRED_COOKIE, "pv_sid"));
		CU_ASSERT_EQUAL(provauth_account_auth_method(after), PROVAUTH_AUTH_UNKNOWN);
		provauth_account_free(before);
		provauth_account_free(after);
		remember_secrets(id);
	}
	fake_pixverse_set_refresh_delivery(srv, FAKE_PV_REFRESH_COOKIE);
	free(id);
	fixture_end();
}

/* ------------------------------------------------------------------------ */
/* "Logged in elsewhere" ping-pong across processes                         */
/* ------------------------------------------------------------------------ */

/* A child: its own manager on the shared store; credits once, then again on the parent's go. */
static void child_run(const char *id, int ready_fd, int go_fd)
{
	char *out = NULL, c = 0;
	int rc, code = 0;

	provauth_manager *m = manager_open();
	if (!m)
		_exit(90);
	rc = provauth_call(&out, m, id, "credits", NULL, 0);
	provauth_free(out);
	out = NULL;
	if (rc != 0)
		code = 91;
	if (write(ready_fd, "r", 1) != 1)
		code = 92;
	if (read(go_fd, &c, 1) != 1)
		code = 93;
	rc = provauth_call(&out, m, id, "credits", NULL, 0);
	provauth_free(out);
	if (code == 0 && rc != 0) {
		fprintf(stderr, "child %d: %s\n", (int)getpid(), provauth_last_error());
		code = 100 - rc;
	}
	provauth_manager_free(m);
	_exit(code);
}

static void test_ping_pong_two_processes(void)
{
	int ready[2], go[2], status, i;
	pid_t pids[2];
	provauth_account *before, *after;
	char *id, c;

	fixture(0);
	id = password_account();
	before = get(id);
	/* Children open the store themselves; nothing of the parent's store crosses fork. */
	provauth_manager_free(mgr);
	mgr = NULL;
	CU_ASSERT_FATAL(pipe(ready) == 0 && pipe(go) == 0);
	fflush(NULL);
	for (i = 0; i < 2; i++) {
		pids[i] = fork();
		CU_ASSERT_FATAL(pids[i] >= 0);
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			child_run(id, ready[1], go[0]);
		}
		/* One at a time: both have cached the current session before it dies. */
		CU_ASSERT_FATAL(read(ready[0], &c, 1) == 1);
	}
	close(ready[1]);
	close(go[0]);
	fake_pixverse_reset_counters(srv);
	CU_ASSERT_EQUAL(fake_pixverse_kick(srv, email), 0);
	/* Both hit 10005 at about the same moment. */
	CU_ASSERT(write(go[1], "gg", 2) == 2);
	close(go[1]);
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(waitpid(pids[i], &status, 0), pids[i]);
		CU_ASSERT(WIFEXITED(status));
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			fprintf(stderr, "\n  child %d exited %d\n", i, WEXITSTATUS(status));
		CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
	}
	close(ready[0]);
	/*
	 * ONE login for both, and one (refused) refresh before it: the other
	 * process took the stored token rather than renewing or logging in itself.
	 */
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_CREDITS), 4);

	CU_ASSERT_PTR_NOT_NULL_FATAL(mgr = manager_open());
	after = get(id);
	CU_ASSERT_STRING_NOT_EQUAL(PA_CRED(after, JWT), PA_CRED(before, JWT));
	provauth_account_free(before);
	provauth_account_free(after);
	/* The stored token is the live one: no further login needed. */
	{
		json_object *j;
		int rc;
		j = call_json(id, "credits", &rc);
		CU_ASSERT_EQUAL(rc, 0);
		json_object_put(j);
		CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);
	}
	remember_secrets(id);
	free(id);
	fixture_end();
}

/* Threads of one process: the plugin is called concurrently, one login for all. */
typedef struct thread_arg {
	const char *id;
	int failures;
} thread_arg;

static void *thread_calls(void *p)
{
	thread_arg *t = p;
	int i;

	for (i = 0; i < 3; i++) {
		char *out = NULL;
		if (provauth_call(&out, mgr, t->id, i == 1 ? "status" : "credits", NULL, 0) != 0)
			t->failures++;
		provauth_free(out);
	}
	return NULL;
}

static void test_threads_one_login(void)
{
	pthread_t th[8];
	thread_arg args[8];
	char *id;
	int i, failures = 0;

	fixture(0);
	id = password_account();
	fake_pixverse_kick(srv, email);
	for (i = 0; i < 8; i++) {
		args[i].id = id;
		args[i].failures = 0;
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, thread_calls, &args[i]) == 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		failures += args[i].failures;
	}
	CU_ASSERT_EQUAL(failures, 0);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 1);
	remember_secrets(id);
	free(id);
	fixture_end();
}

/* ------------------------------------------------------------------------ */
/* The error table, end to end                                              */
/* ------------------------------------------------------------------------ */

typedef struct e2e_row {
	int code;
	const char *reason;
	int rc;              /* 0: a session error that refresh recovers */
} e2e_row;

static const e2e_row e2e_rows[] = {
	{ 10001, "token_invalid", 0 },
	{ 10002, "token_expired", 0 },
	{ 10003, "user_not_login", 0 },
	{ 10005, "logged_elsewhere", 0 },
	/* Issue 16: the generation codes carry the pool's codes. */
	{ 500043, "credits_exhausted", PROVAUTH_ECREDITS },
	{ 500090, "insufficient_balance", PROVAUTH_ECREDITS },
	{ 500044, "concurrency_limit", PROVAUTH_ECONCURRENCY },
	{ 500054, "content_output_rejected", PROVAUTH_EMODERATED },
	{ 500063, "content_prompt_rejected", PROVAUTH_EREJECTED },
	{ 500069, "high_load", PROVAUTH_EOVERLOAD },
	{ 123456, "api_error", PROVAUTH_EPROVIDER },
};

static void test_error_table_end_to_end(void)
{
	json_object *j;
	char *id, want[64];
	size_t i;
	int rc;

	fixture(0);
	id = password_account();
	for (i = 0; i < PA_ARRAY_LEN(e2e_rows); i++) {
		const e2e_row *r = &e2e_rows[i];
		int detected;

		snprintf(want, sizeof(want), "error_reason=%s", r->reason);
		detected = count_lines("pixverse_session_error_detected", want);
		fake_pixverse_reset_counters(srv);
		CU_ASSERT_EQUAL_FATAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_CREDITS, r->code, 1), 0);
		j = call_json(id, "credits", &rc);
		if (rc != r->rc)
			fprintf(stderr, "\n  ErrCode %d: rc %d (%s)\n", r->code, rc, provauth_last_error());
		CU_ASSERT_EQUAL(rc, r->rc);
		if (r->rc == 0) {
			/* A session error: refreshed (the session itself was fine), retried, no login. */
			CU_ASSERT_EQUAL(jint(j, "web"), CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE);
			CU_ASSERT_EQUAL(count_lines("pixverse_session_error_detected", want), detected + 1);
			CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 1);
			CU_ASSERT_EQUAL(count(FAKE_PV_EP_CREDITS), 2);
		} else {
			CU_ASSERT_PTR_NULL(j);
			CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), r->reason));
			CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 0);
			CU_ASSERT_EQUAL(count(FAKE_PV_EP_CREDITS), 1);
		}
		CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
		json_object_put(j);
		remember_secrets(id);
	}
	remember_secrets(id);
	free(id);
	fixture_end();
}

static void test_banned_never_reauths(void)
{
	json_object *j;
	char *id;
	int rc;

	fixture(0);
	id = password_account();
	CU_ASSERT_EQUAL(fake_pixverse_set_blocked(srv, email, 1), 0);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(rc, PROVAUTH_EBANNED);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "account_banned"));
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 0);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
	/* An explicit reauth says so too. */
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, id, NULL), PROVAUTH_EBANNED);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "blocked"));
	CU_ASSERT_EQUAL(fake_pixverse_set_blocked(srv, email, 0), 0);
	remember_secrets(id);
	free(id);
	fixture_end();
}

static void test_too_many_logins(void)
{
	json_object *j;
	char *id;
	int rc;

	fixture(0);
	id = password_account();
	/* From an operation: not a session error, and the provider-wide login cooldown starts. */
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_CREDITS, 500213, 1), 0);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ECOOLDOWN);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "too_many_logins"));
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 0);
	/* A session error now: the refresh is refused (10005) and no login is tried. */
	fake_pixverse_kick(srv, email);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ESESSION);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "logins paused"));
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
	/* Explicit reauth respects the cooldown too. */
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, id, NULL), PROVAUTH_ECOOLDOWN);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "logins paused"));
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
	fixture_end();

	/* From the login itself: the service's answer, then no further login for a while. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(mgr = manager_open());
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_LOGIN, 500213, 1), 0);
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, id, NULL), PROVAUTH_ECOOLDOWN);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "too many login attempts"));
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 1);
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, id, NULL), PROVAUTH_ECOOLDOWN);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "logins paused"));
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 1);
	remember_secrets(id);
	free(id);
	fixture_end();
}

static void test_login_refusals(void)
{
	provauth_account *a;
	char *id;

	fixture(0);
	id = password_account();
	/* Wrong password: refused for good, the stored one kept. */
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, id, "wrong-SECRET-pw"), PROVAUTH_EAUTH);
	secret("wrong-SECRET-pw");
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "login refused"));
	a = get(id);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, PASSWORD), password);
	provauth_account_free(a);
	/* No such user. */
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_LOGIN, 500200, 1), 0);
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, id, NULL), PROVAUTH_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "no user with this email"));
	remember_secrets(id);
	free(id);
	fixture_end();
}

static void test_rate_limit(void)
{
	json_object *j;
	char *id;
	int rc;

	fixture(0);
	id = password_account();
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, FAKE_FAULT_RATE_LIMIT, 1, 7), 0);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ERATELIMIT);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "retry after 7s"));
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, FAKE_FAULT_RATE_LIMIT, 1, -1), 0);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ERATELIMIT);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "retry after 60s"));
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH) + count(FAKE_PV_EP_LOGIN), 0);
	remember_secrets(id);
	free(id);
	fixture_end();
}

static void test_status_ad_task_best_effort(void)
{
	json_object *j, *t;
	char *id;
	int rc;

	fixture(0);
	id = password_account();
	/* The ad task failing for another reason leaves it out. */
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_TASK_LIST, 500069, 1), 0);
	j = call_json(id, "status", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_FALSE(json_object_object_get_ex(j, "ad_watch_task", NULL));
	CU_ASSERT(json_object_object_get_ex(j, "credits", &t) && jint(t, "daily") == CREDIT_DAILY);
	json_object_put(j);
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_TASK_LIST, FAKE_FAULT_NON_JSON, 1, 0), 0);
	j = call_json(id, "status", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_FALSE(json_object_object_get_ex(j, "ad_watch_task", NULL));
	json_object_put(j);
	/* A session error there is the session's: recovered and retried. */
	fake_pixverse_reset_counters(srv);
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_TASK_LIST, 10005, 1), 0);
	j = call_json(id, "status", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(json_object_object_get_ex(j, "ad_watch_task", &t) && jint(t, "reward") == 30);
	json_object_put(j);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_TASK_LIST), 2);
	/* ad_task=skip: credits only, for a caller that keeps the task (provauthd's pixverse-status). */
	{
		static const provauth_arg skip[] = { { "ad_task", "skip" } }, other[] = { { "ad_task", "yes" } };
		char *out = NULL;

		fake_pixverse_reset_counters(srv);
		CU_ASSERT_EQUAL(provauth_call(&out, mgr, id, "status", skip, 1), 0);
		j = out ? json_tokener_parse(out) : NULL;
		CU_ASSERT_FALSE(json_object_object_get_ex(j, "ad_watch_task", NULL));
		CU_ASSERT(json_object_object_get_ex(j, "credits", &t) && jint(t, "daily") == CREDIT_DAILY);
		json_object_put(j);
		provauth_free(out);
		out = NULL;
		CU_ASSERT_EQUAL(count(FAKE_PV_EP_TASK_LIST), 0);
		CU_ASSERT_EQUAL(count(FAKE_PV_EP_CREDITS), 1);
		CU_ASSERT_EQUAL(provauth_call(&out, mgr, id, "status", other, 1), PROVAUTH_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "ad_task=skip"));
		CU_ASSERT_PTR_NULL(out);
		CU_ASSERT_EQUAL(count(FAKE_PV_EP_CREDITS), 1);
	}
	remember_secrets(id);
	free(id);
	fixture_end();
}

static void test_openapi_credits(void)
{
	fake_pixverse_account a;
	provauth_account *acct;
	json_object *j, *t;
	char *id;
	int rc;

	fixture(0);
	id = password_account();
	/* A second fake account holds the key; the stored account is given it. */
	memset(&a, 0, sizeof(a));
	a.email = "openapi-holder@example.com";
	a.password = "x-SECRET-pw";
	a.api_key = "pv-openapi-SECRET-key";
	a.openapi_credits = 321;
	CU_ASSERT(fake_pixverse_add_account(srv, &a) > 0);
	secret(a.api_key);
	acct = get(id);
	CU_ASSERT_EQUAL(provauth_account_set_api_key(acct, "openapi", a.api_key), 0);
	CU_ASSERT_EQUAL(provauth_account_put(mgr, acct), 0);
	provauth_account_free(acct);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(jint(j, "openapi"), 321);
	CU_ASSERT_EQUAL(jint(j, "web"), CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE);
	json_object_put(j);
	/* A refused key costs the OpenAPI figure only. */
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_OPENAPI_CREDITS, 400017, 1), 0);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(json_object_object_get_ex(j, "openapi", &t) && json_object_is_type(t, json_type_int));
	CU_ASSERT_EQUAL(jint(j, "openapi"), 0);
	CU_ASSERT_EQUAL(jint(j, "web"), CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE);
	json_object_put(j);
	CU_ASSERT(count_lines("pixverse_openapi_credits_failed", NULL) >= 1);
	remember_secrets(id);
	free(id);
	fixture_end();
}

/* An integer member that is there and is an integer (not null, not absent). */
static int has_int(json_object *o, const char *key, int64_t want)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) &&
	       json_object_get_int64(v) == want;
}

/*
 * Spec 4.2 and 5: credits are {web, openapi}, both always there and never
 * below 0, plus ad_watch_task only when that best-effort fetch worked; the
 * status operation is {provider_id, email, credits: {web, openapi},
 * ad_watch_task?}.
 */
static void test_credits_and_status_shape(void)
{
	fake_pixverse_account a;
	provauth_account *acct;
	json_object *j, *c, *t;
	char *id;
	int rc;

	fixture(0);
	id = password_account();
	/* No OpenAPI key: openapi is 0, not missing; the ad task is there. */
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(has_int(j, "web", CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE));
	CU_ASSERT(has_int(j, "openapi", 0));
	CU_ASSERT(json_object_object_get_ex(j, "ad_watch_task", &t) && jint(t, "reward") == 30 &&
	          jint(t, "total_counts") == 3);
	json_object_put(j);
	j = call_json(id, "status", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(same(json_object_get_string(json_object_object_get(j, "provider_id")), "pixverse"));
	CU_ASSERT(same(json_object_get_string(json_object_object_get(j, "email")), email));
	CU_ASSERT(json_object_object_get_ex(j, "credits", &c) &&
	          has_int(c, "web", CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE) && has_int(c, "openapi", 0));
	CU_ASSERT_FALSE(json_object_object_get_ex(c, "ad_watch_task", NULL));
	CU_ASSERT(json_object_object_get_ex(j, "ad_watch_task", &t) && jint(t, "progress") == 1);
	CU_ASSERT_FALSE(json_object_object_get_ex(j, "ad_task", NULL));
	json_object_put(j);

	/* The ad task failing (not a session error): no ad_watch_task at all, credits as usual. */
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_TASK_LIST, 500069, 2), 0);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_FALSE(json_object_object_get_ex(j, "ad_watch_task", NULL));
	CU_ASSERT(has_int(j, "web", CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE) && has_int(j, "openapi", 0));
	json_object_put(j);
	j = call_json(id, "status", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_FALSE(json_object_object_get_ex(j, "ad_watch_task", NULL));
	CU_ASSERT(json_object_object_get_ex(j, "credits", &c) && has_int(c, "openapi", 0));
	json_object_put(j);

	/* With a key whose fetch fails: 0; with negative figures everywhere: 0 each. */
	memset(&a, 0, sizeof(a));
	a.email = "shape-key-holder@example.com";
	a.password = "x-SECRET-pw2";
	a.api_key = "pv-openapi-SECRET-key2";
	a.openapi_credits = -40;
	CU_ASSERT(fake_pixverse_add_account(srv, &a) > 0);
	secret(a.api_key);
	acct = get(id);
	CU_ASSERT_EQUAL(provauth_account_set_api_key(acct, "openapi", a.api_key), 0);
	CU_ASSERT_EQUAL(provauth_account_put(mgr, acct), 0);
	provauth_account_free(acct);
	CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_OPENAPI_CREDITS, FAKE_FAULT_NON_JSON, 1, 0), 0);
	j = call_json(id, "status", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(json_object_object_get_ex(j, "credits", &c) && has_int(c, "openapi", 0));
	json_object_put(j);
	CU_ASSERT_EQUAL(fake_pixverse_set_credits(srv, email, -100, -5, 3), 0);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(has_int(j, "web", 0) && has_int(j, "openapi", 0));
	json_object_put(j);
	CU_ASSERT_EQUAL(fake_pixverse_set_openapi_credits(srv, a.email, 77), 0);
	j = call_json(id, "status", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(json_object_object_get_ex(j, "credits", &c) && has_int(c, "web", 0) && has_int(c, "openapi", 77));
	json_object_put(j);
	fake_pixverse_clear_faults(srv);
	remember_secrets(id);
	free(id);
	fixture_end();
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                */
/* ------------------------------------------------------------------------ */

static size_t account_count(void)
{
	provauth_account **list = NULL;
	size_t n = 0;

	CU_ASSERT_FATAL(provauth_account_list(&list, &n, mgr, "pixverse") == 0);
	provauth_account_list_free(list, n);
	return n;
}

static void test_bad_imports(void)
{
	static const char *const inputs[] = {
		"{\"_ai_token\": \"unterminated-SECRET-cookie",
		"[\"SECRET-cookie-1\", \"SECRET-cookie-2\"]",
		"=SECRET-cookie-value",
		"lang=en; theme=dark", /* no _ai_token */
		"_ai_token=abc.!!!!.def; x=SECRET-cookie-3",
		"_ai_token=eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln; x=SECRET-cookie-4", /* payload "not json" */
	};
	static const char *const wants[] = {
		"not valid JSON", "not an object", "empty name", "no _ai_token cookie", "not a readable JWT",
		"not a readable JWT",
	};
	char *id = NULL;
	size_t i, before;

	fixture(0);
	before = account_count();
	for (i = 0; i < PA_ARRAY_LEN(inputs); i++) {
		const char *msg;
		secret("SECRET-cookie");
		CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "pixverse", "cookies", inputs[i]), PROVAUTH_EINVAL);
		CU_ASSERT_PTR_NULL(id);
		msg = last_msg();
		if (!strstr(msg, wants[i]))
			fprintf(stderr, "\n  import %zu: \"%s\" lacks \"%s\"\n", i, msg, wants[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, wants[i]));
		CU_ASSERT_PTR_NULL(strstr(msg, "SECRET"));
	}
	CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "pixverse", "refresh_token", "x"), PROVAUTH_EUNSUPPORTED);
	last_msg();
	/* A token the service does not know: the import fails and stores nothing. */
	{
		char input[512];
		snprintf(input, sizeof(input), "_ai_token=%s",
		         "eyJhbGciOiJIUzI1NiIsImtpZCI6IjEifQ.eyJBY2NvdW50SWQiOjEsIkV4cGlyZVRpbWUiOjQxMDI0NDQ4MDAsIlVzZXJuYW1lIjoieCJ9"
		         ".Zm9yZ2VkLVNFQ1JFVA");
		CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "pixverse", "cookies", input), PROVAUTH_EAUTH);
		CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "does not accept them"));
	}
	/* getUserInfo naming no email: PROVAUTH_ENOEMAIL, nothing stored. */
	{
		fake_pixverse_account na;
		char *tok, input[2048];

		memset(&na, 0, sizeof(na));
		na.email = "mailless-user";
		na.password = "mailless-pw-SECRET";
		secret(na.password);
		CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &na) > 0);
		tok = fake_pixverse_login_token(srv, "mailless-user");
		CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
		secret(tok);
		snprintf(input, sizeof(input), "_ai_token=%s", tok);
		CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "pixverse", "cookies", input), PROVAUTH_ENOEMAIL);
		CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "no email address"));
		CU_ASSERT_PTR_NULL(id);
		free(tok);
	}
	/* getUserInfo answering garbage. */
	{
		char *tok = fake_pixverse_login_token(srv, email), input[2048];
		secret(tok);
		snprintf(input, sizeof(input), "_ai_token=%s", tok);
		CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_USER_INFO, FAKE_FAULT_NON_JSON, 1, 0), 0);
		CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "pixverse", "cookies", input), PROVAUTH_EPROTOCOL);
		last_msg();
		CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_USER_INFO, FAKE_FAULT_HUGE_BODY, 1,
		                                           10 * 1024 * 1024), 0);
		CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "pixverse", "cookies", input), PROVAUTH_ETOOBIG);
		last_msg();
		/* The connection dropped: the message says so in the host's words, not just "failed". */
		CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_USER_INFO, FAKE_FAULT_RESET, 1, 0), 0);
		CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "pixverse", "cookies", input), PROVAUTH_ENETWORK);
		CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "whose cookies these are: http: GET "));
		CU_ASSERT_PTR_NOT_NULL(strstr(last_msg(), "connection closed mid-reply"));
		free(tok);
	}
	CU_ASSERT_EQUAL(account_count(), before);
	fixture_end();
}

static void test_broken_stored_jwt(void)
{
	provauth_account *a;
	json_object *j;
	char *id;
	int rc;

	fixture(0);
	id = password_account();
	/* A stored token whose payload does not decode, and no cookie to fall back on. */
	a = get(id);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL,
	                                                "eyJhbGciOiJIUzI1NiJ9.e30gbm90IGpzb24.c2ln", 0), 0);
	CU_ASSERT_EQUAL(provauth_account_set_cookie(a, "_ai_token", NULL), 0);
	CU_ASSERT_EQUAL(provauth_account_put(mgr, a), 0);
	provauth_account_free(a);
	/* The service says 10003, the refresh cannot help, the password can. */
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(jint(j, "web"), CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE);
	json_object_put(j);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 1);
	CU_ASSERT(count_lines("pixverse_session_error_detected", "error_code=10003") >= 1);
	a = get(id);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token"));
	provauth_account_free(a);

	/* The same for an account that may not log in: a clear error, credentials untouched. */
	CU_ASSERT_EQUAL(provauth_account_set_auth_method(mgr, id, PROVAUTH_AUTH_UNKNOWN), 0);
	a = get(id);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "not-a-jwt", 0), 0);
	CU_ASSERT_EQUAL(provauth_account_set_cookie(a, "_ai_token", NULL), 0);
	CU_ASSERT_EQUAL(provauth_account_put(mgr, a), 0);
	provauth_account_free(a);
	fake_pixverse_reset_counters(srv);
	j = call_json(id, "credits", &rc);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ESESSION);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "import fresh cookies"));
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
	a = get(id);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), "not-a-jwt");
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, PASSWORD), password);
	provauth_account_free(a);
	remember_secrets(id);
	free(id);
	fixture_end();
}

typedef struct bad_reply {
	fake_fault_kind kind;
	long param;
	int rc;
	const char *want;
} bad_reply;

static void test_bad_replies_change_nothing(void)
{
	static const bad_reply cases[] = {
		{ FAKE_FAULT_NON_JSON, 0, PROVAUTH_EPROTOCOL, "reply is not JSON" },
		{ FAKE_FAULT_TRUNCATED, 0, PROVAUTH_EPROTOCOL, "reply is not JSON" },
		{ FAKE_FAULT_NO_PAYLOAD, 0, PROVAUTH_EPROTOCOL, "reply has no Resp" },
		{ FAKE_FAULT_HUGE_BODY, 10 * 1024 * 1024, PROVAUTH_ETOOBIG, "larger than" },
		{ FAKE_FAULT_HTTP_STATUS, 503, PROVAUTH_EHTTP, "HTTP 503" },
		{ FAKE_FAULT_RESET, 0, PROVAUTH_ENETWORK, "connection closed mid-reply" },
	};
	provauth_account *before, *after;
	json_object *j;
	char *id;
	size_t i;
	int rc;

	fixture(0);
	id = password_account();
	j = call_json(id, "credits", &rc); /* settles the anonymous id into the account */
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);
	before = get(id);
	for (i = 0; i < PA_ARRAY_LEN(cases); i++) {
		const char *msg;
		fake_pixverse_reset_counters(srv);
		CU_ASSERT_EQUAL_FATAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, cases[i].kind, 1, cases[i].param),
		                      0);
		j = call_json(id, "credits", &rc);
		msg = provauth_last_error();
		CU_ASSERT_PTR_NULL(j);
		if (rc != cases[i].rc || !strstr(msg, cases[i].want))
			fprintf(stderr, "\n  fault %s: rc %d \"%s\"\n", fake_fault_kind_name(cases[i].kind), rc, msg);
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, cases[i].want));
		/* Not a session error: no refresh, no login. */
		CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH) + count(FAKE_PV_EP_LOGIN), 0);
		after = get(id);
		CU_ASSERT(pa_account_same_credentials(before, after));
		CU_ASSERT_EQUAL(after->revision, before->revision);
		provauth_account_free(after);
	}
	/* Bad replies to a login leave the account as it was, too. */
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_LOGIN, cases[i].kind, 1, cases[i].param), 0);
		CU_ASSERT_EQUAL(provauth_account_reauth(mgr, id, NULL), PROVAUTH_EPROTOCOL);
		last_msg();
		after = get(id);
		CU_ASSERT_STRING_EQUAL(PA_CRED(after, JWT), PA_CRED(before, JWT));
		CU_ASSERT_STRING_EQUAL(PA_CRED(after, PASSWORD), PA_CRED(before, PASSWORD));
		provauth_account_free(after);
	}
	provauth_account_free(before);
	/* And the session still works. */
	j = call_json(id, "credits", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);
	remember_secrets(id);
	free(id);
	fixture_end();
}

/* ------------------------------------------------------------------------ */
/* Settings                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Loads the plugin with `block` as providers.pixverse; returns why it was
 * skipped (malloc()ed), NULL when it loaded, "" when the settings themselves
 * were refused (that message in *refused).
 */
static char *load_with(const char *block, char **refused)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[2048], pd[512], *why = NULL;
	size_t i;

	*refused = NULL;
	snprintf(yaml, sizeof(yaml), "%sstore:\n  backend: memory\nproviders:\n  pixverse:\n%s",
	         plugin_dir_line(pd, sizeof(pd)), block);
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "bad.yaml") != 0) {
		*refused = strdup(provauth_last_error());
		return strdup("");
	}
	opts.log = capture;
	opts.clock = test_clock;
	if (provauth_manager_new(&m, s, &opts) != 0) {
		*refused = strdup(provauth_last_error());
		provauth_settings_free(s);
		return strdup("");
	}
	provauth_settings_free(s);
	for (i = 0; i < provauth_manager_skipped_count(m); i++) {
		provauth_plugin_skip sk;
		if (provauth_manager_skipped(&sk, m, i) == 0 && strstr(sk.file, "pixverse"))
			why = strdup(sk.reason);
	}
	provauth_manager_free(m);
	return why;
}

static void test_settings_validation(void)
{
	static const struct { const char *block, *want; } bad[] = {
		{ "    base_url: ftp://example.com\n", "base_url" },
		{ "    base_url: https://\n", "base_url" },
		{ "    web_origin: \"https://app.test?x=1\"\n", "web_origin" },
		{ "    openapi_base_url: 42\n", "openapi_base_url" },
		{ "    jwt_refresh_threshold: -1\n", "jwt_refresh_threshold" },
		{ "    jwt_refresh_threshold: 99999999\n", "jwt_refresh_threshold" },
		{ "    user_agent: \"\"\n", "user_agent" },
		{ "    base_ur1: http://x\n", "base_ur1" },
	};
	char *why, *refused;
	size_t i;

	why = load_with("    base_url: http://127.0.0.1:1/\n    user_agent: Probe/1\n    jwt_refresh_threshold: 0\n",
	                &refused);
	CU_ASSERT_PTR_NULL(why);
	CU_ASSERT_PTR_NULL(refused);
	free(why);
	free(refused);
	for (i = 0; i < PA_ARRAY_LEN(bad); i++) {
		const char *msg;
		why = load_with(bad[i].block, &refused);
		msg = refused ? refused : why;
		CU_ASSERT_PTR_NOT_NULL(why);
		if (!msg || !strstr(msg, bad[i].want))
			fprintf(stderr, "\n  setting %zu: \"%s\" lacks \"%s\"\n", i, msg ? msg : "(loaded)", bad[i].want);
		CU_ASSERT(msg && strstr(msg, bad[i].want));
		free(why);
		free(refused);
	}
}

/* ------------------------------------------------------------------------ */
/* Secrets                                                                  */
/* ------------------------------------------------------------------------ */

static void test_no_secret_leaks(void)
{
	size_t i;

	/* Runs last: the log and messages of every scenario above. */
	CU_ASSERT(nsecrets > 10);
	CU_ASSERT(log_len > 1000);
	CU_ASSERT(log_has("pixverse_build_session"));
	for (i = 0; i < nsecrets; i++) {
		if (log_buf && strstr(log_buf, secrets[i]))
			fprintf(stderr, "\n  secret #%zu in the log\n", i);
		if (msgs && strstr(msgs, secrets[i]))
			fprintf(stderr, "\n  secret #%zu in an error message\n", i);
		CU_ASSERT_PTR_NULL(log_buf ? strstr(log_buf, secrets[i]) : NULL);
		CU_ASSERT_PTR_NULL(msgs ? strstr(msgs, secrets[i]) : NULL);
	}
}

/* ------------------------------------------------------------------------ */

static int suite_init(void)
{
	fake_pixverse_options o;
	char err[256];

	if (!mkdtemp(tmpdir))
		return -1;
	memset(&o, 0, sizeof(o));
	/* Limits only where a test asks for them (forced 500213). */
	o.login_limit = FAKE_PV_UNLIMITED;
	o.login_limit_global = FAKE_PV_UNLIMITED;
	if (!(srv = fake_pixverse_start(&o, err, sizeof(err)))) {
		fprintf(stderr, "fake server: %s\n", err);
		return -1;
	}
	return 0;
}

static int suite_clean(void)
{
	size_t i;

	fake_pixverse_stop(srv);
	pa_test_rmtree(tmpdir);
	for (i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	free(log_buf);
	free(msgs);
	return 0;
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "cookie import: auth_method unknown, all formats, every operation", test_import_unknown },
		{ "re-import into the account keeps its anonymous id", test_reimport_keeps_anonymous_id },
		{ "client ids: one stable pair per account across calls and managers", test_client_ids_stable },
		{ "client ids: an import's session_ids are used", test_client_ids_from_import },
		{ "client ids: fresh ones after a 10005", test_client_ids_after_10005 },
		{ "client ids: two accounts differ", test_client_ids_per_account },
		{ "explicit reauth: password, then auto-reauth", test_reauth_sets_password },
		{ "build_session fills auth_method", test_build_session_auth_method },
		{ "google: never auto-reauths, clear error", test_google_never_reauths },
		{ "google-only account: login says so and marks it", test_google_only_login },
		{ "google: an ID token signs in, refusals store nothing", test_google_id_token },
		{ "credits: reauth and retry exactly once", test_credits_retry_once },
		{ "refresh: token by cookie, Bearer or token header", test_refresh_deliveries },
		{ "logged in elsewhere: two processes, one login", test_ping_pong_two_processes },
		{ "threads: concurrent calls, one login", test_threads_one_login },
		{ "error table end to end", test_error_table_end_to_end },
		{ "banned account: never reauthenticated", test_banned_never_reauths },
		{ "too many logins: cooldown", test_too_many_logins },
		{ "login refusals", test_login_refusals },
		{ "HTTP 429", test_rate_limit },
		{ "status: ad task best effort", test_status_ad_task_best_effort },
		{ "openapi credits", test_openapi_credits },
		{ "credits and status: the spec's shape (4.2, 5)", test_credits_and_status_shape },
		{ "bad imports store nothing", test_bad_imports },
		{ "bad replies change nothing", test_bad_replies_change_nothing },
		{ "broken stored JWT", test_broken_stored_jwt },
		{ "settings are validated", test_settings_validation },
		{ "no secret in logs or messages", test_no_secret_leaks },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "pixverse plugin against the fake server", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
