/*
 * Fleet tests: several processes, each its own manager with its own
 * settings file, share one account through one store, as hosts of a fleet
 * do. The guarantees that hold inside one process must hold across them:
 *  1. a session that dies under N processes x M threads is recovered by
 *     exactly one login (Pixverse) / one token request (pixiv), and every
 *     call succeeds;
 *  2. the process the fake pixiv sees asking for a token is SIGKILLed while
 *     the fake holds that request (before anything rotated): another
 *     process takes the recovery over within 2 s (the lease TTL is 30 s, so
 *     its expiry cannot be what frees it), every surviving caller succeeds,
 *     and the stored refresh token is the one the server holds current;
 *  3. with a cached, valid session, 1,000 calls make no store call at all
 *     (a forwarding store counts them; its count is shown to move on the
 *     first call, so a dead counter cannot pass);
 *  4. (postgres) the server paused under a running fleet: cached sessions
 *     go on, dead ones fail naming 127.0.0.1:PORT and never the password,
 *     and no token is asked for that could not be stored; back, one token
 *     request, the store whole; then restarts thrown into storms;
 *  5. (postgres) the lease holder's connections cut by a proxy while its
 *     token request is held: another process takes over, the stored token
 *     stays the current one; the cut holder's refresh, sent with the token
 *     rotated away meanwhile, is refused, and it takes the stored one, so
 *     its own callers succeed too; the next round succeeds everywhere.
 *
 * The parent runs the fakes in-process and re-executes this program with
 * --child; children wait on a mapped "board" for the parent to start a
 * round, run M threads of calls and report each thread's outcome there.
 * The store is a sqlite file in the test's temporary directory, or a new
 * database of the private PostgreSQL cluster (tests/support/pg_server.h)
 * per scenario, shared by every process with one key file. Outside CI
 * without a server only the sqlite half runs, and the test reads as skipped.
 *
 * PA_FLEET_TRIALS overrides the number of SIGKILL trials (20 on sqlite, 50
 * on postgres).
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "../fake/fake_pixiv.h"
#include "../fake/fake_pixverse.h"
#include "../support/pa_test.h"
#include "../support/pg_server.h"
#include "../support/tcp_proxy.h"

/* The fleet: processes, and threads calling at once in each. */
#define FLEET_PROCS 4
#define FLEET_THREADS 8
/* Rounds of scenario 1 per provider. */
#define FLEET_ROUNDS 3
/* How fast another process must take a dead holder's recovery over. */
#define TAKEOVER_MAX_MS 2000
/* Far longer than TAKEOVER_MAX_MS: expiry cannot be what frees a dead holder's lease. */
#define LEASE_TTL_MS 30000
/* A round (or a child's start-up) that takes longer than this is a hang. */
#define ROUND_TIMEOUT_MS 30000
#define HOT_CALLS 1000

/* One child's corner of the board. */
typedef struct slot {
	atomic_int pid;
	atomic_int ready;       /* manager open, waiting for rounds */
	atomic_int done_round;  /* the latest round it finished */
	atomic_int ok, failed;  /* calls of the current round */
	atomic_llong end_ms;    /* CLOCK_MONOTONIC when its latest round ended */
	atomic_int has_error;
	char error[512];        /* the first failure's message */
} slot;

/* The mapped file the parent and its children share. */
typedef struct board {
	/*
	 * round << 8 | mask, in one word so that a child reads a round and who
	 * calls in it together: children run a round whenever it grows, those
	 * in the mask (bit i: child i) calling, the others sitting it out.
	 */
	atomic_uint go;
	atomic_int quit;
	slot slots[FLEET_PROCS];
} board;

