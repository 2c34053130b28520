/*
 * Generation parameters: which models, qualities, durations, aspect ratios
 * and image counts each kind of job allows, and what it costs in web
 * credits (the table both the plugin and the fake follow). Validated here,
 * before any request, with a message that names the parameter and what it
 * allows: the generate operation and the pool's estimate_cost read the
 * same args through the same function, so they cannot disagree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "pixverse.h"

typedef struct pv_video_model {
	const char *name;
	const char *const *qualities;
	int64_t min_duration, max_duration;
} pv_video_model;

typedef struct pv_image_quality {
	const char *quality;
	int64_t cost;
} pv_image_quality;

typedef struct pv_image_model {
	const char *name;
	const pv_image_quality *qualities; /* ends with { NULL, 0 } */
	size_t max_images;
} pv_image_model;

static const char *const q_native[] = { "360p", "540p", "720p", "1080p", NULL };
static const char *const q_seedance[] = { "480p", "720p", "1080p", NULL };
static const char *const q_grok[] = { "480p", "720p", NULL };
static const char *const q_happyhorse[] = { "720p", "1080p", NULL };

static const pv_video_model video_models[] = {
	{ "v5", q_native, 1, 10 },
	{ "v5-fast", q_native, 1, 10 },
	{ "v5.5", q_native, 1, 10 },
	{ "v5.6", q_native, 1, 10 },
	{ "v6", q_native, 1, 15 },
	{ "pixverse-c1", q_native, 1, 15 },
	{ "seedance-2.0-standard", q_seedance, 4, 15 },
	{ "seedance-2.0-fast", q_seedance, 4, 15 },
	{ "grok-imagine", q_grok, 1, 10 },
	{ "happyhorse-1.0", q_happyhorse, 3, 15 },
};

static const pv_image_quality iq_qwen[] = { { "1080p", 5 }, { "1440p", 10 }, { NULL, 0 } };
static const pv_image_quality iq_gemini25[] = { { "1080p", 15 }, { NULL, 0 } };
static const pv_image_quality iq_gemini3[] = { { "1080p", 50 }, { "1440p", 50 }, { "2160p", 90 }, { NULL, 0 } };
static const pv_image_quality iq_seedream[] = { { "1080p", 20 }, { "1440p", 20 }, { "2160p", 40 }, { NULL, 0 } };
static const pv_image_quality iq_kling[] = { { "1080p", 30 }, { "1440p", 30 }, { NULL, 0 } };

static const pv_image_model image_models[] = {
	{ "qwen-image", iq_qwen, 3 },
	{ "gemini-2.5-flash", iq_gemini25, 3 },
	{ "gemini-3.0", iq_gemini3, 9 },
	{ "seedream-4.0", iq_seedream, 6 },
	{ "kling-image-o3", iq_kling, 10 },
};

static const struct {
	const char *quality;
	int64_t per_second;
} video_rates[] = { { "360p", 4 }, { "480p", 5 }, { "540p", 6 }, { "720p", 8 }, { "1080p", 16 } };

static const char *const aspect_ratios[] = { "16:9", "9:16", "1:1", "4:3", "3:4", NULL };

static const char *const type_names[] = { "t2v", "i2v", "extend", "transition", "t2i", "i2i" };

#define PV_DEFAULT_VIDEO_MODEL "v5"
#define PV_DEFAULT_VIDEO_QUALITY "360p"
#define PV_DEFAULT_DURATION 5
#define PV_DEFAULT_VIDEO_ASPECT "16:9"
#define PV_DEFAULT_IMAGE_MODEL "qwen-image"
#define PV_DEFAULT_IMAGE_QUALITY "1080p"
#define PV_DEFAULT_IMAGE_ASPECT "1:1"
/* The service's own bound on a prompt (ErrCode 400018 beyond it). */
#define PV_PROMPT_MAX 5000
/* Seeds are 32-bit signed on the wire. */
#define PV_SEED_MAX 2147483647LL

/* Which parameters each type takes (bit per parameter). */
enum {
	P_PROMPT = 1 << 0,
	P_MODEL = 1 << 1,
	P_QUALITY = 1 << 2,
	P_DURATION = 1 << 3,
	P_ASPECT = 1 << 4,
	P_SEED = 1 << 5,
	P_NEGATIVE = 1 << 6,
	P_IMAGES = 1 << 7,
	P_VIDEO_ID = 1 << 8,
	P_DURATIONS = 1 << 9,
	P_PROMPTS = 1 << 10
};

