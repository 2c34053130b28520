/*
 * run_with_session and the recovery ladder, against the scripted provider:
 * the spec's unit list (7.2) plus concurrency, cooldowns, health and
 * redaction.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "manager.h"
#include "scripted_provider.h"
#include "../support/pa_test.h"

#define PW "pw-SECRET"
#define TOK0 "jwt-SECRET-0"

static scripted_server *srv;
static provauth_store *store;
static provauth_manager *mgr;
static _Atomic int64_t fake_now = 1800000000;

static int64_t test_clock(void *payload)
{
	(void)payload;
	return atomic_load(&fake_now);
}

#define BASE_YAML \
	"session:\n  recovery_wait_ms: 5000\n  lease_ttl_ms: 5000\n" \
	"providers:\n  scripted:\n    auto_reauth_enabled: %s\n    reauth_cooldown: 300\n" \
	"    login_cooldown: 600\n%s"

static provauth_manager *manager_with(const char *auto_reauth, const char *extra, const provauth_provider *p,
                                      provauth_store *st)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), BASE_YAML, auto_reauth, extra ? extra : "");
	CU_ASSERT_FATAL(provauth_settings_parse(&s, yaml, strlen(yaml), "test.yaml") == 0);
	opts.store = st;
	opts.clock = test_clock;
	opts.log = pa_test_log_capture;
	opts.skip_plugins = 1;
	CU_ASSERT_FATAL(provauth_manager_new(&m, s, &opts) == 0);
	provauth_settings_free(s);
	CU_ASSERT_FATAL(provauth_manager_add_provider(m, p) == 0);
	return m;
}

static void put_account(provauth_store *st, const char *id, const char *method, const char *password,
                        const char *jwt)
{
	provauth_account *a = NULL;
	char json[64];

	CU_ASSERT_FATAL(provauth_account_new(&a, id, "scripted") == 0);
	a->email = strdup("user@example.com");
	if (password)
		provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, password, 0);
	if (jwt) {
		provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, jwt, 0);
		provauth_account_set_cookie(a, "_ai_token", jwt);
	}
	if (method) {
		snprintf(json, sizeof(json), "\"%s\"", method);
		provauth_account_set_metadata(a, "auth_method", json);
	}
	CU_ASSERT_FATAL(st->put(st, a) == 0);
	provauth_account_free(a);
}

static provauth_account *stored(const char *id)
{
	provauth_account *a = NULL;
	CU_ASSERT_FATAL(store->get(store, &a, id) == 0);
	return a;
}

static int setup(void)
{
	srv = scripted_server_new();
	scripted_use_server(srv);
	pa_test_log_reset();
	atomic_store(&fake_now, 1800000000);
	if (provauth_store_memory_new(&store) < 0)
		return -1;
	return srv ? 0 : -1;
}

static int teardown(void)
{
	provauth_manager_free(mgr);
	mgr = NULL;
	provauth_store_free(store);
	store = NULL;
	scripted_server_free(srv);
	srv = NULL;
	return 0;
}

/* Each test starts from a fresh server, store and log. */
#define FRESH(auto_reauth, extra, prov) do { teardown(); setup(); mgr = manager_with(auto_reauth, extra, prov, store); } while (0)

static void test_valid_session_is_built_once(void)
{
	int i;

	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	for (i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->builds), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 100);
}

static void test_unknown_account(void)
{
	FRESH("true", NULL, &scripted_provider);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "nope", "credits", scripted_op, NULL), PROVAUTH_ENOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "nope"));
}

static void test_password_account_reauths_and_retries_once(void)
{
	provauth_account *a;

	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 3); /* ok, failed, retried */
	CU_ASSERT_EQUAL(pa_test_log_count("scripted_session_error_detected", NULL), 1);
	CU_ASSERT_EQUAL(pa_test_log_count("scripted_session_invalidated", NULL), 1);
	CU_ASSERT_EQUAL(pa_test_log_count("scripted_auto_reauth_attempt", NULL), 1);
	CU_ASSERT_EQUAL(pa_test_log_count("scripted_auto_reauth_completed", NULL), 1);
	CU_ASSERT_TRUE(pa_test_log_contains("scripted_auto_reauth_completed account_id=a1 success=1"));
	CU_ASSERT_TRUE(pa_test_log_contains("error_code=10005 error_reason=logged_elsewhere"));
	a = stored("a1");
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), srv->valid_token);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token"), srv->valid_token);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_PASSWORD);
	provauth_account_free(a);
}

static void test_non_session_error_never_retries(void)
{
	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	srv->next_error = 500043;
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_EPROVIDER);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_EQUAL(pa_test_log_count("scripted_session_error_detected", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "code 500043 (api_error)"));
}

static void test_rate_limit_is_not_a_session_error(void)
{
	FRESH("true", NULL, &scripted_provider_refreshing);
	put_account(store, "a1", "password", PW, TOK0);
	srv->rate_limit_next = 1;
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "user_detail", scripted_op, NULL), PROVAUTH_ERATELIMIT);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "retry after 42s"));
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 1);
}

static void check_no_password_reauth(const char *method)
{
	provauth_account *a;
	uint64_t revision;
	int rc;

	FRESH("true", NULL, &scripted_provider);
	put_account(store, "g1", method, PW, TOK0);
	scripted_server_kick(srv);
	rc = provauth_run_with_session(mgr, "g1", "credits", scripted_op, NULL);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 1);
	CU_ASSERT_TRUE(pa_test_log_contains("reason=auth_method_incompatible"));
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "import fresh cookies"));
	/* Only an account of unknown method is told a password would help. */
	CU_ASSERT_EQUAL(strstr(provauth_last_error(), "with a password") != NULL, strcmp(method, "unknown") == 0);
	a = stored("g1");
	CU_ASSERT(pa_streq(a->state.health.state, "invalid"));
	CU_ASSERT(pa_streq(a->state.health.code, "10005"));
	CU_ASSERT(pa_streq(a->state.health.reason, "logged_elsewhere"));
	revision = a->revision;
	provauth_account_free(a);
	/* The same failure again leaves the record alone. */
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "g1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	a = stored("g1");
	CU_ASSERT_EQUAL(a->revision, revision);
	provauth_account_free(a);
}

