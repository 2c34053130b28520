/*
 * The daemon's test harness (harness.h): provauthd as a child process,
 * talked to with libcurl. The child's stderr goes to a file in its temp dir
 * so tests can prove that no secret was ever logged.
 */
#include "config.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "pa_test.h"

struct pa_daemon {
	pid_t pid;
	int reaped;
	int exit_status;
	char dir[256];
	char settings[320];
	char log[320];
	char ready[320];
	char socket[320];
	char url[512];
	char cainfo[512];
};

static int token_hash(char hex[65], const char *token)
{
	unsigned char d[32];
	unsigned int n = 0, i;

	if (EVP_Digest(token, strlen(token), d, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -1;
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/*
 * plugin_dir: as tests/integration does: the environment's path under make
 * check, else the build's; then the test's own directory, if any.
 */
static const char *plugin_dir_line(char *buf, size_t size, const char *own)
{
	const char *b = getenv("PA_BUILDDIR");

	if (getenv("PROVAUTH_PLUGIN_PATH") || !b)
		snprintf(buf, size, "plugin_dir: [%s%s%s]\n", own ? "\"" : "", own ? own : "", own ? "\"" : "");
	else
		snprintf(buf, size, "plugin_dir: [\"%s/plugins/.libs\"%s%s%s]\n", b, own ? ", \"" : "", own ? own : "",
		         own ? "\"" : "");
	return buf;
}

static int write_settings(pa_daemon *h, const pa_daemon_options *o)
{
	char pd[1200], hex[65], tmp[400];
	const char *listen = o->listen;
	FILE *f;
	size_t i;
	int fd;

	if (!listen)
		listen = "127.0.0.1:0";
	else if (strcmp(listen, "unix") == 0) {
		snprintf(h->socket, sizeof(h->socket), "%s/daemon.sock", h->dir);
		listen = NULL;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", h->settings);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "harness: %s: %s\n", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "%s", plugin_dir_line(pd, sizeof(pd), o->plugin_dir));
	if (o->store_yaml)
		fputs(o->store_yaml, f);
	else
		fprintf(f, "store:\n  backend: sqlite\n  path: %s/accounts.db\n  busy_timeout_ms: 10000\n", h->dir);
	fprintf(f, "log:\n  level: debug\n");
	fprintf(f, "daemon:\n");
	if (listen)
		fprintf(f, "  listen: \"%s\"\n", listen);
	else
		fprintf(f, "  listen: \"unix:%s\"\n", h->socket);
	fprintf(f, "  ready_file: %s\n  state_dir: %s\n", h->ready, h->dir);
	if (o->tls_certificate)
		fprintf(f, "  tls_certificate: %s\n", o->tls_certificate);
	if (o->tls_key)
		fprintf(f, "  tls_key: %s\n", o->tls_key);
	if (!o->keeper)
		fprintf(f, "  keeper:\n    enabled: false\n");
	if (o->ntokens) {
		fprintf(f, "  tokens:\n");
		for (i = 0; i < o->ntokens; i++) {
			if (token_hash(hex, o->tokens[i].token) < 0) {
				fclose(f);
				return -1;
			}
			fprintf(f, "    - name: %s\n      sha256: %s\n      scope: %s\n", o->tokens[i].name, hex,
			        o->tokens[i].scope);
		}
	}
	if (o->daemon_yaml)
		fputs(o->daemon_yaml, f);
	if (o->yaml)
		fputs(o->yaml, f);
	if (fclose(f) != 0 || rename(tmp, h->settings) != 0) {
		fprintf(stderr, "harness: %s: %s\n", h->settings, strerror(errno));
		return -1;
	}
	if (o->tls_certificate)
		snprintf(h->cainfo, sizeof(h->cainfo), "%s", o->tls_certificate);
	else
		h->cainfo[0] = '\0';
	return 0;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 4097) {
			char *p = realloc(buf, cap = cap * 2 + 8192);
			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		if ((n = fread(buf + len, 1, cap - len - 1, f)) == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static void reap(pa_daemon *h, int options)
{
	int st;

	if (h->reaped || h->pid <= 0)
		return;
	if (waitpid(h->pid, &st, options) == h->pid) {
		h->reaped = 1;
		h->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
	}
}

int pa_daemon_alive(pa_daemon *h)
{
	reap(h, WNOHANG);
	return !h->reaped;
}

static void dump_log(const pa_daemon *h)
{
	char *log = pa_daemon_log_text(h);

	fprintf(stderr, "harness: provauthd's log:\n%s\n", log ? log : "(empty)");
	free(log);
}

/* The ready file is written whole (temp + rename): once it parses, the daemon serves. */
static int wait_ready(pa_daemon *h, int timeout_s)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	time_t end = time(NULL) + timeout_s;

	while (time(NULL) < end) {
		char *text = read_file(h->ready);
		if (text) {
			json_object *o = json_tokener_parse(text), *url;
			free(text);
			if (o && json_object_object_get_ex(o, "url", &url)) {
				snprintf(h->url, sizeof(h->url), "%s", json_object_get_string(url));
				json_object_put(o);
				return 0;
			}
			json_object_put(o);
		}
		if (!pa_daemon_alive(h)) {
			fprintf(stderr, "harness: provauthd exited with %d before it was ready\n", h->exit_status);
			return -1;
		}
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "harness: provauthd not ready after %d s\n", timeout_s);
	return -1;
}

int pa_daemon_start(pa_daemon **out, const pa_daemon_options *o)
{
	const char *build = getenv("PA_BUILDDIR");
	char bin[512];
	pa_daemon *h;
	int fd;

	*out = NULL;
	if (!(h = calloc(1, sizeof(*h))))
		return -1;
	snprintf(h->dir, sizeof(h->dir), "%s/pa-daemon-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(h->dir)) {
		fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
		free(h);
		return -1;
	}
	snprintf(h->settings, sizeof(h->settings), "%s/provauthd.yaml", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/provauthd.log", h->dir);
	snprintf(h->ready, sizeof(h->ready), "%s/ready.json", h->dir);
	snprintf(bin, sizeof(bin), "%s/daemon/provauthd", build ? build : ".");
	if (write_settings(h, o) < 0)
		goto fail;
	fflush(NULL);
	if ((h->pid = fork()) < 0)
		goto fail;
	if (h->pid == 0) {
		sigset_t none;
		fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* A test that crashes or forgets pa_daemon_stop leaves no daemon behind. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* PA_DAEMON_WRAPPER: a command the daemon runs under (CI: valgrind through libtool). */
		if (getenv("PA_DAEMON_WRAPPER") && *getenv("PA_DAEMON_WRAPPER"))
			execl("/bin/sh", "sh", "-c", "exec $PA_DAEMON_WRAPPER \"$0\" --config \"$1\"", bin, h->settings,
			      (char *)NULL);
		else
			execl(bin, bin, "--config", h->settings, (char *)NULL);
		fprintf(stderr, "harness: exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	if (wait_ready(h, o->start_timeout > 0 ? o->start_timeout : 30) < 0) {
		dump_log(h);
		pa_daemon_stop(h, 5);
		return -1;
	}
	*out = h;
	return 0;
fail:
	pa_test_rmtree(h->dir);
	free(h);
	return -1;
}

int pa_daemon_rewrite_settings(pa_daemon *h, const pa_daemon_options *o)
{
	return write_settings(h, o);
}

typedef struct buffer {
	char *data;
	size_t len;
} buffer;

static size_t collect(char *p, size_t size, size_t n, void *payload)
{
	buffer *b = payload;
	size_t add = size * n;
	char *d = realloc(b->data, b->len + add + 1);

	if (!d)
		return 0;
	memcpy(d + b->len, p, add);
	b->len += add;
	d[b->len] = '\0';
	b->data = d;
	return add;
}

int pa_daemon_request_raw(pa_daemon *h, const char *method, const char *path, const char *token,
                          const char *body, size_t len, const char *const *extra_headers, long *status,
                          char **reply, char **headers)
{
	buffer rb = { NULL, 0 }, hb = { NULL, 0 };
	struct curl_slist *hl = NULL;
	char url[1024], auth[1024];
	CURL *c;
	CURLcode rc;

	*status = 0;
	if (reply)
		*reply = NULL;
	if (headers)
		*headers = NULL;
	if (!(c = curl_easy_init()))
		return -1;
	if (strncmp(h->url, "unix:", 5) == 0) {
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, h->url + 5);
		snprintf(url, sizeof(url), "http://localhost%s", path);
	} else {
		snprintf(url, sizeof(url), "%s%s", h->url, path);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		const char *const *e = extra_headers;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		while (e && *e && strncasecmp(*e, "Content-Type:", 13) != 0)
			e++;
		if (!e || !*e)
			hl = curl_slist_append(hl, "Content-Type: application/json");
	}
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hl = curl_slist_append(hl, auth);
	}
	hl = curl_slist_append(hl, "Expect:");
	for (; extra_headers && *extra_headers; extra_headers++)
		hl = curl_slist_append(hl, *extra_headers);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (h->cainfo[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, h->cainfo);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rb);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (!rb.data)
		rb.data = strdup("");
	if (!hb.data)
		hb.data = strdup("");
	if (reply)
		*reply = rb.data;
	else
		free(rb.data);
	if (headers)
		*headers = hb.data;
	else
		free(hb.data);
	if (rc != CURLE_OK && pa_test_verbose)
		fprintf(stderr, "harness: %s %s: %s\n", method, path, curl_easy_strerror(rc));
	return rc == CURLE_OK ? 0 : -1;
}

int pa_daemon_request(pa_daemon *h, const char *method, const char *path, const char *token,
                      const char *body, long *status, char **reply, char **headers)
{
	return pa_daemon_request_raw(h, method, path, token, body, body ? strlen(body) : 0, NULL, status, reply,
	                             headers);
}

char *pa_daemon_header(const char *headers, const char *name)
{
	size_t n = strlen(name);
	const char *line = headers;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			size_t len;
			while (*v == ' ' || *v == '\t')
				v++;
			len = end ? (size_t)(end - v) : strlen(v);
			while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
				len--;
			return strndup(v, len);
		}
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

pa_daemon *pa_daemon_client(const char *url, const char *cainfo)
{
	pa_daemon *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->reaped = 1;
	snprintf(h->url, sizeof(h->url), "%s", url);
	snprintf(h->cainfo, sizeof(h->cainfo), "%s", cainfo ? cainfo : "");
	return h;
}

void pa_daemon_client_free(pa_daemon *h)
{
	free(h);
}

int pa_daemon_signal(pa_daemon *h, int sig)
{
	if (!pa_daemon_alive(h))
		return -1;
	return kill(h->pid, sig);
}

int pa_daemon_stop(pa_daemon *h, int timeout_s)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	time_t end;
	int st;

	if (!h)
		return -1;
	if (timeout_s <= 0)
		timeout_s = 30;
	end = time(NULL) + timeout_s;
	if (pa_daemon_alive(h))
		kill(h->pid, SIGTERM);
	while (pa_daemon_alive(h) && time(NULL) < end)
		nanosleep(&pause, NULL);
	if (!h->reaped && h->pid > 0) {
		fprintf(stderr, "harness: provauthd did not stop in %d s; SIGKILL\n", timeout_s);
		kill(h->pid, SIGKILL);
		reap(h, 0);
		if (h->reaped)
			h->exit_status = 128 + SIGKILL;
	}
	st = h->reaped ? h->exit_status : -1;
	if (!getenv("PA_KEEP_DAEMON_DIR"))
		pa_test_rmtree(h->dir);
	else
		fprintf(stderr, "harness: kept %s\n", h->dir);
	free(h);
	return st;
}

pid_t pa_daemon_pid(const pa_daemon *h)
{
	return h->pid;
}

const char *pa_daemon_url(const pa_daemon *h)
{
	return h->url;
}

const char *pa_daemon_dir(const pa_daemon *h)
{
	return h->dir;
}

const char *pa_daemon_settings_path(const pa_daemon *h)
{
	return h->settings;
}

const char *pa_daemon_log_path(const pa_daemon *h)
{
	return h->log;
}

char *pa_daemon_log_text(const pa_daemon *h)
{
	return read_file(h->log);
}

int pa_daemon_log_contains(const pa_daemon *h, const char *s)
{
	char *text = pa_daemon_log_text(h);
	int found = text && strstr(text, s) != NULL;

	free(text);
	return found;
}

fake_pixverse *pa_daemon_start_fake_pixverse(void)
{
	fake_pixverse_options o;
	fake_pixverse *srv;
	char err[256];

	memset(&o, 0, sizeof(o));
	if (!(srv = fake_pixverse_start(&o, err, sizeof(err)))) {
		fprintf(stderr, "harness: fake pixverse: %s\n", err);
		return NULL;
	}
	if (fake_pixverse_add_demo_accounts(srv) < 0) {
		fprintf(stderr, "harness: fake pixverse: the demo accounts\n");
		fake_pixverse_stop(srv);
		return NULL;
	}
	return srv;
}

const char *pa_daemon_pixverse_yaml(char *buf, size_t size, fake_pixverse *srv)
{
	snprintf(buf, size,
	         "providers:\n  pixverse:\n    auto_reauth_enabled: true\n    reauth_cooldown: 0\n"
	         "    login_cooldown: 600\n    base_url: %s\n    openapi_base_url: %s/\n"
	         "    web_origin: https://app.pixverse.test\n    jwt_refresh_threshold: 3600\n",
	         fake_pixverse_url(srv), fake_pixverse_url(srv));
	return buf;
}
