/*
 * The pixiv plugin end to end: the real plugin (dlopen()ed from
 * plugins/.libs), the real manager and sqlite store in a temporary
 * directory, against the fake pixiv server. Time is driven through the
 * manager's clock and the fake's token expiry, never by sleeping; retry
 * backoff is configured tiny.
 *
 * The manager remembers a failed refresh for 30 s per account, so every
 * case uses its own manager and its own freshly imported account.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "../fake/fake_pixiv.h"
#include "../support/pa_test.h"

#define CLIENT_SECRET "lsACyCD94FhDUtGTXi3QzcFE2uU1hqtDaKeqrdwj"
#define HASH_SECRET "28c1fdd170a5204386cb1313c7077b34f83e4aaf4aa829ce78c231e05b0bae2c"
/* Every refresh token the tests make carries this marker, so a leak is easy to find. */
#define RT_MARK "rtSECRET"

/* NULL-safe: a missing field fails the assertion instead of crashing the run. */
#define STR_EQ(a, b) CU_ASSERT((a) != NULL && (b) != NULL && strcmp((a), (b)) == 0)

static fake_pixiv *fk;
static char tmpdir[64];
static char db_path[128], key_path[128];
static provauth_store *store;
static _Atomic int64_t fake_now = 1800000000;
static int user_seq;

/* ---- log and error capture ---- */

/* Error messages are checked for secrets at the end, with the logs. */
static void note_error(void)
{
	char line[2048];
	snprintf(line, sizeof(line), "ERROR %s", provauth_last_error());
	pa_test_log_add(line);
}

static int64_t test_clock(void *payload)
{
	(void)payload;
	return atomic_load(&fake_now);
}

/* ---- setup ---- */

static int suite_init(void)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "PROVAUTH_PLUGIN_PATH is not set (run through make check)\n");
		return -1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pa-pixiv-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(db_path, sizeof(db_path), "%s/accounts.db", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/accounts.key", tmpdir);
	so.key_file = key_path;
	if (provauth_store_sqlite_open(&store, db_path, &so) < 0) {
		fprintf(stderr, "store: %s\n", provauth_last_error());
		return -1;
	}
	if (fake_pixiv_start(&fk) < 0)
		return -1;
	return 0;
}

static int suite_clean(void)
{
	provauth_store_free(store);
	fake_pixiv_stop(fk);
	pa_test_rmtree(tmpdir);
	pa_test_log_reset();
	return 0;
}

/* A second handle on the same database: what another process would read. */
static provauth_store *second_store(void)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	provauth_store *s = NULL;

	so.key_file = key_path;
	CU_ASSERT_FATAL(provauth_store_sqlite_open(&s, db_path, &so) == 0);
	return s;
}

static provauth_manager *manager_for(const char *base_url, const char *extra, provauth_store *st)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	provauth_provider_info info;
	char yaml[2048];
	size_t i;
	int found = 0;

	snprintf(yaml, sizeof(yaml),
	         "log:\n  level: debug\n"
	         "http:\n  timeout_ms: 5000\n  max_reply_bytes: 1048576\n"
	         "session:\n  recovery_wait_ms: 10000\n  lease_ttl_ms: 10000\n"
	         "providers:\n  pixiv:\n"
	         "    token_url: %s/auth/token\n"
	         "    api_base_url: %s/\n"
	         "    retry_max: 3\n    retry_base_ms: 5\n    retry_max_ms: 20\n"
	         "    rate_limit_wait: 120\n"
	         "%s",
	         base_url, base_url, extra ? extra : "");
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "pixiv-test.yaml") < 0)
		fprintf(stderr, "settings: %s\n", provauth_last_error());
	CU_ASSERT_FATAL(s != NULL);
	opts.store = st ? st : store;
	opts.clock = test_clock;
	opts.log = pa_test_log_capture;
	if (provauth_manager_new(&m, s, &opts) < 0)
		fprintf(stderr, "manager: %s\n", provauth_last_error());
	provauth_settings_free(s);
	CU_ASSERT_FATAL(m != NULL);
	for (i = 0; i < provauth_manager_provider_count(m); i++)
		if (provauth_manager_provider_info(&info, m, i) == 0 && strcmp(info.id, "pixiv") == 0) {
			found = 1;
			CU_ASSERT(info.can_refresh == 1);
			CU_ASSERT(info.can_reauth == 0);
		}
	if (!found)
		for (i = 0; i < provauth_manager_skipped_count(m); i++) {
			provauth_plugin_skip sk;
			if (provauth_manager_skipped(&sk, m, i) == 0)
				fprintf(stderr, "skipped %s: %s\n", sk.file, sk.reason);
		}
	CU_ASSERT_FATAL(found);
	return m;
}

static provauth_manager *manager(const char *extra)
{
	return manager_for(fake_pixiv_base_url(fk), extra, NULL);
}

/* A new fake user with a valid refresh token; returns the user id. */
static int new_user(char rt[64], const char *mail)
{
	char id[16], name[32];
	int n = ++user_seq;

	snprintf(rt, 64, RT_MARK "-%d-%08x", n, (unsigned int)rand());
	snprintf(id, sizeof(id), "%d", 5000 + n);
	snprintf(name, sizeof(name), "user%d", n);
	CU_ASSERT_FATAL(fake_pixiv_add_user(fk, rt, id, name, mail) == 0);
	return 5000 + n;
}

static char *import(provauth_manager *m, const char *rt)
{
	char *id = NULL;
	int rc = provauth_account_import(&id, m, "pixiv", "refresh_token", rt);

	if (rc < 0)
		fprintf(stderr, "import: %s\n", provauth_last_error());
	CU_ASSERT_FATAL(rc == 0 && id != NULL);
	return id;
}

/* A fresh account: new fake user, imported through `m`. */
static char *fresh_account(provauth_manager *m, char rt[64])
{
	char mail[64];
	int uid;

	snprintf(mail, sizeof(mail), "u%d@example.com", user_seq + 1);
	uid = new_user(rt, mail);
	(void)uid;
	return import(m, rt);
}

static provauth_account *stored(provauth_store *st, const char *id)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(st->get(st, &a, id) == 0);
	return a;
}

/* Access tokens die at the server and, for the manager, by its clock. */
static void expire_everything(void)
{
	fake_pixiv_expire_access_tokens(fk);
	atomic_fetch_add(&fake_now, 4000);
}

