/*
 * One request: its checks (method, URL, header names and values that could
 * smuggle lines), its header lines for curl, the options it chooses on a
 * pooled handle, the transfer, and its debug log event.
 */
#include "config.h"
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http/http_private.h"

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH" };

static int method_known(const char *m)
{
	size_t i;

	for (i = 0; m && i < PA_ARRAY_LEN(methods); i++)
		if (strcmp(m, methods[i]) == 0)
			return 1;
	return 0;
}

/* Bytes a header name may hold: printable ASCII but space and ':'. */
static const unsigned char name_byte[256] = {
	[0x21 ... 0x39] = 1, [0x3b ... 0x7e] = 1,
};

/* The name's length, or 0 when it is no valid header name. */
static size_t header_name_len(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (!p)
		return 0;
	/* One table look-up per byte: this ran for every header of every request. */
	while (name_byte[*p])
		p++;
	return *p ? 0 : (size_t)(p - (const unsigned char *)name);
}

/* What check_request learnt of the request's headers, for build_headers and setup. */
#define PA_HTTP_LINES_NODES 16

typedef struct pa_scan {
	int has_expect;
	int has_user_agent;
	size_t text;                  /* bytes of the header lines, NULs included */
	/* Of the first PA_HTTP_LINES_NODES headers, so they are measured once. */
	size_t nlen[PA_HTTP_LINES_NODES], vlen[PA_HTTP_LINES_NODES];
} pa_scan;

/* What messages show of the request, put together on first use. */
#define M (pa_http_describe(d, req), d->method)
#define U (pa_http_describe(d, req), d->url)
static int check_request(const provauth_http_request *req, pa_described *d, pa_scan *scan)
{
	size_t i;

	scan->has_expect = scan->has_user_agent = 0;
	scan->text = 0;
	if (req->version != PROVAUTH_HTTP_REQUEST_VERSION)
		return pa_error_set(PROVAUTH_EINVAL, "http: request version %u not supported (this host knows %d)",
		                    req->version, PROVAUTH_HTTP_REQUEST_VERSION);
	if (!req->url || !*req->url)
		return pa_error_set(PROVAUTH_EINVAL, "http: %s: no URL given", M);
	if (!method_known(req->method))
		return pa_error_set(PROVAUTH_EINVAL, "http: %s %s: unsupported method", M, U);
	if (req->body_len && !req->body)
		return pa_error_set(PROVAUTH_EINVAL, "http: %s %s: body_len %zu without a body", M, U,
		                    req->body_len);
	if (req->body_len && strcmp(req->method, "GET") == 0)
		return pa_error_set(PROVAUTH_EINVAL, "http: GET %s: a GET request cannot carry a body", U);
	if (req->timeout_ms < 0)
		return pa_error_set(PROVAUTH_EINVAL, "http: %s %s: negative timeout %ld ms", M, U,
		                    req->timeout_ms);
	if (req->header_count && !req->headers)
		return pa_error_set(PROVAUTH_EINVAL, "http: %s %s: header_count %zu without headers", M,
		                    U, req->header_count);
	for (i = 0; i < req->header_count; i++) {
		const provauth_http_header *hd = &req->headers[i];
		size_t nlen = header_name_len(hd->name), vlen;

		/* A CR or LF in a value would let it smuggle further headers. */
		if (!nlen)
			return pa_error_set(PROVAUTH_EINVAL, "http: %s %s: header %zu has an invalid name",
			                    M, U, i);
		if (hd->value && strpbrk(hd->value, "\r\n"))
			return pa_error_set(PROVAUTH_EINVAL, "http: %s %s: header %s: value contains a line break",
			                    M, U, hd->name);
		if (nlen == 6 && strcasecmp(hd->name, "Expect") == 0)
			scan->has_expect = 1;
		else if (nlen == 10 && strcasecmp(hd->name, "User-Agent") == 0)
			scan->has_user_agent = 1;
		vlen = hd->value ? strlen(hd->value) : 0;
		if (i < PA_HTTP_LINES_NODES) {
			scan->nlen[i] = nlen;
			scan->vlen[i] = vlen;
		}
		scan->text += nlen + vlen + 3;
	}
	return 0;
}
#undef M
#undef U

/*
 * The request's header lines as the list CURLOPT_HTTPHEADER reads. curl only
 * reads the nodes (it never frees or changes them), so they and their text
 * live in one block: on the stack for ordinary requests, one malloc
 * otherwise, instead of a curl_slist_append allocation per line, which was
 * measurable per request (bench/RESULTS.md, e2e).
 */
#define PA_HTTP_LINES_TEXT 2048

