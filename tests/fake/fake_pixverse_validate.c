/*
 * The fake Pixverse's checks of a generation request (t2v, i2v, extend,
 * frames, i2i): required fields, the catalog's models, qualities, durations
 * and aspect ratios, image counts and hosts, prompt lengths, and the cost.
 * The answers are the service's ErrCodes (wire contract of issue 16), so the
 * plugin's own checks are tested against the same rules.
 */
#include "config.h"
#include "fake_pixverse_private.h"

#include <stdlib.h>
#include <string.h>

/* The service's limit on prompts, in characters. */
#define MAX_PROMPT_CHARS 5000
/* Transition segments last 1-8 s each (notes A.2). */
#define MIN_SEGMENT_S 1
#define MAX_SEGMENT_S 8
#define MIN_FRAMES 2
#define MAX_FRAMES 7

#define ERR_EMPTY 400011
#define ERR_BAD_PARAM 400017
#define ERR_PROMPT_LONG 400018
#define ERR_NEGATIVE_LONG 400019
#define ERR_BAD_IMAGE 400032
#define ERR_HIGH_LOAD 500069

/* Characters of UTF-8 text: the service counts characters, not bytes. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* Appends s and a space to *text (malloc'd); 0, or -1 out of memory. */
static int text_add(char **text, const char *s)
{
	size_t old = *text ? strlen(*text) : 0, n = strlen(s);
	char *p = realloc(*text, old + n + 2);

	if (!p)
		return -1;
	memcpy(p + old, s, n);
	p[old + n] = ' ';
	p[old + n + 1] = '\0';
	*text = p;
	return 0;
}

static int on_media_host(fake_pixverse *pv, const char *url)
{
	char base[96];
	size_t n;

	fake_pv_media_base(pv, base, sizeof(base));
	n = strlen(base);
	return url && !strncmp(url, base, n) && url[n] == '/' && url[n + 1];
}

/* The checks every prompt gets; 0 or the ErrCode, with *msg. */
static int check_prompt(const char *prompt, int required, const char **msg)
{
	if (!prompt || !*prompt) {
		*msg = "prompt is required";
		return required ? ERR_EMPTY : 0;
	}
	if (utf8_chars(prompt) > MAX_PROMPT_CHARS) {
		*msg = "prompt is longer than 5000 characters";
		return ERR_PROMPT_LONG;
	}
	return 0;
}

/* model, quality and duration of a video request. */
static int check_video_options(json_object *body, pv_gen_request *g, const char **msg)
{
	const pv_video_model *m;
	long long duration = 5;
	json_object *v;

	g->model = fake_json_str(body, "model");
	if (!g->model)
		g->model = "v5";
	g->quality = fake_json_str(body, "quality");
	if (!g->quality)
		g->quality = "360p";
	if (!(m = fake_pv_video_model(g->model))) {
		*msg = "invalid parameter: model";
		return ERR_BAD_PARAM;
	}
	if (!fake_pv_model_has_quality(m->qualities, g->quality)) {
		*msg = "invalid parameter: quality";
		return ERR_BAD_PARAM;
	}
	if (json_object_object_get_ex(body, "duration", &v) && fake_json_int64(&duration, body, "duration") < 0) {
		*msg = "invalid parameter: duration";
		return ERR_BAD_PARAM;
	}
	if (duration < m->min_duration || duration > m->max_duration) {
		*msg = "invalid parameter: duration";
		return ERR_BAD_PARAM;
	}
	g->duration = (int)duration;
	g->cost = (long)fake_pv_video_cost_per_second(g->quality) * g->duration;
	return 0;
}

static int check_urls(fake_pixverse *pv, json_object *urls, size_t n, const char **msg)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_object *u = json_object_array_get_idx(urls, i);

		if (!json_object_is_type(u, json_type_string) || !on_media_host(pv, json_object_get_string(u))) {
			*msg = "invalid image: not a Pixverse media URL";
			return ERR_BAD_IMAGE;
		}
	}
	return 0;
}

