/*
 * Pixverse generation end to end: the real plugin (.so) loaded by the real
 * manager (provauth_call), a sqlite store in a temporary directory, and the
 * fake Pixverse with its job lifecycle over loopback HTTP. Each generate
 * type, upload then image-to-video, a job followed through its states on
 * the fake's frozen job clock, jobs asked about in one list request per
 * kind however many, delete twice (the second is 500064: still deleted),
 * the plan, each error class as the service gives it, credits charged and
 * refunded as the contract's table says, the pool hooks through the real
 * pool (memory store), and no secret in any result, error message or log
 * line.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <provauth/pool.h>
#include "internal.h"
#include "fake_pixverse.h"
#include "../support/pa_test.h"

#define CREDIT_DAILY 50
#define CREDIT_MONTHLY 1000
#define CREDIT_PACKAGE 7
#define QUEUE_MS 1000
#define PROCESS_MS 3000
#define EARLY_CDN_MS 1000

static fake_pixverse *srv;
static char tmpdir[64] = "/tmp/provauth-pvgen-XXXXXX";
static int fixture_no;
static char store_dir[128];
static provauth_manager *mgr;
static char email[64], api_key[64];
static char *account_id;

/* ---- everything the library said, and every secret it was given ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char *said;
static size_t said_len;
static char **secrets;
static size_t nsecrets;

static void append(const char *s)
{
	size_t n = strlen(s);
	char *grown;

	pthread_mutex_lock(&log_mu);
	if (!(grown = realloc(said, said_len + n + 2)))
		abort();
	said = grown;
	memcpy(said + said_len, s, n);
	said_len += n;
	said[said_len++] = '\n';
	said[said_len] = '\0';
	pthread_mutex_unlock(&log_mu);
}

static void capture(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                    void *payload)
{
	char line[4096];
	size_t o, i;

	(void)level;
	(void)payload;
	o = (size_t)snprintf(line, sizeof(line), "%s", event);
	for (i = 0; i < n && o < sizeof(line); i++) {
		if (f[i].type == PROVAUTH_FIELD_INT || f[i].type == PROVAUTH_FIELD_BOOL)
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%lld", f[i].key, (long long)f[i].num);
		else
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%s", f[i].key, f[i].str ? f[i].str : "");
	}
	append(line);
}

static void secret(const char *s)
{
	if (!s || strlen(s) < 6)
		return;
	secrets = realloc(secrets, (nsecrets + 1) * sizeof(*secrets));
	secrets[nsecrets++] = strdup(s);
}

/* ---- fixture: a store, a manager, one fake account imported by its cookies ---- */

static const char *plugin_dir_line(char *buf, size_t size)
{
	const char *b = getenv("PA_BUILDDIR");

	if (getenv("PROVAUTH_PLUGIN_PATH") || !b)
		snprintf(buf, size, "plugin_dir: []\n");
	else
		snprintf(buf, size, "plugin_dir: %s/plugins/.libs\n", b);
	return buf;
}

/* The store backend of the next fixture: sqlite, or memory (whose pool the pool test uses). */
static const char *backend = "sqlite";

static provauth_manager *manager_open(void)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[2048], pd[512];

	snprintf(yaml, sizeof(yaml),
	         "%s"
	         "store:\n  backend: %s\n%s%s%s"
	         "log:\n  level: debug\n"
	         "http:\n  timeout_ms: 5000\n  connect_timeout_ms: 2000\n  max_reply_bytes: 1048576\n"
	         "providers:\n  pixverse:\n    base_url: %s\n    openapi_base_url: %s\n"
	         "    web_origin: https://app.pixverse.test\n",
	         plugin_dir_line(pd, sizeof(pd)), backend, strcmp(backend, "sqlite") == 0 ? "  path: " : "",
	         strcmp(backend, "sqlite") == 0 ? store_dir : "",
	         strcmp(backend, "sqlite") == 0 ? "/accounts.db\n  busy_timeout_ms: 10000\n" : "", fake_pixverse_url(srv),
	         fake_pixverse_url(srv));
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "test_pixverse_gen.yaml") != 0) {
		fprintf(stderr, "settings: %s\n", provauth_last_error());
		return NULL;
	}
	opts.log = capture;
	if (provauth_manager_new(&m, s, &opts) != 0)
		fprintf(stderr, "manager: %s\n", provauth_last_error());
	provauth_settings_free(s);
	return m;
}

