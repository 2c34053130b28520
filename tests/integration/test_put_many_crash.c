/*
 * put_many on the sqlite store is atomic across a crash: a child process
 * writes one large batch (thousands of new accounts plus an update of an
 * "anchor" account in the middle) and is SIGKILLed; the store it leaves
 * behind opens, passes sqlite's integrity check and holds the whole batch
 * (anchor revision moved on by one) or none of it (anchor unchanged).
 *
 * Kills are staged three ways, so that every outcome is reached on purpose
 * and not only by luck:
 *  - "wal": the parent watches the store's -wal file and kills as soon as it
 *    has grown by a random amount. The batch is larger than sqlite's page
 *    cache, so pages spill into the WAL long before the commit record: the
 *    kill lands inside the transaction, with uncommitted frames on disk.
 *  - "time": a random delay after the child said it was calling put_many,
 *    up to 1.1 times the duration of a whole batch (measured in round 0):
 *    before, inside or after the commit.
 *  - "done": after put_many returned; durable on return means all of it.
 *
 * PA_PUT_MANY_KILLS (default 12) and PA_PUT_MANY_SEED reproduce a run.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "../support/pa_test.h"

#define BATCH 3000
#define SECRET_PW "pw-SECRET-crash"

enum mode { M_DONE, M_WAL, M_TIME };
static const char *const mode_names[] = { "done", "wal", "time" };

static char tmpdir[] = "/tmp/provauth-pmcrash-XXXXXX";
static char db_path[128], key_path[128], wal_path[160];
static int kills = 12;
static unsigned int seed;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int open_store(provauth_store **st)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;

	so.key_file = key_path;
	return provauth_store_sqlite_open(st, db_path, &so);
}

/* ---- the child ---- */

static void say(int fd, char c)
{
	while (write(fd, &c, 1) < 0 && errno == EINTR)
		;
}

/* Builds the batch, says 'S', calls put_many, says 'D' (or 'F'), then waits to be killed. */
static void child(int round, int fd)
{
	provauth_account **batch = calloc(BATCH + 1, sizeof(*batch));
	provauth_store *st = NULL;
	char id[32], jwt[321];
	size_t i, k;

	/* Never outlives a parent that gave up on it. */
	alarm(300);
	if (!batch || open_store(&st) < 0)
		_exit(3);
	for (i = 0; i < BATCH + 1; i++) {
		if (i == BATCH / 2) {
			if (st->get(st, &batch[i], "anchor") < 0)
				_exit(3);
			continue;
		}
		snprintf(id, sizeof(id), "r%03d-%05zu", round, i);
		for (k = 0; k < sizeof(jwt) - 1; k++)
			jwt[k] = (char)('a' + (k * 7 + i) % 26);
		jwt[sizeof(jwt) - 1] = '\0';
		if (provauth_account_new(&batch[i], id, "crashprov") < 0 ||
		    provauth_account_set(&batch[i]->password, SECRET_PW) < 0 ||
		    provauth_account_set(&batch[i]->jwt_token, jwt) < 0 ||
		    provauth_account_set_cookie(batch[i], "_ai_token", jwt) < 0)
			_exit(3);
	}
	say(fd, 'S');
	say(fd, st->put_many(st, batch, BATCH + 1) == 0 ? 'D' : 'F');
	for (;;)
		pause();
}

/* ---- the parent ---- */

static off_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/* Waits up to timeout_ms for a byte from the child; returns it, or 0. */
static char hear(int fd, int timeout_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c;

	if (poll(&p, 1, timeout_ms) <= 0 || read(fd, &c, 1) != 1)
		return 0;
	return c;
}

typedef struct outcome {
	int all, none, partial, done_before_kill;
} outcome;

