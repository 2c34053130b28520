/*
 * A store that cannot be written: the disk fills up (RLIMIT_FSIZE in a
 * child, SIGXFSZ ignored, so every write fails with EFBIG as on a full
 * file system) or the file is read-only.
 *
 * The rule under test: credentials that could not be stored are never
 * handed out, and the caller gets an error that names the account and the
 * store and says what the failed write may have cost.
 *
 * Each case runs the manager in a child (this program re-executed with
 * --child) because the file-size limit is per process; the fake pixiv
 * server (rotation with revocation of the old refresh token, as the
 * harshest provider) runs in the parent, which judges the result.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "../fake/fake_pixiv.h"
#include "../support/pa_test.h"

static char self_exe[4096];
static char tmpdir[64], db_path[128], key_path[128];
static fake_pixiv *fk;
static int users;

/* ------------------------------------------------------------------------ */
/* The child: one call on a store that fills up at a chosen moment          */
/* ------------------------------------------------------------------------ */

/* Whether the disk of the forwarding store "fills up" once the recovery lease is written. */
static int full_after_lease;

static void disk_full(void)
{
	struct rlimit rl = { 1, 1 };

	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &rl);
}

static int fill_after(pa_fwd_op op, int rc, long token, void *payload)
{
	(void)token; (void)payload;
	/* The lease was written; the credentials that follow will not be. */
	if (op == PA_FWD_LEASE_ACQUIRE && rc == 0 && full_after_lease)
		disk_full();
	return rc;
}

static int saw_not_stored;

static void child_log(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                      void *payload)
{
	(void)f; (void)n; (void)payload;
	if (level == PROVAUTH_LOG_ERROR && strcmp(event, "provauth_credentials_not_stored") == 0)
		saw_not_stored = 1;
}

/* A day ahead: the stored access token has expired, so the call cannot go on without a refresh. */
static int64_t day_ahead(void *payload)
{
	(void)payload;
	return (int64_t)time(NULL) + 86400;
}

static provauth_manager *open_manager(const char *url, provauth_store *store, int expired)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[2048];

	snprintf(yaml, sizeof(yaml),
	         "store:\n  path: %s\n  key_file: %s\n"
	         "session:\n  recovery_wait_ms: 5000\n  lease_ttl_ms: 200\n"
	         "providers:\n  pixiv:\n    token_url: %s/auth/token\n    api_base_url: %s/\n"
	         "    retry_max: 1\n    retry_base_ms: 5\n    retry_max_ms: 10\n",
	         db_path, key_path, url, url);
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "store-full.yaml") < 0)
		return NULL;
	opts.log = child_log;
	opts.store = store;
	if (expired)
		opts.clock = day_ahead;
	if (provauth_manager_new(&m, s, &opts) < 0)
		m = NULL;
	provauth_settings_free(s);
	return m;
}

/*
 * argv: --child WHEN DIR URL ACCOUNT_ID, WHEN "start" (full before the call),
 * "after-lease" (full once the recovery lease is written) or "valid" (as
 * after-lease, but the stored access token has not expired yet). Writes
 * "RC LOGGED\nMESSAGE" to stdout, LOGGED 1 when credentials_not_stored was
 * logged as an error.
 */
static int child_main(int argc, char **argv)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	provauth_manager *m;
	static const pa_fwd_hooks hooks = { NULL, fill_after, NULL };
	provauth_store *inner, *store;
	char *out = NULL;
	int rc;

	if (argc < 6)
		return 2;
	snprintf(db_path, sizeof(db_path), "%s/accounts.db", argv[3]);
	snprintf(key_path, sizeof(key_path), "%s/accounts.key", argv[3]);
	so.key_file = key_path;
	if (provauth_store_sqlite_open(&inner, db_path, &so) < 0 || pa_fwd_store_new(&store, inner, &hooks) < 0)
		return 3;
	full_after_lease = strcmp(argv[2], "start") != 0;
	if (!(m = open_manager(argv[4], store, strcmp(argv[2], "valid") != 0)))
		return 4;
	if (!full_after_lease)
		disk_full();
	rc = provauth_call(&out, m, argv[5], "user_detail", NULL, 0);
	printf("%d %d\n%s", rc, saw_not_stored, rc < 0 ? provauth_last_error() : "");
	fflush(stdout);
	provauth_free(out);
	provauth_manager_free(m);
	provauth_store_free(store); /* not owned by the manager */
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The parent                                                               */
/* ------------------------------------------------------------------------ */

