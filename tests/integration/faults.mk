# The fault matrix (docs/RELIABILITY.md): both real plugins, the real manager
# and a sqlite store against both fake servers, every network operation
# against every fault. `tests/integration/test_faults -v` prints the matrix.
check_PROGRAMS += tests/integration/test_faults
TESTS += tests/integration/test_faults
tests_integration_test_faults_SOURCES = \
	tests/integration/test_faults.c \
	tests/fake/fake_pixiv.c \
	tests/fake/fake_pixiv.h
tests_integration_test_faults_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir) -I$(top_srcdir)/tests/fake
tests_integration_test_faults_CFLAGS = $(PA_TEST_CF) $(MHD_CFLAGS)
tests_integration_test_faults_LDADD = tests/support/libtestsupport.la tests/fake/libfakeprov.la $(PA_TEST_LIBS) $(MHD_LIBS)
EXTRA_tests_integration_test_faults_DEPENDENCIES = plugins/pixverse.la plugins/pixiv.la
