/*
 * provauthd's keeper and webhooks proved on the real binary (harness.h),
 * over HTTP, against the fakes and the real plugins:
 *
 *  1. a pixiv token expiring soon, with no traffic at all, is refreshed
 *     before it expires (token requests at the fake; the expiry GET
 *     /v1/accounts/{id} shows moves forward);
 *  2. an idle pixverse account is touched (a credits request at the fake)
 *     within keeper.max_idle on a fast clock (time_scale), and not before
 *     max_idle less its jitter;
 *  3. two daemons on one PostgreSQL store keep 100 pixiv accounts through
 *     two refresh cycles: per cycle exactly 100 token requests and every
 *     account's expiry moved (so each account once, none twice), and both
 *     daemons did some of it;
 *  4. webhooks to a receiver of the test's own that checks the signature
 *     and timestamp: a Google account's session killed and then used gives
 *     one account.needs_human (session_lost, words naming Google), retried
 *     with the same delivery id after a 500; cookies imported again give
 *     one account.recovered; no secret in any body or in the daemon's log.
 *
 * Every daemon is stopped with SIGTERM and must exit 0: under ASan/TSan a
 * report makes the status non-zero, which is how the sanitizers see it.
 */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <provauth/provauth.h>
#include "fake_pixiv.h"
#include "fake_pixverse.h"
#include "harness.h"
#include "pa_test.h"
#include "pg_server.h"

#define PA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define TOK_READ "fleet-test-read-token-01"
#define TOK_OPERATE "fleet-test-operate-token-2"
#define TOK_ADMIN "fleet-test-admin-token-003"
#define HOOK_SECRET "fleet-webhook-secret-SECRET-0123"

static const pa_daemon_token tokens[] = {
	{ "reader", TOK_READ, "read" },
	{ "operator", TOK_OPERATE, "operate" },
	{ "admin", TOK_ADMIN, "admin" },
};


static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* One request to a daemon; the status, *out the parsed body (may be NULL). */
static long call(pa_daemon *d, const char *method, const char *path, const char *token, const char *body,
                 json_object **out)
{
	long status = 0;
	char *reply = NULL;

	if (out)
		*out = NULL;
	CU_ASSERT_EQUAL_FATAL(pa_daemon_request(d, method, path, token, body, &status, &reply, NULL), 0);
	if (out && reply && *reply)
		*out = json_tokener_parse(reply);
	free(reply);
	return status;
}

/* Stops a daemon with SIGTERM: it must drain and exit 0 (a sanitizer report would not). */
static void stop_daemon(pa_daemon *d)
{
	int st = pa_daemon_stop(d, 30);

	if (st != 0)
		fprintf(stderr, "\n  provauthd exited with %d\n", st);
	CU_ASSERT_EQUAL(st, 0);
}

