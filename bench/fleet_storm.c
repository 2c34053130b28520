/*
 * fleet_storm: the storm of bench/storm.c across processes sharing one
 * postgres store, as a fleet of hosts would. PROCESSES children (this
 * program re-executed with --child), each its own manager and store
 * connections, THREADS threads each, call one account at the same moment
 * right after its credentials died:
 *  - pixiv: the access token expired (at the server, and by the children's
 *    clock): exactly one token request may reach the server;
 *  - pixverse: the server killed the session: exactly one password login
 *    may reach the server.
 * The fakes run in the parent, on loopback. Every caller's latency is taken
 * in its child from the moment all threads of all children are released.
 *
 * Every child is a host that has been running: its manager made a call
 * while the session was good (the session cached, the store's connections
 * open) before the parent kills the session and releases all children.
 *
 * The yardstick, measured in the same run: one refresh round trip, which is
 * the same event with one process of one thread (a lone caller whose cached
 * session is dead: the refused call, the lease, the refresh or login, the
 * durable put, the call again), the median of LONE_TRIALS trials before and
 * after the storm. Target: p99 <= that + 20 ms, and the counts 1.
 * Exits 1 when a count is not 1 or a caller failed, 2 without a server.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
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
#include "bench_pg.h"
#include "bench_util.h"
#include "../tests/fake/fake_pixiv.h"
#include "../tests/fake/fake_pixverse.h"

/* The fleet; PA_BENCH_FLEET_PROCESSES and _THREADS take fewer, to see where time goes. */
#define PROCESSES 8
#define THREADS 16
#define MAX_CALLERS (PROCESSES * THREADS)
static int processes = PROCESSES, threads = THREADS;
/* Lone trials, half before the storm and half after it, so a change in load touches both. */
#define LONE_TRIALS 6
/* The slack the issue allows over one round trip, ms. */
#define SLACK_MS 20.0
/* The pixiv children's clock is ahead by this many seconds per round, so the token stored by the
 * previous round (valid an hour by the previous clock) is expired again for the manager. */
#define CLOCK_STEP_S 10000

static const char pixverse_email[] = "fleet@example.com", pixverse_password[] = "fleet-pw-1";

/* ------------------------------------------------------------------------ */
/* The child                                                                */
/* ------------------------------------------------------------------------ */

typedef struct caller {
	provauth_manager *m;
	const char *id, *op;
	pthread_barrier_t *start;
	double ms;
	int rc;
	char error[256];
} caller;

/* The manager's clock: seconds ahead of the real one, moved on by the child at the start signal. */
static int64_t clock_ahead(void *payload)
{
	return (int64_t)time(NULL) + atomic_load((_Atomic int64_t *)payload);
}

static void *call_once(void *arg)
{
	caller *c = arg;
	char *out = NULL;
	uint64_t t0;

	pthread_barrier_wait(c->start);
	t0 = bench_now_ns();
	c->rc = provauth_call(&out, c->m, c->id, c->op, NULL, 0);
	c->ms = (double)(bench_now_ns() - t0) / 1e6;
	if (c->rc != 0)
		snprintf(c->error, sizeof(c->error), "%s", provauth_last_error());
	provauth_free(out);
	return NULL;
}

/* When the children were released (CLOCK_MONOTONIC ns), for the verbose log. */
static _Atomic uint64_t released_ns;

/*
 * PA_BENCH_FLEET_VERBOSE=1: each child prints its events with the time since
 * the release, to see where a storm's time goes.
 */
static void child_log(provauth_log_level level, const char *event, const provauth_log_field *fields, size_t nfields,
                      void *payload)
{
	uint64_t t0 = atomic_load(&released_ns);

	(void)level; (void)fields; (void)nfields; (void)payload;
	if (t0)
		fprintf(stderr, "fleet_storm child %d: +%.1f ms %s\n", (int)getpid(), (double)(bench_now_ns() - t0) / 1e6,
		        event);
}

