/* Small helpers shared by the pixiv plugin's files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixiv.h"

char *pixiv_metadata_string(const provauth_host *h, const char *metadata, const char *key)
{
	provauth_json *doc;
	const char *v;
	char *out = NULL;

	if (!metadata || !strstr(metadata, key))
		return NULL;
	if (!(doc = h->json_parse(metadata, strlen(metadata))))
		return NULL;
	if ((v = h->json_string(h->json_get(doc, key))) && *v)
		out = provauth_plugin_strdup(h, v);
	h->json_free(doc);
	return out;
}

int pixiv_is_json(const provauth_host *h, const char *text, size_t len)
{
	provauth_json *doc;

	/* The check builds nothing; a json-c tree would cost more than the request (bench/RESULTS.md, e2e). */
	if (PROVAUTH_HOST_HAS(h, json_valid) && h->json_valid)
		return h->json_valid(text, len);
	if (!(doc = h->json_parse(text, len)))
		return 0;
	h->json_free(doc);
	return 1;
}

char *pixiv_json_quote(const provauth_host *h, const char *s)
{
	return s ? h->json_format(h, "%s", s) : NULL;
}

int pixiv_is_user_id(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	for (n = 0; s[n]; n++)
		if (s[n] < '0' || s[n] > '9' || n >= 20)
			return 0;
	return n > 0;
}
