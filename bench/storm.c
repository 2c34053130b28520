/*
 * storm: 64 threads call one account at the same moment, right after its
 * credentials died, against the fake servers (in-process, loopback):
 *  - pixiv: the access token expired (by the manager's clock and at the
 *    server): exactly one token request may reach the server;
 *  - pixverse: the server killed the session: exactly one password login
 *    may reach the server (after one refused refresh).
 * Reports the counts and the callers' latency (p50/p99/max); exits 1 when a
 * count is not 1 or a caller failed.
 */
#include "config.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "bench_util.h"
#include "../tests/fake/fake_pixiv.h"
#include "../tests/fake/fake_pixverse.h"

#define THREADS 64

static _Atomic int64_t clock_now;

static int64_t bench_clock(void *payload)
{
	(void)payload;
	return atomic_load(&clock_now);
}

typedef struct caller {
	provauth_manager *m;
	const char *id, *op;
	pthread_barrier_t *start;
	double ms;
	int rc;
} caller;

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
		fprintf(stderr, "bench: %s failed: %s\n", c->op, provauth_last_error());
	provauth_free(out);
	return NULL;
}

/* Runs the storm; returns the failed calls, latencies in ms (p50, p99, max). */
static int storm(provauth_manager *m, const char *id, const char *op, double lat[3])
{
	pthread_barrier_t start;
	pthread_t th[THREADS];
	caller c[THREADS];
	double ms[THREADS];
	int i, failed = 0;

	pthread_barrier_init(&start, NULL, THREADS);
	for (i = 0; i < THREADS; i++) {
		c[i] = (caller){ m, id, op, &start, 0, 0 };
		if (pthread_create(&th[i], NULL, call_once, &c[i]) != 0) {
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(1);
		}
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		failed += c[i].rc != 0;
		ms[i] = c[i].ms;
	}
	pthread_barrier_destroy(&start);
	lat[0] = bench_quantile(ms, THREADS, 0.50);
	lat[1] = bench_quantile(ms, THREADS, 0.99);
	lat[2] = ms[THREADS - 1];
	return failed;
}

static provauth_manager *manager(const char *yaml, provauth_store *st)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;

	if (provauth_settings_parse(&s, yaml, strlen(yaml), "bench-storm.yaml") < 0)
		bench_die("settings");
	opts.store = st;
	opts.log = bench_log_quiet;
	opts.clock = bench_clock;
	if (provauth_manager_new(&m, s, &opts) < 0)
		bench_die("manager");
	provauth_settings_free(s);
	return m;
}

static int storm_pixiv(long *tokens, double lat[3])
{
	provauth_store *st = NULL;
	provauth_manager *m;
	fake_pixiv *fk = NULL;
	char yaml[1024], *id = NULL, *out = NULL;
	int failed;

	if (fake_pixiv_start(&fk) < 0 ||
	    fake_pixiv_add_user(fk, "storm-refresh-token", "777", "storm", "s@example.com") < 0)
		return -1;
	snprintf(yaml, sizeof(yaml),
	         "session:\n  recovery_wait_ms: 30000\n"
	         "providers:\n  pixiv:\n    token_url: %s/auth/token\n    api_base_url: %s/\n",
	         fake_pixiv_base_url(fk), fake_pixiv_base_url(fk));
	if (provauth_store_memory_new(&st) < 0)
		bench_die("store");
	m = manager(yaml, st);
	if (provauth_account_import(&id, m, "pixiv", "refresh_token", "storm-refresh-token") < 0 ||
	    provauth_call(&out, m, id, "user_detail", NULL, 0) < 0)
		bench_die("pixiv setup");
	provauth_free(out);
	/* The token dies at the server and, an hour later, for the manager too. */
	fake_pixiv_expire_access_tokens(fk);
	atomic_fetch_add(&clock_now, 4000);
	fake_pixiv_reset_counts(fk);
	failed = storm(m, id, "user_detail", lat);
	*tokens = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN);
	provauth_free(id);
	provauth_manager_free(m);
	provauth_store_free(st);
	fake_pixiv_stop(fk);
	return failed;
}

static int storm_pixverse(unsigned long *logins, unsigned long *login_requests, double lat[3])
{
	static const char email[] = "storm@example.com", password[] = "storm-pw-1";
	fake_pixverse_account a;
	provauth_store *st = NULL;
	provauth_manager *m;
	fake_pixverse *srv;
	char err[256], yaml[1024], input[4096], *tok, *id = NULL;
	int failed;

	if (!(srv = fake_pixverse_start(NULL, err, sizeof(err)))) {
		fprintf(stderr, "bench: fake pixverse: %s\n", err);
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.email = email;
	a.password = password;
	a.credit_daily = 10;
	if (fake_pixverse_add_account(srv, &a) < 0 || !(tok = fake_pixverse_login_token(srv, email)))
		return -1;
	snprintf(yaml, sizeof(yaml),
	         "session:\n  recovery_wait_ms: 30000\n"
	         "providers:\n  pixverse:\n    auto_reauth_enabled: true\n    reauth_cooldown: 0\n"
	         "    base_url: %s\n    openapi_base_url: %s/\n",
	         fake_pixverse_url(srv), fake_pixverse_url(srv));
	if (provauth_store_memory_new(&st) < 0)
		bench_die("store");
	m = manager(yaml, st);
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s; pv_sid=storm-sid", tok);
	free(tok);
	/* A password account (so recovery may log in), with a working session. */
	if (provauth_account_import(&id, m, "pixverse", "cookies", input) < 0 ||
	    provauth_account_reauth(m, id, password) < 0)
		bench_die("pixverse setup");
	fake_pixverse_kick(srv, email);
	fake_pixverse_reset_counters(srv);
	failed = storm(m, id, "credits", lat);
	*logins = fake_pixverse_logins_ok(srv);
	*login_requests = fake_pixverse_counter(srv, FAKE_PV_EP_LOGIN);
	provauth_free(id);
	provauth_manager_free(m);
	provauth_store_free(st);
	fake_pixverse_stop(srv);
	return failed;
}

int main(void)
{
	double lx[3], lv[3];
	unsigned long logins = 0, login_requests = 0;
	long tokens = 0;
	int fx, fv;

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "bench: PROVAUTH_PLUGIN_PATH must name the built plugins (./dev bench sets it)\n");
		return 2;
	}
	atomic_store(&clock_now, (int64_t)time(NULL));
	if ((fx = storm_pixiv(&tokens, lx)) < 0 || (fv = storm_pixverse(&logins, &login_requests, lv)) < 0) {
		fprintf(stderr, "bench: storm setup failed\n");
		return 1;
	}
	printf("storm threads=%d pixiv_token_requests=%ld pixiv_failed=%d pixiv_p50_ms=%.1f pixiv_p99_ms=%.1f "
	       "pixiv_max_ms=%.1f pixverse_logins=%lu pixverse_login_requests=%lu pixverse_failed=%d "
	       "pixverse_p50_ms=%.1f pixverse_p99_ms=%.1f pixverse_max_ms=%.1f target_counts=1\n",
	       THREADS, tokens, fx, lx[0], lx[1], lx[2], logins, login_requests, fv, lv[0], lv[1], lv[2]);
	return tokens == 1 && logins == 1 && login_requests == 1 && fx == 0 && fv == 0 ? 0 : 1;
}