/* Opens the store after a kill and classifies what it holds for `round`. */
static void check_store(int round, uint64_t *anchor_rev, int done, outcome *o, enum mode mode)
{
	provauth_store *st = NULL;
	provauth_account **list = NULL, *anchor = NULL, *one = NULL;
	char prefix[16], id[32];
	size_t n = 0, i, mine = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;

	CU_ASSERT_FATAL(open_store(&st) == 0);
	CU_ASSERT_FATAL(st->list(st, &list, &n, "crashprov") == 0);
	snprintf(prefix, sizeof(prefix), "r%03d-", round);
	for (i = 0; i < n; i++)
		mine += strncmp(list[i]->id, prefix, strlen(prefix)) == 0;
	provauth_account_list_free(list, n);
	CU_ASSERT_FATAL(st->get(st, &anchor, "anchor") == 0);

	if (mine == BATCH && anchor->revision == *anchor_rev + 1) {
		o->all++;
		snprintf(id, sizeof(id), "r%03d-%05d", round, BATCH - 1);
		CU_ASSERT(st->get(st, &one, id) == 0 && one && strcmp(one->password, SECRET_PW) == 0);
		provauth_account_free(one);
	} else if (mine == 0 && anchor->revision == *anchor_rev) {
		o->none++;
		CU_ASSERT_FALSE(done);
	} else {
		o->partial++;
		fprintf(stderr, "\n    round %d (%s): %zu of %d accounts, anchor revision %llu after %llu\n", round,
		        mode_names[mode], mine, BATCH, (unsigned long long)anchor->revision,
		        (unsigned long long)*anchor_rev);
	}
	CU_ASSERT(!done || mine == BATCH);
	*anchor_rev = anchor->revision;
	provauth_account_free(anchor);
	provauth_store_free(st);

	/* Read-write: as the last connection to close, it checkpoints and removes the WAL for the next round. */
	CU_ASSERT_FATAL(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	CU_ASSERT_FATAL(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK);
	CU_ASSERT(sqlite3_step(q) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static void test_kills(void)
{
	provauth_store *st = NULL;
	provauth_account *anchor = NULL;
	uint64_t anchor_rev;
	int64_t batch_us = 0;
	outcome o = { 0, 0, 0, 0 };
	int round, per_mode[3] = { 0, 0, 0 }, none_by_wal = 0;

	CU_ASSERT_FATAL(open_store(&st) == 0);
	CU_ASSERT_FATAL(provauth_account_new(&anchor, "anchor", "crashprov") == 0);
	CU_ASSERT_FATAL(provauth_account_set(&anchor->password, SECRET_PW) == 0);
	CU_ASSERT_FATAL(st->put_many(st, &anchor, 1) == 0);
	anchor_rev = anchor->revision;
	provauth_account_free(anchor);
	provauth_store_free(st);

	for (round = 0; round < kills; round++) {
		/* Round 0 measures a whole batch; then the modes take turns. */
		enum mode mode = round == 0 ? M_DONE : (enum mode)(round % 3);
		int pfd[2], status, done = 0;
		int64_t t0;
		pid_t pid;
		char c;

		CU_ASSERT_FATAL(pipe(pfd) == 0);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			child(round, pfd[1]);
		}
		close(pfd[1]);
		c = hear(pfd[0], 60000);
		CU_ASSERT_FATAL(c == 'S');
		t0 = now_us();
		if (mode == M_DONE) {
			c = hear(pfd[0], 120000);
			CU_ASSERT_FATAL(c == 'D');
			done = 1;
			if (round == 0)
				batch_us = now_us() - t0;
		} else if (mode == M_WAL) {
			off_t start = file_size(wal_path), grow = 4096 + (off_t)(rand_r(&seed) % (512 * 1024));
			struct pollfd p = { pfd[0], POLLIN, 0 };
			/* Until the WAL grew (kill inside the transaction) or the child is done (it outran us). */
			while (file_size(wal_path) < start + grow && poll(&p, 1, 0) == 0 && now_us() - t0 < 120000000)
				;
		} else {
			int64_t delay = (int64_t)((double)rand_r(&seed) / RAND_MAX * 1.1 * (double)batch_us);
			struct timespec ts = { (time_t)(delay / 1000000), (long)(delay % 1000000) * 1000 };
			nanosleep(&ts, NULL);
		}
		kill(pid, SIGKILL);
		CU_ASSERT(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* Whatever the child said before it died. */
		while ((c = hear(pfd[0], 0)) != 0)
			done |= c == 'D';
		close(pfd[0]);
		o.done_before_kill += done;
		per_mode[mode]++;
		{
			int none_before = o.none;
			check_store(round, &anchor_rev, done, &o, mode);
			none_by_wal += mode == M_WAL && o.none > none_before;
		}
		if (pa_test_verbose)
			fprintf(stderr, "\n    round %d %-4s: %s%s", round, mode_names[mode],
			        done ? "returned before the kill, " : "", o.partial ? "PARTIAL" : "ok");
	}
	fprintf(stderr, "\n    %d kills (batch of %d accounts, %.0f ms): all %d, none %d, partial %d; "
	        "returned before the kill %d; none after a WAL-staged kill %d/%d (seed %u)\n",
	        kills, BATCH + 1, (double)batch_us / 1000.0, o.all, o.none, o.partial, o.done_before_kill,
	        none_by_wal, per_mode[M_WAL], seed);
	CU_ASSERT_EQUAL(o.partial, 0);
	CU_ASSERT(o.all >= 1);
	CU_ASSERT(o.none >= 1);
	/* A WAL-staged kill lands before the commit unless the child outran the parent's polling. */
	CU_ASSERT(per_mode[M_WAL] == 0 || none_by_wal >= 1);
}

static int suite_init(void)
{
	const char *k = getenv("PA_PUT_MANY_KILLS"), *s = getenv("PA_PUT_MANY_SEED");

	unsetenv("PROVAUTH_STORE_KEY");
	if (k && atoi(k) > 0)
		kills = atoi(k);
	seed = s ? (unsigned int)strtoul(s, NULL, 10) : (unsigned int)time(NULL) ^ (unsigned int)getpid();
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(db_path, sizeof(db_path), "%s/accounts.db", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/accounts.key", tmpdir);
	snprintf(wal_path, sizeof(wal_path), "%s-wal", db_path);
	return 0;
}

static int suite_cleanup(void)
{
	return pa_test_rmtree(tmpdir);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "SIGKILL during a large batch: all or none", test_kills },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "put_many crash", suite_init, suite_cleanup, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
