/*
 * The notifier, in process: a receiver on loopback (libmicrohttpd) checks
 * every delivery's signature and timestamp the way a customer would; it
 * answers 500 once (a retry arrives and is delivered) or always (the
 * delivery lands in the dead letter after `retries`). A scripted Google
 * account whose session is lost sends one needs_human webhook however many
 * calls fail, and one recovered webhook when it works again. No secret in
 * any body, log line or dead letter. The daemon's other rooms are stood in
 * for by the few functions below (world, log, metrics, clock).
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "daemon.h"
#include "notify/notify.h"
#include "keeper/record.h"
#include "../unit/scripted_provider.h"
#include "../support/pa_test.h"

#define SECRET "whsec-SECRET-key"
#define TOK0 "jwt-SECRET-0"

/* ---- stand-ins for the daemon's other rooms ---- */

static pad_daemon dmn;
static pad_world world;
static pthread_mutex_t logs_mu = PTHREAD_MUTEX_INITIALIZER;
static char logs[65536];
static atomic_int m_delivered, m_retried, m_dead;

pad_world *pad_world_get(pad_daemon *d)
{
	(void)d;
	atomic_fetch_add(&world.refs, 1);
	return &world;
}

void pad_world_put(pad_world *w)
{
	atomic_fetch_sub(&w->refs, 1);
}

void pad_log(pad_daemon *d, provauth_log_level level, const char *event, const provauth_log_field *f, size_t n)
{
	size_t i, len;

	(void)d;
	(void)level;
	pthread_mutex_lock(&logs_mu);
	len = strlen(logs);
	snprintf(logs + len, sizeof(logs) - len, "%s", event);
	for (i = 0; i < n; i++) {
		len = strlen(logs);
		if (f[i].type == PROVAUTH_FIELD_STRING || f[i].type == PROVAUTH_FIELD_SECRET)
			snprintf(logs + len, sizeof(logs) - len, " %s=%s", f[i].key, f[i].str ? f[i].str : "");
	}
	len = strlen(logs);
	snprintf(logs + len, sizeof(logs) - len, "\n");
	pthread_mutex_unlock(&logs_mu);
}

void pad_metric_add(const char *family, const char *labels, int64_t delta)
{
	if (strcmp(family, "provauthd_webhook_deliveries_total") != 0)
		return;
	if (strcmp(labels, "result=delivered") == 0)
		atomic_fetch_add(&m_delivered, (int)delta);
	else if (strcmp(labels, "result=retried") == 0)
		atomic_fetch_add(&m_retried, (int)delta);
	else if (strcmp(labels, "result=dead") == 0)
		atomic_fetch_add(&m_dead, (int)delta);
}

void pad_metric_set(const char *family, const char *labels, int64_t value)
{
	(void)family;
	(void)labels;
	(void)value;
}

int64_t pad_now(void)
{
	return (int64_t)time(NULL);
}

/* ---- the receiver ---- */

typedef struct receiver {
	struct MHD_Daemon *mhd;
	char url[64];
	pthread_mutex_t mu;
	int fail_first;            /* answer 500 to this many requests */
	int always_fail;
	int requests;
	int good_signatures;       /* signature and timestamp checked */
	int bad_signatures;
	char bodies[16][1024];     /* the bodies received, in order */
	char deliveries[16][40];   /* X-Provauth-Delivery */
	char events[16][40];       /* X-Provauth-Event */
} receiver;

static receiver rcv;

typedef struct upload {
	char buf[8192];
	size_t len;
} upload;

