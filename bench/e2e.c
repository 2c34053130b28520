/*
 * e2e: authenticated GETs to the fake pixiv server (in-process, loopback)
 * through the real pixiv plugin (dlopen()ed from PROVAUTH_PLUGIN_PATH),
 * against a plain libcurl keep-alive loop sending the same request with the
 * same headers, Authorization included, in the same run.
 *
 * What each side does per request:
 *  - provauth: run_with_session (cached session), the plugin builds the URL
 *    and the Bearer header, the host's HTTP service takes a pooled curl
 *    handle, sets it up, performs, collects the body and headers, the
 *    plugin checks that the body is JSON and hands it out as the result.
 *  - plain: one curl handle set up once, perform, append the body to a
 *    reused buffer. "plain+json" also parses the body with json-c, as the
 *    plugin does, to compare like with like.
 * Rounds alternate the sides so that load from other processes hits both.
 *
 * Each GET is a ping-pong between this thread and a server thread. Left to
 * the scheduler on a 2-vCPU guest, that round trip is bimodal: about 45k/s
 * when both threads share a CPU, 7k/s when every request wakes the other
 * CPU, switching from one round to the next, which swamped what the sides
 * do (ratios from 0.6 to 3). The whole process, server threads included,
 * is therefore pinned to the CPU it starts on (PA_BENCH_E2E_PIN=0 to not):
 * a request then costs the CPU time of client, server and kernel, the same
 * server and kernel work for both sides, and the ratio compares what the
 * client sides cost.
 */
#include "config.h"
#include <curl/curl.h>
#include <json-c/json.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "bench_util.h"
#include "../tests/fake/fake_pixiv.h"

#define ROUNDS 9

typedef struct buf {
	char *data;
	size_t len, cap;
} buf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *payload)
{
	buf *b = payload;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *grown = realloc(b->data, cap);
		if (!grown)
			return 0;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static double run_provauth(provauth_manager *m, const char *id, long n)
{
	uint64_t t0 = bench_now_ns();
	long i;

	for (i = 0; i < n; i++) {
		char *out = NULL;
		if (provauth_call(&out, m, id, "user_detail", NULL, 0) != 0)
			bench_die("user_detail");
		provauth_free(out);
	}
	return (double)n / ((double)(bench_now_ns() - t0) / 1e9);
}

static double run_plain(CURL *c, buf *b, long n, int parse)
{
	uint64_t t0 = bench_now_ns();
	long i, status = 0;

	for (i = 0; i < n; i++) {
		b->len = 0;
		if (curl_easy_perform(c) != CURLE_OK || curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
		    status != 200) {
			fprintf(stderr, "bench: plain GET failed (HTTP %ld)\n", status);
			exit(1);
		}
		if (parse) {
			json_object *o = json_tokener_parse(b->data);
			if (!o) {
				fprintf(stderr, "bench: plain GET: body is not JSON\n");
				exit(1);
			}
			json_object_put(o);
		}
	}
	return (double)n / ((double)(bench_now_ns() - t0) / 1e9);
}

/* The header the plugin sent, as the server saw it: the plain loop sends the same. */
static struct curl_slist *copy_header(struct curl_slist *l, fake_pixiv *fk, const char *name)
{
	char what[64], line[1024];
	char *v;

	snprintf(what, sizeof(what), "header:%s", name);
	if (!(v = fake_pixiv_last(fk, FAKE_PIXIV_API, what))) {
		fprintf(stderr, "bench: the plugin sent no %s header\n", name);
		exit(1);
	}
	snprintf(line, sizeof(line), "%s: %s", name, v);
	free(v);
	return curl_slist_append(l, line);
}

/* Pins this process and the threads it creates later to the CPU it runs on; returns it, or -1. */
static int pin_to_one_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0 ? cpu : -1;
}

