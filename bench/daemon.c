/*
 * daemon: what provauthd costs a caller. GET /v1/accounts/{id}/pixverse-status
 * driven by wrk against calling the library's "status" operation directly
 * (provauth_call) with as many threads as wrk has connections, both against
 * the same in-process fake Pixverse and the same sqlite store, in the same
 * run. Targets (issue 17): requests/s >= 0.8x the direct calls, p99 <= 5 ms.
 *
 * Both sides pay the same provider round trips. The route reads credits live
 * and serves the ad-watch task it keeps for daemon.ad_task_max_age (300 s,
 * longer than a run: after the first call it asks status with
 * ad_task=skip, one request to the fake); the direct side asks the same,
 * status with ad_task=skip, as a C host that keeps the task itself would.
 * The difference is the daemon: HTTP parsing, the bearer check, the route
 * (its read of the account, for the kept task), JSON out.
 *
 * Both sides run in PA_BENCH_DAEMON_ROUNDS (3) alternating rounds; the
 * medians are reported, with the lowest and highest ratio of a round.
 *
 * PA_BENCH_DAEMON_SECONDS (10), PA_BENCH_DAEMON_CONNECTIONS (16),
 * PA_BENCH_DAEMON_THREADS (the daemon's request threads; default as many
 * as connections, so both sides run the same number of calls at once), PROVAUTHD (the
 * binary; default ./daemon/provauthd, the build tree ./dev bench runs in).
 * Exits 1 when a request failed on either side.
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
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <openssl/evp.h>
#include <provauth/provauth.h>
#include "bench_util.h"
#include "bench_daemon.h"
#include "../tests/fake/fake_pixverse.h"

#define MAX_CONNS 256
#define MAX_ROUNDS 15
#define TOKEN "bench-daemon-token-0123456789abcdef"

static provauth_manager *mgr;
static char *account_id;
static long seconds, conns;
static _Atomic int stop_direct;
static _Atomic long direct_failures;

typedef struct direct_worker {
	pthread_t th;
	double *ms;
	size_t n, cap;
} direct_worker;

static const provauth_arg skip_task[] = { { "ad_task", "skip" } };

static void *direct_main(void *arg)
{
	direct_worker *w = arg;

	while (!atomic_load(&stop_direct)) {
		char *out = NULL;
		uint64_t t0 = bench_now_ns();
		int rc = provauth_call(&out, mgr, account_id, "status", skip_task, 1);

		if (rc < 0)
			atomic_fetch_add(&direct_failures, 1);
		provauth_free(out);
		if (w->n == w->cap) {
			double *grown = realloc(w->ms, (w->cap ? w->cap * 2 : 4096) * sizeof(*grown));
			if (!grown)
				break;
			w->ms = grown;
			w->cap = w->cap ? w->cap * 2 : 4096;
		}
		w->ms[w->n++] = (double)(bench_now_ns() - t0) / 1e6;
	}
	return NULL;
}

/* `conns` threads calling the library for `secs` seconds: calls/s and p99 in ms. */
static void run_direct(double secs, double *rps, double *p99)
{
	direct_worker *w = calloc((size_t)conns, sizeof(*w));
	double *all;
	size_t total = 0, k = 0;
	uint64_t t0;
	long i;

	if (!w)
		bench_die("memory");
	atomic_store(&stop_direct, 0);
	t0 = bench_now_ns();
	for (i = 0; i < conns; i++)
		pthread_create(&w[i].th, NULL, direct_main, &w[i]);
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&stop_direct, 1);
	for (i = 0; i < conns; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].n;
	}
	*rps = (double)total / ((double)(bench_now_ns() - t0) / 1e9);
	if (!(all = malloc((total ? total : 1) * sizeof(*all))))
		bench_die("memory");
	for (i = 0; i < conns; i++) {
		memcpy(all + k, w[i].ms, w[i].n * sizeof(*all));
		k += w[i].n;
		free(w[i].ms);
	}
	*p99 = bench_quantile(all, total, 0.99);
	free(all);
	free(w);
}

