/*
 * The Pixverse plugin's generation side without a server: the parameter
 * table (every model's qualities, durations and image counts, the cost of
 * each, 2k/4k, defaults, messages that name the parameter), the job state
 * table (10 without a size, placeholder URLs, unknown ids), the
 * classification of every generation ErrCode, the multipart body, and the
 * requests each operation and pool hook sends, over a scripted HTTP stub.
 * The expected figures come from the wire contract's tables, written out
 * again here, not from the plugin's.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "internal.h"
#include "session/session.h"
#include "pixverse.h"
#include "../support/pa_test.h"

#define NOW 1800000000LL
#define JWT_SECRET "eyJhbGciOiJIUzI1NiJ9.eyJFeHBpcmVUaW1lIjoxOTAwMDAwMDAwfQ.c2VjcmV0LWp3dA"
#define API_KEY_SECRET "sk-openapi-SECRET-5e4d3c2b"
#define COOKIE_SECRET "cookie-SECRET-1a2b3c4d"

static provauth_host host;
static pa_host_ctx host_ctx;
static pa_logger logger;
static pv_state state;

static int64_t test_clock(void *payload)
{
	(void)payload;
	return NOW;
}

/* ------------------------------------------------------------------------ */
/* The wire contract's tables, independently of params.c                    */
/* ------------------------------------------------------------------------ */

static const char *const all_video_qualities[] = { "360p", "480p", "540p", "720p", "1080p" };
static const long long per_second[] = { 4, 5, 6, 8, 16 };

typedef struct video_row {
	const char *model;
	const char *qualities; /* comma-separated, with a trailing comma */
	long long min, max;
} video_row;

static const video_row video_rows[] = {
	{ "v5", "360p,540p,720p,1080p,", 1, 10 },
	{ "v5-fast", "360p,540p,720p,1080p,", 1, 10 },
	{ "v5.5", "360p,540p,720p,1080p,", 1, 10 },
	{ "v5.6", "360p,540p,720p,1080p,", 1, 10 },
	{ "v6", "360p,540p,720p,1080p,", 1, 15 },
	{ "pixverse-c1", "360p,540p,720p,1080p,", 1, 15 },
	{ "seedance-2.0-standard", "480p,720p,1080p,", 4, 15 },
	{ "seedance-2.0-fast", "480p,720p,1080p,", 4, 15 },
	{ "grok-imagine", "480p,720p,", 1, 10 },
	{ "happyhorse-1.0", "720p,1080p,", 3, 15 },
};

typedef struct image_row {
	const char *model;
	long long cost_1080p, cost_1440p, cost_2160p; /* -1: not offered */
	size_t max_images;
} image_row;

static const image_row image_rows[] = {
	{ "qwen-image", 5, 10, -1, 3 },
	{ "gemini-2.5-flash", 15, -1, -1, 3 },
	{ "gemini-3.0", 50, 50, 90, 9 },
	{ "seedream-4.0", 20, 20, 40, 6 },
	{ "kling-image-o3", 30, 30, -1, 10 },
};

static int offers(const char *list, const char *quality)
{
	char hay[64], needle[16];

	snprintf(hay, sizeof(hay), ",%s", list);
	snprintf(needle, sizeof(needle), ",%s,", quality);
	return strstr(hay, needle) != NULL;
}