static int call(provauth_manager *m, const char *id, const char *op, const provauth_arg *args, size_t n,
                char **out)
{
	char *json = NULL;
	int rc = provauth_call(&json, m, id, op, args, n);

	if (rc < 0)
		note_error();
	if (out)
		*out = json;
	else
		free(json);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                    */
/* ------------------------------------------------------------------------ */

/* What a session handed to an operation carried. */
typedef struct session_seen {
	int runs;
	provauth_auth_method auth_method;
	char jwt_source[16];
	int has_access_token;
} session_seen;

static int see_session(const provauth_session *s, provauth_failure *f, void *payload)
{
	session_seen *seen = payload;

	(void)f;
	seen->runs++;
	seen->auth_method = s->auth_method;
	/* An OAuth session carries no JWT. */
	snprintf(seen->jwt_source, sizeof(seen->jwt_source), "%s",
	         provauth_session_credential(s, PROVAUTH_CRED_JWT, NULL) ? "(a jwt)" : "none");
	seen->has_access_token = provauth_session_credential(s, PROVAUTH_CRED_ACCESS_TOKEN, NULL) != NULL;
	return 0;
}

/* Spec 7.2: build_session fills auth_method (from state.auth_method), and the rest with it. */
static void test_build_session_auth_method(void)
{
	provauth_manager *m = manager(NULL);
	provauth_account *a;
	session_seen seen;
	char rt[64], *id = fresh_account(m, rt);

	memset(&seen, 0xff, sizeof(seen));
	seen.runs = 0;
	CU_ASSERT_EQUAL(provauth_run_with_session(m, id, "probe", see_session, &seen), 0);
	CU_ASSERT_EQUAL(seen.runs, 1);
	CU_ASSERT_EQUAL(seen.auth_method, PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(seen.jwt_source, "none");
	CU_ASSERT_EQUAL(seen.has_access_token, 1);
	/* Whatever the stored metadata says reaches the session (a store written by hand or an older version). */
	CU_ASSERT_EQUAL_FATAL(provauth_account_get(&a, m, id), 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "auth_method", "\"password\""), 0);
	CU_ASSERT_EQUAL(provauth_account_put(m, a), 0);
	provauth_account_free(a);
	memset(&seen, 0, sizeof(seen));
	CU_ASSERT_EQUAL(provauth_run_with_session(m, id, "probe", see_session, &seen), 0);
	CU_ASSERT_EQUAL(seen.auth_method, PROVAUTH_AUTH_PASSWORD);
	free(id);
	provauth_manager_free(m);
}

/* Spec 5.3: pixiv has no Google sign-in, so connect-google is refused and nothing is stored. */
static void test_connect_google_refused(void)
{
	provauth_manager *m = manager(NULL);
	provauth_account *before, *after;
	char rt[64], *id = fresh_account(m, rt);
	const char *msg;

	before = stored(store, id);
	CU_ASSERT_EQUAL(provauth_account_set_auth_method(m, id, PROVAUTH_AUTH_GOOGLE), PROVAUTH_EUNSUPPORTED);
	msg = provauth_last_error();
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, id));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "provider pixiv has no Google sign-in"));
	/* Nor password: pixiv has no password logins either. */
	CU_ASSERT_EQUAL(provauth_account_set_auth_method(m, id, PROVAUTH_AUTH_PASSWORD), PROVAUTH_EUNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "no password sign-in"));
	after = stored(store, id);
	CU_ASSERT_EQUAL(after->revision, before->revision);
	CU_ASSERT_STRING_EQUAL(after->metadata ? after->metadata : "", before->metadata ? before->metadata : "");
	CU_ASSERT_EQUAL(provauth_account_auth_method(after), PROVAUTH_AUTH_UNKNOWN);
	provauth_account_free(after);
	/* Back to unknown is always allowed. */
	CU_ASSERT_EQUAL(provauth_account_set_auth_method(m, id, PROVAUTH_AUTH_UNKNOWN), 0);
	provauth_account_free(before);
	free(id);
	provauth_manager_free(m);
}

static void test_import_and_user_detail(void)
{
	provauth_manager *m = manager(NULL);
	provauth_account *a;
	char rt[64], *id, *id2, *json = NULL, *v, expect_time[40], salted[160], hash[33];
	unsigned char d[16];
	unsigned int dl = 0, i;
	time_t t;
	struct tm tm;
	int uid = new_user(rt, "alice@example.com");

	fake_pixiv_reset_counts(fk);
	id = import(m, rt);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	a = stored(store, id);
	STR_EQ(a->provider, "pixiv");
	STR_EQ(a->email, "alice@example.com");
	STR_EQ(PA_CRED(a, REFRESH_TOKEN), rt);
	CU_ASSERT(PA_CRED(a, ACCESS_TOKEN) && strncmp(PA_CRED(a, ACCESS_TOKEN), "px-at-", 6) == 0);
	CU_ASSERT(PA_CRED_EXPIRES(a, ACCESS_TOKEN) == atomic_load(&fake_now) + 3600);
	CU_ASSERT(a->metadata && strstr(a->metadata, "\"user_id\":\"") != NULL);
	provauth_account_free(a);

	/* What the token endpoint saw: pixiv's headers and fields, from the manager's clock. */
	t = (time_t)atomic_load(&fake_now);
	gmtime_r(&t, &tm);
	strftime(expect_time, sizeof(expect_time), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "header:X-Client-Time");
	CU_ASSERT(v && strcmp(v, expect_time) == 0);
	free(v);
	snprintf(salted, sizeof(salted), "%s%s", expect_time, HASH_SECRET);
	EVP_Digest(salted, strlen(salted), d, &dl, EVP_md5(), NULL);
	for (i = 0; i < 16; i++)
		snprintf(hash + 2 * i, 3, "%02x", d[i]);
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "header:X-Client-Hash");
	CU_ASSERT(v && strcmp(v, hash) == 0);
	free(v);
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "header:App-OS");
	CU_ASSERT(v && strcmp(v, "ios") == 0);
	free(v);
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "header:App-OS-Version");
	CU_ASSERT(v && strcmp(v, "14.6") == 0);
	free(v);
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "header:User-Agent");
	CU_ASSERT(v && strcmp(v, "PixivIOSApp/7.13.3 (iOS 14.6; iPhone13,2)") == 0);
	free(v);
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "form:get_secure_url");
	CU_ASSERT(v && strcmp(v, "1") == 0);
	free(v);
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "form:include_policy");
	CU_ASSERT(v && strcmp(v, "true") == 0);
	free(v);

	/* The account's own user by default. */
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, &json) == 0);
	CU_ASSERT_FATAL(json != NULL);
	{
		char needle[32];
		snprintf(needle, sizeof(needle), "\"id\":%d", uid);
		CU_ASSERT(strstr(json, needle) != NULL);
	}
	free(json);
	v = fake_pixiv_last(fk, FAKE_PIXIV_API, "header:App-OS");
	CU_ASSERT(v && strcmp(v, "ios") == 0);
	free(v);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 1);

	/* Importing the same user again updates the same account. */
	id2 = import(m, rt);
	STR_EQ(id, id2);
	free(id2);
	free(id);
	provauth_manager_free(m);
}