/* A manager of the test's own on the daemon's store (and its key), with the plugins, as another host. */
static provauth_manager *side_open(const char *settings_path)
{
	provauth_manager_options mo = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *st = NULL;
	provauth_manager *m = NULL;

	mo.log = pa_test_log_capture;
	if (provauth_settings_load(&st, settings_path) < 0)
		fprintf(stderr, "\n  settings: %s\n", provauth_last_error());
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	if (provauth_manager_new(&m, st, &mo) < 0)
		fprintf(stderr, "\n  manager: %s\n", provauth_last_error());
	provauth_settings_free(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	return m;
}

static void pixiv_yaml(char *buf, size_t size, fake_pixiv *fk)
{
	snprintf(buf, size,
	         "providers:\n  pixiv:\n    token_url: %s/auth/token\n    api_base_url: %s/\n",
	         fake_pixiv_base_url(fk), fake_pixiv_base_url(fk));
}

/* A fake user and its account, imported through `m` (one token request); the account id (malloc()ed). */
static char *pixiv_account(fake_pixiv *fk, provauth_manager *m, int n)
{
	char rt[64], uid[16], name[32];
	char *id = NULL;

	/* Each test has a fake of its own: the number alone makes the token unique. */
	snprintf(rt, sizeof(rt), "rtFLEET-%d-%ld", n, (long)getpid());
	snprintf(uid, sizeof(uid), "%d", 9000 + n);
	snprintf(name, sizeof(name), "fleet%d", n);
	CU_ASSERT_FATAL(fake_pixiv_add_user(fk, rt, uid, name, NULL) == 0);
	if (provauth_account_import(&id, m, "pixiv", "refresh_token", rt) < 0)
		fprintf(stderr, "\n  import: %s\n", provauth_last_error());
	CU_ASSERT_PTR_NOT_NULL_FATAL(id);
	return id;
}

/* The access token's expiry GET /v1/accounts/{id} shows; 0 if none. */
static int64_t shown_expiry(pa_daemon *d, const char *id)
{
	json_object *a = NULL, *creds;
	char path[256];
	int64_t at = 0;
	size_t i;

	snprintf(path, sizeof(path), "/v1/accounts/%s", id);
	CU_ASSERT_EQUAL(call(d, "GET", path, TOK_READ, NULL, &a), 200);
	creds = jget(a, "credentials");
	for (i = 0; creds && i < json_object_array_length(creds); i++) {
		json_object *c = json_object_array_get_idx(creds, i);
		if (jstr(c, "kind") && strcmp(jstr(c, "kind"), PROVAUTH_CRED_ACCESS_TOKEN) == 0 && jget(c, "expires_at"))
			at = json_object_get_int64(jget(c, "expires_at"));
	}
	json_object_put(a);
	return at;
}

/* ------------------------------------------------------------------------ */
/* 1. A token expiring with no traffic is refreshed in time                 */
/* ------------------------------------------------------------------------ */

static void test_refresh_ahead_without_traffic(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	fake_pixiv *fk = NULL;
	pa_daemon *d = NULL;
	provauth_manager *m;
	char yaml[1024], *id;
	int64_t expiry, now;
	long before;
	double t0;

	CU_ASSERT_FATAL(fake_pixiv_start(&fk) == 0);
	/* Tokens live 12 s; the keeper renews them 8 s ahead: due 4 s after each grant. */
	fake_pixiv_set_expires_in(fk, 12);
	pixiv_yaml(yaml, sizeof(yaml), fk);
	o.tokens = tokens;
	o.ntokens = PA_ARRAY_LEN(tokens);
	o.keeper = 1;
	o.daemon_yaml = "  rate: 0\n  keeper:\n    refresh_ahead: 8\n    scan_interval_ms: 100\n"
	                "    rate_per_provider: 100\n";
	o.yaml = yaml;
	CU_ASSERT_FATAL(pa_daemon_start(&d, &o) == 0);

	m = side_open(pa_daemon_settings_path(d));
	id = pixiv_account(fk, m, 1);
	provauth_manager_free(m);
	t0 = mono_s();
	before = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN);
	expiry = shown_expiry(d, id);
	now = (int64_t)time(NULL);
	CU_ASSERT(expiry > now && expiry <= now + 13);

	/* Nothing asks for the account: only the keeper can send a token request. */
	while (fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) == before && mono_s() - t0 < 15)
		sleep_ms(50);
	CU_ASSERT(fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) > before);
	/* Renewed in time (before the old token died), and not before it was due (4 s after
	 * its grant, less a second of rounding). */
	CU_ASSERT((int64_t)time(NULL) < expiry);
	CU_ASSERT(mono_s() - t0 >= 2.5);
	CU_ASSERT_EQUAL(fake_pixiv_count(fk, FAKE_PIXIV_API), 0);
	/* The stored expiry moved forward, and the API shows it. */
	{
		int64_t later = 0;
		double t1 = mono_s();
		while ((later = shown_expiry(d, id)) <= expiry && mono_s() - t1 < 5)
			sleep_ms(50);
		CU_ASSERT(later > expiry);
	}
	/* The worker logs once its call returns, which may be after the API already shows the write. */
	{
		double t1 = mono_s();
		while (!pa_daemon_log_contains(d, "keeper_kept") && mono_s() - t1 < 5)
			sleep_ms(50);
		CU_ASSERT(pa_daemon_log_contains(d, "keeper_kept"));
	}
	free(id);
	stop_daemon(d);
	fake_pixiv_stop(fk);
}

/* ------------------------------------------------------------------------ */
/* 2. An idle account is touched within max_idle (fast clock)               */
/* ------------------------------------------------------------------------ */

static unsigned long credit_requests(fake_pixverse *srv)
{
	return fake_pixverse_counter(srv, FAKE_PV_EP_CREDITS) + fake_pixverse_counter(srv, FAKE_PV_EP_OPENAPI_CREDITS);
}

