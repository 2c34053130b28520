# tests/fake: fake provider servers (real HTTP on 127.0.0.1) for tests, the
# demo and benchmarks. They link json-c, OpenSSL and libmicrohttpd but never
# the provauth core, so they cannot share its bugs.
PA_FAKE_CF = $(PA_BASE_CFLAGS) $(JSONC_CFLAGS) $(OPENSSL_CFLAGS) $(MHD_CFLAGS)
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
	tests/fake/fake_pixverse_private.h \
	tests/fake/fake_pixverse.c \
	tests/fake/fake_pixverse_catalog.c \
	tests/fake/fake_pixverse_validate.c \
	tests/fake/fake_pixverse_jobs.c \
	tests/fake/fake_pixverse_job_control.c \
	tests/fake/fake_pixverse_upload.c
tests_fake_libfakeprov_la_CPPFLAGS = -I$(top_builddir)
tests_fake_libfakeprov_la_CFLAGS = $(PA_FAKE_CF)
tests_fake_libfakeprov_la_LIBADD = $(PA_FAKE_LIBS)

noinst_PROGRAMS += tests/fake/fake-pixverse
tests_fake_fake_pixverse_SOURCES = tests/fake/fake_pixverse_main.c
tests_fake_fake_pixverse_CPPFLAGS = -I$(top_builddir)
tests_fake_fake_pixverse_CFLAGS = $(PA_FAKE_CF)
tests_fake_fake_pixverse_LDADD = tests/fake/libfakeprov.la $(PA_FAKE_LIBS)

# The fake pixiv server: a C API linked into tests, and a standalone program.
check_PROGRAMS += tests/fake/fake-pixiv
tests_fake_fake_pixiv_SOURCES = \
	tests/fake/fake_pixiv_main.c \
	tests/fake/fake_pixiv.c \
	tests/fake/fake_pixiv.h \
	tests/fake/fake_idle.h
tests_fake_fake_pixiv_CFLAGS = $(PA_FAKE_CF)
tests_fake_fake_pixiv_LDADD = $(PA_FAKE_LIBS)

# The loopback API the example plugin (examples/plugin) is tested against.
check_PROGRAMS += tests/fake/fake-bearer
tests_fake_fake_bearer_SOURCES = tests/fake/fake_bearer_main.c
tests_fake_fake_bearer_CPPFLAGS = -I$(top_builddir) -I$(top_srcdir)/tests/fake
tests_fake_fake_bearer_CFLAGS = $(PA_FAKE_CF)
tests_fake_fake_bearer_LDADD = tests/fake/libfakeprov.la $(PA_FAKE_LIBS)
