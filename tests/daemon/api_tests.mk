# tests/daemon, the api room: the OpenAPI validator on its own, and every
# route over HTTP through the harness (tests/daemon/daemon.mk).

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
check_PROGRAMS += tests/daemon/test_daemon_api
TESTS += tests/daemon/test_daemon_api
tests_daemon_test_daemon_api_SOURCES = tests/daemon/test_daemon_api.c $(PA_DAEMON_HARNESS) $(PA_OPENAPI_CHECK)
tests_daemon_test_daemon_api_CPPFLAGS = $(PA_DAEMON_TEST_CPPFLAGS)
tests_daemon_test_daemon_api_CFLAGS = $(PA_DAEMON_TEST_CFLAGS)
tests_daemon_test_daemon_api_LDADD = $(PA_DAEMON_TEST_LIBS)
EXTRA_tests_daemon_test_daemon_api_DEPENDENCIES = $(PA_DAEMON_TEST_DEPS)