/* The check a customer writes: HMAC-SHA256(secret, timestamp "." body), timestamp within 5 minutes. */
static int signature_ok(const char *ts, const char *sig, const char *body, size_t len)
{
	unsigned char mac[32];
	unsigned int maclen = 0;
	char text[9000], hex[65];
	char *end = NULL;
	long long t;
	int n;
	unsigned i;

	if (!ts || !sig || strncmp(sig, "v1=", 3) != 0)
		return 0;
	errno = 0;
	t = strtoll(ts, &end, 10);
	if (errno || end == ts || *end || llabs(t - (long long)time(NULL)) > 300)
		return 0;
	n = snprintf(text, sizeof(text), "%s.%.*s", ts, (int)len, body);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    !HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)text, (size_t)n, mac, &maclen))
		return 0;
	for (i = 0; i < maclen; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return strcmp(hex, sig + 3) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **state)
{
	receiver *r = cls;
	upload *u = *state;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int status, i;

	(void)url;
	(void)version;
	if (!u) {
		if (!(u = calloc(1, sizeof(*u))))
			return MHD_NO;
		*state = u;
		return MHD_YES;
	}
	if (*size) {
		size_t take = *size < sizeof(u->buf) - 1 - u->len ? *size : sizeof(u->buf) - 1 - u->len;
		memcpy(u->buf + u->len, data, take);
		u->len += take;
		*size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&r->mu);
	i = r->requests++;
	if (strcmp(method, "POST") == 0 &&
	    signature_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Provauth-Timestamp"),
	                 MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Provauth-Signature"), u->buf, u->len))
		r->good_signatures++;
	else
		r->bad_signatures++;
	if (i < 16) {
		const char *dv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Provauth-Delivery");
		const char *ev = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Provauth-Event");
		snprintf(r->bodies[i], sizeof(r->bodies[i]), "%s", u->buf);
		snprintf(r->deliveries[i], sizeof(r->deliveries[i]), "%s", dv ? dv : "");
		snprintf(r->events[i], sizeof(r->events[i]), "%s", ev ? ev : "");
	}
	status = r->always_fail || i < r->fail_first ? 500 : 204;
	pthread_mutex_unlock(&r->mu);
	resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode t)
{
	(void)cls;
	(void)c;
	(void)t;
	free(*state);
	*state = NULL;
}

static void receiver_start(int fail_first, int always_fail)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa, bound;
	socklen_t len = sizeof(bound);

	memset(&rcv, 0, sizeof(rcv));
	pthread_mutex_init(&rcv.mu, NULL);
	rcv.fail_first = fail_first;
	rcv.always_fail = always_fail;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rcv.mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
	                           on_request, &rcv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                           MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	CU_ASSERT_FATAL(rcv.mhd != NULL);
	info = MHD_get_daemon_info(rcv.mhd, MHD_DAEMON_INFO_LISTEN_FD);
	CU_ASSERT_FATAL(info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &len) == 0);
	snprintf(rcv.url, sizeof(rcv.url), "http://127.0.0.1:%u/hook", (unsigned)ntohs(bound.sin_port));
}

static void receiver_stop(void)
{
	if (rcv.mhd)
		MHD_stop_daemon(rcv.mhd);
	rcv.mhd = NULL;
	pthread_mutex_destroy(&rcv.mu);
}

static int requests(void)
{
	int n;

	pthread_mutex_lock(&rcv.mu);
	n = rcv.requests;
	pthread_mutex_unlock(&rcv.mu);
	return n;
}

/* ---- the world the notifier runs in ---- */

static char tmpdir[256];
static char dead_path[320];
static scripted_server *srv;
static provauth_store *store;

static void on_library_event(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                             void *payload)
{
	(void)level;
	pad_log(payload, level, event, f, n);
	pad_notify_from_event(payload, event, f, n);
}

static void world_up(const char *url, int64_t retries)
{
	static const char yaml[] = "session:\n  recovery_wait_ms: 2000\n  lease_ttl_ms: 2000\n"
	                           "providers:\n  scripted:\n    auto_reauth_enabled: true\n";
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pa-webhook-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(tmpdir) != NULL);
	snprintf(dead_path, sizeof(dead_path), "%s/dead.jsonl", tmpdir);
	logs[0] = '\0';
	atomic_store(&m_delivered, 0);
	atomic_store(&m_retried, 0);
	atomic_store(&m_dead, 0);
	srv = scripted_server_new();
	scripted_use_server(srv);
	CU_ASSERT_FATAL(provauth_store_memory_new(&store) == 0);
	CU_ASSERT_FATAL(provauth_settings_parse(&s, yaml, strlen(yaml), "test.yaml") == 0);
	opts.store = store;
	opts.log = on_library_event;
	opts.log_payload = &dmn;
	opts.skip_plugins = 1;
	memset(&world, 0, sizeof(world));
	atomic_init(&world.refs, 1);
	world.generation = 1;
	CU_ASSERT_FATAL(provauth_manager_new(&world.manager, s, &opts) == 0);
	provauth_settings_free(s);
	CU_ASSERT_FATAL(provauth_manager_add_provider(world.manager, &scripted_provider) == 0);
	CU_ASSERT_FATAL((world.config = calloc(1, sizeof(*world.config))) != NULL);
	world.config->webhook.url = url ? strdup(url) : NULL;
	world.config->webhook.secret = strdup(SECRET);
	world.config->webhook.timeout_ms = 2000;
	world.config->webhook.retries = retries;
	world.config->webhook.backoff_ms = 40;
	world.config->webhook.max_backoff_ms = 160;
	world.config->webhook.dead_letter = strdup(dead_path);
	memset(&dmn, 0, sizeof(dmn));
	pthread_mutex_init(&dmn.log_lock, NULL);
	CU_ASSERT_FATAL(pad_notifier_start(&dmn.notifier, &dmn) == 0);
}

