/*
 * The host's HTTP service: one libcurl client per manager, shared by every
 * thread that calls into a plugin.
 *
 * Plugins talk to third-party APIs with credentials in headers, bodies and
 * sometimes query strings, so nothing of a request but its method and its
 * URL without query or user info ever reaches an error message or a log.
 * Replies are bounded (body and headers) so a hostile or broken server
 * cannot make the host allocate without limit.
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include "internal.h"

/* Idle easy handles kept for reuse; more than this are closed on return. */
#define PA_HTTP_POOL_MAX 16
#define PA_HTTP_MAX_REDIRECTS 5
/* Per reply: header lines of one response, status line included. */
#define PA_HTTP_MAX_HEADER_BYTES (64 * 1024)
#define PA_HTTP_DEFAULT_CONNECT_MS 10000
#define PA_HTTP_DEFAULT_TIMEOUT_MS 30000
#define PA_HTTP_DEFAULT_MAX_REPLY (1024 * 1024)
/* Room for "scheme://host:port/path" in messages; longer ones are cut. */
#define PA_HTTP_URL_SHOWN 384
/*
 * Secrets shorter than this are not searched for in curl's messages: a
 * two-letter "secret" would match ordinary words and hide nothing.
 */
#define PA_HTTP_SCRUB_MIN 3

struct pa_handle;
static void handle_close(struct pa_handle *hd);

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

/*
 * The variables libcurl reads to pick a proxy for http and https URLs
 * (uppercase HTTP_PROXY is ignored by libcurl on purpose, as in CGI it is
 * the client's "Proxy:" header).
 */
static const char *const proxy_variables[] = {
	"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
};

static int proxy_in_environment(void)
{
	size_t i;

	for (i = 0; i < sizeof(proxy_variables) / sizeof(proxy_variables[0]); i++)
		if (getenv(proxy_variables[i]))
			return 1;
	return 0;
}

/*
 * curl_global_init is not thread-safe before libcurl 7.84, and curl_easy_init
 * calls it implicitly when nobody did: two managers created at once on two
 * threads could both run it. pthread_once makes it happen exactly once.
 * There is deliberately no curl_global_cleanup: it is process-wide and would
 * tear libcurl (and OpenSSL) down under a host that also uses them.
 */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int pa_http_new(pa_http **out, const pa_http_config *cfg)
{
	pa_http *h;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "http: no output given");
	*out = NULL;
	if (!cfg)
		return pa_error_set(PROVAUTH_EINVAL, "http: no configuration given");
	if (cfg->connect_timeout_ms < 0 || cfg->timeout_ms < 0)
		return pa_error_set(PROVAUTH_EINVAL, "http: negative timeout (connect %ld ms, total %ld ms)",
		                    cfg->connect_timeout_ms, cfg->timeout_ms);
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return pa_error_set(PROVAUTH_ERROR, "http: libcurl initialisation failed: %s",
		                    curl_easy_strerror(global_rc));
	if (!(h = calloc(1, sizeof(*h))))
		return pa_error_oom();
	if (cfg->ca_file && !(h->ca_file = strdup(cfg->ca_file))) {
		free(h);
		return pa_error_oom();
	}
	if (pthread_mutex_init(&h->lock, NULL) != 0) {
		free(h->ca_file);
		free(h);
		return pa_error_set(PROVAUTH_ERROR, "http: cannot create the handle pool lock");
	}
	/* Zero means "the default", never "no limit": a library must stay bounded. */
	h->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : PA_HTTP_DEFAULT_CONNECT_MS;
	h->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : PA_HTTP_DEFAULT_TIMEOUT_MS;
	h->max_reply = cfg->max_reply_bytes ? cfg->max_reply_bytes : PA_HTTP_DEFAULT_MAX_REPLY;
	/* Leaves room for the NUL and fits curl_off_t. */
	if (h->max_reply > SIZE_MAX / 2)
		h->max_reply = SIZE_MAX / 2;
	/* Borrowed: the manager's logger outlives its HTTP service. */
	h->logger = cfg->logger;
	h->proxy_env = proxy_in_environment();
	*out = h;
	return 0;
}

void pa_http_free(pa_http *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->idle_count; i++)
		handle_close(h->idle[i]);
	pthread_mutex_destroy(&h->lock);
	free(h->ca_file);
	free(h);
}

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

static void xfer_init(pa_xfer *x, size_t max_body)
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
static void xfer_free(pa_xfer *x)
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
static provauth_http_response *xfer_finish(pa_xfer *x, long status)
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
	return r;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *payload)
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
		 * announcement is at most max_body (on_header refuses more).
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
	return len;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *payload)
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

