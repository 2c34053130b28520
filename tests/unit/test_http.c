/*
 * The HTTP service against real servers on 127.0.0.1: a libmicrohttpd daemon
 * (plain and TLS) for ordinary replies, and a raw socket server for replies
 * no well-behaved server library would send (folded or oversized headers, a
 * Content-Length it never honours).
 */
#include "config.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "internal.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

/* ------------------------------------------------------------------------ */
/* The libmicrohttpd test server                                            */
/* ------------------------------------------------------------------------ */

static struct MHD_Daemon *srv;
static struct MHD_Daemon *tls_srv;
static unsigned int srv_port;
static unsigned int tls_port;
static atomic_int connections_started;

/* /slow holds its reply until the test moves slow_gen on (or 3 s pass). */
static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slow_cond = PTHREAD_COND_INITIALIZER;
static unsigned int slow_gen;

static char tmpdir[64];
static char ca_path[128];

typedef struct upload {
	char *data;
	size_t len;
} upload;

typedef struct text {
	char buf[4096];
	size_t len;
} text;

static void release_slow(void)
{
	pthread_mutex_lock(&slow_lock);
	slow_gen++;
	pthread_cond_broadcast(&slow_cond);
	pthread_mutex_unlock(&slow_lock);
}

static void wait_for_release(void)
{
	struct timespec until;
	unsigned int gen;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	pthread_mutex_lock(&slow_lock);
	gen = slow_gen;
	while (slow_gen == gen)
		if (pthread_cond_timedwait(&slow_cond, &slow_lock, &until) != 0)
			break;
	pthread_mutex_unlock(&slow_lock);
}

static mhd_result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	text *t = cls;
	int n;

	PA_UNUSED(kind);
	n = snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s: %s\n", key, value ? value : "");
	if (n > 0 && (size_t)n < sizeof(t->buf) - t->len)
		t->len += (size_t)n;
	return MHD_YES;
}

static ssize_t chunk_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	size_t total = *(size_t *)cls, n;

	if (pos >= total)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = total - (size_t)pos < max ? total - (size_t)pos : max;
	memset(buf, 'y', n);
	return (ssize_t)n;
}

static mhd_result reply(struct MHD_Connection *conn, unsigned int status, const char *body, size_t len,
                        const char *const *headers)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	mhd_result ret;

	if (!r)
		return MHD_NO;
	for (; headers && headers[0]; headers += 2)
		MHD_add_response_header(r, headers[0], headers[1]);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static size_t query_size(struct MHD_Connection *conn, const char *key)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
	return v ? (size_t)strtoul(v, NULL, 10) : 0;
}

static mhd_result route(struct MHD_Connection *conn, const char *path, const char *method, upload *up)
{
	if (strcmp(path, "/hello") == 0) {
		static const char *const h[] = { "X-Test", "yes", "Content-Type", "text/plain", NULL };
		return reply(conn, 200, "hello world", 11, h);
	}
	if (strcmp(path, "/echo") == 0) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		const char *h[] = { "X-Method", method, "X-Content-Length", cl ? cl : "none", NULL };
		return reply(conn, 200, up->data ? up->data : "", up->len, h);
	}
	if (strcmp(path, "/headers") == 0) {
		char uploaded[32];
		const char *h[] = { "X-Method", method, "X-Uploaded", uploaded, NULL };
		text t;
		t.len = 0;
		t.buf[0] = '\0';
		snprintf(uploaded, sizeof(uploaded), "%zu", up->len);
		MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &t);
		return reply(conn, 200, t.buf, t.len, h);
	}
	if (strcmp(path, "/status") == 0) {
		char body[32];
		unsigned int code = (unsigned int)query_size(conn, "code");
		snprintf(body, sizeof(body), "status %u", code);
		return reply(conn, code, body, strlen(body), NULL);
	}
	if (strcmp(path, "/big") == 0) {
		size_t n = query_size(conn, "n");
		char *body = malloc(n + 1);
		mhd_result ret;
		if (!body)
			return MHD_NO;
		memset(body, 'x', n);
		ret = reply(conn, 200, body, n, NULL);
		free(body);
		return ret;
	}
	if (strcmp(path, "/chunked") == 0) {
		/* Unknown size: the client only learns the length by reading it all. */
		size_t *n = malloc(sizeof(*n));
		struct MHD_Response *r;
		mhd_result ret;
		if (!n)
			return MHD_NO;
		*n = query_size(conn, "n");
		if (!(r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, chunk_reader, n, free))) {
			free(n);
			return MHD_NO;
		}
		ret = MHD_queue_response(conn, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(path, "/slow") == 0) {
		wait_for_release();
		return reply(conn, 200, "late", 4, NULL);
	}
	if (strcmp(path, "/redirect") == 0) {
		static const char *const h[] = { "Location", "/hello", NULL };
		return reply(conn, 302, "moved", 5, h);
	}
	if (strcmp(path, "/loop") == 0) {
		static const char *const h[] = { "Location", "/loop", NULL };
		return reply(conn, 302, "again", 5, h);
	}
	if (strcmp(path, "/tofile") == 0) {
		static const char *const h[] = { "Location", "file:///etc/passwd", NULL };
		return reply(conn, 302, "file", 4, h);
	}
	if (strcmp(path, "/cookies") == 0) {
		static const char *const h[] = {
			"Set-Cookie", "a=1; Path=/",
			"Set-Cookie", "b=2",
			"Set-Cookie", "c=3; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
			"X-Dup", "one",
			"X-Dup", "two",
			NULL
		};
		return reply(conn, 200, "cookies", 7, h);
	}
	return reply(conn, 404, "not found", 9, NULL);
}

static mhd_result handler(void *cls, struct MHD_Connection *conn, const char *path, const char *method,
                          const char *version, const char *upload_data, size_t *upload_size,
                          void **con_cls)
{
	upload *up = *con_cls;

	PA_UNUSED(cls);
	PA_UNUSED(version);
	if (!up) {
		if (!(up = calloc(1, sizeof(*up))))
			return MHD_NO;
		*con_cls = up;
		return MHD_YES;
	}
	if (*upload_size) {
		char *grown = realloc(up->data, up->len + *upload_size + 1);
		if (!grown)
			return MHD_NO;
		memcpy(grown + up->len, upload_data, *upload_size);
		up->data = grown;
		up->len += *upload_size;
		up->data[up->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	return route(conn, path, method, up);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	upload *up = *con_cls;

	PA_UNUSED(cls);
	PA_UNUSED(conn);
	PA_UNUSED(toe);
	if (up) {
		free(up->data);
		free(up);
		*con_cls = NULL;
	}
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
	PA_UNUSED(cls);
	PA_UNUSED(conn);
	PA_UNUSED(socket_context);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&connections_started, 1);
}

static struct MHD_Daemon *start_daemon(unsigned int *port, const char *key_pem, const char *cert_pem)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (key_pem)
		d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handler, NULL,
		                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		                     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
		                     MHD_OPTION_HTTPS_MEM_KEY, key_pem,
		                     MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
		                     MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL,
		                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		                     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
		                     MHD_OPTION_NOTIFY_CONNECTION, notify_connection, NULL,
		                     MHD_OPTION_END);
	if (!d)
		return NULL;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || !info->port) {
		MHD_stop_daemon(d);
		return NULL;
	}
	*port = info->port;
	return d;
}