static void world_down(void)
{
	pad_notifier_stop(dmn.notifier);
	dmn.notifier = NULL;
	provauth_manager_free(world.manager);
	world.manager = NULL;
	free(world.config->webhook.url);
	free(world.config->webhook.secret);
	free(world.config->webhook.dead_letter);
	free(world.config);
	world.config = NULL;
	provauth_store_free(store);
	store = NULL;
	scripted_server_free(srv);
	srv = NULL;
	pa_test_rmtree(tmpdir);
}

static void put_account(const char *id, const char *method)
{
	provauth_account *a = NULL;
	char json[64];

	CU_ASSERT_FATAL(provauth_account_new(&a, id, "scripted") == 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, srv->valid_token, 0);
	provauth_account_set_cookie(a, "_ai_token", srv->valid_token);
	snprintf(json, sizeof(json), "\"%s\"", method);
	provauth_account_set_metadata(a, "auth_method", json);
	CU_ASSERT_FATAL(store->put(store, a) == 0);
	provauth_account_free(a);
}

/* Waits up to `ms` for cond(); 1 when it held. */
static int eventually(int (*cond)(void), int ms)
{
	struct timespec ts = { 0, 10 * 1000000L };
	int i;

	for (i = 0; i < ms / 10; i++) {
		if (cond())
			return 1;
		nanosleep(&ts, NULL);
	}
	return cond();
}

static int one_delivered(void) { return atomic_load(&m_delivered) >= 1; }
static int two_delivered(void) { return atomic_load(&m_delivered) >= 2; }
static int one_dead(void) { return atomic_load(&m_dead) >= 1; }

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	buf[0] = '\0';
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ---- the pieces alone ---- */

static void test_signature_known_answer(void)
{
	/* HMAC-SHA256("key", "1700000000.{}"), computed independently (python hmac). */
	char sig[65];

	CU_ASSERT_EQUAL(pad_webhook_sign(sig, "key", 1700000000, "{}", 2), 0);
	CU_ASSERT_STRING_EQUAL(sig, "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae");
}

static void test_signature_covers_timestamp_and_body(void)
{
	char a[65], b[65], c[65];

	CU_ASSERT_EQUAL(pad_webhook_sign(a, SECRET, 100, "{\"x\":1}", 7), 0);
	CU_ASSERT_EQUAL(pad_webhook_sign(b, SECRET, 101, "{\"x\":1}", 7), 0);
	CU_ASSERT_EQUAL(pad_webhook_sign(c, SECRET, 100, "{\"x\":2}", 7), 0);
	CU_ASSERT_EQUAL(strlen(a), 64);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	CU_ASSERT_STRING_NOT_EQUAL(a, c);
	CU_ASSERT(signature_ok("100", "v1=x", "{}", 2) == 0);
}

