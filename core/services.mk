# Host services plugins use: HTTP over libcurl, plus unit tests for the
# service modules (JSON, encodings, logging, accounts, updates, failures).
core_libprovauth_core_la_SOURCES += core/http.c

check_PROGRAMS += tests/unit/test_http
TESTS += tests/unit/test_http

tests_unit_test_http_SOURCES = tests/unit/test_http.c
tests_unit_test_http_CFLAGS = $(PA_TEST_CF) $(MHD_CFLAGS)
tests_unit_test_http_LDADD = $(PA_TEST_LIBS) $(MHD_LIBS)

check_PROGRAMS += tests/unit/test_services
TESTS += tests/unit/test_services

tests_unit_test_services_SOURCES = tests/unit/test_services.c
tests_unit_test_services_CFLAGS = $(PA_TEST_CF)
tests_unit_test_services_LDADD = $(PA_TEST_LIBS)
