/*
 * Tests of the fake Pixverse's generation side (jobs, credits, concurrency,
 * lists, delete, plan details, upload, media host), through a plain libcurl
 * client: the Pixverse plugin and the pool are tested against this fake, so
 * the fake must first be shown to follow the wire contract itself.
 */
#include "config.h"

#include <curl/curl.h>
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_pixverse.h"
#include "../support/pa_test.h"

#define TRACE "trace-0000-4000-8000-00000000jobs"
#define ANON "7f0c1d6e-0000-4000-8000-00000000jobs"
#define ALICE "alice@example.com"
#define BOB "bob@example.com"
/* Phases of the real-time lifecycle test: short, as tests of the pool use. */
#define PHASE_MS 20

typedef struct buf {
	char *data;
	size_t len;
	size_t cap;
} buf;

typedef struct request {
	const char *method;      /* NULL: POST */
	const char *path;        /* or url */
	const char *url;
	const char *body;
	size_t body_len;         /* 0: strlen(body) */
	const char *content_type;/* NULL: application/json when there is a body */
	const char *token;
	const char *api_key;
	int refresh_credit;
} request;

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	buf *b = ud;
	size_t need = b->len + size * n + 1;

	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *d;

		while (cap < need)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, size * n);
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

/* HTTP status (-1 on a transport error); the body in *out (caller frees data). */
static long http(fake_pixverse *srv, const request *rq, buf *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char line[4096], url[1024];
	long status = -1;

	memset(out, 0, sizeof(*out));
	if (rq->url)
		snprintf(url, sizeof(url), "%s", rq->url);
	else
		snprintf(url, sizeof(url), "%s%s", fake_pixverse_url(srv), rq->path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method ? rq->method : "POST");
	if (rq->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			(curl_off_t)(rq->body_len ? rq->body_len : strlen(rq->body)));
		snprintf(line, sizeof(line), "Content-Type: %s",
			rq->content_type ? rq->content_type : "application/json");
		h = curl_slist_append(h, line);
	} else if (!rq->method || !strcmp(rq->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	h = curl_slist_append(h, "x-platform: Web");
	h = curl_slist_append(h, "ai-trace-id: " TRACE);
	h = curl_slist_append(h, "ai-anonymous-id: " ANON);
	/* No "Expect: 100-continue" pause on big uploads. */
	h = curl_slist_append(h, "Expect:");
	if (rq->refresh_credit)
		h = curl_slist_append(h, "refresh: credit");
	if (rq->token) {
		snprintf(line, sizeof(line), "token: %s", rq->token);
		h = curl_slist_append(h, line);
	}
	if (rq->api_key) {
		snprintf(line, sizeof(line), "API-KEY: %s", rq->api_key);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

/* An envelope call: its ErrCode (-1 when not HTTP 200 with an envelope); *resp its Resp when wanted. */
static int call(fake_pixverse *srv, const request *rq, json_object **resp)
{
	buf b;
	long status = http(srv, rq, &b);
	json_object *env = status == 200 && b.data ? json_tokener_parse(b.data) : NULL, *v;
	int code = -1;

	if (env && json_object_object_get_ex(env, "ErrCode", &v) && json_object_is_type(v, json_type_int))
		code = json_object_get_int(v);
	if (resp) {
		*resp = NULL;
		if (env && json_object_object_get_ex(env, "Resp", &v))
			*resp = json_object_get(v);
	}
	json_object_put(env);
	free(b.data);
	return code;
}

static long long get_int(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -999;
	return (long long)json_object_get_int64(v);
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int gen(fake_pixverse *srv, const char *token, const char *endpoint, const char *body,
	long long *id)
{
	char path[128];
	request rq = { .path = path, .body = body, .token = token, .refresh_credit = 1 };
	json_object *resp;
	int code;

	snprintf(path, sizeof(path), "/creative_platform/%s", endpoint);
	code = call(srv, &rq, &resp);
	if (id) {
		json_object *ids;

		*id = -1;
		if (json_object_object_get_ex(resp, "video_ids", &ids))
			*id = (long long)json_object_get_int64(json_object_array_get_idx(ids, 0));
		else if (resp)
			*id = get_int(resp, "image_id");
	}
	json_object_put(resp);
	return code;
}

static int t2v(fake_pixverse *srv, const char *token, const char *prompt, const char *quality, int duration,
	long long *id)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"prompt\":\"%s\",\"model\":\"v5\",\"quality\":\"%s\",\"duration\":%d,"
		"\"aspect_ratio\":\"16:9\",\"create_count\":1,\"lip_sync_tts_speaker_id\":\"Auto\","
		"\"credit_change\":%d}", prompt, quality, duration, duration * 4);
	return gen(srv, token, "video/t2v", body, id);
}

/* The account's list from offset; NULL on an error. Caller puts. */
static json_object *list(fake_pixverse *srv, const char *token, int image, int offset, int limit)
{
	char body[256];
	request rq = { .path = image ? "/creative_platform/image/list/personal" :
			"/creative_platform/video/list/personal", .body = body, .token = token };
	json_object *resp;

	snprintf(body, sizeof(body), "{\"offset\":%d,\"limit\":%d,\"polling\":true,\"filter\":{},"
		"\"web_offset\":0,\"app_offset\":0}", offset, limit);
	if (call(srv, &rq, &resp) != 0) {
		json_object_put(resp);
		return NULL;
	}
	return resp;
}

/* The record of job id in the account's list (a new reference), or NULL. */
static json_object *record(fake_pixverse *srv, const char *token, int image, long long id)
{
	json_object *l = list(srv, token, image, 0, 200), *data, *found = NULL;
	size_t i;

	if (l && json_object_object_get_ex(l, "data", &data))
		for (i = 0; i < json_object_array_length(data) && !found; i++)
			if (get_int(json_object_array_get_idx(data, i), image ? "image_id" : "video_id") == id)
				found = json_object_get(json_object_array_get_idx(data, i));
	json_object_put(l);
	return found;
}

static long long credits_now(fake_pixverse *srv, const char *token, const char *which)
{
	request rq = { .method = "GET", .path = "/creative_platform/user/credits", .token = token };
	json_object *resp;
	long long n;

	call(srv, &rq, &resp);
	n = get_int(resp, which);
	json_object_put(resp);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

/* Waits (up to 20 s) until the job's status is s; its last status. */
static int wait_status(fake_pixverse *srv, const char *token, int image, long long id, int s)
{
	int status = -1, i;

	for (i = 0; i < 2000 && status != s; i++) {
		json_object *r = record(srv, token, image, id);

		status = (int)get_int(r, image ? "image_status" : "video_status");
		json_object_put(r);
		if (status != s)
			sleep_ms(10);
	}
	return status;
}

static const fake_pixverse_account alice = {
	.email = ALICE, .password = "alice-pw-123", .api_key = "key-alice-1",
	.credit_daily = 100, .credit_monthly = 1000, .credit_package = 10,
};
static const fake_pixverse_account bob = {
	.email = BOB, .password = "bob-pw-456", .credit_daily = 500,
	.plan_type = 1, .gen_simultaneously = 4,
};

static fake_pixverse *start(char **alice_token, char **bob_token)
{
	char err[256] = "";
	fake_pixverse *srv = fake_pixverse_start(NULL, err, sizeof(err));

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &alice) > 0);
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &bob) > 0);
	*alice_token = fake_pixverse_login_token_ids(srv, ALICE, TRACE, ANON);
	if (bob_token)
		*bob_token = fake_pixverse_login_token_ids(srv, BOB, TRACE, ANON);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*alice_token);
	return srv;
}

