# tests/daemon, reload: SIGHUP on the real provauthd (tests/daemon/harness.h):
# reloads under client threads with no failed request, a fixture plugin
# dropped into and removed from a plugin directory of the test's (hot reload,
# /proc/PID/maps), broken settings and a changed listen refused, tokens
# swapped. Needs the fixture plugins (good.so) and the fake Pixverse.
check_PROGRAMS += tests/daemon/test_daemon_reload
TESTS += tests/daemon/test_daemon_reload
tests_daemon_test_daemon_reload_SOURCES = tests/daemon/test_daemon_reload.c $(PA_DAEMON_HARNESS)
tests_daemon_test_daemon_reload_CPPFLAGS = $(PA_DAEMON_TEST_CPPFLAGS)
tests_daemon_test_daemon_reload_CFLAGS = $(PA_DAEMON_TEST_CFLAGS)
tests_daemon_test_daemon_reload_LDADD = $(PA_DAEMON_TEST_LIBS)
EXTRA_tests_daemon_test_daemon_reload_DEPENDENCIES = $(PA_DAEMON_TEST_DEPS) tests/fixtures/good.la
