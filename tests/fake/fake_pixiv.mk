# The fake pixiv server: a C API linked into tests, and the standalone
# fake-pixiv program. It links json-c, OpenSSL and libmicrohttpd, never the
# provauth core, so it judges the plugin from the outside.
PA_FAKE_PIXIV_CF = $(AM_CFLAGS) $(JSONC_CFLAGS) $(OPENSSL_CFLAGS) $(MHD_CFLAGS)
PA_FAKE_PIXIV_LIBS = $(JSONC_LIBS) $(OPENSSL_LIBS) $(MHD_LIBS) $(LIBS)

check_PROGRAMS += tests/fake/fake-pixiv
tests_fake_fake_pixiv_SOURCES = \
	tests/fake/fake_pixiv_main.c \
	tests/fake/fake_pixiv.c \
	tests/fake/fake_pixiv.h \
	tests/fake/fake_idle.h
tests_fake_fake_pixiv_CFLAGS = $(PA_FAKE_PIXIV_CF)
tests_fake_fake_pixiv_LDADD = $(PA_FAKE_PIXIV_LIBS)