static void write_settings(const char *path, const char *dir, fake_pixverse *srv)
{
	char hash[65];
	FILE *f;
	int fd;

	bench_sha256_hex(hash, TOKEN);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 || !(f = fdopen(fd, "w")))
		bench_die("settings file");
	fprintf(f,
	        "store:\n  backend: sqlite\n  path: %s/accounts.db\n  key_file: %s/accounts.key\n"
	        "providers:\n  pixverse:\n    base_url: %s\n    openapi_base_url: %s\n"
	        "daemon:\n  listen: 127.0.0.1:0\n  ready_file: %s/ready\n  rate: 0\n"
	        "  threads: %ld\n  max_connections: 1024\n"
	        "  tokens:\n    - name: bench\n      sha256: \"%s\"\n      scope: operate\n"
	        "  keeper:\n    enabled: false\n",
	        dir, dir, fake_pixverse_url(srv), fake_pixverse_url(srv), dir,
	        bench_env_long("PA_BENCH_DAEMON_THREADS", conns), hash);
	if (fclose(f) != 0)
		bench_die("settings file");
}

static char *import_account(fake_pixverse *srv)
{
	fake_pixverse_account a;
	char input[4096], *tok, *id = NULL;

	memset(&a, 0, sizeof(a));
	a.email = "bench-daemon@example.com";
	a.password = "bench-daemon-pw";
	a.credit_monthly = 1000;
	if (fake_pixverse_add_account(srv, &a) < 0 || !(tok = fake_pixverse_login_token(srv, a.email)))
		bench_die("fake account");
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s", tok);
	free(tok);
	if (provauth_account_import(&id, mgr, "pixverse", "cookies", input) < 0)
		bench_die("import");
	return id;
}

/* "1.23ms", "850.00us", "1.01s" in milliseconds. */
static double wrk_ms(const char *v)
{
	char *end;
	double x = strtod(v, &end);

	if (strncmp(end, "us", 2) == 0)
		return x / 1000.0;
	if (strncmp(end, "ms", 2) == 0)
		return x;
	if (*end == 's')
		return x * 1000.0;
	if (strncmp(end, "m", 1) == 0)
		return x * 60000.0;
	return x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Runs wrk; *rps and *p99 from its report; the count of non-2xx answers and socket errors. */
static long run_wrk(const char *url, long secs, double *rps, double *p99)
{
	char cmd[2048], line[512];
	long bad = 0;
	pid_t pid;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
	         "wrk -t2 -c%ld -d%lds --latency -H 'Authorization: Bearer " TOKEN "' '%s' 2>&1", conns, secs, url);
	if (!(p = bench_popen_alone(cmd, &pid)))
		bench_die("wrk");
	*rps = 0;
	*p99 = -1;
	while (fgets(line, sizeof(line), p)) {
		char *s = line + strspn(line, " \t");

		fputs(line, stderr); /* wrk's own report, for the record */
		if (strncmp(s, "Requests/sec:", 13) == 0)
			*rps = strtod(s + 13, NULL);
		else if (strncmp(s, "99%", 3) == 0)
			*p99 = wrk_ms(s + 3 + strspn(s + 3, " \t"));
		else if (strncmp(s, "Non-2xx or 3xx responses:", 25) == 0)
			bad += strtol(s + 25, NULL, 10);
		else if (strncmp(s, "Socket errors:", 14) == 0) {
			const char *k;
			for (k = s; (k = strpbrk(k, "0123456789")); ) {
				char *end;
				bad += strtol(k, &end, 10);
				k = end;
			}
		}
	}
	if (bench_pclose_alone(p, pid) != 0 || *rps <= 0 || *p99 < 0) {
		fprintf(stderr, "bench: wrk failed or printed no figures (is the wrk package installed?)\n");
		exit(1);
	}
	return bad;
}

