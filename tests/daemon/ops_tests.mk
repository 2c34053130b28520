# ops/ (metrics, health, status page, sign-in) tested on its own: its sources
# compiled into the test, its handlers called directly against a real manager,
# the real Pixverse plugin and the fake Pixverse on loopback. The status page
# in headless Chromium against the running daemon: test_status_page.sh.
check_PROGRAMS += tests/daemon/test_daemon_ops
TESTS += tests/daemon/test_daemon_ops
# Needs http/ (the server) and api/ (GET /v1/accounts) to pass: it runs the real daemon.
TESTS += tests/daemon/test_status_page.sh
EXTRA_DIST += tests/daemon/test_status_page.sh tests/daemon/browser.py
tests_daemon_test_daemon_ops_SOURCES = tests/daemon/test_daemon_ops.c \
	daemon/ops/metrics.c daemon/ops/events.c daemon/ops/scrape.c daemon/ops/health.c \
	daemon/ops/login.c daemon/ops/page.c daemon/ops/reply.c daemon/config/config.c \
	daemon/needs_human.c daemon/http/reply.c
tests_daemon_test_daemon_ops_CPPFLAGS = $(PA_INTEGRATION_CPPFLAGS) -I$(top_srcdir)/daemon
tests_daemon_test_daemon_ops_CFLAGS = $(PA_INTEGRATION_CFLAGS) $(JSONC_CFLAGS) $(OPENSSL_CFLAGS)
tests_daemon_test_daemon_ops_LDADD = $(PA_INTEGRATION_LDADD) $(JSONC_LIBS) $(OPENSSL_LIBS)
EXTRA_tests_daemon_test_daemon_ops_DEPENDENCIES = plugins/pixverse.la
# The browser test's screenshot is a build artefact: kept by make check, gone with make clean.
CLEANFILES += tests/artefacts/status_page.png
