/* Small helpers shared by the pixiv plugin's files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixiv.h"

/* Called through a volatile pointer so the compiler cannot drop a store to memory about to be freed. */
static void *(*const volatile pixiv_memset)(void *, int, size_t) = memset;

void pixiv_wipe(void *p, size_t n)
{
	if (p && n)
		pixiv_memset(p, 0, n);
}

char *pixiv_strdup(const provauth_host *h, const char *s)
{
	size_t n;
	char *out;

	if (!s || !(out = h->alloc(h, (n = strlen(s)) + 1)))
		return NULL;
	memcpy(out, s, n + 1);
	return out;
}

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
		out = pixiv_strdup(h, v);
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
	provauth_json *v = h->json_from_string(s);
	char *out;

	if (!v)
		return NULL;
	out = h->json_serialize(v);
	h->json_free(v);
	return out;
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

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

void pixiv_quote(const provauth_host *h, char *out, size_t size, const char *text, const char *const *secrets,
                 size_t nsecrets)
{
	if (!size)
		return;
	out[0] = '\0';
	if (!text || !*text)
		return;
	/* One check for every plugin, in the host: a local copy would fall behind it. */
	if (!PROVAUTH_HOST_HAS(h, text_excerpt)) {
		snprintf(out, size, "server text not shown");
		return;
	}
	h->text_excerpt(h, out, size, text, strlen(text), secrets, nsecrets);
}

int pixiv_contains_ci(const char *hay, const char *needle)
{
	size_t i;

	if (!hay || !needle)
		return 0;
	for (; *hay; hay++) {
		for (i = 0; needle[i] && hay[i] && lower((unsigned char)hay[i]) == lower((unsigned char)needle[i]); i++)
			;
		if (!needle[i])
			return 1;
	}
	return !*needle;
}