/* ------------------------------------------------------------------------ */
/* A self-signed certificate for 127.0.0.1, made at start                   */
/* ------------------------------------------------------------------------ */

static char *bio_text(BIO *b)
{
	char *data, *copy;
	long n = BIO_get_mem_data(b, &data);

	if (n <= 0 || !(copy = malloc((size_t)n + 1)))
		return NULL;
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	return copy;
}

static int make_certificate(char **key_pem, char **cert_pem)
{
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	EVP_PKEY *pkey = NULL;
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	int ok = 0;

	*key_pem = *cert_pem = NULL;
	if (!kctx || !x || !kb || !cb || EVP_PKEY_keygen_init(kctx) <= 0 ||
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx, NID_X9_62_prime256v1) <= 0 ||
	    EVP_PKEY_keygen(kctx, &pkey) <= 0)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pkey);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"provauth test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	/* Only the address: https://localhost/ must then fail host verification. */
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (!(ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1")) ||
	    !X509_add_ext(x, ext, -1) || !X509_sign(x, pkey, EVP_sha256()) ||
	    !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_X509(cb, x))
		goto out;
	*key_pem = bio_text(kb);
	*cert_pem = bio_text(cb);
	ok = *key_pem && *cert_pem;
out:
	X509_EXTENSION_free(ext);
	BIO_free(kb);
	BIO_free(cb);
	X509_free(x);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(kctx);
	return ok ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* A raw server: one connection, one canned reply                           */
/* ------------------------------------------------------------------------ */

typedef struct raw_server {
	int fd;
	unsigned int port;
	pthread_t thread;
	const char *reply;
	size_t reply_len;
} raw_server;

static void *raw_main(void *p)
{
	raw_server *rs = p;
	struct pollfd pfd;
	char buf[4096], request[8192];
	size_t have = 0;
	int c;
	ssize_t n;

	pfd.fd = rs->fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1 || (c = accept(rs->fd, NULL, NULL)) < 0)
		return NULL;
	pfd.fd = c;
	/* Read the request head, then answer whatever it asked. */
	while (have < sizeof(request) - 1 && poll(&pfd, 1, 3000) == 1 &&
	       (n = recv(c, request + have, sizeof(request) - 1 - have, 0)) > 0) {
		have += (size_t)n;
		request[have] = '\0';
		if (strstr(request, "\r\n\r\n"))
			break;
	}
	send(c, rs->reply, rs->reply_len, MSG_NOSIGNAL);
	/* Hold the connection until the client drops it, as a stalled server would. */
	while (poll(&pfd, 1, 3000) == 1 && recv(c, buf, sizeof(buf), 0) > 0)
		;
	close(c);
	return NULL;
}

static int raw_start(raw_server *rs, const char *reply, size_t len)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(rs, 0, sizeof(*rs));
	rs->reply = reply;
	rs->reply_len = len;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((rs->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	if (bind(rs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(rs->fd, 4) < 0 ||
	    getsockname(rs->fd, (struct sockaddr *)&sa, &sl) < 0 ||
	    pthread_create(&rs->thread, NULL, raw_main, rs) != 0) {
		close(rs->fd);
		return -1;
	}
	rs->port = ntohs(sa.sin_port);
	return 0;
}

static void raw_stop(raw_server *rs)
{
	pthread_join(rs->thread, NULL);
	close(rs->fd);
}

/* A port nobody listens on: bound once, then closed. */
static unsigned int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned int port = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static pa_http *http;   /* default settings, shared by most tests */

static pa_http *new_http(long connect_ms, long timeout_ms, size_t max_reply, const char *ca_file,
                         const pa_logger *lg)
{
	pa_http_config cfg;
	pa_http *h = NULL;

	cfg.ca_file = ca_file;
	cfg.connect_timeout_ms = connect_ms;
	cfg.timeout_ms = timeout_ms;
	cfg.max_reply_bytes = max_reply;
	cfg.logger = lg;
	if (pa_http_new(&h, &cfg) < 0)
		return NULL;
	return h;
}

static void url_to(char *buf, size_t n, unsigned int port, const char *path)
{
	snprintf(buf, n, "http://127.0.0.1:%u%s", port, path);
}

static int do_get(pa_http *h, const char *path, provauth_http_response **out)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	char url[256];

	url_to(url, sizeof(url), srv_port, path);
	req.url = url;
	return pa_http_request(h, &req, out);
}

static int64_t elapsed_since(int64_t start)
{
	return pa_monotonic_ms() - start;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

/* libcurl's proxy variables (see http.c); saved, cleared and restored around a test. */
static const char *const proxy_vars[] = {
	"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
};

static void proxy_env_save(char *saved[])
{
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(proxy_vars); i++) {
		const char *v = getenv(proxy_vars[i]);
		saved[i] = v ? strdup(v) : NULL;
		unsetenv(proxy_vars[i]);
	}
}

static void proxy_env_restore(char *saved[])
{
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(proxy_vars); i++) {
		if (saved[i])
			setenv(proxy_vars[i], saved[i], 1);
		else
			unsetenv(proxy_vars[i]);
		free(saved[i]);
	}
}

/* GET /hello on h answers `want`. */
static void expect_hello(pa_http *h, const char *want)
{
	provauth_http_response *resp = NULL;

	CU_ASSERT_EQUAL(do_get(h, "/hello", &resp), 0);
	CU_ASSERT(resp && strcmp(resp->body, want) == 0);
	pa_http_response_free(resp);
}

/*
 * A proxy variable set when the service is made is used, with libcurl's
 * own rules (no_proxy included); one set only later is not, since the
 * service told libcurl "no proxy" once instead of letting it read the
 * environment on every request.
 */
static void test_proxy_environment(void)
{
	static const char canned[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nvia proxy!";
	char *saved[PA_ARRAY_LEN(proxy_vars)], proxy_url[64];
	raw_server proxy;
	pa_http *h;

	proxy_env_save(saved);
	CU_ASSERT_FATAL(raw_start(&proxy, canned, strlen(canned)) == 0);
	snprintf(proxy_url, sizeof(proxy_url), "http://127.0.0.1:%u", proxy.port);
	setenv("http_proxy", proxy_url, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h = new_http(0, 0, 0, NULL, NULL));
	expect_hello(h, "via proxy!");
	pa_http_free(h);
	raw_stop(&proxy);

	/* no_proxy still counts: the proxy is gone, and the request goes direct. */
	snprintf(proxy_url, sizeof(proxy_url), "http://127.0.0.1:%u", closed_port());
	setenv("http_proxy", proxy_url, 1);
	setenv("no_proxy", "127.0.0.1", 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h = new_http(0, 0, 0, NULL, NULL));
	expect_hello(h, "hello world");
	pa_http_free(h);
	unsetenv("no_proxy");

	/* Set after the service was made: not read, the request goes direct. */
	unsetenv("http_proxy");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h = new_http(0, 0, 0, NULL, NULL));
	setenv("http_proxy", proxy_url, 1);
	expect_hello(h, "hello world");
	pa_http_free(h);
	proxy_env_restore(saved);
}

