/*
 * What the files of core/http share, private to them:
 *
 *   http.c      the service's lifetime, the options every handle has, and
 *               the pool of easy handles
 *   request.c   one request: its checks, its header lines, the options it
 *               chooses, the transfer and its log event
 *   reply.c     a reply as it arrives, within its limits, and the
 *               provauth_http_response made of it
 *   messages.c  what messages show of a request (method and URL without
 *               secrets) and a failed transfer in our words
 *
 * Plugins talk to third-party APIs with credentials in headers, bodies and
 * sometimes query strings, so nothing of a request but its method and its
 * URL without query or user info ever reaches an error message or a log.
 * Replies are bounded (body and headers) so a hostile or broken server
 * cannot make the host allocate without limit.
 */
#ifndef PA_HTTP_PRIVATE_H
#define PA_HTTP_PRIVATE_H

#include <pthread.h>
#include <stddef.h>
#include <curl/curl.h>
#include "internal.h"

/* Idle easy handles kept for reuse; more than this are closed on return. */
#define PA_HTTP_POOL_MAX 16
/* Per reply: header lines of one response, status line included. */
#define PA_HTTP_MAX_HEADER_BYTES (64 * 1024)
/* Room for "scheme://host:port/path" in messages; longer ones are cut. */
#define PA_HTTP_URL_SHOWN 384

struct pa_http {
	pthread_mutex_t lock;
	struct pa_handle *idle[PA_HTTP_POOL_MAX];  /* LIFO: idle[idle_count - 1] is the warmest */
	size_t idle_count;
	char *ca_file;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_reply;
	const pa_logger *logger;
	int proxy_env;  /* a libcurl proxy variable was set when the service was made */
};

/* Sets a curl option on CURL *c, or returns the CURLcode from the function (cc in scope). */
#define PA_CURL_SET(opt, val) \
	do { \
		if ((cc = curl_easy_setopt(c, opt, val)) != CURLE_OK) \
			return cc; \
	} while (0)

/* ---- reply.c: one transfer's reply ---- */

/* One header field as it arrived: offsets into pa_xfer.raw. */
typedef struct pa_field {
	size_t name, nlen;            /* lowercased */
	size_t value, vlen;
	size_t owner;                 /* the first field of this name, which the reply lists */
	size_t next;                  /* the next field merged into this one's owner; 0: none */
	size_t total;                 /* owners: the merged value's length */
} pa_field;

#define PA_XFER_RAW_SMALL 1024
#define PA_XFER_FIELDS_SMALL 16

typedef struct pa_xfer {
	char *body;                   /* NUL-terminated once anything arrived */
	size_t body_len, body_cap;
	size_t max_body;
	size_t header_bytes;          /* of the current response */
	size_t announced;             /* the current response's Content-Length; SIZE_MAX: none */
	int body_too_big;
	int headers_too_big;
	int oom;
	int in_head;                  /* a status line came, the blank line after the fields not yet */
	/* The current response's fields, back to back without separators; they may hold cookies. */
	char *raw;
	size_t raw_len, raw_cap;
	pa_field *fields;
	size_t nfields, fields_cap;
	char raw_small[PA_XFER_RAW_SMALL];
	pa_field fields_small[PA_XFER_FIELDS_SMALL];
} pa_xfer;

void pa_xfer_init(pa_xfer *x, size_t max_body);
/* Wipes and frees what the transfer holds (header values, a body not taken). */
void pa_xfer_free(pa_xfer *x);
/* The reply made of the last response's fields and body, which it takes; NULL when out of memory. */
provauth_http_response *pa_xfer_finish(pa_xfer *x, long status);
/* CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION, payload a pa_xfer. */
size_t pa_xfer_on_body(char *data, size_t size, size_t nmemb, void *payload);
size_t pa_xfer_on_header(char *data, size_t size, size_t nmemb, void *payload);

/* ---- http.c: the handle pool ---- */

/*
 * A pooled easy handle and what it currently has of the options a request
 * chooses, so that setup() sets only those that differ from the last
 * request's: curl_easy_setopt calls were the largest part of our side of a
 * request after the transfer itself (bench/RESULTS.md, e2e). -1 (or
 * method_known 0): not known, set it.
 */
typedef struct pa_handle {
	CURL *c;
	long timeout_ms;
	int user_agent;               /* 1: ours, 0: none (the request sends its own) */
	int follow;
	int bodyless;                 /* 1: POSTFIELDS NULL, POSTFIELDSIZE -1, HTTPGET */
	int body_set;                 /* POSTFIELDS points into the request: drop it when idle */
	int custom_known;
	const char *custom;           /* CUSTOMREQUEST: NULL or an entry of methods[] */
	char errbuf[CURL_ERROR_SIZE];
	pa_xfer x;
} pa_handle;

/* Returns a handle with the service's options set, or NULL (*cc says why). */
pa_handle *pa_http_pool_get(pa_http *h, CURLcode *cc);
/* Back to the pool; `clean` 0 (setup failed half-way): closed instead. */
void pa_http_pool_put(pa_http *h, pa_handle *hd, int clean);

/* ---- messages.c ---- */

/* The method and URL messages show; filled by pa_http_describe only when a message needs them. */
typedef struct pa_described {
	char method[16];
	char url[PA_HTTP_URL_SHOWN];
	int done;
} pa_described;

void pa_http_describe(pa_described *d, const provauth_http_request *req);
/*
 * Turns a failed transfer into a code and an error message naming the
 * request by `url` (as described); errbuf (CURL_ERROR_SIZE) is curl's
 * message, scrubbed of the request's secrets here.
 */
int pa_http_fail(CURLcode cc, CURL *c, const pa_xfer *x, const provauth_http_request *req,
                 const char *url, char *errbuf, long total_ms);

#endif /* PA_HTTP_PRIVATE_H */