static void stop(fake_pixverse *srv, char *a, char *b)
{
	fake_pixverse_stop(srv);
	free(a);
	free(b);
}

/* ---- lifecycle ---- */

/* Index of s in the lifecycle order, or -1 when it does not belong there. */
static int order_of(const int *order, size_t n, int s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (order[i] == s)
			return (int)i;
	return -1;
}

/* In real time with short phases: whatever a slow client manages to see is
 * in order and fits the clock, and the job ends done when it should. */
static void test_video_lifecycle_timing(void)
{
	static const int order[] = { 5, 10, 1 };
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	int i, last = -1, status = -1;
	long long id, submitted, answered, before, after;
	json_object *r;

	fake_pixverse_set_job_durations(srv, PHASE_MS, PHASE_MS);
	fake_pixverse_set_early_cdn_ms(srv, PHASE_MS);
	/* The job's clock starts when the fake takes the request: between these two. */
	submitted = fake_pixverse_now_ms(srv);
	CU_ASSERT_EQUAL_FATAL(t2v(srv, tok, "a cat", "360p", 5, &id), 0);
	answered = fake_pixverse_now_ms(srv);
	CU_ASSERT(id > 0);
	for (i = 0; i < 3000 && status != 1; i++) {
		int at;

		before = fake_pixverse_now_ms(srv);
		r = record(srv, tok, 0, id);
		after = fake_pixverse_now_ms(srv);
		status = (int)get_int(r, "video_status");
		at = order_of(order, 3, status);
		CU_ASSERT(at >= last);
		last = at;
		if (status == 5)
			CU_ASSERT(before < answered + PHASE_MS);
		if (status == 10) {
			CU_ASSERT(after >= submitted + PHASE_MS);
			CU_ASSERT(before < answered + 2 * PHASE_MS);
			CU_ASSERT(get_int(r, "output_width") == 0 && get_int(r, "output_height") == 0);
		}
		if (status == 1)
			CU_ASSERT(after >= submitted + 2 * PHASE_MS);
		json_object_put(r);
		sleep_ms(2);
	}
	CU_ASSERT_EQUAL(status, 1);
	stop(srv, tok, NULL);
}

/* Each status of the job, one clock step at a time. */
static int status_at(fake_pixverse *srv, const char *tok, int image, long long id, json_object **rec)
{
	json_object *r = record(srv, tok, image, id);
	int status = (int)get_int(r, image ? "image_status" : "video_status");

	if (rec)
		*rec = r;
	else
		json_object_put(r);
	return status;
}

static void test_video_lifecycle(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	long long id;
	json_object *r;
	const char *url;
	fake_pv_job_stats s;

	fake_pixverse_set_job_durations(srv, 100, 200);
	fake_pixverse_set_early_cdn_ms(srv, 200);
	fake_pixverse_freeze_job_clock(srv, 1);
	CU_ASSERT_EQUAL_FATAL(t2v(srv, tok, "a cat", "360p", 5, &id), 0);
	CU_ASSERT_EQUAL(status_at(srv, tok, 0, id, &r), 5);
	CU_ASSERT(get_int(r, "output_width") == 0 && strlen(get_str(r, "url")) == 0);
	json_object_put(r);
	fake_pixverse_advance_job_clock(srv, 99);
	CU_ASSERT_EQUAL(status_at(srv, tok, 0, id, NULL), 5);
	fake_pixverse_advance_job_clock(srv, 1);
	/* The early CDN entry: a URL, no size, not a completion. */
	CU_ASSERT_EQUAL(status_at(srv, tok, 0, id, &r), 10);
	url = get_str(r, "url");
	CU_ASSERT(url && strstr(url, "/web/ori/"));
	CU_ASSERT(get_int(r, "output_width") == 0 && get_int(r, "output_height") == 0);
	json_object_put(r);
	fake_pixverse_advance_job_clock(srv, 199);
	CU_ASSERT_EQUAL(status_at(srv, tok, 0, id, NULL), 10);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	CU_ASSERT_EQUAL(s.in_flight, 1);
	fake_pixverse_advance_job_clock(srv, 1);
	CU_ASSERT_EQUAL(status_at(srv, tok, 0, id, &r), 1);
	CU_ASSERT(get_int(r, "output_width") == 640 && get_int(r, "output_height") == 360);
	url = get_str(r, "url");
	CU_ASSERT(url && strstr(url, "/media/web/ori/") && strstr(url, ".mp4"));
	CU_ASSERT(strlen(get_str(r, "customer_video_last_frame_url")) > 0);
	CU_ASSERT_EQUAL(get_int(r, "video_duration"), 5);
	CU_ASSERT_STRING_EQUAL(get_str(r, "prompt"), "a cat");
	json_object_put(r);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	CU_ASSERT_EQUAL(s.submitted, 1);
	CU_ASSERT_EQUAL(s.done, 1);
	CU_ASSERT_EQUAL(s.in_flight, 0);
	CU_ASSERT_EQUAL(s.max_in_flight, 1);
	CU_ASSERT_EQUAL(s.charged, 20);
	CU_ASSERT_EQUAL(s.refunded, 0);
	stop(srv, tok, NULL);
}

/* A processing phase longer than the early CDN window goes back to 5. */
static void test_early_cdn_window(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	long long id;

	fake_pixverse_set_job_durations(srv, 10, 100);
	fake_pixverse_set_early_cdn_ms(srv, 30);
	fake_pixverse_freeze_job_clock(srv, 1);
	CU_ASSERT_EQUAL_FATAL(t2v(srv, tok, "a dog", "360p", 5, &id), 0);
	CU_ASSERT_EQUAL(status_at(srv, tok, 0, id, NULL), 5);
	fake_pixverse_advance_job_clock(srv, 10);
	CU_ASSERT_EQUAL(status_at(srv, tok, 0, id, NULL), 10);
	fake_pixverse_advance_job_clock(srv, 30);
	CU_ASSERT_EQUAL(status_at(srv, tok, 0, id, NULL), 5);
	fake_pixverse_advance_job_clock(srv, 69);
	CU_ASSERT_EQUAL(status_at(srv, tok, 0, id, NULL), 5);
	/* Unfreezing never moves the clock back. */
	fake_pixverse_freeze_job_clock(srv, 0);
	fake_pixverse_advance_job_clock(srv, 1);
	CU_ASSERT_EQUAL(status_at(srv, tok, 0, id, NULL), 1);
	stop(srv, tok, NULL);
}