static void settings_yaml(char *yaml, size_t size, const char *provider, const char *url)
{
	if (strcmp(provider, "pixiv") == 0)
		snprintf(yaml, size,
		         "session:\n  recovery_wait_ms: 30000\n"
		         "providers:\n  pixiv:\n    token_url: %s/auth/token\n    api_base_url: %s/\n",
		         url, url);
	else
		snprintf(yaml, size,
		         "session:\n  recovery_wait_ms: 30000\n"
		         "providers:\n  pixverse:\n    auto_reauth_enabled: true\n    reauth_cooldown: 0\n"
		         "    base_url: %s\n    openapi_base_url: %s/\n",
		         url, url);
}

static provauth_manager *manager_on(provauth_store *st, const char *provider, const char *url,
                                    _Atomic int64_t *ahead)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[1024];

	settings_yaml(yaml, sizeof(yaml), provider, url);
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "bench-fleet.yaml") < 0)
		bench_die("settings");
	opts.store = st;
	opts.log = bench_env_long("PA_BENCH_FLEET_VERBOSE", 0) == 1 ? child_log : bench_log_quiet;
	opts.clock = clock_ahead;
	opts.clock_payload = ahead;
	if (provauth_manager_new(&m, s, &opts) < 0)
		bench_die("manager");
	provauth_settings_free(s);
	return m;
}

/*
 * argv: --child pixiv|pixverse CONNINFO URL ACCOUNT_ID CLOCK_AHEAD_S THREADS.
 * A host that has been running: opens its store and manager and makes one
 * call while the session is good (its session cached, its connections
 * open), says "ready" on stdout, and waits for stdin to close: the parent's
 * start signal, the same moment for every child, given after it killed the
 * session. The clock then moves CLOCK_STEP_S on (the pixiv token stored
 * before has expired for the manager too), the threads call at once, and
 * the child writes one line "<ms> <rc>" per caller.
 */
static int child_main(int argc, char **argv)
{
	pthread_barrier_t start;
	pthread_t th[THREADS];
	caller c[THREADS];
	provauth_store *st;
	provauth_manager *m;
	_Atomic int64_t ahead;
	const char *op = strcmp(argv[2], "pixiv") == 0 ? "user_detail" : "credits";
	char go, *end, *out = NULL;
	long n;
	int i;

	if (argc != 8)
		return 2;
	atomic_store(&ahead, strtoll(argv[6], &end, 10));
	if (*end)
		return 2;
	n = strtol(argv[7], &end, 10);
	if (*end || n < 1 || n > THREADS)
		return 2;
	st = bench_pg_store_open(argv[3], 0);
	m = manager_on(st, argv[2], argv[4], &ahead);
	if (provauth_call(&out, m, argv[5], op, NULL, 0) < 0)
		bench_die("the child's first call");
	provauth_free(out);
	/*
	 * Diagnostic (PA_BENCH_FLEET_WARM_LEASE=1): a short wait on another id
	 * starts the store's listener and opens a lease connection before the
	 * storm, to tell their cost on the first recovery from the rest.
	 */
	if (bench_env_long("PA_BENCH_FLEET_WARM_LEASE", 0) == 1 && st->lease_wait)
		st->lease_wait(st, "fleet-warm-up", 50);
	printf("ready\n");
	fflush(stdout);
	while (read(0, &go, 1) > 0)
		;
	atomic_fetch_add(&ahead, CLOCK_STEP_S);
	atomic_store(&released_ns, bench_now_ns());
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (i = 0; i < n; i++) {
		c[i] = (caller){ m, argv[5], op, &start, 0, 0, "" };
		if (pthread_create(&th[i], NULL, call_once, &c[i]) != 0)
			return 3;
	}
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		printf("%.3f %d\n", c[i].ms, c[i].rc);
		if (c[i].rc != 0)
			fprintf(stderr, "fleet_storm child %d: %s\n", (int)getpid(), c[i].error);
	}
	provauth_manager_free(m);
	provauth_store_free(st);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The parent                                                               */
/* ------------------------------------------------------------------------ */

static char self_exe[1024];

