/* Small text helpers the other files share. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "pixverse.h"

/* The shortest piece of a secret that a message may not repeat. */
#define PV_SECRET_PIECE 8

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

char *pv_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void pv_secret_free(char *s)
{
	if (!s)
		return;
	/* volatile keeps the compiler from dropping stores to memory about to be freed */
	{
		volatile char *v = s;
		while (*v)
			*v++ = 0;
	}
	free(s);
}

/*
 * Whether text holds the secret or any 8-byte piece of it (all of a shorter
 * one): a server that cuts its own message may echo only part of it.
 */
static int repeats_part_of(const char *text, const char *secret)
{
	size_t n, w, i;
	const char *hit;

	if (!secret || !*secret)
		return 0;
	n = strlen(secret);
	w = n < PV_SECRET_PIECE ? n : PV_SECRET_PIECE;
	for (i = 0; i + w <= n; i++)
		for (hit = strchr(text, secret[i]); hit; hit = strchr(hit + 1, secret[i]))
			if (strncmp(hit, secret + i, w) == 0)
				return 1;
	return 0;
}

void pv_safe_text(char *out, size_t size, const char *text, const char *secret)
{
	size_t i, o = 0;

	if (!size)
		return;
	out[0] = '\0';
	if (!text)
		return;
	/* A server that echoes what it was sent must not make us print a password. */
	if (repeats_part_of(text, secret)) {
		snprintf(out, size, "(message withheld: it repeats a credential)");
		return;
	}
	for (i = 0; text[i] && o + 4 < size; i++) {
		unsigned char c = (unsigned char)text[i];
		if (i >= PV_SAFE_TEXT_MAX) {
			snprintf(out + o, size - o, "...");
			return;
		}
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = '\0';
}
