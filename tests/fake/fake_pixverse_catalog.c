/*
 * The fake Pixverse's models, qualities and prices: the wire contract's
 * table (issue 16), which the Pixverse plugin validates against too, so a
 * request the plugin lets through and the fake refuses is a bug in one of
 * them.
 */
#include "config.h"
#include "fake_pixverse_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const native_qualities[] = { "360p", "540p", "720p", "1080p", NULL };
static const char *const seedance_qualities[] = { "480p", "720p", "1080p", NULL };
static const char *const grok_qualities[] = { "480p", "720p", NULL };
static const char *const happyhorse_qualities[] = { "720p", "1080p", NULL };

static const pv_video_model video_models[] = {
	{ "v5", native_qualities, 1, 10 },
	{ "v5-fast", native_qualities, 1, 10 },
	{ "v5.5", native_qualities, 1, 10 },
	{ "v5.6", native_qualities, 1, 10 },
	{ "v6", native_qualities, 1, 15 },
	{ "pixverse-c1", native_qualities, 1, 15 },
	{ "seedance-2.0-standard", seedance_qualities, 4, 15 },
	{ "seedance-2.0-fast", seedance_qualities, 4, 15 },
	{ "grok-imagine", grok_qualities, 1, 10 },
	{ "happyhorse-1.0", happyhorse_qualities, 3, 15 },
};

static const char *const qwen_q[] = { "1080p", "1440p", NULL };
static const int qwen_c[] = { 5, 10 };
static const char *const flash_q[] = { "1080p", NULL };
static const int flash_c[] = { 15 };
static const char *const gemini3_q[] = { "1080p", "1440p", "2160p", NULL };
static const int gemini3_c[] = { 50, 50, 90 };
static const char *const seedream_q[] = { "1080p", "1440p", "2160p", NULL };
static const int seedream_c[] = { 20, 20, 40 };
static const char *const kling_q[] = { "1080p", "1440p", NULL };
static const int kling_c[] = { 30, 30 };

static const pv_image_model image_models[] = {
	{ "qwen-image", qwen_q, qwen_c, 3 },
	{ "gemini-2.5-flash", flash_q, flash_c, 3 },
	{ "gemini-3.0", gemini3_q, gemini3_c, 9 },
	{ "seedream-4.0", seedream_q, seedream_c, 6 },
	{ "kling-image-o3", kling_q, kling_c, 10 },
};

const pv_video_model *fake_pv_video_model(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(video_models) / sizeof(video_models[0]); i++)
		if (!strcmp(video_models[i].name, name))
			return &video_models[i];
	return NULL;
}

const pv_image_model *fake_pv_image_model(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(image_models) / sizeof(image_models[0]); i++)
		if (!strcmp(image_models[i].name, name))
			return &image_models[i];
	return NULL;
}

int fake_pv_model_has_quality(const char *const *qualities, const char *quality)
{
	for (; quality && *qualities; qualities++)
		if (!strcmp(*qualities, quality))
			return 1;
	return 0;
}

int fake_pv_video_cost_per_second(const char *quality)
{
	static const struct { const char *q; int cost; } table[] = {
		{ "360p", 4 }, { "480p", 5 }, { "540p", 6 }, { "720p", 8 }, { "1080p", 16 },
	};
	size_t i;

	for (i = 0; quality && i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].q, quality))
			return table[i].cost;
	return -1;
}

int fake_pv_image_cost(const pv_image_model *m, const char *quality)
{
	size_t i;

	for (i = 0; quality && m->qualities[i]; i++)
		if (!strcmp(m->qualities[i], quality))
			return m->costs[i];
	return -1;
}

const char *fake_pv_normalise_image_quality(const char *quality)
{
	if (quality && !strcmp(quality, "2k"))
		return "1440p";
	if (quality && !strcmp(quality, "4k"))
		return "2160p";
	return quality;
}

int fake_pv_aspect_ratio_ok(const char *ratio)
{
	static const char *const ratios[] = { "16:9", "9:16", "1:1", "4:3", "3:4", NULL };

	return fake_pv_model_has_quality(ratios, ratio);
}

void fake_pv_output_size(const char *quality, const char *aspect_ratio, int *width, int *height)
{
	int shorter = 360, num = 16, den = 9, longer;

	if (quality) {
		long q = strtol(quality, NULL, 10);

		/* "720p": the number before the 'p' is the shorter side. */
		shorter = q > 0 && q < 10000 ? (int)q : 360;
	}
	if (aspect_ratio && sscanf(aspect_ratio, "%d:%d", &num, &den) == 2 && num > 0 && den > 0) {
		/* Pixels of the longer side, rounded to even as encoders want. */
		longer = (shorter * (num > den ? num : den) / (num > den ? den : num) + 1) / 2 * 2;
	} else {
		num = 16;
		den = 9;
		longer = shorter * 16 / 9;
	}
	*width = num >= den ? longer : shorter;
	*height = num >= den ? shorter : longer;
}