/* The import body of a browser session of `email` (malloc()ed); its secrets appended to `secrets`. */
static char *import_body(fake_pixverse *srv, const char *email, int n, char secrets[][512], size_t *nsecrets)
{
	char *tok = fake_pixverse_login_token(srv, email), *body, sid[64];
	json_object *o = json_object_new_object(), *raw = json_object_new_object(), *c = json_object_new_object();

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	snprintf(sid, sizeof(sid), "sid-SECRET-%d-%s", n, email);
	if (secrets) {
		snprintf(secrets[(*nsecrets)++], 512, "%s", tok);
		snprintf(secrets[(*nsecrets)++], 512, "%s", sid);
	}
	json_object_object_add(c, "_ai_token", json_object_new_string(tok));
	json_object_object_add(c, "pv_sid", json_object_new_string(sid));
	json_object_object_add(raw, "cookies", c);
	json_object_object_add(o, "provider_id", json_object_new_string("pixverse"));
	json_object_object_add(o, "url", json_object_new_string("https://app.pixverse.ai/"));
	json_object_object_add(o, "raw_data", raw);
	body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	free(tok);
	return body;
}

static char *import_cookies(pa_daemon *d, fake_pixverse *srv, const char *email, int n, char secrets[][512],
                            size_t *nsecrets)
{
	char *body = import_body(srv, email, n, secrets, nsecrets), *id;
	json_object *r = NULL;
	long st = call(d, "POST", "/v1/accounts/import-cookies", TOK_ADMIN, body, &r);

	free(body);
	CU_ASSERT_EQUAL_FATAL(st, 200);
	CU_ASSERT_PTR_NOT_NULL_FATAL(jstr(r, "account_id"));
	id = strdup(jstr(r, "account_id"));
	json_object_put(r);
	return id;
}

static void test_idle_account_touched_within_max_idle(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	fake_pixverse *srv;
	pa_daemon *d = NULL;
	char yaml[2048], *id;
	double t0, seen = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv = pa_daemon_start_fake_pixverse());
	o.tokens = tokens;
	o.ntokens = PA_ARRAY_LEN(tokens);
	o.keeper = 1;
	/* max_idle 600 s at 60x: 10 s, jitter +-10 %: due 9 to 11 s after the import (its last write). */
	o.daemon_yaml = "  rate: 0\n  keeper:\n    max_idle: 600\n    time_scale: 60\n    jitter_percent: 10\n"
	                "    scan_interval_ms: 100\n    rate_per_provider: 100\n";
	o.yaml = pa_daemon_pixverse_yaml(yaml, sizeof(yaml), srv);
	CU_ASSERT_FATAL(pa_daemon_start(&d, &o) == 0);

	/* The clock starts at the import: the store's updated_at, in whole seconds (up to one before t0). */
	t0 = mono_s();
	id = import_cookies(d, srv, "alice@example.com", 1, NULL, NULL);
	fake_pixverse_reset_counters(srv);
	while (mono_s() - t0 < 16) {
		if (credit_requests(srv) > 0) {
			seen = mono_s() - t0;
			break;
		}
		sleep_ms(50);
	}
	fprintf(stderr, "\n  idle account touched %.1f s after the import (due 9-11 s after its whole second)\n", seen);
	/* Touched within max_idle (+ jitter, one scan, a second of rounding) ... */
	CU_ASSERT(seen > 0 && seen <= 13.0);
	/* ... and not before max_idle less its jitter (less a second of rounding). */
	CU_ASSERT(seen >= 8.0);
	/* Once: the account is not kept again for another max_idle. */
	sleep_ms(1500);
	CU_ASSERT(credit_requests(srv) >= 1 && credit_requests(srv) <= 2);
	CU_ASSERT(pa_daemon_log_contains(d, "keeper_kept"));
	free(id);
	stop_daemon(d);
	fake_pixverse_stop(srv);
}

/* ------------------------------------------------------------------------ */
/* 3. Two daemons, one PostgreSQL store, 100 accounts, no account twice     */
/* ------------------------------------------------------------------------ */

#define FLEET_ACCOUNTS 100

/* How many accounts this daemon's keeper refreshed (its keeper_kept events with refreshed true). */
static int refreshes_logged(const pa_daemon *d)
{
	char *log = pa_daemon_log_text(d), *line, *save = NULL;
	int n = 0;

	for (line = log ? strtok_r(log, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, "keeper_kept") && strstr(line, "\"refresh\"") &&
		    (strstr(line, "\"refreshed\":true") || strstr(line, "refreshed=true")))
			n++;
	free(log);
	return n;
}