static const unsigned type_params[] = {
	/* t2v */ P_PROMPT | P_MODEL | P_QUALITY | P_DURATION | P_ASPECT | P_SEED | P_NEGATIVE,
	/* i2v */ P_PROMPT | P_MODEL | P_QUALITY | P_DURATION | P_SEED | P_NEGATIVE | P_IMAGES,
	/* extend */ P_PROMPT | P_MODEL | P_QUALITY | P_DURATION | P_SEED | P_VIDEO_ID,
	/* transition */ P_PROMPT | P_MODEL | P_QUALITY | P_DURATION | P_SEED | P_IMAGES | P_DURATIONS | P_PROMPTS,
	/* t2i */ P_PROMPT | P_MODEL | P_QUALITY | P_ASPECT | P_SEED,
	/* i2i */ P_PROMPT | P_MODEL | P_QUALITY | P_ASPECT | P_SEED | P_IMAGES,
};

static const struct {
	const char *key;
	unsigned bit;
	int repeatable;
} known_keys[] = {
	{ "type", 0, 0 },
	{ "prompt", P_PROMPT, 0 },
	{ "model", P_MODEL, 0 },
	{ "quality", P_QUALITY, 0 },
	{ "duration", P_DURATION, 0 },
	{ "aspect_ratio", P_ASPECT, 0 },
	{ "seed", P_SEED, 0 },
	{ "negative_prompt", P_NEGATIVE, 0 },
	{ "image_url", P_IMAGES, 1 },
	{ "image_path", P_IMAGES, 1 },
	{ "video_id", P_VIDEO_ID, 0 },
	{ "durations", P_DURATIONS, 0 },
	{ "prompts", P_PROMPTS, 1 },
};

int64_t pv_video_credits_per_second(const char *quality)
{
	size_t i;

	for (i = 0; quality && i < sizeof(video_rates) / sizeof(video_rates[0]); i++)
		if (strcmp(video_rates[i].quality, quality) == 0)
			return video_rates[i].per_second;
	return -1;
}

/* "a, b, c" into out. */
static void list_text(char *out, size_t size, const char *const *items)
{
	size_t o = 0, i;

	out[0] = '\0';
	for (i = 0; items[i] && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%s", i ? ", " : "", items[i]);
}

static const char *arg_value(const provauth_op_arg *args, size_t nargs, const char *key)
{
	size_t i;

	for (i = 0; i < nargs; i++)
		if (args[i].key && strcmp(args[i].key, key) == 0)
			return args[i].value ? args[i].value : "";
	return NULL;
}

/* A whole decimal integer within [min, max]; 0 or -1. */
static int parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long n;

	if (!text || !*text || *text == ' ' || *text == '+')
		return -1;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno || *end || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/* 1 when every byte of s is printable or a blank a prompt may hold (tab, newline). */
static int text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' && *s != '\r')
			return 0;
	return 1;
}

static int check_keys(const provauth_host *h, const provauth_op_arg *args, size_t nargs, unsigned allowed,
                      const char *type)
{
	size_t i, k, j;

	for (i = 0; i < nargs; i++) {
		const char *key = args[i].key ? args[i].key : "";

		for (k = 0; k < sizeof(known_keys) / sizeof(known_keys[0]); k++)
			if (strcmp(known_keys[k].key, key) == 0)
				break;
		if (k == sizeof(known_keys) / sizeof(known_keys[0]))
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: generate: unknown parameter '%.40s' (known: type, "
			                    "prompt, model, quality, duration, aspect_ratio, seed, negative_prompt, image_url, "
			                    "image_path, video_id, durations, prompts)", key);
		if (known_keys[k].bit && !(allowed & known_keys[k].bit))
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: %s: type %s takes no %s", key, type, key);
		if (known_keys[k].repeatable)
			continue;
		for (j = 0; j < i; j++)
			if (args[j].key && strcmp(args[j].key, key) == 0)
				return h->set_error(h, PROVAUTH_EINVAL, "pixverse: %s: given twice (it takes one value)", key);
	}
	return 0;
}

