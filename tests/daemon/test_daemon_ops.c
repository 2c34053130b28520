/*
 * ops/ on its own: its sources compiled into the test and its handlers
 * called with requests built here, against a real manager, the real
 * Pixverse plugin, a sqlite store in a temp dir and the fake Pixverse on
 * loopback. What http/ would add (routing, bearer auth) is stubbed below;
 * the HTTP-level checks belong to the harness tests once http/ serves.
 *
 * Checks: the /metrics text parses as Prometheus 0.0.4 (HELP then TYPE
 * before a family's samples, label syntax, histogram buckets monotonic and
 * +Inf equal to _count); counters move with a real recovery (a killed
 * session and one password login: logins_total +1); no account id, email
 * or secret in /metrics; labels outside their sets become "other" and
 * series stay bounded; the hot path counts exactly under threads;
 * /healthz and /readyz (503 while draining); the status page escapes an
 * email with <script>, says in words why a Google account needs a human,
 * and signs in with a cookie that is HttpOnly and SameSite=Strict.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "daemon.h"
#include "fake_pixverse.h"
#include "../support/pa_test.h"

/* ---- what http/, api/ and provauthd.c provide to ops/ in the daemon ---- */

static int h_noop(pad_request *req, pad_reply *rep)
{
	(void)req;
	(void)rep;
	return 0;
}

const pad_route pad_routes[] = {
	{ "GET", "/healthz", PAD_SCOPE_NONE, pad_handle_healthz, "healthz" },
	{ "GET", "/v1/accounts", PAD_SCOPE_READ, h_noop, "accounts_list" },
};
const size_t pad_route_count = PAD_ARRAY_LEN(pad_routes);

static const char *hdr_name[4], *hdr_value[4];
static size_t nhdr;

const char *pad_request_header(const pad_request *req, const char *name)
{
	size_t i;

	(void)req;
	for (i = 0; i < nhdr; i++)
		if (!strcasecmp(hdr_name[i], name))
			return hdr_value[i];
	return NULL;
}

/*
 * The wrong-token count lives with the listener (http/server.c), which this
 * test does not link: nothing is blocked here, and the handler's wrong
 * tokens are counted in `auth_failures`. The listener's own count is
 * tested over HTTP (test_daemon_http).
 */
static int auth_failures;

int pad_auth_blocked(const pad_request *req)
{
	(void)req;
	return 0;
}

void pad_auth_failed(const pad_request *req)
{
	(void)req;
	auth_failures++;
}

int64_t pad_now(void)
{
	return (int64_t)time(NULL);
}

int64_t pad_server_in_flight(const pad_server *s)
{
	(void)s;
	return 1;
}

/* ---- fixture ---- */

#define TOKEN_READ "tok-read-SECRET-5b1f0c"
#define TOKEN_OPERATE_ONLY_NAME "ops"
#define PASSWORD "pw-ops-SECRET-77aa"
#define EMAIL "ops-user@example.com"
#define GOOGLE_EMAIL "google-user@example.com"
#define XSS_EMAIL "<script>alert(1)</script>@example.com"

static fake_pixverse *srv;
static char tmpdir[64] = "/tmp/provauthd-ops-XXXXXX";
static pad_world world;
static pad_daemon daemon_state;
static char *account_id;
static char *session_token;