static void test_google_never_password_reauths(void) { check_no_password_reauth("google"); }
static void test_unknown_never_password_reauths(void) { check_no_password_reauth("unknown"); }

static void test_disabled_in_settings(void)
{
	FRESH("false", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_TRUE(pa_test_log_contains("reason=disabled_in_settings"));
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "auto_reauth_enabled"));
}

static void test_no_password_then_global_password(void)
{
	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", NULL, TOK0);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_TRUE(pa_test_log_contains("reason=no_password"));

	FRESH("true", "    global_password: " PW "\n", &scripted_provider);
	put_account(store, "a1", "password", NULL, TOK0);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
}

static void test_reauth_cooldown(void)
{
	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	/* Kicked again 10 s later: inside the 300 s cooldown, no login. */
	atomic_fetch_add(&fake_now, 10);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	CU_ASSERT_TRUE(pa_test_log_contains("reason=cooldown"));
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "cooldown"));
	/* After the cooldown (and the failure memo) it logs in again. */
	atomic_fetch_add(&fake_now, 300);
	provauth_manager_free(mgr);
	mgr = manager_with("true", NULL, &scripted_provider, store);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 2);
}

static void test_provider_login_cooldown(void)
{
	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	put_account(store, "a2", "password", PW, TOK0);
	srv->login_result = PROVAUTH_ECOOLDOWN; /* "too many login attempts" */
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	srv->login_result = 0;
	/* Another account of the same provider: no login while the cooldown lasts. */
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a2", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	CU_ASSERT_TRUE(pa_test_log_contains("reason=login_cooldown"));
	atomic_fetch_add(&fake_now, 601);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a2", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 2);
}

static void test_retry_at_most_once(void)
{
	provauth_account *a;

	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	srv->fail_after_login = 1;
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 2);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	a = stored("a1");
	CU_ASSERT(pa_streq(a->state.health.state, "invalid"));
	provauth_account_free(a);
}

static void test_newer_stored_credentials_are_reused(void)
{
	provauth_account *a;

	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	/* Another process logged in and stored its token. */
	scripted_server_kick(srv);
	a = stored("a1");
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, srv->valid_token, 0);
	CU_ASSERT_FATAL(store->put(store, a) == 0);
	provauth_account_free(a);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_EQUAL(pa_test_log_count("scripted_session_reused_stored", NULL), 1);
}

static void test_refresh_before_password(void)
{
	FRESH("true", NULL, &scripted_provider_refreshing);
	put_account(store, "a1", "password", PW, TOK0);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);

	/* A refused refresh falls through to the password login. */
	srv->refresh_result = PROVAUTH_EAUTH;
	atomic_fetch_add(&fake_now, 1000);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 2);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
}

/*
 * The refresh's write starts from the account read under the lease; when
 * another writer changed the account meanwhile (here: between the lease and
 * the write), the write loses the race, reads the store again and keeps
 * both changes.
 */
typedef struct writer_between {
	provauth_store *inner;
	int armed;
	int gets;       /* reads between the lease and the write: the one under the lease, no other */
	int conflicts;
} writer_between;

static long write_between(pa_fwd_op op, void *payload)
{
	writer_between *w = payload;
	provauth_account *a = NULL;

	if (op == PA_FWD_LEASE_ACQUIRE)
		w->armed = 1;
	if (op == PA_FWD_GET && w->armed)
		w->gets++;
	if (op != PA_FWD_PUT || !w->armed)
		return 0;
	w->armed = 0;
	if (w->inner->get(w->inner, &a, "a1") == 0) {
		CU_ASSERT_EQUAL(pa_set_string(&a->email, "changed-meanwhile@example.com"), 0);
		CU_ASSERT_EQUAL(w->inner->put(w->inner, a), 0);
	}
	provauth_account_free(a);
	return 0;
}

static int count_conflicts(pa_fwd_op op, int rc, long token, void *payload)
{
	writer_between *w = payload;

	(void)token;
	if (op == PA_FWD_PUT && rc == PROVAUTH_ECONFLICT)
		w->conflicts++;
	return rc;
}

static void test_refresh_write_survives_a_writer_meanwhile(void)
{
	writer_between w = { NULL, 0, 0, 0 };
	pa_fwd_hooks hooks = { write_between, count_conflicts, &w };
	provauth_store *fwd = NULL;
	provauth_account *a;

	teardown();
	setup();
	w.inner = store;
	CU_ASSERT_FATAL(pa_fwd_store_new(&fwd, store, &hooks) == 0);
	store = fwd; /* the test's reads and teardown go through it too; it owns the inner store */
	mgr = manager_with("true", NULL, &scripted_provider_refreshing, store);
	put_account(w.inner, "a1", "password", PW, TOK0);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_EQUAL(w.gets, 1);
	CU_ASSERT_EQUAL(w.conflicts, 1);
	a = stored("a1");
	CU_ASSERT_STRING_EQUAL(a->email, "changed-meanwhile@example.com");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_JWT, NULL), srv->valid_token);
	provauth_account_free(a);
}

static void test_health_reset_after_success(void)
{
	provauth_account *a;

	FRESH("true", NULL, &scripted_provider);
	put_account(store, "g1", "google", NULL, TOK0);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "g1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	/* The user imports fresh cookies: the stored token is valid again. */
	a = stored("g1");
	CU_ASSERT(pa_streq(a->state.health.state, "invalid"));
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, srv->valid_token, 0);
	CU_ASSERT_FATAL(provauth_account_put(mgr, a) == 0);
	provauth_account_free(a);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "g1", "credits", scripted_op, NULL), 0);
	a = stored("g1");
	CU_ASSERT(pa_streq(a->state.health.state, "ok"));
	provauth_account_free(a);
}