typedef struct child {
	pid_t pid;
	FILE *out;
} child;

static pid_t spawn(const char *provider, const char *conninfo, const char *url, const char *id, int64_t ahead,
                   int nthreads, int go_fd, FILE **out)
{
	char ahead_s[32], threads_s[16];
	char *argv[] = { self_exe, "--child", (char *)provider, (char *)conninfo, (char *)url, (char *)id,
		             ahead_s, threads_s, NULL };
	int res[2];
	pid_t pid;

	snprintf(ahead_s, sizeof(ahead_s), "%lld", (long long)ahead);
	snprintf(threads_s, sizeof(threads_s), "%d", nthreads);
	if (pipe2(res, O_CLOEXEC) != 0)
		bench_die("pipe");
	if ((pid = fork()) < 0)
		bench_die("fork");
	if (pid == 0) {
		dup2(go_fd, 0);
		dup2(res[1], 1);
		execv(self_exe, argv);
		_exit(127);
	}
	close(res[1]);
	if (!(*out = fdopen(res[0], "r")))
		bench_die("fdopen");
	return pid;
}

/* The dead session, again: pixiv's access token at the server, pixverse's session. */
typedef void (*kill_fn)(void *fake);

/* One account on one fake, and how to kill its session. */
typedef struct scene {
	const char *provider, *conninfo, *url, *id;
	void *fake;
	kill_fn kill;
	void (*reset)(void *fake);   /* the fake's counters */
	int64_t ahead;               /* the children's clock, seconds ahead; moves on each round */
} scene;

/*
 * Starts `processes` children of `threads` threads on the scene's account;
 * once all have made their first call, kills the session, resets the
 * fake's counters and releases them at once. Fills ms[] with every
 * caller's latency and returns the failed calls (a child that died counts
 * all its callers as failed).
 */