static void test_get_body_and_headers(void)
{
	provauth_http_response *resp = NULL;

	CU_ASSERT_EQUAL_FATAL(do_get(http, "/hello", &resp), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
	CU_ASSERT_EQUAL(resp->status, 200);
	CU_ASSERT_EQUAL(resp->body_len, 11);
	CU_ASSERT_STRING_EQUAL(resp->body, "hello world");
	/* Names are lowercased; lookups ignore case. */
	CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-test"), "yes");
	CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "X-TEST"), "yes");
	CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "Content-Type"), "text/plain");
	CU_ASSERT_PTR_NULL(pa_http_header(resp, "x-missing"));
	CU_ASSERT_PTR_NULL(pa_http_header(NULL, "x-test"));
	CU_ASSERT_PTR_NULL(pa_http_header(resp, NULL));
	for (size_t i = 0; i < resp->header_count; i++)
		for (const char *p = resp->headers[i].name; *p; p++)
			CU_ASSERT(!(*p >= 'A' && *p <= 'Z'));
	pa_http_response_free(resp);
}

/*
 * Our connections are close-on-exec: a host that runs a program must not
 * hand it the sockets to the providers. The pooled connection to the test
 * server stays open after the request, so it can be looked at.
 */
static void test_sockets_close_on_exec(void)
{
	provauth_http_response *resp = NULL;
	struct dirent *e;
	DIR *dir;
	int ours = 0;

	CU_ASSERT_EQUAL_FATAL(do_get(http, "/hello", &resp), 0);
	pa_http_response_free(resp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir = opendir("/proc/self/fd"));
	while ((e = readdir(dir))) {
		struct sockaddr_in local, peer;
		socklen_t llen = sizeof(local), plen = sizeof(peer);
		struct stat sb;
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(dir) || fstat(fd, &sb) != 0 || !S_ISSOCK(sb.st_mode))
			continue;
		/* A client socket to the test server: its peer is the server's port, its own side is not. */
		if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0 || local.sin_family != AF_INET ||
		    getpeername(fd, (struct sockaddr *)&peer, &plen) != 0 || ntohs(peer.sin_port) != srv_port ||
		    ntohs(local.sin_port) == srv_port)
			continue;
		ours++;
		CU_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	}
	closedir(dir);
	CU_ASSERT(ours >= 1);
}

static void test_post_echo(void)
{
	static const char body[] = "a=1&b=two&c=\xe2\x82\xac";
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	char url[256];

	url_to(url, sizeof(url), srv_port, "/echo");
	req.method = "POST";
	req.url = url;
	req.body = body;
	req.body_len = sizeof(body) - 1;
	CU_ASSERT_EQUAL_FATAL(pa_http_request(http, &req, &resp), 0);
	CU_ASSERT_EQUAL(resp->status, 200);
	CU_ASSERT_EQUAL(resp->body_len, sizeof(body) - 1);
	CU_ASSERT_STRING_EQUAL(resp->body, body);
	CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-method"), "POST");
	pa_http_response_free(resp);
}

static void test_post_empty_body(void)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	char url[256];

	url_to(url, sizeof(url), srv_port, "/echo");
	req.method = "POST";
	req.url = url;
	CU_ASSERT_EQUAL_FATAL(pa_http_request(http, &req, &resp), 0);
	CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-method"), "POST");
	CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-content-length"), "0");
	CU_ASSERT_EQUAL(resp->body_len, 0);
	CU_ASSERT_PTR_NOT_NULL(resp->body);
	CU_ASSERT_STRING_EQUAL(resp->body, "");
	pa_http_response_free(resp);
}

static void test_other_methods(void)
{
	static const char *const methods[] = { "PUT", "PATCH", "DELETE" };
	char url[256];
	size_t i;

	url_to(url, sizeof(url), srv_port, "/echo");
	for (i = 0; i < PA_ARRAY_LEN(methods); i++) {
		provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
		provauth_http_response *resp = NULL;
		char body[32];

		snprintf(body, sizeof(body), "body of %s", methods[i]);
		req.method = methods[i];
		req.url = url;
		req.body = body;
		req.body_len = strlen(body);
		CU_ASSERT_EQUAL_FATAL(pa_http_request(http, &req, &resp), 0);
		CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-method"), methods[i]);
		CU_ASSERT_STRING_EQUAL(resp->body, body);
		pa_http_response_free(resp);
	}
	{
		provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
		provauth_http_response *resp = NULL;

		req.method = "DELETE";
		req.url = url;
		CU_ASSERT_EQUAL_FATAL(pa_http_request(http, &req, &resp), 0);
		CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-method"), "DELETE");
		CU_ASSERT_EQUAL(resp->body_len, 0);
		pa_http_response_free(resp);
	}
}

#define BIG_BODY 1200000

static void test_custom_headers_and_user_agent(void)
{
	provauth_http_header hdrs[] = {
		{ "X-Custom", "hello there", 0 },
		{ "Authorization", "Bearer tok", 1 },
		{ "X-Empty", "", 0 },
	};
	provauth_http_header ua[] = { { "User-Agent", "MyApp/2.0", 0 } };
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	char url[256], *big;

	url_to(url, sizeof(url), srv_port, "/headers");
	req.url = url;
	req.headers = hdrs;
	req.header_count = PA_ARRAY_LEN(hdrs);
	CU_ASSERT_EQUAL_FATAL(pa_http_request(http, &req, &resp), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp->body, "X-Custom: hello there\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(resp->body, "Authorization: Bearer tok\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(resp->body, "X-Empty: \n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(resp->body, "User-Agent: provauth/" PACKAGE_VERSION "\n"));
	CU_ASSERT_PTR_NULL(strstr(resp->body, "Expect:"));
	pa_http_response_free(resp);

	req.headers = ua;
	req.header_count = 1;
	CU_ASSERT_EQUAL_FATAL(pa_http_request(http, &req, &resp), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(resp->body, "User-Agent: MyApp/2.0\n"));
	CU_ASSERT_PTR_NULL(strstr(resp->body, "provauth/"));
	pa_http_response_free(resp);

	/* A large body goes at once, without waiting for "100 Continue". */
	big = malloc(BIG_BODY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'b', BIG_BODY);
	req.method = "POST";
	req.headers = NULL;
	req.header_count = 0;
	req.body = big;
	req.body_len = BIG_BODY;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), 0);
	if (resp) {
		CU_ASSERT_PTR_NULL(strstr(resp->body, "Expect"));
		CU_ASSERT_PTR_NOT_NULL(strstr(resp->body, "Content-Length: 1200000\n"));
	}
	pa_http_response_free(resp);
	free(big);
}