/* A fresh fake account (gen<N>@example.com, with an OpenAPI key), imported into a fresh store. */
static void fixture(void)
{
	fake_pixverse_account a;
	provauth_account *acct = NULL;
	char input[4096], sid[64], *tok;

	fixture_no++;
	snprintf(store_dir, sizeof(store_dir), "%s/t%d", tmpdir, fixture_no);
	CU_ASSERT_FATAL(mkdir(store_dir, 0700) == 0);
	snprintf(email, sizeof(email), "gen%d@example.com", fixture_no);
	snprintf(api_key, sizeof(api_key), "pv-openapi-SECRET-%d-7f3e", fixture_no);
	memset(&a, 0, sizeof(a));
	a.email = email;
	a.password = "pw-SECRET-gen-0b1c";
	a.api_key = api_key;
	a.credit_daily = CREDIT_DAILY;
	a.credit_monthly = CREDIT_MONTHLY;
	a.credit_package = CREDIT_PACKAGE;
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &a) > 0);
	secret(a.password);
	secret(api_key);
	fake_pixverse_clear_faults(srv);
	fake_pixverse_reset_counters(srv);
	fake_pixverse_freeze_job_clock(srv, 1);
	fake_pixverse_set_job_durations(srv, QUEUE_MS, PROCESS_MS);
	fake_pixverse_set_early_cdn_ms(srv, EARLY_CDN_MS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mgr = manager_open());
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok = fake_pixverse_login_token(srv, email));
	secret(tok);
	snprintf(sid, sizeof(sid), "sid-SECRET-%d-9a8b", fixture_no);
	secret(sid);
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s; pv_sid=%s", tok, sid);
	free(tok);
	account_id = NULL;
	CU_ASSERT_EQUAL_FATAL(provauth_account_import(&account_id, mgr, "pixverse", "cookies", input), 0);
	CU_ASSERT_FATAL(provauth_account_get(&acct, mgr, account_id) == 0);
	CU_ASSERT_EQUAL(provauth_account_set_api_key(acct, "openapi", api_key), 0);
	CU_ASSERT_EQUAL(provauth_account_put(mgr, acct), 0);
	secret(PA_CRED(acct, JWT));
	provauth_account_free(acct);
	fake_pixverse_reset_counters(srv);
}

static void fixture_end(void)
{
	provauth_free(account_id);
	account_id = NULL;
	provauth_manager_free(mgr);
	mgr = NULL;
	fake_pixverse_clear_faults(srv);
	fake_pixverse_freeze_job_clock(srv, 0);
}

/* ---- calls ---- */

typedef struct args {
	provauth_arg a[24];
	char v[24][256];
	size_t n;
} args;

static void add(args *x, const char *key, const char *fmt, ...) PROVAUTH_PRINTF(3, 4);
static void add(args *x, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->v[x->n], sizeof(x->v[x->n]), fmt, ap);
	va_end(ap);
	x->a[x->n].key = key;
	x->a[x->n].value = x->v[x->n];
	x->n++;
}

/* provauth_call; the result parsed (NULL on failure, when *rc says why). */
static json_object *call(const char *op, const args *x, int *rc)
{
	char *out = NULL;
	json_object *j = NULL;

	*rc = provauth_call(&out, mgr, account_id, op, x ? x->a : NULL, x ? x->n : 0);
	if (*rc == 0) {
		append(out);
		CU_ASSERT_PTR_NOT_NULL(j = json_tokener_parse(out));
	} else {
		append(provauth_last_error());
		CU_ASSERT_PTR_NULL(out);
	}
	provauth_free(out);
	return j;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
	       ? json_object_get_string(v) : NULL;
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -999999;
}

static unsigned long count(fake_pv_endpoint ep)
{
	return fake_pixverse_counter(srv, ep);
}