int main(void)
{
	static const char *const names[] = { "Authorization", "User-Agent", "App-OS", "App-OS-Version",
	                                     "Accept-Language", "Accept" };
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	provauth_store *st = NULL;
	struct curl_slist *hdrs = NULL;
	fake_pixiv *fk = NULL;
	double pa[ROUNDS], pl[ROUNDS], pj[ROUNDS], ratio[ROUNDS], ratio_j[ROUNDS];
	char yaml[1024], url[512], *id = NULL, *out = NULL, *uid;
	long n = bench_env_long("PA_BENCH_E2E_REQUESTS", 1000);
	buf b = { NULL, 0, 0 };
	size_t i;
	CURL *c;
	int r, pinned = -1;

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "bench: PROVAUTH_PLUGIN_PATH must name the built plugins (./dev bench sets it)\n");
		return 2;
	}
	/* Before the server starts, so that its threads inherit the mask. */
	if (bench_env_long("PA_BENCH_E2E_PIN", 1))
		pinned = pin_to_one_cpu();
	if (fake_pixiv_start(&fk) < 0 ||
	    fake_pixiv_add_user(fk, "bench-refresh-token", "4242", "bench", "b@example.com") < 0) {
		fprintf(stderr, "bench: cannot start the fake pixiv server\n");
		return 1;
	}
	snprintf(yaml, sizeof(yaml),
	         "providers:\n  pixiv:\n    token_url: %s/auth/token\n    api_base_url: %s/\n",
	         fake_pixiv_base_url(fk), fake_pixiv_base_url(fk));
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "bench-e2e.yaml") < 0 || provauth_store_memory_new(&st) < 0)
		bench_die("settings");
	opts.store = st;
	opts.log = bench_log_quiet;
	if (provauth_manager_new(&m, s, &opts) < 0)
		bench_die("manager");
	provauth_settings_free(s);
	if (provauth_account_import(&id, m, "pixiv", "refresh_token", "bench-refresh-token") < 0)
		bench_die("import");
	/* Warms the session, the token and the connection; the server records the headers. */
	if (provauth_call(&out, m, id, "user_detail", NULL, 0) < 0)
		bench_die("first user_detail");
	provauth_free(out);

	if (!(uid = fake_pixiv_last(fk, FAKE_PIXIV_API, "query:user_id")))
		return 1;
	snprintf(url, sizeof(url), "%s/v1/user/detail?user_id=%s&filter=for_ios", fake_pixiv_base_url(fk), uid);
	free(uid);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		hdrs = copy_header(hdrs, fk, names[i]);
	if (!(c = curl_easy_init()))
		return 1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	run_plain(c, &b, 10, 1);

	fake_pixiv_reset_counts(fk);
	for (r = 0; r < ROUNDS; r++) {
		pa[r] = run_provauth(m, id, n);
		pl[r] = run_plain(c, &b, n, 0);
		pj[r] = run_plain(c, &b, n, 1);
		ratio[r] = pa[r] / pl[r];
		ratio_j[r] = pa[r] / pj[r];
	}
	/* Every request reached the API and none needed a token: a like-for-like loop. */
	if (fake_pixiv_count(fk, FAKE_PIXIV_API) != 3 * ROUNDS * n || fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) != 0) {
		fprintf(stderr, "bench: the server saw %ld API and %ld token requests, expected %ld and 0\n",
		        fake_pixiv_count(fk, FAKE_PIXIV_API), fake_pixiv_count(fk, FAKE_PIXIV_TOKEN), 3 * ROUNDS * n);
		return 1;
	}
	printf("e2e provauth_rps=%.0f plain_rps=%.0f plain_json_rps=%.0f ratio=%.3f ratio_vs_plain_json=%.3f "
	       "body_bytes=%zu pinned_cpu=%d target_ratio=0.95 (median of %d alternating rounds x %ld GETs)\n",
	       bench_median(pa, ROUNDS), bench_median(pl, ROUNDS), bench_median(pj, ROUNDS),
	       bench_median(ratio, ROUNDS), bench_median(ratio_j, ROUNDS), b.len, pinned, ROUNDS, n);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	free(b.data);
	provauth_free(id);
	provauth_manager_free(m);
	provauth_store_free(st);
	fake_pixiv_stop(fk);
	return 0;
}