static void test_get_passes_query(void)
{
	provauth_manager *m = manager(NULL);
	provauth_arg args[] = { { "path", "/v1/illust/recommended" }, { "filter", "for_ios" }, { "word", "a b&c" } };
	char rt[64], *id = fresh_account(m, rt), *json = NULL;

	CU_ASSERT(call(m, id, "get", args, 3, &json) == 0);
	CU_ASSERT_FATAL(json != NULL);
	CU_ASSERT(strstr(json, "\"path\":\"\\/v1\\/illust\\/recommended\"") != NULL ||
	          strstr(json, "\"path\":\"/v1/illust/recommended\"") != NULL);
	CU_ASSERT(strstr(json, "\"filter\":\"for_ios\"") != NULL);
	CU_ASSERT(strstr(json, "\"word\":\"a b&c\"") != NULL);
	free(json);
	free(id);
	provauth_manager_free(m);
}

static void test_bad_operation_arguments(void)
{
	provauth_manager *m = manager(NULL);
	provauth_arg bad_id[] = { { "user_id", "12ab" } };
	provauth_arg no_path[] = { { "filter", "x" } };
	provauth_arg evil[] = { { "path", "//evil.example/v1/x" } };
	provauth_arg query[] = { { "path", "/v1/x?y=1" } };
	char rt[64], *id = fresh_account(m, rt);

	fake_pixiv_reset_counts(fk);
	CU_ASSERT(call(m, id, "user_detail", bad_id, 1, NULL) == PROVAUTH_EINVAL);
	CU_ASSERT(strstr(provauth_last_error(), "user_id") != NULL);
	CU_ASSERT(call(m, id, "get", no_path, 1, NULL) == PROVAUTH_EINVAL);
	CU_ASSERT(strstr(provauth_last_error(), "path") != NULL);
	CU_ASSERT(call(m, id, "get", evil, 1, NULL) == PROVAUTH_EINVAL);
	CU_ASSERT(call(m, id, "get", query, 1, NULL) == PROVAUTH_EINVAL);
	CU_ASSERT(call(m, id, "no_such_op", NULL, 0, NULL) == PROVAUTH_ENOTFOUND);
	/* Refused before any request. */
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 0);
	free(id);
	provauth_manager_free(m);
}

/* The server expired the token before the manager's clock says so: one refresh, one retry. */
static void test_expired_access_token_refreshes_once(void)
{
	provauth_manager *m = manager(NULL);
	provauth_account *before, *after;
	char rt[64], *id = fresh_account(m, rt);

	before = stored(store, id);
	fake_pixiv_expire_access_tokens(fk);
	fake_pixiv_reset_counts(fk);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 2);
	after = stored(store, id);
	CU_ASSERT(PA_CRED(after, ACCESS_TOKEN) && strcmp(PA_CRED(after, ACCESS_TOKEN), PA_CRED(before, ACCESS_TOKEN)) != 0);
	STR_EQ(PA_CRED(after, REFRESH_TOKEN), rt);
	CU_ASSERT(pa_test_log_contains("pixiv_session_error_detected"));
	provauth_account_free(before);
	provauth_account_free(after);
	free(id);
	provauth_manager_free(m);
}

typedef struct storm_arg {
	provauth_manager *m;
	const char *id;
	int rc;
} storm_arg;

static void *storm_worker(void *p)
{
	storm_arg *a = p;
	char *json = NULL;

	a->rc = provauth_call(&json, a->m, a->id, "user_detail", NULL, 0);
	free(json);
	return NULL;
}

static void test_refresh_storm(void)
{
	provauth_manager *m = manager(NULL);
	pthread_t th[32];
	storm_arg args[32];
	char rt[64], *id = fresh_account(m, rt);
	int i, ok = 0;

	/* Build the session once so all threads start from the cached, soon stale one. */
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == 0);
	expire_everything();
	fake_pixiv_reset_counts(fk);
	for (i = 0; i < 32; i++) {
		args[i].m = m;
		args[i].id = id;
		args[i].rc = -999;
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, storm_worker, &args[i]) == 0);
	}
	for (i = 0; i < 32; i++) {
		pthread_join(th[i], NULL);
		ok += args[i].rc == 0;
	}
	CU_ASSERT(ok == 32);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 32);
	free(id);
	provauth_manager_free(m);
}

typedef struct rotation_check {
	provauth_store *other;
	const char *id;
	char *seen_rt;   /* the refresh token stored while the operation ran */
	int checked, same_at;
} rotation_check;

/* Runs with the refreshed session: the store must already hold what it uses. */
static int check_stored_first(const provauth_session *s, provauth_failure *f, void *payload)
{
	rotation_check *rc = payload;
	const char *session_at = provauth_session_credential(s, PROVAUTH_CRED_ACCESS_TOKEN, NULL);
	provauth_account *a = NULL;

	(void)f;
	if (rc->other->get(rc->other, &a, rc->id) == 0) {
		rc->checked = 1;
		rc->seen_rt = PA_CRED(a, REFRESH_TOKEN) ? strdup(PA_CRED(a, REFRESH_TOKEN)) : NULL;
		rc->same_at = PA_CRED(a, ACCESS_TOKEN) && session_at &&
		              strcmp(PA_CRED(a, ACCESS_TOKEN), session_at) == 0;
	}
	provauth_account_free(a);
	return 0;
}

