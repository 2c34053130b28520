# tests/daemon: provauthd's tests. The harness (harness.h) runs the real
# daemon binary as a child and talks to it with libcurl; tests that use it
# list $(PA_DAEMON_HARNESS) in their sources and take the flags below.
# Rooms append their own tests here.
#
#   test_daemon_http  the HTTP layer: router, bearer tokens, rate limits and
#                     replies as units; the server in-process over a route
#                     table of its own (401/403/404/405/400/413/429, the Unix
#                     socket's mode, TLS, draining); the real provauthd on
#                     api/'s routes: the same errors, 429, the sign-in
#                     cookie, metrics; SIGTERM drains; no secret in its log
PA_DAEMON_HARNESS = tests/daemon/harness.c tests/daemon/harness.h
PA_DAEMON_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir) -I$(top_srcdir)/tests/fake \
	-I$(top_srcdir)/tests/daemon -I$(top_srcdir)/tests/support
PA_DAEMON_TEST_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS)
PA_DAEMON_TEST_LIBS = tests/fake/libfakeprov.la $(LDADD) $(MHD_LIBS)
# Every daemon test runs the binary and its plugins.
PA_DAEMON_TEST_DEPS = daemon/provauthd$(EXEEXT) plugins/pixverse.la

PA_DAEMON_TESTS = tests/daemon/test_daemon_http
check_PROGRAMS += $(PA_DAEMON_TESTS)
TESTS += $(PA_DAEMON_TESTS)

# The HTTP room's files are linked in with the settings' daemon: block, a
# route table and world of the test's own, and no-op metrics (not api/'s,
# world.c's or ops/'s).
tests_daemon_test_daemon_http_SOURCES = tests/daemon/test_daemon_http.c $(PA_DAEMON_HARNESS) \
	daemon/http/server.c daemon/http/router.c daemon/http/auth.c daemon/http/reply.c \
	daemon/http/ratelimit.c daemon/http/body.c daemon/config/config.c
tests_daemon_test_daemon_http_CPPFLAGS = $(PA_DAEMON_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
tests_daemon_test_daemon_http_CFLAGS = $(PA_DAEMON_TEST_CFLAGS)
tests_daemon_test_daemon_http_LDADD = $(PA_DAEMON_TEST_LIBS)
EXTRA_tests_daemon_test_daemon_http_DEPENDENCIES = $(PA_DAEMON_TEST_DEPS)