static int suite_init(void)
{
	provauth_store *st = NULL;
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	ssize_t n;

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "PROVAUTH_PLUGIN_PATH is not set (run through make check)\n");
		return -1;
	}
	if ((n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1)) <= 0)
		return -1;
	self_exe[n] = '\0';
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pa-full-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(db_path, sizeof(db_path), "%s/accounts.db", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/accounts.key", tmpdir);
	so.key_file = key_path;
	if (provauth_store_sqlite_open(&st, db_path, &so) < 0)
		return -1;
	provauth_store_free(st);
	if (fake_pixiv_start(&fk) < 0)
		return -1;
	fake_pixiv_set_rotation(fk, 1, 1);
	/* Access tokens due at once: every call refreshes, and every refresh rotates. */
	fake_pixiv_set_expires_in(fk, 1);
	return 0;
}

static int suite_clean(void)
{
	fake_pixiv_stop(fk);
	pa_test_rmtree(tmpdir);
	return 0;
}

/* A new fake user and its imported account; *uid gets the fake's user id. */
static char *new_account(char uid[16])
{
	provauth_manager *m = open_manager(fake_pixiv_base_url(fk), NULL, 0);
	char rt[64], name[32], *id = NULL;
	int n = ++users;

	CU_ASSERT_FATAL(m != NULL);
	snprintf(rt, sizeof(rt), "rtFULL-%d-%08x", n, (unsigned int)rand());
	snprintf(uid, 16, "%d", 8000 + n);
	snprintf(name, sizeof(name), "full%d", n);
	CU_ASSERT_FATAL(fake_pixiv_add_user(fk, rt, uid, name, NULL) == 0);
	CU_ASSERT_FATAL(provauth_account_import(&id, m, "pixiv", "refresh_token", rt) == 0);
	provauth_manager_free(m);
	return id;
}

static provauth_account *stored(const char *id)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	provauth_store *st = NULL;
	provauth_account *a = NULL;

	so.key_file = key_path;
	CU_ASSERT_FATAL(provauth_store_sqlite_open(&st, db_path, &so) == 0);
	CU_ASSERT(st->get(st, &a, id) == 0);
	provauth_store_free(st);
	CU_ASSERT_FATAL(a != NULL);
	return a;
}

/* Runs the child; returns its rc and copies its message. */
static int run_child(const char *when, const char *id, char *msg, size_t size, int *logged)
{
	char *argv[] = { self_exe, "--child", (char *)when, tmpdir, (char *)fake_pixiv_base_url(fk), (char *)id, NULL };
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fds[2], status, rc = 1;
	pid_t pid;

	CU_ASSERT_FATAL(pipe(fds) == 0);
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(self_exe, argv);
		_exit(127);
	}
	CU_ASSERT_FATAL(pid > 0);
	close(fds[1]);
	while (len < sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fds[0]);
	CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (sscanf(buf, "%d %d", &rc, logged) != 2)
		rc = 1;
	snprintf(msg, size, "%s", strchr(buf, '\n') ? strchr(buf, '\n') + 1 : "");
	return rc;
}

/*
 * Full before anything happens: the recovery lease cannot be written, so no
 * refresh is sent and nothing is lost. The call fails naming the store.
 */
static void test_full_before_refresh(void)
{
	char uid[16], msg[2048], *id = new_account(uid), *before_rt;
	long tokens = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN), api = fake_pixiv_count(fk, FAKE_PIXIV_API);
	provauth_account *a;
	provauth_manager *m;
	char *out = NULL;
	int rc, logged = -1;

	before_rt = fake_pixiv_current_refresh_token(fk, uid);
	rc = run_child("start", id, msg, sizeof(msg), &logged);
	CU_ASSERT(rc == PROVAUTH_EIO);
	CU_ASSERT(logged == 0);
	CU_ASSERT(strstr(msg, db_path) != NULL);
	CU_ASSERT(strstr(msg, id) != NULL);
	CU_ASSERT(strstr(msg, before_rt) == NULL);
	if (rc != PROVAUTH_EIO || !strstr(msg, db_path))
		fprintf(stderr, "\n  full at start: rc %d: %s\n", rc, msg);
	/* No refresh went out, no call was made with anything. */
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == tokens);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == api);
	/* The stored token is still the live one: once there is room, the account works. */
	a = stored(id);
	CU_ASSERT(a->refresh_token && strcmp(a->refresh_token, before_rt) == 0);
	provauth_account_free(a);
	CU_ASSERT_FATAL((m = open_manager(fake_pixiv_base_url(fk), NULL, 1)) != NULL);
	CU_ASSERT(provauth_call(&out, m, id, "user_detail", NULL, 0) == 0);
	provauth_free(out);
	provauth_manager_free(m);
	free(before_rt);
	free(id);
}

/*
 * Full between the lease and the write: the provider has already rotated
 * the refresh token, and the new one cannot be stored. The call must fail
 * without using the new access token, and say that the account may need new
 * credentials. With a provider that revokes the old refresh token, it does:
 * the account is dead until a new refresh token is imported.
 */