/* Submits a job; returns its id (malloc'd) and checks the cost it reports. */
static char *generate(const args *x, int64_t want_cost)
{
	json_object *j;
	char *id = NULL;
	int rc;

	j = call("generate", x, &rc);
	if (rc != 0)
		fprintf(stderr, "\n  generate: %s\n", provauth_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(jint(j, "cost"), want_cost);
	CU_ASSERT_STRING_EQUAL(jstr(j, "credit_kind"), "web");
	CU_ASSERT_PTR_NOT_NULL_FATAL(jstr(j, "job_id"));
	id = strdup(jstr(j, "job_id"));
	json_object_put(j);
	return id;
}

/* The state (and url) of one job, through the jobs operation. */
static const char *job_state(const char *id, char *url, size_t url_size)
{
	static char state[32];
	json_object *j, *jobs, *e;
	args x = { 0 };
	int rc;

	add(&x, "id", "%s", id);
	j = call("jobs", &x, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_FATAL(json_object_object_get_ex(j, "jobs", &jobs) && json_object_array_length(jobs) == 1);
	e = json_object_array_get_idx(jobs, 0);
	CU_ASSERT_STRING_EQUAL(jstr(e, "id"), id);
	snprintf(state, sizeof(state), "%s", jstr(e, "state") ? jstr(e, "state") : "(none)");
	if (url)
		snprintf(url, url_size, "%s", jstr(e, "url") ? jstr(e, "url") : "");
	json_object_put(j);
	return state;
}

/* Moves the fake's job clock past every job's end. */
static void finish_jobs(void)
{
	fake_pixverse_advance_job_clock(srv, QUEUE_MS + PROCESS_MS + 10);
}

/* A small PNG (the fake checks the signature) in the temporary directory. */
static void write_png(const char *path, int valid)
{
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H',
	                                     'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4,
	                                     0x89 };
	FILE *fp = fopen(path, "wb");

	CU_ASSERT_FATAL(fp != NULL);
	if (valid)
		fwrite(png, 1, sizeof(png), fp);
	else
		fputs("this is not an image at all", fp);
	fclose(fp);
}

/* Uploads a PNG; *url and *path receive what generate takes. */
static void upload(char *url, size_t url_size, char *path, size_t path_size)
{
	char file[256];
	json_object *j;
	args x = { 0 };
	int rc;

	snprintf(file, sizeof(file), "%s/frame-%d.png", tmpdir, fixture_no);
	write_png(file, 1);
	add(&x, "file", "%s", file);
	j = call("upload", &x, &rc);
	if (rc != 0)
		fprintf(stderr, "\n  upload: %s\n", provauth_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(jint(j, "img_id") > 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(jstr(j, "url"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(jstr(j, "path"));
	CU_ASSERT(strncmp(jstr(j, "path"), "upload/", 7) == 0);
	CU_ASSERT(strstr(jstr(j, "url"), jstr(j, "path")) != NULL);
	snprintf(url, url_size, "%s", jstr(j, "url"));
	snprintf(path, path_size, "%s", jstr(j, "path"));
	json_object_put(j);
}

/* ------------------------------------------------------------------------ */

static void test_t2v_lifecycle(void)
{
	long before;
	char *id, url[512];
	args x = { 0 };

	fixture();
	before = fake_pixverse_web_credits(srv, email);
	add(&x, "prompt", "a lighthouse at dusk");
	add(&x, "quality", "540p");
	add(&x, "duration", "4");
	id = generate(&x, 6 * 4);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_T2V), 1);
	CU_ASSERT_EQUAL(fake_pixverse_web_credits(srv, email), before - 6 * 4);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_REFRESH_CREDIT), 0);
	/* Queued, then the early CDN entry (10, no size): still processing, no URL. */
	CU_ASSERT_STRING_EQUAL(job_state(id, url, sizeof(url)), "processing");
	CU_ASSERT_STRING_EQUAL(url, "");
	fake_pixverse_advance_job_clock(srv, QUEUE_MS + 10);
	CU_ASSERT_STRING_EQUAL(job_state(id, url, sizeof(url)), "processing");
	CU_ASSERT_STRING_EQUAL(url, "");
	fake_pixverse_advance_job_clock(srv, EARLY_CDN_MS);
	CU_ASSERT_STRING_EQUAL(job_state(id, url, sizeof(url)), "processing");
	finish_jobs();
	CU_ASSERT_STRING_EQUAL(job_state(id, url, sizeof(url)), "done");
	CU_ASSERT(strstr(url, "/web/ori/") != NULL);
	CU_ASSERT(strncmp(url, fake_pixverse_url(srv), strlen(fake_pixverse_url(srv))) == 0);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_STRAY_REFRESH_CREDIT), 0);
	/* Done jobs keep their charge. */
	CU_ASSERT_EQUAL(fake_pixverse_web_credits(srv, email), before - 6 * 4);
	free(id);
	fixture_end();
}