static char self_exe[4096];
static char tmpdir[64];
static board *bd;
/* Whether the suite running uses the postgres store, and the scenario's database (NULL: sqlite). */
static int use_postgres;
static char *pg_url;
/* SIGKILL trials; PA_FLEET_TRIALS overrides. */
static int kill_trials = 20;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static board *map_board(const char *dir, int create)
{
	char path[256];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/board", dir);
	if ((fd = open(path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0600)) < 0)
		return NULL;
	if (create && ftruncate(fd, sizeof(board)) != 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, sizeof(board), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void quiet_log(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                      void *payload)
{
	(void)level; (void)event; (void)f; (void)n; (void)payload;
}

/* ------------------------------------------------------------------------ */
/* The child                                                                */
/* ------------------------------------------------------------------------ */

static FILE *child_log_file;
static pthread_mutex_t child_log_mu = PTHREAD_MUTEX_INITIALIZER;

/* Keeps every event with its text fields, for the parent to search for secrets. */
static void child_log(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                      void *payload)
{
	size_t i;

	(void)level; (void)payload;
	pthread_mutex_lock(&child_log_mu);
	fprintf(child_log_file, "%s", event);
	for (i = 0; i < n; i++)
		if (f[i].type == PROVAUTH_FIELD_STRING || f[i].type == PROVAUTH_FIELD_SECRET)
			fprintf(child_log_file, " %s=%s", f[i].key, f[i].str ? f[i].str : "");
	fputc('\n', child_log_file);
	fflush(child_log_file);
	pthread_mutex_unlock(&child_log_mu);
}

typedef struct caller {
	provauth_manager *m;
	const char *id, *op;
	slot *me;
} caller;

static void *call_once(void *arg)
{
	caller *c = arg;
	char *out = NULL;

	if (provauth_call(&out, c->m, c->id, c->op, NULL, 0) == 0) {
		atomic_fetch_add(&c->me->ok, 1);
	} else {
		atomic_fetch_add(&c->me->failed, 1);
		if (atomic_exchange(&c->me->has_error, 1) == 0)
			snprintf(c->me->error, sizeof(c->me->error), "%s", provauth_last_error());
	}
	provauth_free(out);
	return NULL;
}

/* argv: --child DIR INDEX SETTINGS ACCOUNT_ID OP; runs rounds until told to quit. */
static int child_main(int argc, char **argv)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	pthread_t th[FLEET_THREADS];
	caller c[FLEET_THREADS];
	char path[256];
	slot *me;
	int i, index, done = 0;

	if (argc < 7 || !(bd = map_board(argv[2], 0)) || (index = (int)strtol(argv[3], NULL, 10)) < 0 ||
	    index >= FLEET_PROCS)
		return 2;
	me = &bd->slots[index];
	snprintf(path, sizeof(path), "%s/child-%d.log", argv[2], index);
	if (!(child_log_file = fopen(path, "ae")))
		return 2;
	opts.log = child_log;
	if (provauth_settings_load(&s, argv[4]) < 0 || provauth_manager_new(&m, s, &opts) < 0) {
		snprintf(me->error, sizeof(me->error), "start: %s", provauth_last_error());
		atomic_store(&me->has_error, 1);
		return 3;
	}
	provauth_settings_free(s);
	done = (int)(atomic_load(&bd->go) >> 8);
	atomic_store(&me->ready, 1);
	for (;;) {
		unsigned int go;
		int r, calls;

		while ((r = (int)((go = atomic_load(&bd->go)) >> 8)) == done && !atomic_load(&bd->quit))
			sleep_ms(1);
		if (atomic_load(&bd->quit))
			break;
		calls = (go & (1u << index)) != 0;
		for (i = 0; i < FLEET_THREADS && calls; i++) {
			c[i] = (caller){ m, argv[5], argv[6], me };
			if (pthread_create(&th[i], NULL, call_once, &c[i]) != 0)
				return 4;
		}
		while (i-- > 0)
			pthread_join(th[i], NULL);
		atomic_store(&me->end_ms, now_ms());
		atomic_store(&me->done_round, r);
		done = r;
	}
	provauth_manager_free(m);
	fclose(child_log_file);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The parent: processes                                                    */
/* ------------------------------------------------------------------------ */

/* What every child of a scenario is given. */
typedef struct fleet {
	char settings[256];   /* the settings file, in tmpdir */
	char own_settings[FLEET_PROCS][256]; /* a child's own file instead, when set */
	char id[128];         /* the shared account */
	const char *op;       /* the operation every thread calls */
	char providers[512];  /* the providers' block of the settings */
	pid_t pid[FLEET_PROCS];
} fleet;

/* The fleet of the test running, for the suite's clean-up after a fatal assertion. */
static fleet *running;

/* Kills and reaps whatever is left of the running fleet (a test that ended early). */
static void kill_running(void)
{
	int i;

	for (i = 0; running && i < FLEET_PROCS; i++)
		if (running->pid[i] > 0) {
			kill(running->pid[i], SIGKILL);
			waitpid(running->pid[i], NULL, 0);
			running->pid[i] = 0;
		}
	running = NULL;
}

/* Starts child i and waits until its manager is open; 0 or -1 (its message printed). */
static int spawn(fleet *f, int i)
{
	char index[16];
	char *argv[] = { self_exe, "--child", tmpdir, index, f->own_settings[i][0] ? f->own_settings[i] : f->settings,
	                 f->id, (char *)f->op, NULL };
	slot *sl = &bd->slots[i];
	int64_t until = now_ms() + ROUND_TIMEOUT_MS;
	int status;

	snprintf(index, sizeof(index), "%d", i);
	running = f;
	memset(sl, 0, sizeof(*sl));
	atomic_store(&sl->done_round, (int)(atomic_load(&bd->go) >> 8));
	if ((f->pid[i] = fork()) == 0) {
		/* A parent that dies (a failed assertion ends its test early, or a timeout) takes its fleet along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(self_exe, argv);
		_exit(127);
	}
	if (f->pid[i] < 0)
		return -1;
	atomic_store(&sl->pid, (int)f->pid[i]);
	while (!atomic_load(&sl->ready)) {
		if (waitpid(f->pid[i], &status, WNOHANG) == f->pid[i] || now_ms() > until) {
			fprintf(stderr, "child %d did not start: %s\n", i, sl->error);
			f->pid[i] = 0;
			return -1;
		}
		sleep_ms(1);
	}
	return 0;
}

static int spawn_all(fleet *f)
{
	int i;

	/* A test that ended on a fatal assertion left its fleet: it must not join this one's rounds. */
	if (running != f)
		kill_running();
	for (i = 0; i < FLEET_PROCS; i++)
		if (spawn(f, i) < 0)
			return -1;
	return 0;
}

/* Tells every child to leave and reaps it; the exit status must be 0. */
static void stop_all(fleet *f)
{
	int i, status;

	atomic_store(&bd->quit, 1);
	for (i = 0; i < FLEET_PROCS; i++) {
		if (f->pid[i] <= 0)
			continue;
		CU_ASSERT(waitpid(f->pid[i], &status, 0) == f->pid[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0);
		f->pid[i] = 0;
	}
	running = NULL;
	atomic_store(&bd->quit, 0);
}

/* The children calling in the latest round. */
static unsigned int round_mask;
#define ALL_CHILDREN ((1u << FLEET_PROCS) - 1)

/* Clears the children's tallies and starts a round for the children in mask; returns its number. */
static int start_round(unsigned int mask)
{
	int i, r;

	for (i = 0; i < FLEET_PROCS; i++) {
		/* A child outside the mask may still be in an earlier round: its tallies stay. */
		if (!(mask & (1u << i)))
			continue;
		atomic_store(&bd->slots[i].ok, 0);
		atomic_store(&bd->slots[i].failed, 0);
		atomic_store(&bd->slots[i].has_error, 0);
		bd->slots[i].error[0] = '\0';
	}
	round_mask = mask;
	r = (int)(atomic_load(&bd->go) >> 8) + 1;
	atomic_store(&bd->go, (unsigned int)r << 8 | mask);
	return r;
}

/* Waits until every live child in mask finished round r; 0, or -1 after the timeout. */
static int wait_round_of(const fleet *f, int r, unsigned int mask)
{
	int64_t until = now_ms() + ROUND_TIMEOUT_MS;
	int i;

	for (i = 0; i < FLEET_PROCS; i++)
		while (f->pid[i] > 0 && (mask & (1u << i)) && atomic_load(&bd->slots[i].done_round) < r) {
			if (now_ms() > until) {
				fprintf(stderr, "child %d did not finish round %d\n", i, r);
				return -1;
			}
			sleep_ms(1);
		}
	return 0;
}

static int wait_round(const fleet *f, int r)
{
	return wait_round_of(f, r, ALL_CHILDREN);
}

/* Every live child's every thread succeeded in the round just waited for. */
static int all_succeeded(const fleet *f, const char *what)
{
	int i, good = 1;

	for (i = 0; i < FLEET_PROCS; i++) {
		const slot *sl = &bd->slots[i];

		if (f->pid[i] <= 0 || !(round_mask & (1u << i)))
			continue;
		if (atomic_load(&sl->ok) != FLEET_THREADS) {
			fprintf(stderr, "%s: child %d: %d of %d calls succeeded; first failure: %s\n", what, i,
			        atomic_load(&sl->ok), FLEET_THREADS, sl->error);
			good = 0;
		}
	}
	return good;
}

/* ------------------------------------------------------------------------ */
/* The parent: settings, store                                              */
/* ------------------------------------------------------------------------ */

/*
 * Writes a settings file of the fleet (0600, as the loader wants) at path:
 * the shared store (the sqlite file, or the scenario's database at `url`),
 * the shared key file, and the providers' block.
 */
static int write_settings_file(const char *path, const char *url, const char *providers_yaml)
{
	FILE *fp;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return -1;
	if (!(fp = fdopen(fd, "w"))) {
		close(fd);
		return -1;
	}
	if (url)
		fprintf(fp, "store:\n  backend: postgres\n  url: %s\n  key_file: %s/accounts.key\n"
		        "  connect_timeout_ms: 3000\n  statement_timeout_ms: 10000\n", url, tmpdir);
	else
		fprintf(fp, "store:\n  path: %s/accounts.db\n  key_file: %s/accounts.key\n", tmpdir, tmpdir);
	fprintf(fp,
	        "http:\n  timeout_ms: 10000\n"
	        "session:\n  recovery_wait_ms: %d\n  lease_ttl_ms: %d\n"
	        "providers:\n%s",
	        ROUND_TIMEOUT_MS, LEASE_TTL_MS, providers_yaml);
	return fclose(fp) == 0 ? 0 : -1;
}

/* The settings every process of the fleet reads (unless given its own). */
static int write_settings(fleet *f, const char *providers_yaml)
{
	snprintf(f->settings, sizeof(f->settings), "%s/fleet.yaml", tmpdir);
	snprintf(f->providers, sizeof(f->providers), "%s", providers_yaml);
	return write_settings_file(f->settings, pg_url, providers_yaml);
}

static provauth_manager *open_manager(const fleet *f, provauth_store *store)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;

	if (provauth_settings_load(&s, f->settings) < 0) {
		fprintf(stderr, "settings: %s\n", provauth_last_error());
		return NULL;
	}
	opts.log = quiet_log;
	opts.store = store;
	if (provauth_manager_new(&m, s, &opts) < 0)
		fprintf(stderr, "manager: %s\n", provauth_last_error());
	provauth_settings_free(s);
	return m;
}

/* The store the fleet shares, opened afresh (as any other host would). */
static provauth_store *open_store(void)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	provauth_postgres_options po = PROVAUTH_POSTGRES_OPTIONS_INIT;
	provauth_store *st = NULL;
	char db[256], key[256];
	int rc;

	snprintf(db, sizeof(db), "%s/accounts.db", tmpdir);
	snprintf(key, sizeof(key), "%s/accounts.key", tmpdir);
	so.key_file = po.key_file = key;
	rc = pg_url ? provauth_store_postgres_open(&st, pg_url, &po) : provauth_store_sqlite_open(&st, db, &so);
	if (rc < 0)
		fprintf(stderr, "store: %s\n", provauth_last_error());
	return st;
}

/* The stored account, read through a store of its own: it must open. */
static provauth_account *read_stored(const char *id)
{
	provauth_store *st = open_store();
	provauth_account *a = NULL;

	if (st && st->get(st, &a, id) < 0)
		fprintf(stderr, "account %s: %s\n", id, provauth_last_error());
	provauth_store_free(st);
	return a;
}

/* ------------------------------------------------------------------------ */
/* Which process holds a connection                                         */
/* ------------------------------------------------------------------------ */

/* The inode of the TCP socket bound to 127.0.0.1:port (a client's end), or 0. */
static unsigned long socket_inode(unsigned short port)
{
	char line[512], want[32];
	unsigned long inode = 0;
	FILE *fp = fopen("/proc/net/tcp", "re");

	if (!fp)
		return 0;
	snprintf(want, sizeof(want), "0100007F:%04X", (unsigned int)port);
	while (!inode && fgets(line, sizeof(line), fp)) {
		char local[64];
		unsigned long ino;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %63s %*s %*s %*s %*s %*s %*s %*s %lu", local, &ino) == 2 && strcmp(local, want) == 0)
			inode = ino;
	}
	fclose(fp);
	return inode;
}

static int holds_socket(pid_t pid, unsigned long inode)
{
	char dir[64], path[320], link[64], want[64];
	struct dirent *de;
	DIR *d;
	int found = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if (!(d = opendir(dir)))
		return 0;
	while (!found && (de = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) > 0) {
			link[n] = '\0';
			found = strcmp(link, want) == 0;
		}
	}
	closedir(d);
	return found;
}

/* The child whose socket is the client end 127.0.0.1:port, or -1. */
static int child_on_port(const fleet *f, unsigned short port)
{
	unsigned long inode = socket_inode(port);
	int i;

	for (i = 0; inode && i < FLEET_PROCS; i++)
		if (f->pid[i] > 0 && holds_socket(f->pid[i], inode))
			return i;
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Suite                                                                    */
/* ------------------------------------------------------------------------ */

/* Shared by both suites (each its own temporary directory and board). */
static int suite_init(void)
{
	const char *v;
	ssize_t n;

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "PROVAUTH_PLUGIN_PATH is not set (run through make check)\n");
		return -1;
	}
	if ((v = getenv("PA_FLEET_TRIALS"))) {
		char *end;
		long t;

		errno = 0;
		t = strtol(v, &end, 10);
		if (errno || end == v || *end || t <= 0 || t > 10000) {
			fprintf(stderr, "PA_FLEET_TRIALS=%s: not a number of trials\n", v);
			return -1;
		}
		kill_trials = (int)t;
	}
	if ((n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1)) <= 0)
		return -1;
	self_exe[n] = '\0';
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pa-fleet-XXXXXX");
	pg_url = NULL;
	if (!mkdtemp(tmpdir) || !(bd = map_board(tmpdir, 1)))
		return -1;
	return 0;
}