static int parse_type(const provauth_host *h, const char *v, pv_gen *g)
{
	size_t i;

	if (!v)
		v = "t2v";
	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(type_names[i], v) == 0) {
			g->type = (pv_gen_type)i;
			g->type_name = type_names[i];
			g->is_image = g->type == PV_GEN_T2I || g->type == PV_GEN_I2I;
			return 0;
		}
	return h->set_error(h, PROVAUTH_EINVAL, "pixverse: type '%.40s': allowed t2v, i2v, extend, transition, t2i, i2i",
	                    v);
}

static int parse_images(const provauth_host *h, const provauth_op_arg *args, size_t nargs, pv_gen *g)
{
	size_t i, urls = 0, paths = 0;

	for (i = 0; i < nargs; i++) {
		const char *v = args[i].value ? args[i].value : "";
		int is_url = strcmp(args[i].key ? args[i].key : "", "image_url") == 0;

		if (!is_url && strcmp(args[i].key ? args[i].key : "", "image_path") != 0)
			continue;
		if ((is_url ? urls : paths) >= PV_GEN_IMAGES_MAX)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: %s: at most %d images", args[i].key,
			                    PV_GEN_IMAGES_MAX);
		if (!*v || !provauth_plugin_text_ok(v) || strchr(v, ' '))
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: %s %zu: must be non-empty text without blanks",
			                    args[i].key, (is_url ? urls : paths) + 1);
		if (is_url && strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: image_url %zu: must be an http(s) URL (what upload "
			                    "returns as url)", urls + 1);
		if (is_url)
			g->image_urls[urls++] = v;
		else
			g->image_paths[paths++] = v;
	}
	if (urls != paths)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: image_url and image_path come in pairs, in order (got "
		                    "%zu image_url, %zu image_path; upload returns both)", urls, paths);
	g->image_count = urls;
	return 0;
}

static int check_image_count(const provauth_host *h, const pv_gen *g, size_t max_images)
{
	size_t n = g->image_count;

	switch (g->type) {
	case PV_GEN_I2V:
		if (n != 1)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: image_url: i2v takes exactly 1 image (got %zu)", n);
		break;
	case PV_GEN_TRANSITION:
		if (n < PV_TRANSITION_IMAGES_MIN || n > PV_TRANSITION_IMAGES_MAX)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: image_url: transition takes %d to %d images (got %zu)",
			                    PV_TRANSITION_IMAGES_MIN, PV_TRANSITION_IMAGES_MAX, n);
		break;
	case PV_GEN_I2I:
		if (n < 1 || n > max_images)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: image_url: model %s takes 1 to %zu images for i2i "
			                    "(got %zu)", g->model, max_images, n);
		break;
	default:
		break;
	}
	return 0;
}

static int parse_video_model(const provauth_host *h, const provauth_op_arg *args, size_t nargs, pv_gen *g,
                             const pv_video_model **out)
{
	const char *v = arg_value(args, nargs, "model");
	const char *q = arg_value(args, nargs, "quality");
	char allowed[256];
	const char *names[sizeof(video_models) / sizeof(video_models[0]) + 1];
	size_t i;

	if (!v)
		v = PV_DEFAULT_VIDEO_MODEL;
	*out = NULL;
	for (i = 0; i < sizeof(video_models) / sizeof(video_models[0]); i++) {
		names[i] = video_models[i].name;
		if (strcmp(video_models[i].name, v) == 0)
			*out = &video_models[i];
	}
	names[i] = NULL;
	if (!*out) {
		list_text(allowed, sizeof(allowed), names);
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: model '%.40s': %s allows %s", v, g->type_name, allowed);
	}
	g->model = (*out)->name;
	/* 360p by default; a model without it starts at its lowest quality. */
	if (!q)
		q = strcmp((*out)->qualities[0], PV_DEFAULT_VIDEO_QUALITY) == 0 ? PV_DEFAULT_VIDEO_QUALITY
		                                                                : (*out)->qualities[0];
	for (i = 0; (*out)->qualities[i]; i++)
		if (strcmp((*out)->qualities[i], q) == 0) {
			g->quality = (*out)->qualities[i];
			return 0;
		}
	list_text(allowed, sizeof(allowed), (*out)->qualities);
	return h->set_error(h, PROVAUTH_EINVAL, "pixverse: quality '%.40s': model %s allows %s", q, g->model, allowed);
}