static void test_image_lifecycle(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	long long id;
	json_object *r;
	buf b;

	fake_pixverse_set_job_durations(srv, 20, 40);
	fake_pixverse_freeze_job_clock(srv, 1);
	CU_ASSERT_EQUAL_FATAL(gen(srv, tok, "image/i2i", "{\"prompt\":\"a fox\",\"model\":\"qwen-image\","
		"\"quality\":\"2k\",\"aspect_ratio\":\"1:1\",\"seed\":0,\"create_count\":1,"
		"\"customer_img_paths\":[],\"customer_img_urls\":[]}", &id), 0);
	CU_ASSERT(id > 0);
	/* Images: 10 is the early queue, 5 processing, 1 done. */
	CU_ASSERT_EQUAL(status_at(srv, tok, 1, id, NULL), 10);
	fake_pixverse_advance_job_clock(srv, 20);
	CU_ASSERT_EQUAL(status_at(srv, tok, 1, id, NULL), 5);
	fake_pixverse_advance_job_clock(srv, 40);
	CU_ASSERT_EQUAL(status_at(srv, tok, 1, id, NULL), 1);
	r = record(srv, tok, 1, id);
	CU_ASSERT(get_int(r, "width") == 1440 && get_int(r, "height") == 1440);
	CU_ASSERT_PTR_NOT_NULL_FATAL(get_str(r, "image_url"));
	CU_ASSERT_PTR_NOT_NULL(strstr(get_str(r, "image_url"), "/web/ori/"));
	{
		/* The result is served by the media host. */
		request rq = { .method = "GET", .url = get_str(r, "image_url") };

		CU_ASSERT_EQUAL(http(srv, &rq, &b), 200);
		CU_ASSERT(b.len > 0);
		free(b.data);
	}
	json_object_put(r);
	/* qwen-image 1440p ("2k") costs 10, taken from the package first. */
	CU_ASSERT_EQUAL(credits_now(srv, tok, "credit_package"), 0);
	CU_ASSERT_EQUAL(fake_pixverse_web_credits(srv, ALICE), 1110 - 10);
	stop(srv, tok, NULL);
}

static void test_moderated_and_failed_are_refunded(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	long long mod, fail, forced, img;
	json_object *r;
	fake_pv_job_stats s;
	const char *url;

	fake_pixverse_set_plan(srv, ALICE, 0, 10);
	fake_pixverse_set_job_durations(srv, 10, 10);
	CU_ASSERT_EQUAL_FATAL(t2v(srv, tok, "please moderate-me now", "540p", 5, &mod), 0);
	CU_ASSERT_EQUAL_FATAL(t2v(srv, tok, "FAIL-ME", "360p", 5, &fail), 0);
	fake_pixverse_force_next_outcome(srv, FAKE_PV_OUTCOME_MODERATED);
	CU_ASSERT_EQUAL_FATAL(t2v(srv, tok, "an innocent lake", "360p", 5, &forced), 0);
	fake_pixverse_force_next_outcome(srv, FAKE_PV_OUTCOME_FAILED);
	CU_ASSERT_EQUAL_FATAL(gen(srv, tok, "image/i2i", "{\"prompt\":\"a tree\"}", &img), 0);
	/* Charged at submission: 30 + 20 + 20 + 5. */
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	CU_ASSERT_EQUAL(s.charged, 75);

	CU_ASSERT_EQUAL(wait_status(srv, tok, 0, mod, 7), 7);
	r = record(srv, tok, 0, mod);
	url = get_str(r, "url");
	CU_ASSERT(url && strstr(url, "/pixverse/mp4/media/default.mp4") && !strstr(url, "/web/ori/"));
	json_object_put(r);
	CU_ASSERT_EQUAL(wait_status(srv, tok, 0, fail, 8), 8);
	CU_ASSERT_EQUAL(wait_status(srv, tok, 0, forced, 7), 7);
	CU_ASSERT_EQUAL(wait_status(srv, tok, 1, img, 8), 8);
	fake_pixverse_force_next_outcome(srv, FAKE_PV_OUTCOME_MODERATED);
	CU_ASSERT_EQUAL_FATAL(gen(srv, tok, "image/i2i", "{\"prompt\":\"a bush\"}", &img), 0);
	CU_ASSERT_EQUAL(wait_status(srv, tok, 1, img, 7), 7);
	r = record(srv, tok, 1, img);
	CU_ASSERT_PTR_NOT_NULL(strstr(get_str(r, "image_url"), "/pixverse/jpg/media/default.jpg"));
	json_object_put(r);

	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	CU_ASSERT_EQUAL(s.charged, 80);
	CU_ASSERT_EQUAL(s.refunded, 80);
	CU_ASSERT_EQUAL(s.moderated, 3);
	CU_ASSERT_EQUAL(s.failed, 2);
	CU_ASSERT_EQUAL(s.done, 0);
	/* Every credit came back to the pool it was taken from. */
	CU_ASSERT_EQUAL(credits_now(srv, tok, "credit_package"), 10);
	CU_ASSERT_EQUAL(credits_now(srv, tok, "credit_monthly"), 1000);
	CU_ASSERT_EQUAL(credits_now(srv, tok, "credit_daily"), 100);
	stop(srv, tok, NULL);
}

static void test_credits_arithmetic(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	fake_pv_job_stats s;
	long long id;

	fake_pixverse_set_plan(srv, ALICE, 0, 10);
	fake_pixverse_set_job_durations(srv, 5000, 5000);
	CU_ASSERT_EQUAL(fake_pixverse_set_credits(srv, ALICE, 10, 20, 30), 0);
	/* v5 360p 5 s = 20: all from the package (30 -> 10). */
	CU_ASSERT_EQUAL(t2v(srv, tok, "one", "360p", 5, &id), 0);
	CU_ASSERT_EQUAL(credits_now(srv, tok, "credit_package"), 10);
	/* 540p 3 s = 18: package 10, then monthly 8. */
	CU_ASSERT_EQUAL(t2v(srv, tok, "two", "540p", 3, &id), 0);
	CU_ASSERT_EQUAL(credits_now(srv, tok, "credit_package"), 0);
	CU_ASSERT_EQUAL(credits_now(srv, tok, "credit_monthly"), 12);
	CU_ASSERT_EQUAL(credits_now(srv, tok, "credit_daily"), 10);
	/* 22 left; 1080p 2 s = 32 > 22 > 0: 500090, nothing charged. */
	CU_ASSERT_EQUAL(t2v(srv, tok, "three", "1080p", 2, &id), 500090);
	CU_ASSERT_EQUAL(fake_pixverse_web_credits(srv, ALICE), 22);
	/* 720p 2 s = 16 fits; then 6 left; 360p 1 s = 4 fits; 2 left. */
	CU_ASSERT_EQUAL(t2v(srv, tok, "four", "720p", 2, &id), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "five", "360p", 1, &id), 0);
	CU_ASSERT_EQUAL(fake_pixverse_web_credits(srv, ALICE), 2);
	CU_ASSERT_EQUAL(t2v(srv, tok, "six", "360p", 1, &id), 500090);
	CU_ASSERT_EQUAL(fake_pixverse_set_credits(srv, ALICE, 0, 0, 0), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "seven", "360p", 1, &id), 500043);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	CU_ASSERT_EQUAL(s.submitted, 4);
	CU_ASSERT_EQUAL(s.charged, 20 + 18 + 16 + 4);
	CU_ASSERT_EQUAL(s.credits_refused, 3);
	CU_ASSERT_EQUAL(s.refunded, 0);
	stop(srv, tok, NULL);
}