static void test_every_type(void)
{
	char url[3][512], path[3][256], *ids[6], *video;
	long before;
	args x;
	int i;

	fixture();
	/* Enough slots for every job at once. */
	CU_ASSERT_EQUAL(fake_pixverse_set_plan(srv, email, 1, 10), 0);
	for (i = 0; i < 3; i++)
		upload(url[i], sizeof(url[i]), path[i], sizeof(path[i]));
	CU_ASSERT_EQUAL(fake_pixverse_uploads(srv), 3);
	before = fake_pixverse_web_credits(srv, email);

	memset(&x, 0, sizeof(x));
	add(&x, "type", "t2v");
	add(&x, "prompt", "a cat");
	video = generate(&x, 4 * 5);
	finish_jobs();
	CU_ASSERT_STRING_EQUAL(job_state(video, NULL, 0), "done");

	memset(&x, 0, sizeof(x));
	add(&x, "type", "i2v");
	add(&x, "prompt", "the cat walks");
	add(&x, "model", "v6");
	add(&x, "quality", "720p");
	add(&x, "duration", "12");
	add(&x, "image_url", "%s", url[0]);
	add(&x, "image_path", "%s", path[0]);
	ids[0] = generate(&x, 8 * 12);

	memset(&x, 0, sizeof(x));
	add(&x, "type", "extend");
	add(&x, "prompt", "and then");
	add(&x, "video_id", "%s", video);
	add(&x, "duration", "3");
	ids[1] = generate(&x, 4 * 3);

	memset(&x, 0, sizeof(x));
	add(&x, "type", "transition");
	for (i = 0; i < 3; i++) {
		add(&x, "image_url", "%s", url[i]);
		add(&x, "image_path", "%s", path[i]);
	}
	add(&x, "prompts", "first");
	add(&x, "prompts", "second");
	add(&x, "durations", "2,7");
	ids[2] = generate(&x, 4 * (2 + 7));

	memset(&x, 0, sizeof(x));
	add(&x, "type", "t2i");
	add(&x, "prompt", "a cat, drawn");
	add(&x, "model", "seedream-4.0");
	add(&x, "quality", "4k");
	ids[3] = generate(&x, 40);
	CU_ASSERT(strncmp(ids[3], "image:", 6) == 0);

	memset(&x, 0, sizeof(x));
	add(&x, "type", "i2i");
	add(&x, "prompt", "the cat, in oil");
	add(&x, "model", "gemini-3.0");
	add(&x, "quality", "2k");
	for (i = 0; i < 2; i++) {
		add(&x, "image_url", "%s", url[i]);
		add(&x, "image_path", "%s", path[i]);
	}
	ids[4] = generate(&x, 50);
	CU_ASSERT(strncmp(ids[4], "image:", 6) == 0);

	CU_ASSERT_EQUAL(count(FAKE_PV_EP_T2V), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_I2V), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_EXTEND), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_FRAMES), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_I2I), 2);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_REFRESH_CREDIT), 0);
	/* The fake charged exactly what the plugin said each job costs. */
	CU_ASSERT_EQUAL(fake_pixverse_web_credits(srv, email), before - (20 + 96 + 12 + 36 + 40 + 50));
	finish_jobs();
	for (i = 0; i < 5; i++) {
		char u[512];

		CU_ASSERT_STRING_EQUAL(job_state(ids[i], u, sizeof(u)), "done");
		CU_ASSERT(strstr(u, "/web/ori/") != NULL);
		free(ids[i]);
	}
	free(video);
	fixture_end();
}