static int suite_clean(void)
{
	kill_running();
	if (bd)
		munmap(bd, sizeof(*bd));
	bd = NULL;
	free(pg_url);
	pg_url = NULL;
	pa_test_rmtree(tmpdir);
	return 0;
}

/* 20 trials unless PA_FLEET_TRIALS says otherwise. */
static int suite_init_sqlite(void)
{
	use_postgres = 0;
	kill_trials = 20;
	return suite_init();
}

/* main started the server; 50 trials unless PA_FLEET_TRIALS says otherwise. */
static int suite_init_postgres(void)
{
	use_postgres = 1;
	kill_trials = 50;
	return suite_init();
}

/* Each scenario starts with an empty store: a new database, or the sqlite file removed; a new key. */
static int fresh_store(void)
{
	static const char *const files[] = { "accounts.db", "accounts.db-wal", "accounts.db-shm", "accounts.key",
	                                     NULL };
	char path[256];
	int i;

	for (i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	free(pg_url);
	pg_url = NULL;
	if (use_postgres && !(pg_url = pa_pg_fresh_database()))
		return -1;
	return 0;
}

/* ---- pixiv ---- */

static int pixiv_setup(fleet *f, fake_pixiv *fk, const char *rt, const char *uid)
{
	char providers[512], *id = NULL;
	provauth_manager *m;

	snprintf(providers, sizeof(providers),
	         "  pixiv:\n    token_url: %s/auth/token\n    api_base_url: %s/\n",
	         fake_pixiv_base_url(fk), fake_pixiv_base_url(fk));
	if (fresh_store() < 0 || write_settings(f, providers) < 0 ||
	    fake_pixiv_add_user(fk, rt, uid, "fleet", "fleet@example.com") < 0 ||
	    !(m = open_manager(f, NULL)))
		return -1;
	if (provauth_account_import(&id, m, "pixiv", "refresh_token", rt) < 0)
		fprintf(stderr, "import: %s\n", provauth_last_error());
	provauth_manager_free(m);
	if (!id)
		return -1;
	snprintf(f->id, sizeof(f->id), "%s", id);
	free(id);
	f->op = "user_detail";
	return 0;
}

/* The stored refresh token is the one the server holds current. */
static int stored_token_current(fake_pixiv *fk, const fleet *f, const char *uid)
{
	provauth_account *a = read_stored(f->id);
	char *current = fake_pixiv_current_refresh_token(fk, uid);
	const char *stored = a ? PA_CRED(a, REFRESH_TOKEN) : NULL;
	int same = stored && current && strcmp(stored, current) == 0;

	if (!same)
		fprintf(stderr, "stored refresh token %s the server's current one\n", a ? "is not" : "unreadable, not");
	provauth_account_free(a);
	free(current);
	return same;
}

static void test_pixiv_storm(void)
{
	fake_pixiv *fk = NULL;
	static fleet f; /* static: the suite's clean-up may kill its children after a fatal assertion */
	int round, r;

	memset(&f, 0, sizeof(f));
	CU_ASSERT_FATAL(fake_pixiv_start(&fk) == 0);
	fake_pixiv_set_rotation(fk, 1, 1);
	CU_ASSERT_FATAL(pixiv_setup(&f, fk, "rtFLEET-storm-1", "8101") == 0);
	CU_ASSERT_FATAL(spawn_all(&f) == 0);
	/* Every process builds its session (one token request: the imported account has no access token). */
	r = start_round(ALL_CHILDREN);
	CU_ASSERT_FATAL(wait_round(&f, r) == 0);
	CU_ASSERT(all_succeeded(&f, "pixiv warm-up"));
	for (round = 0; round < FLEET_ROUNDS; round++) {
		fake_pixiv_expire_access_tokens(fk);
		fake_pixiv_reset_counts(fk);
		r = start_round(ALL_CHILDREN);
		CU_ASSERT_FATAL(wait_round(&f, r) == 0);
		CU_ASSERT(all_succeeded(&f, "pixiv storm"));
		if (fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) != 1)
			fprintf(stderr, "pixiv storm round %d: %ld token requests\n", round,
			        fake_pixiv_count(fk, FAKE_PIXIV_TOKEN));
		CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
		/* Each of the N x M callers reached the API: none was answered from nowhere. */
		CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) >= FLEET_PROCS * FLEET_THREADS);
		CU_ASSERT(stored_token_current(fk, &f, "8101"));
	}
	stop_all(&f);
	fake_pixiv_stop(fk);
}