static void test_error_statuses_are_replies(void)
{
	provauth_http_response *resp = NULL;

	CU_ASSERT_EQUAL_FATAL(do_get(http, "/status?code=500", &resp), 0);
	CU_ASSERT_EQUAL(resp->status, 500);
	CU_ASSERT_STRING_EQUAL(resp->body, "status 500");
	pa_http_response_free(resp);
	CU_ASSERT_EQUAL_FATAL(do_get(http, "/nowhere", &resp), 0);
	CU_ASSERT_EQUAL(resp->status, 404);
	CU_ASSERT_STRING_EQUAL(resp->body, "not found");
	pa_http_response_free(resp);
}

static void test_reply_size_cap(void)
{
	pa_http *h = new_http(0, 0, 1000, NULL, NULL);
	provauth_http_response *resp = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	/* Exactly the cap is fine. */
	CU_ASSERT_EQUAL(do_get(h, "/big?n=1000", &resp), 0);
	CU_ASSERT_EQUAL(resp ? resp->body_len : 0, 1000);
	pa_http_response_free(resp);
	resp = NULL;
	CU_ASSERT_EQUAL(do_get(h, "/chunked?n=1000", &resp), 0);
	CU_ASSERT_EQUAL(resp ? resp->body_len : 0, 1000);
	pa_http_response_free(resp);
	resp = NULL;
	/* One byte over, announced by Content-Length. */
	CU_ASSERT_EQUAL(do_get(h, "/big?n=1001", &resp), PROVAUTH_ETOOBIG);
	CU_ASSERT_PTR_NULL(resp);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "larger than 1000 bytes"));
	/* Over, with no length announced: caught while reading. */
	CU_ASSERT_EQUAL(do_get(h, "/chunked?n=5000", &resp), PROVAUTH_ETOOBIG);
	CU_ASSERT_PTR_NULL(resp);
	CU_ASSERT_EQUAL(do_get(h, "/chunked?n=1001", &resp), PROVAUTH_ETOOBIG);
	CU_ASSERT_PTR_NULL(resp);
	/* The handle that aborted is still good for the next request. */
	CU_ASSERT_EQUAL(do_get(h, "/hello", &resp), 0);
	CU_ASSERT_EQUAL(resp ? resp->status : 0, 200);
	pa_http_response_free(resp);
	pa_http_free(h);
}

static void test_content_length_rejected_early(void)
{
	static const char reply_text[] = "HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\nabc";
	raw_server rs;
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	pa_http *h = new_http(0, 2500, 1000, NULL, NULL);
	char url[256];
	int64_t start;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL_FATAL(raw_start(&rs, reply_text, sizeof(reply_text) - 1), 0);
	url_to(url, sizeof(url), rs.port, "/x");
	req.url = url;
	start = pa_monotonic_ms();
	/* The server never sends the rest: only an early refusal avoids the timeout. */
	CU_ASSERT_EQUAL(pa_http_request(h, &req, &resp), PROVAUTH_ETOOBIG);
	CU_ASSERT(elapsed_since(start) < 2000);
	CU_ASSERT_PTR_NULL(resp);
	pa_http_free(h);
	raw_stop(&rs);
}

static void test_folded_and_oversized_headers(void)
{
	static const char folded[] =
		"HTTP/1.1 200 OK\r\n"
		"X-Folded: first\r\n"
		"   second\r\n"
		"\tthird \r\n"
		"X-Plain:   spaced value  \r\n"
		"Content-Length: 2\r\n"
		"Connection: close\r\n"
		"\r\n"
		"ok";
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	raw_server rs;
	char url[256], *huge;
	size_t n = 0;
	int i;

	CU_ASSERT_EQUAL_FATAL(raw_start(&rs, folded, sizeof(folded) - 1), 0);
	url_to(url, sizeof(url), rs.port, "/");
	req.url = url;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), 0);
	if (resp) {
		CU_ASSERT_STRING_EQUAL(resp->body, "ok");
		CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-folded"), "first second third");
		CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-plain"), "spaced value");
	}
	pa_http_response_free(resp);
	resp = NULL;
	raw_stop(&rs);

	/* 70 KiB of header lines, each one small: only the total is too much. */
	huge = malloc(80 * 1024);
	CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
	n += (size_t)sprintf(huge, "HTTP/1.1 200 OK\r\n");
	for (i = 0; n < 70 * 1024; i++)
		n += (size_t)sprintf(huge + n, "X-Filler-%d: %0100d\r\n", i, i);
	n += (size_t)sprintf(huge + n, "Content-Length: 2\r\n\r\nok");
	CU_ASSERT_EQUAL_FATAL(raw_start(&rs, huge, n), 0);
	url_to(url, sizeof(url), rs.port, "/");
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_ETOOBIG);
	CU_ASSERT_PTR_NULL(resp);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "headers larger than"));
	raw_stop(&rs);
	free(huge);
}

/*
 * One header line of 8 MB: curl refuses it before our header callback sees
 * it, with its out-of-memory code. That is a reply too big, not a host out
 * of memory, and callers treat the two differently.
 */
static void test_one_giant_header_line(void)
{
	static const size_t sizes[] = { 200 * 1024, 8 * 1024 * 1024 };
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	raw_server rs;
	char url[256], *huge;
	size_t n, k;

	for (k = 0; k < PA_ARRAY_LEN(sizes); k++) {
		huge = malloc(sizes[k] + 64);
		CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
		n = (size_t)sprintf(huge, "HTTP/1.1 200 OK\r\nX-Giant: ");
		memset(huge + n, 'g', sizes[k]);
		n += sizes[k];
		n += (size_t)sprintf(huge + n, "\r\nContent-Length: 2\r\n\r\nok");
		CU_ASSERT_EQUAL_FATAL(raw_start(&rs, huge, n), 0);
		url_to(url, sizeof(url), rs.port, "/");
		req.url = url;
		CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_ETOOBIG);
		CU_ASSERT_PTR_NULL(resp);
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "header"));
		CU_ASSERT_PTR_NULL(strstr(provauth_last_error(), "out of memory"));
		pa_http_response_free(resp);
		resp = NULL;
		raw_stop(&rs);
		free(huge);
	}
}

/*
 * Many fields, long values, repeats interleaved with others and a fold on a
 * repeated field: more than the capture keeps inline, so it moves to the
 * heap mid-reply, and every value must come out whole and in order.
 */