static void test_jobs_batched(void)
{
	char *ids[8], joined[512];
	json_object *j, *jobs;
	size_t o = 0;
	args x;
	int i, rc;

	fixture();
	CU_ASSERT_EQUAL(fake_pixverse_set_plan(srv, email, 1, 10), 0);
	for (i = 0; i < 8; i++) {
		memset(&x, 0, sizeof(x));
		add(&x, "type", i < 5 ? "t2v" : "t2i");
		add(&x, "prompt", "%s %d", i == 2 ? "moderate-me" : i == 6 ? "fail-me" : "job", i);
		ids[i] = generate(&x, i < 5 ? 20 : 5);
		o += (size_t)snprintf(joined + o, sizeof(joined) - o, "%s%s", i ? "," : "", ids[i]);
	}
	finish_jobs();
	fake_pixverse_reset_counters(srv);
	memset(&x, 0, sizeof(x));
	add(&x, "ids", "%s,999999", joined);
	j = call("jobs", &x, &rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	/* Nine ids, one request of each kind. */
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_VIDEO_LIST), 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_IMAGE_LIST), 1);
	CU_ASSERT_FATAL(json_object_object_get_ex(j, "jobs", &jobs) && json_object_array_length(jobs) == 9);
	for (i = 0; i < 9; i++) {
		json_object *e = json_object_array_get_idx(jobs, (size_t)i);
		const char *want = i == 8 ? "unknown" : i == 2 ? "moderated" : i == 6 ? "failed" : "done";

		CU_ASSERT_STRING_EQUAL(jstr(e, "state"), want);
		if (strcmp(want, "done") == 0) {
			CU_ASSERT_PTR_NOT_NULL(jstr(e, "url"));
		} else {
			CU_ASSERT_PTR_NULL(jstr(e, "url"));
		}
	}
	json_object_put(j);
	/* Again: one more of each, however many jobs. */
	j = call("jobs", &x, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_VIDEO_LIST), 2);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_IMAGE_LIST), 2);
	/* Videos only: no image list. */
	memset(&x, 0, sizeof(x));
	add(&x, "id", "%s", ids[0]);
	add(&x, "id", "%s", ids[1]);
	j = call("jobs", &x, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	json_object_put(j);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_VIDEO_LIST), 3);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_IMAGE_LIST), 2);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_STRAY_REFRESH_CREDIT), 0);
	for (i = 0; i < 8; i++)
		free(ids[i]);
	fixture_end();
}

static void test_refunds(void)
{
	char *ok, *moderated, *failed;
	long before;
	args x;

	fixture();
	CU_ASSERT_EQUAL(fake_pixverse_set_plan(srv, email, 1, 10), 0);
	before = fake_pixverse_web_credits(srv, email);
	memset(&x, 0, sizeof(x));
	add(&x, "prompt", "fine");
	ok = generate(&x, 20);
	memset(&x, 0, sizeof(x));
	add(&x, "prompt", "please moderate-me");
	moderated = generate(&x, 20);
	memset(&x, 0, sizeof(x));
	add(&x, "prompt", "please fail-me");
	failed = generate(&x, 20);
	CU_ASSERT_EQUAL(fake_pixverse_web_credits(srv, email), before - 60);
	finish_jobs();
	CU_ASSERT_STRING_EQUAL(job_state(ok, NULL, 0), "done");
	CU_ASSERT_STRING_EQUAL(job_state(moderated, NULL, 0), "moderated");
	CU_ASSERT_STRING_EQUAL(job_state(failed, NULL, 0), "failed");
	/* Moderated and failed jobs are refunded: only the done one is paid for. */
	CU_ASSERT_EQUAL(fake_pixverse_web_credits(srv, email), before - 20);
	free(ok);
	free(moderated);
	free(failed);
	fixture_end();
}

