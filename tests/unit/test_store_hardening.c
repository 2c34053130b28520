/*
 * Issue 13, points 3, 4 and 6, against the sqlite store: stores another local
 * user could have planted or can write are refused; refusals change no byte
 * of the database or its -wal; a store holding accounts never gets a new key;
 * a lease held by a dead process on this host is taken over at once.
 *
 * The "another user" cases need root (to hand files to `nobody`); run as
 * anyone else they say so and check only what a non-root user can set up.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include <sqlite3.h>
#include "internal.h"
#include "../support/pa_test.h"

static char tmpdir[] = "/tmp/provauth-harden-XXXXXX";
static int db_counter;

static int suite_init(void)
{
	unsetenv("PROVAUTH_STORE_KEY");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_cleanup(void)
{
	int rc = pa_test_rmtree(tmpdir);
	memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
	return rc;
}

/* A new directory (0700) for one test's store; returns the database path in it. */
static char *fresh_path(void)
{
	char *dir = pa_sprintf("%s/db-%d", tmpdir, ++db_counter);
	char *path = dir ? pa_sprintf("%s/accounts.db", dir) : NULL;

	if (!path || mkdir(dir, 0700) != 0) {
		free(path);
		path = NULL;
	}
	free(dir);
	return path;
}

static char *dir_of(const char *path)
{
	char *d = pa_strdup(path), *slash = d ? strrchr(d, '/') : NULL;

	if (slash)
		*slash = '\0';
	return d;
}

static provauth_account *make_account(const char *id)
{
	provauth_account *a;

	if (provauth_account_new(&a, id, "pixverse") < 0)
		return NULL;
	provauth_account_set(&a->email, "user@example.com");
	provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "pw-Secret-4711", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "eyJ.jwt-Secret.sig", 0);
	return a;
}

static int error_has(const char *what)
{
	return strstr(provauth_last_error(), what) != NULL;
}

static int file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

static long size_of(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* The whole file, or NULL with *len 0 when it does not exist. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	fclose(f);
	return buf;
}

/* Whether the file holds exactly these bytes (both absent counts as the same). */
static int same_bytes(const char *path, const unsigned char *bytes, size_t len)
{
	size_t now_len;
	unsigned char *now = slurp(path, &now_len);
	int same = (!now && !bytes) || (now && bytes && now_len == len && memcmp(now, bytes, len) == 0);

	free(now);
	return same;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, data, len) == (ssize_t)len;
	ok = fchmod(fd, mode) == 0 && ok;
	close(fd);
	return ok ? 0 : -1;
}

/*
 * Runs SQL on the file behind the store's back. keep_wal: the connection
 * does not checkpoint when it closes, so what it wrote stays in a live -wal.
 */
static int raw_sql(const char *path, const char *sql, int keep_wal)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);

	if (rc == SQLITE_OK && keep_wal)
		rc = sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* A store at a new path holding account "acct-1", closed again. */
static char *populated_store(void)
{
	provauth_store *s = NULL;
	provauth_account *a = make_account("acct-1");
	char *path = fresh_path();

	if (!a || !path || provauth_store_sqlite_open(&s, path, NULL) < 0 || s->put(s, a) < 0) {
		fprintf(stderr, "populated_store: %s\n", provauth_last_error());
		free(path);
		path = NULL;
	}
	provauth_store_free(s);
	provauth_account_free(a);
	return path;
}

/* ---- point 4: refusals change nothing, no new key for sealed data ---- */

static void test_no_new_key_over_sealed_accounts(void)
{
	char *path = populated_store(), *key;
	unsigned char *good_key, *db;
	size_t key_len, db_len;
	provauth_store *s = NULL;
	provauth_account *got = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	key = pa_sprintf("%s.key", path);
	good_key = slurp(key, &key_len);
	CU_ASSERT_EQUAL_FATAL(key_len, 32);
	/* Both the key file and the key-check record gone: the store still holds sealed accounts. */
	CU_ASSERT_EQUAL_FATAL(unlink(key), 0);
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, "DELETE FROM meta WHERE key = 'key_check'", 0), 0);
	db = slurp(path, &db_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);

	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ECRYPTO);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(error_has(key));
	CU_ASSERT(error_has("does not exist"));
	CU_ASSERT(!file_exists(key));
	CU_ASSERT(same_bytes(path, db, db_len));

	/* A wrong key is refused too: without a key check it is tried on a sealed row. */
	CU_ASSERT_EQUAL_FATAL(write_file(key, "0123456789abcdef0123456789abcdef", 32, 0600), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ECRYPTO);
	CU_ASSERT(error_has("wrong key"));
	CU_ASSERT(same_bytes(path, db, db_len));

	/* The original key, put back, still opens everything. */
	CU_ASSERT_EQUAL_FATAL(write_file(key, good_key, key_len, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-1"), 0);
	CU_ASSERT(got && PA_CRED(got, PASSWORD) && strcmp(PA_CRED(got, PASSWORD), "pw-Secret-4711") == 0);
	provauth_account_free(got);
	provauth_store_free(s);
	free(db);
	free(good_key);
	free(key);
	free(path);
}

static void test_newer_schema_with_live_wal(void)
{
	char *path = populated_store(), *wal;
	unsigned char *db, *log;
	size_t db_len, log_len;
	provauth_store *s = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	wal = pa_sprintf("%s-wal", path);
	/* The newer version lives only in the -wal, as after a newer provauth that was killed. */
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, "PRAGMA user_version = 99", 1), 0);
	db = slurp(path, &db_len);
	log = slurp(wal, &log_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	CU_ASSERT_FATAL(log_len > 0);

	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ESTORE);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(error_has("schema version 99 is newer"));
	CU_ASSERT(same_bytes(path, db, db_len));
	CU_ASSERT(same_bytes(wal, log, log_len));
	free(db);
	free(log);
	free(wal);
	free(path);
}