static void test_delivery_ids_are_uuid_shaped_and_distinct(void)
{
	char a[37], b[37];

	CU_ASSERT_EQUAL(pad_delivery_id(a), 0);
	CU_ASSERT_EQUAL(pad_delivery_id(b), 0);
	CU_ASSERT_EQUAL(strlen(a), 36);
	CU_ASSERT(a[8] == '-' && a[13] == '-' && a[14] == '4' && a[18] == '-' && a[23] == '-');
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

static void test_body_fields(void)
{
	char *body = pad_webhook_body("d-1", "account.needs_human", "acct-1", "pixverse", "session_lost", "m", 42);
	json_object *o, *v;

	CU_ASSERT_FATAL(body != NULL);
	CU_ASSERT_FATAL((o = json_tokener_parse(body)) != NULL);
	CU_ASSERT(json_object_object_get_ex(o, "id", &v) && strcmp(json_object_get_string(v), "d-1") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "event", &v) &&
	          strcmp(json_object_get_string(v), "account.needs_human") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "account_id", &v) && strcmp(json_object_get_string(v), "acct-1") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "provider", &v) && strcmp(json_object_get_string(v), "pixverse") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "reason", &v) &&
	          strcmp(json_object_get_string(v), "session_lost") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "at", &v) && json_object_get_int64(v) == 42);
	json_object_put(o);
	free(body);
}

static void test_backoff_doubles_to_its_ceiling(void)
{
	pad_webhook_config c;
	int64_t want[] = { 1000, 2000, 4000, 8000, 10000, 10000 };
	int64_t i, d;

	memset(&c, 0, sizeof(c));
	c.backoff_ms = 1000;
	c.max_backoff_ms = 10000;
	for (i = 0; i < 6; i++) {
		/* rnd 0.5 is the middle: no jitter. */
		CU_ASSERT_EQUAL(pad_backoff_ms(&c, i + 1, 0.5), want[i]);
		/* The jitter stays within a quarter either way. */
		d = pad_backoff_ms(&c, i + 1, 0.0);
		CU_ASSERT(d >= want[i] - want[i] / 4 && d < want[i]);
		d = pad_backoff_ms(&c, i + 1, 0.999);
		CU_ASSERT(d > want[i] && d <= want[i] + want[i] / 4);
	}
	CU_ASSERT(pad_backoff_ms(&c, 1000, 0.5) == 10000);
}

static void test_dead_letter_file(void)
{
	char dir[] = "/tmp/pa-dead-XXXXXX", path[128], link_path[128];
	struct stat st;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/dead.jsonl", dir);
	CU_ASSERT_EQUAL(pad_dead_letter_append(path, "{\"a\":1}"), 0);
	CU_ASSERT_EQUAL(pad_dead_letter_append(path, "{\"a\":2}"), 0);
	CU_ASSERT_STRING_EQUAL(slurp(path), "{\"a\":1}\n{\"a\":2}\n");
	CU_ASSERT_FATAL(stat(path, &st) == 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	/* A symlink planted where the file goes is not followed. */
	snprintf(link_path, sizeof(link_path), "%s/planted.jsonl", dir);
	CU_ASSERT_FATAL(symlink(path, link_path) == 0);
	CU_ASSERT(pad_dead_letter_append(link_path, "{\"a\":3}") < 0);
	CU_ASSERT_STRING_EQUAL(slurp(path), "{\"a\":1}\n{\"a\":2}\n");
	pa_test_rmtree(dir);
}

/* ---- deliveries ---- */

static void test_retry_after_500_then_delivered(void)
{
	receiver_start(1, 0);
	world_up(rcv.url, 3);
	put_account("a1", "google");
	CU_ASSERT_EQUAL(pad_notify_account(dmn.notifier, "account.needs_human", "a1", "scripted", "banned",
	                                   "the provider reports the account blocked"), 0);
	CU_ASSERT(eventually(one_delivered, 5000));
	CU_ASSERT_EQUAL(requests(), 2);
	CU_ASSERT_EQUAL(rcv.good_signatures, 2);
	CU_ASSERT_EQUAL(rcv.bad_signatures, 0);
	CU_ASSERT_EQUAL(atomic_load(&m_retried), 1);
	/* The retry is the same delivery: same id, same body. */
	CU_ASSERT_STRING_EQUAL(rcv.deliveries[0], rcv.deliveries[1]);
	CU_ASSERT_STRING_EQUAL(rcv.bodies[0], rcv.bodies[1]);
	CU_ASSERT_STRING_EQUAL(rcv.events[0], "account.needs_human");
	CU_ASSERT(strstr(rcv.bodies[0], rcv.deliveries[0]) != NULL);
	CU_ASSERT(strstr(rcv.bodies[0], "\"reason\":\"banned\"") != NULL);
	/* Told once: the same transition again is not sent. */
	CU_ASSERT_EQUAL(pad_notify_account(dmn.notifier, "account.needs_human", "a1", "scripted", "banned", "x"), 0);
	usleep(300 * 1000);
	CU_ASSERT_EQUAL(requests(), 2);
	pad_notifier_stop(dmn.notifier);
	dmn.notifier = NULL;
	CU_ASSERT_STRING_EQUAL(slurp(dead_path), "");
	world_down();
	receiver_stop();
}

static void test_always_failing_receiver_dead_letters(void)
{
	json_object *o, *v, *body;
	char *text;

	receiver_start(0, 1);
	world_up(rcv.url, 2);
	put_account("a1", "google");
	CU_ASSERT_EQUAL(pad_notify_account(dmn.notifier, "account.needs_human", "a1", "scripted",
	                                   "credits_exhausted", "the account has no credits left"), 0);
	CU_ASSERT(eventually(one_dead, 5000));
	/* The first try and `retries` more. */
	CU_ASSERT_EQUAL(requests(), 3);
	CU_ASSERT_EQUAL(atomic_load(&m_retried), 2);
	CU_ASSERT_EQUAL(atomic_load(&m_delivered), 0);
	text = slurp(dead_path);
	CU_ASSERT_FATAL((o = json_tokener_parse(text)) != NULL);
	CU_ASSERT(json_object_object_get_ex(o, "attempts", &v) && json_object_get_int64(v) == 3);
	CU_ASSERT(json_object_object_get_ex(o, "last_error", &v) && strcmp(json_object_get_string(v), "HTTP 500") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "delivery", &body) && json_object_object_get_ex(body, "id", &v) &&
	          strcmp(json_object_get_string(v), rcv.deliveries[0]) == 0);
	json_object_put(o);
	CU_ASSERT(strstr(text, "SECRET") == NULL);
	world_down();
	receiver_stop();
}