/*
 * One trial: the session dies, the fake holds the first token request, the
 * process that sent it is SIGKILLed. Returns the milliseconds from the kill
 * until every surviving caller had its answer, or -1.
 */
static long kill_trial(fleet *f, fake_pixiv *fk, int trial)
{
	unsigned short port = 0;
	int64_t killed_at, last = 0;
	int r, victim, status, i;

	fake_pixiv_expire_access_tokens(fk);
	fake_pixiv_reset_counts(fk);
	fake_pixiv_hold_token(fk, 1);
	r = start_round(ALL_CHILDREN);
	if (fake_pixiv_wait_held(fk, ROUND_TIMEOUT_MS, &port) < 0) {
		fprintf(stderr, "trial %d: no token request arrived\n", trial);
		return -1;
	}
	if ((victim = child_on_port(f, port)) < 0) {
		fprintf(stderr, "trial %d: no child holds the connection from port %u\n", trial, (unsigned int)port);
		fake_pixiv_release_held(fk, 0);
		return -1;
	}
	kill(f->pid[victim], SIGKILL);
	killed_at = now_ms();
	if (waitpid(f->pid[victim], &status, 0) != f->pid[victim] || !WIFSIGNALED(status))
		return -1;
	f->pid[victim] = 0;
	/* Its request dies with it, before the server granted or rotated anything. */
	fake_pixiv_release_held(fk, 0);
	if (wait_round(f, r) < 0)
		return -1;
	CU_ASSERT(all_succeeded(f, "after the kill"));
	/* The held one, and exactly one from the process that took over. */
	if (fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) != 2)
		fprintf(stderr, "trial %d: %ld token requests (2 expected)\n", trial, fake_pixiv_count(fk, FAKE_PIXIV_TOKEN));
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 2);
	for (i = 0; i < FLEET_PROCS; i++)
		if (f->pid[i] > 0 && atomic_load(&bd->slots[i].end_ms) > last)
			last = atomic_load(&bd->slots[i].end_ms);
	/* A replacement, so that every trial runs a full fleet. */
	if (spawn(f, victim) < 0)
		return -1;
	return (long)(last - killed_at);
}

static void test_pixiv_kill_holder(void)
{
	fake_pixiv *fk = NULL;
	static fleet f; /* static: the suite's clean-up may kill its children after a fatal assertion */
	long ms, worst = 0, total = 0;
	int trial, r, passed = 0;

	memset(&f, 0, sizeof(f));
	CU_ASSERT_FATAL(fake_pixiv_start(&fk) == 0);
	fake_pixiv_set_rotation(fk, 1, 1);
	CU_ASSERT_FATAL(pixiv_setup(&f, fk, "rtFLEET-kill-1", "8102") == 0);
	CU_ASSERT_FATAL(spawn_all(&f) == 0);
	r = start_round(ALL_CHILDREN);
	CU_ASSERT_FATAL(wait_round(&f, r) == 0);
	CU_ASSERT(all_succeeded(&f, "pixiv warm-up"));
	for (trial = 0; trial < kill_trials; trial++) {
		ms = kill_trial(&f, fk, trial);
		CU_ASSERT_FATAL(ms >= 0);
		if (ms >= TAKEOVER_MAX_MS)
			fprintf(stderr, "trial %d: survivors answered %ld ms after the kill\n", trial, ms);
		CU_ASSERT(ms < TAKEOVER_MAX_MS);
		CU_ASSERT(stored_token_current(fk, &f, "8102"));
		passed += ms < TAKEOVER_MAX_MS;
		worst = ms > worst ? ms : worst;
		total += ms;
	}
	fprintf(stderr, "test_fleet: %s: %d of %d kills of the lease holder recovered within %d ms "
	        "(worst %ld ms, mean %ld ms)\n", use_postgres ? "postgres" : "sqlite", passed, kill_trials,
	        TAKEOVER_MAX_MS, worst, total / kill_trials);
	stop_all(&f);
	fake_pixiv_stop(fk);
}