static void test_many_headers(void)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	raw_server rs;
	char url[256], *wire, expect[8192], name[32], value[256];
	size_t n = 0, e = 0, i, seen_cookies = 0;

	wire = malloc(64 * 1024);
	CU_ASSERT_PTR_NOT_NULL_FATAL(wire);
	n += (size_t)sprintf(wire, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < 60; i++) {
		n += (size_t)sprintf(wire + n, "X-Field-%zu: value %zu %0150zu\r\n", i, i, i);
		/* The repeated field, every third line; its values join with ", ". */
		if (i % 3 == 0) {
			n += (size_t)sprintf(wire + n, "X-Repeat: r%zu\r\n", i);
			e += (size_t)sprintf(expect + e, "%sr%zu", e ? ", " : "", i);
		}
		if (i % 20 == 0)
			n += (size_t)sprintf(wire + n, "Set-Cookie: c%zu=%zu\r\n", i, i);
	}
	n += (size_t)sprintf(wire + n, "X-Repeat: last\r\n  folded\r\n");
	e += (size_t)sprintf(expect + e, ", last folded");
	n += (size_t)sprintf(wire + n, "Content-Length: 2\r\nConnection: close\r\n\r\nok");
	CU_ASSERT_EQUAL_FATAL(raw_start(&rs, wire, n), 0);
	url_to(url, sizeof(url), rs.port, "/");
	req.url = url;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), 0);
	if (resp) {
		CU_ASSERT_STRING_EQUAL(resp->body, "ok");
		for (i = 0; i < 60; i++) {
			snprintf(name, sizeof(name), "x-field-%zu", i);
			snprintf(value, sizeof(value), "value %zu %0150zu", i, i);
			CU_ASSERT_PTR_NOT_NULL(pa_http_header(resp, name));
			if (pa_http_header(resp, name))
				CU_ASSERT_STRING_EQUAL(pa_http_header(resp, name), value);
		}
		CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-repeat"), expect);
		for (i = 0; i < resp->header_count; i++) {
			if (strcmp(resp->headers[i].name, "set-cookie") == 0) {
				snprintf(value, sizeof(value), "c%zu=%zu", seen_cookies * 20, seen_cookies * 20);
				CU_ASSERT_STRING_EQUAL(resp->headers[i].value, value);
				seen_cookies++;
			}
		}
		CU_ASSERT_EQUAL(seen_cookies, 3);
		/* 60 fields, one merged X-Repeat, three cookies, Content-Length, Connection. */
		CU_ASSERT_EQUAL(resp->header_count, 60 + 1 + 3 + 2);
	}
	pa_http_response_free(resp);
	raw_stop(&rs);
	free(wire);
}

static void test_timeouts(void)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	pa_http *h = new_http(0, 150, 0, NULL, NULL);
	char url[256];
	int64_t start, took;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	url_to(url, sizeof(url), srv_port, "/slow");
	req.url = url;

	/* The request's own timeout overrides the configured 30 s. */
	req.timeout_ms = 150;
	start = pa_monotonic_ms();
	rc = pa_http_request(http, &req, &resp);
	took = elapsed_since(start);
	release_slow();
	CU_ASSERT_EQUAL(rc, PROVAUTH_ETIMEOUT);
	CU_ASSERT_PTR_NULL(resp);
	CU_ASSERT(took >= 140);
	CU_ASSERT(took < 1500);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "timed out"));

	/* No per-request value: the configured total applies. */
	req.timeout_ms = 0;
	start = pa_monotonic_ms();
	rc = pa_http_request(h, &req, &resp);
	took = elapsed_since(start);
	release_slow();
	CU_ASSERT_EQUAL(rc, PROVAUTH_ETIMEOUT);
	CU_ASSERT(took >= 140);
	CU_ASSERT(took < 1500);
	pa_http_free(h);
}

static void test_connection_refused(void)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	unsigned int port = closed_port();
	char url[256], expect[256];

	CU_ASSERT_FATAL(port != 0);
	url_to(url, sizeof(url), port, "/auth/token");
	req.method = "POST";
	req.url = url;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_ENETWORK);
	CU_ASSERT_PTR_NULL(resp);
	snprintf(expect, sizeof(expect), "http: POST http://127.0.0.1:%u/auth/token: connection refused", port);
	CU_ASSERT_NSTRING_EQUAL(provauth_last_error(), expect, strlen(expect));
}

static void test_redirects(void)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	char url[256];

	url_to(url, sizeof(url), srv_port, "/redirect");
	req.url = url;
	CU_ASSERT_EQUAL_FATAL(pa_http_request(http, &req, &resp), 0);
	CU_ASSERT_EQUAL(resp->status, 302);
	CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "location"), "/hello");
	CU_ASSERT_STRING_EQUAL(resp->body, "moved");
	pa_http_response_free(resp);

	/* Followed: only the final response's headers and body remain. */
	req.follow_redirects = 1;
	CU_ASSERT_EQUAL_FATAL(pa_http_request(http, &req, &resp), 0);
	CU_ASSERT_EQUAL(resp->status, 200);
	CU_ASSERT_STRING_EQUAL(resp->body, "hello world");
	CU_ASSERT_PTR_NULL(pa_http_header(resp, "location"));
	CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-test"), "yes");
	pa_http_response_free(resp);
	resp = NULL;

	url_to(url, sizeof(url), srv_port, "/loop");
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_ENETWORK);
	CU_ASSERT_PTR_NULL(resp);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "too many redirects"));

	/* A redirect cannot lead out of http/https. */
	url_to(url, sizeof(url), srv_port, "/tofile");
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_ENETWORK);
	CU_ASSERT_PTR_NULL(resp);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "redirect refused"));
}

static void test_cookies_and_duplicates(void)
{
	provauth_http_response *resp = NULL;
	const char *cookies[3];
	size_t i, n = 0;

	CU_ASSERT_EQUAL_FATAL(do_get(http, "/cookies", &resp), 0);
	for (i = 0; i < resp->header_count; i++)
		if (strcmp(resp->headers[i].name, "set-cookie") == 0 && n < 3)
			cookies[n++] = resp->headers[i].value;
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(cookies[0], "a=1; Path=/");
	CU_ASSERT_STRING_EQUAL(cookies[1], "b=2");
	CU_ASSERT_STRING_EQUAL(cookies[2], "c=3; Expires=Wed, 21 Oct 2026 07:28:00 GMT");
	CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "Set-Cookie"), "a=1; Path=/");
	/* Other repeated fields read as one list. */
	CU_ASSERT_STRING_EQUAL(pa_http_header(resp, "x-dup"), "one, two");
	pa_http_response_free(resp);
}

static void test_connection_reuse(void)
{
	pa_http *h = new_http(0, 0, 0, NULL, NULL);
	provauth_http_response *resp = NULL;
	int i, ok = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	atomic_store(&connections_started, 0);
	for (i = 0; i < 20; i++) {
		if (do_get(h, "/hello", &resp) == 0 && resp->status == 200)
			ok++;
		pa_http_response_free(resp);
		resp = NULL;
	}
	CU_ASSERT_EQUAL(ok, 20);
	CU_ASSERT_EQUAL(atomic_load(&connections_started), 1);
	pa_http_free(h);
}

/*
 * Pooled handles are not reset between requests (bench/RESULTS.md, e2e):
 * whatever one request chose must be gone from the next one on the same
 * handle. One thread and one connection throughout prove it is the same.
 */