/* Checks a generation request by endpoint; 0 with *g filled, or the ErrCode with *msg. */
int fake_pv_check_generation(fake_pixverse *pv, size_t account, int ep, json_object *body,
	pv_gen_request *g, const char **msg)
{
	const char *prompt = fake_json_str(body, "prompt");
	json_object *urls = NULL, *list = NULL;
	int code;

	*msg = NULL;
	if (ep != FAKE_PV_EP_FRAMES && (code = check_prompt(prompt, 1, msg)))
		return code;
	if (prompt && text_add(&g->text, prompt) < 0)
		return ERR_HIGH_LOAD;
	if (ep == FAKE_PV_EP_T2V || ep == FAKE_PV_EP_I2V) {
		const char *neg = fake_json_str(body, "negative_prompt");

		if (neg && utf8_chars(neg) > MAX_PROMPT_CHARS) {
			*msg = "negative_prompt is longer than 5000 characters";
			return ERR_NEGATIVE_LONG;
		}
	}
	switch (ep) {
	case FAKE_PV_EP_T2V:
		if ((code = check_video_options(body, g, msg)))
			return code;
		g->aspect_ratio = fake_json_str(body, "aspect_ratio");
		if (!g->aspect_ratio)
			g->aspect_ratio = "16:9";
		if (!fake_pv_aspect_ratio_ok(g->aspect_ratio)) {
			*msg = "invalid parameter: aspect_ratio";
			return ERR_BAD_PARAM;
		}
		return 0;
	case FAKE_PV_EP_I2V: {
		const char *url = fake_json_str(body, "customer_img_url");

		if ((code = check_video_options(body, g, msg)))
			return code;
		g->aspect_ratio = "16:9";
		if (!url || !*url) {
			*msg = "customer_img_url is required";
			return ERR_EMPTY;
		}
		if (!on_media_host(pv, url)) {
			*msg = "invalid image: not a Pixverse media URL";
			return ERR_BAD_IMAGE;
		}
		return 0;
	}
	case FAKE_PV_EP_EXTEND: {
		long long original;
		pv_job *o;

		if ((code = check_video_options(body, g, msg)))
			return code;
		if (fake_json_int64(&original, body, "original_video_id") < 0) {
			*msg = "original_video_id is required";
			return ERR_EMPTY;
		}
		if (!(o = fake_pv_find_job(pv, account, 0, original))) {
			*msg = "invalid parameter: original_video_id";
			return ERR_BAD_PARAM;
		}
		g->aspect_ratio = o->aspect_ratio;
		return 0;
	}
	case FAKE_PV_EP_FRAMES: {
		json_object *durations, *paths;
		size_t n, i;
		long long sum = 0, d;

		if (!json_object_object_get_ex(body, "customer_img_urls", &urls) ||
		    !json_object_is_type(urls, json_type_array)) {
			*msg = "customer_img_urls is required";
			return ERR_EMPTY;
		}
		n = json_object_array_length(urls);
		if (n < MIN_FRAMES || n > MAX_FRAMES) {
			*msg = "invalid parameter: transitions take 2 to 7 images";
			return ERR_BAD_PARAM;
		}
		if (json_object_object_get_ex(body, "customer_img_paths", &paths) &&
		    (!json_object_is_type(paths, json_type_array) || json_object_array_length(paths) != n)) {
			*msg = "invalid parameter: customer_img_paths";
			return ERR_BAD_PARAM;
		}
		if ((code = check_urls(pv, urls, n, msg)))
			return code;
		if (!json_object_object_get_ex(body, "prompts", &list) || !json_object_is_type(list, json_type_array)) {
			*msg = "prompts is required";
			return ERR_EMPTY;
		}
		if (json_object_array_length(list) != n - 1) {
			*msg = "invalid parameter: prompts (one per segment)";
			return ERR_BAD_PARAM;
		}
		for (i = 0; i < n - 1; i++) {
			json_object *p = json_object_array_get_idx(list, i);

			if (!json_object_is_type(p, json_type_string)) {
				*msg = "invalid parameter: prompts";
				return ERR_BAD_PARAM;
			}
			if ((code = check_prompt(json_object_get_string(p), 0, msg)))
				return code;
			if (text_add(&g->text, json_object_get_string(p)) < 0)
				return ERR_HIGH_LOAD;
		}
		if ((code = check_prompt(prompt, 0, msg)))
			return code;
		if (!json_object_object_get_ex(body, "durations", &durations) ||
		    !json_object_is_type(durations, json_type_array)) {
			*msg = "durations is required";
			return ERR_EMPTY;
		}
		if (json_object_array_length(durations) != n - 1) {
			*msg = "invalid parameter: durations (one per segment)";
			return ERR_BAD_PARAM;
		}
		for (i = 0; i < n - 1; i++) {
			json_object *v = json_object_array_get_idx(durations, i);

			d = json_object_is_type(v, json_type_int) ? (long long)json_object_get_int64(v) : -1;
			if (d < MIN_SEGMENT_S || d > MAX_SEGMENT_S) {
				*msg = "invalid parameter: durations (1 to 8 s each)";
				return ERR_BAD_PARAM;
			}
			sum += d;
		}
		/* The segments' sum is what is charged, not "duration" (= the first). */
		json_object_object_add(body, "duration", json_object_new_int64(json_object_get_int64(
			json_object_array_get_idx(durations, 0))));
		if ((code = check_video_options(body, g, msg)))
			return code;
		g->duration = (int)sum;
		g->cost = (long)fake_pv_video_cost_per_second(g->quality) * sum;
		g->aspect_ratio = "16:9";
		return 0;
	}
	default: {
		const pv_image_model *m;
		size_t n = 0;

		g->is_image = 1;
		g->model = fake_json_str(body, "model");
		if (!g->model)
			g->model = "qwen-image";
		g->quality = fake_pv_normalise_image_quality(fake_json_str(body, "quality"));
		if (!g->quality)
			g->quality = "1080p";
		g->aspect_ratio = fake_json_str(body, "aspect_ratio");
		if (!g->aspect_ratio)
			g->aspect_ratio = "1:1";
		if (!(m = fake_pv_image_model(g->model))) {
			*msg = "invalid parameter: model";
			return ERR_BAD_PARAM;
		}
		if ((g->cost = fake_pv_image_cost(m, g->quality)) < 0) {
			*msg = "invalid parameter: quality";
			return ERR_BAD_PARAM;
		}
		if (!fake_pv_aspect_ratio_ok(g->aspect_ratio)) {
			*msg = "invalid parameter: aspect_ratio";
			return ERR_BAD_PARAM;
		}
		if (json_object_object_get_ex(body, "customer_img_urls", &urls)) {
			if (!json_object_is_type(urls, json_type_array)) {
				*msg = "invalid parameter: customer_img_urls";
				return ERR_BAD_PARAM;
			}
			n = json_object_array_length(urls);
		}
		if (n > (size_t)m->max_images) {
			*msg = "invalid parameter: too many images for the model";
			return ERR_BAD_PARAM;
		}
		return check_urls(pv, urls, n, msg);
	}
	}
}
