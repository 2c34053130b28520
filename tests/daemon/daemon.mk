# tests/daemon: provauthd's tests. The harness (harness.h) runs the real
# daemon binary as a child and talks to it with libcurl; tests that use it
# list $(PA_DAEMON_HARNESS) in their sources and take the flags below.
# Rooms append their own tests here.
PA_DAEMON_HARNESS = tests/daemon/harness.c tests/daemon/harness.h
PA_DAEMON_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir) -I$(top_srcdir)/tests/fake \
	-I$(top_srcdir)/tests/daemon -I$(top_srcdir)/tests/support
PA_DAEMON_TEST_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS)
PA_DAEMON_TEST_LIBS = tests/fake/libfakeprov.la $(LDADD) $(MHD_LIBS)
# Every daemon test runs the binary and its plugins.
PA_DAEMON_TEST_DEPS = daemon/provauthd$(EXEEXT) plugins/pixverse.la

PA_DAEMON_TESTS =
check_PROGRAMS += $(PA_DAEMON_TESTS)
TESTS += $(PA_DAEMON_TESTS)

# api: the OpenAPI validator (tests/daemon/openapi_check.c), tested on its
# own against docs/api/openapi.json; the daemon's API tests use it too.
PA_OPENAPI_CHECK = tests/daemon/openapi_check.c tests/daemon/openapi_check.h
check_PROGRAMS += tests/daemon/test_openapi_check
TESTS += tests/daemon/test_openapi_check
tests_daemon_test_openapi_check_SOURCES = tests/daemon/test_openapi_check.c $(PA_OPENAPI_CHECK)
tests_daemon_test_openapi_check_CPPFLAGS = $(PA_DAEMON_TEST_CPPFLAGS)
tests_daemon_test_openapi_check_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)

# api: every route over HTTP against the fake Pixverse, each answer
# validated against the OpenAPI document.
PA_DAEMON_TESTS += tests/daemon/test_daemon_api
tests_daemon_test_daemon_api_SOURCES = tests/daemon/test_daemon_api.c $(PA_DAEMON_HARNESS) $(PA_OPENAPI_CHECK)
tests_daemon_test_daemon_api_CPPFLAGS = $(PA_DAEMON_TEST_CPPFLAGS)
tests_daemon_test_daemon_api_CFLAGS = $(PA_DAEMON_TEST_CFLAGS)
tests_daemon_test_daemon_api_LDADD = $(PA_DAEMON_TEST_LDADD)
EXTRA_tests_daemon_test_daemon_api_DEPENDENCIES = $(PA_DAEMON_TEST_DEPS)

# The same scenarios with the handlers called in the test's process
# (tests/daemon/api_inproc.c: the route table, the handlers, a manager of
# the test's own), so the handlers are tested apart from the HTTP layer.
check_PROGRAMS += tests/daemon/test_api_inproc
TESTS += tests/daemon/test_api_inproc
tests_daemon_test_api_inproc_SOURCES = tests/daemon/test_daemon_api.c tests/daemon/api_inproc.c \
	tests/daemon/api_inproc.h $(PA_DAEMON_HARNESS) $(PA_OPENAPI_CHECK) \
	daemon/api/api.h daemon/api/routes.c daemon/api/body.c daemon/api/account_json.c daemon/api/accounts.c \
	daemon/api/auth_routes.c daemon/api/calls.c daemon/api/jobs.c
tests_daemon_test_api_inproc_CPPFLAGS = $(PA_DAEMON_TEST_CPPFLAGS) -I$(top_srcdir)/daemon -DPAD_API_IN_PROCESS
tests_daemon_test_api_inproc_CFLAGS = $(PA_DAEMON_TEST_CFLAGS)
tests_daemon_test_api_inproc_LDADD = $(PA_DAEMON_TEST_LDADD)
EXTRA_tests_daemon_test_api_inproc_DEPENDENCIES = plugins/pixverse.la