static provauth_http_response *send_on(pa_http *h, const char *method, const char *path, const char *body,
                                       const provauth_http_header *hdrs, size_t nh, int follow)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	char url[256];

	url_to(url, sizeof(url), srv_port, path);
	req.method = method;
	req.url = url;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.headers = hdrs;
	req.header_count = nh;
	req.follow_redirects = follow;
	CU_ASSERT_EQUAL(pa_http_request(h, &req, &resp), 0);
	return resp;
}

static void test_nothing_carries_over(void)
{
	static const provauth_http_header first[] = {
		{ "X-Custom", "from the first request", 0 },
		{ "Authorization", "Bearer first-token", 1 },
		{ "User-Agent", "MyApp/2.0", 0 },
	};
	pa_http *h = new_http(0, 0, 0, NULL, NULL);
	provauth_http_response *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	atomic_store(&connections_started, 0);

	r = send_on(h, "PUT", "/headers", "payload", first, PA_ARRAY_LEN(first), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-method"), "PUT");
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-uploaded"), "7");
	CU_ASSERT_PTR_NOT_NULL(strstr(r->body, "X-Custom: from the first request\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->body, "User-Agent: MyApp/2.0\n"));
	pa_http_response_free(r);

	/* No headers, method, body or User-Agent of the PUT. */
	r = send_on(h, "GET", "/headers", NULL, NULL, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-method"), "GET");
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-uploaded"), "0");
	CU_ASSERT_PTR_NULL(strstr(r->body, "X-Custom"));
	CU_ASSERT_PTR_NULL(strstr(r->body, "Authorization"));
	CU_ASSERT_PTR_NULL(strstr(r->body, "first-token"));
	CU_ASSERT_PTR_NULL(strstr(r->body, "Content-Length"));
	CU_ASSERT_PTR_NULL(strstr(r->body, "MyApp"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->body, "User-Agent: provauth/" PACKAGE_VERSION "\n"));
	pa_http_response_free(r);

	/* A custom method does not stick to a POST, nor a POST body to a GET. */
	r = send_on(h, "DELETE", "/headers", NULL, NULL, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-method"), "DELETE");
	pa_http_response_free(r);
	r = send_on(h, "POST", "/headers", "a=1", NULL, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-method"), "POST");
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-uploaded"), "3");
	pa_http_response_free(r);
	r = send_on(h, "GET", "/headers", NULL, NULL, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-method"), "GET");
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-uploaded"), "0");
	CU_ASSERT_PTR_NULL(strstr(r->body, "Content-Length"));
	pa_http_response_free(r);
	r = send_on(h, "PATCH", "/headers", "", NULL, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-method"), "PATCH");
	pa_http_response_free(r);
	r = send_on(h, "DELETE", "/headers", NULL, NULL, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-method"), "DELETE");
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "x-uploaded"), "0");
	CU_ASSERT_PTR_NULL(strstr(r->body, "Content-Length"));
	pa_http_response_free(r);

	/* Following redirects was asked for once, not for good. */
	r = send_on(h, "GET", "/redirect", NULL, NULL, 0, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 200);
	pa_http_response_free(r);
	r = send_on(h, "GET", "/redirect", NULL, NULL, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, 302);
	pa_http_response_free(r);

	CU_ASSERT_EQUAL(atomic_load(&connections_started), 1);
	pa_http_free(h);
}

/*
 * Pooled handles only set the timeout when it differs from the last
 * request's: a long one must not stay behind for a request that asks for
 * the service's (short) default.
 */
static void test_timeout_does_not_carry_over(void)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	pa_http *h = new_http(0, 150, 0, NULL, NULL);
	char url[256];
	int64_t start, took;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	url_to(url, sizeof(url), srv_port, "/hello");
	req.url = url;
	req.timeout_ms = 5000;
	CU_ASSERT_EQUAL_FATAL(pa_http_request(h, &req, &resp), 0);
	CU_ASSERT_EQUAL(resp->status, 200);
	pa_http_response_free(resp);
	resp = NULL;

	/* /slow answers after 3 s: with the 5 s left behind it would succeed. */
	url_to(url, sizeof(url), srv_port, "/slow");
	req.timeout_ms = 0;
	start = pa_monotonic_ms();
	rc = pa_http_request(h, &req, &resp);
	took = elapsed_since(start);
	release_slow();
	CU_ASSERT_EQUAL(rc, PROVAUTH_ETIMEOUT);
	CU_ASSERT_PTR_NULL(resp);
	CU_ASSERT(took < 1500);
	pa_http_free(h);
}

/* plugin.h: a plugin may take the reply's body and free it itself. */
static void test_body_taken_over(void)
{
	provauth_http_response *r = send_on(http, "GET", "/hello", NULL, NULL, 0, 0);
	char *body;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	body = r->body;
	r->body = NULL;
	r->body_len = 0;
	pa_http_response_free(r);
	/* Still readable once the reply is gone, and the caller's to free. */
	CU_ASSERT_STRING_EQUAL(body, "hello world");
	free(body);
}

typedef struct worker {
	pthread_t thread;
	int id;
	int ok;
} worker;

static void *worker_main(void *p)
{
	worker *w = p;
	char url[256], body[64];
	int i;

	url_to(url, sizeof(url), srv_port, "/echo");
	for (i = 0; i < 50; i++) {
		provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
		provauth_http_response *resp = NULL;

		snprintf(body, sizeof(body), "thread %d request %d", w->id, i);
		req.method = "POST";
		req.url = url;
		req.body = body;
		req.body_len = strlen(body);
		if (pa_http_request(http, &req, &resp) == 0 && resp->status == 200 &&
		    strcmp(resp->body, body) == 0)
			w->ok++;
		pa_http_response_free(resp);
	}
	return NULL;
}

static void test_concurrent_requests(void)
{
	worker w[8];
	int i, started = 0, ok = 0;

	atomic_store(&connections_started, 0);
	for (i = 0; i < 8; i++) {
		w[i].id = i;
		w[i].ok = 0;
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) == 0)
			started++;
		else
			break;
	}
	CU_ASSERT_EQUAL(started, 8);
	for (i = 0; i < started; i++) {
		pthread_join(w[i].thread, NULL);
		ok += w[i].ok;
	}
	CU_ASSERT_EQUAL(ok, 8 * 50);
	/* Connections are reused across threads too: nowhere near one per request. */
	CU_ASSERT(atomic_load(&connections_started) <= 16);
}

typedef struct captured {
	pthread_mutex_t lock;
	int count;
	char event[64];
	char url[256];
	char method[16];
	int64_t status, bytes, duration;
	char all[4096];     /* every string field of every event, for leak checks */
} captured;

static void capture(provauth_log_level level, const char *event, const provauth_log_field *fields,
                    size_t nfields, void *payload)
{
	captured *c = payload;
	size_t i, len;

	PA_UNUSED(level);
	pthread_mutex_lock(&c->lock);
	c->count++;
	snprintf(c->event, sizeof(c->event), "%s", event);
	for (i = 0; i < nfields; i++) {
		const provauth_log_field *f = &fields[i];
		if (strcmp(f->key, "url") == 0)
			snprintf(c->url, sizeof(c->url), "%s", f->str);
		else if (strcmp(f->key, "method") == 0)
			snprintf(c->method, sizeof(c->method), "%s", f->str);
		else if (strcmp(f->key, "status") == 0)
			c->status = f->num;
		else if (strcmp(f->key, "bytes") == 0)
			c->bytes = f->num;
		else if (strcmp(f->key, "duration_ms") == 0)
			c->duration = f->num;
		len = strlen(c->all);
		if (f->str)
			snprintf(c->all + len, sizeof(c->all) - len, "%s|", f->str);
	}
	pthread_mutex_unlock(&c->lock);
}

static void test_log_event(void)
{
	captured cap;
	pa_logger lg = { capture, &cap, PROVAUTH_LOG_DEBUG };
	pa_http *h;
	provauth_http_response *resp = NULL;
	char expect[256];

	memset(&cap, 0, sizeof(cap));
	pthread_mutex_init(&cap.lock, NULL);
	h = new_http(0, 0, 0, NULL, &lg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(do_get(h, "/hello?token=QUERYSECRET", &resp), 0);
	pa_http_response_free(resp);
	CU_ASSERT_EQUAL(cap.count, 1);
	CU_ASSERT_STRING_EQUAL(cap.event, "http_request");
	CU_ASSERT_STRING_EQUAL(cap.method, "GET");
	snprintf(expect, sizeof(expect), "http://127.0.0.1:%u/hello", srv_port);
	CU_ASSERT_STRING_EQUAL(cap.url, expect);
	CU_ASSERT_EQUAL(cap.status, 200);
	CU_ASSERT_EQUAL(cap.bytes, 11);
	CU_ASSERT(cap.duration >= 0 && cap.duration < 5000);
	CU_ASSERT_PTR_NULL(strstr(cap.all, "QUERYSECRET"));
	pa_http_free(h);

	/* Above debug, nothing is emitted. */
	lg.min_level = PROVAUTH_LOG_INFO;
	cap.count = 0;
	h = new_http(0, 0, 0, NULL, &lg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(do_get(h, "/hello", &resp), 0);
	pa_http_response_free(resp);
	CU_ASSERT_EQUAL(cap.count, 0);
	pa_http_free(h);
	pthread_mutex_destroy(&cap.lock);
}

static void assert_no_secret(const char *msg)
{
	CU_ASSERT_PTR_NULL(strstr(msg, "QUERYSECRET"));
	CU_ASSERT_PTR_NULL(strstr(msg, "HEADERSECRET"));
	CU_ASSERT_PTR_NULL(strstr(msg, "BODYSECRET"));
	CU_ASSERT_PTR_NULL(strstr(msg, "USERSECRET"));
	CU_ASSERT_PTR_NULL(strchr(msg, '?'));
}

static void test_messages_carry_no_secrets(void)
{
	static const char body[] = "password=BODYSECRET789";
	provauth_http_header hdrs[] = { { "Authorization", "Bearer HEADERSECRET456", 1 } };
	provauth_http_header bad[] = { { "X-Token", "HEADERSECRET\r\nX-Injected: 1", 1 } };
	captured cap;
	pa_logger lg = { capture, &cap, PROVAUTH_LOG_DEBUG };
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	pa_http *h;
	char url[256], expect[256];
	unsigned int port = closed_port();

	memset(&cap, 0, sizeof(cap));
	pthread_mutex_init(&cap.lock, NULL);
	h = new_http(0, 0, 100, NULL, &lg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.header_count = 1;
	req.body = body;
	req.body_len = sizeof(body) - 1;

	/* Refused. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/auth/token?sig=QUERYSECRET123", port);
	CU_ASSERT_EQUAL(pa_http_request(h, &req, &resp), PROVAUTH_ENETWORK);
	snprintf(expect, sizeof(expect), "http: POST http://127.0.0.1:%u/auth/token: ", port);
	CU_ASSERT_NSTRING_EQUAL(provauth_last_error(), expect, strlen(expect));
	assert_no_secret(provauth_last_error());

	/* User info in the URL. */
	snprintf(url, sizeof(url), "http://user:USERSECRET@127.0.0.1:%u/login?x=QUERYSECRET", port);
	CU_ASSERT_EQUAL(pa_http_request(h, &req, &resp), PROVAUTH_ENETWORK);
	snprintf(expect, sizeof(expect), "http: POST http://127.0.0.1:%u/login: ", port);
	CU_ASSERT_NSTRING_EQUAL(provauth_last_error(), expect, strlen(expect));
	assert_no_secret(provauth_last_error());

	/* Too big (the echo of a 22-byte body against a 100-byte cap needs more). */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/big?n=500&key=QUERYSECRET", srv_port);
	CU_ASSERT_EQUAL(pa_http_request(h, &req, &resp), PROVAUTH_ETOOBIG);
	assert_no_secret(provauth_last_error());

	/* Timed out. */
	req.timeout_ms = 100;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/slow?key=QUERYSECRET", srv_port);
	CU_ASSERT_EQUAL(pa_http_request(h, &req, &resp), PROVAUTH_ETIMEOUT);
	release_slow();
	assert_no_secret(provauth_last_error());

	/* A header that would inject another: refused, named, not shown. */
	req.headers = bad;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", srv_port);
	CU_ASSERT_EQUAL(pa_http_request(h, &req, &resp), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "X-Token"));
	assert_no_secret(provauth_last_error());
	CU_ASSERT_PTR_NULL(resp);

	/*
	 * A secret that curl's own text happens to contain is masked there too
	 * ("Failed to connect ..."), and masking never loops on its own mask.
	 */
	{
		provauth_http_header odd[] = { { "X-Key", "Failed", 1 } };
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", port);
		req.headers = odd;
		req.body = "***";
		req.body_len = 3;
		req.timeout_ms = 0;
		CU_ASSERT_EQUAL(pa_http_request(h, &req, &resp), PROVAUTH_ENETWORK);
		CU_ASSERT_PTR_NULL(strstr(provauth_last_error(), "Failed"));
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "connection refused"));
	}

	/* Nor anything the log saw. */
	CU_ASSERT(cap.count >= 4);
	assert_no_secret(cap.all);
	pa_http_free(h);
	pthread_mutex_destroy(&cap.lock);
}

/* A stub's reply has the service's layout: fields copied and terminated, body copied. */
static void test_response_new(void)
{
	static const char line[] = "Retry-After: 30\r\n";
	const pa_http_field fields[] = {
		{ "Set-Cookie", 10, "_ai_token=abc", 13 },
		{ line, 11, line + 13, 2 },
	};
	provauth_http_response *r = NULL;

	CU_ASSERT_EQUAL_FATAL(pa_http_response_new(&r, 429, fields, 2, "{\"a\":1}xyz", 7), 0);
	CU_ASSERT_EQUAL(r->status, 429);
	CU_ASSERT_EQUAL(r->header_count, 2);
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "set-cookie"), "_ai_token=abc");
	CU_ASSERT_STRING_EQUAL(pa_http_header(r, "Retry-After"), "30");
	CU_ASSERT_EQUAL(r->body_len, 7);
	CU_ASSERT_STRING_EQUAL(r->body, "{\"a\":1}");
	pa_http_response_free(r);
	CU_ASSERT_EQUAL_FATAL(pa_http_response_new(&r, 204, NULL, 0, "", 0), 0);
	CU_ASSERT_PTR_NULL(r->headers);
	CU_ASSERT_STRING_EQUAL(r->body, "");
	pa_http_response_free(r);
}

static void test_invalid_requests(void)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response sentinel;
	provauth_http_response *resp = &sentinel;   /* a failure must reset it to NULL */
	provauth_http_header noname[] = { { "", "v", 0 } };
	char url[256];

	url_to(url, sizeof(url), srv_port, "/hello");
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);  /* no URL */
	CU_ASSERT_PTR_NULL(resp);
	req.url = url;
	req.method = "FOO";
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "FOO"));
	req.method = NULL;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);
	req.method = "GET";
	req.version = 2;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);
	req.version = PROVAUTH_HTTP_REQUEST_VERSION;
	req.body = "x";
	req.body_len = 1;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);  /* GET with a body */
	req.method = "POST";
	req.body = NULL;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);  /* length, no body */
	req.body_len = 0;
	req.headers = noname;
	req.header_count = 1;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);
	req.headers = NULL;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);  /* count, no headers */
	req.header_count = 0;
	req.timeout_ms = -5;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);
	req.timeout_ms = 0;
	/* Only http and https. */
	req.method = "GET";
	req.url = "file:///etc/passwd";
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(resp);
	req.url = "ftp://127.0.0.1/x";
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_http_request(NULL, &req, &resp), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_http_request(http, NULL, &resp), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_http_request(http, &req, NULL), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_http_new(NULL, NULL), PROVAUTH_EINVAL);
	pa_http_response_free(NULL);
	pa_http_free(NULL);
}

