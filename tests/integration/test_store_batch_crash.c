/*
 * put_many on the sqlite store is atomic across a crash: a child process
 * writes one large batch (thousands of new accounts plus an update of an
 * "anchor" account in the middle) and is SIGKILLed; the store it leaves
 * behind opens, passes sqlite's integrity check and holds the whole batch
 * (anchor revision moved on by one) or none of it (anchor unchanged).
 *
 * Kills are staged three ways, so that every outcome is reached on purpose
 * and not only by luck:
 *  - "wal": the child runs sqlite over a shim of its default VFS that stops
 *    it just before the write that would take the -wal file past a random
 *    size, and says so; the parent then kills it. The batch is larger than
 *    sqlite's page cache, so pages spill into the WAL long before the commit
 *    record: the kill lands inside the transaction, with uncommitted frames
 *    on disk, however loaded the machine is. (The parent used to watch the
 *    file grow and kill; on a starved machine every kill came too late.)
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
static char db_path[128], key_path[128];
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

/*
 * The "wal" kills. The shim keeps the real VFS's file objects and swaps in
 * a copy of their methods (the unix VFS gives the WAL other methods than
 * the database) whose xWrite stops the child before a write to the WAL
 * that would reach past wal_stop_at: that write, and the commit frame after
 * it, never happen.
 */
#define SHIM_TABLES 4
static sqlite3_vfs shim_vfs, *real_vfs;
static struct {
	const sqlite3_io_methods *real;
	sqlite3_io_methods shim;
} tables[SHIM_TABLES];
static sqlite3_file *wal_file;
static sqlite3_int64 wal_stop_at = -1;
static int child_fd = -1;

static const sqlite3_io_methods *real_methods(const sqlite3_io_methods *shim)
{
	size_t i;

	for (i = 0; i < SHIM_TABLES; i++)
		if (&tables[i].shim == shim)
			return tables[i].real;
	return NULL;
}

static int shim_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	if (f == wal_file && wal_stop_at >= 0 && off + amt > wal_stop_at) {
		say(child_fd, 'W');
		for (;;)
			pause();
	}
	return real_methods(f->pMethods)->xWrite(f, buf, amt, off);
}

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	int rc = real_vfs->xOpen(real_vfs, name, f, flags, out_flags);
	size_t i;

	(void)vfs;
	if (rc != SQLITE_OK || !f->pMethods)
		return rc;
	for (i = 0; i < SHIM_TABLES && tables[i].real && tables[i].real != f->pMethods; i++)
		;
	if (i == SHIM_TABLES)
		return rc; /* left as it is: only the WAL's writes matter, and it is among the first */
	if (!tables[i].real) {
		tables[i].real = f->pMethods;
		tables[i].shim = *f->pMethods;
		tables[i].shim.xWrite = shim_write;
	}
	f->pMethods = &tables[i].shim;
	if (flags & SQLITE_OPEN_WAL)
		wal_file = f;
	return rc;
}

/* Makes the shim the default VFS of this (child) process. */
static int shim_install(sqlite3_int64 stop_at)
{
	if (!(real_vfs = sqlite3_vfs_find(NULL)))
		return -1;
	shim_vfs = *real_vfs;
	shim_vfs.zName = "pa-wal-stop";
	shim_vfs.pNext = NULL;
	shim_vfs.xOpen = shim_open;
	wal_stop_at = stop_at;
	return sqlite3_vfs_register(&shim_vfs, 1) == SQLITE_OK ? 0 : -1;
}

/*
 * Builds the batch, says 'S', calls put_many, says 'D' (or 'F'), then waits
 * to be killed. With wal_stop >= 0 it says 'W' instead and stops once the
 * WAL would grow past wal_stop bytes.
 */
static void child(int round, int fd, sqlite3_int64 wal_stop)
{
	provauth_account **batch = calloc(BATCH + 1, sizeof(*batch));
	provauth_store *st = NULL;
	char id[32], jwt[321];
	size_t i, k;

	/* Never outlives a parent that gave up on it. */
	alarm(300);
	child_fd = fd;
	if (wal_stop >= 0 && shim_install(wal_stop) < 0)
		_exit(3);
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
		    provauth_account_set_credential(batch[i], PROVAUTH_CRED_PASSWORD, NULL, SECRET_PW, 0) < 0 ||
		    provauth_account_set_credential(batch[i], PROVAUTH_CRED_JWT, NULL, jwt, 0) < 0 ||
		    provauth_account_set_cookie(batch[i], "_ai_token", jwt) < 0)
			_exit(3);
	}
	say(fd, 'S');
	say(fd, st->put_many(st, batch, BATCH + 1) == 0 ? 'D' : 'F');
	for (;;)
		pause();
}

/* ---- the parent ---- */

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
		CU_ASSERT(st->get(st, &one, id) == 0 && one && strcmp(PA_CRED(one, PASSWORD), SECRET_PW) == 0);
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
	CU_ASSERT_FATAL(provauth_account_set_credential(anchor, PROVAUTH_CRED_PASSWORD, NULL, SECRET_PW, 0) == 0);
	CU_ASSERT_FATAL(st->put_many(st, &anchor, 1) == 0);
	anchor_rev = anchor->revision;
	provauth_account_free(anchor);
	provauth_store_free(st);

	for (round = 0; round < kills; round++) {
		/* Round 0 measures a whole batch; then the modes take turns. */
		enum mode mode = round == 0 ? M_DONE : (enum mode)(round % 3);
		/* Past the WAL header, and far below what the batch writes before its commit. */
		sqlite3_int64 wal_stop = mode == M_WAL ? 4096 + (sqlite3_int64)(rand_r(&seed) % (512 * 1024)) : -1;
		int pfd[2], status, done = 0, stopped = 0;
		int64_t t0;
		pid_t pid;
		char c;

		CU_ASSERT_FATAL(pipe(pfd) == 0);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			child(round, pfd[1], wal_stop);
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
			/* 'W': stopped inside the transaction; 'D' only if the whole batch wrote less. */
			c = hear(pfd[0], 120000);
			CU_ASSERT(c == 'W' || c == 'D');
			stopped = c == 'W';
			done = c == 'D';
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
			/* A child stopped before the write that would have reached the commit wrote none of it. */
			CU_ASSERT(!stopped || o.none > none_before);
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
	/* Every WAL-staged kill lands before the commit: the batch writes far more than 516 KB to the WAL. */
	CU_ASSERT_EQUAL(none_by_wal, per_mode[M_WAL]);
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