static void test_delete_twice(void)
{
	json_object *j, *d;
	char *video, *image;
	args x = { 0 };
	int rc, round;

	fixture();
	add(&x, "prompt", "to delete");
	video = generate(&x, 20);
	memset(&x, 0, sizeof(x));
	add(&x, "type", "t2i");
	add(&x, "prompt", "to delete");
	image = generate(&x, 5);
	finish_jobs();
	for (round = 0; round < 2; round++) {
		memset(&x, 0, sizeof(x));
		add(&x, "ids", "%s,%s", video, image);
		j = call("delete", &x, &rc);
		if (rc != 0)
			fprintf(stderr, "\n  delete round %d: %s\n", round, provauth_last_error());
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		CU_ASSERT_FATAL(json_object_object_get_ex(j, "deleted", &d) && json_object_array_length(d) == 2);
		CU_ASSERT_STRING_EQUAL(json_object_get_string(json_object_array_get_idx(d, 0)), video);
		CU_ASSERT_STRING_EQUAL(json_object_get_string(json_object_array_get_idx(d, 1)), image);
		json_object_put(j);
	}
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_VIDEO_DELETE), 2);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_IMAGE_DELETE), 2);
	/* Gone from the lists. */
	CU_ASSERT_STRING_EQUAL(job_state(video, NULL, 0), "unknown");
	CU_ASSERT_STRING_EQUAL(job_state(image, NULL, 0), "unknown");
	free(video);
	free(image);
	fixture_end();
}

static void test_plan(void)
{
	static const struct {
		int plan_type, gen;
		int64_t want;
	} rows[] = { { 0, 3, 3 }, { 0, 0, 2 }, { 2, 0, 5 }, { 1, 7, 7 } };
	json_object *j;
	size_t i;
	int rc;

	fixture();
	for (i = 0; i < PA_ARRAY_LEN(rows); i++) {
		CU_ASSERT_EQUAL(fake_pixverse_set_plan(srv, email, rows[i].plan_type, rows[i].gen), 0);
		j = call("plan", NULL, &rc);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		CU_ASSERT_EQUAL(jint(j, "plan_type"), rows[i].plan_type);
		CU_ASSERT_EQUAL(jint(j, "max_concurrent"), rows[i].want);
		CU_ASSERT_EQUAL(jint(j, "gen_simultaneously"), rows[i].gen);
		CU_ASSERT_PTR_NOT_NULL(jstr(j, "plan_name"));
		json_object_put(j);
	}
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_STRAY_REFRESH_CREDIT), 0);
	fixture_end();
}

/* A generate that must fail with `want` and a message naming `reason`; the fake charged nothing. */
static void refused(const char *prompt, int want, const char *reason)
{
	long before = fake_pixverse_web_credits(srv, email);
	json_object *j;
	args x = { 0 };
	int rc;

	add(&x, "prompt", "%s", prompt);
	j = call("generate", &x, &rc);
	CU_ASSERT_PTR_NULL(j);
	if (rc != want)
		fprintf(stderr, "\n  '%s': rc %d, want %d (%s)\n", prompt, rc, want, provauth_last_error());
	CU_ASSERT_EQUAL(rc, want);
	CU_ASSERT(strstr(provauth_last_error(), reason) != NULL);
	CU_ASSERT_EQUAL(fake_pixverse_web_credits(srv, email), before);
	json_object_put(j);
}

static void test_error_classes(void)
{
	char *first;
	args x = { 0 };

	fixture();
	/* Concurrency: a free plan's one slot taken. */
	CU_ASSERT_EQUAL(fake_pixverse_set_plan(srv, email, 0, 1), 0);
	add(&x, "prompt", "slot holder");
	first = generate(&x, 20);
	refused("one too many", PROVAUTH_ECONCURRENCY, "concurrency_limit");
	finish_jobs();
	CU_ASSERT_STRING_EQUAL(job_state(first, NULL, 0), "done");
	free(first);
	/* The service's other refusals, each its own class, none a session error (no login, no refresh). */
	refused("this is forbidden", PROVAUTH_EREJECTED, "content_prompt_rejected");
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_T2V, 500054, 1), 0);
	refused("output moderated", PROVAUTH_EMODERATED, "content_output_rejected");
	fake_pixverse_set_high_load(srv, 1);
	refused("busy", PROVAUTH_EOVERLOAD, "high_load");
	CU_ASSERT_EQUAL(fake_pixverse_force_errcode(srv, FAKE_PV_EP_T2V, 400017, 1), 0);
	refused("a bad parameter", PROVAUTH_EINVAL, "bad_parameter");
	CU_ASSERT_EQUAL(fake_pixverse_set_credits(srv, email, 0, 0, 10), 0);
	refused("costs 20", PROVAUTH_ECREDITS, "insufficient_balance");
	CU_ASSERT_EQUAL(fake_pixverse_set_credits(srv, email, 0, 0, 0), 0);
	refused("costs 20", PROVAUTH_ECREDITS, "credits_exhausted");
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_REFRESH), 0);
	/* Refused by the plugin before any request. */
	{
		unsigned long t2v = count(FAKE_PV_EP_T2V);
		json_object *j;
		int rc;

		memset(&x, 0, sizeof(x));
		add(&x, "prompt", "too long");
		add(&x, "duration", "11");
		j = call("generate", &x, &rc);
		CU_ASSERT_PTR_NULL(j);
		CU_ASSERT_EQUAL(rc, PROVAUTH_EINVAL);
		CU_ASSERT(strstr(provauth_last_error(), "duration '11': model v5 allows 1 to 10 s") != NULL);
		CU_ASSERT_EQUAL(count(FAKE_PV_EP_T2V), t2v);
	}
	fixture_end();
}