/* ---- pixverse ---- */

static void test_pixverse_storm(void)
{
	static const char email[] = "fleet@example.com", password[] = "pw-FLEET-41c2";
	fake_pixverse_options fo;
	fake_pixverse_account fa;
	fake_pixverse *srv;
	provauth_manager *m;
	char err[256], providers[512], input[4096], *tok, *id = NULL;
	static fleet f; /* static: the suite's clean-up may kill its children after a fatal assertion */
	int round, r;

	memset(&f, 0, sizeof(f));
	memset(&fo, 0, sizeof(fo));
	fo.login_limit = FAKE_PV_UNLIMITED;
	fo.login_limit_global = FAKE_PV_UNLIMITED;
	CU_ASSERT_PTR_NOT_NULL_FATAL(srv = fake_pixverse_start(&fo, err, sizeof(err)));
	memset(&fa, 0, sizeof(fa));
	fa.email = email;
	fa.password = password;
	fa.credit_daily = 5;
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &fa) > 0);
	snprintf(providers, sizeof(providers),
	         "  pixverse:\n    auto_reauth_enabled: true\n    reauth_cooldown: 0\n"
	         "    base_url: %s\n    openapi_base_url: %s/\n    web_origin: https://app.pixverse.test\n",
	         fake_pixverse_url(srv), fake_pixverse_url(srv));
	CU_ASSERT_FATAL(fresh_store() == 0);
	CU_ASSERT_FATAL(write_settings(&f, providers) == 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m = open_manager(&f, NULL));
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok = fake_pixverse_login_token(srv, email));
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s", tok);
	free(tok);
	CU_ASSERT_FATAL(provauth_account_import(&id, m, "pixverse", "cookies", input) == 0);
	/* A password account, so that a dead session may be recovered by logging in. */
	CU_ASSERT_FATAL(provauth_account_reauth(m, id, password) == 0);
	provauth_manager_free(m);
	snprintf(f.id, sizeof(f.id), "%s", id);
	free(id);
	f.op = "credits";

	CU_ASSERT_FATAL(spawn_all(&f) == 0);
	r = start_round(ALL_CHILDREN);
	CU_ASSERT_FATAL(wait_round(&f, r) == 0);
	CU_ASSERT(all_succeeded(&f, "pixverse warm-up"));
	for (round = 0; round < FLEET_ROUNDS; round++) {
		unsigned long before;

		CU_ASSERT_FATAL(fake_pixverse_kick(srv, email) == 0);
		fake_pixverse_reset_counters(srv);
		before = fake_pixverse_logins_ok(srv);
		r = start_round(ALL_CHILDREN);
		CU_ASSERT_FATAL(wait_round(&f, r) == 0);
		CU_ASSERT(all_succeeded(&f, "pixverse storm"));
		if (fake_pixverse_counter(srv, FAKE_PV_EP_LOGIN) != 1)
			fprintf(stderr, "pixverse storm round %d: %lu login requests\n", round,
			        fake_pixverse_counter(srv, FAKE_PV_EP_LOGIN));
		CU_ASSERT(fake_pixverse_counter(srv, FAKE_PV_EP_LOGIN) == 1);
		CU_ASSERT(fake_pixverse_logins_ok(srv) - before == 1);
	}
	stop_all(&f);
	fake_pixverse_stop(srv);
}

/* ---- the hot path ---- */

/* Counts every call that reaches the store. */
static long count_call(pa_fwd_op op, void *payload)
{
	(void)op;
	atomic_fetch_add((atomic_long *)payload, 1);
	return 0;
}

static void test_hot_path_no_store(void)
{
	static atomic_long calls;
	pa_fwd_hooks hooks = { count_call, NULL, &calls };
	provauth_store *inner, *counted = NULL;
	provauth_manager *m;
	fake_pixiv *fk = NULL;
	static fleet f; /* static: the suite's clean-up may kill its children after a fatal assertion */
	long before;
	char *out = NULL;
	int i, failed = 0;

	memset(&f, 0, sizeof(f));
	CU_ASSERT_FATAL(fake_pixiv_start(&fk) == 0);
	CU_ASSERT_FATAL(pixiv_setup(&f, fk, "rtFLEET-hot-1", "8103") == 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(inner = open_store());
	CU_ASSERT_FATAL(pa_fwd_store_new(&counted, inner, &hooks) == 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m = open_manager(&f, counted));
	atomic_store(&calls, 0);
	/* The first call builds the session from the store: the counter is seen to count. */
	CU_ASSERT_FATAL(provauth_call(&out, m, f.id, "user_detail", NULL, 0) == 0);
	provauth_free(out);
	CU_ASSERT(atomic_load(&calls) > 0);
	before = atomic_load(&calls);
	fake_pixiv_reset_counts(fk);
	for (i = 0; i < HOT_CALLS; i++) {
		out = NULL;
		failed += provauth_call(&out, m, f.id, "user_detail", NULL, 0) != 0;
		provauth_free(out);
	}
	CU_ASSERT(failed == 0);
	/* Every call went to the API, none to the store nor to the token endpoint. */
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == HOT_CALLS);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 0);
	if (atomic_load(&calls) != before)
		fprintf(stderr, "hot path: %ld store calls in %d calls\n", atomic_load(&calls) - before, HOT_CALLS);
	CU_ASSERT(atomic_load(&calls) == before);
	provauth_manager_free(m);
	provauth_store_free(counted);
	fake_pixiv_stop(fk);
}

/* ---- postgres only ---- */

/* Storms with a server restart thrown in at a few different moments. */
#define RESTART_ROUNDS 4

/* Whether any child's log holds s. */
static int child_logs_contain(const char *s)
{
	char path[256], line[4096];
	int i, found = 0;

	for (i = 0; i < FLEET_PROCS && !found; i++) {
		FILE *fp;

		snprintf(path, sizeof(path), "%s/child-%d.log", tmpdir, i);
		if (!(fp = fopen(path, "re")))
			continue;
		while (!found && fgets(line, sizeof(line), fp))
			found = strstr(line, s) != NULL;
		fclose(fp);
	}
	return found;
}