static void test_explicit_reauth_sets_password_method(void)
{
	provauth_account *a;

	FRESH("false", NULL, &scripted_provider);
	put_account(store, "a1", NULL, NULL, TOK0);
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, "a1", "wrong"), PROVAUTH_EAUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "incorrect"));
	CU_ASSERT_PTR_NULL(strstr(provauth_last_error(), "wrong"));
	CU_ASSERT_EQUAL(provauth_account_reauth(mgr, "a1", PW), 0);
	a = stored("a1");
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_PASSWORD);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, PASSWORD), PW);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), srv->valid_token);
	provauth_account_free(a);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 2);
}

static void test_oauth_answer_marks_google(void)
{
	provauth_account *a;

	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	srv->google_on_login = 1;
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	a = stored("a1");
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_GOOGLE);
	CU_ASSERT_PTR_NULL(PA_CRED(a, PASSWORD));
	provauth_account_free(a);
}

static void test_named_operation(void)
{
	provauth_arg arg = { "x", "1" };
	char *out = NULL;

	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	CU_ASSERT_EQUAL(provauth_call(&out, mgr, "a1", "echo", &arg, 1), 0);
	CU_ASSERT_STRING_EQUAL(out, "{\"echo\":true}");
	provauth_free(out);
	CU_ASSERT_EQUAL(provauth_call(&out, mgr, "a1", "nope", NULL, 0), PROVAUTH_ENOTFOUND);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "no operation 'nope'"));
}

/*
 * An operation's output is handed to callers as JSON text (the CLI prints
 * it): output that is not JSON is a plugin bug, refused with EPLUGIN
 * rather than passed on.
 */
static void test_operation_output_must_be_json(void)
{
	static const char *const bad[] = {
		"not json", "{\"a\":1", "{\"a\":1} trailing", "\x1b]0;title\x07", "", "{\"a\":\"x\\u0000y\"}",
		"{'a':1}",
	};
	provauth_arg arg = { "v", NULL };
	char *out = NULL;
	size_t i;

	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	arg.value = "{\"a\":[1,\"b\"]}";
	CU_ASSERT_EQUAL(provauth_call(&out, mgr, "a1", "raw", &arg, 1), 0);
	CU_ASSERT_STRING_EQUAL(out, "{\"a\":[1,\"b\"]}");
	provauth_free(out);
	for (i = 0; i < PA_ARRAY_LEN(bad); i++) {
		out = (char *)"x";
		arg.value = bad[i];
		CU_ASSERT_EQUAL(provauth_call(&out, mgr, "a1", "raw", &arg, 1), PROVAUTH_EPLUGIN);
		CU_ASSERT_PTR_NULL(out);
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "'raw'"));
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "not JSON"));
		CU_ASSERT_PTR_NULL(strstr(provauth_last_error(), "title"));
	}
}

static void test_stale_put_conflicts(void)
{
	provauth_account *a1, *a2;

	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	CU_ASSERT_FATAL(provauth_account_get(&a1, mgr, "a1") == 0);
	CU_ASSERT_FATAL(provauth_account_get(&a2, mgr, "a1") == 0);
	provauth_account_set(&a1->email, "one@example.com");
	provauth_account_set(&a2->email, "two@example.com");
	CU_ASSERT_EQUAL(provauth_account_put(mgr, a1), 0);
	CU_ASSERT_EQUAL(provauth_account_put(mgr, a2), PROVAUTH_ECONFLICT);
	provauth_account_free(a1);
	provauth_account_free(a2);
	a1 = stored("a1");
	CU_ASSERT_STRING_EQUAL(a1->email, "one@example.com");
	provauth_account_free(a1);
}

/* ---- concurrency ---- */

#define STORM_THREADS 32

static pthread_barrier_t storm_barrier;
static atomic_int storm_ok;

static void *storm_worker(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&storm_barrier);
	if (provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL) == 0)
		atomic_fetch_add(&storm_ok, 1);
	return NULL;
}

static void run_storm(void)
{
	pthread_t t[STORM_THREADS];
	int i;

	atomic_store(&storm_ok, 0);
	pthread_barrier_init(&storm_barrier, NULL, STORM_THREADS);
	for (i = 0; i < STORM_THREADS; i++)
		pthread_create(&t[i], NULL, storm_worker, NULL);
	for (i = 0; i < STORM_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&storm_barrier);
}

static void test_storm_one_recovery(void)
{
	FRESH("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	scripted_server_kick(srv);
	srv->login_delay_ms = 50;
	run_storm();
	CU_ASSERT_EQUAL(atomic_load(&storm_ok), STORM_THREADS);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	CU_ASSERT_EQUAL(pa_test_log_count("scripted_auto_reauth_attempt", NULL), 1);
}

static void put_oauth_account(const char *id, int64_t expires_in)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_account_new(&a, id, "scripted") == 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, "refresh-SECRET-0", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, srv->valid_token,
	                                atomic_load(&fake_now) + expires_in);
	CU_ASSERT_FATAL(store->put(store, a) == 0);
	provauth_account_free(a);
}

static void test_expired_access_token_storm_one_refresh(void)
{
	provauth_account *a;

	FRESH("true", NULL, &scripted_provider_refreshing);
	put_oauth_account("a1", 3600);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "user_detail", scripted_op, NULL), 0);
	/* The token expired (and the server no longer takes it). */
	atomic_fetch_add(&fake_now, 3601);
	scripted_server_kick(srv);
	srv->login_delay_ms = 50;
	run_storm();
	CU_ASSERT_EQUAL(atomic_load(&storm_ok), STORM_THREADS);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	/* The rotated refresh token is stored. */
	a = stored("a1");
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, REFRESH_TOKEN), "refresh-SECRET-next");
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(a, ACCESS_TOKEN), atomic_load(&fake_now) + 3600);
	provauth_account_free(a);
}

static void test_refresh_ahead_keeps_serving(void)
{
	FRESH("true", NULL, &scripted_provider_refreshing);
	/* 100 s left, inside the 300 s refresh_ahead window: still valid. */
	put_oauth_account("a1", 100);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "user_detail", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	/* A failing refresh ahead of expiry does not fail the call. */
	srv->refresh_result = PROVAUTH_ENETWORK;
	atomic_fetch_add(&fake_now, 3600 - 100);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "user_detail", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 2);
}