static void test_rotation_stored_before_use(void)
{
	provauth_manager *m = manager(NULL);
	rotation_check chk = { NULL, NULL, NULL, 0, 0 };
	char rt[64], *id = fresh_account(m, rt), uid[16], *issued;
	provauth_account *a;

	a = stored(store, id);
	CU_ASSERT_FATAL(a->metadata != NULL);
	provauth_account_free(a);
	snprintf(uid, sizeof(uid), "%d", 5000 + user_seq);

	fake_pixiv_set_rotation(fk, 1, 0);
	expire_everything();
	fake_pixiv_reset_counts(fk);
	chk.other = second_store();
	chk.id = id;
	CU_ASSERT(provauth_run_with_session(m, id, "rotation_check", check_stored_first, &chk) == 0);
	issued = fake_pixiv_current_refresh_token(fk, uid);
	CU_ASSERT_FATAL(issued != NULL);
	CU_ASSERT(strcmp(issued, rt) != 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	/* While the new access token was in use, another handle already saw it and the rotated refresh token. */
	CU_ASSERT(chk.checked);
	CU_ASSERT(chk.same_at);
	CU_ASSERT(chk.seen_rt && strcmp(chk.seen_rt, issued) == 0);

	fake_pixiv_set_rotation(fk, 0, 0);
	free(issued);
	free(chk.seen_rt);
	provauth_store_free(chk.other);
	free(id);
	provauth_manager_free(m);
}

/* Rotation with revocation: a second manager (another process) must use the stored token, not its stale one. */
static void test_rotation_revocation_two_managers(void)
{
	provauth_store *other = second_store();
	provauth_manager *a = manager(NULL), *b;
	provauth_account *acct;
	char rt[64], *id = fresh_account(a, rt), uid[16], *cur;

	b = manager_for(fake_pixiv_base_url(fk), NULL, other);
	snprintf(uid, sizeof(uid), "%d", 5000 + user_seq);
	CU_ASSERT(call(a, id, "user_detail", NULL, 0, NULL) == 0);
	CU_ASSERT(call(b, id, "user_detail", NULL, 0, NULL) == 0);

	fake_pixiv_set_rotation(fk, 1, 1);
	expire_everything();
	fake_pixiv_reset_counts(fk);
	CU_ASSERT(call(a, id, "user_detail", NULL, 0, NULL) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	/* The imported token is dead now. */
	cur = fake_pixiv_current_refresh_token(fk, uid);
	CU_ASSERT_FATAL(cur != NULL);
	CU_ASSERT(strcmp(cur, rt) != 0);

	/* b's cached session is stale and expired: it must pick up what a stored. */
	CU_ASSERT(call(b, id, "user_detail", NULL, 0, NULL) == 0);
	CU_ASSERT(call(b, id, "user_detail", NULL, 0, NULL) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	acct = stored(other, id);
	CU_ASSERT(PA_CRED(acct, REFRESH_TOKEN) && strcmp(PA_CRED(acct, REFRESH_TOKEN), cur) == 0);
	CU_ASSERT(!acct->state.health.state || strcmp(acct->state.health.state, "invalid") != 0);
	provauth_account_free(acct);

	/* Another round, now started by b: a follows. */
	expire_everything();
	fake_pixiv_reset_counts(fk);
	CU_ASSERT(call(b, id, "user_detail", NULL, 0, NULL) == 0);
	CU_ASSERT(call(a, id, "user_detail", NULL, 0, NULL) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);

	fake_pixiv_set_rotation(fk, 0, 0);
	free(cur);
	free(id);
	provauth_manager_free(b);
	provauth_manager_free(a);
	provauth_store_free(other);
}

static void test_dead_refresh_token(void)
{
	provauth_manager *m = manager(NULL);
	provauth_account *acct;
	char rt[64], rt2[64], *id = fresh_account(m, rt), *id2, uid[16];
	int rc;

	snprintf(uid, sizeof(uid), "%d", 5000 + user_seq);
	fake_pixiv_revoke(fk, rt);
	expire_everything();
	fake_pixiv_reset_counts(fk);
	rc = call(m, id, "user_detail", NULL, 0, NULL);
	CU_ASSERT(rc == PROVAUTH_EAUTH);
	CU_ASSERT(strstr(provauth_last_error(), "supply a new refresh token") != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "invalid_grant") != NULL);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	acct = stored(store, id);
	CU_ASSERT(acct->state.health.state && strcmp(acct->state.health.state, "invalid") == 0 &&
	          acct->state.health.message && strstr(acct->state.health.message, "supply a new refresh token"));
	/* The dead token stays stored (nothing replaced it), so the user can see which one failed. */
	STR_EQ(PA_CRED(acct, REFRESH_TOKEN), rt);
	provauth_account_free(acct);

	/* A second call does not hit the token endpoint again. */
	fake_pixiv_reset_counts(fk);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == PROVAUTH_EAUTH);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 0);

	/* The way out the message names: import a new token for the same user. */
	snprintf(rt2, sizeof(rt2), RT_MARK "-new-%s", uid);
	CU_ASSERT_FATAL(fake_pixiv_add_user(fk, rt2, uid, "again", NULL) == 0);
	id2 = import(m, rt2);
	STR_EQ(id2, id);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == 0);
	acct = stored(store, id);
	STR_EQ(PA_CRED(acct, REFRESH_TOKEN), rt2);
	CU_ASSERT(acct->state.health.state && strcmp(acct->state.health.state, "ok") == 0);
	provauth_account_free(acct);
	free(id2);
	free(id);
	provauth_manager_free(m);
}

static void test_rate_limit_is_not_refreshed(void)
{
	provauth_manager *m = manager(NULL);
	char rt[64], *id = fresh_account(m, rt);

	fake_pixiv_reset_counts(fk);
	fake_pixiv_set_rate_limit(fk, FAKE_PIXIV_API, 403, 7, 1);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == PROVAUTH_ERATELIMIT);
	CU_ASSERT(strstr(provauth_last_error(), "retry after 7s") != NULL);

	fake_pixiv_set_rate_limit(fk, FAKE_PIXIV_API, 429, -1, 1);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == PROVAUTH_ERATELIMIT);
	CU_ASSERT(strstr(provauth_last_error(), "retry after 120s") != NULL);

	fake_pixiv_set_rate_limit(fk, FAKE_PIXIV_API, 400, -1, 1);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == PROVAUTH_ERATELIMIT);

	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 3);
	/* And the account is fine afterwards. */
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == 0);
	free(id);
	provauth_manager_free(m);
}

static void test_wrong_hash_secret(void)
{
	provauth_manager *good = manager(NULL), *m;
	provauth_account *before, *after;
	char rt[64], *id = fresh_account(good, rt), *bad = NULL;

	provauth_manager_free(good);
	m = manager("    hash_secret: not-the-hash-secret-0000\n");
	/* Import: refused before anything is stored. */
	fake_pixiv_reset_counts(fk);
	CU_ASSERT(provauth_account_import(&bad, m, "pixiv", "refresh_token", rt) == PROVAUTH_EPROTOCOL);
	note_error();
	CU_ASSERT(bad == NULL);
	CU_ASSERT(strstr(provauth_last_error(), "access_denied") != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "hash_secret") != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "not-the-hash-secret") == NULL);
	/* Refresh: the same, not retried, the stored tokens untouched. */
	before = stored(store, id);
	expire_everything();
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == PROVAUTH_EPROTOCOL);
	CU_ASSERT(strstr(provauth_last_error(), "client time or hash") != NULL);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 2);
	after = stored(store, id);
	STR_EQ(PA_CRED(after, REFRESH_TOKEN), PA_CRED(before, REFRESH_TOKEN));
	STR_EQ(PA_CRED(after, ACCESS_TOKEN), PA_CRED(before, ACCESS_TOKEN));
	provauth_account_free(before);
	provauth_account_free(after);
	free(id);
	provauth_manager_free(m);
}