static void test_two_daemons_one_store(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	fake_pixiv *fk = NULL;
	pa_daemon *a = NULL, *b = NULL;
	provauth_manager *m;
	char yaml[1024], store[1024], keydir[] = "/tmp/pa-fleet-key-XXXXXX", *url, *ids[FLEET_ACCOUNTS];
	int64_t last[FLEET_ACCOUNTS];
	long base;
	int i, cycle, ra, rb;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url = pa_pg_fresh_database());
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(keydir));
	CU_ASSERT_FATAL(fake_pixiv_start(&fk) == 0);
	/* Tokens live 30 s, renewed 20 s ahead: a cycle every 10 s, all accounts at once. */
	fake_pixiv_set_expires_in(fk, 30);
	pixiv_yaml(yaml, sizeof(yaml), fk);
	snprintf(store, sizeof(store),
	         "store:\n  backend: postgres\n  url: %s\n  key_file: %s/accounts.key\n"
	         "  connect_timeout_ms: 3000\n  statement_timeout_ms: 10000\n", url, keydir);
	o.tokens = tokens;
	o.ntokens = PA_ARRAY_LEN(tokens);
	o.keeper = 1;
	o.daemon_yaml = "  rate: 0\n  keeper:\n    refresh_ahead: 20\n    scan_interval_ms: 200\n"
	                "    concurrency: 4\n    rate_per_provider: 1000\n";
	o.yaml = yaml;
	o.store_yaml = store;
	CU_ASSERT_FATAL(pa_daemon_start(&a, &o) == 0);
	/* The accounts, imported by a host of their own through the same store and key. */
	m = side_open(pa_daemon_settings_path(a));
	for (i = 0; i < FLEET_ACCOUNTS; i++)
		ids[i] = pixiv_account(fk, m, 100 + i);
	CU_ASSERT_FATAL(pa_daemon_start(&b, &o) == 0);
	base = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN);
	CU_ASSERT_EQUAL(base, FLEET_ACCOUNTS);
	/*
	 * Each token request takes 30 ms from here: one daemon alone needs
	 * about 750 ms for a cycle (4 workers), longer than the other's scan
	 * interval, so both take part whichever scans first. The second skips
	 * the accounts the first holds (a renewal ahead of expiry does not wait
	 * for another process's) and takes the ones nobody holds yet.
	 */
	fake_pixiv_set_fault(fk, FAKE_PIXIV_TOKEN, FAKE_PIXIV_FAULT_DELAY, 30, -1);
	for (i = 0; i < FLEET_ACCOUNTS; i++) {
		provauth_account *acc = NULL;
		CU_ASSERT_FATAL(provauth_account_get(&acc, m, ids[i]) == 0);
		last[i] = PA_CRED_EXPIRES(acc, ACCESS_TOKEN);
		provauth_account_free(acc);
	}

	for (cycle = 1; cycle <= 2; cycle++) {
		long want = base + (long)cycle * FLEET_ACCOUNTS, got;
		double t0 = mono_s();
		int moved = 0;

		while (fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) < want && mono_s() - t0 < 25)
			sleep_ms(50);
		/* Settled (the next cycle is ~10 s away): exactly one token request per account ... */
		sleep_ms(2000);
		got = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN);
		fprintf(stderr, "\n  cycle %d: %ld token requests for %d accounts (%.1f s)\n", cycle,
		        got - (want - FLEET_ACCOUNTS), FLEET_ACCOUNTS, mono_s() - t0);
		CU_ASSERT_EQUAL(got, want);
		/* ... and every account's expiry moved: so each account was refreshed once, none twice. */
		for (i = 0; i < FLEET_ACCOUNTS; i++) {
			provauth_account *acc = NULL;
			int64_t e;
			CU_ASSERT_FATAL(provauth_account_get(&acc, m, ids[i]) == 0);
			e = PA_CRED_EXPIRES(acc, ACCESS_TOKEN);
			CU_ASSERT_FALSE(acc->state.refresh_refused);
			moved += e > last[i];
			last[i] = e;
			provauth_account_free(acc);
		}
		CU_ASSERT_EQUAL(moved, FLEET_ACCOUNTS);
		/* Resynchronise on what the fake counted (a failure above must not shift the next cycle). */
		base = got - (long)cycle * FLEET_ACCOUNTS;
	}
	ra = refreshes_logged(a);
	rb = refreshes_logged(b);
	fprintf(stderr, "  refreshes: daemon A %d, daemon B %d\n", ra, rb);
	CU_ASSERT_EQUAL(ra + rb, 2 * FLEET_ACCOUNTS);
	CU_ASSERT(ra > 0);
	CU_ASSERT(rb > 0);
	provauth_manager_free(m);
	for (i = 0; i < FLEET_ACCOUNTS; i++)
		free(ids[i]);
	stop_daemon(a);
	stop_daemon(b);
	fake_pixiv_stop(fk);
	pa_test_rmtree(keydir);
	free(url);
}

