/*
 * The host's HTTP service: one libcurl client per manager, shared by every
 * thread that calls into a plugin. This file makes and frees the service,
 * sets the options every request shares, and keeps the pool of easy
 * handles; one request is request.c's (see http_private.h).
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "http/http_private.h"

#define PA_HTTP_MAX_REDIRECTS 5
#define PA_HTTP_DEFAULT_CONNECT_MS 10000
#define PA_HTTP_DEFAULT_TIMEOUT_MS 30000
#define PA_HTTP_DEFAULT_MAX_REPLY (1024 * 1024)

static void handle_close(pa_handle *hd);


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


static void handle_close(pa_handle *hd)
{
	if (!hd)
		return;
	curl_easy_cleanup(hd->c);
	/* Scrubbed, but a message may still name hosts and paths. */
	pa_wipe(hd->errbuf, sizeof(hd->errbuf));
	free(hd);
}

/* ---- the handle pool ---- */

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

/*
 * libcurl (before 8.x) opens its sockets without close-on-exec. A host that
 * runs a program (fork and exec) would hand it our connections to the
 * providers, TLS sessions and all, for as long as that program lives; and
 * a child holding a socket keeps it open after we close it. Ours are made
 * close-on-exec at birth, so no other thread's fork can catch one before.
 */
static curl_socket_t open_socket_cloexec(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	(void)arg;
	(void)purpose;
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

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
	PA_CURL_SET(CURLOPT_NOSIGNAL, 1L);
	PA_CURL_SET(CURLOPT_OPENSOCKETFUNCTION, open_socket_cloexec);
	PA_CURL_SET(CURLOPT_SSL_VERIFYPEER, 1L);
	PA_CURL_SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file)
		PA_CURL_SET(CURLOPT_CAINFO, h->ca_file);
	PA_CURL_SET(CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	PA_CURL_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_reply);
	PA_CURL_SET(CURLOPT_MAXREDIRS, (long)PA_HTTP_MAX_REDIRECTS);
	PA_CURL_SET(CURLOPT_WRITEFUNCTION, pa_xfer_on_body);
	PA_CURL_SET(CURLOPT_HEADERFUNCTION, pa_xfer_on_header);
	/* The handle's own memory: valid for as long as the handle. */
	PA_CURL_SET(CURLOPT_WRITEDATA, &hd->x);
	PA_CURL_SET(CURLOPT_HEADERDATA, &hd->x);
	PA_CURL_SET(CURLOPT_ERRORBUFFER, hd->errbuf);
	/*
	 * Left alone, libcurl looks for its proxy variables on every transfer:
	 * about 15 getenv() calls, each a walk of the environment, 1.6% of a
	 * whole request (bench/RESULTS.md, e2e). When none was set as the
	 * service was made, say "no proxy" once; when one was, libcurl keeps
	 * reading them itself, with all its rules.
	 */
	if (!h->proxy_env) {
		PA_CURL_SET(CURLOPT_PROXY, "");
		PA_CURL_SET(CURLOPT_NOPROXY, "");
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
	PA_CURL_SET(CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	if (hd->body_set) {
		PA_CURL_SET(CURLOPT_POSTFIELDS, (char *)NULL);
		hd->body_set = 0;
	}
	PA_CURL_SET(CURLOPT_URL, (char *)NULL);
	return CURLE_OK;
}

pa_handle *pa_http_pool_get(pa_http *h, CURLcode *cc)
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
void pa_http_pool_put(pa_http *h, pa_handle *hd, int clean)
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