/* On a failure: the last events of child i, to tell where it stood. */
static void dump_child_log(int i)
{
	char path[256], line[1024], ring[20][1024];
	int n = 0, k;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/child-%d.log", tmpdir, i);
	if (!(fp = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, "http_", 5) != 0)
			snprintf(ring[n++ % 20], sizeof(ring[0]), "%s", line);
	fclose(fp);
	fprintf(stderr, "child %d, its last events:\n", i);
	for (k = n > 20 ? n - 20 : 0; k < n; k++)
		fprintf(stderr, "  %s", ring[k % 20]);
}

/* On a failure: who holds advisory locks (the postgres store's leases) on the scenario's database. */
static void who_holds_leases(const fleet *f)
{
	long long n = -1, port = -1;
	int i;

	pa_pg_query_int(pg_url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted", &n);
	pa_pg_query_int(pg_url, "SELECT a.client_port FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
	                "WHERE l.locktype = 'advisory' AND l.granted LIMIT 1", &port);
	fprintf(stderr, "advisory locks granted: %lld; one held by the connection from port %lld", n, port);
	{
		static const char *const last[] = { "pg_advisory_unlock", "pg_advisory_lock(", "pg_try_advisory_lock",
		                                     "LISTEN", NULL };
		char sql[512];
		long long hit;

		for (i = 0; last[i]; i++) {
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
			         "WHERE l.locktype = 'advisory' AND l.granted AND strpos(a.query, '%s') > 0", last[i]);
			if (pa_pg_query_int(pg_url, sql, &hit) == 0 && hit > 0)
				fprintf(stderr, ", its last statement: %s...", last[i]);
		}
	}
	for (i = 0; port > 0 && i < FLEET_PROCS; i++)
		if (child_on_port(f, (unsigned short)port) == i)
			fprintf(stderr, " (child %d)", i);
	if (port > 0 && socket_inode((unsigned short)port) && child_on_port(f, (unsigned short)port) < 0)
		fprintf(stderr, " (no child: the proxy's side of a connection, so child 0's)");
	fputc('\n', stderr);
}

/* Every record of the store opens (none damaged); the account's revision, or 0. */
static uint64_t store_consistent(const char *id)
{
	provauth_store *st = open_store();
	provauth_account **all = NULL, *a = NULL;
	char **damaged = NULL;
	size_t n = 0, nd = 0;
	uint64_t rev = 0;

	if (!st)
		return 0;
	CU_ASSERT(st->list_checked != NULL);
	if (st->list_checked && st->list_checked(st, &all, &n, &damaged, &nd, NULL) == 0) {
		CU_ASSERT(n >= 1);
		CU_ASSERT(nd == 0);
		provauth_account_list_free(all, n);
		provauth_damaged_list_free(damaged, nd);
	} else {
		CU_FAIL("the store cannot be listed");
	}
	if (st->get(st, &a, id) == 0)
		rev = a->revision;
	provauth_account_free(a);
	provauth_store_free(st);
	return rev;
}

/*
 * The server goes down under a running fleet. Calls on cached, valid
 * sessions go on (the hot path never touches the database); calls whose
 * session died need the store and fail cleanly, naming the server and
 * never its password, without asking the provider for a token that could
 * not be stored; once the server is back every call succeeds, and the store
 * is whole, its revision grown.
 */
