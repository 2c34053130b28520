/*
 * keeper: how fast provauthd's keeper renews tokens that are due. 10,000
 * pixiv accounts stored with access tokens inside refresh_ahead, so every
 * one is due at once; provauthd (the real binary, a child) with
 * keeper.concurrency C and a rate_per_provider that does not limit,
 * against the in-process fake pixiv. Measured: refreshes/s from the fake's
 * first to its 10,000th token request. Baseline in the same run: a bare
 * libcurl loop in C threads sending the same token requests (the form body
 * and headers plugins/pixiv sends: token.c, refresh.c) to the same fake,
 * timed the same way. Target (issue 17): ratio >= 0.8.
 *
 * What the keeper pays beyond the request: reading the account list, per
 * account the store lease "keeper:ID", a fresh read, the grant written back
 * (sealed), the keeper's record, the lease given back, a log line.
 *
 * PA_BENCH_KEEPER_ACCOUNTS (10000), PA_BENCH_KEEPER_CONCURRENCY (8),
 * PROVAUTHD (the binary; default ./daemon/provauthd, the build tree ./dev
 * bench runs in). Exits 1 when a request failed on either side, when the
 * keeper sent more or fewer token requests than there are accounts, or when
 * provauthd did not exit 0.
 */
#include "config.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <provauth/provauth.h>
#include "bench_util.h"
#include "bench_daemon.h"
#include "../tests/fake/fake_pixiv.h"

#define CLIENT_ID "benchKeeperClientId"
#define CLIENT_SECRET "benchKeeperClientSecret0123"
#define HASH_SECRET "benchKeeperHashSecret4567"
#define USER_AGENT "PixivAndroidApp/5.0.234 (Android 11; Pixel 5)"
#define APP_OS "android"
#define APP_OS_VERSION "11"
#define TOKEN "bench-keeper-token-0123456789abcdef"

static long naccounts, concurrency;
static fake_pixiv *fk;
static char token_url[256];
static _Atomic long next_index;
static _Atomic long curl_failures;

static void refresh_token_of(char *out, size_t size, long i)
{
	snprintf(out, size, "rtBENCHKEEP%06ld", i);
}

/* ---- the baseline: the same token requests from a bare libcurl loop ---- */

