/*
 * Replies: a reply as it arrives (curl's body and header callbacks), within
 * its limits on body and header bytes, and the provauth_http_response made
 * of it; also replies made without the network, for test and fuzz stubs.
 * Header values and bodies may carry tokens and cookies: every copy is
 * wiped before it is freed.
 */
#include "config.h"
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http/http_private.h"

/* ---- responses ---- */

/*
 * A reply is two allocations: the body, and one block holding the response,
 * its header array, then each name and value as NUL-terminated strings.
 * Capturing headers cost two allocations per field and as many frees
 * (bench/RESULTS.md, e2e). A plugin may take the body (plugin.h).
 */
void pa_http_response_free(provauth_http_response *resp)
{
	size_t i;

	if (!resp)
		return;
	/* Replies carry fresh tokens and Set-Cookie values: wipe them. */
	if (resp->body) {
		pa_wipe(resp->body, resp->body_len);
		free(resp->body);
	}
	for (i = 0; i < resp->header_count; i++)
		pa_wipe(resp->headers[i].value, strlen(resp->headers[i].value));
	free(resp);
}

int pa_http_response_new(provauth_http_response **out, long status, const pa_http_field *fields, size_t nfields,
                         const char *body, size_t body_len)
{
	provauth_http_response *r;
	size_t i, size = sizeof(*r) + nfields * sizeof(*r->headers);
	char *p;

	*out = NULL;
	for (i = 0; i < nfields; i++)
		size += fields[i].nlen + 1 + fields[i].vlen + 1;
	if (!(r = malloc(size)))
		return pa_error_oom();
	if (!(r->body = malloc(body_len + 1))) {
		free(r);
		return pa_error_oom();
	}
	if (body_len)
		memcpy(r->body, body, body_len);
	r->body[body_len] = '\0';
	r->body_len = body_len;
	r->status = status;
	r->header_count = nfields;
	r->headers = nfields ? (void *)(r + 1) : NULL;
	p = (char *)(r + 1) + nfields * sizeof(*r->headers);
	for (i = 0; i < nfields; i++) {
		r->headers[i].name = memcpy(p, fields[i].name, fields[i].nlen);
		p[fields[i].nlen] = '\0';
		p += fields[i].nlen + 1;
		r->headers[i].value = memcpy(p, fields[i].value, fields[i].vlen);
		p[fields[i].vlen] = '\0';
		p += fields[i].vlen + 1;
	}
	/* The block was measured for exactly this. */
	assert(p == (char *)r + size);
	*out = r;
	return 0;
}