static void test_wrong_client_secret(void)
{
	provauth_manager *m = manager("    client_secret: wrong-client-secret-1111\n");
	char rt[64], *id = NULL;

	new_user(rt, NULL);
	fake_pixiv_reset_counts(fk);
	CU_ASSERT(provauth_account_import(&id, m, "pixiv", "refresh_token", rt) == PROVAUTH_ECONFIG);
	note_error();
	CU_ASSERT(id == NULL);
	CU_ASSERT(strstr(provauth_last_error(), "providers.pixiv.client_secret") != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "wrong-client-secret") == NULL);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	provauth_manager_free(m);
}

/*
 * After a refused client: the error names the settings, gives no advice
 * about the account, and the account is as it was (health not invalid, no
 * refused-token mark, the same refresh token).
 */
static void check_client_error(int rc, const char *id, const char *rt)
{
	provauth_account *a = stored(store, id);

	CU_ASSERT(rc == PROVAUTH_ECONFIG);
	CU_ASSERT(strstr(provauth_last_error(), "providers.pixiv.client_id") != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "providers.pixiv.client_secret") != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "invalid_client") != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "supply") == NULL);
	CU_ASSERT(strstr(provauth_last_error(), "wrong-client-secret") == NULL);
	STR_EQ(PA_CRED(a, REFRESH_TOKEN), rt);
	CU_ASSERT(!a->state.health.state || strcmp(a->state.health.state, "invalid") != 0);
	CU_ASSERT(a->state.refresh_refused == NULL);
	provauth_account_free(a);
}

/* The three ways a refresh starts, each against a token endpoint that refuses the client. */
static void client_error_every_trigger(const char *mode, int standard, long status)
{
	char good_yaml[256], bad_yaml[256], rt[64], *id;
	provauth_manager *good, *m;
	/* RFC 6749 servers send no user: an operation that needs none. */
	const provauth_arg feed[] = { { "path", "/v2/feed" } };
	int rc;

	snprintf(good_yaml, sizeof(good_yaml), "%s", mode);
	snprintf(bad_yaml, sizeof(bad_yaml), "%s    client_secret: wrong-client-secret-2222\n", mode);
	fake_pixiv_set_standard(fk, standard, 1);
	fake_pixiv_set_client_error_status(fk, status);

	/* (1) The API rejects the access token; the refresh it starts is refused. */
	good = manager(good_yaml);
	id = fresh_account(good, rt);
	provauth_manager_free(good);
	m = manager(bad_yaml);
	fake_pixiv_expire_access_tokens(fk);
	fake_pixiv_reset_counts(fk);
	rc = call(m, id, "get", feed, 1, NULL);
	check_client_error(rc, id, rt);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 1);
	provauth_manager_free(m);

	/* (2) The access token expired by the manager's clock. */
	m = manager(bad_yaml);
	expire_everything();
	fake_pixiv_reset_counts(fk);
	rc = call(m, id, "get", feed, 1, NULL);
	check_client_error(rc, id, rt);
	CU_ASSERT(strstr(provauth_last_error(), "expired access token was not renewed") != NULL);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 0);
	provauth_manager_free(m);
	free(id);

	/* (3) Ahead of expiry (refresh_ahead 300 s): the token works, the refresh is refused. */
	good = manager(good_yaml);
	id = fresh_account(good, rt);
	provauth_manager_free(good);
	m = manager(bad_yaml);
	atomic_fetch_add(&fake_now, 3600 - 100);
	fake_pixiv_reset_counts(fk);
	rc = call(m, id, "get", feed, 1, NULL);
	check_client_error(rc, id, rt);
	CU_ASSERT(strstr(provauth_last_error(), "soon expiring access token was not renewed") != NULL);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	provauth_manager_free(m);
	free(id);

	fake_pixiv_set_client_error_status(fk, 0);
	fake_pixiv_set_standard(fk, 0, 1);
}

static void test_client_error_is_configuration(void)
{
	/* pixiv's own 400, and the two answers RFC 6749 servers give. */
	client_error_every_trigger("", 0, 400);
	client_error_every_trigger("    standard_oauth: true\n", 1, 400);
	client_error_every_trigger("    standard_oauth: true\n", 1, 401);
}

/* A token refused for good is not sent again by a new process, until the account gets new credentials. */
static void test_dead_refresh_token_other_process(void)
{
	provauth_manager *m = manager(NULL), *m2;
	provauth_store *st2;
	provauth_account *a;
	char rt[64], rt2[64], uid[16], *id = fresh_account(m, rt), *id2;

	snprintf(uid, sizeof(uid), "%d", 5000 + user_seq);
	fake_pixiv_revoke(fk, rt);
	expire_everything();
	fake_pixiv_reset_counts(fk);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == PROVAUTH_EAUTH);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	provauth_manager_free(m);
	a = stored(store, id);
	CU_ASSERT(a->state.refresh_refused != NULL);
	/* The mark names the token by a digest only. */
	CU_ASSERT(a->state.refresh_refused && strstr(a->state.refresh_refused, RT_MARK) == NULL);
	CU_ASSERT(a->metadata && strstr(a->metadata, RT_MARK) == NULL);
	provauth_account_free(a);

	/* Another process: its own store handle, its own manager, nothing in memory. */
	st2 = second_store();
	m2 = manager_for(fake_pixiv_base_url(fk), NULL, st2);
	CU_ASSERT(call(m2, id, "user_detail", NULL, 0, NULL) == PROVAUTH_EAUTH);
	CU_ASSERT(strstr(provauth_last_error(), "not sent again") != NULL);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	provauth_manager_free(m2);
	m2 = manager_for(fake_pixiv_base_url(fk), NULL, st2);
	CU_ASSERT(call(m2, id, "user_detail", NULL, 0, NULL) == PROVAUTH_EAUTH);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);

	/* New credentials lift it: a re-import, then a refresh of the new token. */
	snprintf(rt2, sizeof(rt2), RT_MARK "-other-%s", uid);
	CU_ASSERT_FATAL(fake_pixiv_add_user(fk, rt2, uid, "again", NULL) == 0);
	id2 = import(m2, rt2);
	STR_EQ(id2, id);
	expire_everything();
	fake_pixiv_reset_counts(fk);
	CU_ASSERT(call(m2, id, "user_detail", NULL, 0, NULL) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	free(id2);
	free(id);
	provauth_manager_free(m2);
	provauth_store_free(st2);
}