static void sha256_hex(char out[65], const char *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
	for (i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void on_event(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                     void *payload)
{
	pa_test_log_capture(level, event, f, n, payload);
	pad_metrics_from_event(event, f, n);
}

static int suite_init(void)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	fake_pixverse_account a;
	char err[256], yaml[4096], hash[65], pd[512];
	const char *b = getenv("PA_BUILDDIR");

	if (!mkdtemp(tmpdir))
		return -1;
	if (!(srv = fake_pixverse_start(NULL, err, sizeof(err)))) {
		fprintf(stderr, "fake: %s\n", err);
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.email = EMAIL;
	a.password = PASSWORD;
	a.credit_daily = 50;
	if (fake_pixverse_add_account(srv, &a) <= 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.email = GOOGLE_EMAIL;
	a.google_only = 1;
	if (fake_pixverse_add_account(srv, &a) <= 0)
		return -1;
	sha256_hex(hash, TOKEN_READ);
	if (getenv("PROVAUTH_PLUGIN_PATH") || !b)
		snprintf(pd, sizeof(pd), "plugin_dir: []\n");
	else
		snprintf(pd, sizeof(pd), "plugin_dir: %s/plugins/.libs\n", b);
	snprintf(yaml, sizeof(yaml),
	         "%sstore:\n  backend: sqlite\n  path: %s/accounts.db\n"
	         "providers:\n  pixverse:\n    auto_reauth_enabled: true\n    reauth_cooldown: 0\n"
	         "    base_url: %s\n    openapi_base_url: %s/\n    web_origin: https://app.pixverse.test\n"
	         "daemon:\n  tokens:\n    - name: reader\n      sha256: %s\n      scope: read\n",
	         pd, tmpdir, fake_pixverse_url(srv), fake_pixverse_url(srv), hash);
	if (provauth_settings_parse(&world.settings, yaml, strlen(yaml), "ops.yaml") < 0 ||
	    pad_config_load(&world.config, world.settings) < 0) {
		fprintf(stderr, "settings: %s\n", provauth_last_error());
		return -1;
	}
	opts.log = on_event;
	if (provauth_manager_new(&world.manager, world.settings, &opts) < 0) {
		fprintf(stderr, "manager: %s\n", provauth_last_error());
		return -1;
	}
	world.generation = 3;
	atomic_init(&world.refs, 1);
	daemon_state.world = &world;
	/* Only their addresses are used: the stubs above answer for them. */
	daemon_state.server = (struct pad_server *)&daemon_state;
	return 0;
}

static int suite_clean(void)
{
	provauth_manager_free(world.manager);
	pad_config_free(world.config);
	provauth_settings_free(world.settings);
	if (srv)
		fake_pixverse_stop(srv);
	pa_test_rmtree(tmpdir);
	free(account_id);
	free(session_token);
	return 0;
}

static void request(pad_request *req, const char *method, const char *path, const char *body)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->path = path;
	req->body = body ? body : "";
	req->body_len = strlen(req->body);
	req->world = &world;
	req->daemon = &daemon_state;
	nhdr = 0;
}

static const char *reply_header(const pad_reply *rep, const char *name)
{
	size_t i;

	for (i = 0; i < rep->nheaders; i++)
		if (!strcasecmp(rep->header_name[i], name))
			return rep->header_value[i];
	return NULL;
}

static void reply_free(pad_reply *rep)
{
	size_t i;

	free(rep->body);
	for (i = 0; i < rep->nheaders; i++) {
		free(rep->header_name[i]);
		free(rep->header_value[i]);
	}
	memset(rep, 0, sizeof(*rep));
}

static char *scrape(void)
{
	pad_request req;
	pad_reply rep = { 0 };
	char *text;

	request(&req, "GET", "/metrics", NULL);
	CU_ASSERT_EQUAL_FATAL(pad_handle_metrics(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 200);
	CU_ASSERT_STRING_EQUAL(rep.content_type, "text/plain; version=0.0.4; charset=utf-8");
	text = rep.body;
	rep.body = NULL;
	reply_free(&rep);
	return text;
}

/* The value of the sample line that starts with `series` followed by a space; -1 when absent. */
static long long sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* ---- the text format ---- */

/* Checks name{k="v",...} and returns a pointer past it (at the space), or NULL. */
static const char *parse_series(const char *p, char *name, size_t size, char *labels_no_le, size_t lsize, char *le)
{
	size_t n = 0, l = 0;

	le[0] = '\0';
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':'))
		return NULL;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
	       *p == ':')
		if (n + 1 < size)
			name[n++] = *p++;
		else
			return NULL;
	name[n] = '\0';
	labels_no_le[0] = '\0';
	if (*p != '{')
		return p;
	p++;
	while (*p != '}') {
		char key[64], val[160];
		size_t k = 0, v = 0;

		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return NULL;
		while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
			if (k + 1 < sizeof(key))
				key[k++] = *p++;
			else
				return NULL;
		key[k] = '\0';
		if (p[0] != '=' || p[1] != '"')
			return NULL;
		p += 2;
		while (*p && *p != '"') {
			if (*p == '\\') {
				if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
					return NULL;
				p++;
			}
			if (*p == '\n' || v + 1 >= sizeof(val))
				return NULL;
			val[v++] = *p++;
		}
		val[v] = '\0';
		if (*p != '"')
			return NULL;
		p++;
		if (!strcmp(key, "le"))
			snprintf(le, 16, "%.15s", val);
		else
			l += (size_t)snprintf(labels_no_le + l, lsize - l, "%s%s=%s", l ? "," : "", key, val);
		if (*p == ',')
			p++;
		else if (*p != '}')
			return NULL;
	}
	return p + 1;
}