static void test_https_to_plain_port(void)
{
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	char url[256];

	snprintf(url, sizeof(url), "https://127.0.0.1:%u/hello", srv_port);
	req.url = url;
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_ENETWORK);
	CU_ASSERT_PTR_NULL(resp);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "TLS error"));
}

static void test_tls_verification(void)
{
	pa_http *trusting = new_http(0, 0, 0, ca_path, NULL);
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	char url[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(trusting);
	if (!tls_srv) {
		CU_FAIL("TLS test server did not start");
		pa_http_free(trusting);
		return;
	}
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/hello", tls_port);
	req.url = url;
	/* The system CAs do not know the test certificate. */
	CU_ASSERT_EQUAL(pa_http_request(http, &req, &resp), PROVAUTH_ENETWORK);
	CU_ASSERT_PTR_NULL(resp);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "TLS error"));
	/* ca_file makes it trusted. */
	CU_ASSERT_EQUAL(pa_http_request(trusting, &req, &resp), 0);
	CU_ASSERT_EQUAL(resp ? resp->status : 0, 200);
	CU_ASSERT_STRING_EQUAL(resp ? resp->body : "", "hello world");
	pa_http_response_free(resp);
	resp = NULL;
	/* Trusted, but not issued for this name: host verification refuses it. */
	snprintf(url, sizeof(url), "https://localhost:%u/hello", tls_port);
	CU_ASSERT_EQUAL(pa_http_request(trusting, &req, &resp), PROVAUTH_ENETWORK);
	CU_ASSERT_PTR_NULL(resp);
	pa_http_free(trusting);
}

