/*
 * Replies and text buffers for ops/: bodies set on pad_reply directly (the
 * struct is the contract), so health, metrics and the status page build
 * and link without http/'s helpers; and an append-only buffer with an
 * HTML-escaping put, the only way the status page writes text.
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

int pad_ops_reply(pad_reply *rep, int status, const char *content_type, const char *body, size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy)
		return PROVAUTH_ENOMEM;
	memcpy(copy, body, len);
	copy[len] = '\0';
	return pad_ops_reply_owned(rep, status, content_type, copy, len);
}

int pad_ops_header(pad_reply *rep, const char *name, const char *value)
{
	char *n, *v;

	if (rep->nheaders >= PAD_REPLY_MAX_HEADERS)
		return PROVAUTH_ERROR;
	if (!(n = strdup(name)) || !(v = strdup(value))) {
		free(n);
		return PROVAUTH_ENOMEM;
	}
	rep->header_name[rep->nheaders] = n;
	rep->header_value[rep->nheaders] = v;
	rep->nheaders++;
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
