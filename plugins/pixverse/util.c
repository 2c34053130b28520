/* Small text helpers the other files share. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "pixverse.h"

const char *pv_strcasestr(const char *haystack, const char *needle)
{
	size_t n;

	if (!haystack || !needle)
		return NULL;
	n = strlen(needle);
	for (; *haystack; haystack++)
		if (strncasecmp(haystack, needle, n) == 0)
			return haystack;
	return n == 0 ? haystack : NULL;
}

int pv_has_number(const char *text, const char *code)
{
	size_t n = code ? strlen(code) : 0;
	const char *p;

	if (!text || !n)
		return 0;
	for (p = strstr(text, code); p; p = strstr(p + 1, code)) {
		/* "10003" must not match inside "5100031" or a longer id. */
		if ((p == text || !isdigit((unsigned char)p[-1])) && !isdigit((unsigned char)p[n]))
			return 1;
	}
	return 0;
}

char *pv_strndup(const provauth_host *h, const char *s, size_t n)
{
	char *out;

	if (!s || !(out = h->alloc(h, n + 1)))
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

char *pv_strdup(const provauth_host *h, const char *s)
{
	return s ? pv_strndup(h, s, strlen(s)) : NULL;
}

void pv_safe_text(const provauth_host *h, char *out, size_t size, const char *text, const char *const *secrets,
                  size_t nsecrets)
{
	if (!size)
		return;
	out[0] = '\0';
	if (!text || !*text)
		return;
	/* One check for every plugin, in the host: a local copy would fall behind it. */
	if (!PROVAUTH_HOST_HAS(h, text_excerpt)) {
		snprintf(out, size, "(server text not shown: this host cannot check it for credentials)");
		return;
	}
	h->text_excerpt(h, out, size, text, strlen(text), secrets, nsecrets);
}
