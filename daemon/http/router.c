/*
 * Routing: a request's method and raw path against the route table
 * (api/routes.c). Patterns are literal segments and {captures}; a capture
 * is one whole segment, percent-decoded here rather than by MHD so that an
 * escaped '/' cannot split it or reach a handler as a path separator.
 */
#include "config.h"
#include <string.h>
#include "daemon.h"

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long pad_percent_decode(char *dst, size_t dst_size, const char *src, size_t len)
{
	size_t i, o = 0;

	if (dst_size < len + 1)
		return -1;
	for (i = 0; i < len; i++) {
		if (src[i] == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return -1;
			hi = hex_value((unsigned char)src[i + 1]);
			lo = hi < 0 ? -1 : hex_value((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			dst[o++] = src[i];
		}
	}
	dst[o] = '\0';
	return (long)o;
}

/* Decodes one capture into buf at *used; NULL when it is not a valid id. */
static const char *capture(const char *seg, size_t len, char *buf, size_t buf_size, size_t *used)
{
	char *dst = buf + *used;
	long n;

	if (len == 0 || len > 3 * PAD_MAX_CAPTURE || *used + len + 1 > buf_size)
		return NULL;
	n = pad_percent_decode(dst, buf_size - *used, seg, len);
	if (n <= 0 || n > PAD_MAX_CAPTURE || memchr(dst, '/', (size_t)n) || strlen(dst) != (size_t)n)
		return NULL;
	*used += (size_t)n + 1;
	return dst;
}

typedef enum match_result { MATCH_NO, MATCH_YES, MATCH_BAD_ID } match_result;

/* Whether `path` fits `pattern`, segment by segment; captures filled on a match. */
static match_result match_one(const char *pattern, const char *path, pad_request *req, char *buf,
                              size_t buf_size)
{
	const char *p = pattern, *s = path;
	size_t used = 0, np = 0;
	int bad = 0;

	while (*p && *s) {
		if (*p == '{') {
			const char *pend = strchr(p, '}'), *send = strchr(s, '/');
			size_t slen = send ? (size_t)(send - s) : strlen(s);
			const char *v;
			if (!pend || np >= PAD_MAX_PARAMS)
				return MATCH_NO;
			if (slen == 0)
				return MATCH_NO;
			if (!(v = capture(s, slen, buf, buf_size, &used)))
				bad = 1;
			else
				req->params[np] = v;
			np++;
			p = pend + 1;
			s += slen;
			continue;
		}
		if (*p != *s)
			return MATCH_NO;
		p++;
		s++;
	}
	if (*p || *s)
		return MATCH_NO;
	if (bad)
		return MATCH_BAD_ID;
	req->nparams = np;
	return MATCH_YES;
}

static void allow_add(char *allow, size_t allow_size, const char *method)
{
	size_t len = strlen(allow);

	if (strstr(allow, method))
		return;
	snprintf(allow + len, allow_size - len, "%s%s", len ? ", " : "", method);
}

int pad_route_match_in(const pad_route *routes, size_t n, const pad_route **out, pad_request *req,
                       char *buf, size_t buf_size, char *allow, size_t allow_size)
{
	int other_method = 0, bad_id = 0;
	size_t i;

	*out = NULL;
	req->nparams = 0;
	if (allow_size)
		allow[0] = '\0';
	if (!req->path || req->path[0] != '/')
		return 404;
	if (strlen(req->path) > PAD_MAX_PATH)
		return 414;
	for (i = 0; i < n; i++) {
		match_result m;
		pad_request probe = *req;
		/* Probe with the method's route first, so params are those of the chosen one. */
		m = match_one(routes[i].pattern, req->path, &probe, buf, buf_size);
		if (m == MATCH_NO)
			continue;
		/* HEAD is GET without the body (MHD leaves the body out), for probes that send it. */
		if (strcmp(routes[i].method, req->method) != 0 &&
		    !(strcmp(req->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
			other_method = 1;
			if (allow_size)
				allow_add(allow, allow_size, routes[i].method);
			continue;
		}
		if (m == MATCH_BAD_ID) {
			bad_id = 1;
			continue;
		}
		memcpy(req->params, probe.params, sizeof(req->params));
		req->nparams = probe.nparams;
		*out = &routes[i];
		return 0;
	}
	if (bad_id)
		return 400;
	return other_method ? 405 : 404;
}

int pad_route_match(const pad_route **out, pad_request *req, char *allow, size_t allow_size)
{
	static __thread char buf[PAD_CAPTURE_BUF];

	return pad_route_match_in(pad_routes, pad_route_count, out, req, buf, sizeof(buf), allow, allow_size);
}