static void md5_hex(char out[33], const char *s)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	EVP_Digest(s, strlen(s), d, &len, EVP_md5(), NULL);
	for (i = 0; i < len && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static void *curl_main(void *arg)
{
	CURL *c = curl_easy_init();
	long i;

	(void)arg;
	if (!c)
		bench_die("curl_easy_init");
	curl_easy_setopt(c, CURLOPT_URL, token_url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	while ((i = atomic_fetch_add(&next_index, 1)) < naccounts) {
		char rt[64], form[512], when[40], salted[128], hash[33], line[160];
		struct curl_slist *h = NULL;
		struct tm tm;
		time_t now = time(NULL);
		long status = 0;

		refresh_token_of(rt, sizeof(rt), i);
		/* plugins/pixiv/token.c: pixiv_token_form, in its order. */
		snprintf(form, sizeof(form),
		         "client_id=" CLIENT_ID "&client_secret=" CLIENT_SECRET "&grant_type=refresh_token&refresh_token=%s"
		         "&get_secure_url=1&include_policy=true", rt);
		/* plugins/pixiv/refresh.c: post_once's headers. */
		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
		snprintf(salted, sizeof(salted), "%s%s", when, HASH_SECRET);
		md5_hex(hash, salted);
		h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
		h = curl_slist_append(h, "User-Agent: " USER_AGENT);
		h = curl_slist_append(h, "Accept: application/json");
		snprintf(line, sizeof(line), "X-Client-Time: %s", when);
		h = curl_slist_append(h, line);
		snprintf(line, sizeof(line), "X-Client-Hash: %s", hash);
		h = curl_slist_append(h, line);
		h = curl_slist_append(h, "App-OS: " APP_OS);
		h = curl_slist_append(h, "App-OS-Version: " APP_OS_VERSION);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
		if (curl_easy_perform(c) != CURLE_OK || curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
		    status != 200)
			atomic_fetch_add(&curl_failures, 1);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(h);
	}
	curl_easy_cleanup(c);
	return NULL;
}

/*
 * Seconds from the fake's first token request (after `base`) to its
 * base+naccounts-th, watched every 0.2 ms; -1 after timeout_s.
 */
static double watch_token_requests(long base, double timeout_s)
{
	uint64_t start = bench_now_ns(), first = 0;

	for (;;) {
		long n = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) - base;
		uint64_t now = bench_now_ns();

		if (n >= 1 && !first)
			first = now;
		if (n >= naccounts)
			return (double)(now - first) / 1e9;
		if ((double)(now - start) / 1e9 > timeout_s)
			return -1;
		usleep(200);
	}
}

typedef struct watch_arg {
	long base;
	double secs;
} watch_arg;

static void *watch_main(void *arg)
{
	watch_arg *w = arg;

	w->secs = watch_token_requests(w->base, 300);
	return NULL;
}

static double run_curl(void)
{
	pthread_t *th = calloc((size_t)concurrency, sizeof(*th)), watcher;
	watch_arg w = { fake_pixiv_count(fk, FAKE_PIXIV_TOKEN), -1 };
	long i;

	if (!th)
		bench_die("memory");
	atomic_store(&next_index, 0);
	pthread_create(&watcher, NULL, watch_main, &w);
	for (i = 0; i < concurrency; i++)
		pthread_create(&th[i], NULL, curl_main, NULL);
	for (i = 0; i < concurrency; i++)
		pthread_join(th[i], NULL);
	pthread_join(watcher, NULL);
	free(th);
	return w.secs;
}

/* ---- provauthd ---- */

static void write_settings(const char *path, const char *dir)
{
	char hash[65];
	FILE *f;
	int fd;

	bench_sha256_hex(hash, TOKEN);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 || !(f = fdopen(fd, "w")))
		bench_die("settings file");
	fprintf(f,
	        "store:\n  backend: sqlite\n  path: %s/accounts.db\n  key_file: %s/accounts.key\n"
	        "  busy_timeout_ms: 10000\n"
	        "providers:\n  pixiv:\n    token_url: %s\n    api_base_url: %s/\n"
	        "    client_id: " CLIENT_ID "\n    client_secret: " CLIENT_SECRET "\n    hash_secret: " HASH_SECRET "\n"
	        "    user_agent: \"" USER_AGENT "\"\n    app_os: " APP_OS "\n    app_os_version: \"" APP_OS_VERSION "\"\n"
	        "daemon:\n  listen: 127.0.0.1:0\n  ready_file: %s/ready\n"
	        "  tokens:\n    - name: bench\n      sha256: \"%s\"\n      scope: read\n"
	        "  keeper:\n    refresh_ahead: 600\n    concurrency: %ld\n    rate_per_provider: 10000\n"
	        "    scan_interval_ms: %ld\n",
	        dir, dir, token_url, fake_pixiv_base_url(fk), dir, hash, concurrency,
	        bench_env_long("PA_BENCH_KEEPER_SCAN_MS", 1000));
	if (fclose(f) != 0)
		bench_die("settings file");
}