/* ---- the handle pool ---- */

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

static void handle_close(pa_handle *hd)
{
	if (!hd)
		return;
	curl_easy_cleanup(hd->c);
	/* Scrubbed, but a message may still name hosts and paths. */
	pa_wipe(hd->errbuf, sizeof(hd->errbuf));
	free(hd);
}

/*
 * Restricting protocols keeps a plugin (or a redirect) from reaching file://,
 * dict://, gopher:// and the like. The string options exist from 7.85; a
 * library built against newer headers may still run on an older libcurl.
 */
static CURLcode restrict_protocols(CURL *c)
{
	CURLcode cc = CURLE_UNKNOWN_OPTION;

#if LIBCURL_VERSION_NUM >= 0x075500
	if ((cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https")) == CURLE_OK)
		cc = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (cc != CURLE_UNKNOWN_OPTION)
		return cc;
#endif
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	if ((cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS))) == CURLE_OK)
		cc = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#pragma GCC diagnostic pop
	return cc;
}

#define SET(opt, val) \
	do { \
		if ((cc = curl_easy_setopt(c, opt, val)) != CURLE_OK) \
			return cc; \
	} while (0)

/*
 * The options that are the same for every request of this service, set once
 * per handle. Nothing a request chooses is among them: setup() sees to those
 * for every request (see there), so a pooled handle needs no
 * curl_easy_reset, which cost more than the rest of our side of a request
 * (bench/RESULTS.md, e2e). The transfer state and the error buffer curl
 * writes to live in the handle's wrapper, so they are set here once too.
 */
static CURLcode configure_handle(pa_handle *hd, const pa_http *h)
{
	CURL *c = hd->c;
	CURLcode cc;

	if ((cc = restrict_protocols(c)) != CURLE_OK)
		return cc;
	/* Signals cannot be used from threads; timeouts then rely on the threaded resolver. */
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file)
		SET(CURLOPT_CAINFO, h->ca_file);
	SET(CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_reply);
	SET(CURLOPT_MAXREDIRS, (long)PA_HTTP_MAX_REDIRECTS);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	/* The handle's own memory: valid for as long as the handle. */
	SET(CURLOPT_WRITEDATA, &hd->x);
	SET(CURLOPT_HEADERDATA, &hd->x);
	SET(CURLOPT_ERRORBUFFER, hd->errbuf);
	/*
	 * Left alone, libcurl looks for its proxy variables on every transfer:
	 * about 15 getenv() calls, each a walk of the environment, 1.6% of a
	 * whole request (bench/RESULTS.md, e2e). When none was set as the
	 * service was made, say "no proxy" once; when one was, libcurl keeps
	 * reading them itself, with all its rules.
	 */
	if (!h->proxy_env) {
		SET(CURLOPT_PROXY, "");
		SET(CURLOPT_NOPROXY, "");
	}
	return CURLE_OK;
}

/*
 * Drops every pointer into the finished request (its header list, its body)
 * and its URL, so an idle handle refers to nothing that is gone. What setup()
 * tracks is set again by the next request whenever it differs.
 */