static void test_upload_errors(void)
{
	char file[256];
	provauth_account *acct = NULL;
	json_object *j;
	args x = { 0 };
	int rc;

	fixture();
	/* Bytes that are no image, named .png: the service's 500031, a bad image. */
	snprintf(file, sizeof(file), "%s/fake-%d.png", tmpdir, fixture_no);
	write_png(file, 0);
	add(&x, "file", "%s", file);
	j = call("upload", &x, &rc);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(rc, PROVAUTH_EINVAL);
	CU_ASSERT(strstr(provauth_last_error(), "bad_image") != NULL);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_UPLOAD), 1);
	/* Without the key: refused before any request. */
	CU_ASSERT_FATAL(provauth_account_get(&acct, mgr, account_id) == 0);
	CU_ASSERT_EQUAL(provauth_account_set_api_key(acct, "openapi", NULL), 0);
	CU_ASSERT_EQUAL(provauth_account_put(mgr, acct), 0);
	provauth_account_free(acct);
	write_png(file, 1);
	j = call("upload", &x, &rc);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(rc, PROVAUTH_EINVAL);
	CU_ASSERT(strstr(provauth_last_error(), "pixverse: upload needs an openapi API key on the account") != NULL);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_UPLOAD), 1);
	fixture_end();
}

/* The pool hooks through the real pool: sync (status), acquire (estimate_cost), reconcile (job_status). */
static void test_pool_hooks(void)
{
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	provauth_pool_reconcile_report report;
	provauth_pool_reservation *r = NULL;
	provauth_pool_account **list = NULL;
	provauth_arg bad[2] = { { "prompt", "x" }, { "duration", "11" } };
	size_t n = 0, i;
	char *job;
	args x = { 0 };

	backend = "memory";
	fixture();
	backend = "sqlite";
	CU_ASSERT_EQUAL(fake_pixverse_set_plan(srv, email, 1, 3), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_pool_sync(mgr, account_id), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_pool_list(&list, &n, NULL, NULL, mgr, "pixverse"), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(list[0]->max_slots, 3);
	for (i = 0; i < list[0]->credit_count; i++)
		if (strcmp(list[0]->credits[i].kind, "web") == 0)
			CU_ASSERT_EQUAL(list[0]->credits[i].amount, CREDIT_DAILY + CREDIT_MONTHLY + CREDIT_PACKAGE);
	/* The account has an OpenAPI key: both kinds. */
	CU_ASSERT_EQUAL(list[0]->credit_count, 2);
	provauth_pool_account_list_free(list, n);

	/* The cost of a job as generate will be charged it; bad parameters named before any account is held. */
	add(&x, "prompt", "pooled");
	add(&x, "quality", "720p");
	add(&x, "duration", "5");
	req.provider = "pixverse";
	req.operation = "generate";
	req.args = bad;
	req.nargs = 2;
	CU_ASSERT_EQUAL(provauth_pool_acquire(&r, mgr, &req), PROVAUTH_EINVAL);
	CU_ASSERT(strstr(provauth_last_error(), "duration") != NULL);
	req.args = x.a;
	req.nargs = x.n;
	CU_ASSERT_EQUAL_FATAL(provauth_pool_acquire(&r, mgr, &req), 0);
	CU_ASSERT_STRING_EQUAL(r->account_id, account_id);
	CU_ASSERT_STRING_EQUAL(r->credit_kind, "web");
	CU_ASSERT_EQUAL(r->cost, 8 * 5);
	job = generate(&x, 8 * 5);
	CU_ASSERT_EQUAL(provauth_pool_attach_job(mgr, r->id, job), 0);

	/* Still running: reconcile releases nothing; ended: the slot comes back. */
	memset(&report, 0, sizeof(report));
	report.version = PROVAUTH_POOL_RECONCILE_REPORT_VERSION;
	CU_ASSERT_EQUAL(provauth_pool_reconcile(&report, mgr, "pixverse"), 0);
	CU_ASSERT_EQUAL(report.released_finished, 0);
	finish_jobs();
	fake_pixverse_reset_counters(srv);
	CU_ASSERT_EQUAL(provauth_pool_reconcile(&report, mgr, "pixverse"), 0);
	CU_ASSERT_EQUAL(report.released_finished, 1);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_VIDEO_LIST), 1);
	CU_ASSERT_EQUAL_FATAL(provauth_pool_list(&list, &n, NULL, NULL, mgr, "pixverse"), 0);
	CU_ASSERT_EQUAL(list[0]->in_use, 0);
	provauth_pool_account_list_free(list, n);
	provauth_pool_reservation_free(r);
	free(job);

	/* A blocked account is reported as such, and the pool bans it. */
	CU_ASSERT_EQUAL(fake_pixverse_set_blocked(srv, email, 1), 0);
	CU_ASSERT_EQUAL(provauth_pool_sync(mgr, account_id), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_pool_list(&list, &n, NULL, NULL, mgr, "pixverse"), 0);
	CU_ASSERT_STRING_EQUAL(list[0]->status, "banned");
	provauth_pool_account_list_free(list, n);
	CU_ASSERT_EQUAL(count(FAKE_PV_EP_LOGIN), 0);
	fixture_end();
}