static void test_dead_refresh_token_recorded_before_expiry(void)
{
	provauth_account *a;

	FRESH("true", NULL, &scripted_provider_refreshing);
	put_oauth_account("a1", 100);
	srv->refresh_result = PROVAUTH_EAUTH;
	/* The access token still works, so the call does; the dead refresh token is on record. */
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "user_detail", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	a = stored("a1");
	CU_ASSERT(pa_streq(a->state.health.reason, "refresh_rejected"));
	CU_ASSERT(pa_streq(a->state.health.state, "invalid"));
	provauth_account_free(a);
	/* Not asked again for the same credentials. */
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "user_detail", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
}

static void test_dead_refresh_token_not_retried(void)
{
	FRESH("true", NULL, &scripted_provider_refreshing);
	put_oauth_account("a1", -10);
	srv->refresh_result = PROVAUTH_EAUTH;
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "user_detail", scripted_op, NULL), PROVAUTH_EAUTH);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "user_detail", scripted_op, NULL), PROVAUTH_EAUTH);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 0);
}

/* ---- secrets ---- */

static void test_no_secret_in_logs_or_errors(void)
{
	char errors[4096] = "";

	/* Every secret in this scenario contains "SECRET": none may surface. */
	FRESH("true", "    global_password: global-SECRET\n", &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	put_account(store, "g1", "google", NULL, TOK0);
	pa_test_log_reset();
	scripted_server_kick(srv);
	provauth_run_with_session(mgr, "g1", "credits", scripted_op, NULL);
	strcat(errors, provauth_last_error());
	provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL);
	strcat(errors, provauth_last_error());
	provauth_account_reauth(mgr, "a1", "wrong-SECRET");
	strcat(errors, provauth_last_error());
	provauth_account_reauth(mgr, "g1", NULL);
	strcat(errors, provauth_last_error());
	CU_ASSERT_TRUE(pa_test_log_count("scripted_auto_reauth_attempt", NULL) >= 2);
	CU_ASSERT_TRUE(pa_test_log_count("scripted_session_error_detected", NULL) >= 2);
	CU_ASSERT_FALSE(pa_test_log_contains("SECRET"));
	CU_ASSERT_PTR_NULL(strstr(errors, "SECRET"));
}

/* ---- store_must_exist ---- */

/* How many entries dir holds, and whether `name` is one of them. */
static int dir_count(const char *dir, const char *name, int *found)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	*found = 0;
	CU_ASSERT_FATAL(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n++;
		if (name && strcmp(e->d_name, name) == 0)
			*found = 1;
	}
	closedir(d);
	return n;
}

/*
 * A program that only looks at accounts asks for an existing store: a
 * missing one is PROVAUTH_ENOTFOUND and neither the database nor its key is
 * created. Version 1 options (which lack the field) keep creating it.
 */
static void test_store_must_exist_creates_nothing(void)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char dir[] = "/tmp/pa-sess-XXXXXX", yaml[512], want[300];
	int found;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(yaml, sizeof(yaml), "store:\n  path: %s/accounts.db\n", dir);
	CU_ASSERT_FATAL(provauth_settings_parse(&s, yaml, strlen(yaml), "test.yaml") == 0);
	opts.skip_plugins = 1;
	opts.log = pa_test_log_capture;
	opts.store_must_exist = 1;
	CU_ASSERT_EQUAL(provauth_manager_new(&m, s, &opts), PROVAUTH_ENOTFOUND);
	CU_ASSERT_PTR_NULL(m);
	snprintf(want, sizeof(want), "no store at %s/accounts.db", dir);
	CU_ASSERT_STRING_EQUAL(provauth_last_error(), want);
	CU_ASSERT_EQUAL(dir_count(dir, NULL, &found), 0);

	/* a caller built against version 1 gets the store created, as before */
	opts.version = 1;
	CU_ASSERT_EQUAL_FATAL(provauth_manager_new(&m, s, &opts), 0);
	provauth_manager_free(m);
	m = NULL;
	CU_ASSERT(dir_count(dir, "accounts.db", &found) >= 2 && found);
	CU_ASSERT(dir_count(dir, "accounts.db.key", &found) >= 2 && found);

	/* once it exists, must_exist opens it */
	opts.version = PROVAUTH_MANAGER_OPTIONS_VERSION;
	CU_ASSERT_EQUAL(provauth_manager_new(&m, s, &opts), 0);
	provauth_manager_free(m);
	provauth_settings_free(s);
	snprintf(yaml, sizeof(yaml), "rm -rf '%s'", dir);
	CU_ASSERT_EQUAL(system(yaml), 0);
}

/* ---- two processes ---- */

/* The child holds a session on the old token, then runs again when told. */
static void child_run(const char *path, const unsigned char *key, int fd_ready, int fd_go)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	provauth_store *st = NULL;
	provauth_manager *m;
	char c;
	int rc;

	so.key = key;
	if (provauth_store_sqlite_open(&st, path, &so) < 0)
		_exit(10);
	m = manager_with("true", NULL, &scripted_provider, st);
	if (provauth_run_with_session(m, "a1", "credits", scripted_op, NULL) != 0)
		_exit(11);
	if (write(fd_ready, "r", 1) != 1 || read(fd_go, &c, 1) != 1)
		_exit(12);
	rc = provauth_run_with_session(m, "a1", "credits", scripted_op, NULL);
	provauth_manager_free(m);
	provauth_store_free(st);
	_exit(rc == 0 ? 0 : 13);
}