/* ------------------------------------------------------------------------ */
/* 4. Webhooks to a receiver that checks them                               */
/* ------------------------------------------------------------------------ */

#define HOOK_MAX 16

typedef struct receiver {
	struct MHD_Daemon *mhd;
	char url[64];
	pthread_mutex_t mu;
	int fail_first;                 /* answer 500 to this many deliveries */
	int requests;
	int good;                       /* signature and timestamp right */
	char bodies[HOOK_MAX][2048];
	char delivery[HOOK_MAX][64];    /* X-Provauth-Delivery */
	char event[HOOK_MAX][64];       /* X-Provauth-Event */
} receiver;

typedef struct upload {
	char buf[8192];
	size_t len;
} upload;

/* What a customer checks: v1=hex HMAC-SHA256(secret, timestamp "." body), the timestamp within 5 minutes. */
static int signed_right(const char *ts, const char *sig, const char *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0, i;
	char hex[2 * EVP_MAX_MD_SIZE + 1], *end = NULL;
	long long t;

	if (!ts || !sig || strncmp(sig, "v1=", 3) != 0)
		return 0;
	errno = 0;
	t = strtoll(ts, &end, 10);
	if (errno || end == ts || *end || llabs(t - (long long)time(NULL)) > 300)
		return 0;
	{
		size_t n = strlen(ts) + 1 + len;
		unsigned char *text = malloc(n);
		if (!text)
			return 0;
		memcpy(text, ts, strlen(ts));
		text[strlen(ts)] = '.';
		memcpy(text + strlen(ts) + 1, body, len);
		if (!HMAC(EVP_sha256(), HOOK_SECRET, (int)strlen(HOOK_SECRET), text, n, mac, &maclen)) {
			free(text);
			return 0;
		}
		free(text);
	}
	for (i = 0; i < maclen; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return strcmp(hex, sig + 3) == 0;
}

static enum MHD_Result on_hook(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *data, size_t *size, void **state)
{
	receiver *r = cls;
	upload *u = *state;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned int status;
	int i;

	(void)url;
	(void)version;
	if (!u) {
		if (!(u = calloc(1, sizeof(*u))))
			return MHD_NO;
		*state = u;
		return MHD_YES;
	}
	if (*size) {
		size_t room = sizeof(u->buf) - 1 - u->len, take = *size < room ? *size : room;
		memcpy(u->buf + u->len, data, take);
		u->len += take;
		*size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&r->mu);
	i = r->requests++;
	if (strcmp(method, "POST") == 0 &&
	    signed_right(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Provauth-Timestamp"),
	                 MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Provauth-Signature"), u->buf, u->len))
		r->good++;
	if (i < HOOK_MAX) {
		const char *dv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Provauth-Delivery");
		const char *ev = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Provauth-Event");
		snprintf(r->bodies[i], sizeof(r->bodies[i]), "%s", u->buf);
		snprintf(r->delivery[i], sizeof(r->delivery[i]), "%s", dv ? dv : "");
		snprintf(r->event[i], sizeof(r->event[i]), "%s", ev ? ev : "");
	}
	status = i < r->fail_first ? 500 : 204;
	pthread_mutex_unlock(&r->mu);
	resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_hook_done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode t)
{
	(void)cls;
	(void)c;
	(void)t;
	free(*state);
	*state = NULL;
}

static int receiver_start(receiver *r, int fail_first)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa, bound;
	socklen_t len = sizeof(bound);

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	r->fail_first = fail_first;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, on_hook,
	                          r, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED,
	                          on_hook_done, NULL, MHD_OPTION_END);
	if (!r->mhd)
		return -1;
	info = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_LISTEN_FD);
	if (!info || getsockname(info->listen_fd, (struct sockaddr *)&bound, &len) != 0)
		return -1;
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%u/hook", (unsigned)ntohs(bound.sin_port));
	return 0;
}

