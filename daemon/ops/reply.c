/*
 * Replies and text buffers for ops/: a body handed over without a copy
 * (the rendered page and metrics can be large), and an append-only buffer
 * with an HTML-escaping put, the only way the status page writes text.
 */
#include "config.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"

int pad_ops_reply_owned(pad_reply *rep, int status, const char *content_type, char *body, size_t len)
{
	free(rep->body);
	rep->status = status;
	rep->content_type = content_type;
	rep->body = body;
	rep->len = len;
	return 0;
}

static void put_n(pad_ops_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void pad_ops_put(pad_ops_buf *b, const char *s)
{
	put_n(b, s, strlen(s));
}

void pad_ops_put_html(pad_ops_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': put_n(b, "&lt;", 4); break;
		case '>': put_n(b, "&gt;", 4); break;
		case '&': put_n(b, "&amp;", 5); break;
		case '"': put_n(b, "&quot;", 6); break;
		case '\'': put_n(b, "&#39;", 5); break;
		default: put_n(b, s, 1);
		}
	}
}

void pad_ops_putf(pad_ops_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(small)) {
		b->failed = 1;
		return;
	}
	put_n(b, small, (size_t)n);
}
