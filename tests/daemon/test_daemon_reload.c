/*
 * provauthd's SIGHUP reload, proved on the real binary (tests/daemon/harness.h):
 * reloads under load from client threads with not one failed request, the
 * generation and provauthd_reloads_total{result="ok"} counting them; a
 * plugin dropped into the plugin directory served after a reload, one
 * removed gone from /v1/providers while a request on the old world still
 * completes, and its .so unmapped from the daemon once that request ends
 * (/proc/PID/maps); broken settings and a changed daemon.listen or
 * max_connections refused with the old world serving; tokens added and
 * removed without a restart. Every daemon stops on SIGTERM with exit
 * status 0.
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include "fake_pixverse.h"
#include "harness.h"
#include "pa_test.h"

#define TOK_READ "reload-test-read-token-01"
#define TOK_OPERATE "reload-test-operate-token-2"
#define TOK_ADMIN "reload-test-admin-token-003"
#define TOK_NEW "reload-test-added-token-0004"

#define PA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define RELOADS 24
#define CLIENTS 6

static const pa_daemon_token tokens[] = {
	{ "reader", TOK_READ, "read" },
	{ "operator", TOK_OPERATE, "operate" },
	{ "admin", TOK_ADMIN, "admin" },
};

/* No rate limit in the way of a test that hammers the daemon on purpose. */
static const char *const no_limits = "  rate: 1000000\n  burst: 1000000\n";

static fake_pixverse *srv;
static char pv_yaml[2048];

static int suite_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT); /* before any client thread: curl_easy_init would race on it */
	if (!(srv = pa_daemon_start_fake_pixverse()))
		return -1;
	pa_daemon_pixverse_yaml(pv_yaml, sizeof(pv_yaml), srv);
	return 0;
}

static int suite_clean(void)
{
	fake_pixverse_stop(srv);
	srv = NULL;
	curl_global_cleanup();
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

static size_t count_of(const char *text, const char *s)
{
	size_t n = 0;

	while (text && (text = strstr(text, s))) {
		n++;
		text += strlen(s);
	}
	return n;
}

static size_t log_count(pa_daemon *h, const char *s)
{
	char *t = pa_daemon_log_text(h);
	size_t n = count_of(t, s);

	free(t);
	return n;
}

/* Waits (up to 20 s) until the log holds `n` lines of `event`: a SIGHUP is done when it says so. */
static int wait_events(pa_daemon *h, const char *event, size_t n)
{
	char needle[128];
	int i;

	snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
	for (i = 0; i < 400; i++) {
		if (log_count(h, needle) >= n)
			return 1;
		sleep_ms(50);
	}
	fprintf(stderr, "\n  %zu '%s' in the log, %zu awaited\n", log_count(h, needle), event, n);
	return 0;
}

static long get(pa_daemon *h, const char *method, const char *path, const char *token, const char *body,
                json_object **out)
{
	long st = 0;
	char *reply = NULL;

	if (out)
		*out = NULL;
	if (pa_daemon_request(h, method, path, token, body, &st, &reply, NULL) < 0)
		st = 0;
	if (out && reply)
		*out = json_tokener_parse(reply);
	free(reply);
	return st;
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

/* /v1/providers' generation, or -1. */
static long generation(pa_daemon *h)
{
	json_object *r;
	long g = -1;

	if (get(h, "GET", "/v1/providers", TOK_READ, NULL, &r) == 200 && jget(r, "generation"))
		g = (long)json_object_get_int64(jget(r, "generation"));
	json_object_put(r);
	return g;
}

/* The file /v1/providers names for provider `id` (malloc()ed), "" when listed without one, NULL when absent. */
static char *provider_file(pa_daemon *h, const char *id)
{
	json_object *r, *list;
	char *file = NULL;
	size_t i;

	CU_ASSERT_EQUAL(get(h, "GET", "/v1/providers", TOK_READ, NULL, &r), 200);
	list = jget(r, "providers");
	for (i = 0; list && i < json_object_array_length(list); i++) {
		json_object *p = json_object_array_get_idx(list, i);
		if (jstr(p, "id") && strcmp(jstr(p, "id"), id) == 0)
			file = strdup(jstr(p, "file") ? jstr(p, "file") : "");
	}
	json_object_put(r);
	return file;
}

/* The value of metric line `series` ("name{labels}") in /metrics, 0 when absent, -1 on error. */
static long metric(pa_daemon *h, const char *series)
{
	long st = 0, v = 0;
	char *reply = NULL, *p;

	if (pa_daemon_request(h, "GET", "/metrics", TOK_READ, NULL, &st, &reply, NULL) < 0 || st != 200) {
		free(reply);
		return -1;
	}
	for (p = reply; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, series, strlen(series)) == 0 && p[strlen(series)] == ' ')
			v = strtol(p + strlen(series) + 1, NULL, 10);
	free(reply);
	return v;
}

/*
 * Whether the daemon maps a file named `name`: 1 or 0, and -1 when its
 * /proc/PID/maps cannot be read. provauthd makes itself non-dumpable
 * (provauth_process_harden), which hands its /proc files to root: run as
 * another user, the test cannot see its mappings, and says so.
 */
static int mapped_or_unknown(pa_daemon *h, const char *name)
{
	char path[64], line[1024];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pa_daemon_pid(h));
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, name))
			found = 1;
	fclose(f);
	return found;
}