/* ------------------------------------------------------------------------ */
/* Args                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct argv_ {
	provauth_op_arg a[32];
	char store[32][96];
	size_t n;
} argv_;

static void arg(argv_ *v, const char *key, const char *fmt, ...) PROVAUTH_PRINTF(3, 4);
static void arg(argv_ *v, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->store[v->n], sizeof(v->store[v->n]), fmt, ap);
	va_end(ap);
	v->a[v->n].key = key;
	v->a[v->n].value = v->store[v->n];
	v->n++;
}

static int parse(argv_ *v, pv_gen *g)
{
	return pv_gen_parse(&host, v->a, v->n, g);
}

/* The last error names `what` (a parameter, a bound). */
static int error_says(const char *what)
{
	const char *e = provauth_last_error();

	if (!strstr(e, what)) {
		fprintf(stderr, "\n  error '%s' lacks '%s'\n", e, what);
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------------ */
/* Parameters and costs                                                     */
/* ------------------------------------------------------------------------ */

static void test_video_models(void)
{
	size_t m, q;
	pv_gen g;

	for (m = 0; m < PA_ARRAY_LEN(video_rows); m++) {
		const video_row *r = &video_rows[m];
		char bounds[64];

		snprintf(bounds, sizeof(bounds), "%lld to %lld s", r->min, r->max);
		for (q = 0; q < PA_ARRAY_LEN(all_video_qualities); q++) {
			argv_ v = { 0 };
			int rc;

			arg(&v, "prompt", "a cat");
			arg(&v, "model", "%s", r->model);
			arg(&v, "quality", "%s", all_video_qualities[q]);
			arg(&v, "duration", "%lld", r->max);
			rc = parse(&v, &g);
			if (offers(r->qualities, all_video_qualities[q])) {
				CU_ASSERT_EQUAL(rc, 0);
				CU_ASSERT_STRING_EQUAL(g.model, r->model);
				CU_ASSERT_STRING_EQUAL(g.quality, all_video_qualities[q]);
				CU_ASSERT_EQUAL(g.duration, r->max);
				CU_ASSERT_EQUAL(g.cost, per_second[q] * r->max);
				CU_ASSERT_EQUAL(pv_video_credits_per_second(all_video_qualities[q]), per_second[q]);
			} else {
				CU_ASSERT_EQUAL(rc, PROVAUTH_EINVAL);
				CU_ASSERT(error_says("quality"));
				CU_ASSERT(error_says(r->model));
			}
		}
		/* Both ends of the duration range, and one beyond each. */
		{
			long long tries[4] = { r->min, r->max, r->min - 1, r->max + 1 };
			size_t t;

			for (t = 0; t < 4; t++) {
				argv_ v = { 0 };
				int rc;

				arg(&v, "prompt", "a cat");
				arg(&v, "model", "%s", r->model);
				arg(&v, "quality", "720p");
				arg(&v, "duration", "%lld", tries[t]);
				rc = parse(&v, &g);
				if (t < 2) {
					CU_ASSERT_EQUAL(rc, 0);
					CU_ASSERT_EQUAL(g.cost, 8 * tries[t]);
				} else {
					CU_ASSERT_EQUAL(rc, PROVAUTH_EINVAL);
					CU_ASSERT(error_says("duration"));
					CU_ASSERT(error_says(bounds));
				}
			}
		}
	}
}

static void test_image_models(void)
{
	static const char *const quals[] = { "1080p", "1440p", "2160p" };
	size_t m, q, i;
	pv_gen g;

	for (m = 0; m < PA_ARRAY_LEN(image_rows); m++) {
		const image_row *r = &image_rows[m];
		const long long costs[3] = { r->cost_1080p, r->cost_1440p, r->cost_2160p };

		for (q = 0; q < 3; q++) {
			argv_ v = { 0 };
			int rc;

			arg(&v, "type", "t2i");
			arg(&v, "prompt", "a cat");
			arg(&v, "model", "%s", r->model);
			arg(&v, "quality", "%s", quals[q]);
			rc = parse(&v, &g);
			if (costs[q] >= 0) {
				CU_ASSERT_EQUAL(rc, 0);
				CU_ASSERT_EQUAL(g.cost, costs[q]);
				CU_ASSERT_EQUAL(g.is_image, 1);
			} else {
				CU_ASSERT_EQUAL(rc, PROVAUTH_EINVAL);
				CU_ASSERT(error_says("quality"));
				CU_ASSERT(error_says(r->model));
			}
		}
		/* 2k is 1440p and 4k 2160p, in either case. */
		{
			static const char *const aliases[] = { "2k", "4K" };
			for (q = 0; q < 2; q++) {
				argv_ v = { 0 };
				int rc;

				arg(&v, "type", "t2i");
				arg(&v, "prompt", "a cat");
				arg(&v, "model", "%s", r->model);
				arg(&v, "quality", "%s", aliases[q]);
				rc = parse(&v, &g);
				if (costs[q + 1] >= 0) {
					CU_ASSERT_EQUAL(rc, 0);
					CU_ASSERT_STRING_EQUAL(g.quality, quals[q + 1]);
					CU_ASSERT_EQUAL(g.cost, costs[q + 1]);
				} else {
					CU_ASSERT_EQUAL(rc, PROVAUTH_EINVAL);
					CU_ASSERT(error_says(quals[q + 1]));
				}
			}
		}
		/* i2i: 1 to the model's most images; t2i: none. */
		for (i = 0; i <= r->max_images + 1; i++) {
			argv_ v = { 0 };
			size_t k;
			int rc;

			arg(&v, "type", "i2i");
			arg(&v, "prompt", "a cat");
			arg(&v, "model", "%s", r->model);
			for (k = 0; k < i && k < 11; k++) {
				arg(&v, "image_url", "https://media.test/upload/%zu.png", k);
				arg(&v, "image_path", "upload/%zu.png", k);
			}
			rc = parse(&v, &g);
			if (i >= 1 && i <= r->max_images) {
				CU_ASSERT_EQUAL(rc, 0);
				CU_ASSERT_EQUAL(g.image_count, i);
			} else {
				CU_ASSERT_EQUAL(rc, PROVAUTH_EINVAL);
				CU_ASSERT(error_says("image"));
			}
		}
		{
			argv_ v = { 0 };

			arg(&v, "type", "t2i");
			arg(&v, "prompt", "a cat");
			arg(&v, "model", "%s", r->model);
			arg(&v, "image_url", "https://media.test/upload/a.png");
			arg(&v, "image_path", "upload/a.png");
			CU_ASSERT_EQUAL(parse(&v, &g), PROVAUTH_EINVAL);
			CU_ASSERT(error_says("image_url"));
		}
	}
}

static void test_defaults(void)
{
	argv_ v = { 0 };
	pv_gen g;

	arg(&v, "prompt", "a cat");
	CU_ASSERT_EQUAL_FATAL(parse(&v, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.type_name, "t2v");
	CU_ASSERT_STRING_EQUAL(g.model, "v5");
	CU_ASSERT_STRING_EQUAL(g.quality, "360p");
	CU_ASSERT_EQUAL(g.duration, 5);
	CU_ASSERT_STRING_EQUAL(g.aspect_ratio, "16:9");
	CU_ASSERT_EQUAL(g.cost, 4 * 5);
	CU_ASSERT_EQUAL(g.has_seed, 0);

	memset(&v, 0, sizeof(v));
	arg(&v, "type", "t2i");
	arg(&v, "prompt", "a cat");
	CU_ASSERT_EQUAL_FATAL(parse(&v, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.model, "qwen-image");
	CU_ASSERT_STRING_EQUAL(g.quality, "1080p");
	CU_ASSERT_STRING_EQUAL(g.aspect_ratio, "1:1");
	CU_ASSERT_EQUAL(g.cost, 5);

	/* A model without 360p starts at its lowest quality. */
	memset(&v, 0, sizeof(v));
	arg(&v, "prompt", "a cat");
	arg(&v, "model", "seedance-2.0-fast");
	CU_ASSERT_EQUAL_FATAL(parse(&v, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.quality, "480p");
	CU_ASSERT_EQUAL(g.cost, 5 * 5);

	/* Every aspect ratio the contract allows, and one it does not. */
	{
		static const char *const ratios[] = { "16:9", "9:16", "1:1", "4:3", "3:4" };
		size_t i;

		for (i = 0; i < PA_ARRAY_LEN(ratios); i++) {
			memset(&v, 0, sizeof(v));
			arg(&v, "prompt", "a cat");
			arg(&v, "aspect_ratio", "%s", ratios[i]);
			CU_ASSERT_EQUAL(parse(&v, &g), 0);
			CU_ASSERT_STRING_EQUAL(g.aspect_ratio, ratios[i]);
		}
		memset(&v, 0, sizeof(v));
		arg(&v, "prompt", "a cat");
		arg(&v, "aspect_ratio", "21:9");
		CU_ASSERT_EQUAL(parse(&v, &g), PROVAUTH_EINVAL);
		CU_ASSERT(error_says("aspect_ratio"));
		CU_ASSERT(error_says("16:9, 9:16, 1:1, 4:3, 3:4"));
	}
}

/* One set of args that must be refused, with what the message names. */
typedef struct bad_case {
	const char *args[16]; /* key, value pairs, NULL-ended */
	const char *says[3];
} bad_case;

static const bad_case bad_cases[] = {
	{ { "type", "t2x", "prompt", "x", NULL }, { "type", "t2v, i2v, extend, transition, t2i, i2i", NULL } },
	{ { "prompt", "x", "colour", "red", NULL }, { "unknown parameter", "colour", NULL } },
	{ { "prompt", "x", "model", "v4", NULL }, { "model", "v5, v5-fast", "happyhorse-1.0" } },
	{ { "type", "t2i", "prompt", "x", "model", "v5", NULL }, { "model", "qwen-image", NULL } },
	{ { "prompt", "x", "prompt", "y", NULL }, { "prompt", "twice", NULL } },
	{ { "prompt", "", NULL }, { "prompt", "t2v", NULL } },
	{ { "prompt", "x", "duration", "5s", NULL }, { "duration", "1 to 10 s", NULL } },
	{ { "prompt", "x", "seed", "-1", NULL }, { "seed", "0 to 2147483647", NULL } },
	{ { "prompt", "x", "seed", "2147483648", NULL }, { "seed", NULL } },
	{ { "prompt", "x", "video_id", "12", NULL }, { "video_id", "t2v", NULL } },
	{ { "type", "i2v", "prompt", "x", NULL }, { "image_url", "exactly 1", NULL } },
	{ { "type", "i2v", "aspect_ratio", "1:1", "image_url", "https://m.test/upload/a.png", "image_path",
	    "upload/a.png", NULL }, { "aspect_ratio", "i2v", NULL } },
	{ { "type", "i2v", "prompt", "x", "image_url", "https://m.test/upload/a.png", NULL },
	  { "image_url", "image_path", "pairs" } },
	{ { "type", "i2v", "image_url", "https://m.test/upload/a.png", "image_path", "upload/a.png", NULL },
	  { "prompt", "i2v needs a prompt", NULL } },
	{ { "type", "i2v", "prompt", "x", "image_url", "ftp://m.test/a.png", "image_path", "upload/a.png", NULL },
	  { "image_url", "http", NULL } },
	{ { "type", "extend", "prompt", "x", NULL }, { "video_id", "extend", NULL } },
	{ { "type", "extend", "prompt", "x", "video_id", "abc", NULL }, { "video_id", "positive integer", NULL } },
	{ { "type", "extend", "video_id", "7", "aspect_ratio", "1:1", NULL }, { "aspect_ratio", NULL } },
	{ { "type", "transition", "image_url", "https://m.test/upload/a.png", "image_path", "upload/a.png", NULL },
	  { "image_url", "2 to 7", NULL } },
	{ { "type", "transition", "image_url", "https://m.test/upload/a.png", "image_path", "upload/a.png",
	    "image_url", "https://m.test/upload/b.png", "image_path", "upload/b.png", "durations", "3,4", NULL },
	  { "durations", "1 values", NULL } },
	{ { "type", "transition", "image_url", "https://m.test/upload/a.png", "image_path", "upload/a.png",
	    "image_url", "https://m.test/upload/b.png", "image_path", "upload/b.png", "durations", "9", NULL },
	  { "durations", "1 to 8 s", NULL } },
	{ { "type", "transition", "image_url", "https://m.test/upload/a.png", "image_path", "upload/a.png",
	    "image_url", "https://m.test/upload/b.png", "image_path", "upload/b.png", "prompts", "a", "prompts", "b",
	    NULL }, { "prompts", "1 prompts", NULL } },
	{ { "type", "t2i", "prompt", "x", "duration", "5", NULL }, { "duration", "t2i", NULL } },
	{ { "type", "t2i", "prompt", "x", "quality", "720p", NULL }, { "quality", "1080p, 1440p", NULL } },
};

static void test_messages_name_the_parameter(void)
{
	size_t i, k, j;
	pv_gen g;

	for (i = 0; i < PA_ARRAY_LEN(bad_cases); i++) {
		argv_ v = { 0 };

		for (k = 0; bad_cases[i].args[k]; k += 2)
			arg(&v, bad_cases[i].args[k], "%s", bad_cases[i].args[k + 1]);
		CU_ASSERT_EQUAL(parse(&v, &g), PROVAUTH_EINVAL);
		for (j = 0; j < 3 && bad_cases[i].says[j]; j++)
			CU_ASSERT(error_says(bad_cases[i].says[j]));
		CU_ASSERT(strncmp(provauth_last_error(), "pixverse: ", 10) == 0);
	}
}

static void test_transition(void)
{
	argv_ v = { 0 };
	pv_gen g;
	size_t i;

	for (i = 0; i < 4; i++) {
		arg(&v, "image_url", "https://m.test/upload/%zu.png", i);
		arg(&v, "image_path", "upload/%zu.png", i);
	}
	arg(&v, "type", "transition");
	arg(&v, "model", "v5");
	arg(&v, "quality", "540p");
	arg(&v, "prompt", "between");
	arg(&v, "durations", "1,8,3");
	CU_ASSERT_EQUAL_FATAL(parse(&v, &g), 0);
	CU_ASSERT_EQUAL(g.segment_count, 3);
	CU_ASSERT_EQUAL(g.durations[0], 1);
	CU_ASSERT_EQUAL(g.durations[1], 8);
	CU_ASSERT_EQUAL(g.durations[2], 3);
	CU_ASSERT_EQUAL(g.duration, 1);
	CU_ASSERT_EQUAL(g.cost, 6 * (1 + 8 + 3));
	/* Without prompts, each segment takes the prompt. */
	CU_ASSERT_STRING_EQUAL(g.prompts[2], "between");
	/* Seven images at most. */
	memset(&v, 0, sizeof(v));
	arg(&v, "type", "transition");
	for (i = 0; i < 8; i++) {
		arg(&v, "image_url", "https://m.test/upload/%zu.png", i);
		arg(&v, "image_path", "upload/%zu.png", i);
	}
	CU_ASSERT_EQUAL(parse(&v, &g), PROVAUTH_EINVAL);
	CU_ASSERT(error_says("2 to 7"));
}

static void test_estimate_cost(void)
{
	char kind[PROVAUTH_CREDIT_KIND_MAX];
	argv_ v = { 0 };
	int64_t cost = -1;

	arg(&v, "prompt", "a cat");
	arg(&v, "model", "v6");
	arg(&v, "quality", "1080p");
	arg(&v, "duration", "15");
	memset(kind, 'x', sizeof(kind));
	CU_ASSERT_EQUAL(pv_estimate_cost(&state, "generate", v.a, v.n, kind, &cost), 0);
	CU_ASSERT_STRING_EQUAL(kind, "web");
	CU_ASSERT_EQUAL(cost, 16 * 15);
	/* The same validation as generate: one beyond the model's range is refused, naming it. */
	memset(&v, 0, sizeof(v));
	arg(&v, "prompt", "a cat");
	arg(&v, "duration", "12");
	CU_ASSERT_EQUAL(pv_estimate_cost(&state, "generate", v.a, v.n, kind, &cost), PROVAUTH_EINVAL);
	CU_ASSERT(error_says("duration '12': model v5 allows 1 to 10 s"));
	CU_ASSERT_EQUAL(pv_estimate_cost(&state, "credits", NULL, 0, kind, &cost), PROVAUTH_ENOTFOUND);
	CU_ASSERT_EQUAL(pv_estimate_cost(&state, "upload", NULL, 0, kind, &cost), PROVAUTH_ENOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(pv_pool_hooks.status);
	CU_ASSERT_PTR_NOT_NULL(pv_pool_hooks.job_status);
	CU_ASSERT_STRING_EQUAL(pv_pool_hooks.default_credit_kind, "web");
	CU_ASSERT_EQUAL(pv_pool_hooks.default_max_concurrent, 2);
	CU_ASSERT_EQUAL(pv_pool_hooks.struct_size, sizeof(provauth_pool_hooks));
}

/* ------------------------------------------------------------------------ */
/* Job states                                                               */
/* ------------------------------------------------------------------------ */

#define ORI_MP4 "http://127.0.0.1:1/media/web/ori/12.mp4"
#define ORI_PNG "http://127.0.0.1:1/media/web/ori/12.png"
#define OPENAPI_MP4 "https://media.test/openapi/output/12.mp4"
#define PLACEHOLDER_MP4 "http://127.0.0.1:1/media/pixverse/mp4/media/default.mp4"
#define PLACEHOLDER_JPG "http://127.0.0.1:1/media/pixverse/jpg/media/default.jpg"

static void test_video_states(void)
{
	static const struct {
		long long status;
		const char *url;
		long long w, h;
		const char *want;
	} rows[] = {
		{ 5, NULL, 0, 0, "processing" },
		{ 0, NULL, 0, 0, "processing" },
		{ 2, NULL, 0, 0, "processing" },
		{ 10, ORI_MP4, 0, 0, "processing" },      /* the early CDN entry: no size yet */
		{ 10, ORI_MP4, 1280, 0, "processing" },
		{ 10, ORI_MP4, 1280, 720, "done" },
		{ 1, ORI_MP4, 1280, 720, "done" },
		{ 1, OPENAPI_MP4, 1280, 720, "done" },
		{ 1, PLACEHOLDER_MP4, 1280, 720, "processing" }, /* a placeholder is never a result */
		{ 1, "http://127.0.0.1:1/media/other/12.mp4", 1280, 720, "processing" },
		{ 1, NULL, 1280, 720, "processing" },
		{ 7, PLACEHOLDER_MP4, 0, 0, "moderated" },
		{ 3, NULL, 0, 0, "moderated" },
		{ 17, NULL, 0, 0, "moderated" },
		{ 8, NULL, 0, 0, "failed" },
		{ 9, NULL, 0, 0, "failed" },
		{ -1, NULL, 0, 0, "failed" },
		{ 4, NULL, 0, 0, "failed" },
	};
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(rows); i++) {
		const char *got = pv_video_state(rows[i].status, rows[i].url, rows[i].w, rows[i].h);
		if (strcmp(got, rows[i].want) != 0)
			fprintf(stderr, "\n  video row %zu: %s, want %s\n", i, got, rows[i].want);
		CU_ASSERT_STRING_EQUAL(got, rows[i].want);
	}
}

static void test_image_states(void)
{
	static const struct {
		long long status;
		const char *url;
		const char *want;
	} rows[] = {
		{ 5, NULL, "processing" },
		{ 10, ORI_PNG, "processing" }, /* the early queue for images, never a completion */
		{ 1, ORI_PNG, "done" },
		{ 1, PLACEHOLDER_JPG, "processing" },
		{ 1, "http://x.test/pixverse/jpg/media/default.jpeg", "processing" },
		{ 7, PLACEHOLDER_JPG, "moderated" },
		{ 8, NULL, "failed" },
		{ 9, NULL, "failed" },
	};
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(rows); i++)
		CU_ASSERT_STRING_EQUAL(pv_image_state(rows[i].status, rows[i].url, 640, 640), rows[i].want);
}

/* ------------------------------------------------------------------------ */
/* classify: the generation ErrCodes                                        */
/* ------------------------------------------------------------------------ */

static void classify_body(const char *body, provauth_outcome *o)
{
	provauth_failure f = { PROVAUTH_FAILURE_NONE, PROVAUTH_ERROR, 0, NULL, NULL, 0, -1 };

	CU_ASSERT_FATAL(provauth_failure_set_http(&f, 200, body, strlen(body), -1) == 0);
	memset(o, 0, sizeof(*o));
	o->result = f.code;
	o->retry_after = -1;
	CU_ASSERT_EQUAL(pv_classify_error(&state, &f, o), 0);
	provauth_failure_clear(&f);
}

static void test_classify_generation(void)
{
	static const struct {
		long long code;
		int result;
		const char *reason;
	} rows[] = {
		{ 500044, PROVAUTH_ECONCURRENCY, "concurrency_limit" },
		{ 500090, PROVAUTH_ECREDITS, "insufficient_balance" },
		{ 500043, PROVAUTH_ECREDITS, "credits_exhausted" },
		{ 500054, PROVAUTH_EMODERATED, "content_output_rejected" },
		{ 500063, PROVAUTH_EREJECTED, "content_prompt_rejected" },
		{ 400011, PROVAUTH_EINVAL, "bad_parameter" },
		{ 400017, PROVAUTH_EINVAL, "bad_parameter" },
		{ 400018, PROVAUTH_EINVAL, "bad_parameter" },
		{ 400019, PROVAUTH_EINVAL, "bad_parameter" },
		{ 400032, PROVAUTH_EINVAL, "bad_parameter" },
		{ 400000, PROVAUTH_EINVAL, "bad_parameter" },
		{ 400099, PROVAUTH_EINVAL, "bad_parameter" },
		{ 500069, PROVAUTH_EOVERLOAD, "high_load" },
		{ 500030, PROVAUTH_EINVAL, "bad_image" },
		{ 500031, PROVAUTH_EINVAL, "bad_image" },
		{ 500032, PROVAUTH_EINVAL, "bad_image" },
		{ 500033, PROVAUTH_EINVAL, "bad_image" },
		{ 500041, PROVAUTH_EINVAL, "bad_image" },
		{ 500042, PROVAUTH_EINVAL, "bad_image" },
		/* Just outside the ranges: the service's other codes. */
		{ 400100, PROVAUTH_EPROVIDER, "api_error" },
		{ 500034, PROVAUTH_EPROVIDER, "api_error" },
	};
	provauth_outcome o;
	char body[160], code[16];
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(rows); i++) {
		snprintf(body, sizeof(body), "{\"ErrCode\":%lld,\"ErrMsg\":\"whatever\",\"Resp\":null}", rows[i].code);
		snprintf(code, sizeof(code), "%lld", rows[i].code);
		classify_body(body, &o);
		if (o.result != rows[i].result)
			fprintf(stderr, "\n  %lld: result %d, want %d\n", rows[i].code, o.result, rows[i].result);
		CU_ASSERT_EQUAL(o.result, rows[i].result);
		CU_ASSERT_STRING_EQUAL(o.error_reason, rows[i].reason);
		CU_ASSERT_STRING_EQUAL(o.error_code, code);
		CU_ASSERT_EQUAL(o.is_session_error, 0);
		CU_ASSERT_EQUAL(o.should_attempt_reauth, 0);
		CU_ASSERT_EQUAL(o.should_invalidate_cache, 0);
		CU_ASSERT_EQUAL(o.start_login_cooldown, 0);
	}
	/* A session code is still one. */
	classify_body("{\"ErrCode\":10005,\"ErrMsg\":\"logged in elsewhere\"}", &o);
	CU_ASSERT_EQUAL(o.is_session_error, 1);
	classify_body("{\"ErrCode\":10001,\"ErrMsg\":\"account is blocked,exit\"}", &o);
	CU_ASSERT_EQUAL(o.result, PROVAUTH_EBANNED);
	CU_ASSERT_EQUAL(o.is_session_error, 0);
}

/* ------------------------------------------------------------------------ */
/* Multipart                                                                */
/* ------------------------------------------------------------------------ */

static void test_multipart(void)
{
	static const unsigned char data[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x00, 0x1a, '\n', 0xff };
	const char *want_head = "--BOUND\r\nContent-Disposition: form-data; name=\"image\"; filename=\"cat.png\"\r\n"
	                        "Content-Type: image/png\r\n\r\n";
	const char *want_tail = "\r\n--BOUND--\r\n";
	size_t len = 0, hn = strlen(want_head), tn = strlen(want_tail);
	char *body = pv_multipart_build("BOUND", "cat.png", "image/png", data, sizeof(data), &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	CU_ASSERT_EQUAL(len, hn + sizeof(data) + tn);
	CU_ASSERT(memcmp(body, want_head, hn) == 0);
	CU_ASSERT(memcmp(body + hn, data, sizeof(data)) == 0);
	CU_ASSERT(memcmp(body + hn + sizeof(data), want_tail, tn) == 0);
	free(body);

	CU_ASSERT_STRING_EQUAL(pv_image_mime("a.PNG"), "image/png");
	CU_ASSERT_STRING_EQUAL(pv_image_mime("dir.x/a.jpg"), "image/jpeg");
	CU_ASSERT_STRING_EQUAL(pv_image_mime("a.jpeg"), "image/jpeg");
	CU_ASSERT_STRING_EQUAL(pv_image_mime("a.webp"), "image/webp");
	CU_ASSERT_PTR_NULL(pv_image_mime("a.gif"));
	CU_ASSERT_PTR_NULL(pv_image_mime("png"));

	body = pv_upload_path_of("http://127.0.0.1:9/media/upload/1f2e.png");
	CU_ASSERT_STRING_EQUAL(body, "upload/1f2e.png");
	free(body);
	CU_ASSERT_PTR_NULL(pv_upload_path_of("http://127.0.0.1:9/media/other/1f2e.png"));
	CU_ASSERT_PTR_NULL(pv_upload_path_of("http://127.0.0.1:9/upload/"));
}

/* ------------------------------------------------------------------------ */
/* Operations over a scripted HTTP stub                                     */
/* ------------------------------------------------------------------------ */

#define STUB_MAX 16

typedef struct stub_req {
	char method[8], url[256];
	char *body;
	size_t body_len;
	char refresh[32], content_type[160], api_key[80];
	int api_key_secret;
} stub_req;

/* The reply to a URL ending in `path` (the first rule that matches). */
typedef struct stub_rule {
	const char *path;
	const char *body;
} stub_rule;

static stub_req reqs[STUB_MAX];
static size_t nreqs;
static const stub_rule *rules;
static provauth_host stub_host;
static pv_state stub_state;

static void header_copy(char *dst, size_t size, const provauth_http_request *req, const char *name, int *secret)
{
	size_t i;

	dst[0] = '\0';
	for (i = 0; i < req->header_count; i++)
		if (strcasecmp(req->headers[i].name, name) == 0) {
			snprintf(dst, size, "%s", req->headers[i].value);
			if (secret)
				*secret = req->headers[i].secret;
		}
}

static int stub_request(const provauth_host *h, const provauth_http_request *req, provauth_http_response **out)
{
	stub_req *r = &reqs[nreqs < STUB_MAX ? nreqs : STUB_MAX - 1];
	const char *path = strstr(req->url, "//") ? strchr(strstr(req->url, "//") + 2, '/') : req->url;
	size_t i;

	(void)h;
	nreqs++;
	free(r->body);
	memset(r, 0, sizeof(*r));
	snprintf(r->method, sizeof(r->method), "%s", req->method);
	snprintf(r->url, sizeof(r->url), "%s", req->url);
	r->body = malloc(req->body_len + 1);
	memcpy(r->body, req->body ? req->body : "", req->body_len);
	r->body[req->body_len] = '\0';
	r->body_len = req->body_len;
	header_copy(r->refresh, sizeof(r->refresh), req, "refresh", NULL);
	header_copy(r->content_type, sizeof(r->content_type), req, "Content-Type", NULL);
	header_copy(r->api_key, sizeof(r->api_key), req, "API-KEY", &r->api_key_secret);
	for (i = 0; rules && rules[i].path; i++)
		if (path && strcmp(path, rules[i].path) == 0)
			return pa_http_response_new(out, 200, NULL, 0, rules[i].body, strlen(rules[i].body));
	return pa_http_response_new(out, 404, NULL, 0, "not found", 9);
}

static void stub_reset(const stub_rule *r)
{
	size_t i;

	for (i = 0; i < STUB_MAX; i++) {
		free(reqs[i].body);
		reqs[i].body = NULL;
	}
	memset(reqs, 0, sizeof(reqs));
	nreqs = 0;
	rules = r;
}

/* A session as the host builds it: JWT, a cookie, and optionally the openapi key. */
typedef struct sess {
	provauth_account *a;
	pa_cached c;
	provauth_update *u;
} sess;

static void sess_open(sess *s, int with_key)
{
	memset(s, 0, sizeof(*s));
	CU_ASSERT_FATAL(provauth_account_new(&s->a, "acct-1", "pixverse") == 0);
	provauth_account_set(&s->a->email, "user@example.com");
	provauth_account_set_credential(s->a, PROVAUTH_CRED_JWT, NULL, JWT_SECRET, 0);
	provauth_account_set_cookie(s->a, "sid", COOKIE_SECRET);
	if (with_key)
		provauth_account_set_credential(s->a, PROVAUTH_CRED_API_KEY, "openapi", API_KEY_SECRET, 0);
	CU_ASSERT_FATAL(pa_update_new(&s->u) == 0);
	s->c.s.account_id = s->a->id;
	s->c.s.provider = s->a->provider;
	s->c.s.email = s->a->email;
	CU_ASSERT_FATAL(pa_session_lend_credentials(&s->c, s->a) == 0);
	s->c.s.metadata = pa_account_metadata(s->a);
	CU_ASSERT_FATAL(pv_build_session(&stub_state, s->a, &s->c.s, s->u) == 0);
}

static void sess_close(sess *s)
{
	if (s->c.s.provider_data)
		pv_session_data_free(&stub_state, s->c.s.provider_data);
	provauth_account_free(s->c.creds);
	pa_update_free(s->u);
	provauth_account_free(s->a);
}

static void stub_init(void)
{
	stub_host = host;
	stub_host.http_request = stub_request;
	stub_state = state;
	stub_state.host = &stub_host;
	stub_state.base_url = "http://api.test";
	stub_state.web_origin = "https://app.test";
	stub_state.openapi_base_url = "http://openapi.test";
	stub_state.user_agent = "TestAgent/1.0";
}

/* Runs a named operation as run_with_session would; the failure is cleared after. */
static int run_op(int (*op)(void *, const provauth_session *, const provauth_op_arg *, size_t, char **,
                            provauth_failure *), sess *s, argv_ *v, char **out, provauth_failure *f)
{
	memset(f, 0, sizeof(*f));
	f->retry_after = -1;
	*out = NULL;
	return op(&stub_state, &s->c.s, v ? v->a : NULL, v ? v->n : 0, out, f);
}

/* A member of a JSON text, as text (integers and strings); "" when absent. */
static const char *member(const char *json, const char *path)
{
	static char buf[256];
	provauth_json *j = host.json_parse(json, strlen(json));
	const provauth_json *m = host.json_get(j, path);
	int64_t n;

	buf[0] = '\0';
	if (host.json_string(m))
		snprintf(buf, sizeof(buf), "%s", host.json_string(m));
	else if (host.json_int(m, &n) == 0)
		snprintf(buf, sizeof(buf), "%lld", (long long)n);
	else if (m) {
		char *t = host.json_serialize(m);
		snprintf(buf, sizeof(buf), "%s", t);
		host.free(&host, t);
	}
	host.json_free(j);
	return buf;
}

static int has_member(const char *json, const char *key)
{
	provauth_json *j = host.json_parse(json, strlen(json));
	int has = host.json_get(j, key) != NULL;

	host.json_free(j);
	return has;
}

static int has_no_secret(const char *text)
{
	return text && !strstr(text, JWT_SECRET) && !strstr(text, API_KEY_SECRET) && !strstr(text, COOKIE_SECRET);
}

static const stub_rule gen_rules[] = {
	{ "/creative_platform/video/t2v", "{\"ErrCode\":0,\"ErrMsg\":\"success\",\"Resp\":{\"video_ids\":[101]}}" },
	{ "/creative_platform/video/i2v", "{\"ErrCode\":0,\"ErrMsg\":\"success\",\"Resp\":{\"video_ids\":[102]}}" },
	{ "/creative_platform/video/extend", "{\"ErrCode\":0,\"ErrMsg\":\"success\",\"Resp\":{\"video_ids\":[103]}}" },
	{ "/creative_platform/video/frames", "{\"ErrCode\":0,\"ErrMsg\":\"success\",\"Resp\":{\"video_ids\":[104]}}" },
	{ "/creative_platform/image/i2i", "{\"ErrCode\":0,\"ErrMsg\":\"success\",\"Resp\":{\"success_ids\":[205]}}" },
	{ NULL, NULL },
};

static void test_generate_requests(void)
{
	provauth_failure f;
	argv_ v = { 0 };
	char *out;
	sess s;

	stub_init();
	sess_open(&s, 0);

	stub_reset(gen_rules);
	arg(&v, "prompt", "a \"quoted\" cat");
	arg(&v, "model", "v5.5");
	arg(&v, "quality", "720p");
	arg(&v, "duration", "8");
	arg(&v, "seed", "42");
	arg(&v, "negative_prompt", "dogs");
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_generate, &s, &v, &out, &f), 0);
	CU_ASSERT_EQUAL(nreqs, 1);
	CU_ASSERT_STRING_EQUAL(reqs[0].url, "http://api.test/creative_platform/video/t2v");
	CU_ASSERT_STRING_EQUAL(reqs[0].refresh, "credit");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "prompt"), "a \"quoted\" cat");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "model"), "v5.5");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "quality"), "720p");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "duration"), "8");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "aspect_ratio"), "16:9");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "create_count"), "1");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "lip_sync_tts_speaker_id"), "Auto");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "credit_change"), "64");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "seed"), "42");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "negative_prompt"), "dogs");
	CU_ASSERT_STRING_EQUAL(member(out, "job_id"), "101");
	CU_ASSERT_STRING_EQUAL(member(out, "kind"), "video");
	CU_ASSERT_STRING_EQUAL(member(out, "type"), "t2v");
	CU_ASSERT_STRING_EQUAL(member(out, "cost"), "64");
	CU_ASSERT_STRING_EQUAL(member(out, "credit_kind"), "web");
	CU_ASSERT(has_no_secret(out));
	host.free(&host, out);

	stub_reset(gen_rules);
	memset(&v, 0, sizeof(v));
	arg(&v, "type", "i2v");
	arg(&v, "prompt", "it moves");
	arg(&v, "image_url", "http://127.0.0.1:1/media/upload/u1.png");
	arg(&v, "image_path", "upload/u1.png");
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_generate, &s, &v, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(reqs[0].url, "http://api.test/creative_platform/video/i2v");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "customer_img_path"), "upload/u1.png");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "customer_img_url"), "http://127.0.0.1:1/media/upload/u1.png");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "aspect_ratio"), "");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "prompt"), "it moves");
	CU_ASSERT_STRING_EQUAL(member(out, "job_id"), "102");
	host.free(&host, out);

	stub_reset(gen_rules);
	memset(&v, 0, sizeof(v));
	arg(&v, "type", "extend");
	arg(&v, "video_id", "101");
	arg(&v, "prompt", "more");
	arg(&v, "duration", "3");
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_generate, &s, &v, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(reqs[0].url, "http://api.test/creative_platform/video/extend");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "original_video_id"), "101");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "platform"), "web");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "credit_change"), "12");
	CU_ASSERT_STRING_EQUAL(reqs[0].refresh, "credit");
	host.free(&host, out);

	stub_reset(gen_rules);
	memset(&v, 0, sizeof(v));
	arg(&v, "type", "transition");
	arg(&v, "image_url", "http://m.test/upload/a.png");
	arg(&v, "image_path", "upload/a.png");
	arg(&v, "image_url", "http://m.test/upload/b.png");
	arg(&v, "image_path", "upload/b.png");
	arg(&v, "image_url", "http://m.test/upload/c.png");
	arg(&v, "image_path", "upload/c.png");
	arg(&v, "prompts", "one");
	arg(&v, "prompts", "two");
	arg(&v, "durations", "2,6");
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_generate, &s, &v, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(reqs[0].url, "http://api.test/creative_platform/video/frames");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "customer_img_paths"), "[\"upload/a.png\",\"upload/b.png\","
	                       "\"upload/c.png\"]");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "prompts"), "[\"one\",\"two\"]");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "durations"), "[2,6]");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "duration"), "2");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "credit_change"), "32");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "off_peak"), "0");
	CU_ASSERT_STRING_EQUAL(member(out, "cost"), "32");
	/* Two segments: no single prompt. */
	CU_ASSERT(!has_member(reqs[0].body, "prompt"));
	host.free(&host, out);

	/* One segment (two images): its prompt goes as prompt too. */
	stub_reset(gen_rules);
	memset(&v, 0, sizeof(v));
	arg(&v, "type", "transition");
	arg(&v, "image_url", "http://m.test/upload/a.png");
	arg(&v, "image_path", "upload/a.png");
	arg(&v, "image_url", "http://m.test/upload/b.png");
	arg(&v, "image_path", "upload/b.png");
	arg(&v, "prompts", "only");
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_generate, &s, &v, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "prompt"), "only");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "prompts"), "[\"only\"]");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "durations"), "[5]");
	CU_ASSERT_STRING_EQUAL(member(out, "cost"), "20");
	host.free(&host, out);

	/* An image job: success_ids when there is no image_id, and the "image:" id. */
	stub_reset(gen_rules);
	memset(&v, 0, sizeof(v));
	arg(&v, "type", "i2i");
	arg(&v, "prompt", "a cat");
	arg(&v, "model", "gemini-3.0");
	arg(&v, "quality", "4k");
	arg(&v, "image_url", "http://m.test/upload/a.png");
	arg(&v, "image_path", "upload/a.png");
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_generate, &s, &v, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(reqs[0].url, "http://api.test/creative_platform/image/i2i");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "quality"), "2160p");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "seed"), "0");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "customer_img_urls"), "[\"http://m.test/upload/a.png\"]");
	CU_ASSERT_STRING_EQUAL(member(out, "job_id"), "image:205");
	CU_ASSERT_STRING_EQUAL(member(out, "kind"), "image");
	CU_ASSERT_STRING_EQUAL(member(out, "cost"), "90");
	host.free(&host, out);

	/* A parameter refused: no request at all. */
	stub_reset(gen_rules);
	memset(&v, 0, sizeof(v));
	arg(&v, "prompt", "x");
	arg(&v, "duration", "11");
	CU_ASSERT_EQUAL(run_op(pv_op_generate, &s, &v, &out, &f), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(nreqs, 0);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_NONE);
	sess_close(&s);
}