typedef struct pa_lines {
	struct curl_slist *head;
	struct curl_slist *nodes;
	char *text;
	size_t text_len;
	void *heap;                   /* nodes and text when they did not fit below */
	struct curl_slist small_nodes[PA_HTTP_LINES_NODES];
	char small_text[PA_HTTP_LINES_TEXT];
} pa_lines;

/* Header values may hold tokens: wipe them. */
static void lines_free(pa_lines *l)
{
	pa_wipe(l->text, l->text_len);
	free(l->heap);
	l->heap = NULL;
	l->text_len = 0;
}

static char *put_line(char *p, const char *name, size_t nl, const char *value, size_t vl)
{
	memcpy(p, name, nl);
	p += nl;
	/* curl drops "Name:" (no value) from the request; "Name;" sends it empty. */
	if (vl) {
		memcpy(p, ": ", 2);
		memcpy(p + 2, value, vl);
		p += 2 + vl;
	} else {
		*p++ = ';';
	}
	*p++ = '\0';
	return p;
}

static int build_headers(pa_lines *l, const provauth_http_request *req, const pa_scan *scan)
{
	/*
	 * No 100-continue round trip before larger bodies: APIs answer at once.
	 * curl only ever sends Expect with a body, so bodyless requests need
	 * no line to suppress it.
	 */
	int expect = req->body_len && !scan->has_expect;
	size_t count = req->header_count + (size_t)expect, text = scan->text + (expect ? sizeof("Expect:") : 0), i;
	char *p;

	l->head = NULL;
	l->heap = NULL;
	l->text = NULL;
	l->text_len = 0;
	if (!count)
		return 0;
	if (count <= PA_HTTP_LINES_NODES && text <= PA_HTTP_LINES_TEXT) {
		l->nodes = l->small_nodes;
		l->text = l->small_text;
	} else {
		if (count > SIZE_MAX / sizeof(*l->nodes) / 2 || !(l->heap = malloc(count * sizeof(*l->nodes) + text)))
			return pa_error_oom();
		l->nodes = l->heap;
		l->text = (char *)(l->nodes + count);
	}
	p = l->text;
	for (i = 0; i < count; i++) {
		l->nodes[i].data = p;
		l->nodes[i].next = i + 1 < count ? &l->nodes[i + 1] : NULL;
		if (i < req->header_count) {
			const provauth_http_header *hd = &req->headers[i];

			if (i < PA_HTTP_LINES_NODES)
				p = put_line(p, hd->name, scan->nlen[i], hd->value, scan->vlen[i]);
			else
				p = put_line(p, hd->name, strlen(hd->name), hd->value, hd->value ? strlen(hd->value) : 0);
		} else {
			memcpy(p, "Expect:", sizeof("Expect:"));
			p += sizeof("Expect:");
		}
	}
	l->text_len = (size_t)(p - l->text);
	/* check_request counted name + value + 3 per line: put_line never writes more. */
	assert(l->text_len <= text);
	l->head = l->nodes;
	return 0;
}

/*
 * Everything a request chooses, whatever the last request on this handle
 * set, so nothing carries over: the URL, the timeout, the headers, the
 * User-Agent (or none), redirects, the method and the body. The URL and the
 * header list are set every time; the others when they differ from what
 * the handle is known to have (pa_handle). tests/unit/test_http.c
 * ("nothing carries over") checks it.
 */
static CURLcode setup(pa_handle *hd, const pa_http *h, const provauth_http_request *req,
                      struct curl_slist *headers, const pa_scan *scan)
{
	CURL *c = hd->c;
	CURLcode cc;
	long total = req->timeout_ms > 0 ? req->timeout_ms : h->timeout_ms;
	int get = strcmp(req->method, "GET") == 0;
	int post = !get && strcmp(req->method, "POST") == 0;
	int bodyless_delete = !get && !post && strcmp(req->method, "DELETE") == 0 && !req->body;
	int user_agent = !scan->has_user_agent, follow = req->follow_redirects ? 1 : 0;
	const char *custom = NULL;
	size_t i;