static int ends(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/*
 * Parses the whole exposition; every rule broken is a failed assertion.
 * Returns the number of samples.
 */
static int check_exposition(const char *text)
{
	char *copy = strdup(text), *line, *save = NULL;
	char help_for[128] = "", type_for[128] = "", type[16] = "";
	char hist_series[256] = "", prev_le[16] = "";
	long long hist_prev = -1, hist_inf = -1;
	int samples = 0, bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	CU_ASSERT(text[strlen(text) - 1] == '\n');
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], labels[256], le[16], base[128], *end;
		const char *p;
		double v;

		if (!strncmp(line, "# HELP ", 7)) {
			CU_ASSERT(sscanf(line + 7, "%127s", help_for) == 1);
			CU_ASSERT(strlen(line) > 8 + strlen(help_for)); /* a help text follows */
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			CU_ASSERT(sscanf(line + 7, "%127s %15s", type_for, type) == 2);
			CU_ASSERT_STRING_EQUAL(type_for, help_for); /* HELP, then TYPE, of the same family */
			CU_ASSERT(!strcmp(type, "counter") || !strcmp(type, "gauge") || !strcmp(type, "histogram"));
			continue;
		}
		CU_ASSERT(line[0] != '#');
		p = parse_series(line, name, sizeof(name), labels, sizeof(labels), le);
		if (!p || *p != ' ') {
			fprintf(stderr, "\n  bad sample line: %s\n", line);
			bad++;
			continue;
		}
		v = strtod(p + 1, &end);
		CU_ASSERT(end != p + 1 && *end == '\0');
		samples++;
		snprintf(base, sizeof(base), "%s", name);
		if (!strcmp(type, "histogram")) {
			char key[400];

			if (ends(base, "_bucket"))
				base[strlen(base) - 7] = '\0';
			else if (ends(base, "_sum"))
				base[strlen(base) - 4] = '\0';
			else if (ends(base, "_count"))
				base[strlen(base) - 6] = '\0';
			snprintf(key, sizeof(key), "%s|%s", base, labels);
			if (ends(name, "_bucket")) {
				CU_ASSERT(le[0] != '\0');
				if (strcmp(key, hist_series)) {
					snprintf(hist_series, sizeof(hist_series), "%s", key);
					hist_prev = -1;
					prev_le[0] = '\0';
				}
				/* le ascending, counts cumulative (never going down) */
				if (prev_le[0] && strcmp(le, "+Inf"))
					CU_ASSERT(strtod(le, NULL) > strtod(prev_le, NULL));
				CU_ASSERT((long long)v >= hist_prev);
				hist_prev = (long long)v;
				snprintf(prev_le, sizeof(prev_le), "%s", le);
				if (!strcmp(le, "+Inf"))
					hist_inf = (long long)v;
			} else if (ends(name, "_count")) {
				CU_ASSERT_STRING_EQUAL(prev_le, "+Inf");
				CU_ASSERT_EQUAL((long long)v, hist_inf);
			}
		} else {
			CU_ASSERT(le[0] == '\0');
		}
		CU_ASSERT_STRING_EQUAL(base, type_for); /* a sample belongs to the family announced last */
	}
	CU_ASSERT_EQUAL(bad, 0);
	free(copy);
	return samples;
}