/* 400 invalid_request: the request, not the token, is wrong; the message says what and where to look. */
static void test_invalid_request(void)
{
	provauth_manager *m = manager(NULL);
	provauth_account *a;
	char rt[64], rt2[64], *id = fresh_account(m, rt), *bad = NULL;
	int rc;

	fake_pixiv_set_required_param(fk, "scope");
	new_user(rt2, NULL);
	rc = provauth_account_import(&bad, m, "pixiv", "refresh_token", rt2);
	note_error();
	CU_ASSERT(rc == PROVAUTH_ECONFIG);
	CU_ASSERT(bad == NULL);
	CU_ASSERT(strstr(provauth_last_error(), "invalid_request") != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "Missing required parameter: scope") != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "providers.pixiv.token_url") != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "providers.pixiv.client_id") != NULL);

	/* The same on a refresh: the account is not judged and keeps its token. */
	expire_everything();
	fake_pixiv_reset_counts(fk);
	rc = call(m, id, "user_detail", NULL, 0, NULL);
	CU_ASSERT(rc == PROVAUTH_ECONFIG);
	CU_ASSERT(strstr(provauth_last_error(), "Missing required parameter: scope") != NULL);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	a = stored(store, id);
	STR_EQ(PA_CRED(a, REFRESH_TOKEN), rt);
	CU_ASSERT(!a->state.health.state || strcmp(a->state.health.state, "invalid") != 0);
	provauth_account_free(a);

	fake_pixiv_set_required_param(fk, NULL);
	provauth_manager_free(m);
	/* A new manager: the failed refresh is remembered for 30 s by the first one. */
	m = manager(NULL);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == 0);
	free(id);
	provauth_manager_free(m);
}

static void test_server_errors_then_success(void)
{
	provauth_manager *m = manager(NULL);
	char rt[64], *id = fresh_account(m, rt);
	struct timespec t0, t1;
	double secs;

	expire_everything();
	fake_pixiv_reset_counts(fk);
	fake_pixiv_set_fault(fk, FAKE_PIXIV_TOKEN, FAKE_PIXIV_FAULT_STATUS, 503, 2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 3);
	CU_ASSERT(secs < 2.0);
	CU_ASSERT(pa_test_log_contains("pixiv_token_retry"));

	/* A connection dropped mid-reply is retried as well. */
	expire_everything();
	fake_pixiv_reset_counts(fk);
	fake_pixiv_set_fault(fk, FAKE_PIXIV_TOKEN, FAKE_PIXIV_FAULT_RESET, 0, 1);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 2);
	free(id);
	provauth_manager_free(m);
}

static void test_server_errors_exhaust_retries(void)
{
	provauth_manager *m = manager(NULL);
	provauth_account *before, *after;
	char rt[64], *id = fresh_account(m, rt);

	before = stored(store, id);
	expire_everything();
	fake_pixiv_reset_counts(fk);
	fake_pixiv_set_fault(fk, FAKE_PIXIV_TOKEN, FAKE_PIXIV_FAULT_STATUS, 502, -1);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == PROVAUTH_EHTTP);
	CU_ASSERT(strstr(provauth_last_error(), "HTTP 502") != NULL);
	/* retry_max 3: four attempts, then it gives up. */
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 4);
	fake_pixiv_set_fault(fk, FAKE_PIXIV_TOKEN, FAKE_PIXIV_FAULT_NONE, 0, 0);
	after = stored(store, id);
	STR_EQ(PA_CRED(after, REFRESH_TOKEN), PA_CRED(before, REFRESH_TOKEN));
	provauth_account_free(before);
	provauth_account_free(after);
	free(id);
	provauth_manager_free(m);
}

static void malformed_case(fake_pixiv_fault fault, long param, int expect_rc, const char *needle)
{
	provauth_manager *m = manager(NULL);
	provauth_account *before, *after;
	char rt[64], *id = fresh_account(m, rt);

	before = stored(store, id);
	expire_everything();
	fake_pixiv_reset_counts(fk);
	fake_pixiv_set_fault(fk, FAKE_PIXIV_TOKEN, fault, param, 1);
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == expect_rc);
	if (!strstr(provauth_last_error(), needle))
		fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", provauth_last_error(), needle);
	CU_ASSERT(strstr(provauth_last_error(), needle) != NULL);
	/* A reply we could not read is not retried: the server may have acted on it. */
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 0);
	after = stored(store, id);
	STR_EQ(PA_CRED(after, REFRESH_TOKEN), PA_CRED(before, REFRESH_TOKEN));
	STR_EQ(PA_CRED(after, ACCESS_TOKEN), PA_CRED(before, ACCESS_TOKEN));
	CU_ASSERT(PA_CRED_EXPIRES(after, ACCESS_TOKEN) == PA_CRED_EXPIRES(before, ACCESS_TOKEN));
	provauth_account_free(before);
	provauth_account_free(after);
	fake_pixiv_set_fault(fk, FAKE_PIXIV_TOKEN, FAKE_PIXIV_FAULT_NONE, 0, 0);
	free(id);
	provauth_manager_free(m);
}

static void test_malformed_replies(void)
{
	malformed_case(FAKE_PIXIV_FAULT_TRUNCATED, 0, PROVAUTH_EPROTOCOL, "not JSON");
	malformed_case(FAKE_PIXIV_FAULT_NOT_JSON, 0, PROVAUTH_EPROTOCOL, "not JSON");
	malformed_case(FAKE_PIXIV_FAULT_HUGE, 2 * 1024 * 1024, PROVAUTH_ETOOBIG, "");
	malformed_case(FAKE_PIXIV_FAULT_REDIRECT_LOOP, 0, PROVAUTH_EHTTP, "redirect");
}

static void test_device_token_is_sent(void)
{
	provauth_manager *m = manager(NULL);
	provauth_account *a;
	char rt[64], *id = fresh_account(m, rt), *v;

	a = stored(store, id);
	CU_ASSERT_FATAL(provauth_account_set_metadata(a, "device_token", "\"dev-77\"") == 0);
	CU_ASSERT_FATAL(provauth_account_put(m, a) == 0);
	provauth_account_free(a);
	expire_everything();
	CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == 0);
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "form:device_token");
	CU_ASSERT(v && strcmp(v, "dev-77") == 0);
	free(v);
	free(id);
	provauth_manager_free(m);
}

static int import_into(provauth_manager *m, const char *account, const char *rt, char **out_id)
{
	provauth_import_options o = PROVAUTH_IMPORT_OPTIONS_INIT;
	int rc;

	o.account_id = account;
	if ((rc = provauth_account_import_ext(out_id, m, "pixiv", "refresh_token", rt, &o)) < 0)
		note_error();
	return rc;
}

