# Integration test of the pixiv plugin: the real plugin (loaded from
# plugins/.libs), the real manager and sqlite store, against the fake pixiv
# server. Needs the fake-pixiv program for its one standalone-binary case.
check_PROGRAMS += tests/integration/test_pixiv
TESTS += tests/integration/test_pixiv
tests_integration_test_pixiv_SOURCES = \
	tests/integration/test_pixiv.c \
	tests/fake/fake_pixiv.c \
	tests/fake/fake_pixiv.h
tests_integration_test_pixiv_CFLAGS = $(PA_TEST_CF) $(MHD_CFLAGS)
tests_integration_test_pixiv_LDADD = tests/support/libtestsupport.la $(PA_TEST_LIBS) $(MHD_LIBS)
# The plugin and the program must exist before the test runs.
EXTRA_tests_integration_test_pixiv_DEPENDENCIES = plugins/pixiv.la tests/fake/fake-pixiv$(EXEEXT)