/* ------------------------------------------------------------------------ */

static int suite_init(void)
{
	char *key = NULL, *cert = NULL;
	FILE *f;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pa-http-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", tmpdir);
	if (make_certificate(&key, &cert) < 0 || !(f = fopen(ca_path, "w"))) {
		free(key);
		free(cert);
		return -1;
	}
	fputs(cert, f);
	fclose(f);
	srv = start_daemon(&srv_port, NULL, NULL);
	tls_srv = start_daemon(&tls_port, key, cert);
	free(key);
	free(cert);
	if (!srv)
		return -1;
	http = new_http(0, 0, 0, NULL, NULL);
	return http ? 0 : -1;
}

static int suite_cleanup(void)
{
	/* Close the clients' kept-alive connections before the servers go. */
	pa_http_free(http);
	if (srv)
		MHD_stop_daemon(srv);
	if (tls_srv)
		MHD_stop_daemon(tls_srv);
	unlink(ca_path);
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	static const struct { const char *name; CU_TestFunc fn; } tests[] = {
		{ "GET: status, body and headers", test_get_body_and_headers },
		{ "sockets are close-on-exec", test_sockets_close_on_exec },
		{ "proxy variables: read once, when the service is made", test_proxy_environment },
		{ "POST echoes its body", test_post_echo },
		{ "POST with no body sends an empty one", test_post_empty_body },
		{ "PUT, PATCH, DELETE", test_other_methods },
		{ "custom headers and User-Agent arrive", test_custom_headers_and_user_agent },
		{ "4xx and 5xx are complete replies", test_error_statuses_are_replies },
		{ "reply size cap", test_reply_size_cap },
		{ "announced oversize refused early", test_content_length_rejected_early },
		{ "folded and oversized headers", test_folded_and_oversized_headers },
		{ "one giant header line is too big, not out of memory", test_one_giant_header_line },
		{ "many, long and repeated headers", test_many_headers },
		{ "timeouts", test_timeouts },
		{ "connection refused", test_connection_refused },
		{ "redirects", test_redirects },
		{ "Set-Cookie lines kept apart", test_cookies_and_duplicates },
		{ "connection reuse", test_connection_reuse },
		{ "nothing carries over to the next request", test_nothing_carries_over },
		{ "a request's timeout does not carry over", test_timeout_does_not_carry_over },
		{ "a plugin may take the reply's body", test_body_taken_over },
		{ "8 threads x 50 requests", test_concurrent_requests },
		{ "http_request log event", test_log_event },
		{ "messages carry no secrets", test_messages_carry_no_secrets },
		{ "a stub reply in the service's layout", test_response_new },
		{ "invalid requests", test_invalid_requests },
		{ "https to a plain port fails", test_https_to_plain_port },
		{ "TLS peer and host verification", test_tls_verification },
	};
	static const char *const proxies[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
	                                       "all_proxy", "ALL_PROXY" };
	CU_pSuite suite;
	unsigned int failures;
	size_t i;

	/* Loopback only: a proxy from the environment must not get in the way. */
	for (i = 0; i < PA_ARRAY_LEN(proxies); i++)
		unsetenv(proxies[i]);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	if (!(suite = CU_add_suite("http", suite_init, suite_cleanup)))
		goto fail;
	for (i = 0; i < PA_ARRAY_LEN(tests); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failures ? 1 : 0;
fail:
	CU_cleanup_registry();
	return 1;
}