static CURLcode forget_request(pa_handle *hd)
{
	CURL *c = hd->c;
	CURLcode cc;

	if (hd->errbuf[0])
		pa_wipe(hd->errbuf, sizeof(hd->errbuf));
	SET(CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	if (hd->body_set) {
		SET(CURLOPT_POSTFIELDS, (char *)NULL);
		hd->body_set = 0;
	}
	SET(CURLOPT_URL, (char *)NULL);
	return CURLE_OK;
}

/* Returns a handle configured by configure_handle, or NULL (*cc says why). */
static pa_handle *pool_get(pa_http *h, CURLcode *cc)
{
	pa_handle *hd = NULL;

	pthread_mutex_lock(&h->lock);
	if (h->idle_count)
		hd = h->idle[--h->idle_count];
	pthread_mutex_unlock(&h->lock);
	if (hd)
		return hd;
	if (!(hd = calloc(1, sizeof(*hd))) || !(hd->c = curl_easy_init())) {
		free(hd);
		*cc = CURLE_OUT_OF_MEMORY;
		return NULL;
	}
	hd->timeout_ms = -1;
	hd->user_agent = hd->follow = -1;
	if ((*cc = configure_handle(hd, h)) != CURLE_OK) {
		handle_close(hd);
		return NULL;
	}
	return hd;
}

/*
 * The handle keeps its live connections, DNS and TLS session caches, which
 * is what makes the next request on it cheap. `clean` is 0 when setup()
 * failed half-way: such a handle is closed rather than trusted again.
 */
static void pool_put(pa_http *h, pa_handle *hd, int clean)
{
	if (!clean || forget_request(hd) != CURLE_OK) {
		handle_close(hd);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (h->idle_count < PA_HTTP_POOL_MAX) {
		h->idle[h->idle_count++] = hd;
		hd = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	handle_close(hd);
}

/* ---- request checks and safe descriptions ---- */

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH" };

static int method_known(const char *m)
{
	size_t i;

	for (i = 0; m && i < PA_ARRAY_LEN(methods); i++)
		if (strcmp(m, methods[i]) == 0)
			return 1;
	return 0;
}

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

/* Fills d (method and URL for messages); done only when a message needs them. */
typedef struct pa_described {
	char method[16];
	char url[PA_HTTP_URL_SHOWN];
	int done;
} pa_described;

static void describe(pa_described *d, const provauth_http_request *req)
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

/* What messages show of the request, put together on first use. */
#define M (describe(d, req), d->method)
#define U (describe(d, req), d->url)
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

	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_HTTPHEADER, headers);
	if (hd->timeout_ms != total) {
		SET(CURLOPT_TIMEOUT_MS, total);
		hd->timeout_ms = total;
	}
	if (hd->user_agent != user_agent) {
		SET(CURLOPT_USERAGENT, user_agent ? "provauth/" PACKAGE_VERSION : NULL);
		hd->user_agent = user_agent;
	}
	if (hd->follow != follow) {
		SET(CURLOPT_FOLLOWLOCATION, (long)follow);
		hd->follow = follow;
	}
	if (get || bodyless_delete) {
		if (!hd->bodyless) {
			SET(CURLOPT_POSTFIELDS, (char *)NULL);
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
			/* After POSTFIELDS, which makes the handle POST: this makes it GET again. */
			SET(CURLOPT_HTTPGET, 1L);
			hd->bodyless = 1;
		}
	} else {
		/* POST, PUT, PATCH, DELETE with a body: an empty body still sends Content-Length: 0. */
		hd->bodyless = 0;
		hd->body_set = 1;
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
	/* check_request made sure the method is one of methods[]. */
	if (!get && !post)
		for (i = 0; i < PA_ARRAY_LEN(methods); i++)
			if (strcmp(req->method, methods[i]) == 0)
				custom = methods[i];
	if (!hd->custom_known || hd->custom != custom) {
		SET(CURLOPT_CUSTOMREQUEST, custom);
		hd->custom = custom;
		hd->custom_known = 1;
	}
	return CURLE_OK;
}
#undef SET

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

/* Turns a failed transfer into a code and an error message naming the request. */
static int fail(CURLcode cc, CURL *c, const pa_xfer *x, const provauth_http_request *req,
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
	 * on_header sees the line. Between a status line and the end of the
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
#define URL (describe(&d, req), d.url)

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
	if (!(hd = pool_get(h, &cc)) || (cc = setup(hd, h, req, headers.head, &scan)) != CURLE_OK) {
		/* An option this libcurl refuses (say, TLS verification) must not be skipped. */
		rc = pa_error_set(cc == CURLE_OUT_OF_MEMORY ? PROVAUTH_ENOMEM : PROVAUTH_ERROR,
		                  "http: %s %s: libcurl refused an option: %s", req->method, URL,
		                  curl_easy_strerror(cc));
		clean = 0;
		goto out;
	}
	hd->errbuf[0] = '\0';
	xfer_init(&hd->x, h->max_reply);
	if ((cc = curl_easy_perform(hd->c)) != CURLE_OK) {
		rc = fail(cc, hd->c, &hd->x, req, URL, hd->errbuf,
		          req->timeout_ms > 0 ? req->timeout_ms : h->timeout_ms);
		goto out;
	}
	curl_easy_getinfo(hd->c, CURLINFO_RESPONSE_CODE, &status);
	if (!(resp = xfer_finish(&hd->x, status))) {
		rc = pa_error_prefix(pa_error_oom(), "http: %s %s", req->method, URL);
		goto out;
	}
	*out = resp;
	resp = NULL;
	rc = 0;
out:
	if (logged) {
		describe(&d, req);
		log_request(h, req, &d, *out ? (*out)->status : 0, started, *out ? (*out)->body_len : 0, rc);
	}
	if (hd) {
		if (hd->x.raw)
			xfer_free(&hd->x);
		pool_put(h, hd, clean);
	}
	lines_free(&headers);
	pa_http_response_free(resp);
	return rc;
}
#undef URL