/* The mapping as `want` says; as a user who cannot read a hardened daemon's maps, 1 (said once). */
static int mapped_is(pa_daemon *h, const char *name, int want)
{
	static int said;
	int m = mapped_or_unknown(h, name);

	if (m < 0 && geteuid() != 0) {
		if (!said++)
			printf("\n    not checked as uid %ld: the hardened daemon's /proc/PID/maps is root's; the unload is "
			       "seen by its fini alone\n", (long)geteuid());
		return 1;
	}
	return m == want;
}

/* Imports a browser session of `email` on the fake Pixverse; the account id (malloc()ed). */
static char *import_pixverse(pa_daemon *h, const char *email)
{
	char *tok = fake_pixverse_login_token(srv, email), *id = NULL;
	json_object *o = json_object_new_object(), *raw = json_object_new_object(), *c = json_object_new_object(), *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	json_object_object_add(c, "_ai_token", json_object_new_string(tok));
	json_object_object_add(raw, "cookies", c);
	json_object_object_add(o, "provider_id", json_object_new_string("pixverse"));
	json_object_object_add(o, "raw_data", raw);
	CU_ASSERT_EQUAL(get(h, "POST", "/v1/accounts/import-cookies", TOK_ADMIN,
	                    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), &r), 200);
	if (jstr(r, "account_id"))
		id = strdup(jstr(r, "account_id"));
	json_object_put(r);
	json_object_put(o);
	free(tok);
	CU_ASSERT_PTR_NOT_NULL_FATAL(id);
	return id;
}

/* ---- 1. reloads under load ---- */

struct load {
	pa_daemon *h;
	const char *account;
	atomic_int stop;
	atomic_long requests;
	atomic_long failed;
	char first_failure[512];
	pthread_mutex_t lock;
};

static void *client(void *arg)
{
	struct load *l = arg;
	char credits[256], status[256];
	unsigned i = 0;

	snprintf(credits, sizeof(credits), "/v1/accounts/%s/call/credits", l->account);
	snprintf(status, sizeof(status), "/v1/accounts/%s/pixverse-status", l->account);
	while (!atomic_load(&l->stop)) {
		const char *method = "GET", *path, *body = NULL, *token = TOK_OPERATE;
		char *reply = NULL;
		long st = 0;

		switch (i++ % 4) {
		case 0: path = "/v1/accounts"; token = TOK_READ; break;
		case 1: method = "POST"; path = credits; body = "{}"; break;
		case 2: path = status; break;
		default: path = "/v1/providers"; token = TOK_READ; break;
		}
		pa_daemon_request(l->h, method, path, token, body, &st, &reply, NULL);
		atomic_fetch_add(&l->requests, 1);
		if (st != 200) {
			pthread_mutex_lock(&l->lock);
			if (atomic_fetch_add(&l->failed, 1) == 0)
				snprintf(l->first_failure, sizeof(l->first_failure), "%s %s -> %ld %.300s", method, path, st,
				         reply ? reply : "");
			pthread_mutex_unlock(&l->lock);
		}
		free(reply);
	}
	return NULL;
}

