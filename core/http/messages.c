/*
 * What messages and the log show of a request: its method, and its URL
 * without query, fragment or user info, since third-party APIs put secrets
 * there. curl's own words are scrubbed of the request's secrets before
 * they are quoted, and a failed transfer gets a code and words of ours.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "http/http_private.h"

/*
 * Secrets shorter than this are not searched for in curl's messages: a
 * two-letter "secret" would match ordinary words and hide nothing.
 */
#define PA_HTTP_SCRUB_MIN 3

/* Appends [a, b) to out as printable ASCII; returns 0 once out is full. */
static int put_range(char *out, size_t size, size_t *o, const char *a, const char *b)
{
	for (; a < b; a++) {
		if (*o + 4 >= size) {
			memcpy(out + *o, "...", 4);
			*o += 3;
			return 0;
		}
		out[(*o)++] = (*a >= 0x20 && *a < 0x7f) ? *a : '?';
	}
	out[*o] = '\0';
	return 1;
}

/*
 * "scheme://host:port/path" of url: the query string, the fragment and any
 * user:password@ are left out, since third-party APIs put secrets there.
 */
static void url_for_humans(const char *url, char *out, size_t size)
{
	const char *auth, *host, *end, *at, *path_end;
	size_t o = 0;

	out[0] = '\0';
	if (!url)
		return;
	auth = strstr(url, "://");
	auth = auth ? auth + 3 : url;
	end = auth + strcspn(auth, "/?#");
	at = memrchr(auth, '@', (size_t)(end - auth));
	host = at ? at + 1 : auth;
	path_end = end + strcspn(end, "?#");
	if (put_range(out, size, &o, url, auth) && put_range(out, size, &o, host, end))
		put_range(out, size, &o, end, path_end);
}

/* Replaces each occurrence of needle in msg by "***" (never longer than needle). */
static void scrub(char *msg, const char *needle, size_t nlen)
{
	char *from = msg, *hit;

	if (!needle || nlen < PA_HTTP_SCRUB_MIN)
		return;
	/* Search on after each replacement: a needle of "***" must not loop. */
	while ((hit = memmem(from, strlen(from), needle, nlen)) != NULL) {
		memcpy(hit, "***", 3);
		memmove(hit + 3, hit + nlen, strlen(hit + nlen) + 1);
		from = hit + 3;
	}
}

/*
 * curl's messages are not known to quote request data, but they are not
 * promised not to either: take out anything secret before showing one.
 */
static void scrub_curl_message(char *msg, const provauth_http_request *req)
{
	const char *q, *auth, *at, *end;
	size_t i;

	if ((q = strchr(req->url, '?')) != NULL)
		scrub(msg, q + 1, strcspn(q + 1, "#"));
	auth = strstr(req->url, "://");
	auth = auth ? auth + 3 : req->url;
	end = auth + strcspn(auth, "/?#");
	if ((at = memrchr(auth, '@', (size_t)(end - auth))) != NULL)
		scrub(msg, auth, (size_t)(at - auth));
	for (i = 0; i < req->header_count; i++)
		if (req->headers[i].secret && req->headers[i].value)
			scrub(msg, req->headers[i].value, strlen(req->headers[i].value));
	if (req->body)
		scrub(msg, req->body, req->body_len);
}

void pa_http_describe(pa_described *d, const provauth_http_request *req)
{
	size_t o = 0;

	if (d->done)
		return;
	d->done = 1;
	url_for_humans(req->url, d->url, sizeof(d->url));
	if (req->method)
		put_range(d->method, sizeof(d->method), &o, req->method, req->method + strlen(req->method));
	else
		snprintf(d->method, sizeof(d->method), "(no method)");
}


static int is_tls_error(CURLcode cc)
{
	switch (cc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return 1;
	default:
		return 0;
	}
}

int pa_http_fail(CURLcode cc, CURL *c, const pa_xfer *x, const provauth_http_request *req,
                 const char *url, char *errbuf, long total_ms)
{
	const char *detail;
	long os_errno = 0, redirects = 0;

	if (!errbuf[0])
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(cc));
	scrub_curl_message(errbuf, req);
	detail = errbuf;
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);

	/*
	 * curl refuses one header line longer than its own bound
	 * (CURL_MAX_HTTP_HEADER, 100 KiB) with its out-of-memory code, before
	 * pa_xfer_on_header sees the line. Between a status line and the end of the
	 * fields that is the server's doing: a reply too big, not a host out of
	 * memory, which callers treat differently.
	 */
	if (cc == CURLE_OUT_OF_MEMORY && !x->oom && x->in_head)
		return pa_error_set(PROVAUTH_ETOOBIG, "http: %s %s: a reply header line is larger than accepted",
		                    req->method, url);
	if (x->oom || cc == CURLE_OUT_OF_MEMORY)
		return pa_error_set(PROVAUTH_ENOMEM, "http: %s %s: out of memory", req->method, url);
	if (x->headers_too_big)
		return pa_error_set(PROVAUTH_ETOOBIG, "http: %s %s: reply headers larger than %d bytes",
		                    req->method, url, PA_HTTP_MAX_HEADER_BYTES);
	if (x->body_too_big || cc == CURLE_FILESIZE_EXCEEDED)
		return pa_error_set(PROVAUTH_ETOOBIG, "http: %s %s: reply larger than %zu bytes (http.max_reply_bytes)",
		                    req->method, url, x->max_body);
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return pa_error_set(PROVAUTH_ETIMEOUT, "http: %s %s: timed out after %ld ms (%s)",
		                    req->method, url, total_ms, detail);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* A Location leading out of http/https is the server's doing, not the caller's. */
		if (curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &redirects) == CURLE_OK && redirects > 0)
			return pa_error_set(PROVAUTH_ENETWORK, "http: %s %s: redirect refused (%s)",
			                    req->method, url, detail);
		return pa_error_set(PROVAUTH_EINVAL, "http: %s %s: URL refused (%s)", req->method, url, detail);
	case CURLE_TOO_MANY_REDIRECTS:
		return pa_error_set(PROVAUTH_ENETWORK, "http: %s %s: too many redirects (%s)", req->method,
		                    url, detail);
	case CURLE_COULDNT_RESOLVE_HOST:
		return pa_error_set(PROVAUTH_ENETWORK, "http: %s %s: cannot resolve host (%s)", req->method,
		                    url, detail);
	case CURLE_COULDNT_CONNECT:
		return pa_error_set(PROVAUTH_ENETWORK, "http: %s %s: %s (%s)", req->method, url,
		                    os_errno == ECONNREFUSED ? "connection refused" : "cannot connect", detail);
	default:
		break;
	}
	if (is_tls_error(cc))
		return pa_error_set(PROVAUTH_ENETWORK, "http: %s %s: TLS error (%s)", req->method, url, detail);
	if (os_errno == ECONNRESET)
		return pa_error_set(PROVAUTH_ENETWORK, "http: %s %s: connection reset (%s)", req->method, url,
		                    detail);
	/* curl's own words ("transfer closed with N bytes remaining") do not say it was the server. */
	if (cc == CURLE_PARTIAL_FILE)
		return pa_error_set(PROVAUTH_ENETWORK, "http: %s %s: connection closed mid-reply (%s)", req->method,
		                    url, detail);
	if (cc == CURLE_GOT_NOTHING)
		return pa_error_set(PROVAUTH_ENETWORK, "http: %s %s: connection closed before any reply (%s)",
		                    req->method, url, detail);
	return pa_error_set(PROVAUTH_ENETWORK, "http: %s %s: %s", req->method, url, detail);
}