static int parse_image_model(const provauth_host *h, const provauth_op_arg *args, size_t nargs, pv_gen *g,
                             size_t *max_images)
{
	const char *v = arg_value(args, nargs, "model");
	const char *q = arg_value(args, nargs, "quality");
	const pv_image_model *m = NULL;
	const char *names[sizeof(image_models) / sizeof(image_models[0]) + 1];
	const char *quals[4];
	char allowed[256];
	size_t i;

	if (!v)
		v = PV_DEFAULT_IMAGE_MODEL;
	for (i = 0; i < sizeof(image_models) / sizeof(image_models[0]); i++) {
		names[i] = image_models[i].name;
		if (strcmp(image_models[i].name, v) == 0)
			m = &image_models[i];
	}
	names[i] = NULL;
	if (!m) {
		list_text(allowed, sizeof(allowed), names);
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: model '%.40s': %s allows %s", v, g->type_name, allowed);
	}
	g->model = m->name;
	*max_images = m->max_images;
	if (!q)
		q = PV_DEFAULT_IMAGE_QUALITY;
	/* What the web app calls 2k and 4k. */
	else if (strcasecmp(q, "2k") == 0)
		q = "1440p";
	else if (strcasecmp(q, "4k") == 0)
		q = "2160p";
	for (i = 0; m->qualities[i].quality; i++) {
		quals[i] = m->qualities[i].quality;
		if (strcmp(m->qualities[i].quality, q) == 0) {
			g->quality = m->qualities[i].quality;
			g->cost = m->qualities[i].cost;
			return 0;
		}
	}
	quals[i] = NULL;
	list_text(allowed, sizeof(allowed), quals);
	return h->set_error(h, PROVAUTH_EINVAL, "pixverse: quality '%.40s': model %s allows %s", q, g->model, allowed);
}

static int parse_aspect(const provauth_host *h, const char *v, pv_gen *g)
{
	char allowed[64];
	size_t i;

	if (!v) {
		g->aspect_ratio = g->is_image ? PV_DEFAULT_IMAGE_ASPECT : PV_DEFAULT_VIDEO_ASPECT;
		return 0;
	}
	for (i = 0; aspect_ratios[i]; i++)
		if (strcmp(aspect_ratios[i], v) == 0) {
			g->aspect_ratio = aspect_ratios[i];
			return 0;
		}
	list_text(allowed, sizeof(allowed), aspect_ratios);
	return h->set_error(h, PROVAUTH_EINVAL, "pixverse: aspect_ratio '%.20s': allowed %s", v, allowed);
}

/* Transition: durations (a comma list, one per segment) and prompts (one per segment, else prompt for each). */
static int parse_segments(const provauth_host *h, const provauth_op_arg *args, size_t nargs, pv_gen *g)
{
	const char *list = arg_value(args, nargs, "durations");
	const char *one = arg_value(args, nargs, "duration");
	size_t i, n = 0, segments = g->image_count - 1;
	int64_t each = PV_DEFAULT_DURATION;

	g->segment_count = segments;
	if (one && parse_int(one, PV_SEGMENT_SECONDS_MIN, PV_SEGMENT_SECONDS_MAX, &each) < 0)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: duration '%.20s': a transition segment lasts %d to %d s",
		                    one, PV_SEGMENT_SECONDS_MIN, PV_SEGMENT_SECONDS_MAX);
	for (i = 0; i < segments; i++)
		g->durations[i] = each;
	if (list) {
		const char *p = list;

		for (;;) {
			char piece[16];
			size_t len = strcspn(p, ",");
			int64_t d;

			if (n == segments)
				return h->set_error(h, PROVAUTH_EINVAL, "pixverse: durations: %zu images make %zu segments, so %zu "
				                    "values (got more)", g->image_count, segments, segments);
			if (len == 0 || len >= sizeof(piece))
				return h->set_error(h, PROVAUTH_EINVAL, "pixverse: durations: value %zu: %d to %d s", n + 1,
				                    PV_SEGMENT_SECONDS_MIN, PV_SEGMENT_SECONDS_MAX);
			memcpy(piece, p, len);
			piece[len] = '\0';
			if (parse_int(piece, PV_SEGMENT_SECONDS_MIN, PV_SEGMENT_SECONDS_MAX, &d) < 0)
				return h->set_error(h, PROVAUTH_EINVAL, "pixverse: durations: value %zu '%s': %d to %d s", n + 1,
				                    piece, PV_SEGMENT_SECONDS_MIN, PV_SEGMENT_SECONDS_MAX);
			g->durations[n++] = d;
			if (!p[len])
				break;
			p += len + 1;
		}
		if (n != segments)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: durations: %zu images make %zu segments, so %zu "
			                    "values (got %zu)", g->image_count, segments, segments, n);
	}
	n = 0;
	for (i = 0; i < nargs; i++) {
		if (strcmp(args[i].key ? args[i].key : "", "prompts") != 0)
			continue;
		if (n == segments)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: prompts: %zu images make %zu segments, so %zu "
			                    "prompts (got more)", g->image_count, segments, segments);
		g->prompts[n] = args[i].value ? args[i].value : "";
		if (strlen(g->prompts[n]) > PV_PROMPT_MAX || !text_ok(g->prompts[n]))
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: prompts %zu: at most %d characters of text", n + 1,
			                    PV_PROMPT_MAX);
		n++;
	}
	if (n && n != segments)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: prompts: %zu images make %zu segments, so %zu prompts "
		                    "(got %zu)", g->image_count, segments, segments, n);
	for (i = n; i < segments; i++)
		g->prompts[i] = g->prompt;
	g->duration = g->durations[0];
	return 0;
}