static void test_reload_under_load(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	struct load l;
	pthread_t t[CLIENTS];
	pa_daemon *h;
	long before, during;
	char *id;
	int i;

	o.tokens = tokens;
	o.ntokens = PA_ARRAY_LEN(tokens);
	/* The keeper scans every 50 ms: its tasks hold worlds across the reloads too. */
	o.keeper = 1;
	o.daemon_yaml = "  rate: 1000000\n  burst: 1000000\n  keeper:\n    scan_interval_ms: 50\n";
	o.yaml = pv_yaml;
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	id = import_pixverse(h, "alice@example.com");
	CU_ASSERT_EQUAL(generation(h), 1);
	memset(&l, 0, sizeof(l));
	l.h = h;
	l.account = id;
	pthread_mutex_init(&l.lock, NULL);
	for (i = 0; i < CLIENTS; i++)
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, client, &l) == 0);
	sleep_ms(200);
	before = atomic_load(&l.requests);
	/* One SIGHUP at a time: signals sent faster than sigwait takes them would merge into one. */
	for (i = 1; i <= RELOADS; i++) {
		CU_ASSERT_EQUAL(pa_daemon_signal(h, SIGHUP), 0);
		CU_ASSERT(wait_events(h, "reloaded", (size_t)i));
		sleep_ms(20);
	}
	during = atomic_load(&l.requests) - before;
	sleep_ms(200);
	atomic_store(&l.stop, 1);
	for (i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	if (atomic_load(&l.failed))
		fprintf(stderr, "\n  %ld of %ld requests failed; the first: %s\n", atomic_load(&l.failed),
		        atomic_load(&l.requests), l.first_failure);
	CU_ASSERT_EQUAL(atomic_load(&l.failed), 0);
	/* The clients really ran across the reloads, not before or after them. */
	CU_ASSERT(during >= RELOADS * 2);
	CU_ASSERT_EQUAL(generation(h), 1 + RELOADS);
	CU_ASSERT_EQUAL(metric(h, "provauthd_reloads_total{result=\"ok\"}"), RELOADS);
	CU_ASSERT_EQUAL(metric(h, "provauthd_reloads_total{result=\"failed\"}"), 0);
	CU_ASSERT_EQUAL(metric(h, "provauthd_world_generation"), 1 + RELOADS);
	CU_ASSERT_EQUAL(log_count(h, "\"event\":\"reload_failed\""), 0);
	pthread_mutex_destroy(&l.lock);
	free(id);
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
}

/* ---- 2. plugin hot reload ---- */

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in, out, rc = 0;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (n < 0 || fchmod(out, mode) < 0)
		rc = -1;
	close(in);
	if (close(out) < 0)
		rc = -1;
	return rc;
}

struct slow_call {
	pa_daemon *h;
	char path[256];
	long status;
	char *reply;
};

static void *slow_call_run(void *arg)
{
	struct slow_call *c = arg;

	pa_daemon_request(c->h, "POST", c->path, TOK_OPERATE, "{}", &c->status, &c->reply, NULL);
	return NULL;
}