static void test_pending_at_stop_kept(void)
{
	receiver_start(0, 1);
	/* Many retries, long back-off: still pending when the notifier stops. */
	world_up(rcv.url, 50);
	world.config->webhook.backoff_ms = 10000;
	world.config->webhook.max_backoff_ms = 10000;
	put_account("a1", "google");
	put_account("a2", "google");
	CU_ASSERT_EQUAL(pad_notify_account(dmn.notifier, "account.needs_human", "a1", "scripted", "banned", "m"), 0);
	CU_ASSERT_EQUAL(pad_notify_account(dmn.notifier, "account.needs_human", "a2", "scripted", "banned", "m"), 0);
	usleep(500 * 1000);
	pad_notifier_stop(dmn.notifier);
	dmn.notifier = NULL;
	{
		const char *text = slurp(dead_path), *p = text;
		int lines = 0;
		while ((p = strchr(p, '\n'))) {
			lines++;
			p++;
		}
		CU_ASSERT_EQUAL(lines, 2);
		CU_ASSERT(strstr(text, "\"why\":\"stopped\"") != NULL);
		CU_ASSERT(strstr(text, "SECRET") == NULL);
	}
	world_down();
	receiver_stop();
}

/* The scripted account's session is killed; every call fails to recover it (Google: no password login). */
static void test_lost_google_session_one_needs_human_then_recovered(void)
{
	json_object *o, *v;
	provauth_account *a = NULL;
	int i;

	receiver_start(0, 0);
	world_up(rcv.url, 3);
	put_account("g1", "google");
	CU_ASSERT_EQUAL(provauth_run_with_session(world.manager, "g1", "credits", scripted_op, NULL), 0);
	scripted_server_kick(srv);
	for (i = 0; i < 3; i++)
		CU_ASSERT(provauth_run_with_session(world.manager, "g1", "credits", scripted_op, NULL) < 0);
	CU_ASSERT(eventually(one_delivered, 5000));
	usleep(300 * 1000);
	CU_ASSERT_EQUAL(requests(), 1);
	CU_ASSERT_STRING_EQUAL(rcv.events[0], "account.needs_human");
	CU_ASSERT_FATAL((o = json_tokener_parse(rcv.bodies[0])) != NULL);
	CU_ASSERT(json_object_object_get_ex(o, "reason", &v) &&
	          strcmp(json_object_get_string(v), "session_lost") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "account_id", &v) && strcmp(json_object_get_string(v), "g1") == 0);
	CU_ASSERT(json_object_object_get_ex(o, "provider", &v) && strcmp(json_object_get_string(v), "scripted") == 0);
	json_object_put(o);
	/* Fresh cookies imported: the next call works, and one recovered webhook follows. */
	CU_ASSERT_FATAL(provauth_account_get(&a, world.manager, "g1") == 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, srv->valid_token, 0);
	provauth_account_set_cookie(a, "_ai_token", srv->valid_token);
	CU_ASSERT_FATAL(provauth_account_put(world.manager, a) == 0);
	provauth_account_free(a);
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(provauth_run_with_session(world.manager, "g1", "credits", scripted_op, NULL), 0);
	CU_ASSERT(eventually(two_delivered, 5000));
	usleep(300 * 1000);
	CU_ASSERT_EQUAL(requests(), 2);
	CU_ASSERT_STRING_EQUAL(rcv.events[1], "account.recovered");
	CU_ASSERT_EQUAL(rcv.good_signatures, 2);
	/* No secret anywhere: bodies, logs. */
	for (i = 0; i < 2; i++) {
		CU_ASSERT(strstr(rcv.bodies[i], "SECRET") == NULL);
		CU_ASSERT(strstr(rcv.bodies[i], "jwt-") == NULL);
	}
	pthread_mutex_lock(&logs_mu);
	CU_ASSERT(strstr(logs, "SECRET") == NULL);
	pthread_mutex_unlock(&logs_mu);
	world_down();
	receiver_stop();
}