static void test_generate_reply_without_id(void)
{
	static const stub_rule none[] = {
		{ "/creative_platform/image/i2i", "{\"ErrCode\":0,\"Resp\":{\"failed_ids\":[9]}}" },
		{ "/creative_platform/video/t2v", "{\"ErrCode\":500044,\"ErrMsg\":\"limit\",\"Resp\":null}" },
		{ NULL, NULL },
	};
	provauth_failure f;
	provauth_outcome o;
	argv_ v = { 0 };
	char *out;
	sess s;

	stub_init();
	sess_open(&s, 0);
	stub_reset(none);
	arg(&v, "type", "t2i");
	arg(&v, "prompt", "a cat");
	CU_ASSERT_EQUAL(run_op(pv_op_generate, &s, &v, &out, &f), PROVAUTH_EPROTOCOL);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT(strstr(f.message, "image_id") != NULL);
	provauth_failure_clear(&f);
	/* A service refusal is described as it came, for classify. */
	memset(&v, 0, sizeof(v));
	arg(&v, "prompt", "a cat");
	CU_ASSERT_EQUAL(run_op(pv_op_generate, &s, &v, &out, &f), PROVAUTH_EPROVIDER);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_HTTP);
	memset(&o, 0, sizeof(o));
	pv_classify_error(&stub_state, &f, &o);
	CU_ASSERT_EQUAL(o.result, PROVAUTH_ECONCURRENCY);
	provauth_failure_clear(&f);
	sess_close(&s);
}