int pv_gen_parse(const provauth_host *h, const provauth_op_arg *args, size_t nargs, pv_gen *g)
{
	const pv_video_model *vm = NULL;
	const char *v;
	size_t max_images = 0, i;
	int rc;

	memset(g, 0, sizeof(*g));
	if (nargs && !args)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: generate: arguments missing");
	if ((rc = parse_type(h, arg_value(args, nargs, "type"), g)) < 0 ||
	    (rc = check_keys(h, args, nargs, type_params[g->type], g->type_name)) < 0)
		return rc;
	g->prompt = (v = arg_value(args, nargs, "prompt")) ? v : "";
	if (strlen(g->prompt) > PV_PROMPT_MAX || !text_ok(g->prompt))
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: prompt: at most %d characters of text", PV_PROMPT_MAX);
	/* The service answers 400011 to any job but a transition without one (a transition's segments have theirs). */
	if (!*g->prompt && g->type != PV_GEN_TRANSITION)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: prompt: %s needs a prompt", g->type_name);
	if ((v = arg_value(args, nargs, "negative_prompt"))) {
		if (strlen(v) > PV_PROMPT_MAX || !text_ok(v))
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: negative_prompt: at most %d characters of text",
			                    PV_PROMPT_MAX);
		g->negative_prompt = v;
	}
	if ((v = arg_value(args, nargs, "seed"))) {
		if (parse_int(v, 0, PV_SEED_MAX, &g->seed) < 0)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: seed '%.20s': an integer from 0 to %lld", v,
			                    PV_SEED_MAX);
		g->has_seed = 1;
	}
	if ((rc = g->is_image ? parse_image_model(h, args, nargs, g, &max_images)
	                      : parse_video_model(h, args, nargs, g, &vm)) < 0)
		return rc;
	if ((rc = parse_images(h, args, nargs, g)) < 0 || (rc = check_image_count(h, g, max_images)) < 0)
		return rc;
	if ((type_params[g->type] & P_ASPECT) && (rc = parse_aspect(h, arg_value(args, nargs, "aspect_ratio"), g)) < 0)
		return rc;
	if (g->type == PV_GEN_EXTEND) {
		if (!(v = arg_value(args, nargs, "video_id")))
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: video_id: extend needs the id of the video to extend");
		if (parse_int(v, 1, INT64_MAX, &g->video_id) < 0)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: video_id '%.24s': a positive integer (a video job's "
			                    "id)", v);
	}
	if (g->is_image)
		return 0;
	if (g->type == PV_GEN_TRANSITION) {
		int64_t seconds = 0;

		if ((rc = parse_segments(h, args, nargs, g)) < 0)
			return rc;
		for (i = 0; i < g->segment_count; i++)
			seconds += g->durations[i];
		g->cost = pv_video_credits_per_second(g->quality) * seconds;
		return 0;
	}
	g->duration = PV_DEFAULT_DURATION;
	if ((v = arg_value(args, nargs, "duration")) &&
	    parse_int(v, vm->min_duration, vm->max_duration, &g->duration) < 0)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: duration '%.20s': model %s allows %lld to %lld s", v,
		                    g->model, (long long)vm->min_duration, (long long)vm->max_duration);
	g->cost = pv_video_credits_per_second(g->quality) * g->duration;
	return 0;
}