int main(void)
{
	char dir[512], settings[600], url[256], target[512], err[256];
	double direct_rps, direct_p99, d_rps, d_p99, w_rps, w_p99, mid;
	double dr[MAX_ROUNDS], dp[MAX_ROUNDS], wr[MAX_ROUNDS], wp[MAX_ROUNDS], ratio[MAX_ROUNDS], sorted[MAX_ROUNDS];
	long rounds, r, bad = 0;
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	fake_pixverse *srv;
	pid_t pid;
	int status;

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "bench: PROVAUTH_PLUGIN_PATH must name the built plugins (./dev bench sets it)\n");
		return 2;
	}
	seconds = bench_env_long("PA_BENCH_DAEMON_SECONDS", 10);
	conns = bench_env_long("PA_BENCH_DAEMON_CONNECTIONS", 16);
	rounds = bench_env_long("PA_BENCH_DAEMON_ROUNDS", 3);
	if (seconds < 1 || conns < 1 || conns > MAX_CONNS || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "bench: bad PA_BENCH_DAEMON_* setting\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/provauth-bench-daemon-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		bench_die("mkdtemp");
	if (!(srv = fake_pixverse_start(NULL, err, sizeof(err)))) {
		fprintf(stderr, "bench: fake: %s\n", err);
		return 1;
	}
	snprintf(settings, sizeof(settings), "%s/provauthd.yaml", dir);
	write_settings(settings, dir, srv);
	opts.log = bench_log_quiet;
	if (provauth_settings_load(&s, settings) < 0 || provauth_manager_new(&mgr, s, &opts) < 0)
		bench_die("manager");
	provauth_settings_free(s);
	account_id = import_account(srv);

	/*
	 * Warm-ups, then `rounds` alternating rounds (the library alone, then
	 * the daemon), each `seconds` long, medians reported: on 2 shared cores
	 * one round of each side swings by a third from run to run.
	 */
	run_direct(1, &direct_rps, &direct_p99);
	pid = bench_daemon_start(settings, dir, url, sizeof(url));
	snprintf(target, sizeof(target), "%s/v1/accounts/%s/pixverse-status", url, account_id);
	run_wrk(target, 1, &w_rps, &w_p99);
	for (r = 0; r < rounds; r++) {
		run_direct((double)seconds, &dr[r], &dp[r]);
		bad += run_wrk(target, seconds, &wr[r], &wp[r]);
		ratio[r] = wr[r] / dr[r];
		fprintf(stderr, "round %ld: daemon %.0f req/s p99 %.2f ms, direct %.0f calls/s p99 %.2f ms, ratio %.3f\n",
		        r + 1, wr[r], wp[r], dr[r], dp[r], ratio[r]);
	}
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	memcpy(sorted, ratio, (size_t)rounds * sizeof(*sorted));
	qsort(sorted, (size_t)rounds, sizeof(*sorted), cmp_double);
	d_rps = bench_median(wr, (size_t)rounds);
	d_p99 = bench_median(wp, (size_t)rounds);
	direct_rps = bench_median(dr, (size_t)rounds);
	direct_p99 = bench_median(dp, (size_t)rounds);
	mid = bench_median(ratio, (size_t)rounds);

	printf("daemon pixverse_status connections=%ld rounds=%ld rps=%.0f direct_rps=%.0f ratio=%.3f ratio_min=%.3f "
	       "ratio_max=%.3f p99_ms=%.2f direct_p99_ms=%.2f failed=%ld direct_failed=%ld target_ratio=0.8 "
	       "target_p99_ms=5 met=%s\n",
	       conns, rounds, d_rps, direct_rps, mid, sorted[0], sorted[rounds - 1], d_p99, direct_p99, bad,
	       atomic_load(&direct_failures), mid >= 0.8 && d_p99 <= 5.0 ? "yes" : "no");
	provauth_manager_free(mgr);
	free(account_id);
	fake_pixverse_stop(srv);
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench: could not remove %s\n", dir);
	}
	return bad || atomic_load(&direct_failures) || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ? 1 : 0;
}