static void receiver_stop(receiver *r)
{
	if (r->mhd)
		MHD_stop_daemon(r->mhd);
	r->mhd = NULL;
	pthread_mutex_destroy(&r->mu);
}

static int received(receiver *r)
{
	int n;

	pthread_mutex_lock(&r->mu);
	n = r->requests;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* Waits up to ms for at least n deliveries; then a moment more, so a duplicate would be seen too. */
static int wait_received(receiver *r, int n, long ms)
{
	double t0 = mono_s();

	while (received(r) < n && (mono_s() - t0) * 1000 < ms)
		sleep_ms(20);
	sleep_ms(700);
	return received(r);
}

static void test_webhooks_lost_google_session(void)
{
	static receiver rcv;
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	static char secrets[16][512];
	size_t nsecrets = 0, i;
	fake_pixverse *srv;
	pa_daemon *d = NULL;
	json_object *r = NULL, *b;
	char yaml[2048], dyaml[1024], path[256], *id, *body, *log;
	int k;

	CU_ASSERT_FATAL(receiver_start(&rcv, 1) == 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(srv = pa_daemon_start_fake_pixverse());
	snprintf(dyaml, sizeof(dyaml),
	         "  rate: 0\n  webhook:\n    url: %s\n    secret: %s\n    retries: 3\n    backoff_ms: 200\n"
	         "    max_backoff_ms: 400\n    timeout_ms: 3000\n", rcv.url, HOOK_SECRET);
	o.tokens = tokens;
	o.ntokens = PA_ARRAY_LEN(tokens);
	o.daemon_yaml = dyaml;
	o.yaml = pa_daemon_pixverse_yaml(yaml, sizeof(yaml), srv);
	CU_ASSERT_FATAL(pa_daemon_start(&d, &o) == 0);

	id = import_cookies(d, srv, "dave@example.com", 1, secrets, &nsecrets);
	snprintf(path, sizeof(path), "/v1/accounts/%s/connect-google", id);
	{
		char *tok = fake_pixverse_google_id_token(srv, "dave@example.com", 600), google_body[2048];

		CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
		snprintf(google_body, sizeof(google_body), "{\"id_token\":\"%s\"}", tok);
		CU_ASSERT_EQUAL(call(d, "POST", path, TOK_ADMIN, google_body, NULL), 200);
		snprintf(secrets[nsecrets++], 512, "%s", tok);
		free(tok);
	}
	CU_ASSERT_EQUAL(received(&rcv), 0);

	/* The session killed at the fake, then used (three times: still one webhook). */
	CU_ASSERT_EQUAL(fake_pixverse_kick(srv, "dave@example.com"), 0);
	snprintf(path, sizeof(path), "/v1/accounts/%s/pixverse-status", id);
	for (k = 0; k < 3; k++) {
		CU_ASSERT_EQUAL(call(d, "GET", path, TOK_OPERATE, NULL, &r), 200);
		json_object_put(r);
	}
	/* The receiver answered 500 the first time: the same delivery comes again, and then no more. */
	CU_ASSERT_EQUAL(wait_received(&rcv, 2, 8000), 2);
	CU_ASSERT_STRING_EQUAL(rcv.event[0], "account.needs_human");
	CU_ASSERT_STRING_EQUAL(rcv.event[1], "account.needs_human");
	CU_ASSERT(rcv.delivery[0][0] != '\0');
	CU_ASSERT_STRING_EQUAL(rcv.delivery[0], rcv.delivery[1]);
	CU_ASSERT_STRING_EQUAL(rcv.bodies[0], rcv.bodies[1]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b = json_tokener_parse(rcv.bodies[1]));
	CU_ASSERT_STRING_EQUAL(jstr(b, "event") ? jstr(b, "event") : "", "account.needs_human");
	CU_ASSERT_STRING_EQUAL(jstr(b, "account_id") ? jstr(b, "account_id") : "", id);
	CU_ASSERT_STRING_EQUAL(jstr(b, "reason") ? jstr(b, "reason") : "", "session_lost");
	CU_ASSERT_PTR_NOT_NULL(strstr(rcv.bodies[1], "Google"));
	json_object_put(b);

	/* Fresh cookies imported: the account works again, and one account.recovered follows. */
	body = import_body(srv, "dave@example.com", 2, secrets, &nsecrets);
	CU_ASSERT_EQUAL(call(d, "POST", "/v1/accounts/import-cookies", TOK_ADMIN, body, NULL), 200);
	free(body);
	for (k = 0; k < 2; k++) {
		CU_ASSERT_EQUAL(call(d, "GET", path, TOK_OPERATE, NULL, &r), 200);
		json_object_put(r);
	}
	CU_ASSERT_EQUAL(wait_received(&rcv, 3, 8000), 3);
	CU_ASSERT_STRING_EQUAL(rcv.event[2], "account.recovered");
	CU_ASSERT_STRING_NOT_EQUAL(rcv.delivery[2], rcv.delivery[0]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b = json_tokener_parse(rcv.bodies[2]));
	CU_ASSERT_STRING_EQUAL(jstr(b, "account_id") ? jstr(b, "account_id") : "", id);
	json_object_put(b);
	/* Every delivery was signed right, with a fresh timestamp. */
	CU_ASSERT_EQUAL(rcv.good, 3);

	/* No secret in any webhook body or in the daemon's log. */
	snprintf(secrets[nsecrets++], 512, "%s", HOOK_SECRET);
	snprintf(secrets[nsecrets++], 512, "%s", TOK_READ);
	snprintf(secrets[nsecrets++], 512, "%s", TOK_OPERATE);
	snprintf(secrets[nsecrets++], 512, "%s", TOK_ADMIN);
	log = pa_daemon_log_text(d);
	CU_ASSERT_PTR_NOT_NULL(log);
	for (i = 0; i < nsecrets; i++) {
		for (k = 0; k < 3; k++)
			CU_ASSERT_PTR_NULL(strstr(rcv.bodies[k], secrets[i]));
		if (log && strstr(log, secrets[i]))
			fprintf(stderr, "\n  secret #%zu in the daemon's log\n", i);
		CU_ASSERT_PTR_NULL(log ? strstr(log, secrets[i]) : NULL);
	}
	/* Nor the credentials the daemon holds now (the JWT of the login that cookies brought). */
	{
		provauth_manager *m = side_open(pa_daemon_settings_path(d));
		provauth_account *a = NULL;
		size_t c, checked = 0;

		CU_ASSERT_FATAL(provauth_account_get(&a, m, id) == 0);
		for (c = 0; c < provauth_account_credential_count(a); c++) {
			provauth_credential cr;
			if (provauth_account_credential_at(&cr, a, c) < 0 || !cr.value || strlen(cr.value) < 8)
				continue;
			checked++;
			for (k = 0; k < 3; k++)
				CU_ASSERT_PTR_NULL(strstr(rcv.bodies[k], cr.value));
			CU_ASSERT_PTR_NULL(log ? strstr(log, cr.value) : NULL);
		}
		CU_ASSERT(checked >= 1);
		provauth_account_free(a);
		provauth_manager_free(m);
	}
	free(log);
	free(id);
	stop_daemon(d);
	fake_pixverse_stop(srv);
	receiver_stop(&rcv);
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "keeper: a token expiring with no traffic is refreshed in time", test_refresh_ahead_without_traffic },
		{ "keeper: an idle account is touched within max_idle (time_scale)",
		  test_idle_account_touched_within_max_idle },
		{ "webhooks: signed, retried after a 500, one needs_human, one recovered, no secret",
		  test_webhooks_lost_google_session },
		PA_TEST_END,
	};
	static const pa_test pg_tests[] = {
		{ "keeper: two daemons on one PostgreSQL store, 100 accounts, none twice a cycle",
		  test_two_daemons_one_store },
		PA_TEST_END,
	};
	static const pa_test_suite without_pg[] = {
		{ "daemon_fleet", NULL, NULL, tests },
		PA_TEST_SUITE_END,
	};
	static const pa_test_suite with_pg[] = {
		{ "daemon_fleet", NULL, NULL, tests },
		{ "daemon_fleet (postgres)", NULL, NULL, pg_tests },
		PA_TEST_SUITE_END,
	};
	int rc;

	/* Children inherit the environment pa_pg_start sets (PGPASSFILE, no other PG* variable). */
	if ((rc = pa_pg_start()) == 77) {
		/* Only outside CI (pa_pg_start printed why): the rest runs, the whole reads as skipped. */
		rc = pa_test_run(argc, argv, without_pg);
		return rc == 0 ? 77 : rc;
	}
	if (rc != 0)
		return 1;
	return pa_test_run(argc, argv, with_pg);
}