static void two_processes(int simultaneous)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	unsigned char key[32];
	char dir[] = "/tmp/pa-sess-XXXXXX", path[256], c;
	provauth_store *st = NULL;
	provauth_manager *m;
	int go[2], ready[2], status = 0;
	pid_t pid;

	memset(key, 7, sizeof(key));
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/accounts.db", dir);
	so.key = key;
	teardown();
	setup();
	CU_ASSERT_FATAL(provauth_store_sqlite_open(&st, path, &so) == 0);
	put_account(st, "a1", "password", PW, TOK0);
	srv->login_delay_ms = 100;
	m = manager_with("true", NULL, &scripted_provider, st);
	CU_ASSERT_EQUAL(provauth_run_with_session(m, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_FATAL(pipe(go) == 0 && pipe(ready) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		/* The parent's manager (its store is not owned, so no connection is closed): freed for a leak checker. */
		provauth_manager_free(m);
		child_run(path, key, ready[1], go[0]);
	}
	/* Both processes now hold a session on the first token; the server moves on. */
	CU_ASSERT_EQUAL(read(ready[0], &c, 1), 1);
	scripted_server_kick(srv);
	if (simultaneous) {
		CU_ASSERT_EQUAL(write(go[1], "g", 1), 1);
		CU_ASSERT_EQUAL(provauth_run_with_session(m, "a1", "credits", scripted_op, NULL), 0);
	} else {
		CU_ASSERT_EQUAL(provauth_run_with_session(m, "a1", "credits", scripted_op, NULL), 0);
		CU_ASSERT_EQUAL(write(go[1], "g", 1), 1);
	}
	waitpid(pid, &status, 0);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* One login in all: the other process took the stored token. */
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
	provauth_manager_free(m);
	provauth_store_free(st);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CU_ASSERT_EQUAL(system(path), 0);
}

static void test_two_processes_sequential(void) { two_processes(0); }

/*
 * A process holding the account's recovery lease (TTL 60 s) is SIGKILLed:
 * the next recovery takes the lease over at once instead of waiting out
 * recovery_wait_ms (5 s, below the TTL) and failing with EBUSY.
 */
static void test_dead_lease_holder(void)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	unsigned char key[32];
	char dir[] = "/tmp/pa-sess-XXXXXX", path[256], c = 0;
	provauth_store *st = NULL;
	provauth_manager *m;
	int ready[2];
	int64_t start;
	pid_t pid;

	memset(key, 7, sizeof(key));
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/accounts.db", dir);
	so.key = key;
	teardown();
	setup();
	CU_ASSERT_FATAL(provauth_store_sqlite_open(&st, path, &so) == 0);
	put_account(st, "a1", "password", PW, TOK0);
	m = manager_with("true", NULL, &scripted_provider, st);
	CU_ASSERT_EQUAL(provauth_run_with_session(m, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_FATAL(pipe(ready) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		provauth_store *cs = NULL;
		int ok = provauth_store_sqlite_open(&cs, path, &so) == 0 &&
		         cs->lease_acquire(cs, "a1", "doomed-process", 60000) == 0;
		if (write(ready[1], ok ? "y" : "n", 1) != 1 || !ok)
			_exit(1);
		for (;;)
			pause();
	}
	CU_ASSERT_EQUAL(read(ready[0], &c, 1), 1);
	CU_ASSERT_EQUAL(c, 'y');
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	scripted_server_kick(srv);
	start = pa_monotonic_ms();
	CU_ASSERT_EQUAL(provauth_run_with_session(m, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT(pa_monotonic_ms() - start < 2500);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	close(ready[0]);
	close(ready[1]);
	provauth_manager_free(m);
	provauth_store_free(st);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CU_ASSERT_EQUAL(system(path), 0);
}
static void test_two_processes_simultaneous(void) { two_processes(1); }

/* ---- events: names, levels and the exact set of fields ---- */

/* "LEVEL event key1,key2,...": what the spec fixes about an event (values are checked apart). */
static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static char ev_buf[65536];
static size_t ev_len;

static void ev_capture(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                       void *payload)
{
	char line[512];
	size_t len, i;

	pa_test_log_capture(level, event, f, n, payload);
	len = (size_t)snprintf(line, sizeof(line), "%s %s ", provauth_log_level_name(level), event);
	for (i = 0; i < n && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s", i ? "," : "", f[i].key);
	if (len >= sizeof(line))
		len = sizeof(line) - 1; /* what snprintf kept */
	pthread_mutex_lock(&ev_mu);
	if (ev_len + len + 2 < sizeof(ev_buf)) {
		memcpy(ev_buf + ev_len, line, len);
		ev_len += len;
		ev_buf[ev_len++] = '\n';
		ev_buf[ev_len] = '\0';
	}
	pthread_mutex_unlock(&ev_mu);
}

static void ev_reset(void)
{
	pthread_mutex_lock(&ev_mu);
	ev_len = 0;
	ev_buf[0] = '\n'; /* every line is then found as "\nLINE\n" */
	ev_len = 1;
	ev_buf[1] = '\0';
	pthread_mutex_unlock(&ev_mu);
	pa_test_log_reset();
}

/* How many times exactly this line (level, event, the fields in order) was logged. */
static int ev_count(const char *line)
{
	char needle[600];
	const char *p;
	int n = 0;

	snprintf(needle, sizeof(needle), "\n%s\n", line);
	pthread_mutex_lock(&ev_mu);
	for (p = ev_buf; (p = strstr(p, needle)); p++)
		n++;
	pthread_mutex_unlock(&ev_mu);
	return n;
}

#define EV_DETECTED "warn scripted_session_error_detected account_id,context,error_code,error_reason"
#define EV_INVALIDATED "warn scripted_session_invalidated account_id,reason,error_code"
#define EV_SKIPPED "info scripted_auto_reauth_skipped account_id,auth_method,reason,context"
#define EV_BUILD "info scripted_build_session account_id,jwt_source,auth_method,has_cookies,has_openapi_key"
#define EV_RECOVERED "info scripted_session_recovered account_id,auth_method,step,context"

static provauth_manager *manager_events(const char *auto_reauth, const char *extra, const provauth_provider *p)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[1024];

	teardown();
	setup();
	ev_reset();
	snprintf(yaml, sizeof(yaml), BASE_YAML "log:\n  level: debug\n", auto_reauth, extra ? extra : "");
	CU_ASSERT_FATAL(provauth_settings_parse(&s, yaml, strlen(yaml), "test.yaml") == 0);
	opts.store = store;
	opts.clock = test_clock;
	opts.log = ev_capture;
	opts.skip_plugins = 1;
	CU_ASSERT_FATAL(provauth_manager_new(&m, s, &opts) == 0);
	provauth_settings_free(s);
	CU_ASSERT_FATAL(provauth_manager_add_provider(m, p) == 0);
	return m;
}

/* The build is logged at info, once per credentials, with the spec's fields. */
static void test_events_build_at_info(void)
{
	int i;

	mgr = manager_events("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(ev_count(EV_BUILD), 1);
	CU_ASSERT(pa_test_log_count("scripted_build_session", "account_id=a1 jwt_source=account auth_method=password "
	                                                       "has_cookies=1 has_openapi_key=0") == 1);
}

/* The retry after a recovery fails again: the same two events again, with the same fields. */
static void test_events_when_retry_fails_again(void)
{
	mgr = manager_events("true", NULL, &scripted_provider);
	put_account(store, "a1", "password", PW, TOK0);
	scripted_server_kick(srv);
	srv->fail_after_login = 1;
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 2);
	CU_ASSERT_EQUAL(ev_count(EV_DETECTED), 2);
	CU_ASSERT_EQUAL(ev_count(EV_INVALIDATED), 2);
	CU_ASSERT(pa_test_log_count("scripted_session_error_detected",
	                            "account_id=a1 context=credits error_code=10005 error_reason=logged_elsewhere") == 2);
	CU_ASSERT(pa_test_log_count("scripted_session_invalidated",
	                            "account_id=a1 reason=logged_elsewhere error_code=10005") == 2);
	CU_ASSERT_EQUAL(ev_count(EV_RECOVERED), 1);
	CU_ASSERT(pa_test_log_count("scripted_session_recovered", "step=password_login") == 1);
}

/* A failed recovery moments ago short-circuits the next one: said as a skip, with its own reason. */
static void test_events_recent_failure_skip(void)
{
	mgr = manager_events("true", NULL, &scripted_provider_refreshing);
	put_account(store, "a1", "google", NULL, TOK0);
	scripted_server_kick(srv);
	srv->refresh_result = PROVAUTH_EAUTH;
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT(pa_test_log_count("scripted_auto_reauth_skipped", "reason=auth_method_incompatible") == 1);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT_EQUAL(ev_count(EV_SKIPPED), 2);
	CU_ASSERT(pa_test_log_count("scripted_auto_reauth_skipped",
	                            "account_id=a1 auth_method=google reason=recent_failure context=credits") == 1);
	CU_ASSERT_EQUAL(ev_count(EV_DETECTED), 2);
	CU_ASSERT_EQUAL(ev_count(EV_INVALIDATED), 2);
	CU_ASSERT_EQUAL(ev_count(EV_RECOVERED), 0);
}

/*
 * A session fails after another process stored newer credentials (its login
 * replaced that session): the failure says nothing about the stored
 * session, so no "invalid" health is recorded over it. (Pixverse drops the
 * client ids of a session whose health says 10005: a stale record made the
 * next session use fresh ids with the new token, and fail with 10005.)
 */
static void test_stale_failure_records_no_health(void)
{
	provauth_run_options ro = PROVAUTH_RUN_OPTIONS_INIT;
	provauth_account *a;
	const char *fresh;

	mgr = manager_events("true", NULL, &scripted_provider_refreshing);
	put_account(store, "a1", "password", PW, TOK0);
	CU_ASSERT_EQUAL(provauth_run_with_session_ext(mgr, "a1", "credits", scripted_op, NULL, &ro), 0);
	/* Another process logs in: the server takes its token, the store gets it. */
	fresh = scripted_server_kick(srv);
	a = stored("a1");
	CU_ASSERT_FATAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, fresh, 0) == 0);
	CU_ASSERT_FATAL(provauth_account_set_cookie(a, "_ai_token", fresh) == 0);
	CU_ASSERT_FATAL(store->put(store, a) == 0);
	provauth_account_free(a);
	/* This process still holds the old session in its cache: the call fails with it, unrecovered. */
	ro.retry_on_session_error = 0;
	CU_ASSERT_EQUAL(provauth_run_with_session_ext(mgr, "a1", "credits", scripted_op, NULL, &ro), PROVAUTH_ESESSION);
	a = stored("a1");
	CU_ASSERT_PTR_NULL(a->state.health.state);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), fresh);
	provauth_account_free(a);
	/* The same failure with the stored session itself is recorded. */
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session_ext(mgr, "a1", "credits", scripted_op, NULL, &ro), PROVAUTH_ESESSION);
	a = stored("a1");
	CU_ASSERT(pa_streq(a->state.health.state, "invalid") && pa_streq(a->state.health.reason, "logged_elsewhere"));
	provauth_account_free(a);
}