static void test_plugin_hot_reload(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	const char *fixtures = getenv("PA_FIXTURE_DIR");
	char tmpl[] = "/tmp/pa-reload-plugins-XXXXXX", from[1024], so[1024], yaml[4096], path[512], real[4096];
	struct slow_call slow;
	pthread_t t;
	json_object *r;
	pa_daemon *h;
	char *file, *pv_id, *fx_id = NULL;
	int i, gone;

	CU_ASSERT_PTR_NOT_NULL_FATAL(fixtures);
	/* 0700, the runner's: the loader trusts no directory others could write. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpl));
	CU_ASSERT_FATAL(realpath(tmpl, real) != NULL);
	snprintf(from, sizeof(from), "%s/good.so", fixtures);
	snprintf(so, sizeof(so), "%s/good.so", real);
	snprintf(yaml, sizeof(yaml), "%s  fixture:\n    greeting: hot-reloaded\n", pv_yaml);
	o.tokens = tokens;
	o.ntokens = PA_ARRAY_LEN(tokens);
	o.daemon_yaml = no_limits;
	o.yaml = yaml;
	o.plugin_dir = real;
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	CU_ASSERT_PTR_NULL(provider_file(h, "fixture"));
	CU_ASSERT(mapped_is(h, "good.so", 0));

	/* Dropped in: served after the reload, from that file. */
	CU_ASSERT_FATAL(copy_file(from, so, 0644) == 0);
	CU_ASSERT_EQUAL(pa_daemon_signal(h, SIGHUP), 0);
	CU_ASSERT(wait_events(h, "reloaded", 1));
	CU_ASSERT_EQUAL(generation(h), 2);
	file = provider_file(h, "fixture");
	CU_ASSERT_PTR_NOT_NULL(file);
	CU_ASSERT(file && strcmp(file, so) == 0);
	if (file && strcmp(file, so) != 0)
		fprintf(stderr, "\n  fixture from '%s', not '%s'\n", file, so);
	free(file);
	file = provider_file(h, "pixverse");
	CU_ASSERT_PTR_NOT_NULL(file); /* the build's plugins still load beside it */
	free(file);
	CU_ASSERT(mapped_is(h, "good.so", 1));
	/* good declares a "cookies" import kind: an account of it through the spec's import route. */
	CU_ASSERT_EQUAL(get(h, "POST", "/v1/accounts/import-cookies", TOK_ADMIN,
	                    "{\"provider_id\":\"fixture\",\"raw_data\":{\"cookies\":{\"k\":\"fixture-cookie-value\"}}}",
	                    &r), 200);
	if (jstr(r, "account_id"))
		fx_id = strdup(jstr(r, "account_id"));
	json_object_put(r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx_id);
	snprintf(path, sizeof(path), "/v1/accounts/%s/call/greet", fx_id);
	CU_ASSERT_EQUAL(get(h, "POST", path, TOK_OPERATE, "{}", &r), 200);
	CU_ASSERT(jstr(jget(r, "result"), "greeting") &&
	          strcmp(jstr(jget(r, "result"), "greeting"), "hot-reloaded") == 0);
	json_object_put(r);

	/*
	 * A slow call on the world that has good.so (the fake holds Pixverse's
	 * credits answer 5 s), the file removed and SIGHUP meanwhile.
	 */
	pv_id = import_pixverse(h, "bob@example.com");
	memset(&slow, 0, sizeof(slow));
	slow.h = h;
	snprintf(slow.path, sizeof(slow.path), "/v1/accounts/%s/call/credits", pv_id);
	CU_ASSERT_FATAL(fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, FAKE_FAULT_DELAY, 1, 5000) == 0);
	CU_ASSERT_FATAL(pthread_create(&t, NULL, slow_call_run, &slow) == 0);
	sleep_ms(1000);
	CU_ASSERT_EQUAL(unlink(so), 0);
	CU_ASSERT_EQUAL(pa_daemon_signal(h, SIGHUP), 0);
	CU_ASSERT(wait_events(h, "reloaded", 2));
	CU_ASSERT_EQUAL(generation(h), 3);
	CU_ASSERT_PTR_NULL(provider_file(h, "fixture"));
	/* The new world has no such operation; the old one, still busy, keeps its plugin mapped. */
	CU_ASSERT_EQUAL(get(h, "POST", path, TOK_OPERATE, "{}", NULL), 404);
	CU_ASSERT(mapped_is(h, "good.so", 1));
	CU_ASSERT_EQUAL(log_count(h, "\"event\":\"fixture_fini\""), 0);
	pthread_join(t, NULL);
	if (slow.status != 200)
		fprintf(stderr, "\n  the call in flight: %ld %.300s\n", slow.status, slow.reply ? slow.reply : "");
	CU_ASSERT_EQUAL(slow.status, 200);
	CU_ASSERT(slow.reply && strstr(slow.reply, "\"result\"") != NULL);
	free(slow.reply);
	/* Idle: the old world went with its last request, good.so with it. */
	for (i = 0, gone = 0; i < 200 && !gone; i++) {
		gone = mapped_is(h, "good.so", 0);
		if (!gone)
			sleep_ms(50);
	}
	CU_ASSERT(gone);
	/* Generation 2's instance of the plugin, finished once; generation 3 has none. */
	CU_ASSERT(wait_events(h, "fixture_fini", 1));
	CU_ASSERT_EQUAL(log_count(h, "\"event\":\"fixture_fini\""), 1);
	CU_ASSERT_EQUAL(log_count(h, "\"event\":\"reload_failed\""), 0);
	CU_ASSERT(!pa_daemon_log_contains(h, "fixture-cookie-value"));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
	free(pv_id);
	free(fx_id);
	CU_ASSERT_EQUAL(rmdir(tmpl), 0);
}