/*
 * A re-import into the account sends its device_token with the exchange; an
 * import that has to find the account by email cannot (a new device).
 */
static void test_reimport_keeps_device_token(void)
{
	provauth_manager *m = manager(NULL);
	provauth_account *a;
	char rt[64], *id = fresh_account(m, rt), *id2 = NULL, *v;

	a = stored(store, id);
	CU_ASSERT_FATAL(provauth_account_set_metadata(a, "device_token", "\"dev-reimport-5\"") == 0);
	CU_ASSERT_FATAL(provauth_account_put(m, a) == 0);
	provauth_account_free(a);

	CU_ASSERT_EQUAL(import_into(m, id, rt, &id2), 0);
	CU_ASSERT_FATAL(id2 != NULL);
	CU_ASSERT_STRING_EQUAL(id2, id);
	free(id2);
	id2 = NULL;
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "form:device_token");
	CU_ASSERT(v && strcmp(v, "dev-reimport-5") == 0);
	free(v);
	a = stored(store, id);
	CU_ASSERT_PTR_NOT_NULL(strstr(a->metadata, "\"dev-reimport-5\""));
	provauth_account_free(a);

	CU_ASSERT_EQUAL(provauth_account_import(&id2, m, "pixiv", "refresh_token", rt), 0);
	CU_ASSERT(id2 && strcmp(id2, id) == 0);
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "form:device_token");
	CU_ASSERT_PTR_NULL(v);
	free(v);
	free(id2);
	free(id);
	provauth_manager_free(m);
}

/*
 * Another user's token into the account, on a server that rotates and
 * revokes: the account is untouched, and the replacement token (the only
 * one that still works) is kept in the other user's account, not dropped.
 */
static void test_reimport_other_user(void)
{
	provauth_manager *m = manager(NULL);
	provauth_account *before, *after, *other;
	char rt[64], rt2[64], *id = fresh_account(m, rt), *id2 = NULL, *cur, *saved, *p, last_error[1024];
	int uid2;

	before = stored(store, id);
	uid2 = new_user(rt2, "other-5@example.com");
	/* A token the server hands back unchanged: the user still holds it, nothing is stored. */
	CU_ASSERT_EQUAL(import_into(m, id, rt2, &id2), PROVAUTH_EINVAL);
	snprintf(last_error, sizeof(last_error), "%s", provauth_last_error());
	CU_ASSERT_PTR_NULL(id2);
	CU_ASSERT(strstr(last_error, id) && strstr(last_error, "other-5@example.com") &&
	          strstr(last_error, before->email) && strstr(last_error, "nothing was stored"));
	CU_ASSERT_PTR_NULL(strstr(last_error, rt2));
	after = stored(store, id);
	CU_ASSERT_EQUAL(after->revision, before->revision);
	provauth_account_free(after);

	fake_pixiv_set_rotation(fk, 1, 1);
	CU_ASSERT_EQUAL(import_into(m, id, rt2, &id2), PROVAUTH_EINVAL);
	snprintf(last_error, sizeof(last_error), "%s", provauth_last_error());
	fake_pixiv_set_rotation(fk, 0, 0);
	CU_ASSERT_PTR_NULL(id2);
	CU_ASSERT_PTR_NULL(strstr(last_error, rt2));
	after = stored(store, id);
	CU_ASSERT_EQUAL(after->revision, before->revision);
	CU_ASSERT_STRING_EQUAL(PA_CRED(after, REFRESH_TOKEN), PA_CRED(before, REFRESH_TOKEN));
	provauth_account_free(after);
	/* The message names where the new token went; that account holds the live one. */
	CU_ASSERT_FATAL((p = strstr(last_error, "stored in account ")) != NULL);
	saved = strndup(p + strlen("stored in account "), strcspn(p + strlen("stored in account "), " "));
	other = stored(store, saved);
	cur = fake_pixiv_current_refresh_token(fk, (snprintf(rt, sizeof(rt), "%d", uid2), rt));
	CU_ASSERT(cur && PA_CRED(other, REFRESH_TOKEN) && strcmp(cur, PA_CRED(other, REFRESH_TOKEN)) == 0);
	CU_ASSERT(cur && strcmp(cur, rt2) != 0);
	CU_ASSERT_STRING_EQUAL(other->email, "other-5@example.com");
	provauth_account_free(other);
	free(cur);
	free(saved);
	provauth_account_free(before);
	free(id);
	provauth_manager_free(m);
}

static void test_standard_oauth_mode(void)
{
	provauth_manager *m;
	provauth_account *a;
	char rt[64], *id, *v, *json = NULL;

	fake_pixiv_set_standard(fk, 1, 0);
	m = manager("    standard_oauth: true\n");
	new_user(rt, NULL);
	fake_pixiv_reset_counts(fk);
	id = import(m, rt);
	/* RFC 6749 fields only. */
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "header:X-Client-Time");
	CU_ASSERT(v == NULL);
	free(v);
	v = fake_pixiv_last(fk, FAKE_PIXIV_TOKEN, "form:get_secure_url");
	CU_ASSERT(v == NULL);
	free(v);
	a = stored(store, id);
	STR_EQ(a->email, "oauth-account");
	/* The server sent no refresh token: the imported one is kept. */
	STR_EQ(PA_CRED(a, REFRESH_TOKEN), rt);
	provauth_account_free(a);

	CU_ASSERT(call(m, id, "get", (provauth_arg[]){ { "path", "/v2/feed" } }, 1, &json) == 0);
	CU_ASSERT(json && strstr(json, "feed"));
	free(json);
	/* 401 invalid_token: refresh, retry, keep the refresh token. */
	fake_pixiv_expire_access_tokens(fk);
	fake_pixiv_reset_counts(fk);
	CU_ASSERT(call(m, id, "get", (provauth_arg[]){ { "path", "/v2/feed" } }, 1, NULL) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 2);
	a = stored(store, id);
	STR_EQ(PA_CRED(a, REFRESH_TOKEN), rt);
	provauth_account_free(a);
	/* And a refresh ahead of expiry, by the manager's clock. */
	expire_everything();
	fake_pixiv_reset_counts(fk);
	CU_ASSERT(call(m, id, "get", (provauth_arg[]){ { "path", "/v2/feed" } }, 1, NULL) == 0);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == 1);

	fake_pixiv_set_standard(fk, 0, 1);
	free(id);
	provauth_manager_free(m);
}