static const stub_rule list_rules[] = {
	{ "/creative_platform/video/list/personal",
	  "{\"ErrCode\":0,\"Resp\":{\"total\":5,\"data\":["
	  "{\"video_id\":5,\"video_status\":10,\"url\":\"http://127.0.0.1:1/media/web/ori/5.mp4\","
	  "\"output_width\":0,\"output_height\":0},"
	  "{\"video_id\":4,\"video_status\":1,\"url\":\"http://127.0.0.1:1/media/web/ori/4.mp4\","
	  "\"output_width\":1280,\"output_height\":720},"
	  "{\"video_id\":3,\"video_status\":7,\"url\":\"http://127.0.0.1:1/media/pixverse/mp4/media/default.mp4\","
	  "\"output_width\":1280,\"output_height\":720},"
	  "{\"video_id\":2,\"video_status\":8,\"url\":\"\"},"
	  "{\"video_id\":1,\"video_status\":5,\"url\":\"\"}]}}" },
	{ "/creative_platform/image/list/personal",
	  "{\"ErrCode\":0,\"Resp\":{\"data\":["
	  "{\"image_id\":7,\"image_status\":1,\"image_url\":\"http://127.0.0.1:1/media/web/ori/7.png\",\"width\":9,"
	  "\"height\":9},"
	  "{\"image_id\":6,\"image_status\":10,\"image_url\":\"http://127.0.0.1:1/media/web/ori/6.png\"}]}}" },
	{ NULL, NULL },
};