/* ---- 3. broken settings, daemon.listen changed ---- */

static void reload_expect_failed(pa_daemon *h, const pa_daemon_options *o, size_t nth, const char *const *says)
{
	char *text, *line, *end;

	CU_ASSERT_FATAL(pa_daemon_rewrite_settings(h, o) == 0);
	CU_ASSERT_EQUAL(pa_daemon_signal(h, SIGHUP), 0);
	CU_ASSERT_FATAL(wait_events(h, "reload_failed", nth));
	/* The nth reload_failed line names what is wrong. */
	text = pa_daemon_log_text(h);
	line = text;
	for (; line && nth; nth--)
		if ((line = strstr(line, "\"event\":\"reload_failed\"")) && nth > 1)
			line += 10;
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	while (line > text && line[-1] != '\n')
		line--;
	if ((end = strchr(line, '\n')))
		*end = '\0';
	for (; *says; says++) {
		const char *at = strstr(line, *says);
		size_t n = strlen(*says);

		if (!at)
			fprintf(stderr, "\n  '%s' not in: %s\n", *says, line);
		CU_ASSERT(at != NULL);
		/* "file:" is followed by the line number. */
		if (at && n && (*says)[n - 1] == ':')
			CU_ASSERT(isdigit((unsigned char)at[n]));
	}
	free(text);
	/* The old world goes on serving. */
	CU_ASSERT_EQUAL(get(h, "GET", "/v1/accounts", TOK_READ, NULL, NULL), 200);
	CU_ASSERT_EQUAL(generation(h), 1);
}

static void test_broken_reload(void)
{
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT, bad;
	char yaml[4096], where[600];
	const char *says[4];
	pa_daemon *h;

	o.tokens = tokens;
	o.ntokens = PA_ARRAY_LEN(tokens);
	o.yaml = pv_yaml;
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);

	/* A YAML error: the file and its line. */
	bad = o;
	snprintf(yaml, sizeof(yaml), "%sbroken: [unclosed\n", pv_yaml);
	bad.yaml = yaml;
	snprintf(where, sizeof(where), "%s:", pa_daemon_settings_path(h));
	says[0] = where;
	says[1] = NULL;
	reload_expect_failed(h, &bad, 1, says);

	/* A key the daemon: block does not know: named. */
	bad = o;
	bad.daemon_yaml = "  no_such_daemon_key: 1\n";
	says[0] = where;
	says[1] = "no_such_daemon_key";
	says[2] = NULL;
	reload_expect_failed(h, &bad, 2, says);

	/* A bad value of a known key: named. */
	bad = o;
	bad.daemon_yaml = "  max_body: lots\n";
	says[0] = "max_body";
	says[1] = NULL;
	reload_expect_failed(h, &bad, 3, says);

	/* daemon.listen changed: refused, to be applied by a restart. */
	bad = o;
	bad.listen = "127.0.0.1:1";
	says[0] = "daemon.listen";
	says[1] = "restart";
	says[2] = NULL;
	reload_expect_failed(h, &bad, 4, says);

	/* So is the connection limit MHD was started with: "reloaded" would be a lie. */
	bad = o;
	bad.daemon_yaml = "  max_connections: 77\n";
	says[0] = "daemon.max_connections";
	says[1] = "restart";
	says[2] = NULL;
	reload_expect_failed(h, &bad, 5, says);

	CU_ASSERT_EQUAL(metric(h, "provauthd_reloads_total{result=\"failed\"}"), 5);
	CU_ASSERT_EQUAL(metric(h, "provauthd_reloads_total{result=\"ok\"}"), 0);
	/* Mended: the next reload takes. */
	CU_ASSERT_FATAL(pa_daemon_rewrite_settings(h, &o) == 0);
	CU_ASSERT_EQUAL(pa_daemon_signal(h, SIGHUP), 0);
	CU_ASSERT(wait_events(h, "reloaded", 1));
	CU_ASSERT_EQUAL(generation(h), 2);
	CU_ASSERT_EQUAL(metric(h, "provauthd_reloads_total{result=\"ok\"}"), 1);
	CU_ASSERT(!pa_daemon_log_contains(h, TOK_READ));
	CU_ASSERT(!pa_daemon_log_contains(h, TOK_ADMIN));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
}