static void test_concurrency_limit(void)
{
	char *tok, *btok;
	fake_pixverse *srv = start(&tok, &btok);
	fake_pv_job_stats s;
	long long id;
	request plan = { .path = "/creative_platform/toc/members/plan_details", .body = "{}", .token = tok };
	json_object *resp;
	int i;

	/* The default free plan: 2 at once. */
	CU_ASSERT_EQUAL(call(srv, &plan, &resp), 0);
	CU_ASSERT_EQUAL(get_int(resp, "gen_simultaneously"), 2);
	CU_ASSERT_EQUAL(get_int(resp, "current_plan_type"), 0);
	json_object_put(resp);
	fake_pixverse_set_job_durations(srv, 5000, 5000);
	CU_ASSERT_EQUAL(t2v(srv, tok, "a", "360p", 1, &id), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "b", "360p", 1, &id), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "c", "360p", 1, &id), 500044);
	/* Another account's slots are its own (bob: 4). */
	for (i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(t2v(srv, btok, "bob", "360p", 1, &id), 0);
	CU_ASSERT_EQUAL(t2v(srv, btok, "bob", "360p", 1, &id), 500044);
	/* A third slot for alice: exactly one more. */
	CU_ASSERT_EQUAL(fake_pixverse_set_plan(srv, ALICE, 0, 3), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "c", "360p", 1, &id), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "d", "360p", 1, &id), 500044);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	CU_ASSERT_EQUAL(s.submitted, 3);
	CU_ASSERT_EQUAL(s.in_flight, 3);
	CU_ASSERT_EQUAL(s.max_in_flight, 3);
	CU_ASSERT_EQUAL(s.concurrency_refused, 2);
	CU_ASSERT_EQUAL(s.charged, 12);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, NULL, &s), 0);
	CU_ASSERT_EQUAL(s.concurrency_refused, 3);
	CU_ASSERT_EQUAL(s.max_in_flight, 4);
	/* No number from plan_details: 5 for a paid plan, as the plugin falls back. */
	CU_ASSERT_EQUAL(fake_pixverse_set_plan(srv, ALICE, 1, 0), 0);
	CU_ASSERT_EQUAL(call(srv, &plan, &resp), 0);
	CU_ASSERT_EQUAL(get_int(resp, "gen_simultaneously"), 0);
	CU_ASSERT_EQUAL(get_int(resp, "current_plan_type"), 1);
	json_object_put(resp);
	CU_ASSERT_EQUAL(fake_pixverse_concurrency_limit(srv, ALICE), 5);
	CU_ASSERT_EQUAL(t2v(srv, tok, "e", "360p", 1, &id), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "f", "360p", 1, &id), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "g", "360p", 1, &id), 500044);
	/* Slots come back when jobs end. */
	fake_pixverse_set_plan(srv, BOB, 1, 1);
	fake_pixverse_set_job_durations(srv, 10, 10);
	stop(srv, tok, btok);

	srv = start(&tok, NULL);
	fake_pixverse_set_job_durations(srv, 10, 20);
	CU_ASSERT_EQUAL(t2v(srv, tok, "a", "360p", 1, &id), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "b", "360p", 1, &id), 0);
	CU_ASSERT_EQUAL(wait_status(srv, tok, 0, id, 1), 1);
	sleep_ms(40);
	CU_ASSERT_EQUAL(t2v(srv, tok, "c", "360p", 1, &id), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "d", "360p", 1, &id), 0);
	stop(srv, tok, NULL);
}

static void test_list_paging(void)
{
	char *tok, *btok;
	fake_pixverse *srv = start(&tok, &btok);
	long long ids[5], other;
	json_object *l, *data;
	int i;

	fake_pixverse_set_plan(srv, ALICE, 0, 10);
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(t2v(srv, tok, "p", "360p", 1, &ids[i]), 0);
	CU_ASSERT_EQUAL(t2v(srv, btok, "bob's", "360p", 1, &other), 0);
	fake_pixverse_reset_counters(srv);
	l = list(srv, tok, 0, 0, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(get_int(l, "total"), 5);
	CU_ASSERT_FATAL(json_object_object_get_ex(l, "data", &data));
	CU_ASSERT_EQUAL_FATAL(json_object_array_length(data), 2);
	CU_ASSERT_EQUAL(get_int(json_object_array_get_idx(data, 0), "video_id"), ids[4]);
	CU_ASSERT_EQUAL(get_int(json_object_array_get_idx(data, 1), "video_id"), ids[3]);
	json_object_put(l);
	l = list(srv, tok, 0, 2, 2);
	CU_ASSERT_FATAL(json_object_object_get_ex(l, "data", &data));
	CU_ASSERT_EQUAL_FATAL(json_object_array_length(data), 2);
	CU_ASSERT_EQUAL(get_int(json_object_array_get_idx(data, 0), "video_id"), ids[2]);
	CU_ASSERT_EQUAL(get_int(json_object_array_get_idx(data, 1), "video_id"), ids[1]);
	json_object_put(l);
	l = list(srv, tok, 0, 4, 2);
	CU_ASSERT_FATAL(json_object_object_get_ex(l, "data", &data));
	CU_ASSERT_EQUAL_FATAL(json_object_array_length(data), 1);
	CU_ASSERT_EQUAL(get_int(json_object_array_get_idx(data, 0), "video_id"), ids[0]);
	json_object_put(l);
	l = list(srv, tok, 0, 5, 200);
	CU_ASSERT_FATAL(json_object_object_get_ex(l, "data", &data));
	CU_ASSERT_EQUAL(json_object_array_length(data), 0);
	json_object_put(l);
	/* Bob's job is not in alice's list, nor an image list's. */
	l = record(srv, tok, 0, other);
	CU_ASSERT_PTR_NULL(l);
	l = list(srv, tok, 1, 0, 200);
	CU_ASSERT_EQUAL(get_int(l, "total"), 0);
	json_object_put(l);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_VIDEO_LIST), 5);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_IMAGE_LIST), 1);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_T2V), 0);
	/* Lists do not carry "refresh: credit"; generation calls do. */
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_STRAY_REFRESH_CREDIT), 0);
	CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_REFRESH_CREDIT), 0);
	{
		/* The other way round is counted (never refused). */
		request no_refresh = { .path = "/creative_platform/video/t2v", .body = "{\"prompt\":\"p\"}", .token = tok };
		request stray = { .path = "/creative_platform/video/list/personal", .body = "{}", .token = tok,
				  .refresh_credit = 1 };

		CU_ASSERT_EQUAL(call(srv, &no_refresh, NULL), 0);
		CU_ASSERT_EQUAL(call(srv, &stray, NULL), 0);
		CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_MISSING_REFRESH_CREDIT), 1);
		CU_ASSERT_EQUAL(fake_pixverse_header_counter(srv, FAKE_PV_STRAY_REFRESH_CREDIT), 1);
	}
	stop(srv, tok, btok);
}