	PA_CURL_SET(CURLOPT_URL, req->url);
	PA_CURL_SET(CURLOPT_HTTPHEADER, headers);
	if (hd->timeout_ms != total) {
		PA_CURL_SET(CURLOPT_TIMEOUT_MS, total);
		hd->timeout_ms = total;
	}
	if (hd->user_agent != user_agent) {
		PA_CURL_SET(CURLOPT_USERAGENT, user_agent ? "provauth/" PACKAGE_VERSION : NULL);
		hd->user_agent = user_agent;
	}
	if (hd->follow != follow) {
		PA_CURL_SET(CURLOPT_FOLLOWLOCATION, (long)follow);
		hd->follow = follow;
	}
	if (get || bodyless_delete) {
		if (!hd->bodyless) {
			PA_CURL_SET(CURLOPT_POSTFIELDS, (char *)NULL);
			PA_CURL_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
			/* After POSTFIELDS, which makes the handle POST: this makes it GET again. */
			PA_CURL_SET(CURLOPT_HTTPGET, 1L);
			hd->bodyless = 1;
		}
	} else {
		/* POST, PUT, PATCH, DELETE with a body: an empty body still sends Content-Length: 0. */
		hd->bodyless = 0;
		hd->body_set = 1;
		PA_CURL_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		PA_CURL_SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
	/* check_request made sure the method is one of methods[]. */
	if (!get && !post)
		for (i = 0; i < PA_ARRAY_LEN(methods); i++)
			if (strcmp(req->method, methods[i]) == 0)
				custom = methods[i];
	if (!hd->custom_known || hd->custom != custom) {
		PA_CURL_SET(CURLOPT_CUSTOMREQUEST, custom);
		hd->custom = custom;
		hd->custom_known = 1;
	}
	return CURLE_OK;
}
static int log_wanted(const pa_http *h)
{
	return h->logger && h->logger->fn && PROVAUTH_LOG_DEBUG >= h->logger->min_level;
}

static void log_request(const pa_http *h, const provauth_http_request *req, pa_described *d,
                        long status, int64_t started, size_t bytes, int rc)
{
	provauth_log_field f[6] = {
		PA_F_STR("method", req->method),
		PA_F_STR("url", d->url),
		PA_F_INT("status", status),
		PA_F_INT("duration_ms", pa_monotonic_ms() - started),
		PA_F_INT("bytes", bytes),
		PA_F_STR("error", rc < 0 ? provauth_strerror(rc) : NULL),
	};

	pa_log(h->logger, PROVAUTH_LOG_DEBUG, "http_request", f, rc < 0 ? 6 : 5);
}

/*
 * The method and URL shown in messages and the log are only put together
 * when a message or a log event needs them: a successful request that
 * nobody logs does not pay for them.
 */
#define URL (pa_http_describe(&d, req), d.url)

int pa_http_request(pa_http *h, const provauth_http_request *req, provauth_http_response **out)
{
	pa_described d;
	pa_scan scan;
	pa_lines headers;
	provauth_http_response *resp = NULL;
	pa_handle *hd = NULL;
	CURLcode cc;
	int64_t started = 0;
	long status = 0;
	int rc, clean = 1, logged;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "http: no output given");
	*out = NULL;
	if (!h || !req)
		return pa_error_set(PROVAUTH_EINVAL, "http: no %s given", h ? "request" : "HTTP service");
	d.done = 0;
	if ((rc = check_request(req, &d, &scan)) < 0)
		return rc;
	if ((logged = log_wanted(h)))
		started = pa_monotonic_ms();
	if ((rc = build_headers(&headers, req, &scan)) < 0)
		return pa_error_prefix(rc, "http: %s %s", req->method, URL);
	if (!(hd = pa_http_pool_get(h, &cc)) || (cc = setup(hd, h, req, headers.head, &scan)) != CURLE_OK) {
		/* An option this libcurl refuses (say, TLS verification) must not be skipped. */
		rc = pa_error_set(cc == CURLE_OUT_OF_MEMORY ? PROVAUTH_ENOMEM : PROVAUTH_ERROR,
		                  "http: %s %s: libcurl refused an option: %s", req->method, URL,
		                  curl_easy_strerror(cc));
		clean = 0;
		goto out;
	}
	hd->errbuf[0] = '\0';
	pa_xfer_init(&hd->x, h->max_reply);
	if ((cc = curl_easy_perform(hd->c)) != CURLE_OK) {
		rc = pa_http_fail(cc, hd->c, &hd->x, req, URL, hd->errbuf,
		                  req->timeout_ms > 0 ? req->timeout_ms : h->timeout_ms);
		goto out;
	}
	curl_easy_getinfo(hd->c, CURLINFO_RESPONSE_CODE, &status);
	if (!(resp = pa_xfer_finish(&hd->x, status))) {
		rc = pa_error_prefix(pa_error_oom(), "http: %s %s", req->method, URL);
		goto out;
	}
	*out = resp;
	resp = NULL;
	rc = 0;
out:
	if (logged) {
		pa_http_describe(&d, req);
		log_request(h, req, &d, *out ? (*out)->status : 0, started, *out ? (*out)->body_len : 0, rc);
	}
	if (hd) {
		if (hd->x.raw)
			pa_xfer_free(&hd->x);
		pa_http_pool_put(h, hd, clean);
	}
	lines_free(&headers);
	pa_http_response_free(resp);
	return rc;
}
#undef URL
