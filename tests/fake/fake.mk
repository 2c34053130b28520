# tests/fake: fake provider servers (real HTTP on 127.0.0.1) for tests, the
# demo and benchmarks. They link json-c, OpenSSL and libmicrohttpd but never
# the provauth core, so they cannot share its bugs.
PA_FAKE_CF = $(AM_CFLAGS) $(JSONC_CFLAGS) $(OPENSSL_CFLAGS) $(MHD_CFLAGS)
PA_FAKE_LIBS = $(JSONC_LIBS) $(OPENSSL_LIBS) $(MHD_LIBS) $(LIBS)

noinst_LTLIBRARIES += tests/fake/libfakeprov.la
tests_fake_libfakeprov_la_SOURCES = \
	tests/fake/fake_common.h \
	tests/fake/fake_idle.h \
	tests/fake/fake_common.c \
	tests/fake/fake_json.c \
	tests/fake/fake_jwt.c \
	tests/fake/fake_main.c \
	tests/fake/fake_pixverse.h \
	tests/fake/fake_pixverse.c
tests_fake_libfakeprov_la_CPPFLAGS = -I$(top_builddir)
tests_fake_libfakeprov_la_CFLAGS = $(PA_FAKE_CF)
tests_fake_libfakeprov_la_LIBADD = $(PA_FAKE_LIBS)

noinst_PROGRAMS += tests/fake/fake-pixverse
tests_fake_fake_pixverse_SOURCES = tests/fake/fake_pixverse_main.c
tests_fake_fake_pixverse_CPPFLAGS = -I$(top_builddir)
tests_fake_fake_pixverse_CFLAGS = $(PA_FAKE_CF)
tests_fake_fake_pixverse_LDADD = tests/fake/libfakeprov.la $(PA_FAKE_LIBS)

check_PROGRAMS += tests/unit/test_fake_pixverse
TESTS += tests/unit/test_fake_pixverse
tests_unit_test_fake_pixverse_SOURCES = tests/unit/test_fake_pixverse.c
tests_unit_test_fake_pixverse_CPPFLAGS = -I$(top_builddir) -I$(top_srcdir)/tests/fake -I$(top_srcdir)/core/include
tests_unit_test_fake_pixverse_CFLAGS = $(PA_FAKE_CF) $(CURL_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_fake_pixverse_LDADD = tests/fake/libfakeprov.la tests/support/libtestsupport.la $(CURL_LIBS) \
	$(CUNIT_LIBS) $(PA_FAKE_LIBS)