static int del(fake_pixverse *srv, const char *token, int image, long long id)
{
	char body[128];
	request rq = { .path = image ? "/creative_platform/image/delete" : "/creative_platform/video/delete",
		       .body = body, .token = token };

	snprintf(body, sizeof(body), "{\"%s\":[%lld],\"platform\":\"web\"}", image ? "image_ids" : "video_ids", id);
	return call(srv, &rq, NULL);
}

static void test_delete(void)
{
	char *tok, *btok;
	fake_pixverse *srv = start(&tok, &btok);
	long long v, v2, img, bobs;
	json_object *r;

	fake_pixverse_set_plan(srv, ALICE, 0, 10);
	CU_ASSERT_EQUAL(t2v(srv, tok, "x", "360p", 1, &v), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "y", "360p", 1, &v2), 0);
	CU_ASSERT_EQUAL(t2v(srv, btok, "z", "360p", 1, &bobs), 0);
	CU_ASSERT_EQUAL(gen(srv, tok, "image/i2i", "{\"prompt\":\"i\"}", &img), 0);
	CU_ASSERT_EQUAL(del(srv, tok, 0, v), 0);
	CU_ASSERT_PTR_NULL(record(srv, tok, 0, v));
	r = record(srv, tok, 0, v2);
	CU_ASSERT_PTR_NOT_NULL(r);
	json_object_put(r);
	CU_ASSERT_EQUAL(del(srv, tok, 0, v), 500064);
	CU_ASSERT_EQUAL(del(srv, tok, 0, 12345), 500064);
	/* Another account's job is unknown to this one, and stays. */
	CU_ASSERT_EQUAL(del(srv, tok, 0, bobs), 500064);
	r = record(srv, btok, 0, bobs);
	CU_ASSERT_PTR_NOT_NULL(r);
	json_object_put(r);
	/* An image id is not a video id. */
	CU_ASSERT_EQUAL(del(srv, tok, 0, img), 500064);
	CU_ASSERT_EQUAL(del(srv, tok, 1, img), 0);
	CU_ASSERT_EQUAL(del(srv, tok, 1, img), 500064);
	CU_ASSERT_PTR_NULL(record(srv, tok, 1, img));
	stop(srv, tok, btok);
}

static void test_validation(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	char *longp = malloc(5100), body[6000], url[256];
	fake_pv_job_stats s;
	long long id;

	fake_pixverse_set_plan(srv, ALICE, 0, 50);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"model\":\"v5\"}", NULL), 400011);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"prompt\":\"\"}", NULL), 400011);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"prompt\":\"p\",\"model\":\"v4\"}", NULL), 400017);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"prompt\":\"p\",\"model\":\"grok-imagine\","
		"\"quality\":\"1080p\"}", NULL), 400017);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"prompt\":\"p\",\"model\":\"grok-imagine\","
		"\"quality\":\"480p\"}", NULL), 0);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"prompt\":\"p\",\"duration\":11}", NULL), 400017);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"prompt\":\"p\",\"duration\":0}", NULL), 400017);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"prompt\":\"p\",\"model\":\"v6\",\"duration\":15}", NULL), 0);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"prompt\":\"p\",\"model\":\"seedance-2.0-fast\","
		"\"quality\":\"480p\",\"duration\":3}", NULL), 400017);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"prompt\":\"p\",\"aspect_ratio\":\"2:1\"}", NULL), 400017);
	memset(longp, 'x', 5001);
	longp[5001] = '\0';
	snprintf(body, sizeof(body), "{\"prompt\":\"%s\"}", longp);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", body, NULL), 400018);
	longp[5000] = '\0';
	snprintf(body, sizeof(body), "{\"prompt\":\"%s\"}", longp);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", body, NULL), 0);
	snprintf(body, sizeof(body), "{\"prompt\":\"p\",\"negative_prompt\":\"%sx\"}", longp);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", body, NULL), 400019);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "{\"prompt\":\"something Forbidden here\"}", NULL), 500063);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/t2v", "not json", NULL), 400001);
	/* i2v: the image must be on the fake's media host. */
	CU_ASSERT_EQUAL(gen(srv, tok, "video/i2v", "{\"prompt\":\"p\"}", NULL), 400011);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/i2v", "{\"prompt\":\"p\",\"customer_img_path\":\"upload/a.png\","
		"\"customer_img_url\":\"https://example.com/upload/a.png\"}", NULL), 400032);
	snprintf(body, sizeof(body), "{\"prompt\":\"p\",\"customer_img_path\":\"upload/a.png\","
		"\"customer_img_url\":\"%s/media/upload/a.png\"}", fake_pixverse_url(srv));
	CU_ASSERT_EQUAL(gen(srv, tok, "video/i2v", body, NULL), 0);
	/* i2i: qwen-image takes at most 3 images; 5k is not a quality. */
	snprintf(url, sizeof(url), "\"%s/media/upload/a.png\"", fake_pixverse_url(srv));
	snprintf(body, sizeof(body), "{\"prompt\":\"p\",\"customer_img_urls\":[%s,%s,%s,%s]}", url, url, url, url);
	CU_ASSERT_EQUAL(gen(srv, tok, "image/i2i", body, NULL), 400017);
	snprintf(body, sizeof(body), "{\"prompt\":\"p\",\"customer_img_urls\":[%s,%s,%s]}", url, url, url);
	CU_ASSERT_EQUAL(gen(srv, tok, "image/i2i", body, NULL), 0);
	CU_ASSERT_EQUAL(gen(srv, tok, "image/i2i", "{\"prompt\":\"p\",\"customer_img_urls\":[\"http://x/y.png\"]}",
		NULL), 400032);
	CU_ASSERT_EQUAL(gen(srv, tok, "image/i2i", "{\"prompt\":\"p\",\"quality\":\"5k\"}", NULL), 400017);
	CU_ASSERT_EQUAL(gen(srv, tok, "image/i2i", "{\"prompt\":\"p\",\"model\":\"gemini-3.0\",\"quality\":\"4k\"}",
		NULL), 0);
	/* frames: 2-7 images, N-1 prompts and durations of 1-8 s, charged by their sum. */
	snprintf(body, sizeof(body), "{\"customer_img_urls\":[%s],\"customer_img_paths\":[\"upload/a.png\"],"
		"\"prompts\":[],\"durations\":[]}", url);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/frames", body, NULL), 400017);
	snprintf(body, sizeof(body), "{\"customer_img_urls\":[%s,%s,%s],\"prompts\":[\"a\",\"b\"],"
		"\"durations\":[2,9],\"duration\":2,\"model\":\"v5\",\"quality\":\"360p\"}", url, url, url);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/frames", body, NULL), 400017);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	{
		long charged = s.charged;

		snprintf(body, sizeof(body), "{\"customer_img_urls\":[%s,%s,%s],\"prompts\":[\"a\",\"b\"],"
			"\"durations\":[2,3],\"duration\":2,\"model\":\"v5\",\"quality\":\"720p\"}", url, url, url);
		CU_ASSERT_EQUAL(gen(srv, tok, "video/frames", body, &id), 0);
		CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
		CU_ASSERT_EQUAL(s.charged - charged, 8 * 5);
		/* extend: of a video of the account. */
		snprintf(body, sizeof(body), "{\"prompt\":\"more\",\"platform\":\"web\",\"original_video_id\":%lld,"
			"\"model\":\"v5\",\"quality\":\"360p\",\"duration\":5}", id);
		CU_ASSERT_EQUAL(gen(srv, tok, "video/extend", body, NULL), 0);
		CU_ASSERT_EQUAL(gen(srv, tok, "video/extend", "{\"prompt\":\"more\",\"original_video_id\":1}", NULL),
			400017);
		CU_ASSERT_EQUAL(gen(srv, tok, "video/extend", "{\"prompt\":\"more\"}", NULL), 400011);
	}
	/* Refusals charge nothing and create nothing: 8 jobs. */
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	CU_ASSERT_EQUAL(s.submitted, 8);
	/* High load: exactly the next two calls. */
	fake_pixverse_set_high_load(srv, 2);
	CU_ASSERT_EQUAL(t2v(srv, tok, "h", "360p", 1, NULL), 500069);
	CU_ASSERT_EQUAL(t2v(srv, tok, "h", "360p", 1, NULL), 500069);
	CU_ASSERT_EQUAL(t2v(srv, tok, "h", "360p", 1, NULL), 0);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	CU_ASSERT_EQUAL(s.high_load_refused, 2);
	CU_ASSERT_EQUAL(s.submitted, 9);
	free(longp);
	stop(srv, tok, NULL);
}

