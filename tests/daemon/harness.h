/*
 * The daemon's test harness: C tests that drive the real provauthd binary
 * as a child process, the way an operator runs it, and talk to it over
 * HTTP with libcurl.
 *
 *   pa_daemon_options o = PA_DAEMON_OPTIONS_INIT;
 *   pa_daemon_token t[] = { { "ops", "0123456789abcdef-read", "read" } };
 *   pa_daemon *h;
 *   o.tokens = t; o.ntokens = 1;
 *   if (pa_daemon_start(&h, &o) == 0) {
 *       long status; char *body;
 *       pa_daemon_request(h, "GET", "/healthz", NULL, NULL, &status, &body, NULL);
 *       ...
 *       pa_daemon_stop(h);   (SIGTERM, wait: the exit status)
 *   }
 *
 * Each daemon gets a temp dir (its settings file, mode 0600, a sqlite
 * store, the ready file and the daemon's stderr log, which tests scan for
 * secrets). The tokens are given in clear; the settings file holds their
 * SHA-256, as an operator's would. The binary is $PA_BUILDDIR/daemon/provauthd
 * (make check sets PA_BUILDDIR and PROVAUTH_PLUGIN_PATH).
 */
#ifndef PA_DAEMON_HARNESS_H
#define PA_DAEMON_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include "fake_pixverse.h"

typedef struct pa_daemon_token {
	const char *name;
	const char *token;          /* in clear, at least 16 characters */
	const char *scope;          /* "read", "operate", "admin" */
} pa_daemon_token;

typedef struct pa_daemon_options {
	const pa_daemon_token *tokens;
	size_t ntokens;
	/* NULL: "127.0.0.1:0". "unix" alone: a socket "daemon.sock" in the temp dir. */
	const char *listen;
	/* Lines added inside the daemon: block, each indented by two spaces
	 * ("  max_body: 2048\n  rate: 5\n"). NULL: none. */
	const char *daemon_yaml;
	/* Top-level settings added as they are ("providers:\n  pixverse: ..."), e.g.
	 * from pa_daemon_pixverse_yaml. NULL: none. */
	const char *yaml;
	/* PEM files for TLS; the harness then trusts `tls_certificate` as the CA. */
	const char *tls_certificate;
	const char *tls_key;
	/* 0: the keeper is disabled (tests of the HTTP layer do not want it). */
	int keeper;
	/* Seconds to wait for the ready file; 0: 30. */
	int start_timeout;
	/* The whole store: block ("store:\n  backend: postgres\n  url: ...\n"), in
	 * place of the sqlite file in the temp dir (several daemons on one store). NULL: that file. */
	const char *store_yaml;
	/* A directory of the test's own added to plugin_dir (the build's
	 * plugins still come from PROVAUTH_PLUGIN_PATH); NULL: none. */
	const char *plugin_dir;
} pa_daemon_options;

#define PA_DAEMON_OPTIONS_INIT { NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }

typedef struct pa_daemon pa_daemon;

/*
 * Makes the temp dir, writes the settings, starts provauthd and waits for
 * its ready file. 0, or -1 with the reason on stderr (and the daemon's log
 * copied there) and *out NULL. With PA_DAEMON_WRAPPER set, provauthd runs
 * under that command ("libtool --mode=execute valgrind ...": CI).
 */
int pa_daemon_start(pa_daemon **out, const pa_daemon_options *o);
/*
 * Writes the settings file again from `o` (same temp dir, same store): a
 * test then sends SIGHUP to see them reloaded. 0 or -1.
 */
int pa_daemon_rewrite_settings(pa_daemon *h, const pa_daemon_options *o);

/*
 * One request. `token` NULL: no Authorization header; `body` NULL: none
 * (else sent with Content-Type: application/json). *status gets the HTTP
 * status (0 when the request failed at the transport), *reply the body
 * (malloc()ed, NUL-terminated) and *headers the response headers as text
 * (malloc()ed); either may be NULL. 0, or -1 on a transport failure.
 */
int pa_daemon_request(pa_daemon *h, const char *method, const char *path, const char *token,
                      const char *body, long *status, char **reply, char **headers);
/*
 * The same with a body of `len` bytes (may hold NULs) and extra header lines
 * ("X-A: b"), NULL-ended; a Content-Type among them replaces the JSON one.
 */
int pa_daemon_request_raw(pa_daemon *h, const char *method, const char *path, const char *token,
                          const char *body, size_t len, const char *const *extra_headers, long *status,
                          char **reply, char **headers);
/* The value of header `name` in a headers text (case-insensitive), malloc()ed, or NULL. */
char *pa_daemon_header(const char *headers, const char *name);

/*
 * A handle for a server this test runs itself (no child process): the
 * request functions then work against `url` ("http://...", "https://...",
 * "unix:/path"), trusting `cainfo` (PEM, may be NULL). Freed with
 * pa_daemon_client_free, never pa_daemon_stop.
 */
pa_daemon *pa_daemon_client(const char *url, const char *cainfo);
void pa_daemon_client_free(pa_daemon *h);

int pa_daemon_signal(pa_daemon *h, int sig);
/* Whether the daemon is still running (not reaped). */
int pa_daemon_alive(pa_daemon *h);
/*
 * SIGTERM, then waits up to `timeout_s` (0: 30) seconds, then SIGKILL.
 * Returns the exit status (0-255), 128+N when killed by signal N, -1 on
 * error. The temp dir is removed unless PA_KEEP_DAEMON_DIR is set. Frees h.
 */
int pa_daemon_stop(pa_daemon *h, int timeout_s);

pid_t pa_daemon_pid(const pa_daemon *h);
const char *pa_daemon_url(const pa_daemon *h);      /* from the ready file */
const char *pa_daemon_dir(const pa_daemon *h);      /* the temp dir */
const char *pa_daemon_settings_path(const pa_daemon *h);
const char *pa_daemon_log_path(const pa_daemon *h); /* the daemon's stderr */
/* Everything the daemon logged so far (malloc()ed), or NULL. */
char *pa_daemon_log_text(const pa_daemon *h);
/* Whether `s` occurs in the daemon's log. */
int pa_daemon_log_contains(const pa_daemon *h, const char *s);

/*
 * The fakes, started in the test's process the way tests/integration
 * does it (tests/fake's C API): a fake Pixverse with the demo accounts
 * (fake_pixverse_add_demo_accounts). NULL with the reason on stderr.
 */
fake_pixverse *pa_daemon_start_fake_pixverse(void);
/* The providers: block pointing the pixverse plugin at `srv`, into buf. */
const char *pa_daemon_pixverse_yaml(char *buf, size_t size, fake_pixverse *srv);

#endif /* PA_DAEMON_HARNESS_H */