static void test_full_after_refresh(void)
{
	char uid[16], msg[2048], *id = new_account(uid), *old_rt, *new_rt;
	long tokens = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN), api = fake_pixiv_count(fk, FAKE_PIXIV_API);
	provauth_account *a;
	provauth_manager *m;
	char *out = NULL;
	int rc, logged = -1;

	old_rt = fake_pixiv_current_refresh_token(fk, uid);
	rc = run_child("after-lease", id, msg, sizeof(msg), &logged);
	CU_ASSERT(rc == PROVAUTH_EIO);
	CU_ASSERT(logged == 1);
	if (rc != PROVAUTH_EIO || !strstr(msg, "not used"))
		fprintf(stderr, "\n  full after lease: rc %d: %s\n", rc, msg);
	CU_ASSERT(strstr(msg, db_path) != NULL);
	CU_ASSERT(strstr(msg, id) != NULL);
	CU_ASSERT(strstr(msg, "not used") != NULL);
	CU_ASSERT(strstr(msg, "new credentials") != NULL);
	/* The refresh happened; the new access token never reached the API. */
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == tokens + 1);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == api);
	new_rt = fake_pixiv_current_refresh_token(fk, uid);
	CU_ASSERT_FATAL(new_rt != NULL);
	CU_ASSERT(strcmp(new_rt, old_rt) != 0);
	CU_ASSERT(strstr(msg, old_rt) == NULL && strstr(msg, new_rt) == NULL);

	/* The store holds the last record it could write, intact: the old, now revoked, token. */
	a = stored(id);
	CU_ASSERT(a->refresh_token && strcmp(a->refresh_token, old_rt) == 0);
	provauth_account_free(a);
	CU_ASSERT_FATAL((m = open_manager(fake_pixiv_base_url(fk), NULL, 1)) != NULL);
	CU_ASSERT(provauth_call(&out, m, id, "user_detail", NULL, 0) == PROVAUTH_EAUTH);
	CU_ASSERT(strstr(provauth_last_error(), id) != NULL);
	provauth_free(out);
	out = NULL;
	/* Importing the live token brings it back. */
	CU_ASSERT(provauth_account_import(NULL, m, "pixiv", "refresh_token", new_rt) == 0);
	CU_ASSERT(provauth_call(&out, m, id, "user_detail", NULL, 0) == 0);
	provauth_free(out);
	provauth_manager_free(m);
	free(old_rt);
	free(new_rt);
	free(id);
}

/*
 * Full after a rotation ahead of expiry: the old access token still works,
 * so the call goes on with it (never with the unsaved one) and succeeds;
 * the loss of the rotated refresh token is logged as an error, since the
 * caller sees no failure.
 */
static void test_full_while_token_valid(void)
{
	char uid[16], msg[2048], *id = new_account(uid), *auth, bearer[512];
	long tokens = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN);
	provauth_account *a = stored(id);
	int rc, logged = -1;

	rc = run_child("valid", id, msg, sizeof(msg), &logged);
	CU_ASSERT(rc == 0);
	if (rc != 0)
		fprintf(stderr, "\n  full, token valid: rc %d: %s\n", rc, msg);
	CU_ASSERT(logged == 1);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == tokens + 1);
	snprintf(bearer, sizeof(bearer), "Bearer %s", a->access_token ? a->access_token : "?");
	auth = fake_pixiv_last(fk, FAKE_PIXIV_API, "header:Authorization");
	CU_ASSERT(auth && strcmp(auth, bearer) == 0);
	free(auth);
	provauth_account_free(a);
	free(id);
}

/*
 * A read-only store file is refused at open, naming it. Root writes through
 * any mode bits, so as root this case is skipped; the full-disk cases above
 * cover a store that refuses writes.
 */
static void test_read_only_file(void)
{
	char uid[16], *id;
	provauth_manager *m;

	if (geteuid() == 0) {
		fprintf(stderr, "\n  skipped: running as root, file modes do not stop writes "
		        "(the full-disk cases cover unwritable stores)\n");
		return;
	}
	id = new_account(uid);
	CU_ASSERT_FATAL(chmod(db_path, 0400) == 0);
	m = open_manager(fake_pixiv_base_url(fk), NULL, 1);
	CU_ASSERT(m == NULL);
	CU_ASSERT(strstr(provauth_last_error(), db_path) != NULL);
	CU_ASSERT(strstr(provauth_last_error(), "not writable") != NULL);
	provauth_manager_free(m);
	CU_ASSERT(chmod(db_path, 0600) == 0);
	free(id);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "disk full before a refresh: nothing sent, nothing lost", test_full_before_refresh },
		{ "disk full after a rotation: unsaved token never used", test_full_after_refresh },
		{ "disk full after a rotation ahead of expiry: old token used, loss logged", test_full_while_token_valid },
		{ "read-only store file refused at open", test_read_only_file },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "store_full", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END
	};

	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);
	return pa_test_run(argc, argv, suites);
}