static void test_dead_session(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	fake_pv_job_stats s;
	request rq = { .path = "/creative_platform/video/list/personal", .body = "{}" };

	CU_ASSERT_EQUAL(t2v(srv, tok, "before", "360p", 1, NULL), 0);
	CU_ASSERT_EQUAL(fake_pixverse_kick(srv, ALICE), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "after", "360p", 1, NULL), 10005);
	CU_ASSERT_EQUAL(gen(srv, tok, "image/i2i", "{\"prompt\":\"p\"}", NULL), 10005);
	rq.token = tok;
	CU_ASSERT_EQUAL(call(srv, &rq, NULL), 10005);
	rq.token = NULL;
	CU_ASSERT_EQUAL(call(srv, &rq, NULL), 10003);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	CU_ASSERT_EQUAL(s.submitted, 1);
	CU_ASSERT_EQUAL(s.charged, 4);
	free(tok);
	/* A new session works again, and expiry answers 10002. */
	tok = fake_pixverse_login_token_ids(srv, ALICE, TRACE, ANON);
	CU_ASSERT_EQUAL(t2v(srv, tok, "again", "360p", 1, NULL), 0);
	CU_ASSERT_EQUAL(fake_pixverse_expire(srv, ALICE), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "expired", "360p", 1, NULL), 10002);
	stop(srv, tok, NULL);
}

/* ---- upload ---- */

static const unsigned char png_bytes[] = {
	0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1,
	8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde, 0, '\r', '\n', 0, 'x'
};

/* A multipart body with one part named `name` holding data; malloc'd, *len set. */
static char *multipart(const char *boundary, const char *name, const char *type, const void *data,
	size_t n, size_t *len)
{
	char head[512], tail[128];
	int hn = snprintf(head, sizeof(head), "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
		"filename=\"pic.png\"\r\nContent-Type: %s\r\n\r\n", boundary, name, type);
	int tn = snprintf(tail, sizeof(tail), "\r\n--%s--\r\n", boundary);
	char *b = malloc((size_t)hn + n + (size_t)tn);

	memcpy(b, head, (size_t)hn);
	memcpy(b + hn, data, n);
	memcpy(b + hn + n, tail, (size_t)tn);
	*len = (size_t)hn + n + (size_t)tn;
	return b;
}

static int upload(fake_pixverse *srv, const char *key, const char *content_type, const char *body,
	size_t len, json_object **resp)
{
	request rq = { .path = "/openapi/v2/image/upload", .body = body, .body_len = len,
		       .content_type = content_type, .api_key = key };

	return call(srv, &rq, resp);
}