static void test_record_compare_and_set(void)
{
	pad_record r;
	provauth_account *a = NULL;

	receiver_start(0, 0);
	world_up(NULL, 0);
	put_account("a1", "google");
	CU_ASSERT_FATAL(provauth_account_get(&a, world.manager, "a1") == 0);
	pad_record_of(&r, a);
	CU_ASSERT_EQUAL(r.kept_at, 0);
	CU_ASSERT_STRING_EQUAL(r.notified, "");
	/* Another daemon writes the account between our read and our write: ours is refused. */
	CU_ASSERT_FATAL(provauth_account_set_metadata(a, "provauthd", "{\"kept_at\":5,\"notified\":\"needs_human\"}") == 0);
	{
		provauth_account *b = NULL;
		CU_ASSERT_FATAL(provauth_account_get(&b, world.manager, "a1") == 0);
		CU_ASSERT_FATAL(provauth_account_put(world.manager, b) == 0);
		provauth_account_free(b);
	}
	CU_ASSERT_EQUAL(provauth_account_put(world.manager, a), PROVAUTH_ECONFLICT);
	provauth_account_free(a);
	world_down();
	receiver_stop();
}

int main(int argc, char **argv)
{
	static const pa_test pieces[] = {
		{ "signature: known answer", test_signature_known_answer },
		{ "signature covers timestamp and body", test_signature_covers_timestamp_and_body },
		{ "delivery ids", test_delivery_ids_are_uuid_shaped_and_distinct },
		{ "body fields", test_body_fields },
		{ "back-off doubles to its ceiling, jitter bounded", test_backoff_doubles_to_its_ceiling },
		{ "dead letter: 0600, appended, no symlink", test_dead_letter_file },
		{ "record: a stale write conflicts", test_record_compare_and_set },
		PA_TEST_END
	};
	static const pa_test deliveries[] = {
		{ "500 once: retried, delivered, told once", test_retry_after_500_then_delivered },
		{ "always failing: dead letter after retries", test_always_failing_receiver_dead_letters },
		{ "pending at stop: dead letter", test_pending_at_stop_kept },
		{ "lost Google session: one needs_human, one recovered",
		  test_lost_google_session_one_needs_human_then_recovered },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "webhook pieces", NULL, NULL, pieces },
		{ "webhook deliveries", NULL, NULL, deliveries },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