static void test_import_rejects_bad_input(void)
{
	provauth_manager *m = manager(NULL);
	char *id = NULL;

	fake_pixiv_reset_counts(fk);
	CU_ASSERT(provauth_account_import(&id, m, "pixiv", "refresh_token", "  \n") == PROVAUTH_EINVAL);
	note_error();
	CU_ASSERT(provauth_account_import(&id, m, "pixiv", "refresh_token", RT_MARK "-with space") == PROVAUTH_EINVAL);
	note_error();
	CU_ASSERT(strstr(provauth_last_error(), RT_MARK) == NULL);
	CU_ASSERT(provauth_account_import(&id, m, "pixiv", "cookies", "a=b") == PROVAUTH_EUNSUPPORTED);
	note_error();
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 0);
	/* A token pixiv does not know: refused with the way out, nothing stored. */
	CU_ASSERT(provauth_account_import(&id, m, "pixiv", "refresh_token", RT_MARK "-unknown-1") == PROVAUTH_EAUTH);
	note_error();
	CU_ASSERT(strstr(provauth_last_error(), "supply a new refresh token") != NULL);
	CU_ASSERT(id == NULL);
	provauth_manager_free(m);
}

/* ---- the standalone program ---- */

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p; (void)u;
	return s * n;
}

static long control(const char *base, const char *cmd)
{
	char url[512];
	CURL *c = curl_easy_init();
	long status = 0;

	snprintf(url, sizeof(url), "%s/__control/%s", base, cmd);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static void test_fake_pixiv_program(void)
{
	const char *builddir = getenv("PA_BUILDDIR");
	char prog[512], line[64], base[64], *id = NULL;
	int in[2], out[2], status = 0, port = 0, i;
	provauth_manager *m;
	FILE *rd;
	pid_t pid;

	CU_ASSERT_FATAL(builddir != NULL);
	snprintf(prog, sizeof(prog), "%s/tests/fake/fake-pixiv", builddir);
	CU_ASSERT_FATAL(pipe(in) == 0 && pipe(out) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(prog, prog, "--user", RT_MARK "-bin:777:binuser:bin@example.com", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	rd = fdopen(out[0], "r");
	CU_ASSERT_FATAL(rd != NULL);
	if (fgets(line, sizeof(line), rd))
		sscanf(line, "PORT=%d", &port);
	CU_ASSERT_FATAL(port > 0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);

	CU_ASSERT(control(base, "config?expires_in=600") == 200);
	CU_ASSERT(control(base, "nonsense") == 400);
	m = manager_for(base, NULL, NULL);
	CU_ASSERT(provauth_account_import(&id, m, "pixiv", "refresh_token", RT_MARK "-bin") == 0);
	if (id) {
		provauth_account *a = stored(store, id);
		STR_EQ(a->email, "bin@example.com");
		CU_ASSERT(PA_CRED_EXPIRES(a, ACCESS_TOKEN) == atomic_load(&fake_now) + 600);
		provauth_account_free(a);
		CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == 0);
		CU_ASSERT(control(base, "expire") == 200);
		CU_ASSERT(call(m, id, "user_detail", NULL, 0, NULL) == 0);
	}
	free(id);
	provauth_manager_free(m);

	/* End of input ends it. */
	close(in[1]);
	for (i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	if (i == 200) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	CU_ASSERT(i < 200);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fclose(rd);
}

/* Last: everything logged and every error message, checked for secrets. */
static void test_no_secrets_in_logs_or_errors(void)
{
	provauth_account **list = NULL;
	size_t n = 0, i;

	CU_ASSERT_FATAL(pa_test_log_text() != NULL);
	CU_ASSERT(pa_test_log_contains("pixiv_refresh_completed"));
	CU_ASSERT(!pa_test_log_contains(RT_MARK));
	CU_ASSERT(!pa_test_log_contains("px-at-"));
	CU_ASSERT(!pa_test_log_contains("px-rt-"));
	CU_ASSERT(!pa_test_log_contains(CLIENT_SECRET));
	CU_ASSERT(!pa_test_log_contains(HASH_SECRET));
	CU_ASSERT(!pa_test_log_contains("wrong-client-secret"));
	CU_ASSERT(!pa_test_log_contains("not-the-hash-secret"));
	CU_ASSERT_FATAL(store->list(store, &list, &n, "pixiv") == 0);
	CU_ASSERT(n > 5);
	for (i = 0; i < n; i++) {
		if (PA_CRED(list[i], ACCESS_TOKEN))
			CU_ASSERT(!pa_test_log_contains(PA_CRED(list[i], ACCESS_TOKEN)));
		if (PA_CRED(list[i], REFRESH_TOKEN))
			CU_ASSERT(!pa_test_log_contains(PA_CRED(list[i], REFRESH_TOKEN)));
	}
	provauth_account_list_free(list, n);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "import and user_detail", test_import_and_user_detail },
		{ "build_session fills auth_method", test_build_session_auth_method },
		{ "connect-google refused: no Google sign-in, nothing stored", test_connect_google_refused },
		{ "get passes query parameters", test_get_passes_query },
		{ "bad operation arguments", test_bad_operation_arguments },
		{ "expired access token: one refresh, one retry", test_expired_access_token_refreshes_once },
		{ "refresh storm: 32 threads, one token request", test_refresh_storm },
		{ "rotation: stored before use", test_rotation_stored_before_use },
		{ "rotation + revocation: two managers", test_rotation_revocation_two_managers },
		{ "dead refresh token", test_dead_refresh_token },
		{ "rate limit is not refreshed", test_rate_limit_is_not_refreshed },
		{ "wrong hash secret", test_wrong_hash_secret },
		{ "wrong client secret", test_wrong_client_secret },
		{ "wrong client secret: configuration error on every trigger", test_client_error_is_configuration },
		{ "dead refresh token: not sent again by another process", test_dead_refresh_token_other_process },
		{ "token endpoint 400 invalid_request", test_invalid_request },
		{ "5xx then success", test_server_errors_then_success },
		{ "5xx exhausts retries", test_server_errors_exhaust_retries },
		{ "malformed replies", test_malformed_replies },
		{ "device token is sent", test_device_token_is_sent },
		{ "re-import into the account keeps its device token", test_reimport_keeps_device_token },
		{ "re-import of another user's token", test_reimport_other_user },
		{ "standard RFC 6749 mode", test_standard_oauth_mode },
		{ "import rejects bad input", test_import_rejects_bad_input },
		{ "fake-pixiv program", test_fake_pixiv_program },
		{ "no secrets in logs or errors", test_no_secrets_in_logs_or_errors },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "pixiv integration", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END
	};

	signal(SIGPIPE, SIG_IGN);
	srand((unsigned int)getpid());
	return pa_test_run(argc, argv, suites);
}