/* retry_on_session_error false: classified, evicted, health recorded; no recovery, no retry. */
static void test_run_without_retry(void)
{
	provauth_run_options ro = PROVAUTH_RUN_OPTIONS_INIT;
	provauth_account *a;

	CU_ASSERT_EQUAL(ro.retry_on_session_error, 1);
	mgr = manager_events("true", NULL, &scripted_provider_refreshing);
	put_account(store, "a1", "password", PW, TOK0);
	CU_ASSERT_EQUAL(provauth_run_with_session_ext(mgr, "a1", "credits", scripted_op, NULL, &ro), 0);
	scripted_server_kick(srv);
	atomic_store(&srv->ops, 0);
	ro.retry_on_session_error = 0;
	CU_ASSERT_EQUAL(provauth_run_with_session_ext(mgr, "a1", "credits", scripted_op, NULL, &ro), PROVAUTH_ESESSION);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "retry_on_session_error"));
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 0);
	CU_ASSERT_EQUAL(ev_count(EV_DETECTED), 1);
	CU_ASSERT_EQUAL(ev_count(EV_INVALIDATED), 1);
	CU_ASSERT(pa_test_log_count("scripted_auto_reauth_skipped",
	                            "account_id=a1 auth_method=password reason=retry_disabled context=credits") == 1);
	a = stored("a1");
	CU_ASSERT(pa_streq(a->state.health.state, "invalid") && pa_streq(a->state.health.reason, "logged_elsewhere"));
	provauth_account_free(a);
	/* The cache was invalidated: the next call builds again. */
	CU_ASSERT_EQUAL(ev_count(EV_BUILD), 1);
	/* Options left out or at their defaults recover and retry. */
	CU_ASSERT_EQUAL(provauth_run_with_session_ext(mgr, "a1", "credits", scripted_op, NULL, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
	CU_ASSERT(ev_count(EV_BUILD) >= 2);
	ro.version = 0;
	CU_ASSERT_EQUAL(provauth_run_with_session_ext(mgr, "a1", "credits", scripted_op, NULL, &ro), PROVAUTH_EINVAL);
	ro.version = PROVAUTH_RUN_OPTIONS_VERSION + 1;
	CU_ASSERT_EQUAL(provauth_run_with_session_ext(mgr, "a1", "credits", scripted_op, NULL, &ro), PROVAUTH_EINVAL);
}

/* A cookie-only account without a password comes back by a cookie refresh, and says so. */
static void test_cookie_refresh_step_is_visible(void)
{
	static const char *const methods[] = { "google", "unknown" };
	size_t i;

	for (i = 0; i < 2; i++) {
		mgr = manager_events("true", NULL, &scripted_provider_refreshing);
		put_account(store, "a1", methods[i], PW, TOK0);
		scripted_server_kick(srv);
		CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
		CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 1);
		CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
		CU_ASSERT_EQUAL(ev_count(EV_RECOVERED), 1);
		CU_ASSERT(pa_test_log_count("scripted_session_recovered", methods[i][0] == 'g'
		                            ? "account_id=a1 auth_method=google step=cookie_refresh context=credits"
		                            : "account_id=a1 auth_method=unknown step=cookie_refresh context=credits") == 1);
		/* The next loss has a refresh token (the refresh issued one): an OAuth refresh. */
		scripted_server_kick(srv);
		CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
		CU_ASSERT(pa_test_log_count("scripted_session_recovered", "step=refresh context=credits") == 1);
	}
}

