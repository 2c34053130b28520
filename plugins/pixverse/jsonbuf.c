/*
 * JSON text built piece by piece: request bodies whose members depend on
 * the job (an optional seed, a list of images), which host->json_format's
 * fixed formats cannot say. Strings go through json_format, so they are
 * escaped exactly as the host escapes them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

void pv_jsonbuf_init(pv_jsonbuf *b, const provauth_host *h)
{
	memset(b, 0, sizeof(*b));
	b->host = h;
}

static void append(pv_jsonbuf *b, const char *text, size_t n)
{
	char *grown;
	size_t want;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->size) {
		want = b->size ? b->size : 256;
		while (want < b->len + n + 1)
			want *= 2;
		if (!(grown = realloc(b->text, want))) {
			b->failed = 1;
			return;
		}
		b->text = grown;
		b->size = want;
	}
	memcpy(b->text + b->len, text, n);
	b->len += n;
	b->text[b->len] = '\0';
}

void pv_jsonbuf_addf(pv_jsonbuf *b, const char *fmt, ...)
{
	char small[256], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		append(b, small, (size_t)n);
		return;
	}
	if (!(big = malloc((size_t)n + 1))) {
		b->failed = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	append(b, big, (size_t)n);
	free(big);
}

void pv_jsonbuf_str(pv_jsonbuf *b, const char *s)
{
	char *q;

	if (b->failed)
		return;
	if (!(q = b->host->json_format(b->host, "%s", s ? s : ""))) {
		b->failed = 1;
		return;
	}
	append(b, q, strlen(q));
	b->host->free(b->host, q);
}

char *pv_jsonbuf_take(pv_jsonbuf *b)
{
	char *t = b->failed ? NULL : b->text;

	if (b->failed)
		free(b->text);
	memset(b, 0, sizeof(*b));
	return t;
}

void pv_jsonbuf_free(pv_jsonbuf *b)
{
	free(b->text);
	memset(b, 0, sizeof(*b));
}