/* ---- 4. tokens ---- */

static void test_reload_tokens(void)
{
	static const pa_daemon_token with_new[] = {
		{ "reader", TOK_READ, "read" },
		{ "newcomer", TOK_NEW, "read" },
	};
	static const pa_daemon_token new_only[] = { { "newcomer", TOK_NEW, "read" } };
	pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
	pa_daemon *h;
	pid_t pid;

	o.tokens = tokens;
	o.ntokens = 1;
	CU_ASSERT_FATAL(pa_daemon_start(&h, &o) == 0);
	pid = pa_daemon_pid(h);
	CU_ASSERT_EQUAL(get(h, "GET", "/v1/accounts", TOK_NEW, NULL, NULL), 401);
	o.tokens = with_new;
	o.ntokens = 2;
	CU_ASSERT_FATAL(pa_daemon_rewrite_settings(h, &o) == 0);
	CU_ASSERT_EQUAL(pa_daemon_signal(h, SIGHUP), 0);
	CU_ASSERT(wait_events(h, "reloaded", 1));
	CU_ASSERT_EQUAL(get(h, "GET", "/v1/accounts", TOK_NEW, NULL, NULL), 200);
	CU_ASSERT_EQUAL(get(h, "GET", "/v1/accounts", TOK_READ, NULL, NULL), 200);
	o.tokens = new_only;
	o.ntokens = 1;
	CU_ASSERT_FATAL(pa_daemon_rewrite_settings(h, &o) == 0);
	CU_ASSERT_EQUAL(pa_daemon_signal(h, SIGHUP), 0);
	CU_ASSERT(wait_events(h, "reloaded", 2));
	CU_ASSERT_EQUAL(get(h, "GET", "/v1/accounts", TOK_READ, NULL, NULL), 401);
	CU_ASSERT_EQUAL(get(h, "GET", "/v1/accounts", TOK_NEW, NULL, NULL), 200);
	/* The same process all along. */
	CU_ASSERT_EQUAL(pa_daemon_pid(h), pid);
	CU_ASSERT(pa_daemon_alive(h));
	CU_ASSERT(!pa_daemon_log_contains(h, TOK_READ));
	CU_ASSERT(!pa_daemon_log_contains(h, TOK_NEW));
	CU_ASSERT_EQUAL(pa_daemon_stop(h, 30), 0);
}

static const pa_test tests[] = {
	{ "SIGHUP 24 times under 6 client threads: no request fails", test_reload_under_load },
	{ "a plugin dropped in is served; one removed is unloaded once idle", test_plugin_hot_reload },
	{ "broken settings, a changed listen or connection limit keep the old world", test_broken_reload },
	{ "a token added by a reload works, one removed gets 401", test_reload_tokens },
	PA_TEST_END,
};

static const pa_test_suite suites[] = {
	{ "daemon_reload", suite_init, suite_clean, tests },
	PA_TEST_SUITE_END,
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return pa_test_run(argc, argv, suites);
}