static void test_wrong_key_with_live_wal(void)
{
	char *path = populated_store(), *wal, *key;
	unsigned char *db, *log;
	size_t db_len, log_len;
	provauth_store *s = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	wal = pa_sprintf("%s-wal", path);
	key = pa_sprintf("%s.key", path);
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, "UPDATE accounts SET updated_at = updated_at + 1", 1), 0);
	CU_ASSERT_EQUAL_FATAL(write_file(key, "0123456789abcdef0123456789abcdef", 32, 0600), 0);
	db = slurp(path, &db_len);
	log = slurp(wal, &log_len);
	CU_ASSERT_FATAL(log && log_len > 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ECRYPTO);
	CU_ASSERT(same_bytes(path, db, db_len));
	CU_ASSERT(same_bytes(wal, log, log_len));
	free(db);
	free(log);
	free(key);
	free(wal);
	free(path);
}

static void test_empty_file_refused(void)
{
	char *path = fresh_path(), *key;
	provauth_store *s = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	key = pa_sprintf("%s.key", path);
	CU_ASSERT_EQUAL_FATAL(write_file(path, "", 0, 0600), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ESTORE);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(error_has(path));
	CU_ASSERT(error_has("empty"));
	CU_ASSERT_EQUAL(size_of(path), 0);
	CU_ASSERT(!file_exists(key));
	/* Removed, the path makes a new store as before. */
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	provauth_store_free(s);
	CU_ASSERT(size_of(path) > 0);
	free(key);
	free(path);
}

/* ---- point 3: files and directories other users can write or own ---- */

static void test_group_or_other_writable_refused(void)
{
	char *path = populated_store(), *dir, *key, *sub, *subpath;
	provauth_store *s = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	dir = dir_of(path);
	key = pa_sprintf("%s.key", path);

	CU_ASSERT_EQUAL_FATAL(chmod(dir, 0777), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ESTORE);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(error_has(dir));
	CU_ASSERT(error_has("writable"));
	/* Sticky, like /tmp: others cannot replace what the caller owns in it. */
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 01777), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	provauth_store_free(s);
	s = NULL;
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 0700), 0);

	CU_ASSERT_EQUAL_FATAL(chmod(path, 0620), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ESTORE);
	CU_ASSERT(error_has(path));
	CU_ASSERT(error_has("writable"));
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0600), 0);

	/* An ancestor others can write (not sticky) lets them swap the whole directory. */
	sub = pa_sprintf("%s/open/inner", dir);
	subpath = pa_sprintf("%s/accounts.db", sub);
	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&s, subpath, NULL), 0);
	provauth_store_free(s);
	s = NULL;
	*strrchr(sub, '/') = '\0';
	CU_ASSERT_EQUAL_FATAL(chmod(sub, 0757), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, subpath, NULL), PROVAUTH_ESTORE);
	CU_ASSERT(error_has(sub));
	CU_ASSERT_EQUAL_FATAL(chmod(sub, 0700), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, subpath, NULL), 0);
	provauth_store_free(s);
	free(subpath);
	free(sub);
	free(key);
	free(dir);
	free(path);
}

/* Whether this process can hand files to another user; says why not when it cannot. */
static int other_user(uid_t *uid, gid_t *gid, const char *test)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		printf("\n    %s: not run: needs root to give files to another user (running as uid %ld)\n", test,
		       (long)geteuid());
		return 0;
	}
	if (!(pw = getpwnam("nobody"))) {
		printf("\n    %s: not run: no user 'nobody' on this host\n", test);
		return 0;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 1;
}

