# Plugin ABI 1.3 (host->last_error, host->setting_error): the services live
# in core/host.c and core/settings.c; here are their tests and the ABI 1.2
# fixture plugin that proves an older plugin still loads.
check_LTLIBRARIES += tests/fixtures/minor_1_2.la
tests_fixtures_minor_1_2_la_SOURCES = tests/fixtures/minor_1_2.c tests/fixtures/fixture.h
tests_fixtures_minor_1_2_la_CPPFLAGS = $(PA_FIXTURE_CPPFLAGS)
tests_fixtures_minor_1_2_la_CFLAGS = $(AM_CFLAGS)
tests_fixtures_minor_1_2_la_LDFLAGS = $(PA_FIXTURE_LINK)

check_PROGRAMS += tests/unit/test_host_1_3
TESTS += tests/unit/test_host_1_3
tests_unit_test_host_1_3_SOURCES = tests/unit/test_host_1_3.c
tests_unit_test_host_1_3_CFLAGS = $(PA_TEST_CF)
tests_unit_test_host_1_3_LDADD = $(PA_TEST_LIBS) tests/support/libtestsupport.la
EXTRA_tests_unit_test_host_1_3_DEPENDENCIES = plugins/pixiv.la plugins/pixverse.la