/* providers.<id>.cookie_refresh: false turns the cookie refresh off, visibly. */
static void test_cookie_refresh_off(void)
{
	mgr = manager_events("true", "    cookie_refresh: false\n", &scripted_provider_refreshing);
	put_account(store, "a1", "google", NULL, TOK0);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), PROVAUTH_ESESSION);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "providers.scripted.cookie_refresh"));
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_EQUAL(ev_count("info scripted_refresh_skipped account_id,auth_method,reason,context"), 1);
	CU_ASSERT(pa_test_log_count("scripted_refresh_skipped", "reason=cookie_refresh_disabled") == 1);
	CU_ASSERT_EQUAL(ev_count(EV_RECOVERED), 0);

	/* A password account still logs in: only the cookie refresh is off. */
	mgr = manager_events("true", "    cookie_refresh: false\n", &scripted_provider_refreshing);
	put_account(store, "a1", "password", PW, TOK0);
	scripted_server_kick(srv);
	CU_ASSERT_EQUAL(provauth_run_with_session(mgr, "a1", "credits", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->refreshes), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 1);
	CU_ASSERT(pa_test_log_count("scripted_session_recovered", "step=password_login") == 1);
}

/* ---- pa_account_rmw and pa_error_save: what persistence stands on ---- */

typedef struct rmw_lose {
	int lose;                 /* puts still to refuse with PROVAUTH_ECONFLICT */
	int puts;
} rmw_lose;

static int rmw_after(pa_fwd_op op, int rc, long token, void *payload)
{
	rmw_lose *l = payload;

	(void)token;
	if (op != PA_FWD_PUT)
		return rc;
	l->puts++;
	if (l->lose > 0) {
		l->lose--;
		return pa_error_set(PROVAUTH_ECONFLICT, "test: another writer got in first");
	}
	return rc;
}

typedef struct rmw_count {
	int changes;
	int unchanged;
} rmw_count;

static int rmw_set_email(provauth_account *a, void *payload)
{
	rmw_count *n = payload;

	n->changes++;
	if (n->unchanged)
		return PA_RMW_UNCHANGED;
	return pa_set_string(&a->email, "rmw@example.com");
}

static provauth_store *rmw_store(rmw_lose *l)
{
	pa_fwd_hooks hooks = { NULL, rmw_after, l };
	provauth_store *inner = NULL, *st = NULL;
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_store_memory_new(&inner) == 0);
	CU_ASSERT_FATAL(provauth_account_new(&a, "r1", "scripted") == 0);
	CU_ASSERT_FATAL(inner->put(inner, a) == 0);
	provauth_account_free(a);
	CU_ASSERT_FATAL(pa_fwd_store_new(&st, inner, &hooks) == 0);
	return st;
}