const char *pa_http_header(const provauth_http_response *resp, const char *name)
{
	size_t i;

	for (i = 0; resp && name && i < resp->header_count; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

/* ---- one transfer ---- */

void pa_xfer_init(pa_xfer *x, size_t max_body)
{
	x->body = NULL;
	x->body_len = x->body_cap = 0;
	x->max_body = max_body;
	x->header_bytes = 0;
	x->announced = SIZE_MAX;
	x->body_too_big = x->headers_too_big = x->oom = x->in_head = 0;
	x->raw = x->raw_small;
	x->raw_len = 0;
	x->raw_cap = sizeof(x->raw_small);
	x->fields = x->fields_small;
	x->nfields = 0;
	x->fields_cap = PA_XFER_FIELDS_SMALL;
}

/* Only what was written holds header values: a status line wipes what came before it. */
void pa_xfer_free(pa_xfer *x)
{
	pa_wipe(x->raw, x->raw_len);
	if (x->raw != x->raw_small)
		free(x->raw);
	if (x->fields != x->fields_small)
		free(x->fields);
	/* Still here when the transfer failed: a reply may carry tokens. */
	if (x->body) {
		pa_wipe(x->body, x->body_len);
		free(x->body);
	}
	x->body = NULL;
	x->raw = NULL;
	x->fields = NULL;
}

/* Room for `more` bytes in x->raw; grown on the heap past the inline buffer. */
static int raw_reserve(pa_xfer *x, size_t more)
{
	size_t cap = x->raw_cap;
	char *grown;

	if (x->raw_len + more <= cap)
		return 0;
	while (cap < x->raw_len + more)
		cap *= 2;
	if (!(grown = malloc(cap)))
		return -1;
	memcpy(grown, x->raw, x->raw_len);
	/* A realloc would leave the old copy behind unwiped. */
	pa_wipe(x->raw, x->raw_cap);
	if (x->raw != x->raw_small)
		free(x->raw);
	x->raw = grown;
	x->raw_cap = cap;
	return 0;
}

static const unsigned char ascii_lower[256] = {
#define L4(n) (n), (n) + 1, (n) + 2, (n) + 3
#define L16(n) L4(n), L4((n) + 4), L4((n) + 8), L4((n) + 12)
	L16(0x00), L16(0x10), L16(0x20), L16(0x30),
	0x40, L4(0x61), L4(0x65), L4(0x69), L4(0x6d), L4(0x71), L4(0x75), 0x79, 0x7a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
	L16(0x60), L16(0x70), L16(0x80), L16(0x90), L16(0xa0), L16(0xb0),
	L16(0xc0), L16(0xd0), L16(0xe0), L16(0xf0),
#undef L16
#undef L4
};

static int add_header(pa_xfer *x, const char *name, size_t nlen, const char *value, size_t vlen)
{
	pa_field *f;
	size_t i;

	if (x->nfields == x->fields_cap) {
		size_t cap = x->fields_cap * 2;
		pa_field *grown = malloc(cap * sizeof(*grown));

		if (!grown)
			return -1;
		memcpy(grown, x->fields, x->nfields * sizeof(*grown));
		if (x->fields != x->fields_small)
			free(x->fields);
		x->fields = grown;
		x->fields_cap = cap;
	}
	if (raw_reserve(x, nlen + vlen) < 0)
		return -1;
	f = &x->fields[x->nfields++];
	f->name = x->raw_len;
	f->nlen = nlen;
	/* ASCII only, without locale: tolower() was a libc call per character. */
	for (i = 0; i < nlen; i++)
		x->raw[x->raw_len++] = (char)ascii_lower[(unsigned char)name[i]];
	f->value = x->raw_len;
	f->vlen = vlen;
	memcpy(x->raw + x->raw_len, value, vlen);
	x->raw_len += vlen;
	return 0;
}

/* An obsolete folded line ("  more") continues the previous field's value, which ends x->raw. */
static int fold_header(pa_xfer *x, const char *text, size_t len)
{
	if (!x->nfields || !len)
		return 0;
	if (raw_reserve(x, 1 + len) < 0)
		return -1;
	x->raw[x->raw_len++] = ' ';
	memcpy(x->raw + x->raw_len, text, len);
	x->raw_len += len;
	x->fields[x->nfields - 1].vlen += 1 + len;
	return 0;
}

/*
 * The captured fields as the reply's header list. Repeated fields mean one
 * comma-separated list (RFC 9110 5.3), so a lookup sees all of them;
 * Set-Cookie is the exception, since cookie values may themselves contain
 * commas.
 */
provauth_http_response *pa_xfer_finish(pa_xfer *x, long status)
{
	provauth_http_response *r;
	size_t i, j, owners = 0, size;
	char *p;

	if (!x->body && !(x->body = calloc(1, 1)))
		return NULL;

	for (i = 0; i < x->nfields; i++) {
		pa_field *f = &x->fields[i];

		f->owner = i;
		f->next = 0;
		f->total = f->vlen;
		if (!(f->nlen == 10 && memcmp(x->raw + f->name, "set-cookie", 10) == 0)) {
			for (j = 0; j < i; j++) {
				pa_field *o = &x->fields[j];
				if (o->owner == j && o->nlen == f->nlen &&
				    memcmp(x->raw + o->name, x->raw + f->name, f->nlen) == 0)
					break;
			}
			if (j < i) {
				pa_field *o = &x->fields[j], *last = o;
				while (last->next)
					last = &x->fields[last->next];
				last->next = i;
				o->total += 2 + f->vlen;
				f->owner = j;
				continue;
			}
		}
		owners++;
	}
	size = sizeof(*r) + owners * sizeof(*r->headers);
	for (i = 0; i < x->nfields; i++)
		if (x->fields[i].owner == i)
			size += x->fields[i].nlen + 1 + x->fields[i].total + 1;
	if (!(r = malloc(size)))
		return NULL;
	r->status = status;
	r->body = x->body;
	r->body_len = x->body_len;
	x->body = NULL;
	r->header_count = 0;
	r->headers = owners ? (void *)(r + 1) : NULL;
	p = (char *)(r + 1) + owners * sizeof(*r->headers);
	for (i = 0; i < x->nfields; i++) {
		const pa_field *f = &x->fields[i];
		size_t k;

		if (f->owner != i)
			continue;
		k = r->header_count++;
		r->headers[k].name = p;
		memcpy(p, x->raw + f->name, f->nlen);
		p += f->nlen;
		*p++ = '\0';
		r->headers[k].value = p;
		memcpy(p, x->raw + f->value, f->vlen);
		p += f->vlen;
		for (j = f->next; j; j = x->fields[j].next) {
			memcpy(p, ", ", 2);
			memcpy(p + 2, x->raw + x->fields[j].value, x->fields[j].vlen);
			p += 2 + x->fields[j].vlen;
		}
		*p++ = '\0';
	}
	/* The block was measured for exactly this: owners, then each name and merged value. */
	assert(p == (char *)r + size);
	return r;
}

size_t pa_xfer_on_body(char *data, size_t size, size_t nmemb, void *payload)
{
	pa_xfer *x = payload;
	size_t len = size * nmemb;

	/* Returning less than len aborts the transfer: a truncated reply must never look complete. */
	if (len > x->max_body - x->body_len) {
		x->body_too_big = 1;
		return 0;
	}
	if (x->body_len + len + 1 > x->body_cap) {
		size_t need = x->body_len + len + 1, cap = x->body_cap;
		char *grown;

		/*
		 * A first block of the announced size: a small reply then comes
		 * from malloc's fast bins instead of a fresh 4 KiB block. The
		 * announcement is at most max_body (pa_xfer_on_header refuses more).
		 */
		if (!cap)
			cap = x->announced != SIZE_MAX && x->announced + 1 >= need ? x->announced + 1 : 4096;
		while (cap < need)
			cap *= 2;
		if (cap > x->max_body + 1)
			cap = x->max_body + 1;
		if (!(grown = realloc(x->body, cap))) {
			x->oom = 1;
			return 0;
		}
		x->body = grown;
		x->body_cap = cap;
	}
	memcpy(x->body + x->body_len, data, len);
	x->body_len += len;
	x->body[x->body_len] = '\0';
	assert(x->body_len <= x->max_body && x->body_len < x->body_cap);
	return len;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

size_t pa_xfer_on_header(char *data, size_t size, size_t nmemb, void *payload)
{
	pa_xfer *x = payload;
	size_t len = size * nmemb, raw = len;
	const char *colon, *value;
	size_t nlen, vlen, i;

	while (len && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	/*
	 * A status line starts a new response (after a 1xx or a followed
	 * redirect): only the last response's headers and body are returned.
	 */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		pa_wipe(x->raw, x->raw_len);
		x->nfields = 0;
		x->raw_len = 0;
		x->announced = SIZE_MAX;
		x->body_len = 0;
		if (x->body)
			x->body[0] = '\0';
		x->header_bytes = 0;
		x->in_head = 1;
	}
	if (len == 0)
		x->in_head = 0;
	x->header_bytes += raw;
	if (x->header_bytes > PA_HTTP_MAX_HEADER_BYTES) {
		x->headers_too_big = 1;
		return 0;
	}
	if (len == 0 || (len >= 5 && memcmp(data, "HTTP/", 5) == 0))
		return raw;
	if (is_space(data[0])) {
		for (i = 0; i < len && is_space(data[i]); i++)
			;
		while (len > i && is_space(data[len - 1]))
			len--;
		if (fold_header(x, data + i, len - i) < 0)
			goto oom;
		return raw;
	}
	if (!(colon = memchr(data, ':', len)))
		return raw;     /* not a field; nothing to keep */
	nlen = (size_t)(colon - data);
	while (nlen && is_space(data[nlen - 1]))
		nlen--;
	if (!nlen)
		return raw;
	value = colon + 1;
	vlen = len - (size_t)(value - data);
	while (vlen && is_space(*value)) {
		value++;
		vlen--;
	}
	while (vlen && is_space(value[vlen - 1]))
		vlen--;
	if (nlen == 14 && strncasecmp(data, "content-length", 14) == 0) {
		/*
		 * Refuse before the body arrives when the server announces too
		 * much; remember the size to allocate the body once. Digits only
		 * (anything else is left to curl, which refuses it).
		 */
		size_t n = 0;

		for (i = 0; i < vlen && value[i] >= '0' && value[i] <= '9'; i++) {
			if (n > (x->max_body - (size_t)(value[i] - '0')) / 10) {
				x->body_too_big = 1;
				return 0;
			}
			n = n * 10 + (size_t)(value[i] - '0');
		}
		if (vlen && i == vlen)
			x->announced = n;
	}
	if (add_header(x, data, nlen, value, vlen) < 0)
		goto oom;
	return raw;
oom:
	x->oom = 1;
	return 0;
}