static void test_metrics_format(void)
{
	char *text;

	pad_metric_add("provauthd_http_requests_total", "route=accounts_list,code=200", 2);
	pad_metric_add("provauthd_http_requests_total", "code=404,route=healthz", 1);
	pad_metric_observe_ms("provauthd_http_request_duration_ms", "route=accounts_list", 0.4);
	pad_metric_observe_ms("provauthd_http_request_duration_ms", "route=accounts_list", 3);
	pad_metric_observe_ms("provauthd_http_request_duration_ms", "route=accounts_list", 70);
	pad_metric_observe_ms("provauthd_http_request_duration_ms", "route=accounts_list", 5000);
	pad_metric_observe_ms("provauthd_http_request_duration_ms", "route=healthz", 1);
	pad_metric_set("provauthd_world_generation", "", 3);
	pad_metric_add("provauthd_webhook_deliveries_total", "result=ok", 1);
	pad_metric_add("provauthd_no_such_family", "a=b", 1);
	pad_metric_set("provauthd_keeper_lag_seconds", "", 7); /* as the keeper's scan sets it */
	text = scrape();
	CU_ASSERT(check_exposition(text) > 20);
	CU_ASSERT(strstr(text, "# TYPE provauthd_http_request_duration_ms histogram\n") != NULL);
	CU_ASSERT_EQUAL(sample(text, "provauthd_http_requests_total{route=\"accounts_list\",code=\"200\"}"), 2);
	CU_ASSERT_EQUAL(sample(text, "provauthd_http_requests_total{route=\"healthz\",code=\"404\"}"), 1);
	CU_ASSERT_EQUAL(sample(text, "provauthd_http_request_duration_ms_bucket{route=\"accounts_list\",le=\"1\"}"), 1);
	CU_ASSERT_EQUAL(sample(text, "provauthd_http_request_duration_ms_bucket{route=\"accounts_list\",le=\"5\"}"), 2);
	CU_ASSERT_EQUAL(sample(text, "provauthd_http_request_duration_ms_bucket{route=\"accounts_list\",le=\"100\"}"),
	                3);
	CU_ASSERT_EQUAL(sample(text, "provauthd_http_request_duration_ms_bucket{route=\"accounts_list\",le=\"1000\"}"),
	                3);
	CU_ASSERT_EQUAL(sample(text, "provauthd_http_request_duration_ms_bucket{route=\"accounts_list\",le=\"+Inf\"}"),
	                4);
	CU_ASSERT_EQUAL(sample(text, "provauthd_http_request_duration_ms_count{route=\"accounts_list\"}"), 4);
	CU_ASSERT(strstr(text, "provauthd_http_request_duration_ms_sum{route=\"accounts_list\"} 5073.400\n") != NULL);
	CU_ASSERT_EQUAL(sample(text, "provauthd_world_generation"), 3);
	/* the keeper's gauge as set; in flight read at the scrape from the server (stub above: 1) */
	CU_ASSERT_EQUAL(sample(text, "provauthd_keeper_lag_seconds"), 7);
	CU_ASSERT_EQUAL(sample(text, "provauthd_in_flight"), 1);
	CU_ASSERT_EQUAL(sample(text, "provauthd_up"), 1);
	CU_ASSERT(strstr(text, "no_such_family") == NULL);
	free(text);
}