static void test_no_secret_leaks(void)
{
	size_t i;

	/* Runs last: every result, error message and log line of the tests above. */
	CU_ASSERT(nsecrets >= 10);
	CU_ASSERT(said_len > 1000);
	for (i = 0; i < nsecrets; i++) {
		if (said && strstr(said, secrets[i]))
			fprintf(stderr, "\n  secret #%zu was said\n", i);
		CU_ASSERT_PTR_NULL(said ? strstr(said, secrets[i]) : NULL);
	}
}

/* ------------------------------------------------------------------------ */

static int suite_init(void)
{
	fake_pixverse_options o;
	char err[256];

	if (!mkdtemp(tmpdir))
		return -1;
	memset(&o, 0, sizeof(o));
	o.login_limit = FAKE_PV_UNLIMITED;
	o.login_limit_global = FAKE_PV_UNLIMITED;
	if (!(srv = fake_pixverse_start(&o, err, sizeof(err)))) {
		fprintf(stderr, "fake server: %s\n", err);
		return -1;
	}
	return 0;
}

static int suite_clean(void)
{
	size_t i;

	fake_pixverse_stop(srv);
	pa_test_rmtree(tmpdir);
	for (i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	free(said);
	return 0;
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "t2v: charged, queued, early CDN, done with a real URL", test_t2v_lifecycle },
		{ "every type: upload, i2v, extend, transition, t2i, i2i, costs as charged", test_every_type },
		{ "jobs: one list request per kind however many jobs", test_jobs_batched },
		{ "moderated and failed jobs are refunded", test_refunds },
		{ "delete twice: the second is 500064 and still deleted", test_delete_twice },
		{ "plan: max concurrent from gen_simultaneously, else by tier", test_plan },
		{ "error classes: concurrency, moderation, load, parameters, credits", test_error_classes },
		{ "upload: a bad image, no key", test_upload_errors },
		{ "pool hooks through the real pool: sync, acquire, reconcile, blocked", test_pool_hooks },
		{ "no secret in any result, message or log line", test_no_secret_leaks },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "pixverse generation against the fake", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