static void test_owned_by_another_user_refused(void)
{
	char *path, *dir, *key;
	provauth_store *s = NULL;
	uid_t uid;
	gid_t gid;

	if (!other_user(&uid, &gid, "owned by another user"))
		return;
	path = populated_store();
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	dir = dir_of(path);
	key = pa_sprintf("%s.key", path);

	/* The directory squatted by another user: they could swap the key or database at will. */
	CU_ASSERT_EQUAL_FATAL(chown(dir, uid, gid), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ESTORE);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(error_has(dir));
	CU_ASSERT(error_has("nobody"));
	CU_ASSERT_EQUAL_FATAL(chown(dir, 0, 0), 0);

	CU_ASSERT_EQUAL_FATAL(chown(path, uid, gid), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ESTORE);
	CU_ASSERT(error_has(path));
	CU_ASSERT(error_has("nobody"));
	CU_ASSERT_EQUAL_FATAL(chown(path, 0, 0), 0);

	/* A key file they made: secrets would be sealed under a key they know. */
	CU_ASSERT_EQUAL_FATAL(chown(key, uid, gid), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ECRYPTO);
	CU_ASSERT(error_has(key));
	CU_ASSERT(error_has("nobody"));
	CU_ASSERT_EQUAL_FATAL(chown(key, 0, 0), 0);

	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	provauth_store_free(s);
	free(key);
	free(dir);
	free(path);
}

/* provauth_trusted_file_read (provauthd's TLS files) keeps the same rules, on the descriptor read. */
static void test_trusted_file(void)
{
	char *dir = pa_sprintf("%s/trusted-%d", tmpdir, ++db_counter), *path, *out = NULL;
	size_t len = 0;
	uid_t uid;
	gid_t gid;
	FILE *f;

	CU_ASSERT_FATAL(dir && mkdir(dir, 0700) == 0);
	path = pa_sprintf("%s/key.pem", dir);
	CU_ASSERT_FATAL((f = fopen(path, "w")) != NULL);
	fputs("-----BEGIN PRIVATE KEY-----\n", f);
	CU_ASSERT_FATAL(fclose(f) == 0);
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0600), 0);
	CU_ASSERT_EQUAL(provauth_trusted_file_read(&out, &len, path, PROVAUTH_TRUST_SECRET, 4096), 0);
	CU_ASSERT_EQUAL(len, 28);
	CU_ASSERT(out && strcmp(out, "-----BEGIN PRIVATE KEY-----\n") == 0);
	provauth_free(out);
	out = NULL;
	/* Too large for what it claims to be. */
	CU_ASSERT_EQUAL(provauth_trusted_file_read(&out, &len, path, PROVAUTH_TRUST_SECRET, 10), PROVAUTH_ECONFIG);
	CU_ASSERT(error_has("too large"));
	/* A secret readable by the group; a certificate may be. */
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0640), 0);
	CU_ASSERT_EQUAL(provauth_trusted_file_read(&out, &len, path, PROVAUTH_TRUST_SECRET, 4096), PROVAUTH_ECONFIG);
	CU_ASSERT(error_has("chmod 600"));
	CU_ASSERT(error_has(path));
	CU_ASSERT_EQUAL(provauth_trusted_file_read(&out, &len, path, 0, 4096), 0);
	provauth_free(out);
	out = NULL;
	/* Writable by the group: anyone in it could swap the certificate. */
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0664), 0);
	CU_ASSERT_EQUAL(provauth_trusted_file_read(&out, &len, path, 0, 4096), PROVAUTH_ECONFIG);
	CU_ASSERT(error_has("writable by group or others"));
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0600), 0);
	/* Its directory writable by others. */
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 0777), 0);
	CU_ASSERT_EQUAL(provauth_trusted_file_read(&out, &len, path, 0, 4096), PROVAUTH_ECONFIG);
	CU_ASSERT(error_has(dir));
	CU_ASSERT_EQUAL_FATAL(chmod(dir, 0700), 0);
	/* Not a regular file; not there. */
	CU_ASSERT_EQUAL(provauth_trusted_file_read(&out, &len, dir, 0, 4096), PROVAUTH_ECONFIG);
	CU_ASSERT(error_has("not a regular file"));
	CU_ASSERT_EQUAL(provauth_trusted_file_read(&out, &len, "/nonexistent-dir-x/k.pem", 0, 4096) < 0, 1);
	CU_ASSERT_PTR_NULL(out);
	if (other_user(&uid, &gid, "trusted file owned by another user")) {
		CU_ASSERT_EQUAL_FATAL(chown(path, uid, gid), 0);
		CU_ASSERT_EQUAL(provauth_trusted_file_read(&out, &len, path, 0, 4096), PROVAUTH_ECONFIG);
		CU_ASSERT(error_has("nobody"));
		CU_ASSERT_EQUAL_FATAL(chown(path, 0, 0), 0);
	}
	CU_ASSERT_PTR_NULL(out);
	free(path);
	free(dir);
}