/* Values outside a label's set, account-id-like provider ids and quotes all end as "other". */
static void test_metrics_labels(void)
{
	char labels[128], *text;
	int i;

	pad_metric_add("provauthd_calls_total", "provider=pixverse,result=ok", 1);
	pad_metric_add("provauthd_calls_total", "provider=8c1f2a4e-1b7d-4c0e-9f3a-52d1c3b4a5e6,result=ok", 1);
	pad_metric_add("provauthd_calls_total", "provider=pix\"verse\n,result=ok", 1);
	pad_metric_add("provauthd_calls_total", "provider=pixverse,result=" TOKEN_READ, 1);
	pad_metric_add("provauthd_failures_total", "reason=user@example.com", 1);
	pad_metric_add("provauthd_http_requests_total", "route=/v1/accounts/acc-123,code=2000", 1);
	pad_metric_add("provauthd_recoveries_total", "result=ok", 1); /* step missing */
	for (i = 0; i < 200; i++) {
		snprintf(labels, sizeof(labels), "provider=prov%c%c,result=ok", 'a' + i / 26 % 26, 'a' + i % 26);
		pad_metric_add("provauthd_refreshes_total", labels, 1);
	}
	text = scrape();
	check_exposition(text);
	CU_ASSERT_EQUAL(sample(text, "provauthd_calls_total{provider=\"pixverse\",result=\"ok\"}"), 1);
	CU_ASSERT_EQUAL(sample(text, "provauthd_calls_total{provider=\"other\",result=\"ok\"}"), 2);
	CU_ASSERT_EQUAL(sample(text, "provauthd_calls_total{provider=\"pixverse\",result=\"other\"}"), 1);
	CU_ASSERT_EQUAL(sample(text, "provauthd_failures_total{reason=\"other\"}"), 1);
	CU_ASSERT_EQUAL(sample(text, "provauthd_http_requests_total{route=\"other\",code=\"other\"}"), 1);
	CU_ASSERT_EQUAL(sample(text, "provauthd_recoveries_total{step=\"other\",result=\"ok\"}"), 1);
	/* 32 provider ids per family at most; the rest are counted as "other" */
	CU_ASSERT_EQUAL(sample(text, "provauthd_refreshes_total{provider=\"other\",result=\"ok\"}"), 200 - 32);
	CU_ASSERT(strstr(text, "8c1f2a4e") == NULL);
	CU_ASSERT(strstr(text, TOKEN_READ) == NULL);
	CU_ASSERT(strstr(text, "example.com") == NULL);
	CU_ASSERT(strstr(text, "acc-123") == NULL);
	free(text);
}

#define THREADS 4
#define ADDS 20000

static void *adder(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ADDS; i++) {
		pad_metric_add("provauthd_keeper_runs_total", i % 2 ? "kind=refresh,result=ok" : "kind=probe,result=ok",
		               1);
		pad_metric_observe_ms("provauthd_http_request_duration_ms", "route=healthz", (double)(i % 300));
	}
	return NULL;
}

/* The hot path without a lock loses no update. */
static void test_metrics_threads(void)
{
	pthread_t t[THREADS];
	char *text;
	long long before;
	int i;

	text = scrape();
	before = sample(text, "provauthd_http_request_duration_ms_count{route=\"healthz\"}");
	free(text);
	for (i = 0; i < THREADS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, adder, NULL), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	text = scrape();
	check_exposition(text);
	CU_ASSERT_EQUAL(sample(text, "provauthd_keeper_runs_total{kind=\"refresh\",result=\"ok\"}"), THREADS * ADDS / 2);
	CU_ASSERT_EQUAL(sample(text, "provauthd_keeper_runs_total{kind=\"probe\",result=\"ok\"}"), THREADS * ADDS / 2);
	CU_ASSERT_EQUAL(sample(text, "provauthd_http_request_duration_ms_count{route=\"healthz\"}"),
	                before + THREADS * ADDS);
	free(text);
}

/* ---- a real recovery moves the counters ---- */