static void test_server_outage(void)
{
	fake_pixiv *fk = NULL;
	static fleet f; /* static: the suite's clean-up may kill its children after a fatal assertion */
	char *password, port[16];
	uint64_t rev_before, rev_after;
	int r, i;

	memset(&f, 0, sizeof(f));
	CU_ASSERT_FATAL(fake_pixiv_start(&fk) == 0);
	fake_pixiv_set_rotation(fk, 1, 1);
	CU_ASSERT_FATAL(pixiv_setup(&f, fk, "rtFLEET-outage-1", "8104") == 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(password = pa_pg_server_password());
	snprintf(port, sizeof(port), "%d", pa_pg_port());
	CU_ASSERT_FATAL(spawn_all(&f) == 0);
	r = start_round(ALL_CHILDREN);
	CU_ASSERT_FATAL(wait_round(&f, r) == 0);
	CU_ASSERT(all_succeeded(&f, "warm-up"));
	CU_ASSERT((rev_before = store_consistent(f.id)) > 0);

	CU_ASSERT_FATAL(pa_pg_pause() == 0);
	fake_pixiv_reset_counts(fk);
	r = start_round(ALL_CHILDREN);
	CU_ASSERT_FATAL(wait_round(&f, r) == 0);
	CU_ASSERT(all_succeeded(&f, "cached sessions, server down"));
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_API) == FLEET_PROCS * FLEET_THREADS);

	fake_pixiv_expire_access_tokens(fk);
	fake_pixiv_reset_counts(fk);
	r = start_round(ALL_CHILDREN);
	CU_ASSERT_FATAL(wait_round(&f, r) == 0);
	for (i = 0; i < FLEET_PROCS; i++) {
		const slot *sl = &bd->slots[i];

		CU_ASSERT(atomic_load(&sl->failed) == FLEET_THREADS);
		if (!strstr(sl->error, "127.0.0.1") || !strstr(sl->error, port))
			fprintf(stderr, "outage: child %d: the message does not name 127.0.0.1:%s: %s\n", i, port, sl->error);
		CU_ASSERT(strstr(sl->error, "127.0.0.1") != NULL && strstr(sl->error, port) != NULL);
		CU_ASSERT(strstr(sl->error, password) == NULL);
	}
	/* A token the store could not keep is never asked for: it would be lost with its rotation. */
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 0);

	CU_ASSERT_FATAL(pa_pg_resume() == 0);
	fake_pixiv_reset_counts(fk);
	r = start_round(ALL_CHILDREN);
	CU_ASSERT_FATAL(wait_round(&f, r) == 0);
	CU_ASSERT(all_succeeded(&f, "server back"));
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
	CU_ASSERT(stored_token_current(fk, &f, "8104"));
	rev_after = store_consistent(f.id);
	CU_ASSERT(rev_after > rev_before);

	/*
	 * A restart while the lease holder's token request is in the provider's
	 * hands: the holder must still store the rotated token (on a new
	 * connection) before using it. The others, waiting on the lease, may
	 * fail meanwhile, naming the server; the next round succeeds everywhere.
	 */
	{
		unsigned short holder_port = 0;
		int k;

		rev_before = rev_after;
		fake_pixiv_expire_access_tokens(fk);
		fake_pixiv_reset_counts(fk);
		fake_pixiv_hold_token(fk, 1);
		r = start_round(ALL_CHILDREN);
		CU_ASSERT_FATAL(fake_pixiv_wait_held(fk, ROUND_TIMEOUT_MS, &holder_port) == 0);
		CU_ASSERT_FATAL(pa_pg_restart() == 0);
		/*
		 * The restart cut the holder's lease connection: the server no
		 * longer holds its lease, and a waiter that reconnects before the
		 * holder has stored may take the lease over (postgres-store.md: a
		 * holder cut off is taken over, as a dead one). So: the held
		 * request, and at most one more by the one waiter that took over.
		 */
		fake_pixiv_release_held(fk, 1);
		CU_ASSERT_FATAL(wait_round(&f, r) == 0);
		for (k = 0; k < FLEET_PROCS; k++) {
			const slot *sl = &bd->slots[k];

			CU_ASSERT(atomic_load(&sl->ok) + atomic_load(&sl->failed) == FLEET_THREADS);
			if (atomic_load(&sl->failed) > 0)
				CU_ASSERT(strstr(sl->error, "127.0.0.1") != NULL && strstr(sl->error, port) != NULL);
			CU_ASSERT(strstr(sl->error, password) == NULL);
		}
		CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) >= 1 && fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) <= 2);
		if (fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) >= 2) {
			fprintf(stderr, "test_fleet: %ld token requests after the restart (a waiter took the lease over)\n",
			        (long)fake_pixiv_count(fk, FAKE_PIXIV_TOKEN));
			for (k = 0; k < FLEET_PROCS; k++)
				if (atomic_load(&bd->slots[k].failed) > 0)
					fprintf(stderr, "  child %d: %d failed: %s\n", k, (int)atomic_load(&bd->slots[k].failed),
					        bd->slots[k].error);
		}
		CU_ASSERT(stored_token_current(fk, &f, "8104"));
		fake_pixiv_reset_counts(fk);
		r = start_round(ALL_CHILDREN);
		CU_ASSERT_FATAL(wait_round(&f, r) == 0);
		CU_ASSERT(all_succeeded(&f, "after a restart inside the holder's token exchange"));
		/* Whoever stored last, the stored token is the current one: nobody needs another. */
		CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 0);
		rev_after = store_consistent(f.id);
		CU_ASSERT(rev_after > rev_before);
	}

	/*
	 * A restart in the middle of a storm: wherever it lands (before the
	 * lease, inside the refresh, at the put), a caller either succeeds or
	 * fails naming the server, and no rotated token is lost.
	 */
	for (i = 0; i < RESTART_ROUNDS; i++) {
		int k;

		rev_before = rev_after;
		fake_pixiv_expire_access_tokens(fk);
		r = start_round(ALL_CHILDREN);
		sleep_ms(i * 3);
		CU_ASSERT_FATAL(pa_pg_restart() == 0);
		CU_ASSERT_FATAL(wait_round(&f, r) == 0);
		for (k = 0; k < FLEET_PROCS; k++) {
			const slot *sl = &bd->slots[k];

			CU_ASSERT(atomic_load(&sl->ok) + atomic_load(&sl->failed) == FLEET_THREADS);
			if (atomic_load(&sl->failed) > 0)
				CU_ASSERT(strstr(sl->error, "127.0.0.1") != NULL && strstr(sl->error, port) != NULL);
			CU_ASSERT(strstr(sl->error, password) == NULL);
		}
		if (!stored_token_current(fk, &f, "8104")) {
			CU_FAIL("a restart mid-storm lost the rotated refresh token");
			for (k = 0; k < FLEET_PROCS; k++)
				dump_child_log(k);
		}
		/* And once it is back, every call succeeds. */
		r = start_round(ALL_CHILDREN);
		CU_ASSERT_FATAL(wait_round(&f, r) == 0);
		CU_ASSERT(all_succeeded(&f, "after a restart mid-storm"));
		CU_ASSERT(stored_token_current(fk, &f, "8104"));
		rev_after = store_consistent(f.id);
		CU_ASSERT(rev_after >= rev_before);
	}
	stop_all(&f);
	CU_ASSERT(!child_logs_contain(password));
	free(password);
	fake_pixiv_stop(fk);
}

/*
 * The scenario's URL through the proxy: its port replaced, and a passfile of
 * the test's own (in tmpdir) that holds the server's password for the
 * proxy's port too, since libpq looks the password up by host and port.
 * malloc, or NULL.
 */