/* A new store in a directory another user squatted, with an empty database and a key file they know. */
static void test_squatted_new_store_refused(void)
{
	char *path, *dir, *key;
	provauth_store *s = NULL;
	uid_t uid;
	gid_t gid;

	if (!other_user(&uid, &gid, "squatted new store"))
		return;
	path = fresh_path();
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	dir = dir_of(path);
	key = pa_sprintf("%s.key", path);
	CU_ASSERT_EQUAL_FATAL(write_file(key, "0123456789abcdef0123456789abcdef", 32, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(chown(key, uid, gid), 0);
	CU_ASSERT_EQUAL_FATAL(chown(dir, uid, gid), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), PROVAUTH_ESTORE);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(error_has("nobody"));
	CU_ASSERT(!file_exists(path));
	free(key);
	free(dir);
	free(path);
}

/* ---- point 6: a dead lease holder on this host ---- */

/* A child that holds the lease on acct-1 for a minute and then waits to be killed. */
static pid_t lease_holder(const char *path, const char *owner)
{
	int ready[2];
	char c = 0;
	pid_t pid;

	if (pipe(ready) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		provauth_store *cs = NULL;
		int ok;
		close(ready[0]);
		ok = provauth_store_sqlite_open(&cs, path, NULL) == 0 &&
		     cs->lease_acquire(cs, "acct-1", owner, 60000) == 0;
		if (write(ready[1], ok ? "y" : "n", 1) != 1 || !ok)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1 || c != 'y') {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Between fork and kill no assertion is fatal: a failed test must not leave its child behind. */
static void test_dead_holder_taken_over(void)
{
	char *path = fresh_path();
	provauth_store *s = NULL;
	int64_t start;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	provauth_store_free(s);
	s = NULL;

	/* Alive, it keeps the lease. */
	pid = lease_holder(path, "child-1");
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	if (s) {
		CU_ASSERT_EQUAL(s->lease_acquire(s, "acct-1", "parent", 60000), PROVAUTH_EBUSY);
		CU_ASSERT(error_has("child-1"));
	}
	/* SIGKILLed, its lease (60 s left) is taken over at once. */
	kill_and_reap(pid);
	if (s) {
		start = pa_monotonic_ms();
		CU_ASSERT_EQUAL(s->lease_acquire(s, "acct-1", "parent", 60000), 0);
		CU_ASSERT(pa_monotonic_ms() - start < 1000);
		CU_ASSERT_EQUAL(s->lease_release(s, "acct-1", "parent"), 0);
	}
	provauth_store_free(s);
	free(path);
}

static void test_reused_pid_and_other_host(void)
{
	char *path = fresh_path();
	provauth_store *s = NULL;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	provauth_store_free(s);
	s = NULL;

	/* The recorded pid is alive, but it is another process now (its start time differs). */
	pid = lease_holder(path, "child-2");
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(raw_sql(path, "UPDATE leases SET holder_start = holder_start + 1", 0), 0);
	CU_ASSERT_EQUAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	if (s) {
		CU_ASSERT_EQUAL(s->lease_acquire(s, "acct-1", "parent", 60000), 0);
		CU_ASSERT_EQUAL(s->lease_release(s, "acct-1", "parent"), 0);
	}
	provauth_store_free(s);
	s = NULL;
	kill_and_reap(pid);

	/* A holder on another host (another boot id) keeps its lease until the TTL, dead pid or not. */
	pid = lease_holder(path, "child-3");
	CU_ASSERT_FATAL(pid > 0);
	kill_and_reap(pid);
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, "UPDATE leases SET holder_boot_id = 'another-host-0000'", 0), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	CU_ASSERT_EQUAL(s->lease_acquire(s, "acct-1", "parent", 60000), PROVAUTH_EBUSY);
	provauth_store_free(s);
	free(path);
}

static const pa_test tests[] = {
	{ "no new key over sealed accounts", test_no_new_key_over_sealed_accounts },
	{ "newer schema in a live -wal changes nothing", test_newer_schema_with_live_wal },
	{ "wrong key with a live -wal changes nothing", test_wrong_key_with_live_wal },
	{ "empty database file refused", test_empty_file_refused },
	{ "group- or other-writable refused", test_group_or_other_writable_refused },
	{ "owned by another user refused", test_owned_by_another_user_refused },
	{ "squatted new store refused", test_squatted_new_store_refused },
	{ "dead lease holder taken over", test_dead_holder_taken_over },
	{ "reused pid and other host", test_reused_pid_and_other_host },
	{ "trusted files for hosts", test_trusted_file },
	PA_TEST_END
};

int main(int argc, char **argv)
{
	static const pa_test_suite suites[] = {
		{ "sqlite hardening", suite_init, suite_cleanup, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