/* Every account due: an access token expiring in 5 minutes, inside refresh_ahead (10). */
static void store_accounts(const char *settings)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	provauth_account **batch;
	int64_t now = (int64_t)time(NULL);
	long i, k, per = 500;

	opts.log = bench_log_quiet;
	if (provauth_settings_load(&s, settings) < 0 || provauth_manager_new(&m, s, &opts) < 0)
		bench_die("manager");
	provauth_settings_free(s);
	if (!(batch = calloc((size_t)per, sizeof(*batch))))
		bench_die("memory");
	for (i = 0; i < naccounts; i += per) {
		long n = naccounts - i < per ? naccounts - i : per;
		for (k = 0; k < n; k++) {
			char id[32], rt[64], at[64];
			snprintf(id, sizeof(id), "keep-%06ld", i + k);
			refresh_token_of(rt, sizeof(rt), i + k);
			snprintf(at, sizeof(at), "atBENCHKEEP%06ld", i + k);
			if (provauth_account_new(&batch[k], id, "pixiv") < 0 ||
			    provauth_account_set_credential(batch[k], PROVAUTH_CRED_REFRESH_TOKEN, NULL, rt, 0) < 0 ||
			    provauth_account_set_credential(batch[k], PROVAUTH_CRED_ACCESS_TOKEN, NULL, at, now + 300) < 0)
				bench_die("account");
		}
		if (provauth_account_put_many(m, batch, (size_t)n) < 0)
			bench_die("put_many");
		for (k = 0; k < n; k++)
			provauth_account_free(batch[k]);
	}
	free(batch);
	provauth_manager_free(m);
}

int main(void)
{
	char dir[512], settings[600];
	double curl_s, keeper_s;
	long base, extra;
	pid_t pid;
	int status = 0;

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "bench: PROVAUTH_PLUGIN_PATH must name the built plugins (./dev bench sets it)\n");
		return 2;
	}
	naccounts = bench_env_long("PA_BENCH_KEEPER_ACCOUNTS", 10000);
	concurrency = bench_env_long("PA_BENCH_KEEPER_CONCURRENCY", 8);
	if (naccounts < 1 || naccounts > 1000000 || concurrency < 1 || concurrency > 64) {
		fprintf(stderr, "bench: bad PA_BENCH_KEEPER_* setting\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(dir, sizeof(dir), "%s/provauth-bench-keeper-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		bench_die("mkdtemp");
	if (fake_pixiv_start(&fk) != 0)
		bench_die("fake pixiv");
	fake_pixiv_set_client(fk, CLIENT_ID, CLIENT_SECRET, HASH_SECRET);
	fake_pixiv_set_expires_in(fk, 3600);
	snprintf(token_url, sizeof(token_url), "%s/auth/token", fake_pixiv_base_url(fk));
	{
		long i;
		for (i = 0; i < naccounts; i++) {
			char rt[64], uid[32];
			refresh_token_of(rt, sizeof(rt), i);
			snprintf(uid, sizeof(uid), "%ld", 100000 + i);
			if (fake_pixiv_add_user(fk, rt, uid, "bench", NULL) != 0)
				bench_die("fake user");
		}
	}
	snprintf(settings, sizeof(settings), "%s/provauthd.yaml", dir);
	write_settings(settings, dir);
	store_accounts(settings);

	/* The baseline first: its grants touch only the fake, so every stored account is still due. */
	curl_s = run_curl();

	base = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN);
	pid = bench_daemon_start(settings, dir, NULL, 0);
	keeper_s = watch_token_requests(base, 600);
	/* No account twice: the count stays at one request per account. */
	usleep(1000 * 1000);
	extra = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) - base - naccounts;
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	if (curl_s <= 0 || keeper_s <= 0) {
		fprintf(stderr, "bench: the token requests did not all arrive (curl %.2f s, keeper %.2f s; log in %s)\n",
		        curl_s, keeper_s, dir);
		return 1;
	}
	printf("keeper refresh_due accounts=%ld concurrency=%ld rps=%.0f curl_rps=%.0f ratio=%.3f keeper_s=%.2f "
	       "curl_s=%.2f extra_requests=%ld curl_failed=%ld exit=%d target_ratio=0.8 met=%s\n",
	       naccounts, concurrency, (double)naccounts / keeper_s, (double)naccounts / curl_s, curl_s / keeper_s,
	       keeper_s, curl_s, extra, atomic_load(&curl_failures), WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	       curl_s / keeper_s >= 0.8 ? "yes" : "no");
	fake_pixiv_stop(fk);
	curl_global_cleanup();
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench: could not remove %s\n", dir);
	}
	return extra || atomic_load(&curl_failures) || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ? 1 : 0;
}
