# The allocation-free JSON validity check (host->json_valid) and its tests.
core_libprovauth_core_la_SOURCES += core/json_check.c

check_PROGRAMS += tests/unit/test_json_check
TESTS += tests/unit/test_json_check
tests_unit_test_json_check_SOURCES = tests/unit/test_json_check.c
tests_unit_test_json_check_CFLAGS = $(PA_TEST_CF)
tests_unit_test_json_check_LDADD = $(PA_TEST_LIBS)