static int count_requests(const char *path)
{
	size_t i;
	int n = 0;

	for (i = 0; i < nreqs && i < STUB_MAX; i++)
		if (strstr(reqs[i].url, path))
			n++;
	return n;
}

static void test_jobs_batched(void)
{
	static const char *const want[][4] = {
		{ "5", "processing", "", "10" },
		{ "4", "done", "http://127.0.0.1:1/media/web/ori/4.mp4", "1" },
		{ "3", "moderated", "", "7" },
		{ "2", "failed", "", "8" },
		{ "1", "processing", "", "5" },
		{ "99", "unknown", "", "" },
		{ "image:7", "done", "http://127.0.0.1:1/media/web/ori/7.png", "1" },
		{ "image:6", "processing", "", "10" },
		{ "image:5", "unknown", "", "" },
	};
	provauth_failure f;
	argv_ v = { 0 };
	char *out;
	size_t i;
	sess s;

	stub_init();
	sess_open(&s, 0);
	stub_reset(list_rules);
	arg(&v, "ids", "5,4,3,2,1,99");
	arg(&v, "id", "image:7");
	arg(&v, "ids", "image:6,image:5");
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_jobs, &s, &v, &out, &f), 0);
	/* One request of each kind for nine jobs. */
	CU_ASSERT_EQUAL(nreqs, 2);
	CU_ASSERT_EQUAL(count_requests("/video/list/personal"), 1);
	CU_ASSERT_EQUAL(count_requests("/image/list/personal"), 1);
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "limit"), "200");
	CU_ASSERT_STRING_EQUAL(reqs[0].refresh, "");
	for (i = 0; i < PA_ARRAY_LEN(want); i++) {
		{
			provauth_json *j = host.json_parse(out, strlen(out));
			const provauth_json *e = host.json_array_at(host.json_get(j, "jobs"), i);
			int64_t code;

			CU_ASSERT_STRING_EQUAL(host.json_string(host.json_get(e, "id")), want[i][0]);
			CU_ASSERT_STRING_EQUAL(host.json_string(host.json_get(e, "state")), want[i][1]);
			if (*want[i][2]) {
				CU_ASSERT_STRING_EQUAL(host.json_string(host.json_get(e, "url")), want[i][2]);
			} else {
				CU_ASSERT_EQUAL(host.json_type(host.json_get(e, "url")), PROVAUTH_JSON_NULL);
			}
			if (*want[i][3]) {
				CU_ASSERT_EQUAL(host.json_int(host.json_get(e, "code"), &code), 0);
				CU_ASSERT_EQUAL(code, strtoll(want[i][3], NULL, 10));
			} else {
				CU_ASSERT_EQUAL(host.json_type(host.json_get(e, "code")), PROVAUTH_JSON_NULL);
			}
			host.json_free(j);
		}
	}
	host.free(&host, out);

	/* Videos only: no image request. */
	stub_reset(list_rules);
	{
		const char *ids[] = { "4", "3" };
		CU_ASSERT_EQUAL(pv_job_status(&stub_state, &s.c.s, ids, 2, &out, &f), 0);
		CU_ASSERT_EQUAL(nreqs, 1);
		CU_ASSERT_EQUAL(count_requests("/video/list/personal"), 1);
		host.free(&host, out);
	}
	/* More ids than one list page: still one request, the ones not listed "unknown". */
	stub_reset(list_rules);
	{
		static char texts[PV_JOB_IDS_MAX + 50][16];
		const char *many[PV_JOB_IDS_MAX + 50];
		provauth_json *j;

		for (i = 0; i < PA_ARRAY_LEN(many); i++) {
			snprintf(texts[i], sizeof(texts[i]), "%zu", 1000 + i);
			many[i] = texts[i];
		}
		many[0] = "4";
		CU_ASSERT_EQUAL_FATAL(pv_job_status(&stub_state, &s.c.s, many, PA_ARRAY_LEN(many), &out, &f), 0);
		CU_ASSERT_EQUAL(nreqs, 1);
		j = host.json_parse(out, strlen(out));
		CU_ASSERT_EQUAL(host.json_array_len(host.json_get(j, "jobs")), PA_ARRAY_LEN(many));
		CU_ASSERT_STRING_EQUAL(host.json_string(host.json_get(host.json_array_at(host.json_get(j, "jobs"), 0),
		                                                      "state")), "done");
		CU_ASSERT_STRING_EQUAL(host.json_string(host.json_get(host.json_array_at(host.json_get(j, "jobs"), 1),
		                                                      "state")), "unknown");
		host.json_free(j);
		host.free(&host, out);
	}
	/* A malformed id: refused before any request. */
	stub_reset(list_rules);
	memset(&v, 0, sizeof(v));
	arg(&v, "ids", "4,image:x");
	CU_ASSERT_EQUAL(run_op(pv_op_jobs, &s, &v, &out, &f), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(nreqs, 0);
	CU_ASSERT(error_says("image:x"));
	sess_close(&s);
}