static void test_rmw_retries_lost_races_then_writes(void)
{
	rmw_lose l = { 3, 0 };
	rmw_count n = { 0, 0 };
	provauth_store *st = rmw_store(&l);
	pa_account_rmw_op op = { 0 };
	provauth_account *a = NULL;

	op.store = st;
	op.id = "r1";
	op.change = rmw_set_email;
	op.payload = &n;
	op.keep = 1;
	CU_ASSERT_EQUAL(pa_account_rmw(&op), 0);
	CU_ASSERT_EQUAL(op.attempts, 4);
	CU_ASSERT_EQUAL(n.changes, 4);
	CU_ASSERT_EQUAL(l.puts, 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(op.kept);
	CU_ASSERT_STRING_EQUAL(op.kept->email, "rmw@example.com");
	CU_ASSERT_FATAL(st->get(st, &a, "r1") == 0);
	CU_ASSERT_STRING_EQUAL(a->email, "rmw@example.com");
	CU_ASSERT_EQUAL(a->revision, op.kept->revision);
	provauth_account_free(a);
	provauth_account_free(op.kept);
	provauth_store_free(st);
}

static void test_rmw_gives_up_after_its_bound(void)
{
	rmw_lose l = { 1000, 0 };
	rmw_count n = { 0, 0 };
	provauth_store *st = rmw_store(&l);
	pa_account_rmw_op op = { 0 };

	op.store = st;
	op.id = "r1";
	op.change = rmw_set_email;
	op.payload = &n;
	CU_ASSERT_EQUAL(pa_account_rmw(&op), PROVAUTH_ECONFLICT);
	CU_ASSERT_EQUAL(op.stage, PA_RMW_WRITE);
	/* Bounded: the same number of reads, changes and writes, and not a thousand. */
	CU_ASSERT(op.attempts > 1 && op.attempts < 100);
	CU_ASSERT_EQUAL(n.changes, op.attempts);
	CU_ASSERT_EQUAL(l.puts, op.attempts);
	CU_ASSERT_PTR_NULL(op.kept);
	provauth_store_free(st);
}

static void test_rmw_unchanged_writes_nothing(void)
{
	rmw_lose l = { 0, 0 };
	rmw_count n = { 0, 1 };
	provauth_store *st = rmw_store(&l);
	pa_account_rmw_op op = { 0 };

	op.store = st;
	op.id = "r1";
	op.change = rmw_set_email;
	op.payload = &n;
	op.keep = 1;
	CU_ASSERT_EQUAL(pa_account_rmw(&op), 0);
	CU_ASSERT_EQUAL(l.puts, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(op.kept);
	CU_ASSERT_PTR_NULL(op.kept->email);
	provauth_account_free(op.kept);
	provauth_store_free(st);
}

static void test_rmw_read_error_is_returned(void)
{
	rmw_lose l = { 0, 0 };
	rmw_count n = { 0, 0 };
	provauth_store *st = rmw_store(&l);
	pa_account_rmw_op op = { 0 };

	op.store = st;
	op.id = "nobody";
	op.change = rmw_set_email;
	op.payload = &n;
	CU_ASSERT_EQUAL(pa_account_rmw(&op), PROVAUTH_ENOTFOUND);
	CU_ASSERT_EQUAL(op.stage, PA_RMW_READ);
	CU_ASSERT_EQUAL(n.changes, 0);
	CU_ASSERT_EQUAL(l.puts, 0);
	provauth_store_free(st);
}

static void test_error_save_restore(void)
{
	pa_error_saved saved;

	pa_error_set(PROVAUTH_EAUTH, "the error that matters");
	pa_error_save(&saved, PROVAUTH_EAUTH);
	pa_error_set(PROVAUTH_EIO, "a side effect's");
	CU_ASSERT_STRING_EQUAL(provauth_last_error(), "a side effect's");
	CU_ASSERT_EQUAL(pa_error_restore(&saved), PROVAUTH_EAUTH);
	CU_ASSERT_STRING_EQUAL(provauth_last_error(), "the error that matters");
	provauth_error_clear();
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "valid session built once", test_valid_session_is_built_once },
		{ "unknown account", test_unknown_account },
		{ "password account reauths and retries once", test_password_account_reauths_and_retries_once },
		{ "non-session error never retries", test_non_session_error_never_retries },
		{ "rate limit is not a session error", test_rate_limit_is_not_a_session_error },
		{ "google never password-reauths", test_google_never_password_reauths },
		{ "unknown never password-reauths", test_unknown_never_password_reauths },
		{ "auto reauth disabled in settings", test_disabled_in_settings },
		{ "no password, then global_password", test_no_password_then_global_password },
		{ "reauth cooldown", test_reauth_cooldown },
		{ "provider login cooldown", test_provider_login_cooldown },
		{ "retry at most once", test_retry_at_most_once },
		{ "newer stored credentials reused", test_newer_stored_credentials_are_reused },
		{ "refresh before password", test_refresh_before_password },
		{ "a refresh's write survives a writer meanwhile", test_refresh_write_survives_a_writer_meanwhile },
		{ "health reset after success", test_health_reset_after_success },
		{ "a failure of a session replaced meanwhile records no health", test_stale_failure_records_no_health },
		{ "explicit reauth sets password method", test_explicit_reauth_sets_password_method },
		{ "OAuth answer marks google", test_oauth_answer_marks_google },
		{ "named operation", test_named_operation },
		{ "operation output must be JSON", test_operation_output_must_be_json },
		{ "stale put conflicts", test_stale_put_conflicts },
		{ "store_must_exist creates nothing", test_store_must_exist_creates_nothing },
		{ "storm: 32 threads, one recovery", test_storm_one_recovery },
		{ "expired access token storm: one refresh", test_expired_access_token_storm_one_refresh },
		{ "refresh ahead keeps serving", test_refresh_ahead_keeps_serving },
		{ "dead refresh token not retried", test_dead_refresh_token_not_retried },
		{ "dead refresh token recorded before expiry", test_dead_refresh_token_recorded_before_expiry },
		{ "no secret in logs or errors", test_no_secret_in_logs_or_errors },
		{ "two processes, sequential", test_two_processes_sequential },
		{ "two processes, simultaneous", test_two_processes_simultaneous },
		{ "events: build at info, once", test_events_build_at_info },
		{ "events: retry fails again", test_events_when_retry_fails_again },
		{ "events: recent failure skip", test_events_recent_failure_skip },
		{ "retry_on_session_error false", test_run_without_retry },
		{ "cookie refresh step is visible", test_cookie_refresh_step_is_visible },
		{ "cookie_refresh: false", test_cookie_refresh_off },
		{ "dead lease holder: recovery does not wait for its TTL", test_dead_lease_holder },
		PA_TEST_END
	};
	static const pa_test rmw_tests[] = {
		{ "rmw: lost races are retried, then it writes", test_rmw_retries_lost_races_then_writes },
		{ "rmw: gives up after its bound", test_rmw_gives_up_after_its_bound },
		{ "rmw: unchanged writes nothing", test_rmw_unchanged_writes_nothing },
		{ "rmw: a read error is returned", test_rmw_read_error_is_returned },
		{ "error save and restore", test_error_save_restore },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "session", setup, teardown, tests },
		{ "what persistence stands on", NULL, NULL, rmw_tests },
		PA_TEST_SUITE_END
	};
	int rc;

	rc = pa_test_run(argc, argv, suites);
	pa_test_log_reset();
	return rc;
}