static void test_recovery_counts(void)
{
	char input[4096], *out = NULL, *text;
	long long logins, recoveries;
	int rc;

	session_token = fake_pixverse_login_token(srv, EMAIL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(session_token);
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s", session_token);
	rc = provauth_account_import(&account_id, world.manager, "pixverse", "cookies", input);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL_FATAL(provauth_account_reauth(world.manager, account_id, PASSWORD), 0);
	text = scrape();
	logins = sample(text, "provauthd_logins_total{provider=\"pixverse\",result=\"ok\"}");
	recoveries = sample(text, "provauthd_recoveries_total{step=\"password_login\",result=\"ok\"}");
	free(text);
	if (logins < 0)
		logins = 0;
	if (recoveries < 0)
		recoveries = 0;

	fake_pixverse_kick(srv, EMAIL);
	rc = provauth_call(&out, world.manager, account_id, "credits", NULL, 0);
	CU_ASSERT_EQUAL(rc, 0);
	provauth_free(out);
	CU_ASSERT_EQUAL(fake_pixverse_logins_ok(srv), 2); /* the explicit one, then the recovery */

	text = scrape();
	check_exposition(text);
	CU_ASSERT_EQUAL(sample(text, "provauthd_logins_total{provider=\"pixverse\",result=\"ok\"}"), logins + 1);
	CU_ASSERT_EQUAL(sample(text, "provauthd_recoveries_total{step=\"password_login\",result=\"ok\"}"),
	                recoveries + 1);
	CU_ASSERT(sample(text, "provauthd_failures_total{reason=\"session_error\"}") >= 1);
	/* slots of the pool, read from the store at the scrape */
	CU_ASSERT_EQUAL(sample(text, "provauthd_pool_slots{provider=\"pixverse\",state=\"in_use\"}"), 0);
	CU_ASSERT(sample(text, "provauthd_pool_slots{provider=\"pixverse\",state=\"free\"}") >= 1);
	/* who the account is and what it signs in with never appear */
	CU_ASSERT(strstr(text, account_id) == NULL);
	CU_ASSERT(strstr(text, EMAIL) == NULL);
	CU_ASSERT(strstr(text, PASSWORD) == NULL);
	CU_ASSERT(strstr(text, session_token) == NULL);
	CU_ASSERT(strstr(text, TOKEN_READ) == NULL);
	free(text);
}

/* ---- health ---- */

static void test_health(void)
{
	pad_request req;
	pad_reply rep = { 0 };

	request(&req, "GET", "/healthz", NULL);
	CU_ASSERT_EQUAL(pad_handle_healthz(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 200);
	CU_ASSERT_STRING_EQUAL(rep.body, "{\"status\":\"ok\"}");
	reply_free(&rep);

	request(&req, "GET", "/readyz", NULL);
	CU_ASSERT_EQUAL(pad_handle_readyz(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 200);
	CU_ASSERT_STRING_EQUAL(rep.body, "{\"status\":\"ready\",\"generation\":3,\"store\":\"ok\"}");
	reply_free(&rep);

	atomic_store(&daemon_state.draining, 1);
	request(&req, "GET", "/readyz", NULL);
	CU_ASSERT_EQUAL(pad_handle_readyz(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 503);
	CU_ASSERT_STRING_EQUAL(rep.body, "{\"status\":\"not_ready\",\"reason\":\"draining\"}");
	reply_free(&rep);
	request(&req, "GET", "/healthz", NULL);
	CU_ASSERT_EQUAL(pad_handle_healthz(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 200); /* alive while draining */
	reply_free(&rep);
	atomic_store(&daemon_state.draining, 0);

	request(&req, "GET", "/readyz", NULL);
	req.world = NULL;
	CU_ASSERT_EQUAL(pad_handle_readyz(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 503);
	reply_free(&rep);
}

/* ---- the status page ---- */

static void put_account(const char *id, const char *email, provauth_auth_method method, const char *health)
{
	provauth_account *a = NULL;

	CU_ASSERT_EQUAL_FATAL(provauth_account_new(&a, id, "pixverse"), 0);
	CU_ASSERT_EQUAL(provauth_account_set(&a->email, email), 0);
	CU_ASSERT_EQUAL(provauth_account_set_cookie(a, "_ai_token", "cookie-SECRET-0d9e"), 0);
	a->state.auth_method = method;
	if (health) {
		provauth_account_set(&a->state.health.state, health);
		provauth_account_set(&a->state.health.reason, "reauth_failed");
		a->state.health.at = pad_now();
	}
	CU_ASSERT_EQUAL(provauth_account_put(world.manager, a), 0);
	provauth_account_free(a);
}

static void test_page_signed_out(void)
{
	pad_request req;
	pad_reply rep = { 0 };

	request(&req, "GET", "/", NULL);
	CU_ASSERT_EQUAL(pad_handle_status_page(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 200);
	CU_ASSERT(strstr(rep.body, "<form method=\"post\" action=\"/login\">") != NULL);
	CU_ASSERT(strstr(rep.body, "<table") == NULL);
	CU_ASSERT(strstr(rep.body, EMAIL) == NULL);
	reply_free(&rep);

	/* a wrong cookie is no better */
	request(&req, "GET", "/", NULL);
	hdr_name[0] = "Cookie";
	hdr_value[0] = "provauthd_token=not-a-token";
	nhdr = 1;
	CU_ASSERT_EQUAL(pad_handle_status_page(&req, &rep), 0);
	CU_ASSERT(strstr(rep.body, "<table") == NULL);
	reply_free(&rep);
}

static void test_page(void)
{
	pad_request req;
	pad_reply rep = { 0 };
	const char *csp;

	put_account("acc-xss", XSS_EMAIL, PROVAUTH_AUTH_PASSWORD, NULL);
	put_account("acc-google", GOOGLE_EMAIL, PROVAUTH_AUTH_GOOGLE, "invalid");
	request(&req, "GET", "/", NULL);
	hdr_name[0] = "Cookie";
	hdr_value[0] = "theme=dark; provauthd_token=" TOKEN_READ "; other=1";
	nhdr = 1;
	CU_ASSERT_EQUAL_FATAL(pad_handle_status_page(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 200);
	CU_ASSERT_STRING_EQUAL(rep.content_type, "text/html; charset=utf-8");
	CU_ASSERT(strstr(rep.body, "<table id=\"pad-table\">") != NULL);
	/* the email is text, not markup */
	CU_ASSERT(strstr(rep.body, "&lt;script&gt;alert(1)&lt;/script&gt;@example.com") != NULL);
	CU_ASSERT(strstr(rep.body, "<script>alert") == NULL);
	CU_ASSERT(strstr(rep.body, EMAIL) != NULL);
	/* the Google account that lost its session, in words */
	CU_ASSERT(strstr(rep.body, "The session was lost and this account signs in with Google: connect it with "
	                           "Google again or import its cookies again.") != NULL);
	CU_ASSERT(strstr(rep.body, "cookie-SECRET") == NULL);
	CU_ASSERT(strstr(rep.body, TOKEN_READ) == NULL);
	CU_ASSERT(strstr(rep.body, session_token ? session_token : "no-token") == NULL);
	csp = reply_header(&rep, "Content-Security-Policy");
	CU_ASSERT_PTR_NOT_NULL_FATAL(csp);
	CU_ASSERT(strstr(csp, "default-src 'none'") != NULL);
	CU_ASSERT(strstr(csp, "script-src 'sha256-") != NULL);
	CU_ASSERT(strstr(csp, "unsafe-inline") == NULL);
	CU_ASSERT(strstr(rep.body, "http://") == NULL && strstr(rep.body, "https://") == NULL); /* nothing external */
	CU_ASSERT_STRING_EQUAL(reply_header(&rep, "X-Content-Type-Options"), "nosniff");
	reply_free(&rep);
}

static void test_login(void)
{
	pad_request req;
	pad_reply rep = { 0 };
	const char *cookie;
	char back[256];
	int n;

	request(&req, "POST", "/login", "token=tok-read-SECRET-5b1f0c&x=1");
	CU_ASSERT_EQUAL_FATAL(pad_handle_login(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 303);
	CU_ASSERT_STRING_EQUAL(reply_header(&rep, "Location"), "/");
	cookie = reply_header(&rep, "Set-Cookie");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cookie);
	CU_ASSERT(strstr(cookie, "; HttpOnly") != NULL);
	CU_ASSERT(strstr(cookie, "; SameSite=Strict") != NULL);
	CU_ASSERT(strstr(cookie, "; Path=/") != NULL);
	CU_ASSERT(strstr(cookie, "; Secure") == NULL); /* no TLS in these settings */
	/* what http/ reads back is the token */
	n = pad_cookie_bearer(cookie, back, sizeof(back));
	CU_ASSERT_EQUAL(n, (int)strlen(TOKEN_READ));
	CU_ASSERT_STRING_EQUAL(back, TOKEN_READ);
	reply_free(&rep);

	/* percent-encoded in the form, as a browser sends it */
	request(&req, "POST", "/login", "token=tok%2Dread%2DSECRET%2D5b1f0c");
	CU_ASSERT_EQUAL(pad_handle_login(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 303);
	reply_free(&rep);

	auth_failures = 0;
	request(&req, "POST", "/login", "token=wrong-SECRET-guess");
	CU_ASSERT_EQUAL(pad_handle_login(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 401);
	CU_ASSERT_EQUAL(auth_failures, 1); /* a wrong token counts */
	CU_ASSERT(reply_header(&rep, "Set-Cookie") == NULL);
	CU_ASSERT(strstr(rep.body, "id=\"pad-error\"") != NULL);
	CU_ASSERT(strstr(rep.body, "<form") != NULL);
	CU_ASSERT(strstr(rep.body, "wrong-SECRET") == NULL);
	reply_free(&rep);

	request(&req, "POST", "/login", "");
	CU_ASSERT_EQUAL(pad_handle_login(&req, &rep), 0);
	CU_ASSERT_EQUAL(rep.status, 401);
	CU_ASSERT_EQUAL(auth_failures, 1); /* no token is no guess */
	reply_free(&rep);

	CU_ASSERT_EQUAL(pad_cookie_bearer("a=b; provauthd_token=", back, sizeof(back)), -1);
	CU_ASSERT_EQUAL(pad_cookie_bearer("a=b", back, sizeof(back)), -1);
	CU_ASSERT_EQUAL(pad_cookie_bearer("provauthd_token=%zz", back, sizeof(back)), -1);
	CU_ASSERT_EQUAL(pad_cookie_bearer("provauthd_token=a%00b", back, sizeof(back)), -1);
	CU_ASSERT_FALSE(pa_test_log_contains(TOKEN_READ));
}

static const pa_test metrics_tests[] = {
	{ "the text format", test_metrics_format },
	{ "labels outside their sets and bounded series", test_metrics_labels },
	{ "counts under threads", test_metrics_threads },
	{ "a recovery against the fake moves the counters", test_recovery_counts },
	PA_TEST_END
};

static const pa_test health_tests[] = {
	{ "healthz and readyz", test_health },
	PA_TEST_END
};

static const pa_test page_tests[] = {
	{ "signed out: the form", test_page_signed_out },
	{ "the table, escaped, with reasons in words", test_page },
	{ "signing in sets the cookie", test_login },
	PA_TEST_END
};

static const pa_test_suite suites[] = {
	{ "metrics", suite_init, NULL, metrics_tests },
	{ "health", NULL, NULL, health_tests },
	{ "page", NULL, suite_clean, page_tests },
	PA_TEST_SUITE_END
};

int main(int argc, char **argv)
{
	return pa_test_run(argc, argv, suites);
}