static void test_delete(void)
{
	static const stub_rule gone[] = {
		{ "/creative_platform/video/delete", "{\"ErrCode\":500064,\"ErrMsg\":\"content has been deleted\"}" },
		{ "/creative_platform/image/delete", "{\"ErrCode\":0,\"ErrMsg\":\"success\",\"Resp\":null}" },
		{ NULL, NULL },
	};
	static const stub_rule refused[] = {
		{ "/creative_platform/video/delete", "{\"ErrCode\":10005,\"ErrMsg\":\"logged in elsewhere\"}" },
		{ NULL, NULL },
	};
	provauth_failure f;
	argv_ v = { 0 };
	char *out;
	sess s;

	stub_init();
	sess_open(&s, 0);
	stub_reset(gone);
	arg(&v, "ids", "11,12,image:13");
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_delete, &s, &v, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(member(out, "deleted"), "[\"11\",\"12\",\"image:13\"]");
	/* The batch, then each video alone (which of them was gone the reply does not say), then the images. */
	CU_ASSERT_EQUAL(count_requests("/video/delete"), 3);
	CU_ASSERT_EQUAL(count_requests("/image/delete"), 1);
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "video_ids"), "[11,12]");
	CU_ASSERT_STRING_EQUAL(member(reqs[0].body, "platform"), "web");
	CU_ASSERT_STRING_EQUAL(member(reqs[3].body, "image_ids"), "[13]");
	CU_ASSERT_STRING_EQUAL(reqs[0].refresh, "");
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_NONE);
	host.free(&host, out);

	stub_reset(refused);
	memset(&v, 0, sizeof(v));
	arg(&v, "id", "11");
	CU_ASSERT_EQUAL(run_op(pv_op_delete, &s, &v, &out, &f), PROVAUTH_EPROVIDER);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_HTTP);
	CU_ASSERT_PTR_NULL(out);
	provauth_failure_clear(&f);
	sess_close(&s);
}

