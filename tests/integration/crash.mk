# Crash safety: children SIGKILLed while they renew credentials against the
# in-process fake servers; the store they leave behind must still work.
check_PROGRAMS += tests/integration/test_crash
TESTS += tests/integration/test_crash
tests_integration_test_crash_SOURCES = \
	tests/integration/test_crash.c \
	tests/fake/fake_pixiv.c \
	tests/fake/fake_pixiv.h
tests_integration_test_crash_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir) -I$(top_srcdir)/tests/fake
tests_integration_test_crash_CFLAGS = $(PA_TEST_CF) $(MHD_CFLAGS)
tests_integration_test_crash_LDADD = tests/support/libtestsupport.la $(PA_TEST_LIBS) tests/fake/libfakeprov.la $(MHD_LIBS)
EXTRA_tests_integration_test_crash_DEPENDENCIES = plugins/pixiv.la plugins/pixverse.la

# A store that cannot be written (full disk, read-only file): unsaved
# credentials are never handed out, and the error says what happened.
check_PROGRAMS += tests/integration/test_store_full
TESTS += tests/integration/test_store_full
tests_integration_test_store_full_SOURCES = \
	tests/integration/test_store_full.c \
	tests/fake/fake_pixiv.c \
	tests/fake/fake_pixiv.h
tests_integration_test_store_full_CFLAGS = $(PA_TEST_CF) $(MHD_CFLAGS)
tests_integration_test_store_full_LDADD = tests/support/libtestsupport.la $(PA_TEST_LIBS) tests/fake/libfakeprov.la $(MHD_LIBS)
EXTRA_tests_integration_test_store_full_DEPENDENCIES = plugins/pixiv.la plugins/pixverse.la