static char *url_via(const char *url, int port, unsigned short via, const char *password)
{
	char from[16], passfile[256], *out, *at;
	size_t need;
	FILE *fp;
	int fd;

	snprintf(from, sizeof(from), ":%d/", port);
	snprintf(passfile, sizeof(passfile), "%s/pgpass-proxy", tmpdir);
	if ((fd = open(passfile, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return NULL;
	if (!(fp = fdopen(fd, "w"))) {
		close(fd);
		return NULL;
	}
	fprintf(fp, "127.0.0.1:%u:*:*:%s\n", (unsigned int)via, password);
	if (fclose(fp) != 0 || !(at = strstr(url, from)) || strchr(url, '?') ||
	    !(out = malloc((need = strlen(url) + strlen(passfile) + 32))))
		return NULL;
	snprintf(out, need, "%.*s:%u/%s?passfile=%s", (int)(at - url), url, (unsigned int)via, at + strlen(from),
	         passfile);
	return out;
}

#define CUT_TRIALS 5

/*
 * One process (child 0) reaches the server through the proxy. It becomes
 * the lease holder and its token request is held at the fake; the others
 * queue behind its lease. Then every connection of child 0 is cut: its
 * lease must free itself at once, another process takes the recovery over
 * and stores the rotated token. Then child 0's request reaches the
 * provider (with the superseded token, refused): whatever child 0 makes of
 * it, the stored token stays the current one, every record opens, and the
 * next round succeeds everywhere without another token request.
 */
static void test_holder_connection_cut(void)
{
	const unsigned int others = ALL_CHILDREN & ~1u;
	pa_tcp_proxy *proxy = NULL;
	fake_pixiv *fk = NULL;
	static fleet f; /* static: the suite's clean-up may kill its children after a fatal assertion */
	char *via, *password, proxy_port[16];
	int r, r1, trial, i, holder_failed = 0;
	long worst = 0;

	memset(&f, 0, sizeof(f));
	CU_ASSERT_FATAL(fake_pixiv_start(&fk) == 0);
	fake_pixiv_set_rotation(fk, 1, 1);
	CU_ASSERT_FATAL(pixiv_setup(&f, fk, "rtFLEET-cut-1", "8105") == 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(password = pa_pg_server_password());
	CU_ASSERT_FATAL(pa_tcp_proxy_start(&proxy, (unsigned short)pa_pg_port()) == 0);
	snprintf(proxy_port, sizeof(proxy_port), "%u", (unsigned int)pa_tcp_proxy_port(proxy));
	CU_ASSERT_PTR_NOT_NULL_FATAL(via = url_via(pg_url, pa_pg_port(), pa_tcp_proxy_port(proxy), password));
	snprintf(f.own_settings[0], sizeof(f.own_settings[0]), "%s/fleet-proxied.yaml", tmpdir);
	CU_ASSERT_FATAL(write_settings_file(f.own_settings[0], via, f.providers) == 0);
	free(via);
	CU_ASSERT_FATAL(spawn_all(&f) == 0);
	r = start_round(ALL_CHILDREN);
	CU_ASSERT_FATAL(wait_round(&f, r) == 0);
	CU_ASSERT(all_succeeded(&f, "warm-up"));
	/* Child 0's store does go through the proxy. */
	CU_ASSERT_FATAL(pa_tcp_proxy_accepted(proxy) > 0);

	for (trial = 0; trial < CUT_TRIALS; trial++) {
		unsigned short port = 0;
		int64_t cut_at, last = 0;
		uint64_t rev_before = store_consistent(f.id);

		fake_pixiv_expire_access_tokens(fk);
		fake_pixiv_reset_counts(fk);
		fake_pixiv_hold_token(fk, 1);
		r1 = start_round(1u);
		if (fake_pixiv_wait_held(fk, ROUND_TIMEOUT_MS, &port) < 0) {
			fprintf(stderr, "cut %d: child 0 sent no token request\n", trial);
			dump_child_log(0);
			who_holds_leases(&f);
			CU_FAIL_FATAL("no token request from the holder");
		}
		CU_ASSERT_FATAL(child_on_port(&f, port) == 0);
		r = start_round(others);
		/* The others find the lease held (across processes) and wait: no second token request. */
		sleep_ms(200);
		CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 1);
		cut_at = now_ms();
		CU_ASSERT(pa_tcp_proxy_cut(proxy) > 0);
		CU_ASSERT_FATAL(wait_round_of(&f, r, others) == 0);
		CU_ASSERT(all_succeeded(&f, "after the cut"));
		for (i = 1; i < FLEET_PROCS; i++)
			if (atomic_load(&bd->slots[i].end_ms) > last)
				last = atomic_load(&bd->slots[i].end_ms);
		if (last - cut_at >= TAKEOVER_MAX_MS)
			fprintf(stderr, "cut %d: the others answered %lld ms after the cut\n", trial, (long long)(last - cut_at));
		CU_ASSERT(last - cut_at < TAKEOVER_MAX_MS);
		worst = last - cut_at > worst ? (long)(last - cut_at) : worst;
		/* The held request and the one of the process that took over. */
		CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 2);
		CU_ASSERT(stored_token_current(fk, &f, "8105"));

		/* Child 0's request reaches the provider now, with the token the other process rotated away. */
		fake_pixiv_release_held(fk, 1);
		CU_ASSERT_FATAL(wait_round(&f, r) == 0);
		(void)r1;
		/*
		 * The holder's own callers were in flight when its connections
		 * went. Its refresh, sent with the token the next holder rotated
		 * away, is refused; the store then holds another refresh token, so
		 * it takes that one (no password login, no third token request)
		 * and every one of its callers succeeds.
		 */
		CU_ASSERT(atomic_load(&bd->slots[0].ok) + atomic_load(&bd->slots[0].failed) == FLEET_THREADS);
		if (atomic_load(&bd->slots[0].failed) > 0) {
			holder_failed++;
			fprintf(stderr, "cut %d: the cut holder's own callers: %d ok, %d failed: %s\n", trial,
			        atomic_load(&bd->slots[0].ok), atomic_load(&bd->slots[0].failed), bd->slots[0].error);
			dump_child_log(0);
		}
		CU_ASSERT(atomic_load(&bd->slots[0].ok) == FLEET_THREADS);
		CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 2);
		CU_ASSERT(strstr(bd->slots[0].error, password) == NULL);
		CU_ASSERT(stored_token_current(fk, &f, "8105"));
		CU_ASSERT(store_consistent(f.id) > rev_before);

		/* Every process, the cut one too, goes on with what the store holds. */
		fake_pixiv_reset_counts(fk);
		r = start_round(ALL_CHILDREN);
		CU_ASSERT_FATAL(wait_round(&f, r) == 0);
		CU_ASSERT(all_succeeded(&f, "after the cut, next round"));
		CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == 0);
	}
	fprintf(stderr, "test_fleet: postgres: %d cuts of the holder's connections, taken over within %ld ms at "
	        "worst; the cut holder's own callers failed in %d of them\n", CUT_TRIALS, worst, holder_failed);
	stop_all(&f);
	CU_ASSERT(!child_logs_contain(password));
	pa_tcp_proxy_stop(proxy);
	free(password);
	fake_pixiv_stop(fk);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "hot path: 1,000 calls on a cached session make no store call", test_hot_path_no_store },
		{ "pixiv: N processes x M threads, one token request", test_pixiv_storm },
		{ "pixverse: N processes x M threads, one login", test_pixverse_storm },
		{ "pixiv: SIGKILL of the lease holder inside its token exchange", test_pixiv_kill_holder },
		PA_TEST_END
	};
	static const pa_test postgres_tests[] = {
		{ "hot path: 1,000 calls on a cached session make no store call", test_hot_path_no_store },
		{ "pixiv: N processes x M threads, one token request", test_pixiv_storm },
		{ "pixverse: N processes x M threads, one login", test_pixverse_storm },
		{ "pixiv: SIGKILL of the lease holder inside its token exchange", test_pixiv_kill_holder },
		{ "server down mid-run: clean failures, the hot path goes on, then success", test_server_outage },
		{ "the lease holder's connections cut mid-refresh", test_holder_connection_cut },
		PA_TEST_END
	};
	static const pa_test_suite sqlite_suite[] = {
		{ "fleet (sqlite)", suite_init_sqlite, suite_clean, tests },
		PA_TEST_SUITE_END
	};
	static const pa_test_suite both_suites[] = {
		{ "fleet (sqlite)", suite_init_sqlite, suite_clean, tests },
		{ "fleet (postgres)", suite_init_postgres, suite_clean, postgres_tests },
		PA_TEST_SUITE_END
	};
	int rc;

	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);
	/* Children inherit the environment pa_pg_start sets (PGPASSFILE, no other PG* variable). */
	if ((rc = pa_pg_start()) == 77) {
		/* Only outside CI (pa_pg_start printed why): the sqlite half still runs, the whole reads as skipped. */
		rc = pa_test_run(argc, argv, sqlite_suite);
		return rc == 0 ? 77 : rc;
	}
	if (rc != 0)
		return 1;
	return pa_test_run(argc, argv, both_suites);
}