static void test_plan_and_status(void)
{
	static const stub_rule paid[] = {
		{ "/creative_platform/toc/members/plan_details",
		  "{\"ErrCode\":0,\"Resp\":{\"plan_name\":\"Pro\",\"current_plan_type\":2,\"qualities\":[\"720p\"]}}" },
		{ "/creative_platform/user/credits",
		  "{\"ErrCode\":0,\"Resp\":{\"credit_daily\":10,\"credit_monthly\":100,\"credit_package\":7}}" },
		{ "/openapi/v2/account/credits", "{\"ErrCode\":0,\"Resp\":{\"credits\":33}}" },
		{ NULL, NULL },
	};
	static const stub_rule free_plan[] = {
		{ "/creative_platform/toc/members/plan_details",
		  "{\"ErrCode\":0,\"Resp\":{\"plan_name\":\"Free\",\"current_plan_type\":0,\"gen_simultaneously\":0}}" },
		{ NULL, NULL },
	};
	static const stub_rule stated[] = {
		{ "/creative_platform/toc/members/plan_details",
		  "{\"ErrCode\":0,\"Resp\":{\"plan_name\":\"Free\",\"current_plan_type\":0,\"gen_simultaneously\":3}}" },
		{ NULL, NULL },
	};
	static const stub_rule blocked[] = {
		{ "/creative_platform/user/credits", "{\"ErrCode\":10001,\"ErrMsg\":\"account is blocked,exit\"}" },
		{ NULL, NULL },
	};
	provauth_failure f;
	char *out;
	sess s, k;

	stub_init();
	sess_open(&s, 0);
	sess_open(&k, 1);
	stub_reset(paid);
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_plan, &s, NULL, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(member(out, "plan_name"), "Pro");
	CU_ASSERT_STRING_EQUAL(member(out, "plan_type"), "2");
	CU_ASSERT_STRING_EQUAL(member(out, "max_concurrent"), "5");
	CU_ASSERT_STRING_EQUAL(member(out, "gen_simultaneously"), "0");
	CU_ASSERT_STRING_EQUAL(member(out, "qualities"), "[\"720p\"]");
	CU_ASSERT_STRING_EQUAL(reqs[0].body, "{}");
	CU_ASSERT_STRING_EQUAL(reqs[0].method, "POST");
	CU_ASSERT_STRING_EQUAL(reqs[0].refresh, "");
	host.free(&host, out);
	stub_reset(free_plan);
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_plan, &s, NULL, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(member(out, "max_concurrent"), "2");
	host.free(&host, out);
	stub_reset(stated);
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_plan, &s, NULL, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(member(out, "max_concurrent"), "3");
	host.free(&host, out);
	CU_ASSERT_EQUAL(pv_plan_max_concurrent(0, 1), 5);
	CU_ASSERT_EQUAL(pv_plan_max_concurrent(-1, 0), 2);

	/* status: the web total; openapi only with a key. */
	stub_reset(paid);
	memset(&f, 0, sizeof(f));
	CU_ASSERT_EQUAL_FATAL(pv_pool_status(&stub_state, &s.c.s, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(member(out, "credits"), "{\"web\":117}");
	CU_ASSERT_STRING_EQUAL(member(out, "max_concurrent"), "5");
	CU_ASSERT_STRING_EQUAL(member(out, "blocked"), "false");
	CU_ASSERT_EQUAL(count_requests("/openapi/"), 0);
	host.free(&host, out);
	stub_reset(paid);
	CU_ASSERT_EQUAL_FATAL(pv_pool_status(&stub_state, &k.c.s, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(member(out, "credits"), "{\"web\":117,\"openapi\":33}");
	CU_ASSERT(has_no_secret(out));
	host.free(&host, out);
	stub_reset(blocked);
	CU_ASSERT_EQUAL_FATAL(pv_pool_status(&stub_state, &s.c.s, &out, &f), 0);
	CU_ASSERT_STRING_EQUAL(member(out, "blocked"), "true");
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_NONE);
	host.free(&host, out);
	/* Without the plan the limit is unknown (0); a lost session during it fails the call, to be recovered. */
	{
		static const stub_rule no_plan[] = {
			{ "/creative_platform/toc/members/plan_details", "{\"ErrCode\":500100,\"ErrMsg\":\"db\"}" },
			{ "/creative_platform/user/credits", "{\"ErrCode\":0,\"Resp\":{\"credit_daily\":3}}" },
			{ NULL, NULL },
		};
		static const stub_rule lost[] = {
			{ "/creative_platform/toc/members/plan_details", "{\"ErrCode\":10005,\"ErrMsg\":\"elsewhere\"}" },
			{ "/creative_platform/user/credits", "{\"ErrCode\":0,\"Resp\":{\"credit_daily\":3}}" },
			{ NULL, NULL },
		};

		stub_reset(no_plan);
		CU_ASSERT_EQUAL_FATAL(pv_pool_status(&stub_state, &s.c.s, &out, &f), 0);
		CU_ASSERT_STRING_EQUAL(member(out, "max_concurrent"), "0");
		CU_ASSERT_STRING_EQUAL(member(out, "credits"), "{\"web\":3}");
		CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_NONE);
		host.free(&host, out);
		stub_reset(lost);
		out = NULL;
		CU_ASSERT_EQUAL(pv_pool_status(&stub_state, &s.c.s, &out, &f), PROVAUTH_EPROVIDER);
		CU_ASSERT_PTR_NULL(out);
		CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_HTTP);
		provauth_failure_clear(&f);
	}
	sess_close(&s);
	sess_close(&k);
}

static void test_upload(void)
{
	static const stub_rule ok[] = {
		{ "/openapi/v2/image/upload",
		  "{\"ErrCode\":0,\"Resp\":{\"img_id\":77,\"img_url\":\"http://127.0.0.1:1/media/upload/ab-12.png\"}}" },
		{ NULL, NULL },
	};
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 1, 2, 3 };
	char dir[] = "/tmp/pv-gen-XXXXXX", file[128], big[128], gif[128], boundary[96];
	provauth_failure f;
	argv_ v = { 0 };
	const char *b;
	char *out;
	FILE *fp;
	sess s, k;
	int fd;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/cat.png", dir);
	snprintf(big, sizeof(big), "%s/big.jpg", dir);
	snprintf(gif, sizeof(gif), "%s/cat.gif", dir);
	fp = fopen(file, "wb");
	CU_ASSERT_FATAL(fp != NULL);
	fwrite(png, 1, sizeof(png), fp);
	fclose(fp);
	fd = open(big, O_WRONLY | O_CREAT, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(ftruncate(fd, PV_UPLOAD_MAX_BYTES + 1) == 0);
	close(fd);
	fp = fopen(gif, "wb");
	CU_ASSERT_FATAL(fp != NULL);
	fclose(fp);

	stub_init();
	sess_open(&s, 0);
	sess_open(&k, 1);

	/* Without an openapi key: refused, nothing sent. */
	stub_reset(ok);
	arg(&v, "file", "%s", file);
	CU_ASSERT_EQUAL(run_op(pv_op_upload, &s, &v, &out, &f), PROVAUTH_EINVAL);
	CU_ASSERT_STRING_EQUAL(provauth_last_error(), "pixverse: upload needs an openapi API key on the account");
	CU_ASSERT_EQUAL(nreqs, 0);

	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_upload, &k, &v, &out, &f), 0);
	CU_ASSERT_EQUAL(nreqs, 1);
	CU_ASSERT_STRING_EQUAL(reqs[0].url, "http://openapi.test/openapi/v2/image/upload");
	CU_ASSERT_STRING_EQUAL(reqs[0].api_key, API_KEY_SECRET);
	CU_ASSERT_EQUAL(reqs[0].api_key_secret, 1);
	CU_ASSERT(strncmp(reqs[0].content_type, "multipart/form-data; boundary=", 30) == 0);
	b = reqs[0].content_type + 30;
	CU_ASSERT(strlen(b) >= 32);
	{
		size_t len = 0;
		char *want = pv_multipart_build(b, "cat.png", "image/png", png, sizeof(png), &len);

		CU_ASSERT_EQUAL(reqs[0].body_len, len);
		CU_ASSERT(want && len == reqs[0].body_len && memcmp(want, reqs[0].body, len) == 0);
		free(want);
	}
	snprintf(boundary, sizeof(boundary), "%s", b);
	CU_ASSERT_STRING_EQUAL(member(out, "img_id"), "77");
	CU_ASSERT_STRING_EQUAL(member(out, "url"), "http://127.0.0.1:1/media/upload/ab-12.png");
	CU_ASSERT_STRING_EQUAL(member(out, "path"), "upload/ab-12.png");
	CU_ASSERT(has_no_secret(out));
	host.free(&host, out);
	/* A fresh boundary each time. */
	stub_reset(ok);
	CU_ASSERT_EQUAL_FATAL(run_op(pv_op_upload, &k, &v, &out, &f), 0);
	CU_ASSERT_STRING_NOT_EQUAL(reqs[0].content_type + 30, boundary);
	host.free(&host, out);

	/* Over 20 MiB, an unknown extension, a missing file: refused before any request. */
	stub_reset(ok);
	memset(&v, 0, sizeof(v));
	arg(&v, "file", "%s", big);
	CU_ASSERT_EQUAL(run_op(pv_op_upload, &k, &v, &out, &f), PROVAUTH_EINVAL);
	CU_ASSERT(error_says("20 MiB"));
	memset(&v, 0, sizeof(v));
	arg(&v, "file", "%s", gif);
	CU_ASSERT_EQUAL(run_op(pv_op_upload, &k, &v, &out, &f), PROVAUTH_EINVAL);
	CU_ASSERT(error_says(".png, .jpg, .jpeg or .webp"));
	memset(&v, 0, sizeof(v));
	arg(&v, "file", "%s/none.png", dir);
	CU_ASSERT_EQUAL(run_op(pv_op_upload, &k, &v, &out, &f), PROVAUTH_EINVAL);
	CU_ASSERT(error_says("none.png"));
	CU_ASSERT_EQUAL(nreqs, 0);
	CU_ASSERT(has_no_secret(provauth_last_error()));

	sess_close(&s);
	sess_close(&k);
	CU_ASSERT_EQUAL(pa_test_rmtree(dir), 0);
}