static int fleet(scene *sc, int nproc, int nthreads, double *ms, int *count)
{
	child kids[PROCESSES];
	int go[2], i, failed = 0, status;
	char line[128];

	*count = 0;
	if (pipe2(go, O_CLOEXEC) != 0)
		bench_die("pipe");
	for (i = 0; i < nproc; i++)
		kids[i].pid = spawn(sc->provider, sc->conninfo, sc->url, sc->id, sc->ahead, nthreads, go[0], &kids[i].out);
	close(go[0]);
	for (i = 0; i < nproc; i++)
		if (!fgets(line, sizeof(line), kids[i].out) || strcmp(line, "ready\n") != 0) {
			fprintf(stderr, "bench: fleet child %d did not start\n", (int)kids[i].pid);
			exit(1);
		}
	sc->kill(sc->fake);
	sc->reset(sc->fake);
	/*
	 * Every child is blocked on the read: closing the only write end
	 * (O_CLOEXEC kept it out of the children) releases them all.
	 */
	close(go[1]);
	for (i = 0; i < nproc; i++) {
		int got = 0;
		double t;
		int rc;

		while (fgets(line, sizeof(line), kids[i].out) && sscanf(line, "%lf %d", &t, &rc) == 2) {
			ms[(*count)++] = t;
			failed += rc != 0;
			got++;
		}
		if (nproc > 1 && bench_env_long("PA_BENCH_FLEET_VERBOSE", 0) == 1)
			fprintf(stderr, "fleet_storm: child %d: %d callers, fastest %.1f ms, slowest %.1f ms\n", i, got,
			        bench_min(ms + *count - got, (size_t)got), bench_quantile(ms + *count - got, (size_t)got, 1.0));
		fclose(kids[i].out);
		if (waitpid(kids[i].pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
		    got != nthreads) {
			fprintf(stderr, "bench: fleet child %d ended badly (status %d, %d callers)\n", (int)kids[i].pid,
			        status, got);
			failed += nthreads - got;
		}
	}
	/* The token this round stored expires an hour after the children's last clock. */
	sc->ahead += CLOCK_STEP_S;
	return failed;
}

typedef struct figures {
	const char *provider;
	long requests;         /* token requests (pixiv) or logins (pixverse) */
	long login_requests;   /* pixverse: login requests, accepted or not */
	int failed, callers;
	double p50, p99, max, lone_ms, lone[LONE_TRIALS];
} figures;

static void kill_pixiv(void *fake)
{
	fake_pixiv_expire_access_tokens(fake);
}

static void kill_pixverse(void *fake)
{
	fake_pixverse_kick(fake, pixverse_email);
}

/* One scenario: lone trials, the storm, lone trials again. */
static void scenario(figures *f, scene *sc, long (*count)(void *), long (*logins)(void *))
{
	double ms[MAX_CALLERS], one[1];
	int i, n;

	f->provider = sc->provider;
	for (i = 0; i < LONE_TRIALS; i++) {
		if (i == LONE_TRIALS / 2) {
			f->failed = fleet(sc, processes, threads, ms, &f->callers);
			f->requests = count(sc->fake);
			f->login_requests = logins ? logins(sc->fake) : 0;
			f->p50 = bench_quantile(ms, (size_t)f->callers, 0.50);
			f->p99 = bench_quantile(ms, (size_t)f->callers, 0.99);
			f->max = f->callers ? ms[f->callers - 1] : 0;
		}
		if (fleet(sc, 1, 1, one, &n) != 0 || n != 1) {
			fprintf(stderr, "bench: a lone %s caller failed\n", sc->provider);
			exit(1);
		}
		f->lone[i] = one[0];
	}
	f->lone_ms = bench_median(f->lone, LONE_TRIALS);
}

static void pixiv_reset(void *fake)
{
	fake_pixiv_reset_counts(fake);
}

static long pixiv_tokens(void *fake)
{
	return fake_pixiv_count(fake, FAKE_PIXIV_TOKEN);
}

static void pixverse_reset(void *fake)
{
	fake_pixverse_reset_counters(fake);
}

static long pixverse_logins(void *fake)
{
	return (long)fake_pixverse_logins_ok(fake);
}

static long pixverse_login_requests(void *fake)
{
	return (long)fake_pixverse_counter(fake, FAKE_PV_EP_LOGIN);
}

static void run_pixiv(figures *f, const char *conninfo)
{
	provauth_store *st = bench_pg_store_open(conninfo, 0);
	provauth_manager *m;
	fake_pixiv *fk = NULL;
	_Atomic int64_t ahead = 0;
	char *id = NULL, *out = NULL;
	scene sc;

	if (fake_pixiv_start(&fk) < 0 ||
	    fake_pixiv_add_user(fk, "fleet-refresh-token", "778", "fleet", "f@example.com") < 0)
		bench_die("fake pixiv");
	m = manager_on(st, "pixiv", fake_pixiv_base_url(fk), &ahead);
	if (provauth_account_import(&id, m, "pixiv", "refresh_token", "fleet-refresh-token") < 0 ||
	    provauth_call(&out, m, id, "user_detail", NULL, 0) < 0)
		bench_die("pixiv setup");
	provauth_free(out);
	provauth_manager_free(m);
	sc = (scene){ "pixiv", conninfo, fake_pixiv_base_url(fk), id, fk, kill_pixiv, pixiv_reset, 0 };
	scenario(f, &sc, pixiv_tokens, NULL);
	provauth_free(id);
	provauth_store_free(st);
	fake_pixiv_stop(fk);
}

static void run_pixverse(figures *f, const char *conninfo)
{
	provauth_store *st = bench_pg_store_open(conninfo, 0);
	provauth_manager *m;
	fake_pixverse_options po;
	fake_pixverse_account a;
	fake_pixverse *srv;
	_Atomic int64_t ahead = 0;
	char err[256], input[4096], *tok, *id = NULL;
	scene sc;

	/* The lone trials log in once each, more often than the server's default limit allows. */
	memset(&po, 0, sizeof(po));
	po.login_limit = FAKE_PV_UNLIMITED;
	po.login_limit_global = FAKE_PV_UNLIMITED;
	if (!(srv = fake_pixverse_start(&po, err, sizeof(err)))) {
		fprintf(stderr, "bench: fake pixverse: %s\n", err);
		exit(1);
	}
	memset(&a, 0, sizeof(a));
	a.email = pixverse_email;
	a.password = pixverse_password;
	a.credit_daily = 10;
	if (fake_pixverse_add_account(srv, &a) < 0 || !(tok = fake_pixverse_login_token(srv, pixverse_email)))
		bench_die("fake pixverse account");
	m = manager_on(st, "pixverse", fake_pixverse_url(srv), &ahead);
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s; pv_sid=fleet-sid", tok);
	free(tok);
	/* A password account (so recovery may log in), with a working session. */
	if (provauth_account_import(&id, m, "pixverse", "cookies", input) < 0 ||
	    provauth_account_reauth(m, id, pixverse_password) < 0)
		bench_die("pixverse setup");
	provauth_manager_free(m);
	sc = (scene){ "pixverse", conninfo, fake_pixverse_url(srv), id, srv, kill_pixverse, pixverse_reset, 0 };
	scenario(f, &sc, pixverse_logins, pixverse_login_requests);
	provauth_free(id);
	provauth_store_free(st);
	fake_pixverse_stop(srv);
}

static int met(const figures *f)
{
	return f->failed == 0 && f->callers == processes * threads && f->requests == 1 && f->p99 <= f->lone_ms + SLACK_MS &&
	       (strcmp(f->provider, "pixverse") != 0 || f->login_requests == 1);
}

int main(int argc, char **argv)
{
	figures fx, fv;
	const char *url;
	char *conninfo;
	ssize_t n;
	int i;

	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);
	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "bench: PROVAUTH_PLUGIN_PATH must name the built plugins (./dev bench sets it)\n");
		return 2;
	}
	if (!(url = bench_pg_server("fleet_storm")))
		return 2;
	processes = (int)bench_env_long("PA_BENCH_FLEET_PROCESSES", PROCESSES);
	threads = (int)bench_env_long("PA_BENCH_FLEET_THREADS", THREADS);
	if (processes > PROCESSES || threads > THREADS) {
		fprintf(stderr, "bench: at most %d processes of %d threads\n", PROCESSES, THREADS);
		return 2;
	}
	if ((n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1)) <= 0)
		bench_die("readlink /proc/self/exe");
	self_exe[n] = '\0';
	/* A child that dies must not take the parent with it through a closed pipe. */
	signal(SIGPIPE, SIG_IGN);
	memset(&fx, 0, sizeof(fx));
	memset(&fv, 0, sizeof(fv));
	conninfo = bench_pg_fresh_database(url, "provauth_bench_fleet");
	run_pixiv(&fx, conninfo);
	run_pixverse(&fv, conninfo);
	free(conninfo);
	for (i = 0; i < LONE_TRIALS; i++)
		fprintf(stderr, "fleet_storm: lone trial %d: pixiv %.1f ms, pixverse %.1f ms\n", i, fx.lone[i], fv.lone[i]);
	printf("fleet_storm processes=%d threads=%d pixiv_token_requests=%ld pixiv_failed=%d pixiv_p50_ms=%.1f "
	       "pixiv_p99_ms=%.1f pixiv_max_ms=%.1f pixiv_round_trip_ms=%.1f pixverse_logins=%ld "
	       "pixverse_login_requests=%ld pixverse_failed=%d pixverse_p50_ms=%.1f pixverse_p99_ms=%.1f "
	       "pixverse_max_ms=%.1f pixverse_round_trip_ms=%.1f target_counts=1 target_p99=round_trip+%.0fms "
	       "met=%s\n",
	       processes, threads, fx.requests, fx.failed, fx.p50, fx.p99, fx.max, fx.lone_ms, fv.requests,
	       fv.login_requests, fv.failed, fv.p50, fv.p99, fv.max, fv.lone_ms, SLACK_MS,
	       met(&fx) && met(&fv) ? "yes" : "no");
	return met(&fx) && met(&fv) ? 0 : 1;
}
