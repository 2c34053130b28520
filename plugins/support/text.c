/* Copies through the host's allocator, wiping, and text checks every plugin needs. */
#include <stdio.h>
#include <string.h>
#include <provauth/plugin_util.h>

char *provauth_plugin_strndup(const provauth_host *h, const char *s, size_t n)
{
	char *out;

	if (!s || !(out = h->alloc(h, n + 1)))
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

char *provauth_plugin_strdup(const provauth_host *h, const char *s)
{
	return s ? provauth_plugin_strndup(h, s, strlen(s)) : NULL;
}

/* Called through a volatile pointer so the compiler cannot drop a store to memory about to die. */
static void *(*const volatile wipe_memset)(void *, int, size_t) = memset;

void provauth_plugin_wipe(void *p, size_t n)
{
	if (p && n)
		wipe_memset(p, 0, n);
}

int provauth_plugin_text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int provauth_plugin_contains_ci(const char *hay, const char *needle)
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

void provauth_plugin_quote(const provauth_host *h, char *out, size_t size, const char *text,
                           const char *const *secrets, size_t nsecrets, const char *fallback)
{
	if (!size)
		return;
	out[0] = '\0';
	if (!text || !*text)
		return;
	/* One check for every plugin, in the host: a local copy would fall behind it. */
	if (!PROVAUTH_HOST_HAS(h, text_excerpt) || !h->text_excerpt) {
		snprintf(out, size, "%s", fallback ? fallback : "");
		return;
	}
	h->text_excerpt(h, out, size, text, strlen(text), secrets, nsecrets);
}