static int setup(void)
{
	logger.fn = pa_test_log_capture;
	logger.min_level = PROVAUTH_LOG_DEBUG;
	host_ctx.logger = &logger;
	host_ctx.clock = test_clock;
	pa_host_init(&host, &host_ctx);
	state.host = &host;
	state.jwt_refresh_threshold = 43200;
	return 0;
}

static int teardown(void)
{
	stub_reset(NULL);
	return 0;
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "params: every video model's qualities, durations and cost", test_video_models },
		{ "params: every image model's qualities, 2k/4k, image counts and cost", test_image_models },
		{ "params: defaults and aspect ratios", test_defaults },
		{ "params: refusals name the parameter and what it allows", test_messages_name_the_parameter },
		{ "params: transition segments", test_transition },
		{ "pool: estimate_cost validates as generate does", test_estimate_cost },
		{ "jobs: video states (10 without a size, placeholders)", test_video_states },
		{ "jobs: image states", test_image_states },
		{ "classify: every generation ErrCode", test_classify_generation },
		{ "upload: multipart body, mime types, paths", test_multipart },
		{ "generate: the request of each type", test_generate_requests },
		{ "generate: a reply without an id, a refusal", test_generate_reply_without_id },
		{ "jobs: one list request per kind, states, unknown ids", test_jobs_batched },
		{ "delete: 500064 counts as deleted", test_delete },
		{ "plan and pool status", test_plan_and_status },
		{ "upload: key, multipart request, limits", test_upload },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "pixverse generation (no server)", setup, teardown, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