static void test_upload(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	const char *ct = "multipart/form-data; boundary=XyZ-boundary-1";
	size_t len, big_len = 20u * 1024 * 1024 + 1;
	char *body = multipart("XyZ-boundary-1", "image", "image/png", png_bytes, sizeof(png_bytes), &len);
	json_object *resp;
	char media[256], gen_body[512];
	const char *url;
	unsigned char *big;
	buf b;

	CU_ASSERT_EQUAL(upload(srv, NULL, ct, body, len, NULL), 400017);
	CU_ASSERT_EQUAL(upload(srv, "wrong-key", ct, body, len, NULL), 400017);
	CU_ASSERT_EQUAL_FATAL(upload(srv, "key-alice-1", ct, body, len, &resp), 0);
	CU_ASSERT(get_int(resp, "img_id") > 0);
	url = get_str(resp, "img_url");
	snprintf(media, sizeof(media), "%s/media/upload/", fake_pixverse_url(srv));
	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_EQUAL(strncmp(url, media, strlen(media)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(url, ".png"));
	{
		request get = { .method = "GET", .url = url };

		/* The media host serves exactly the bytes that were sent. */
		CU_ASSERT_EQUAL(http(srv, &get, &b), 200);
		CU_ASSERT_EQUAL(b.len, sizeof(png_bytes));
		CU_ASSERT(b.data && !memcmp(b.data, png_bytes, sizeof(png_bytes)));
		free(b.data);
	}
	/* And an i2v of the uploaded image goes through. */
	snprintf(gen_body, sizeof(gen_body), "{\"prompt\":\"p\",\"customer_img_path\":\"%s\",\"customer_img_url\":\"%s\"}",
		strstr(url, "upload/"), url);
	CU_ASSERT_EQUAL(gen(srv, tok, "video/i2v", gen_body, NULL), 0);
	json_object_put(resp);
	/* A quoted boundary works too. */
	CU_ASSERT_EQUAL(upload(srv, "key-alice-1", "multipart/form-data; boundary=\"XyZ-boundary-1\"", body, len,
		NULL), 0);
	/* The boundary of the header is not the body's. */
	CU_ASSERT_EQUAL(upload(srv, "key-alice-1", "multipart/form-data; boundary=other", body, len, NULL), 500032);
	CU_ASSERT_EQUAL(upload(srv, "key-alice-1", "multipart/form-data", body, len, NULL), 500032);
	CU_ASSERT_EQUAL(upload(srv, "key-alice-1", "application/json", body, len, NULL), 500032);
	free(body);
	/* No part named "image". */
	body = multipart("XyZ-boundary-1", "file", "image/png", png_bytes, sizeof(png_bytes), &len);
	CU_ASSERT_EQUAL(upload(srv, "key-alice-1", ct, body, len, NULL), 500032);
	free(body);
	/* An empty image. */
	body = multipart("XyZ-boundary-1", "image", "image/png", "", 0, &len);
	CU_ASSERT_EQUAL(upload(srv, "key-alice-1", ct, body, len, NULL), 500032);
	free(body);
	/* Not an image, whatever it says. */
	body = multipart("XyZ-boundary-1", "image", "image/png", "hello, not a picture", 20, &len);
	CU_ASSERT_EQUAL(upload(srv, "key-alice-1", ct, body, len, NULL), 500031);
	free(body);
	body = multipart("XyZ-boundary-1", "image", "text/plain", png_bytes, sizeof(png_bytes), &len);
	CU_ASSERT_EQUAL(upload(srv, "key-alice-1", ct, body, len, NULL), 500031);
	free(body);
	/* Over 20 MiB. */
	big = calloc(1, big_len);
	memcpy(big, png_bytes, sizeof(png_bytes));
	body = multipart("XyZ-boundary-1", "image", "image/png", big, big_len, &len);
	CU_ASSERT_EQUAL(upload(srv, "key-alice-1", ct, body, len, NULL), 500030);
	free(body);
	free(big);
	CU_ASSERT_EQUAL(fake_pixverse_uploads(srv), 2);
	stop(srv, tok, NULL);
}

static void test_media_results(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	char url[256];
	long long id;
	buf b;
	request get = { .method = "GET", .url = url };

	fake_pixverse_set_job_durations(srv, 50, 50);
	CU_ASSERT_EQUAL(t2v(srv, tok, "v", "360p", 1, &id), 0);
	snprintf(url, sizeof(url), "%s/media/web/ori/%lld.mp4", fake_pixverse_url(srv), id);
	/* Before the job is done the CDN has no file. */
	CU_ASSERT_EQUAL(http(srv, &get, &b), 404);
	free(b.data);
	CU_ASSERT_EQUAL(wait_status(srv, tok, 0, id, 1), 1);
	CU_ASSERT_EQUAL(http(srv, &get, &b), 200);
	CU_ASSERT(b.len > 0);
	free(b.data);
	snprintf(url, sizeof(url), "%s/media/pixverse/mp4/media/default.mp4", fake_pixverse_url(srv));
	CU_ASSERT_EQUAL(http(srv, &get, &b), 200);
	free(b.data);
	snprintf(url, sizeof(url), "%s/media/upload/none.png", fake_pixverse_url(srv));
	CU_ASSERT_EQUAL(http(srv, &get, &b), 404);
	free(b.data);
	stop(srv, tok, NULL);
}

/* The accounts file says what plan_details answers; a literal 0 is kept. */
static void test_plans_from_accounts_file(void)
{
	char path[] = "/tmp/test_fake_pixverse_jobs.XXXXXX", err[256] = "";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	fake_pixverse *srv;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("{\"accounts\": [{\"email\": \"a@x.org\", \"password\": \"p\"},"
	      " {\"email\": \"b@x.org\", \"password\": \"p\", \"plan_type\": 1, \"gen_simultaneously\": 0},"
	      " {\"email\": \"c@x.org\", \"password\": \"p\", \"gen_simultaneously\": 7}]}", f);
	fclose(f);
	srv = fake_pixverse_start(NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	CU_ASSERT_EQUAL(fake_pixverse_load_accounts(srv, path, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_pixverse_concurrency_limit(srv, "a@x.org"), 2);
	CU_ASSERT_EQUAL(fake_pixverse_concurrency_limit(srv, "b@x.org"), 5);
	CU_ASSERT_EQUAL(fake_pixverse_concurrency_limit(srv, "c@x.org"), 7);
	CU_ASSERT_EQUAL(fake_pixverse_concurrency_limit(srv, "nobody@x.org"), -1);
	{
		char *tok = fake_pixverse_login_token_ids(srv, "b@x.org", TRACE, ANON);
		request rq = { .path = "/creative_platform/toc/members/plan_details", .body = "{}", .token = tok };
		json_object *resp;

		CU_ASSERT_EQUAL(call(srv, &rq, &resp), 0);
		CU_ASSERT_EQUAL(get_int(resp, "gen_simultaneously"), 0);
		CU_ASSERT_EQUAL(get_int(resp, "current_plan_type"), 1);
		json_object_put(resp);
		free(tok);
	}
	fake_pixverse_stop(srv);
	unlink(path);
}

/* ---- control over HTTP ---- */

static json_object *control(fake_pixverse *srv, const char *what)
{
	char path[256];
	request rq = { .path = path };
	buf b;
	json_object *o = NULL;

	snprintf(path, sizeof(path), "/__control/%s", what);
	if (http(srv, &rq, &b) == 200 && b.data)
		o = json_tokener_parse(b.data);
	free(b.data);
	return o;
}

static void test_control_http(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	json_object *o, *stats, *jobs, *a;
	long long id;
	buf b;
	request st = { .method = "GET", .path = "/__control/stats" };

	o = control(srv, "jobs?queue_ms=20&process_ms=30&early_cdn_ms=10");
	CU_ASSERT_EQUAL(get_int(o, "queue_ms"), 20);
	CU_ASSERT_EQUAL(get_int(o, "process_ms"), 30);
	json_object_put(o);
	CU_ASSERT_PTR_NULL(control(srv, "jobs?queue_ms=-1"));
	o = control(srv, "plan?email=alice@example.com&plan_type=1&gen_simultaneously=1");
	CU_ASSERT_PTR_NOT_NULL(o);
	json_object_put(o);
	CU_ASSERT_EQUAL(fake_pixverse_concurrency_limit(srv, ALICE), 1);
	CU_ASSERT_PTR_NULL(control(srv, "plan?email=nobody@example.com&plan_type=1"));
	json_object_put(control(srv, "next_outcome?outcome=failed"));
	CU_ASSERT_PTR_NULL(control(srv, "next_outcome?outcome=maybe"));
	CU_ASSERT_EQUAL(t2v(srv, tok, "fine", "360p", 2, &id), 0);
	CU_ASSERT_EQUAL(t2v(srv, tok, "fine", "360p", 2, NULL), 500044);
	CU_ASSERT_EQUAL(wait_status(srv, tok, 0, id, 8), 8);
	json_object_put(control(srv, "high_load?count=1"));
	CU_ASSERT_EQUAL(t2v(srv, tok, "fine", "360p", 2, NULL), 500069);
	json_object_put(control(srv, "credits?email=alice@example.com&daily=0&monthly=0&package=0"));
	CU_ASSERT_EQUAL(t2v(srv, tok, "fine", "360p", 2, NULL), 500043);
	o = control(srv, "job_stats?email=alice@example.com");
	CU_ASSERT_EQUAL(get_int(o, "submitted"), 1);
	CU_ASSERT_EQUAL(get_int(o, "failed"), 1);
	CU_ASSERT_EQUAL(get_int(o, "charged"), 8);
	CU_ASSERT_EQUAL(get_int(o, "refunded"), 8);
	CU_ASSERT_EQUAL(get_int(o, "concurrency_refused"), 1);
	CU_ASSERT_EQUAL(get_int(o, "high_load_refused"), 1);
	CU_ASSERT_EQUAL(get_int(o, "credits_refused"), 1);
	CU_ASSERT_EQUAL(get_int(o, "max_in_flight"), 1);
	json_object_put(o);
	CU_ASSERT_EQUAL(http(srv, &st, &b), 200);
	stats = b.data ? json_tokener_parse(b.data) : NULL;
	free(b.data);
	CU_ASSERT_FATAL(json_object_object_get_ex(stats, "jobs", &jobs));
	CU_ASSERT_FATAL(json_object_object_get_ex(jobs, ALICE, &a));
	CU_ASSERT_EQUAL(get_int(a, "submitted"), 1);
	CU_ASSERT_EQUAL(get_int(a, "concurrency_limit"), 1);
	/* The failed job's 8 came back before the credits were set to 0. */
	CU_ASSERT_EQUAL(get_int(a, "credits"), 0);
	CU_ASSERT_FATAL(json_object_object_get_ex(stats, "requests", &a));
	CU_ASSERT(get_int(a, "video_list") >= 1);
	CU_ASSERT_EQUAL(get_int(a, "t2v"), 4);
	json_object_put(stats);
	/* The job clock over HTTP: frozen, it moves only when told. */
	{
		long long t0;

		o = control(srv, "job_clock?freeze=1");
		t0 = get_int(o, "now_ms");
		CU_ASSERT(t0 >= 0);
		json_object_put(o);
		sleep_ms(20);
		o = control(srv, "job_clock?advance_ms=7");
		CU_ASSERT_EQUAL(get_int(o, "now_ms"), t0 + 7);
		json_object_put(o);
		CU_ASSERT_EQUAL(fake_pixverse_now_ms(srv), t0 + 7);
		CU_ASSERT_PTR_NULL(control(srv, "job_clock?advance_ms=-1"));
		json_object_put(control(srv, "job_clock?freeze=0"));
		sleep_ms(20);
		CU_ASSERT(fake_pixverse_now_ms(srv) >= t0 + 7 + 20);
	}
	/* reset zeroes the job counters. */
	json_object_put(control(srv, "reset"));
	o = control(srv, "job_stats");
	CU_ASSERT_EQUAL(get_int(o, "submitted"), 0);
	CU_ASSERT_EQUAL(get_int(o, "charged"), 0);
	json_object_put(o);
	stop(srv, tok, NULL);
}

/* 20 generation calls from 4 threads at once on one account: never more in flight than its slots. */
typedef struct racer {
	fake_pixverse *srv;
	const char *token;
	int ok, refused;
} racer;

static void *race(void *arg)
{
	racer *r = arg;
	int i, code;

	for (i = 0; i < 5; i++) {
		code = t2v(r->srv, r->token, "race", "360p", 1, NULL);
		if (code == 0)
			r->ok++;
		else if (code == 500044)
			r->refused++;
	}
	return NULL;
}

static void test_concurrent_submissions(void)
{
	char *tok;
	fake_pixverse *srv = start(&tok, NULL);
	racer r[4];
	pthread_t t[4];
	fake_pv_job_stats s;
	int i, ok = 0, refused = 0;

	fake_pixverse_set_plan(srv, ALICE, 0, 3);
	fake_pixverse_set_job_durations(srv, 10, 20);
	for (i = 0; i < 4; i++) {
		r[i] = (racer){ srv, tok, 0, 0 };
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ok += r[i].ok;
		refused += r[i].refused;
	}
	CU_ASSERT_EQUAL(ok + refused, 20);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ALICE, &s), 0);
	CU_ASSERT_EQUAL(s.submitted, (unsigned long)ok);
	CU_ASSERT_EQUAL(s.concurrency_refused, (unsigned long)refused);
	CU_ASSERT(s.max_in_flight >= 1 && s.max_in_flight <= 3);
	CU_ASSERT_EQUAL(s.charged, 4L * ok);
	stop(srv, tok, NULL);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "video lifecycle: 5, 10 without size, 1 with size", test_video_lifecycle },
		{ "video lifecycle in real time", test_video_lifecycle_timing },
		{ "early CDN window shorter than processing", test_early_cdn_window },
		{ "image lifecycle and cost", test_image_lifecycle },
		{ "moderated and failed jobs are refunded", test_moderated_and_failed_are_refunded },
		{ "credits arithmetic: 500090 and 500043", test_credits_arithmetic },
		{ "concurrency limit: 500044 exactly at the limit", test_concurrency_limit },
		{ "concurrent submissions keep to the slots", test_concurrent_submissions },
		{ "list paging", test_list_paging },
		{ "delete and 500064", test_delete },
		{ "request validation and high load", test_validation },
		{ "dead session on generation calls", test_dead_session },
		{ "upload parsing", test_upload },
		{ "media host serves results", test_media_results },
		{ "plans from the accounts file", test_plans_from_accounts_file },
		{ "control endpoints for jobs", test_control_http },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "fake_pixverse_jobs", NULL, NULL, tests },
		PA_TEST_SUITE_END
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	rc = pa_test_run(argc, argv, suites);
	curl_global_cleanup();
	return rc;
}
